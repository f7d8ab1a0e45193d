/* SPDX-License-Identifier: MIT */
/*
 * purge_storm - many threads purging one shared region at once.
 *
 * A 64 MiB PMD-aligned region is cut into 64 KiB chunks dealt round-robin
 * to 16 purger threads, so every 2 MiB region has pages of every thread in
 * it.  Each thread writes, purges (MADV_DONTNEED or MADV_FREE, sub-chunk
 * pieces) and verifies only its own pages, and keeps what each page must
 * hold: its stamp, zero, or (after MADV_FREE) either.  Now and then all
 * threads sweep their chunks, so whole regions become fully purged while
 * others are already writing again: exactly the moment where a shim that
 * widened a purge wrongly would destroy live bytes.  Churn threads map,
 * split, move and unmap private mappings at the same time.
 *
 * Usage: purge_storm [SECONDS]   (default 3)
 */
#include "robust.h"

#include <pthread.h>
#include <stdatomic.h>

#define REGION ((size_t)64 << 20)
#define CHUNK (16 * PG)
#define NCHUNK (REGION / CHUNK)
#define NPURGERS 16
#define NCHURN 4

enum { ZERO, DATA, LAZY };

static char *region;
static double deadline;
static atomic_ulong total_ops, total_sweeps;

struct purger {
	int id;
	pthread_t th;
	uint8_t state[NCHUNK / NPURGERS * 16];	/* per owned page */
	uint64_t tag[NCHUNK / NPURGERS * 16];
};

static char *page_of(int id, size_t k)	/* k-th page this thread owns */
{
	size_t chunk = (k / 16) * NPURGERS + (size_t)id;
	return region + chunk * CHUNK + (k % 16) * PG;
}

static void verify(struct purger *p, size_t k)
{
	int s = page_state(page_of(p->id, k), p->tag[k]);
	switch (p->state[k]) {
	case ZERO:
		REQUIRE(s == 0, "thread %d page %zu: purged page not zero (%d)",
		      p->id, k, s);
		break;
	case DATA:
		REQUIRE(s == 1, "thread %d page %zu: live data lost (%d)",
		      p->id, k, s);
		break;
	default:
		REQUIRE(s >= 0, "thread %d page %zu: lazily freed page corrupt",
		      p->id, k);
		if (s == 0)	/* once dropped it stays zero until written */
			p->state[k] = ZERO;
		break;
	}
}

static void purge(struct purger *p, size_t k0, size_t n, int advice)
{
	/* Owned pages are contiguous within a chunk: k0..k0+n-1 must not
	 * cross a chunk boundary. */
	REQUIRE(madvise(page_of(p->id, k0), n * PG, advice) == 0,
	      "madvise %d", advice);
	for (size_t k = k0; k < k0 + n; k++)
		p->state[k] = advice == MADV_DONTNEED ? ZERO :
			      p->state[k] == DATA ? LAZY : p->state[k];
}

static void *purger_main(void *arg)
{
	struct purger *p = arg;
	const size_t npages = sizeof(p->state);
	uint64_t seed = 0x1234567ULL * (uint64_t)(p->id + 1), gen = 0;

	while (now_s() < deadline) {
		uint64_t r = rnd(&seed);
		size_t chunk = (r >> 8) % (npages / 16);
		size_t off = (r >> 24) % 16;
		size_t n = 1 + (r >> 32) % (16 - off);
		size_t k0 = chunk * 16 + off;

		switch (r % 8) {
		case 0: case 1: case 2:
			for (size_t k = k0; k < k0 + n; k++) {
				p->tag[k] = (uint64_t)p->id << 48 | ++gen;
				stamp_page(page_of(p->id, k), p->tag[k]);
				p->state[k] = DATA;
			}
			break;
		case 3: case 4:
			purge(p, k0, n, MADV_DONTNEED);
			break;
		case 5:
			purge(p, k0, n, MADV_FREE);
			break;
		default:
			for (size_t k = chunk * 16; k < chunk * 16 + 16; k++)
				verify(p, k);
		}
		/* Sweep: purge every owned chunk of one PMD, then write one
		 * page back at once. */
		if ((r >> 40) % 512 == 0) {
			size_t pmd = (r >> 12) % (REGION / PMD);
			size_t per = PMD / CHUNK / NPURGERS;	/* chunks */
			for (size_t c = pmd * per; c < pmd * per + per; c++)
				purge(p, c * 16, 16, MADV_DONTNEED);
			p->tag[pmd * per * 16] = (uint64_t)p->id << 48 | ++gen;
			stamp_page(page_of(p->id, pmd * per * 16),
				   p->tag[pmd * per * 16]);
			p->state[pmd * per * 16] = DATA;
			atomic_fetch_add(&total_sweeps, 1);
		}
		atomic_fetch_add(&total_ops, 1);
	}
	for (size_t k = 0; k < npages; k++)
		verify(p, k);
	return NULL;
}

/* Map, stamp, split, grow/move, purge, verify, unmap: the ledger's drop
 * paths, racing with the purgers. */
static void *churn_main(void *arg)
{
	uint64_t seed = 0xfeedULL + (uintptr_t)arg;
	while (now_s() < deadline) {
		uint64_t r = rnd(&seed);
		size_t np = 1 + r % 1024;
		char *m = map_anon(np * PG);
		for (size_t i = 0; i < np; i++)
			stamp_page(m + i * PG, i + r);
		if (np > 4) {	/* punch a hole in the middle */
			REQUIRE(munmap(m + PG, 2 * PG) == 0, "munmap middle");
			REQUIRE(madvise(m + 3 * PG, PG, MADV_DONTNEED) == 0, "dn");
			REQUIRE(page_state(m + 3 * PG, 3 + r) == 0, "not zero");
			stamp_page(m + 3 * PG, 3 + r);
			REQUIRE(munmap(m, PG) == 0, "munmap head");
			m += 3 * PG;
			np -= 3;
		}
		char *q = mremap(m, np * PG, 2 * np * PG, MREMAP_MAYMOVE);
		REQUIRE(q != MAP_FAILED, "mremap grow");
		size_t first = (size_t)(r % 1024) + 1 > 4 ? 3 : 0;
		for (size_t i = 0; i < np; i++)
			REQUIRE(page_state(q + i * PG, i + first + r) == 1,
			      "moved page %zu lost", i);
		REQUIRE(madvise(q, 2 * np * PG, MADV_FREE) == 0, "free");
		REQUIRE(munmap(q, 2 * np * PG) == 0, "munmap");
	}
	return NULL;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3;
	static struct purger p[NPURGERS];
	pthread_t churn[NCHURN];

	arm_watchdog((unsigned)secs + 60);
	region = map_pmd_aligned(REGION);
	deadline = now_s() + secs;
	for (int i = 0; i < NPURGERS; i++) {
		p[i].id = i;
		REQUIRE(pthread_create(&p[i].th, NULL, purger_main, &p[i]) == 0,
		      "pthread_create");
	}
	for (uintptr_t i = 0; i < NCHURN; i++)
		REQUIRE(pthread_create(&churn[i], NULL, churn_main,
				     (void *)i) == 0, "pthread_create");
	for (int i = 0; i < NPURGERS; i++)
		pthread_join(p[i].th, NULL);
	for (int i = 0; i < NCHURN; i++)
		pthread_join(churn[i], NULL);
	REQUIRE(munmap(region, REGION) == 0, "munmap region");
	printf("purge_storm: %lu operations, %lu sweeps, all pages verified\n",
	       (unsigned long)total_ops, (unsigned long)total_sweeps);
	return 0;
}
