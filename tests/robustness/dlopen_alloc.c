/* SPDX-License-Identifier: MIT */
/*
 * dlopen_alloc - an allocator loaded after start, under the shim.
 *
 * The shim was set up long before: libjemalloc.so.2 arrives by dlopen
 * (RTLD_NOW | RTLD_LOCAL, so it does not replace malloc) and its purges
 * reach the shim's madvise through ordinary symbol binding.  Threads use
 * it through mallocx/dallocx found with dlsym, free most of what they
 * allocated, and force purges with mallctl("arena.<all>.purge"); every
 * surviving byte is checked after each purge.  When the shim is loaded its
 * counters must show that it saw jemalloc's purges.
 *
 * Debian's libjemalloc.so.2 uses initial-exec TLS, which a dlopen only
 * gets from glibc's static TLS surplus; if the default surplus is too
 * small the program re-executes itself once with a larger one
 * (GLIBC_TUNABLES=glibc.rtld.optional_static_tls), as a service that
 * dlopens jemalloc would have to.
 *
 * Usage: dlopen_alloc [LIBRARY]   (default libjemalloc.so.2)
 */
#include "robust.h"

#include <dlfcn.h>
#include <pthread.h>

#include "ptreclaim.h"

#define NTHREADS 4
#define NOBJ 12000
#define ROUNDS 4

static void *(*je_mallocx)(size_t, int);
static void (*je_dallocx)(void *, int);
static int (*je_mallctl)(const char *, void *, size_t *, void *, size_t);

static void purge_all(void)
{
	/* 4096 is MALLCTL_ARENAS_ALL. */
	REQUIRE(je_mallctl("arena.4096.purge", NULL, NULL, NULL, 0) == 0,
	      "mallctl purge");
}

static void *worker(void *arg)
{
	static __thread unsigned char *obj[NOBJ];
	static __thread size_t len[NOBJ];
	static __thread uint64_t tag[NOBJ];
	uint64_t seed = 4242 + (uintptr_t)arg;

	for (int round = 0; round < ROUNDS; round++) {
		for (size_t i = 0; i < NOBJ; i++) {
			if (obj[i])
				continue;
			uint64_t r = rnd(&seed);
			/* Mostly small, some up to 256 KiB. */
			len[i] = r % 16 ? 16 + r % 2048 : 4096 + r % (256 << 10);
			obj[i] = je_mallocx(len[i], 0);
			REQUIRE(obj[i], "mallocx %zu", len[i]);
			tag[i] = rnd(&seed);
			pat_fill_id(obj[i], len[i], tag[i], i);
		}
		/* Free 90%, keeping clusters of survivors. */
		for (size_t i = 0; i < NOBJ; i++)
			if ((i / 64) % 10 != (size_t)round) {
				je_dallocx(obj[i], 0);
				obj[i] = NULL;
			}
		purge_all();
		for (size_t i = 0; i < NOBJ; i++)
			if (obj[i]) {
				REQUIRE(pat_check_id(obj[i], len[i], tag[i], i) == PAT_OK,
				      "object %zu (%zu bytes) corrupted after "
				      "purge", i, len[i]);
				tag[i] = rnd(&seed);
				pat_fill_id(obj[i], len[i], tag[i], i);
			}
	}
	for (size_t i = 0; i < NOBJ; i++)
		if (obj[i])
			je_dallocx(obj[i], 0);
	purge_all();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *lib = argc > 1 ? argv[1] : "libjemalloc.so.2";
	pthread_t th[NTHREADS];
	int (*stats_get)(struct ptreclaim_stats *, size_t) =
		(int (*)(struct ptreclaim_stats *, size_t))
		dlsym(RTLD_DEFAULT, "ptreclaim_stats_get");
	struct ptreclaim_stats before = { 0 }, after = { 0 };

	arm_watchdog(120);
	if (stats_get)
		stats_get(&before, sizeof(before));

	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!h && strstr(dlerror(), "static TLS") &&
	    !getenv("DLOPEN_ALLOC_REEXEC")) {
		setenv("DLOPEN_ALLOC_REEXEC", "1", 1);
		setenv("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=65536",
		       1);
		execv("/proc/self/exe", argv);
		REQUIRE(0, "re-exec with a larger static TLS surplus failed");
	}
	REQUIRE(h, "dlopen %s failed", lib);
	*(void **)&je_mallocx = dlsym(h, "mallocx");
	*(void **)&je_dallocx = dlsym(h, "dallocx");
	*(void **)&je_mallctl = dlsym(h, "mallctl");
	REQUIRE(je_mallocx && je_dallocx && je_mallctl, "jemalloc symbols");

	for (uintptr_t i = 0; i < NTHREADS; i++)
		REQUIRE(pthread_create(&th[i], NULL, worker, (void *)i) == 0,
		      "pthread_create");
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);

	if (stats_get) {
		stats_get(&after, sizeof(after));
		uint64_t seen = after.dontneed_calls + after.free_calls -
				before.dontneed_calls - before.free_calls;
		printf("dlopen_alloc: shim saw %lu purges from %s\n",
		       (unsigned long)seen, lib);
		REQUIRE(seen > 0, "the shim saw no purge from the dlopen'd %s",
		      lib);
	}
	printf("dlopen_alloc: %d threads x %d rounds through %s, "
	       "every survivor verified\n", NTHREADS, ROUNDS, lib);
	return 0;
}
