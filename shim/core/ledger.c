/* SPDX-License-Identifier: MIT */
/*
 * ledger.c - per-PMD record of the pages the allocator has purged.
 *
 * One entry per 2 MiB region that saw a purge, found through the radix of
 * ledger_table.c: no path here allocates through malloc, blocks or waits
 * for another thread, and every entry used is held, so recycling never
 * hands it to another region meanwhile.  Entries come from one mmap'd
 * arena bounded by ledger_max.  Dropping an entry (munmap, mremap,
 * MAP_FIXED) resets it in place; pr_ledger_maintain() unlinks idle
 * entries and recycles those nobody holds.
 */
#include <errno.h>

#include "core.h"
#include "ledger_table.h"

enum {
	REGION_LIVE = 1 << 0,	/* some page is marked purged */
	REGION_FULL = 1 << 1,	/* every page is marked purged */
	REGION_LAZY = 1 << 2,	/* MADV_FREE seen: pages may still be mapped */
	REGION_ZAPPED = 1 << 3,	/* parked by a fence: its table freed, or its
				 * pages found in use; no purge since */
	REGION_WHOLE = 1 << 4,	/* last purged by a whole-PMD DONTNEED before
				 * the kernel was probed: it may have freed
				 * the table itself (pr_ledger_caps_known) */
};

/* Beyond this many regions in one range, walk the entries instead. */
#define PR_WALK_THRESHOLD 4096

static uint64_t nr_live;
static uint64_t nr_full;
/* Every region ever entered lies in [span_lo, span_hi]: a drop outside it
 * (a fresh mmap far from the heap, however large) costs nothing. */
static uintptr_t span_lo = UINTPTR_MAX, span_hi;

/*
 * Cheap enough for a lazy start from the purge path: it only records the
 * bound.  The arena is mapped by the first purge that needs an entry.
 */
int pr_ledger_init(size_t max_bytes)
{
	if (max_bytes < sizeof(struct pr_region))
		return -ENOMEM;
	pr_lt_init(max_bytes);
	return 0;
}

