/* SPDX-License-Identifier: MIT */
/*
 * pattern.h - fill an object with bytes derived from its address and a tag,
 * and check them later.  Any byte the kernel zeroed or another object
 * overwrote shows up as a mismatch.
 */
#ifndef CHURN_PATTERN_H
#define CHURN_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PAT_STEP 0x9E3779B97F4A7C15ull

static inline uint64_t mix64(uint64_t x)
{
	x += PAT_STEP;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* What pat_check returns for an intact object. */
#define PAT_OK ((size_t)-1)

/* Never zero-like: a zeroed page must not pass by accident. */
static inline uint64_t pat_base_id(uint64_t id, uint64_t tag)
{
	return mix64(id ^ mix64(tag)) | 1;
}

static inline uint64_t pat_base(const void *p, uint64_t tag)
{
	return pat_base_id((uintptr_t)p, tag);
}

/* Word i holds base + i*STEP: cheap, vectorises, and differs per word. */
static inline void pat_fill_base(void *p, size_t n, uint64_t b)
{
	uint64_t *w = p, v;
	size_t i, nw = n / 8;

	for (i = 0; i < nw; i++)
		w[i] = b + i * PAT_STEP;
	v = b + nw * PAT_STEP;
	memcpy((char *)p + nw * 8, &v, n & 7);
}

/* Returns the offset of the first wrong byte, or PAT_OK if all good. */
static inline size_t pat_check_base(const void *p, size_t n, uint64_t b)
{
	const uint64_t *w = p;
	uint64_t v, diff = 0;
	size_t i, nw = n / 8;

	/* OR-reduce first (fast path); locate the byte only on failure. */
	for (i = 0; i < nw; i++)
		diff |= w[i] ^ (b + i * PAT_STEP);
	v = b + nw * PAT_STEP;
	if (!diff && !memcmp((const char *)p + nw * 8, &v, n & 7))
		return (size_t)-1;
	for (i = 0; i < n; i++) {
		v = b + (i / 8) * PAT_STEP;
		if (((const unsigned char *)p)[i] != (unsigned char)(v >> (8 * (i % 8))))
			return i;
	}
	return (size_t)-1;
}

static inline void pat_fill(void *p, size_t n, uint64_t tag)
{
	pat_fill_base(p, n, pat_base(p, tag));
}

static inline size_t pat_check(const void *p, size_t n, uint64_t tag)
{
	return pat_check_base(p, n, pat_base(p, tag));
}

/* The same keyed by an object id instead of the address (the tests' heaps
 * number their objects): an object checks wherever realloc moved it, and
 * any prefix of it checks against the same id. */
static inline void pat_fill_id(void *p, size_t n, uint64_t tag, uint64_t id)
{
	pat_fill_base(p, n, pat_base_id(id, tag));
}

static inline size_t pat_check_id(const void *p, size_t n, uint64_t tag,
				  uint64_t id)
{
	return pat_check_base(p, n, pat_base_id(id, tag));
}

#endif
