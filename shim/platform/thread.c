/* SPDX-License-Identifier: MIT */
/*
 * thread.c - the shim's background threads: created with libc's
 * pthread_create (past our own interposer, strategy/jemalloc_threads.c),
 * with every signal blocked (signals are the program's business);
 * joinable where they must be stopped and joined (core/life.c), detached
 * otherwise.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>

#include "platform.h"

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *,
			 void *(*)(void *), void *);

static create_fn real_create(void)
{
	static void *slot;

	return (create_fn)pr_libc_fn(&slot, "pthread_create");
}

bool pr_thread_available(void)
{
	return real_create() != NULL;
}

int pr_thread_create(pthread_t *th, const pthread_attr_t *attr,
		     void *(*fn)(void *), void *arg)
{
	create_fn create = real_create();

	return create ? create(th, attr, fn, arg) : -1;
}

static int spawn(pthread_t *th, void *(*fn)(void *), int detach)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, detach);
	pthread_attr_setstacksize(&attr, 256 << 10);
	r = pr_thread_create(th, &attr, fn, NULL);
	/* A large static TLS (a dlopen'd allocator's initial-exec TLS in a
	 * grown surplus) leaves too little of 256 KiB: glibc says EINVAL. */
	if (r == EINVAL) {
		pthread_attr_setstacksize(&attr, 2 << 20);
		r = pr_thread_create(th, &attr, fn, NULL);
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

int pr_thread_spawn(void *(*fn)(void *))
{
	pthread_t th;

	return spawn(&th, fn, PTHREAD_CREATE_DETACHED);
}

int pr_thread_spawn_joinable(pthread_t *th, void *(*fn)(void *))
{
	return spawn(th, fn, PTHREAD_CREATE_JOINABLE);
}

/* From a joinable thread itself, first thing: its kernel thread id, for
 * pr_thread_join. */
void pr_thread_record_tid(int *slot)
{
	__atomic_store_n(slot, (int)pr_sys(SYS_gettid, 0, 0, 0, 0, 0, 0),
			 __ATOMIC_RELEASE);
}

/*
 * pthread_join returns once the kernel has cleared the thread's tid word,
 * a little before the thread leaves the thread group; until then
 * unshare(CLONE_NEWUSER) and setns still count it and fail with EINVAL.
 * So wait (at most 100 ms) until tgkill no longer finds it.
 */
void pr_thread_join(pthread_t th, int *slot)
{
	long pid = pr_sys(SYS_getpid, 0, 0, 0, 0, 0, 0);
	int tid;

	pthread_join(th, NULL);
	tid = __atomic_exchange_n(slot, 0, __ATOMIC_ACQ_REL);
	for (int i = 0; tid > 0 && i < 2000; i++) {
		if (pr_sys(SYS_tgkill, pid, tid, 0, 0, 0, 0) == -ESRCH)
			break;
		pr_sleep_ns(50000);
	}
}

/* From the thread itself: ps and top show what it is. */
void pr_thread_name(const char *name)
{
	pr_sys(SYS_prctl, PR_SET_NAME, (long)name, 0, 0, 0, 0);
}
