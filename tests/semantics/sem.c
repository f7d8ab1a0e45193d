/* SPDX-License-Identifier: MIT */
/* sem.c - the semantics harness: arena, call wrappers, verdicts, output. */
#include "sem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *sem_base;
int sem_tmpfd = -1, sem_tmpfd_ro = -1, sem_memfd = -1;

static char line[1 << 16];
static size_t line_len;

static void put(const char *fmt, va_list ap)
{
	int n = vsnprintf(line + line_len, sizeof(line) - line_len, fmt, ap);
	if (n < 0 || (size_t)n >= sizeof(line) - line_len)
		die("case line too long");
	line_len += (size_t)n;
}

static void putf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void putf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	put(fmt, ap);
	va_end(ap);
}

/* Reset the work area to one PROT_NONE reservation, so every case starts
 * from the same layout whatever the previous case left behind. */
static void reset_work(void)
{
	void *p = mmap(sem_base, WORK_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
		       -1, 0);
	if (p != sem_base)
		die("reset work area");
}

void sem_begin(const char *fmt, ...)
{
	va_list ap;
	reset_work();
	line_len = 0;
	va_start(ap, fmt);
	put(fmt, ap);
	va_end(ap);
	putf(":");
}

void sem_note(const char *fmt, ...)
{
	va_list ap;
	putf(" ");
	va_start(ap, fmt);
	put(fmt, ap);
	va_end(ap);
}

void sem_end(void)
{
	sem_layout();
	fwrite(line, 1, line_len, stdout);
	fputc('\n', stdout);
}

static const char *ename(int e)
{
	const char *s = strerrorname_np(e);
	return s ? s : "E?";
}

static void rec_int(long r, int e)
{
	if (r == 0 && e == ERRNO_SENTINEL)
		putf(" 0");
	else if (r == -1)
		putf(" -1:%s", ename(e));
	else if (e == ERRNO_SENTINEL)
		putf(" %ld", r);
	else	/* success that touched errno: the shim must not do this */
		putf(" %ld:errno-clobbered:%s", r, ename(e));
}

static void rec_ptr(void *p, int e)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)sem_base;
	if (p == MAP_FAILED) {
		putf(" -1:%s", ename(e));
		return;
	}
	/* Addresses outside the arena depend on ASLR and on what else is
	 * mapped (the shim maps its ledger), so only their page alignment is
	 * printed. */
	if (a >= b && a < b + WORK_SIZE + SEAL_SIZE)
		putf(" @+%#lx", (unsigned long)(a - b));
	else
		putf(" @out%s", (a & (PG - 1)) ? "-unaligned" : "");
	if (e != ERRNO_SENTINEL)
		putf(":errno-clobbered:%s", ename(e));
}

int M(void *addr, size_t len, int advice)
{
	errno = ERRNO_SENTINEL;
	int r = madvise(addr, len, advice);
	int e = errno;
	/* Whether a huge page can be had right now depends on memory
	 * fragmentation, which can change between the two runs: success and
	 * the two "try again" failures print alike for MADV_COLLAPSE. */
	if (advice == MADV_COLLAPSE &&
	    ((r == 0 && e == ERRNO_SENTINEL) ||
	     (r == -1 && (e == EAGAIN || e == ENOMEM)))) {
		putf(" collapse-ok-or-busy");
		return r;
	}
	rec_int(r, e);
	return r;
}

int U(void *addr, size_t len)
{
	errno = ERRNO_SENTINEL;
	int r = munmap(addr, len);
	rec_int(r, errno);
	return r;
}

void *MM(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	errno = ERRNO_SENTINEL;
	void *p = mmap(addr, len, prot, flags, fd, off);
	rec_ptr(p, errno);
	return p;
}

void *MM64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	errno = ERRNO_SENTINEL;
	void *p = mmap64(addr, len, prot, flags, fd, off);
	rec_ptr(p, errno);
	return p;
}

void *MR(void *old, size_t olen, size_t nlen, int flags, void *newaddr)
{
	errno = ERRNO_SENTINEL;
	void *p = mremap(old, olen, nlen, flags, newaddr);
	rec_ptr(p, errno);
	return p;
}

/* ---- memory contents ---- */

#define STAMP_MAGIC 0x5ea1ULL

static uint64_t word(uint32_t id, size_t i)
{
	uint64_t x = ((uint64_t)id << 20) ^ (i * 0x9e3779b97f4a7c15ULL);
	x ^= x >> 29;
	return x | 1;	/* never zero: a zeroed word is always detected */
}

static void stamp(uint64_t *w, uint32_t id)
{
	w[0] = STAMP_MAGIC << 32 | id;
	for (size_t i = 1; i < PG / 8; i++)
		w[i] = word(id, i);
}

void fill(void *p, size_t npages, uint32_t id)
{
	for (size_t i = 0; i < npages; i++)
		stamp((uint64_t *)((char *)p + i * PG), id + (uint32_t)i);
}

void file_reset(int fd, size_t npages, uint32_t id)
{
	static uint64_t buf[PG / 8];
	if (ftruncate(fd, 0) || ftruncate(fd, (off_t)(npages * PG)))
		die("truncate file");
	for (size_t i = 0; i < npages; i++) {
		stamp(buf, id + (uint32_t)i);
		if (pwrite(fd, buf, PG, (off_t)(i * PG)) != (ssize_t)PG)
			die("write file");
	}
}

/* /proc/self/mem reads PROT_NONE and unmapped pages without faulting us.
 * The fd pins the mm it was opened in, so a forked child must reopen it. */
static int procmem(void)
{
	static int fd = -1;
	static pid_t owner;
	if (fd < 0 || owner != getpid()) {
		if (fd >= 0)
			close(fd);
		fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open /proc/self/mem");
		owner = getpid();
	}
	return fd;
}

