/* SPDX-License-Identifier: MIT */
/*
 * present - what the fence must leave alone, and what it must take.
 *
 *   A  all 512 pages purged, then one written again: not empty, left
 *      alone, the written page intact, the ledger corrected;
 *   B  all purged: empty, its table freed;
 *   C  all purged, then one page read (the zero page is mapped): left
 *      alone, still reads zero;
 *   D  all purged, but registered with the program's own userfaultfd:
 *      EBUSY, left alone and reported;
 *   E  a private mapping of a memfd (not anonymous), purged: left alone,
 *      the file's bytes still there;
 *   F  all purged, one page guarded (MADV_GUARD_INSTALL, where the kernel
 *      has it): a marker is not empty, left alone.  pagemap reports the
 *      marker as a swap entry (bit 62, plus bit 58), so this is also the
 *      swapped-out case, which this machine (no swap) can't make.
 */
#include "fence_test.h"

#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

int main(void)
{
	struct ptreclaim_fence_stats s0, s1;
	char *p = map_regions(6);
	char *A = p, *B = p + PMD, *C = p + 2 * PMD, *D = p + 3 * PMD;
	char *E = p + 4 * PMD, *F = p + 5 * PMD;
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { (uintptr_t)D, PMD },
		.mode = UFFDIO_REGISTER_MODE_MISSING };
	int uffd, memfd, guarded;
	long pte0, pte1;

	api_init_active();
	/* E: a private file mapping in place of the fifth region. */
	memfd = memfd_create("fence-present", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, PMD))
		die("memfd");
	for (size_t i = 0; i < NPG; i++)
		if (pwrite(memfd, "file", 4, (off_t)(i * PG)) != 4)
			die("pwrite");
	if (mmap(E, PMD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
		 memfd, 0) == MAP_FAILED)
		die("mmap memfd");

	fill_pages(p, 6 * NPG, 77);
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		die("userfaultfd");
	purge_pieces(p, 6 * PMD, MADV_DONTNEED);
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		die("UFFDIO_REGISTER");
	strcpy(A + 100 * PG, "still here");
	CHECK(C[7 * PG] == 0, "C reads zero");
	guarded = madvise(F + 9 * PG, PG, MADV_GUARD_INSTALL) == 0;

	s0 = fstats();
	pte0 = status_kb("VmPTE");
	flush();
	flush();
	pte1 = status_kb("VmPTE");
	s1 = fstats();
	printf("present: VmPTE %ld -> %ld kB; zapped +%llu not_empty +%llu busy +%llu not_anon +%llu\n",
	       pte0, pte1,
	       (unsigned long long)(s1.regions_zapped - s0.regions_zapped),
	       (unsigned long long)(s1.skipped_not_empty - s0.skipped_not_empty),
	       (unsigned long long)(s1.skipped_busy - s0.skipped_busy),
	       (unsigned long long)(s1.skipped_not_anon - s0.skipped_not_anon));

	CHECK(!strcmp(A + 100 * PG, "still here"), "A's written page lost");
	CHECK(mapped_pages(A, NPG) == 1, "A maps %u pages, want 1",
	      mapped_pages(A, NPG));
	CHECK(mapped_pages(B, NPG) == 0, "B maps pages");
	CHECK(mapped_pages(C, NPG) == 1 && C[7 * PG] == 0,
	      "C's zero page changed");
	CHECK(!memcmp(E + 5 * PG, "file", 4), "E's file bytes lost");
	CHECK(s1.regions_zapped - s0.regions_zapped >= 1, "B was not zapped");
	/* B has no table left: zapping it whole frees nothing more. */
	{
		long a = status_kb("VmPTE"), b;

		syscall(SYS_madvise, B, PMD, MADV_DONTNEED);
		b = status_kb("VmPTE");
		CHECK(a == b, "B still had a table (VmPTE %ld -> %ld on zap)",
		      a, b);
	}
	CHECK(s1.skipped_not_empty - s0.skipped_not_empty >= (uint64_t)(2 + guarded),
	      "A, C%s not counted as in use", guarded ? ", F" : "");
	CHECK(s1.skipped_busy - s0.skipped_busy >= 1, "D's EBUSY not counted");
	CHECK(s1.skipped_not_anon - s0.skipped_not_anon >= 1,
	      "E not counted as not anonymous");
	/* The zapped region works as fresh memory. */
	CHECK(B[12345] == 0, "B reads non-zero");
	B[12345] = 5;
	CHECK(B[12345] == 5, "B can't be written");
	/* D is still ours and still registered with our userfaultfd. */
	struct uffdio_range rng = { (uintptr_t)D, PMD };
	CHECK(ioctl(uffd, UFFDIO_UNREGISTER, &rng) == 0, "D unregister: %s",
	      strerror(errno));
	CHECK(D[5] == 0, "D reads non-zero");
	if (guarded)
		CHECK(mapped_pages(F, NPG) == 1, "F's guard marker gone");
	if (!guarded)	/* one case of six; A to E are the test */
		printf("present: no MADV_GUARD_INSTALL here: F not tried\n");
	CHECK_DONE();
}
