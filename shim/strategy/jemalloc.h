/* SPDX-License-Identifier: MIT */
/*
 * jemalloc.h - the jemalloc adapter (jemalloc.c), the pages it decommitted
 * and their reclaim (decommit_map.c), and the thread starts it hooks
 * (jemalloc_threads.c).
 */
#ifndef PTRECLAIM_JEMALLOC_H
#define PTRECLAIM_JEMALLOC_H

#include "platform.h"

/*
 * [start, end) was decommitted by the allocator's protocol: it will commit
 * before touching it again.  purged: the caller's MADV_DONTNEED covered it
 * (false: fresh memory never touched).  Fully decommitted regions are
 * reclaimed here with one aligned madvise per run of adjacent regions.
 */
pr_hidden void pr_dcm_decommitted(uintptr_t start, uintptr_t end, bool purged);
/* The allocator is committing [start, end): call before it can touch it. */
pr_hidden void pr_dcm_committed(uintptr_t start, uintptr_t end);
/* [start, end) is unmapped or no longer the allocator's. */
pr_hidden void pr_dcm_forget(uintptr_t start, uintptr_t end);
/* Allow reclaim (attached) or not; voids every mark made so far. */
pr_hidden void pr_dcm_enable(bool on);
pr_hidden void pr_dcm_after_fork_child(void);
/* Marked pages in [start, end), for tests. */
pr_hidden unsigned pr_dcm_count(uintptr_t start, uintptr_t end);

/* The public API's work (strategy/api.c): 0 or -errno. */
pr_hidden int pr_je_attach(void);
pr_hidden int pr_je_detach(void);
struct ptreclaim_jemalloc_status;
pr_hidden void pr_je_status(struct ptreclaim_jemalloc_status *st);

/* The constructor attaches the hooks and decides nothing more: 0 or
 * -errno.  on_decommit runs at the start of every decommit hook until
 * it has chosen (core/life.c; a callback, so the strategy layer does not
 * call up into core).  The strategy's start then decides lock-free, and
 * if it is not the adapter, pr_je_inert() makes the hooks behave as
 * jemalloc's own. */
pr_hidden int pr_je_arm(void (*on_decommit)(void));
pr_hidden void pr_je_inert(const char *why);

/* Is jemalloc (any of its symbol prefixes) in this process? */
pr_hidden bool pr_je_present(void);
/* A thread is being started from caller: should it hook its arena? */
pr_hidden bool pr_je_wants_thread_start(const void *caller);
/* In a new thread, before its start routine: hook the arena it picks. */
pr_hidden void pr_je_thread_started(void);

#endif /* PTRECLAIM_JEMALLOC_H */
