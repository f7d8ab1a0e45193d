/* SPDX-License-Identifier: MIT */
/* hint.h - huge-region hinting (hint.c, hint_split.c, hint_report.c). */
#ifndef PTRECLAIM_HINT_H
#define PTRECLAIM_HINT_H

#include "platform.h"

pr_hidden void pr_hint_init(void);
pr_hidden void pr_hint_idle_because(const char *why);
/* A seccomp filter was installed: no more calls of hinting's own. */
pr_hidden void pr_hint_filtered(void);
/* A successful mmap from code at caller returned r for the caller's
 * request: may move it to a 2 MiB boundary (same length, flags and
 * protection).  Returns the address the caller gets; then
 * pr_hint_mapped() hints it. */
pr_hidden long pr_hint_place(long addr, size_t len, int prot, int flags,
			     int fd, long off, long r, const void *caller);
pr_hidden void pr_hint_mapped(long r, size_t len, int prot, int flags,
			      const void *caller);
/* A purge seen; zap: the pages are gone (DONTNEED, a decommit), not only
 * marked lazily free. */
pr_hidden void pr_hint_purged(uintptr_t start, uintptr_t end, bool zap);
pr_hidden void pr_hint_unmapped(uintptr_t start, uintptr_t end);
/* Around a call that can unmap or replace memory: no hint change runs
 * meanwhile on memory that may no longer be the allocator's. */
pr_hidden bool pr_hint_mm_begin(void);
pr_hidden void pr_hint_mm_end(bool token);
pr_hidden void pr_hint_after_fork_child(void);
struct pr_hint_stats {
	uint64_t hinted, hinted_bytes, stopped, stop_deferred, aligned,
		 align_failed, table_full, failed;
};
#define PR_HINT_NR_STATS 4	/* mTHP counters followed per size */
struct pr_hint_view {
	struct pr_hint_stats st;
	const char *idle;		/* why hinting is idle, or NULL */
	unsigned regions, stopped_now;
	const struct pr_thp *thp;	/* settings read at start (NULL: none) */
	const long (*stat0)[PR_HINT_NR_STATS];	/* mTHP counters at start */
};
pr_hidden void pr_hint_view(struct pr_hint_view *v);
pr_hidden extern const char *const pr_hint_stat_names[PR_HINT_NR_STATS];
/* hint_report.c */
pr_hidden void pr_hint_report(int fd);
/* hint_split.c: split the huge folio a zap left partly mapped. */
pr_hidden void pr_hint_split(uintptr_t start, uintptr_t end);
pr_hidden uint64_t pr_hint_split_probes(void);

#endif /* PTRECLAIM_HINT_H */
