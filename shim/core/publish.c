/* SPDX-License-Identifier: MIT */
/*
 * publish.c - the stats page `ptreclaim stat` reads from outside
 * (publish.h has the layout and docs/stat.md the protocol).
 *
 * Mapped once, after the strategy started, and only where there is
 * something to report (a strategy runs, or stats:1 asked for the
 * summary): a system-wide preload whose processes only observe pays
 * nothing.  The page holds addresses, not copies, so nothing on the purge
 * path changes: `stat` reads the counters where they live, with
 * process_vm_readv.  Written once, then made read-only.
 *
 * A fork child inherits the MAP_SHARED page, and its counters are its
 * own from then on: it maps a fresh page (and drops the inherited one), so
 * parent and child each publish their own pid; `stat` ignores a page whose
 * pid is not the process it reads (a child forked without atfork handlers
 * keeps only its parent's).  Nothing is published under a seccomp filter.
 */
#include <linux/memfd.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>

#include "core.h"
#include "publish.h"
#include "strategy.h"

_Static_assert(sizeof(struct pr_pub) <= PR_PAGE_SIZE, "one page");
_Static_assert(PRC_NR <= PR_PUB_COUNTERS, "room for every counter");
_Static_assert(PR_STRAT_NR + 1 <= PR_PUB_STRATS, "room for every strategy");
_Static_assert(sizeof(enum pr_strategy_id) == 4, "running is an int");

/* The names `stat` prints the counters under; the public struct's where
 * there is one. */
static const char *const counter_names[PRC_NR] = {
	[PRC_MADVISE] = "madvise_calls", [PRC_DONTNEED] = "dontneed_calls",
	[PRC_FREE] = "free_calls", [PRC_REMOVE] = "remove_calls",
	[PRC_MUNMAP] = "munmap_calls", [PRC_MMAP] = "mmap_calls",
	[PRC_MREMAP] = "mremap_calls", [PRC_PURGED_BYTES] = "purged_bytes",
	[PRC_PMD_ALIGNED] = "pmd_aligned_purges",
	[PRC_DROPPED] = "regions_dropped",
	[PRC_BOUND_HITS] = "ledger_bound_hits", [PRC_SHIM_NS] = "shim_ns",
	[PRC_JE_DECOMMITS] = "je_decommits",
	[PRC_JE_DECOMMIT_BYTES] = "je_decommit_bytes",
	[PRC_JE_DECOMMIT_FAILED] = "je_decommit_failed",
	[PRC_JE_COMMITS] = "je_commits",
	[PRC_JE_RECLAIM_CALLS] = "je_reclaim_calls",
	[PRC_JE_RECLAIM_FAILED] = "je_reclaim_failed",
	[PRC_JE_REGIONS_RECLAIMED] = "je_regions_reclaimed",
	[PRC_JE_PTE_RECLAIMED] = "je_pte_reclaimed",
	[PRC_JE_UNTRACKED] = "je_untracked", [PRC_JE_NS] = "je_ns",
};

static const char *const state_names[] = {
	[PR_STATE_OFF] = "off", [PR_STATE_ACTIVE] = "active",
	[PR_STATE_UNAVAILABLE] = "unavailable",
};

static struct pr_pub *page;

static void copy(char *dst, size_t len, const char *src)
{
	strncpy(dst, src ? src : "", len - 1);
	dst[len - 1] = '\0';
}

static uint64_t addr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* The strategies: names, state and reasons as they are now, and where
 * their live parts are. */
static void fill_strategies(struct pr_pub *p)
{
	p->nr_strategies = PR_STRAT_NR + 1;
	p->running_addr = addr(pr_strategy_running_addr());
	p->quit_why_addr = addr(pr_worker_quit_addr());
	p->errors_addr[PR_STRAT_ADVICE] = addr(pr_advice_errors_addr());
	p->errors_addr[PR_STRAT_FENCE] = addr(pr_fence_errors_addr());
	for (int id = 0; id <= PR_STRAT_NR; id++) {
		const char *why = NULL;
		enum pr_strategy_state st = PR_STATE_ACTIVE;

		if (id < PR_STRAT_NR)
			st = pr_strategy_get_state(id, &why);
		else if (pr_strategy_running() != PR_STRAT_OBSERVE)
			st = PR_STATE_OFF;
		copy(p->strategy[id], sizeof(p->strategy[id]),
		     pr_strategy_name(id));
		copy(p->state[id], sizeof(p->state[id]), state_names[st]);
		copy(p->why[id], sizeof(p->why[id]), why);
		if (pr_strategy_uses_worker(id))
			p->worker_users |= 1u << id;
	}
}

