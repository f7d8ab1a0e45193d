/* SPDX-License-Identifier: MIT */
/*
 * report_file.c - where the report at exit goes (stderr, or stats_file
 * with %p expanded), and writing it so that it can never kill the process.
 *
 * The file is opened at exit, not at start: a daemon that forks and lets
 * its parent exit must write under its own pid.  No stdio: the report is
 * written a line at a time with write(2) (report.c's lines), so the lines
 * of processes sharing one file (a pattern without %p) stay whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core.h"

size_t pr_report_path(const char *pattern, long pid, char *buf, size_t len)
{
	size_t o = 0;

	for (const char *p = pattern; *p; p++) {
		char num[24];
		const char *add = num;

		if (p[0] == '%' && p[1] == 'p') {
			snprintf(num, sizeof(num), "%ld", pid);
			p++;
		} else {
			/* "%%" is one '%'; config.c lets no other % in. */
			num[0] = *p;
			num[1] = '\0';
			p += p[0] == '%' && p[1] == '%';
		}
		for (; *add; add++, o++)
			if (o + 1 < len)
				buf[o] = *add;
	}
	if (len)
		buf[o < len ? o : len - 1] = '\0';
	return o;
}

/*
 * Appended (processes may share a file), created 0600 (a report is the
 * business of the user the process runs as, and the file may sit in a
 * shared directory such as /tmp), close-on-exec.  Returns the descriptor
 * or -errno; a path too long once expanded is -ENAMETOOLONG.
 */
long pr_report_file_open(const char *pattern)
{
	char path[PR_CONF_PATH_LEN + 64];

	if (pr_report_path(pattern, (long)getpid(), path, sizeof(path)) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	return pr_sys(SYS_openat, AT_FDCWD, (long)path,
		      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
		      0600, 0, 0);
}

/*
 * SIGPIPE blocked around the report's writes: a reader that went away
 * (`| head`) makes them fail with EPIPE, and the process exits with its
 * own status.  A SIGPIPE that the writes raised is taken back before the
 * mask is restored; one that was pending before stays pending.
 */
void pr_sigpipe_block(struct pr_sigpipe *sp)
{
	sigset_t pending;

	sp->saved_errno = errno;
	sigemptyset(&sp->pipe);
	sigaddset(&sp->pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sp->pipe, &sp->old);
	sp->was_pending = sigpending(&pending) == 0 &&
			  sigismember(&pending, SIGPIPE) == 1;
}

void pr_sigpipe_restore(struct pr_sigpipe *sp)
{
	static const struct timespec now;

	if (!sp->was_pending)
		sigtimedwait(&sp->pipe, NULL, &now);
	pthread_sigmask(SIG_SETMASK, &sp->old, NULL);
	errno = sp->saved_errno;
}
