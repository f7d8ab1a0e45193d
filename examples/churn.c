/* SPDX-License-Identifier: MIT */
/*
 * churn - a heap that grows to --size-mb of mixed-size objects, then loses
 * all but --keep-pct of them in --waves waves, asking the allocator to purge
 * between waves.  Survivors are whole runs of consecutive objects
 * (--cluster), so they sit together yet touch many 2 MiB regions.  Each
 * wave also allocates short-lived objects into the memory just purged, and
 * purges again while they are live, which is where a wrong widening of a
 * purge would destroy data.  Every byte is checked; any mismatch exits 1.
 *
 * Prints one line: "churn: key=value ..." (see print_result()).  With
 * --zap-check it then frees every empty PTE table it can reach with one
 * aligned 2 MiB madvise each and adds how many the kernel freed: a direct
 * count to hold the shim's ledger against.
 * Run under LD_PRELOAD=<allocator> (and the shim) to choose what is measured.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "allocator.h"
#include "pagetables.h"
#include "pattern.h"
#include "ptreclaim.h"

struct opts {
	uint64_t size_mb, waves, cluster, seed, threads, zap, settle_ms, pageout;
	double keep_pct, churn_pct;
};

struct obj {
	unsigned char *p;
	uint32_t size;
	uint32_t wave;		/* wave that frees it; waves == survivor */
};

enum phase { GROW, FREE_WAVE, TRANS_ALLOC, TRANS_FREE, VERIFY };

struct worker {
	pthread_t th;
	size_t lo, hi;		/* slice of the object table */
	struct obj *tr;		/* this worker's transient objects */
	size_t ntr;
	uint64_t freed, bad;
};

static struct opts o = { 2048, 4, 1024, 1, 1, 0, 0, 0, 5.0, 25.0 };
static struct obj *objs;
static size_t nobj;
static enum phase cur_phase;
static uint64_t cur_wave;
static unsigned reported;	/* mismatches printed so far */

/* Mixed sizes: half tiny (64 B-512 B), a third small (to 4 KiB), 15%
 * medium (to 64 KiB), 1% large (to 1 MiB), roughly log-uniform. */
static uint32_t obj_size(uint64_t h)
{
	static const uint8_t lo_shift[] = { 6, 9, 12, 16 };
	static const uint8_t nshift[] = { 3, 3, 4, 4 };
	unsigned pick = h % 100, band = pick < 50 ? 0 : pick < 84 ? 1 :
					 pick < 99 ? 2 : 3;
	unsigned e = lo_shift[band] + (unsigned)((h >> 8) % nshift[band]);

	return (uint32_t)((1ull << e) + ((h >> 16) & ((1ull << e) - 1)));
}

static void *map_table(size_t bytes)
{
	/* Not malloc: bookkeeping must not sit in the heap being measured. */
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED) {
		perror("churn: mmap");
		exit(2);
	}
	return p;
}

/* Exactly keep_pct of the blocks, evenly spaced (a random pick of a few
 * dozen blocks would make the survivor share swing by half). */
static int kept_block(uint64_t b, uint64_t phase)
{
	uint64_t k = (uint64_t)(o.keep_pct * 100);

	return ((b + 1) * k + phase) / 10000 > (b * k + phase) / 10000;
}

static void plan(void)
{
	uint64_t target = o.size_mb << 20, total = 0;
	uint64_t phase = mix64(o.seed) % 10000;
	size_t cap, i;

	/* The table is sized for the worst case of all-minimum objects. */
	cap = target / 64 + 1;
	objs = map_table(cap * sizeof(*objs));
	for (i = 0; total < target && i < cap; i++) {
		uint64_t h = mix64(o.seed ^ mix64(i));

		objs[i].size = obj_size(h);
		objs[i].wave = kept_block(i / o.cluster, phase) ? o.waves :
			       (uint32_t)(mix64(h) % o.waves);
		total += objs[i].size;
	}
	nobj = i;
}

