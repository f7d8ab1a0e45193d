/* SPDX-License-Identifier: MIT */
/*
 * cases_madvise.c - madvise with bad or awkward inputs: unaligned, zero
 * and wrapping lengths, holes, invalid advice numbers, odd addresses.
 *
 * Huge ranges only ever use advice that cannot destroy data, or start in
 * address space known to be empty: the range may cover this process's own
 * code and heap.
 */
#include "sem.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#define RW (PROT_READ | PROT_WRITE)
#define PA (MAP_PRIVATE | MAP_ANONYMOUS)
#define X A(PMD)

/* Four written private anonymous pages at X. */
static void std4(void)
{
	map_at(PMD, 4 * PG, RW, PA, -1, 0);
	fill(X, 4, 100);
}

static void end4(void)
{
	sem_mem(X, 4, 0);
	sem_end();
}

static void edge_lengths(void)
{
	static const struct { const char *name; size_t off, len; } c[] = {
		{ "len0", 0, 0 },
		{ "len0_unaligned", 1, 0 },
		{ "unaligned_1", 1, PG },
		{ "unaligned_half", PG / 2, PG },
		{ "unaligned_last", PG - 1, PG },
		{ "len1", 0, 1 },
		{ "len_pg_plus1", 0, PG + 1 },
		{ "len_3pg_minus1", 0, 3 * PG - 1 },
		{ "len_4pg", 0, 4 * PG },
		{ "len_max", 0, SIZE_MAX },
		{ "len_max_aligned", 0, SIZE_MAX - PG + 1 },
	};
	static const int adv[] = { MADV_DONTNEED, MADV_FREE, MADV_WILLNEED,
				   MADV_REMOVE, MADV_COLD };
	for (size_t a = 0; a < sizeof(adv) / sizeof(adv[0]); a++)
		for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			sem_begin("madv_%s_adv%d", c[i].name, adv[a]);
			std4();
			M(X + c[i].off, c[i].len, adv[a]);
			sem_mem(X, 4, adv[a] == MADV_FREE ? MEM_LAZY : 0);
			sem_end();
		}

	/* addr + len lands exactly on 0, or just past it. */
	sem_begin("madv_wrap_to_zero");
	std4();
	M(X, (size_t)0 - (uintptr_t)X, MADV_DONTNEED);
	end4();
	sem_begin("madv_wrap_past_zero");
	std4();
	M(X, (size_t)0 - (uintptr_t)X + PG, MADV_DONTNEED);
	end4();
}

static void odd_addresses(void)
{
	static const struct { const char *name; uintptr_t a; } c[] = {
		{ "null", 0 },
		{ "page1", PG },
		{ "kernel", 0xffff800000000000ULL },
		{ "kernel_top", (uintptr_t)0 - PG },
		{ "task_top", 0x7ffffffff000ULL },
		{ "noncanonical", 0x0000800000000000ULL },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		sem_begin("madv_addr_%s", c[i].name);
		/* WILLNEED and an invalid advice: neither can harm a page. */
		M((void *)c[i].a, PG, MADV_WILLNEED);
		M((void *)c[i].a, PG, 999);
		M((void *)c[i].a, 0, MADV_DONTNEED);
		sem_end();
	}

	/* A terabyte of address space right past the arena: empty. */
	sem_begin("madv_huge_unmapped");
	char *past = sem_base + WORK_SIZE + SEAL_SIZE;
	if (range_empty(past, (size_t)1 << 40)) {
		M(past, (size_t)1 << 40, MADV_DONTNEED);
		M(past, (size_t)1 << 40, MADV_FREE);
		M(past, (size_t)1 << 40, 12345);
	} else {
		sem_note("skipped:range-busy");
	}
	sem_end();

	/* From the arena to the top of user space: harmless advice only. */
	sem_begin("madv_huge_over_everything");
	std4();
	M(X, 0x800000000000ULL - (uintptr_t)X, MADV_NORMAL);
	M(X, 0x800000000000ULL - (uintptr_t)X + PG, MADV_NORMAL);
	M(X, (size_t)1 << 62, MADV_NORMAL);
	M(X, (size_t)1 << 63, MADV_NORMAL);
	end4();
}

static void holes(void)
{
	static const int adv[] = { MADV_DONTNEED, MADV_FREE, MADV_WILLNEED,
				   MADV_COLD, MADV_PAGEOUT, MADV_REMOVE,
				   MADV_POPULATE_WRITE, MADV_DONTNEED_LOCKED,
				   MADV_HUGEPAGE, MADV_DONTFORK, -1 };
	for (size_t a = 0; a < sizeof(adv) / sizeof(adv[0]); a++) {
		int lazy = adv[a] == MADV_FREE ? MEM_LAZY : 0;
		/* Pages 0-1 mapped, 2-3 a hole, 4-5 mapped. */
		sem_begin("madv_hole_middle_adv%d", adv[a]);
		map_at(PMD, 6 * PG, RW, PA, -1, 0);
		fill(X, 6, 200);
		hole(PMD + 2 * PG, 2 * PG);
		M(X, 6 * PG, adv[a]);
		sem_mem(X, 6, lazy);
		sem_end();

		sem_begin("madv_hole_first_adv%d", adv[a]);
		map_at(PMD + 2 * PG, 2 * PG, RW, PA, -1, 0);
		fill(X + 2 * PG, 2, 210);
		M(X, 4 * PG, adv[a]);
		sem_mem(X, 4, lazy);
		sem_end();

		sem_begin("madv_hole_last_adv%d", adv[a]);
		map_at(PMD, 2 * PG, RW, PA, -1, 0);
		fill(X, 2, 220);
		hole(PMD + 2 * PG, 2 * PG);
		M(X, 4 * PG, adv[a]);
		sem_mem(X, 4, lazy);
		sem_end();

		sem_begin("madv_all_unmapped_adv%d", adv[a]);
		hole(PMD, 4 * PG);
		M(X, 4 * PG, adv[a]);
		sem_mem(X, 4, 0);
		sem_end();
	}
}

