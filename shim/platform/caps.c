/* SPDX-License-Identifier: MIT */
/*
 * caps.c - what the reclaim strategies need to know about this kernel and
 * this process, found in one place:
 *
 *  - whether a whole-PMD MADV_DONTNEED frees the PTE table
 *    (pt_reclaim_probe.c, by experiment);
 *  - whether the patched kernel offers MADV_RECLAIM_PT, and its lazyfree
 *    variant that also discards clean MADV_FREE pages (sysfs.c);
 *  - which userfaultfd mode the process can have: full (CAP_SYS_PTRACE,
 *    vm.unprivileged_userfaultfd=1, or /dev/userfaultfd), user-mode-only
 *    (kernel-mode faults fail with EFAULT, so it is no fence), or none;
 *  - page and PMD size.
 * Which strategy follows from these is strategy/policy.c's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>

#include "platform.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#define CAP_BIT_SYS_PTRACE 19

struct pr_caps pr_caps;

static bool have_cap_sys_ptrace(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (pr_sys(SYS_capget, (long)&hdr, (long)data, 0, 0, 0, 0) < 0)
		return false;
	return data[0].effective & (1U << CAP_BIT_SYS_PTRACE);
}

/* The features UFFDIO_API offers, then the descriptor is closed. */
static uint64_t uffd_features(long fd)
{
	struct uffdio_api api = { .api = UFFD_API };
	long r = pr_sys(SYS_ioctl, fd, UFFDIO_API, (long)&api, 0, 0, 0);

	pr_close(&fd);
	return r < 0 ? 0 : api.features;
}

static const char *syscall_via(const struct pr_caps *c)
{
	return c->cap_sys_ptrace ? "syscall (CAP_SYS_PTRACE)" :
	       c->unpriv_uffd_sysctl == 1 ?
	       "syscall (vm.unprivileged_userfaultfd=1)" : "syscall";
}

/* The best mode this process can get: the system call, the device, then
 * user-mode-only. */
static long best_uffd(struct pr_caps *c)
{
	int flags = O_CLOEXEC | O_NONBLOCK;
	long fd = pr_sys(SYS_userfaultfd, flags, 0, 0, 0, 0, 0);

	if (fd >= 0) {
		c->uffd = PR_UFFD_FULL;
		c->uffd_via = syscall_via(c);
		return fd;
	}
	c->uffd_err = (int)-fd;
	if (c->dev_uffd) {
		fd = pr_uffd_open_dev(flags);
		c->uffd = fd >= 0 ? PR_UFFD_FULL : PR_UFFD_NONE;
		c->uffd_via = "/dev/userfaultfd";
		return fd;
	}
	if (fd != -ENOSYS)
		fd = pr_sys(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY, 0, 0,
			    0, 0, 0);
	c->uffd = fd >= 0 ? PR_UFFD_USER_ONLY : PR_UFFD_NONE;
	c->uffd_via = fd >= 0 ? "syscall (UFFD_USER_MODE_ONLY)" : "none";
	return fd;
}

/* "Seccomp:" of /proc/self/status: 0 none, 1 strict, 2 filter; -1 if
 * the file can't be read.  A kernel without CONFIG_SECCOMP has no such
 * line, and no filter either: 0. */
static int seccomp_mode(void)
{
	char buf[4096];
	const char *p;

	if (pr_read_file("/proc/self/status", buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "\nSeccomp:");
	return p ? (int)strtol(p + 9, NULL, 10) : 0;
}

static void probe_uffd(struct pr_caps *c)
{
	long fd;

	c->unpriv_uffd_sysctl = (int)pr_read_long(
		"/proc/sys/vm/unprivileged_userfaultfd", -1);
	c->cap_sys_ptrace = have_cap_sys_ptrace();
	c->seccomp = seccomp_mode();
	/* A seccomp filter may kill the process for a system call it does
	 * not expect (systemd's SystemCallFilter= does by default): then
	 * userfaultfd is not even tried. */
	if (c->seccomp != 0) {
		c->uffd = PR_UFFD_NONE;
		c->uffd_via = c->seccomp > 0 ? "not tried (seccomp filter)" :
			      "not tried (seccomp state unknown)";
		return;
	}
	fd = pr_uffd_open_dev(O_CLOEXEC | O_NONBLOCK);
	c->dev_uffd = fd >= 0;
	pr_close(&fd);
	fd = best_uffd(c);
	if (fd >= 0)
		c->uffd_features = uffd_features(fd);
}

/* What every strategy's selection reads: the experiment, the sizes and
 * the advice's number. */
static void probe_kernel(struct pr_caps *c)
{
	long v;

	c->pt_reclaim_on_dontneed = pr_probe_pt_reclaim();
	c->page_size = (long)getauxval(AT_PAGESZ);
	if (c->page_size <= 0)
		c->page_size = (long)PR_PAGE_SIZE;
	v = pr_read_long("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", -1);
	/* Without THP the PMD still spans a table of 8-byte entries. */
	c->pmd_size = v > 0 ? v : c->page_size * (c->page_size / 8);
	c->advice = pr_sysfs_reclaim_pt_advice();
	/* The lazyfree advice comes with the plain one (the same series):
	 * without that, no second file is read. */
	c->advice_lazyfree = c->advice > 0 ?
			     pr_sysfs_reclaim_pt_advice_lazyfree() : -1;
	__atomic_store_n(&c->probed, true, __ATOMIC_RELEASE);
}

void pr_caps_probe(void)
{
	probe_kernel(&pr_caps);
	probe_uffd(&pr_caps);
}

/*
 * For a start inside an allocator's hook (core/life.c, jemalloc armed),
 * or a process that only observes: no userfaultfd, since the fence that
 * would use it needs the worker thread, which is not created there; the
 * seccomp mode from one prctl instead of /proc/self/status, and only
 * where the kernel has the advice.  Raw system calls and stack buffers
 * only.
 */
void pr_caps_probe_no_thread(void)
{
	struct pr_caps *c = &pr_caps;

	probe_kernel(c);
	/* Only the advice's selection reads it (the adapter needs no
	 * thread): without the advice, prctl is not asked, so a filter
	 * installed with a raw system call that kills for it is not met. */
	c->seccomp = c->advice > 0 && pr_seccomp_active() ? 2 : 0;
	c->uffd = PR_UFFD_NONE;
	c->uffd_via = "not probed (the fence needs the worker thread, which this process's start did not create)";
}
