/* SPDX-License-Identifier: MIT */
/*
 * sweep_target - a program that purges in sub-PMD pieces the way glibc
 * does internally (straight system calls, nothing a preload can see), for
 * `ptreclaim sweep` to clean up from outside.
 *
 * Usage: sweep_target [MB [free]].  Maps MB MiB, fills every page, keeps
 * a few pages in every fourth 2 MiB region and gives the rest back with
 * MADV_DONTNEED in 64 KiB pieces (with "free": MADV_FREE, as mimalloc
 * does, and then one page of every eighth region, offset by four, is
 * written again with a plain store, as an allocator reuses memory: it is
 * data, and keeps its region's table).  Prints VmPTE against what the
 * survivors need and RSS, "ready", then waits for SIGUSR1 (the sweep runs
 * meanwhile), checks every surviving byte and prints the figures again.
 * Exit 0 if every byte survived.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pagetables.h"

#define PG 4096UL
#define PMD (2UL << 20)
#define KEEP 8			/* pages kept in a kept region */
#define PIECE (64UL << 10)
#define REUSED (100 * PG)	/* the page written again after MADV_FREE */

static int lazy;		/* purged with MADV_FREE */

static uint64_t word(uintptr_t a)
{
	return a * 0x9e3779b97f4a7c15ULL ^ 0x5eed;
}

static void fill(char *p, size_t len)
{
	for (size_t off = 0; off < len; off += PG)
		for (size_t w = 0; w < PG; w += 512)
			*(uint64_t *)(p + off + w) = word((uintptr_t)(p + off + w));
}

/* Every eighth region, offset by four: one page written again. */
static bool reused(size_t r)
{
	return lazy && r % 8 == 4;
}

static unsigned long check(char *p, size_t nreg)
{
	unsigned long bad = 0;

	for (size_t r = 0; r < nreg; r++) {
		size_t from = reused(r) ? REUSED : 0;
		size_t to = reused(r) ? REUSED + PG : r % 4 ? 0 : KEEP * PG;

		for (size_t off = from; off < to; off += 512) {
			char *a = p + r * PMD + off;

			bad += *(uint64_t *)a != word((uintptr_t)a);
		}
	}
	return bad;
}

static void report(const char *when)
{
	struct pt_need n;
	long have;

	if (pt_need_scan(&n)) {
		perror("sweep_target: pagemap");
		exit(2);
	}
	have = status_kb("VmPTE");
	printf("sweep_target: %s vmpte_kb=%ld need_kb=%llu ratio=%.3f rss_kb=%ld\n",
	       when, have, (unsigned long long)pt_need_pages(&n) * 4,
	       (double)have / 4 / (double)pt_need_pages(&n),
	       status_kb("VmRSS"));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 0) : 128;
	size_t nreg = mb / 2;
	int advice;
	sigset_t set;
	char *p, *raw;
	unsigned long bad;
	int sig;

	lazy = argc > 2 && !strcmp(argv[2], "free");
	advice = lazy ? MADV_FREE : MADV_DONTNEED;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raw = mmap(NULL, (nreg + 1) * PMD, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) {
		perror("sweep_target: mmap");
		return 2;
	}
	/* PMD-aligned, so "regions" are the kernel's. */
	p = (char *)(((uintptr_t)raw + PMD - 1) & ~(PMD - 1));
	madvise(p, nreg * PMD, MADV_NOHUGEPAGE);
	fill(p, nreg * PMD);
	for (size_t r = 0; r < nreg; r++)
		for (size_t off = r % 4 ? 0 : KEEP * PG; off < PMD; off += PIECE) {
			size_t len = PMD - off < PIECE ? PMD - off : PIECE;

			syscall(SYS_madvise, p + r * PMD + off, len, advice);
		}
	for (size_t r = 0; r < nreg; r++)
		if (reused(r))
			fill(p + r * PMD + REUSED, PG);
	report("before");
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	bad = check(p, nreg);
	report("after");
	printf("sweep_target: verify=%s bad_words=%lu\n", bad ? "FAIL" : "ok",
	       bad);
	return bad ? 1 : 0;
}
