/* SPDX-License-Identifier: MIT */
/*
 * worker.c - the one background thread of the reclaim strategies that
 * need one (advice, fence).  It owns everything they share:
 *
 *   - waking: a completed region kicks it (one eventfd write from the
 *     purge path at most), a region coming due, purges going quiet, a
 *     lazily freed region to look at again (with backoff), a flush;
 *   - a pass: collect the ledger's candidate regions unchanged for
 *     delay_ms, sort them, read each one's pagemap (regions mapping
 *     anything are left alone and the ledger corrected), and hand runs of
 *     adjacent empty regions to the strategy, rate-limited;
 *   - fork (the child gets a fresh thread and descriptors), exit, a seccomp
 *     filter installed later (the worker stops for good: its calls could
 *     kill the process), CPU accounting, ledger maintenance.
 *
 * Never from inside an allocator's call: the thread is created by the
 * shim's bootstrap thread (core/life.c), in a fork child's atfork handler,
 * or after unshare/setns, because pthread_create allocates through the
 * program's malloc and allocators purge with their locks held.  It is
 * joinable: before unshare, setns or a seccomp filter it is stopped and
 * joined (pr_worker_quiesce), so the kernel counts it no more.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

#include "core.h"
#include "strategy.h"

#define COLLECT_MAX	65536		/* regions looked at per pass */
#define GAP_NS		10000000ULL	/* between passes */
#define RETRY_MIN_MS	100		/* lazy regions: first retry */
#define RETRY_MAX_MS	2000		/* lazy regions: backoff cap */
#define IDLE_MS		300		/* purges this quiet: scan everything */
#define SETTLE_NS	1000000ULL	/* no delay: let a burst of purges end */
#define MAINTAIN_NS	1000000000ULL	/* ledger recycling */
#define LOOK_NS		1000000000ULL	/* a seccomp filter is seen this soon */

static struct {
	const struct pr_worker_ops *ops;
	int live;			/* thread running */
	bool joinable;			/* thread to join */
	int tid;			/* its kernel id (pr_thread_join) */
	pthread_t thread;
	int stopping, sleeping, kicked, dirty;
	long kick, pm;
	pthread_mutex_t work;		/* held for ledger work and runs */
	uint64_t flush_req, flush_done;
	uint64_t next_run_ns;		/* rate limit */
	uint64_t due_ns;		/* completed regions come due (0: none) */
	unsigned retry_ms;		/* current lazy backoff */
	uint64_t *bases;		/* (base | flags, changed) pairs */
	struct pr_run *run;
} wk = { .kick = -1, .pm = -1, .work = PTHREAD_MUTEX_INITIALIZER,
	.retry_ms = RETRY_MIN_MS };

static struct pr_worker_stats wstats;
static const char *quit_why;

#define ADD(field, n) __atomic_fetch_add(&wstats.field, (n), __ATOMIC_RELAXED)

static bool lock_work(void)
{
	pthread_mutex_lock(&wk.work);
	if (__atomic_load_n(&wk.stopping, __ATOMIC_RELAXED)) {
		pthread_mutex_unlock(&wk.work);
		return false;
	}
	return true;
}

int pr_worker_region_in_use(uintptr_t base, uint64_t inuse[8])
{
	return pr_pagemap_region(wk.pm, base, inuse);
}

bool pr_worker_pagemap(uintptr_t base, uint64_t *pm, size_t npages)
{
	return pr_pagemap_read(wk.pm, base, pm, npages);
}

/* A lazily freed region, for a strategy that discards such pages. */
static bool lazy_run(unsigned flags)
{
	return wk.ops->takes_lazy && (flags & PR_LEDGER_LAZY);
}

/*
 * A region maps pages.  Lazily freed ones may still go by themselves (it
 * waits and is retried), unless the strategy discards them itself: then
 * these are pages never purged (only_purged()), in use; anything else
 * only goes with a purge, so the ledger forgets those pages and parks the
 * region until then.  With the work lock held.
 */
static void mapped(uintptr_t base, unsigned flags, uint64_t changed,
		   const uint64_t *inuse)
{
	if ((flags & PR_LEDGER_LAZY) && !wk.ops->takes_lazy) {
		if (flags & PR_LEDGER_FULL)
			ADD(waiting, 1);
		return;
	}
	if (flags & PR_LEDGER_FULL)
		ADD(not_empty, 1);
	pr_ledger_park(base, changed, inuse);
}

