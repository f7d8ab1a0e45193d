/* SPDX-License-Identifier: MIT */
/*
 * ledger.c - per-PMD record of the pages the allocator has purged.
 *
 * One entry per 2 MiB region that saw a purge, in liburcu's lock-free hash
 * table (urcu-bp flavour, buckets from mmap, no resizing, so no path here
 * allocates or blocks).  Entries live in a pool mmap'd up to the configured
 * bound.  Dropping an entry (munmap, mremap, MAP_FIXED) resets it in place;
 * only pr_ledger_maintain(), called from contexts that hold no allocator
 * lock, unlinks idle entries and recycles them after a grace period.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <urcu/urcu-bp.h>
#include <urcu/rculfhash.h>

#include "bitmap.h"
#include "core.h"

enum {
	REGION_LIVE = 1 << 0,	/* some page is marked purged */
	REGION_FULL = 1 << 1,	/* every page is marked purged */
	REGION_LAZY = 1 << 2,	/* MADV_FREE seen: pages may still be mapped */
	REGION_ZAPPED = 1 << 3,	/* parked by a fence: its table freed, or its
				 * pages found in use; no purge since */
};

struct pr_region {
	struct cds_lfht_node node;
	uintptr_t base;
	uint64_t purged[PR_BITMAP_WORDS];
	uint64_t changed_ns;
	uint32_t state;
	uint32_t linked;	/* in the table (walks read the pool, not it) */
	struct pr_region *next_free;
};

/* Beyond this many regions in one range, walk the table instead. */
#define PR_WALK_THRESHOLD 4096

static struct cds_lfht *table;
static struct pr_region *pool;
static size_t pool_cap;
static size_t pool_used;
static struct pr_region *free_list;
static pthread_mutex_t free_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t nr_live;
static uint64_t nr_full;
/* Every region ever entered lies in [span_lo, span_hi]: a drop outside it
 * (a fresh mmap far from the heap, however large) costs nothing. */
static uintptr_t span_lo = UINTPTR_MAX, span_hi;

/* Read-side sections; liburcu's own mmaps in them pass through us. */
static void rd_lock(void)
{
	pr_busy++;
	urcu_bp_read_lock();
}

static void rd_unlock(void)
{
	urcu_bp_read_unlock();
	pr_busy--;
}

static unsigned long hash_base(uintptr_t base)
{
	return (unsigned long)((base >> PR_PMD_SHIFT) * 0x9e3779b97f4a7c15ULL);
}

static int match_base(struct cds_lfht_node *node, const void *key)
{
	const struct pr_region *r = caa_container_of(node, struct pr_region,
						     node);

	return r->base == *(const uintptr_t *)key;
}

