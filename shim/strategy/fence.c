/* SPDX-License-Identifier: MIT */
/*
 * fence.c - free the PTE tables of completed regions on a stock kernel,
 * safely, with a userfaultfd fence.
 *
 * A region is "completed" when the ledger saw all its 512 pages purged.
 * That alone does not make a whole-PMD MADV_DONTNEED safe: the allocator
 * may be reusing a page it purged, without a system call.  So, for a run
 * of adjacent regions that pagemap showed empty (worker.c), the fence:
 *
 *   1. registers the run with userfaultfd for missing-page faults: from
 *      then on no thread and no kernel access can populate a page in it
 *      (a fault blocks until step 4; kernel-mode accesses such as read(2)
 *      into the range block too, which is why user-mode-only userfaultfd
 *      is no fence: there they fail with EFAULT);
 *   2. checks that the VMAs are private anonymous (PROCMAP_QUERY) and reads
 *      /proc/self/pagemap again: a region with any entry present, swapped
 *      or otherwise non-empty is left alone and the ledger corrected;
 *   3. MADV_DONTNEEDs the regions that map nothing, whole and aligned, so
 *      the kernel (CONFIG_PT_RECLAIM) frees their tables and nothing else;
 *   4. unregisters, which wakes every thread that faulted meanwhile; they
 *      retry and get a fresh zero page as if nothing had happened.
 *
 * The VMA zapped must be the VMA verified.  Interposed munmap, mremap and
 * MAP_FIXED mmap over an open window wait for it to close (a Dekker-style
 * handshake with the window: fence_mm_begin), and with
 * UFFD_FEATURE_EVENT_UNMAP an unmap the shim did not see (a raw syscall)
 * aborts the window if its event arrives before the zap.  docs/fence.md
 * says what this does not cover.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "core.h"
#include "strategy.h"

#define CHANGER_SPINS	2000	/* then give the window up */

static struct {
	long uffd, maps;
	bool procmap;			/* PROCMAP_QUERY answers */
	bool unmap_events;		/* UFFD_FEATURE_EVENT_UNMAP on */
	/* the open window, and the calls that could change its VMAs */
	uintptr_t win_lo, win_hi;
	int changers;
	uint32_t win_seq;
	int win_waiters;
	/* buffers, from mmap */
	uint64_t *pm_buf;
	uint8_t *ok;
} fence = { .uffd = -1, .maps = -1 };

static struct {
	uint64_t windows, fenced, zapped;
	uint64_t busy, not_anon, unmapped, other_err;
	uint64_t faults, aborted, contended, late_unmap;
	uint64_t win_ns_total, win_ns_max;
	int last_err;
} fstats;

#define ADD(field, n) __atomic_fetch_add(&fstats.field, (n), __ATOMIC_RELAXED)

static long futex(uint32_t *addr, int op, uint32_t val, long timeout_ns)
{
	struct timespec ts = { timeout_ns / 1000000000L,
			       timeout_ns % 1000000000L };

	return pr_sys(SYS_futex, (long)addr, op, val,
		      timeout_ns ? (long)&ts : 0, 0, 0);
}

/* ---- the handshake with munmap, mremap and MAP_FIXED mmap ---- */

static bool fence_mm_begin(uintptr_t lo, uintptr_t hi)
{
	if (!pr_worker_live())
		return false;
	if (hi <= lo)
		hi = UINTPTR_MAX;
	for (;;) {
		uint32_t seq;
		uintptr_t wl, wh;

		__atomic_fetch_add(&fence.changers, 1, __ATOMIC_SEQ_CST);
		seq = __atomic_load_n(&fence.win_seq, __ATOMIC_SEQ_CST);
		wl = __atomic_load_n(&fence.win_lo, __ATOMIC_SEQ_CST);
		wh = __atomic_load_n(&fence.win_hi, __ATOMIC_SEQ_CST);
		if (!wh || !(wl < hi && lo < wh))
			return true;
		/* The window covers us: step back and wait for it to close
		 * (bounded: a window is a few system calls). */
		__atomic_fetch_sub(&fence.changers, 1, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&fence.win_waiters, 1, __ATOMIC_SEQ_CST);
		futex(&fence.win_seq, FUTEX_WAIT_PRIVATE, seq, 10000000);
		__atomic_fetch_sub(&fence.win_waiters, 1, __ATOMIC_SEQ_CST);
	}
}

