/* SPDX-License-Identifier: MIT */
/*
 * Unit test: the ledger's region table (shim/core/ledger_table.c) under
 * concurrency: inserts, lookups, drops and recycling from several threads
 * at once; walks while entries come and go; a held entry never changes
 * region; fork and _Fork children keep a working ledger.  Addresses are
 * ones nothing maps (the ledger is driven by hand, fence:off).
 */
#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"
#include "ledger_table.h"

#define BASE ((uintptr_t)0x500000000000ULL)
#define T 4
#define R 256		/* regions per test, over two leaves */

static int stop;

static uintptr_t region(unsigned i)
{
	/* Straddle a leaf boundary (8192 regions a leaf). */
	return BASE + ((uintptr_t)8192 - R / 2 + i) * PR_PMD_SIZE;
}

static void purge_page(uintptr_t b, unsigned page, uint64_t now)
{
	pr_ledger_purged(b + page * PR_PAGE_SIZE,
			 b + (page + 1) * PR_PAGE_SIZE, PR_PURGE_DONTNEED, now);
}

static void drop_all(void)
{
	pr_ledger_drop(0, ~0UL);
	pr_ledger_maintain();
}

/* ---- nothing before the first purge ---- */

static void test_lazy(void)
{
	CHECK(pr_lt_used() == 0 && pr_lt_charged() == 0,
	      " %zu entries, %zu bytes before any purge", pr_lt_used(),
	      pr_lt_charged());
}

/* ---- a held entry never changes region ---- */

static void *hold_loop(void *arg)
{
	uintptr_t seed = (uintptr_t)arg;
	int bad = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uintptr_t b;
		struct pr_region *r;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		b = region((unsigned)(seed >> 56));
		r = pr_lt_hold_or_add(b);
		if (!r)
			continue;
		bad += r->base != b;
		__atomic_fetch_or(&r->purged[0], 1, __ATOMIC_RELAXED);
		sched_yield();
		bad += __atomic_load_n(&r->base, __ATOMIC_RELAXED) != b;
		pr_lt_release(r);
	}
	return (void *)(uintptr_t)bad;
}

static bool never_idle(struct pr_region *r)
{
	(void)r;
	return true;
}

static void clear_bits(struct pr_region *r)
{
	pr_bitmap_zero(r->purged);
}

static void *recycle_loop(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
		pr_lt_recycle(never_idle, clear_bits);
	return NULL;
}

/* A held entry stays, even when it looks idle; let go, it is recycled. */
static void test_held_stays(void)
{
	struct pr_region *r = pr_lt_hold_or_add(region(0));

	REQUIRE(r);
	pr_lt_recycle(never_idle, clear_bits);
	CHECK(r->base == region(0) && pr_lt_hold(region(0)) == r);
	pr_lt_release(r);
	pr_lt_release(r);
	pr_lt_recycle(never_idle, clear_bits);
	CHECK(pr_lt_hold(region(0)) == NULL);
	/* It went to the free list: the next region gets it. */
	CHECK(pr_lt_hold_or_add(region(1)) == r && r->base == region(1));
	pr_lt_release(r);
	pr_lt_recycle(never_idle, clear_bits);
}

/* Entries are recycled under the holders' feet (every entry looks idle to
 * this recycler): no holder ever sees its entry move to another region. */
static void test_hold_vs_recycle(void)
{
	pthread_t th[T];
	uintptr_t bad = 0;

	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	for (uintptr_t i = 0; i < T; i++)
		REQUIRE(pthread_create(&th[i], NULL,
				       i ? hold_loop : recycle_loop,
				       (void *)(i + 1)) == 0);
	usleep(300000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < T; i++) {
		void *ret;

		pthread_join(th[i], &ret);
		bad += (uintptr_t)ret;
	}
	CHECK(bad == 0, " %lu holds saw their entry change region",
	      (unsigned long)bad);
	pr_lt_recycle(never_idle, clear_bits);
	/* Nothing is held now: every entry went back to the free list. */
	for (unsigned i = 0; i < R; i++) {
		struct pr_region *r = pr_lt_hold(region(i));

		CHECK(!r, " region %u still has an entry", i);
		if (r)
			pr_lt_release(r);
	}
}

/* ---- the ledger from several threads ---- */

static void *churn(void *arg)
{
	uintptr_t id = (uintptr_t)arg;

	for (unsigned round = 0; round < 200; round++)
		for (unsigned i = 0; i < R; i++) {
			uintptr_t b = region(i);

			purge_page(b, (unsigned)(id * 64 + round % 64), round + 1);
			if (i % T == id && round % 7 == 3)
				pr_ledger_drop(b, b + PR_PMD_SIZE);
			if (i % T == id && round % 5 == 1)
				pr_ledger_in_use(b, b + PR_PMD_SIZE, round + 1);
			if (id == 0 && i == 0 && round % 10 == 0)
				pr_ledger_maintain();
		}
	return NULL;
}

struct census {
	unsigned seen[R];
	unsigned dup, stray, live;
};

