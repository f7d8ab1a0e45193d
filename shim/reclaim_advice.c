/* SPDX-License-Identifier: MIT */
/*
 * reclaim_advice.c - free the PTE tables of purged regions with the patched
 * kernel's MADV_RECLAIM_PT (kernel-patches/), for any allocator whose
 * purges the shim sees.
 *
 * The advice is non-destructive: the kernel frees a table only if all 512
 * of its entries are empty, checked under its own locks.  So the ledger
 * only has to point at likely candidates; a stale entry costs one wasted
 * call, never a byte.  A background thread:
 *
 *   1. walks the ledger for regions with purged pages and reads their
 *      /proc/self/pagemap: a region mapping anything is left alone, and
 *      the ledger corrected (parked until its next purge), except for
 *      MADV_FREE regions, whose pages stay mapped until the kernel
 *      discards them: those wait and are looked at again with backoff;
 *   2. hands each run of adjacent empty regions to the kernel in one
 *      aligned call, rate-limited;
 *   3. reads pagemap again: regions still empty lost their table (or a
 *      VMA the kernel skips keeps it, and retrying would not help); the
 *      others were refilled meanwhile and are treated as in step 1.
 *
 * The number comes from /sys/kernel/mm/reclaim_pt/advice (caps.c), never
 * guessed.  The thread is not created on the purge path: pthread_create
 * allocates (the DTV) through the program's malloc, and allocators purge
 * with their locks held.  So it is started at start-up (and in a fork
 * child) only where the strategy serves the process's allocator, and it
 * sleeps in the kernel until a purge completes a region.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>

#include "bitmap.h"
#include "internal.h"

#define ADV_COLLECT_MAX	16384		/* regions looked at per pass */
#define ADV_RUN_MAX	512		/* regions per call (1 GiB) */
#define ADV_GAP_NS	10000000ULL	/* between passes */
#define ADV_RETRY_MIN_MS 100		/* lazy regions: first retry */
#define ADV_RETRY_MAX_MS 2000		/* lazy regions: backoff cap */
#define ADV_IDLE_MS	300		/* purges this quiet: scan everything */

enum { AS_OFF, AS_ACTIVE, AS_UNAVAILABLE };

static struct {
	int state;
	const char *why;
	int live;			/* thread running */
	long kick, pm;
	pthread_mutex_t work;		/* held for ledger work and calls */
	int stopping, sleeping, kicked, dirty;
	uint64_t next_call_ns;
	uint64_t due_ns;		/* completed regions come due (0: none) */
	unsigned retry_ms;		/* current lazy backoff */
	uint64_t *bases;		/* (base | flags, changed) pairs */
} A = { .kick = -1, .pm = -1, .work = PTHREAD_MUTEX_INITIALIZER,
	.retry_ms = ADV_RETRY_MIN_MS };

static struct {
	uint64_t passes, calls, regions_sent, regions_freed, vmpte_freed_kb;
	uint64_t not_empty, refilled, lazy_retries, lazy_freed, errors;
	uint64_t waiting;		/* lazy regions still mapped, last pass */
	uint64_t forks, cpu_ns;
	int last_err;
} S;

#define ADD(field, n) __atomic_fetch_add(&S.field, (n), __ATOMIC_RELAXED)

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ULL),
			       (long)(ns % 1000000000ULL) };

	pr_sys(SYS_nanosleep, (long)&ts, 0, 0, 0, 0, 0);
}

static bool lock_work(void)
{
	pthread_mutex_lock(&A.work);
	if (__atomic_load_n(&A.stopping, __ATOMIC_RELAXED)) {
		pthread_mutex_unlock(&A.work);
		return false;
	}
	return true;
}

/* Pages of the region at base that are not empty, into inuse; -1 if
 * pagemap can't be read. */
static int region_in_use(uintptr_t base, uint64_t inuse[PR_BITMAP_WORDS])
{
	uint64_t pm[PR_PAGES_PER_PMD];
	long r = pr_sys(SYS_pread64, A.pm, (long)pm, sizeof(pm),
			(long)(base >> PR_PAGE_SHIFT) * 8, 0, 0);

	memset(inuse, 0, PR_BITMAP_WORDS * 8);
	if (r != (long)sizeof(pm))
		return -1;
	return (int)pr_pagemap_in_use(pm, inuse);
}

/* A region maps pages: lazily freed ones may still go by themselves (wait
 * and retry); anything else only goes with a purge, so the ledger forgets
 * those pages and parks the region until then.  Called with A.work. */