static void fence_mm_end(bool token)
{
	if (token)
		__atomic_fetch_sub(&fence.changers, 1, __ATOMIC_SEQ_CST);
}

/* ---- userfaultfd events ---- */

/* One window: regions [k0, k0 + n) of a worker's run. */
struct window {
	struct pr_run *rn;
	unsigned k0, n;
	uintptr_t lo, hi;
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

	if (pr_sys(SYS_ioctl, fence.uffd, UFFDIO_ZEROPAGE, (long)&zp, 0, 0, 0) < 0)
		pr_sys(SYS_ioctl, fence.uffd, UFFDIO_WAKE, (long)&wake, 0, 0, 0);
}

/* A fault inside the window: left blocked (the unregister wakes it), its
 * page marked in use and its region dropped from the zap. */
static void window_fault(struct window *w, uintptr_t a)
{
	unsigned k = (unsigned)((a - w->lo) >> PR_PMD_SHIFT);
	unsigned pg = (unsigned)((a >> PR_PAGE_SHIFT) & (PR_PAGES_PER_PMD - 1));

	fence.ok[k] = 0;
	w->rn->inuse[w->k0 + k][pg / 64] |= 1ULL << (pg % 64);
}

static void one_event(struct window *w, const struct uffd_msg *m)
{
	uintptr_t a, b;

	switch (m->event) {
	case UFFD_EVENT_PAGEFAULT:
		a = (uintptr_t)m->arg.pagefault.address;
		ADD(faults, 1);
		if (w && a >= w->lo && a < w->hi)
			window_fault(w, a);
		else if (!w)
			serve_stray_fault(a);
		break;
	case UFFD_EVENT_UNMAP:
	case UFFD_EVENT_REMOVE:
		a = (uintptr_t)m->arg.remove.start;
		b = (uintptr_t)m->arg.remove.end;
		if (w && a < w->hi && w->lo < b) {
			if (w->zapped_any)
				ADD(late_unmap, 1);
			w->abort = true;
		}
		break;
	default:
		break;
	}
}

/* Read what the userfaultfd has (w: the open window, or NULL). */
static void drain(struct window *w)
{
	struct uffd_msg msg[16];

	for (;;) {
		long r = pr_sys(SYS_read, fence.uffd, (long)msg, sizeof(msg), 0, 0,
				0);

		if (r <= 0)
			return;
		for (long i = 0; i < r / (long)sizeof(msg[0]); i++)
			one_event(w, &msg[i]);
	}
}

static void drain_idle(void)
{
	drain(NULL);
}

/* ---- windows ---- */

static bool window_open(uintptr_t lo, uintptr_t hi)
{
	__atomic_store_n(&fence.win_lo, lo, __ATOMIC_SEQ_CST);
	__atomic_store_n(&fence.win_hi, hi, __ATOMIC_SEQ_CST);
	for (unsigned spins = 0;
	     __atomic_load_n(&fence.changers, __ATOMIC_SEQ_CST); spins++) {
		if (spins >= CHANGER_SPINS)
			return false;
		/* A raw munmap may be waiting for us to read its event. */
		drain(NULL);
		if (spins < 100)
			pr_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
		else
			pr_sleep_ns(10000);
	}
	return true;
}

static void window_close(void)
{
	__atomic_store_n(&fence.win_hi, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&fence.win_lo, 0, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&fence.win_seq, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&fence.win_waiters, __ATOMIC_SEQ_CST))
		futex(&fence.win_seq, FUTEX_WAKE_PRIVATE, INT_MAX, 0);
}

static long uffd_range(unsigned long op, uintptr_t lo, uintptr_t hi)
{
	struct uffdio_register reg = {
		.range = { .start = lo, .len = hi - lo },
		.mode = UFFDIO_REGISTER_MODE_MISSING };

	if (op == UFFDIO_REGISTER)
		return pr_sys(SYS_ioctl, fence.uffd, (long)op, (long)&reg, 0, 0, 0);
	return pr_sys(SYS_ioctl, fence.uffd, (long)op, (long)&reg.range, 0, 0, 0);
}

