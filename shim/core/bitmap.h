/* SPDX-License-Identifier: MIT */
/* bitmap.h - the 512-bit page map of one PMD region, updated atomically. */
#ifndef PTRECLAIM_BITMAP_H
#define PTRECLAIM_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "platform.h"

#define PR_BITMAP_WORDS 8

/*
 * Mask of bits [lo, hi) within a word, 0 <= lo < hi <= 64.
 */
static inline uint64_t pr_word_mask(unsigned lo, unsigned hi)
{
	uint64_t upto_hi = hi == 64 ? ~0ULL : (1ULL << hi) - 1;

	return upto_hi & ~((1ULL << lo) - 1);
}

/* Set pages [first, last] (inclusive, 0..511). */
static inline void pr_bitmap_set(uint64_t *map, unsigned first, unsigned last)
{
	for (unsigned w = first / 64; w <= last / 64; w++) {
		unsigned lo = w == first / 64 ? first % 64 : 0;
		unsigned hi = w == last / 64 ? last % 64 + 1 : 64;

		__atomic_fetch_or(&map[w], pr_word_mask(lo, hi),
				  __ATOMIC_RELAXED);
	}
}

/* Clear pages [first, last] (inclusive). */
static inline void pr_bitmap_clear(uint64_t *map, unsigned first,
				   unsigned last)
{
	for (unsigned w = first / 64; w <= last / 64; w++) {
		unsigned lo = w == first / 64 ? first % 64 : 0;
		unsigned hi = w == last / 64 ? last % 64 + 1 : 64;

		__atomic_fetch_and(&map[w], ~pr_word_mask(lo, hi),
				   __ATOMIC_RELAXED);
	}
}

static inline bool pr_bitmap_full(const uint64_t *map)
{
	uint64_t all = ~0ULL;

	for (int w = 0; w < PR_BITMAP_WORDS; w++)
		all &= __atomic_load_n(&map[w], __ATOMIC_RELAXED);
	return all == ~0ULL;
}

static inline bool pr_bitmap_empty(const uint64_t *map)
{
	uint64_t any = 0;

	for (int w = 0; w < PR_BITMAP_WORDS; w++)
		any |= __atomic_load_n(&map[w], __ATOMIC_RELAXED);
	return any == 0;
}

static inline unsigned pr_bitmap_count(const uint64_t *map)
{
	unsigned n = 0;

	for (int w = 0; w < PR_BITMAP_WORDS; w++)
		n += __builtin_popcountll(__atomic_load_n(&map[w],
							  __ATOMIC_RELAXED));
	return n;
}

/* Page indices [*first, *last] of the region at base that [start, end)
 * covers. */
static inline void pr_bitmap_span(uintptr_t base, uintptr_t start,
				  uintptr_t end, unsigned *first,
				  unsigned *last)
{
	uintptr_t lo = start > base ? start : base;
	uintptr_t hi = end < base + PR_PMD_SIZE ? end : base + PR_PMD_SIZE;

	*first = (unsigned)((lo - base) >> PR_PAGE_SHIFT);
	*last = (unsigned)((hi - 1 - base) >> PR_PAGE_SHIFT);
}

static inline void pr_bitmap_zero(uint64_t *map)
{
	for (int w = 0; w < PR_BITMAP_WORDS; w++)
		__atomic_store_n(&map[w], 0, __ATOMIC_RELAXED);
}

#endif /* PTRECLAIM_BITMAP_H */
