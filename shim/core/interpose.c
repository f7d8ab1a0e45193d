/* SPDX-License-Identifier: MIT */
/*
 * interpose.c - madvise, munmap, mmap, mremap as the program sees them.
 *
 * Each one makes exactly the system call the program asked for and returns
 * exactly what the kernel said (value and errno).  Only after a successful
 * call does the shim look at it, and then only to update the ledger: no
 * other system call (VmPTE is sampled by the worker), except one futex
 * wake at the first purge of a process whose bootstrap thread waits
 * (life.c), a kick of a sleeping worker when a region completes,
 * hinting's own calls where hinting is active (docs/hinting.md), and,
 * while the fence runs in its default scope, one mmap for the first
 * mapping in each 128 GiB of address space (fence_scope.c).
 * Allocators call these with their own locks held: nothing here allocates,
 * prints, or waits on a lock another thread can hold for long.
 */
/* Our mmap must be the symbol "mmap", not a redirect to mmap64. */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/mman.h>

#include "core.h"
#include "hint.h"
#include "jemalloc.h"
#include "strategy.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* Depth of interposed calls on this thread, for the no-allocation test. */
static __thread int inside __attribute__((tls_model("initial-exec")));

/*
 * Entering the shim's own work: mark it, and keep deferred cancellation
 * out (a thread cancelled inside the shim's work would leave a read-side
 * section open).
 */
static int enter(void)
{
	int old;

	inside++;
	pr_busy++;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return old;
}

static void leave(int cancel_state)
{
	int ignored;

	pthread_setcancelstate(cancel_state, &ignored);
	pr_busy--;
	inside--;
}

PR_EXPORT int __ptreclaim_inside(void);
PR_EXPORT int __ptreclaim_inside(void)
{
	return inside;
}

