/* SPDX-License-Identifier: MIT */
/*
 * counters.c - statistics without a shared hot cache line: each thread
 * adds to one of a few cache-line-aligned shards, the report sums them.
 */
#include "core.h"

#define PR_SHARDS 16

struct pr_shard {
	uint64_t v[PRC_NR];
} __attribute__((aligned(64)));

static struct pr_shard shards[PR_SHARDS];
static unsigned next_shard;
static __thread int my_shard __attribute__((tls_model("initial-exec"))) = -1;

void pr_count(enum pr_counter c, uint64_t n)
{
	if (my_shard < 0)
		my_shard = (int)(__atomic_fetch_add(&next_shard, 1,
						    __ATOMIC_RELAXED) % PR_SHARDS);
	__atomic_fetch_add(&shards[my_shard].v[c], n, __ATOMIC_RELAXED);
}

uint64_t pr_counter_sum(enum pr_counter c)
{
	uint64_t sum = 0;

	for (int i = 0; i < PR_SHARDS; i++)
		sum += __atomic_load_n(&shards[i].v[c], __ATOMIC_RELAXED);
	return sum;
}

/* For the stats page (publish.c): where the shards are, for readers in
 * other processes that sum them as pr_counter_sum() does. */
const void *pr_counters_base(unsigned *nr, size_t *stride)
{
	*nr = PR_SHARDS;
	*stride = sizeof(struct pr_shard);
	return shards;
}
