/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the shim's files share.
 *
 * Rule for everything reachable from the interposed calls: no malloc, no
 * stdio, no dlsym, no blocking locks.  Memory comes from mmap, the kernel is
 * reached with raw syscalls, and errno is the caller's.
 */
#ifndef PTRECLAIM_INTERNAL_H
#define PTRECLAIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ptreclaim.h"

#define PR_PAGE_SHIFT	12
#define PR_PAGE_SIZE	(1UL << PR_PAGE_SHIFT)
#define PR_PMD_SHIFT	21
#define PR_PMD_SIZE	(1UL << PR_PMD_SHIFT)
#define PR_PAGES_PER_PMD (PR_PMD_SIZE / PR_PAGE_SIZE)

#define pr_hidden __attribute__((visibility("hidden")))
#define PR_EXPORT __attribute__((visibility("default")))

/* --- configuration (config.c) --- */
#include "config.h"

/* --- kernel calls (sys.c) --- */
pr_hidden long pr_sys(long nr, long a, long b, long c, long d, long e, long f);
pr_hidden void *pr_map(size_t len);
pr_hidden void pr_unmap(void *p, size_t len);
pr_hidden uint64_t pr_now_ns(void);
pr_hidden long pr_read_file(const char *path, char *buf, size_t len);
pr_hidden void pr_write_str(int fd, const char *s);

/* --- counters (counters.c) --- */
enum pr_counter {
	PRC_MADVISE, PRC_DONTNEED, PRC_FREE, PRC_REMOVE,
	PRC_MUNMAP, PRC_MMAP, PRC_MREMAP,
	PRC_PURGED_BYTES, PRC_PMD_ALIGNED, PRC_DROPPED,
	PRC_BOUND_HITS, PRC_SHIM_NS,
	/* the jemalloc adapter */
	PRC_JE_DECOMMITS, PRC_JE_DECOMMIT_BYTES, PRC_JE_DECOMMIT_FAILED,
	PRC_JE_COMMITS, PRC_JE_RECLAIM_CALLS, PRC_JE_RECLAIM_FAILED,
	PRC_JE_REGIONS_RECLAIMED, PRC_JE_PTE_RECLAIMED, PRC_JE_UNTRACKED,
	PRC_JE_NS,
	PRC_NR
};
pr_hidden void pr_count(enum pr_counter c, uint64_t n);
pr_hidden uint64_t pr_counter_sum(enum pr_counter c);

/* --- the ledger (ledger.c) --- */
enum pr_purge_kind { PR_PURGE_DONTNEED, PR_PURGE_FREE, PR_PURGE_REMOVE };
pr_hidden int pr_ledger_init(size_t max_bytes);
pr_hidden void pr_ledger_purged(uintptr_t start, uintptr_t end,
				enum pr_purge_kind kind, uint64_t now);
pr_hidden void pr_ledger_in_use(uintptr_t start, uintptr_t end, uint64_t now);
pr_hidden void pr_ledger_drop(uintptr_t start, uintptr_t end);
pr_hidden void pr_ledger_table_freed(uintptr_t start, uintptr_t end);
pr_hidden uint64_t pr_ledger_tracked(void);
pr_hidden uint64_t pr_ledger_full(void);
/*
 * Visit every region with purged pages; fn fills in the pages it finds in
 * use, and the ledger forgets that they were purged.
 */
typedef void (*pr_live_fn)(uintptr_t base, uint64_t inuse[8], void *arg);
pr_hidden void pr_ledger_for_each_live(pr_live_fn fn, void *arg);
pr_hidden void pr_ledger_maintain(void);
#define PR_LEDGER_LAZY 1u	/* MADV_FREE: pages may still be mapped */
#define PR_LEDGER_FULL 2u	/* every page purged */
typedef void (*pr_live_ex_fn)(uintptr_t base, unsigned flags,
			      uint64_t changed_ns, uint64_t inuse[8],
			      void *arg);
pr_hidden void pr_ledger_for_each_live_ex(pr_live_ex_fn fn, void *arg);
/* Not offered to for_each_live(_ex) again until a purge in it. */
pr_hidden void pr_ledger_zapped(uintptr_t base);
pr_hidden void pr_ledger_park(uintptr_t base, uint64_t seen_ns,
			      const uint64_t inuse[8]);

