/* SPDX-License-Identifier: MIT */
/*
 * hint.c - huge-region hinting: steer the memory an allocator is filling
 * to large anon folios (PMD THP, and the mTHP sizes set to inherit or
 * madvise), and stop once it starts carving it up.  docs/hinting.md has
 * the measurements behind each rule.
 *
 * A region is one private read-write anonymous mapping of hint_min (8 MiB)
 * or more that the allocator (the object that provides malloc) made
 * through our mmap; the program's own large mappings, often sparse
 * tables, stay as they are.  The brk heap is left alone: it grows in steps
 * (gperftools: 1 MiB) that never put a whole aligned 2 MiB into the VMA
 * before it is touched, so no fault would get a huge page.
 *  - It is hinted once, whole, when it appears (MADV_HUGEPAGE): new memory
 *    is about to be filled, and a whole-mapping hint leaves the allocator's
 *    adjacent mappings mergeable into one VMA.
 *  - Once purges inside it that are not whole aligned 2 MiB blocks add up
 *    to 1/32 of it (2 MiB at least), the allocator is carving it: each such
 *    purge splits a huge page, a re-fault of a purged 2 MiB maps a whole
 *    one again and khugepaged fills sparse ones back in.  It then gets
 *    MADV_NOHUGEPAGE, once, whole, and is never hinted again.
 *  - A zap inside a region that cuts a huge page gets the folio split
 *    (hint_split.c), so what it held is freed and what nobody wrote maps
 *    the zero page.
 *  - hint_align: a large mapping the kernel placed off a 2 MiB boundary,
 *    next to no region of ours, is placed on one (same length and flags).
 *  - hint:auto stays idle where a virtio balloon reports free pages to
 *    the host: huge-page faults meet the memory it handed back first.
 * The table is fixed (PR_HINT_MAX regions), so hinting adds at most two
 * VMA boundaries per region.  Nothing here allocates; the lock is held for
 * a table scan or one madvise that only changes VMA flags.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "core.h"
#include "hint.h"

#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#define MADV_NOHUGEPAGE 15
#endif

#define PR_HINT_MAX 256
#define PMD_MASK_LOW (PR_PMD_SIZE - 1)

enum { R_FREE, R_HINTED, R_STOPPED };

struct hint_region {
	uintptr_t start, end;
	uint64_t fine;		/* bytes of fine purges since hinted */
	uint32_t state;
};

static struct hint_region regs[PR_HINT_MAX];
static unsigned nr_regs;	/* slots ever used */
static bool active;		/* hinting on and it enables some size */
static const char *why_idle = "hint:off";
static char lock_word;
/* Dekker pair: a stop runs only while no unmap is in flight. */
static int mm_busy, stopping;

static struct pr_hint_stats st;
/* The loaded object that provides malloc: its mmap calls come from here. */
static uintptr_t alloc_lo, alloc_hi;

/* THP and mTHP settings, and their counters, read once at start. */
static struct pr_thp thp;
static bool thp_read;
static long stat0[PR_MAX_MTHP][PR_HINT_NR_STATS];

const char *const pr_hint_stat_names[PR_HINT_NR_STATS] = {
	"anon_fault_alloc", "anon_fault_fallback", "split_deferred", "split" };
/* Set while this thread is in a locked section: a signal handler that
 * maps or purges memory then passes through instead of spinning on us. */
static __thread int in_hint __attribute__((tls_model("initial-exec")));

#define CNT(f, n) __atomic_fetch_add(&st.f, (n), __ATOMIC_RELAXED)

static void lock(void)
{
	in_hint++;
	while (__atomic_test_and_set(&lock_word, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED))
			pr_cpu_relax();
}

static void unlock(void)
{
	__atomic_clear(&lock_word, __ATOMIC_RELEASE);
	in_hint--;
}

static long advise(uintptr_t start, uintptr_t end, int advice)
{
	return pr_sys(SYS_madvise, (long)start, (long)(end - start), advice,
		      0, 0, 0);
}

/* Would MADV_HUGEPAGE turn on a folio size that is off without it? */
static const char *size_mode(const char *enabled)
{
	if (!strcmp(enabled, "inherit"))
		enabled = thp.enabled;
	return !strcmp(enabled, "madvise") ? "hinted" :
	       !strcmp(enabled, "always") ? "always" : "off";
}

static bool hint_enables_something(void)
{
	if (!thp.nr_mthp)	/* before 6.8: one switch, for PMD size */
		return !strcmp(thp.enabled, "madvise");
	for (unsigned i = 0; i < thp.nr_mthp; i++)
		if (!strcmp(size_mode(thp.mthp[i].enabled), "hinted"))
			return true;
	return false;
}

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t base = (uintptr_t)arg;

	(void)size;
	if (info->dlpi_addr != base)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = base + ph->p_vaddr, hi = lo + ph->p_memsz;

		if (ph->p_type != PT_LOAD)
			continue;
		alloc_lo = alloc_lo && alloc_lo < lo ? alloc_lo : lo;
		alloc_hi = alloc_hi > hi ? alloc_hi : hi;
	}
	return 1;
}

