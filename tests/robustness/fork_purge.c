/* SPDX-License-Identifier: MIT */
/*
 * fork_purge - fork while other threads are inside the shim.
 *
 * Background threads purge, map and unmap without pause, so at the moment
 * of fork another thread may be in the middle of the shim (holding its
 * locks, or a ledger entry).  Each child must still be able to use
 * the shim's paths: it purges and verifies memory it inherited, maps and
 * unmaps, and exits through exit() so the shim's at-exit report (with
 * PTRECLAIM_CONF=stats:1) runs in the child too.  Then children that exec
 * this program again (a fresh process under the same LD_PRELOAD) and ones
 * started with posix_spawn (vfork-style: the child shares our memory until
 * it execs).  A deadlock in a child shows up as SIGALRM.
 *
 * Usage: fork_purge [ROUNDS]   (default 20)
 *        fork_purge --child    (what the exec'd children run)
 */
#include "robust.h"

#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define NBG 4
#define INHERIT_PAGES 1024	/* two PMDs */

extern char **environ;
static atomic_int stop;
static char *inherited;

static void *background(void *arg)
{
	uint64_t seed = 77 + (uintptr_t)arg;
	char *own = map_pmd_aligned(PMD);
	for (size_t i = 0; i < PMD / PG; i++)
		stamp_page(own + i * PG, i);
	while (!atomic_load(&stop)) {
		size_t i = rnd(&seed) % (PMD / PG - 8);
		REQUIRE(madvise(own + i * PG, 8 * PG, MADV_DONTNEED) == 0, "dn");
		for (size_t k = i; k < i + 8; k++) {
			REQUIRE(page_state(own + k * PG, k) == 0, "not zero");
			stamp_page(own + k * PG, k);
		}
		char *m = map_anon(16 * PG);
		REQUIRE(madvise(m, 16 * PG, MADV_FREE) == 0, "free");
		REQUIRE(munmap(m, 16 * PG) == 0, "munmap");
	}
	for (size_t i = 0; i < PMD / PG; i++)
		REQUIRE(page_state(own + i * PG, i) == 1, "own page %zu", i);
	munmap(own, PMD);
	return NULL;
}

/* The work a child does: every interposed call, on inherited and fresh
 * memory, with the data checked. */
static int child_work(char *inh)
{
	arm_watchdog(30);
	if (inh) {
		for (size_t i = 0; i < INHERIT_PAGES; i++)
			REQUIRE(page_state(inh + i * PG, i) == 1, "inherited %zu", i);
		/* Purge the first PMD in 64 KiB pieces but one page. */
		for (size_t i = 0; i < 512; i += 16)
			REQUIRE(madvise(inh + i * PG, (i == 496 ? 15 : 16) * PG,
				      MADV_DONTNEED) == 0, "child purge");
		REQUIRE(page_state(inh + 511 * PG, 511) == 1, "kept page lost");
		REQUIRE(page_state(inh + 3 * PG, 3) == 0, "purged page kept");
		for (size_t i = 512; i < INHERIT_PAGES; i++)
			REQUIRE(page_state(inh + i * PG, i) == 1, "second PMD");
	}
	char *m = map_pmd_aligned(2 * PMD);
	for (size_t i = 0; i < 2 * PMD / PG; i++)
		stamp_page(m + i * PG, i ^ 0x55);
	REQUIRE(madvise(m, PMD, MADV_DONTNEED) == 0, "whole pmd");
	REQUIRE(madvise(m + PMD, PMD / 2, MADV_FREE) == 0, "free");
	char *q = mremap(m + PMD, PMD, 2 * PMD, MREMAP_MAYMOVE);
	REQUIRE(q != MAP_FAILED, "mremap");
	for (size_t i = 256; i < 512; i++)
		REQUIRE(page_state(q + i * PG, (512 + i) ^ 0x55) == 1, "moved");
	REQUIRE(munmap(q, 2 * PMD) == 0 && munmap(m, PMD) == 0, "munmap");
	return 0;
}

static void wait_ok(pid_t pid, const char *what)
{
	int st;
	REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid");
	REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "%s child: status %#x (signal %d)", what, st,
	      WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child_work(NULL);
	int rounds = argc > 1 ? atoi(argv[1]) : 20;
	pthread_t bg[NBG];

	arm_watchdog(120);
	inherited = map_pmd_aligned(INHERIT_PAGES * PG);
	for (size_t i = 0; i < INHERIT_PAGES; i++)
		stamp_page(inherited + i * PG, i);
	for (uintptr_t i = 0; i < NBG; i++)
		REQUIRE(pthread_create(&bg[i], NULL, background, (void *)i) == 0,
		      "pthread_create");

	for (int r = 0; r < rounds; r++) {
		fflush(NULL);
		pid_t pid = fork();
		REQUIRE(pid >= 0, "fork");
		if (pid == 0)
			exit(child_work(inherited));
		wait_ok(pid, "fork");

		pid = fork();
		REQUIRE(pid >= 0, "fork");
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "--child", (char *)NULL);
			_exit(127);
		}
		wait_ok(pid, "fork+exec");

		char *cargv[] = { argv[0], "--child", NULL };
		REQUIRE(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, cargv,
				  environ) == 0, "posix_spawn");
		wait_ok(pid, "posix_spawn");
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < NBG; i++)
		pthread_join(bg[i], NULL);
	for (size_t i = 0; i < INHERIT_PAGES; i++)
		REQUIRE(page_state(inherited + i * PG, i) == 1, "parent page %zu", i);
	printf("fork_purge: %d rounds of fork, fork+exec and posix_spawn, "
	       "all children exited 0\n", rounds);
	return 0;
}
