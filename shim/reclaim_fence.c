/* SPDX-License-Identifier: MIT */
/*
 * reclaim_fence.c - free the PTE tables of completed regions on a stock
 * kernel, safely, with a userfaultfd fence.
 *
 * A region is "completed" when the ledger saw all its 512 pages purged.
 * That alone does not make a whole-PMD MADV_DONTNEED safe: the allocator
 * may be reusing a page it purged, without a system call.  So, for a run
 * of adjacent completed regions, a background thread:
 *
 *   1. registers the run with userfaultfd for missing-page faults: from
 *      then on no thread and no kernel access can populate a page in it
 *      (a fault blocks until step 4; kernel-mode accesses such as read(2)
 *      into the range block too, which is why user-mode-only userfaultfd
 *      is no fence: there they fail with EFAULT);
 *   2. checks that the VMAs are private anonymous (PROCMAP_QUERY) and reads
 *      /proc/self/pagemap: a region with any entry present, swapped or
 *      otherwise non-empty is left alone and the ledger corrected;
 *   3. MADV_DONTNEEDs the regions that map nothing, whole and aligned, so
 *      the kernel (CONFIG_PT_RECLAIM) frees their tables and nothing else;
 *   4. unregisters, which wakes every thread that faulted meanwhile; they
 *      retry and get a fresh zero page as if nothing had happened.
 *
 * The VMA zapped must be the VMA verified.  Interposed munmap, mremap and
 * MAP_FIXED mmap over an open window wait for it to close (a Dekker-style
 * handshake with the window: pr_fence_mm_begin), and with
 * UFFD_FEATURE_EVENT_UNMAP an unmap the shim did not see (a raw syscall)
 * is reported on the userfaultfd before the zap, which then is skipped.
 *
 * Never from inside an allocator's call: the work is done by a thread
 * created in the constructor (and again in a fork child), woken when a
 * region completes, rate-limited, and paused around fork and exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>

#include "bitmap.h"
#include "internal.h"

/* PROCMAP_QUERY (Linux 6.11); older uapi headers lack it. */
struct pr_procmap_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset;
	uint64_t inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define PR_PROCMAP_QUERY _IOWR('f', 17, struct pr_procmap_query)
#define PR_PROCMAP_VMA_SHARED 0x08

#define FENCE_COLLECT_MAX	65536	/* regions looked at per pass */
#define FENCE_SETTLE_NS		1000000	/* let a burst of purges finish */
#define FENCE_TIMER_MS		1000	/* rescan waiting regions */
#define FENCE_GAP_NS		20000000 /* between passes that come due */
#define FENCE_CHANGER_SPINS	2000	/* then give the window up */

enum { FS_OFF, FS_ACTIVE, FS_UNAVAILABLE };

static struct {
	int state;
	const char *why;		/* off or unavailable: why */
	int live;			/* thread running, windows possible */
	long uffd, kick, pm, maps;
	bool procmap;			/* PROCMAP_QUERY answers */
	bool unmap_events;		/* UFFD_FEATURE_EVENT_UNMAP on */
	pthread_mutex_t work;		/* held for each unit of work */
	int stopping;
	int sleeping, kicked, dirty;
	uint64_t flush_req, flush_done;
	/* the open window, and the calls that could change its VMAs */
	uintptr_t win_lo, win_hi;
	int changers;
	uint32_t win_seq;
	int win_waiters;
	uint64_t next_window_ns;
	uint64_t due_ns;		/* a pass is due then (0: none) */
	/* buffers, from mmap */
	uint64_t *bases;
	uint64_t *pm_buf;
	uint64_t *inuse;		/* PR_BITMAP_WORDS per region of a run */
	uint8_t *ok;
} F = {
	.uffd = -1, .kick = -1, .pm = -1, .maps = -1,
	.work = PTHREAD_MUTEX_INITIALIZER,
};

static struct {
	uint64_t passes, windows, fenced, zapped, vmpte_freed_kb;
	uint64_t not_empty, waiting, busy, not_anon, unmapped, other_err;
	uint64_t faults, aborted, contended, late_unmap, forks;
	uint64_t win_ns_total, win_ns_max;
	uint64_t cpu_ns;		/* the fence thread's CPU time */
	int last_err;
} S;

#define ADD(field, n) __atomic_fetch_add(&S.field, (n), __ATOMIC_RELAXED)

static long futex(uint32_t *addr, int op, uint32_t val, long timeout_ns)
{
	struct timespec ts = { timeout_ns / 1000000000L,
			       timeout_ns % 1000000000L };

	return pr_sys(SYS_futex, (long)addr, op, val,
		      timeout_ns ? (long)&ts : 0, 0, 0);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ULL),
			       (long)(ns % 1000000000ULL) };

	pr_sys(SYS_nanosleep, (long)&ts, 0, 0, 0, 0, 0);
}

