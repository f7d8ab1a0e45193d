/* SPDX-License-Identifier: MIT */
/*
 * ptneed PID - print "vmpte_kb=N need_kb=N rss_kb=N" for another process:
 * its VmPTE, and the page tables what it maps now needs (pagemap).
 */
#include <stdio.h>
#include <stdlib.h>

#include "pagetables.h"

int main(int argc, char **argv)
{
	struct pt_need n;
	pid_t pid;

	if (argc != 2 || (pid = (pid_t)atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: ptneed PID\n");
		return 2;
	}
	if (pt_need_scan_pid(pid, &n)) {
		perror("ptneed");
		return 1;
	}
	printf("vmpte_kb=%ld need_kb=%llu rss_kb=%ld\n",
	       status_kb_pid(pid, "VmPTE"),
	       (unsigned long long)(4 * pt_need_pages(&n)), status_kb_pid(pid, "VmRSS"));
	return 0;
}
