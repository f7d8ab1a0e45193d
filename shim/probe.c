/* SPDX-License-Identifier: MIT */
/*
 * probe.c - what this kernel does with page tables, found by experiment.
 *
 * Whether a whole-PMD MADV_DONTNEED frees the PTE table (CONFIG_PT_RECLAIM,
 * Linux 6.14+) can't be read from anywhere, so we try it on a private
 * mapping of our own and watch VmPTE.
 */
#include <sys/mman.h>

#include "internal.h"

struct pr_caps pr_caps;

/* One experiment: fault a page into an aligned PMD, zap the PMD whole,
 * and see whether VmPTE fell back.  Other threads can move VmPTE too, so
 * the caller repeats it. */
static int try_pt_reclaim(void)
{
	size_t len = 2 * PR_PMD_SIZE;
	char *map = pr_map(len);
	char *pmd;
	long before, touched, after;
	int freed = -1;

	if (!map)
		return -1;
	pmd = (char *)(((uintptr_t)map + PR_PMD_SIZE - 1) &
		       ~(PR_PMD_SIZE - 1));
	/* No huge page: a PMD-mapped THP has no PTE table to free. */
	pr_sys(SYS_madvise, (long)pmd, PR_PMD_SIZE, MADV_NOHUGEPAGE, 0, 0, 0);
	before = pr_vmpte_kb();
	*(volatile char *)pmd = 1;
	touched = pr_vmpte_kb();
	pr_sys(SYS_madvise, (long)pmd, PR_PMD_SIZE, MADV_DONTNEED, 0, 0, 0);
	after = pr_vmpte_kb();
	if (before >= 0 && touched > before)
		freed = after < touched;
	pr_unmap(map, len);
	return freed;
}

void pr_probe_caps(void)
{
	int yes = 0, tries = 0;

	while (tries < 3 && yes == tries) {
		int r = try_pt_reclaim();

		if (r < 0)
			break;
		yes += r;
		tries++;
	}
	pr_caps.pt_reclaim_on_dontneed = tries == 3 && yes == 3;
	pr_caps_probe_more();
}