static void fence_span(struct pr_run *rn, unsigned k0, unsigned n);

/* A run that failed as a whole: one region at a time. */
static void fence_each(struct pr_run *rn, unsigned k0, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		fence_span(rn, k0 + i, 1);
}

/* Registration failed for one region: whose is it? */
static void register_failed(struct window *w, long r)
{
	fstats.last_err = (int)-r;
	if (r == -EBUSY)
		ADD(busy, 1);	/* someone else's userfaultfd: theirs */
	else if (r == -EINVAL)
		ADD(not_anon, 1);
	else if (r == -ENOMEM)
		ADD(unmapped, 1);
	else
		ADD(other_err, 1);
	/* Forget it until a purge brings it back. */
	pr_ledger_drop(w->lo, w->hi);
	w->rn->out[w->k0] = PR_OUT_DONE;
}

/* Step 2: which regions of the fenced window map nothing. */
static void window_check(struct window *w, enum pr_vma_kind kind)
{
	size_t pm_bytes = (size_t)w->n * PR_PAGES_PER_PMD * 8;

	memset(fence.ok, kind == PR_VMA_PRIVATE_ANON || kind == PR_VMA_UNKNOWN,
	       w->n);
	for (unsigned k = 0; k < w->n; k++)
		memset(w->rn->inuse[w->k0 + k], 0, PR_BITMAP_WORDS * 8);
	if (kind != PR_VMA_PRIVATE_ANON && kind != PR_VMA_UNKNOWN)
		return;
	if (!pr_worker_pagemap(w->lo, fence.pm_buf, pm_bytes / 8)) {
		memset(fence.ok, 0, w->n);
		w->abort = true;
		return;
	}
	for (unsigned k = 0; k < w->n; k++)
		if (pr_pagemap_in_use(fence.pm_buf + (size_t)k * PR_PAGES_PER_PMD,
				      w->rn->inuse[w->k0 + k]))
			fence.ok[k] = 0;
}

/* Step 3: zap each stretch of adjacent empty regions in one call. */
static void window_zap(struct window *w)
{
	for (unsigned k = 0; k < w->n && !w->abort;) {
		unsigned j = k;
		long r;

		if (!fence.ok[k]) {
			k++;
			continue;
		}
		while (j < w->n && fence.ok[j])
			j++;
		r = pr_sys(SYS_madvise, (long)(w->lo + (uintptr_t)k * PR_PMD_SIZE),
			   (long)((uintptr_t)(j - k) * PR_PMD_SIZE),
			   MADV_DONTNEED, 0, 0, 0);
		for (; k < j; k++) {
			if (r) {
				fence.ok[k] = 0;
				continue;
			}
			w->zapped_any = true;
			ADD(zapped, 1);
			/* Before the unregister: nothing can have faulted a
			 * page in yet. */
			pr_ledger_zapped(w->lo + (uintptr_t)k * PR_PMD_SIZE);
			w->rn->out[w->k0 + k] = PR_OUT_DONE;
		}
	}
}

/* Step 4, and the window's statistics. */
static void window_end(struct window *w, uint64_t t0)
{
	long r = uffd_range(UFFDIO_UNREGISTER, w->lo, w->hi);
	uint64_t dt;

	if (r < 0) {
		/* Never leave a faulter asleep: wake the range, and keep
		 * serving strays with the zero page. */
		uffd_range(UFFDIO_WAKE, w->lo, w->hi);
		fstats.last_err = (int)-r;
	}
	window_close();
	dt = pr_now_ns() - t0;
	drain(w);
	ADD(windows, 1);
	ADD(fenced, w->n);
	ADD(win_ns_total, dt);
	if (dt > fstats.win_ns_max)
		fstats.win_ns_max = dt;
}

