/* SPDX-License-Identifier: MIT */
/*
 * hint.c - huge-region hinting: steer the memory an allocator is filling
 * to large anon folios (PMD THP, and the mTHP sizes set to inherit or
 * madvise), and stop once it starts carving it up.  docs/hinting.md has
 * the measurements behind each rule.
 *
 * A region is one private read-write anonymous mapping of hint_min (8 MiB)
 * or more that the allocator (the object that provides malloc) made
 * through our mmap; the program's own large mappings, often sparse
 * tables, stay as they are.  The brk heap is left alone: it grows in steps
 * (gperftools: 1 MiB) that never put a whole aligned 2 MiB into the VMA
 * before it is touched, so no fault would get a huge page.
 *  - It is hinted once, whole, when it appears (MADV_HUGEPAGE): new memory
 *    is about to be filled, and a whole-mapping hint leaves the allocator's
 *    adjacent mappings mergeable into one VMA.
 *  - Once purges inside it that are not whole aligned 2 MiB blocks add up
 *    to 1/32 of it (2 MiB at least), the allocator is carving it: each such
 *    purge splits a huge page, a re-fault of a purged 2 MiB maps a whole
 *    one again and khugepaged fills sparse ones back in.  It then gets
 *    MADV_NOHUGEPAGE, once, whole, and is never hinted again.
 *  - A zap inside a region that cuts a huge page gets the folio split
 *    (hint_split.c), so what it held is freed and what nobody wrote maps
 *    the zero page.
 *  - hint_align: a large mapping the kernel placed off a 2 MiB boundary,
 *    next to no region of ours, is placed on one (same length and flags).
 *  - hint:auto stays idle where a virtio balloon reports free pages to
 *    the host: huge-page faults meet the memory it handed back first.
 * The table is fixed (PR_HINT_MAX regions), so hinting adds at most two
 * VMA boundaries per region.  Nothing here allocates.
 *
 * No locks (issue 12).  These calls run inside the allocator's madvise,
 * mmap and munmap, with its locks held, so nothing here spins on another
 * thread or makes a system call while others wait on it:
 *  - Each slot has one state word, gen << 3 | R_*: a slot is claimed with
 *    a CAS (FREE -> CLAIMING, ours alone while we fill it), published
 *    (-> HINTED), stopped by the one thread whose CAS wins (-> STOPPING ->
 *    STOPPED) and freed (-> FREE).  gen changes with every claim and free,
 *    so a thread holding a stale word can never move a slot that has
 *    since become another region.
 *  - A live slot's range only shrinks (start rises, end falls, each with a
 *    CAS): concurrent cuts compose, and a stale or torn read can only make
 *    a region smaller than its mapping, never larger.  A lookup that reads
 *    a slot while it changes costs at most a fine count in the wrong place
 *    or a MADV_COLD probe, which changes no data (hint_split.c).
 *  - MADV_HUGEPAGE is issued only by the thread that mapped the region,
 *    before mmap returns it; MADV_NOHUGEPAGE only by the thread that won
 *    the region's HINTED -> STOPPING CAS and the stop gate (stop()), with
 *    no unmap in flight: see the gate below.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core.h"
#include "hint.h"

#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#define MADV_NOHUGEPAGE 15
#endif

#define PR_HINT_MAX 256
#define PMD_MASK_LOW (PR_PMD_SIZE - 1)

enum { R_FREE, R_CLAIMING, R_HINTED, R_STOPPING, R_STOPPED };
#define ST_MASK 7u
#define GEN_ONE 8u		/* the state word is gen << 3 | R_* */

struct hint_region {
	uint32_t state;		/* gen << 3 | R_*: claimed, stopped by CAS */
	uintptr_t start, end;	/* only shrink while the slot is live */
	uint64_t fine;		/* bytes of fine purges since hinted */
};

static struct hint_region regs[PR_HINT_MAX];
static unsigned nr_regs;	/* slots ever used: scans stop here */
/* Every region ever registered lies in [span_lo, span_hi): a purge or an
 * unmap outside it costs two loads. */
static uintptr_t span_lo = UINTPTR_MAX, span_hi;
static bool active;		/* hinting on and it enables some size */
static const char *why_idle = "hint:off";

