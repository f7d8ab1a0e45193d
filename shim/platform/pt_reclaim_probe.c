/* SPDX-License-Identifier: MIT */
/*
 * pt_reclaim_probe.c - what this kernel does with page tables, found by
 * experiment.
 *
 * Whether a whole-PMD MADV_DONTNEED frees the PTE table (CONFIG_PT_RECLAIM,
 * Linux 6.14+) can't be read from anywhere, so we try it on a private
 * mapping of our own and watch VmPTE.
 */
#include <sys/mman.h>

#include "platform.h"

/* One experiment: fault a page into an aligned PMD, zap the PMD whole,
 * and see whether VmPTE fell back; -1 if it can't tell. */
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
	before = pr_vmpte_kb_of(0);
	*(volatile char *)pmd = 1;
	touched = pr_vmpte_kb_of(0);
	pr_sys(SYS_madvise, (long)pmd, PR_PMD_SIZE, MADV_DONTNEED, 0, 0, 0);
	after = pr_vmpte_kb_of(0);
	if (before >= 0 && touched > before)
		freed = after < touched;
	pr_unmap(map, len);
	return freed;
}

/*
 * Other threads can move VmPTE too (the experiment may run at a first
 * purge, while the program's threads fault tables in), and that only
 * ever hides a drop: a "no" can be noise, a drop seen twice is not.  A
 * wrong "yes" costs no data either (a whole-PMD zap is only ever made
 * behind a strategy's own guarantee); it only frees no table.  So: yes
 * at the second try that saw the table go, no after three that did not.
 */
bool pr_probe_pt_reclaim(void)
{
	int yes = 0, no = 0;

	while (yes < 2 && no < 3) {
		int r = try_pt_reclaim();

		if (r < 0)
			return false;
		yes += r;
		no += !r;
	}
	return yes == 2;
}
