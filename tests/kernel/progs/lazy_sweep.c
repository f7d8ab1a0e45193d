// SPDX-License-Identifier: MIT
/*
 * lazy_sweep - a heap that gave 95% of itself back with MADV_FREE, swept
 * once with the lazyfree advice (issue 16's "done when").
 *
 * Maps --mb MiB (384), fills every page, keeps 5% as survivors and
 * MADV_FREEs the rest in 64 KiB pieces, then rewrites a page in some freed
 * pieces with plain stores (data again: the kernel must keep it).  Then
 *   self: calls madvise(heap, advice_lazyfree) itself;
 *   pid:  a child owns the heap and waits while the parent sweeps it with
 *         process_madvise() (or runs `--cli PATH sweep --pid CHILD`).
 * Layouts: clustered (default: survivors in every 8th 2 MiB span, 13 of its
 * 32 pieces) or spread (one piece in every span: the advice's whole-span
 * rule can then discard nothing; reported, RSS not checked).
 * --mthp backs the heap with 64 KiB folios.
 *
 * Checks: VmPTE <= 1.05 x need (one table per 2 MiB region that maps a
 * page, from pagemap, and every span without survivor or rewritten page
 * empty), RSS <= 0.25 x before, every survivor and rewritten word intact,
 * reclaim_pt_freed and reclaim_pt_lazyfree_discarded moved by exactly the
 * discardable spans and their pages.  Exit 0/1; 77 without advice_lazyfree
 * (stock: the same RESULT lines, nothing swept); 2 on setup errors.
 */
#include "lazy.h"

#include <signal.h>
#include <sys/wait.h>

#define SPAN_PIECES	(PMD_SZ / PIECE)	/* 32 */
#define KEEP_PIECES	13			/* of 32, in every 8th span */

static size_t nspan;
static char *heap;
static int spread, mthp, advice;
static unsigned char *surv;	/* per piece: 1 survivor, 2 rewritten page */

/* One table per 2 MiB, 1 GiB and 512 GiB region mapping a page (what
 * VmPTE must at least be), from /proc/self/maps and pagemap. */
static long need_kb(void)
{
	char line[512];
	uint64_t last[3] = { ~0ULL, ~0ULL, ~0ULL }, lo, hi, r;
	static const int shift[3] = { 21, 30, 39 };
	long n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		die("/proc/self/maps");
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "[vsyscall]") ||
		    sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		for (r = lo & ~(PMD_SZ - 1); r < hi; r += PMD_SZ) {
			uint64_t s = r < lo ? lo : r;
			uint64_t e = r + PMD_SZ > hi ? hi : r + PMD_SZ;
			int k;

			if (!present_pages((void *)s, e - s))
				continue;
			for (k = 0; k < 3; k++)
				if (r >> shift[k] != last[k]) {
					last[k] = r >> shift[k];
					n++;
				}
		}
	}
	fclose(f);
	return n * 4;
}

/* Which pieces survive, and where a page is rewritten after MADV_FREE. */
static void choose(void)
{
	uint64_t x = 0x2545f4914f6cdd1dULL;
	size_t s, k;

	for (s = 0; s < nspan; s++) {
		unsigned char *sp = surv + s * SPAN_PIECES;

		if (spread) {
			sp[(s * 7) % SPAN_PIECES] = 1;
		} else if (s % 8 == 0) {
			for (k = 0; k < KEEP_PIECES;) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				if (!sp[x % SPAN_PIECES] && ++k)
					sp[x % SPAN_PIECES] = 1;
			}
		}
		/* A rewritten page in survivor spans and, alone, in every
		 * 32nd span otherwise (that span must keep its table). */
		if (s % 8 == 0 || s % 32 == 5)
			for (k = 3; k < SPAN_PIECES; k++)
				if (!sp[k]) {
					sp[k] = 2;
					break;
				}
	}
}

static char *rewritten_page(size_t piece)
{
	return heap + piece * PIECE + 5 * PG;
}