/* The system call, as libc's wrapper returns it: -1 and errno. */
static long kcall(long nr, long a, long b, long c, long d, long e, long f)
{
	long r = pr_raw_syscall(nr, a, b, c, d, e, f);

	if ((unsigned long)r > -4096UL) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

static bool pmd_aligned(uintptr_t start, size_t len)
{
	return !(start & (PR_PMD_SIZE - 1)) && len &&
	       !(len & (PR_PMD_SIZE - 1));
}

/*
 * The ledger once it exists (pr_ready: made when the shim starts, life.c);
 * the counters and hinting from the first call on.
 */
static void observe_madvise(uintptr_t start, size_t len, int advice)
{
	uintptr_t end = start + pr_page_up(len);
	uint64_t t0 = pr_now_ns();
	bool ready = __atomic_load_n(&pr_ready, __ATOMIC_ACQUIRE);
	enum pr_purge_kind kind;
	uint64_t full;

	switch (advice) {
	case MADV_DONTNEED:
	case MADV_DONTNEED_LOCKED:
		kind = PR_PURGE_DONTNEED;
		pr_count(PRC_DONTNEED, 1);
		break;
	case MADV_FREE:
		kind = PR_PURGE_FREE;
		pr_count(PRC_FREE, 1);
		break;
	case MADV_REMOVE:
		kind = PR_PURGE_REMOVE;
		pr_count(PRC_REMOVE, 1);
		break;
	case MADV_WILLNEED:
	case MADV_POPULATE_READ:
	case MADV_POPULATE_WRITE:
	case MADV_COLLAPSE:
		/* The kernel maps these pages again: they are in use. */
		if (ready)
			pr_ledger_in_use(start, end, t0);
		goto out;
	default:
		goto out;
	}
	if (end <= start)
		goto out;
	pr_count(PRC_PURGED_BYTES, end - start);
	if (pmd_aligned(start, end - start))
		pr_count(PRC_PMD_ALIGNED, 1);
	if (ready) {
		full = pr_ledger_full();
		pr_ledger_purged(start, end, kind, t0);
		/* A region completed: the worker has work (later). */
		if (pr_ledger_full() > full)
			pr_worker_kick();
	}
	pr_hint_purged(start, end, kind == PR_PURGE_DONTNEED);
	if (pr_conf.profile)
		pr_profile_record(end - start, pmd_aligned(start, end - start));
out:
	pr_count(PRC_SHIM_NS, pr_now_ns() - t0);
}

/* A purge some strategy could act on (anonymous memory given back). */
static bool purge_advice(int advice)
{
	return advice == MADV_DONTNEED || advice == MADV_DONTNEED_LOCKED ||
	       advice == MADV_FREE;
}

PR_EXPORT int madvise(void *addr, size_t len, int advice)
{
	long r = kcall(SYS_madvise, (long)addr, (long)len, advice, 0, 0, 0);
	int err = errno;

	pr_count(PRC_MADVISE, 1);
	/* Outside the shim's inside section: in a glibc-malloc process
	 * the first purge starts the shim (life.c). */
	if (r == 0 && len && !pr_busy && purge_advice(advice)) {
		pr_life_check_child();
		pr_life_purge();
	}
	if (r == 0 && !pr_busy) {
		int cs = enter();

		observe_madvise((uintptr_t)addr, len, advice);
		leave(cs);
	}
	errno = err;
	return (int)r;
}

static void observe_unmapped(uintptr_t start, size_t len)
{
	uint64_t t0;
	int cs;

	if (pr_busy || !len)
		return;
	cs = enter();
	t0 = pr_now_ns();
	if (__atomic_load_n(&pr_ready, __ATOMIC_ACQUIRE))
		pr_ledger_drop(start, start + pr_page_up(len));
	/* Decommitted pages that are unmapped are no longer the allocator's:
	 * whatever is mapped there next must never be reclaimed. */
	pr_dcm_forget(start, start + pr_page_up(len));
	pr_hint_unmapped(start, start + pr_page_up(len));
	pr_count(PRC_SHIM_NS, pr_now_ns() - t0);
	leave(cs);
}

/*
 * munmap, mremap and MAP_FIXED mmap wait while a fence window covers
 * their range (strategy/fence.c): the VMA the fence zaps must be the one
 * it verified.
 */
PR_EXPORT int munmap(void *addr, size_t len)
{
	bool hinted, fenced;
	long r;

	pr_life_check_child();
	hinted = pr_hint_mm_begin();
	fenced = pr_strategy_mm_begin((uintptr_t)addr, len);
	r = kcall(SYS_munmap, (long)addr, (long)len, 0, 0, 0, 0);
	int err = errno;

	pr_strategy_mm_end(fenced);
	pr_count(PRC_MUNMAP, 1);
	if (r == 0)
		observe_unmapped((uintptr_t)addr, len);
	pr_hint_mm_end(hinted);
	errno = err;
	return (int)r;
}

PR_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	bool hinted, fenced;
	long r;

	if (flags & MAP_FIXED)
		pr_life_check_child();
	hinted = (flags & MAP_FIXED) && pr_hint_mm_begin();
	fenced = (flags & MAP_FIXED) && pr_strategy_mm_begin((uintptr_t)addr, len);
	r = kcall(SYS_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
	int err = errno;

	pr_strategy_mm_end(fenced);
	pr_count(PRC_MMAP, 1);
	/* Whatever was mapped here before is gone, even without MAP_FIXED:
	 * the range may have been unmapped behind our back. */
	if (r != -1) {
		const void *caller = __builtin_return_address(0);

		r = pr_hint_place((long)addr, len, prot, flags, fd, off, r,
				  caller);
		observe_unmapped((uintptr_t)r, len);
		if (!pr_busy)
			pr_fence_scope_mapped((uintptr_t)r, len, caller);
		pr_hint_mapped(r, len, prot, flags, caller);
	}
	pr_hint_mm_end(hinted);
	errno = err;
	return (void *)r;
}

PR_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
		       off_t off) __attribute__((alias("mmap")));

PR_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	bool fenced, hinted;
	long r;
	int err;

	/* glibc passes the fifth argument for DONTUNMAP too: the kernel
	 * takes it as a placement hint there. */
	if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
		va_list ap;

		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	{
		/* One span over both ends: a second wait while holding the
		 * first could stall a window. */
		uintptr_t lo = (uintptr_t)old, hi = lo + pr_page_up(old_len);

		if ((flags & MREMAP_FIXED) && new_len) {
			uintptr_t nl = (uintptr_t)new_addr;

			lo = nl < lo ? nl : lo;
			hi = nl + pr_page_up(new_len) > hi ? nl + pr_page_up(new_len) : hi;
		}
			pr_life_check_child();
		fenced = pr_strategy_mm_begin(lo, hi > lo ? hi - lo : 0);
	}
	hinted = pr_hint_mm_begin();
	r = kcall(SYS_mremap, (long)old, (long)old_len, (long)new_len, flags,
		  (long)new_addr, 0);
	err = errno;
	pr_strategy_mm_end(fenced);
	pr_count(PRC_MREMAP, 1);
	if (r != -1) {
		/* The old range moved or shrank, the new one is fresh. */
		observe_unmapped((uintptr_t)old, old_len);
		observe_unmapped((uintptr_t)r, new_len);
		if (!pr_busy)
			pr_fence_scope_mapped((uintptr_t)r, new_len,
					      __builtin_return_address(0));
	}
	pr_hint_mm_end(hinted);
	errno = err;
	return (void *)r;
}
