// SPDX-License-Identifier: MIT
/*
 * lazy_func - functional cases of the lazyfree advice (issue 16): like
 * MADV_RECLAIM_PT, and in whole 2 MiB spans that hold only none entries
 * and clean, unshared, unpinned lazyfree (MADV_FREE'd) pages, the pages
 * are discarded and the table freed.  Anything else keeps the span whole.
 * Every case checks VmPTE, the vmstat counters (reclaim_pt_freed,
 * reclaim_pt_lazyfree_discarded) and the bytes.  Exit 0/1; 77 if the
 * kernel has no /sys/kernel/mm/reclaim_pt/advice_lazyfree.
 */
#include "lazy.h"

#include <sys/wait.h>

static int adv;
static char *drain_page;
static int no_drain;

/*
 * MADV_FREE leaves the last pages it marked in this CPU's LRU batch, still
 * swapbacked and with the batch's reference, until something drains it:
 * the advice must do so (t_lru_batch checks that).  The other cases drain
 * first, so that each checks only its own property: every MADV_FREE call
 * starts with lru_add_drain(), even on a page that maps nothing.  The
 * program stays on one CPU (pin_cpu()) so that this drains the batch that
 * matters.
 */
static void drain_lru(void)
{
	if (!no_drain && madvise(drain_page, PG, MADV_FREE))
		die("MADV_FREE (drain)");
}

struct delta {
	long pte_kb, freed, disc, kept;
};

struct snap {
	long pte_kb, freed, disc, kept;
};

static struct snap snap(void)
{
	struct snap s = {
		status_kb("VmPTE"), vmstat("reclaim_pt_freed"),
		vmstat("reclaim_pt_lazyfree_discarded"),
		vmstat("reclaim_pt_lazyfree_kept"),
	};
	return s;
}

static struct delta since(const struct snap *s0)
{
	struct snap s1 = snap();
	struct delta d = { s0->pte_kb - s1.pte_kb, s1.freed - s0->freed,
			   s1.disc - s0->disc, s1.kept - s0->kept };
	return d;
}

/* The advice on [a, a+len); *d gets what moved.  Returns madvise()'s
 * result with errno kept. */
static int lazy(void *a, size_t len, struct delta *d)
{
	struct snap s0;
	int ret, err;

	drain_lru();
	s0 = snap();
	ret = madvise(a, len, adv);
	err = errno;

	*d = since(&s0);
	errno = err;
	return ret;
}

/* Tables freed, pages discarded, VmPTE drop all as expected. */
static int moved(const struct delta *d, long tables, long pages)
{
	return d->freed == tables && d->disc == pages && d->pte_kb == 4 * tables;
}

#define DFMT "freed +%ld, discarded +%ld, VmPTE -%ld kB, kept +%ld"
#define DARG(d) (d).freed, (d).disc, (d).pte_kb, (d).kept

static char *filled(size_t spans)
{
	char *a = map_anon(spans * PMD_SZ);

	fill_pattern(a, spans * PMD_SZ, 0);
	return a;
}

/* The pages of the last MADV_FREE, still in the LRU batch, go too. */
static void t_lru_batch(void)
{
	char *a = filled(2);
	struct delta d;
	int ret;

	lazy_free(a, 2 * PMD_SZ, PIECE);
	no_drain = 1;
	ret = lazy(a, 2 * PMD_SZ, &d);
	no_drain = 0;
	CHECK(ret == 0 && moved(&d, 2, 1024),
	      "right after MADV_FREE (last pages still in the CPU's LRU batch: the advice must drain it): both spans freed (" DFMT ")",
	      DARG(d));
	munmap(a, 2 * PMD_SZ);
}

static void t_basic(void)
{
	char *a = filled(4);
	struct delta d;
	int ret;

	lazy_free(a, 4 * PMD_SZ, PIECE);
	ret = lazy(a, 4 * PMD_SZ, &d);
	CHECK(ret == 0 && moved(&d, 4, 2048) && !present_pages(a, 4 * PMD_SZ),
	      "4 lazyfree spans (64 KiB MADV_FREEs): pages discarded, tables freed (" DFMT ")",
	      DARG(d));
	CHECK(all_zero(a, 4 * PMD_SZ), "discarded memory reads zero");
	ret = lazy(a, 4 * PMD_SZ, &d);
	CHECK(ret == 0 && moved(&d, 0, 0), "second call frees nothing (" DFMT ")",
	      DARG(d));
	munmap(a, 4 * PMD_SZ);
}

