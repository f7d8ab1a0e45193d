/* SPDX-License-Identifier: MIT */
/*
 * check.h - the one harness of the C tests (tests/kernel runs inside a VM
 * without this tree and keeps its own).
 *
 *   CHECK(cond[, fmt, ...])     counts a failure and goes on, so one run
 *                               reports every broken property;
 *   REQUIRE(cond[, fmt, ...])   aborts: for states nothing after can run
 *                               on (a thread, a child, a signal handler, a
 *                               setup step), and where abort is the only
 *                               report a hang-prone path can give;
 *   SKIP_UNLESS(cond[, fmt...]) the test's main property can't be checked
 *                               here (kernel, settings): say why;
 *   CHECK_DONE()                ends main: 1 on any failure, else 77
 *                               (meson: skipped) if a SKIP_UNLESS fired,
 *                               else 0.  A test never passes without its
 *                               check, and a skip never hides a failure.
 *
 * Plus what every test program maps and measures the same way: page and
 * PMD sizes, PMD-aligned anonymous regions, a cheap generator, a clock.
 */
#ifndef PTRECLAIM_TEST_CHECK_H
#define PTRECLAIM_TEST_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PG	((size_t)4096)
#define PMD	((size_t)2 << 20)
#define NPG	512		/* pages in a PMD region */
#define MIB	((size_t)1 << 20)

/* Shared by every thread of the test: updated atomically. */
static int check_failures __attribute__((unused));
static const char *check_skipped __attribute__((unused));

static inline void __attribute__((format(printf, 4, 5)))
check_report(const char *file, int line, const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: %s failed", file, line, what);
	/* fmt starts with the blank the CHECK macros add; alone, no message. */
	if (fmt[1]) {
		fputc(':', stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
}

/* " " __VA_ARGS__ glues an optional message onto a non-empty format. */
#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		check_report(__FILE__, __LINE__, "CHECK(" #cond ")",	\
			     " " __VA_ARGS__);				\
		__atomic_fetch_add(&check_failures, 1, __ATOMIC_RELAXED); \
	}								\
} while (0)

#define REQUIRE(cond, ...) do {						\
	if (!(cond)) {							\
		check_report(__FILE__, __LINE__, "REQUIRE(" #cond ")",	\
			     " " __VA_ARGS__);				\
		abort();						\
	}								\
} while (0)

#define SKIP_UNLESS(cond, ...) do {					\
	if (!(cond)) {							\
		printf("skip:" " " __VA_ARGS__);			\
		printf(" (%s)\n", #cond);				\
		check_skipped = #cond;					\
	}								\
} while (0)

#define CHECK_DONE() do {						\
	int f_ = __atomic_load_n(&check_failures, __ATOMIC_SEQ_CST);	\
									\
	printf("%s\n", f_ ? "FAILED" : check_skipped ? "skipped" : "ok");	\
	return f_ ? 1 : check_skipped ? 77 : 0;				\
} while (0)

/* A setup step the kernel refused: the test is broken, not failed. */
static inline void die(const char *what)
{
	fprintf(stderr, "fatal: %s: %s\n", what, strerror(errno));
	exit(2);
}

static inline char *map_anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

/* len bytes of private anonymous memory starting on a PMD boundary, so
 * every 2 MiB region in it has a page table of its own. */
static inline char *map_pmd_aligned(size_t len)
{
	char *m = map_anon(len + PMD);
	char *p = (char *)(((uintptr_t)m + PMD - 1) & ~(PMD - 1));

	if ((p > m && munmap(m, (size_t)(p - m))) ||
	    munmap(p + len, (size_t)(m + PMD - p)))
		die("munmap around an aligned region");
	return p;
}

/* xorshift64: each thread its own cheap generator (never seed it 0). */
static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Monotonic seconds: deadlines and phase times, never a pass criterion. */
static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
