/* SPDX-License-Identifier: MIT */
/*
 * strategy.c - the strategy that runs in this process: chosen once, when
 * the shim starts (core/life.c: at the first purge, on the bootstrap
 * thread), by policy.c's selection (the same call `ptreclaim probe`
 * makes), started, and asked for its report.  If a start fails (no
 * descriptor, jemalloc refused the hooks) the selection goes on from the
 * next strategy.  The others step aside, and the report says why.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "jemalloc.h"
#include "strategy.h"

static const struct pr_strategy_ops *const ops[PR_STRAT_NR] = {
	[PR_STRAT_ADVICE] = &pr_advice_ops,
	[PR_STRAT_JEMALLOC] = &pr_jemalloc_ops,
	[PR_STRAT_FENCE] = &pr_fence_ops,
};

static struct {
	enum pr_alloc alloc;
	enum pr_strategy_id running;	/* PR_STRAT_OBSERVE: none */
	const char *failed[PR_STRAT_NR];	/* why a start failed */
	const struct pr_strategy_ops *mm;	/* the one with mm hooks */
	bool started;
	bool probed;		/* not started, but caps and alloc known */
	const char *not_started;	/* why no selection was made */
} R = { .running = PR_STRAT_OBSERVE,
	.not_started = "not started: no purge seen yet (the strategy is chosen and started at the first purge)" };

static const char *const claims[PR_STRAT_NR] = {
	[PR_STRAT_ADVICE] = "the advice strategy reclaims (kernel MADV_RECLAIM_PT)",
	[PR_STRAT_JEMALLOC] = "the jemalloc adapter reclaims (jemalloc decommits)",
	[PR_STRAT_FENCE] = "the fence reclaims",
};

/*
 * Is malloc glibc's own?  One dlsym that succeeds: a failing dlsym
 * (pr_je_present's) allocates its error message, which would start
 * glibc's malloc (a heap, 132 KiB) in a program that never calls it.
 */
bool pr_alloc_malloc_is_libc(void)
{
	const char *f = pr_object_name(dlsym(RTLD_DEFAULT, "malloc"));

	return f && strstr(f, "/libc.so");
}

/* The object that provides malloc, by its file name. */
enum pr_alloc pr_alloc_detect(void)
{
	const char *f;

	if (pr_je_present())
		return PR_ALLOC_JEMALLOC;
	f = pr_object_name(dlsym(RTLD_DEFAULT, "malloc"));
	if (!f)
		return PR_ALLOC_OTHER;
	if (strstr(f, "tcmalloc"))
		return PR_ALLOC_TCMALLOC;
	if (strstr(f, "mimalloc"))
		return PR_ALLOC_MIMALLOC;
	if (strstr(f, "/libc.so"))
		return PR_ALLOC_GLIBC;
	return PR_ALLOC_OTHER;
}

static const char *const needs_thread = "needs the worker thread, which a start inside jemalloc's decommit cannot create (pthread_create allocates through jemalloc)";

static void start_from(bool thread_ok)
{
	enum pr_strategy_id id = PR_STRAT_ADVICE;

	R.started = true;
	if (!pr_ready)
		return;
	while ((id = pr_strategy_select(&pr_caps, &pr_conf, R.alloc, id,
					 NULL)) != PR_STRAT_OBSERVE) {
		const char *why = !thread_ok && ops[id]->uses_worker ?
				  needs_thread : ops[id]->start();

		if (!why) {
			if (ops[id]->mm_begin)
				__atomic_store_n(&R.mm, ops[id], __ATOMIC_RELEASE);
			__atomic_store_n(&R.running, id, __ATOMIC_RELEASE);
			return;
		}
		R.failed[id] = why;
		id++;
	}
}

void pr_strategy_start(void)
{
	R.alloc = pr_alloc_detect();
	start_from(true);
}

/* Inside an allocator's hook: no dlsym (the allocator was named at
 * start-up) and no strategy that needs the worker thread. */
void pr_strategy_start_no_thread(enum pr_alloc a)
{
	R.alloc = a;
	start_from(false);
}

/* Not started (no purge came), but the report at exit wants to know why
 * each strategy could or could not run here: after pr_caps_probe(). */
