/* SPDX-License-Identifier: MIT */
/*
 * seccomp - a program that sandboxes itself as renderers do: a seccomp
 * allow-list of only the calls it makes itself, on every thread (TSYNC),
 * killing the process for anything else, and then keeps purging.  Under
 * the shim it must live in every configuration: the interposed calls make
 * only the call asked for, and the shim's threads are gone before the
 * filter is in place.
 *
 * Usage: seccomp [tsync|prctl] [SECONDS]
 */
#include "lc.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define ALLOW(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
		  BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static void sandbox(bool tsync)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		ALLOW(SYS_read), ALLOW(SYS_write), ALLOW(SYS_futex),
		ALLOW(SYS_nanosleep), ALLOW(SYS_clock_nanosleep),
		ALLOW(SYS_madvise), ALLOW(SYS_mmap), ALLOW(SYS_munmap),
		ALLOW(SYS_brk), ALLOW(SYS_exit), ALLOW(SYS_exit_group),
		ALLOW(SYS_rt_sigreturn), ALLOW(SYS_clock_gettime),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("PR_SET_NO_NEW_PRIVS");
	if (tsync ? syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			    SECCOMP_FILTER_FLAG_TSYNC, &prog) :
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		die("seccomp");
}

int main(int argc, char **argv)
{
	bool tsync = argc < 2 || strcmp(argv[1], "prctl");
	double secs = argc > 2 ? atof(argv[2]) : 1.5;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	char *p = map_pmd_aligned(8 * PMD);
	double end;
	long rounds = 0;

	/* Purges before the filter start the shim (a worker, where the
	 * fence runs); the filter must still find no thread of ours. */
	purge(p, 8);
	nanosleep(&ts, NULL);
	/* On stderr: plain and shim runs differ here, and may. */
	fprintf(stderr, "threads before the filter: %d\n", threads_now());
	/* stdout's first use looks at the descriptor (fstat): before. */
	printf("sandboxing\n");
	fflush(stdout);
	sandbox(tsync);
	end = now_s() + secs;
	while (now_s() < end) {
		char *q = mmap(NULL, 4 * PMD, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (q == MAP_FAILED)
			return 3;
		purge(p, 8);
		purge(q, 2);
		munmap(q, 4 * PMD);
		nanosleep(&ts, NULL);
		rounds++;
	}
	fprintf(stderr, "rounds=%ld\n", rounds);
	CHECK(rounds > 0);
	CHECK_DONE();
}
