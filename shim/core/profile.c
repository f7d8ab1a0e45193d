/* SPDX-License-Identifier: MIT */
/*
 * profile.c - where purges come from (PTRECLAIM_CONF=profile:1).
 *
 * On the purge path we only capture return addresses with glibc's
 * backtrace() and count them in a fixed, mmap'd open-addressing table;
 * symbols are looked up with dladdr when the report is written.  Off by
 * default: unwinding is far dearer than the rest of the shim.
 *
 * backtrace() loads libgcc_s on its first call (dlopen, which allocates),
 * so pr_profile_init() makes that call at start; after it, libgcc's
 * unwinder finds frames through _dl_find_object, without allocating or
 * locking.  (libunwind, linked in, cost every process ten VMAs; loaded
 * late, its thread-local state would be allocated on the purge path.)
 */

#include <dlfcn.h>
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>

#include "core.h"

#define PR_SITE_FRAMES	6
#define PR_SITE_SLOTS	1024
#define PR_SKIP_FRAMES	3	/* record, observe_madvise, madvise */

struct pr_site {
	uint64_t key;		/* 0: empty slot */
	void *ip[PR_SITE_FRAMES];
	uint64_t count;
	uint64_t bytes;
	uint64_t aligned;
};

static struct pr_site *sites;
static uint64_t sites_lost;

static uint64_t frames_key(void **ip, int n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < n; i++)
		h = (h ^ (uint64_t)(uintptr_t)ip[i]) * 0x100000001b3ULL;
	return h ? h : 1;
}

static struct pr_site *site_slot(uint64_t key, void **ip, int n)
{
	for (unsigned i = 0; i < PR_SITE_SLOTS; i++) {
		struct pr_site *s = &sites[(key + i) % PR_SITE_SLOTS];
		uint64_t cur = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);

		if (cur == key)
			return s;
		if (cur == 0) {
			if (__atomic_compare_exchange_n(&s->key, &cur, key,
							false, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE)) {
				/* Ours now; only the report reads ip[]. */
				for (int f = 0; f < n; f++)
					s->ip[f] = ip[f];
				return s;
			}
			if (cur == key)
				return s;
		}
	}
	return NULL;
}

static int unwinding;	/* threads inside backtrace() */
static int forking;

void pr_profile_before_fork(void)
{
	__atomic_store_n(&forking, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&unwinding, __ATOMIC_SEQ_CST))
		pr_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
}

void pr_profile_after_fork(bool child)
{
	/* The child has only the forking thread: nobody is unwinding. */
	if (child)
		__atomic_store_n(&unwinding, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&forking, 0, __ATOMIC_SEQ_CST);
}

/* At start: the first backtrace() loads the unwinder. */
void pr_profile_init(void)
{
	void *buf[2];

	if (pr_conf.profile)
		(void)backtrace(buf, 2);
}

void pr_profile_record(size_t len, bool pmd_aligned)
{
	void *buf[PR_SITE_FRAMES + PR_SKIP_FRAMES];
	struct pr_site *s;
	int n;

	if (!sites) {
		struct pr_site *mine = pr_map(sizeof(*sites) * PR_SITE_SLOTS);
		struct pr_site *none = NULL;

		if (!mine)
			return;
		if (!__atomic_compare_exchange_n(&sites, &none, mine, false,
						 __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			pr_unmap(mine, sizeof(*sites) * PR_SITE_SLOTS);
	}
	__atomic_fetch_add(&unwinding, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&forking, __ATOMIC_SEQ_CST)) {
		__atomic_fetch_sub(&unwinding, 1, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&sites_lost, 1, __ATOMIC_RELAXED);
		return;
	}
	n = backtrace(buf, PR_SITE_FRAMES + PR_SKIP_FRAMES);
	__atomic_fetch_sub(&unwinding, 1, __ATOMIC_SEQ_CST);
	if (n <= PR_SKIP_FRAMES)
		return;
	n -= PR_SKIP_FRAMES;
	s = site_slot(frames_key(buf + PR_SKIP_FRAMES, n), buf + PR_SKIP_FRAMES,
		      n);
	if (!s) {
		__atomic_fetch_add(&sites_lost, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_fetch_add(&s->count, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->bytes, len, __ATOMIC_RELAXED);
	if (pmd_aligned)
		__atomic_fetch_add(&s->aligned, 1, __ATOMIC_RELAXED);
}

static void print_frame(int fd, void *ip)
{
	Dl_info info;
	char line[512];

	if (ip && dladdr(ip, &info) && info.dli_fname) {
		if (info.dli_sname)
			snprintf(line, sizeof(line), "ptreclaim:       %s+0x%lx (%s)\n",
				 info.dli_sname,
				 (unsigned long)((char *)ip - (char *)info.dli_saddr),
				 info.dli_fname);
		else
			snprintf(line, sizeof(line), "ptreclaim:       %s+0x%lx\n",
				 info.dli_fname,
				 (unsigned long)((char *)ip - (char *)info.dli_fbase));
	} else {
		snprintf(line, sizeof(line), "ptreclaim:       %p\n", ip);
	}
	pr_write_str(fd, line);
}

static int by_count(const void *a, const void *b)
{
	const struct pr_site *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

void pr_profile_report(int fd, unsigned top)
{
	static struct pr_site sorted[PR_SITE_SLOTS];
	unsigned n = 0;
	char line[256];

	if (!sites) {
		pr_write_str(fd, "ptreclaim: purge call sites: none recorded\n");
		return;
	}
	for (unsigned i = 0; i < PR_SITE_SLOTS; i++)
		if (__atomic_load_n(&sites[i].key, __ATOMIC_ACQUIRE))
			sorted[n++] = sites[i];
	qsort(sorted, n, sizeof(sorted[0]), by_count);
	snprintf(line, sizeof(line),
		 "ptreclaim: purge call sites: %u distinct, top %u (lost %llu)\n",
		 n, top < n ? top : n, (unsigned long long)sites_lost);
	pr_write_str(fd, line);
	for (unsigned i = 0; i < n && i < top; i++) {
		struct pr_site *s = &sorted[i];

		snprintf(line, sizeof(line),
			 "ptreclaim:   #%u count=%llu mean_bytes=%llu pmd_aligned=%llu\n",
			 i + 1, (unsigned long long)s->count,
			 (unsigned long long)(s->count ? s->bytes / s->count : 0),
			 (unsigned long long)s->aligned);
		pr_write_str(fd, line);
		for (int f = 0; f < PR_SITE_FRAMES && s->ip[f]; f++)
			print_frame(fd, s->ip[f]);
	}
}
