/* SPDX-License-Identifier: MIT */
/*
 * pattern.h - bytes that depend on (seed, object id, offset), so any byte
 * that changed, went to zero, or moved to another object is caught.  Any
 * prefix of an object checks against the same id (realloc keeps one).
 */
#ifndef ADAPTER_PATTERN_H
#define ADAPTER_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

static inline uint64_t pattern_word(uint64_t seed, uint64_t id, size_t w)
{
	uint64_t x = (seed ^ (id * 0x9e3779b97f4a7c15ULL)) + w * 0xbf58476d1ce4e5b9ULL;

	x ^= x >> 31;
	return x | 1;	/* never an all-zero word */
}

static inline void pattern_fill(unsigned char *p, size_t n, uint64_t seed,
				uint64_t id)
{
	size_t w = 0;

	for (; (w + 1) * 8 <= n; w++) {
		uint64_t v = pattern_word(seed, id, w);

		memcpy(p + w * 8, &v, 8);
	}
	if (w * 8 < n) {
		uint64_t v = pattern_word(seed, id, w);

		memcpy(p + w * 8, &v, n - w * 8);
	}
}

/* 0 if intact, else 1 + the offset of the first wrong byte. */
static inline size_t pattern_check(const unsigned char *p, size_t n,
				   uint64_t seed, uint64_t id)
{
	size_t w = 0;

	for (; (w + 1) * 8 <= n; w++) {
		uint64_t v = pattern_word(seed, id, w), got;

		memcpy(&got, p + w * 8, 8);
		if (got != v)
			return 1 + w * 8;
	}
	if (w * 8 < n) {
		uint64_t v = pattern_word(seed, id, w), got = v;

		/* The same bytes as a longer object's word: a prefix checks. */
		memcpy(&got, p + w * 8, n - w * 8);
		if (got != v)
			return 1 + w * 8;
	}
	return 0;
}

#endif
