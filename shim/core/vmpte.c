/* SPDX-License-Identifier: MIT */
/*
 * vmpte.c - VmPTE from /proc/self/status: when the shim starts (the
 * first purge), the highest value the worker read around its passes or
 * the report read (and how many reads that was), and on demand.  Never from the purge path: an
 * interposed call makes only the system call asked for.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

static uint64_t start_kb;
static uint64_t peak_kb;
static uint64_t samples;	/* reads the peak is the highest of */

long pr_vmpte_kb(void)
{
	return pr_vmpte_kb_of(0);
}

void pr_vmpte_note(long kb)
{
	uint64_t cur = __atomic_load_n(&peak_kb, __ATOMIC_RELAXED);

	if (kb > 0)
		__atomic_fetch_add(&samples, 1, __ATOMIC_RELAXED);
	while (kb > 0 && (uint64_t)kb > cur &&
	       !__atomic_compare_exchange_n(&peak_kb, &cur, (uint64_t)kb, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void pr_vmpte_start(void)
{
	long kb = pr_vmpte_kb();

	start_kb = kb > 0 ? (uint64_t)kb : 0;
	pr_vmpte_note(kb);
}

uint64_t pr_vmpte_peak_kb(void)
{
	pr_vmpte_note(pr_vmpte_kb());
	return __atomic_load_n(&peak_kb, __ATOMIC_RELAXED);
}

uint64_t pr_vmpte_start_kb(void)
{
	return start_kb;
}

/* How many reads the peak comes from.  Without a worker (the jemalloc
 * adapter, observe) only the start and the report read it: the peak is
 * then the higher of those two, and the report says so by this count. */
uint64_t pr_vmpte_samples(void)
{
	return __atomic_load_n(&samples, __ATOMIC_RELAXED);
}