/* --- pages an allocator decommitted, and their reclaim (decommit_map.c) --- */
/*
 * [start, end) was decommitted by the allocator's protocol: it will commit
 * before touching it again.  purged: the caller's MADV_DONTNEED covered it
 * (false: fresh memory never touched).  Fully decommitted regions are
 * reclaimed here with one aligned madvise per run of adjacent regions.
 */
pr_hidden void pr_dcm_decommitted(uintptr_t start, uintptr_t end, bool purged);
/* The allocator is committing [start, end): call before it can touch it. */
pr_hidden void pr_dcm_committed(uintptr_t start, uintptr_t end);
/* [start, end) is unmapped or no longer the allocator's. */
pr_hidden void pr_dcm_forget(uintptr_t start, uintptr_t end);
/* Allow reclaim (attached) or not; voids every mark made so far. */
pr_hidden void pr_dcm_enable(bool on);
pr_hidden void pr_dcm_after_fork_child(void);
/* Marked pages in [start, end), for tests. */
pr_hidden unsigned pr_dcm_count(uintptr_t start, uintptr_t end);

/* --- the jemalloc adapter (adapter_jemalloc.c) --- */
pr_hidden void pr_je_attach_at_start(void);
pr_hidden void pr_je_report(int fd);
/* Attached, decommitting in some arena, on a kernel that frees tables. */
pr_hidden bool pr_je_reclaims(void);
/* A thread is being started from caller: should it hook its arena? */
pr_hidden bool pr_je_wants_thread_start(const void *caller);
/* In a new thread, before its start routine: hook the arena it picks. */
pr_hidden void pr_je_thread_started(void);

/* --- thread starts (thread_start.c) --- */
pr_hidden void pr_threads_init(void);
pr_hidden bool pr_threads_can_start(void);
/* A detached background thread of the shim's own, all signals blocked. */
pr_hidden int pr_threads_spawn(void *(*fn)(void *));

/* --- what the kernel can do (probe.c) --- */
/* --- the userfaultfd fence (reclaim_fence.c) --- */
pr_hidden void pr_fence_start(void);
pr_hidden void pr_fence_stop(void);
pr_hidden void pr_fence_kick(void);
/* Around a call that can unmap or replace [lo, hi): waits while a fence
 * window covers it.  Pass begin's result to end. */
pr_hidden bool pr_fence_mm_begin(uintptr_t lo, uintptr_t hi);
pr_hidden void pr_fence_mm_end(bool token);
pr_hidden const char *pr_fence_mode(void);
pr_hidden void pr_fence_report(int fd);

/* --- the kernel's safe advice, MADV_RECLAIM_PT (reclaim_advice.c) --- */
pr_hidden void pr_advice_start(void);
pr_hidden void pr_advice_stop(void);
pr_hidden void pr_advice_kick(void);
/* The advice strategy runs: the fence and the jemalloc adapter step aside. */
pr_hidden bool pr_advice_claims(void);
pr_hidden void pr_advice_report(int fd);