/* ---- the handshake with munmap, mremap and MAP_FIXED mmap ---- */

bool pr_fence_mm_begin(uintptr_t lo, uintptr_t hi)
{
	if (!__atomic_load_n(&F.live, __ATOMIC_RELAXED))
		return false;
	if (hi <= lo)
		hi = UINTPTR_MAX;
	for (;;) {
		uint32_t seq;
		uintptr_t wl, wh;

		__atomic_fetch_add(&F.changers, 1, __ATOMIC_SEQ_CST);
		seq = __atomic_load_n(&F.win_seq, __ATOMIC_SEQ_CST);
		wl = __atomic_load_n(&F.win_lo, __ATOMIC_SEQ_CST);
		wh = __atomic_load_n(&F.win_hi, __ATOMIC_SEQ_CST);
		if (!wh || !(wl < hi && lo < wh))
			return true;
		/* The window covers us: step back and wait for it to close
		 * (bounded: a window is a few system calls). */
		__atomic_fetch_sub(&F.changers, 1, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&F.win_waiters, 1, __ATOMIC_SEQ_CST);
		futex(&F.win_seq, FUTEX_WAIT_PRIVATE, seq, 10000000);
		__atomic_fetch_sub(&F.win_waiters, 1, __ATOMIC_SEQ_CST);
	}
}

void pr_fence_mm_end(bool token)
{
	if (token)
		__atomic_fetch_sub(&F.changers, 1, __ATOMIC_SEQ_CST);
}

/* ---- userfaultfd events ---- */

struct run {
	uintptr_t lo, hi;
	unsigned n;
	bool abort;
	bool zapped_any;
};

/* A fault on a range no window covers: something is still registered
 * (an unregister failed).  Map the zero page, or wake if it is there. */
static void serve_stray_fault(uintptr_t addr)
{
	struct uffdio_zeropage zp = {
		.range = { .start = addr & ~(PR_PAGE_SIZE - 1),
			   .len = PR_PAGE_SIZE } };
	struct uffdio_range wake = zp.range;

	if (pr_sys(SYS_ioctl, F.uffd, UFFDIO_ZEROPAGE, (long)&zp, 0, 0, 0) < 0)
		pr_sys(SYS_ioctl, F.uffd, UFFDIO_WAKE, (long)&wake, 0, 0, 0);
}

/* Read what the userfaultfd has.  Faults inside the run are left
 * blocked (the unregister wakes them) and their regions dropped from the
 * run; an unmap over the run aborts it. */
static void drain(struct run *rn)
{
	struct uffd_msg msg[16];

	for (;;) {
		long r = pr_sys(SYS_read, F.uffd, (long)msg, sizeof(msg), 0, 0,
				0);

		if (r <= 0)
			return;
		for (long i = 0; i < r / (long)sizeof(msg[0]); i++) {
			uintptr_t a, b;

			switch (msg[i].event) {
			case UFFD_EVENT_PAGEFAULT:
				a = (uintptr_t)msg[i].arg.pagefault.address;
				ADD(faults, 1);
				if (rn && a >= rn->lo && a < rn->hi) {
					unsigned k = (unsigned)((a - rn->lo) >>
								PR_PMD_SHIFT);
					unsigned pg = (unsigned)((a >> PR_PAGE_SHIFT) &
								 (PR_PAGES_PER_PMD - 1));

					F.ok[k] = 0;
					F.inuse[k * PR_BITMAP_WORDS + pg / 64] |=
						1ULL << (pg % 64);
				} else if (!rn) {
					serve_stray_fault(a);
				}
				break;
			case UFFD_EVENT_UNMAP:
			case UFFD_EVENT_REMOVE:
				a = (uintptr_t)msg[i].arg.remove.start;
				b = (uintptr_t)msg[i].arg.remove.end;
				if (rn && a < rn->hi && rn->lo < b) {
					if (rn->zapped_any)
						ADD(late_unmap, 1);
					rn->abort = true;
				}
				break;
			default:
				break;
			}
		}
	}
}

/* ---- windows ---- */

static bool window_open(uintptr_t lo, uintptr_t hi)
{
	__atomic_store_n(&F.win_lo, lo, __ATOMIC_SEQ_CST);
	__atomic_store_n(&F.win_hi, hi, __ATOMIC_SEQ_CST);
	for (unsigned spins = 0;
	     __atomic_load_n(&F.changers, __ATOMIC_SEQ_CST); spins++) {
		if (spins >= FENCE_CHANGER_SPINS)
			return false;
		/* A raw munmap may be waiting for us to read its event. */
		drain(NULL);
		if (spins < 100)
			pr_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
		else
			sleep_ns(10000);
	}
	return true;
}

