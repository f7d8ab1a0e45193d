/* SPDX-License-Identifier: MIT */
/*
 * api.c - the strategies' part of the public API (include/ptreclaim.h):
 * the jemalloc adapter attached or detached by the program, the fence's
 * counters, reason and flush.
 */
#include <errno.h>
#include <string.h>

#include "core.h"
#include "jemalloc.h"
#include "strategy.h"

static int fail(int err)
{
	errno = err;
	return -1;
}

/* A jemalloc loaded later (dlopen), or the program's own choice: the
 * adapter becomes the strategy if none runs. */
PR_EXPORT int ptreclaim_jemalloc_attach(void)
{
	int r;

	/* The shim starts as at a purge (program code: a safe point). */
	pr_life_settle();
	r = pr_je_attach();

	if (r < 0)
		return fail(-r);
	pr_strategy_adopt(PR_STRAT_JEMALLOC, true);
	return 0;
}

PR_EXPORT int ptreclaim_jemalloc_detach(void)
{
	int r;

	pr_life_settle();
	r = pr_je_detach();

	if (r < 0)
		return fail(-r);
	pr_strategy_adopt(PR_STRAT_JEMALLOC, false);
	return 0;
}

PR_EXPORT int ptreclaim_jemalloc_status(struct ptreclaim_jemalloc_status *st,
					size_t size)
{
	struct ptreclaim_jemalloc_status s;

	if (!st)
		return -1;
	pr_life_settle();
	pr_je_status(&s);
	memcpy(st, &s, size < sizeof(s) ? size : sizeof(s));
	return 0;
}

PR_EXPORT int ptreclaim_fence_stats(struct ptreclaim_fence_stats *out,
				    size_t size)
{
	struct ptreclaim_fence_stats st;

	if (!out)
		return -1;
	pr_life_settle();
	pr_fence_stats(&st);
	st.state = (uint32_t)pr_strategy_get_state(PR_STRAT_FENCE, NULL);
	memcpy(out, &st, size < sizeof(st) ? size : sizeof(st));
	return 0;
}

PR_EXPORT const char *ptreclaim_fence_reason(void)
{
	const char *why;

	pr_life_settle();
	return pr_strategy_get_state(PR_STRAT_FENCE, &why) == PR_STATE_ACTIVE ?
	       NULL : why;
}

PR_EXPORT int ptreclaim_fence_flush(unsigned timeout_ms)
{
	int r;

	pr_life_settle();
	if (pr_strategy_running() != PR_STRAT_FENCE)
		return fail(ENOTSUP);
	r = pr_worker_flush(timeout_ms);
	return r < 0 ? fail(-r) : 0;
}
