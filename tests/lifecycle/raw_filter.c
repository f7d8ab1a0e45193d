/* SPDX-License-Identifier: MIT */
/*
 * raw_filter - a sandbox the shim cannot see: a seccomp filter installed
 * with an inline system call (as Chromium's sandbox does), before the
 * first purge, that kills the process for prctl and refuses file-system
 * calls with EPERM.  Then purges (from inside the allocator where the
 * allocator is preloaded) and blocks.  On a kernel without the advice and
 * with the default configuration the shim's start meets it with one
 * faccessat (refused: observe) and never asks prctl, so the program
 * lives and prints what it prints without the shim.
 *
 * Usage: raw_filter
 */
#include "lc.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#define ON(nr, action) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
		       BPF_STMT(BPF_RET | BPF_K, (action))

/* seccomp(2) without libc: neither syscall() nor prctl() sees it. */
static long inline_seccomp(long op, long flags, void *prog)
{
	long ret;

	__asm__ __volatile__("syscall"
			     : "=a"(ret)
			     : "a"((long)SYS_seccomp), "D"(op), "S"(flags),
			       "d"(prog)
			     : "rcx", "r11", "memory");
	return ret;
}

static void sandbox(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		ON(SYS_prctl, SECCOMP_RET_KILL_PROCESS),
		ON(SYS_faccessat, SECCOMP_RET_ERRNO | EPERM),
		ON(SYS_faccessat2, SECCOMP_RET_ERRNO | EPERM),
		ON(SYS_openat, SECCOMP_RET_ERRNO | EPERM),
		ON(SYS_clone, SECCOMP_RET_KILL_PROCESS),
		ON(SYS_clone3, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("PR_SET_NO_NEW_PRIVS");
	if (inline_seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog))
		die("seccomp");
}

int main(void)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	void *objs[256];
	char *m;

	/* Before the sandbox, as a renderer maps its heap early. */
	m = map_pmd_aligned(4 * PMD);
	sandbox();
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 256; i++)
			objs[i] = malloc((size_t)64 << 10);
		for (int i = 0; i < 256; i++)
			free(objs[i]);
		purge(m, 4);
		nanosleep(&ts, NULL);
	}
	printf("purged and slept under a filter the shim cannot see\n");
	CHECK_DONE();
}