static void window_close(void)
{
	__atomic_store_n(&F.win_hi, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&F.win_lo, 0, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&F.win_seq, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&F.win_waiters, __ATOMIC_SEQ_CST))
		futex(&F.win_seq, FUTEX_WAKE_PRIVATE, INT_MAX, 0);
}

/* 1: [lo, hi) is covered by private anonymous VMAs; 0: some VMA is not
 * private anonymous; -2: there is a hole (registration allows holes, but
 * a table half outside its VMA can't be freed by a zap); -1: can't tell
 * (no PROCMAP_QUERY: registration then guarantees anon, shmem or hugetlb,
 * and an empty pagemap makes the zap lose nothing in any of them). */
static int vma_private_anon(uintptr_t lo, uintptr_t hi)
{
	uintptr_t a = lo;

	if (!F.procmap)
		return -1;
	while (a < hi) {
		struct pr_procmap_query q = { .size = sizeof(q),
					      .query_addr = a };
		long r = pr_sys(SYS_ioctl, F.maps, PR_PROCMAP_QUERY, (long)&q,
				0, 0, 0);

		if (r == -ENOENT || (r == 0 && q.vma_start > a))
			return -2;
		if (r < 0 || q.vma_end <= a)
			return 0;
		if ((q.vma_flags & PR_PROCMAP_VMA_SHARED) || q.inode ||
		    q.dev_major || q.dev_minor)
			return 0;
		a = (uintptr_t)q.vma_end;
	}
	return 1;
}

static void rate_limit(void)
{
	uint64_t now = pr_now_ns();
	uint64_t gap = 1000000000ULL / (pr_conf.fence_rate ? pr_conf.fence_rate : 1);

	if (F.next_window_ns > now)
		sleep_ns(F.next_window_ns - now);
	now = pr_now_ns();
	F.next_window_ns = (F.next_window_ns > now ? F.next_window_ns : now) + gap;
}

static void fence_run(uintptr_t lo, unsigned n, const uint8_t *lazy,
		      const uint64_t *chg);

/* Registration failed for a run of several regions: one by one. */
static void fence_each(uintptr_t lo, unsigned n, const uint8_t *lazy,
		       const uint64_t *chg)
{
	for (unsigned i = 0; i < n; i++)
		fence_run(lo + (uintptr_t)i * PR_PMD_SIZE, 1, lazy + i, chg + i);
}

/* One window over n adjacent candidate regions (lazy: their ledger
 * flags, chg: when the ledger last saw them change).  Called with F.work. */
