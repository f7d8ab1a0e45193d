// SPDX-License-Identifier: MIT
/*
 * Functional tests of MADV_RECLAIM_PT on the booted patched kernel.
 * Every case checks that VmPTE moves by exactly one page per table the
 * advice may free, that /proc/vmstat agrees, and that every byte that was
 * in use is intact.
 */
#include "rpt.h"

#include <linux/userfaultfd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/wait.h>

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif

static int adv;

struct snap {
	long pte_kb, freed, not_empty;
};

static struct snap snap(void)
{
	struct snap s = {
		status_kb("VmPTE"),
		vmstat("reclaim_pt_freed"),
		vmstat("reclaim_pt_not_empty"),
	};
	return s;
}

/* Run the advice; report VmPTE and counter deltas. */
static int reclaim(void *a, size_t len, struct snap *d)
{
	struct snap s0 = snap(), s1;
	int ret = madvise(a, len, adv);
	int err = errno;

	s1 = snap();
	d->pte_kb = s0.pte_kb - s1.pte_kb;
	d->freed = s1.freed - s0.freed;
	d->not_empty = s1.not_empty - s0.not_empty;
	errno = err;
	return ret;
}

static void fill(char *a, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		a[i] = (char)(seed + i * 7 + (i >> 12));
}

static int same(const char *a, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (a[i] != (char)(seed + i * 7 + (i >> 12)))
			return 0;
	return 1;
}

/* Like same(), for the part [off, off + len) of an area filled with @seed. */
static int same_at(const char *a, size_t off, size_t len, unsigned int seed)
{
	size_t i;

	for (i = off; i < off + len; i++)
		if (a[i] != (char)(seed + i * 7 + (i >> 12)))
			return 0;
	return 1;
}

static int zero(const char *a, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (a[i])
			return 0;
	return 1;
}

static void t_basic(void)
{
	const int n = 16;
	size_t len = n * PMD_SZ;
	char *a = map_anon(len);
	struct snap d;
	int ret;

	touch(a, len, PG);
	purge(a, len, 16 * PG);		/* sub-PMD pieces, as allocators do */
	ret = reclaim(a, len, &d);
	CHECK(ret == 0 && d.pte_kb == n * 4 && d.freed == n && d.not_empty == 0,
	      "emptied by 64 KiB DONTNEEDs: %d tables freed (VmPTE -%ld kB, reclaim_pt_freed +%ld, not_empty +%ld, ret %d)",
	      n, d.pte_kb, d.freed, d.not_empty, ret);
	ret = reclaim(a, len, &d);
	CHECK(ret == 0 && d.pte_kb == 0 && d.freed == 0,
	      "second call: nothing left to free (VmPTE -%ld kB, freed +%ld)",
	      d.pte_kb, d.freed);
	fill(a, len, 3);
	CHECK(same(a, len, 3), "range is usable again after the advice");
	munmap(a, len);
}

static void t_present_page(void)
{
	size_t len = 4 * PMD_SZ;
	char *a = map_anon(len);
	struct snap d;
	int ret;

	touch(a, len, PG);
	purge(a, len, 16 * PG);
	fill(a + PMD_SZ + 100 * PG, PG, 9);	/* one live page in table 1 */
	ret = reclaim(a, len, &d);
	CHECK(ret == 0 && d.pte_kb == 12 && d.freed == 3 && d.not_empty == 1 &&
	      same(a + PMD_SZ + 100 * PG, PG, 9) &&
	      zero(a + PMD_SZ, 100 * PG),
	      "table with one present page kept, its bytes intact; others freed (VmPTE -%ld kB, freed +%ld, not_empty +%ld)",
	      d.pte_kb, d.freed, d.not_empty);
	munmap(a, len);
}

