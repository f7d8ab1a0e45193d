/* SPDX-License-Identifier: MIT */
/*
 * stress - threads allocate random sizes (small to a few MiB), write a
 * pattern, verify it later and free; some objects are freed by another
 * thread, some grown or shrunk with realloc, some come from calloc and must
 * read zero.  A purger thread forces decommits all the time, so memory
 * cycles through decommit, reclaim and commit while other threads use the
 * same 2 MiB regions.  Any wrong byte fails the run.
 *
 *   stress [--seconds N] [--threads N] [--fork-ms N] [--expect-reclaim]
 *
 * --fork-ms: the main thread forks every N ms while the others run; each
 * child churns and purges on its own (inheriting whatever locks the
 * vanished threads held) and checks its bytes.
 *
 * --expect-reclaim: also fail unless the shim's jemalloc adapter (found
 * with dlsym, so the binary runs without it) reclaimed some regions;
 * exit 77 (skipped) on a kernel that keeps tables on a whole-PMD
 * MADV_DONTNEED, where reclaim can't happen.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "pattern.h"
#include "ptreclaim.h"

#define SLOTS 4096
#define MAX_THREADS 64

struct obj {
	unsigned char *p;
	size_t size;
	uint64_t id;
};

/* A mailbox per thread for objects another thread will check and free. */
struct mailbox {
	pthread_mutex_t lock;
	struct obj o[64];
	unsigned n;
};

static struct {
	unsigned seconds;
	unsigned threads;
	int expect_reclaim;
	unsigned fork_ms;
} opt = { 5, 4, 0, 0 };

static atomic_int stop;
static atomic_ullong bad, checked, zero_bad, ops;
static struct mailbox box[MAX_THREADS];
static uint64_t seed = 0x5eed;

static int (*mallctl_p)(const char *, void *, size_t *, void *, size_t);

static size_t pick_size(uint64_t *rng)
{
	uint64_t r = rnd(rng);
	unsigned b = (unsigned)(r % 1000);

	r >>= 10;
	if (b < 600)
		return 1 + r % 1024;
	if (b < 900)
		return 1024 + r % 31744;
	if (b < 995)
		return 32768 + r % 491520;
	return 524288 + r % (4u << 20);
}

static void check(struct obj *o)
{
	size_t off = pat_check_id(o->p, o->size, seed, o->id);

	atomic_fetch_add(&checked, 1);
	if (off != PAT_OK) {
		atomic_fetch_add(&bad, 1);
		fprintf(stderr, "stress: object %#llx (%zu bytes at %p) wrong at byte %zu\n",
			(unsigned long long)o->id, o->size, (void *)o->p, off);
	}
}

static void make(struct obj *o, uint64_t *rng, uint64_t id)
{
	o->size = pick_size(rng);
	o->id = id;
	if (rnd(rng) % 8 == 0) {
		/* calloc must give zeros, also on recommitted memory. */
		o->p = calloc(1, o->size);
		if (o->p)
			for (size_t i = 0; i < o->size; i += 509)
				if (o->p[i]) {
					atomic_fetch_add(&zero_bad, 1);
					break;
				}
	} else {
		o->p = malloc(o->size);
	}
	if (!o->p) {
		perror("malloc");
		exit(2);
	}
	pat_fill_id(o->p, o->size, seed, id);
}

static void *worker(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	uint64_t rng = 0x9e3779b97f4a7c15ULL * (me + 1), next = (uint64_t)me << 40;
	struct obj *slot = calloc(SLOTS, sizeof(*slot));

	while (!atomic_load(&stop)) {
		unsigned i = (unsigned)(rnd(&rng) % SLOTS);
		struct obj *o = &slot[i];
		uint64_t r = rnd(&rng) % 16;

		atomic_fetch_add(&ops, 1);
		if (!o->p) {
			make(o, &rng, next++);
		} else if (r == 0) {
			/* Hand it to another thread to verify and free. */
			struct mailbox *m = &box[(me + 1) % opt.threads];

			check(o);
			pthread_mutex_lock(&m->lock);
			if (m->n < 64) {
				m->o[m->n++] = *o;
				o->p = NULL;
			}
			pthread_mutex_unlock(&m->lock);
		} else if (r == 1) {
			/* realloc keeps the prefix; refill under a new id. */
			size_t ns = pick_size(&rng), keep = ns < o->size ? ns : o->size;
			unsigned char *np;

			check(o);
			np = realloc(o->p, ns);
			if (!np) {
				perror("realloc");
				exit(2);
			}
			if (pat_check_id(np, keep, seed, o->id) != PAT_OK) {
				atomic_fetch_add(&bad, 1);
				fprintf(stderr, "stress: realloc lost bytes\n");
			}
			o->p = np;
			o->size = ns;
			o->id = next++;
			pat_fill_id(o->p, o->size, seed, o->id);
		} else {
			check(o);
			free(o->p);
			o->p = NULL;
		}
		if (r == 2) {
			struct mailbox *m = &box[me];

			pthread_mutex_lock(&m->lock);
			while (m->n) {
				struct obj x = m->o[--m->n];

				check(&x);
				free(x.p);
			}
			pthread_mutex_unlock(&m->lock);
		}
	}
	for (unsigned i = 0; i < SLOTS; i++)
		if (slot[i].p) {
			check(&slot[i]);
			free(slot[i].p);
		}
	free(slot);
	return NULL;
}