/* What the worker learns: regions found in use go back as mapped. */
static void window_settle(struct window *w, enum pr_vma_kind kind)
{
	if (kind == PR_VMA_OTHER || kind == PR_VMA_HOLE) {
		if (kind == PR_VMA_OTHER)
			ADD(not_anon, w->n);
		else
			ADD(unmapped, w->n);
		/* Only unmapping can free its table: forget it. */
		pr_ledger_drop(w->lo, w->hi);
		memset(w->rn->out + w->k0, PR_OUT_DONE, w->n);
		return;
	}
	if (w->abort)
		ADD(aborted, 1);
	for (unsigned k = 0; k < w->n; k++) {
		unsigned i = w->k0 + k;

		if ((!fence.ok[k] || w->abort) && w->rn->out[i] != PR_OUT_DONE &&
		    !pr_bitmap_empty(w->rn->inuse[i]))
			w->rn->out[i] = PR_OUT_MAPPED;
	}
}

/* One window over regions [k0, k0 + n) of the run. */
static void fence_span(struct pr_run *rn, unsigned k0, unsigned n)
{
	struct window w = { .rn = rn, .k0 = k0, .n = n,
			    .lo = rn->lo + (uintptr_t)k0 * PR_PMD_SIZE };
	enum pr_vma_kind kind;
	uint64_t t0 = pr_now_ns();
	long r;

	w.hi = w.lo + (uintptr_t)n * PR_PMD_SIZE;
	if (!window_open(w.lo, w.hi)) {
		window_close();
		ADD(contended, n);
		return;
	}
	r = uffd_range(UFFDIO_REGISTER, w.lo, w.hi);
	if (r < 0) {
		window_close();
		if (n > 1)
			fence_each(rn, k0, n);
		else
			register_failed(&w, r);
		return;
	}
	kind = fence.procmap ? pr_vma_kind(fence.maps, w.lo, w.hi) : PR_VMA_UNKNOWN;
	if ((kind == PR_VMA_OTHER || kind == PR_VMA_HOLE) && n > 1) {
		/* Some region of the run is not for us: find out which. */
		uffd_range(UFFDIO_UNREGISTER, w.lo, w.hi);
		window_close();
		fence_each(rn, k0, n);
		return;
	}
	window_check(&w, kind);
	/* Faults and unmaps that came in while we looked. */
	drain(&w);
	window_zap(&w);
	window_end(&w, t0);
	window_settle(&w, kind);
}

static void fence_run(struct pr_run *rn)
{
	fence_span(rn, 0, rn->n);
}

/* ---- this process's descriptors and buffers ---- */

static void fence_close(void)
{
	pr_close(&fence.uffd);
	pr_close(&fence.maps);
}

static const char *fence_open(void)
{
	struct uffdio_api api = { .api = UFFD_API };

	fence.uffd = pr_uffd_open();
	if (fence.uffd < 0)
		return "could not open a userfaultfd";
	if (pr_caps.uffd_features & UFFD_FEATURE_EVENT_UNMAP)
		api.features = UFFD_FEATURE_EVENT_UNMAP;
	if (pr_sys(SYS_ioctl, fence.uffd, UFFDIO_API, (long)&api, 0, 0, 0) < 0)
		return "UFFDIO_API failed";
	fence.unmap_events = api.features & UFFD_FEATURE_EVENT_UNMAP;
	fence.maps = pr_open_ro("/proc/self/maps");
	fence.procmap = pr_vma_query_works(fence.maps);
	return NULL;
}

/* The child: no window is open there, whatever the parent had. */
static void fence_fork_child(void)
{
	fence.changers = 0;
	fence.win_lo = fence.win_hi = 0;
	fence.win_waiters = 0;
}

static long fence_wake_fd(void)
{
	return fence.uffd;
}

static struct pr_worker_ops worker_ops = {
	.thread_name = "ptreclaim-fence",
	.scan_partial = true,
	.open = fence_open,
	.close = fence_close,
	.fork_child = fence_fork_child,
	.run = fence_run,
	.wake_fd = fence_wake_fd,
	.wants = pr_fence_scope_owns,
	.on_wake = drain_idle,
};

