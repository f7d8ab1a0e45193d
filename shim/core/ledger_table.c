/* SPDX-License-Identifier: MIT */
/*
 * ledger_table.c - which ledger entry belongs to which 2 MiB region.
 *
 * Why not a hash table: the purge path runs with the allocator's locks
 * held, so a lookup or an insert must not allocate, block or wait for
 * another thread, and an entry must not be reused while a purge still
 * writes to it.  A lock-free hash gives the first, but the second then
 * needs grace periods (liburcu: three shared objects mapped into every
 * process, issue 13) or epochs with thread registration.  Region indices
 * are dense and small (47 - 21 = 26 bits), so a radix needs neither
 * hashing nor rehashing, and a per-entry hold count replaces grace
 * periods: recycling waits for no one, it just leaves a held entry for a
 * later pass.
 *
 * Layout: a static top level of 8192 pointers; a leaf covers 16 GiB (8192
 * regions) with a 32-bit slot each, the entry's index + 1 (32 KiB).
 * Entries (96 bytes) and leaves come from one arena of the configured
 * bound, mapped on the first insert: entries from its bottom, leaves from
 * its top, both charged to one byte counter, so ledger_max bounds the two
 * together.  Nothing is mapped or touched before the first purge.  Leaves
 * are never given back, so a lookup is two loads and never faults on freed
 * memory; entries are recycled through a lock-free free list.
 *
 * An entry is held (pins) by every caller that uses it.  A holder pins,
 * then checks that the slot still names the entry; a recycler unlinks the
 * slot, then checks the pins.  Both are sequentially consistent, so one of
 * the two sees the other: either the holder finds the slot changed and
 * lets go, or the recycler finds a pin and leaves the entry for later.
 *
 * Fork: there is no lock, so nothing to reset, and children of _Fork
 * (which run no handlers) are no different.  A child inherits the table
 * as the parent left it: every step is one atomic operation, so it is
 * consistent.  An entry a thread fork did not copy held, or had taken
 * from the free list, is never recycled (one or two per such thread), and
 * the ledger's counters may be off by the marks that thread had in flight.
 */
#include <string.h>
#include <sys/mman.h>

#include "ledger_table.h"

#define LT_VA_BITS	47
#define LT_LEAF_BITS	13
#define LT_LEAF_N	(1UL << LT_LEAF_BITS)
#define LT_TOP_N	(1UL << (LT_VA_BITS - PR_PMD_SHIFT - LT_LEAF_BITS))
#define LT_LEAF_BYTES	(LT_LEAF_N * sizeof(uint32_t))
#define LT_NONE		UINT32_MAX

enum { PR_LT_FREE, PR_LT_LINKED, PR_LT_RETIRED };

static uint32_t *top[LT_TOP_N];
static size_t cap;		/* bytes of the arena; 0 before pr_lt_init */
static char *arena;		/* mapped on the first insert */
static int arena_failed;	/* the map failed once: don't retry per purge */
static size_t charged;		/* bytes of the arena handed out */
static uint32_t n_entries;	/* entries carved from the bottom */
static uint32_t n_leaves;	/* leaves carved from the top */
static uint32_t *spare_leaf;	/* carved, lost a publish race, still zero */
static uint64_t free_head;	/* tag << 32 | index + 1 (the tag stops ABA) */

