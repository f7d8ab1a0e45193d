/* SPDX-License-Identifier: MIT */
/*
 * ledger_table.h - the map from a 2 MiB region to its ledger entry
 * (ledger_table.c), for the ledger (ledger.c) and its unit tests only.
 *
 * Every entry a caller gets is held: it cannot be recycled for another
 * region until pr_lt_release().  Nothing here allocates through malloc,
 * blocks, or waits for another thread; memory comes from one mmap, made
 * on first use.
 */
#ifndef PTRECLAIM_LEDGER_TABLE_H
#define PTRECLAIM_LEDGER_TABLE_H

#include "bitmap.h"
#include "platform.h"

struct pr_region {
	/* The ledger's: all zero in a fresh entry. */
	uint64_t purged[PR_BITMAP_WORDS];
	uint64_t changed_ns;
	uint32_t state;
	/* The table's. */
	uint32_t link;		/* free, linked to its slot, or retired */
	uint32_t pins;		/* holds in flight, transient ones included */
	uint32_t next_free;	/* index + 1 in the free list, 0 at its end */
	uintptr_t base;		/* valid while linked */
};

/* Memory at most, leaves included; no system call (the map is made on
 * first use).  The first call wins; later ones change nothing. */
pr_hidden void pr_lt_init(size_t max_bytes);
pr_hidden bool pr_lt_ready(void);
/* The entry of the region at base, held, or NULL if there is none. */
pr_hidden struct pr_region *pr_lt_hold(uintptr_t base);
/* The same, entered (all zero) if there was none; NULL past the bound or
 * out of memory (the region goes untracked). */
pr_hidden struct pr_region *pr_lt_hold_or_add(uintptr_t base);
pr_hidden void pr_lt_release(struct pr_region *r);

/*
 * Walks: entries [0, pr_lt_used()) in pool order; pr_lt_hold_nth() holds
 * the i-th if it is linked to a region and want (if not NULL) says so.
 * want reads the entry before the hold, so it is only a hint (the entry
 * may be another region's by then): it saves the hold of entries a walk
 * skips anyway, and the caller checks again once it holds one.
 */
pr_hidden size_t pr_lt_used(void);
pr_hidden struct pr_region *pr_lt_hold_nth(size_t i,
					   bool (*want)(struct pr_region *));

/*
 * Unlink entries idle() says carry nothing, and put them in the free list
 * once nobody holds them; reset() first if a purge that held one across
 * the unlink wrote to it.  Never waits: an entry still held is left for a
 * later call.
 */
pr_hidden void pr_lt_recycle(bool (*idle)(struct pr_region *),
			     void (*reset)(struct pr_region *));

/* Bytes charged to the bound so far (entries and leaves), for tests. */
pr_hidden size_t pr_lt_charged(void);

#endif /* PTRECLAIM_LEDGER_TABLE_H */
