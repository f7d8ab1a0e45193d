// SPDX-License-Identifier: MIT
/*
 * lazy_race - two writer threads give 64 KiB pieces (and now and then a
 * whole 2 MiB span) back with MADV_FREE, rewrite single pages with plain
 * stores and check them, while a third thread loops the lazyfree advice
 * and MADV_PAGEOUT over the heap (64 KiB mTHP where the kernel has it, so
 * reclaim takes the batched lazyfree path too).  A page written after its
 * last MADV_FREE must keep its data.
 *
 * Usage: lazy_race [SECONDS]   (default 20).  Exit 0, 1 if a written page
 * lost its data, 77 without /sys/kernel/mm/reclaim_pt/advice_lazyfree.
 * Not in the suite (tests/kernel/run-test lazy-race).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#define PMD (2UL << 20)
#define PG 4096UL
#define SPANS 16
#define NPG (SPANS * 512)
static char *heap;
static int advice;
static atomic_int stop;
static atomic_long calls, lost, checks;
static void *adviser(void *arg)
{
	(void)arg;
	while (!stop) {
		madvise(heap, SPANS * PMD, advice);
		madvise(heap, SPANS * PMD, MADV_PAGEOUT);
		calls++;
	}
	return NULL;
}
static void *writer(void *a)
{
	unsigned seed = (unsigned)(uintptr_t)a;
	long id = (long)(uintptr_t)a;
	/* Each writer owns half of the pages (interleaved by 64 KiB pieces). */
	static __thread uint64_t gen[NPG];
	while (!stop) {
		unsigned piece = rand_r(&seed) % (NPG / 16);
		/* Writer id owns the spans of its parity. */
		if ((long)((piece / 32) % 2) != id)
			continue;
		char *p = heap + piece * 16 * PG;
		unsigned what = rand_r(&seed) % 3;
		if (rand_r(&seed) % 64 == 0) {
			unsigned s0 = piece / 32 * 32;
			madvise(heap + s0 * 16 * PG, PMD, MADV_FREE);
			for (int i = 0; i < 512; i++)
				gen[s0 * 16 + i] = 0;
		} else if (what == 0) {
			madvise(p, 16 * PG, MADV_FREE);
			for (int i = 0; i < 16; i++)
				gen[piece * 16 + i] = 0;
		} else if (what == 1) {
			int i = rand_r(&seed) % 16;
			uint64_t g = ((uint64_t)rand_r(&seed) << 1) | 1;
			memcpy(p + i * PG, &g, 8);
			memcpy(p + i * PG + PG - 8, &g, 8);
			gen[piece * 16 + i] = g;
		} else {
			for (int i = 0; i < 16; i++) {
				uint64_t g = gen[piece * 16 + i], a1, a2;
				if (!g)
					continue;
				memcpy(&a1, p + i * PG, 8);
				memcpy(&a2, p + i * PG + PG - 8, 8);
				checks++;
				if (a1 != g || a2 != g)
					lost++;
			}
		}
	}
	return NULL;
}
int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 20;
	FILE *f = fopen("/sys/kernel/mm/reclaim_pt/advice_lazyfree", "r");
	if (!f || fscanf(f, "%d", &advice) != 1) {
		printf("no advice_lazyfree\n");
		return 77;
	}
	FILE *e = fopen("/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled", "w");
	if (e) { fputs("always", e); fclose(e); }
	char *m = mmap(0, SPANS * PMD + PMD, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	heap = (char *)(((uintptr_t)m + PMD - 1) & ~(PMD - 1));
	memset(heap, 1, SPANS * PMD);
	pthread_t t[3];
	pthread_create(&t[0], 0, adviser, 0);
	pthread_create(&t[1], 0, writer, (void *)0);
	pthread_create(&t[2], 0, writer, (void *)1);
	sleep(secs);
	stop = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], 0);
	char l[256];
	FILE *v = fopen("/proc/vmstat", "r");
	while (fgets(l, sizeof l, v))
		if (strstr(l, "reclaim_pt") || strstr(l, "pglazyfree") || strstr(l, "thp_"))
			fputs(l, stdout);
	printf("calls=%ld checks=%ld lost=%ld\n", (long)calls, (long)checks, (long)lost);
	return lost ? 1 : 0;
}