static void mapped(uintptr_t base, unsigned flags, uint64_t changed,
		   const uint64_t *inuse)
{
	if (flags & PR_LEDGER_LAZY) {
		if (flags & PR_LEDGER_FULL)
			ADD(waiting, 1);
		return;
	}
	if (flags & PR_LEDGER_FULL)
		ADD(not_empty, 1);
	pr_ledger_park(base, changed, inuse);
}

/* ---- one call over a run of adjacent empty regions ---- */

struct run {
	uintptr_t lo;
	unsigned n;
	uint8_t flags[ADV_RUN_MAX];
	uint64_t changed[ADV_RUN_MAX];
};

static void rate_limit(void)
{
	uint64_t now = pr_now_ns();
	uint64_t gap = 1000000000ULL / (pr_conf.advice_rate ?
					pr_conf.advice_rate : 1);

	if (A.next_call_ns > now)
		sleep_ns(A.next_call_ns - now);
	now = pr_now_ns();
	A.next_call_ns = (A.next_call_ns > now ? A.next_call_ns : now) + gap;
}

/* What the call did, region by region.  Called with A.work. */
static void run_settle(const struct run *rn)
{
	static const uint64_t none[PR_BITMAP_WORDS];

	for (unsigned k = 0; k < rn->n; k++) {
		uintptr_t base = rn->lo + (uintptr_t)k * PR_PMD_SIZE;
		uint64_t inuse[PR_BITMAP_WORDS];
		int n = region_in_use(base, inuse);

		if (n == 0) {
			/* No table, or one in a VMA the kernel skips
			 * (mlocked, shared, file): either way not again
			 * until a purge shows pages were used.  Parked with
			 * nothing in use, so a purge that raced with us
			 * keeps the region offered. */
			pr_ledger_park(base, rn->changed[k], none);
			ADD(regions_freed, 1);
			if (rn->flags[k] & PR_LEDGER_LAZY)
				ADD(lazy_freed, 1);
		} else if (n > 0) {
			ADD(refilled, 1);
			mapped(base, rn->flags[k], rn->changed[k], inuse);
		}
	}
}

/* Returns false when told to stop. */
static bool run_flush(struct run *rn)
{
	long r;

	if (!rn->n)
		return true;
	/* Not under A.work: fork waits for that. */
	rate_limit();
	if (!lock_work())
		return false;
	r = pr_sys(SYS_madvise, (long)rn->lo,
		   (long)((uintptr_t)rn->n * PR_PMD_SIZE), pr_caps.advice,
		   0, 0, 0);
	ADD(calls, 1);
	ADD(regions_sent, rn->n);
	/* ENOMEM: part of the run was unmapped meanwhile; the kernel still
	 * handled the rest.  Anything else is worth a look in the report. */
	if (r < 0 && r != -ENOMEM) {
		ADD(errors, 1);
		S.last_err = (int)-r;
	}
	run_settle(rn);
	pthread_mutex_unlock(&A.work);
	rn->n = 0;
	return true;
}

static bool run_add(struct run *rn, uintptr_t base, unsigned flags,
		    uint64_t changed)
{
	if (rn->n && (base != rn->lo + (uintptr_t)rn->n * PR_PMD_SIZE ||
		      rn->n == ADV_RUN_MAX) && !run_flush(rn))
		return false;
	if (!rn->n)
		rn->lo = base;
	rn->flags[rn->n] = (uint8_t)flags;
	rn->changed[rn->n++] = changed;
	return true;
}

/* ---- a pass over the ledger ---- */

/*
 * What a pass looks at: regions unchanged for advice_delay_ms (memory just
 * purged is what an allocator reuses first: freeing its table would only
 * make the next fault allocate it again), and of those only completed ones
 * while the program is still purging; every region with purged pages once
 * purges have gone quiet (pages never touched are never purged, so a
 * region can be empty without being complete).
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
	if (changed + c->delay_ns > c->now) {
		if (!c->next_ns || changed + c->delay_ns < c->next_ns)
			c->next_ns = changed + c->delay_ns;
		return;
	}
	if (c->n >= ADV_COLLECT_MAX) {
		c->more = true;
		return;
	}
	/* Bases are 2 MiB aligned: the low bits carry the flags. */
	A.bases[2 * c->n] = base | (flags & (PR_LEDGER_LAZY | PR_LEDGER_FULL));
	A.bases[2 * c->n + 1] = changed;
	c->n++;
}

