// SPDX-License-Identifier: MIT
/*
 * lazy_pageout - reclaim of lazily freed large folios (issue 16, seeds 001
 * and 002), on stock 6.12 and on the patched kernel.
 *
 *   mthp: 128 MiB backed by 64 KiB folios (hugepages-64kB/enabled=always),
 *         MADV_FREE, then MADV_PAGEOUT (reclaim on demand, no swap needed:
 *         lazyfree folios are discarded).  6.12 unmaps them one PTE at a
 *         time, so every folio is partly mapped for a moment and queued
 *         for a deferred split (split_deferred +1 per folio); batched
 *         unmap clears the folio's PTEs at once: no deferred split.
 *         Each round also reclaims the same 128 MiB in 4 KiB pages (no
 *         patch changes that path): mthp/small, measured in one VM, is
 *         the figure to compare across kernels (host load cancels out).
 *   pmd:  64 MiB of PMD-mapped THPs, MADV_FREE, MADV_PAGEOUT.  6.12 splits
 *         the PMD first (thp_split_pmd +1 each), which leaves a PTE table
 *         behind that maps nothing; discarding it via the PMD leaves none.
 *
 * Usage: lazy_pageout [--rounds N] [--expect auto|stock|patched|none] [mthp|pmd]...
 * Prints RESULT lines (times are for the benchmark; checks use counts).
 * --expect stock: the scenario must show 6.12's behaviour (proves it
 * exercises what the patches change); patched: none of it; auto: patched
 * if advice_lazyfree exists, else stock.  Exit 0/1, 2 on setup errors.
 */
#include "lazy.h"

#define MTHP_LEN	(128UL << 20)
#define PMD_LEN		(64UL << 20)
#define MAX_ROUNDS	32

static int rounds = 5;
static const char *expect = "auto";

static int cmpd(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmpd);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The fastest round: what the host's other work did not slow down. */
static double minimum(const double *v, int n)
{
	double m = v[0];

	while (--n > 0)
		m = v[n] < m ? v[n] : m;
	return m;
}

/* One reclaim round on [a, a+len): MADV_FREE, then MADV_PAGEOUT, timed. */
static double free_and_pageout(char *a, size_t len, double *t_free)
{
	double t0 = now_ns(), t1;

	if (madvise(a, len, MADV_FREE))
		die("MADV_FREE");
	t1 = now_ns();
	if (madvise(a, len, MADV_PAGEOUT))
		die("MADV_PAGEOUT");
	*t_free = t1 - t0;
	return now_ns() - t1;
}

static int run_mthp(int patched)
{
	char mode[32];
	double t[MAX_ROUNDS], tf[MAX_ROUNDS], ts[MAX_ROUNDS], rel[MAX_ROUNDS], x;
	long split[MAX_ROUNDS], alloc[MAX_ROUNDS], left[MAX_ROUNDS];
	long rss_after = 0, folios = MTHP_LEN / PIECE, max_split = 0;
	char *a, *small;
	int r, ok = 1;

	if (thp_mode(MTHP64 "/enabled", mode, sizeof(mode)) ||
	    write_str(MTHP64 "/enabled", "always")) {
		printf("FAIL mthp: cannot set %s/enabled\n", MTHP64);
		return 0;
	}
	/* Aligned, so that every 64 KiB folio fits (and nothing is PMD-THP:
	 * the global setting is madvise and this range has no MADV_HUGEPAGE). */
	a = map_aligned(MTHP_LEN, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1);
	small = map_anon(MTHP_LEN);	/* MADV_NOHUGEPAGE: 4 KiB pages */
	for (r = 0; r < rounds; r++) {
		long a0 = read_long(MTHP64 "/stats/anon_fault_alloc"), s0;

		fill_pattern(a, MTHP_LEN, r);
		alloc[r] = read_long(MTHP64 "/stats/anon_fault_alloc") - a0;
		s0 = read_long(MTHP64 "/stats/split_deferred");
		t[r] = free_and_pageout(a, MTHP_LEN, &tf[r]);
		split[r] = read_long(MTHP64 "/stats/split_deferred") - s0;
		left[r] = present_pages(a, MTHP_LEN);
		if (split[r] > max_split)
			max_split = split[r];
		rss_after = status_kb("VmRSS");
		fill_pattern(small, MTHP_LEN, r);
		ts[r] = free_and_pageout(small, MTHP_LEN, &x);
		rel[r] = t[r] / ts[r];
		printf("mthp round %d: folios_faulted=%ld pageout_ms=%.1f free_ms=%.1f small_pageout_ms=%.1f split_deferred=+%ld pages_left=%ld\n",
		       r, alloc[r], t[r] / 1e6, tf[r] / 1e6, ts[r] / 1e6, split[r], left[r]);
		if (alloc[r] < folios * 9 / 10) {
			printf("FAIL mthp: only %ld of %ld 64 KiB folios faulted in\n",
			       alloc[r], folios);
			ok = 0;
		}
		if (left[r] > (long)(MTHP_LEN / PG) / 100) {
			printf("FAIL mthp: %ld pages still mapped after MADV_PAGEOUT\n",
			       left[r]);
			ok = 0;
		}
	}
	write_str(MTHP64 "/enabled", mode);
	printf("RESULT mthp_folios=%ld\n", folios);
	printf("RESULT mthp_pageout_ms_min=%.2f\n", minimum(t, rounds) / 1e6);
	printf("RESULT small_pageout_ms_min=%.2f\n", minimum(ts, rounds) / 1e6);
	printf("RESULT mthp_pageout_ms_median=%.2f\n", median(t, rounds) / 1e6);
	printf("RESULT mthp_free_ms_median=%.2f\n", median(tf, rounds) / 1e6);
	printf("RESULT small_pageout_ms_median=%.2f\n", median(ts, rounds) / 1e6);
	printf("RESULT mthp_vs_small_pageout=%.3f\n", median(rel, rounds));
	printf("RESULT mthp_split_deferred_per_round=%ld\n", max_split);
	printf("RESULT mthp_rss_after_kb=%ld\n", rss_after);
	if (patched && max_split) {
		printf("FAIL mthp: split_deferred +%ld in a round, want 0 (batched unmap)\n",
		       max_split);
		ok = 0;
	}
	/* 6.12: every folio is queued once (bar a few a racing reader keeps). */
	if (!patched && strcmp(expect, "none") && max_split < folios * 9 / 10) {
		printf("FAIL mthp: split_deferred +%ld, want ~%ld on stock: the scenario does not exercise per-PTE unmap\n",
		       max_split, folios);
		ok = 0;
	}
	munmap(a, MTHP_LEN);
	munmap(small, MTHP_LEN);
	return ok;
}

