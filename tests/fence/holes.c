/* SPDX-License-Identifier: MIT */
/*
 * holes - the fence's known holes (docs/fence.md), made common: run under
 * an eager fence (fence_delay_ms:0, fence_rate:1000000) they show how
 * often each one strikes; under the defaults they must never strike.
 *
 *   holes mremap N   16 adjacent regions are completed again and again
 *                    (a page touched, then purged in 64 KiB pieces, as an
 *                    allocator does); after 0-2.5 ms a raw mremap moves 2
 *                    MiB of patterned data onto region 0, which is then
 *                    checked word by word.  Counts regions lost.
 *   holes stop N     a child completes regions in a loop; the parent stops
 *                    it (SIGSTOP) and a reader process reads its regions
 *                    with process_vm_readv.  Counts readers still blocked
 *                    after 1 s (continued then), and the longest block.
 *   holes futex N    FUTEX_WAKE_OP on a word of a purged page of a
 *                    completed region.  Counts EFAULT.
 *   holes memwrite N pwrite to /proc/self/mem into a purged page of a
 *                    completed region.  Counts failed or short writes.
 *
 * Prints one line "holes MODE: iterations=N struck=K [..]".  With
 * --expect-none, exits 1 if any struck (the test); without, exits 0 (the
 * benchmark, bench/fence-holes).
 */
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define NREG	16
#define PIECE	(64 * 1024)

static char *regions;

/* Touch one page, then purge every page in pieces: the ledger sees the
 * region complete, as after an allocator's purge. */
static void complete(char *r)
{
	madvise(r, PG, MADV_POPULATE_WRITE);
	for (size_t off = 0; off < PMD; off += PIECE)
		madvise(r + off, PIECE, MADV_DONTNEED);
}

static void complete_all(void)
{
	for (int i = 0; i < NREG; i++)
		complete(regions + (size_t)i * PMD);
}

static void pause_us(unsigned us)
{
	struct timespec ts = { 0, (long)us * 1000 };

	nanosleep(&ts, NULL);
}

static long mremap_round(uint64_t *seed)
{
	uint64_t *src = mmap(NULL, PMD, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t *dst = (uint64_t *)regions;
	long lost = 0;

	if (src == MAP_FAILED)
		die("mmap");
	for (size_t w = 0; w < PMD / 8; w++)
		src[w] = w ^ 0x5a5a5a5a5a5a5a5aULL;
	complete_all();
	pause_us((unsigned)(rnd(seed) % 2500));
	/* Raw: no interposed mremap can warn the fence. */
	if (syscall(SYS_mremap, src, PMD, PMD, MREMAP_MAYMOVE | MREMAP_FIXED,
		    dst) != (long)dst)
		die("mremap");
	for (size_t w = 0; w < PMD / 8; w++)
		if (dst[w] != (w ^ 0x5a5a5a5a5a5a5a5aULL)) {
			lost++;
			break;
		}
	return lost;
}

/* The target of "stop": completes its regions until killed. */
static void churn_forever(void)
{
	for (;;)
		complete_all();
}

/* One reader: reads a page of every region; exits when done. */
static pid_t start_reader(pid_t target)
{
	pid_t pid = fork();

	if (pid == 0) {
		static char buf[NREG][64];
		struct iovec local[NREG], remote[NREG];

		for (int i = 0; i < NREG; i++) {
			local[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
			remote[i] = (struct iovec){ regions + (size_t)i * PMD +
						    PG * (size_t)i, 64 };
		}
		_exit(process_vm_readv(target, local, NREG, remote, NREG, 0) < 0);
	}
	return pid;
}

/* Waits up to ms for pid; true if it ended. */
static bool reaped(pid_t pid, unsigned ms)
{
	for (unsigned t = 0; t <= ms; t++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return true;
		pause_us(1000);
	}
	return false;
}

static long stop_round(pid_t target, uint64_t *seed, double *worst)
{
	double t0;
	pid_t reader;
	int st;
	long blocked = 0;

	pause_us((unsigned)(rnd(seed) % 3000));
	kill(target, SIGSTOP);
	if (waitpid(target, &st, WUNTRACED) != target)
		die("waitpid stop");
	t0 = now_s();
	reader = start_reader(target);
	if (!reaped(reader, 1000)) {
		blocked = 1;
		kill(target, SIGCONT);
		if (!reaped(reader, 60000))
			die("reader never came back");
	} else {
		kill(target, SIGCONT);
	}
	if (now_s() - t0 > *worst)
		*worst = now_s() - t0;
	return blocked;
}

static long futex_round(uint64_t *seed)
{
	char *r = regions + (rnd(seed) % NREG) * PMD;
	uint32_t *word = (uint32_t *)(r + (rnd(seed) % NPG) * PG);
	long rc;

	complete(r);
	pause_us((unsigned)(rnd(seed) % 2000));
	rc = syscall(SYS_futex, word, FUTEX_WAKE_OP, 1, 0, word,
		     FUTEX_OP(FUTEX_OP_ADD, 0, FUTEX_OP_CMP_EQ, 0));
	return rc < 0 && errno == EFAULT;
}

static long memwrite_round(int mem, uint64_t *seed)
{
	char *r = regions + (rnd(seed) % NREG) * PMD;
	char *p = r + (rnd(seed) % NPG) * PG;

	complete(r);
	pause_us((unsigned)(rnd(seed) % 2000));
	return pwrite(mem, "x", 1, (off_t)(uintptr_t)p) != 1;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	long n = argc > 2 ? atol(argv[2]) : 0, struck = 0;
	bool expect_none = argc > 3 && !strcmp(argv[3], "--expect-none");
	uint64_t seed = 12345;
	double worst = 0;

	if (n <= 0) {
		fprintf(stderr, "usage: holes mremap|stop|futex|memwrite N [--expect-none]\n");
		return 2;
	}
	regions = map_pmd_aligned(NREG * PMD);
	if (!strcmp(mode, "stop")) {
		pid_t target = fork();

		if (target == 0)
			churn_forever();
		for (long i = 0; i < n; i++)
			struck += stop_round(target, &seed, &worst);
		kill(target, SIGKILL);
		waitpid(target, NULL, 0);
	} else if (!strcmp(mode, "memwrite")) {
		int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);

		if (mem < 0)
			die("/proc/self/mem");
		for (long i = 0; i < n; i++)
			struck += memwrite_round(mem, &seed);
	} else {
		for (long i = 0; i < n; i++)
			struck += !strcmp(mode, "mremap") ? mremap_round(&seed) :
				  futex_round(&seed);
	}
	printf("holes %s: iterations=%ld struck=%ld", mode, n, struck);
	if (!strcmp(mode, "stop"))
		printf(" longest_block_s=%.3f", worst);
	printf("\n");
	return expect_none && struck ? 1 : 0;
}
