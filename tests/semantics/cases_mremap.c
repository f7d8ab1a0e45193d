/* SPDX-License-Identifier: MIT */
/*
 * cases_mremap.c - mremap: shrink, grow in place, move, MREMAP_FIXED,
 * MREMAP_DONTUNMAP, duplicates of shared mappings, and bad inputs.
 * Moved data is checked at its new address (the stamps travel with it).
 */
#include "sem.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#define RW (PROT_READ | PROT_WRITE)
#define PA (MAP_PRIVATE | MAP_ANONYMOUS)
#define X A(PMD)
#define Y A(4 * PMD)
#define MM_ MREMAP_MAYMOVE
#define FX MREMAP_FIXED
#define DU MREMAP_DONTUNMAP

static void drop_out(void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)sem_base;
	if (p != MAP_FAILED && (a < b || a >= b + WORK_SIZE + SEAL_SIZE))
		munmap(p, len);
}

/* Check the result wherever it went, then remove it if outside. */
static void check_new(void *p, size_t npages)
{
	if (p != MAP_FAILED) {
		sem_mem(p, npages, 0);
		drop_out(p, npages * PG);
	}
}

static void std8(void)
{
	map_at(PMD, 8 * PG, RW, PA, -1, 0);
	fill(X, 8, 4000);
}

static void inputs(void)
{
	static const struct {
		const char *name;
		size_t old_off, olen, nlen;
		int flags;
		long new_off;	/* relative to X; LONG_MIN: NULL */
	} c[] = {
		{ "same_size", 0, 8 * PG, 8 * PG, 0, 0 },
		{ "shrink", 0, 8 * PG, 4 * PG, 0, 0 },
		{ "shrink_unaligned_len", 0, 8 * PG, 4 * PG + 1, 0, 0 },
		{ "shrink_middle", 2 * PG, 4 * PG, 2 * PG, 0, 0 },
		{ "grow_no_room", 0, 8 * PG, 16 * PG, 0, 0 },
		{ "grow_no_room_maymove", 0, 8 * PG, 16 * PG, MM_, 0 },
		{ "old_unaligned", 1, 4 * PG, 4 * PG, 0, 0 },
		{ "old_len0_private", 0, 0, 4 * PG, MM_, 0 },
		{ "new_len0", 0, 8 * PG, 0, 0, 0 },
		{ "new_len_huge", 0, 8 * PG, (size_t)1 << 60, MM_, 0 },
		{ "new_len_max", 0, 8 * PG, SIZE_MAX, MM_, 0 },
		{ "old_len_max", 0, SIZE_MAX, 8 * PG, MM_, 0 },
		{ "old_len_past_vma", 0, 12 * PG, 12 * PG, MM_, 0 },
		{ "bad_flags", 0, 8 * PG, 8 * PG, 8, 0 },
		{ "bad_flags_high", 0, 8 * PG, 8 * PG, MM_ | 0x100, 0 },
		{ "fixed_no_maymove", 0, 8 * PG, 8 * PG, FX, 3 * PMD },
		{ "fixed_move", 0, 8 * PG, 8 * PG, MM_ | FX, 3 * PMD },
		{ "fixed_move_grow", 0, 8 * PG, 12 * PG, MM_ | FX, 3 * PMD },
		{ "fixed_move_shrink", 0, 8 * PG, 4 * PG, MM_ | FX, 3 * PMD },
		{ "fixed_unaligned_new", 0, 8 * PG, 8 * PG, MM_ | FX, 3 * PMD + 1 },
		{ "fixed_overlap", 0, 8 * PG, 8 * PG, MM_ | FX, 4 * PG },
		{ "fixed_same_addr", 0, 8 * PG, 8 * PG, MM_ | FX, 0 },
		{ "fixed_part", 2 * PG, 4 * PG, 4 * PG, MM_ | FX, 3 * PMD },
		{ "fixed_kernel", 0, 8 * PG, 8 * PG, MM_ | FX, -1 },
		{ "dontunmap", 0, 8 * PG, 8 * PG, MM_ | DU, LONG_MIN },
		{ "dontunmap_fixed", 0, 8 * PG, 8 * PG, MM_ | DU | FX, 3 * PMD },
		{ "dontunmap_grow", 0, 8 * PG, 12 * PG, MM_ | DU, LONG_MIN },
		{ "dontunmap_no_maymove", 0, 8 * PG, 8 * PG, DU, LONG_MIN },
		{ "dontunmap_part", 2 * PG, 4 * PG, 4 * PG, MM_ | DU | FX, 3 * PMD },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		void *na = c[i].new_off == LONG_MIN ? NULL :
			   c[i].new_off == -1 ? (void *)0xffff800000000000ULL :
			   X + c[i].new_off;
		sem_begin("mremap_%s", c[i].name);
		std8();
		void *p = MR(X + c[i].old_off, c[i].olen, c[i].nlen,
			     c[i].flags, na);
		sem_mem(X, 8, 0);
		if (p != MAP_FAILED && p != X + c[i].old_off)
			check_new(p, c[i].nlen / PG < 12 ? c[i].nlen / PG : 12);
		sem_end();
	}
}