static void sort_bases(size_t n)
{
	/* Insertion sort on mostly sorted input (the ledger's pool grows
	 * with the heap); pairs move together. */
	for (size_t i = 1; i < n; i++) {
		uint64_t k = A.bases[2 * i], v = A.bases[2 * i + 1];
		size_t j = i;

		for (; j > 0 && A.bases[2 * (j - 1)] > k; j--) {
			A.bases[2 * j] = A.bases[2 * (j - 1)];
			A.bases[2 * j + 1] = A.bases[2 * (j - 1) + 1];
		}
		A.bases[2 * j] = k;
		A.bases[2 * j + 1] = v;
	}
}

/* Look at one collected region; empty ones join the run. */
static bool consider(struct run *rn, size_t i)
{
	uintptr_t base = (uintptr_t)(A.bases[2 * i] & ~(PR_PMD_SIZE - 1));
	unsigned flags = (unsigned)(A.bases[2 * i] & (PR_PMD_SIZE - 1));
	uint64_t changed = A.bases[2 * i + 1];
	uint64_t inuse[PR_BITMAP_WORDS];
	int n = region_in_use(base, inuse);

	if (n < 0)
		return true;
	if (n == 0)
		return run_add(rn, base, flags, changed);
	if (!lock_work())
		return false;
	mapped(base, flags, changed, inuse);
	pthread_mutex_unlock(&A.work);
	return true;
}

/* all: every region with purged pages, not just completed ones.  Returns
 * false when told to stop. */
static bool pass(bool all, bool retry)
{
	static struct run rn;
	struct collect c = { .all = all, .now = pr_now_ns(),
			     .delay_ns = pr_conf.advice_delay_ms * 1000000ULL };
	long vm0, vm1;

	if (!lock_work())
		return false;
	pr_ledger_for_each_live_ex(collect_one, &c);
	pthread_mutex_unlock(&A.work);
	A.due_ns = c.next_ns;
	sort_bases(c.n);
	vm0 = pr_vmpte_kb();
	__atomic_store_n(&S.waiting, 0, __ATOMIC_RELAXED);
	rn.n = 0;
	for (size_t i = 0; i < c.n; i++) {
		if (retry && (A.bases[2 * i] & PR_LEDGER_LAZY))
			ADD(lazy_retries, 1);
		if (!consider(&rn, i))
			return false;
	}
	if (!run_flush(&rn))
		return false;
	vm1 = pr_vmpte_kb();
	if (vm0 > vm1 && vm1 >= 0)
		ADD(vmpte_freed_kb, (uint64_t)(vm0 - vm1));
	ADD(passes, 1);
	if (c.more)
		__atomic_store_n(&A.dirty, 1, __ATOMIC_RELAXED);
	return true;
}

/* ---- the thread ---- */

static void note_cpu(void)
{
	struct timespec cpu;

	if (!clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu))
		__atomic_store_n(&S.cpu_ns, (uint64_t)cpu.tv_sec * 1000000000ULL +
				 (uint64_t)cpu.tv_nsec, __ATOMIC_RELAXED);
}

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
	uint64_t d = pr_conf.advice_delay_ms * 1000000ULL;

	return d > ADV_IDLE_MS * 1000000ULL ? d : ADV_IDLE_MS * 1000000ULL;
}

/* How long to sleep: until completed regions come due, waiting lazy
 * regions are retried, or purges may have gone quiet.  UINT64_MAX:
 * nothing to wait for, no timer at all. */
static uint64_t sleep_for(const struct watch *w, uint64_t now)
{
	uint64_t t = UINT64_MAX, q;

	if (A.due_ns)
		t = A.due_ns > now ? A.due_ns - now : 0;
	if (__atomic_load_n(&S.waiting, __ATOMIC_RELAXED) &&
	    A.retry_ms * 1000000ULL < t)
		t = A.retry_ms * 1000000ULL;
	if (purges() != w->scanned) {
		q = w->seen_ns + quiet_ns();
		q = q > now ? q - now : 0;
		if (q < t)
			t = q;
	}
	return t;
}

