/* SPDX-License-Identifier: MIT */
/*
 * safe_point.c - blocking calls where a wanted start may create its
 * thread (life.c).  An allocator purges with its locks held, and
 * pthread_create allocates, so the first purge inside tcmalloc or
 * mimalloc (or jemalloc when the kernel's advice was chosen) only asks
 * for a start.  A thread entering poll, epoll_wait, select or a sleep
 * holds no allocator lock: no allocator makes these calls.  Services
 * reach one soon (an event loop, a timer); a program that never blocks
 * never gets the worker and is observed, and its report says so.
 *
 * Each wrapper checks one word, then calls libc's own function (found
 * once with dlsym, so cancellation and every argument are libc's): the
 * call, its result and errno are the program's.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

#define SAFE_POINT(ret, fail, name, params, args)			\
PR_EXPORT ret name params						\
{									\
	static void *real;						\
	ret (*f) params = (ret (*) params)pr_libc_fn(&real, #name);	\
									\
	if (!f) {							\
		errno = ENOSYS;						\
		return fail;						\
	}								\
	pr_life_safe_point();						\
	return f args;							\
}

SAFE_POINT(int, -1, poll, (struct pollfd *fds, nfds_t n, int t),
	   (fds, n, t))
SAFE_POINT(int, -1, ppoll, (struct pollfd *fds, nfds_t n,
			    const struct timespec *t, const sigset_t *m),
	   (fds, n, t, m))
SAFE_POINT(int, -1, select, (int n, fd_set *r, fd_set *w, fd_set *e,
			     struct timeval *t),
	   (n, r, w, e, t))
SAFE_POINT(int, -1, pselect, (int n, fd_set *r, fd_set *w, fd_set *e,
			      const struct timespec *t, const sigset_t *m),
	   (n, r, w, e, t, m))
SAFE_POINT(int, -1, epoll_wait, (int fd, struct epoll_event *ev, int n,
				 int t),
	   (fd, ev, n, t))
SAFE_POINT(int, -1, epoll_pwait, (int fd, struct epoll_event *ev, int n,
				  int t, const sigset_t *m),
	   (fd, ev, n, t, m))
SAFE_POINT(int, -1, nanosleep, (const struct timespec *t,
				struct timespec *rem),
	   (t, rem))
SAFE_POINT(int, ENOSYS, clock_nanosleep, (clockid_t c, int fl,
					  const struct timespec *t,
					  struct timespec *rem),
	   (c, fl, t, rem))
SAFE_POINT(int, -1, usleep, (useconds_t us), (us))
SAFE_POINT(unsigned int, s, sleep, (unsigned int s), (s))
