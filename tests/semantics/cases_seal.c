/* SPDX-License-Identifier: MIT */
/*
 * cases_seal.c - sealed mappings (mseal, Linux 6.10): munmap, mremap,
 * MAP_FIXED and destructive madvise must fail with EPERM, and the shim
 * must pass that through.  A sealed mapping can never be removed, so these
 * live in the zone past the work area that no reset touches, each case at
 * its own offset.  On a kernel without mseal every call shows ENOSYS.
 */
#include "sem.h"

#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)
#define PA (MAP_PRIVATE | MAP_ANONYMOUS)
#ifndef SYS_mseal
#define SYS_mseal 462
#endif

static char *zone(size_t i) { return sem_base + WORK_SIZE + i * 16 * PG; }

/* Map 8 written pages at slot i, with prot, and seal them. */
static char *sealed(size_t i, int prot)
{
	char *p = zone(i);
	if (mmap(p, 8 * PG, RW, PA | MAP_FIXED, -1, 0) != p)
		die("map sealed zone");
	fill(p, 8, 7000 + (uint32_t)i * 8);
	if (mprotect(p, 8 * PG, prot))
		die("mprotect sealed zone");
	errno = ERRNO_SENTINEL;
	long r = syscall(SYS_mseal, p, 8 * PG, 0);
	sem_note("mseal=%ld:%d", r, r ? errno : 0);
	return p;
}

void cases_seal(void)
{
	char *p;

	sem_begin("seal_munmap");
	p = sealed(0, RW);
	U(p, 8 * PG);
	U(p + 2 * PG, PG);
	sem_mem(p, 8, 0);
	sem_end();

	sem_begin("seal_mremap");
	p = sealed(1, RW);
	MR(p, 8 * PG, 4 * PG, 0, NULL);
	MR(p, 8 * PG, 8 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, A(PMD));
	MR(p, 8 * PG, 16 * PG, MREMAP_MAYMOVE, NULL);
	sem_mem(p, 8, 0);
	sem_end();

	sem_begin("seal_map_fixed");
	p = sealed(2, RW);
	MM(p, 2 * PG, RW, PA | MAP_FIXED, -1, 0);
	MM64(p + 4 * PG, 2 * PG, RW, PA | MAP_FIXED, -1, 0);
	sem_mem(p, 8, 0);
	sem_end();

	/* Writable anonymous: purges are allowed. */
	sem_begin("seal_rw_purge");
	p = sealed(3, RW);
	M(p, 2 * PG, MADV_DONTNEED);
	M(p + 2 * PG, 2 * PG, MADV_FREE);
	M(p + 4 * PG, 2 * PG, MADV_COLD);
	sem_mem(p, 2, 0);
	sem_mem(p + 2 * PG, 2, MEM_LAZY);
	sem_mem(p + 4 * PG, 4, 0);
	sem_end();

	/* Read-only anonymous: destructive advice is refused. */
	sem_begin("seal_ro_purge");
	p = sealed(4, PROT_READ);
	M(p, 2 * PG, MADV_DONTNEED);
	M(p + 2 * PG, 2 * PG, MADV_FREE);
	M(p + 4 * PG, 2 * PG, MADV_DONTNEED_LOCKED);
	M(p + 6 * PG, 2 * PG, MADV_WILLNEED);
	M(p, 8 * PG, MADV_PAGEOUT);
	sem_mem(p, 8, 0);
	sem_end();
}
