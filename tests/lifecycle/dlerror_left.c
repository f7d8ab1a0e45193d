/* SPDX-License-Identifier: MIT */
/*
 * dlerror_left - the shim's start leaves no dlerror message behind.
 * Its lookup of a (prefixed) jemalloc's mallctl fails in most processes,
 * and a failing dlsym keeps its message on the thread: the program's own
 * dlerror() would then report our "undefined symbol", and the thread's
 * next successful dl call frees the message (possibly a safe point's
 * first dlsym, in a signal handler that interrupted malloc).  After the
 * first purge (where a glibc program's shim starts) and the first poll
 * (where another allocator's does), dlerror() must say nothing.
 */
#include "lc.h"

#include <poll.h>

int main(void)
{
	char *m = map_anon(PMD);
	const char *e;

	m[0] = 1;
	if (madvise(m, PG, MADV_DONTNEED))	/* the first purge */
		die("madvise");
	e = dlerror();
	CHECK(e == NULL, "after the first purge, dlerror() says: %s", e);
	poll(NULL, 0, 0);			/* the first safe point */
	e = dlerror();
	CHECK(e == NULL, "after the first poll, dlerror() says: %s", e);
	munmap(m, PMD);
	CHECK_DONE();
}