static void t_rewritten(void)
{
	char *a = filled(2), *page = a + 100 * PG;
	struct delta d;
	int ret;

	lazy_free(a, 2 * PMD_SZ, PIECE);
	fill_pattern(page, PG, 1);	/* a store, no system call */
	ret = lazy(a, 2 * PMD_SZ, &d);
	CHECK(ret == 0 && moved(&d, 1, 512) && !bad_words(page, PG, 1) &&
	      present_pages(a, PMD_SZ) == 512,
	      "page written after MADV_FREE kept with its table and span, the other span freed (" DFMT ")",
	      DARG(d));
	/* Kept whole: the span's other lazyfree pages were not discarded. */
	CHECK(!bad_words(a, 100 * PG, 0), "the kept span's other pages untouched");
	munmap(a, 2 * PMD_SZ);
}

/* A write by the kernel (read() into the page) dirties it like a store. */
static void t_kernel_write(void)
{
	char *a = filled(1), msg[] = "written by read() after MADV_FREE";
	struct delta d;
	int p[2], ret;

	lazy_free(a, PMD_SZ, PMD_SZ);
	if (pipe(p) || write(p[1], msg, sizeof(msg)) != sizeof(msg) ||
	    read(p[0], a + 7 * PG + 64, sizeof(msg)) != sizeof(msg))
		die("pipe");
	ret = lazy(a, PMD_SZ, &d);
	CHECK(ret == 0 && moved(&d, 0, 0) && !strcmp(a + 7 * PG + 64, msg),
	      "page written by the kernel (read()) after MADV_FREE kept (" DFMT ")",
	      DARG(d));
	close(p[0]);
	close(p[1]);
	munmap(a, PMD_SZ);
}

static void t_zero_page(void)
{
	char *a = filled(1);
	volatile char c;
	struct delta d;
	int ret;

	lazy_free(a, PMD_SZ, PIECE);
	madvise(a + 9 * PG, PG, MADV_DONTNEED);
	c = a[9 * PG];		/* maps the shared zero page */
	(void)c;
	ret = lazy(a, PMD_SZ, &d);
	CHECK(ret == 0 && moved(&d, 0, 0),
	      "span with a zero-page entry among lazyfree pages kept (" DFMT ")",
	      DARG(d));
	munmap(a, PMD_SZ);
}

static void t_fork_shared(void)
{
	char *a = filled(1);
	struct delta d;
	int p[2], st, ret;
	pid_t pid;
	char c;

	lazy_free(a, PMD_SZ, PIECE);
	if (pipe(p))
		die("pipe");
	pid = fork();
	if (pid == 0) {		/* holds the pages (mapcount 2) until told */
		close(p[1]);
		_exit(read(p[0], &c, 1) == 0 && !bad_words(a, PMD_SZ, 0) ? 0 : 1);
	}
	close(p[0]);
	ret = lazy(a, PMD_SZ, &d);
	CHECK(ret == 0 && moved(&d, 0, 0) && !bad_words(a, PMD_SZ, 0),
	      "lazyfree pages shared with a fork child kept (" DFMT ")", DARG(d));
	close(p[1]);
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child read its copy intact");
	ret = lazy(a, PMD_SZ, &d);
	CHECK(ret == 0 && moved(&d, 1, 512),
	      "after the child exited: discarded and freed (" DFMT ")", DARG(d));
	munmap(a, PMD_SZ);
}

/* vmsplice() into a pipe holds a reference to the page: not discardable. */
static void t_vmsplice(void)
{
	char *a = filled(1), buf[PG];
	struct iovec iov = { a + 3 * PG, PG };
	struct delta d;
	int p[2], ret;

	lazy_free(a, PMD_SZ, PIECE);
	if (pipe(p) || vmsplice(p[1], &iov, 1, 0) != PG)
		die("vmsplice");
	ret = lazy(a, PMD_SZ, &d);
	CHECK(ret == 0 && moved(&d, 0, 0) && !bad_words(a, PMD_SZ, 0),
	      "span with a page referenced by a pipe (vmsplice) kept (" DFMT ")",
	      DARG(d));
	CHECK(read(p[0], buf, PG) == PG && !bad_words(a + 3 * PG, PG, 0) &&
	      !memcmp(buf, a + 3 * PG, PG), "the pipe reads the page's bytes");
	ret = lazy(a, PMD_SZ, &d);
	CHECK(ret == 0 && moved(&d, 1, 512),
	      "once the pipe is drained: discarded and freed (" DFMT ")", DARG(d));
	close(p[0]);
	close(p[1]);
	munmap(a, PMD_SZ);
}