static const char *fence_start(void)
{
	size_t batch = pr_conf.fence_batch > PR_RUN_MAX ? PR_RUN_MAX :
		       pr_conf.fence_batch;

	worker_ops.batch = (unsigned)batch;
	worker_ops.rate = pr_conf.fence_rate;
	worker_ops.delay_ms = pr_conf.fence_delay_ms;
	fence.pm_buf = pr_map(batch * PR_PAGES_PER_PMD * 8);
	fence.ok = pr_map(batch);
	if (!fence.pm_buf || !fence.ok)
		return "could not map the fence's buffers";
	/* Touched now, so that the fence's own first window does not move
	 * VmPTE and RSS under the program's feet. */
	memset(fence.pm_buf, 0, batch * PR_PAGES_PER_PMD * 8);
	memset(fence.ok, 0, batch);
	if (!pr_conf.fence_all)
		pr_fence_scope_start();
	return pr_worker_start(&worker_ops);
}

/* ---- the report and the public API ---- */

static void fence_report(int fd, enum pr_strategy_state st, const char *why)
{
	struct pr_worker_stats w;
	uint64_t nw = fstats.windows ? fstats.windows : 1;
	char buf[768];

	(void)st;
	(void)why;
	pr_worker_stats(&w);
	snprintf(buf, sizeof(buf),
		 "ptreclaim: fence state=%s windows=%llu regions_fenced=%llu regions_zapped=%llu tables_freed=%llu skipped_not_empty=%llu waiting_lazy=%llu skipped_busy=%llu skipped_not_anon=%llu skipped_unmapped=%llu faults_in_window=%llu aborted=%llu contended=%llu\n",
		 pr_worker_stopping() ? "stopped" : "active",
		 PR_U(fstats.windows), PR_U(fstats.fenced), PR_U(fstats.zapped),
		 PR_U(w.vmpte_freed_kb / 4), PR_U(w.not_empty), PR_U(w.waiting),
		 PR_U(fstats.busy), PR_U(fstats.not_anon), PR_U(fstats.unmapped),
		 PR_U(fstats.faults), PR_U(fstats.aborted), PR_U(fstats.contended));
	pr_write_str(fd, buf);
	snprintf(buf, sizeof(buf),
		 "ptreclaim: fence window_us mean=%llu max=%llu passes=%llu cpu_ms=%llu vma_check=%s unmap_events=%s late_unmap=%llu forks=%llu%s%s%s\n",
		 PR_U(fstats.win_ns_total / nw / 1000), PR_U(fstats.win_ns_max / 1000),
		 PR_U(w.passes), PR_U(w.cpu_ns / 1000000),
		 fence.procmap ? "procmap" : "register-only",
		 fence.unmap_events ? "on" : "off", PR_U(fstats.late_unmap),
		 PR_U(w.forks),
		 fstats.busy ? " note=\"regions registered with another userfaultfd (EBUSY) were left alone\"" : "",
		 fstats.last_err ? " last_errno=" : "",
		 fstats.last_err ? strerrorname_np(fstats.last_err) : "");
	pr_write_str(fd, buf);
}

const struct pr_strategy_ops pr_fence_ops = {
	.start = fence_start,
	.stop = pr_worker_stop,
	.label = "fence",
	.report = fence_report,
	.mm_begin = fence_mm_begin,
	.mm_end = fence_mm_end,
	.uses_worker = true,
};

void pr_fence_stats(struct ptreclaim_fence_stats *st)
{
	struct pr_worker_stats w;

	pr_worker_stats(&w);
	*st = (struct ptreclaim_fence_stats){
		.windows = fstats.windows,
		.regions_fenced = fstats.fenced,
		.regions_zapped = fstats.zapped,
		.vmpte_freed_kb = w.vmpte_freed_kb,
		.skipped_not_empty = w.not_empty,
		.waiting_lazy = w.waiting,
		.skipped_busy = fstats.busy,
		.skipped_not_anon = fstats.not_anon,
		.skipped_unmapped = fstats.unmapped,
		.faults_in_window = fstats.faults,
		.aborted = fstats.aborted,
		.window_ns_max = fstats.win_ns_max,
		.window_ns_total = fstats.win_ns_total,
		.passes = w.passes,
		.cpu_ns = w.cpu_ns,
	};
}

/* For the stats page (core/publish.c): read in place from outside. */
const uint64_t *pr_fence_errors_addr(void)
{
	return &fstats.other_err;
}
