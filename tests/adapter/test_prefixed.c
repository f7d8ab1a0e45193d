/* SPDX-License-Identifier: MIT */
/*
 * Under the preloaded shim, a program whose jemalloc is only reachable as
 * je_mallctl (prefixed): the adapter finds it, hooks it, and its purges
 * free page tables while every byte survives.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "pattern.h"
#include "ptreclaim.h"

int je_mallctl(const char *, void *, size_t *, void *, size_t);
void *je_mallocx(size_t, int);
void je_dallocx(void *, int);

int main(void)
{
	enum { N = 2048, SZ = 40000 };
	static unsigned char *p[N];
	int (*status)(struct ptreclaim_jemalloc_status *, size_t);
	struct ptreclaim_jemalloc_status st = { 0 };

	CHECK(dlsym(RTLD_DEFAULT, "mallctl") == NULL);
	for (unsigned i = 0; i < N; i++) {
		p[i] = je_mallocx(SZ, 0);
		CHECK(p[i] != NULL);
		pat_fill_id(p[i], SZ, 7, i);
	}
	for (unsigned i = 0; i < N; i++)
		if (i % 64) {
			je_dallocx(p[i], 0);
			p[i] = NULL;
		}
	je_mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
	for (unsigned i = 0; i < N; i++)
		if (p[i])
			CHECK(pat_check_id(p[i], SZ, 7, i) == PAT_OK);
	status = (int (*)(struct ptreclaim_jemalloc_status *, size_t))
		dlsym(RTLD_DEFAULT, "ptreclaim_jemalloc_status");
	CHECK(status && status(&st, sizeof(st)) == 0);
	CHECK(st.attached && st.decommits > 0);
	/* Freed tables are the point; a kernel that keeps them can't show it. */
	SKIP_UNLESS(st.kernel_frees_tables,
		    "this kernel keeps tables on a whole-PMD MADV_DONTNEED: reclaim not checked");
	if (st.kernel_frees_tables)
		CHECK(st.regions_reclaimed > 0);
	CHECK_DONE();
}
