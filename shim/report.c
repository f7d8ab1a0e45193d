/* SPDX-License-Identifier: MIT */
/*
 * report.c - the summary: one key=value line per topic, every line starting
 * with "ptreclaim: " so scripts and people can both read it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "internal.h"

#define U(x) ((unsigned long long)(x))

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
	ptreclaim_stats_get(&st, sizeof(st));
	end_kb = pr_vmpte_kb();
	line(fd, "ptreclaim: summary pid=%d mode=%s kernel_frees_whole_pmd=%s\n",
	     (int)getpid(),
	     pr_advice_claims() ? "advice" :
	     pr_je_reclaims() ? "jemalloc-hooks" : pr_fence_mode(),
	     pr_caps.pt_reclaim_on_dontneed ? "yes" : "no");
	line(fd, "ptreclaim: calls madvise=%llu dontneed=%llu free=%llu remove=%llu munmap=%llu mmap=%llu mremap=%llu\n",
	     U(st.madvise_calls), U(st.dontneed_calls), U(st.free_calls),
	     U(st.remove_calls), U(st.munmap_calls), U(st.mmap_calls),
	     U(st.mremap_calls));
	line(fd, "ptreclaim: purged_bytes=%llu pmd_aligned_purges=%llu\n",
	     U(st.purged_bytes), U(st.pmd_aligned_purges));
	line(fd, "ptreclaim: regions tracked=%llu full=%llu dropped=%llu bound_hits=%llu\n",
	     U(st.regions_tracked), U(st.regions_full), U(st.regions_dropped),
	     U(st.ledger_bound_hits));
	line(fd, "ptreclaim: reclaimable_pte_pages=%ld waiting_lazy=%ld\n",
	     reclaimable, pr_verify_waiting());
	pr_fence_report(fd);
	pr_advice_report(fd);
	line(fd, "ptreclaim: vmpte_kb start=%llu peak=%llu end=%ld\n",
	     U(st.vmpte_start_kb), U(st.vmpte_peak_kb), end_kb);
	line(fd, "ptreclaim: shim_time_ns=%llu\n", U(st.shim_ns));
	pr_je_report(fd);
	pr_hint_report(fd);
	if (pr_conf.profile)
		pr_profile_report(fd, pr_conf.profile_top);
}
