/* SPDX-License-Identifier: MIT */
/*
 * life.c - when the shim starts its work, how it steps aside for calls
 * that need a single-threaded or unfiltered process, and how a child
 * created without atfork handlers is told apart.  docs/architecture.md
 * ("Lifecycle") has the reasoning; in short:
 *
 *  - The constructor costs nothing: config, atfork, which allocator
 *    provides malloc (a symbol lookup).  No thread, no probe, no /proc.
 *  - glibc malloc purges through internal calls no preload sees, so a
 *    purge that reaches our madvise in a glibc-malloc process comes from
 *    the program's own code, never from inside malloc.  There, at the
 *    first purge, the ledger is made and the bootstrap thread created.
 *  - Any other allocator purges through our madvise with its own locks
 *    held, where pthread_create (which allocates) must never run.  The
 *    bootstrap thread is created at start-up instead, the one safe point
 *    such a process is sure to pass; it makes the ledger and then sleeps
 *    until the first purge.  jemalloc is the exception: its adapter must
 *    see every decommit, so there the constructor attaches its hooks and
 *    does nothing else ("armed": no probe, no /proc, no thread); the
 *    first decommit, inside the hook, probes and chooses with raw system
 *    calls only (armed_start).  Where the choice could need the worker
 *    (the patched kernel's advice, fence:on), the constructor starts as
 *    before: a thread can't be created inside the hook.
 *  - The bootstrap thread probes, selects and starts the strategy (which
 *    may start the worker), then exits.
 *  - unshare, setns and a seccomp filter quiesce both threads first
 *    (sandbox.c): stopped and joined, so the kernel counts them no more.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core.h"
#include "hint.h"
#include "jemalloc.h"
#include "strategy.h"

enum {
	L_IDLE,		/* nothing started; glibc: waiting for a purge */
	L_ARMED,	/* jemalloc: hooks attached, waiting for a decommit */
	L_PARKED,	/* bootstrap thread waits for the first purge */
	L_STARTING,	/* bootstrap thread at work */
	L_ACTIVE,	/* strategy started (or found none) */
	L_NEVER,	/* a seccomp filter, a failure: observe only */
};

static struct {
	int state;
	uint32_t wanted;	/* futex: the first purge came */
	int quit;		/* the bootstrap thread must leave */
	bool glibc, jemalloc;
	bool boot_live;		/* a bootstrap thread to join */
	int boot_tid;		/* its kernel id (pr_thread_join) */
	pthread_t boot;
	const char *never;	/* why L_NEVER */
} L;

static int state(void)
{
	return __atomic_load_n(&L.state, __ATOMIC_ACQUIRE);
}

static void set_state(int s)
{
	__atomic_store_n(&L.state, s, __ATOMIC_RELEASE);
}

static void never(const char *why)
{
	L.never = why;
	/* Armed hooks behave as jemalloc's own from now on. */
	pr_je_inert(why);
	pr_strategy_not_started(why);
	set_state(L_NEVER);
}

/* The ledger, once: from the constructor's thread or the bootstrap. */
static void ledger_up(void)
{
	if (__atomic_load_n(&pr_ready, __ATOMIC_ACQUIRE))
		return;
	if (pr_ledger_init(pr_conf.ledger_max) == 0)
		__atomic_store_n(&pr_ready, 1, __ATOMIC_RELEASE);
	else
		pr_write_str(2, "ptreclaim: could not map the ledger; observing nothing\n");
}

/* Probe, select, start: everything that reads /proc and sysfs. */
static void activate(void)
{
	pr_vmpte_start();
	pr_caps_probe();
	pr_strategy_start();
	/* The stats page `ptreclaim stat` reads: only once started. */
	pr_publish();
	set_state(L_ACTIVE);
}

static bool spawn_boot(void);

/*
 * fork() with handlers, a child of a process whose bootstrap thread was
 * parked: the child's own, parked too.  Registered by the first bootstrap
 * thread, so after the allocator's handlers (creating that thread started
 * the allocator): this runs after the allocator's child handler has made
 * its locks usable again, and pthread_create may allocate.
 */
