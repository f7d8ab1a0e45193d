/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for a program's own jemalloc built with a symbol prefix
 * (--with-jemalloc-prefix=je_, as Redis or Rust's jemallocator do): it
 * exports je_mallctl, je_mallocx and je_dallocx only, backed by Debian's
 * jemalloc loaded with RTLD_LOCAL so that no plain "mallctl" is visible.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

static void *lib;

static void *fn(const char *name)
{
	if (!lib)
		lib = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_LOCAL);
	return lib ? dlsym(lib, name) : NULL;
}

int je_mallctl(const char *name, void *old, size_t *oldlen, void *new,
	       size_t newlen)
{
	int (*f)(const char *, void *, size_t *, void *, size_t) =
		(int (*)(const char *, void *, size_t *, void *, size_t))
		fn("mallctl");

	return f ? f(name, old, oldlen, new, newlen) : -1;
}

void *je_mallocx(size_t size, int flags)
{
	void *(*f)(size_t, int) = (void *(*)(size_t, int))fn("mallocx");

	return f ? f(size, flags) : NULL;
}

void je_dallocx(void *p, int flags)
{
	void (*f)(void *, int) = (void (*)(void *, int))fn("dallocx");

	if (f)
		f(p, flags);
}