static void setup(void)
{
	size_t len = nspan * PMD_SZ, i;
	long f0 = read_long(MTHP64 "/stats/anon_fault_alloc");

	heap = map_aligned(len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1);
	if (!mthp && madvise(heap, len, MADV_NOHUGEPAGE))
		die("MADV_NOHUGEPAGE");
	fill_pattern(heap, len, 0);
	if (mthp)
		printf("RESULT mthp_folios=%ld\n",
		       read_long(MTHP64 "/stats/anon_fault_alloc") - f0);
	for (i = 0; i < nspan * SPAN_PIECES; i++)
		if (surv[i] != 1 && madvise(heap + i * PIECE, PIECE, MADV_FREE))
			die("MADV_FREE");
	/* Plain stores, no system call: only the dirty bit tells. */
	for (i = 0; i < nspan * SPAN_PIECES; i++)
		if (surv[i] == 2)
			fill_pattern(rewritten_page(i), PG, 1);
}

struct state {
	long rss, pte, need, freed, discarded, kept;
};

static struct state measure(void)
{
	struct state s = {
		status_kb("VmRSS"), status_kb("VmPTE"), need_kb(),
		vmstat("reclaim_pt_freed"),
		vmstat("reclaim_pt_lazyfree_discarded"),
		vmstat("reclaim_pt_lazyfree_kept"),
	};
	return s;
}