static void room(void)
{
	sem_begin("mremap_grow_in_place");
	std8();
	hole(PMD + 8 * PG, 8 * PG);
	MR(X, 8 * PG, 16 * PG, 0, NULL);
	sem_mem(X, 16, 0);
	sem_end();

	sem_begin("mremap_grow_in_place_partial_room");
	std8();
	hole(PMD + 8 * PG, 4 * PG);
	MR(X, 8 * PG, 16 * PG, 0, NULL);
	sem_mem(X, 16, 0);
	sem_end();

	sem_begin("mremap_grow_then_write_then_shrink");
	std8();
	hole(PMD + 8 * PG, 8 * PG);
	MR(X, 8 * PG, 16 * PG, 0, NULL);
	fill(X + 10 * PG, 2, 4100);
	M(X, 4 * PG, MADV_DONTNEED);
	MR(X, 16 * PG, 11 * PG, 0, NULL);
	sem_mem(X, 16, 0);
	sem_end();

	sem_begin("mremap_across_vmas");
	std8();
	mprotect(X + 4 * PG, 4 * PG, PROT_READ);
	MR(X, 8 * PG, 8 * PG, MM_ | FX, Y);
	MR(X, 8 * PG, 16 * PG, MM_, NULL);
	sem_mem(X, 8, 0);
	sem_end();

	/* Without MREMAP_FIXED the kernel still takes new_address as a
	 * placement hint for MREMAP_DONTUNMAP: a free hole at the hint shows
	 * whether the fifth argument reached the kernel. */
	sem_begin("mremap_dontunmap_hint");
	std8();
	hole(4 * PMD, 8 * PG);
	void *q = MR(X, 8 * PG, 8 * PG, MM_ | DU, Y);
	check_new(q, 8);
	sem_end();

	sem_begin("mremap_maymove_grow_hint");
	std8();
	hole(4 * PMD, 16 * PG);
	q = MR(X, 8 * PG, 16 * PG, MM_, Y);
	check_new(q, 16);
	sem_end();

	sem_begin("mremap_unmapped");
	hole(PMD, 8 * PG);
	MR(X, 4 * PG, 8 * PG, MM_, NULL);
	MR(X, 4 * PG, 4 * PG, MM_ | FX, Y);
	sem_end();

	sem_begin("mremap_purged_then_move");
	std8();
	M(X + 2 * PG, 4 * PG, MADV_DONTNEED);
	fill(X + 3 * PG, 1, 4200);
	MR(X, 8 * PG, 8 * PG, MM_ | FX, Y);
	M(Y + 6 * PG, 2 * PG, MADV_DONTNEED);
	sem_mem(Y, 8, 0);
	sem_end();

	sem_begin("mremap_mlocked_grow_move");
	std8();
	if (mlock(X, 8 * PG))
		die("mlock");
	void *p = MR(X, 8 * PG, 16 * PG, MM_, NULL);
	check_new(p, 16);
	sem_end();

	sem_begin("mremap_mlocked_dontunmap");
	std8();
	if (mlock(X, 8 * PG))
		die("mlock");
	MR(X, 8 * PG, 8 * PG, MM_ | DU | FX, Y);
	sem_mem(X, 8, 0);
	sem_mem(Y, 8, 0);
	sem_end();
}

static void shared(void)
{
	/* old_len 0 duplicates a shared mapping: both views, same bytes. */
	sem_begin("mremap_dup_shared_anon");
	map_at(PMD, 4 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fill(X, 4, 4300);
	MR(X, 0, 4 * PG, MM_ | FX, Y);
	fill(Y + PG, 1, 4350);
	sem_mem(X, 4, 0);
	sem_mem(Y, 4, 0);
	sem_end();

	sem_begin("mremap_dup_shared_nomove");
	map_at(PMD, 4 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	MR(X, 0, 4 * PG, 0, NULL);
	sem_end();

	sem_begin("mremap_file_grow_past_eof");
	file_reset(sem_tmpfd, 4, 4400);
	map_at(PMD, 4 * PG, RW, MAP_SHARED, sem_tmpfd, 0);
	hole(PMD + 4 * PG, 4 * PG);
	MR(X, 4 * PG, 8 * PG, 0, NULL);
	sem_mem(X, 8, 0);
	sem_end();

	sem_begin("mremap_memfd_dontunmap");
	file_reset(sem_memfd, 4, 4500);
	map_at(PMD, 4 * PG, RW, MAP_SHARED, sem_memfd, 0);
	MR(X, 4 * PG, 4 * PG, MM_ | DU | FX, Y);
	sem_mem(X, 4, 0);
	sem_mem(Y, 4, 0);
	sem_end();

	sem_begin("mremap_file_private_move");
	file_reset(sem_tmpfd, 4, 4600);
	map_at(PMD, 4 * PG, RW, MAP_PRIVATE, sem_tmpfd, 0);
	fill(X + PG, 1, 4650);
	MR(X, 4 * PG, 4 * PG, MM_ | FX, Y);
	sem_mem(Y, 4, 0);
	sem_end();
}

void cases_mremap(void)
{
	inputs();
	room();
	shared();
}
