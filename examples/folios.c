/* SPDX-License-Identifier: MIT */
/*
 * folios.c - anonymous memory the process holds in PMD-size THP folios,
 * mapped or not.  A purge inside a huge page unmaps part of it and VmRSS
 * drops, but the folio stays whole until the kernel's deferred split
 * shrinker runs (under memory pressure): that memory is still used, and
 * VmRSS hides it.  Found from /proc/self/pagemap (PFNs: needs
 * CAP_SYS_ADMIN) and /proc/kpageflags.  No malloc.
 *
 * The same scan counts readable anonymous pages that hold only zeros (not
 * the shared zero page): memory in VmRSS that nobody wrote, which a huge
 * fault maps where small faults would not.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagetables.h"

#define PG_SHIFT 12
#define PFN_MASK ((1ull << 55) - 1)
#define PRESENT (1ull << 63)
#define KPF_THP 22
#define KPF_ZERO_PAGE 24
#define FOLIO_PAGES 512ull

struct scan {
	int pm, kf;
	int readable;		/* the range being scanned */
	uint64_t head;		/* head PFN of the folio last counted */
	struct thp_held *out;
};

static uint64_t kflags(int kf, uint64_t pfn)
{
	uint64_t f = 0;

	if (pread(kf, &f, 8, (off_t)(pfn * 8)) != 8)
		return 0;
	return f;
}

static int all_zero(const void *page)
{
	static const char zero[1 << PG_SHIFT];

	return !memcmp(page, zero, sizeof(zero));
}

static int scan_range(struct scan *s, uint64_t a, uint64_t e)
{
	static uint64_t pm[4096];

	while (a < e) {
		size_t want = (size_t)((e - a) >> PG_SHIFT), got;
		ssize_t r;

		if (want > 4096)
			want = 4096;
		r = pread(s->pm, pm, want * 8, (off_t)((a >> PG_SHIFT) * 8));
		if (r <= 0)
			return r < 0 ? -1 : 0;
		got = (size_t)r / 8;
		for (size_t i = 0; i < got; i++) {
			uint64_t pfn = pm[i] & PFN_MASK;

			if (!(pm[i] & PRESENT))
				continue;
			if (!pfn)
				return -1;	/* PFNs hidden: not root */
			if (s->readable &&
			    !(kflags(s->kf, pfn) & (1ull << KPF_ZERO_PAGE)) &&
			    all_zero((const void *)(uintptr_t)(a + (i << PG_SHIFT))))
				s->out->zero_kb += 4;
			if ((pfn & ~(FOLIO_PAGES - 1)) == s->head) {
				s->out->mapped_kb += 4;
				continue;
			}
			if (!(kflags(s->kf, pfn) & (1ull << KPF_THP)))
				continue;
			s->head = pfn & ~(FOLIO_PAGES - 1);
			s->out->held_kb += FOLIO_PAGES * 4;
			s->out->mapped_kb += 4;
		}
		a += (uint64_t)got << PG_SHIFT;
	}
	return 0;
}

int thp_held_scan(struct thp_held *out)
{
	static char maps[1 << 20];
	struct scan s = { -1, -1, 0, ~0ull, out };
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t n, len = 0;

	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return -1;
	while ((n = read(fd, maps + len, sizeof(maps) - 1 - (size_t)len)) > 0)
		len += n;
	close(fd);
	maps[len] = '\0';
	s.pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	s.kf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	for (char *line = maps; *line && rc == 0 && s.pm >= 0 && s.kf >= 0;) {
		char *p, *next = strchr(line, '\n');
		uint64_t a = strtoull(line, &p, 16), e = strtoull(p + 1, &p, 16);

		next = next ? next + 1 : line + strlen(line);
		/* Anonymous memory only: files' large folios are page cache. */
		if (!memmem(line, (size_t)(next - line), "[vsyscall]", 10) &&
		    !memchr(line, '/', (size_t)(next - line))) {
			s.readable = p[1] == 'r';	/* p: " rw-p ..." */
			rc = scan_range(&s, a, e);
		}
		line = next;
	}
	if (s.pm < 0 || s.kf < 0)
		rc = -1;
	if (s.pm >= 0)
		close(s.pm);
	if (s.kf >= 0)
		close(s.kf);
	return rc;
}