/*
 * The stop gate.  MADV_NOHUGEPAGE over a range that was unmapped and
 * mapped again meanwhile would set a flag on somebody else's mapping (a
 * thread stack glibc mapped, a JIT's or a program's own MADV_HUGEPAGE
 * region): a visible change to memory that is not the allocator's, so a
 * stop must not overlap an unmap.  A Dekker pair: unmapping calls count
 * themselves in mm_busy and then look at gate; a stopper takes gate (CAS
 * 0 -> its tid) and then looks at mm_busy, stepping back if it is set.
 * Stoppers never wait: with an unmap in flight, or another stop holding
 * the gate, the stop is put off to the region's next fine purge
 * (stop_deferred).  An unmapping call that finds the gate taken sleeps
 * on the futex until that one madvise is done (wait_stop()); the gate is
 * never held over anything else, and its holder cannot be interrupted
 * (stop()).  Every earlier unmap's cut is done before mm_busy reads 0,
 * so the stopper reads a range that is still all the region's.
 */
static int mm_busy, gate, stop_waiters;
/* Cuts begun and ended: a cut that splits a region checks that no other
 * cut ran beside it (cut_split()). */
static uint64_t cut_in, cut_out;

static struct pr_hint_stats st;
/* The loaded object that provides malloc: its mmap calls come from here. */
static uintptr_t alloc_lo, alloc_hi;

/* THP and mTHP settings, read once at start. */
static struct pr_thp thp;
static bool thp_read;
static long stat0[PR_MAX_MTHP][PR_HINT_NR_STATS];

const char *const pr_hint_stat_names[PR_HINT_NR_STATS] = {
	"anon_fault_alloc", "anon_fault_fallback", "split_deferred", "split" };
/* Set while this thread holds the stop gate: a signal handler that maps
 * or purges memory then passes through instead of waiting on us.  (The
 * stop also blocks signals; this stays as the second guard.) */
static __thread int in_hint __attribute__((tls_model("initial-exec")));

#define CNT(f, n) __atomic_fetch_add(&st.f, (n), __ATOMIC_RELAXED)
#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define SC __ATOMIC_SEQ_CST

static long advise(uintptr_t start, uintptr_t end, int advice)
{
	return pr_sys(SYS_madvise, (long)start, (long)(end - start), advice,
		      0, 0, 0);
}

/* Would MADV_HUGEPAGE turn on a folio size that is off without it? */
static const char *size_mode(const char *enabled)
{
	if (!strcmp(enabled, "inherit"))
		enabled = thp.enabled;
	return !strcmp(enabled, "madvise") ? "hinted" :
	       !strcmp(enabled, "always") ? "always" : "off";
}

static bool hint_enables_something(void)
{
	if (!thp.nr_mthp)	/* before 6.8: one switch, for PMD size */
		return !strcmp(thp.enabled, "madvise");
	for (unsigned i = 0; i < thp.nr_mthp; i++)
		if (!strcmp(size_mode(thp.mthp[i].enabled), "hinted"))
			return true;
	return false;
}

static bool from_allocator(const void *caller)
{
	return pr_conf.hint_all ||
	       ((uintptr_t)caller >= alloc_lo && (uintptr_t)caller < alloc_hi);
}

/* Set up at the first mapping hinting could act on (want_setup()). */
enum { SETUP_NONE, SETUP_WANTED, SETUP_RUNNING, SETUP_DONE };
static int setup_state;

static void start_counters(void);
static bool counted;		/* stat0 holds this process's start values */

/*
 * The THP and mTHP settings, the balloon and the start counters: about
 * fifty sysfs reads, made once, at the first mapping hinting could act
 * on (an allocator's anonymous mapping of hint_min or more), not at exec:
 * most processes never make one.  This runs inside that mmap, with the
 * allocator's locks perhaps held: raw system calls into stack buffers.
 */
static void setup(void)
{
	pr_sysfs_thp(&thp);
	thp_read = true;
	if (pr_conf.hint == PR_HINT_AUTO && pr_sysfs_free_page_reporting()) {
		why_idle = "a virtio balloon hands free memory to the host: heap growth after a quiet spell measured 2.4-7.8x slower with huge pages (docs/hinting.md); hint:on hints anyway";
		return;
	}
	if (!hint_enables_something()) {
		why_idle = "no folio size is enabled by madvise (THP and mTHP settings)";
		return;
	}
	if (!alloc_hi && !pr_conf.hint_all) {
		why_idle = "could not find the object that provides malloc";
		return;
	}
	start_counters();
	why_idle = NULL;
	__atomic_store_n(&active, true, __ATOMIC_RELEASE);
}

