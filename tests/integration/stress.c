/* SPDX-License-Identifier: MIT */
/*
 * stress - threads doing random malloc/calloc/realloc/write/verify/free
 * while the heap swells and shrinks, each thread asking the allocator to
 * purge now and then so purges race with reuse of purged pages.  Every
 * byte is checked, and calloc memory must read as zero (allocators trust
 * that purged pages come back zeroed).  A fixed amount of work, no timing.
 * Exit 0 when every byte was right, 1 on any mismatch.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "allocator.h"
#include "pattern.h"

#define SLOTS 8192
#define PURGE_EVERY 20000	/* ops between a thread's purges */
#define CYCLE 40000		/* ops per swell-and-shrink cycle */

struct slot {
	unsigned char *p;
	size_t size;
	uint64_t base;		/* pattern base, fixed at fill time */
	int zero;		/* from calloc and not yet written */
};

struct worker {
	pthread_t th;
	uint64_t rng, ops, purges, bad;
	struct slot slot[SLOTS];
};

static uint64_t nops = 200000, nthreads = 4, seed = 1;
static uint64_t finished;

static uint64_t next(struct worker *w)
{
	return w->rng = mix64(w->rng);
}

/* Mostly small, some to 256 KiB, a few to 4 MiB (mmapped by most). */
static size_t pick_size(uint64_t h)
{
	unsigned band = h % 1000;
	unsigned e = band < 700 ? 4 + (h >> 10) % 9 :
		     band < 995 ? 12 + (h >> 10) % 6 : 18 + (h >> 10) % 4;

	return (size_t)1 + ((h >> 20) & ((1ull << e) - 1)) + (1ull << e) / 2;
}

static int bad_at(struct slot *s, size_t off, const char *what)
{
	static unsigned reported;

	/* The first few tell the story; thousands would bury the log. */
	if (__atomic_fetch_add(&reported, 1, __ATOMIC_RELAXED) < 10)
		fprintf(stderr, "stress: MISMATCH %s addr=%p size=%zu off=%zu\n",
			what, (void *)s->p, s->size, off);
	return 1;
}

static int verify(struct slot *s)
{
	size_t i, off;

	if (s->zero) {
		for (i = 0; i < s->size; i++)
			if (s->p[i])
				return bad_at(s, i, "calloc");
		return 0;
	}
	off = pat_check_base(s->p, s->size, s->base);
	return off == (size_t)-1 ? 0 : bad_at(s, off, "pattern");
}

static void do_alloc(struct worker *w, struct slot *s)
{
	uint64_t h = next(w);

	s->size = pick_size(h);
	s->zero = h % 8 == 0;
	s->p = s->zero ? calloc(1, s->size) : malloc(s->size);
	if (!s->p) {
		fprintf(stderr, "stress: out of memory\n");
		exit(2);
	}
	s->base = pat_base(s->p, next(w));
	if (!s->zero)
		pat_fill_base(s->p, s->size, s->base);
}

/* realloc must keep the old bytes; then the whole new size is refilled. */
static void do_realloc(struct worker *w, struct slot *s)
{
	size_t keep, nsize = pick_size(next(w)), off = (size_t)-1, i;
	unsigned char *q;

	w->bad += verify(s);
	keep = nsize < s->size ? nsize : s->size;
	q = realloc(s->p, nsize);
	if (!q) {
		fprintf(stderr, "stress: out of memory\n");
		exit(2);
	}
	s->p = q;
	if (s->zero) {
		for (i = 0; i < keep && off == (size_t)-1; i++)
			if (q[i])
				off = i;
	} else {
		off = pat_check_base(q, keep, s->base);
	}
	if (off != (size_t)-1)
		w->bad += bad_at(s, off, "realloc");
	s->size = nsize;
	s->base = pat_base(q, next(w));
	s->zero = 0;
	pat_fill_base(q, nsize, s->base);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	uint64_t i;
	size_t k;

	for (i = 0; i < nops; i++) {
		struct slot *s = &w->slot[next(w) % SLOTS];
		/* Swell for half a cycle, shrink for the other half. */
		unsigned grow = (i / (CYCLE / 2)) % 2 == 0 ? 80 : 20;
		uint64_t r = next(w) % 100;

		if (!s->p) {
			if (r < grow)
				do_alloc(w, s);
		} else if (r < 10) {
			do_realloc(w, s);
		} else if (r >= grow) {
			w->bad += verify(s);
			free(s->p);
			s->p = NULL;
		} else if (r < 40) {
			w->bad += verify(s);
		}
		if (i % PURGE_EVERY == PURGE_EVERY - 1) {
			allocator_purge();
			w->purges++;
		}
		w->ops++;
	}
	for (k = 0; k < SLOTS; k++) {
		if (!w->slot[k].p)
			continue;
		w->bad += verify(&w->slot[k]);
		free(w->slot[k].p);
	}
	__atomic_fetch_add(&finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "threads", 1, 0, 't' }, { "ops", 1, 0, 'o' },
		{ "seed", 1, 0, 's' }, { 0, 0, 0, 0 }
	};
	struct worker *ws;
	uint64_t t, bad = 0, ops = 0, purges = 0;
	const char *alloc;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 't')
			nthreads = strtoull(optarg, NULL, 0);
		else if (c == 'o')
			nops = strtoull(optarg, NULL, 0);
		else if (c == 's')
			seed = strtoull(optarg, NULL, 0);
		else
			return 2;
	}
	if (optind != argc || !nthreads || nthreads > 64) {
		fprintf(stderr, "usage: stress [--threads N] [--ops N] [--seed N]\n");
		return 2;
	}
	alloc = allocator_init();
	ws = calloc(nthreads, sizeof(*ws));
	if (!ws)
		return 2;
	for (t = 0; t < nthreads; t++) {
		ws[t].rng = mix64(seed * 1000003 + t);
		if (pthread_create(&ws[t].th, NULL, run, &ws[t]))
			return 2;
	}
	/* The main thread ticks while the workers run, as a service's
	 * event loop would: a blocking call where a start the shim wants
	 * may make its thread (shim/core/safe_point.c). */
	while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) < nthreads) {
		struct timespec tick = { 0, 2 * 1000 * 1000 };

		nanosleep(&tick, NULL);
	}
	for (t = 0; t < nthreads; t++) {
		pthread_join(ws[t].th, NULL);
		bad += ws[t].bad;
		ops += ws[t].ops;
		purges += ws[t].purges;
	}
	allocator_purge();
	printf("stress: alloc=%s threads=%llu ops=%llu purges=%llu verify=%s\n",
	       alloc, (unsigned long long)nthreads, (unsigned long long)ops,
	       (unsigned long long)purges, bad ? "FAIL" : "ok");
	free(ws);
	return bad ? 1 : 0;
}