static int check(const struct obj *ob, uint64_t tag, const char *what)
{
	size_t off = pat_check(ob->p, ob->size, tag);

	if (off == (size_t)-1)
		return 0;
	/* The first few tell the story; thousands would bury the log. */
	if (__atomic_fetch_add(&reported, 1, __ATOMIC_RELAXED) < 10)
		fprintf(stderr,
			"churn: MISMATCH %s tag=%llu addr=%p size=%u off=%zu\n",
			what, (unsigned long long)tag, (void *)ob->p, ob->size,
			off);
	return 1;
}

static void *alloc_fill(size_t size, uint64_t tag)
{
	unsigned char *p = malloc(size);

	if (!p) {
		fprintf(stderr, "churn: out of memory (%zu bytes)\n", size);
		exit(2);
	}
	pat_fill(p, size, tag);
	return p;
}

/* Transient tags live in their own space so they never equal an id. */
static uint64_t trans_tag(const struct worker *w, size_t k)
{
	return (1ull << 63) | (cur_wave << 40) | ((uint64_t)w->lo << 20) | k;
}

static void trans_alloc(struct worker *w)
{
	uint64_t budget = (uint64_t)(w->freed * o.churn_pct / 100), got = 0;
	size_t cap = w->hi - w->lo, k;

	for (k = 0; got < budget && k < cap; k++) {
		uint64_t tag = trans_tag(w, k);

		w->tr[k].size = obj_size(mix64(tag ^ o.seed));
		w->tr[k].p = alloc_fill(w->tr[k].size, tag);
		got += w->tr[k].size;
	}
	w->ntr = k;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	size_t i;

	switch (cur_phase) {
	case GROW:
		for (i = w->lo; i < w->hi; i++)
			objs[i].p = alloc_fill(objs[i].size, i);
		break;
	case FREE_WAVE:
		w->freed = 0;
		for (i = w->lo; i < w->hi; i++) {
			if (objs[i].wave != cur_wave)
				continue;
			w->bad += check(&objs[i], i, "dying");
			free(objs[i].p);
			objs[i].p = NULL;
			w->freed += objs[i].size;
		}
		break;
	case TRANS_ALLOC:
		trans_alloc(w);
		break;
	case TRANS_FREE:
		for (i = 0; i < w->ntr; i++) {
			w->bad += check(&w->tr[i], trans_tag(w, i), "transient");
			free(w->tr[i].p);
		}
		w->ntr = 0;
		break;
	case VERIFY:
		for (i = w->lo; i < w->hi; i++)
			if (objs[i].p)
				w->bad += check(&objs[i], i, "live");
		break;
	}
	return NULL;
}

static void run_phase(struct worker *ws, enum phase ph)
{
	uint64_t t;

	cur_phase = ph;
	if (o.threads == 1) {
		work(&ws[0]);
		return;
	}
	for (t = 0; t < o.threads; t++)
		if (pthread_create(&ws[t].th, NULL, work, &ws[t])) {
			perror("churn: pthread_create");
			exit(2);
		}
	for (t = 0; t < o.threads; t++)
		pthread_join(ws[t].th, NULL);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* User + system time of the process: less swayed than wall time by other
 * load on a shared machine. */
static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Minor faults of the process so far (all threads). */
static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static void usage(int code)
{
	fprintf(code ? stderr : stdout,
		"usage: churn [--size-mb N] [--waves N] [--keep-pct P] "
		"[--cluster N] [--churn-pct P] [--seed N] [--threads N]\n"
		"             [--zap-check] [--settle-ms N] [--pageout]\n");
	exit(code);
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "size-mb", 1, 0, 's' }, { "waves", 1, 0, 'w' },
		{ "keep-pct", 1, 0, 'k' }, { "cluster", 1, 0, 'c' },
		{ "churn-pct", 1, 0, 'C' }, { "seed", 1, 0, 'S' },
		{ "threads", 1, 0, 't' }, { "zap-check", 0, 0, 'z' },
		{ "settle-ms", 1, 0, 'M' }, { "pageout", 0, 0, 'P' },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's': o.size_mb = strtoull(optarg, NULL, 0); break;
		case 'w': o.waves = strtoull(optarg, NULL, 0); break;
		case 'k': o.keep_pct = strtod(optarg, NULL); break;
		case 'c': o.cluster = strtoull(optarg, NULL, 0); break;
		case 'C': o.churn_pct = strtod(optarg, NULL); break;
		case 'S': o.seed = strtoull(optarg, NULL, 0); break;
		case 't': o.threads = strtoull(optarg, NULL, 0); break;
		case 'z': o.zap = 1; break;
		case 'M': o.settle_ms = strtoull(optarg, NULL, 0); break;
		case 'P': o.pageout = 1; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc || !o.size_mb || !o.waves || !o.cluster ||
	    !o.threads || o.threads > 256 || o.keep_pct < 0 ||
	    o.keep_pct > 100 || o.churn_pct < 0 || o.churn_pct > 100)
		usage(2);
}

