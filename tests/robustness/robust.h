/* SPDX-License-Identifier: MIT */
/*
 * robust.h - small helpers shared by the robustness programs: failing
 * checks, page stamps that say who wrote a page and when, a deadline.
 *
 * The programs run plainly or under the shim; they assert data, never
 * timing.  Their run time is bounded by a deadline, and an alarm turns a
 * hang (a deadlock in the shim) into a clear failure.
 */
#ifndef ROBUST_H
#define ROBUST_H

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PG ((size_t)4096)
#define PMD ((size_t)2 << 20)

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: check failed: %s: ",        \
				__FILE__, __LINE__, #cond);                 \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
			abort();                                            \
		}                                                           \
	} while (0)

/* A page's stamp: every word is derived from (tag), so one torn or zeroed
 * word anywhere in the page is detected. */
static inline uint64_t stamp_word(uint64_t tag, size_t i)
{
	uint64_t x = (tag + 1) * 0x9e3779b97f4a7c15ULL ^ (i << 32 | i);
	return x | 1;
}

static inline void stamp_page(void *p, uint64_t tag)
{
	uint64_t *w = p;
	for (size_t i = 0; i < PG / 8; i++)
		w[i] = stamp_word(tag, i);
}

/* 1 if the page holds tag's stamp, 0 if it is all zero, -1 otherwise. */
static inline int page_state(const void *p, uint64_t tag)
{
	const uint64_t *w = p;
	if (w[0] == 0) {
		for (size_t i = 1; i < PG / 8; i++)
			if (w[i])
				return -1;
		return 0;
	}
	for (size_t i = 0; i < PG / 8; i++)
		if (w[i] != stamp_word(tag, i))
			return -1;
	return 1;
}

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Deadline: a hang is reported, not waited out by the test runner. */
static inline void arm_watchdog(unsigned seconds)
{
	alarm(seconds);
}

/* xorshift: each thread its own cheap generator. */
static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static inline void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED, "mmap %zu", len);
	return p;
}

/* A PMD-aligned anonymous region of len bytes. */
static inline char *map_aligned(size_t len)
{
	char *p = map_anon(len + PMD);
	uintptr_t a = ((uintptr_t)p + PMD - 1) & ~(PMD - 1);
	if (a > (uintptr_t)p)
		CHECK(munmap(p, a - (uintptr_t)p) == 0, "trim head");
	CHECK(munmap((char *)a + len, (uintptr_t)p + PMD - a) == 0,
	      "trim tail");
	return (char *)a;
}

#endif
