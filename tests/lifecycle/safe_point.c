/* SPDX-License-Identifier: MIT */
/*
 * safe_point - when a purge made inside an allocator gets a thread.
 * Preloaded with tcmalloc or mimalloc: the purge itself makes none; the
 * next blocking call (here nanosleep) is where a start that needs the
 * worker creates its thread.  With nothing that needs a worker (a stock
 * kernel, the default configuration) no thread is ever made.
 *
 * usage: safe_point never|after-sleep
 */
#include "lc.h"

#include <string.h>
#include <time.h>

/* Threads after up to 2 s of waiting for `want` (a start is short). */
static int threads_settled(int want)
{
	int n = threads_now();

	for (int i = 0; i < 200 && n != want; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		n = threads_now();
	}
	return n;
}

int main(int argc, char **argv)
{
	struct timespec ts = { 0, 1000 * 1000 };
	bool worker = argc > 1 && !strcmp(argv[1], "after-sleep");
	char *m = map_anon(4 * PMD);

	CHECK(threads_now() == 1, "threads=%d before any purge", threads_now());
	purge(m, 2);
	CHECK(threads_now() == 1, "threads=%d right after the first purge",
	      threads_now());
	purge(m + 2 * PMD, 1);
	CHECK(threads_now() == 1, "threads=%d after more purges", threads_now());
	nanosleep(&ts, NULL);
	if (worker)
		CHECK(threads_settled(2) == 2,
		      "threads=%d after the safe point (want the worker)",
		      threads_now());
	else
		CHECK(threads_settled(1) == 1,
		      "threads=%d after the safe point (want none)",
		      threads_now());
	munmap(m, 4 * PMD);
	CHECK_DONE();
}
