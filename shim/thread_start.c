/* SPDX-License-Identifier: MIT */
/*
 * thread_start.c - pthread_create, so the jemalloc adapter can hook the
 * arena a new thread picks, from the thread itself, before its start
 * routine runs.  That is a safe point (the thread holds no allocator lock)
 * and it spares creating every automatic arena at attach, each of which
 * costs RSS and a page table whether or not a thread ever uses it.
 *
 * Only threads the adapter cares about go through the trampoline; the rest,
 * and any start while the adapter is detached, go straight to libc.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "internal.h"

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *,
			 void *(*)(void *), void *);

static create_fn real_create;

struct start {
	void *(*fn)(void *);
	void *arg;
};

void pr_threads_init(void)
{
	real_create = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
}

bool pr_threads_can_start(void)
{
	return real_create != NULL;
}

static void *trampoline(void *p)
{
	struct start s = *(struct start *)p;

	pr_je_thread_started();
	free(p);
	return s.fn(s.arg);
}

PR_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
			     void *(*fn)(void *), void *arg)
{
	struct start *s;
	int r;

	/* A thread started before our constructor ran: look libc up now
	 * (jemalloc, which could be holding its locks here, finds
	 * pthread_create for itself and does not come through us). */
	if (!real_create)
		pr_threads_init();
	if (!real_create)
		return EAGAIN;
	if (!pr_je_wants_thread_start(__builtin_return_address(0)))
		return real_create(thread, attr, fn, arg);
	s = malloc(sizeof(*s));
	if (!s)
		return real_create(thread, attr, fn, arg);
	s->fn = fn;
	s->arg = arg;
	r = real_create(thread, attr, trampoline, s);
	if (r)
		free(s);
	return r;
}

int pr_threads_spawn(void *(*fn)(void *))
{
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	int r;

	/* Signals are the program's business: none come to this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 << 10);
	r = pthread_create(&th, &attr, fn, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}