/* Sleep until there is work; true if a completed region kicked us. */
static bool wait_for_work(const struct watch *w)
{
	struct pollfd p = { .fd = (int)A.kick, .events = POLLIN };
	uint64_t t = sleep_for(w, pr_now_ns()), v;
	struct timespec ts;
	long r;

	__atomic_store_n(&A.sleeping, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&A.dirty, __ATOMIC_SEQ_CST))
		t = 0;
	ts.tv_sec = (time_t)(t / 1000000000ULL);
	ts.tv_nsec = (long)(t % 1000000000ULL);
	r = pr_sys(SYS_ppoll, (long)&p, 1, t == UINT64_MAX ? 0 : (long)&ts,
		   0, 8, 0);
	__atomic_store_n(&A.sleeping, 0, __ATOMIC_SEQ_CST);
	if (r > 0) {
		pr_sys(SYS_read, A.kick, (long)&v, 8, 0, 0, 0);
		__atomic_store_n(&A.kicked, 0, __ATOMIC_SEQ_CST);
	}
	return __atomic_exchange_n(&A.dirty, 0, __ATOMIC_SEQ_CST);
}

/* One wake-up's work.  Returns false when told to stop. */
static bool step(struct watch *w, bool kicked)
{
	uint64_t now = pr_now_ns(), n = purges();
	bool waiting = __atomic_load_n(&S.waiting, __ATOMIC_RELAXED);
	bool quiet, due;

	if (n != w->seen) {
		w->seen = n;
		w->seen_ns = now;
	}
	quiet = n != w->scanned && now >= w->seen_ns + quiet_ns();
	if (kicked) {
		/* New completions: lazy regions start over too. */
		A.retry_ms = ADV_RETRY_MIN_MS;
		if (!A.due_ns)
			A.due_ns = now + pr_conf.advice_delay_ms * 1000000ULL;
	} else if (waiting && A.retry_ms < ADV_RETRY_MAX_MS) {
		A.retry_ms *= 2;
	}
	due = A.due_ns && A.due_ns <= now;
	if (!due && !quiet && !(waiting && !kicked))
		return true;
	if (quiet)
		w->scanned = n;
	if (!pass(quiet, waiting && !kicked))
		return false;
	note_cpu();
	return true;
}

static void *advice_main(void *arg)
{
	uint64_t last_maintain = pr_now_ns();
	struct watch w = { 0, 0, 0 };

	(void)arg;
	pr_sys(SYS_prctl, PR_SET_NAME, (long)"ptreclaim-advic", 0, 0, 0, 0);
	for (;;) {
		bool kicked = wait_for_work(&w);

		if (__atomic_load_n(&A.stopping, __ATOMIC_RELAXED) ||
		    !step(&w, kicked))
			break;
		if (pr_now_ns() - last_maintain > 1000000000ULL && lock_work()) {
			/* Recycle idle ledger entries (a grace period: fine on
			 * this thread, never on the purge path). */
			pr_ledger_maintain();
			pthread_mutex_unlock(&A.work);
			last_maintain = pr_now_ns();
		}
		sleep_ns(ADV_GAP_NS);
	}
	return NULL;
}