void pr_lt_init(size_t max_bytes)
{
	size_t none = 0;

	__atomic_compare_exchange_n(&cap, &none, max_bytes & ~(PR_PAGE_SIZE - 1),
				    false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

bool pr_lt_ready(void)
{
	return __atomic_load_n(&cap, __ATOMIC_ACQUIRE) != 0;
}

size_t pr_lt_charged(void)
{
	return __atomic_load_n(&charged, __ATOMIC_RELAXED);
}

static struct pr_region *entry(uint32_t i)
{
	return (struct pr_region *)(arena + (size_t)i * sizeof(struct pr_region));
}

/* The arena, mapped by whichever insert comes first (one mmap, no huge
 * pages: entries are touched one by one). */
static char *arena_get(void)
{
	char *a = __atomic_load_n(&arena, __ATOMIC_ACQUIRE), *none = NULL;
	size_t len = __atomic_load_n(&cap, __ATOMIC_ACQUIRE);

	if (a || !len || __atomic_load_n(&arena_failed, __ATOMIC_RELAXED))
		return a;
	a = pr_map(len);
	if (!a) {
		__atomic_store_n(&arena_failed, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	pr_sys(SYS_madvise, (long)a, (long)len, MADV_NOHUGEPAGE, 0, 0, 0);
	if (!__atomic_compare_exchange_n(&arena, &none, a, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		pr_unmap(a, len);
		a = none;
	}
	return a;
}

/* Take n bytes of the bound, or fail without taking any. */
static bool charge(size_t n)
{
	size_t c = __atomic_load_n(&charged, __ATOMIC_RELAXED);

	do {
		if (c + n > cap)
			return false;
	} while (!__atomic_compare_exchange_n(&charged, &c, c + n, true,
					      __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return true;
}

/*
 * A zeroed leaf for top slot t, published; NULL past the bound.  A leaf
 * that loses the publish race was never seen by anyone, so it is kept for
 * the next leaf instead of wasting its share of the bound.
 */
static uint32_t *leaf_new(unsigned long t)
{
	uint32_t *leaf = __atomic_exchange_n(&spare_leaf, NULL, __ATOMIC_ACQUIRE);
	uint32_t *none = NULL;

	if (!leaf) {
		if (!arena_get() || !charge(LT_LEAF_BYTES))
			return NULL;
		leaf = (uint32_t *)(arena + cap - LT_LEAF_BYTES *
				    (__atomic_fetch_add(&n_leaves, 1,
							__ATOMIC_RELAXED) + 1));
	}
	if (__atomic_compare_exchange_n(&top[t], &none, leaf, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return leaf;
	/* If a spare is there already, ours stays charged: one per race. */
	__atomic_compare_exchange_n(&spare_leaf, &(uint32_t *){ NULL }, leaf,
				    false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	return none;
}

/* The slot of the region at base; NULL above 47 bits or without a leaf. */
static uint32_t *slot_of(uintptr_t base, bool create)
{
	uintptr_t idx = base >> PR_PMD_SHIFT;
	uint32_t *leaf;

	if (idx >> (LT_VA_BITS - PR_PMD_SHIFT))
		return NULL;
	leaf = __atomic_load_n(&top[idx >> LT_LEAF_BITS], __ATOMIC_ACQUIRE);
	if (!leaf && create)
		leaf = leaf_new(idx >> LT_LEAF_BITS);
	return leaf ? &leaf[idx & (LT_LEAF_N - 1)] : NULL;
}

/* ---- the free list: a tagged stack of entry indices ---- */

static void free_push(uint32_t i)
{
	uint64_t h = __atomic_load_n(&free_head, __ATOMIC_RELAXED), nh;

	do {
		__atomic_store_n(&entry(i)->next_free, (uint32_t)h,
				 __ATOMIC_RELAXED);
		nh = ((h >> 32) + 1) << 32 | (i + 1);
	} while (!__atomic_compare_exchange_n(&free_head, &h, nh, true,
					      __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
}

/* The next field of a popped entry may be stale: the tag makes the CAS
 * fail then, and the arena is never unmapped, so reading it is safe. */
static uint32_t free_pop(void)
{
	uint64_t h = __atomic_load_n(&free_head, __ATOMIC_ACQUIRE), nh;
	uint32_t i;

	do {
		i = (uint32_t)h;
		if (!i)
			return LT_NONE;
		nh = ((h >> 32) + 1) << 32 |
		     __atomic_load_n(&entry(i - 1)->next_free, __ATOMIC_RELAXED);
	} while (!__atomic_compare_exchange_n(&free_head, &h, nh, true,
					      __ATOMIC_ACQUIRE,
					      __ATOMIC_ACQUIRE));
	return i - 1;
}

/* ---- holding ---- */

static void unpin(struct pr_region *r)
{
	__atomic_fetch_sub(&r->pins, 1, __ATOMIC_RELEASE);
}

/* Pin the entry slot names, as long as the slot still names it. */
static struct pr_region *hold_slot(uint32_t *slot)
{
	for (;;) {
		uint32_t i = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
		struct pr_region *r;

		if (!i)
			return NULL;
		r = entry(i - 1);
		__atomic_fetch_add(&r->pins, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(slot, __ATOMIC_SEQ_CST) == i)
			return r;
		unpin(r);
	}
}

struct pr_region *pr_lt_hold(uintptr_t base)
{
	uint32_t *slot = slot_of(base, false);

	return slot ? hold_slot(slot) : NULL;
}

void pr_lt_release(struct pr_region *r)
{
	unpin(r);
}

/* A zeroed, pinned entry for base, not yet visible; LT_NONE at the bound.
 * Pins are only ever added to: a transient holder may hold one too. */
static uint32_t entry_new(uintptr_t base)
{
	uint32_t i = free_pop();
	struct pr_region *r;

	if (i == LT_NONE) {
		if (!charge(sizeof(struct pr_region)))
			return LT_NONE;
		i = __atomic_fetch_add(&n_entries, 1, __ATOMIC_RELEASE);
	}
	r = entry(i);
	__atomic_fetch_add(&r->pins, 1, __ATOMIC_SEQ_CST);
	memset(r->purged, 0, sizeof(r->purged));
	__atomic_store_n(&r->changed_ns, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r->state, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r->base, base, __ATOMIC_RELAXED);
	return i;
}

/*
 * Mark a just published entry linked.  A recycler that read this entry's
 * link in its previous life and its base in this one may have unlinked
 * and retired it already (we hold it, so it waits in RETIRED until we let
 * go): then it must stay RETIRED.
 */
static void link_fresh(struct pr_region *r)
{
	uint32_t free_ = PR_LT_FREE;

	__atomic_compare_exchange_n(&r->link, &free_, PR_LT_LINKED, false,
				    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

struct pr_region *pr_lt_hold_or_add(uintptr_t base)
{
	uint32_t *slot = slot_of(base, true);

	while (slot) {
		struct pr_region *r = hold_slot(slot);
		uint32_t i, none = 0;

		if (r)
			return r;
		i = entry_new(base);
		if (i == LT_NONE)
			return NULL;
		r = entry(i);
		if (__atomic_compare_exchange_n(slot, &none, i + 1, false,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST)) {
			link_fresh(r);
			return r;
		}
		/* Another insert won: ours was never visible. */
		unpin(r);
		free_push(i);
	}
	return NULL;
}

/* ---- walks ---- */

size_t pr_lt_used(void)
{
	return __atomic_load_n(&n_entries, __ATOMIC_ACQUIRE);
}

struct pr_region *pr_lt_hold_nth(size_t i, bool (*want)(struct pr_region *))
{
	struct pr_region *r = entry((uint32_t)i);
	uint32_t *slot;

	if (__atomic_load_n(&r->link, __ATOMIC_ACQUIRE) != PR_LT_LINKED ||
	    (want && !want(r)))
		return NULL;
	__atomic_fetch_add(&r->pins, 1, __ATOMIC_SEQ_CST);
	/* Linked at base while the slot there names it, and then it cannot
	 * be unlinked and reused for another region until we let go. */
	slot = slot_of(__atomic_load_n(&r->base, __ATOMIC_RELAXED), false);
	if (slot && __atomic_load_n(slot, __ATOMIC_SEQ_CST) == i + 1)
		return r;
	unpin(r);
	return NULL;
}

/* ---- recycling ---- */

/*
 * An unlinked entry nobody holds goes to the free list.  A purge that
 * held it across the unlink may have left marks in it: they are reset
 * (the counters stay right), and the ledger forgets that purge, which is
 * the safe way to be wrong: it never widens on its own.  Putting the
 * entry back instead could bring back marks of a region unmapped since,
 * as a drop finds only linked entries.
 */
static void finalize(uint32_t i, bool (*idle)(struct pr_region *),
		     void (*reset)(struct pr_region *))
{
	struct pr_region *r = entry(i);
	uint32_t retired = PR_LT_RETIRED;

	/*
	 * The one recycler whose CAS turns it FREE owns it until the push:
	 * walks and other recyclers skip FREE entries.  The pins are read
	 * after the claim, so after the unlink that made it RETIRED (and not
	 * in an earlier life of the entry): a holder from before the unlink
	 * is seen, and it goes back to wait.
	 */
	if (!__atomic_compare_exchange_n(&r->link, &retired, PR_LT_FREE, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		return;
	if (__atomic_load_n(&r->pins, __ATOMIC_SEQ_CST)) {
		__atomic_store_n(&r->link, PR_LT_RETIRED, __ATOMIC_RELEASE);
		return;
	}
	if (!idle(r))
		reset(r);
	free_push(i);
}

/* Unlink an idle entry; finalize it now if nobody pinned it meanwhile. */
static void retire(uint32_t i, bool (*idle)(struct pr_region *),
		   void (*reset)(struct pr_region *))
{
	struct pr_region *r = entry(i);
	uint32_t *slot = slot_of(__atomic_load_n(&r->base, __ATOMIC_RELAXED),
				 false);
	uint32_t mine = i + 1;

	if (__atomic_load_n(&r->pins, __ATOMIC_SEQ_CST) || !idle(r) || !slot ||
	    !__atomic_compare_exchange_n(slot, &mine, 0, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return;
	__atomic_store_n(&r->link, PR_LT_RETIRED, __ATOMIC_SEQ_CST);
	finalize(i, idle, reset);
}

void pr_lt_recycle(bool (*idle)(struct pr_region *),
		   void (*reset)(struct pr_region *))
{
	size_t n = pr_lt_used();

	for (size_t i = 0; i < n; i++) {
		switch (__atomic_load_n(&entry((uint32_t)i)->link,
					__ATOMIC_ACQUIRE)) {
		case PR_LT_LINKED:
			retire((uint32_t)i, idle, reset);
			break;
		case PR_LT_RETIRED:
			finalize((uint32_t)i, idle, reset);
			break;
		}
	}
}
