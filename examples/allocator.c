/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "allocator.h"

#include <dlfcn.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* jemalloc 5's MALLCTL_ARENAS_ALL is 4096: "purge every arena". */
#define JE_PURGE_ALL "arena.4096.purge"

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
typedef void (*void_fn)(void);
typedef void (*collect_fn)(bool);

static const char *name = "unknown";
static mallctl_fn je_mallctl;
static void_fn tc_release;
static collect_fn mi_collect;

const char *allocator_init(void)
{
	Dl_info info;
	void *m = dlsym(RTLD_DEFAULT, "malloc");

	/* The library that defines the malloc we actually call decides; a
	 * stray symbol from an unrelated library must not. */
	if (!m || !dladdr(m, &info) || !info.dli_fname)
		return name;
	if (strstr(info.dli_fname, "jemalloc")) {
		name = "jemalloc";
		je_mallctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
	} else if (strstr(info.dli_fname, "tcmalloc")) {
		name = "tcmalloc";
		tc_release = (void_fn)dlsym(RTLD_DEFAULT,
					    "MallocExtension_ReleaseFreeMemory");
	} else if (strstr(info.dli_fname, "mimalloc")) {
		name = "mimalloc";
		mi_collect = (collect_fn)dlsym(RTLD_DEFAULT, "mi_collect");
	} else if (strstr(info.dli_fname, "libc.so")) {
		name = "glibc";
	}
	return name;
}

void allocator_purge(void)
{
	if (je_mallctl)
		je_mallctl(JE_PURGE_ALL, NULL, NULL, NULL, 0);
	else if (tc_release)
		tc_release();
	else if (mi_collect)
		mi_collect(true);
	else if (!strcmp(name, "glibc"))
		malloc_trim(0);
}
