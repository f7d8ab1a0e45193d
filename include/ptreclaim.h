/* SPDX-License-Identifier: MIT */
/*
 * ptreclaim.h - public interface of libptreclaim.
 *
 * The library works as an LD_PRELOAD shim with no code changes.  Programs
 * that link it (or find these symbols with dlsym(RTLD_DEFAULT, ...)) can read
 * its counters and print its report.  Every function here is safe to call
 * from any thread; none of them is meant for a hot path.
 */
#ifndef PTRECLAIM_H
#define PTRECLAIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PTRECLAIM_API_VERSION 1

/* A snapshot of the shim's counters.  Fields are only ever appended. */
struct ptreclaim_stats {
	uint64_t madvise_calls;		/* every madvise seen */
	uint64_t dontneed_calls;	/* MADV_DONTNEED (and _LOCKED) */
	uint64_t free_calls;		/* MADV_FREE */
	uint64_t remove_calls;		/* MADV_REMOVE */
	uint64_t munmap_calls;
	uint64_t mmap_calls;
	uint64_t mremap_calls;
	uint64_t purged_bytes;		/* bytes covered by successful purges */
	uint64_t pmd_aligned_purges;	/* purges that covered a whole aligned PMD */
	uint64_t regions_tracked;	/* ledger entries now */
	uint64_t regions_full;		/* entries with all pages purged now */
	uint64_t regions_dropped;	/* entries dropped by munmap/mremap/mmap */
	uint64_t ledger_bound_hits;	/* regions not tracked: ledger full */
	uint64_t shim_ns;		/* time spent in the shim, syscalls excluded */
	uint64_t vmpte_start_kb;	/* VmPTE when the shim started */
	uint64_t vmpte_peak_kb;		/* highest VmPTE the worker or report sampled */
};

/* Fill *st (of size sizeof(*st) from the caller's header).  Returns 0. */
int ptreclaim_stats_get(struct ptreclaim_stats *st, size_t size);

/*
 * Count the page-table pages that could be reclaimed now: ledger regions
 * that saw purges and that /proc/self/pagemap confirms map nothing.  Pages
 * found mapped again are corrected in the ledger.
 * Reads pagemap, so it costs time; returns -1 with errno set on failure.
 */
long ptreclaim_reclaimable(void);

/* Write the summary report (what PTRECLAIM_CONF=stats:1 prints at exit). */
void ptreclaim_report(int fd);

/*
 * The jemalloc adapter (see docs/jemalloc-adapter.md).  With
 * PTRECLAIM_CONF=jemalloc:auto (the default) the shim attaches at start to
 * the jemalloc it finds (mallctl, je_mallctl or _rjem_mallctl): it installs
 * extent hooks, chained to the hooks already there, on the arenas that
 * exist and on each arena a thread started later picks, so that jemalloc's
 * decommits free page tables.  A program that links the library with
 * jemalloc:off can attach when it likes (after a dlopen of jemalloc, say).
 *
 * attach: 0, or -1 with errno ENOENT (no jemalloc), ENOTSUP (not 5.x),
 * EBUSY (no arena took the hooks).  Attaching twice is a no-op.
 * detach: puts back the hooks that were there before, in every arena where
 * ours are still installed, and stops reclaiming; 0, or -1 with ENOENT if
 * not attached.  Not to be called from inside jemalloc (a hook).
 */
int ptreclaim_jemalloc_attach(void);
int ptreclaim_jemalloc_detach(void);

struct ptreclaim_jemalloc_status {
	uint32_t attached;		/* 1 while our hooks are installed */
	uint32_t arenas_hooked;		/* arenas with our hooks */
	uint32_t arenas_takeover;	/* of those, where ours decommit */
	uint32_t kernel_frees_tables;	/* whole-PMD DONTNEED frees a table */
	uint64_t decommits;		/* successful decommits seen */
	uint64_t decommit_bytes;
	uint64_t commits;
	uint64_t reclaim_calls;		/* whole-PMD madvise calls issued */
	uint64_t regions_reclaimed;	/* 2 MiB regions they covered */
	uint64_t pte_pages_reclaimed;	/* of those, regions that had a table */
	uint32_t hooks_at_thread_start;	/* 1: a new thread's arena is hooked
					 * when it starts; 0: all at attach */
	uint32_t reserved;
};

/* Fill *st (of size sizeof(*st) from the caller's header).  Returns 0. */
int ptreclaim_jemalloc_status(struct ptreclaim_jemalloc_status *st,
			      size_t size);

/*
 * The userfaultfd fence (stock kernels with CONFIG_PT_RECLAIM and full
 * userfaultfd): a background thread frees the tables of 2 MiB regions the
 * allocator purged completely, after proving under a userfaultfd fence that
 * they map nothing.  PTRECLAIM_CONF=fence:off turns it off.
 */
struct ptreclaim_fence_stats {
	uint32_t state;			/* 0 off, 1 active, 2 unavailable */
	uint32_t reserved;
	uint64_t windows;		/* register..unregister windows */
	uint64_t regions_fenced;	/* regions inside those windows */
	uint64_t regions_zapped;	/* proven empty and zapped whole */
	uint64_t vmpte_freed_kb;	/* VmPTE drop across fence passes */
	uint64_t skipped_not_empty;	/* pages found in use: ledger corrected */
	uint64_t waiting_lazy;		/* MADV_FREE regions still mapped (last pass) */
	uint64_t skipped_busy;		/* registered with another userfaultfd */
	uint64_t skipped_not_anon;	/* not private anonymous */
	uint64_t skipped_unmapped;	/* gone before the fence got there */
	uint64_t faults_in_window;	/* faults that waited for a window */
	uint64_t aborted;		/* windows cut short by an unmap */
	uint64_t window_ns_max;
	uint64_t window_ns_total;
	uint64_t passes;
	uint64_t cpu_ns;		/* the fence thread's CPU time */
};

/* Fill *st (of size sizeof(*st) from the caller's header).  Returns 0. */
int ptreclaim_fence_stats(struct ptreclaim_fence_stats *st, size_t size);

/* NULL while the fence is active, else why it is not. */
const char *ptreclaim_fence_reason(void);

/* Run a fence pass now and wait up to timeout_ms for it: 0, or -1 with
 * errno ENOTSUP (no fence here) or ETIMEDOUT. */
int ptreclaim_fence_flush(unsigned timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* PTRECLAIM_H */
