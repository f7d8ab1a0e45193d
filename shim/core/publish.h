/* SPDX-License-Identifier: MIT */
/*
 * publish.h - the stats page: what a process under the shim shows to
 * `ptreclaim stat` from outside, without a socket or a thread of its own.
 *
 * The shim maps one page from memfd_create(PR_PUB_NAME) MAP_SHARED, so
 * /proc/PID/maps names it ("/memfd:ptreclaim-stats (deleted)").  The page
 * holds this fixed-layout header: who owns it, and the *addresses in the
 * target* of the live structures (counter shards, the worker's stats, the
 * ledger's counts, the running strategy, the worker's quit reason), which
 * `stat` then reads with process_vm_readv.  Nothing is copied on the purge
 * path: the counters are read where they are.  The reasons why each
 * strategy stepped aside are copied in once, when the page is published.
 *
 * Shared by the library (core/publish.c) and the CLI (cli/stat.c): only
 * fixed-size types, only appended to; a change of meaning bumps
 * PR_PUB_VERSION.
 */
#ifndef PTRECLAIM_PUBLISH_H
#define PTRECLAIM_PUBLISH_H

#include <stdint.h>

#define PR_PUB_NAME	"ptreclaim-stats"
#define PR_PUB_MAGIC	"PTRSTATS"	/* 8 bytes, no NUL */
#define PR_PUB_VERSION	1
#define PR_PUB_STRATS	4	/* advice, jemalloc-hooks, fence, observe */
#define PR_PUB_COUNTERS	32	/* counter names the page has room for */
#define PR_PUB_NAME_LEN	24
#define PR_PUB_WHY_LEN	256

struct pr_pub {
	char magic[8];
	uint32_t version;
	uint32_t size;			/* sizeof(struct pr_pub) */
	int32_t pid;			/* the owner: a fork child's inherited
					 * copy names its parent */
	uint32_t nr_strategies;		/* entries in name/state/why/errors */
	uint64_t published_ns;		/* CLOCK_REALTIME, at publication */
	/* counter shards: nr_shards blocks of shard_stride bytes, each
	 * nr_counters uint64_t, summed as the library sums them */
	uint64_t shards_addr;
	uint32_t nr_shards, shard_stride;
	uint32_t nr_counters, reserved0;
	char counter_name[PR_PUB_COUNTERS][PR_PUB_NAME_LEN];
	/* the worker's struct pr_worker_stats; vmpte_freed_kb at its offset */
	uint64_t worker_stats_addr;
	uint32_t worker_stats_size, worker_freed_kb_off;
	uint64_t ledger_tracked_addr, ledger_full_addr;	/* uint64_t each */
	uint64_t running_addr;		/* int: index into strategy names */
	uint64_t quit_why_addr;		/* const char *: the worker stopped */
	uint32_t worker_users;		/* bit per strategy run by the worker */
	uint32_t reserved1;
	/* per strategy: a uint64_t of errors in the target (0: none) */
	uint64_t errors_addr[PR_PUB_STRATS];
	char strategy[PR_PUB_STRATS][PR_PUB_NAME_LEN];
	/* at publication: "active", "off" or "unavailable", and why */
	char state[PR_PUB_STRATS][16];
	char why[PR_PUB_STRATS][PR_PUB_WHY_LEN];
};

#endif /* PTRECLAIM_PUBLISH_H */
