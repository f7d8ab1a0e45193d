/* SPDX-License-Identifier: MIT */
/*
 * pagemap.c - /proc/PID/pagemap: which pages of a 2 MiB region map
 * anything.  A table is empty only when every one of its 512 entries is:
 * present pages, swap entries, uffd-wp markers and guard markers all keep
 * it.
 */
#include <stdio.h>
#include <string.h>

#include "platform.h"

#define PM_PRESENT	(1ULL << 63)
#define PM_SWAPPED	(1ULL << 62)
#define PM_GUARD	(1ULL << 58)
#define PM_UFFD_WP	(1ULL << 57)
#define PM_PFN_OR_SWAP	((1ULL << 55) - 1)
#define PM_IN_USE	(PM_PRESENT | PM_SWAPPED | PM_UFFD_WP | PM_GUARD | \
			 PM_PFN_OR_SWAP)

long pr_pagemap_open(pid_t pid)
{
	char path[48];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/pagemap");
	return pr_open_ro(path);
}

bool pr_pagemap_read(long fd, uintptr_t base, uint64_t *pm, size_t n)
{
	long want = (long)(n * sizeof(*pm));

	return pr_sys(SYS_pread64, fd, (long)pm, want,
		      (long)(base >> PR_PAGE_SHIFT) * 8, 0, 0) == want;
}

unsigned pr_pagemap_in_use(const uint64_t *pm, uint64_t inuse[8])
{
	unsigned n = 0;

	for (unsigned i = 0; i < PR_PAGES_PER_PMD; i++) {
		/* Any other non-zero state (a marker, a migration entry) also
		 * means the table is not empty. */
		if (pm[i] & PM_IN_USE) {
			inuse[i / 64] |= 1ULL << (i % 64);
			n++;
		}
	}
	return n;
}

int pr_pagemap_region(long fd, uintptr_t base, uint64_t inuse[8])
{
	uint64_t pm[PR_PAGES_PER_PMD];

	memset(inuse, 0, 8 * sizeof(uint64_t));
	if (!pr_pagemap_read(fd, base, pm, PR_PAGES_PER_PMD))
		return -1;
	return (int)pr_pagemap_in_use(pm, inuse);
}
