/* SPDX-License-Identifier: MIT */
/*
 * robust.h - what the robustness programs share beyond check.h: page
 * stamps that say who wrote a page and when, a deadline.  Their checks are
 * REQUIREs: a wrong byte in a thread, a forked child or a signal handler
 * aborts the program at once, where it happened.
 *
 * The programs run plainly or under the shim; they assert data, never
 * timing.  Their run time is bounded by a deadline, and an alarm turns a
 * hang (a deadlock in the shim) into a clear failure.
 */
#ifndef ROBUST_H
#define ROBUST_H

#include "check.h"	/* first: it defines _GNU_SOURCE */

#include <unistd.h>

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

/* Deadline: a hang is reported, not waited out by the test runner. */
static inline void arm_watchdog(unsigned seconds)
{
	alarm(seconds);
}

#endif
