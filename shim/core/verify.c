/* SPDX-License-Identifier: MIT */
/*
 * verify.c - check the ledger against /proc/self/pagemap.  The allocator
 * reuses purged pages without telling anyone, so the ledger can only say
 * "purged once"; pagemap says whether anything is mapped now.  Pages found
 * present or swapped are taken out of the ledger.  A region counts as
 * reclaimable when it saw purges and maps nothing now, even if some of its
 * pages were never purged (the heap's last region is often never touched
 * to its end), since a purge there means a table was there, and when the
 * whole 2 MiB is mapped, so that a PMD-sized operation could free it.
 */
#include <errno.h>
#include <fcntl.h>

#include "bitmap.h"
#include "core.h"

struct verify {
	long fd;
	long empty;
	long waiting;
	long err;
};

/*
 * A table reaching past the end of the mapping can't be freed by a PMD-sized
 * operation (only munmap frees it), so it is not counted.  mincore fails
 * with ENOMEM exactly when part of the range is unmapped.
 */
static bool whole_pmd_mapped(uintptr_t base)
{
	unsigned char vec[PR_PAGES_PER_PMD];

	return pr_sys(SYS_mincore, (long)base, PR_PMD_SIZE, (long)vec, 0, 0,
		      0) == 0;
}

static long last_waiting;

static void check_region(uintptr_t base, unsigned flags, uint64_t changed,
			 uint64_t inuse[8], void *arg)
{
	struct verify *v = arg;
	uint64_t seen[PR_BITMAP_WORDS];
	int n = pr_pagemap_region(v->fd, base, seen);

	(void)changed;
	if (n < 0) {
		v->err = -EIO;
		return;
	}
	if (!n) {
		if (whole_pmd_mapped(base))
			v->empty++;
		return;
	}
	/* Lazily freed pages stay mapped until the kernel discards them:
	 * the region waits, and its pages stay purged in the ledger. */
	if (flags & PR_LEDGER_LAZY) {
		if (flags & PR_LEDGER_FULL)
			v->waiting++;
		return;
	}
	for (int w = 0; w < PR_BITMAP_WORDS; w++)
		inuse[w] |= seen[w];
}

/* Reclaimable PTE pages now, or -errno. */
long pr_verify_reclaimable(void)
{
	struct verify v = { .fd = -1 };

	v.fd = pr_pagemap_open(0);
	if (v.fd < 0)
		return v.fd;
	pr_ledger_for_each_live_ex(check_region, &v);
	pr_close(&v.fd);
	__atomic_store_n(&last_waiting, v.waiting, __ATOMIC_RELAXED);
	return v.err ? v.err : v.empty;
}

long pr_verify_waiting(void)
{
	return __atomic_load_n(&last_waiting, __ATOMIC_RELAXED);
}
