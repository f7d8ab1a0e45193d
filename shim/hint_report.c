/* SPDX-License-Identifier: MIT */
/*
 * hint_report.c - what hinting did, and which folio sizes the process
 * got: AnonHugePages of /proc/self/smaps_rollup (this process, PMD size)
 * and the per-size stats/ counters (system-wide: deltas since start
 * include other processes).  Report time only, never on a purge path.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>

#include "internal.h"

static const char *const stat_names[] = {
	"anon_fault_alloc", "anon_fault_fallback", "split_deferred", "split" };
#define NR_STATS 4
static long stat0[PR_MAX_MTHP][NR_STATS];

void pr_hint_folio_start(const struct pr_thp *thp)
{
	for (unsigned i = 0; i < thp->nr_mthp; i++)
		for (int s = 0; s < NR_STATS; s++)
			stat0[i][s] = pr_caps_thp_stat(thp->mthp[i].kb,
						       stat_names[s]);
}

static long rollup_kb(const char *buf, const char *key)
{
	const char *p = strstr(buf, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* Lines of /proc/self/maps, read in pieces (it can be long). */
static long count_vmas(void)
{
	char buf[4096];
	long fd = pr_sys(SYS_openat, AT_FDCWD, (long)"/proc/self/maps",
			 O_RDONLY | O_CLOEXEC, 0, 0, 0), n, lines = 0;

	if (fd < 0)
		return -1;
	while ((n = pr_sys(SYS_read, fd, (long)buf, sizeof(buf), 0, 0, 0)) > 0)
		for (long i = 0; i < n; i++)
			lines += buf[i] == '\n';
	pr_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	return lines;
}

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

/* Per size: its switch and, where it is on, the fault deltas. */
static void sizes_line(int fd, const struct pr_thp *thp)
{
	char line[1024] = "";

	add(line, sizeof(line) - 1, "ptreclaim: hint sizes thp=%s", thp->enabled);
	for (unsigned i = 0; i < thp->nr_mthp; i++) {
		const char *en = thp->mthp[i].enabled;
		long now[NR_STATS];

		add(line, sizeof(line) - 1, " %ukB=%s", thp->mthp[i].kb, en);
		if (!strcmp(en, "never"))
			continue;
		for (int s = 0; s < NR_STATS; s++)
			now[s] = pr_caps_thp_stat(thp->mthp[i].kb, stat_names[s]);
		add(line, sizeof(line) - 1,
		    "(sys_faults=+%ld fallback=+%ld split_deferred=+%ld split=+%ld)",
		    now[0] - stat0[i][0], now[1] - stat0[i][1],
		    now[2] - stat0[i][2], now[3] - stat0[i][3]);
	}
	strcat(line, "\n");
	pr_write_str(fd, line);
}

void pr_hint_report(int fd)
{
	struct pr_hint_stats st;
	const struct pr_thp *thp;
	const char *idle;
	unsigned regions, stopped;
	char buf[2048], line[512];

	thp = pr_hint_state(&st, &idle, &regions, &stopped);
	if (pr_conf.hint == PR_HINT_OFF)
		return;
	if (pr_read_file("/proc/self/smaps_rollup", buf, sizeof(buf)) <= 0)
		buf[0] = '\0';
	snprintf(line, sizeof(line),
		 "ptreclaim: hint mode=%s%s%s regions=%u stopped_now=%u hinted=%llu hinted_mb=%llu stops=%llu stops_deferred=%llu aligned=%llu align_failed=%llu table_full=%llu failed=%llu split_probes=%llu vmas=%ld\n",
		 pr_hint_mode_name(pr_conf.hint),
		 idle ? " idle=" : "", idle ? idle : "", regions, stopped,
		 (unsigned long long)st.hinted,
		 (unsigned long long)(st.hinted_bytes >> 20),
		 (unsigned long long)st.stopped,
		 (unsigned long long)st.stop_deferred,
		 (unsigned long long)st.aligned,
		 (unsigned long long)st.align_failed,
		 (unsigned long long)st.table_full,
		 (unsigned long long)st.failed,
		 (unsigned long long)pr_hint_split_probes(), count_vmas());
	pr_write_str(fd, line);
	snprintf(line, sizeof(line),
		 "ptreclaim: hint folios anon_kb=%ld anon_huge_kb=%ld\n",
		 rollup_kb(buf, "\nAnonymous:"), rollup_kb(buf, "\nAnonHugePages:"));
	pr_write_str(fd, line);
	sizes_line(fd, thp);
}