/* ---- runs ---- */

static void rate_limit(void)
{
	uint64_t now = pr_now_ns();
	uint64_t gap = 1000000000ULL / (wk.ops->rate ? wk.ops->rate : 1);

	if (wk.next_run_ns > now)
		pr_sleep_ns(wk.next_run_ns - now);
	now = pr_now_ns();
	wk.next_run_ns = (wk.next_run_ns > now ? wk.next_run_ns : now) + gap;
}

/* Hand the run to the strategy, then settle what it found.  Returns false
 * when told to stop. */
static bool run_flush(struct pr_run *rn)
{
	if (!rn->n)
		return true;
	/* Not under the work lock: fork waits for that. */
	rate_limit();
	if (!lock_work())
		return false;
	memset(rn->out, PR_OUT_LEFT, rn->n);
	wk.ops->run(rn);
	for (unsigned k = 0; k < rn->n; k++)
		if (rn->out[k] == PR_OUT_MAPPED)
			mapped(rn->lo + (uintptr_t)k * PR_PMD_SIZE,
			       rn->flags[k], rn->changed[k], rn->inuse[k]);
	pthread_mutex_unlock(&wk.work);
	rn->n = 0;
	return true;
}

static bool run_add(struct pr_run *rn, uintptr_t base, unsigned flags,
		    uint64_t changed)
{
	bool lazy = lazy_run(flags);

	/* One advice per run: lazily freed regions go apart. */
	if (rn->n && (base != rn->lo + (uintptr_t)rn->n * PR_PMD_SIZE ||
		      rn->n >= wk.ops->batch || rn->lazy != lazy) &&
	    !run_flush(rn))
		return false;
	if (!rn->n) {
		rn->lo = base;
		rn->lazy = lazy;
	}
	rn->flags[rn->n] = (uint8_t)flags;
	rn->changed[rn->n++] = changed;
	return true;
}

/* ---- a pass over the ledger ---- */

/*
 * What a pass looks at: regions unchanged for delay_ms (memory just
 * purged is what an allocator reuses first: freeing its table would only
 * make the next fault allocate it again); of those, only completed ones
 * while the program is still purging, unless the strategy scans partial
 * regions; every region with purged pages once purges have gone quiet
 * (pages never touched are never purged, so a region can be empty without
 * being complete).
 */
struct collect {
	size_t n;
	bool more, all;
	uint64_t now, delay_ns;
	uint64_t next_ns;	/* when the youngest skipped region is due */
};

static void collect_one(uintptr_t base, unsigned flags, uint64_t changed,
			uint64_t inuse[8], void *arg)
{
	struct collect *c = arg;

	(void)inuse;
	if (!c->all && !(flags & PR_LEDGER_FULL))
		return;
	if (wk.ops->wants && !wk.ops->wants(base))
		return;
	if (changed + c->delay_ns > c->now) {
		if (!c->next_ns || changed + c->delay_ns < c->next_ns)
			c->next_ns = changed + c->delay_ns;
		return;
	}
	if (c->n >= COLLECT_MAX) {
		c->more = true;
		return;
	}
	/* Bases are 2 MiB aligned: the low bits carry the flags. */
	wk.bases[2 * c->n] = base | (flags & (PR_LEDGER_LAZY | PR_LEDGER_FULL));
	wk.bases[2 * c->n + 1] = changed;
	c->n++;
}

/* Heap sort of (key, value) pairs by key: no malloc, no recursion, and no
 * quadratic case however the ledger's pool is ordered. */
static void swap_pair(uint64_t *a, size_t i, size_t j)
{
	uint64_t k = a[2 * i], v = a[2 * i + 1];

	a[2 * i] = a[2 * j];
	a[2 * i + 1] = a[2 * j + 1];
	a[2 * j] = k;
	a[2 * j + 1] = v;
}

static void sift(uint64_t *a, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			return;
		if (c + 1 < n && a[2 * (c + 1)] > a[2 * c])
			c++;
		if (a[2 * i] >= a[2 * c])
			return;
		swap_pair(a, i, c);
		i = c;
	}
}

