/* SPDX-License-Identifier: MIT */
/*
 * caps.c - everything the reclaim strategies need to know about this
 * kernel and this process, found in one place:
 *
 *  - whether a whole-PMD MADV_DONTNEED frees the PTE table (probe.c, by
 *    experiment);
 *  - whether the patched kernel offers MADV_RECLAIM_PT
 *    (/sys/kernel/mm/reclaim_pt/advice holds its number; no file, no
 *    advice: the number is never tried blindly);
 *  - which userfaultfd mode the process can have: full (CAP_SYS_PTRACE,
 *    vm.unprivileged_userfaultfd=1, or /dev/userfaultfd), user-mode-only
 *    (kernel-mode faults fail with EFAULT, so it is no fence), or none;
 *  - THP and mTHP settings, page and PMD size (for `ptreclaim probe`);
 *  - and from those, which strategy the shim uses for which allocator.
 *
 * Everything here runs from the constructor or the CLI, never from an
 * interposed call, but it still takes no malloc and no stdio so that the
 * constructor stays safe whatever the allocator is doing.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>

#include "internal.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
#define CAP_BIT_SYS_PTRACE 19

static long parse_long(const char *s, long dflt)
{
	char *end;
	long v;

	while (*s == ' ' || *s == '\t')
		s++;
	v = strtol(s, &end, 10);
	return end == s ? dflt : v;
}

static long read_long(const char *path, long dflt)
{
	char buf[64];

	if (pr_read_file(path, buf, sizeof(buf)) <= 0)
		return dflt;
	return parse_long(buf, dflt);
}

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

/* The API handshake a fence needs; returns the features, or -errno. */
static long uffd_api(long fd, uint64_t want)
{
	struct uffdio_api api = { .api = UFFD_API, .features = want };
	long r = pr_sys(SYS_ioctl, fd, UFFDIO_API, (long)&api, 0, 0, 0);

	return r < 0 ? r : (long)api.features;
}

static long uffd_via_dev(int flags)
{
	long dev = pr_sys(SYS_openat, AT_FDCWD, (long)"/dev/userfaultfd",
			  O_RDWR | O_CLOEXEC, 0, 0, 0);
	long fd;

	if (dev < 0)
		return dev;
	fd = pr_sys(SYS_ioctl, dev, USERFAULTFD_IOC_NEW, flags, 0, 0, 0);
	pr_sys(SYS_close, dev, 0, 0, 0, 0, 0);
	return fd;
}

/* A full-mode userfaultfd (O_CLOEXEC | O_NONBLOCK), or -errno. */
long pr_uffd_open(void)
{
	int flags = O_CLOEXEC | O_NONBLOCK;
	long fd = pr_sys(SYS_userfaultfd, flags, 0, 0, 0, 0, 0);

	if (fd >= 0 || fd == -ENOSYS)
		return fd;
	return uffd_via_dev(flags);
}

