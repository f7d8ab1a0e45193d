/* SPDX-License-Identifier: MIT */
/*
 * cases_munmap.c - munmap of whole, partial and odd ranges.
 *
 * munmap with a valid huge length would take this process's own code with
 * it, so huge lengths are only ones the kernel rejects before acting.
 */
#include "sem.h"

#include <stdint.h>
#include <stdio.h>

#define RW (PROT_READ | PROT_WRITE)
#define PA (MAP_PRIVATE | MAP_ANONYMOUS)
#define X A(PMD)

static void std8(void)
{
	map_at(PMD, 8 * PG, RW, PA, -1, 0);
	fill(X, 8, 2000);
}

static void ranges(void)
{
	static const struct { const char *name; size_t off, len; } c[] = {
		{ "len0", 0, 0 },
		{ "unaligned", 1, PG },
		{ "unaligned_len0", 1, 0 },
		{ "len1", 0, 1 },
		{ "len_pg_plus1", 0, PG + 1 },
		{ "head", 0, 2 * PG },
		{ "tail", 6 * PG, 2 * PG },
		{ "middle", 3 * PG, 2 * PG },
		{ "whole", 0, 8 * PG },
		{ "past_end", 6 * PG, 8 * PG },
		{ "before_start", (size_t)-2 * PG, 4 * PG },
		{ "len_max", 0, SIZE_MAX },
		{ "len_max_aligned", 0, SIZE_MAX - PG + 1 },
		{ "len_task_size", 0, 0x800000000000ULL },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		sem_begin("munmap_%s", c[i].name);
		std8();
		U(X + c[i].off, c[i].len);
		sem_mem(X - 2 * PG, 12, 0);
		sem_end();
	}
}

static void odd(void)
{
	static const struct { const char *name; uintptr_t a; size_t len; } c[] = {
		{ "null", 0, PG },
		{ "kernel", 0xffff800000000000ULL, PG },
		{ "noncanonical", 0x0000800000000000ULL, PG },
		{ "task_top", 0x7ffffffff000ULL, PG },
		{ "task_top_cross", 0x7ffffffff000ULL, 2 * PG },
		{ "kernel_top", (uintptr_t)0 - PG, PG },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		sem_begin("munmap_addr_%s", c[i].name);
		U((void *)c[i].a, c[i].len);
		sem_end();
	}
	sem_begin("munmap_unmapped");
	hole(PMD, 4 * PG);
	U(X, 4 * PG);
	sem_end();
	sem_begin("munmap_huge_unmapped");
	if (range_empty(sem_base + WORK_SIZE + SEAL_SIZE, (size_t)1 << 40))
		U(sem_base + WORK_SIZE + SEAL_SIZE, (size_t)1 << 40);
	else
		sem_note("skipped:range-busy");
	sem_end();
}

static void kinds(void)
{
	sem_begin("munmap_hole_inside");
	std8();
	hole(PMD + 3 * PG, 2 * PG);
	U(X, 8 * PG);
	sem_mem(X, 8, 0);
	sem_end();

	sem_begin("munmap_mlocked_partial");
	std8();
	if (mlock(X, 8 * PG))
		die("mlock");
	U(X + 2 * PG, 2 * PG);
	sem_mem(X, 8, 0);
	sem_end();

	sem_begin("munmap_protnone_partial");
	std8();
	mprotect(X, 8 * PG, PROT_NONE);
	U(X + 4 * PG, 2 * PG);
	sem_mem(X, 8, 0);
	sem_end();

	sem_begin("munmap_across_kinds");
	file_reset(sem_tmpfd, 4, 2100);
	file_reset(sem_memfd, 4, 2150);
	map_at(PMD, 4 * PG, RW, PA, -1, 0);
	fill(X, 4, 2200);
	map_at(PMD + 4 * PG, 4 * PG, RW, MAP_PRIVATE, sem_tmpfd, 0);
	map_at(PMD + 8 * PG, 4 * PG, RW, MAP_SHARED, sem_memfd, 0);
	map_at(PMD + 12 * PG, 4 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fill(X + 12 * PG, 4, 2250);
	U(X + 2 * PG, 12 * PG);
	sem_mem(X, 16, 0);
	sem_end();

	sem_begin("munmap_file_shared_middle");
	file_reset(sem_tmpfd, 8, 2300);
	map_at(PMD, 8 * PG, RW, MAP_SHARED, sem_tmpfd, 0);
	fill(X + 2 * PG, 4, 2350);
	U(X + 3 * PG, 2 * PG);
	sem_mem(X, 8, 0);
	sem_end();

	/* Purged pages, unmapped, then the same addresses mapped afresh: the
	 * new mapping must read as zero, and nothing the purge saw before may
	 * leak into it. */
	sem_begin("munmap_after_purge_remap");
	std8();
	M(X, 4 * PG, MADV_DONTNEED);
	M(X + 4 * PG, 2 * PG, MADV_FREE);
	U(X, 8 * PG);
	MM(X, 8 * PG, RW, PA | MAP_FIXED, -1, 0);
	fill(X + 5 * PG, 1, 2400);
	M(X + 6 * PG, 2 * PG, MADV_DONTNEED);
	sem_mem(X, 8, 0);
	sem_end();

	sem_begin("munmap_twice");
	std8();
	U(X, 8 * PG);
	U(X, 8 * PG);
	sem_end();
}

void cases_munmap(void)
{
	ranges();
	odd();
	kinds();
}