static void sort_pairs(uint64_t *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift(a, i, n);
	for (size_t e = n; e > 1; e--) {
		swap_pair(a, 0, e - 1);
		sift(a, 0, e - 1);
	}
}

/*
 * A lazily freed region that maps pages: its table can go only if every
 * mapped page is one the ledger holds as purged (the kernel then checks
 * that each is still clean and lazily freed).  If not, inuse keeps only
 * the pages never purged: those are in use; the purged ones stay in the
 * ledger, for when the rest is purged too.
 */
static bool only_purged(uintptr_t base, uint64_t inuse[PR_BITMAP_WORDS])
{
	uint64_t purged[PR_BITMAP_WORDS], stray = 0;

	if (!pr_ledger_purged_map(base, purged))
		return false;
	for (int w = 0; w < PR_BITMAP_WORDS; w++)
		stray |= inuse[w] & ~purged[w];
	if (!stray)
		return true;
	for (int w = 0; w < PR_BITMAP_WORDS; w++)
		inuse[w] &= ~purged[w];
	return false;
}

/* Look at one collected region: empty ones (and, for a strategy that
 * takes them, lazily freed ones) join the run, the others are settled at
 * once.  Returns false when told to stop. */
static bool consider(struct pr_run *rn, size_t i, bool retry)
{
	uintptr_t base = (uintptr_t)(wk.bases[2 * i] & ~(PR_PMD_SIZE - 1));
	unsigned flags = (unsigned)(wk.bases[2 * i] & (PR_PMD_SIZE - 1));
	uint64_t changed = wk.bases[2 * i + 1];
	uint64_t inuse[PR_BITMAP_WORDS];
	int n;

	if (retry && (flags & PR_LEDGER_LAZY))
		ADD(lazy_retries, 1);
	/* An event the strategy must read (a raw unmap) may be waiting. */
	if (wk.ops->on_wake && i % 256 == 255)
		wk.ops->on_wake();
	n = pr_worker_region_in_use(base, inuse);
	if (n < 0)
		return true;
	if (n == 0 || (lazy_run(flags) && only_purged(base, inuse)))
		return run_add(rn, base, flags, changed);
	if (!lock_work())
		return false;
	mapped(base, flags, changed, inuse);
	pthread_mutex_unlock(&wk.work);
	return true;
}

/* all: every region with purged pages; now: no delay.  Returns false when
 * told to stop. */
static bool pass(bool all, bool now, bool retry)
{
	struct collect c = { .all = all || wk.ops->scan_partial,
			     .now = pr_now_ns(),
			     .delay_ns = now ? 0 : wk.ops->delay_ms * 1000000ULL };
	long vm0, vm1;

	if (!lock_work())
		return false;
	pr_ledger_for_each_live_ex(collect_one, &c);
	pthread_mutex_unlock(&wk.work);
	wk.due_ns = c.next_ns;
	sort_pairs(wk.bases, c.n);
	vm0 = pr_vmpte_kb();
	__atomic_store_n(&wstats.waiting, 0, __ATOMIC_RELAXED);
	wk.run->n = 0;
	for (size_t i = 0; i < c.n; i++)
		if (!consider(wk.run, i, retry))
			return false;
	if (!run_flush(wk.run))
		return false;
	vm1 = pr_vmpte_kb();
	/* The report's peak is the highest the worker saw. */
	pr_vmpte_note(vm0);
	if (vm0 > vm1 && vm1 >= 0)
		ADD(vmpte_freed_kb, (uint64_t)(vm0 - vm1));
	ADD(passes, 1);
	if (c.more)
		__atomic_store_n(&wk.dirty, 1, __ATOMIC_RELAXED);
	return true;
}

/* ---- when to work ---- */

static uint64_t purges(void)
{
	return pr_counter_sum(PRC_DONTNEED) + pr_counter_sum(PRC_FREE);
}

/* The thread's view of the program's purges. */
struct watch {
	uint64_t scanned;	/* purge count at the last full scan */
	uint64_t seen;		/* purge count last seen */
	uint64_t seen_ns;	/* when it was first seen */
};

/* Purges must have stopped this long before a full scan: then every
 * region is older than the delay too. */