/* At start (dlsym is fine here, never on an interposed path). */
static void find_allocator(void)
{
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	Dl_info info;

	if (m && dladdr(m, &info))
		dl_iterate_phdr(find_object, info.dli_fbase);
}

static bool from_allocator(const void *caller)
{
	return pr_conf.hint_all ||
	       ((uintptr_t)caller >= alloc_lo && (uintptr_t)caller < alloc_hi);
}

void pr_hint_init(void)
{
	if (pr_conf.hint == PR_HINT_OFF)
		return;
	pr_sysfs_thp(&thp);
	/* Counters are system-wide and since boot: the report shows what
	 * changed from here. */
	for (unsigned i = 0; i < thp.nr_mthp; i++)
		for (int k = 0; k < PR_HINT_NR_STATS; k++)
			stat0[i][k] = pr_sysfs_thp_stat(thp.mthp[i].kb,
							pr_hint_stat_names[k]);
	thp_read = true;
	if (pr_conf.hint == PR_HINT_AUTO && pr_sysfs_free_page_reporting()) {
		why_idle = "a virtio balloon hands free memory to the host: heap growth after a quiet spell measured 2.4-7.8x slower with huge pages (docs/hinting.md); hint:on hints anyway";
		return;
	}
	if (!hint_enables_something()) {
		why_idle = "no folio size is enabled by madvise (THP and mTHP settings)";
		return;
	}
	find_allocator();
	if (!alloc_hi && !pr_conf.hint_all) {
		why_idle = "could not find the object that provides malloc";
		return;
	}
	why_idle = NULL;
	__atomic_store_n(&active, true, __ATOMIC_RELEASE);
}

/* What the report shows. */
void pr_hint_view(struct pr_hint_view *v)
{
	unsigned n = 0, st_now = 0;

	lock();
	for (unsigned i = 0; i < nr_regs; i++) {
		n += regs[i].state != R_FREE;
		st_now += regs[i].state == R_STOPPED;
	}
	unlock();
	v->st = st;
	v->idle = why_idle;
	v->regions = n;
	v->stopped_now = st_now;
	v->thp = thp_read ? &thp : NULL;
	v->stat0 = (const long (*)[PR_HINT_NR_STATS])stat0;
}

static bool on(void)
{
	return __atomic_load_n(&active, __ATOMIC_ACQUIRE) && !pr_busy &&
	       !in_hint;
}

/* Call locked. */
static struct hint_region *find(uintptr_t addr)
{
	for (unsigned i = 0; i < nr_regs; i++)
		if (regs[i].state != R_FREE && addr >= regs[i].start &&
		    addr < regs[i].end)
			return &regs[i];
	return NULL;
}

/* Call locked.  A free slot, or NULL when the table is full. */
static struct hint_region *slot(void)
{
	for (unsigned i = 0; i < nr_regs; i++)
		if (regs[i].state == R_FREE)
			return &regs[i];
	return nr_regs < PR_HINT_MAX ? &regs[nr_regs++] : NULL;
}

/* Does [start, end) touch a region of ours at either end? */
static bool next_to_region(uintptr_t start, uintptr_t end)
{
	bool hit = false;

	lock();
	for (unsigned i = 0; i < nr_regs && !hit; i++)
		hit = regs[i].state != R_FREE &&
		      (regs[i].end == start || regs[i].start == end);
	unlock();
	return hit;
}

static bool eligible(size_t len, int prot, int flags)
{
	return (flags & MAP_TYPE) == MAP_PRIVATE && (flags & MAP_ANONYMOUS) &&
	       !(flags & ~(MAP_TYPE | MAP_ANONYMOUS | MAP_NORESERVE)) &&
	       prot == (PROT_READ | PROT_WRITE) && pr_page_up(len) >= pr_conf.hint_min;
}

/*
 * The same request, over-sized by 2 MiB and trimmed to a 2 MiB boundary;
 * the kernel's first answer is given back.  If the larger request fails,
 * the caller keeps the kernel's first answer.
 */
static long realign(long r, size_t len, int flags)
{
	size_t big = len + PR_PMD_SIZE - PR_PAGE_SIZE;
	long m = pr_sys(SYS_mmap, 0, (long)big, PROT_READ | PROT_WRITE, flags,
			-1, 0);
	uintptr_t a;

	if (m < 0 && m > -4096) {
		CNT(align_failed, 1);
		return r;
	}
	a = ((uintptr_t)m + PMD_MASK_LOW) & ~PMD_MASK_LOW;
	if (a > (uintptr_t)m)
		pr_unmap((void *)m, a - (uintptr_t)m);
	if (a + len < (uintptr_t)m + big)
		pr_unmap((void *)(a + len), (uintptr_t)m + big - a - len);
	pr_unmap((void *)r, len);
	CNT(aligned, 1);
	return (long)a;
}

