/* SPDX-License-Identifier: MIT */
/*
 * vma_query.c - what kind of VMAs cover a range, with PROCMAP_QUERY
 * (Linux 6.11) on /proc/self/maps: one ioctl per VMA, no text to parse.
 */
#include <errno.h>
#include <sys/ioctl.h>

#include "platform.h"

/* Older uapi headers lack it. */
struct pr_procmap_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset;
	uint64_t inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define PR_PROCMAP_QUERY _IOWR('f', 17, struct pr_procmap_query)
#define PR_PROCMAP_VMA_SHARED 0x08

static long query(long maps_fd, uintptr_t addr, struct pr_procmap_query *q)
{
	*q = (struct pr_procmap_query){ .size = sizeof(*q), .query_addr = addr };
	return pr_sys(SYS_ioctl, maps_fd, PR_PROCMAP_QUERY, (long)q, 0, 0, 0);
}

bool pr_vma_query_works(long maps_fd)
{
	struct pr_procmap_query q;

	return maps_fd >= 0 && query(maps_fd, (uintptr_t)&q, &q) == 0;
}

enum pr_vma_kind pr_vma_kind(long maps_fd, uintptr_t lo, uintptr_t hi)
{
	uintptr_t a = lo;

	if (maps_fd < 0)
		return PR_VMA_UNKNOWN;
	while (a < hi) {
		struct pr_procmap_query q;
		long r = query(maps_fd, a, &q);

		if (r == -ENOENT || (r == 0 && q.vma_start > a))
			return PR_VMA_HOLE;
		if (r == -ENOTTY || r == -EINVAL)
			return PR_VMA_UNKNOWN;
		if (r < 0 || q.vma_end <= a)
			return PR_VMA_OTHER;
		if ((q.vma_flags & PR_PROCMAP_VMA_SHARED) || q.inode ||
		    q.dev_major || q.dev_minor)
			return PR_VMA_OTHER;
		a = (uintptr_t)q.vma_end;
	}
	return PR_VMA_PRIVATE_ANON;
}
