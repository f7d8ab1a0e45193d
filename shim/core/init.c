/* SPDX-License-Identifier: MIT */
/*
 * init.c - start-up, fork and exit.  Start-up costs nothing: the work
 * starts at the first purge (life.c).
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
	pr_life_after_fork_child();
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
	pr_life_init();
}

static void __attribute__((destructor)) pr_fini(void)
{
	pr_life_exit();
	pr_strategy_stop();
	pr_report_at_exit();
}