static void t_mlocked(void)
{
	char *a = filled(1);
	struct delta d;
	int ret;

	lazy_free(a, PMD_SZ, PIECE);
	if (mlock(a, PMD_SZ))
		die("mlock");
	ret = lazy(a, PMD_SZ, &d);
	CHECK(ret == 0 && moved(&d, 0, 0) && !bad_words(a, PMD_SZ, 0),
	      "mlocked lazyfree span untouched (" DFMT ")", DARG(d));
	munmap(a, PMD_SZ);
}

static void t_shared_and_file(void)
{
	char path[] = "/tmp/lazy-file-XXXXXX", *a;
	struct delta d;
	int fd, ret;

	a = map_aligned(PMD_SZ, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1);
	fill_pattern(a, PMD_SZ, 0);
	ret = lazy(a, PMD_SZ, &d);
	CHECK(ret == 0 && moved(&d, 0, 0) && !bad_words(a, PMD_SZ, 0),
	      "shared anonymous mapping untouched (" DFMT ")", DARG(d));
	munmap(a, PMD_SZ);

	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, PMD_SZ))
		die("mkstemp");
	unlink(path);
	a = map_aligned(PMD_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
	fill_pattern(a, PMD_SZ, 0);	/* private copies of file pages */
	ret = lazy(a, PMD_SZ, &d);
	CHECK(ret == 0 && moved(&d, 0, 0) && !bad_words(a, PMD_SZ, 0),
	      "private file mapping untouched (" DFMT ")", DARG(d));
	munmap(a, PMD_SZ);
	close(fd);
}

static void t_partial_range(void)
{
	char *a = filled(3);
	struct delta d;
	int ret;

	lazy_free(a, 3 * PMD_SZ, PIECE);
	ret = lazy(a + PMD_SZ / 2, 2 * PMD_SZ, &d);
	CHECK(ret == 0 && moved(&d, 1, 512) &&
	      !bad_words(a, PMD_SZ, 0) && !bad_words(a + 2 * PMD_SZ, PMD_SZ, 0),
	      "spans partly outside the range kept whole, the one inside freed (" DFMT ")",
	      DARG(d));
	munmap(a, 3 * PMD_SZ);
}

static void t_dontneed(void)
{
	char *a = filled(2);
	struct delta d;
	int ret;

	purge(a, PMD_SZ, PIECE);
	purge(a + PMD_SZ, PMD_SZ / 2, PIECE);
	lazy_free(a + PMD_SZ + PMD_SZ / 2, PMD_SZ / 2, PIECE);
	ret = lazy(a, 2 * PMD_SZ, &d);
	CHECK(ret == 0 && moved(&d, 2, 256),
	      "empty (DONTNEED) span and half-empty half-lazyfree span freed (" DFMT ")",
	      DARG(d));
	munmap(a, 2 * PMD_SZ);
}

/* Unaligned start: EINVAL; a hole in the range: ENOMEM, the rest done. */
static void t_errors(void)
{
	char *a = filled(3);
	struct delta d;
	int ret;

	ret = lazy(a + 1, PMD_SZ, &d);
	CHECK(ret == -1 && errno == EINVAL, "unaligned start: EINVAL");
	lazy_free(a, 3 * PMD_SZ, PIECE);
	munmap(a + PMD_SZ, PMD_SZ);
	ret = lazy(a, 3 * PMD_SZ, &d);
	CHECK(ret == -1 && errno == ENOMEM && moved(&d, 2, 1024),
	      "hole in the range: ENOMEM, both mapped spans freed (" DFMT ")",
	      DARG(d));
	munmap(a, 3 * PMD_SZ);
}

/* 64 KiB folios: discarded whole, no split. */
static void t_mthp(void)
{
	char was[32], *a;
	long f0, s0, sp0, sp1;
	struct delta d;
	int ret;

	if (thp_mode(MTHP64 "/enabled", was, sizeof(was)) ||
	    write_str(MTHP64 "/enabled", "always")) {
		printf("skip mTHP case: no %s\n", MTHP64);
		return;
	}
	a = map_aligned(3 * PMD_SZ, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1);
	f0 = read_long(MTHP64 "/stats/anon_fault_alloc");
	fill_pattern(a, 3 * PMD_SZ, 0);
	f0 = read_long(MTHP64 "/stats/anon_fault_alloc") - f0;
	s0 = read_long(MTHP64 "/stats/split_deferred");
	sp0 = read_long(MTHP64 "/stats/split");
	lazy_free(a, 3 * PMD_SZ, PIECE);
	fill_pattern(a + 2 * PMD_SZ + PIECE + 2 * PG, PG, 1);
	ret = lazy(a, 3 * PMD_SZ, &d);
	s0 = read_long(MTHP64 "/stats/split_deferred") - s0;
	sp1 = read_long(MTHP64 "/stats/split") - sp0;
	write_str(MTHP64 "/enabled", was);
	CHECK(f0 == 96, "96 64 KiB folios faulted in (%ld)", f0);
	CHECK(ret == 0 && moved(&d, 2, 1024) && s0 == 0 && sp1 == 0,
	      "lazyfree 64 KiB folios discarded whole, no split (split_deferred +%ld, split +%ld; " DFMT ")",
	      s0, sp1, DARG(d));
	CHECK(!bad_words(a + 2 * PMD_SZ + PIECE + 2 * PG, PG, 1) &&
	      present_pages(a + 2 * PMD_SZ, PMD_SZ) == 512,
	      "span with a rewritten page of a 64 KiB folio kept whole");
	munmap(a, 3 * PMD_SZ);
}

