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
	uint64_t vmpte_peak_kb;		/* highest VmPTE the shim sampled */
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

#ifdef __cplusplus
}
#endif

#endif /* PTRECLAIM_H */
