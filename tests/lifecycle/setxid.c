/* SPDX-License-Identifier: MIT */
/*
 * setxid - what setpriv does, in a process whose shim runs a worker: keep
 * capabilities (PR_SET_KEEPCAPS, a per-thread flag), change the uid, then
 * the gid.  glibc changes every thread's credentials; a thread of the
 * shim's without the caller's capabilities would fail the second change
 * and glibc would abort.  The shim quiesces around these calls.
 * Prints the same lines plain and under the shim; needs root (77 else).
 */
#include "lc.h"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

/* After the uid change: the permitted set survived (KEEPCAPS), the
 * effective one did not; raise it again, as setpriv does. */
static int raise_effective(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[0].effective = d[0].permitted;
	d[1].effective = d[1].permitted;
	return (int)syscall(SYS_capset, &h, d);
}

int main(void)
{
	char *p;

	if (geteuid() != 0) {
		printf("skip: not root\n");
		return 77;
	}
	/* Purges that complete regions: the shim starts its worker. */
	p = map_pmd_aligned(4 * PMD);
	memset(p, 1, 4 * PMD);
	for (size_t off = 0; off < 4 * PMD; off += 64 * 1024)
		madvise(p + off, 64 * 1024, MADV_DONTNEED);
	usleep(300000);
	fprintf(stderr, "threads before: %d\n", threads_now());
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) ||
	    setgroups(0, NULL) ||
	    setresuid(65534, 65534, 65534) || raise_effective() ||
	    setresgid(65534, 65534, 65534))
		die("setxid");
	printf("uid=%d gid=%d\n", (int)getuid(), (int)getgid());
	memset(p, 2, PMD);
	for (size_t off = 0; off < PMD; off += 64 * 1024)
		madvise(p + off, 64 * 1024, MADV_DONTNEED);
	printf("ok\n");
	return 0;
}