static char page_verdict(const uint64_t *w, int ok, uint64_t *h)
{
	if (!ok)
		return 'U';
	size_t nz = 0;
	for (size_t i = 0; i < PG / 8; i++)
		nz |= w[i] != 0;
	if (!nz)
		return 'Z';
	if (w[0] >> 32 == STAMP_MAGIC) {
		uint32_t id = (uint32_t)w[0];
		size_t i;
		for (i = 1; i < PG / 8 && w[i] == word(id, i); i++)
			;
		if (i == PG / 8) {
			*h = (*h ^ id) * 0x100000001b3ULL;
			return 'D';
		}
	}
	for (size_t i = 0; i < PG / 8; i++)
		*h = (*h ^ w[i]) * 0x100000001b3ULL;
	return 'X';
}

void sem_mem_str(char *buf, size_t size, const void *p, size_t npages,
		 int flags)
{
	static uint64_t w[PG / 8];
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t n = 0;
	char prev = 0;
	size_t run = 0;
	int fd = procmem();

	for (size_t i = 0; i <= npages; i++) {
		char c = 0;
		if (i < npages) {
			ssize_t r = pread(fd, w, PG, (off_t)(uintptr_t)p +
					  (off_t)(i * PG));
			uint64_t hh = h;
			c = page_verdict(w, r == (ssize_t)PG, &hh);
			if ((flags & MEM_LAZY) && (c == 'Z' || c == 'D'))
				c = 'L';
			else
				h = hh;
		}
		if (c == prev) {
			run++;
			continue;
		}
		if (prev)
			n += (size_t)snprintf(buf + n, size - n, "%c%zu",
					      prev, run);
		prev = c;
		run = 1;
	}
	snprintf(buf + n, size - n, "/%08lx", (unsigned long)(h & 0xffffffff));
}

void sem_mem(const void *p, size_t npages, int flags)
{
	char buf[512];
	sem_mem_str(buf, sizeof(buf), p, npages, flags);
	putf(" mem=%s", buf);
}

static char *read_maps(void)
{
	static char buf[1 << 20];
	size_t n = 0;
	ssize_t r;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open maps");
	while ((r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = 0;
	return buf;
}

int range_empty(const void *p, size_t len)
{
	uintptr_t lo = (uintptr_t)p, hi = lo + len;
	for (char *s = read_maps(); *s;) {
		unsigned long st, en;
		if (sscanf(s, "%lx-%lx", &st, &en) == 2 && en > lo && st < hi)
			return 0;
		s = strchr(s, '\n');
		if (!s)
			break;
		s++;
	}
	return 1;
}

/* The arena's VMAs: start, end (relative), permissions, and for files the
 * offset.  Read with read(2) into a static buffer: maps can be long. */
void sem_layout(void)
{
	char *buf = read_maps();
	uintptr_t lo = (uintptr_t)sem_base, hi = lo + WORK_SIZE;
	putf(" maps=");
	for (char *s = buf; *s;) {
		char *nl = strchr(s, '\n');
		unsigned long st, en, off, ino;
		char perms[8];
		if (sscanf(s, "%lx-%lx %7s %lx %*s %lu", &st, &en, perms, &off,
			   &ino) == 5 && en > lo && st < hi) {
			/* Plain PROT_NONE reservation ranges are the arena's
			 * background; only print what a case created. */
			if (!(ino == 0 && strcmp(perms, "---p") == 0))
				putf(ino ? "[%lx-%lx %s f%lx]" : "[%lx-%lx %s]",
				     st - lo, en - lo, perms, off);
		}
		if (!nl)
			break;
		s = nl + 1;
	}
}

/* ---- setup ---- */

void *map_at(size_t off, size_t len, int prot, int flags, int fd, off_t foff)
{
	void *p = mmap(A(off), len, prot, flags | MAP_FIXED, fd, foff);
	if (p != A(off))
		die("map_at");
	return p;
}

void hole(size_t off, size_t len)
{
	if (munmap(A(off), len))
		die("hole");
}

const struct advice sem_advices[] = {
	{ MADV_NORMAL, "NORMAL" }, { MADV_RANDOM, "RANDOM" },
	{ MADV_SEQUENTIAL, "SEQUENTIAL" }, { MADV_WILLNEED, "WILLNEED" },
	{ MADV_DONTNEED, "DONTNEED" }, { MADV_FREE, "FREE" },
	{ MADV_REMOVE, "REMOVE" }, { MADV_DONTFORK, "DONTFORK" },
	{ MADV_DOFORK, "DOFORK" }, { MADV_MERGEABLE, "MERGEABLE" },
	{ MADV_UNMERGEABLE, "UNMERGEABLE" }, { MADV_HUGEPAGE, "HUGEPAGE" },
	{ MADV_NOHUGEPAGE, "NOHUGEPAGE" }, { MADV_DONTDUMP, "DONTDUMP" },
	{ MADV_DODUMP, "DODUMP" }, { MADV_WIPEONFORK, "WIPEONFORK" },
	{ MADV_KEEPONFORK, "KEEPONFORK" }, { MADV_COLD, "COLD" },
	{ MADV_PAGEOUT, "PAGEOUT" }, { MADV_POPULATE_READ, "POPULATE_READ" },
	{ MADV_POPULATE_WRITE, "POPULATE_WRITE" },
	{ MADV_DONTNEED_LOCKED, "DONTNEED_LOCKED" },
	{ MADV_COLLAPSE, "COLLAPSE" },
	/* Newer than the 6.1 uapi headers: guard regions (6.13). */
	{ 102, "GUARD_INSTALL" }, { 103, "GUARD_REMOVE" },
};
const size_t sem_nadvices = sizeof(sem_advices) / sizeof(sem_advices[0]);
