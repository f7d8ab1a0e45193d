/* SPDX-License-Identifier: MIT */
/*
 * pt_need.h - the page-table memory a process needs for what it maps now,
 * and what it has (VmPTE).  Used by the adapter tests and benchmark.
 */
#ifndef PT_NEED_H
#define PT_NEED_H

#include <stdint.h>
#include <sys/types.h>

struct pt_need {
	uint64_t pte;	/* 2 MiB regions with a present or swapped page */
	uint64_t pmd;	/* 1 GiB regions with one */
	uint64_t pud;	/* 512 GiB regions with one */
};

/* Scan /proc/PID/maps and pagemap (pid 0: this process).  0 or -1. */
int pt_need_scan(pid_t pid, struct pt_need *out);

/* The tables those need, in KiB (what VmPTE counts: PTE, PMD and PUD). */
static inline uint64_t pt_need_kb(const struct pt_need *n)
{
	return 4 * (n->pte + n->pmd + n->pud);
}

/* A "Name:   123 kB" field of /proc/PID/status in KiB, or -1. */
long proc_status_kb(pid_t pid, const char *field);

#endif
