/* SPDX-License-Identifier: MIT */
/*
 * A program for the report tests (test_report.sh), run under the shim:
 *   report_prog fork     purge; fork a child that purges and one that does
 *                        not; print "parent=P purger=C idle=I"
 *   report_prog daemon F fork; the parent exits at once; the child, in a
 *                        new session, purges, writes its pid to F and exits
 *   report_prog pipe N   print a line, wait until stderr is a pipe nobody
 *                        reads (the reader took the line and left), exit N
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* One purge the shim sees: 64 KiB touched and given back. */
static void purge(void)
{
	size_t len = 64 << 10;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		exit(3);
	memset(p, 1, len);
	if (madvise(p, len, MADV_DONTNEED))
		exit(3);
	munmap(p, len);
}

static pid_t child(int purges)
{
	pid_t pid = fork();

	if (pid < 0)
		exit(3);
	if (pid == 0) {
		if (purges)
			purge();
		exit(0);
	}
	return pid;
}

static int do_fork(void)
{
	pid_t purger, idle;
	int st1, st2;

	purge();
	purger = child(1);
	idle = child(0);
	if (waitpid(purger, &st1, 0) < 0 || waitpid(idle, &st2, 0) < 0 ||
	    st1 || st2)
		return 3;
	printf("parent=%d purger=%d idle=%d\n", (int)getpid(), (int)purger,
	       (int)idle);
	return 0;
}

static int do_daemon(const char *pidfile)
{
	char tmp[4096];
	pid_t pid = fork();
	FILE *f;

	if (pid < 0)
		return 3;
	if (pid > 0)
		return 0;	/* the parent exits at once, by exit() */
	setsid();
	usleep(100 * 1000);	/* the parent is gone first, like a daemon's */
	purge();
	snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) ||
	    rename(tmp, pidfile))
		return 3;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "fork"))
		return do_fork();
	if (argc >= 3 && !strcmp(argv[1], "daemon"))
		return do_daemon(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "pipe")) {
		/* A pipe's write end polls POLLERR once the reader is gone. */
		struct pollfd p = { .fd = 2, .events = 0 };

		printf("ready\n");
		fflush(stdout);
		if (poll(&p, 1, 10000) != 1 || !(p.revents & POLLERR))
			return 4;
		return atoi(argv[2]);
	}
	fprintf(stderr, "usage: report_prog fork | daemon PIDFILE | pipe N\n");
	return 2;
}
