/* SPDX-License-Identifier: MIT */
/*
 * advice_lazy - the advice strategy and MADV_FREE, under the shim.
 *
 * Regions given back with MADV_FREE keep their pages mapped until the
 * kernel needs memory.  On a kernel with MADV_RECLAIM_PT_LAZYFREE
 * (/sys/kernel/mm/reclaim_pt/advice_lazyfree) the shim gives them that
 * advice once they are quiet: their tables must go with no memory
 * pressure at all, and a region where one page was written again after
 * MADV_FREE (a plain store, no system call) must keep that page and its
 * table.  Without the file the plain advice passes them over: the shim
 * must keep them (waiting_lazy), not forget them, and free their tables
 * once memory pressure (MADV_PAGEOUT here) discarded the pages; the page
 * written again must survive that too.  Then a fork child, whose advice
 * thread is a new one: a region it purges must lose its table there.
 * Exit 0 if all holds; 77 if the advice strategy is not running (stock
 * kernel).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pagetables.h"

#define PG 4096UL
#define PMD (2UL << 20)
#define NREG 4
#define MSG "reused after MADV_FREE"

static int bad;
#define CHECK(c, ...) do { if (!(c)) { printf("FAIL: " __VA_ARGS__); \
	printf("\n"); bad++; } } while (0)

/* The shim's report, or "" without the shim. */
static const char *report(void)
{
	static char buf[8192];
	void (*rep)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "ptreclaim_report");
	int fd[2];
	ssize_t n;

	buf[0] = '\0';
	if (!rep || pipe(fd))
		return buf;
	rep(fd[1]);
	close(fd[1]);
	n = read(fd[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd[0]);
	return buf;
}

static long advice_field(const char *key)
{
	const char *line = strstr(report(), "ptreclaim: advice state=");
	char pat[64];
	const char *f;

	snprintf(pat, sizeof(pat), " %s=", key);
	f = line ? strstr(line, pat) : NULL;
	return f ? strtol(f + strlen(pat), NULL, 10) : -1;
}

static unsigned mapped(int pm, char *p)
{
	uint64_t e[512];
	unsigned n = 0;

	if (pread(pm, e, sizeof(e), (off_t)((uintptr_t)p / PG * 8)) != sizeof(e))
		return 512;
	for (int i = 0; i < 512; i++)
		n += (e[i] >> 62) != 0;	/* present or swapped */
	return n;
}

