/* SPDX-License-Identifier: MIT */
/*
 * procfs.c - fields of /proc/PID/status and /proc/self/smaps_rollup, and
 * the VMA count, parsed without stdio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

/* "\nKey:" in buf (or at its start), and the number after it; -1. */
static long field(const char *buf, const char *key)
{
	size_t n = strlen(key);
	const char *p = buf;

	while (p && *p) {
		if (!strncmp(p, key, n) && p[n] == ':')
			return strtol(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return -1;
}

long pr_proc_status(pid_t pid, const char *key)
{
	char path[48], buf[4096];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	if (pr_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return field(buf, key);
}

long pr_vmpte_kb_of(pid_t pid)
{
	return pr_proc_status(pid, "VmPTE");
}

long pr_rollup_kb(const char *key)
{
	char buf[2048];

	if (pr_read_file("/proc/self/smaps_rollup", buf, sizeof(buf)) <= 0)
		return -1;
	return field(buf, key);
}

/* Lines of /proc/self/maps, read in pieces (it can be long). */
long pr_count_vmas(void)
{
	char buf[4096];
	long fd = pr_open_ro("/proc/self/maps"), n, lines = 0;

	if (fd < 0)
		return -1;
	while ((n = pr_sys(SYS_read, fd, (long)buf, sizeof(buf), 0, 0, 0)) > 0)
		for (long i = 0; i < n; i++)
			lines += buf[i] == '\n';
	pr_close(&fd);
	return lines;
}