static void boot_child(void)
{
	if (state() == L_PARKED)
		spawn_boot();
}

static void *boot_main(void *arg)
{
	static int registered;

	(void)arg;
	pr_thread_record_tid(&L.boot_tid);
	pr_thread_name("ptreclaim-boot");
	if (!__atomic_exchange_n(&registered, 1, __ATOMIC_ACQ_REL))
		pthread_atfork(NULL, NULL, boot_child);
	ledger_up();
	while (!__atomic_load_n(&L.wanted, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&L.quit, __ATOMIC_ACQUIRE))
		pr_sys(SYS_futex, (long)&L.wanted, FUTEX_WAIT_PRIVATE, 0, 0,
		       0, 0);
	if (!__atomic_load_n(&L.wanted, __ATOMIC_ACQUIRE)) {
		/* Asked to leave before any purge: start again later. */
		__atomic_store_n(&L.state, L_IDLE, __ATOMIC_RELEASE);
		return NULL;
	}
	set_state(L_STARTING);
	activate();
	return NULL;
}

static bool spawn_boot(void)
{
	__atomic_store_n(&L.quit, 0, __ATOMIC_RELEASE);
	if (pr_thread_spawn_joinable(&L.boot, boot_main)) {
		never("could not start the bootstrap thread");
		return false;
	}
	L.boot_live = true;
	return true;
}

/* A filter that came with the process (a sandbox that exec'd us): no
 * thread, and the selection sees it (fence and advice step aside). */
static bool inherited_filter(void)
{
	return pr_seccomp_active();
}

/*
 * Could the strategy a jemalloc process chooses need the worker thread?
 * The patched kernel's advice ranks first and runs on it, and fence:on
 * runs where the adapter can't; a thread can't be created inside the
 * decommit hook (pthread_create allocates through jemalloc), so these
 * start in the constructor as before.  One faccessat of the advice's
 * sysfs file, the only call an armed start-up makes of its own: the
 * advice's presence can't be known without asking the kernel.
 */
static bool may_need_worker(void)
{
	return pr_conf.fence == PR_FENCE_ON ||
	       (pr_conf.advice &&
		pr_sys(SYS_faccessat, AT_FDCWD,
		       (long)"/sys/kernel/mm/reclaim_pt/advice", F_OK, 0, 0,
		       0) == 0);
}

/*
 * The first decommit in an armed jemalloc process, inside the hook, with
 * jemalloc's locks perhaps held: everything here is raw system calls into
 * stack buffers or mmap'ed memory, no lock of ours, no malloc, no dlsym
 * (platform/ and the ledger are written so).  One thread does it; a
 * decommit on another thread meanwhile finds the hooks undecided and
 * gets jemalloc's own behaviour (jemalloc.c), so nobody waits.
 */
