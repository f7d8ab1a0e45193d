// SPDX-License-Identifier: MIT
/*
 * On plain Linux 6.12 (vm-run --stock): the advice does not exist.  The
 * sysfs file and the counters are absent, the number the series uses is
 * rejected with EINVAL by madvise() and process_madvise(), and even a
 * whole-PMD MADV_DONTNEED leaves the PTE table in place.
 */
#include "rpt.h"

#include <sys/uio.h>

int main(void)
{
	size_t len = 4 * PMD_SZ;
	char *a = map_anon(len);
	struct iovec iov = { a, len };
	long pte0, pte1;
	int pidfd, ret;

	CHECK(rpt_advice() < 0, "/sys/kernel/mm/reclaim_pt/advice is absent");
	CHECK(vmstat("reclaim_pt_freed") < 0, "no reclaim_pt_* counters in /proc/vmstat");
	touch(a, len, PG);
	purge(a, len, 16 * PG);
	ret = madvise(a, len, MADV_RECLAIM_PT_PATCHED);
	CHECK(ret == -1 && errno == EINVAL, "madvise(%d) fails with EINVAL (%s)",
	      MADV_RECLAIM_PT_PATCHED, strerror(errno));
	pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	ret = syscall(SYS_process_madvise, pidfd, &iov, 1,
		      MADV_RECLAIM_PT_PATCHED, 0);
	CHECK(ret == -1 && errno == EINVAL,
	      "process_madvise(%d) fails with EINVAL (%s)",
	      MADV_RECLAIM_PT_PATCHED, strerror(errno));
	touch(a, len, PG);
	pte0 = status_kb("VmPTE");
	ret = madvise(a, len, MADV_DONTNEED);
	pte1 = status_kb("VmPTE");
	CHECK(ret == 0 && pte1 == pte0,
	      "whole-PMD MADV_DONTNEED leaves the tables (VmPTE %ld -> %ld kB)",
	      pte0, pte1);
	printf("%s: %d failure(s)\n", rpt_failures ? "FAIL" : "PASS",
	       rpt_failures);
	return rpt_failures ? 1 : 0;
}