/* The constructor's part: which object's mmaps count (a symbol lookup,
 * no system call); the rest waits for a mapping (setup()). */
void pr_hint_init(void)
{
	if (pr_conf.hint == PR_HINT_OFF)
		return;
	pr_malloc_object(&alloc_lo, &alloc_hi);
	why_idle = "not started: no mapping of hint_min or more from the allocator yet";
	__atomic_store_n(&setup_state, SETUP_WANTED, __ATOMIC_RELEASE);
}

/* A mapping hinting could act on: set up now, once.  A thread that finds
 * another setting up passes this mapping by. */
static void want_setup(void)
{
	int w = SETUP_WANTED;

	if (__atomic_load_n(&setup_state, __ATOMIC_ACQUIRE) == SETUP_WANTED &&
	    __atomic_compare_exchange_n(&setup_state, &w, SETUP_RUNNING, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		setup();
		__atomic_store_n(&setup_state, SETUP_DONE, __ATOMIC_RELEASE);
	}
}

/*
 * A seccomp filter is now in place (core/sandbox.c): hinting makes no
 * more calls of its own (a stop's gettid and rt_sigprocmask may not be in
 * the program's list).  Regions already hinted keep their flag.
 */
void pr_hint_filtered(void)
{
	int w = SETUP_WANTED;

	/* Not set up yet: never, now (its reads may not be allowed). */
	if (__atomic_compare_exchange_n(&setup_state, &w, SETUP_DONE, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		why_idle = "a seccomp filter was installed: hinting makes no more calls";
	if (__atomic_exchange_n(&active, false, __ATOMIC_ACQ_REL))
		why_idle = "a seccomp filter was installed: hinting makes no more calls";
}

/* Hinting will not start here, and why (pr_hint_init not called). */
void pr_hint_idle_because(const char *why)
{
	if (pr_conf.hint != PR_HINT_OFF)
		why_idle = why;
}

/*
 * The mTHP counters the report compares with: system-wide and since boot,
 * so the report shows what changed from here.  Four files per size: read
 * at set-up, not at exec.
 */
static void start_counters(void)
{
	if (!thp_read)
		return;
	counted = true;
	for (unsigned i = 0; i < thp.nr_mthp; i++)
		for (int k = 0; k < PR_HINT_NR_STATS; k++)
			stat0[i][k] = pr_sysfs_thp_stat(thp.mthp[i].kb,
							pr_hint_stat_names[k]);
}

/* --- the region table --- */

static unsigned state_of(uint32_t w)
{
	return w & ST_MASK;
}

static bool live(uint32_t w)
{
	return state_of(w) >= R_HINTED;
}

static uint32_t load_state(struct hint_region *r)
{
	return __atomic_load_n(&r->state, SC);
}

/* w (as read) -> the same gen, state s; false if the word moved on. */
static bool move(struct hint_region *r, uint32_t w, unsigned s)
{
	return __atomic_compare_exchange_n(&r->state, &w, (w & ~ST_MASK) | s,
					   false, SC, __ATOMIC_RELAXED);
}

/* w -> FREE under a new gen: the slot is no longer that region. */
static bool release_slot(struct hint_region *r, uint32_t w)
{
	return __atomic_compare_exchange_n(&r->state, &w,
					   ((w & ~ST_MASK) + GEN_ONE) | R_FREE,
					   false, SC, __ATOMIC_RELAXED);
}

static unsigned nr_slots(void)
{
	return __atomic_load_n(&nr_regs, __ATOMIC_ACQUIRE);
}

/* Lock-free monotone updates: *p only ever rises (max) or falls (min). */
static void raise_to(uintptr_t *p, uintptr_t v)
{
	uintptr_t cur = LD(p);

	while (cur < v && !__atomic_compare_exchange_n(p, &cur, v, true,
						       SC, __ATOMIC_RELAXED))
		;
}

static void lower_to(uintptr_t *p, uintptr_t v)
{
	uintptr_t cur = LD(p);

	while (cur > v && !__atomic_compare_exchange_n(p, &cur, v, true,
						       SC, __ATOMIC_RELAXED))
		;
}

/*
 * A FREE slot, made CLAIMING under a new gen (ours alone until
 * published), or -1 when the table is full.  One pass, lowest index
 * first: a CAS lost means another thread took that slot.
 */
static int claim(void)
{
	for (int i = 0; i < PR_HINT_MAX; i++) {
		struct hint_region *r = &regs[i];
		uint32_t w = load_state(r);

		if (state_of(w) == R_FREE &&
		    __atomic_compare_exchange_n(&r->state, &w,
						((w & ~ST_MASK) + GEN_ONE) |
						R_CLAIMING, false, SC,
						__ATOMIC_RELAXED))
			return i;
	}
	return -1;
}

/* Scans reach slot i from now on. */
static void cover(int i)
{
	unsigned n = nr_slots();

	while (n < (unsigned)i + 1 &&
	       !__atomic_compare_exchange_n(&nr_regs, &n, (unsigned)i + 1, true,
					    SC, __ATOMIC_ACQUIRE))
		;
}

/* A claimed slot gets its range and becomes live (HINTED or STOPPED):
 * range, span and slot count first, the state last, so a reader that
 * sees the state sees the rest.  Returns the state word. */
static uint32_t publish(int i, uintptr_t start, uintptr_t end,
			uint64_t fine, unsigned s)
{
	struct hint_region *r = &regs[i];
	uint32_t w;

	__atomic_store_n(&r->start, start, __ATOMIC_RELAXED);
	__atomic_store_n(&r->end, end, __ATOMIC_RELAXED);
	__atomic_store_n(&r->fine, fine, __ATOMIC_RELAXED);
	lower_to(&span_lo, start);
	raise_to(&span_hi, end);
	cover(i);
	/* Nobody else moves a CLAIMING slot: a stale word's CAS fails. */
	w = (load_state(r) & ~ST_MASK) | s;
	__atomic_store_n(&r->state, w, SC);
	return w;
}

/* Could [start, end) hold a region?  Two loads. */
static bool in_span(uintptr_t start, uintptr_t end)
{
	return end > LD(&span_lo) && start < LD(&span_hi);
}

/* What the report shows. */
void pr_hint_view(struct pr_hint_view *v)
{
	unsigned n = 0, s = 0, nr = nr_slots();

	for (unsigned i = 0; i < nr; i++) {
		uint32_t w = load_state(&regs[i]);

		n += live(w);
		s += state_of(w) == R_STOPPED;
	}
	v->st = st;
	v->idle = why_idle;
	v->regions = n;
	v->stopped_now = s;
	v->thp = thp_read ? &thp : NULL;
	/* Deltas only from counters this process read at set-up. */
	v->stat0 = counted ? (const long (*)[PR_HINT_NR_STATS])stat0 : NULL;
}

static bool on(void)
{
	return __atomic_load_n(&active, __ATOMIC_ACQUIRE) && !pr_busy &&
	       !in_hint;
}

/* The live slot holding addr, its state word in *w; -1: none. */
static int find(uintptr_t addr, uint32_t *w)
{
	unsigned nr = nr_slots();

	for (unsigned i = 0; i < nr; i++) {
		struct hint_region *r = &regs[i];

		*w = load_state(r);
		if (live(*w) && addr >= LD(&r->start) && addr < LD(&r->end))
			return (int)i;
	}
	return -1;
}

/* Does [start, end) touch a region of ours at either end? */
static bool next_to_region(uintptr_t start, uintptr_t end)
{
	unsigned nr = nr_slots();

	for (unsigned i = 0; i < nr; i++) {
		struct hint_region *r = &regs[i];

		if (live(load_state(r)) &&
		    (LD(&r->end) == start || LD(&r->start) == end))
			return true;
	}
	return false;
}

static bool eligible(size_t len, int prot, int flags)
{
	return (flags & MAP_TYPE) == MAP_PRIVATE && (flags & MAP_ANONYMOUS) &&
	       !(flags & ~(MAP_TYPE | MAP_ANONYMOUS | MAP_NORESERVE)) &&
	       prot == (PROT_READ | PROT_WRITE) && pr_page_up(len) >= pr_conf.hint_min;
}

/*
 * The same request, over-sized by 2 MiB and trimmed to a 2 MiB boundary;
 * the kernel's first answer is given back.  If the larger request fails,
 * the caller keeps the kernel's first answer.
 */
static long realign(long r, size_t len, int flags)
{
	size_t big = len + PR_PMD_SIZE - PR_PAGE_SIZE;
	long m = pr_sys(SYS_mmap, 0, (long)big, PROT_READ | PROT_WRITE, flags,
			-1, 0);
	uintptr_t a;

	if (m < 0 && m > -4096) {
		CNT(align_failed, 1);
		return r;
	}
	a = ((uintptr_t)m + PMD_MASK_LOW) & ~PMD_MASK_LOW;
	if (a > (uintptr_t)m)
		pr_unmap((void *)m, a - (uintptr_t)m);
	if (a + len < (uintptr_t)m + big)
		pr_unmap((void *)(a + len), (uintptr_t)m + big - a - len);
	pr_unmap((void *)r, len);
	CNT(aligned, 1);
	return (long)a;
}

long pr_hint_place(long addr, size_t len, int prot, int flags, int fd,
		   long off, long r, const void *caller)
{
	size_t plen = pr_page_up(len);

	if (!pr_busy && from_allocator(caller) && eligible(len, prot, flags))
		want_setup();
	if (!on() || !from_allocator(caller) || !pr_conf.hint_align || addr ||
	    fd != -1 || off ||
	    !eligible(len, prot, flags) || !(r & (long)PMD_MASK_LOW) ||
	    next_to_region((uintptr_t)r, (uintptr_t)r + plen))
		return r;
	/* With the caller's flags: the trimmed VMA is accounted (or not,
	 * MAP_NORESERVE) as the caller's own would have been. */
	return realign(r, plen, flags);
}

/* Register [start, end) and apply its hint.  The mapping is not the
 * allocator's yet (mmap has not returned it), so nobody purges or unmaps
 * it before the hint. */
static void hint_new(uintptr_t start, uintptr_t end)
{
	int i = claim();

	if (i < 0) {
		CNT(table_full, 1);
		return;
	}
	publish(i, start, end, 0, R_HINTED);
	if (advise(start, end, MADV_HUGEPAGE) < 0)
		CNT(failed, 1);
	CNT(hinted, 1);
	CNT(hinted_bytes, end - start);
}

void pr_hint_mapped(long r, size_t len, int prot, int flags,
		    const void *caller)
{
	uintptr_t start = (uintptr_t)r, end = start + pr_page_up(len);

	if (!on() || !from_allocator(caller) || !eligible(len, prot, flags))
		return;
	/* No whole aligned 2 MiB inside: nothing a PMD folio could use. */
	if (((start + PMD_MASK_LOW) & ~PMD_MASK_LOW) + PR_PMD_SIZE > end)
		return;
	hint_new(start, end);
}

/* --- the stop and its gate --- */

static long futex(int *word, int op, int val, const struct timespec *ts)
{
	return pr_sys(SYS_futex, (long)word, op, val, (long)ts, 0, 0);
}

/* Open the gate held by tid; wake unmapping calls waiting on it. */
static void gate_open(int tid)
{
	if (__atomic_compare_exchange_n(&gate, &tid, 0, false, SC,
					__ATOMIC_RELAXED) &&
	    __atomic_load_n(&stop_waiters, SC))
		futex(&gate, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

/* Take the gate, then look for an unmap in flight (the Dekker pair with
 * pr_hint_mm_begin()): false, and the gate open again, if there is one
 * or another stop holds the gate. */
static bool gate_take(int tid)
{
	int none = 0;

	if (!__atomic_compare_exchange_n(&gate, &none, tid, false, SC,
					 __ATOMIC_RELAXED))
		return false;
	if (__atomic_load_n(&mm_busy, SC)) {
		gate_open(tid);
		return false;
	}
	return true;
}

/* The region at slot i, read as w (HINTED), gets MADV_NOHUGEPAGE, whole,
 * by this thread alone.  Call with the gate held. */
static void stop_region(struct hint_region *r, uint32_t w)
{
	uintptr_t start, end;

	if (!move(r, w, R_STOPPING))
		return;		/* another thread stopped it, or it went */
	/* No unmap in flight and every earlier one's cut done (mm_busy read
	 * 0 after them): the range is the region's. */
	start = LD(&r->start);
	end = LD(&r->end);
	if (start < end && advise(start, end, MADV_NOHUGEPAGE) < 0)
		CNT(failed, 1);
	move(r, (w & ~ST_MASK) | R_STOPPING, R_STOPPED);
	CNT(stopped, 1);
}

/*
 * Fine purges in the region (read as w, HINTED) reached the limit.  Never
 * waits: with an unmap in flight, or another stop at the gate, the stop
 * is put off to the next fine purge in the region (stop_deferred).  The
 * window that holds the gate runs with signals blocked, so no handler
 * can unmap memory between the check and the madvise, and nothing can
 * take this thread out of the window with the gate held (unmapping calls
 * wait for it).  A stop happens once per region: the extra system calls
 * (gettid, two sigprocmask) cost nothing next to the madvise.
 */
static void stop(struct hint_region *r, uint32_t w)
{
	sigset_t all, old;
	int tid;

	if (__atomic_load_n(&mm_busy, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&gate, __ATOMIC_RELAXED)) {
		CNT(stop_deferred, 1);
		return;
	}
	tid = (int)pr_sys(SYS_gettid, 0, 0, 0, 0, 0, 0);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	in_hint++;
	if (gate_take(tid)) {
		stop_region(r, w);
		gate_open(tid);
	} else if (load_state(r) == w) {
		CNT(stop_deferred, 1);
	}
	in_hint--;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Fine purge [start, end) inside the region at r, read as w (HINTED). */
static void count_fine(struct hint_region *r, uint32_t w, uintptr_t start,
		       uintptr_t end)
{
	uintptr_t rs = LD(&r->start), re = LD(&r->end);
	uint64_t size, limit, fine;

	if (start < rs || start >= re)
		return;		/* it changed under us */
	size = re - rs;
	limit = size / 32 > PR_PMD_SIZE ? size / 32 : PR_PMD_SIZE;
	fine = __atomic_add_fetch(&r->fine, (end < re ? end : re) - start,
				  __ATOMIC_RELAXED);
	if (fine >= limit)
		stop(r, w);
}

void pr_hint_purged(uintptr_t start, uintptr_t end, bool zap)
{
	uint32_t w;
	int i;

	/* Whole aligned 2 MiB purges split no huge page.  (Called from the
	 * shim's own observation of a purge: pr_busy is set.) */
	if (!__atomic_load_n(&active, __ATOMIC_ACQUIRE) || in_hint ||
	    !((start | end) & PMD_MASK_LOW) || !in_span(start, start + 1))
		return;
	i = find(start, &w);
	if (i < 0)
		return;
	if (state_of(w) == R_HINTED && pr_conf.hint != PR_HINT_ALWAYS)
		count_fine(&regs[i], w, start, end);
	/* MADV_FREE splits the folio itself; a zap leaves that to us. */
	if (zap && pr_conf.hint_split)
		pr_hint_split(start, end);
}

/* --- unmaps --- */

/* Free the slot while it is still w's region (same gen) and, with
 * if_empty, its range is empty. */
static void forget(struct hint_region *r, uint32_t w, bool if_empty)
{
	uint32_t gen = w & ~ST_MASK;

	while (live(w) && (w & ~ST_MASK) == gen &&
	       (!if_empty || LD(&r->start) >= LD(&r->end))) {
		if (release_slot(r, w))
			return;
		w = load_state(r);
	}
}

/*
 * A hole [start, end) in the middle of the region at r (read as w, range
 * rs..re): the head stays in r, the tail gets a slot of its own with r's
 * state and fine count, as long as a slot is free and no other cut ran
 * beside this one (me: this cut's number; solo: all cuts before it had
 * ended).  A cut that began after we read r's range could have missed
 * the new slot, so then the tail is given up again: a region smaller
 * than its mapping is only never stopped, one larger could be stopped
 * over memory that is not its own.  Without a tail slot, r keeps the
 * larger side.
 */
static void cut_split(struct hint_region *r, uint32_t w, uintptr_t start,
		      uintptr_t end, uintptr_t rs, uintptr_t re,
		      uint64_t me, bool solo)
{
	int t = solo ? claim() : -1;
	uint32_t tw;

	if (t < 0) {
		if (end - rs < re - start)
			raise_to(&r->start, end);
		else
			lower_to(&r->end, start);
		return;
	}
	lower_to(&r->end, start);
	tw = publish(t, end, re, LD(&r->fine),
		     state_of(w) == R_HINTED ? R_HINTED : R_STOPPED);
	if (__atomic_load_n(&cut_in, SC) != me)
		forget(&regs[t], tw, false);
}

/* Forget [start, end) of the region at r, read as w. */
static void cut(struct hint_region *r, uint32_t w, uintptr_t start,
		uintptr_t end, uint64_t me, bool solo)
{
	uintptr_t rs = LD(&r->start), re = LD(&r->end);

	if (start >= re || end <= rs)
		return;
	if (start <= rs)	/* the head, or all of it: emptied, then freed */
		raise_to(&r->start, end);
	else if (end >= re)
		lower_to(&r->end, start);
	else
		cut_split(r, w, start, end, rs, re, me, solo);
	forget(r, w, true);
}

void pr_hint_unmapped(uintptr_t start, uintptr_t end)
{
	uint64_t me;
	unsigned nr;
	bool solo;

	if (!__atomic_load_n(&active, __ATOMIC_ACQUIRE) || in_hint ||
	    !in_span(start, end))
		return;
	me = __atomic_add_fetch(&cut_in, 1, SC);
	solo = __atomic_load_n(&cut_out, SC) == me - 1;
	nr = nr_slots();
	for (unsigned i = 0; i < nr; i++) {
		struct hint_region *r = &regs[i];
		uint32_t w = load_state(r);

		if (live(w))
			cut(r, w, start, end, me, solo);
	}
	__atomic_add_fetch(&cut_out, 1, SC);
}

/* --- calls that can unmap or replace memory --- */

/* Is thread tid of this process gone (killed inside a stop, or left in
 * the parent by a _Fork(), which runs no atfork handler)? */
static bool gone(int tid)
{
	long pid = pr_sys(SYS_getpid, 0, 0, 0, 0, 0, 0);

	return pr_sys(SYS_tgkill, pid, tid, 0, 0, 0, 0) == -ESRCH;
}

/*
 * A stop passed its check before this call counted itself in mm_busy:
 * sleep until its one madvise is done.  Stops that come later see
 * mm_busy and step back, so only stops already past the check are
 * waited for.  The stopper blocks signals in its window, so it leaves
 * it; every 20 ms we still look whether its thread exists, and open the
 * gate for it if not.  A futex error other than these (a sandbox that
 * denies futex, which pthread locks need too) ends the wait rather than
 * spin.
 */
static void wait_stop(void)
{
	const struct timespec slice = { 0, 20 * 1000 * 1000 };
	int g;

	__atomic_add_fetch(&stop_waiters, 1, SC);
	while ((g = __atomic_load_n(&gate, SC))) {
		long r = futex(&gate, FUTEX_WAIT_PRIVATE, g, &slice);

		if (r == -ETIMEDOUT && gone(g))
			gate_open(g);
		else if (r && r != -ETIMEDOUT && r != -EAGAIN && r != -EINTR)
			break;
	}
	__atomic_sub_fetch(&stop_waiters, 1, SC);
}

bool pr_hint_mm_begin(void)
{
	if (!__atomic_load_n(&active, __ATOMIC_ACQUIRE) || in_hint)
		return false;
	__atomic_add_fetch(&mm_busy, 1, SC);
	if (__atomic_load_n(&gate, SC))
		wait_stop();
	return true;
}

void pr_hint_mm_end(bool token)
{
	if (token)
		__atomic_sub_fetch(&mm_busy, 1, SC);
}

/*
 * fork copies the table as the parent's threads left it, and none of
 * them is here.  A slot being filled is freed; a stop in flight may or
 * may not have reached the child's copy, so the next fine purge issues it
 * again (it changes nothing twice).  An unmap in flight may have left its
 * cut half done: then the table may name memory the child no longer has,
 * so every region is retired (STOPPED: never advised again).
 */
void pr_hint_after_fork_child(void)
{
	bool unsure = LD(&mm_busy) || LD(&cut_in) != LD(&cut_out);
	unsigned nr = nr_slots();

	for (unsigned i = 0; i < nr; i++) {
		struct hint_region *r = &regs[i];
		uint32_t w = LD(&r->state);
		unsigned s = state_of(w);

		if (s == R_CLAIMING)
			w = ((w & ~ST_MASK) + GEN_ONE) | R_FREE;
		else if (live(w) && unsure)
			w = (w & ~ST_MASK) | R_STOPPED;
		else if (s == R_STOPPING)
			w = (w & ~ST_MASK) | R_HINTED;
		__atomic_store_n(&r->state, w, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&cut_out, LD(&cut_in), __ATOMIC_RELAXED);
	__atomic_store_n(&mm_busy, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&gate, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&stop_waiters, 0, __ATOMIC_RELAXED);
}
