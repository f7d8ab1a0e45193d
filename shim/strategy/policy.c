/* SPDX-License-Identifier: MIT */
/*
 * policy.c - which strategy serves which allocator, here.  The one place
 * the choice is made: start-up (strategy.c) and `ptreclaim probe` both call
 * pr_strategy_select(), so the probe's answer is the runtime's.
 *
 * Safest first.  The kernel's own advice checks every entry under its
 * locks, so a stale ledger costs a wasted call, never data.  jemalloc's
 * decommits are exact: it commits before it touches a decommitted page.
 * The fence proves a region empty under userfaultfd, for any allocator
 * whose purges the shim sees.  Pure: reads only caps and config.
 */
#include "strategy.h"

static const char *const alloc_names[PR_ALLOC_NR] = {
	"jemalloc", "tcmalloc", "mimalloc", "glibc", "other" };

static const char *const strategy_names[PR_STRAT_NR + 1] = {
	"advice", "jemalloc-hooks", "fence", "observe" };

const char *pr_alloc_name(enum pr_alloc a)
{
	return a < PR_ALLOC_NR ? alloc_names[a] : "?";
}

const char *pr_strategy_name(enum pr_strategy_id id)
{
	return id <= PR_STRAT_NR ? strategy_names[id] : "?";
}

static const char *advice_unavailable(const struct pr_caps *caps,
				      const struct pr_conf *conf, bool *by_conf)
{
	if (caps->advice <= 0)
		return "kernel offers no MADV_RECLAIM_PT (no /sys/kernel/mm/reclaim_pt/advice)";
	*by_conf = !conf->advice;
	if (*by_conf)
		return "advice:off in PTRECLAIM_CONF";
	/* A filter may kill the process for a call it does not expect. */
	if (caps->seccomp != 0)
		return "seccomp filter: the worker's calls might be refused or kill the process";
	return NULL;
}

static const char *jemalloc_unavailable(const struct pr_caps *caps,
					const struct pr_conf *conf,
					enum pr_alloc a, bool *by_conf)
{
	*by_conf = !conf->jemalloc;
	if (*by_conf)
		return "off by configuration";
	if (a != PR_ALLOC_JEMALLOC)
		return "jemalloc not found (no mallctl, je_mallctl or _rjem_mallctl)";
	if (!caps->pt_reclaim_on_dontneed)
		return "kernel keeps PTE tables on whole-PMD MADV_DONTNEED (no CONFIG_PT_RECLAIM)";
	return NULL;
}

static const char *fence_unavailable(const struct pr_caps *caps,
				     const struct pr_conf *conf, bool *by_conf)
{
	*by_conf = conf->fence != PR_FENCE_ON;
	if (conf->fence == PR_FENCE_OFF)
		return "fence:off in PTRECLAIM_CONF";
	*by_conf = false;
	if (!caps->pt_reclaim_on_dontneed)
		return "kernel keeps PTE tables on whole-PMD MADV_DONTNEED (no CONFIG_PT_RECLAIM)";
	if (caps->uffd == PR_UFFD_USER_ONLY)
		return "userfaultfd is user-mode-only (no CAP_SYS_PTRACE, vm.unprivileged_userfaultfd=0, /dev/userfaultfd not accessible): kernel-mode faults would fail with EFAULT";
	if (caps->uffd == PR_UFFD_NONE && caps->seccomp != 0)
		return "seccomp filter: userfaultfd not tried (a filter may kill the process for it)";
	if (caps->uffd == PR_UFFD_NONE)
		return "no userfaultfd in this process";
	/* What it cannot rule out (docs/fence.md) makes it opt-in. */
	*by_conf = conf->fence == PR_FENCE_AUTO;
	return *by_conf ? "fence:auto keeps the fence off: its guarantee has known holes (a raw mremap into a window loses data, a stopped process blocks its readers; docs/fence.md); fence:on runs it" : NULL;
}

const char *pr_strategy_unavailable(enum pr_strategy_id id,
				    const struct pr_caps *caps,
				    const struct pr_conf *conf,
				    enum pr_alloc a, bool *by_conf)
{
	bool dummy;

	if (!by_conf)
		by_conf = &dummy;
	*by_conf = false;
	switch (id) {
	case PR_STRAT_ADVICE:
		return advice_unavailable(caps, conf, by_conf);
	case PR_STRAT_JEMALLOC:
		return jemalloc_unavailable(caps, conf, a, by_conf);
	case PR_STRAT_FENCE:
		return fence_unavailable(caps, conf, by_conf);
	default:
		return "no such strategy";
	}
}

/* What the advice does for a, one line: MADV_FREE regions wait for
 * memory pressure unless the kernel has the lazyfree advice. */
static const char *advice_does(const struct pr_caps *caps, enum pr_alloc a)
{
	if (caps->advice_lazyfree > 0)
		return a == PR_ALLOC_MIMALLOC ?
		       "kernel MADV_RECLAIM_PT; MADV_FREE regions get MADV_RECLAIM_PT_LAZYFREE once quiet (clean lazily freed pages discarded, tables freed)" :
		       "kernel MADV_RECLAIM_PT over completed 2 MiB regions, MADV_RECLAIM_PT_LAZYFREE for quiet MADV_FREE ones (frees only tables that map nothing or clean lazily freed pages)";
	return a == PR_ALLOC_MIMALLOC ?
	       "kernel MADV_RECLAIM_PT; MADV_FREE regions wait until the kernel discards their pages (no MADV_RECLAIM_PT_LAZYFREE)" :
	       "kernel MADV_RECLAIM_PT over completed 2 MiB regions (frees only tables that map nothing)";
}

/* What the strategy does for a, one line. */
static const char *what_it_does(enum pr_strategy_id id,
				const struct pr_caps *caps, enum pr_alloc a)
{
	if (a == PR_ALLOC_GLIBC)
		return id == PR_STRAT_ADVICE ?
		       "kernel MADV_RECLAIM_PT for the program's own madvise purges (glibc's trims are invisible to a preload, and coalesce anyway)" :
		       "userfaultfd fence for the program's own madvise purges (glibc's trims are invisible to a preload, and coalesce anyway)";
	switch (id) {
	case PR_STRAT_ADVICE:
		return advice_does(caps, a);
	case PR_STRAT_JEMALLOC:
		return "extent hooks: jemalloc commits before it touches a decommitted extent";
	default:
		return a == PR_ALLOC_MIMALLOC ?
		       "userfaultfd fence; MADV_FREE regions wait until the kernel discards their pages" :
		       "userfaultfd fence over completed 2 MiB regions";
	}
}

enum pr_strategy_id pr_strategy_select(const struct pr_caps *caps,
				       const struct pr_conf *conf,
				       enum pr_alloc a,
				       enum pr_strategy_id from,
				       const char **why)
{
	const char *last = NULL, *dummy;

	if (!why)
		why = &dummy;
	for (enum pr_strategy_id id = from; id < PR_STRAT_NR; id++) {
		const char *no = pr_strategy_unavailable(id, caps, conf, a, NULL);

		if (!no) {
			*why = what_it_does(id, caps, a);
			return id;
		}
		/* The adapter's absence says nothing about the others. */
		if (id != PR_STRAT_JEMALLOC)
			last = no;
	}
	*why = last ? last : "no strategy can run here";
	if (caps->advice > 0 && !conf->advice)
		*why = "advice:off in PTRECLAIM_CONF (kernel offers MADV_RECLAIM_PT)";
	return PR_STRAT_OBSERVE;
}