void pr_advice_kick(void)
{
	uint64_t one = 1;

	if (!__atomic_load_n(&A.live, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(&A.dirty, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&A.sleeping, __ATOMIC_SEQ_CST) &&
	    !__atomic_exchange_n(&A.kicked, 1, __ATOMIC_SEQ_CST))
		pr_sys(SYS_write, A.kick, (long)&one, 8, 0, 0, 0);
}

/* ---- start, fork, stop ---- */

static void close_fds(void)
{
	if (A.kick >= 0)
		pr_sys(SYS_close, A.kick, 0, 0, 0, 0, 0);
	if (A.pm >= 0)
		pr_sys(SYS_close, A.pm, 0, 0, 0, 0, 0);
	A.kick = A.pm = -1;
}

/* This process's descriptors (again after fork: /proc/self/pagemap
 * belongs to the process that opened it). */
static const char *open_fds(void)
{
	A.kick = pr_sys(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK, 0, 0, 0, 0);
	A.pm = pr_sys(SYS_openat, AT_FDCWD, (long)"/proc/self/pagemap",
		      O_RDONLY | O_CLOEXEC, 0, 0, 0);
	return A.kick < 0 || A.pm < 0 ?
	       "could not open /proc/self/pagemap or an eventfd" : NULL;
}

static int start_thread(void)
{
	return pr_threads_spawn(advice_main);
}

static void advice_prepare(void)
{
	if (__atomic_load_n(&A.live, __ATOMIC_RELAXED))
		pthread_mutex_lock(&A.work);
}

static void advice_parent(void)
{
	if (__atomic_load_n(&A.live, __ATOMIC_RELAXED))
		pthread_mutex_unlock(&A.work);
}

/* The child has no thread and the parent's descriptors.  Registered after
 * the allocator started (our thread's creation started it), so this runs
 * after the allocator's own child handler and may create a thread. */
static void advice_child(void)
{
	const char *why;

	if (!__atomic_load_n(&A.live, __ATOMIC_RELAXED))
		return;
	pthread_mutex_init(&A.work, NULL);
	A.live = 0;
	A.sleeping = A.kicked = 0;
	A.dirty = 1;
	A.next_call_ns = A.due_ns = 0;
	A.retry_ms = ADV_RETRY_MIN_MS;
	close_fds();
	S.forks++;
	why = open_fds();
	if (!why && start_thread())
		why = "could not start the advice thread after fork";
	if (why) {
		close_fds();
		A.state = AS_UNAVAILABLE;
		A.why = why;
		return;
	}
	__atomic_store_n(&A.live, 1, __ATOMIC_RELEASE);
}

/* glibc malloc trims through internal calls no preload sees: the ledger
 * would never complete a region, and a thread would be pure cost. */
static bool malloc_is_glibc(void)
{
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	Dl_info info;

	return m && dladdr(m, &info) && info.dli_fname &&
	       strstr(info.dli_fname, "/libc.so");
}

static const char *unavailable(void)
{
	if (pr_caps.advice <= 0)
		return "kernel offers no MADV_RECLAIM_PT (no /sys/kernel/mm/reclaim_pt/advice)";
	if (!pr_conf.advice)
		return "advice:off in PTRECLAIM_CONF";
	if (!pr_ready)
		return "no ledger";
	if (malloc_is_glibc())
		return "glibc malloc: its purges are invisible to a preload";
	return NULL;
}

void pr_advice_start(void)
{
	const char *why = unavailable();

	if (why) {
		A.state = pr_caps.advice > 0 && pr_conf.advice && pr_ready ?
			  AS_OFF : AS_UNAVAILABLE;
		A.why = why;
		return;
	}
	A.bases = pr_map(ADV_COLLECT_MAX * 2 * sizeof(uint64_t));
	why = A.bases ? open_fds() : "could not map the advice's buffer";
	if (!why && start_thread())
		why = "could not start the advice thread";
	if (why) {
		close_fds();
		A.state = AS_UNAVAILABLE;
		A.why = why;
		return;
	}
	A.state = AS_ACTIVE;
	__atomic_store_n(&A.live, 1, __ATOMIC_RELEASE);
	pthread_atfork(advice_prepare, advice_parent, advice_child);
}

/* At exit, before liburcu's destructor: no more ledger walks. */
void pr_advice_stop(void)
{
	uint64_t one = 1;

	if (!__atomic_load_n(&A.live, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&A.work);
	__atomic_store_n(&A.stopping, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&A.live, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&A.work);
	pr_sys(SYS_write, A.kick, (long)&one, 8, 0, 0, 0);
}

bool pr_advice_claims(void)
{
	return A.state == AS_ACTIVE;
}

#define U(x) ((unsigned long long)(x))

void pr_advice_report(int fd)
{
	char buf[640];

	if (A.state != AS_ACTIVE) {
		snprintf(buf, sizeof(buf),
			 "ptreclaim: advice state=%s reason=\"%s\"\n",
			 A.state == AS_OFF ? "off" : "unavailable",
			 A.why ? A.why : "not started");
		pr_write_str(fd, buf);
		return;
	}
	snprintf(buf, sizeof(buf),
		 "ptreclaim: advice state=%s number=%d calls=%llu regions_sent=%llu regions_freed=%llu tables_freed=%llu skipped_not_empty=%llu refilled=%llu waiting_lazy=%llu lazy_retries=%llu lazy_freed=%llu passes=%llu cpu_ms=%llu forks=%llu errors=%llu%s%s\n",
		 __atomic_load_n(&A.stopping, __ATOMIC_RELAXED) ? "stopped" : "active",
		 pr_caps.advice, U(S.calls), U(S.regions_sent),
		 U(S.regions_freed), U(S.vmpte_freed_kb / 4), U(S.not_empty),
		 U(S.refilled), U(S.waiting), U(S.lazy_retries),
		 U(S.lazy_freed), U(S.passes), U(S.cpu_ns / 1000000),
		 U(S.forks), U(S.errors), S.last_err ? " last_errno=" : "",
		 S.last_err ? strerrorname_np(S.last_err) : "");
	pr_write_str(fd, buf);
}
