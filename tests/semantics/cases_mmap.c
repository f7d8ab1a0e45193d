/* SPDX-License-Identifier: MIT */
/*
 * cases_mmap.c - mmap and mmap64 over good and bad inputs: flags, fds,
 * offsets, lengths, MAP_FIXED over live data, MAP_FIXED_NOREPLACE.
 *
 * MAP_FIXED is only ever aimed inside the arena (or at addresses the
 * kernel must refuse): anywhere else it would replace our own mappings.
 */
#include "sem.h"

#include <stdint.h>
#include <stdio.h>

#define RW (PROT_READ | PROT_WRITE)
#define PA (MAP_PRIVATE | MAP_ANONYMOUS)
#define X A(PMD)

typedef void *(*mapfn)(void *, size_t, int, int, int, off_t);

/* Drop a mapping a case created outside the arena. */
static void drop(void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)sem_base;
	if (p != MAP_FAILED && (a < b || a >= b + WORK_SIZE + SEAL_SIZE))
		munmap(p, len);
}

static void args(const char *fn, mapfn f)
{
	static const struct {
		const char *name;
		size_t len;
		int prot, flags, fd;	/* fd: -1, 0 tmp, 1 tmp read-only, 2 memfd, else literal */
		off_t off;
	} c[] = {
		{ "anon", 4 * PG, RW, PA, -1, 0 },
		{ "len0", 0, RW, PA, -1, 0 },
		{ "len1", 1, RW, PA, -1, 0 },
		{ "len_huge", (size_t)1 << 60, RW, PA, -1, 0 },
		{ "len_max", SIZE_MAX, RW, PA, -1, 0 },
		{ "len_max_aligned", SIZE_MAX - PG + 1, RW, PA, -1, 0 },
		{ "no_type", 4 * PG, RW, MAP_ANONYMOUS, -1, 0 },
		{ "shared_validate_anon", 4 * PG, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0 },
		{ "shared_validate_sync", 4 * PG, RW, MAP_SHARED_VALIDATE | MAP_SYNC, 0, 0 },
		{ "shared_validate_badbit", 4 * PG, RW, MAP_SHARED_VALIDATE | 0x8000000, 0, 0 },
		{ "private_unknown_bit", 4 * PG, RW, PA | 0x8000000, -1, 0 },
		{ "anon_with_fd", 4 * PG, RW, PA, 2, 0 },
		{ "anon_offset", 4 * PG, RW, PA, -1, 16 * PG },
		{ "anon_offset_unaligned", 4 * PG, RW, PA, -1, 1 },
		{ "file_bad_fd", 4 * PG, RW, MAP_PRIVATE, 999, 0 },
		{ "file_fd_minus1", 4 * PG, RW, MAP_PRIVATE, -1, 0 },
		{ "file_private", 4 * PG, RW, MAP_PRIVATE, 0, 0 },
		{ "file_shared", 4 * PG, RW, MAP_SHARED, 0, 0 },
		{ "file_ro_shared_write", 4 * PG, RW, MAP_SHARED, 1, 0 },
		{ "file_ro_private_write", 4 * PG, RW, MAP_PRIVATE, 1, 0 },
		{ "file_ro_shared_read", 4 * PG, PROT_READ, MAP_SHARED, 1, 0 },
		{ "file_offset", 2 * PG, RW, MAP_SHARED, 0, 2 * PG },
		{ "file_offset_unaligned", 2 * PG, RW, MAP_SHARED, 0, 100 },
		{ "file_offset_past_eof", 2 * PG, RW, MAP_SHARED, 0, 64 * PG },
		{ "file_offset_negative", 2 * PG, RW, MAP_SHARED, 0, -(off_t)PG },
		{ "file_offset_overflow", 2 * PG, RW, MAP_SHARED, 0, (off_t)0x7ffffffffffff000LL },
		{ "memfd_shared", 4 * PG, RW, MAP_SHARED, 2, 0 },
		{ "memfd_offset_big", 4 * PG, RW, MAP_SHARED, 2, (off_t)1 << 40 },
		{ "devzero_bad", 4 * PG, RW, MAP_SHARED, 0x7fffffff, 0 },
		{ "prot_exec", 4 * PG, PROT_READ | PROT_EXEC, PA, -1, 0 },
		{ "prot_none", 4 * PG, PROT_NONE, PA, -1, 0 },
		{ "prot_unknown", 4 * PG, RW | 0x40, PA, -1, 0 },
		{ "prot_growsdown", 4 * PG, RW | PROT_GROWSDOWN, PA, -1, 0 },
		{ "populate", 4 * PG, RW, PA | MAP_POPULATE, -1, 0 },
		{ "locked", 4 * PG, RW, PA | MAP_LOCKED, -1, 0 },
		{ "growsdown", 4 * PG, RW, PA | MAP_GROWSDOWN, -1, 0 },
		{ "hugetlb", PMD, RW, PA | MAP_HUGETLB, -1, 0 },
		{ "hugetlb_unaligned_len", PG, RW, PA | MAP_HUGETLB, -1, 0 },
		{ "stack", 4 * PG, RW, PA | MAP_STACK, -1, 0 },
		{ "uninitialized", 4 * PG, RW, PA | MAP_UNINITIALIZED, -1, 0 },
		{ "shared_anon", 4 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0 },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int fd = c[i].fd == 0 ? sem_tmpfd : c[i].fd == 1 ? sem_tmpfd_ro :
			 c[i].fd == 2 ? sem_memfd : c[i].fd;
		file_reset(sem_tmpfd, 4, 3000);
		file_reset(sem_memfd, 4, 3100);
		/* Once at a fixed place in the arena, once anywhere. */
		sem_begin("%s_fixed_%s", fn, c[i].name);
		void *p = f(X, c[i].len, c[i].prot, c[i].flags | MAP_FIXED, fd,
			    c[i].off);
		if (p == X)
			sem_mem(X, 4, 0);
		sem_end();

		sem_begin("%s_any_%s", fn, c[i].name);
		p = f(NULL, c[i].len, c[i].prot, c[i].flags, fd, c[i].off);
		drop(p, c[i].len);
		sem_end();
	}

	/* Large anonymous mappings: huge-region hinting may place them on a
	 * 2 MiB boundary and hint them (hint_scope:all); same results. */
	static const size_t big[] = { 8 * PMD + PG, 4 * PMD, 3 * PMD - 5 * PG };
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		sem_begin("%s_any_large_%zu", fn, i);
		void *q = f(NULL, big[i], RW, PA | (i ? MAP_NORESERVE : 0), -1, 0);
		if (q != MAP_FAILED) {
			char *e = (char *)q + big[i] - PG;

			fill(q, 2, 3300);
			fill(e, 1, 3310);
			sem_mem(q, 2, 0);
			sem_mem(e, 1, 0);
			sem_mem((char *)q + PMD, 2, 0);	/* reads zero */
		}
		drop(q, big[i]);
		sem_end();
	}

	/* Valid, but MAP_FIXED at this size would replace our own code. */
	sem_begin("%s_any_len_huge_noreserve", fn);
	void *p = f(NULL, (size_t)1 << 46, RW, PA | MAP_NORESERVE, -1, 0);
	drop(p, (size_t)1 << 46);
	sem_end();
}