static void t_thp(void)
{
	size_t len = 4 * PMD_SZ;
	char *a = map_aligned(len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1);
	struct snap d;
	long thp0, thp1;
	int ret;

	if (madvise(a, len, MADV_HUGEPAGE))
		die("MADV_HUGEPAGE");
	fill(a, len, 5);
	thp0 = smaps_kb(a, "AnonHugePages");
	if (thp0 <= 0) {
		printf("skip THP case: no huge page was allocated\n");
		munmap(a, len);
		return;
	}
	ret = reclaim(a, len, &d);
	thp1 = smaps_kb(a, "AnonHugePages");
	CHECK(ret == 0 && d.pte_kb == 0 && d.freed == 0 && thp1 == thp0 &&
	      same(a, len, 5),
	      "THP-mapped PMDs untouched (AnonHugePages %ld -> %ld kB, VmPTE -%ld kB), bytes intact",
	      thp0, thp1, d.pte_kb);
	munmap(a, len);
}

static void t_shared_and_file(void)
{
	size_t len = 2 * PMD_SZ;
	char path[] = "/tmp/rpt-file-XXXXXX";
	struct snap d;
	char *a;
	int fd, ret;

	/* Shared anonymous, with its tables emptied by DONTNEED. */
	a = map_aligned(len, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1);
	fill(a, len, 11);
	purge(a, PMD_SZ, 16 * PG);
	ret = reclaim(a, len, &d);
	CHECK(ret == 0 && d.pte_kb == 0 && d.freed == 0 &&
	      same(a, len, 11),
	      "shared anonymous mapping left alone (VmPTE -%ld kB), bytes intact",
	      d.pte_kb);
	munmap(a, len);

	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, len))
		die("tmp file");
	unlink(path);
	/* Private file mapping: empty tables stay. */
	a = map_aligned(len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
	fill(a, len, 13);
	purge(a, PMD_SZ, 16 * PG);
	ret = reclaim(a, len, &d);
	CHECK(ret == 0 && d.pte_kb == 0 && d.freed == 0 &&
	      same_at(a, PMD_SZ, PMD_SZ, 13),
	      "private file mapping left alone (VmPTE -%ld kB), bytes intact",
	      d.pte_kb);
	munmap(a, len);
	/* Shared file mapping. */
	a = map_aligned(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	fill(a, len, 17);
	purge(a, PMD_SZ, 16 * PG);
	ret = reclaim(a, len, &d);
	CHECK(ret == 0 && d.pte_kb == 0 && d.freed == 0 && same(a, len, 17),
	      "shared file mapping left alone (VmPTE -%ld kB), bytes intact",
	      d.pte_kb);
	munmap(a, len);
	close(fd);
}

static void t_mlock(void)
{
	size_t len = 2 * PMD_SZ;
	char *a = map_anon(len);
	struct snap d;
	int ret;

	fill(a, len, 19);
	if (mlock(a, len)) {
		printf("skip mlock case: %s\n", strerror(errno));
		munmap(a, len);
		return;
	}
	ret = reclaim(a, len, &d);
	CHECK(ret == 0 && d.pte_kb == 0 && same(a, len, 19),
	      "mlocked range: accepted, nothing changed (VmPTE -%ld kB), bytes intact",
	      d.pte_kb);
	/* Even once MADV_DONTNEED_LOCKED emptied it, mlocked memory is skipped. */
	if (madvise(a, PMD_SZ, MADV_DONTNEED_LOCKED) == 0) {
		ret = reclaim(a, len, &d);
		CHECK(ret == 0 && d.pte_kb == 0 && d.freed == 0 &&
		      same_at(a, PMD_SZ, PMD_SZ, 19),
		      "mlocked VMA is skipped even when its table is empty (VmPTE -%ld kB)",
		      d.pte_kb);
	}
	munlock(a, len);
	munmap(a, len);
}

static void t_holes_and_errors(void)
{
	size_t len = 6 * PMD_SZ;
	char *a = map_anon(len);
	struct snap d;
	int ret, err;

	touch(a, len, PG);
	purge(a, len, 16 * PG);
	fill(a + 5 * PMD_SZ, PG, 23);		/* table 5 stays busy */
	munmap(a + 2 * PMD_SZ, PMD_SZ);		/* hole: table 2 */
	ret = reclaim(a, len, &d);
	err = errno;
	/* Tables 0, 1, 3, 4 freed; the hole took table 2 with it. */
	CHECK(ret == -1 && err == ENOMEM && d.freed == 4 && d.pte_kb == 16 &&
	      d.not_empty == 1 && same(a + 5 * PMD_SZ, PG, 23),
	      "range with a hole: ENOMEM like other advices, mapped parts still handled (freed +%ld, VmPTE -%ld kB)",
	      d.freed, d.pte_kb);

	ret = madvise(a + 1, PG, adv);
	CHECK(ret == -1 && errno == EINVAL, "unaligned start: EINVAL");
	ret = madvise(a, (size_t)-PG, adv);
	CHECK(ret == -1 && (errno == EINVAL || errno == ENOMEM),
	      "huge length: %s", strerror(errno));
	ret = madvise(a, 0, adv);
	CHECK(ret == 0, "zero length: 0");
	ret = madvise(a + 2 * PMD_SZ, PMD_SZ, adv);
	CHECK(ret == -1 && errno == ENOMEM, "wholly unmapped range: ENOMEM");

	/* Partial coverage of a table: not freed. */
	touch(a, PMD_SZ, PG);
	purge(a, PMD_SZ, 16 * PG);
	ret = reclaim(a + PG, PMD_SZ, &d);
	CHECK(ret == 0 && d.freed == 0 && d.pte_kb == 0,
	      "table only partly inside the range is kept");
	munmap(a, len);
}

static void t_vma_split(void)
{
	size_t len = 4 * PMD_SZ;
	char *a = map_anon(len);
	struct snap d;
	int ret;

	touch(a, len, PG);
	purge(a, len, 16 * PG);
	/* Three private anonymous VMAs; tables 1 and 2 span two each. */
	if (mprotect(a + PMD_SZ + PMD_SZ / 2, PMD_SZ, PROT_READ))
		die("mprotect");
	ret = reclaim(a, len, &d);
	CHECK(ret == 0 && d.freed == 4 && d.pte_kb == 16,
	      "tables spanning several private anonymous VMAs are freed too (freed +%ld)",
	      d.freed);
	munmap(a, len);

	/* The middle VMA mlocked (and emptied): tables 1 and 2 stay. */
	a = map_anon(len);
	touch(a, len, PG);
	purge(a, len, 16 * PG);
	if (mlock(a + PMD_SZ + PMD_SZ / 2, PMD_SZ) ||
	    madvise(a + PMD_SZ + PMD_SZ / 2, PMD_SZ, MADV_DONTNEED_LOCKED)) {
		printf("skip mlock split case: %s\n", strerror(errno));
		munmap(a, len);
		return;
	}
	ret = reclaim(a, len, &d);
	CHECK(ret == 0 && d.freed == 2 && d.pte_kb == 8,
	      "tables reaching into an mlocked VMA are kept, others freed (freed +%ld)",
	      d.freed);
	munmap(a, len);
}

static void t_uffd_wp_marker(void)
{
	size_t len = PMD_SZ;
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_UNPOPULATED,
	};
	struct uffdio_register reg;
	struct uffdio_writeprotect wp;
	uint64_t ent;
	struct snap d;
	char *a = map_anon(len);
	int uffd, pm, ret;

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) {
		printf("skip uffd-wp case: %s\n", strerror(errno));
		munmap(a, len);
		return;
	}
	touch(a, len, PG);
	purge(a, len, 16 * PG);
	reg.range.start = (unsigned long)a;
	reg.range.len = len;
	reg.mode = UFFDIO_REGISTER_MODE_WP;
	wp.range = reg.range;
	wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) ||
	    ioctl(uffd, UFFDIO_WRITEPROTECT, &wp)) {
		printf("skip uffd-wp case: %s\n", strerror(errno));
		close(uffd);
		munmap(a, len);
		return;
	}
	ret = reclaim(a, len, &d);
	pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0 || pread(pm, &ent, 8, ((uintptr_t)a / PG) * 8) != 8)
		die("pagemap");
	close(pm);
	CHECK(ret == 0 && d.freed == 0 && d.not_empty == 1 && (ent >> 57 & 1),
	      "table holding uffd-wp markers kept, markers intact (pagemap uffd-wp bit %d)",
	      (int)(ent >> 57 & 1));
	close(uffd);
	munmap(a, len);
}