static void count_region(uintptr_t base, unsigned flags, uint64_t changed,
			 uint64_t inuse[8], void *arg)
{
	struct census *c = arg;
	uintptr_t i = (base - region(0)) / PR_PMD_SIZE;

	(void)flags;
	(void)changed;
	(void)inuse;
	if (base < region(0) || i >= R || base & (PR_PMD_SIZE - 1)) {
		c->stray++;
		return;
	}
	c->dup += c->seen[i]++ > 0;
	c->live++;
}

/* Purges, drops, in-use marks and recycling all at once: afterwards every
 * region has one entry at most, and the counters match what a walk sees. */
static void test_threads(void)
{
	pthread_t th[T];
	struct census c = { { 0 }, 0, 0, 0 };

	drop_all();
	for (uintptr_t i = 0; i < T; i++)
		REQUIRE(pthread_create(&th[i], NULL, churn, (void *)i) == 0);
	for (int i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	/* Entries held across an unlink wait for the next call. */
	pr_ledger_maintain();
	pr_ledger_for_each_live_ex(count_region, &c);
	CHECK(c.dup == 0 && c.stray == 0, " %u duplicate, %u stray entries",
	      c.dup, c.stray);
	CHECK(c.live == pr_ledger_tracked(), " walk %u, tracked %lu", c.live,
	      (unsigned long)pr_ledger_tracked());
	CHECK(pr_ledger_tracked() <= R);
	drop_all();
	CHECK(pr_ledger_tracked() == 0 && pr_ledger_full() == 0,
	      " tracked %lu full %lu after drop",
	      (unsigned long)pr_ledger_tracked(),
	      (unsigned long)pr_ledger_full());
}

/* ---- walks while entries come and go ---- */

static void *insert_loop(void *arg)
{
	(void)arg;
	for (unsigned round = 0; round < 100; round++) {
		for (unsigned i = 0; i < R; i++)
			purge_page(region(i), round % 512, 1);
		pr_ledger_drop(region(0), region(R / 2));
		pr_ledger_maintain();
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_walk_during_inserts(void)
{
	pthread_t th;
	unsigned walks = 0, bad = 0;

	drop_all();
	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	REQUIRE(pthread_create(&th, NULL, insert_loop, NULL) == 0);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		struct census c = { { 0 }, 0, 0, 0 };

		pr_ledger_for_each_live_ex(count_region, &c);
		bad += c.dup + c.stray;
		walks++;
	}
	pthread_join(th, NULL);
	CHECK(bad == 0, " %u duplicate or stray regions in %u walks", bad,
	      walks);
	CHECK(pr_ledger_tracked() == R / 2);
	drop_all();
}

/* ---- fork ---- */

/* In a child: the parent's marks are there, and the ledger still works. */
static int child_checks(uint64_t tracked)
{
	int fails = 0;

	fails += pr_ledger_tracked() != tracked;
	for (unsigned i = 0; i < R; i++)
		purge_page(region(i), 7, 2);
	fails += pr_ledger_tracked() != R;
	drop_all();
	fails += pr_ledger_tracked() != 0;
	for (unsigned i = 0; i < R; i++)
		purge_page(region(i), 9, 3);
	fails += pr_ledger_tracked() != R;
	return fails;
}

static void *hammer(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
		for (unsigned i = R / 2; i < R; i++)
			purge_page(region(i), i % 512, 1);
	return NULL;
}

static void fork_and_check(bool raw, bool busy)
{
	pthread_t th[2];
	pid_t pid;
	int status;

	drop_all();
	for (unsigned i = 0; i < R / 2; i++)
		purge_page(region(i), 1, 1);
	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	for (int i = 0; busy && i < 2; i++)
		REQUIRE(pthread_create(&th[i], NULL, hammer, NULL) == 0);
	if (busy)
		usleep(20000);
	pid = raw ? _Fork() : fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		/* Threads caught mid-purge may leave a count off by one
		 * each: only an idle parent promises exact counts. */
		uint64_t tracked = pr_ledger_tracked();

		if (busy) {
			drop_all();
			for (unsigned i = 0; i < R; i++)
				purge_page(region(i), 3, 1);
			_exit(pr_ledger_tracked() + 2 >= R &&
			      pr_ledger_tracked() <= R + 2 ? 0 : 1);
		}
		_exit(child_checks(tracked) ? 1 : 0);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; busy && i < 2; i++)
		pthread_join(th[i], NULL);
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      " %s child%s: status %#x", raw ? "_Fork" : "fork",
	      busy ? " of a busy parent" : "", status);
	drop_all();
}

int main(void)
{
	/* The shim starts at the first purge; start it now, as the API does. */
	pr_life_settle();
	CHECK(pr_ready);
	pr_caps.pt_reclaim_on_dontneed = false;
	test_lazy();
	test_held_stays();
	test_hold_vs_recycle();
	test_threads();
	test_walk_during_inserts();
	fork_and_check(false, false);
	fork_and_check(true, false);
	fork_and_check(false, true);
	fork_and_check(true, true);
	CHECK_DONE();
}