/* A PMD-mapped THP has no PTE table of its own: left alone. */
static void t_pmd_thp(void)
{
	char *a = map_aligned(2 * PMD_SZ, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1);
	long thp0, thp1, sp;
	struct delta d;
	int ret;

	if (madvise(a, 2 * PMD_SZ, MADV_HUGEPAGE))
		die("MADV_HUGEPAGE");
	fill_pattern(a, 2 * PMD_SZ, 0);
	thp0 = smaps_kb(a, "AnonHugePages");
	if (thp0 <= 0) {
		printf("skip PMD THP case: no huge page was allocated\n");
		munmap(a, 2 * PMD_SZ);
		return;
	}
	madvise(a, 2 * PMD_SZ, MADV_FREE);
	sp = vmstat("thp_split_pmd");
	ret = lazy(a, 2 * PMD_SZ, &d);
	sp = vmstat("thp_split_pmd") - sp;
	thp1 = smaps_kb(a, "AnonHugePages");
	CHECK(ret == 0 && moved(&d, 0, 0) && thp1 == thp0 && sp == 0 &&
	      !bad_words(a, 2 * PMD_SZ, 0),
	      "PMD-mapped lazyfree THP left alone (AnonHugePages %ld -> %ld kB, thp_split_pmd +%ld; " DFMT ")",
	      thp0, thp1, sp, DARG(d));
	munmap(a, 2 * PMD_SZ);
}

/* process_madvise() from the parent on a child's lazyfree spans. */
static void t_process_madvise(void)
{
	int up[2], down[2], st;
	char *a = NULL, c = 0;
	pid_t pid;
	long r;

	if (pipe(up) || pipe(down))
		die("pipe");
	pid = fork();
	if (pid == 0) {
		struct snap s0;
		struct delta d;
		int ok;

		a = filled(2);
		lazy_free(a, 2 * PMD_SZ, PIECE);
		fill_pattern(a + PMD_SZ + 33 * PG, PG, 1);
		drain_lru();
		s0 = snap();
		if (write(up[1], &a, sizeof(a)) != sizeof(a) ||
		    read(down[0], &c, 1) != 1)
			_exit(2);
		d = since(&s0);
		ok = moved(&d, 1, 512) && !bad_words(a + PMD_SZ + 33 * PG, PG, 1);
		printf("%s process_madvise from the parent: the lazyfree span freed, the one with a rewritten page kept (" DFMT ")\n",
		       ok ? "ok  " : "FAIL", DARG(d));
		fflush(stdout);
		_exit(!ok);
	}
	if (read(up[0], &a, sizeof(a)) != sizeof(a))
		die("child");
	r = remote_advise(pid, a, 2 * PMD_SZ, adv);
	CHECK(r == (long)(2 * PMD_SZ), "process_madvise returns the length (%ld, %s)",
	      r, r < 0 ? strerror(errno) : "ok");
	if (write(down[1], &c, 1) != 1 || waitpid(pid, &st, 0) != pid)
		die("child");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child's checks");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	adv = rpt_advice_lazyfree();
	if (adv < 0) {
		printf("SKIP: no /sys/kernel/mm/reclaim_pt/advice_lazyfree\n");
		return 77;
	}
	printf("lazyfree advice %d (MADV_RECLAIM_PT %d)\n", adv, rpt_advice());
	pin_cpu(0);
	drain_page = map_anon(PG);
	t_lru_batch();
	t_basic();
	t_rewritten();
	t_kernel_write();
	t_zero_page();
	t_fork_shared();
	t_vmsplice();
	t_mlocked();
	t_shared_and_file();
	t_partial_range();
	t_dontneed();
	t_errors();
	t_mthp();
	t_pmd_thp();
	t_process_madvise();
	printf("%s: %d failure(s)\n", rpt_failures ? "FAIL" : "PASS", rpt_failures);
	return rpt_failures ? 1 : 0;
}
