/* SPDX-License-Identifier: MIT */
/*
 * report.c - the summary: one key=value line per topic, every line starting
 * with "ptreclaim: " so scripts and people can both read it.
 */
#include <stdarg.h>
#include <stdio.h>
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

	pr_ledger_maintain();
	reclaimable = pr_verify_reclaimable();
	pr_stats_snapshot(&st);
	end_kb = pr_vmpte_kb();
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
	line(fd, "ptreclaim: vmpte_kb start=%llu peak_sampled=%llu end=%ld\n",
	     PR_U(st.vmpte_start_kb), PR_U(st.vmpte_peak_kb), end_kb);
	line(fd, "ptreclaim: shim_time_ns=%llu\n", PR_U(st.shim_ns));
	pr_strategy_report(fd, PR_STRAT_JEMALLOC);
	pr_hint_report(fd);
	if (pr_conf.profile)
		pr_profile_report(fd, pr_conf.profile_top);
}