static void fill(struct pr_pub *p)
{
	const uint64_t *tracked, *full;
	struct timespec ts = { 0, 0 };
	size_t stride;

	memcpy(p->magic, PR_PUB_MAGIC, sizeof(p->magic));
	p->version = PR_PUB_VERSION;
	p->size = sizeof(*p);
	p->pid = (int32_t)pr_sys(SYS_getpid, 0, 0, 0, 0, 0, 0);
	pr_sys(SYS_clock_gettime, CLOCK_REALTIME, (long)&ts, 0, 0, 0, 0);
	p->published_ns = (uint64_t)ts.tv_sec * 1000000000ULL +
			  (uint64_t)ts.tv_nsec;
	p->shards_addr = addr(pr_counters_base(&p->nr_shards, &stride));
	p->shard_stride = (uint32_t)stride;
	p->nr_counters = PRC_NR;
	for (int c = 0; c < PRC_NR; c++)
		copy(p->counter_name[c], PR_PUB_NAME_LEN, counter_names[c]);
	p->worker_stats_addr = addr(pr_worker_stats_addr());
	p->worker_stats_size = sizeof(struct pr_worker_stats);
	p->worker_freed_kb_off = offsetof(struct pr_worker_stats,
					  vmpte_freed_kb);
	pr_ledger_counts_addr(&tracked, &full);
	p->ledger_tracked_addr = addr(tracked);
	p->ledger_full_addr = addr(full);
	fill_strategies(p);
}

/* A page from memfd_create, so that its name shows in /proc/PID/maps. */
static struct pr_pub *map_page(void)
{
	long fd = pr_sys(SYS_memfd_create, (long)PR_PUB_NAME, MFD_CLOEXEC,
			 0, 0, 0, 0);
	long p;

	if (fd < 0)
		return NULL;
	p = -1;
	if (pr_sys(SYS_ftruncate, fd, (long)PR_PAGE_SIZE, 0, 0, 0, 0) == 0)
		p = pr_sys(SYS_mmap, 0, (long)PR_PAGE_SIZE,
			   PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pr_close(&fd);
	return (unsigned long)p > -4096UL ? NULL : (struct pr_pub *)p;
}

/* Under a seccomp filter (one that came with the process, or a sandbox
 * installed before this fork) memfd_create may be what kills the process:
 * publish nothing and leave what is there, as the worker stops
 * (worker.c). */
static bool may_publish(void)
{
	return !pr_seccomp_active();
}

static void publish_now(void)
{
	struct pr_pub *p = map_page();

	if (!p)
		return;
	fill(p);
	/* Nothing writes it again: a stray write must not go to a page a
	 * fork child shares. */
	pr_sys(SYS_mprotect, (long)p, (long)PR_PAGE_SIZE, PROT_READ, 0, 0, 0);
	page = p;
}

void pr_publish(void)
{
	if (page)
		return;
	if (pr_strategy_running() == PR_STRAT_OBSERVE && !pr_conf.stats)
		return;
	if (may_publish())
		publish_now();
}

void pr_publish_after_fork(void)
{
	if (!page || !may_publish())
		return;
	pr_sys(SYS_munmap, (long)page, (long)PR_PAGE_SIZE, 0, 0, 0, 0);
	page = NULL;
	publish_now();
}

/* As `stat` counts them from the page (cli/stat_read.c). */
uint64_t pr_publish_tables_freed(void)
{
	struct pr_worker_stats w;

	pr_worker_stats(&w);
	return pr_counter_sum(PRC_JE_PTE_RECLAIMED) + w.vmpte_freed_kb / 4;
}

uint64_t pr_publish_errors(void)
{
	return __atomic_load_n(pr_advice_errors_addr(), __ATOMIC_RELAXED) +
	       __atomic_load_n(pr_fence_errors_addr(), __ATOMIC_RELAXED) +
	       pr_counter_sum(PRC_JE_RECLAIM_FAILED) +
	       pr_counter_sum(PRC_JE_DECOMMIT_FAILED);
}
