/* SPDX-License-Identifier: MIT */
/*
 * init.c - start-up, fork and exit.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/auxv.h>

#include "core.h"
#include "hint.h"
#include "jemalloc.h"
#include "strategy.h"

static void warn_stderr(const char *msg)
{
	pr_write_str(2, msg);
}

/* Around fork: nothing of the ledger (it has no lock); the profile's
 * unwinds and the child's own state. */
static void before_fork(void)
{
	pr_profile_before_fork();
}

static void after_fork_parent(void)
{
	pr_profile_after_fork(false);
}

static void after_fork_child(void)
{
	pr_dcm_after_fork_child();
	pr_hint_after_fork_child();
	pr_profile_after_fork(true);
	pr_publish_after_fork();
}

static void __attribute__((constructor)) pr_init(void)
{
	/* /etc/ptreclaim.conf, then PTRECLAIM_CONF; neither under AT_SECURE */
	pr_conf_load(warn_stderr);
	pr_report_init();
	/*
	 * Registered before anything here can start the allocator, so our
	 * prepare handler runs after the allocator's (they run in reverse
	 * order): a purge the profile unwinds holds an allocator lock, so it
	 * is over before we wait for unwinds, never the other way round.
	 */
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
	pr_profile_init();
	pr_vmpte_start();
	pr_caps_probe();
	pr_hint_init();
	if (pr_ledger_init(pr_conf.ledger_max) == 0)
		__atomic_store_n(&pr_ready, 1, __ATOMIC_RELEASE);
	else
		warn_stderr("ptreclaim: could not map the ledger; observing nothing\n");
	/* Last: a start may call into the allocator or create a thread,
	 * which starts the allocator. */
	pr_strategy_start();
	pr_publish();
}

static void __attribute__((destructor)) pr_fini(void)
{
	pr_strategy_stop();
	pr_report_at_exit();
}
