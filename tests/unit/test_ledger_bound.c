/* SPDX-License-Identifier: MIT */
/*
 * Unit test: the ledger's size bound (run with PTRECLAIM_CONF=ledger_max:1M).
 * Past the bound new regions go untracked and are counted; nothing fails,
 * and dropped entries make room again once recycled.
 */
#include "check.h"
#include "internal.h"
#include "ledger_table.h"

#define REGIONS 40000
#define BASE ((uintptr_t)0x600000000000ULL)

int main(void)
{
	uint64_t tracked;

	CHECK(pr_conf.ledger_max == 1UL << 20);
	/* The ledger is made when the shim starts (the first purge). */
	pr_life_settle();
	for (uintptr_t i = 0; i < REGIONS; i++)
		pr_ledger_purged(BASE + i * PR_PMD_SIZE,
				 BASE + i * PR_PMD_SIZE + PR_PAGE_SIZE,
				 PR_PURGE_DONTNEED, 1);
	tracked = pr_ledger_tracked();
	CHECK(tracked > 1000 && tracked < REGIONS);
	CHECK(pr_counter_sum(PRC_BOUND_HITS) == REGIONS - tracked);
	/* Entries and the leaves that find them share the one bound. */
	CHECK(pr_lt_charged() <= pr_conf.ledger_max &&
	      pr_lt_charged() + sizeof(struct pr_region) > pr_conf.ledger_max -
		      32768, " %zu bytes charged", pr_lt_charged());

	/* Drop by walking the table (a range of more than 4096 regions). */
	pr_ledger_drop(BASE, BASE + (uintptr_t)REGIONS * PR_PMD_SIZE);
	CHECK(pr_ledger_tracked() == 0);
	pr_ledger_maintain();
	for (uintptr_t i = 0; i < 1000; i++)
		pr_ledger_purged(BASE + i * PR_PMD_SIZE,
				 BASE + (i + 1) * PR_PMD_SIZE,
				 PR_PURGE_FREE, 2);
	CHECK(pr_ledger_tracked() == 1000 && pr_ledger_full() == 1000);
	CHECK(pr_counter_sum(PRC_BOUND_HITS) == REGIONS - tracked);
	/* Above 47 bits the table has no slot: untracked, and counted. */
	pr_ledger_purged(1UL << 47, (1UL << 47) + PR_PAGE_SIZE,
			 PR_PURGE_DONTNEED, 3);
	CHECK(pr_counter_sum(PRC_BOUND_HITS) == REGIONS - tracked + 1);
	CHECK(pr_ledger_tracked() == 1000);
	CHECK_DONE();
}
