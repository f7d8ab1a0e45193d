/* SPDX-License-Identifier: MIT */
/*
 * thread_churn - threads created and exiting while others purge.
 *
 * The shim keeps per-thread state (TLS) and must cope with threads
 * that vanish right after, or during teardown of, a call into it.  Short
 * threads come and go by the thousand, each ending in one of these ways:
 *   - return right after a purge;
 *   - pthread_exit from a nested call right after a purge;
 *   - a thread-specific-data destructor that maps, purges and unmaps at
 *     thread exit (allocators free their thread caches this way, often
 *     after the shim's own per-thread teardown has run);
 *   - deferred cancellation of a thread looping on madvise, with a cleanup
 *     handler that unmaps;
 *   - detached, never joined.
 * Meanwhile long-lived threads purge and verify a shared region.
 *
 * Usage: thread_churn [THREADS]   (default 1000)
 */
#include "robust.h"

#include <pthread.h>
#include <stdatomic.h>

#define LIVE 24
#define NLONG 4
#define SHARED (8 * PMD)

/* Non-null when the shim is loaded: lets the cleanup paths assert that a
 * thread never leaves the shim's interposed path by being cancelled. */
int __ptreclaim_inside(void) __attribute__((weak));

static void assert_outside(const char *where)
{
	REQUIRE(!__ptreclaim_inside || !__ptreclaim_inside(),
	      "%s: thread is still marked inside the shim: it was cancelled "
	      "at a cancellation point on the shim's interposed path", where);
}

static pthread_key_t key;
static atomic_int stop;
static atomic_long exits, detached_done;
static char *shared;

/* Work on a private mapping; returns it still mapped. */
static char *short_work(uint64_t seed)
{
	size_t np = 1 + seed % 64;
	char *m = map_anon(np * PG);
	for (size_t i = 0; i < np; i++)
		stamp_page(m + i * PG, seed + i);
	REQUIRE(madvise(m, (np / 2 + 1) * PG, MADV_DONTNEED) == 0, "dn");
	for (size_t i = np / 2 + 1; i < np; i++)
		REQUIRE(page_state(m + i * PG, seed + i) == 1, "page %zu", i);
	REQUIRE(madvise(m, np * PG, MADV_FREE) == 0, "free");
	return m;
}

static void tsd_destructor(void *v)
{
	/* Runs during thread exit: map, purge, unmap once more. */
	assert_outside("key destructor");
	uint64_t seed = (uintptr_t)v;
	char *m = short_work(seed);
	REQUIRE(munmap(m, (1 + seed % 64) * PG) == 0, "munmap in destructor");
	atomic_fetch_add(&exits, 1);
}

static void __attribute__((noinline)) exit_nested(uint64_t seed)
{
	char *m = short_work(seed);
	REQUIRE(munmap(m, (1 + seed % 64) * PG) == 0, "munmap");
	atomic_fetch_add(&exits, 1);
	pthread_exit(NULL);
}

static void cleanup_unmap(void *m)
{
	assert_outside("cancellation cleanup");
	REQUIRE(munmap(m, 4 * PG) == 0, "munmap in cleanup");
	atomic_fetch_add(&exits, 1);
}

static void *short_main(void *arg)
{
	uint64_t seed = (uintptr_t)arg;
	switch (seed % 5) {
	case 0: {
		char *m = short_work(seed);
		REQUIRE(munmap(m, (1 + seed % 64) * PG) == 0, "munmap");
		atomic_fetch_add(&exits, 1);
		return NULL;
	}
	case 1:
		exit_nested(seed);
		return NULL;
	case 2:
		pthread_setspecific(key, (void *)(uintptr_t)(seed | 1));
		(void)short_work(seed);	/* left mapped: a leak is fine */
		return NULL;
	case 3: {
		char *m = map_anon(4 * PG);
		pthread_cleanup_push(cleanup_unmap, m);
		for (;;) {
			REQUIRE(madvise(m, 4 * PG, MADV_DONTNEED) == 0, "dn");
			m[0] = 1;
			pthread_testcancel();
		}
		pthread_cleanup_pop(0);
		return NULL;
	}
	default: {
		char *m = short_work(seed);
		REQUIRE(munmap(m, (1 + seed % 64) * PG) == 0, "munmap");
		atomic_fetch_add(&detached_done, 1);
		return NULL;
	}
	}
}

static void *long_main(void *arg)
{
	size_t id = (uintptr_t)arg, per = SHARED / PG / NLONG;
	uint64_t seed = 99 + id;
	char *mine = shared + id * per * PG;
	for (size_t i = 0; i < per; i++)
		stamp_page(mine + i * PG, i);
	while (!atomic_load(&stop)) {
		size_t i = rnd(&seed) % (per - 16);
		REQUIRE(madvise(mine + i * PG, 16 * PG, MADV_DONTNEED) == 0, "dn");
		for (size_t k = i; k < i + 16; k++) {
			REQUIRE(page_state(mine + k * PG, k) == 0, "not zero");
			stamp_page(mine + k * PG, k);
		}
		size_t j = rnd(&seed) % per;
		REQUIRE(page_state(mine + j * PG, j) == 1, "lost page %zu", j);
		usleep(20);	/* leave the CPUs to the threads coming and going */
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long total = argc > 1 ? atol(argv[1]) : 1000;
	pthread_t lt[NLONG], live[LIVE];
	long detached = 0, created = 0;

	arm_watchdog(120);
	REQUIRE(pthread_key_create(&key, tsd_destructor) == 0, "key");
	shared = map_pmd_aligned(SHARED);
	for (uintptr_t i = 0; i < NLONG; i++)
		REQUIRE(pthread_create(&lt[i], NULL, long_main, (void *)i) == 0,
		      "create");
	for (long n = 0; n < total; n += LIVE) {
		for (int i = 0; i < LIVE; i++) {
			uintptr_t seed = (uintptr_t)(n + i) * 7919 + 1;
			REQUIRE(pthread_create(&live[i], NULL, short_main,
					     (void *)seed) == 0, "create");
			created++;
			if (seed % 5 == 4) {
				pthread_detach(live[i]);
				live[i] = 0;
				detached++;
			}
		}
		for (int i = 0; i < LIVE; i++) {
			uintptr_t seed = (uintptr_t)(n + i) * 7919 + 1;
			if (!live[i])
				continue;
			if (seed % 5 == 3)
				pthread_cancel(live[i]);
			REQUIRE(pthread_join(live[i], NULL) == 0, "join");
		}
	}
	while (atomic_load(&detached_done) < detached)
		usleep(1000);
	atomic_store(&stop, 1);
	for (int i = 0; i < NLONG; i++)
		pthread_join(lt[i], NULL);
	printf("thread_churn: %ld threads (%ld joined exits, %ld detached), "
	       "shared region verified\n", created, (long)exits, detached);
	return 0;
}
