/* SPDX-License-Identifier: MIT */
/*
 * Unit test: the per-PMD ledger.  Linked with the shim's objects, so the
 * ledger is the one the constructor set up and madvise is the shim's.
 */
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "internal.h"

static void test_marking(uintptr_t a)
{
	uint64_t t0 = pr_ledger_tracked(), f0 = pr_ledger_full();

	/* As on a kernel that keeps tables after a whole-PMD DONTNEED. */
	pr_caps.pt_reclaim_on_dontneed = false;
	pr_ledger_purged(a, a + MIB, PR_PURGE_DONTNEED, 1);
	CHECK(pr_ledger_tracked() == t0 + 1 && pr_ledger_full() == f0);
	pr_ledger_purged(a + MIB, a + 2 * MIB, PR_PURGE_DONTNEED, 2);
	CHECK(pr_ledger_full() == f0 + 1);
	/* Purging again changes nothing. */
	pr_ledger_purged(a, a + 2 * MIB, PR_PURGE_FREE, 3);
	CHECK(pr_ledger_tracked() == t0 + 1 && pr_ledger_full() == f0 + 1);

	/* A span over three regions: the middle one is whole. */
	pr_ledger_purged(a + 3 * MIB, a + 7 * MIB, PR_PURGE_DONTNEED, 4);
	CHECK(pr_ledger_tracked() == t0 + 4 && pr_ledger_full() == f0 + 2);

	/* Pages the kernel maps again are in use. */
	pr_ledger_in_use(a + 4 * MIB, a + 4 * MIB + PR_PAGE_SIZE, 5);
	CHECK(pr_ledger_full() == f0 + 1 && pr_ledger_tracked() == t0 + 4);

	pr_ledger_drop(a, a + 8 * MIB);
	CHECK(pr_ledger_tracked() == t0 && pr_ledger_full() == f0);
}

static void test_kernel_frees(uintptr_t a)
{
	uint64_t t0 = pr_ledger_tracked();
	bool saved = pr_caps.pt_reclaim_on_dontneed;

	pr_caps.pt_reclaim_on_dontneed = true;
	/* A whole aligned DONTNEED: the kernel frees the table itself. */
	pr_ledger_purged(a, a + 2 * MIB, PR_PURGE_DONTNEED, 1);
	CHECK(pr_ledger_tracked() == t0);
	/* MADV_FREE leaves the pages mapped, so the table stays. */
	pr_ledger_purged(a, a + 2 * MIB, PR_PURGE_FREE, 2);
	CHECK(pr_ledger_tracked() == t0 + 1);
	pr_ledger_purged(a, a + 2 * MIB, PR_PURGE_DONTNEED, 3);
	CHECK(pr_ledger_tracked() == t0);
	pr_caps.pt_reclaim_on_dontneed = saved;
}

static void test_verify(uintptr_t a)
{
	char *p = (char *)a;
	long before;

	pr_ledger_drop(0, ~0UL);
	pr_ledger_maintain();
	CHECK(pr_ledger_tracked() == 0);
	memset(p, 1, PR_PMD_SIZE);
	/* Four sub-PMD purges through the interposed madvise. */
	for (int i = 0; i < 4; i++)
		CHECK(madvise(p + i * (PR_PMD_SIZE / 4), PR_PMD_SIZE / 4,
			      MADV_DONTNEED) == 0);
	CHECK(pr_ledger_full() == 1);
	before = pr_verify_reclaimable();
	CHECK(before == 1);
	/* The allocator reuses a page without telling anyone. */
	p[5 * PR_PAGE_SIZE] = 7;
	CHECK(pr_verify_reclaimable() == 0);
	CHECK(pr_ledger_full() == 0 && pr_ledger_tracked() == 1);
	/* munmap drops the region. */
	CHECK(munmap(p, PR_PMD_SIZE) == 0);
	CHECK(pr_ledger_tracked() == 0);
}

struct worker {
	uintptr_t base;
	int regions;
};

static void *mark_many(void *arg)
{
	struct worker *w = arg;

	for (int round = 0; round < 50; round++)
		for (int r = 0; r < w->regions; r++) {
			uintptr_t b = w->base + (uintptr_t)r * PR_PMD_SIZE;

			for (int q = 0; q < 4; q++)
				pr_ledger_purged(b + q * (PR_PMD_SIZE / 4),
						 b + (q + 1) * (PR_PMD_SIZE / 4),
						 PR_PURGE_DONTNEED, 1);
			if (round % 2)
				pr_ledger_in_use(b, b + PR_PAGE_SIZE, 2);
		}
	return NULL;
}

static void test_threads(void)
{
	enum { T = 4, R = 64 };
	pthread_t th[T];
	struct worker w[T];

	pr_ledger_drop(0, ~0UL);
	/* Overlapping workers race on the same regions. */
	for (int i = 0; i < T; i++) {
		w[i].base = (uintptr_t)0x7e0000000000ULL +
			    (uintptr_t)(i / 2) * R * PR_PMD_SIZE;
		w[i].regions = R;
		pthread_create(&th[i], NULL, mark_many, &w[i]);
	}
	for (int i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	CHECK(pr_ledger_tracked() == 2 * R);
	/* The last round (49) reused a page: nothing is full any more. */
	CHECK(pr_ledger_full() == 0);
	pr_ledger_drop(0, ~0UL);
	CHECK(pr_ledger_tracked() == 0 && pr_ledger_full() == 0);
}

int main(void)
{
	uintptr_t a = (uintptr_t)map_pmd_aligned(8 * MIB);

	/* The shim starts at the first purge; start it now, as the API does. */
	pr_life_settle();
	CHECK(pr_ready);
	test_marking(a);
	test_kernel_frees(a);
	test_verify(a);
	test_threads();
	CHECK_DONE();
}
