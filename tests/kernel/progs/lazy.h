/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the MADV_FREE-side test programs (lazy_*.c): the lazyfree
 * advice's number, sysfs knobs of the THP sizes, per-range page counts
 * from pagemap and a pattern that tells every 512-byte word by address.
 */
#ifndef LAZY_H
#define LAZY_H

#include "rpt.h"

#include <sched.h>
#include <sys/uio.h>

#define THP_DIR		"/sys/kernel/mm/transparent_hugepage"
#define MTHP64		THP_DIR "/hugepages-64kB"
#define PIECE		(64UL << 10)

/*
 * Run on the @nth CPU (modulo those allowed).  6.12's MADV_FREE ignores a
 * page still in another CPU's LRU-add batch (folio_mark_lazyfree() wants
 * PG_lru): it stays clean but swap-backed, which neither reclaim nor the
 * advice may discard.  On one CPU, MADV_FREE's own lru_add_drain() puts
 * every page just faulted in on the LRU first.  That is MADV_FREE's limit,
 * not the advice's; the tests pin themselves so as not to measure it.
 */
static inline void pin_cpu(int nth)
{
	cpu_set_t all, one;
	int cpu, seen = 0, n = 0;

	if (sched_getaffinity(0, sizeof(all), &all))
		die("sched_getaffinity");
	n = CPU_COUNT(&all);
	nth %= n;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &all) && seen++ == nth)
			break;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		die("sched_setaffinity");
}

/* Write a sysfs knob; 0 or -1. */
static inline int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* The selected word of a THP "enabled" file ("[always] inherit ..."),
 * into @buf (for restoring it at the end). */
static inline int thp_mode(const char *path, char *buf, size_t len)
{
	char line[256], *a, *b;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	a = strchr(line, '[');
	b = a ? strchr(a, ']') : NULL;
	if (!b || (size_t)(b - a) > len)
		return -1;
	memcpy(buf, a + 1, b - a - 1);
	buf[b - a - 1] = '\0';
	return 0;
}

/* Pages of [a, a+len) that pagemap shows present or swapped. */
static inline long present_pages(const void *a, size_t len)
{
	static int pm = -1;
	uint64_t e[512];
	long n = 0;
	size_t off, i, cnt;

	if (pm < 0)
		pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0)
		die("/proc/self/pagemap");
	for (off = 0; off < len; off += cnt * PG) {
		cnt = (len - off) / PG < 512 ? (len - off) / PG : 512;
		if (pread(pm, e, cnt * 8,
			  (off_t)(((uintptr_t)a + off) / PG * 8)) != (ssize_t)(cnt * 8))
			die("pagemap read");
		for (i = 0; i < cnt; i++)
			n += (e[i] >> 62) != 0;
	}
	return n;
}

/* The word stored at @addr by fill_pattern(@seed). */
static inline uint64_t pat_word(uintptr_t addr, unsigned seed)
{
	return (addr * 0x9e3779b97f4a7c15ULL) ^ (0x5eed + seed);
}

/* Write every page (one word per 512 bytes: cheap under TCG, yet every
 * page is dirty and any lost page shows). */
static inline void fill_pattern(char *a, size_t len, unsigned seed)
{
	size_t off;

	for (off = 0; off < len; off += 512)
		*(volatile uint64_t *)(a + off) = pat_word((uintptr_t)(a + off), seed);
}

/* Words of [a, a+len) that do not hold the pattern. */
static inline long bad_words(const char *a, size_t len, unsigned seed)
{
	size_t off;
	long bad = 0;

	for (off = 0; off < len; off += 512)
		bad += *(const volatile uint64_t *)(a + off) !=
		       pat_word((uintptr_t)(a + off), seed);
	return bad;
}

static inline int all_zero(const char *a, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += sizeof(long))
		if (*(const long *)(a + off))
			return 0;
	return 1;
}

static inline int lazy_free(char *a, size_t len, size_t piece)
{
	size_t off;

	for (off = 0; off < len; off += piece)
		if (madvise(a + off, len - off < piece ? len - off : piece,
			    MADV_FREE))
			return -1;
	return 0;
}

/* process_madvise(@advice) on one range of process @pid; returns the
 * system call's result (bytes advised, or -1 with errno). */
static inline long remote_advise(pid_t pid, void *a, size_t len, int advice)
{
	struct iovec iov = { a, len };
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	long r;

	if (pidfd < 0)
		return -1;
	r = syscall(SYS_process_madvise, pidfd, &iov, 1, advice, 0);
	close(pidfd);
	return r;
}

#endif
