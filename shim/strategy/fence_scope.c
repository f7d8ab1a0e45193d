/* SPDX-License-Identifier: MIT */
/*
 * fence_scope.c - which regions the fence may take (fence_scope:allocator,
 * the default): those only the allocator's own code mapped, and the brk
 * heap.  The fence's guarantee assumes that every change to a region's
 * mapping goes through the interposed calls; a raw mremap that moves data
 * into a region while a window is open defeats it (docs/fence.md).  Kept
 * to memory the allocator made, only a program that writes over its
 * allocator's memory could do that, which is a bug of its own.
 *
 * Two bits per 2 MiB region, in a radix over the 47-bit address space
 * whose leaves are mmap'd on first use and never freed: ALLOC, some mmap
 * from the allocator's object covered part of it; OTHER, some other mmap
 * or mremap did, since.  A region is in scope while ALLOC and not OTHER.
 * What was mapped before the fence started is not known: a program's own
 * mapping from then that shares a 2 MiB region with a later allocator
 * mapping counts as the allocator's.  Scope only narrows the raw-mremap
 * hole; the window, the VMA check and pagemap still guard every zap.
 * Updated from the interposed mmap, munmap and mremap (atomic bit
 * operations, mmap for a new leaf: nothing that blocks); read by the
 * worker.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "strategy.h"

#define VA_BITS		47
#define LEAF_BITS	16			/* regions per leaf: 128 GiB */
#define LEAF_REGIONS	(1UL << LEAF_BITS)
#define TOP_N		(1UL << (VA_BITS - PR_PMD_SHIFT - LEAF_BITS))
#define WORDS		(LEAF_REGIONS * 2 / 64)

enum { ALLOC = 1, OTHER = 2 };

static uint64_t *leaves[TOP_N];
static uintptr_t alloc_lo, alloc_hi;	/* the allocator's code */
static uintptr_t brk_lo;		/* where the brk heap starts */
static int on;

static uint64_t *leaf(uintptr_t idx, bool create)
{
	uint64_t **slot = &leaves[idx >> LEAF_BITS];
	uint64_t *l = __atomic_load_n(slot, __ATOMIC_ACQUIRE), *none = NULL;

	if (l || !create)
		return l;
	l = pr_map(WORDS * sizeof(uint64_t));
	if (!l)
		return NULL;
	if (!__atomic_compare_exchange_n(slot, &none, l, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		pr_unmap(l, WORDS * sizeof(uint64_t));
		l = none;
	}
	return l;
}

/* Set bits in every region [start, end) touches. */
static void mark(uintptr_t start, uintptr_t end, unsigned bits)
{
	if (end > (1UL << VA_BITS))
		end = 1UL << VA_BITS;
	for (uintptr_t idx = start >> PR_PMD_SHIFT;
	     idx < (end + PR_PMD_SIZE - 1) >> PR_PMD_SHIFT; idx++) {
		uint64_t *l = leaf(idx, true);
		unsigned bit = (unsigned)(idx & (LEAF_REGIONS - 1)) * 2;

		if (l)
			__atomic_fetch_or(&l[bit / 64], (uint64_t)bits << (bit % 64),
					  __ATOMIC_RELAXED);
	}
}

/* start_brk, field 47 of /proc/self/stat (the command name may hold
 * blanks and parentheses: count from the last ')', after which comes
 * field 3). */
static uintptr_t start_brk(void)
{
	char buf[1024], *p;
	int field = 3;

	if (pr_read_file("/proc/self/stat", buf, sizeof(buf)) <= 0 ||
	    !(p = strrchr(buf, ')')))
		return 0;
	for (p++; *p && field < 47; p++)
		field += *p == ' ' && p[1] != ' ';
	return field == 47 ? (uintptr_t)strtoull(p, NULL, 10) : 0;
}

/* From the fence's start: mappings made before it are out of scope. */
void pr_fence_scope_start(void)
{
	pr_malloc_object(&alloc_lo, &alloc_hi);
	brk_lo = (start_brk() + PR_PMD_SIZE - 1) & ~(PR_PMD_SIZE - 1);
	__atomic_store_n(&on, 1, __ATOMIC_RELEASE);
}

/* An mmap (or mremap's new range) succeeded; caller made it. */
void pr_fence_scope_mapped(uintptr_t start, size_t len, const void *caller)
{
	uintptr_t c = (uintptr_t)caller;

	if (!__atomic_load_n(&on, __ATOMIC_ACQUIRE) || !len)
		return;
	mark(start, start + pr_page_up(len),
	     c >= alloc_lo && c < alloc_hi ? ALLOC : OTHER);
}

static unsigned bits_of(uintptr_t base)
{
	uintptr_t idx = base >> PR_PMD_SHIFT;
	uint64_t *l = base >> VA_BITS ? NULL : leaf(idx, false);
	unsigned bit = (unsigned)(idx & (LEAF_REGIONS - 1)) * 2;

	return l ? (unsigned)(__atomic_load_n(&l[bit / 64], __ATOMIC_RELAXED) >>
			      (bit % 64)) & 3 : 0;
}

/* The worker's only: the current break, read at most every 10 ms. */
static uintptr_t brk_top(void)
{
	static uintptr_t top;
	static uint64_t read_ns;
	uint64_t now = pr_now_ns();

	if (now - read_ns > 10000000ULL) {
		top = (uintptr_t)pr_sys(SYS_brk, 0, 0, 0, 0, 0, 0);
		read_ns = now;
	}
	return top;
}

bool pr_fence_scope_owns(uintptr_t base)
{
	if (pr_conf.fence_all || bits_of(base) == ALLOC)
		return true;
	/* The brk heap is the allocator's (tcmalloc grows by sbrk). */
	return brk_lo && base >= brk_lo && base + PR_PMD_SIZE <= brk_top();
}