/* After the sweep: checks, RESULT lines; returns the exit status. */
static int verify(const struct state *b, const struct state *a, double ms)
{
	long bad = 0, bad_rw = 0, stray = 0, need_spans = 0, i, s;
	long stray_spans = 0, first_stray = -1, last_stray = -1;
	long disc_spans, want_disc;
	int ok = 1;

	for (i = 0; i < (long)(nspan * SPAN_PIECES); i++) {
		if (surv[i] == 1)
			bad += bad_words(heap + i * PIECE, PIECE, 0);
		if (surv[i] == 2)
			bad_rw += bad_words(rewritten_page(i), PG, 1);
	}
	for (s = 0; s < (long)nspan; s++) {
		int needed = 0;

		for (i = 0; i < (long)SPAN_PIECES; i++)
			needed |= surv[s * SPAN_PIECES + i] != 0;
		need_spans += needed;
		if (!needed && present_pages(heap + s * PMD_SZ, PMD_SZ)) {
			stray += present_pages(heap + s * PMD_SZ, PMD_SZ);
			stray_spans++;
			if (first_stray < 0)
				first_stray = s;
			last_stray = s;
		}
	}
	disc_spans = nspan - need_spans;
	want_disc = disc_spans * (long)(PMD_SZ / PG);
	printf("RESULT layout=%s heap_mb=%zu spans=%zu survivor_spans=%ld\n",
	       spread ? "spread" : "clustered", nspan * 2, nspan, need_spans);
	printf("RESULT rss_before_kb=%ld rss_after_kb=%ld rss_ratio=%.3f\n",
	       b->rss, a->rss, (double)a->rss / b->rss);
	printf("RESULT vmpte_before_kb=%ld vmpte_after_kb=%ld need_after_kb=%ld vmpte_need_ratio=%.3f\n",
	       b->pte, a->pte, a->need, (double)a->pte / a->need);
	printf("RESULT sweep_ms=%.1f tables_freed=%ld lazyfree_discarded=%ld lazyfree_kept=%ld pages_left_in_free_spans=%ld\n",
	       ms, a->freed - b->freed, a->discarded - b->discarded,
	       a->kept - b->kept, stray);
	printf("RESULT verify=%s bad_survivor_words=%ld bad_rewritten_words=%ld\n",
	       bad || bad_rw ? "FAIL" : "ok", bad, bad_rw);
	if (bad || bad_rw) {
		printf("FAIL: data lost\n");
		ok = 0;
	}
	if (advice < 0)
		return ok ? 77 : 1;
	if (a->pte > a->need * 105 / 100) {
		printf("FAIL: VmPTE %ld kB > 1.05 x need %ld kB\n", a->pte, a->need);
		ok = 0;
	}
	if (stray) {
		/* The last spans freed: their pages may still sit in a CPU's
		 * LRU batch (swapbacked, an extra reference) if the advice
		 * did not drain the batches. */
		printf("FAIL: %ld pages left in %ld spans with nothing to keep (spans %ld..%ld of %zu%s)\n",
		       stray, stray_spans, first_stray, last_stray, nspan,
		       first_stray >= (long)nspan - 4 ?
		       ": the last ones freed, LRU batch not drained?" : "");
		ok = 0;
	}
	if (!spread && a->rss * 4 > b->rss) {
		printf("FAIL: RSS %ld kB > 0.25 x %ld kB\n", a->rss, b->rss);
		ok = 0;
	}
	if (a->freed - b->freed < disc_spans ||
	    a->discarded - b->discarded != want_disc) {
		printf("FAIL: reclaim_pt_freed +%ld (want >= %ld), reclaim_pt_lazyfree_discarded +%ld (want %ld)\n",
		       a->freed - b->freed, disc_spans,
		       a->discarded - b->discarded, want_disc);
		ok = 0;
	}
	printf("%s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}

/* `CLI sweep --pid PID`, its output passed through; its exit status. */
static int run_cli(const char *cli, pid_t pid)
{
	char spid[16];
	pid_t c;
	int st;

	snprintf(spid, sizeof(spid), "%d", (int)pid);
	c = fork();
	if (c == 0) {
		execl(cli, cli, "sweep", "--pid", spid, (char *)NULL);
		_exit(127);
	}
	if (c < 0 || waitpid(c, &st, 0) != c)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int main(int argc, char **argv)
{
	const char *mode = "self", *cli = NULL;
	size_t mb = 384;
	struct state b, a;
	double t0, ms = 0;
	char mthp_was[32] = "";
	int i, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mb") && i + 1 < argc)
			mb = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--cli") && i + 1 < argc)
			cli = argv[++i];
		else if (!strcmp(argv[i], "--spread"))
			spread = 1;
		else if (!strcmp(argv[i], "--mthp"))
			mthp = 1;
		else if (!strcmp(argv[i], "self") || !strcmp(argv[i], "pid"))
			mode = argv[i];
		else {
			fprintf(stderr, "usage: lazy_sweep [self|pid] [--mb N] [--spread] [--mthp] [--cli PATH]\n");
			return 2;
		}
	}
	nspan = mb / 2;
	surv = calloc(nspan * SPAN_PIECES, 1);
	if (!surv || nspan < 32)
		die("--mb must be >= 64");
	advice = rpt_advice_lazyfree();
	printf("RESULT mode=%s%s advice_lazyfree=%d\n", mode, cli ? "-cli" : "",
	       advice);
	if (mthp && (thp_mode(MTHP64 "/enabled", mthp_was, sizeof(mthp_was)) ||
		     write_str(MTHP64 "/enabled", "always")))
		die(MTHP64 "/enabled");
	choose();

	/* The heap's owner on one CPU (see pin_cpu()); in pid mode the
	 * sweeper on another, so that the advice must drain the owner's
	 * lazyfree batch on a CPU it does not run on. */
	pin_cpu(0);
	if (!strcmp(mode, "self")) {
		setup();
		b = measure();
		t0 = now_ns();
		if (advice >= 0 && madvise(heap, nspan * PMD_SZ, advice))
			die("lazyfree advice");
		ms = (now_ns() - t0) / 1e6;
		a = measure();
		rc = verify(&b, &a, ms);
	} else {
		/* The child owns the heap; one pipe each way. */
		int up[2], down[2], st, pm_fail = 0;
		pid_t pid;

		if (pipe(up) || pipe(down))
			die("pipe");
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			setup();
			b = measure();
			if (write(up[1], &heap, sizeof(heap)) != sizeof(heap) ||
			    read(down[0], &ms, sizeof(ms)) != sizeof(ms))
				_exit(2);
			a = measure();
			_exit(verify(&b, &a, ms));
		}
		if (read(up[0], &heap, sizeof(heap)) != sizeof(heap))
			die("child setup");
		pin_cpu(1);
		t0 = now_ns();
		if (cli) {
			rc = run_cli(cli, pid);
			printf("RESULT cli_rc=%d\n", rc);
		} else if (advice >= 0 &&
			   remote_advise(pid, heap, nspan * PMD_SZ, advice) !=
			   (long)(nspan * PMD_SZ)) {
			printf("FAIL: process_madvise: %s\n", strerror(errno));
			pm_fail = 1;
		}
		ms = (now_ns() - t0) / 1e6;
		if (write(down[1], &ms, sizeof(ms)) != sizeof(ms))
			die("pipe write");
		if (waitpid(pid, &st, 0) != pid)
			die("waitpid");
		rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
		if (pm_fail)
			rc = 1;
	}
	if (mthp)
		write_str(MTHP64 "/enabled", mthp_was);
	return rc;
}