long pr_hint_place(long addr, size_t len, int prot, int flags, int fd,
		   long off, long r, const void *caller)
{
	size_t plen = pr_page_up(len);

	if (!on() || !from_allocator(caller) || !pr_conf.hint_align || addr ||
	    fd != -1 || off ||
	    !eligible(len, prot, flags) || !(r & (long)PMD_MASK_LOW) ||
	    next_to_region((uintptr_t)r, (uintptr_t)r + plen))
		return r;
	/* With the caller's flags: the trimmed VMA is accounted (or not,
	 * MAP_NORESERVE) as the caller's own would have been. */
	return realign(r, plen, flags);
}

/* Register [start, end) and apply its hint. */
static void hint_new(uintptr_t start, uintptr_t end)
{
	struct hint_region *r;

	lock();
	r = slot();
	if (r) {
		r->start = start;
		r->end = end;
		r->fine = 0;
		r->state = R_HINTED;
	}
	unlock();
	if (!r) {
		CNT(table_full, 1);
		return;
	}
	if (advise(start, end, MADV_HUGEPAGE) < 0)
		CNT(failed, 1);
	CNT(hinted, 1);
	CNT(hinted_bytes, end - start);
}

void pr_hint_mapped(long r, size_t len, int prot, int flags,
		    const void *caller)
{
	uintptr_t start = (uintptr_t)r, end = start + pr_page_up(len);

	if (!on() || !from_allocator(caller) || !eligible(len, prot, flags))
		return;
	/* No whole aligned 2 MiB inside: nothing a PMD folio could use. */
	if (((start + PMD_MASK_LOW) & ~PMD_MASK_LOW) + PR_PMD_SIZE > end)
		return;
	hint_new(start, end);
}

/* Call locked.  Only while no unmap is in flight: the range must still
 * be this region, not memory mapped there since. */
static void stop(struct hint_region *r)
{
	__atomic_store_n(&stopping, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&mm_busy, __ATOMIC_SEQ_CST)) {
		CNT(stop_deferred, 1);	/* the next fine purge tries again */
	} else {
		if (advise(r->start, r->end, MADV_NOHUGEPAGE) < 0)
			CNT(failed, 1);
		r->state = R_STOPPED;
		CNT(stopped, 1);
	}
	__atomic_store_n(&stopping, 0, __ATOMIC_RELEASE);
}

void pr_hint_purged(uintptr_t start, uintptr_t end, bool zap)
{
	struct hint_region *r;
	bool ours;

	/* Whole aligned 2 MiB purges split no huge page.  (Called from the
	 * shim's own observation of a purge: pr_busy is set.) */
	if (!__atomic_load_n(&active, __ATOMIC_ACQUIRE) || in_hint ||
	    !((start | end) & PMD_MASK_LOW))
		return;
	lock();
	r = find(start);
	ours = r != NULL;
	if (r && r->state == R_HINTED && pr_conf.hint != PR_HINT_ALWAYS) {
		uint64_t size = r->end - r->start;
		uint64_t limit = size / 32 > PR_PMD_SIZE ? size / 32 : PR_PMD_SIZE;

		r->fine += (end < r->end ? end : r->end) - start;
		if (r->fine >= limit)
			stop(r);
	}
	unlock();
	/* MADV_FREE splits the folio itself; a zap leaves that to us. */
	if (ours && zap && pr_conf.hint_split)
		pr_hint_split(start, end);
}

/* Call locked.  Forget [start, end) of r; a hole in the middle keeps
 * both sides while a slot is free, else the larger side. */
static void cut(struct hint_region *r, uintptr_t start, uintptr_t end)
{
	struct hint_region *tail;

	if (start <= r->start && end >= r->end) {
		r->state = R_FREE;
	} else if (start <= r->start) {
		r->start = end;
	} else if (end >= r->end) {
		r->end = start;
	} else if ((tail = slot())) {
		*tail = *r;
		tail->start = end;
		r->end = start;
	} else if (end - r->start < r->end - start) {
		r->start = end;
	} else {
		r->end = start;
	}
}

void pr_hint_unmapped(uintptr_t start, uintptr_t end)
{
	if (!__atomic_load_n(&active, __ATOMIC_ACQUIRE) || in_hint)
		return;
	lock();
	for (unsigned i = 0; i < nr_regs; i++)
		if (regs[i].state != R_FREE && start < regs[i].end &&
		    end > regs[i].start)
			cut(&regs[i], start, end);
	unlock();
}

bool pr_hint_mm_begin(void)
{
	if (!__atomic_load_n(&active, __ATOMIC_ACQUIRE) || in_hint)
		return false;
	__atomic_add_fetch(&mm_busy, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&stopping, __ATOMIC_SEQ_CST))
		pr_cpu_relax();
	return true;
}

void pr_hint_mm_end(bool token)
{
	if (token)
		__atomic_sub_fetch(&mm_busy, 1, __ATOMIC_SEQ_CST);
}

/* fork copies the lock and the handshake as other threads left them. */
void pr_hint_after_fork_child(void)
{
	__atomic_clear(&lock_word, __ATOMIC_RELAXED);
	__atomic_store_n(&mm_busy, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&stopping, 0, __ATOMIC_RELAXED);
}
