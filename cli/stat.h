/* SPDX-License-Identifier: MIT */
/*
 * stat.h - one sample of one process for `ptreclaim stat` and its
 * writers: read by stat_read.c (procfs, pagemap, the shim's stats page),
 * printed by stat.c (table, JSON, Prometheus).
 */
#ifndef PTRECLAIM_CLI_STAT_H
#define PTRECLAIM_CLI_STAT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "publish.h"

struct stat_shim {
	bool loaded;		/* libptreclaim.so is in the maps */
	bool published;		/* a stats page of this pid was read */
	int inherited_from;	/* only a page of this (parent) pid */
	char err[64];		/* the page is there but could not be read */
	char strategy[PR_PUB_NAME_LEN];
	uint64_t tables_freed, regions_tracked, regions_full, errors;
	uint64_t published_ns;
	unsigned nr_strategies;
	char names[PR_PUB_STRATS][PR_PUB_NAME_LEN];
	char state[PR_PUB_STRATS][16];
	char why[PR_PUB_STRATS][PR_PUB_WHY_LEN];
	unsigned nr_counters;
	char counter_name[PR_PUB_COUNTERS][PR_PUB_NAME_LEN];
	uint64_t counter[PR_PUB_COUNTERS];
};

struct stat_proc {
	pid_t pid;
	double time;		/* when sampled, seconds since the epoch */
	char comm[32];
	int err;		/* errno of the first thing not read (0: all) */
	const char *err_what;	/* what it was: "status", "pagemap", "maps" */
	long vmpte_kb, rss_kb;	/* -1: not read */
	long long need_kb;	/* -1: pagemap not readable */
	struct stat_shim shim;
};

/* Everything about pid; p->err says what could not be read. */
void stat_read(pid_t pid, struct stat_proc *p);
/* The stats page of pid, if it has one: fills p->shim. */
void stat_read_shim(struct stat_proc *p);

#endif
