/* SPDX-License-Identifier: MIT */
/*
 * platform.h - everything that talks to the kernel: system calls that keep
 * errno, procfs, sysfs and pagemap readers, userfaultfd, the VMA query,
 * background threads, and what this kernel and process can do (caps).
 *
 * Shared by the shim and the CLI (libptreclaim_common).  Rule for all of
 * it: no malloc and no stdio, so the shim may call any of it from its
 * constructor or its worker whatever the allocator is doing.  Only
 * pr_sys(), pr_now_ns() and pr_write_str() are fit for an interposed path.
 */
#ifndef PTRECLAIM_PLATFORM_H
#define PTRECLAIM_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define PR_PAGE_SHIFT	12
#define PR_PAGE_SIZE	(1UL << PR_PAGE_SHIFT)
#define PR_PMD_SHIFT	21
#define PR_PMD_SIZE	(1UL << PR_PMD_SHIFT)
#define PR_PAGES_PER_PMD (PR_PMD_SIZE / PR_PAGE_SIZE)

#define pr_hidden __attribute__((visibility("hidden")))
#define PR_EXPORT __attribute__((visibility("default")))

/* For printf of 64-bit counters. */
#define PR_U(x) ((unsigned long long)(x))

static inline uintptr_t pr_page_up(uintptr_t x)
{
	return (x + PR_PAGE_SIZE - 1) & ~(PR_PAGE_SIZE - 1);
}

static inline void pr_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* --- system calls (sys.c) --- */
/* syscall() that returns -errno and leaves errno as it was. */
pr_hidden long pr_sys(long nr, long a, long b, long c, long d, long e, long f);
pr_hidden void *pr_map(size_t len);
pr_hidden void pr_unmap(void *p, size_t len);
pr_hidden uint64_t pr_now_ns(void);
pr_hidden uint64_t pr_thread_cpu_ns(void);
pr_hidden void pr_sleep_ns(uint64_t ns);
pr_hidden void pr_close(long *fd);
pr_hidden long pr_open_ro(const char *path);
pr_hidden long pr_read_file(const char *path, char *buf, size_t len);
pr_hidden long pr_read_long(const char *path, long dflt);
pr_hidden void pr_write_str(int fd, const char *s);

/* --- raw calls and the fork mark (lifemark.c) --- */
/* The system call itself, -errno on failure: no libc, no errno, no TLS
 * (the shim interposes glibc's syscall()). */
pr_hidden long pr_raw_syscall(long nr, long a, long b, long c, long d, long e,
			      long f);
/* Map the page that reads zero in a child with a new address space (made
 * by fork, _Fork, clone without CLONE_VM); false if the kernel can't. */
pr_hidden bool pr_lifemark_arm(void);
/* 1 exactly once per such child, in the thread that must reset what the
 * parent's threads left (lock-free: it must not take a lock the parent's
 * threads may hold); 0 otherwise.  Memory reads only, no system call.
 * The reset ends with pr_lifemark_rearm(), as must an atfork child
 * handler that reset things itself. */
pr_hidden int pr_lifemark_check(void);
pr_hidden void pr_lifemark_rearm(void);

/* Is this thread under seccomp (strict or a filter)?  A kernel without
 * CONFIG_SECCOMP answers EINVAL: no. */
pr_hidden bool pr_seccomp_active(void);

/* --- procfs (procfs.c); pid 0 is this process --- */
/* A "Key:   N" field of /proc/PID/status (VmPTE, VmRSS, Seccomp), or -1. */
pr_hidden long pr_proc_status(pid_t pid, const char *key);
pr_hidden long pr_vmpte_kb_of(pid_t pid);
/* A "Key:   N kB" field of /proc/self/smaps_rollup, or -1. */
pr_hidden long pr_rollup_kb(const char *key);
pr_hidden long pr_count_vmas(void);

/* --- pagemap (pagemap.c) --- */
pr_hidden long pr_pagemap_open(pid_t pid);
/* The entries of the n pages from base; false if they can't be read. */
pr_hidden bool pr_pagemap_read(long fd, uintptr_t base, uint64_t *pm,
			       size_t n);
/* Mark in inuse the entries of one region's pagemap that are not empty
 * (present, swapped, a marker); returns how many. */
pr_hidden unsigned pr_pagemap_in_use(const uint64_t *pm, uint64_t inuse[8]);
/* Pages of the 2 MiB region at base that map something, into inuse;
 * -1 if pagemap can't be read. */
pr_hidden int pr_pagemap_region(long fd, uintptr_t base, uint64_t inuse[8]);

/* --- sysfs (sysfs.c) --- */
/* MADV_RECLAIM_PT's number from /sys/kernel/mm/reclaim_pt/advice, or -1:
 * it is never guessed. */
pr_hidden int pr_sysfs_reclaim_pt_advice(void);
/* MADV_RECLAIM_PT_LAZYFREE's, from .../reclaim_pt/advice_lazyfree, or -1:
 * MADV_RECLAIM_PT that also discards clean lazily freed (MADV_FREE) pages
 * of a span, as reclaim would, and frees its table.  Never guessed. */