static uint64_t quiet_ns(void)
{
	uint64_t d = wk.ops->delay_ms * 1000000ULL;

	return d > IDLE_MS * 1000000ULL ? d : IDLE_MS * 1000000ULL;
}

static bool flush_pending(void)
{
	return __atomic_load_n(&wk.flush_req, __ATOMIC_SEQ_CST) >
	       __atomic_load_n(&wk.flush_done, __ATOMIC_SEQ_CST);
}

/* How long to sleep: until completed regions come due, waiting lazy
 * regions are retried, or purges may have gone quiet; a second at most,
 * to notice a seccomp filter the program installed meanwhile. */
static uint64_t sleep_for(const struct watch *w, uint64_t now)
{
	uint64_t t = LOOK_NS, q;

	if (wk.due_ns)
		t = wk.due_ns > now ? wk.due_ns - now : 0;
	if (__atomic_load_n(&wstats.waiting, __ATOMIC_RELAXED) &&
	    wk.retry_ms * 1000000ULL < t)
		t = wk.retry_ms * 1000000ULL;
	if (purges() != w->scanned) {
		q = w->seen_ns + quiet_ns();
		q = q > now ? q - now : 0;
		if (q < t)
			t = q;
	}
	if (__atomic_load_n(&wk.dirty, __ATOMIC_SEQ_CST) || flush_pending())
		t = 0;
	return t;
}

/* Sleep until there is work; true if a completed region kicked us. */
static bool wait_for_work(const struct watch *w)
{
	struct pollfd p[2] = { { .fd = (int)wk.kick, .events = POLLIN },
			       { .fd = -1, .events = POLLIN } };
	uint64_t t, v;
	struct timespec ts;
	long r;

	if (wk.ops->wake_fd)
		p[1].fd = (int)wk.ops->wake_fd();
	__atomic_store_n(&wk.sleeping, 1, __ATOMIC_SEQ_CST);
	t = sleep_for(w, pr_now_ns());
	ts.tv_sec = (time_t)(t / 1000000000ULL);
	ts.tv_nsec = (long)(t % 1000000000ULL);
	r = pr_sys(SYS_ppoll, (long)p, 2, (long)&ts, 0, 8, 0);
	__atomic_store_n(&wk.sleeping, 0, __ATOMIC_SEQ_CST);
	if (r > 0 && (p[1].revents & POLLIN))
		wk.ops->on_wake();
	if (r > 0 && (p[0].revents & POLLIN)) {
		pr_sys(SYS_read, wk.kick, (long)&v, 8, 0, 0, 0);
		__atomic_store_n(&wk.kicked, 0, __ATOMIC_SEQ_CST);
	}
	return __atomic_exchange_n(&wk.dirty, 0, __ATOMIC_SEQ_CST);
}

/* One wake-up's work.  Returns false when told to stop. */
static bool step(struct watch *w, bool kicked)
{
	uint64_t now = pr_now_ns(), n = purges();
	uint64_t req = __atomic_load_n(&wk.flush_req, __ATOMIC_SEQ_CST);
	bool waiting = __atomic_load_n(&wstats.waiting, __ATOMIC_RELAXED);
	bool quiet, due, flush = flush_pending();

	if (n != w->seen) {
		w->seen = n;
		w->seen_ns = now;
	}
	quiet = n != w->scanned && now >= w->seen_ns + quiet_ns();
	if (kicked) {
		/* New completions: lazy regions start over too. */
		wk.retry_ms = RETRY_MIN_MS;
		if (!wk.due_ns)
			wk.due_ns = now + (wk.ops->delay_ms ?
					  wk.ops->delay_ms * 1000000ULL : SETTLE_NS);
	} else if (waiting && wk.retry_ms < RETRY_MAX_MS) {
		wk.retry_ms *= 2;
	}
	due = wk.due_ns && wk.due_ns <= now;
	if (!flush && !due && !quiet && !(waiting && !kicked))
		return true;
	if (quiet)
		w->scanned = n;
	if (!pass(quiet || flush, flush, waiting && !kicked))
		return false;
	wstats.cpu_ns = pr_thread_cpu_ns();
	__atomic_store_n(&wk.flush_done, req, __ATOMIC_SEQ_CST);
	return true;
}

/* A sandbox that installs a seccomp filter later (applied to every
 * thread) may kill the process for a call of ours: stop for good. */
