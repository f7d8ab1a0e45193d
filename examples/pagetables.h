/* SPDX-License-Identifier: MIT */
/*
 * pagetables.h - what the process's page tables cost (VmPTE) against what
 * they must cost: one table per 2 MiB (PTE), 1 GiB (PMD) and 512 GiB (PUD)
 * region that still maps a page, found from /proc/self/pagemap.
 */
#ifndef CHURN_PAGETABLES_H
#define CHURN_PAGETABLES_H

#include <stdint.h>
#include <sys/types.h>

struct pt_need {
	uint64_t pte;	/* 2 MiB regions mapping a present or swapped page */
	uint64_t pmd;	/* 1 GiB regions doing so */
	uint64_t pud;	/* 512 GiB regions doing so */
};

/* Table pages the process needs: pte + pmd + pud. */
static inline uint64_t pt_need_pages(const struct pt_need *n)
{
	return n->pte + n->pmd + n->pud;
}

/* Scan the whole address space.  No malloc: safe at any point.
 * Returns 0, or -1 with errno set. */
int pt_need_scan(struct pt_need *out);
/* The same for another process (pid 0: this one). */
int pt_need_scan_pid(pid_t pid, struct pt_need *out);

/* Diagnostic, destroys nothing in use but changes the process: for every
 * aligned 2 MiB region inside one private anonymous VMA that maps no page,
 * call madvise(MADV_DONTNEED) on exactly that region (straight to the
 * kernel, past any shim), which PT_RECLAIM answers by freeing its PTE
 * table.  Returns the table pages freed (VmPTE drop), or -1.  Only for a
 * process with no other thread touching memory. */
long pt_zap_empty(void);

/* MADV_PAGEOUT over the private anonymous memory (memory pressure on
 * demand: discards lazily freed pages).  Returns 0, or -1. */
int pt_pageout_anon(void);

/* A "Key:   N kB" field of /proc/self/status in kB, or -1. */
long status_kb(const char *key);
long status_kb_pid(pid_t pid, const char *key);
/* The same from /proc/self/smaps_rollup (Anonymous, AnonHugePages). */
long rollup_kb(const char *key);
/* Lines of /proc/self/maps: the VMAs. */
long vma_count(void);

/* PMD-size THP folios the process maps a page of (folios.c). */
struct thp_held {
	uint64_t held_kb;	/* their whole size */
	uint64_t mapped_kb;	/* of it, mapped here (counted in VmRSS) */
	uint64_t zero_kb;	/* present pages anywhere that hold only zeros */
};
/* 0, or -1 where PFNs are hidden (not root) or a file can't be read. */
int thp_held_scan(struct thp_held *out);

#endif
