/* SPDX-License-Identifier: MIT */
/*
 * cases_fork.c - the fork advice (DONTFORK, DOFORK, WIPEONFORK, KEEPONFORK)
 * and purges made in a child.  The child reports what it sees through a
 * pipe, so the effect of the advice is part of the compared line, and the
 * child itself goes through the shim's paths after fork.
 */
#include "sem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)
#define PA (MAP_PRIVATE | MAP_ANONYMOUS)
#define X A(PMD)

/* Fork; the child appends its verdict of pages [0,8) at X, optionally
 * after purging pages 6-7 itself; the parent records it. */
static void child_view(int purge)
{
	int fds[2];
	char buf[512];
	if (pipe(fds))
		die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(fds[0]);
		size_t n = 0;
		if (purge) {
			int r = madvise(X + 6 * PG, 2 * PG, MADV_DONTNEED);
			n = (size_t)snprintf(buf, sizeof(buf), "purge=%d ", r);
		}
		sem_mem_str(buf + n, sizeof(buf) - n, X, 8, 0);
		ssize_t w = write(fds[1], buf, strlen(buf));
		_exit(w > 0 ? 0 : 1);
	}
	close(fds[1]);
	ssize_t r = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	int st;
	waitpid(pid, &st, 0);
	buf[r > 0 ? r : 0] = 0;
	sem_note("child=[%s] exit=%d", buf,
		 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

void cases_fork(void)
{
	static const int seq[][2] = {
		{ MADV_DONTFORK, -1 }, { MADV_DOFORK, -1 },
		{ MADV_WIPEONFORK, -1 }, { MADV_KEEPONFORK, -1 },
		{ MADV_DONTFORK, MADV_DOFORK },
		{ MADV_WIPEONFORK, MADV_KEEPONFORK },
		{ MADV_WIPEONFORK, MADV_DONTNEED },
		{ MADV_DONTNEED, MADV_WIPEONFORK },
	};
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		for (int kind = 0; kind < 2; kind++)
			for (int purge = 0; purge < 2; purge++) {
				sem_begin("fork_adv%d_then%d_%s_childpurge%d",
					  seq[i][0], seq[i][1],
					  kind ? "shmem" : "anon", purge);
				map_at(PMD, 8 * PG, RW,
				       kind ? MAP_SHARED | MAP_ANONYMOUS : PA,
				       -1, 0);
				fill(X, 8, 6000);
				M(X + 2 * PG, 4 * PG, seq[i][0]);
				if (seq[i][1] >= 0)
					M(X + 2 * PG, 2 * PG, seq[i][1]);
				child_view(purge);
				sem_mem(X, 8, 0);
				sem_end();
			}
}
