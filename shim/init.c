/* SPDX-License-Identifier: MIT */
/*
 * init.c - start-up, fork, exit, and the public API of include/ptreclaim.h.
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <urcu/urcu-bp.h>

#include "internal.h"

int pr_ready;

static void warn_stderr(const char *msg)
{
	pr_write_str(2, msg);
}

/* liburcu-bp needs to know about fork so the child's registry is sane. */
static void before_fork(void)
{
	pr_profile_before_fork();
	urcu_bp_before_fork();
}

static void after_fork_parent(void)
{
	urcu_bp_after_fork_parent();
	pr_profile_after_fork(false);
}

static void after_fork_child(void)
{
	urcu_bp_after_fork_child();
	pr_dcm_after_fork_child();
	pr_hint_after_fork_child();
	pr_profile_after_fork(true);
}

static void __attribute__((constructor)) pr_init(void)
{
	pr_conf_defaults(&pr_conf);
	/* A setuid program must not take orders from its caller's env. */
	if (!getauxval(AT_SECURE))
		pr_conf_parse(getenv("PTRECLAIM_CONF"), &pr_conf, warn_stderr);
	/*
	 * Registered before anything here can start the allocator, so our
	 * prepare handler runs after the allocator's: a thread that holds an
	 * allocator lock and waits for liburcu's registry lock can then never
	 * face a forking thread holding the two the other way round.
	 */
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
	pr_profile_init();
	pr_vmpte_start();
	pr_threads_init();
	pr_probe_caps();
	pr_hint_init();
	if (pr_ledger_init(pr_conf.ledger_max) == 0)
		__atomic_store_n(&pr_ready, 1, __ATOMIC_RELEASE);
	else
		warn_stderr("ptreclaim: could not map the ledger; observing nothing\n");
	/* First: the fence and the jemalloc adapter step aside for it. */
	pr_advice_start();
	/* Calls into jemalloc, which starts it if it has not started yet. */
	pr_je_attach_at_start();
	/* Last: it may start a thread, which starts the allocator. */
	pr_fence_start();
}

static void __attribute__((destructor)) pr_fini(void)
{
	pr_fence_stop();
	pr_advice_stop();
	if (pr_conf.stats)
		pr_report(2);
}

PR_EXPORT int ptreclaim_stats_get(struct ptreclaim_stats *out, size_t size)
{
	struct ptreclaim_stats st = {
		.madvise_calls = pr_counter_sum(PRC_MADVISE),
		.dontneed_calls = pr_counter_sum(PRC_DONTNEED),
		.free_calls = pr_counter_sum(PRC_FREE),
		.remove_calls = pr_counter_sum(PRC_REMOVE),
		.munmap_calls = pr_counter_sum(PRC_MUNMAP),
		.mmap_calls = pr_counter_sum(PRC_MMAP),
		.mremap_calls = pr_counter_sum(PRC_MREMAP),
		.purged_bytes = pr_counter_sum(PRC_PURGED_BYTES),
		.pmd_aligned_purges = pr_counter_sum(PRC_PMD_ALIGNED),
		.regions_tracked = pr_ledger_tracked(),
		.regions_full = pr_ledger_full(),
		.regions_dropped = pr_counter_sum(PRC_DROPPED),
		.ledger_bound_hits = pr_counter_sum(PRC_BOUND_HITS),
		.shim_ns = pr_counter_sum(PRC_SHIM_NS),
		.vmpte_start_kb = pr_vmpte_start_kb(),
		.vmpte_peak_kb = pr_vmpte_peak_kb(),
	};

	if (!out)
		return -1;
	memcpy(out, &st, size < sizeof(st) ? size : sizeof(st));
	return 0;
}

PR_EXPORT long ptreclaim_reclaimable(void)
{
	long r;

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
	pr_report(fd);
}