static void t_process_madvise(void)
{
	size_t len = 8 * PMD_SZ;
	char *a = map_anon(len);
	int go[2], done[2];
	long pte0, pte1;
	pid_t child;
	char c = 0;

	touch(a, len, PG);
	purge(a, len, 16 * PG);
	fill(a + 3 * PMD_SZ, PG, 29);
	if (pipe(go) || pipe(done))
		die("pipe");
	pte0 = status_kb("VmPTE");
	child = fork();
	if (child == 0) {
		/* The agent: reclaim the parent's tables from outside. */
		struct iovec iov = { a, len };
		int pidfd = syscall(SYS_pidfd_open, getppid(), 0);
		ssize_t r;

		if (read(go[0], &c, 1) != 1)
			_exit(3);
		r = syscall(SYS_process_madvise, pidfd, &iov, 1, adv, 0);
		c = r == (ssize_t)len ? 0 : 1;
		if (r < 0)
			fprintf(stderr, "process_madvise: %s\n", strerror(errno));
		if (write(done[1], &c, 1) != 1)
			_exit(3);
		_exit(0);
	}
	if (write(go[1], &c, 1) != 1 || read(done[0], &c, 1) != 1)
		die("pipe io");
	waitpid(child, NULL, 0);
	pte1 = status_kb("VmPTE");
	CHECK(c == 0 && pte0 - pte1 == 7 * 4 && same(a + 3 * PMD_SZ, PG, 29),
	      "process_madvise from another process frees 7 of 8 tables (VmPTE %ld -> %ld kB), live page intact",
	      pte0, pte1);
	munmap(a, len);
}