void pr_strategy_probe_only(void)
{
	if (R.started)
		return;
	R.alloc = pr_alloc_detect();
	R.probed = true;
}

/* Nothing will be selected in this process, and why. */
void pr_strategy_not_started(const char *why)
{
	if (!R.started)
		__atomic_store_n(&R.not_started, why, __ATOMIC_RELEASE);
}

/* At exit, before the report: no more ledger walks meanwhile. */
void pr_strategy_stop(void)
{
	enum pr_strategy_id id = pr_strategy_running();

	if (id != PR_STRAT_OBSERVE && ops[id]->stop)
		ops[id]->stop();
}

/* A strategy whose worker stopped for good no longer runs. */
static bool quit(enum pr_strategy_id id)
{
	return id != PR_STRAT_OBSERVE && ops[id]->uses_worker &&
	       pr_worker_quit_reason();
}

enum pr_strategy_id pr_strategy_running(void)
{
	enum pr_strategy_id id = __atomic_load_n(&R.running, __ATOMIC_ACQUIRE);

	return quit(id) ? PR_STRAT_OBSERVE : id;
}

void pr_strategy_adopt(enum pr_strategy_id id, bool on)
{
	enum pr_strategy_id want = on ? PR_STRAT_OBSERVE : id;

	__atomic_compare_exchange_n(&R.running, &want,
				    on ? id : PR_STRAT_OBSERVE, false,
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

enum pr_strategy_state pr_strategy_get_state(enum pr_strategy_id id,
					 const char **why)
{
	enum pr_strategy_id run = pr_strategy_running();
	const char *dummy, *no;
	bool by_conf;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (id == run)
		return PR_STATE_ACTIVE;
	if (quit(R.running) && id == R.running) {
		*why = pr_worker_quit_reason();
		return PR_STATE_UNAVAILABLE;
	}
	if (!R.started) {
		no = R.probed ? pr_strategy_unavailable(id, &pr_caps, &pr_conf,
							R.alloc, &by_conf) : NULL;
		*why = no ? no : __atomic_load_n(&R.not_started, __ATOMIC_ACQUIRE);
		return no && !by_conf ? PR_STATE_UNAVAILABLE : PR_STATE_OFF;
	}
	if (!pr_ready) {
		*why = "no ledger";
		return PR_STATE_UNAVAILABLE;
	}
	no = pr_strategy_unavailable(id, &pr_caps, &pr_conf, R.alloc, &by_conf);
	if (no) {
		*why = no;
		return by_conf ? PR_STATE_OFF : PR_STATE_UNAVAILABLE;
	}
	if (R.failed[id]) {
		*why = R.failed[id];
		return PR_STATE_UNAVAILABLE;
	}
	*why = run != PR_STRAT_OBSERVE ? claims[run] : "not started";
	return PR_STATE_OFF;
}

void pr_strategy_report(int fd, enum pr_strategy_id id)
{
	const char *why;
	enum pr_strategy_state st = pr_strategy_get_state(id, &why);
	char buf[512];

	if (st == PR_STATE_ACTIVE || !ops[id]->label) {
		ops[id]->report(fd, st, why);
		return;
	}
	snprintf(buf, sizeof(buf), "ptreclaim: %s state=%s reason=\"%s\"\n",
		 ops[id]->label, st == PR_STATE_OFF ? "off" : "unavailable",
		 why);
	pr_write_str(fd, buf);
}

/* Only the fence has these; they pass through once it stopped. */
bool pr_strategy_mm_begin(uintptr_t lo, size_t len)
{
	if (!__atomic_load_n(&R.mm, __ATOMIC_ACQUIRE) || pr_busy || !len)
		return false;
	return R.mm->mm_begin(lo, lo + pr_page_up(len));
}

void pr_strategy_mm_end(bool token)
{
	if (token)
		R.mm->mm_end(token);
}

/* For the stats page (core/publish.c): read in place from outside. */
const enum pr_strategy_id *pr_strategy_running_addr(void)
{
	return &R.running;
}

bool pr_strategy_uses_worker(enum pr_strategy_id id)
{
	return id < PR_STRAT_NR && ops[id]->uses_worker;
}
