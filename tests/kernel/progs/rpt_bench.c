// SPDX-License-Identifier: MIT
/*
 * Numbers for kernel-patches/README.md, measured in the (emulated) VM, so
 * every time is also given relative to a plain MADV_DONTNEED of the same
 * range in the same run.
 *
 * A. Cost per table.  NT tables (1 page faulted in per 2 MiB), per round:
 *      dontneed_zap    MADV_DONTNEED of the range (zaps NT pages)
 *      dontneed_empty  MADV_DONTNEED again (walks NT empty tables)
 *      reclaim_free    MADV_RECLAIM_PT (frees NT tables)
 *      reclaim_none    MADV_RECLAIM_PT again (no tables left)
 *      reclaim_busy    MADV_RECLAIM_PT with 1 page per table (frees none)
 *    and with NF fully populated tables:
 *      dontneed_full   MADV_DONTNEED of the range (zaps NF*512 pages)
 *      reclaim_full    MADV_RECLAIM_PT afterwards (frees NF tables)
 * B. mmap_lock hold.  A probe thread calls mincore() (mmap_lock for read)
 *    in a loop; its longest wait while MADV_RECLAIM_PT frees NL tables
 *    bounds the longest time the advice holds the lock for write.
 * C. mmap/munmap latency.  A thread maps and unmaps 64 KiB (mmap_lock for
 *    write) in a loop for LOOP_S seconds while the main thread runs, over
 *    NC tables with one page faulted in per table and round:
 *      idle            nothing
 *      dontneed        MADV_DONTNEED of the range
 *      advice          MADV_DONTNEED, then MADV_RECLAIM_PT (frees NC tables)
 *      advice_busy     MADV_RECLAIM_PT with the pages in place (frees none)
 *    and prints the longest and the 99th-percentile mmap+munmap time, and
 *    the time one round of the loop took, so that (advice - dontneed) / NC
 *    is the cost of a freed table inside such a loop.
 */
#include "rpt.h"

#include <pthread.h>
#include <stdatomic.h>

#define NT	512
#define NF	64
#define NL	8192
#define ROUNDS	7

#define NC	64
#define LOOP_S	3
#define LAT_MAX	(1 << 20)

static int adv;

static double t_call(void *a, size_t len, int advice)
{
	double t0 = now_ns();

	if (madvise(a, len, advice))
		die("madvise");
	return now_ns() - t0;
}

static int cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return v[n / 2];
}

static atomic_int probe_run, probe_stop;
static atomic_long probe_max_ns, probe_calls;
static char *probe_page;

static void *probe(void *arg)
{
	unsigned char vec;

	(void)arg;
	while (!atomic_load(&probe_stop)) {
		double t0 = now_ns(), dt;

		if (mincore(probe_page, PG, &vec))
			die("mincore");
		dt = now_ns() - t0;
		if (atomic_load(&probe_run)) {
			if (dt > atomic_load(&probe_max_ns))
				atomic_store(&probe_max_ns, (long)dt);
			atomic_fetch_add(&probe_calls, 1);
		}
	}
	return NULL;
}

static atomic_int mm_run;
static double *lat;
static long nlat;

static void *mmap_loop(void *arg)
{
	(void)arg;
	while (atomic_load(&mm_run)) {
		double t0 = now_ns();
		char *p = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			die("mmap");
		if (munmap(p, 16 * PG))
			die("munmap");
		if (nlat < LAT_MAX)
			lat[nlat++] = now_ns() - t0;
	}
	return NULL;
}