static void t_fork_cow(void)
{
	size_t len = 4 * PMD_SZ;
	char *a = map_anon(len);
	int st;
	pid_t child;

	fill(a, len, 31);
	child = fork();
	if (child == 0) {
		struct snap d;
		int ok;

		purge(a, 2 * PMD_SZ, 16 * PG);
		ok = reclaim(a, len, &d) == 0 && d.freed == 2 &&
		     same_at(a, 2 * PMD_SZ, 2 * PMD_SZ, 31) &&
		     zero(a, 2 * PMD_SZ);
		_exit(ok ? 0 : 1);
	}
	waitpid(child, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && same(a, len, 31),
	      "after fork: the child frees its own emptied tables, the parent's bytes are intact");
	munmap(a, len);
}

static void t_mremap(void)
{
	size_t len = 4 * PMD_SZ;
	char *a = map_anon(len), *b;
	struct snap d;
	int ret;

	touch(a, len, PG);
	purge(a, len, 16 * PG);
	fill(a + 3 * PMD_SZ, PG, 37);
	b = map_aligned(len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	b = mremap(a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, b);
	if (b == MAP_FAILED)
		die("mremap");
	ret = reclaim(b, len, &d);
	CHECK(ret == 0 && d.freed == 3 && same(b + 3 * PMD_SZ, PG, 37),
	      "after mremap: empty tables at the new place freed (freed +%ld), live page intact",
	      d.freed);
	munmap(b, len);
}

int main(void)
{
	adv = rpt_advice();
	if (adv < 0) {
		printf("FAIL /sys/kernel/mm/reclaim_pt/advice is missing\n");
		return 1;
	}
	printf("MADV_RECLAIM_PT = %d (from sysfs)\n", adv);
	if (status_kb("VmPTE") < 0 || vmstat("reclaim_pt_freed") < 0) {
		printf("FAIL VmPTE or reclaim_pt_* vmstat counters missing\n");
		return 1;
	}
	t_basic();
	t_present_page();
	t_thp();
	t_shared_and_file();
	t_mlock();
	t_holes_and_errors();
	t_vma_split();
	t_uffd_wp_marker();
	t_process_madvise();
	t_fork_cow();
	t_mremap();
	printf("%s: %d failure(s)\n", rpt_failures ? "FAIL" : "PASS",
	       rpt_failures);
	return rpt_failures ? 1 : 0;
}
