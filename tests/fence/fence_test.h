/* SPDX-License-Identifier: MIT */
/* fence_test.h - the fence suite's own helpers (the rest is check.h): the
 * programs run with the shim in LD_PRELOAD and reach its API with dlsym,
 * so they also run (and fail clearly) without it. */
#ifndef FENCE_TEST_H
#define FENCE_TEST_H

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include "check.h"
#include "pagetables.h"
#include "ptreclaim.h"

static int (*api_stats)(struct ptreclaim_fence_stats *, size_t);
static int (*api_flush)(unsigned);
static const char *(*api_reason)(void);

static inline void api_init(void)
{
	api_stats = (int (*)(struct ptreclaim_fence_stats *, size_t))
		dlsym(RTLD_DEFAULT, "ptreclaim_fence_stats");
	api_flush = (int (*)(unsigned))dlsym(RTLD_DEFAULT,
					     "ptreclaim_fence_flush");
	api_reason = (const char *(*)(void))dlsym(RTLD_DEFAULT,
						  "ptreclaim_fence_reason");
	if (!api_stats || !api_flush || !api_reason) {
		fprintf(stderr, "fatal: run me with libptreclaim.so preloaded\n");
		exit(2);
	}
}

/* The programs that test the fence at work: where it can't run here
 * (kernel, permissions, seccomp), there is nothing to test. */
static inline void api_init_active(void)
{
	api_init();
	if (api_reason()) {
		printf("skip: fence not active: %s\n", api_reason());
		exit(77);
	}
}

static inline struct ptreclaim_fence_stats fstats(void)
{
	struct ptreclaim_fence_stats st;

	memset(&st, 0, sizeof(st));
	api_stats(&st, sizeof(st));
	return st;
}

static inline void flush(void)
{
	if (api_flush(10000))
		die("ptreclaim_fence_flush");
}

/* n PMD-aligned 2 MiB regions of private anonymous memory, no THP. */
static inline char *map_regions(size_t n)
{
	char *p = map_pmd_aligned(n * PMD);

	if (madvise(p, n * PMD, MADV_NOHUGEPAGE))
		die("MADV_NOHUGEPAGE");
	return p;
}

/* Purge a region the way allocators do: many small calls. */
static inline void purge_pieces(char *p, size_t len, int advice)
{
	for (size_t off = 0; off < len; off += 64 << 10)
		if (madvise(p + off, 64 << 10, advice))
			die("madvise");
}

static inline void fill_pages(char *p, size_t npages, uint64_t tag)
{
	for (size_t i = 0; i < npages; i++) {
		uint64_t *w = (uint64_t *)(p + i * PG);

		for (size_t k = 0; k < PG / 8; k += 64)
			w[k] = tag ^ (i << 20) ^ k;
	}
}

/* How many pages of [p, p + npages) pagemap shows present or swapped. */
static inline unsigned mapped_pages(const void *p, size_t npages)
{
	static int fd = -1;
	static pid_t owner;
	uint64_t e;
	unsigned n = 0;

	if (fd < 0 || owner != getpid()) {
		if (fd >= 0)
			close(fd);
		fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		owner = getpid();
	}
	if (fd < 0)
		die("open pagemap");
	for (size_t i = 0; i < npages; i++) {
		off_t off = (off_t)(((uintptr_t)p / PG + i) * 8);

		if (pread(fd, &e, 8, off) != 8)
			die("pread pagemap");
		n += (e >> 62) ? 1 : 0;
	}
	return n;
}

#endif
