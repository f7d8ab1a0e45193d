/* SPDX-License-Identifier: MIT */
/*
 * strategy.h - the reclaim strategies: how a purge the ledger recorded
 * becomes a freed page table, and only behind a guarantee that nothing in
 * use is touched.  docs/architecture.md has the picture.
 *
 *  policy.c    which strategy serves which allocator here: the one
 *              selection, used by start-up and by `ptreclaim probe`
 *  strategy.c  the one that runs: start, stop, fork, report, mm hooks
 *  worker.c    the background thread that advice and fence share
 *  advice.c    the patched kernel's MADV_RECLAIM_PT
 *  jemalloc.c  jemalloc's commit/decommit protocol (extent hooks)
 *  fence.c     a userfaultfd fence around a whole-PMD MADV_DONTNEED
 */
#ifndef PTRECLAIM_STRATEGY_H
#define PTRECLAIM_STRATEGY_H

#include "bitmap.h"
#include "config.h"
#include "platform.h"

/* --- policy (policy.c): pure, from caps, config and the allocator --- */

enum pr_alloc {
	PR_ALLOC_JEMALLOC, PR_ALLOC_TCMALLOC, PR_ALLOC_MIMALLOC,
	PR_ALLOC_GLIBC, PR_ALLOC_OTHER, PR_ALLOC_NR
};
pr_hidden const char *pr_alloc_name(enum pr_alloc a);

/* Safest first: the order in which they are tried. */
enum pr_strategy_id {
	PR_STRAT_ADVICE, PR_STRAT_JEMALLOC, PR_STRAT_FENCE,
	PR_STRAT_NR,
	PR_STRAT_OBSERVE = PR_STRAT_NR	/* none runs: the ledger observes */
};
pr_hidden const char *pr_strategy_name(enum pr_strategy_id id);

/* Why id cannot serve allocator a here, or NULL.  *by_conf: because the
 * configuration turned it off. */
pr_hidden const char *pr_strategy_unavailable(enum pr_strategy_id id,
					      const struct pr_caps *caps,
					      const struct pr_conf *conf,
					      enum pr_alloc a, bool *by_conf);
/*
 * The selection: the first strategy from `from` on that can serve a.
 * *why says what it does for a, or why none can (PR_STRAT_OBSERVE).
 */
pr_hidden enum pr_strategy_id pr_strategy_select(const struct pr_caps *caps,
						 const struct pr_conf *conf,
						 enum pr_alloc a,
						 enum pr_strategy_id from,
						 const char **why);

/* --- the running strategy (strategy.c) --- */

/* The values of ptreclaim_fence_stats.state. */
enum pr_strategy_state { PR_STATE_OFF, PR_STATE_ACTIVE, PR_STATE_UNAVAILABLE };

/* What each strategy supplies; NULL members are optional. */
struct pr_strategy_ops {
	/* NULL once it runs, else why it could not start. */
	const char *(*start)(void);
	void (*stop)(void);
	/* Its report lines, given whether it runs and why not.  With a
	 * label, only while it runs: otherwise strategy.c prints
	 * "ptreclaim: LABEL state=off|unavailable reason=...". */
	const char *label;
	void (*report)(int fd, enum pr_strategy_state st, const char *why);
	/* Around an interposed call that can unmap or replace [lo, hi). */
	bool (*mm_begin)(uintptr_t lo, uintptr_t hi);
	void (*mm_end)(bool token);
	/* It runs on the worker: when the worker stops for good, so does it. */
	bool uses_worker;
};
extern pr_hidden const struct pr_strategy_ops pr_advice_ops, pr_jemalloc_ops,
	pr_fence_ops;

/* Which allocator provides malloc in this process (at start-up only:
 * dlsym). */
pr_hidden enum pr_alloc pr_alloc_detect(void);
/* Only whether malloc is glibc's: no failing lookup, no allocation. */
pr_hidden bool pr_alloc_malloc_is_libc(void);
/* Select and start, falling back in order if a start fails. */
pr_hidden void pr_strategy_start(void);
pr_hidden void pr_strategy_start_no_thread(enum pr_alloc a);
pr_hidden void pr_strategy_stop(void);
/* Not started: caps are known now (the report at exit), alloc too. */
pr_hidden void pr_strategy_probe_only(void);
/* None will be selected in this process (core/life.c), and why. */
pr_hidden void pr_strategy_not_started(const char *why);
pr_hidden enum pr_strategy_id pr_strategy_running(void);
pr_hidden enum pr_strategy_state pr_strategy_get_state(enum pr_strategy_id id,
						       const char **why);
/* The program attached (true) or detached the jemalloc adapter through
 * the API: it runs if nothing else does. */
pr_hidden void pr_strategy_adopt(enum pr_strategy_id id, bool on);
pr_hidden void pr_strategy_report(int fd, enum pr_strategy_id id);
pr_hidden bool pr_strategy_mm_begin(uintptr_t lo, size_t len);
pr_hidden void pr_strategy_mm_end(bool token);
/* For the stats page (core/publish.c). */
pr_hidden const enum pr_strategy_id *pr_strategy_running_addr(void);
pr_hidden bool pr_strategy_uses_worker(enum pr_strategy_id id);
pr_hidden const uint64_t *pr_advice_errors_addr(void);
/* The advice's counters, for the JSON report (core/report_json.c). */
struct pr_advice_stats {
	uint64_t calls, regions_sent, regions_freed, refilled;
	uint64_t lazy_calls, lazy_sent, lazy_kept, lazy_freed, errors;
};
pr_hidden void pr_advice_stats(struct pr_advice_stats *out);
pr_hidden const uint64_t *pr_fence_errors_addr(void);

