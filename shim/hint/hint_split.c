/* SPDX-License-Identifier: MIT */
/*
 * hint_split.c - give back what a fine purge leaves inside a huge page.
 *
 * MADV_DONTNEED on part of a PMD-mapped folio unmaps those pages, yet the
 * folio stays whole on the deferred-split queue until memory pressure runs
 * the shrinker: the unmapped pages stay allocated though VmRSS no longer
 * counts them, and the pages the allocator never wrote (size-class tails,
 * the ends of its pages), which small-page faults would never have mapped,
 * still count in VmRSS.
 *
 * MADV_COLD on one mapped page of such a folio makes the kernel split it
 * (the range covers less than the folio): the unmapped pages are freed and,
 * since 6.12, the zero-filled ones are mapped to the shared zero page.  It
 * never changes what memory holds, so it needs no fence and may race with
 * anything; its only other effect is that this one page ages sooner.
 */
#include <sys/mman.h>

#include "core.h"
#include "hint.h"

#ifndef MADV_COLD
#define MADV_COLD 20
#endif

#define BLOCK_MASK (PR_PMD_SIZE - 1)

static uint64_t probes;

static void probe(uintptr_t page)
{
	/* ENOMEM (unmapped meanwhile) or EINVAL (before 5.4): nothing held
	 * can be given back, and the caller's errno is untouched. */
	pr_sys(SYS_madvise, (long)page, PR_PAGE_SIZE, MADV_COLD, 0, 0, 0);
	__atomic_fetch_add(&probes, 1, __ATOMIC_RELAXED);
}

/*
 * [start, end) was just zapped and is not whole 2 MiB blocks.  A huge
 * folio can only be left in the blocks at either end; its pages next to
 * the purge were not part of it, so they are the likeliest to be mapped.
 */
void pr_hint_split(uintptr_t start, uintptr_t end)
{
	uintptr_t first = start & ~BLOCK_MASK, last = (end - 1) & ~BLOCK_MASK;

	if (start & BLOCK_MASK)
		probe(start - PR_PAGE_SIZE);
	/* The end's block, unless it is the start's, probed just above. */
	if ((end & BLOCK_MASK) && (last != first || !(start & BLOCK_MASK)))
		probe(end);
}

uint64_t pr_hint_split_probes(void)
{
	return __atomic_load_n(&probes, __ATOMIC_RELAXED);
}