/* Only when a region is first entered: lock-free, and rare. */
static void widen_span(uintptr_t base)
{
	uintptr_t lo = __atomic_load_n(&span_lo, __ATOMIC_RELAXED);
	uintptr_t hi = __atomic_load_n(&span_hi, __ATOMIC_RELAXED);

	while (base < lo &&
	       !__atomic_compare_exchange_n(&span_lo, &lo, base, true,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
	while (base > hi &&
	       !__atomic_compare_exchange_n(&span_hi, &hi, base, true,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

/* The entry of base, held, entered if need be; NULL when the ledger is
 * full.  The span is widened before the entry is visible: a drop never
 * misses it. */
static struct pr_region *region_get(uintptr_t base)
{
	struct pr_region *r = pr_lt_hold(base);

	if (r)
		return r;
	widen_span(base);
	return pr_lt_hold_or_add(base);
}

/* Every linked entry want (a hint, or NULL) picks, held for the body
 * (which may continue, but must not break out). */
#define for_each_linked(r, want)					\
	for (size_t r##_i = 0, r##_n = pr_lt_used(); r##_i < r##_n; r##_i++) \
		for (struct pr_region *r = pr_lt_hold_nth(r##_i, want); r; \
		     pr_lt_release(r), r = NULL)

static void state_set(struct pr_region *r, uint32_t flag, uint64_t *counter)
{
	if (!(__atomic_fetch_or(&r->state, flag, __ATOMIC_RELAXED) & flag) &&
	    counter)
		__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static void state_clear(struct pr_region *r, uint32_t flag, uint64_t *counter)
{
	if ((__atomic_fetch_and(&r->state, ~flag, __ATOMIC_RELAXED) & flag) &&
	    counter)
		__atomic_fetch_sub(counter, 1, __ATOMIC_RELAXED);
}

/* Bring FULL in line with the bits after a change. */
static void region_settle(struct pr_region *r)
{
	if (pr_bitmap_full(r->purged))
		state_set(r, REGION_FULL, &nr_full);
	else
		state_clear(r, REGION_FULL, &nr_full);
}

static void region_reset(struct pr_region *r)
{
	uint32_t old = __atomic_exchange_n(&r->state, 0, __ATOMIC_RELAXED);

	pr_bitmap_zero(r->purged);
	if (old & REGION_LIVE)
		__atomic_fetch_sub(&nr_live, 1, __ATOMIC_RELAXED);
	if (old & REGION_FULL)
		__atomic_fetch_sub(&nr_full, 1, __ATOMIC_RELAXED);
}

static bool region_idle(struct pr_region *r)
{
	return !__atomic_load_n(&r->state, __ATOMIC_RELAXED) &&
	       pr_bitmap_empty(r->purged);
}

/* Pages [start, end) of the region at base were purged. */
static void mark_purged(struct pr_region *r, uintptr_t base, uintptr_t start,
			uintptr_t end, enum pr_purge_kind kind, uint64_t now)
{
	bool whole = base >= start && base + PR_PMD_SIZE <= end;
	unsigned first, last;

	pr_bitmap_span(base, start, end, &first, &last);
	pr_bitmap_set(r->purged, first, last);
	__atomic_store_n(&r->changed_ns, now, __ATOMIC_RELAXED);
	state_set(r, REGION_LIVE, &nr_live);
	/* A purge means pages were in use: a table may be back. */
	state_clear(r, REGION_ZAPPED, NULL);
	if (kind == PR_PURGE_FREE)
		state_set(r, REGION_LAZY, NULL);
	else if (whole)
		state_clear(r, REGION_LAZY, NULL);
	if (whole && kind == PR_PURGE_DONTNEED &&
	    !__atomic_load_n(&pr_caps.probed, __ATOMIC_ACQUIRE))
		state_set(r, REGION_WHOLE, NULL);
	else
		state_clear(r, REGION_WHOLE, NULL);
	region_settle(r);
}

void pr_ledger_purged(uintptr_t start, uintptr_t end, enum pr_purge_kind kind,
		      uint64_t now)
{
	uintptr_t base = start & ~(PR_PMD_SIZE - 1);
	bool bound_hit = false;

	if (!pr_lt_ready() || start >= end)
		return;
	for (; base < end && base >= (start & ~(PR_PMD_SIZE - 1));
	     base += PR_PMD_SIZE) {
		bool whole = base >= start && base + PR_PMD_SIZE <= end;
		struct pr_region *r;

		/* The kernel frees this table itself: nothing to remember.
		 * Not probed yet (a start that waits for a safe point, or
		 * observing): remembered as whole, settled once known. */
		if (whole && kind == PR_PURGE_DONTNEED &&
		    __atomic_load_n(&pr_caps.probed, __ATOMIC_ACQUIRE) &&
		    pr_caps.pt_reclaim_on_dontneed) {
			r = pr_lt_hold(base);
			if (r) {
				region_reset(r);
				pr_lt_release(r);
			}
			continue;
		}
		r = region_get(base);
		if (!r) {
			bound_hit = true;
			continue;
		}
		mark_purged(r, base, start, end, kind, now);
		pr_lt_release(r);
	}
	if (bound_hit)
		pr_count(PRC_BOUND_HITS, 1);
}

/*
 * The kernel was just probed: regions last purged whole, before it was
 * known whether the kernel frees their tables itself, are forgotten if it
 * does (as pr_ledger_purged would have), kept as plain purges if not.
 */
void pr_ledger_caps_known(void)
{
	if (!pr_lt_ready())
		return;
	for_each_linked(r, NULL) {
		if (!(__atomic_load_n(&r->state, __ATOMIC_RELAXED) &
		      REGION_WHOLE))
			continue;
		if (pr_caps.pt_reclaim_on_dontneed)
			region_reset(r);
		else
			state_clear(r, REGION_WHOLE, NULL);
	}
}

void pr_ledger_in_use(uintptr_t start, uintptr_t end, uint64_t now)
{
	uintptr_t base = start & ~(PR_PMD_SIZE - 1);

	if (!pr_lt_ready() || start >= end ||
	    (end - start) / PR_PMD_SIZE > PR_WALK_THRESHOLD)
		return;
	for (; base < end && base >= (start & ~(PR_PMD_SIZE - 1));
	     base += PR_PMD_SIZE) {
		struct pr_region *r = pr_lt_hold(base);
		unsigned first, last;

		if (!r)
			continue;
		pr_bitmap_span(base, start, end, &first, &last);
		pr_bitmap_clear(r->purged, first, last);
		__atomic_store_n(&r->changed_ns, now, __ATOMIC_RELAXED);
		/* Pages are mapped again, so is a table. */
		state_clear(r, REGION_ZAPPED, NULL);
		region_settle(r);
		pr_lt_release(r);
	}
}

static void drop_one(struct pr_region *r)
{
	if (!region_idle(r)) {
		region_reset(r);
		pr_count(PRC_DROPPED, 1);
	}
}

static bool region_marked(struct pr_region *r)
{
	return !region_idle(r);
}

static void drop_by_walk(uintptr_t start, uintptr_t end)
{
	for_each_linked(r, region_marked) {
		if (r->base + PR_PMD_SIZE > start && r->base < end)
			drop_one(r);
	}
}

void pr_ledger_drop(uintptr_t start, uintptr_t end)
{
	uintptr_t lo = __atomic_load_n(&span_lo, __ATOMIC_ACQUIRE);
	uintptr_t hi = __atomic_load_n(&span_hi, __ATOMIC_ACQUIRE) + PR_PMD_SIZE;
	uintptr_t first;

	if (start >= end || end <= lo || start >= hi)
		return;
	start = start > lo ? start : lo;
	end = end < hi ? end : hi;
	first = start & ~(PR_PMD_SIZE - 1);
	if ((end - first) / PR_PMD_SIZE > PR_WALK_THRESHOLD) {
		drop_by_walk(start, end);
		return;
	}
	for (uintptr_t b = first; b < end && b >= first; b += PR_PMD_SIZE) {
		struct pr_region *r = pr_lt_hold(b);

		if (r) {
			drop_one(r);
			pr_lt_release(r);
		}
	}
}

void pr_ledger_table_freed(uintptr_t start, uintptr_t end)
{
	pr_ledger_drop(start, end);
}

uint64_t pr_ledger_tracked(void)
{
	return __atomic_load_n(&nr_live, __ATOMIC_RELAXED);
}

uint64_t pr_ledger_full(void)
{
	return __atomic_load_n(&nr_full, __ATOMIC_RELAXED);
}

/*
 * Recycle idle entries.  It waits for nobody (an entry a purge still
 * holds is left for the next call), so any thread may call it; the worker
 * does now and then, and the report and the public API do.
 */
void pr_ledger_maintain(void)
{
	pr_lt_recycle(region_idle, region_reset);
}

/* Purged pages, and not parked: what the walks below offer. */
static bool region_offered(struct pr_region *r)
{
	return (__atomic_load_n(&r->state, __ATOMIC_RELAXED) &
		(REGION_LIVE | REGION_ZAPPED)) == REGION_LIVE;
}

/*
 * Every region with purged pages whose table no fence has freed since,
 * with PR_LEDGER_FULL when all its pages are purged and PR_LEDGER_LAZY
 * when MADV_FREE was part of it (its pages may stay mapped until the
 * kernel discards them).  Like pr_ledger_for_each_live, pages fn marks in
 * inuse are taken out of the ledger.  fn runs inside the shim (pr_busy):
 * whatever it maps is the shim's, not the allocator's.
 */
void pr_ledger_for_each_live_ex(pr_live_ex_fn fn, void *arg)
{
	pr_busy++;
	for_each_linked(r, region_offered) {
		uint64_t inuse[PR_BITMAP_WORDS] = { 0 };
		uint32_t st = __atomic_load_n(&r->state, __ATOMIC_RELAXED);

		if ((st & (REGION_LIVE | REGION_ZAPPED)) != REGION_LIVE)
			continue;
		fn(r->base, (st & REGION_LAZY ? PR_LEDGER_LAZY : 0) |
			    (st & REGION_FULL ? PR_LEDGER_FULL : 0),
		   __atomic_load_n(&r->changed_ns, __ATOMIC_RELAXED), inuse,
		   arg);
		if (pr_bitmap_empty(inuse))
			continue;
		for (int w = 0; w < PR_BITMAP_WORDS; w++)
			__atomic_fetch_and(&r->purged[w], ~inuse[w],
					   __ATOMIC_RELAXED);
		region_settle(r);
	}
	pr_busy--;
}

struct live_call {
	pr_live_fn fn;
	void *arg;
};

static void live_call(uintptr_t base, unsigned flags, uint64_t changed_ns,
		      uint64_t inuse[8], void *arg)
{
	struct live_call *c = arg;

	(void)flags;
	(void)changed_ns;
	c->fn(base, inuse, c->arg);
}

void pr_ledger_for_each_live(pr_live_fn fn, void *arg)
{
	struct live_call c = { fn, arg };

	pr_ledger_for_each_live_ex(live_call, &c);
}

/*
 * A fence freed the table of the region at base.  The pages stay purged
 * (the allocator still thinks of them as given back), but the region is
 * not offered again until a purge, or pages found in use, show that a
 * table may be back.
 */
void pr_ledger_zapped(uintptr_t base)
{
	struct pr_region *r = pr_lt_hold(base);

	if (!r)
		return;
	if (__atomic_load_n(&r->state, __ATOMIC_RELAXED) & REGION_LIVE)
		state_set(r, REGION_ZAPPED, NULL);
	pr_lt_release(r);
}

/*
 * Pages in use (inuse) were found in the region at base, which had not
 * changed since seen_ns: take them out of the ledger and park the region
 * until its next purge.  If a purge came in meanwhile, leave it all be:
 * its pages may be free now, and the next pass looks again.
 */
void pr_ledger_park(uintptr_t base, uint64_t seen_ns, const uint64_t inuse[8])
{
	struct pr_region *r = pr_lt_hold(base);

	if (!r)
		return;
	if (__atomic_load_n(&r->changed_ns, __ATOMIC_SEQ_CST) == seen_ns) {
		for (int w = 0; w < PR_BITMAP_WORDS; w++)
			__atomic_fetch_and(&r->purged[w], ~inuse[w],
					   __ATOMIC_RELAXED);
		region_settle(r);
		__atomic_fetch_or(&r->state, REGION_ZAPPED, __ATOMIC_SEQ_CST);
		/* A purge that raced with us clears ZAPPED after it stores
		 * changed_ns; if we see its store, undo ourselves. */
		if (__atomic_load_n(&r->changed_ns, __ATOMIC_SEQ_CST) != seen_ns)
			__atomic_fetch_and(&r->state, ~REGION_ZAPPED,
					   __ATOMIC_SEQ_CST);
	}
	pr_lt_release(r);
}

/*
 * The pages of the region at base the ledger holds as purged, into out;
 * false if it has no entry.  The worker asks for a lazily freed region
 * that still maps pages: a page mapped but never purged is in use, and
 * keeps the table whatever the kernel is asked.
 */
bool pr_ledger_purged_map(uintptr_t base, uint64_t out[8])
{
	struct pr_region *r = pr_lt_hold(base);

	if (!r)
		return false;
	for (int w = 0; w < PR_BITMAP_WORDS; w++)
		out[w] = __atomic_load_n(&r->purged[w], __ATOMIC_RELAXED);
	pr_lt_release(r);
	return true;
}

/* For the stats page (publish.c): the words pr_ledger_tracked() and
 * pr_ledger_full() read. */
void pr_ledger_counts_addr(const uint64_t **tracked, const uint64_t **full)
{
	*tracked = &nr_live;
	*full = &nr_full;
}
