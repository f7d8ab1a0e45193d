/* SPDX-License-Identifier: MIT */
/* Helpers shared by the kernel test programs (static, run inside the VM). */
#ifndef RPT_H
#define RPT_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define PMD_SZ	(2UL << 20)
#define PG	4096UL
/* What the series defines; only used where the sysfs file is absent. */
#define MADV_RECLAIM_PT_PATCHED	110

static int rpt_failures __attribute__((unused));

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		printf("ok   ");					\
	} else {							\
		printf("FAIL ");					\
		rpt_failures++;						\
	}								\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	fflush(stdout);							\
} while (0)

static inline void die(const char *what)
{
	fprintf(stderr, "fatal: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* First integer of a file, or -1 (absent file: e.g. a stock kernel). */
static inline long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

/* Advice number from sysfs, or -1 when the kernel does not offer it. */
static inline int rpt_advice(void)
{
	return (int)read_long("/sys/kernel/mm/reclaim_pt/advice");
}

/* The lazyfree advice's number, or -1 when the kernel does not offer it
 * (user space must not guess it: a kernel without the file may use 111
 * for something else). */
static inline int rpt_advice_lazyfree(void)
{
	return (int)read_long("/sys/kernel/mm/reclaim_pt/advice_lazyfree");
}

static inline long status_kb(const char *key)
{
	char line[256];
	long val = -1;
	size_t len = strlen(key);
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		die("/proc/self/status");
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':') {
			val = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return val;
}

/* A "Key:  N kB" field of the /proc/self/smaps entry holding @addr. */
static inline long smaps_kb(const void *addr, const char *key)
{
	char line[256], want[64];
	unsigned long lo, hi, x = (unsigned long)addr;
	long val = -1;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	snprintf(want, sizeof(want), "%s:", key);
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = x >= lo && x < hi;
			continue;
		}
		if (in && !strncmp(line, want, strlen(want))) {
			val = strtol(line + strlen(want), NULL, 10);
			break;
		}
	}
	if (f)
		fclose(f);
	return val;
}

static inline long vmstat(const char *key)
{
	char name[128];
	long val;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		die("/proc/vmstat");
	while (fscanf(f, "%127s %ld", name, &val) == 2)
		if (!strcmp(name, key)) {
			fclose(f);
			return val;
		}
	fclose(f);
	return -1;
}

/* Reserve @size bytes PMD-aligned; flags as for mmap. */
static inline char *map_aligned(size_t size, int prot, int flags, int fd)
{
	char *p, *a;

	p = mmap(NULL, size + PMD_SZ, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		die("mmap reserve");
	a = (char *)(((uintptr_t)p + PMD_SZ - 1) & ~(PMD_SZ - 1));
	if (mmap(a, size, prot, flags | MAP_FIXED, fd, 0) == MAP_FAILED)
		die("mmap fixed");
	if (a > p)
		munmap(p, a - p);
	munmap(a + size, p + PMD_SZ - a);
	return a;
}

static inline char *map_anon(size_t size)
{
	char *a = map_aligned(size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1);

	if (madvise(a, size, MADV_NOHUGEPAGE))
		die("MADV_NOHUGEPAGE");
	return a;
}

static inline void touch(char *a, size_t size, size_t step)
{
	size_t off;

	for (off = 0; off < size; off += step)
		a[off] = 1;
}

/* Give every page back with MADV_DONTNEED in @piece-byte calls. */
static inline void purge(char *a, size_t size, size_t piece)
{
	size_t off;

	for (off = 0; off < size; off += piece)
		if (madvise(a + off, piece, MADV_DONTNEED))
			die("MADV_DONTNEED");
}

static inline double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#endif
