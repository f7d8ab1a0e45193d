/* SPDX-License-Identifier: MIT */
/*
 * malloc_guard.c - a preload library that proves the shim never allocates.
 *
 * Preloaded after the shim (LD_PRELOAD=libptreclaim.so:libmalloc-guard.so)
 * it defines every malloc-family entry point, forwards each to glibc's
 * own implementation, and aborts the process if the shim reports that the
 * calling thread is inside its interposed path.  Allocators call madvise
 * with their own locks held, so an allocation there could deadlock.
 *
 * Nothing here may allocate, print with stdio or call dlsym: the guard
 * itself runs inside malloc.  __ptreclaim_inside is a weak reference,
 * resolved once by the dynamic linker when the library is loaded.
 *
 * MALLOC_GUARD_REQUIRE_SHIM=1 makes a missing shim fatal, so a test cannot
 * pass because the guard had nothing to check against.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

int __ptreclaim_inside(void) __attribute__((weak));

static void say(const char *a, const char *b)
{
	ssize_t r = write(2, a, strlen(a));
	r += write(2, b, strlen(b));
	r += write(2, "\n", 1);
	(void)r;
}

static inline void guard(const char *fn)
{
	if (__ptreclaim_inside && __ptreclaim_inside()) {
		say("malloc-guard: FATAL: allocation inside the shim's "
		    "interposed path: ", fn);
		abort();
	}
}

__attribute__((constructor)) static void guard_init(void)
{
	const char *req = getenv("MALLOC_GUARD_REQUIRE_SHIM");
	if (!__ptreclaim_inside && req && strcmp(req, "1") == 0) {
		say("malloc-guard: FATAL: __ptreclaim_inside not found; ",
		    "preload libptreclaim.so before libmalloc-guard.so");
		_exit(99);
	}
}

void *malloc(size_t n)
{
	guard("malloc");
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	guard("calloc");
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	guard("realloc");
	return __libc_realloc(p, n);
}

void free(void *p)
{
	guard("free");
	__libc_free(p);
}

void *memalign(size_t al, size_t n)
{
	guard("memalign");
	return __libc_memalign(al, n);
}

void *aligned_alloc(size_t al, size_t n)
{
	guard("aligned_alloc");
	return __libc_memalign(al, n);
}

int posix_memalign(void **out, size_t al, size_t n)
{
	guard("posix_memalign");
	if (al < sizeof(void *) || (al & (al - 1)))
		return EINVAL;
	void *p = __libc_memalign(al, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *valloc(size_t n)
{
	guard("valloc");
	return __libc_valloc(n);
}

void *pvalloc(size_t n)
{
	guard("pvalloc");
	return __libc_pvalloc(n);
}
