/* SPDX-License-Identifier: MIT */
/*
 * semantics - run the case table and print one deterministic line per case.
 *
 * Usage: semantics [GROUP...]   (no argument: every group)
 * The output is meant to be diffed between a run without and a run with
 * LD_PRELOAD=libptreclaim.so; see compare.sh.
 */
#include "sem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fixed, low hint far below the libraries and the heap: the kernel's
 * top-down search never drops new mappings (ours or the shim's) into holes
 * a case leaves here, so the layout stays reproducible. */
#define ARENA_HINT ((uintptr_t)0x200000000000ULL)

static void reserve_arena(void)
{
	size_t len = WORK_SIZE + SEAL_SIZE;
	int fl = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	void *p = mmap((void *)ARENA_HINT, len, PROT_NONE,
		       fl | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED) {
		/* Taken: over-reserve anywhere and align to a PMD. */
		char *q = mmap(NULL, len + PMD, PROT_NONE, fl, -1, 0);
		if (q == MAP_FAILED)
			die("reserve arena");
		p = (void *)(((uintptr_t)q + PMD - 1) & ~(PMD - 1));
	}
	sem_base = p;
}

static void open_files(void)
{
	char path[4096];
	const char *dir = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/ptreclaim-semXXXXXX",
		 dir && *dir ? dir : "/tmp");
	sem_tmpfd = mkstemp(path);
	if (sem_tmpfd < 0)
		die("mkstemp");
	sem_tmpfd_ro = open(path, O_RDONLY);
	if (sem_tmpfd_ro < 0)
		die("reopen temp file");
	unlink(path);
	sem_memfd = memfd_create("ptreclaim-sem", 0);
	if (sem_memfd < 0)
		die("memfd_create");
}

static const struct {
	const char *name;
	void (*run)(void);
} groups[] = {
	{ "madvise", cases_madvise },
	{ "matrix", cases_advice_matrix },
	{ "munmap", cases_munmap },
	{ "mmap", cases_mmap },
	{ "mremap", cases_mremap },
	{ "pmd", cases_pmd },
	{ "fork", cases_fork },
	{ "seal", cases_seal },
};

int main(int argc, char **argv)
{
	reserve_arena();
	open_files();
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		int want = argc < 2;
		for (int i = 1; i < argc; i++)
			want |= strcmp(argv[i], groups[g].name) == 0;
		if (want)
			groups[g].run();
	}
	if (fflush(stdout))
		die("write output");
	return 0;
}
