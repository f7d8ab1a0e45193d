/* SPDX-License-Identifier: MIT */
/*
 * allocator.h - find out which malloc the process is running on (whatever
 * LD_PRELOAD chose) and ask it to give its free memory back to the kernel.
 */
#ifndef CHURN_ALLOCATOR_H
#define CHURN_ALLOCATOR_H

/* Resolve the allocator once; returns its name ("glibc", "jemalloc",
 * "tcmalloc", "mimalloc" or "unknown"). */
const char *allocator_init(void);

/* The allocator's own "release everything free" call. */
void allocator_purge(void);

#endif