struct result {
	const char *alloc;
	uint64_t survivors, survivor_kb, bad;
	long vmpte_grown_kb, vmpte_kb, rss_kb;
	/* the growth phase: what huge-region hinting changes */
	long minflt_grow, anon_kb_grown, anon_huge_kb_grown, vmas_grown, vmas;
	long anon_huge_kb;
	struct thp_held thp;	/* -1s: unknown */
	double grow_s, grow_cpu_s;
	struct pt_need need;
	double wall, cpu;
};

/* Everything that reads the process is done before stdio first allocates. */
static void print_result(const struct result *r)
{
	typedef long (*reclaimable_fn)(void);
	typedef int (*stats_fn)(struct ptreclaim_stats *, size_t);
	reclaimable_fn reclaimable =
		(reclaimable_fn)dlsym(RTLD_DEFAULT, "ptreclaim_reclaimable");
	stats_fn stats_get = (stats_fn)dlsym(RTLD_DEFAULT, "ptreclaim_stats_get");
	uint64_t need = pt_need_pages(&r->need);
	long have = r->vmpte_kb / 4, rec = 0, zapped = 0;
	struct ptreclaim_stats st;

	memset(&st, 0, sizeof(st));
	if (reclaimable && stats_get) {
		rec = reclaimable();
		stats_get(&st, sizeof(st));
	}
	/* Last: it changes the page tables that everything above measured. */
	if (o.zap)
		zapped = pt_zap_empty();

	printf("churn: alloc=%s size_mb=%llu threads=%llu objects=%zu "
	       "survivors=%llu survivor_kb=%llu vmpte_grown_kb=%ld "
	       "vmpte_kb=%ld need_kb=%llu need_pte=%llu need_pmd=%llu "
	       "need_pud=%llu ratio=%.2f rss_kb=%ld wall_s=%.3f cpu_s=%.3f",
	       r->alloc, (unsigned long long)o.size_mb,
	       (unsigned long long)o.threads, nobj,
	       (unsigned long long)r->survivors,
	       (unsigned long long)r->survivor_kb, r->vmpte_grown_kb,
	       r->vmpte_kb, (unsigned long long)need * 4,
	       (unsigned long long)r->need.pte, (unsigned long long)r->need.pmd,
	       (unsigned long long)r->need.pud,
	       need ? (double)have / (double)need : 0.0, r->rss_kb, r->wall,
	       r->cpu);
	/* The independent figure: table pages that exist but map nothing. */
	printf(" independent_pte_pages=%lld", (long long)have - (long long)need);
	if (o.zap)
		printf(" zapped_pte_pages=%ld", zapped);
	if (reclaimable && stats_get)
		printf(" shim=1 reclaimable_pte_pages=%ld shim_dontneed=%llu "
		       "shim_free=%llu shim_regions_full=%llu", rec,
		       (unsigned long long)st.dontneed_calls,
		       (unsigned long long)st.free_calls,
		       (unsigned long long)st.regions_full);
	else
		printf(" shim=0");
	printf(" minflt_grow=%ld grow_s=%.3f grow_cpu_s=%.3f anon_kb_grown=%ld "
	       "anon_huge_kb_grown=%ld anon_huge_kb=%ld vmas_grown=%ld vmas=%ld",
	       r->minflt_grow, r->grow_s, r->grow_cpu_s, r->anon_kb_grown,
	       r->anon_huge_kb_grown, r->anon_huge_kb, r->vmas_grown, r->vmas);
	/* Memory in huge pages partly unmapped: held, but not in VmRSS. */
	printf(" thp_held_kb=%lld thp_unmapped_kb=%lld zero_kb=%lld",
	       (long long)r->thp.held_kb,
	       (long long)(r->thp.held_kb - r->thp.mapped_kb),
	       (long long)r->thp.zero_kb);
	printf(" verify=%s\n", r->bad ? "FAIL" : "ok");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct result r = { 0 };
	struct worker *ws;
	double t0, c0;
	uint64_t t, i;

	parse(argc, argv);
	r.alloc = allocator_init();
	plan();
	ws = map_table(o.threads * sizeof(*ws));
	for (t = 0; t < o.threads; t++) {
		ws[t].lo = nobj * t / o.threads;
		ws[t].hi = nobj * (t + 1) / o.threads;
		ws[t].tr = map_table((ws[t].hi - ws[t].lo + 1) * sizeof(struct obj));
	}

	t0 = now();
	c0 = cpu_now();
	r.minflt_grow = minflt();
	run_phase(ws, GROW);
	r.grow_s = now() - t0;
	r.grow_cpu_s = cpu_now() - c0;
	r.minflt_grow = minflt() - r.minflt_grow;
	r.vmpte_grown_kb = status_kb("VmPTE");
	r.anon_kb_grown = rollup_kb("Anonymous");
	r.anon_huge_kb_grown = rollup_kb("AnonHugePages");
	r.vmas_grown = vma_count();
	for (cur_wave = 0; cur_wave < o.waves; cur_wave++) {
		run_phase(ws, FREE_WAVE);
		allocator_purge();
		run_phase(ws, TRANS_ALLOC);
		/* Purge while the transients are live, then check them. */
		allocator_purge();
		run_phase(ws, TRANS_FREE);
		run_phase(ws, VERIFY);
	}
	allocator_purge();
	run_phase(ws, VERIFY);
	r.wall = now() - t0;
	r.cpu = cpu_now() - c0;
	/* --pageout: memory pressure discards lazily freed pages (MADV_FREE)
	 * before the heap settles. */
	if (o.pageout && pt_pageout_anon())
		perror("churn: pageout");
	/* --settle-ms: the heap sits idle (as a service's would between
	 * bursts) before it is measured, and every survivor is checked
	 * again afterwards: background reclaim must not have touched it. */
	if (o.settle_ms) {
		struct timespec ts = { (time_t)(o.settle_ms / 1000),
				       (long)(o.settle_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		run_phase(ws, VERIFY);
	}

	for (t = 0; t < o.threads; t++)
		r.bad += ws[t].bad;
	for (i = 0; i < nobj; i++) {
		if (!objs[i].p)
			continue;
		r.survivors++;
		r.survivor_kb += objs[i].size;
	}
	r.survivor_kb /= 1024;
	if (pt_need_scan(&r.need) < 0) {
		perror("churn: pagemap scan");
		return 2;
	}
	/* After the scan: its own buffers are mapped by then. */
	r.vmpte_kb = status_kb("VmPTE");
	r.rss_kb = status_kb("VmRSS");
	r.anon_huge_kb = rollup_kb("AnonHugePages");
	r.vmas = vma_count();
	if (thp_held_scan(&r.thp) < 0)
		r.thp.held_kb = r.thp.mapped_kb = r.thp.zero_kb = (uint64_t)-1;
	print_result(&r);
	return r.bad ? 1 : 0;
}
