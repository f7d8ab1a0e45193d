/* SPDX-License-Identifier: MIT */
/*
 * core.h - the path of a purge: the interposed calls, the ledger, the
 * counters, VmPTE, verification, the profile and the report.
 *
 * Rule for everything reachable from the interposed calls: no malloc, no
 * stdio, no dlsym, no locks another thread can hold for long.  Memory
 * comes from mmap, the kernel is reached with raw syscalls, and errno is
 * the caller's.
 */
#ifndef PTRECLAIM_CORE_H
#define PTRECLAIM_CORE_H

#include <signal.h>

#include "config.h"
#include "platform.h"
#include "ptreclaim.h"

/* --- counters (counters.c) --- */
enum pr_counter {
	PRC_MADVISE, PRC_DONTNEED, PRC_FREE, PRC_REMOVE,
	PRC_MUNMAP, PRC_MMAP, PRC_MREMAP,
	PRC_PURGED_BYTES, PRC_PMD_ALIGNED, PRC_DROPPED,
	PRC_BOUND_HITS, PRC_SHIM_NS,
	/* the jemalloc adapter */
	PRC_JE_DECOMMITS, PRC_JE_DECOMMIT_BYTES, PRC_JE_DECOMMIT_FAILED,
	PRC_JE_COMMITS, PRC_JE_RECLAIM_CALLS, PRC_JE_RECLAIM_FAILED,
	PRC_JE_REGIONS_RECLAIMED, PRC_JE_PTE_RECLAIMED, PRC_JE_UNTRACKED,
	PRC_JE_NS,
	PRC_NR
};
pr_hidden void pr_count(enum pr_counter c, uint64_t n);
pr_hidden uint64_t pr_counter_sum(enum pr_counter c);
pr_hidden const void *pr_counters_base(unsigned *nr, size_t *stride);
/* The public counters (include/ptreclaim.h). */
pr_hidden void pr_stats_snapshot(struct ptreclaim_stats *st);

/* --- the ledger (ledger.c) --- */
enum pr_purge_kind { PR_PURGE_DONTNEED, PR_PURGE_FREE, PR_PURGE_REMOVE };
pr_hidden int pr_ledger_init(size_t max_bytes);
pr_hidden void pr_ledger_purged(uintptr_t start, uintptr_t end,
				enum pr_purge_kind kind, uint64_t now);
/* After a kernel probe: settle regions purged whole before it. */
pr_hidden void pr_ledger_caps_known(void);
pr_hidden void pr_ledger_in_use(uintptr_t start, uintptr_t end, uint64_t now);
pr_hidden void pr_ledger_drop(uintptr_t start, uintptr_t end);
pr_hidden void pr_ledger_table_freed(uintptr_t start, uintptr_t end);
pr_hidden uint64_t pr_ledger_tracked(void);
pr_hidden uint64_t pr_ledger_full(void);
pr_hidden void pr_ledger_counts_addr(const uint64_t **tracked,
				     const uint64_t **full);
/*
 * Visit every region with purged pages; fn fills in the pages it finds in
 * use, and the ledger forgets that they were purged.
 */
typedef void (*pr_live_fn)(uintptr_t base, uint64_t inuse[8], void *arg);
pr_hidden void pr_ledger_for_each_live(pr_live_fn fn, void *arg);
pr_hidden void pr_ledger_maintain(void);
#define PR_LEDGER_LAZY 1u	/* MADV_FREE: pages may still be mapped */
#define PR_LEDGER_FULL 2u	/* every page purged */
typedef void (*pr_live_ex_fn)(uintptr_t base, unsigned flags,
			      uint64_t changed_ns, uint64_t inuse[8],
			      void *arg);
pr_hidden void pr_ledger_for_each_live_ex(pr_live_ex_fn fn, void *arg);
/* Not offered to for_each_live(_ex) again until a purge in it. */
pr_hidden void pr_ledger_zapped(uintptr_t base);
pr_hidden void pr_ledger_park(uintptr_t base, uint64_t seen_ns,
			      const uint64_t inuse[8]);
/* The pages of the region at base marked purged; false: no entry. */
pr_hidden bool pr_ledger_purged_map(uintptr_t base, uint64_t out[8]);

/* --- VmPTE sampling (vmpte.c) --- */
pr_hidden long pr_vmpte_kb(void);
/* A value read by the worker or the report: the peak is the highest
 * sampled there (the purge path reads no /proc file). */