/* C: one mode of the mmap/munmap latency run. */
static void lat_run(const char *mode, char *a, size_t len)
{
	double t0, t_end, p99, worst;
	long rounds = 0, fr;
	pthread_t th;

	nlat = 0;
	touch(a, len, PMD_SZ);
	fr = vmstat("reclaim_pt_freed");
	atomic_store(&mm_run, 1);
	pthread_create(&th, NULL, mmap_loop, NULL);
	t0 = now_ns();
	t_end = t0 + LOOP_S * 1e9;
	while (now_ns() < t_end) {
		if (!strcmp(mode, "idle")) {
			usleep(1000);
		} else if (!strcmp(mode, "advice_busy")) {
			if (madvise(a, len, adv))
				die("MADV_RECLAIM_PT");
		} else {
			touch(a, len, PMD_SZ);
			if (madvise(a, len, MADV_DONTNEED))
				die("MADV_DONTNEED");
			if (!strcmp(mode, "advice") && madvise(a, len, adv))
				die("MADV_RECLAIM_PT");
		}
		rounds++;
	}
	t_end = now_ns();
	atomic_store(&mm_run, 0);
	pthread_join(th, NULL);
	fr = vmstat("reclaim_pt_freed") - fr;
	qsort(lat, nlat, sizeof(*lat), cmp);
	worst = nlat ? lat[nlat - 1] : 0;
	p99 = nlat ? lat[nlat * 99 / 100] : 0;
	printf("RESULT mmap_%s_max_us=%.0f\n", mode, worst / 1e3);
	printf("RESULT mmap_%s_p99_us=%.1f\n", mode, p99 / 1e3);
	printf("RESULT mmap_%s_ops=%ld\n", mode, nlat);
	printf("RESULT loop_%s_round_us=%.1f\n", mode,
	       (t_end - t0) / rounds / 1e3);
	printf("RESULT loop_%s_tables_freed=%ld\n", mode, fr);
}