/* Keep jemalloc decommitting: purge every arena every few milliseconds. */
static void *purger(void *arg)
{
	struct timespec ts = { 0, 3 * 1000 * 1000 };

	(void)arg;
	while (!atomic_load(&stop)) {
		if (mallctl_p)
			mallctl_p("arena.4096.purge", NULL, NULL, NULL, 0);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* In a child of fork: the other threads are gone, maybe mid-hook. */
static int child_churn(void)
{
	enum { N = 256 };
	static struct obj o[N];
	uint64_t rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL | 1;
	int wrong = 0;

	for (unsigned round = 0; round < 4; round++) {
		for (unsigned i = 0; i < N; i++)
			make(&o[i], &rng, ((uint64_t)1 << 62) + round * N + i);
		for (unsigned i = 0; i < N; i += 2) {
			free(o[i].p);
			o[i].p = NULL;
		}
		if (mallctl_p)
			mallctl_p("arena.4096.purge", NULL, NULL, NULL, 0);
		for (unsigned i = 1; i < N; i += 2) {
			wrong += pat_check_id(o[i].p, o[i].size, seed,
					      o[i].id) != PAT_OK;
			free(o[i].p);
		}
	}
	return wrong ? 1 : 0;
}

static unsigned forks, fork_failures;

static void fork_now(void)
{
	int st;
	pid_t pid = fork();

	if (pid == 0)
		_exit(child_churn());
	if (pid < 0) {
		perror("fork");
		return;
	}
	forks++;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fork_failures++;
		fprintf(stderr, "stress: forked child failed (status %#x)\n", st);
	}
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS], pt;
	int (*status)(struct ptreclaim_jemalloc_status *, size_t);
	struct ptreclaim_jemalloc_status st = { 0 };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			opt.seconds = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			opt.threads = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--fork-ms") && i + 1 < argc)
			opt.fork_ms = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--expect-reclaim"))
			opt.expect_reclaim = 1;
		else {
			fprintf(stderr, "usage: stress [--seconds N] [--threads N] [--fork-ms N] [--expect-reclaim]\n");
			return 2;
		}
	}
	if (opt.threads < 1 || opt.threads > MAX_THREADS)
		opt.threads = 4;
	mallctl_p = (int (*)(const char *, void *, size_t *, void *, size_t))
		dlsym(RTLD_DEFAULT, "mallctl");
	for (unsigned i = 0; i < opt.threads; i++)
		pthread_mutex_init(&box[i].lock, NULL);
	for (unsigned i = 0; i < opt.threads; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
	pthread_create(&pt, NULL, purger, NULL);
	if (opt.fork_ms) {
		struct timespec ts = { opt.fork_ms / 1000,
				       (long)(opt.fork_ms % 1000) * 1000000 };
		struct timespec t0, t;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			nanosleep(&ts, NULL);
			fork_now();
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while (t.tv_sec - t0.tv_sec < (time_t)opt.seconds);
	} else {
		sleep(opt.seconds);
	}
	atomic_store(&stop, 1);
	for (unsigned i = 0; i < opt.threads; i++)
		pthread_join(th[i], NULL);
	pthread_join(pt, NULL);
	for (unsigned i = 0; i < opt.threads; i++)
		while (box[i].n) {
			struct obj x = box[i].o[--box[i].n];

			check(&x);
			free(x.p);
		}
	status = (int (*)(struct ptreclaim_jemalloc_status *, size_t))
		dlsym(RTLD_DEFAULT, "ptreclaim_jemalloc_status");
	if (status)
		status(&st, sizeof(st));
	printf("stress threads=%u seconds=%u ops=%llu checked=%llu corrupt=%llu"
	       " calloc_nonzero=%llu adapter=%u decommits=%llu commits=%llu"
	       " regions_reclaimed=%llu forks=%u fork_failures=%u\n",
	       opt.threads, opt.seconds, (unsigned long long)ops,
	       (unsigned long long)checked, (unsigned long long)bad,
	       (unsigned long long)zero_bad, st.attached,
	       (unsigned long long)st.decommits, (unsigned long long)st.commits,
	       (unsigned long long)st.regions_reclaimed, forks, fork_failures);
	if (bad || zero_bad || fork_failures)
		return 1;
	if (!opt.expect_reclaim)
		return 0;
	if (!st.attached) {
		fprintf(stderr, "stress: the jemalloc adapter is not attached\n");
		return 1;
	}
	/* Reclaim is promised only where the kernel frees a table on a
	 * whole-PMD MADV_DONTNEED: elsewhere the property can't be seen. */
	if (!st.kernel_frees_tables) {
		printf("skip: this kernel keeps tables on a whole-PMD MADV_DONTNEED\n");
		return 77;
	}
	if (!st.regions_reclaimed) {
		fprintf(stderr, "stress: the jemalloc adapter reclaimed nothing\n");
		return 1;
	}
	return 0;
}