static bool filtered(void)
{
	if (!pr_seccomp_active())
		return false;
	pthread_mutex_lock(&wk.work);
	__atomic_store_n(&quit_why,
			 "a seccomp filter was installed: the worker stopped",
			 __ATOMIC_RELEASE);
	__atomic_store_n(&wk.live, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&wk.work);
	return true;
}

static void *worker_main(void *arg)
{
	uint64_t last_maintain = pr_now_ns();
	struct watch w = { 0, 0, 0 };

	(void)arg;
	pr_thread_record_tid(&wk.tid);
	pr_thread_name(wk.ops->thread_name);
	for (;;) {
		bool kicked = wait_for_work(&w);

		if (__atomic_load_n(&wk.stopping, __ATOMIC_RELAXED) ||
		    filtered() || !step(&w, kicked))
			break;
		if (pr_now_ns() - last_maintain > MAINTAIN_NS && lock_work()) {
			/* Recycle idle ledger entries (a walk of them all:
			 * fine on this thread, never on the purge path). */
			pr_ledger_maintain();
			pthread_mutex_unlock(&wk.work);
			last_maintain = pr_now_ns();
		}
		pr_sleep_ns(GAP_NS);
	}
	return NULL;
}

/* ---- the purge path, the API ---- */

void pr_worker_kick(void)
{
	uint64_t one = 1;

	if (!__atomic_load_n(&wk.live, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(&wk.dirty, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&wk.sleeping, __ATOMIC_SEQ_CST) &&
	    !__atomic_exchange_n(&wk.kicked, 1, __ATOMIC_SEQ_CST))
		pr_sys(SYS_write, wk.kick, (long)&one, 8, 0, 0, 0);
}

bool pr_worker_live(void)
{
	return __atomic_load_n(&wk.live, __ATOMIC_RELAXED);
}

bool pr_worker_stopping(void)
{
	return __atomic_load_n(&wk.stopping, __ATOMIC_RELAXED);
}

int pr_worker_flush(unsigned timeout_ms)
{
	uint64_t req, deadline = pr_now_ns() + (uint64_t)timeout_ms * 1000000ULL;

	if (!pr_worker_live())
		return -ENOTSUP;
	req = __atomic_add_fetch(&wk.flush_req, 1, __ATOMIC_SEQ_CST);
	pr_worker_kick();
	while (__atomic_load_n(&wk.flush_done, __ATOMIC_SEQ_CST) < req) {
		if (pr_now_ns() > deadline || !pr_worker_live())
			return -ETIMEDOUT;
		pr_sleep_ns(200000);
	}
	return 0;
}

void pr_worker_stats(struct pr_worker_stats *out)
{
	*out = wstats;
}

const char *pr_worker_quit_reason(void)
{
	return __atomic_load_n(&quit_why, __ATOMIC_ACQUIRE);
}

/* ---- start, fork, stop ---- */

static void close_all(void)
{
	pr_close(&wk.kick);
	pr_close(&wk.pm);
	if (wk.ops->close)
		wk.ops->close();
}

/* This process's descriptors (again after fork: /proc/self/pagemap and a
 * userfaultfd belong to the process that opened them). */
static const char *open_all(void)
{
	const char *why;

	wk.kick = pr_sys(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK, 0, 0, 0, 0);
	wk.pm = pr_pagemap_open(0);
	if (wk.kick < 0 || wk.pm < 0)
		return "could not open /proc/self/pagemap or an eventfd";
	why = wk.ops->open ? wk.ops->open() : NULL;
	if (!why && pr_thread_spawn_joinable(&wk.thread, worker_main))
		why = "could not start the worker thread";
	wk.joinable = !why;
	return why;
}

static void worker_prepare(void)
{
	if (__atomic_load_n(&wk.live, __ATOMIC_RELAXED))
		pthread_mutex_lock(&wk.work);
}

static void worker_parent(void)
{
	if (__atomic_load_n(&wk.live, __ATOMIC_RELAXED))
		pthread_mutex_unlock(&wk.work);
}

/*
 * The child has no thread and the parent's descriptors.  Registered after
 * the allocator started (creating our thread started it), so this runs
 * after the allocator's own child handler and may create a thread.
 */
static void worker_child(void)
{
	const char *why;

	if (!__atomic_load_n(&wk.live, __ATOMIC_RELAXED))
		return;
	pthread_mutex_init(&wk.work, NULL);
	wk.live = wk.sleeping = wk.kicked = 0;
	wk.joinable = false;
	wk.dirty = 1;
	wk.flush_req = wk.flush_done = 0;
	wk.next_run_ns = wk.due_ns = 0;
	wk.retry_ms = RETRY_MIN_MS;
	if (wk.ops->fork_child)
		wk.ops->fork_child();
	close_all();
	wstats.forks++;
	why = open_all();
	if (why) {
		close_all();
		__atomic_store_n(&quit_why, why, __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(&wk.live, 1, __ATOMIC_RELEASE);
}

const char *pr_worker_start(const struct pr_worker_ops *ops)
{
	const char *why;

	wk.ops = ops;
	wk.bases = pr_map(COLLECT_MAX * 2 * sizeof(uint64_t));
	wk.run = pr_map(sizeof(*wk.run));
	if (!wk.bases || !wk.run)
		return "could not map the worker's buffers";
	why = open_all();
	if (why) {
		close_all();
		return why;
	}
	__atomic_store_n(&wk.live, 1, __ATOMIC_RELEASE);
	pthread_atfork(worker_prepare, worker_parent, worker_child);
	return NULL;
}

/* At exit, before the report: no more ledger walks meanwhile. */
void pr_worker_stop(void)
{
	uint64_t one = 1;

	if (!__atomic_load_n(&wk.live, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&wk.work);
	__atomic_store_n(&wk.stopping, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&wk.live, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&wk.work);
	pr_sys(SYS_write, wk.kick, (long)&one, 8, 0, 0, 0);
}

/* For the stats page (core/publish.c): read in place from outside. */
const struct pr_worker_stats *pr_worker_stats_addr(void)
{
	return &wstats;
}

const char *const *pr_worker_quit_addr(void)
{
	return &quit_why;
}

/* ---- stepping aside (core/sandbox.c) ---- */

/*
 * Stop the thread and join it: after this the kernel counts it no more
 * (unshare(CLONE_NEWUSER) checks).  True if it was running.  From program
 * code only (it waits for the thread's pass to end).
 */
bool pr_worker_quiesce(void)
{
	uint64_t one = 1;

	if (!__atomic_load_n(&wk.live, __ATOMIC_ACQUIRE) || !wk.joinable)
		return false;
	pthread_mutex_lock(&wk.work);
	__atomic_store_n(&wk.stopping, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&wk.live, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&wk.work);
	pr_sys(SYS_write, wk.kick, (long)&one, 8, 0, 0, 0);
	pr_thread_join(wk.thread, &wk.tid);
	wk.joinable = false;
	return true;
}

/* Run again after a quiesce; the descriptors stayed open. */
void pr_worker_resume(void)
{
	if (__atomic_load_n(&quit_why, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&wk.stopping, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&wk.sleeping, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&wk.kicked, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&wk.dirty, 1, __ATOMIC_SEQ_CST);
	if (pr_thread_spawn_joinable(&wk.thread, worker_main)) {
		__atomic_store_n(&quit_why, "could not restart the worker thread",
				 __ATOMIC_RELEASE);
		return;
	}
	wk.joinable = true;
	__atomic_store_n(&wk.live, 1, __ATOMIC_RELEASE);
}

/* Stopped for good (a seccomp filter): the report says why. */
void pr_worker_quit(const char *why)
{
	if (wk.ops)
		__atomic_store_n(&quit_why, why, __ATOMIC_RELEASE);
}

/*
 * A child made without atfork handlers: no thread, and the work lock and
 * the strategy's window as the parent's worker left them.  Reset without
 * taking any lock; the worker does not run in this child.
 */
void pr_worker_forget(const char *why)
{
	if (!wk.ops)
		return;
	pthread_mutex_init(&wk.work, NULL);
	__atomic_store_n(&wk.live, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&wk.stopping, 1, __ATOMIC_RELAXED);
	wk.joinable = false;
	if (wk.ops->fork_child)
		wk.ops->fork_child();
	__atomic_store_n(&quit_why, why, __ATOMIC_RELEASE);
}
