/* SPDX-License-Identifier: MIT */
/*
 * cases_matrix.c - every advice over every kind of mapping.
 *
 * Eight pages are mapped and written; the advice covers pages 2-5, so each
 * line shows what happened inside the range and that the pages around it
 * kept their bytes.  For file-backed kinds the file itself is checked too
 * (MADV_REMOVE punches holes in it).
 */
#include "sem.h"

#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)
#define PA (MAP_PRIVATE | MAP_ANONYMOUS)
#define X A(PMD)
#define NP 8

static void anon(void) { map_at(PMD, NP * PG, RW, PA, -1, 0); fill(X, NP, 1000); }
static void untouched(void) { map_at(PMD, NP * PG, RW, PA, -1, 0); }
static void anon_ro(void) { anon(); mprotect(X, NP * PG, PROT_READ); }
static void protnone(void) { anon(); mprotect(X, NP * PG, PROT_NONE); }
static void mlocked(void)
{
	anon();
	if (mlock(X, NP * PG))
		die("mlock");
}
static void lock_onfault(void)
{
	map_at(PMD, NP * PG, RW, PA, -1, 0);
	/* mlock2(MLOCK_ONFAULT): glibc 2.36 has the wrapper, but the raw call
	 * keeps this independent of it. */
	if (syscall(SYS_mlock2, X, NP * PG, 1 /* MLOCK_ONFAULT */))
		die("mlock2");
	fill(X, NP / 2, 1050);
}
static void shmem(void)
{
	map_at(PMD, NP * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fill(X, NP, 1100);
}
static void file_private(void)
{
	file_reset(sem_tmpfd, NP, 1200);
	map_at(PMD, NP * PG, RW, MAP_PRIVATE, sem_tmpfd, 0);
	fill(X, NP / 2, 1250);	/* half copied-on-write, half file pages */
}
static void file_shared(void)
{
	file_reset(sem_tmpfd, NP, 1300);
	map_at(PMD, NP * PG, RW, MAP_SHARED, sem_tmpfd, 0);
	fill(X + PG, 2, 1350);
}
static void file_shared_ro(void)
{
	file_reset(sem_tmpfd, NP, 1400);
	map_at(PMD, NP * PG, PROT_READ, MAP_SHARED, sem_tmpfd_ro, 0);
}
static void memfd_shared(void)
{
	file_reset(sem_memfd, NP, 1500);
	map_at(PMD, NP * PG, RW, MAP_SHARED, sem_memfd, 0);
	fill(X + 4 * PG, 2, 1550);
}
static void memfd_private(void)
{
	file_reset(sem_memfd, NP, 1600);
	map_at(PMD, NP * PG, RW, MAP_PRIVATE, sem_memfd, 0);
	fill(X + 3 * PG, 2, 1650);
}
static void file_short(void)
{
	/* The file ends inside the mapping: pages 4-7 lie past EOF. */
	file_reset(sem_tmpfd, NP / 2, 1700);
	map_at(PMD, NP * PG, RW, MAP_SHARED, sem_tmpfd, 0);
}

static const struct {
	const char *name;
	void (*setup)(void);
	int fd;		/* file to check afterwards, or -1 */
} kinds[] = {
	{ "anon", anon, -1 },
	{ "untouched", untouched, -1 },
	{ "anon_ro", anon_ro, -1 },
	{ "protnone", protnone, -1 },
	{ "mlocked", mlocked, -1 },
	{ "lock_onfault", lock_onfault, -1 },
	{ "shmem", shmem, -1 },
	{ "file_private", file_private, 0 },
	{ "file_shared", file_shared, 0 },
	{ "file_shared_ro", file_shared_ro, 0 },
	{ "memfd_shared", memfd_shared, 1 },
	{ "memfd_private", memfd_private, 1 },
	{ "file_short", file_short, 0 },
};

/* The file's contents, through a scratch mapping of it at the end of the
 * work area (outside the pages under test). */
static void file_verdict(int which)
{
	int fd = which == 0 ? sem_tmpfd : sem_memfd;
	off_t size = lseek(fd, 0, SEEK_END);
	size_t np = (size_t)size / PG;
	char *p = A(WORK_SIZE - 16 * PG);
	if (np == 0 || np > 16) {
		sem_note("file=%ld", (long)size);
		return;
	}
	map_at(WORK_SIZE - 16 * PG, np * PG, PROT_READ, MAP_SHARED, fd, 0);
	char buf[256];
	sem_mem_str(buf, sizeof(buf), p, np, 0);
	sem_note("file=%s", buf);
	map_at(WORK_SIZE - 16 * PG, np * PG, PROT_NONE,
	       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}

void cases_advice_matrix(void)
{
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		for (size_t a = 0; a < sem_nadvices; a++) {
			int adv = sem_advices[a].num;
			sem_begin("matrix_%s_%s", kinds[k].name,
				  sem_advices[a].name);
			kinds[k].setup();
			M(X + 2 * PG, 4 * PG, adv);
			sem_mem(X, 2, 0);
			sem_mem(X + 2 * PG, 4, adv == MADV_FREE ? MEM_LAZY : 0);
			sem_mem(X + 6 * PG, 2, 0);
			if (kinds[k].fd >= 0)
				file_verdict(kinds[k].fd);
			sem_end();
		}
}