int main(void)
{
	double zap[ROUNDS], empty[ROUNDS], rfree[ROUNDS], rnone[ROUNDS],
	       rbusy[ROUNDS], dfull[ROUNDS], rfull[ROUNDS];
	double m_zap, m_empty, m_free, m_none, m_busy, m_dfull, m_rfull;
	long f0, f1;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	adv = rpt_advice();
	if (adv < 0) {
		printf("FAIL: MADV_RECLAIM_PT not available\n");
		return 1;
	}

	f0 = vmstat("reclaim_pt_freed");
	for (r = 0; r < ROUNDS; r++) {
		size_t len = NT * PMD_SZ;
		char *a = map_anon(len);

		touch(a, len, PMD_SZ);
		zap[r] = t_call(a, len, MADV_DONTNEED);
		empty[r] = t_call(a, len, MADV_DONTNEED);
		rfree[r] = t_call(a, len, adv);
		rnone[r] = t_call(a, len, adv);
		touch(a, len, PMD_SZ);
		rbusy[r] = t_call(a, len, adv);
		munmap(a, len);

		len = NF * PMD_SZ;
		a = map_anon(len);
		touch(a, len, PG);
		dfull[r] = t_call(a, len, MADV_DONTNEED);
		rfull[r] = t_call(a, len, adv);
		munmap(a, len);
	}
	f1 = vmstat("reclaim_pt_freed");
	m_zap = median(zap, ROUNDS);
	m_empty = median(empty, ROUNDS);
	m_free = median(rfree, ROUNDS);
	m_none = median(rnone, ROUNDS);
	m_busy = median(rbusy, ROUNDS);
	m_dfull = median(dfull, ROUNDS);
	m_rfull = median(rfull, ROUNDS);

	printf("A. per-table cost, median of %d rounds (%d tables; %d full tables)\n",
	       ROUNDS, NT, NF);
	printf("RESULT dontneed_zap_ns_per_table=%.0f\n", m_zap / NT);
	printf("RESULT dontneed_empty_ns_per_table=%.0f\n", m_empty / NT);
	printf("RESULT reclaim_free_ns_per_table=%.0f\n", m_free / NT);
	printf("RESULT reclaim_none_ns_per_table=%.0f\n", m_none / NT);
	printf("RESULT reclaim_busy_ns_per_table=%.0f\n", m_busy / NT);
	printf("RESULT dontneed_full_ns_per_table=%.0f\n", m_dfull / NF);
	printf("RESULT reclaim_full_ns_per_table=%.0f\n", m_rfull / NF);
	printf("RESULT ratio_reclaim_free_vs_dontneed_zap=%.2f\n", m_free / m_zap);
	printf("RESULT ratio_reclaim_free_vs_dontneed_empty=%.2f\n", m_free / m_empty);
	printf("RESULT ratio_reclaim_busy_vs_dontneed_zap=%.2f\n", m_busy / m_zap);
	printf("RESULT ratio_reclaim_full_vs_dontneed_full=%.2f\n", m_rfull / m_dfull);
	printf("RESULT tables_freed=%ld expected=%d\n", f1 - f0,
	       ROUNDS * (NT + NF));

	/* B. mmap_lock hold. */
	{
		size_t len = (size_t)NL * PMD_SZ;
		char *a = map_aligned(len, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS |
				      MAP_NORESERVE, -1);
		pthread_t th;
		double t0, total, base_max;
		long calls, fr;
		size_t off;

		if (madvise(a, len, MADV_NOHUGEPAGE))
			die("MADV_NOHUGEPAGE");
		probe_page = map_anon(PMD_SZ);
		probe_page[0] = 1;
		touch(a, len, PMD_SZ);
		for (off = 0; off < len; off += PMD_SZ)
			if (madvise(a + off, PG, MADV_DONTNEED))
				die("MADV_DONTNEED");
		pthread_create(&th, NULL, probe, NULL);
		usleep(100000);
		atomic_store(&probe_run, 1);
		usleep(300000);
		atomic_store(&probe_run, 0);
		base_max = atomic_load(&probe_max_ns);
		atomic_store(&probe_max_ns, 0);
		atomic_store(&probe_calls, 0);

		fr = vmstat("reclaim_pt_freed");
		atomic_store(&probe_run, 1);
		t0 = now_ns();
		if (madvise(a, len, adv))
			die("MADV_RECLAIM_PT");
		total = now_ns() - t0;
		atomic_store(&probe_run, 0);
		fr = vmstat("reclaim_pt_freed") - fr;
		calls = atomic_load(&probe_calls);
		atomic_store(&probe_stop, 1);
		pthread_join(th, NULL);

		/* The same range with a plain MADV_DONTNEED, for scale. */
		touch(a, len, PMD_SZ);
		t0 = now_ns();
		if (madvise(a, len, MADV_DONTNEED))
			die("MADV_DONTNEED");
		m_zap = now_ns() - t0;

		printf("B. mmap_lock, %d tables freed in one call\n", NL);
		printf("RESULT lock_call_total_us=%.0f\n", total / 1e3);
		printf("RESULT lock_tables_freed=%ld\n", fr);
		printf("RESULT lock_probe_calls=%ld\n", calls);
		printf("RESULT lock_probe_max_wait_us=%.0f\n",
		       atomic_load(&probe_max_ns) / 1e3);
		printf("RESULT lock_probe_idle_max_us=%.0f\n", base_max / 1e3);
		printf("RESULT lock_same_range_dontneed_us=%.0f\n", m_zap / 1e3);
		munmap(a, len);
	}
	/* C. mmap/munmap latency during advice and MADV_DONTNEED loops. */
	{
		size_t len = NC * PMD_SZ;
		char *a = map_anon(len);
		long wl = vmstat("reclaim_pt_write_locked");

		lat = malloc(LAT_MAX * sizeof(*lat));
		if (!lat)
			die("malloc");
		printf("C. mmap+munmap of 64 KiB during %d s loops over %d tables\n",
		       LOOP_S, NC);
		lat_run("idle", a, len);
		lat_run("dontneed", a, len);
		lat_run("advice", a, len);
		wl = vmstat("reclaim_pt_write_locked") - wl;
		printf("RESULT write_locked_idle_dontneed_advice=%ld\n", wl);
		wl = vmstat("reclaim_pt_write_locked");
		lat_run("advice_busy", a, len);
		wl = vmstat("reclaim_pt_write_locked") - wl;
		printf("RESULT write_locked_advice_busy=%ld\n", wl);
		if (wl) {
			printf("FAIL: advice that freed nothing took the write lock %ld times\n",
			       wl);
			return 1;
		}
		free(lat);
		munmap(a, len);
	}
	if (f1 - f0 != ROUNDS * (NT + NF)) {
		printf("FAIL: tables freed %ld, expected %d\n", f1 - f0,
		       ROUNDS * (NT + NF));
		return 1;
	}
	printf("PASS\n");
	return 0;
}