static void fence_run(uintptr_t lo, unsigned n, const uint8_t *lazy,
		      const uint64_t *chg)
{
	struct run rn = { .lo = lo, .hi = lo + (uintptr_t)n * PR_PMD_SIZE,
			  .n = n };
	struct uffdio_register reg = {
		.range = { .start = lo, .len = rn.hi - lo },
		.mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_range unreg = reg.range;
	size_t pm_bytes = (size_t)n * PR_PAGES_PER_PMD * 8;
	uint64_t t0, dt;
	long r;
	int anon;

	t0 = pr_now_ns();
	if (!window_open(rn.lo, rn.hi)) {
		window_close();
		ADD(contended, n);
		return;
	}
	r = pr_sys(SYS_ioctl, F.uffd, UFFDIO_REGISTER, (long)&reg, 0, 0, 0);
	if (r < 0) {
		window_close();
		if (n > 1) {
			fence_each(lo, n, lazy, chg);
			return;
		}
		S.last_err = (int)-r;
		if (r == -EBUSY) {
			/* Someone else's userfaultfd: theirs, leave it. */
			ADD(busy, n);
		} else if (r == -EINVAL) {
			ADD(not_anon, n);
		} else if (r == -ENOMEM) {
			ADD(unmapped, n);
		} else {
			ADD(other_err, n);
		}
		/* Forget it until a purge brings it back. */
		pr_ledger_drop(rn.lo, rn.hi);
		return;
	}

	anon = vma_private_anon(rn.lo, rn.hi);
	if ((anon == 0 || anon == -2) && n > 1) {
		/* Some region of the run is not for us: find out which. */
		pr_sys(SYS_ioctl, F.uffd, UFFDIO_UNREGISTER, (long)&unreg, 0, 0, 0);
		window_close();
		fence_each(lo, n, lazy, chg);
		return;
	}
	memset(F.ok, anon == 1 || anon == -1, n);
	memset(F.inuse, 0, (size_t)n * PR_BITMAP_WORDS * 8);
	if (anon == 1 || anon == -1) {
		r = pr_sys(SYS_pread64, F.pm, (long)F.pm_buf, (long)pm_bytes,
			   (long)(lo >> PR_PAGE_SHIFT) * 8, 0, 0);
		if (r != (long)pm_bytes) {
			memset(F.ok, 0, n);
			rn.abort = true;
		}
		for (unsigned k = 0; k < n && !rn.abort; k++)
			if (pr_pagemap_in_use(F.pm_buf + (size_t)k * PR_PAGES_PER_PMD,
					      F.inuse + (size_t)k * PR_BITMAP_WORDS))
				F.ok[k] = 0;
	}
	/* Faults and unmaps that came in while we looked. */
	drain(&rn);
	for (unsigned k = 0; k < n && !rn.abort;) {
		unsigned j = k;

		if (!F.ok[k]) {
			k++;
			continue;
		}
		while (j < n && F.ok[j])
			j++;
		r = pr_sys(SYS_madvise, (long)(lo + (uintptr_t)k * PR_PMD_SIZE),
			   (long)((uintptr_t)(j - k) * PR_PMD_SIZE),
			   MADV_DONTNEED, 0, 0, 0);
		for (; k < j; k++) {
			if (r == 0) {
				rn.zapped_any = true;
				ADD(zapped, 1);
				/* Before the unregister: nothing can have
				 * faulted a page in yet. */
				pr_ledger_zapped(lo + (uintptr_t)k * PR_PMD_SIZE);
			} else {
				F.ok[k] = 0;
			}
		}
	}
	r = pr_sys(SYS_ioctl, F.uffd, UFFDIO_UNREGISTER, (long)&unreg, 0, 0, 0);
	if (r < 0) {
		/* Never leave a faulter asleep: wake the range, and keep
		 * serving strays with the zero page. */
		pr_sys(SYS_ioctl, F.uffd, UFFDIO_WAKE, (long)&unreg, 0, 0, 0);
		S.last_err = (int)-r;
	}
	window_close();
	dt = pr_now_ns() - t0;
	drain(&rn);

	ADD(windows, 1);
	ADD(fenced, n);
	ADD(win_ns_total, dt);
	if (dt > S.win_ns_max)
		S.win_ns_max = dt;
	if (anon == 0 || anon == -2) {
		if (anon == 0)
			ADD(not_anon, n);
		else
			ADD(unmapped, n);
		/* Only unmapping can free its table: forget it. */
		pr_ledger_drop(rn.lo, rn.hi);
		return;
	}
	if (rn.abort)
		ADD(aborted, 1);
	for (unsigned k = 0; k < n; k++) {
		const uint64_t *iu = F.inuse + (size_t)k * PR_BITMAP_WORDS;

		if (F.ok[k] && !rn.abort)
			continue;
		if (lazy[k] & PR_LEDGER_LAZY) {
			if (lazy[k] & PR_LEDGER_FULL)
				ADD(waiting, 1);
			continue;
		}
		if (!pr_bitmap_empty(iu)) {
			ADD(not_empty, 1);
			pr_ledger_park(lo + (uintptr_t)k * PR_PMD_SIZE, chg[k], iu);
		}
	}
}

/* ---- a pass over the ledger ---- */

struct collect {
	size_t n;
	bool more;
	uint64_t now, delay_ns;
	uint64_t next_ns;	/* when the youngest skipped region is due */
};

static void collect_one(uintptr_t base, unsigned flags, uint64_t changed,
			uint64_t inuse[8], void *arg)
{
	struct collect *c = arg;

	(void)inuse;
	/* Fresh completions wait: memory the program just purged is what it
	 * is likeliest to touch next, and some kernel accesses (ptrace,
	 * /proc/pid/mem) can't wait for a fence: they fail in a window. */
	if (changed + c->delay_ns > c->now) {
		if (!c->next_ns || changed + c->delay_ns < c->next_ns)
			c->next_ns = changed + c->delay_ns;
		return;
	}
	if (c->n >= FENCE_COLLECT_MAX) {
		c->more = true;
		return;
	}
	/* Bases are 2 MiB aligned: the low bits carry the flags. */
	F.bases[2 * c->n] = base | (flags & (PR_LEDGER_LAZY | PR_LEDGER_FULL));
	F.bases[2 * c->n + 1] = changed;
	c->n++;
}

/* Heap sort of (key, value) pairs by key; no malloc, no recursion. */
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

static bool lock_work(void)
{
	pthread_mutex_lock(&F.work);
	if (__atomic_load_n(&F.stopping, __ATOMIC_RELAXED)) {
		pthread_mutex_unlock(&F.work);
		return false;
	}
	return true;
}

/* Returns false when told to stop. */
static bool pass(bool now)
{
	struct collect c = { .now = pr_now_ns(),
			     .delay_ns = now ? 0 :
					 pr_conf.fence_delay_ms * 1000000ULL };
	uint64_t pm[PR_PAGES_PER_PMD];
	uint8_t lazy[512];
	uint64_t chg[512];
	uintptr_t run_lo = 0;
	unsigned run_n = 0, batch = pr_conf.fence_batch;
	long vm0, vm1;

	if (batch > 512)
		batch = 512;
	if (!lock_work())
		return false;
	pr_ledger_for_each_live_ex(collect_one, &c);
	pthread_mutex_unlock(&F.work);
	__atomic_store_n(&F.due_ns, c.next_ns, __ATOMIC_RELAXED);
	if (!c.n)
		return true;
	sort_pairs(F.bases, c.n);
	vm0 = pr_vmpte_kb();
	S.waiting = 0;
	for (size_t i = 0; i <= c.n; i++) {
		uintptr_t base = 0;
		uint8_t is_lazy = 0;
		uint64_t changed = 0;

		if (i < c.n) {
			uint64_t in[PR_BITMAP_WORDS] = { 0 };
			long r;

			/* An unmap the shim did not see may be waiting for
			 * us to read its event. */
			if (i % 256 == 255)
				drain(NULL);

			base = (uintptr_t)(F.bases[2 * i] & ~(PR_PMD_SIZE - 1));
			is_lazy = (uint8_t)(F.bases[2 * i] & (PR_LEDGER_LAZY |
							      PR_LEDGER_FULL));
			changed = F.bases[2 * i + 1];
			/* A look without the fence first: most regions with
			 * pages in use are found here, for the price of a
			 * read. */
			r = pr_sys(SYS_pread64, F.pm, (long)pm, sizeof(pm),
				   (long)(base >> PR_PAGE_SHIFT) * 8, 0, 0);
			if (r != (long)sizeof(pm))
				continue;
			if (pr_pagemap_in_use(pm, in)) {
				if (is_lazy & PR_LEDGER_LAZY) {
					/* Maybe lazily freed pages the kernel
					 * has not discarded yet. */
					if (is_lazy & PR_LEDGER_FULL)
						ADD(waiting, 1);
				} else if (lock_work()) {
					ADD(not_empty, 1);
					/* Pages in use only go with a purge
					 * (or an unmap): wait for one. */
					pr_ledger_park(base, changed, in);
					pthread_mutex_unlock(&F.work);
				} else {
					return false;
				}
				continue;
			}
			if (run_n && base == run_lo + (uintptr_t)run_n * PR_PMD_SIZE &&
			    run_n < batch) {
				chg[run_n] = changed;
				lazy[run_n++] = is_lazy;
				continue;
			}
		}
		if (run_n) {
			/* Not under F.work: fork waits for that. */
			rate_limit();
			if (!lock_work())
				return false;
			fence_run(run_lo, run_n, lazy, chg);
			pthread_mutex_unlock(&F.work);
		}
		run_lo = base;
		run_n = i < c.n ? 1 : 0;
		lazy[0] = is_lazy;
		chg[0] = changed;
	}
	vm1 = pr_vmpte_kb();
	if (vm0 > vm1 && vm1 >= 0)
		ADD(vmpte_freed_kb, (uint64_t)(vm0 - vm1));
	ADD(passes, 1);
	if (c.more)
		__atomic_store_n(&F.dirty, 1, __ATOMIC_RELAXED);
	return true;
}

/* The thread stops for good (from the thread itself, no window open). */
static void fence_quit(const char *why)
{
	pthread_mutex_lock(&F.work);
	__atomic_store_n(&F.live, 0, __ATOMIC_SEQ_CST);
	F.state = FS_UNAVAILABLE;
	F.why = why;
	pthread_mutex_unlock(&F.work);
}

static void *fence_main(void *arg)
{
	uint64_t last_maintain = pr_now_ns(), last_purges = 0, last_pass = 0;

	(void)arg;
	pr_sys(SYS_prctl, PR_SET_NAME, (long)"ptreclaim-fence", 0, 0, 0, 0);
	for (;;) {
		struct pollfd p[2] = { { .fd = (int)F.kick, .events = POLLIN },
				       { .fd = (int)F.uffd, .events = POLLIN } };
		struct timespec ts = { FENCE_TIMER_MS / 1000,
				       (FENCE_TIMER_MS % 1000) * 1000000L };
		uint64_t v, req, due = __atomic_load_n(&F.due_ns, __ATOMIC_RELAXED);
		uint64_t now = pr_now_ns(), purges;
		bool flush, kicked, timer, work;
		long r;

		/* Passes come at least FENCE_GAP_NS apart, to batch. */
		if (due && due < last_pass + FENCE_GAP_NS)
			due = last_pass + FENCE_GAP_NS;
		if (due && due < now + FENCE_TIMER_MS * 1000000ULL) {
			uint64_t d = due > now ? due - now : 0;

			ts.tv_sec = (time_t)(d / 1000000000ULL);
			ts.tv_nsec = (long)(d % 1000000000ULL);
		}
		__atomic_store_n(&F.sleeping, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&F.dirty, __ATOMIC_SEQ_CST) ||
		    __atomic_load_n(&F.flush_req, __ATOMIC_SEQ_CST) >
		    __atomic_load_n(&F.flush_done, __ATOMIC_SEQ_CST))
			ts.tv_sec = ts.tv_nsec = 0;
		r = pr_sys(SYS_ppoll, (long)p, 2, (long)&ts, 0, 8, 0);
		__atomic_store_n(&F.sleeping, 0, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&F.stopping, __ATOMIC_RELAXED))
			break;
		/* A sandbox that installs a seccomp filter later (applied to
		 * every thread) may kill the process for a call of ours: stop
		 * while no window is open. */
		if (pr_sys(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0, 0) != 0) {
			fence_quit("a seccomp filter was installed: the fence stopped");
			break;
		}
		if (r > 0 && (p[1].revents & POLLIN))
			drain(NULL);
		if (r > 0 && (p[0].revents & POLLIN)) {
			pr_sys(SYS_read, F.kick, (long)&v, 8, 0, 0, 0);
			__atomic_store_n(&F.kicked, 0, __ATOMIC_SEQ_CST);
		}
		req = __atomic_load_n(&F.flush_req, __ATOMIC_SEQ_CST);
		flush = req > __atomic_load_n(&F.flush_done, __ATOMIC_SEQ_CST);
		purges = pr_counter_sum(PRC_DONTNEED) + pr_counter_sum(PRC_FREE);
		now = pr_now_ns();
		/* Woken by a completed region, a flush, a region coming due,
		 * or the timer after purges: regions need not be complete to
		 * be empty (pages never touched are never purged). */
		kicked = __atomic_exchange_n(&F.dirty, 0, __ATOMIC_SEQ_CST);
		timer = r == 0 && ((due && due <= now + 1000000) ||
				   purges != last_purges ||
				   __atomic_load_n(&S.waiting, __ATOMIC_RELAXED));
		if (kicked && !flush && !timer && pr_conf.fence_delay_ms) {
			/* What just completed is not due yet: come back
			 * when it is, instead of walking the ledger now. */
			uint64_t d = now + pr_conf.fence_delay_ms * 1000000ULL;
			uint64_t cur = __atomic_load_n(&F.due_ns, __ATOMIC_RELAXED);

			if (!cur || d < cur)
				__atomic_store_n(&F.due_ns, d, __ATOMIC_RELAXED);
			continue;
		}
		work = kicked || flush || timer;
		if (!work)
			continue;
		if (!flush && r != 0 && !pr_conf.fence_delay_ms)
			sleep_ns(FENCE_SETTLE_NS);
		last_purges = purges;
		if (!pass(flush))
			break;
		last_pass = pr_now_ns();
		{
			struct timespec cpu;

			if (!clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu))
				__atomic_store_n(&S.cpu_ns,
						 (uint64_t)cpu.tv_sec * 1000000000ULL +
						 (uint64_t)cpu.tv_nsec,
						 __ATOMIC_RELAXED);
		}
		__atomic_store_n(&F.flush_done, req, __ATOMIC_SEQ_CST);
		now = pr_now_ns();
		if (now - last_maintain > 1000000000ULL && lock_work()) {
			/* Recycle idle ledger entries: it needs a grace
			 * period, which is fine on this thread. */
			pr_ledger_maintain();
			pthread_mutex_unlock(&F.work);
			last_maintain = now;
		}
	}
	return NULL;
}

