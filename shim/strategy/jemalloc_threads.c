/* SPDX-License-Identifier: MIT */
/*
 * jemalloc_threads.c - pthread_create, so the jemalloc adapter can hook the
 * arena a new thread picks, from the thread itself, before its start
 * routine runs.  That is a safe point (the thread holds no allocator lock)
 * and it spares creating every automatic arena at attach, each of which
 * costs RSS and a page table whether or not a thread ever uses it.
 *
 * Only threads the adapter cares about go through the trampoline; the rest,
 * and any start while the adapter is detached, go straight to libc.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "core.h"
#include "jemalloc.h"

struct start {
	void *(*fn)(void *);
	void *arg;
};

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

	/* libc's is looked up on first use, also before our constructor
	 * ran (jemalloc, which could be holding its locks here, finds
	 * pthread_create for itself and does not come through us). */
	if (!pr_thread_available())
		return EAGAIN;
	/* The program's own call holds no allocator lock (this call
	 * allocates): a safe point for a wanted start (core/life.c). */
	pr_life_safe_point();
	if (!pr_je_wants_thread_start(__builtin_return_address(0)))
		return pr_thread_create(thread, attr, fn, arg);
	s = malloc(sizeof(*s));
	if (!s)
		return pr_thread_create(thread, attr, fn, arg);
	s->fn = fn;
	s->arg = arg;
	r = pr_thread_create(thread, attr, trampoline, s);
	if (r)
		free(s);
	return r;
}