static void placement(const char *fn, mapfn f)
{
	sem_begin("%s_fixed_over_data", fn);
	map_at(PMD, 8 * PG, RW, PA, -1, 0);
	fill(X, 8, 3200);
	f(X + 2 * PG, 2 * PG, RW, PA | MAP_FIXED, -1, 0);
	sem_mem(X, 8, 0);
	sem_end();

	sem_begin("%s_fixed_over_purged", fn);
	map_at(PMD, 8 * PG, RW, PA, -1, 0);
	fill(X, 8, 3250);
	M(X, 8 * PG, MADV_DONTNEED);
	fill(X + 6 * PG, 1, 3260);
	f(X + 2 * PG, 4 * PG, RW, PA | MAP_FIXED, -1, 0);
	fill(X + 3 * PG, 1, 3270);
	sem_mem(X, 8, 0);
	sem_end();

	sem_begin("%s_fixed_over_mlocked", fn);
	map_at(PMD, 8 * PG, RW, PA, -1, 0);
	fill(X, 8, 3300);
	if (mlock(X, 8 * PG))
		die("mlock");
	f(X + 2 * PG, 2 * PG, RW, PA | MAP_FIXED, -1, 0);
	sem_mem(X, 8, 0);
	sem_end();

	sem_begin("%s_fixed_unaligned", fn);
	map_at(PMD, 4 * PG, RW, PA, -1, 0);
	fill(X, 4, 3350);
	f(X + 1, 2 * PG, RW, PA | MAP_FIXED, -1, 0);
	f(X + PG / 2, 2 * PG, RW, PA | MAP_FIXED_NOREPLACE, -1, 0);
	sem_mem(X, 4, 0);
	sem_end();

	sem_begin("%s_noreplace_over_data", fn);
	map_at(PMD, 8 * PG, RW, PA, -1, 0);
	fill(X, 8, 3400);
	f(X + 2 * PG, 2 * PG, RW, PA | MAP_FIXED_NOREPLACE, -1, 0);
	sem_mem(X, 8, 0);
	sem_end();

	sem_begin("%s_noreplace_partial_overlap", fn);
	map_at(PMD, 4 * PG, RW, PA, -1, 0);
	fill(X, 4, 3450);
	hole(PMD + 4 * PG, 4 * PG);
	f(X + 2 * PG, 4 * PG, RW, PA | MAP_FIXED_NOREPLACE, -1, 0);
	sem_mem(X, 8, 0);
	sem_end();

	sem_begin("%s_noreplace_free", fn);
	hole(PMD, 8 * PG);
	f(X + 2 * PG, 4 * PG, RW, PA | MAP_FIXED_NOREPLACE, -1, 0);
	sem_mem(X, 8, 0);
	sem_end();

	sem_begin("%s_hint_free", fn);
	hole(PMD, 8 * PG);
	f(X, 4 * PG, RW, PA, -1, 0);
	sem_end();

	sem_begin("%s_hint_unaligned_free", fn);
	hole(PMD, 8 * PG);
	f(X + 123, 4 * PG, RW, PA, -1, 0);
	sem_end();

	sem_begin("%s_hint_taken", fn);
	map_at(PMD, 4 * PG, RW, PA, -1, 0);
	fill(X, 4, 3500);
	void *p = f(X, 4 * PG, RW, PA, -1, 0);
	drop(p, 4 * PG);
	sem_mem(X, 4, 0);
	sem_end();

	/* Addresses the kernel must refuse for MAP_FIXED. */
	static const struct { const char *name; uintptr_t a; } bad[] = {
		{ "kernel", 0xffff800000000000ULL },
		{ "noncanonical", 0x0000800000000000ULL },
		{ "task_top_cross", 0x7ffffffff000ULL - PG },
		{ "wrap", (uintptr_t)0 - PG },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sem_begin("%s_fixed_addr_%s", fn, bad[i].name);
		f((void *)bad[i].a, 4 * PG, RW, PA | MAP_FIXED, -1, 0);
		f((void *)bad[i].a, 4 * PG, RW, PA | MAP_FIXED_NOREPLACE, -1, 0);
		p = f((void *)bad[i].a, 4 * PG, RW, PA, -1, 0);
		drop(p, 4 * PG);
		sem_end();
	}
}

void cases_mmap(void)
{
	args("mmap", MM);
	args("mmap64", MM64);
	placement("mmap", MM);
	placement("mmap64", MM64);
}
