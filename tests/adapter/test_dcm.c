/* SPDX-License-Identifier: MIT */
/*
 * Unit test: the decommit map.  Marks, completion of a region, the
 * whole-PMD reclaim (VmPTE falls by one table, neighbours keep their
 * bytes), batching of adjacent regions, commit, forget, void marks
 * after a disable, and locks held at fork by threads the child lacks.  Linked with the shim's objects.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"

static uintptr_t area(size_t len)
{
	uintptr_t a = (uintptr_t)map_pmd_aligned(len);

	/* 4 KiB pages, so every region has a table of its own. */
	madvise((void *)a, len, MADV_NOHUGEPAGE);
	memset((void *)a, 0xa5, len);
	return a;
}

/* What decommit does: purge, then mark. */
static void decommit(uintptr_t s, uintptr_t e)
{
	CHECK(pr_sys(SYS_madvise, (long)s, (long)(e - s), MADV_DONTNEED, 0, 0,
		     0) == 0);
	pr_dcm_decommitted(s, e, true);
}

static bool all_bytes(uintptr_t s, uintptr_t e, unsigned char v)
{
	for (const unsigned char *p = (void *)s; p < (unsigned char *)e; p++)
		if (*p != v)
			return false;
	return true;
}

static uintptr_t busy_region;
static volatile int stop;

/* Takes and drops the region's lock as fast as it can. */
static void *locker(void *arg)
{
	(void)arg;
	while (!stop) {
		pr_dcm_decommitted(busy_region, busy_region + 4096, true);
		pr_dcm_committed(busy_region, busy_region + 4096);
	}
	return NULL;
}

/*
 * fork while another thread takes a region's lock over and over: some
 * children start with the lock held by a thread they do not have.  They
 * must get it anyway (or be killed by the alarm).
 */
static void fork_with_lock_held(uintptr_t region)
{
	pthread_t th;
	int hung = 0;

	busy_region = region;
	pthread_create(&th, NULL, locker, NULL);
	for (int i = 0; i < 300; i++) {
		int st;
		pid_t pid = fork();

		if (pid == 0) {
			alarm(2);
			pr_dcm_committed(region, region + PR_PMD_SIZE);
			pr_dcm_decommitted(region, region + 8192, true);
			_exit(pr_dcm_count(region, region + PR_PMD_SIZE) == 2 ? 0 : 1);
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			hung++;
	}
	stop = 1;
	pthread_join(th, NULL);
	CHECK(hung == 0);
}

int main(void)
{
	uintptr_t a = area(8 * PR_PMD_SIZE);
	uint64_t regions, calls, tables;
	long pte0, pte1;

	/* Caps are probed when the shim starts (the first purge): now. */
	pr_life_settle();
	if (!pr_caps.pt_reclaim_on_dontneed) {
		printf("kernel keeps tables on whole-PMD DONTNEED: skipped\n");
		return 77;
	}
	pr_dcm_enable(true);
	regions = pr_counter_sum(PRC_JE_REGIONS_RECLAIMED);
	calls = pr_counter_sum(PRC_JE_RECLAIM_CALLS);
	tables = pr_counter_sum(PRC_JE_PTE_RECLAIMED);

	/* Half a region: marked, nothing reclaimed. */
	decommit(a, a + MIB);
	CHECK(pr_dcm_count(a, a + PR_PMD_SIZE) == 256);
	CHECK(pr_counter_sum(PRC_JE_RECLAIM_CALLS) == calls);

	/* The other half completes it: one call, one table fewer. */
	pte0 = pr_vmpte_kb();
	decommit(a + MIB, a + 2 * MIB);
	pte1 = pr_vmpte_kb();
	CHECK(pr_dcm_count(a, a + PR_PMD_SIZE) == 512);
	CHECK(pr_counter_sum(PRC_JE_RECLAIM_CALLS) == calls + 1);
	CHECK(pr_counter_sum(PRC_JE_REGIONS_RECLAIMED) == regions + 1);
	CHECK(pr_counter_sum(PRC_JE_PTE_RECLAIMED) == tables + 1);
	CHECK(pte1 == pte0 - 4);
	/* The next region was not touched. */
	CHECK(all_bytes(a + PR_PMD_SIZE, a + 2 * PR_PMD_SIZE, 0xa5));

	/* Commit one page: unmarked, and it reads zero. */
	pr_dcm_committed(a + 8192, a + 12288);
	CHECK(pr_dcm_count(a, a + PR_PMD_SIZE) == 511);
	CHECK(all_bytes(a + 8192, a + 12288, 0));
	memset((void *)(a + 8192), 0x11, 4096);
	/* Decommitting it again completes the region again. */
	decommit(a + 8192, a + 12288);
	CHECK(pr_counter_sum(PRC_JE_REGIONS_RECLAIMED) == regions + 2);

	/* Two partial regions completed by one decommit: one call for both. */
	calls = pr_counter_sum(PRC_JE_RECLAIM_CALLS);
	regions = pr_counter_sum(PRC_JE_REGIONS_RECLAIMED);
	decommit(a + 2 * PR_PMD_SIZE, a + 2 * PR_PMD_SIZE + MIB);
	decommit(a + 3 * PR_PMD_SIZE + MIB, a + 4 * PR_PMD_SIZE);
	decommit(a + 2 * PR_PMD_SIZE + MIB, a + 3 * PR_PMD_SIZE + MIB);
	CHECK(pr_counter_sum(PRC_JE_RECLAIM_CALLS) == calls + 1);
	CHECK(pr_counter_sum(PRC_JE_REGIONS_RECLAIMED) == regions + 2);
	CHECK(all_bytes(a + 4 * PR_PMD_SIZE, a + 5 * PR_PMD_SIZE, 0xa5));

	/* A whole region in one decommit: the kernel freed it, no extra call. */
	calls = pr_counter_sum(PRC_JE_RECLAIM_CALLS);
	decommit(a + 4 * PR_PMD_SIZE, a + 5 * PR_PMD_SIZE);
	CHECK(pr_counter_sum(PRC_JE_RECLAIM_CALLS) == calls);
	CHECK(pr_dcm_count(a + 4 * PR_PMD_SIZE, a + 5 * PR_PMD_SIZE) == 512);

	/* Unmapped: forgotten. */
	decommit(a + 5 * PR_PMD_SIZE, a + 5 * PR_PMD_SIZE + MIB);
	munmap((void *)(a + 5 * PR_PMD_SIZE), MIB);
	CHECK(pr_dcm_count(a + 5 * PR_PMD_SIZE, a + 6 * PR_PMD_SIZE) == 0);

	/* Disabled: marks are void and a complete region is left alone. */
	decommit(a + 6 * PR_PMD_SIZE, a + 6 * PR_PMD_SIZE + MIB);
	pr_dcm_enable(false);
	CHECK(pr_dcm_count(a + 6 * PR_PMD_SIZE, a + 7 * PR_PMD_SIZE) == 0);
	calls = pr_counter_sum(PRC_JE_RECLAIM_CALLS);
	decommit(a + 6 * PR_PMD_SIZE + MIB, a + 7 * PR_PMD_SIZE);
	CHECK(pr_counter_sum(PRC_JE_RECLAIM_CALLS) == calls);
	CHECK(all_bytes(a + 7 * PR_PMD_SIZE, a + 8 * PR_PMD_SIZE, 0xa5));

	pr_dcm_enable(true);
	fork_with_lock_held(a + 7 * PR_PMD_SIZE);
	CHECK_DONE();
}