pr_hidden int pr_sysfs_reclaim_pt_advice_lazyfree(void);
#define PR_MAX_MTHP 16
struct pr_mthp {
	unsigned kb;
	char enabled[16];
};
struct pr_thp {
	char enabled[16], defrag[32], shmem_enabled[16];
	long max_ptes_none;
	unsigned nr_mthp;
	struct pr_mthp mthp[PR_MAX_MTHP];
};
pr_hidden void pr_sysfs_thp(struct pr_thp *t);
/* One stats/ counter of an mTHP size (system-wide), or -1. */
pr_hidden long pr_sysfs_thp_stat(unsigned kb, const char *name);
/* A virtio balloon hands free pages back to the host (a VM). */
pr_hidden bool pr_sysfs_free_page_reporting(void);

/* --- userfaultfd (uffd.c) --- */
enum pr_uffd_mode { PR_UFFD_NONE, PR_UFFD_USER_ONLY, PR_UFFD_FULL };
/* A full-mode userfaultfd (O_CLOEXEC | O_NONBLOCK), or -errno. */
pr_hidden long pr_uffd_open(void);
/* Through /dev/userfaultfd only, or -errno. */
pr_hidden long pr_uffd_open_dev(int flags);
pr_hidden const char *pr_uffd_mode_name(enum pr_uffd_mode m);

/* --- the VMA query, PROCMAP_QUERY on /proc/self/maps (vma_query.c) --- */
enum pr_vma_kind {
	PR_VMA_PRIVATE_ANON,	/* [lo, hi) is private anonymous, no hole */
	PR_VMA_OTHER,		/* some VMA is shared or file-backed */
	PR_VMA_HOLE,		/* part of [lo, hi) is unmapped */
	PR_VMA_UNKNOWN,		/* the kernel has no PROCMAP_QUERY */
};
pr_hidden bool pr_vma_query_works(long maps_fd);
pr_hidden enum pr_vma_kind pr_vma_kind(long maps_fd, uintptr_t lo,
				       uintptr_t hi);

/* --- loaded objects (objects.c): start-up only (dl_iterate_phdr) --- */
/* The address range of the object that holds sym; false if unknown. */
pr_hidden bool pr_object_range(const void *sym, uintptr_t *lo, uintptr_t *hi);
/* The file name of the object that holds addr (the program's argv[0]
 * for the program itself); NULL if none does. */
pr_hidden const char *pr_object_name(const void *addr);
/* The same for the object that provides malloc: the allocator. */
pr_hidden bool pr_malloc_object(uintptr_t *lo, uintptr_t *hi);
/* libc's definition of name, past ours (RTLD_NEXT), found once and kept
 * in *slot; NULL if there is none.  For the interposed libc functions. */
pr_hidden void *pr_libc_fn(void **slot, const char *name);

/* --- threads (thread.c) --- */
/* libc's pthread_create, past any interposer (ours included). */
#include <pthread.h>
pr_hidden bool pr_thread_available(void);
pr_hidden int pr_thread_create(pthread_t *th, const pthread_attr_t *attr,
			       void *(*fn)(void *), void *arg);
/* A detached background thread of the shim's own, all signals blocked. */
pr_hidden int pr_thread_spawn(void *(*fn)(void *));
/* The same, joinable: *th can be joined to know the thread is gone (the
 * kernel counts it no more, as unshare(CLONE_NEWUSER) needs). */
pr_hidden int pr_thread_spawn_joinable(pthread_t *th, void *(*fn)(void *));
pr_hidden void pr_thread_name(const char *name);
pr_hidden void pr_thread_record_tid(int *slot);
pr_hidden void pr_thread_join(pthread_t th, int *slot);

/* --- what this kernel and process can do (caps.c, pt_reclaim_probe.c) --- */
struct pr_caps {
	bool probed;			/* the kernel's part below is known */
	bool pt_reclaim_on_dontneed;	/* whole-PMD DONTNEED frees the table */
	int advice;			/* MADV_RECLAIM_PT from sysfs, -1: none */
	int advice_lazyfree;		/* MADV_RECLAIM_PT_LAZYFREE, -1: none */
	enum pr_uffd_mode uffd;		/* the best userfaultfd we can have */
	const char *uffd_via;		/* how (for the report) */
	int uffd_err;			/* errno of the full-mode attempt */
	uint64_t uffd_features;		/* UFFDIO_API features offered */
	int unpriv_uffd_sysctl;		/* vm.unprivileged_userfaultfd, -1 */
	bool cap_sys_ptrace;
	bool dev_uffd;			/* /dev/userfaultfd opens */
	int seccomp;			/* 0 none, 1 strict, 2 filter, -1 */
	long page_size, pmd_size;
};
extern pr_hidden struct pr_caps pr_caps;
/* Everything above, pt_reclaim_on_dontneed by experiment. */
pr_hidden void pr_caps_probe(void);
/* The same without userfaultfd or /proc: for a start that may not make a
 * thread (inside an allocator's hook). */
pr_hidden void pr_caps_probe_no_thread(void);
/* Does a whole-PMD MADV_DONTNEED free the PTE table?  By experiment. */
pr_hidden bool pr_probe_pt_reclaim(void);

#endif /* PTRECLAIM_PLATFORM_H */