/* "Seccomp:" in /proc/self/status: 0 none, 1 strict, 2 filter; -1. */
static int seccomp_mode(void)
{
	char buf[4096];
	const char *p;

	if (pr_read_file("/proc/self/status", buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "\nSeccomp:");
	return p ? (int)parse_long(p + 9, -1) : -1;
}

static void probe_uffd(struct pr_caps *c)
{
	int flags = O_CLOEXEC | O_NONBLOCK;
	long fd, dev;

	c->unpriv_uffd_sysctl = (int)read_long(
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
	dev = uffd_via_dev(flags);
	c->dev_uffd = dev >= 0;
	if (dev >= 0)
		pr_sys(SYS_close, dev, 0, 0, 0, 0, 0);

	fd = pr_sys(SYS_userfaultfd, flags, 0, 0, 0, 0, 0);
	if (fd >= 0) {
		c->uffd = PR_UFFD_FULL;
		c->uffd_via = c->cap_sys_ptrace ? "syscall (CAP_SYS_PTRACE)" :
			      c->unpriv_uffd_sysctl == 1 ?
			      "syscall (vm.unprivileged_userfaultfd=1)" : "syscall";
	} else if (c->dev_uffd) {
		c->uffd_err = (int)-fd;
		fd = uffd_via_dev(flags);
		c->uffd = fd >= 0 ? PR_UFFD_FULL : PR_UFFD_NONE;
		c->uffd_via = "/dev/userfaultfd";
	} else {
		c->uffd_err = (int)-fd;
		if (fd != -ENOSYS)
			fd = pr_sys(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY,
				    0, 0, 0, 0, 0);
		c->uffd = fd >= 0 ? PR_UFFD_USER_ONLY : PR_UFFD_NONE;
		c->uffd_via = fd >= 0 ? "syscall (UFFD_USER_MODE_ONLY)" : "none";
	}
	if (fd >= 0) {
		long f = uffd_api(fd, 0);

		c->uffd_features = f > 0 ? (uint64_t)f : 0;
		pr_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	}
}

/* The rest of the probing; probe.c's experiment has run already. */
void pr_caps_probe_more(void)
{
	struct pr_caps *c = &pr_caps;
	long v;

	c->page_size = (long)getauxval(AT_PAGESZ);
	if (c->page_size <= 0)
		c->page_size = (long)PR_PAGE_SIZE;
	v = read_long("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", -1);
	/* Without THP the PMD still spans a table of 8-byte entries. */
	c->pmd_size = v > 0 ? v : c->page_size * (c->page_size / 8);
	v = read_long("/sys/kernel/mm/reclaim_pt/advice", -1);
	c->advice = v > 0 && v < 4096 ? (int)v : -1;
	probe_uffd(c);
}

/* "always [madvise] never" -> "madvise". */
static void bracketed(const char *path, char *out, size_t len)
{
	char buf[256];
	const char *lb, *rb;

	snprintf(out, len, "%s", "absent");
	if (pr_read_file(path, buf, sizeof(buf)) <= 0)
		return;
	lb = strchr(buf, '[');
	rb = lb ? strchr(lb, ']') : NULL;
	if (lb && rb && rb - lb - 1 < (long)len)
		snprintf(out, len, "%.*s", (int)(rb - lb - 1), lb + 1);
	else
		snprintf(out, len, "%.*s", (int)strcspn(buf, "\n"), buf);
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

void pr_caps_thp(struct pr_thp *t)
{
	static const char dir[] = "/sys/kernel/mm/transparent_hugepage";
	char path[256], buf[4096];
	long fd, n;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/enabled", dir);
	bracketed(path, t->enabled, sizeof(t->enabled));
	snprintf(path, sizeof(path), "%s/defrag", dir);
	bracketed(path, t->defrag, sizeof(t->defrag));
	snprintf(path, sizeof(path), "%s/shmem_enabled", dir);
	bracketed(path, t->shmem_enabled, sizeof(t->shmem_enabled));
	snprintf(path, sizeof(path), "%s/khugepaged/max_ptes_none", dir);
	t->max_ptes_none = read_long(path, -1);

	fd = pr_sys(SYS_openat, AT_FDCWD, (long)dir,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return;
	while ((n = pr_sys(SYS_getdents64, fd, (long)buf, sizeof(buf), 0, 0,
			   0)) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (void *)(buf + off);
			unsigned kb;
			char *end;

			off += d->d_reclen;
			if (strncmp(d->d_name, "hugepages-", 10))
				continue;
			kb = (unsigned)strtoul(d->d_name + 10, &end, 10);
			if (strcmp(end, "kB") || t->nr_mthp >= PR_MAX_MTHP)
				continue;
			t->mthp[t->nr_mthp].kb = kb;
			snprintf(path, sizeof(path), "%s/%s/enabled", dir,
				 d->d_name);
			bracketed(path, t->mthp[t->nr_mthp].enabled,
				  sizeof(t->mthp[0].enabled));
			/* Sizes only shmem can use have no anon switch. */
			if (strcmp(t->mthp[t->nr_mthp].enabled, "absent"))
				t->nr_mthp++;
		}
	}
	pr_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	/* Smallest first. */
	for (unsigned i = 1; i < t->nr_mthp; i++)
		for (unsigned j = i; j > 0 && t->mthp[j - 1].kb > t->mthp[j].kb;
		     j--) {
			struct pr_mthp tmp = t->mthp[j];

			t->mthp[j] = t->mthp[j - 1];
			t->mthp[j - 1] = tmp;
		}
}

const char *pr_strategy_name(enum pr_strategy s)
{
	switch (s) {
	case PR_STRAT_ADVICE: return "advice";
	case PR_STRAT_JEMALLOC_HOOKS: return "jemalloc-hooks";
	case PR_STRAT_FENCE: return "fence";
	case PR_STRAT_NONE: return "none";
	case PR_STRAT_OBSERVE: break;
	}
	return "observe";
}

const char *pr_uffd_mode_name(enum pr_uffd_mode m)
{
	return m == PR_UFFD_FULL ? "full" :
	       m == PR_UFFD_USER_ONLY ? "user-mode-only" : "none";
}

/* Why the fence can't run here (NULL: it can), from caps and config. */
const char *pr_fence_unavailable(void)
{
	if (!pr_conf.fence)
		return "fence:off in PTRECLAIM_CONF";
	if (!pr_caps.pt_reclaim_on_dontneed)
		return "kernel keeps PTE tables on whole-PMD MADV_DONTNEED (no CONFIG_PT_RECLAIM)";
	if (pr_caps.uffd == PR_UFFD_USER_ONLY)
		return "userfaultfd is user-mode-only (no CAP_SYS_PTRACE, vm.unprivileged_userfaultfd=0, /dev/userfaultfd not accessible): kernel-mode faults would fail with EFAULT";
	if (pr_caps.uffd == PR_UFFD_NONE && pr_caps.seccomp != 0)
		return "seccomp filter: userfaultfd not tried (a filter may kill the process for it)";
	if (pr_caps.uffd == PR_UFFD_NONE)
		return "no userfaultfd in this process";
	return NULL;
}

enum pr_strategy pr_strategy_for(enum pr_alloc a, const char **why)
{
	const char *no_fence = pr_fence_unavailable();
	const char *dummy;

	if (!why)
		why = &dummy;
	if (a == PR_ALLOC_GLIBC) {
		*why = "glibc purges through internal calls no preload can see (its trims coalesce anyway)";
		return PR_STRAT_NONE;
	}
	/* Safest first: the kernel checks every entry under its locks, so a
	 * stale ledger costs a wasted call, never data. */
	if (pr_caps.advice > 0 && pr_conf.advice) {
		*why = a == PR_ALLOC_MIMALLOC ?
		       "kernel MADV_RECLAIM_PT; MADV_FREE regions wait until the kernel discards their pages" :
		       "kernel MADV_RECLAIM_PT over completed 2 MiB regions (frees only tables that map nothing)";
		return PR_STRAT_ADVICE;
	}
	if (a == PR_ALLOC_JEMALLOC && pr_caps.pt_reclaim_on_dontneed &&
	    pr_conf.jemalloc) {
		*why = "extent hooks: jemalloc commits before it touches a decommitted extent";
		return PR_STRAT_JEMALLOC_HOOKS;
	}
	if (!no_fence) {
		*why = a == PR_ALLOC_MIMALLOC ?
		       "userfaultfd fence; MADV_FREE regions wait until the kernel discards their pages" :
		       "userfaultfd fence over completed 2 MiB regions";
		return PR_STRAT_FENCE;
	}
	*why = no_fence;
	if (pr_caps.advice > 0 && !pr_conf.advice)
		*why = "advice:off in PTRECLAIM_CONF (kernel offers MADV_RECLAIM_PT)";
	return PR_STRAT_OBSERVE;
}

/* One counter of an mTHP size's stats/ directory (system-wide: every
 * process's faults count there), or -1 where the kernel has none. */
long pr_caps_thp_stat(unsigned kb, const char *name)
{
	char path[160];

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/transparent_hugepage/hugepages-%ukB/stats/%s",
		 kb, name);
	return read_long(path, -1);
}

/*
 * Does a virtio balloon report free pages to the host (feature bit 5,
 * VIRTIO_BALLOON_F_REPORTING)?  Then free 2 MiB blocks idle for about
 * two seconds are handed back, and the next touch of each 4 KiB of them
 * is a host fault: huge-page faults, which take whole free blocks, meet
 * that first (docs/hinting.md).  Devices are probed by index, no opendir.
 */
bool pr_caps_free_page_reporting(void)
{
	char path[96], buf[160];

	for (int i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "/sys/bus/virtio/devices/virtio%d/device", i);
		if (pr_read_file(path, buf, sizeof(buf)) <= 0 ||
		    strtol(buf, NULL, 16) != 5)
			continue;
		snprintf(path, sizeof(path), "/sys/bus/virtio/devices/virtio%d/features", i);
		if (pr_read_file(path, buf, sizeof(buf)) > 5 && buf[5] == '1')
			return true;
	}
	return false;
}