static int run_pmd(int patched)
{
	double t[MAX_ROUNDS], tf[MAX_ROUNDS];
	long nthp = PMD_LEN / PMD_SZ, splits_max = 0, left_max = 0, rss_after = 0;
	char *a;
	int r, ok = 1;

	for (r = 0; r < rounds; r++) {
		long pte_full, thp, sp0, sp, pte_left;

		a = map_aligned(PMD_LEN, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1);
		if (madvise(a, PMD_LEN, MADV_HUGEPAGE))
			die("MADV_HUGEPAGE");
		fill_pattern(a, PMD_LEN, r);
		/* x86 deposits a PTE table with every PMD THP (counted in
		 * VmPTE).  A discard through the PMD frees it; a split turns
		 * it into a PTE table that stays, empty, after the pages are
		 * gone.  Tables left = THPs - tables freed by the pageout. */
		pte_full = status_kb("VmPTE");
		thp = smaps_kb(a, "AnonHugePages");
		if (thp < (long)(PMD_LEN >> 10) * 9 / 10) {
			printf("FAIL pmd: AnonHugePages %ld kB of %lu: no THPs to test with\n",
			       thp, PMD_LEN >> 10);
			munmap(a, PMD_LEN);
			return 0;
		}
		sp0 = vmstat("thp_split_pmd");
		t[r] = free_and_pageout(a, PMD_LEN, &tf[r]);
		sp = vmstat("thp_split_pmd") - sp0;
		pte_left = nthp * 4 - (pte_full - status_kb("VmPTE"));
		rss_after = status_kb("VmRSS");
		printf("pmd round %d: anon_huge_kb=%ld pageout_ms=%.1f thp_split_pmd=+%ld vmpte_left_kb=%ld pages_left=%ld\n",
		       r, thp, t[r] / 1e6, sp, pte_left, present_pages(a, PMD_LEN));
		if (sp > splits_max)
			splits_max = sp;
		if (pte_left > left_max)
			left_max = pte_left;
		if (present_pages(a, PMD_LEN)) {
			printf("FAIL pmd: pages still mapped after MADV_PAGEOUT\n");
			ok = 0;
		}
		munmap(a, PMD_LEN);
	}
	printf("RESULT pmd_thps=%ld\n", nthp);
	printf("RESULT pmd_pageout_ms_min=%.2f\n", minimum(t, rounds) / 1e6);
	printf("RESULT pmd_pageout_ms_median=%.2f\n", median(t, rounds) / 1e6);
	printf("RESULT pmd_thp_split_pmd_per_round=%ld\n", splits_max);
	printf("RESULT pmd_vmpte_left_kb=%ld\n", left_max);
	printf("RESULT pmd_rss_after_kb=%ld\n", rss_after);
	if (patched && (splits_max || left_max > 0)) {
		printf("FAIL pmd: thp_split_pmd +%ld, %ld kB of tables left; want 0 and 0\n",
		       splits_max, left_max);
		ok = 0;
	}
	if (!patched && strcmp(expect, "none") &&
	    (splits_max < nthp || left_max < nthp * 4)) {
		printf("FAIL pmd: thp_split_pmd +%ld, %ld kB left; stock splits all %ld\n",
		       splits_max, left_max, nthp);
		ok = 0;
	}
	return ok;
}

int main(int argc, char **argv)
{
	int i, patched, ok = 1, ran = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--expect") && i + 1 < argc)
			expect = argv[++i];
	}
	if (rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "lazy_pageout: --rounds 1..%d\n", MAX_ROUNDS);
		return 2;
	}
	pin_cpu(0);	/* all pages on the LRU before MADV_FREE: see lazy.h */
	/* The patches come with the lazyfree advice: its sysfs file tells
	 * which behaviour to expect. */
	patched = !strcmp(expect, "patched") ||
		  (!strcmp(expect, "auto") && rpt_advice_lazyfree() >= 0);
	printf("RESULT kernel=%s\n", patched ? "patched" : "stock");
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") || !strcmp(argv[i], "--expect")) {
			i++;
			continue;
		}
		if (!strcmp(argv[i], "mthp"))
			ok &= run_mthp(patched);
		else if (!strcmp(argv[i], "pmd"))
			ok &= run_pmd(patched);
		else {
			fprintf(stderr, "lazy_pageout: unknown %s\n", argv[i]);
			return 2;
		}
		ran = 1;
	}
	if (!ran)
		ok = run_mthp(patched) & run_pmd(patched);
	printf("%s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
