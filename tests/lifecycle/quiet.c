/* SPDX-License-Identifier: MIT */
/*
 * quiet - a glibc program that never purges: the shim must have started
 * nothing (one thread).  It allocates, maps and unmaps as programs do.
 * With strace available, quiet.sh also checks that no /proc or /sys file
 * was opened and no thread was created.
 */
#include "lc.h"

int main(void)
{
	void *v[64];
	char *m;

	for (int i = 0; i < 64; i++)
		v[i] = malloc((size_t)1 << (i % 20));
	for (int i = 0; i < 64; i++)
		free(v[i]);
	m = map_anon(8 * PMD);
	m[0] = 1;
	munmap(m, 8 * PMD);
	CHECK(threads_now() == 1, "threads=%d", threads_now());
	CHECK_DONE();
}
