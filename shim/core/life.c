/* SPDX-License-Identifier: MIT */
/*
 * life.c - when the shim starts its work, how it steps aside for calls
 * that need a single-threaded or unfiltered process, and how a child
 * created without atfork handlers is told apart.  docs/architecture.md
 * ("Lifecycle") has the reasoning; in short:
 *
 *  - The constructor costs nothing: config, atfork, which allocator
 *    provides malloc (a symbol lookup).  No thread, no probe, no /proc.
 *  - A thread is made only where a strategy that runs on one could act:
 *    the patched kernel's advice (its sysfs file exists) or fence:on.
 *    Anywhere else (a stock kernel, the default configuration) the
 *    ledger observes and no thread is ever made.
 *  - glibc malloc purges through internal calls no preload sees, so a
 *    purge that reaches our madvise in a glibc-malloc process comes from
 *    the program's own code, never from inside malloc: there the first
 *    purge decides, and creates the bootstrap thread if it is wanted.
 *  - Any other allocator purges through our madvise with its own locks
 *    held, where pthread_create (which allocates) must never run.  The
 *    first purge only makes the ledger and asks for a start ("wanted");
 *    the start happens at the next safe point (safe_point.c): a blocking
 *    call (poll, epoll_wait, select, nanosleep, ...) that no allocator
 *    makes, so the calling thread holds none of its locks.
 *  - jemalloc: the adapter must see every decommit, so the constructor
 *    attaches its hooks and does nothing else ("armed").  The first
 *    decommit, inside the hook, probes and chooses with raw system calls
 *    only (armed_start); if the choice needs the worker (the advice),
 *    the hooks become jemalloc's own and the start waits for a safe
 *    point as above.
 *  - The bootstrap thread probes, selects and starts the strategy (which
 *    may start the worker), then exits.
 *  - unshare, setns and a seccomp filter quiesce both threads first
 *    (sandbox.c): stopped and joined, so the kernel counts them no more.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "core.h"
#include "hint.h"
#include "jemalloc.h"
#include "strategy.h"

enum {
	L_EARLY,	/* before the constructor: an allocator's start-up */
	L_IDLE,		/* nothing started: no purge yet */
	L_ARMED,	/* jemalloc: hooks attached, waiting for a decommit */
	L_WANTED,	/* a purge came inside an allocator: start at the
			 * next safe point */
	L_STARTING,	/* bootstrap thread (or an armed start) at work */
	L_ACTIVE,	/* strategy started (or found none) */
	L_OBSERVE,	/* nothing here could run a strategy: ledger only */
	L_NEVER,	/* a seccomp filter, a failure: observe only */
};

static struct {
	int state;
	bool glibc;
	int boot_live;		/* a bootstrap thread: 1 to join, 2 being
				 * joined, 0 none */
	int boot_tid;		/* its kernel id (pr_thread_join) */
	pthread_t boot;
	const char *never;	/* why L_NEVER */
} L;

static const char waiting[] = "not started: a purge came inside the allocator, and the start waits for a safe point (a blocking call such as poll, epoll_wait, select or nanosleep) that has not come";

static int state(void)
{
	return __atomic_load_n(&L.state, __ATOMIC_ACQUIRE);
}

static void set_state(int s)
{
	__atomic_store_n(&L.state, s, __ATOMIC_RELEASE);
}

