/* SPDX-License-Identifier: MIT */
/*
 * init.c - start-up, fork and exit.  Start-up costs nothing: the work
 * starts at the first purge (life.c).
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <urcu/urcu-bp.h>

#include "core.h"
#include "hint.h"
#include "jemalloc.h"
#include "strategy.h"

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
	pr_life_after_fork_child();
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
	pr_life_init();
}

static void __attribute__((destructor)) pr_fini(void)
{
	pr_life_exit();
	pr_strategy_stop();
	if (pr_conf.stats)
		pr_report(2);
}
