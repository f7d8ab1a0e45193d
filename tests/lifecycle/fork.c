/* SPDX-License-Identifier: MIT */
/*
 * fork - children made without atfork handlers (_Fork, a raw clone) while
 * the fence's worker keeps windows open, and vfork children.  A child
 * inherits the shim's memory as the parent's threads left it: a work lock
 * held, a window open.  Children that exit (the shim's destructor stops
 * the worker) or munmap (waits on an open window) must never hang; each
 * child arms alarm() so a hang kills it, and the parent counts.
 *
 * Usage: fork [ITERATIONS]
 */
#include "lc.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define NREG 20

extern pid_t _Fork(void);

enum how { EXIT, MUNMAP, RAW_CLONE, VFORK };

static char *heap;

static void child(enum how how, unsigned i)
{
	alarm(5);
	if (how == MUNMAP || how == RAW_CLONE) {
		/* The parent's worker may have had a window open here. */
		for (unsigned k = 0; k < NREG; k++)
			if (munmap(heap + (size_t)((i + k) % NREG) * PMD, PMD))
				_exit(3);
		_exit(0);
	}
	exit(0);	/* destructors: the shim stops its worker */
}

/* Regions the ledger has not seen: unmapped and mapped again, then
 * purged whole, so each one completes (and kicks the worker). */
static void fresh(char *p, size_t n)
{
	if (munmap(p, n * PMD) ||
	    mmap(p, n * PMD, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p)
		die("remap");
	if (madvise(p, n * PMD, MADV_NOHUGEPAGE))
		die("MADV_NOHUGEPAGE");
	purge(p, n);
}

static pid_t spawn(enum how how, unsigned i)
{
	pid_t pid;

	if (how == VFORK) {
		pid = vfork();
		if (pid == 0)
			_exit(0);
		return pid;
	}
	pid = how == RAW_CLONE ? (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) :
				 _Fork();
	if (pid == 0)
		child(how, i);
	return pid;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 300;
	unsigned bad[4] = { 0 };
	uint64_t seed = 88172645463325252ULL;
	const char *names[4] = { "exit", "munmap", "raw-clone", "vfork" };

	heap = map_pmd_aligned(NREG * PMD);
	for (unsigned i = 0; i < n; i++) {
		enum how how = (enum how)(i % 4);
		int st;
		pid_t pid;

		/* Regions completed all the time, and the fork at a random
		 * moment of the worker's pass that follows (fence_delay_ms:0:
		 * windows open within a millisecond or two). */
		fresh(heap + (size_t)(i % (NREG - 3)) * PMD, 4);
		for (double t = now_s() + (double)(rnd(&seed) % 12000) / 1e6;
		     now_s() < t;)
			;
		pid = spawn(how, i);
		if (pid < 0)
			die("fork");
		if (waitpid(pid, &st, 0) != pid)
			die("waitpid");
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			bad[how]++;
			fprintf(stderr, "child %u (%s): %s %d\n", i, names[how],
				WIFSIGNALED(st) ? "signal" : "exit",
				WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		}
	}
	for (int k = 0; k < 4; k++) {
		printf("%s: %u of %u hung or failed\n", names[k], bad[k],
		       (n + 3 - (unsigned)k) / 4);
		CHECK(bad[k] == 0);
	}
	printf("fence: %s\n", fence_reason() ? fence_reason() : "active");
	CHECK_DONE();
}
