/* SPDX-License-Identifier: MIT */
/*
 * lazy - regions given back with MADV_FREE (mimalloc's default purge).
 *
 * Their pages stay mapped until the kernel needs memory, so the fence must
 * not zap them (their table is not empty, and a page written again after
 * MADV_FREE is data) and must not forget that they were purged: it reports
 * them as waiting.  Once the kernel discards the pages (MADV_PAGEOUT here
 * stands for memory pressure), the fence frees the tables.  A page written
 * again after MADV_FREE must survive all of it.
 */
#include "fence_test.h"

#include <sched.h>

#define NREG 4

int main(void)
{
	struct ptreclaim_fence_stats s0, s1, s2;
	char *p = map_regions(NREG);
	long pte0, pte1, pte2;
	unsigned left, empty = 0;

	api_init_active();
	fill_pages(p, NREG * NPG, 99);
	purge_pieces(p, NREG * PMD, MADV_FREE);
	/* Region 3: one page reused after MADV_FREE (dirty again: data). */
	strcpy(p + 3 * PMD + 17 * PG, "reused after MADV_FREE");

	s0 = fstats();
	pte0 = status_kb("VmPTE");
	flush();
	s1 = fstats();
	pte1 = status_kb("VmPTE");
	printf("lazy: before pressure: waiting=%llu zapped +%llu VmPTE %ld -> %ld kB, mapped %u pages\n",
	       (unsigned long long)s1.waiting_lazy,
	       (unsigned long long)(s1.regions_zapped - s0.regions_zapped),
	       pte0, pte1, mapped_pages(p, NREG * NPG));
	CHECK(s1.waiting_lazy == NREG, "waiting=%llu, want %d",
	      (unsigned long long)s1.waiting_lazy, NREG);
	CHECK(s1.regions_zapped == s0.regions_zapped,
	      "lazily freed regions were zapped");

	/* Memory pressure: the kernel discards the clean lazy pages.  Pages
	 * still in a CPU's LRU batch can't be isolated, and MADV_PAGEOUT
	 * drains only the batch of the CPU it runs on: go round the CPUs. */
	left = mapped_pages(p, NREG * NPG);
	for (int round = 0; round < 10 && left > 1; round++) {
		cpu_set_t all, one;

		if (sched_getaffinity(0, sizeof(all), &all))
			die("sched_getaffinity");
		for (int c = 0; c < CPU_SETSIZE; c++) {
			if (!CPU_ISSET(c, &all))
				continue;
			CPU_ZERO(&one);
			CPU_SET(c, &one);
			sched_setaffinity(0, sizeof(one), &one);
			if (madvise(p, NREG * PMD, MADV_PAGEOUT))
				die("MADV_PAGEOUT");
		}
		sched_setaffinity(0, sizeof(all), &all);
		left = mapped_pages(p, NREG * NPG);
	}
	/* The kernel decides what it discards (a page still in an LRU batch
	 * stays): the regions it emptied must lose their tables, the others
	 * must still wait. */
	for (int r = 0; r < NREG; r++)
		empty += mapped_pages(p + (size_t)r * PMD, NPG) == 0;
	flush();
	s2 = fstats();
	pte2 = status_kb("VmPTE");
	printf("lazy: after MADV_PAGEOUT: %u pages left mapped, %u regions empty, waiting=%llu zapped +%llu VmPTE %ld -> %ld kB\n",
	       left, empty, (unsigned long long)s2.waiting_lazy,
	       (unsigned long long)(s2.regions_zapped - s1.regions_zapped),
	       pte1, pte2);
	CHECK(empty >= 1, "the kernel discarded no region's lazy pages");
	CHECK(s2.regions_zapped - s1.regions_zapped == empty,
	      "zapped %llu regions, %u were empty",
	      (unsigned long long)(s2.regions_zapped - s1.regions_zapped),
	      empty);
	CHECK(s2.waiting_lazy == NREG - empty, "waiting=%llu, want %u",
	      (unsigned long long)s2.waiting_lazy, NREG - empty);
	/* VmPTE also moves with the program's other tables: at least some. */
	CHECK(empty == 0 || pte2 <= pte1 - 4, "VmPTE %ld -> %ld kB", pte1, pte2);
	CHECK(!strcmp(p + 3 * PMD + 17 * PG, "reused after MADV_FREE"),
	      "the reused page lost its data");
	CHECK(p[5 * PG] == 0, "a discarded page reads non-zero");
	CHECK_DONE();
}
