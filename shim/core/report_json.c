/* SPDX-License-Identifier: MIT */
/*
 * report_json.c - the summary as one JSON object on one line
 * (stats_format:json), for programs that collect reports: the same
 * numbers as report.c's lines, and each strategy's state and reason.
 * Written with snprintf into a buffer on the stack, as report.c does.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "strategy.h"

struct jbuf {
	char b[4096];
	size_t n;
};

static void __attribute__((format(printf, 2, 3)))
put(struct jbuf *j, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (j->n >= sizeof(j->b))
		return;
	va_start(ap, fmt);
	r = vsnprintf(j->b + j->n, sizeof(j->b) - j->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		j->n += (size_t)r;
}

/* A JSON string: reasons are plain text, but may quote a name. */
static void put_str(struct jbuf *j, const char *s)
{
	if (!s) {
		put(j, "null");
		return;
	}
	put(j, "\"");
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			put(j, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			put(j, "\\u%04x", (unsigned)*s);
		else
			put(j, "%c", *s);
	}
	put(j, "\"");
}

static void put_strategies(struct jbuf *j)
{
	static const char *const states[] = { "off", "active", "unavailable" };

	put(j, ",\"strategies\":[");
	for (int id = 0; id < PR_STRAT_NR; id++) {
		const char *why;
		enum pr_strategy_state st = pr_strategy_get_state(id, &why);

		put(j, "%s{\"name\":\"%s\",\"state\":\"%s\",\"reason\":",
		    id ? "," : "", pr_strategy_name(id), states[st]);
		put_str(j, why);
		put(j, "}");
	}
	put(j, "]");
}

/* The kernel's advice numbers (null: absent) and what the advice
 * strategy did with them, as its report line says. */
static void put_number(struct jbuf *j, const char *key, int v)
{
	if (v > 0)
		put(j, ",\"%s\":%d", key, v);
	else
		put(j, ",\"%s\":null", key);
}

static void put_advice(struct jbuf *j)
{
	struct pr_advice_stats a;

	pr_advice_stats(&a);
	put(j, ",\"advice\":{\"calls\":%llu", PR_U(a.calls));
	put_number(j, "number", pr_caps.advice);
	put_number(j, "lazyfree_number", pr_caps.advice_lazyfree);
	put(j, ",\"regions_sent\":%llu,\"regions_freed\":%llu,\"refilled\":%llu,\"lazy_calls\":%llu,\"lazy_regions_sent\":%llu,\"lazy_kept\":%llu,\"lazy_freed\":%llu}",
	    PR_U(a.regions_sent), PR_U(a.regions_freed), PR_U(a.refilled),
	    PR_U(a.lazy_calls), PR_U(a.lazy_sent), PR_U(a.lazy_kept),
	    PR_U(a.lazy_freed));
}

void pr_report_json(int fd)
{
	struct ptreclaim_stats st;
	struct jbuf j = { .n = 0 };
	long reclaimable;

	pr_ledger_maintain();
	reclaimable = pr_verify_reclaimable();
	pr_stats_snapshot(&st);
	put(&j, "{\"pid\":%d,\"mode\":\"%s\",\"kernel_frees_whole_pmd\":%s",
	    (int)getpid(), pr_strategy_name(pr_strategy_running()),
	    pr_caps.pt_reclaim_on_dontneed ? "true" : "false");
	put(&j, ",\"calls\":{\"madvise\":%llu,\"dontneed\":%llu,\"free\":%llu,\"remove\":%llu,\"munmap\":%llu,\"mmap\":%llu,\"mremap\":%llu}",
	    PR_U(st.madvise_calls), PR_U(st.dontneed_calls), PR_U(st.free_calls),
	    PR_U(st.remove_calls), PR_U(st.munmap_calls), PR_U(st.mmap_calls),
	    PR_U(st.mremap_calls));
	put(&j, ",\"purged_bytes\":%llu,\"pmd_aligned_purges\":%llu",
	    PR_U(st.purged_bytes), PR_U(st.pmd_aligned_purges));
	put(&j, ",\"regions\":{\"tracked\":%llu,\"full\":%llu,\"dropped\":%llu,\"bound_hits\":%llu}",
	    PR_U(st.regions_tracked), PR_U(st.regions_full),
	    PR_U(st.regions_dropped), PR_U(st.ledger_bound_hits));
	put(&j, ",\"reclaimable_pte_pages\":%ld,\"waiting_lazy\":%ld",
	    reclaimable, pr_verify_waiting());
	put(&j, ",\"tables_freed\":%llu,\"errors\":%llu",
	    PR_U(pr_publish_tables_freed()), PR_U(pr_publish_errors()));
	put(&j, ",\"vmpte_kb\":{\"start\":%llu,\"peak\":%llu,\"samples\":%llu,\"end\":%ld}",
	    PR_U(st.vmpte_start_kb), PR_U(st.vmpte_peak_kb),
	    PR_U(pr_vmpte_samples()), pr_vmpte_kb());
	put(&j, ",\"shim_time_ns\":%llu", PR_U(st.shim_ns));
	put_advice(&j);
	put_strategies(&j);
	put(&j, "}\n");
	pr_write_str(fd, j.b);
}