/* --- the worker (worker.c) --- */

#define PR_RUN_MAX 512		/* regions in one run (1 GiB) */

enum pr_outcome {
	PR_OUT_LEFT,		/* nothing learnt: offered again later */
	PR_OUT_DONE,		/* freed, or the ledger told already */
	PR_OUT_MAPPED,		/* maps the pages in inuse[k] */
};

/* Adjacent candidate regions that pagemap showed empty a moment ago (or,
 * with lazy, mapping only pages purged with MADV_FREE). */
struct pr_run {
	uintptr_t lo;
	unsigned n;
	/* Lazily freed regions, for a strategy that discards their clean
	 * pages itself (takes_lazy): pagemap showed only purged pages. */
	bool lazy;
	uint8_t flags[PR_RUN_MAX];		/* PR_LEDGER_LAZY, _FULL */
	uint64_t changed[PR_RUN_MAX];		/* ledger's last change */
	uint8_t out[PR_RUN_MAX];		/* enum pr_outcome */
	uint64_t inuse[PR_RUN_MAX][PR_BITMAP_WORDS];
};

struct pr_worker_ops {
	const char *thread_name;
	unsigned batch;		/* regions per run at most */
	unsigned rate;		/* runs per second at most */
	unsigned delay_ms;	/* a region must stay unchanged this long */
	/* Offer regions that are not complete while the program purges
	 * (else only once its purges go quiet). */
	bool scan_partial;
	/* The strategy can discard the clean lazily freed pages of a region
	 * itself (the kernel's lazyfree advice): lazily freed regions whose
	 * mapped pages are all ones the ledger holds as purged come in runs
	 * of their own (run->lazy), and are not waited for: the strategy
	 * settles each (a region it could not empty is parked until its next
	 * purge).  Else such regions wait, retried with backoff, until
	 * memory pressure discards their pages. */
	bool takes_lazy;
	/* This process's descriptors and buffers: at start and again in a
	 * fork child (after fork_child reset what the parent left). */
	const char *(*open)(void);
	void (*close)(void);
	void (*fork_child)(void);
	/* With the work lock held: act on the run, set out[] and inuse[]. */
	void (*run)(struct pr_run *rn);
	/* Whether a region is for this strategy at all (NULL: all are). */
	bool (*wants)(uintptr_t base);
	/* A descriptor to wake on, and what to do when it is readable
	 * (also called now and then during a pass). */
	long (*wake_fd)(void);
	void (*on_wake)(void);
};

struct pr_worker_stats {
	uint64_t passes, cpu_ns, forks, vmpte_freed_kb;
	uint64_t not_empty, waiting, lazy_retries;
};

pr_hidden const char *pr_worker_start(const struct pr_worker_ops *ops);
pr_hidden void pr_worker_stop(void);
/* From the purge path: a region completed.  One write at most. */
pr_hidden void pr_worker_kick(void);
pr_hidden bool pr_worker_live(void);
pr_hidden bool pr_worker_stopping(void);
/* A pass over every region now, waited for; -errno. */
pr_hidden int pr_worker_flush(unsigned timeout_ms);
pr_hidden void pr_worker_stats(struct pr_worker_stats *out);
/* Why the worker stopped for good (a seccomp filter, a failed restart
 * after fork), or NULL. */
pr_hidden const char *pr_worker_quit_reason(void);
pr_hidden const struct pr_worker_stats *pr_worker_stats_addr(void);
pr_hidden const char *const *pr_worker_quit_addr(void);
/* fence_scope.c: the regions the fence may take (fence_scope). */
pr_hidden void pr_fence_scope_start(void);
/* From interposed mmap and mremap, after success. */
pr_hidden void pr_fence_scope_mapped(uintptr_t start, size_t len,
				     const void *caller);
pr_hidden bool pr_fence_scope_owns(uintptr_t base);
/* Stopped and joined (true if it ran), and started again. */
pr_hidden bool pr_worker_quiesce(void);
pr_hidden void pr_worker_resume(void);
pr_hidden void pr_worker_quit(const char *why);
/* In a child made without atfork handlers: reset, lock-free, off. */
pr_hidden void pr_worker_forget(const char *why);
/* The fence's counters for the public API (fence.c). */
struct ptreclaim_fence_stats;
pr_hidden void pr_fence_stats(struct ptreclaim_fence_stats *st);
/* Pages of the region at base that map something (this process's
 * pagemap); -1 if it can't be read. */
pr_hidden int pr_worker_region_in_use(uintptr_t base, uint64_t inuse[8]);
/* The pagemap entries of npages pages from base; false if unreadable. */
pr_hidden bool pr_worker_pagemap(uintptr_t base, uint64_t *pm, size_t npages);

#endif /* PTRECLAIM_STRATEGY_H */
