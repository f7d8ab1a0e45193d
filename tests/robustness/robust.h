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

#include "pattern.h"

/* A page's stamp: tag's pattern (examples/pattern.h), keyed by the tag
 * alone so that a page checks wherever mremap moved it; one torn or zeroed
 * word anywhere in the page is detected. */
static inline void stamp_page(void *p, uint64_t tag)
{
	pat_fill_id(p, PG, tag, 0);
}

/* 1 if the page holds tag's stamp, 0 if it is all zero, -1 otherwise. */
static inline int page_state(const void *p, uint64_t tag)
{
	const uint64_t *w = p;

	/* A stamp's first word is odd: zero means a purged page, or junk. */
	if (w[0] == 0) {
		for (size_t i = 1; i < PG / 8; i++)
			if (w[i])
				return -1;
		return 0;
	}
	return pat_check_id(p, PG, tag, 0) == PAT_OK ? 1 : -1;
}

/* Deadline: a hang is reported, not waited out by the test runner. */
static inline void arm_watchdog(unsigned seconds)
{
	alarm(seconds);
}

#endif
