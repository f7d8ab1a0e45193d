/* SPDX-License-Identifier: MIT */
/*
 * decommit_map.c - which pages an allocator has *decommitted*, per 2 MiB
 * region, and the whole-PMD reclaim that this knowledge makes safe.
 *
 * Unlike the purge ledger (ledger.c), this map is authoritative: a page is
 * marked only when the allocator's decommit protocol has said the page is
 * out of use, and the mark is cleared, under the region's lock, before the
 * allocator's commit returns.  The allocator commits before it touches
 * decommitted memory, so while a region's lock is held and all 512 of its
 * pages are marked, no byte in it is in use, and one aligned MADV_DONTNEED
 * over it frees its page table without destroying anything (on kernels
 * that free tables so: platform/pt_reclaim_probe.c).
 *
 * Layout: a two-level radix over the 47-bit user address space.  The top
 * level is static; a leaf covers 16 GiB and is mapped on first use, so
 * lookups never allocate through malloc and never block.  Leaves are never
 * freed: a hook may still be running on one.
 *
 * Locks are one word per region (a brief spin, then a futex): every hold
 * is a few bit operations, or one madvise over a region whose pages are
 * all gone already.  Each lock word carries an epoch, so a child after
 * fork can declare every lock held by a vanished thread free by bumping
 * it.
 */
#include <linux/futex.h>
#include <sys/mman.h>
#include <time.h>

#include "bitmap.h"
#include "core.h"
#include "jemalloc.h"

#define DCM_VA_BITS	47
#define DCM_LEAF_BITS	13
#define DCM_LEAF_N	(1UL << DCM_LEAF_BITS)
#define DCM_TOP_N	(1UL << (DCM_VA_BITS - PR_PMD_SHIFT - DCM_LEAF_BITS))
/* Regions reclaimed together in one madvise at most. */
#define DCM_RUN_MAX	8

enum {
	/* The region maps no page table now, as far as we know: the last
	 * thing that happened to it was a reclaim or a whole-PMD purge. */
	DCM_TABLE_GONE = 1 << 0,
};

struct dcm_region {
	uint64_t bits[PR_BITMAP_WORDS];	/* decommitted pages */
	uint32_t lock;			/* epoch << 2, waiters 2, held 1 */
	uint32_t gen;			/* bits are void unless == dcm_gen */
	uint32_t flags;
	uint32_t pad;
};

static struct dcm_region *top[DCM_TOP_N];
static uint32_t lock_epoch = 1;
static uint32_t dcm_gen = 1;
static int reclaim_on;	/* reclaim allowed: adapter attached */

static struct dcm_region *leaf_get(unsigned long t, bool create)
{
	struct dcm_region *leaf = __atomic_load_n(&top[t], __ATOMIC_ACQUIRE);
	struct dcm_region *none = NULL;

	if (leaf || !create)
		return leaf;
	leaf = pr_map(DCM_LEAF_N * sizeof(struct dcm_region));
	if (!leaf)
		return NULL;
	if (!__atomic_compare_exchange_n(&top[t], &none, leaf, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		pr_unmap(leaf, DCM_LEAF_N * sizeof(struct dcm_region));
		leaf = none;
	}
	return leaf;
}

/* The entry for region number idx (address >> 21); NULL if untracked. */
static struct dcm_region *region_at(uintptr_t idx, bool create)
{
	struct dcm_region *leaf;

