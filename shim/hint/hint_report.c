/* SPDX-License-Identifier: MIT */
/*
 * hint_report.c - what hinting did, and which folio sizes the process
 * got: AnonHugePages of /proc/self/smaps_rollup (this process, PMD size)
 * and the per-size stats/ counters (system-wide: deltas since start
 * include other processes).  Report time only, never on a purge path.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "hint.h"

/* Append to a line, never past its end. */
static void add(char *line, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add(char *line, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(line);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + len, cap - len, fmt, ap);
	va_end(ap);
}

/* Per size: its switch and, where it is on and hinting read the counters
 * at its set-up, the fault deltas (never totals since boot). */
static void sizes_line(int fd, const struct pr_hint_view *v)
{
	const struct pr_thp *thp = v->thp;
	char line[1024] = "";

	add(line, sizeof(line) - 1, "ptreclaim: hint sizes thp=%s", thp->enabled);
	for (unsigned i = 0; i < thp->nr_mthp; i++) {
		const char *en = thp->mthp[i].enabled;
		long d[PR_HINT_NR_STATS];

		add(line, sizeof(line) - 1, " %ukB=%s", thp->mthp[i].kb, en);
		if (!strcmp(en, "never") || !v->stat0)
			continue;
		for (int s = 0; s < PR_HINT_NR_STATS; s++)
			d[s] = pr_sysfs_thp_stat(thp->mthp[i].kb,
						 pr_hint_stat_names[s]) -
			       v->stat0[i][s];
		add(line, sizeof(line) - 1,
		    "(sys_faults=+%ld fallback=+%ld split_deferred=+%ld split=+%ld)",
		    d[0], d[1], d[2], d[3]);
	}
	strcat(line, "\n");
	pr_write_str(fd, line);
}

void pr_hint_report(int fd)
{
	struct pr_hint_view v;
	char line[512];

	if (pr_conf.hint == PR_HINT_OFF)
		return;
	pr_hint_view(&v);
	snprintf(line, sizeof(line),
		 "ptreclaim: hint mode=%s%s%s regions=%u stopped_now=%u hinted=%llu hinted_mb=%llu stops=%llu stops_deferred=%llu aligned=%llu align_failed=%llu table_full=%llu failed=%llu split_probes=%llu vmas=%ld\n",
		 pr_hint_mode_name(pr_conf.hint),
		 v.idle ? " idle=" : "", v.idle ? v.idle : "", v.regions,
		 v.stopped_now, PR_U(v.st.hinted), PR_U(v.st.hinted_bytes >> 20),
		 PR_U(v.st.stopped), PR_U(v.st.stop_deferred),
		 PR_U(v.st.aligned), PR_U(v.st.align_failed),
		 PR_U(v.st.table_full), PR_U(v.st.failed),
		 PR_U(pr_hint_split_probes()), pr_count_vmas());
	pr_write_str(fd, line);
	snprintf(line, sizeof(line),
		 "ptreclaim: hint folios anon_kb=%ld anon_huge_kb=%ld\n",
		 pr_rollup_kb("Anonymous"), pr_rollup_kb("AnonHugePages"));
	pr_write_str(fd, line);
	if (v.thp)
		sizes_line(fd, &v);
}
