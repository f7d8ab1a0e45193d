/* SPDX-License-Identifier: MIT */
/*
 * report.c - the summary: one key=value line per topic, every line starting
 * with "ptreclaim: " so scripts and people can both read it; and which
 * processes write it at exit.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "hint.h"
#include "strategy.h"

static void line(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void line(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pr_write_str(fd, buf);
}

void pr_report(int fd)
{
	struct ptreclaim_stats st;
	long reclaimable;
	long end_kb;

	if (pr_conf.stats_json) {
		pr_report_json(fd);
		return;
	}
	pr_ledger_maintain();
	reclaimable = pr_verify_reclaimable();
	pr_stats_snapshot(&st);
	end_kb = pr_vmpte_kb();
	/* The value at exit is the last sample: no peak below it. */
	if (end_kb > 0 && (uint64_t)end_kb > st.vmpte_peak_kb)
		st.vmpte_peak_kb = (uint64_t)end_kb;
	line(fd, "ptreclaim: summary pid=%d mode=%s kernel_frees_whole_pmd=%s\n",
	     (int)getpid(),
	     pr_strategy_name(pr_strategy_running()),
	     pr_caps.pt_reclaim_on_dontneed ? "yes" : "no");
	line(fd, "ptreclaim: calls madvise=%llu dontneed=%llu free=%llu remove=%llu munmap=%llu mmap=%llu mremap=%llu\n",
	     PR_U(st.madvise_calls), PR_U(st.dontneed_calls), PR_U(st.free_calls),
	     PR_U(st.remove_calls), PR_U(st.munmap_calls), PR_U(st.mmap_calls),
	     PR_U(st.mremap_calls));
	line(fd, "ptreclaim: purged_bytes=%llu pmd_aligned_purges=%llu\n",
	     PR_U(st.purged_bytes), PR_U(st.pmd_aligned_purges));
	line(fd, "ptreclaim: regions tracked=%llu full=%llu dropped=%llu bound_hits=%llu\n",
	     PR_U(st.regions_tracked), PR_U(st.regions_full), PR_U(st.regions_dropped),
	     PR_U(st.ledger_bound_hits));
	line(fd, "ptreclaim: reclaimable_pte_pages=%ld waiting_lazy=%ld\n",
	     reclaimable, pr_verify_waiting());
	pr_strategy_report(fd, PR_STRAT_FENCE);
	pr_strategy_report(fd, PR_STRAT_ADVICE);
	/* samples=2: only the start and this report read it (no worker). */
	line(fd, "ptreclaim: vmpte_kb start=%llu peak_sampled=%llu samples=%llu end=%ld\n",
	     PR_U(st.vmpte_start_kb), PR_U(st.vmpte_peak_kb),
	     PR_U(pr_vmpte_samples()), end_kb);
	line(fd, "ptreclaim: shim_time_ns=%llu\n", PR_U(st.shim_ns));
	pr_strategy_report(fd, PR_STRAT_JEMALLOC);
	pr_hint_report(fd);
	if (pr_conf.profile)
		pr_profile_report(fd, pr_conf.profile_top);
}

/* --- which processes write the report at exit --- */

/*
 * The rule: a process writes its report at exit if it made a purge the
 * shim saw (madvise DONTNEED, FREE or REMOVE, a jemalloc decommit) since
 * it began - its start, or the fork that made it - or if it is the
 * process the shim started in and it never forked.  So a server's
 * children that never purged write nothing (PostgreSQL's backends), the
 * parent of a daemon that only forked and exited writes nothing, and a
 * plain command always writes one.
 */
static struct {
	pid_t pid;		/* whose counts these are */
	bool child;		/* made by a fork since the shim started */
	bool forked;		/* has made a child */
	uint64_t inherited;	/* purges counted before pid began */
} self;

static uint64_t purges_seen(void)
{
	return pr_counter_sum(PRC_DONTNEED) + pr_counter_sum(PRC_FREE) +
	       pr_counter_sum(PRC_REMOVE) + pr_counter_sum(PRC_JE_DECOMMITS);
}

static void report_fork_parent(void)
{
	self.forked = true;
}

static void report_fork_child(void)
{
	self.pid = getpid();
	self.child = true;
	self.forked = false;
	self.inherited = purges_seen();
}

static bool report_wanted(void)
{
	return pr_conf.stats || pr_conf.stats_file[0];
}

/* The pid only where a report may be written: a process that wants none
 * makes no system call for it (start-up cost, bench/exec-cost). */
void pr_report_init(void)
{
	if (!report_wanted())
		return;
	self.pid = getpid();
	pthread_atfork(NULL, report_fork_parent, report_fork_child);
}

bool pr_report_due(void)
{
	/* A child of a fork no handler saw (_Fork) cannot tell its purges
	 * from its parent's: they all count as its own. */
	bool child;

	/* No system call unless a report is wanted: a sandboxed process may
	 * be killed for any call it did not list. */
	if (!report_wanted())
		return false;
	child = self.child || getpid() != self.pid;
	if (purges_seen() > self.inherited)
		return true;
	return !child && !self.forked;
}

/* The report to stderr or stats_file; a file that cannot be opened costs
 * one line and no report. */
static void report_to_destination(void)
{
	long fd;

	if (!pr_conf.stats_file[0]) {
		pr_report(2);
		return;
	}
	fd = pr_report_file_open(pr_conf.stats_file);
	if (fd < 0) {
		line(2, "ptreclaim: stats_file %s: %s; no report\n",
		     pr_conf.stats_file, strerrordesc_np((int)-fd));
		return;
	}
	pr_report((int)fd);
	pr_close(&fd);
}

void pr_report_at_exit(void)
{
	struct pr_sigpipe sp;

	if (!pr_report_due())
		return;
	/* Whatever is written, into a closed pipe it fails, never kills. */
	pr_sigpipe_block(&sp);
	report_to_destination();
	pr_sigpipe_restore(&sp);
}
