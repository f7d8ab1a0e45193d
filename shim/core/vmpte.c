/* SPDX-License-Identifier: MIT */
/*
 * vmpte.c - VmPTE from /proc/self/status: when the shim starts (the
 * first purge), the highest value the worker read around its passes or
 * the report read, and on demand.  Never from the purge path: an
 * interposed call makes only the system call asked for.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

static uint64_t start_kb;
static uint64_t peak_kb;

long pr_vmpte_kb(void)
{
	return pr_vmpte_kb_of(0);
}

void pr_vmpte_note(long kb)
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
