/* SPDX-License-Identifier: MIT */
/*
 * pt_need.c - count the 2 MiB, 1 GiB and 512 GiB regions that map at least
 * one page (present or swapped), walking the VMAs in address order.  Uses
 * only static buffers, so measuring does not change the heap measured.
 */
#define _GNU_SOURCE
#include "pt_need.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PM_PRESENT	(1ULL << 63)
#define PM_SWAPPED	(1ULL << 62)
#define CHUNK		32768	/* pagemap entries per read */

static char maps[8 << 20];
static uint64_t pm[CHUNK];

static long slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t r = 0;

	if (fd < 0)
		return -1;
	while (len < cap - 1 && (r = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	buf[len] = '\0';
	return r < 0 ? -1 : (long)len;
}

static void proc_path(char *buf, size_t len, pid_t pid, const char *file)
{
	if (pid)
		snprintf(buf, len, "/proc/%d/%s", (int)pid, file);
	else
		snprintf(buf, len, "/proc/self/%s", file);
}

struct walk {
	uint64_t last[3];	/* last counted region at each level */
	struct pt_need *n;
};

static void note(struct walk *w, uint64_t va)
{
	static const unsigned shift[3] = { 21, 30, 39 };
	uint64_t *count[3] = { &w->n->pte, &w->n->pmd, &w->n->pud };

	for (int l = 0; l < 3; l++) {
		if (va >> shift[l] != w->last[l]) {
			w->last[l] = va >> shift[l];
			(*count[l])++;
		}
	}
}

static int scan_range(int fd, uint64_t s, uint64_t e, struct walk *w)
{
	while (s < e) {
		size_t want = (size_t)((e - s) >> 12);
		ssize_t r;

		if (want > CHUNK)
			want = CHUNK;
		r = pread(fd, pm, want * 8, (off_t)(s >> 12) * 8);
		if (r <= 0)
			return r < 0 ? -1 : 0;
		for (size_t i = 0; i < (size_t)r / 8; i++) {
			uint64_t va = s + (i << 12);

			if (!(pm[i] & (PM_PRESENT | PM_SWAPPED)))
				continue;
			note(w, va);
			/* Counted: go on from the next 2 MiB region. */
			i = ((((va >> 21) + 1) << 21) - s) / 4096 - 1;
		}
		s += (uint64_t)(r / 8) << 12;
	}
	return 0;
}

int pt_need_scan(pid_t pid, struct pt_need *out)
{
	struct walk w = { { ~0ULL, ~0ULL, ~0ULL }, out };
	char path[64];
	int fd, rc = 0;

	memset(out, 0, sizeof(*out));
	proc_path(path, sizeof(path), pid, "maps");
	if (slurp(path, maps, sizeof(maps)) < 0)
		return -1;
	proc_path(path, sizeof(path), pid, "pagemap");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (char *line = maps, *next; *line && !rc; line = next) {
		uint64_t s, e;
		char *p;

		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		s = strtoull(line, &p, 16);
		e = strtoull(p + 1, &p, 16);
		/* [vsyscall] lies above user space and has no user tables. */
		if (s >> 47)
			continue;
		rc = scan_range(fd, s, e, &w);
	}
	close(fd);
	return rc;
}

long proc_status_kb(pid_t pid, const char *field)
{
	static char buf[8192];
	char path[64];
	size_t flen = strlen(field);

	proc_path(path, sizeof(path), pid, "status");
	if (slurp(path, buf, sizeof(buf)) < 0)
		return -1;
	for (char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l)
		if (!strncmp(l, field, flen) && l[flen] == ':')
			return strtol(l + flen + 1, NULL, 10);
	return -1;
}