void pr_fence_kick(void)
{
	uint64_t one = 1;

	if (!__atomic_load_n(&F.live, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(&F.dirty, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&F.sleeping, __ATOMIC_SEQ_CST) &&
	    !__atomic_exchange_n(&F.kicked, 1, __ATOMIC_SEQ_CST))
		pr_sys(SYS_write, F.kick, (long)&one, 8, 0, 0, 0);
}

/* ---- start, fork, stop ---- */

static void close_fd(long *fd)
{
	if (*fd >= 0)
		pr_sys(SYS_close, *fd, 0, 0, 0, 0, 0);
	*fd = -1;
}

static void close_all(void)
{
	close_fd(&F.uffd);
	close_fd(&F.kick);
	close_fd(&F.pm);
	close_fd(&F.maps);
}

/* The descriptors of this process (again after fork: /proc/self and the
 * userfaultfd both belong to the process that opened them). */
static const char *open_all(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct pr_procmap_query q = { .size = sizeof(q),
				      .query_addr = (uintptr_t)&F };

	F.uffd = pr_uffd_open();
	if (F.uffd < 0)
		return "could not open a userfaultfd";
	if (pr_caps.uffd_features & UFFD_FEATURE_EVENT_UNMAP)
		api.features = UFFD_FEATURE_EVENT_UNMAP;
	if (pr_sys(SYS_ioctl, F.uffd, UFFDIO_API, (long)&api, 0, 0, 0) < 0)
		return "UFFDIO_API failed";
	F.unmap_events = api.features & UFFD_FEATURE_EVENT_UNMAP;
	F.kick = pr_sys(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK, 0, 0, 0, 0);
	F.pm = pr_sys(SYS_openat, AT_FDCWD, (long)"/proc/self/pagemap",
		      O_RDONLY | O_CLOEXEC, 0, 0, 0);
	F.maps = pr_sys(SYS_openat, AT_FDCWD, (long)"/proc/self/maps",
			O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (F.kick < 0 || F.pm < 0)
		return "could not open /proc/self/pagemap or an eventfd";
	F.procmap = F.maps >= 0 &&
		    pr_sys(SYS_ioctl, F.maps, PR_PROCMAP_QUERY, (long)&q, 0, 0,
			   0) == 0;
	return NULL;
}

static int start_thread(void)
{
	return pr_threads_spawn(fence_main);
}

static void fence_prepare(void)
{
	if (__atomic_load_n(&F.live, __ATOMIC_RELAXED))
		pthread_mutex_lock(&F.work);
}

static void fence_parent(void)
{
	if (__atomic_load_n(&F.live, __ATOMIC_RELAXED))
		pthread_mutex_unlock(&F.work);
}

/*
 * The child has no fence thread and the parent's descriptors.  This
 * handler was registered after the allocator had started (our thread's
 * creation started it), so it runs after the allocator's own child
 * handler and may create a thread.
 */
static void fence_child(void)
{
	const char *why;

	if (!__atomic_load_n(&F.live, __ATOMIC_RELAXED))
		return;
	pthread_mutex_init(&F.work, NULL);
	F.live = 0;
	F.changers = 0;
	F.win_lo = F.win_hi = 0;
	F.win_waiters = 0;
	F.sleeping = F.kicked = 0;
	F.dirty = 1;
	F.flush_req = F.flush_done = 0;
	close_all();
	S.forks++;
	why = open_all();
	if (!why && start_thread())
		why = "could not start the fence thread after fork";
	if (why) {
		close_all();
		F.state = FS_UNAVAILABLE;
		F.why = why;
		return;
	}
	__atomic_store_n(&F.live, 1, __ATOMIC_RELEASE);
}

void pr_fence_start(void)
{
	const char *why = pr_fence_unavailable();
	size_t batch = pr_conf.fence_batch > 512 ? 512 : pr_conf.fence_batch;

	if (why) {
		F.state = pr_conf.fence ? FS_UNAVAILABLE : FS_OFF;
		F.why = why;
		return;
	}
	/* The kernel's own check is the safer fence. */
	if (pr_advice_claims()) {
		F.state = FS_OFF;
		F.why = "the advice strategy reclaims (kernel MADV_RECLAIM_PT)";
		return;
	}
	/* Its decommits are exact; a fence would only fence what it missed. */
	if (pr_je_reclaims()) {
		F.state = FS_OFF;
		F.why = "the jemalloc adapter reclaims (jemalloc decommits)";
		return;
	}
	if (!pr_ready) {
		F.state = FS_UNAVAILABLE;
		F.why = "no ledger";
		return;
	}
	F.bases = pr_map(FENCE_COLLECT_MAX * 2 * sizeof(uint64_t));
	F.pm_buf = pr_map(batch * PR_PAGES_PER_PMD * 8);
	F.inuse = pr_map(batch * PR_BITMAP_WORDS * 8);
	F.ok = pr_map(batch);
	why = !F.bases || !F.pm_buf || !F.inuse || !F.ok ?
	      "could not map the fence's buffers" : open_all();
	/* Touched now, so that the fence's own first pass does not move
	 * VmPTE and RSS under the program's feet. */
	if (!why) {
		memset(F.pm_buf, 0, batch * PR_PAGES_PER_PMD * 8);
		memset(F.inuse, 0, batch * PR_BITMAP_WORDS * 8);
		memset(F.ok, 0, batch);
	}
	if (!why && start_thread())
		why = "could not start the fence thread";
	if (why) {
		close_all();
		F.state = FS_UNAVAILABLE;
		F.why = why;
		return;
	}
	F.state = FS_ACTIVE;
	__atomic_store_n(&F.live, 1, __ATOMIC_RELEASE);
	pthread_atfork(fence_prepare, fence_parent, fence_child);
}

/* At exit, before liburcu's destructor: no more ledger walks. */
void pr_fence_stop(void)
{
	if (!__atomic_load_n(&F.live, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&F.work);
	__atomic_store_n(&F.stopping, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&F.live, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&F.work);
	pr_fence_kick();
}

const char *pr_fence_mode(void)
{
	return F.state == FS_ACTIVE ? "fence" : "observe";
}

#define U(x) ((unsigned long long)(x))

void pr_fence_report(int fd)
{
	char buf[768];
	uint64_t w = S.windows ? S.windows : 1;

	if (F.state != FS_ACTIVE) {
		snprintf(buf, sizeof(buf), "ptreclaim: fence state=%s reason=\"%s\"\n",
			 F.state == FS_OFF ? "off" : "unavailable",
			 F.why ? F.why : "not started");
		pr_write_str(fd, buf);
		return;
	}
	snprintf(buf, sizeof(buf),
		 "ptreclaim: fence state=%s windows=%llu regions_fenced=%llu regions_zapped=%llu tables_freed=%llu skipped_not_empty=%llu waiting_lazy=%llu skipped_busy=%llu skipped_not_anon=%llu skipped_unmapped=%llu faults_in_window=%llu aborted=%llu contended=%llu\n",
		 __atomic_load_n(&F.stopping, __ATOMIC_RELAXED) ? "stopped" : "active",
		 U(S.windows), U(S.fenced), U(S.zapped),
		 U(S.vmpte_freed_kb / 4), U(S.not_empty), U(S.waiting),
		 U(S.busy), U(S.not_anon), U(S.unmapped), U(S.faults),
		 U(S.aborted), U(S.contended));
	pr_write_str(fd, buf);
	snprintf(buf, sizeof(buf),
		 "ptreclaim: fence window_us mean=%llu max=%llu passes=%llu cpu_ms=%llu vma_check=%s unmap_events=%s late_unmap=%llu forks=%llu%s%s%s\n",
		 U(S.win_ns_total / w / 1000), U(S.win_ns_max / 1000),
		 U(S.passes), U(S.cpu_ns / 1000000), F.procmap ? "procmap" : "register-only",
		 F.unmap_events ? "on" : "off", U(S.late_unmap), U(S.forks),
		 S.busy ? " note=\"regions registered with another userfaultfd (EBUSY) were left alone\"" : "",
		 S.last_err ? " last_errno=" : "",
		 S.last_err ? strerrorname_np(S.last_err) : "");
	pr_write_str(fd, buf);
}

/* ---- the public API ---- */

PR_EXPORT int ptreclaim_fence_stats(struct ptreclaim_fence_stats *out,
				    size_t size)
{
	struct ptreclaim_fence_stats st = {
		.state = (uint32_t)F.state,
		.windows = S.windows,
		.regions_fenced = S.fenced,
		.regions_zapped = S.zapped,
		.vmpte_freed_kb = S.vmpte_freed_kb,
		.skipped_not_empty = S.not_empty,
		.waiting_lazy = S.waiting,
		.skipped_busy = S.busy,
		.skipped_not_anon = S.not_anon,
		.skipped_unmapped = S.unmapped,
		.faults_in_window = S.faults,
		.aborted = S.aborted,
		.window_ns_max = S.win_ns_max,
		.window_ns_total = S.win_ns_total,
		.passes = S.passes,
		.cpu_ns = S.cpu_ns,
	};

	if (!out)
		return -1;
	memcpy(out, &st, size < sizeof(st) ? size : sizeof(st));
	return 0;
}

PR_EXPORT const char *ptreclaim_fence_reason(void)
{
	return F.state == FS_ACTIVE ? NULL : F.why;
}

PR_EXPORT int ptreclaim_fence_flush(unsigned timeout_ms)
{
	uint64_t req, deadline = pr_now_ns() + (uint64_t)timeout_ms * 1000000ULL;

	if (!__atomic_load_n(&F.live, __ATOMIC_RELAXED)) {
		errno = ENOTSUP;
		return -1;
	}
	req = __atomic_add_fetch(&F.flush_req, 1, __ATOMIC_SEQ_CST);
	pr_fence_kick();
	while (__atomic_load_n(&F.flush_done, __ATOMIC_SEQ_CST) < req) {
		if (pr_now_ns() > deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		sleep_ns(200000);
	}
	return 0;
}
