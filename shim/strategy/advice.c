/* SPDX-License-Identifier: MIT */
/*
 * advice.c - free the PTE tables of purged regions with the patched
 * kernel's MADV_RECLAIM_PT (kernel-patches/), for any allocator whose
 * purges the shim sees.
 *
 * The advice is non-destructive: the kernel frees a table only if all 512
 * of its entries are empty, checked under its own locks.  So the ledger
 * only has to point at likely candidates; a stale entry costs one wasted
 * call, never a byte.  The worker (worker.c) finds runs of adjacent
 * regions that pagemap shows empty; here each run gets one aligned call,
 * and pagemap is read again: regions still empty lost their table (or a
 * VMA the kernel skips keeps it, and retrying would not help); the others
 * were refilled meanwhile and go back to the worker as mapped.
 *
 * Regions given back with MADV_FREE keep their pages mapped until memory
 * pressure.  Where the kernel also offers MADV_RECLAIM_PT_LAZYFREE, the
 * worker hands them over in runs of their own (run->lazy) once they have
 * been quiet for advice_delay_ms, and they get that advice: the kernel
 * discards a span's pages only if every one is still a clean, unshared
 * lazily freed page (it rechecks dirty after clearing, and restores a
 * page written meanwhile), so a page the allocator reused is never lost.
 * Regions purged with MADV_DONTNEED keep the plain advice.  Without it,
 * lazily freed regions wait (worker.c) until pressure empties them.
 *
 * The numbers come from /sys/kernel/mm/reclaim_pt/advice and
 * advice_lazyfree, never guessed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "strategy.h"

static struct {
	uint64_t calls, regions_sent, regions_freed, refilled, lazy_freed;
	uint64_t lazy_calls, lazy_sent, lazy_kept;
	uint64_t errors;
	int last_err;
} astats;

#define ADD(field, n) __atomic_fetch_add(&astats.field, (n), __ATOMIC_RELAXED)

/* What the call did, region by region. */
static void settle(struct pr_run *rn)
{
	static const uint64_t none[PR_BITMAP_WORDS];

	for (unsigned k = 0; k < rn->n; k++) {
		uintptr_t base = rn->lo + (uintptr_t)k * PR_PMD_SIZE;
		int n = pr_worker_region_in_use(base, rn->inuse[k]);

		if (n == 0) {
			/* No table, or one in a VMA the kernel skips
			 * (mlocked, shared, file): either way not again
			 * until a purge shows pages were used.  Parked with
			 * nothing in use, so a purge that raced with us
			 * keeps the region offered. */
			pr_ledger_park(base, rn->changed[k], none);
			rn->out[k] = PR_OUT_DONE;
			ADD(regions_freed, 1);
			if (rn->flags[k] & PR_LEDGER_LAZY)
				ADD(lazy_freed, 1);
		} else if (n > 0 && rn->lazy) {
			/*
			 * The kernel kept the span: a page was written (or
			 * held) since MADV_FREE.  pagemap cannot tell that
			 * page from the clean ones beside it, so the ledger
			 * keeps them all as purged and the region waits for
			 * its next purge (that page given back again): then
			 * the whole span can go.  A page in use for good
			 * costs one call per purge in its region.
			 */
			pr_ledger_park(base, rn->changed[k], none);
			rn->out[k] = PR_OUT_DONE;
			ADD(lazy_kept, 1);
		} else if (n > 0) {
			ADD(refilled, 1);
			rn->out[k] = PR_OUT_MAPPED;
		}
	}
}

static void advice_run(struct pr_run *rn)
{
	/* The worker makes lazy runs only when the kernel has the advice. */
	int advice = rn->lazy ? pr_caps.advice_lazyfree : pr_caps.advice;
	long r = pr_sys(SYS_madvise, (long)rn->lo,
			(long)((uintptr_t)rn->n * PR_PMD_SIZE), advice, 0, 0, 0);

	ADD(calls, 1);
	ADD(regions_sent, rn->n);
	if (rn->lazy) {
		ADD(lazy_calls, 1);
		ADD(lazy_sent, rn->n);
	}
	/* ENOMEM: part of the run was unmapped meanwhile; the kernel still
	 * handled the rest.  Anything else is worth a look in the report. */
	if (r < 0 && r != -ENOMEM) {
		ADD(errors, 1);
		astats.last_err = (int)-r;
	}
	settle(rn);
}

static struct pr_worker_ops worker_ops = {
	.thread_name = "ptreclaim-advic",
	.batch = PR_RUN_MAX,
	.run = advice_run,
};

static const char *advice_start(void)
{
	worker_ops.rate = pr_conf.advice_rate;
	worker_ops.delay_ms = pr_conf.advice_delay_ms;
	worker_ops.takes_lazy = pr_caps.advice_lazyfree > 0;
	return pr_worker_start(&worker_ops);
}

static void advice_report(int fd, enum pr_strategy_state st, const char *why)
{
	struct pr_worker_stats w;
	char buf[896];

	(void)st;
	(void)why;
	pr_worker_stats(&w);
	snprintf(buf, sizeof(buf),
		 "ptreclaim: advice state=%s number=%d lazyfree_number=%d calls=%llu regions_sent=%llu regions_freed=%llu tables_freed=%llu skipped_not_empty=%llu refilled=%llu waiting_lazy=%llu lazy_retries=%llu lazy_calls=%llu lazy_regions_sent=%llu lazy_kept=%llu lazy_freed=%llu passes=%llu cpu_ms=%llu forks=%llu errors=%llu%s%s\n",
		 pr_worker_stopping() ? "stopped" : "active",
		 pr_caps.advice, pr_caps.advice_lazyfree > 0 ?
		 pr_caps.advice_lazyfree : -1,
		 PR_U(astats.calls), PR_U(astats.regions_sent),
		 PR_U(astats.regions_freed), PR_U(w.vmpte_freed_kb / 4),
		 PR_U(w.not_empty), PR_U(astats.refilled), PR_U(w.waiting),
		 PR_U(w.lazy_retries), PR_U(astats.lazy_calls),
		 PR_U(astats.lazy_sent), PR_U(astats.lazy_kept),
		 PR_U(astats.lazy_freed), PR_U(w.passes),
		 PR_U(w.cpu_ns / 1000000), PR_U(w.forks), PR_U(astats.errors),
		 astats.last_err ? " last_errno=" : "",
		 astats.last_err ? strerrorname_np(astats.last_err) : "");
	pr_write_str(fd, buf);
}

const struct pr_strategy_ops pr_advice_ops = {
	.start = advice_start,
	.stop = pr_worker_stop,
	.label = "advice",
	.report = advice_report,
	.uses_worker = true,
};

/* For the stats page (core/publish.c): read in place from outside. */
const uint64_t *pr_advice_errors_addr(void)
{
	return &astats.errors;
}

void pr_advice_stats(struct pr_advice_stats *out)
{
	*out = (struct pr_advice_stats){
		.calls = astats.calls, .regions_sent = astats.regions_sent,
		.regions_freed = astats.regions_freed,
		.refilled = astats.refilled, .lazy_calls = astats.lazy_calls,
		.lazy_sent = astats.lazy_sent, .lazy_kept = astats.lazy_kept,
		.lazy_freed = astats.lazy_freed, .errors = astats.errors,
	};
}