static void nap(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* In a fork child: one region filled, purged in pieces, must lose its
 * table to the child's own advice thread.  Returns the child's status. */
static int fork_check(void)
{
	pid_t pid = fork();
	int st = -1;

	if (pid == 0) {
		char *raw = mmap(NULL, 2 * PMD, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *q = (char *)(((uintptr_t)raw + PMD - 1) & ~(PMD - 1));
		long t0 = advice_field("tables_freed"), t1;
		/* The parent's descriptor would read the parent. */
		int pm = open("/proc/self/pagemap", O_RDONLY);

		madvise(q, PMD, MADV_NOHUGEPAGE);
		memset(q, 1, PMD);
		for (size_t off = 0; off < PMD; off += 64 << 10)
			madvise(q + off, 64 << 10, MADV_DONTNEED);
		nap(1500);
		t1 = advice_field("tables_freed");
		printf("advice_lazy: fork child forks=%ld tables_freed %ld -> %ld mapped=%u\n",
		       advice_field("forks"), t0, t1, mapped(pm, q));
		fflush(stdout);
		_exit(advice_field("forks") == 1 && t1 > t0 ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

/*
 * One region purged with MADV_FREE and left to the shim, before anything
 * is measured: its worker's buffers (touched on its first passes) get
 * their page tables now, not between two VmPTE readings.
 */
static void warm_up(void)
{
	char *raw = mmap(NULL, 2 * PMD, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *q = (char *)(((uintptr_t)raw + PMD - 1) & ~(PMD - 1));

	if (raw == MAP_FAILED)
		return;
	madvise(q, PMD, MADV_NOHUGEPAGE);
	memset(q, 1, PMD);
	for (size_t off = 0; off < PMD; off += 64 << 10)
		madvise(q + off, 64 << 10, MADV_FREE);
	nap(1500);
	report();
}

/* The kernel publishes the lazyfree advice (the shim reads the same
 * file). */
static bool have_lazyfree(void)
{
	return access("/sys/kernel/mm/reclaim_pt/advice_lazyfree", R_OK) == 0;
}

/*
 * With the lazyfree advice: NREG - 1 regions lose their tables and pages
 * with no pressure; the last, rewritten one keeps both.  pte1 is VmPTE
 * before the purges settled.
 */
static void lazyfree_checks(int pm, char *p, long pte0)
{
	unsigned empty = 0;
	long pte1 = status_kb("VmPTE");

	for (int r = 0; r < NREG - 1; r++)
		empty += mapped(pm, p + r * PMD) == 0;
	printf("advice_lazy: lazyfree, no pressure: empty_regions=%u of %d VmPTE %ld -> %ld kB lazy_calls=%ld lazy_freed=%ld lazy_kept=%ld waiting_lazy=%ld rewritten_region_mapped=%u\n",
	       empty, NREG - 1, pte0, pte1, advice_field("lazy_calls"),
	       advice_field("lazy_freed"), advice_field("lazy_kept"),
	       advice_field("waiting_lazy"), mapped(pm, p + (NREG - 1) * PMD));
	CHECK(empty == NREG - 1, "%u of %d clean lazily freed regions emptied",
	      empty, NREG - 1);
	CHECK(pte0 - pte1 >= 4L * (NREG - 1), "VmPTE fell by %ld kB, want >= %d",
	      pte0 - pte1, 4 * (NREG - 1));
	CHECK(advice_field("lazy_calls") >= 1, "no lazyfree advice call");
	CHECK(advice_field("lazy_freed") >= NREG - 1, "lazy_freed < %d",
	      NREG - 1);
	CHECK(advice_field("lazy_kept") >= 1,
	      "the rewritten region was not kept (lazy_kept)");
	CHECK(advice_field("waiting_lazy") == 0, "regions still waiting");
	CHECK(mapped(pm, p + (NREG - 1) * PMD) > 0,
	      "the rewritten region lost its pages");
}

/* Without it: the regions wait, and go once pressure discards their
 * pages. */
static void pressure_checks(int pm, char *p)
{
	unsigned empty = 0;
	long pte1, pte2, waiting;

	pte1 = status_kb("VmPTE");
	waiting = advice_field("waiting_lazy");
	printf("advice_lazy: before pressure waiting_lazy=%ld VmPTE=%ld kB\n",
	       waiting, pte1);
	CHECK(waiting == NREG, "waiting_lazy=%ld, want %d", waiting, NREG);

	pt_pageout_anon();
	for (int r = 0; r < NREG; r++)
		empty += mapped(pm, p + r * PMD) == 0;
	/* The backoff is at most 2 s. */
	nap(4000);
	pte2 = status_kb("VmPTE");
	printf("advice_lazy: after pressure empty_regions=%u VmPTE=%ld kB lazy_freed=%ld waiting_lazy=%ld\n",
	       empty, pte2, advice_field("lazy_freed"),
	       advice_field("waiting_lazy"));
	CHECK(empty >= 1, "memory pressure emptied no region");
	CHECK(pte1 - pte2 >= 4L * empty, "VmPTE fell by %ld kB, want >= %u",
	      pte1 - pte2, 4 * empty);
	CHECK(advice_field("lazy_freed") >= (long)empty, "lazy_freed < %u", empty);
}

int main(void)
{
	char *raw = mmap(NULL, (NREG + 1) * PMD, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p = (char *)(((uintptr_t)raw + PMD - 1) & ~(PMD - 1));
	int pm = open("/proc/self/pagemap", 0);
	bool lazyfree = have_lazyfree();
	long pte0;

	if (raw == MAP_FAILED || pm < 0)
		return 2;
	if (!strstr(report(), "ptreclaim: advice state=active")) {
		printf("SKIP: advice strategy not active:\n%s", report());
		return 77;
	}
	/* Once before: its own buffers get their tables now, not between
	 * the two VmPTE readings. */
	pt_pageout_anon();
	if (lazyfree)
		warm_up();
	madvise(p, NREG * PMD, MADV_NOHUGEPAGE);
	memset(p, 0x5a, NREG * PMD);
	pte0 = status_kb("VmPTE");
	for (size_t off = 0; off < NREG * PMD; off += 64 << 10)
		madvise(p + off, 64 << 10, MADV_FREE);
	/* Reused without a system call, as an allocator does. */
	strcpy(p + (NREG - 1) * PMD + 17 * PG, MSG);
	/* advice_delay_ms is 500 by default. */
	nap(1500);
	printf("advice_lazy: lazyfree advice %s\n",
	       lazyfree ? "present" : "absent (the pressure path)");
	if (lazyfree)
		lazyfree_checks(pm, p, pte0);
	else
		pressure_checks(pm, p);
	CHECK(!strcmp(p + (NREG - 1) * PMD + 17 * PG, MSG), "reused page lost");
	printf("%s", report());
	fflush(stdout);
	CHECK(fork_check() == 0, "fork child: its advice thread freed nothing");
	printf("advice_lazy: %s\n", bad ? "FAIL" : "PASS");
	return bad ? 1 : 0;
}
