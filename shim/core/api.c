/* SPDX-License-Identifier: MIT */
/*
 * api.c - the public API of include/ptreclaim.h (the strategies' own calls
 * live with them: strategy/jemalloc.c, strategy/fence.c).
 */
#include <errno.h>
#include <string.h>

#include "core.h"

PR_EXPORT int ptreclaim_stats_get(struct ptreclaim_stats *out, size_t size)
{
	struct ptreclaim_stats st;

	if (!out)
		return -1;
	pr_stats_snapshot(&st);
	memcpy(out, &st, size < sizeof(st) ? size : sizeof(st));
	return 0;
}

PR_EXPORT long ptreclaim_reclaimable(void)
{
	long r;

	pr_life_settle();
	pr_ledger_maintain();
	r = pr_verify_reclaimable();
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

PR_EXPORT void ptreclaim_report(int fd)
{
	pr_life_settle();
	pr_report(fd);
}
