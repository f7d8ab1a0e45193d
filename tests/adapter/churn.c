/* SPDX-License-Identifier: MIT */
/*
 * churn - a heap that grows to a given size of mixed-size objects filled
 * with patterns, then loses most of them in waves (survivors clustered, as
 * objects allocated together tend to die together), with every arena purged
 * after each wave.  Every survivor byte is verified at the end.
 *
 * Prints one line: page-table memory (VmPTE) against what the survivors
 * need, RSS, and the wall time of the allocate/free/purge phases.  Exits 1 if
 * a byte is wrong or, with --max-ratio, if VmPTE/need is above it.
 *
 * Run it with and without the shim under the same allocator, e.g.
 *   LD_PRELOAD=libjemalloc.so.2 churn
 *   LD_PRELOAD=libptreclaim.so:libjemalloc.so.2 churn
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "check.h"
#include "pattern.h"
#include "ptreclaim.h"
#include "pagetables.h"

struct obj {
	unsigned char *p;
	uint32_t size;
	uint32_t keep;
};

static struct {
	size_t mib;
	unsigned survive_pct;
	unsigned cluster;
	unsigned waves;
	uint64_t seed;
	double max_ratio;
} opt = { 1536, 5, 256, 4, 1, 0 };

/* CPU time of the process: less disturbed than wall time on a busy machine. */
static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* Sizes: mostly small, most bytes in the larger ones. */
static uint32_t pick_size(uint64_t *rng)
{
	uint64_t r = rnd(rng);
	unsigned bucket = (unsigned)(r % 100);

	r >>= 8;
	if (bucket < 50)
		return 16 + (uint32_t)(r % 497);
	if (bucket < 85)
		return 512 + (uint32_t)(r % 7681);
	if (bucket < 98)
		return 8192 + (uint32_t)(r % 57345);
	return 65536 + (uint32_t)(r % 458753);
}

/* Purge every arena, if the allocator is jemalloc. */
static void purge_all(void)
{
	static int (*mallctl)(const char *, void *, size_t *, void *, size_t);
	static int looked;

	if (!looked++)
		mallctl = (int (*)(const char *, void *, size_t *, void *,
				   size_t))dlsym(RTLD_DEFAULT, "mallctl");
	if (mallctl)
		mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
}

/*
 * The ratio is only promised where the shim's jemalloc adapter is attached
 * and the kernel frees tables (else the test is skipped, exit 77).  A run
 * meant to be under the shim that finds no adapter is a failure.
 */
static int adapter_can_reclaim(void)
{
	int (*status)(struct ptreclaim_jemalloc_status *, size_t);
	struct ptreclaim_jemalloc_status st = { 0 };

	status = (int (*)(struct ptreclaim_jemalloc_status *, size_t))
		dlsym(RTLD_DEFAULT, "ptreclaim_jemalloc_status");
	if (!status || status(&st, sizeof(st)) || !st.attached) {
		fprintf(stderr, "churn: the shim's jemalloc adapter is not attached\n");
		exit(1);
	}
	if (!st.kernel_frees_tables)
		fprintf(stderr, "churn: this kernel keeps tables on a whole-PMD MADV_DONTNEED; skipping the ratio check\n");
	return st.kernel_frees_tables;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: churn [--mib N] [--survive PCT] [--cluster N] [--waves N]\n"
		"             [--seed N] [--max-ratio R]\n");
	exit(2);
}

static void parse(int argc, char **argv)
{
	/* Options come in pairs: --name value. */
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (!strcmp(a, "--mib"))
			opt.mib = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--survive"))
			opt.survive_pct = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--cluster"))
			opt.cluster = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--waves"))
			opt.waves = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--seed"))
			opt.seed = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--max-ratio"))
			opt.max_ratio = strtod(v, NULL);
		else
			usage();
	}
	if (!opt.mib || !opt.cluster || !opt.waves || opt.survive_pct > 100)
		usage();
}

int main(int argc, char **argv)
{
	size_t cap, n = 0, bytes = 0, kept = 0, bad = 0;
	uint64_t rng;
	struct obj *objs;
	uint32_t *order;
	size_t nfree = 0;
	double t0, t_grow, t_free, c0, c_work;
	struct pt_need need;
	long vmpte, rss;
	uint64_t need_kb;
	double ratio;

	parse(argc, argv);
	rng = opt.seed * 0x9e3779b97f4a7c15ULL + 1;
	/* The bookkeeping lives outside the heap under test. */
	cap = opt.mib * 1024 / 4 + 1024;
	objs = mmap(NULL, cap * sizeof(*objs), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	order = mmap(NULL, cap * sizeof(*order), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (objs == MAP_FAILED || order == MAP_FAILED) {
		perror("mmap");
		return 2;
	}

	c0 = cpu_ms();
	t0 = 1e3 * now_s();
	while (bytes < opt.mib << 20 && n < cap) {
		struct obj *o = &objs[n];

		o->size = pick_size(&rng);
		o->p = malloc(o->size);
		if (!o->p) {
			perror("malloc");
			return 2;
		}
		pat_fill_id(o->p, o->size, opt.seed, n);
		o->keep = (rnd(&rng) % 100) < opt.survive_pct;
		bytes += o->size;
		n++;
	}
	/* Survival is decided per cluster of consecutive objects. */
	for (size_t i = 0; i < n; i++) {
		objs[i].keep = objs[i - i % opt.cluster].keep;
		kept += objs[i].keep;
		if (!objs[i].keep)
			order[nfree++] = (uint32_t)i;
	}
	t_grow = 1e3 * now_s() - t0;

	/* Free the rest in waves, in random order, purging after each. */
	for (size_t i = nfree; i > 1; i--) {
		size_t j = rnd(&rng) % i;
		uint32_t t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	t0 = 1e3 * now_s();
	for (unsigned w = 0; w < opt.waves; w++) {
		size_t lo = nfree * w / opt.waves, hi = nfree * (w + 1) / opt.waves;

		for (size_t i = lo; i < hi; i++) {
			free(objs[order[i]].p);
			objs[order[i]].p = NULL;
		}
		purge_all();
	}
	t_free = 1e3 * now_s() - t0;
	c_work = cpu_ms() - c0;

	for (size_t i = 0; i < n; i++)
		if (objs[i].p && pat_check_id(objs[i].p, objs[i].size,
					      opt.seed, i) != PAT_OK)
			bad++;
	if (pt_need_scan(&need)) {
		perror("pagemap");
		return 2;
	}
	vmpte = status_kb("VmPTE");
	rss = status_kb("VmRSS");
	need_kb = 4 * pt_need_pages(&need);
	ratio = need_kb ? (double)vmpte / need_kb : 0;
	printf("churn mib=%zu objects=%zu survivors=%zu vmpte_kb=%ld need_kb=%llu"
	       " ratio=%.3f rss_kb=%ld grow_ms=%.1f free_ms=%.1f wall_ms=%.1f"
	       " cpu_ms=%.1f corrupt=%zu\n",
	       opt.mib, n, kept, vmpte, (unsigned long long)need_kb,
	       ratio, rss, t_grow, t_free, t_grow + t_free, c_work, bad);
	if (bad) {
		fprintf(stderr, "churn: %zu survivors corrupted\n", bad);
		return 1;
	}
	if (opt.max_ratio > 0 && !adapter_can_reclaim())
		return 77;
	if (opt.max_ratio > 0 && ratio > opt.max_ratio) {
		fprintf(stderr, "churn: VmPTE/need %.3f above %.3f\n", ratio,
			opt.max_ratio);
		return 1;
	}
	return 0;
}