static void armed_start(void)
{
	int armed = L_ARMED;

	if (!__atomic_compare_exchange_n(&L.state, &armed, L_STARTING, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	ledger_up();
	/* The report's start sample: taken now, at the first purge. */
	pr_vmpte_start();
	pr_caps_probe_no_thread();
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
	/* glibc's malloc: nothing more now (a jemalloc with prefixed names
	 * beside it is found when the shim starts, at the first purge). */
	L.glibc = pr_alloc_malloc_is_libc();
	L.jemalloc = !L.glibc && pr_alloc_detect() == PR_ALLOC_JEMALLOC;
	/* glibc's own mmaps never reach us: hinting only with scope all. */
	if (!L.glibc || pr_conf.hint_all)
		pr_hint_init();	/* reads nothing yet: see hint.c */
	else
		pr_hint_idle_because("malloc is glibc's, whose mappings no preload sees (hint_scope:all hints the program's own)");
	if (L.glibc)
		return;
	pr_lifemark_arm();
	/* jemalloc: the adapter must see every decommit, from the first. */
	if (L.jemalloc && pr_conf.jemalloc && !may_need_worker() &&
	    pr_je_arm(adapter_decommit) == 0) {
		set_state(L_ARMED);
		return;
	}
	/* Else, jemalloc or under a filter (no thread may start): start
	 * here, as the constructor always did (a thread only for a worker
	 * strategy). */
	if (L.jemalloc || inherited_filter()) {
		ledger_up();
		activate();
		return;
	}
	set_state(L_PARKED);
	spawn_boot();
}

/* glibc: the program's own purge, outside the shim's inside section and
 * outside any lock of glibc's malloc (which never calls us). */
static void first_glibc_purge(void)
{
	int idle = L_IDLE;

	if (!__atomic_compare_exchange_n(&L.state, &idle, L_STARTING, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	if (inherited_filter()) {
		never("a seccomp filter was in place at the first purge");
		return;
	}
	pr_lifemark_arm();
	ledger_up();
	__atomic_store_n(&L.wanted, 1, __ATOMIC_RELEASE);
	spawn_boot();
}

void pr_life_purge(void)
{
	int s = state();

	if (s == L_ACTIVE || s == L_NEVER || s == L_STARTING)
		return;
	if (L.glibc) {
		first_glibc_purge();
		return;
	}
	/* One futex wake, once per process. */
	if (s == L_PARKED && !__atomic_exchange_n(&L.wanted, 1, __ATOMIC_ACQ_REL))
		pr_sys(SYS_futex, (long)&L.wanted, FUTEX_WAKE_PRIVATE, 1, 0,
		       0, 0);
}

/* Wait for the bootstrap thread to finish what it does (bounded). */
static void join_boot(void)
{
	if (!L.boot_live)
		return;
	__atomic_store_n(&L.quit, 1, __ATOMIC_RELEASE);
	pr_sys(SYS_futex, (long)&L.wanted, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
	pr_thread_join(L.boot, &L.boot_tid);
	L.boot_live = false;
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
	if (s == L_ACTIVE || s == L_NEVER)
		return;
	if (L.glibc && s == L_IDLE)
		first_glibc_purge();
	else if (s == L_ARMED)
		armed_start();
	else
		pr_life_purge();
	for (int i = 0; i < 10000 && state() != L_ACTIVE &&
	     state() != L_NEVER && L.boot_live; i++)
		pr_sleep_ns(1000000);
}

/*
 * Before unshare, setns, a seccomp filter: no thread of ours may remain.
 * Returns what must be started again afterwards (resume).
 */
int pr_life_quiesce(void)
{
	int was = state();

	/* A parked thread leaves at once; an activation under way (it is
	 * short) finishes, and what it started is stopped below. */
	join_boot();
	if (pr_worker_quiesce())
		return 2;
	return was == L_PARKED && state() == L_IDLE;
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
	else if (token == 1 && state() == L_IDLE) {
		set_state(L_PARKED);
		spawn_boot();
	}
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

	L.boot_live = false;
	if (s == L_PARKED || s == L_STARTING || s == L_IDLE)
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

/* fork() with handlers: the child has neither thread (a parked one is
 * started again by boot_child, later in the child's handlers). */
void pr_life_after_fork_child(void)
{
	pr_lifemark_rearm();
	L.boot_live = false;
	if (state() == L_STARTING)
		never("forked while the shim was starting");
}

/* At exit: an activation under way finishes first, so the report and
 * the stop see one state. */
void pr_life_exit(void)
{
	pr_life_check_child();
	/* A parked thread leaves (no start during the destructors). */
	if (state() == L_STARTING || state() == L_PARKED)
		join_boot();
	/* The report names what this kernel can do even where nothing
	 * started (its /proc reads are the report's, at exit). */
	if (pr_conf.stats && state() != L_ACTIVE && state() != L_NEVER) {
		pr_caps_probe();
		pr_strategy_probe_only();
	}
}
