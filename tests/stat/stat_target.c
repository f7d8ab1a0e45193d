/* SPDX-License-Identifier: MIT */
/*
 * stat_target [MB] - a heap for `ptreclaim stat` to read: MB of small
 * objects, 90% freed (the first tenth kept: whole 2 MiB regions go, so a
 * strategy has tables to free, and the survivors keep theirs), a
 * fork child if asked (--fork; --rawfork: by the system call, so no
 * atfork handler runs in it), or a seccomp filter installed late and
 * time for the shim's worker to notice it (--seccomp; --seccomp-fork: and
 * then a fork child), then
 * "ready PID[ CHILD]" on stdout and
 * idle until SIGTERM, which exits through exit() so the shim's report
 * at exit (stats_format:json) shows what it counted.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define OBJ 4096

static void on_term(int sig)
{
	(void)sig;
	exit(0);
}

/* A filter that allows everything, on every thread (as a sandbox that
 * starts late would install its own): the shim's worker must stop. */
static void late_seccomp(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 1, .filter = f };

	/* Idle a moment first, as a service does before it sandboxes: a
	 * blocking call is where the start the purges asked for runs. */
	usleep(300 * 1000);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_TSYNC, &prog)) {
		perror("stat_target: seccomp");
		exit(1);
	}
	sleep(3);	/* the worker looks at least once a second */
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	size_t n = mb * (1 << 20) / OBJ;
	char **objs = calloc(n, sizeof(*objs));
	pid_t child = 0;

	signal(SIGTERM, on_term);
	for (size_t i = 0; objs && i < n; i++) {
		objs[i] = malloc(OBJ);
		if (objs[i])
			memset(objs[i], (int)(i & 0xff), OBJ);
	}
	for (size_t i = 0; objs && i < n; i++)
		if (i >= n / 10) {
			free(objs[i]);
			objs[i] = NULL;
		}
	if (argc > 2 && !strncmp(argv[2], "--seccomp", 9))
		late_seccomp();
	if (argc > 2 && !strcmp(argv[2], "--rawfork")) {
		child = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
		if (child == 0) {
			for (;;)
				pause();
		}
	}
	if (argc > 2 && (!strcmp(argv[2], "--fork") ||
			 !strcmp(argv[2], "--seccomp-fork"))) {
		child = fork();
		if (child == 0) {
			for (;;)
				pause();
		}
	}
	if (child > 0)
		printf("ready %d %d\n", (int)getpid(), (int)child);
	else
		printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}