int pr_ledger_init(size_t max_bytes)
{
	unsigned long buckets = 1024;

	pool_cap = max_bytes / sizeof(struct pr_region);
	pool = pr_map(pool_cap * sizeof(struct pr_region));
	if (!pool)
		return -ENOMEM;
	/* Every bucket is touched at creation (16 bytes each, no resizing):
	 * 8192 cost 128 KiB of RSS and keep chains short up to ~64 GiB of
	 * purged heap (32768 regions, 4 a chain). */
	while (buckets < pool_cap / 16 && buckets < (1UL << 13))
		buckets <<= 1;
	table = _cds_lfht_new(buckets, buckets, buckets, 0, &cds_lfht_mm_mmap,
			      &urcu_bp_flavor, NULL);
	if (!table) {
		pr_unmap(pool, pool_cap * sizeof(struct pr_region));
		pool = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* A fresh entry, or NULL at the bound.  Never blocks. */
static struct pr_region *region_alloc(void)
{
	struct pr_region *r = NULL;
	size_t idx;

	if (__atomic_load_n(&free_list, __ATOMIC_RELAXED) &&
	    pthread_mutex_trylock(&free_lock) == 0) {
		r = free_list;
		if (r)
			free_list = r->next_free;
		pthread_mutex_unlock(&free_lock);
		if (r)
			return r;
	}
	idx = __atomic_fetch_add(&pool_used, 1, __ATOMIC_RELAXED);
	if (idx >= pool_cap) {
		__atomic_store_n(&pool_used, pool_cap, __ATOMIC_RELAXED);
		return NULL;
	}
	return &pool[idx];
}

/* Call with the read lock held. */
static struct pr_region *region_find(uintptr_t base)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(table, hash_base(base), match_base, &base, &it);
	node = cds_lfht_iter_get_node(&it);
	return node ? caa_container_of(node, struct pr_region, node) : NULL;
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

/* Call with the read lock held.  NULL when the ledger is full. */
static struct pr_region *region_get(uintptr_t base)
{
	struct pr_region *r = region_find(base);
	struct cds_lfht_node *got;

	if (r)
		return r;
	r = region_alloc();
	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	cds_lfht_node_init(&r->node);
	r->base = base;
	/* Before it is visible: a drop never misses it. */
	widen_span(base);
	got = cds_lfht_add_unique(table, hash_base(base), match_base, &base,
				  &r->node);
	if (got != &r->node) {
		/* Lost a race: ours was never visible, so it can go back. */
		pthread_mutex_lock(&free_lock);
		r->next_free = free_list;
		free_list = r;
		pthread_mutex_unlock(&free_lock);
		r = caa_container_of(got, struct pr_region, node);
	} else {
		__atomic_store_n(&r->linked, 1, __ATOMIC_RELEASE);
	}
	return r;
}

/* The entries in the table, in pool order: cheaper than walking buckets. */
#define for_each_linked(r)						\
	for (struct pr_region *r = pool,				\
	     *r##_end = pool + pool_in_use();				\
	     r < r##_end; r++)						\
		if (__atomic_load_n(&r->linked, __ATOMIC_ACQUIRE))

static size_t pool_in_use(void)
{
	size_t used = __atomic_load_n(&pool_used, __ATOMIC_RELAXED);

	return used < pool_cap ? used : pool_cap;
}

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

void pr_ledger_purged(uintptr_t start, uintptr_t end, enum pr_purge_kind kind,
		      uint64_t now)
{
	uintptr_t base = start & ~(PR_PMD_SIZE - 1);
	bool bound_hit = false;

	if (!table || start >= end)
		return;
	rd_lock();
	for (; base < end && base >= (start & ~(PR_PMD_SIZE - 1));
	     base += PR_PMD_SIZE) {
		bool whole = base >= start && base + PR_PMD_SIZE <= end;
		struct pr_region *r;
		unsigned first, last;

		/* The kernel frees this table itself: nothing to remember. */
		if (whole && kind == PR_PURGE_DONTNEED &&
		    pr_caps.pt_reclaim_on_dontneed) {
			r = region_find(base);
			if (r)
				region_reset(r);
			continue;
		}
		r = region_get(base);
		if (!r) {
			bound_hit = true;
			continue;
		}
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
		region_settle(r);
	}
	rd_unlock();
	if (bound_hit)
		pr_count(PRC_BOUND_HITS, 1);
}

void pr_ledger_in_use(uintptr_t start, uintptr_t end, uint64_t now)
{
	uintptr_t base = start & ~(PR_PMD_SIZE - 1);

	if (!table || start >= end ||
	    (end - start) / PR_PMD_SIZE > PR_WALK_THRESHOLD)
		return;
	rd_lock();
	for (; base < end && base >= (start & ~(PR_PMD_SIZE - 1));
	     base += PR_PMD_SIZE) {
		struct pr_region *r = region_find(base);
		unsigned first, last;

		if (!r)
			continue;
		pr_bitmap_span(base, start, end, &first, &last);
		pr_bitmap_clear(r->purged, first, last);
		__atomic_store_n(&r->changed_ns, now, __ATOMIC_RELAXED);
		/* Pages are mapped again, so is a table. */
		state_clear(r, REGION_ZAPPED, NULL);
		region_settle(r);
	}
	rd_unlock();
}

static void drop_one(struct pr_region *r)
{
	if (__atomic_load_n(&r->state, __ATOMIC_RELAXED) ||
	    !pr_bitmap_empty(r->purged)) {
		region_reset(r);
		pr_count(PRC_DROPPED, 1);
	}
}

static void drop_by_walk(uintptr_t start, uintptr_t end)
{
	for_each_linked(r) {
		if (r->base + PR_PMD_SIZE > start && r->base < end)
			drop_one(r);
	}
}

void pr_ledger_drop(uintptr_t start, uintptr_t end)
{
	uintptr_t lo = __atomic_load_n(&span_lo, __ATOMIC_ACQUIRE);
	uintptr_t hi = __atomic_load_n(&span_hi, __ATOMIC_ACQUIRE) + PR_PMD_SIZE;
	uintptr_t first;

	if (!table || start >= end || end <= lo || start >= hi)
		return;
	start = start > lo ? start : lo;
	end = end < hi ? end : hi;
	first = start & ~(PR_PMD_SIZE - 1);
	rd_lock();
	if ((end - first) / PR_PMD_SIZE > PR_WALK_THRESHOLD) {
		if (!pool_in_use())
			goto out;
		drop_by_walk(start, end);
	} else {
		for (uintptr_t b = first; b < end && b >= first;
		     b += PR_PMD_SIZE) {
			struct pr_region *r = region_find(b);

			if (r)
				drop_one(r);
		}
	}
out:
	rd_unlock();
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
 * Unlink idle entries and recycle them.  Waits for a grace period, so it is
 * only called where the caller holds no allocator lock: the public API and
 * the report, never from an interposed call.
 */
void pr_ledger_maintain(void)
{
	struct pr_region *r, *retired = NULL;

	if (!table)
		return;
	rd_lock();
	for_each_linked(e) {
		if (__atomic_load_n(&e->state, __ATOMIC_RELAXED) ||
		    !pr_bitmap_empty(e->purged))
			continue;
		if (cds_lfht_del(table, &e->node) == 0) {
			r = e;
			__atomic_store_n(&r->linked, 0, __ATOMIC_RELEASE);
			r->next_free = retired;
			retired = r;
		}
	}
	rd_unlock();
	if (!retired)
		return;
	pr_busy++;
	urcu_bp_synchronize_rcu();
	pr_busy--;
	pthread_mutex_lock(&free_lock);
	while (retired) {
		r = retired;
		retired = r->next_free;
		r->next_free = free_list;
		free_list = r;
	}
	pthread_mutex_unlock(&free_lock);
}

/*
 * Every region with purged pages whose table no fence has freed since,
 * with PR_LEDGER_FULL when all its pages are purged and PR_LEDGER_LAZY
 * when MADV_FREE was part of it (its pages may stay mapped until the
 * kernel discards them).  Like pr_ledger_for_each_live, pages fn marks in
 * inuse are taken out of the ledger.
 */
void pr_ledger_for_each_live_ex(pr_live_ex_fn fn, void *arg)
{
	if (!table)
		return;
	rd_lock();
	for_each_linked(r) {
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
	rd_unlock();
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
	struct pr_region *r;

	if (!table)
		return;
	rd_lock();
	r = region_find(base);
	if (r && (__atomic_load_n(&r->state, __ATOMIC_RELAXED) & REGION_LIVE))
		state_set(r, REGION_ZAPPED, NULL);
	rd_unlock();
}

/*
 * Pages in use (inuse) were found in the region at base, which had not
 * changed since seen_ns: take them out of the ledger and park the region
 * until its next purge.  If a purge came in meanwhile, leave it all be:
 * its pages may be free now, and the next pass looks again.
 */
void pr_ledger_park(uintptr_t base, uint64_t seen_ns, const uint64_t inuse[8])
{
	struct pr_region *r;

	if (!table)
		return;
	rd_lock();
	r = region_find(base);
	if (r && __atomic_load_n(&r->changed_ns, __ATOMIC_SEQ_CST) == seen_ns) {
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
	rd_unlock();
}

/* For the stats page (publish.c): the words pr_ledger_tracked() and
 * pr_ledger_full() read. */
void pr_ledger_counts_addr(const uint64_t **tracked, const uint64_t **full)
{
	*tracked = &nr_live;
	*full = &nr_full;
}
