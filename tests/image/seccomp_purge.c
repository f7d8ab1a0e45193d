/* SPDX-License-Identifier: MIT */
/*
 * image_seccomp_purge - a program that sandboxes itself, as browsers and
 * systemd services do, and keeps purging memory the way an allocator does.
 *
 * After start it installs, on every thread (SECCOMP_FILTER_FLAG_TSYNC), an
 * allow-list filter whose default is SECCOMP_RET_KILL_PROCESS.  The list
 * holds the calls this program makes from then on (and the few glibc
 * makes for it), nothing more.  Then, for ROUNDS rounds (about 2.4 s):
 * fill 4 PMD-aligned 2 MiB regions, purge three of them completely and
 * the fourth all but one 64 KiB piece with madvise(MADV_DONTNEED) in
 * 64 KiB pieces (every one of the 512 pages of a region purged: a region
 * a preload's ledger sees complete), map, fill, purge and unmap a fifth
 * region, sleep (long enough, twice, for any background thread with a
 * 500 ms delay to wake and act), and check every byte: purged pages read
 * zero, the surviving piece keeps its bytes.
 *
 * Without a preload it prints one line and exits 0.  A preload must not
 * change that: its thread is under the same filter, and any call outside
 * the list kills the whole process (SIGSYS, status 159 in a shell).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PMD (2UL << 20)
#define PAGE 4096UL
#define PIECE (64UL << 10)
#define REGIONS 4
#define ROUNDS 12

/* Only write(2) from here on: stdio may fstat, which the filter kills. */
static void say(const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(1, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void die(const char *what, unsigned long a, unsigned long b)
{
	char buf[160];

	/* snprintf of integers makes no system call. */
	snprintf(buf, sizeof(buf), "seccomp-purge: FAIL %s (%lu, %lu)\n", what, a, b);
	/* Nothing to do if even this fails (-D_FORTIFY_SOURCE wants it read). */
	if (write(2, buf, strlen(buf)) < 0)
		_exit(1);
	_exit(1);
}

static unsigned char tag(unsigned round, unsigned long page)
{
	return (unsigned char)((round * 31 + page * 7) % 255 + 1);
}

static void fill(unsigned char *p, unsigned long len, unsigned round,
		 unsigned long first_page)
{
	for (unsigned long off = 0; off < len; off += PAGE)
		memset(p + off, tag(round, first_page + off / PAGE), PAGE);
}

static void check(const unsigned char *p, unsigned long len, int zero,
		  unsigned round, unsigned long first_page)
{
	for (unsigned long off = 0; off < len; off += PAGE) {
		unsigned char want = zero ? 0 : tag(round, first_page + off / PAGE);

		for (unsigned long i = 0; i < PAGE; i++)
			if (p[off + i] != want)
				die(zero ? "a purged byte is not zero" :
					   "a kept byte changed",
				    round, off + i);
	}
}

/* 64 KiB pieces in a scattered but fixed order (stride 7 of 32). */
static void purge(unsigned char *p, unsigned long len, unsigned long skip)
{
	unsigned long n = len / PIECE;

	for (unsigned long k = 0; k < n; k++) {
		unsigned long i = (k * 7) % n;

		if (i == skip)
			continue;
		if (madvise(p + i * PIECE, PIECE, MADV_DONTNEED))
			die("madvise", i, (unsigned long)errno);
	}
}

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

#define ALLOW(nr) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static int sandbox(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		ALLOW(SYS_read),
		ALLOW(SYS_write),
		ALLOW(SYS_mmap),
		ALLOW(SYS_munmap),
		ALLOW(SYS_madvise),
		ALLOW(SYS_brk),
		ALLOW(SYS_futex),
		ALLOW(SYS_nanosleep),
		ALLOW(SYS_clock_nanosleep),
		ALLOW(SYS_clock_gettime),
		ALLOW(SYS_rt_sigreturn),
		ALLOW(SYS_rt_sigprocmask),
		ALLOW(SYS_sched_yield),
		ALLOW(SYS_exit),
		ALLOW(SYS_exit_group),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	long r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		perror("seccomp-purge: PR_SET_NO_NEW_PRIVS");
		return -1;
	}
	/* With TSYNC a positive result is the id of a thread that could
	 * not be synchronised. */
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_TSYNC, &prog);
	if (r != 0) {
		if (r > 0)
			fprintf(stderr, "seccomp-purge: TSYNC failed on thread %ld\n", r);
		else
			perror("seccomp-purge: seccomp");
		return -1;
	}
	return 0;
}

int main(void)
{
	unsigned long len = REGIONS * PMD;
	unsigned char *raw, *p;
	unsigned long purged = 0;

	/* Everything that may need another call is done before the filter. */
	raw = mmap(NULL, len + PMD, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) {
		perror("seccomp-purge: mmap");
		return 1;
	}
	p = (unsigned char *)(((uintptr_t)raw + PMD - 1) & ~(PMD - 1));
	/* No huge pages: every 64 KiB purge must be a purge of 16 PTEs. */
	madvise(raw, len + PMD, MADV_NOHUGEPAGE);
	if (sandbox())
		return 1;

	for (unsigned round = 0; round < ROUNDS; round++) {
		unsigned char *extra;

		fill(p, len, round, 0);
		check(p, len, 0, round, 0);
		for (unsigned r = 0; r < REGIONS; r++) {
			/* Region 3 keeps piece 5 (pages 80-95). */
			purge(p + r * PMD, PMD, r == 3 ? 5 : (unsigned long)-1);
			purged += r == 3 ? PMD - PIECE : PMD;
		}
		extra = mmap(NULL, PMD, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (extra == MAP_FAILED)
			die("mmap", round, (unsigned long)errno);
		fill(extra, PMD, round, 7);
		purge(extra, PMD, (unsigned long)-1);
		check(extra, PMD, 1, round, 0);
		if (munmap(extra, PMD))
			die("munmap", round, (unsigned long)errno);

		nap(round == 4 || round == 9 ? 700 : 80);

		for (unsigned r = 0; r < REGIONS; r++) {
			unsigned char *q = p + r * PMD;

			if (r == 3) {
				check(q, 5 * PIECE, 1, round, 0);
				check(q + 5 * PIECE, PIECE, 0, round,
				      (3 * PMD + 5 * PIECE) / PAGE);
				check(q + 6 * PIECE, PMD - 6 * PIECE, 1, round, 0);
			} else {
				check(q, PMD, 1, round, 0);
			}
		}
	}
	{
		char buf[200];

		snprintf(buf, sizeof(buf),
			 "seccomp-purge: %d rounds under a TSYNC allow-list, "
			 "%lu MiB purged in 64 KiB pieces, every byte checked\n",
			 ROUNDS, purged >> 20);
		say(buf);
	}
	return 0;
}
