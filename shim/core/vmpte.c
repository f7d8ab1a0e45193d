/* SPDX-License-Identifier: MIT */
/*
 * vmpte.c - VmPTE from /proc/self/status: at start, a rate-limited peak
 * sampled from the purge path (one reader at a time, at most 10 per
 * second), and on demand.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define PR_SAMPLE_EVERY_NS 100000000ULL

static uint64_t start_kb;
static uint64_t peak_kb;
static uint64_t next_sample_ns;

long pr_vmpte_kb(void)
{
	return pr_vmpte_kb_of(0);
}

static void note_peak(long kb)
{
	uint64_t cur = __atomic_load_n(&peak_kb, __ATOMIC_RELAXED);

	while (kb > 0 && (uint64_t)kb > cur &&
	       !__atomic_compare_exchange_n(&peak_kb, &cur, (uint64_t)kb, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void pr_vmpte_start(void)
{
	long kb = pr_vmpte_kb();

	start_kb = kb > 0 ? (uint64_t)kb : 0;
	note_peak(kb);
}

void pr_vmpte_sample(uint64_t now)
{
	uint64_t due = __atomic_load_n(&next_sample_ns, __ATOMIC_RELAXED);

	if (now < due ||
	    !__atomic_compare_exchange_n(&next_sample_ns, &due,
					 now + PR_SAMPLE_EVERY_NS, false,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	note_peak(pr_vmpte_kb());
}

uint64_t pr_vmpte_peak_kb(void)
{
	note_peak(pr_vmpte_kb());
	return __atomic_load_n(&peak_kb, __ATOMIC_RELAXED);
}

uint64_t pr_vmpte_start_kb(void)
{
	return start_kb;
}