static void invalid_advice(void)
{
	static const int bad[] = { -1, 5, 6, 7, 26, 27, 64, 99, 104, 105, 200,
				   999, 12345, INT_MAX, INT_MIN, 0x10004 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sem_begin("madv_invalid_%d", bad[i]);
		std4();
		M(X, 4 * PG, bad[i]);
		M(X, 0, bad[i]);
		M(X + 1, PG, bad[i]);
		M(X, SIZE_MAX, bad[i]);
		end4();
	}
	/* The fault-injection advice would really poison a page (we run as
	 * root): only inputs the kernel rejects or ignores before acting. */
	sem_begin("madv_hwpoison_noop");
	std4();
	M(X, 0, MADV_HWPOISON);
	M(X + 1, PG, MADV_HWPOISON);
	M(X, 0, MADV_SOFT_OFFLINE);
	M(X + 1, PG, MADV_SOFT_OFFLINE);
	end4();
}

/* One call over several different kinds of mapping. */
static void mixed(void)
{
	sem_begin("madv_mixed_vmas_dontneed");
	file_reset(sem_tmpfd, 2, 300);
	file_reset(sem_memfd, 2, 310);
	map_at(PMD, 2 * PG, RW, PA, -1, 0);
	map_at(PMD + 2 * PG, 2 * PG, RW, MAP_PRIVATE, sem_tmpfd, 0);
	map_at(PMD + 4 * PG, 2 * PG, RW, MAP_SHARED, sem_memfd, 0);
	map_at(PMD + 6 * PG, 2 * PG, PROT_NONE, PA, -1, 0);
	fill(X, 4, 320);
	M(X, 8 * PG, MADV_DONTNEED);
	sem_mem(X, 8, 0);
	sem_end();

	sem_begin("madv_mixed_prot_dontneed");
	map_at(PMD, 6 * PG, RW, PA, -1, 0);
	fill(X, 6, 330);
	mprotect(X + 2 * PG, 2 * PG, PROT_NONE);
	mprotect(X + 4 * PG, PG, PROT_READ);
	M(X + PG, 4 * PG, MADV_DONTNEED);
	sem_mem(X, 6, 0);
	sem_end();

	sem_begin("madv_mixed_mlock_dontneed");
	map_at(PMD, 6 * PG, RW, PA, -1, 0);
	fill(X, 6, 340);
	if (mlock(X + 2 * PG, 2 * PG))
		die("mlock");
	M(X, 6 * PG, MADV_DONTNEED);
	M(X, 2 * PG, MADV_DONTNEED);
	M(X, 6 * PG, MADV_FREE);
	M(X + 4 * PG, 2 * PG, MADV_FREE);
	sem_mem(X, 4, 0);
	sem_mem(X + 4 * PG, 2, MEM_LAZY);
	sem_end();

	/* A failed call may still have acted on the pages before the
	 * locked ones: the verdict shows what the kernel did. */
	static const int adv[] = { MADV_DONTNEED, MADV_FREE, MADV_REMOVE,
				   MADV_DONTNEED_LOCKED, MADV_PAGEOUT };
	for (size_t a = 0; a < sizeof(adv) / sizeof(adv[0]); a++) {
		sem_begin("madv_mlock_middle_adv%d", adv[a]);
		map_at(PMD, 6 * PG, RW, PA, -1, 0);
		fill(X, 6, 345);
		if (mlock(X + 2 * PG, 2 * PG))
			die("mlock");
		M(X, 6 * PG, adv[a]);
		sem_mem(X, 6, adv[a] == MADV_FREE ? MEM_LAZY : 0);
		sem_end();
	}

	/* Purged, written again, purged again: each write must survive
	 * until the purge that follows it. */
	sem_begin("madv_purge_write_purge");
	map_at(PMD, 8 * PG, RW, PA, -1, 0);
	fill(X, 8, 350);
	M(X, 8 * PG, MADV_DONTNEED);
	fill(X + 3 * PG, 1, 360);
	M(X, 3 * PG, MADV_DONTNEED);
	M(X + 4 * PG, 4 * PG, MADV_DONTNEED);
	sem_mem(X, 8, 0);
	sem_end();

	sem_begin("madv_free_then_write");
	map_at(PMD, 8 * PG, RW, PA, -1, 0);
	fill(X, 8, 370);
	M(X, 8 * PG, MADV_FREE);
	fill(X + 2 * PG, 2, 380);
	sem_mem(X, 2, MEM_LAZY);
	sem_mem(X + 2 * PG, 2, 0);
	sem_mem(X + 4 * PG, 4, MEM_LAZY);
	sem_end();
}

void cases_madvise(void)
{
	edge_lengths();
	odd_addresses();
	holes();
	invalid_advice();
	mixed();
}