/* --- what the kernel can do (probe.c, caps.c) --- */
enum pr_uffd_mode { PR_UFFD_NONE, PR_UFFD_USER_ONLY, PR_UFFD_FULL };
struct pr_caps {
	bool pt_reclaim_on_dontneed;	/* whole-PMD DONTNEED frees the table */
	/* caps.c */
	int advice;			/* MADV_RECLAIM_PT from sysfs, -1: none */
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
pr_hidden void pr_probe_caps(void);
pr_hidden void pr_caps_probe_more(void);
pr_hidden long pr_uffd_open(void);
pr_hidden const char *pr_uffd_mode_name(enum pr_uffd_mode m);

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
pr_hidden void pr_caps_thp(struct pr_thp *t);

/* Reclaim strategies, safest first; which one serves which allocator. */
enum pr_strategy {
	PR_STRAT_ADVICE, PR_STRAT_JEMALLOC_HOOKS, PR_STRAT_FENCE,
	PR_STRAT_OBSERVE, PR_STRAT_NONE
};
enum pr_alloc { PR_ALLOC_JEMALLOC, PR_ALLOC_TCMALLOC, PR_ALLOC_MIMALLOC,
		PR_ALLOC_GLIBC };
pr_hidden enum pr_strategy pr_strategy_for(enum pr_alloc a, const char **why);
pr_hidden const char *pr_strategy_name(enum pr_strategy s);
/* Why the fence can't run here, or NULL. */
pr_hidden const char *pr_fence_unavailable(void);

/* One stats/ counter of an mTHP size (system-wide), or -1. */
pr_hidden long pr_caps_thp_stat(unsigned kb, const char *name);
/* A virtio balloon hands free pages back to the host (a VM). */
pr_hidden bool pr_caps_free_page_reporting(void);

/* --- huge-region hinting (hint.c) --- */
pr_hidden void pr_hint_init(void);
/* A successful mmap from code at caller returned r for the caller's
 * request: may move it to a 2 MiB boundary (same length, flags and
 * protection).  Returns the address the caller gets; then
 * pr_hint_mapped() hints it. */
pr_hidden long pr_hint_place(long addr, size_t len, int prot, int flags,
			     int fd, long off, long r, const void *caller);
pr_hidden void pr_hint_mapped(long r, size_t len, int prot, int flags,
			      const void *caller);
/* A purge seen; zap: the pages are gone (DONTNEED, a decommit), not only
 * marked lazily free. */
pr_hidden void pr_hint_purged(uintptr_t start, uintptr_t end, bool zap);
pr_hidden void pr_hint_unmapped(uintptr_t start, uintptr_t end);
/* Around a call that can unmap or replace memory: no hint change runs
 * meanwhile on memory that may no longer be the allocator's. */
pr_hidden bool pr_hint_mm_begin(void);
pr_hidden void pr_hint_mm_end(bool token);
pr_hidden void pr_hint_after_fork_child(void);
struct pr_hint_stats {
	uint64_t hinted, hinted_bytes, stopped, stop_deferred, aligned,
		 align_failed, table_full, failed;
};
pr_hidden const struct pr_thp *pr_hint_state(struct pr_hint_stats *out,
					     const char **idle,
					     unsigned *regions,
					     unsigned *stopped_now);
/* hint_report.c: the folio sizes the process got, and the report. */
pr_hidden void pr_hint_folio_start(const struct pr_thp *thp);
pr_hidden void pr_hint_report(int fd);
/* hint_split.c: split the huge folio a zap left partly mapped. */
pr_hidden void pr_hint_split(uintptr_t start, uintptr_t end);
pr_hidden uint64_t pr_hint_split_probes(void);

/* --- VmPTE sampling (vmpte.c) --- */
pr_hidden long pr_vmpte_kb(void);
pr_hidden void pr_vmpte_sample(uint64_t now);
pr_hidden void pr_vmpte_start(void);
pr_hidden uint64_t pr_vmpte_peak_kb(void);
pr_hidden uint64_t pr_vmpte_start_kb(void);

/* --- purge call sites (profile.c) --- */
pr_hidden void pr_profile_init(void);
pr_hidden void pr_profile_record(size_t len, bool pmd_aligned);
pr_hidden void pr_profile_report(int fd, unsigned top);
/* An unwind in flight may hold the loader's or libgcc's locks, which fork
 * would copy held: fork waits for unwinds in flight, and none start
 * meanwhile. */
pr_hidden void pr_profile_before_fork(void);
pr_hidden void pr_profile_after_fork(bool child);

/* --- verification against pagemap (verify.c) --- */
pr_hidden long pr_verify_reclaimable(void);
/* Lazily freed regions the last verification found still mapped. */
pr_hidden long pr_verify_waiting(void);
/* Mark in inuse the entries of one region's pagemap that are not empty
 * (present, swapped, a marker); returns how many. */
pr_hidden unsigned pr_pagemap_in_use(const uint64_t *pm, uint64_t inuse[8]);

/* --- the report (report.c) --- */
pr_hidden void pr_report(int fd);

/* --- state (init.c) --- */
extern pr_hidden int pr_ready;	/* set once the ledger can be used */
/*
 * Depth of shim code on this thread.  While it is non-zero the interposed
 * calls pass straight through: liburcu registers threads with mmap, and
 * that mmap must not come back into the ledger.
 */
extern pr_hidden __thread int pr_busy __attribute__((tls_model("initial-exec")));

#endif /* PTRECLAIM_INTERNAL_H */