pr_hidden void pr_vmpte_note(long kb);
pr_hidden void pr_vmpte_start(void);
pr_hidden uint64_t pr_vmpte_peak_kb(void);
pr_hidden uint64_t pr_vmpte_start_kb(void);
pr_hidden uint64_t pr_vmpte_samples(void);

/* --- purge call sites (profile.c) --- */
pr_hidden void pr_profile_init(void);
pr_hidden void pr_profile_record(size_t len, bool pmd_aligned);
pr_hidden void pr_profile_report(int fd, unsigned top);
/* An unwind in flight may hold the loader's or libgcc's locks, which fork
 * would copy held: fork waits for unwinds in flight, and none start
 * meanwhile. */
pr_hidden void pr_profile_before_fork(void);
pr_hidden void pr_profile_after_fork(bool child);

/* --- verification against pagemap (verify.c) --- */
pr_hidden long pr_verify_reclaimable(void);
/* Lazily freed regions the last verification found still mapped. */
pr_hidden long pr_verify_waiting(void);

/* --- the report (report.c, report_file.c) --- */
pr_hidden void pr_report(int fd);
/* At start, after pr_conf_load: what pr_report_due needs (fork handlers). */
pr_hidden void pr_report_init(void);
/* Whether this process writes its report at exit (the rule: report.c). */
pr_hidden bool pr_report_due(void);
/* At exit: the report, if due, to stderr or stats_file. */
pr_hidden void pr_report_at_exit(void);
/* stats_file's pattern with %p as pid and %% as %, into buf (cut short and
 * NUL-terminated if len is too small); returns its full length. */
pr_hidden size_t pr_report_path(const char *pattern, long pid, char *buf,
				size_t len);
/* stats_file opened for appending (created 0600); the fd or -errno. */
pr_hidden long pr_report_file_open(const char *pattern);
/* SIGPIPE blocked on this thread, between the two: writes to a closed
 * pipe fail with EPIPE instead of killing the process. */
struct pr_sigpipe {
	sigset_t pipe, old;
	bool was_pending;
	int saved_errno;
};
pr_hidden void pr_sigpipe_block(struct pr_sigpipe *sp);
pr_hidden void pr_sigpipe_restore(struct pr_sigpipe *sp);

/* --- the stats page for `ptreclaim stat` (publish.c, publish.h) --- */
/* Map it, once, if there is something to report; a fork child maps its
 * own (it must not write into its parent's). */
pr_hidden void pr_publish(void);
pr_hidden void pr_publish_after_fork(void);
/* What a strategy did, summed over all of them (publish.c). */
pr_hidden uint64_t pr_publish_tables_freed(void);
pr_hidden uint64_t pr_publish_errors(void);
/* The report as one JSON object (report_json.c; stats_format:json). */
pr_hidden void pr_report_json(int fd);

/* --- when the shim starts, steps aside, and tells a child (life.c) --- */
/* The constructor's part: nothing that costs (docs/architecture.md). */
pr_hidden void pr_life_init(void);
/* From an interposed purge a strategy could act on, after the call. */
pr_hidden void pr_life_purge(void);
/* The program's API wants the strategy now: start it and wait. */
pr_hidden void pr_life_settle(void);
/* A blocking call no allocator makes (safe_point.c): a wanted start may
 * create its thread here.  One load when none is wanted. */
pr_hidden void pr_life_safe_point(void);
/* Around unshare, setns, seccomp (sandbox.c): no thread of ours left
 * during the call; filtered: a seccomp filter is now in place. */
pr_hidden int pr_life_quiesce(void);
pr_hidden void pr_life_resume(int token, bool filtered);
/* On every path that takes a lock or waits: a child made without atfork
 * handlers resets what the parent's threads held.  Two loads. */
pr_hidden void pr_life_check_child(void);
pr_hidden void pr_life_after_fork_child(void);
pr_hidden void pr_life_exit(void);

/* --- state (init.c, interpose.c) --- */
extern pr_hidden int pr_ready;	/* set once the ledger can be used */
/*
 * Depth of shim code on this thread.  While it is non-zero the interposed
 * calls pass straight through: what the shim itself maps, unmaps or
 * purges (through libc, in the worker or a ledger walk's callback) is not
 * the allocator's and must not come back into the ledger.
 */
extern pr_hidden __thread int pr_busy __attribute__((tls_model("initial-exec")));

#endif /* PTRECLAIM_CORE_H */
