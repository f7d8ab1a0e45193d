/* SPDX-License-Identifier: MIT */
/* lc.h - what the lifecycle programs share (the rest is check.h). */
#ifndef LC_H
#define LC_H

#include "check.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

/* Threads of this process, from /proc/self/status. */
static inline int threads_now(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		die("/proc/self/status");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* The fence's reason through the API when the shim is preloaded (NULL:
 * active), or "no shim". */
static inline const char *fence_reason(void)
{
	const char *(*fn)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT,
						"ptreclaim_fence_reason");

	return fn ? fn() : "no shim";
}

/* Purge n 2 MiB regions at p the way allocators do: touch, then give
 * back in 64 KiB pieces. */
static inline void purge(char *p, size_t n)
{
	for (size_t i = 0; i < n * PMD; i += PG)
		p[i] = 1;
	for (size_t off = 0; off < n * PMD; off += 64 << 10)
		if (madvise(p + off, 64 << 10, MADV_DONTNEED))
			die("madvise");
}

#endif
