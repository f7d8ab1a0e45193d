/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "pagetables.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE_SHIFT 12
#define PTE_SHIFT 21	/* one PTE table maps 2 MiB */
#define PMD_SHIFT 30	/* one PMD table maps 1 GiB */
#define PUD_SHIFT 39	/* one PUD table maps 512 GiB */
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_CHUNK 65536	/* pagemap entries per read (512 KiB) */

/* Static, not malloc: the scan must not change the heap it measures.
 * Maps of an allocator with many mmapped objects can be large. */
static char maps_buf[16 << 20];
static uint64_t pm_buf[PM_CHUNK];

static ssize_t read_all(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((r = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	if (r < 0)
		return -1;
	if (len >= cap - 1) {
		errno = EFBIG;
		return -1;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

struct last { uint64_t pte, pmd, pud; };

static void count(struct pt_need *n, struct last *l, uint64_t addr)
{
	if (addr >> PTE_SHIFT != l->pte) {
		l->pte = addr >> PTE_SHIFT;
		n->pte++;
	}
	if (addr >> PMD_SHIFT != l->pmd) {
		l->pmd = addr >> PMD_SHIFT;
		n->pmd++;
	}
	if (addr >> PUD_SHIFT != l->pud) {
		l->pud = addr >> PUD_SHIFT;
		n->pud++;
	}
}

/* Regions are counted in ascending address order, so comparing with the
 * last counted region is enough to count each one once. */
static int scan_vma(int pm, uint64_t s, uint64_t e, struct pt_need *n,
		    struct last *l)
{
	uint64_t a = s;

	while (a < e) {
		size_t want = (size_t)((e - a) >> PAGE_SHIFT), i, got;
		ssize_t r;

		if (want > PM_CHUNK)
			want = PM_CHUNK;
		r = pread(pm, pm_buf, want * 8, (off_t)((a >> PAGE_SHIFT) * 8));
		if (r <= 0)
			return r < 0 ? -1 : 0;
		got = (size_t)r / 8;
		for (i = 0; i < got; i++) {
			uint64_t va = a + ((uint64_t)i << PAGE_SHIFT);

			if (!(pm_buf[i] & (PM_PRESENT | PM_SWAPPED)))
				continue;
			count(n, l, va);
			/* The region is counted: skip to the next one. */
			i = (((va >> PTE_SHIFT) + 1) << PTE_SHIFT) - a;
			i = (i >> PAGE_SHIFT) - 1;
		}
		a += (uint64_t)got << PAGE_SHIFT;
	}
	return 0;
}

/* /proc/self/NAME, or /proc/PID/NAME for pid > 0. */
static void proc_path(char *buf, size_t n, pid_t pid, const char *name)
{
	if (pid > 0)
		snprintf(buf, n, "/proc/%d/%s", (int)pid, name);
	else
		snprintf(buf, n, "/proc/self/%s", name);
}

int pt_need_scan(struct pt_need *out)
{
	return pt_need_scan_pid(0, out);
}

int pt_need_scan_pid(pid_t pid, struct pt_need *out)
{
	struct last l = { ~0ull, ~0ull, ~0ull };
	char *line, *next, path[64];
	int pm, err = 0;

	memset(out, 0, sizeof(*out));
	proc_path(path, sizeof(path), pid, "maps");
	if (read_all(path, maps_buf, sizeof(maps_buf)) < 0)
		return -1;
	proc_path(path, sizeof(path), pid, "pagemap");
	pm = open(path, O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		return -1;
	for (line = maps_buf; *line && !err; line = next) {
		uint64_t s, e;
		char *p;

		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		s = strtoull(line, &p, 16);
		e = strtoull(p + 1, &p, 16);
		/* vsyscall sits above the user address range: no user tables. */
		if (memmem(line, (size_t)(next - line), "[vsyscall]", 10))
			continue;
		if (scan_vma(pm, s, e, out, &l) < 0)
			err = errno;
	}
	close(pm);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

static int region_empty(int pm, uint64_t r)
{
	size_t i;

	if (pread(pm, pm_buf, 512 * 8, (off_t)((r >> PAGE_SHIFT) * 8)) != 512 * 8)
		return 0;
	for (i = 0; i < 512; i++)
		if (pm_buf[i] & (PM_PRESENT | PM_SWAPPED))
			return 0;
	return 1;
}

long pt_zap_empty(void)
{
	long before = status_kb("VmPTE"), after;
	char *line, *next;
	int pm;

	if (before < 0 || read_all("/proc/self/maps", maps_buf, sizeof(maps_buf)) < 0)
		return -1;
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		return -1;
	for (line = maps_buf; *line; line = next) {
		uint64_t s, e, r, inode;
		char perms[5] = "", *p;

		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		s = strtoull(line, &p, 16);
		e = strtoull(p + 1, &p, 16);
		memcpy(perms, p + 1, 4);
		/* Fields after perms: offset dev inode; inode 0 = anonymous. */
		p = strchr(p + 1, ' ');
		p = p ? strchr(p + 1, ' ') : NULL;
		p = p ? strchr(p + 1, ' ') : NULL;
		inode = p ? strtoull(p + 1, NULL, 10) : 1;
		if (strcmp(perms, "rw-p") || inode ||
		    memmem(line, (size_t)(next - line), "[stack]", 7))
			continue;
		r = (s + (1ull << PTE_SHIFT) - 1) & ~((1ull << PTE_SHIFT) - 1);
		for (; r + (1ull << PTE_SHIFT) <= e; r += 1ull << PTE_SHIFT)
			if (region_empty(pm, r))
				syscall(SYS_madvise, (void *)r, 1ul << PTE_SHIFT,
					MADV_DONTNEED);
	}
	close(pm);
	after = status_kb("VmPTE");
	return after < 0 ? -1 : (before - after) / 4;
}

/* Memory pressure, on demand: MADV_PAGEOUT over every writable private
 * anonymous VMA.  Without swap only clean lazily freed pages (MADV_FREE)
 * can go, so nothing in use is lost.  A page still in another CPU's LRU
 * batch can't be isolated: go round the CPUs. */
int pt_pageout_anon(void)
{
	cpu_set_t all, one;
	char *line, *next;

	if (read_all("/proc/self/maps", maps_buf, sizeof(maps_buf)) < 0 ||
	    sched_getaffinity(0, sizeof(all), &all))
		return -1;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &all))
			continue;
		CPU_ZERO(&one);
		CPU_SET(c, &one);
		sched_setaffinity(0, sizeof(one), &one);
		for (line = maps_buf; *line; line = next) {
			uint64_t s, e;
			char *p;

			next = strchr(line, '\n');
			next = next ? next + 1 : line + strlen(line);
			s = strtoull(line, &p, 16);
			e = strtoull(p + 1, &p, 16);
			if (!strncmp(p + 1, "rw-p 00000000 00:00 0 ", 22))
				syscall(SYS_madvise, (void *)s, e - s, MADV_PAGEOUT);
		}
	}
	sched_setaffinity(0, sizeof(all), &all);
	return 0;
}

/* A "Key: N kB" field of a /proc file. */
static long field_kb(const char *path, const char *key)
{
	char buf[8192], *p;
	size_t klen = strlen(key);

	if (read_all(path, buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == ':')
			return strtol(p + klen + 1, NULL, 10);
	}
	return -1;
}

long status_kb(const char *key)
{
	return status_kb_pid(0, key);
}

long status_kb_pid(pid_t pid, const char *key)
{
	char path[64];

	proc_path(path, sizeof(path), pid, "status");
	return field_kb(path, key);
}

long rollup_kb(const char *key)
{
	return field_kb("/proc/self/smaps_rollup", key);
}

long vma_count(void)
{
	char buf[4096];
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	long n, lines = 0;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (long i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	return lines;
}