	if (idx >> (DCM_VA_BITS - PR_PMD_SHIFT))
		return NULL;
	leaf = leaf_get(idx >> DCM_LEAF_BITS, create);
	return leaf ? &leaf[idx & (DCM_LEAF_N - 1)] : NULL;
}

#define LOCK_HELD	1u
#define LOCK_WAITERS	2u
#define LOCK_EPOCH(w)	((w) >> 2)

static void futex(uint32_t *word, int op, uint32_t val)
{
	struct timespec ts = { 0, 10000000 };	/* a wake is never lost for long */

	pr_sys(SYS_futex, (long)word, op, val,
	       op == FUTEX_WAIT_PRIVATE ? (long)&ts : 0, 0, 0);
}

/*
 * Held for a few bit operations, or for the one madvise that reclaims a
 * fully decommitted region: a commit of that region must wait for it (the
 * zap must be over before jemalloc writes), so a waiter spins briefly,
 * then sleeps on a futex.  A lock of an older epoch was held by a thread
 * that fork did not copy: it counts as free.
 */
static void region_lock(struct dcm_region *r)
{
	uint32_t epoch = __atomic_load_n(&lock_epoch, __ATOMIC_RELAXED);
	uint32_t mine = epoch << 2 | LOCK_HELD;

	for (unsigned spins = 0;; spins++) {
		uint32_t w = __atomic_load_n(&r->lock, __ATOMIC_RELAXED);

		if ((!(w & LOCK_HELD) || LOCK_EPOCH(w) != epoch) &&
		    __atomic_compare_exchange_n(&r->lock, &w, mine, false,
						__ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			break;
		if (!(w & LOCK_HELD) || LOCK_EPOCH(w) != epoch)
			continue;
		if (spins < 64) {
			pr_cpu_relax();
			continue;
		}
		if ((w & LOCK_WAITERS) ||
		    __atomic_compare_exchange_n(&r->lock, &w, w | LOCK_WAITERS,
						false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			futex(&r->lock, FUTEX_WAIT_PRIVATE, w | LOCK_WAITERS);
		/* Whoever takes it after a wait keeps the waiters bit: the
		 * others may still sleep. */
		mine |= LOCK_WAITERS;
	}
	/* Bits from before a detach or re-attach say nothing now. */
	if (r->gen != __atomic_load_n(&dcm_gen, __ATOMIC_RELAXED)) {
		pr_bitmap_zero(r->bits);
		r->flags = 0;
		r->gen = __atomic_load_n(&dcm_gen, __ATOMIC_RELAXED);
	}
}

static void region_unlock(struct dcm_region *r)
{
	if (__atomic_exchange_n(&r->lock, 0, __ATOMIC_RELEASE) & LOCK_WAITERS)
		futex(&r->lock, FUTEX_WAKE_PRIVATE, INT32_MAX);
}

/* Adjacent regions, all fully decommitted and locked, to reclaim at once. */
struct run {
	uintptr_t base;
	unsigned n;
	struct dcm_region *r[DCM_RUN_MAX];
};

static void run_flush(struct run *run)
{
	long rc;
	unsigned tables = 0;

	if (!run->n)
		return;
	rc = pr_sys(SYS_madvise, (long)run->base, (long)(run->n * PR_PMD_SIZE),
		    MADV_DONTNEED, 0, 0, 0);
	pr_count(PRC_JE_RECLAIM_CALLS, 1);
	for (unsigned i = 0; i < run->n; i++) {
		struct dcm_region *r = run->r[i];

		if (rc == 0) {
			tables += !(r->flags & DCM_TABLE_GONE);
			r->flags |= DCM_TABLE_GONE;
		}
		region_unlock(r);
	}
	if (rc == 0) {
		pr_count(PRC_JE_REGIONS_RECLAIMED, run->n);
		pr_count(PRC_JE_PTE_RECLAIMED, tables);
	} else {
		pr_count(PRC_JE_RECLAIM_FAILED, 1);
	}
	run->n = 0;
}

/* Take a locked, fully decommitted region into the run, or release it. */
static void run_add(struct run *run, uintptr_t base, struct dcm_region *r)
{
	if (run->n && (run->base + run->n * PR_PMD_SIZE != base ||
		       run->n == DCM_RUN_MAX))
		run_flush(run);
	if (!run->n)
		run->base = base;
	run->r[run->n++] = r;
}

void pr_dcm_decommitted(uintptr_t start, uintptr_t end, bool purged)
{
	bool reclaim = pr_caps.pt_reclaim_on_dontneed &&
		       __atomic_load_n(&reclaim_on, __ATOMIC_RELAXED);
	struct run run = { .n = 0 };

	if (start >= end)
		return;
	for (uintptr_t i = start >> PR_PMD_SHIFT; i <= (end - 1) >> PR_PMD_SHIFT;
	     i++) {
		uintptr_t base = i << PR_PMD_SHIFT;
		struct dcm_region *r = region_at(i, true);
		bool whole = start <= base && base + PR_PMD_SIZE <= end;
		unsigned first, last;

		if (!r) {
			/* Untracked pages are never reclaimed: safe. */
			pr_count(PRC_JE_UNTRACKED, 1);
			run_flush(&run);
			continue;
		}
		pr_bitmap_span(base, start, end, &first, &last);
		region_lock(r);
		pr_bitmap_set(r->bits, first, last);
		if (whole) {
			/* The caller's own purge covered the whole PMD, so the
			 * kernel freed the table (or, for fresh memory, there
			 * never was one). */
			if (!purged || pr_caps.pt_reclaim_on_dontneed)
				r->flags |= DCM_TABLE_GONE;
			region_unlock(r);
			run_flush(&run);
		} else if (reclaim && pr_bitmap_full(r->bits) &&
			   !(r->flags & DCM_TABLE_GONE)) {
			run_add(&run, base, r);
		} else {
			region_unlock(r);
			run_flush(&run);
		}
	}
	run_flush(&run);
}

static bool any_marked(struct dcm_region *r, unsigned first, unsigned last)
{
	for (unsigned w = first / 64; w <= last / 64; w++) {
		unsigned lo = w == first / 64 ? first % 64 : 0;
		unsigned hi = w == last / 64 ? last % 64 + 1 : 64;

		if (__atomic_load_n(&r->bits[w], __ATOMIC_RELAXED) &
		    pr_word_mask(lo, hi))
			return true;
	}
	return false;
}

/* Clear the marks of [start, end): the pages are in use, or not ours. */
static void unmark(uintptr_t start, uintptr_t end, bool commit)
{
	if (start >= end)
		return;
	for (uintptr_t i = start >> PR_PMD_SHIFT; i <= (end - 1) >> PR_PMD_SHIFT;
	     i++) {
		uintptr_t base = i << PR_PMD_SHIFT;
		struct dcm_region *r;
		unsigned first, last;

		if (i >> (DCM_VA_BITS - PR_PMD_SHIFT))
			break;
		if (!leaf_get(i >> DCM_LEAF_BITS, false)) {
			/* Skip the rest of an absent leaf. */
			i |= DCM_LEAF_N - 1;
			continue;
		}
		r = region_at(i, false);
		pr_bitmap_span(base, start, end, &first, &last);
		/*
		 * Forgetting pages that are not marked changes nothing, and
		 * only the pages' owner could be marking them now.  So no lock
		 * then: munmap (even from a signal handler that interrupted a
		 * hook on this thread) never waits here for unrelated pages.
		 */
		if (!commit && !any_marked(r, first, last))
			continue;
		region_lock(r);
		pr_bitmap_clear(r->bits, first, last);
		/* Committed pages get a table when touched; an unmapped hole
		 * may be mapped again by anyone. */
		r->flags &= ~(uint32_t)DCM_TABLE_GONE;
		region_unlock(r);
	}
}

void pr_dcm_committed(uintptr_t start, uintptr_t end)
{
	unmark(start, end, true);
}

void pr_dcm_forget(uintptr_t start, uintptr_t end)
{
	unmark(start, end, false);
}

void pr_dcm_enable(bool on)
{
	/* A new generation either way: marks made under other hooks, or
	 * racing with the switch, must never lead to a reclaim. */
	__atomic_fetch_add(&dcm_gen, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&reclaim_on, on, __ATOMIC_RELEASE);
}

void pr_dcm_after_fork_child(void)
{
	/* Locks held by threads that did not survive the fork are free. */
	uint32_t e = __atomic_load_n(&lock_epoch, __ATOMIC_RELAXED) + 1;

	__atomic_store_n(&lock_epoch, e ? e : 1, __ATOMIC_RELAXED);
}

unsigned pr_dcm_count(uintptr_t start, uintptr_t end)
{
	unsigned n = 0;

	for (uintptr_t i = start >> PR_PMD_SHIFT;
	     start < end && i <= (end - 1) >> PR_PMD_SHIFT; i++) {
		struct dcm_region *r = region_at(i, false);
		unsigned first, last;

		if (!r || r->gen != __atomic_load_n(&dcm_gen, __ATOMIC_RELAXED))
			continue;
		pr_bitmap_span(i << PR_PMD_SHIFT, start, end, &first, &last);
		for (unsigned p = first; p <= last; p++)
			n += (unsigned)(__atomic_load_n(&r->bits[p / 64],
							__ATOMIC_RELAXED) >>
					(p % 64)) & 1;
	}
	return n;
}
