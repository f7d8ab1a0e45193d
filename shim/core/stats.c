/* SPDX-License-Identifier: MIT */
/* stats.c - the public counters (include/ptreclaim.h), gathered. */
#include "core.h"

void pr_stats_snapshot(struct ptreclaim_stats *st)
{
	*st = (struct ptreclaim_stats){
		.madvise_calls = pr_counter_sum(PRC_MADVISE),
		.dontneed_calls = pr_counter_sum(PRC_DONTNEED),
		.free_calls = pr_counter_sum(PRC_FREE),
		.remove_calls = pr_counter_sum(PRC_REMOVE),
		.munmap_calls = pr_counter_sum(PRC_MUNMAP),
		.mmap_calls = pr_counter_sum(PRC_MMAP),
		.mremap_calls = pr_counter_sum(PRC_MREMAP),
		.purged_bytes = pr_counter_sum(PRC_PURGED_BYTES),
		.pmd_aligned_purges = pr_counter_sum(PRC_PMD_ALIGNED),
		.regions_tracked = pr_ledger_tracked(),
		.regions_full = pr_ledger_full(),
		.regions_dropped = pr_counter_sum(PRC_DROPPED),
		.ledger_bound_hits = pr_counter_sum(PRC_BOUND_HITS),
		.shim_ns = pr_counter_sum(PRC_SHIM_NS),
		.vmpte_start_kb = pr_vmpte_start_kb(),
		.vmpte_peak_kb = pr_vmpte_peak_kb(),
	};
}
