/* SPDX-License-Identifier: MIT */
/*
 * sem.h - harness for the semantics cases.
 *
 * Every case runs inside one arena reserved at start-up, so addresses can
 * be printed relative to it and the output is identical from run to run.
 * A case prints one line: its name, each call's result and errno, the
 * arena's mapping layout and a verdict of the memory that should survive.
 * The same binary runs with and without the shim and the two outputs must
 * be byte-identical.
 */
#ifndef SEM_H
#define SEM_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include "check.h"	/* PG, PMD, die */

/* Values from the 6.1 uapi headers that glibc 2.36's <sys/mman.h> lacks. */
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif
#ifndef MAP_UNINITIALIZED
#define MAP_UNINITIALIZED 0x4000000
#endif

/* The work area: reset to a PROT_NONE reservation before every case. */
#define WORK_SIZE ((size_t)64 << 20)
/* Past the work area: a zone for sealed mappings, which can never go away. */
#define SEAL_SIZE ((size_t)4 << 20)

/* errno value every wrapper sets before a call; a success must keep it. */
#define ERRNO_SENTINEL 7777

extern char *sem_base;		/* PMD-aligned start of the work area */
extern int sem_tmpfd;		/* regular temp file (unlinked), RW */
extern int sem_tmpfd_ro;	/* same file, opened read-only */
extern int sem_memfd;		/* memfd (tmpfs) */

/* Address of an offset inside the work area. */
static inline char *A(size_t off) { return sem_base + off; }

/* Case structure. */
void sem_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sem_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sem_end(void);

/* Interposed calls: each records "ret:errno" into the case's line. */
int M(void *addr, size_t len, int advice);
int U(void *addr, size_t len);
void *MM(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *MM64(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *MR(void *old, size_t olen, size_t nlen, int flags, void *newaddr);

/* Memory verdict: one letter per page, run-length encoded, plus a hash.
 * U unreadable, Z zero, D intact stamped data, X corrupt; with MEM_LAZY,
 * pages that are Z or D print L and stay out of the hash (MADV_FREE may
 * or may not have dropped them, depending on memory pressure). */
#define MEM_LAZY 1
void sem_mem(const void *p, size_t npages, int flags);
/* Same verdict written to a buffer (used by forked children). */
void sem_mem_str(char *buf, size_t size, const void *p, size_t npages,
		 int flags);
/* The work area's mapping layout from /proc/self/maps. */
void sem_layout(void);

/* Setup helpers: they abort the program if the kernel refuses. */
void *map_at(size_t off, size_t len, int prot, int flags, int fd, off_t foff);
void fill(void *p, size_t npages, uint32_t id);
void file_reset(int fd, size_t npages, uint32_t id);
void hole(size_t off, size_t len);
/* Non-zero if no mapping intersects [p, p+len): gates the cases whose huge
 * ranges would destroy whatever lies there. */
int range_empty(const void *p, size_t len);

/* Advice names, for loops over every advice. */
struct advice { int num; const char *name; };
extern const struct advice sem_advices[];
extern const size_t sem_nadvices;

/* Case groups. */
void cases_madvise(void);
void cases_advice_matrix(void);
void cases_munmap(void);
void cases_mmap(void);
void cases_mremap(void);
void cases_pmd(void);
void cases_fork(void);
void cases_seal(void);

#endif
