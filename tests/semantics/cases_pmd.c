/* SPDX-License-Identifier: MIT */
/*
 * cases_pmd.c - whole 2 MiB regions: aligned and straddling purges, a PMD
 * purged in pieces, purged pages written again before the region is
 * "complete", transparent huge pages, PMD-sized munmap and mremap.
 *
 * These are the inputs the shim's ledger reacts to: a region it believes
 * fully purged may hold a page the program wrote since, and that byte must
 * survive whatever the shim does next.
 */
#include "sem.h"

#include <stdio.h>

#define RW (PROT_READ | PROT_WRITE)
#define PA (MAP_PRIVATE | MAP_ANONYMOUS)
#define NPMD 512
#define R A(2 * PMD)		/* three PMDs: R, R+PMD, R+2*PMD */
#define Y A(8 * PMD)

static void three(int thp)
{
	map_at(2 * PMD, 3 * PMD, RW, PA, -1, 0);
	if (M(R, 3 * PMD, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		die("hugepage advice");
	fill(R, 3 * NPMD, 5000);
}

static void show3(int flags)
{
	sem_mem(R, NPMD, 0);
	sem_mem(R + PMD, NPMD, flags);
	sem_mem(R + 2 * PMD, NPMD, 0);
}

static void whole(void)
{
	static const int adv[] = { MADV_DONTNEED, MADV_FREE, MADV_COLD,
				   MADV_PAGEOUT, MADV_WILLNEED,
				   MADV_POPULATE_WRITE, MADV_DONTNEED_LOCKED,
				   MADV_REMOVE, MADV_COLLAPSE };
	for (int thp = 0; thp < 2; thp++)
		for (size_t a = 0; a < sizeof(adv) / sizeof(adv[0]); a++) {
			int lazy = adv[a] == MADV_FREE ? MEM_LAZY : 0;
			sem_begin("pmd_whole_adv%d_thp%d", adv[a], thp);
			three(thp);
			M(R + PMD, PMD, adv[a]);
			show3(lazy);
			sem_end();

			sem_begin("pmd_straddle_adv%d_thp%d", adv[a], thp);
			three(thp);
			M(R + PMD / 2, PMD, adv[a]);
			M(R + PMD + PMD / 2, PMD, adv[a]);
			sem_mem(R, NPMD / 2, 0);
			sem_mem(R + PMD / 2, 2 * NPMD, lazy);
			sem_mem(R + 2 * PMD + PMD / 2, NPMD / 2, 0);
			sem_end();
		}

	sem_begin("pmd_shmem_remove_whole");
	map_at(2 * PMD, 3 * PMD, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fill(R, 3 * NPMD, 5100);
	M(R + PMD, PMD, MADV_REMOVE);
	fill(R + PMD + 7 * PG, 1, 5150);
	show3(0);
	sem_end();
}

static void pieces(void)
{
	/* 32 calls of 64 KiB: the allocator's way of emptying a PMD. */
	sem_begin("pmd_pieces_64k");
	three(0);
	for (size_t i = 0; i < 32; i++)
		M(R + PMD + i * 16 * PG, 16 * PG, MADV_DONTNEED);
	show3(0);
	sem_end();

	/* All but one piece purged, a purged page written again, then the
	 * last piece purged: the written page is in use. */
	sem_begin("pmd_pieces_reuse_before_last");
	three(0);
	for (size_t i = 0; i < 31; i++)
		M(R + PMD + i * 16 * PG, 16 * PG, MADV_DONTNEED);
	fill(R + PMD + 100 * PG, 1, 5200);
	M(R + PMD + 31 * 16 * PG, 16 * PG, MADV_DONTNEED);
	show3(0);
	sem_end();

	sem_begin("pmd_pieces_reuse_after_last");
	three(0);
	for (size_t i = 0; i < 32; i++)
		M(R + PMD + i * 16 * PG, 16 * PG, MADV_DONTNEED);
	fill(R + PMD + 511 * PG, 1, 5250);
	fill(R + PMD, 1, 5260);
	M(R + 2 * PMD, PG, MADV_DONTNEED);
	show3(0);
	sem_end();

	sem_begin("pmd_pieces_free_reuse");
	three(0);
	for (size_t i = 0; i < 64; i++)
		M(R + PMD + i * 8 * PG, 8 * PG, MADV_FREE);
	fill(R + PMD + 300 * PG, 2, 5300);
	sem_mem(R + PMD, 300, MEM_LAZY);
	sem_mem(R + PMD + 300 * PG, 2, 0);
	sem_mem(R + PMD + 302 * PG, NPMD - 302, MEM_LAZY);
	sem_end();

	sem_begin("pmd_pieces_mixed_free_dontneed");
	three(0);
	for (size_t i = 0; i < 32; i++)
		M(R + PMD + i * 16 * PG, 16 * PG,
		  i & 1 ? MADV_FREE : MADV_DONTNEED);
	fill(R + PMD + 17 * PG, 1, 5350);
	M(R + PMD + 16 * PG, 16 * PG, MADV_DONTNEED);
	sem_mem(R + PMD + 16 * PG, 16, 0);
	sem_end();

	/* One page at a time, in reverse, over two PMDs. */
	sem_begin("pmd_pages_reverse");
	three(0);
	for (size_t i = 2 * NPMD; i-- > 0;)
		if (M(R + PMD / 2 + i * PG, PG, MADV_DONTNEED))
			break;
	sem_mem(R + PMD / 2, 2 * NPMD, 0);
	sem_end();

	sem_begin("pmd_purged_then_protnone");
	three(0);
	M(R + PMD, PMD - PG, MADV_DONTNEED);
	mprotect(R + PMD, PMD, PROT_NONE);
	M(R + 2 * PMD - PG, PG, MADV_DONTNEED);
	show3(0);
	sem_end();

	sem_begin("pmd_purged_mlock_last");
	three(0);
	M(R + PMD, PMD - PG, MADV_DONTNEED);
	if (mlock(R + 2 * PMD - PG, PG))
		die("mlock");
	M(R + 2 * PMD - PG, PG, MADV_DONTNEED);
	M(R + 2 * PMD - PG, PG, MADV_DONTNEED_LOCKED);
	show3(0);
	sem_end();
}

static void unmap_move(void)
{
	sem_begin("pmd_munmap_whole");
	three(0);
	M(R + PMD, PMD / 2, MADV_DONTNEED);
	U(R + PMD, PMD);
	show3(0);
	sem_end();

	sem_begin("pmd_munmap_straddle");
	three(0);
	U(R + PMD / 2, PMD);
	show3(0);
	sem_end();

	sem_begin("pmd_munmap_purged_then_map_fixed");
	three(0);
	M(R + PMD, PMD, MADV_DONTNEED);
	MM(R + PMD, PMD, RW, PA | MAP_FIXED, -1, 0);
	fill(R + PMD + 5 * PG, 1, 5400);
	show3(0);
	sem_end();

	for (int thp = 0; thp < 2; thp++) {
		sem_begin("pmd_mremap_move_aligned_thp%d", thp);
		three(thp);
		M(R + PMD, PMD / 4, MADV_DONTNEED);
		MR(R + PMD, PMD, PMD, MREMAP_MAYMOVE | MREMAP_FIXED, Y);
		fill(Y + PMD / 2, 1, 5450);
		show3(0);
		sem_mem(Y, NPMD, 0);
		sem_end();

		sem_begin("pmd_mremap_move_unaligned_thp%d", thp);
		three(thp);
		MR(R + PMD, PMD, PMD, MREMAP_MAYMOVE | MREMAP_FIXED,
		   Y + 3 * PG);
		sem_mem(Y + 3 * PG, NPMD, 0);
		sem_end();

		sem_begin("pmd_mremap_shrink_thp%d", thp);
		three(thp);
		MR(R, 3 * PMD, PMD + PMD / 2, 0, NULL);
		show3(0);
		sem_end();

		sem_begin("pmd_mremap_dontunmap_thp%d", thp);
		three(thp);
		MR(R + PMD, PMD, PMD,
		   MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, Y);
		fill(R + PMD + 9 * PG, 1, 5500);
		show3(0);
		sem_mem(Y, NPMD, 0);
		sem_end();
	}
}

void cases_pmd(void)
{
	whole();
	pieces();
	unmap_move();
}