static bool cas_state(int from, int to)
{
	return __atomic_compare_exchange_n(&L.state, &from, to, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static void never(const char *why)
{
	L.never = why;
	/* Armed hooks behave as jemalloc's own from now on. */
	pr_je_inert(why);
	pr_strategy_not_started(why);
	set_state(L_NEVER);
}

/* The ledger, once: one mmap, from the first purge or the bootstrap. */
static void ledger_up(void)
{
	if (__atomic_load_n(&pr_ready, __ATOMIC_ACQUIRE))
		return;
	if (pr_ledger_init(pr_conf.ledger_max) == 0)
		__atomic_store_n(&pr_ready, 1, __ATOMIC_RELEASE);
	else
		pr_write_str(2, "ptreclaim: could not map the ledger; observing nothing\n");
}

/* The kernel's caps (all, or what a start without a thread needs), and
 * the ledger's whole purges settled by them (ledger.c). */
static void probe(bool full)
{
	if (full)
		pr_caps_probe();
	else
		pr_caps_probe_no_thread();
	pr_ledger_caps_known();
}

/* Probe, select, start: everything that reads /proc and sysfs. */
static void activate(void)
{
	pr_vmpte_start();
	probe(true);
	pr_strategy_start();
	/* The stats page `ptreclaim stat` reads: only once started. */
	pr_publish();
	set_state(L_ACTIVE);
}

static void *boot_main(void *arg)
{
	(void)arg;
	pr_thread_record_tid(&L.boot_tid);
	pr_thread_name("ptreclaim-boot");
	ledger_up();
	activate();
	return NULL;
}

static void spawn_boot(void)
{
	if (pr_thread_spawn_joinable(&L.boot, boot_main)) {
		never("could not start the bootstrap thread");
		return;
	}
	__atomic_store_n(&L.boot_live, 1, __ATOMIC_RELEASE);
}

/* A filter that came with the process (a sandbox that exec'd us): no
 * thread, and the selection sees it (fence and advice step aside). */
static bool inherited_filter(void)
{
	return pr_seccomp_active();
}

/*
 * Could a strategy that runs on the worker act here?  fence:on, or the
 * patched kernel's advice (one faccessat of its sysfs file: its presence
 * can't be known without asking the kernel).  If not, no thread is made:
 * the jemalloc adapter needs none, and observing needs none.
 */
static bool worker_may_run(void)
{
	return pr_conf.fence == PR_FENCE_ON ||
	       (pr_conf.advice &&
		pr_sys(SYS_faccessat, AT_FDCWD,
		       (long)"/sys/kernel/mm/reclaim_pt/advice", F_OK, 0, 0,
		       0) == 0);
}

/* Nothing here can reclaim: the ledger observes, the report (if asked
 * for) probes at exit and says why each strategy could not run. */
static void observe_only(void)
{
	pr_strategy_not_started("not started: no strategy that this process could run needs starting (no MADV_RECLAIM_PT in this kernel, fence not on)");
	if (pr_conf.stats)
		pr_vmpte_start();
	set_state(L_OBSERVE);
}

/*
 * Outside any allocator lock, in STARTING: a thread, or none at all.
 * glibc's malloc with a jemalloc beside it (prefixed names): the adapter
 * needs no worker, but its start reads /proc, off the purge path.  The
 * seccomp mode is asked last, only where a thread is wanted: a filter
 * installed with a raw system call (a browser's sandbox) may kill for
 * prctl, and where nothing would start no call of ours should meet it.
 */
static void start_here(void)
{
	if (!worker_may_run() &&
	    !(L.glibc && pr_conf.jemalloc && pr_je_present())) {
		observe_only();
		return;
	}
	if (inherited_filter()) {
		never("a seccomp filter was in place at the start");
		return;
	}
	spawn_boot();
}

/*
 * The first purge in a process whose allocator is not glibc's and whose
 * adapter is not armed: inside the allocator, perhaps with its locks
 * held.  The ledger (one mmap) and the lifemark, nothing else: the start
 * waits for a safe point.
 */
static void first_purge_inside(void)
{
	if (!cas_state(L_IDLE, L_STARTING))
		return;
	pr_lifemark_arm();
	ledger_up();
	pr_strategy_not_started(waiting);
	set_state(L_WANTED);
}

/* Is this thread running a signal handler on its alternate stack (a
 * crash handler, perhaps interrupting the allocator)?  Then not here. */
static bool on_signal_stack(void)
{
	stack_t ss;

	return pr_sys(SYS_sigaltstack, 0, (long)&ss, 0, 0, 0, 0) == 0 &&
	       (ss.ss_flags & SS_ONSTACK);
}

/*
 * safe_point.c calls this from blocking calls no allocator makes, before
 * the call: this thread holds no allocator lock.  One load when nothing
 * is wanted; errno is the caller's again on return.
 */
void pr_life_safe_point(void)
{
	int err;

	if (__builtin_expect(state() != L_WANTED, 1))
		return;
	err = errno;
	pr_life_check_child();
	if (!on_signal_stack() && cas_state(L_WANTED, L_STARTING))
		start_here();
	errno = err;
}

/*
 * The first decommit in an armed jemalloc process, inside the hook, with
 * jemalloc's locks perhaps held: everything here is raw system calls into
 * stack buffers or mmap'ed memory, no lock of ours, no malloc, no dlsym
 * (platform/ and the ledger are written so).  One thread does it; a
 * decommit on another thread meanwhile finds the hooks undecided and
 * gets jemalloc's own behaviour (jemalloc.c), so nobody waits.  If the
 * best strategy here runs on the worker (the kernel's advice), the hooks
 * become jemalloc's own and the start waits for a safe point.
 */
static void armed_start(void)
{
	enum pr_strategy_id best;

	if (!cas_state(L_ARMED, L_STARTING))
		return;
	ledger_up();
	/* The report's start sample: taken now, at the first purge. */
	pr_vmpte_start();
	probe(false);
	best = pr_strategy_select(&pr_caps, &pr_conf, PR_ALLOC_JEMALLOC,
				  PR_STRAT_ADVICE, NULL);
	if (pr_strategy_uses_worker(best)) {
		pr_je_inert("the kernel's advice was chosen: it runs on the worker, started at a safe point");
		pr_strategy_not_started(waiting);
		set_state(L_WANTED);
		return;
	}
	pr_strategy_start_no_thread(PR_ALLOC_JEMALLOC);
	if (pr_strategy_running() != PR_STRAT_JEMALLOC)
		pr_je_inert("another strategy was chosen at the first decommit");
	pr_publish();
	set_state(L_ACTIVE);
}

/* jemalloc.c calls this at every decommit while armed. */
static void adapter_decommit(void)
{
	if (state() == L_ARMED)
		armed_start();
}

void pr_life_init(void)
{
	bool jemalloc;

	/* glibc's malloc: nothing more now (a jemalloc with prefixed names
	 * beside it is found when the shim starts, at the first purge). */
	L.glibc = pr_alloc_malloc_is_libc();
	jemalloc = !L.glibc && pr_alloc_detect() == PR_ALLOC_JEMALLOC;
	/* glibc's own mmaps never reach us: hinting only with scope all. */
	if (!L.glibc || pr_conf.hint_all)
		pr_hint_init();	/* reads nothing yet: see hint.c */
	else
		pr_hint_idle_because("malloc is glibc's, whose mappings no preload sees (hint_scope:all hints the program's own)");
	/* jemalloc: the adapter must see every decommit, from the first,
	 * and a child made without handlers must be told apart from it. */
	if (jemalloc && pr_conf.jemalloc) {
		pr_lifemark_arm();
		if (pr_je_arm(adapter_decommit) == 0) {
			set_state(L_ARMED);
			return;
		}
	}
	/* Purges before this (the allocator's own start-up) were ignored. */
	set_state(L_IDLE);
}

/* glibc: the program's own purge, outside the shim's inside section and
 * outside any lock of glibc's malloc (which never calls us): a safe
 * point itself. */
static void first_glibc_purge(void)
{
	if (!cas_state(L_IDLE, L_STARTING))
		return;
	pr_lifemark_arm();
	ledger_up();
	start_here();
}

void pr_life_purge(void)
{
	if (__builtin_expect(state() != L_IDLE, 1))
		return;
	if (L.glibc)
		first_glibc_purge();
	else
		first_purge_inside();
}

/* Wait for the bootstrap thread to finish what it does and leave: one
 * caller joins, any other waits for that join. */
static void join_boot(void)
{
	int live = 1;

	if (__atomic_compare_exchange_n(&L.boot_live, &live, 2, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		pr_thread_join(L.boot, &L.boot_tid);
		__atomic_store_n(&L.boot_live, 0, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&L.boot_live, __ATOMIC_ACQUIRE) == 2)
		pr_sleep_ns(100000);
}

/*
 * The program's API wants the strategy now (a safe point: program code,
 * outside the allocator): start it as a purge would, and wait.
 */
void pr_life_settle(void)
{
	int s;

	pr_life_check_child();
	s = state();
	if (s == L_IDLE)
		L.glibc ? first_glibc_purge() : first_purge_inside();
	else if (s == L_ARMED)
		armed_start();
	pr_life_safe_point();
	/* A bootstrap thread: joined, so the caller sees the threads that
	 * stay (an armed start on another thread: polled). */
	join_boot();
	for (int i = 0; i < 10000 && state() == L_STARTING; i++)
		pr_sleep_ns(1000000);
	/* Observing, and the program asks what the ledger holds: the
	 * kernel's part decides which whole purges count (ledger.c).  Not
	 * in L_NEVER: a seccomp filter may be why. */
	if (state() == L_OBSERVE &&
	    !__atomic_load_n(&pr_caps.probed, __ATOMIC_ACQUIRE))
		probe(false);
}

/*
 * Before unshare, setns, a seccomp filter: no thread of ours may remain.
 * Returns what must be started again afterwards (resume).
 */
int pr_life_quiesce(void)
{
	/* An activation under way (it is short) finishes, and what it
	 * started is stopped below. */
	join_boot();
	return pr_worker_quiesce() ? 2 : 0;
}

/* After the call: what was running runs again, unless filtered. */
void pr_life_resume(int token, bool filtered)
{
	if (filtered) {
		pr_hint_filtered();
		pr_worker_quit("a seccomp filter was installed: the worker stopped");
		if (state() != L_ACTIVE)
			never("a seccomp filter was installed");
		return;
	}
	if (token == 2)
		pr_worker_resume();
}

/*
 * A child made without atfork handlers (_Fork, raw clone): only the
 * calling thread exists, and whatever the parent's threads held is held
 * forever.  Reset without locks; no thread is started here (this may be
 * the purge path), so the child observes.
 */
static void reset_child(void)
{
	int s = state();

	__atomic_store_n(&L.boot_live, 0, __ATOMIC_RELAXED);
	if (s == L_STARTING || s == L_IDLE || s == L_WANTED)
		never("a child made without fork handlers during start-up");
	pr_worker_forget("a child made without fork handlers: no worker here");
	pr_hint_after_fork_child();
	pr_dcm_after_fork_child();
	pr_lifemark_rearm();
}

void pr_life_check_child(void)
{
	if (__builtin_expect(pr_lifemark_check(), 0))
		reset_child();
}

/* fork() with handlers: the child has no thread of ours.  A start that
 * was wanted is still wanted (the child's next safe point). */
void pr_life_after_fork_child(void)
{
	pr_lifemark_rearm();
	__atomic_store_n(&L.boot_live, 0, __ATOMIC_RELAXED);
	if (state() == L_STARTING)
		never("forked while the shim was starting");
}

/* At exit: an activation under way finishes first, so the report and
 * the stop see one state. */
void pr_life_exit(void)
{
	int s;

	pr_life_check_child();
	join_boot();
	/* The report names what this kernel can do even where nothing
	 * started (its /proc reads are the report's, at exit). */
	s = state();
	if (pr_conf.stats && s != L_ACTIVE && s != L_NEVER) {
		probe(true);
		pr_strategy_probe_only();
	}
}
