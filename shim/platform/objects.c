/* SPDX-License-Identifier: MIT */
/*
 * objects.c - the address range of a loaded object, to tell whose code
 * made a call (the allocator's mmap, jemalloc's own thread start).  Uses
 * dladdr and dl_iterate_phdr: start-up only, never an interposed path.
 */
#include <dlfcn.h>
#include <link.h>

#include "platform.h"

struct range {
	uintptr_t base, lo, hi;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct range *r = arg;

	(void)size;
	if (info->dlpi_addr != r->base)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = r->base + ph->p_vaddr, hi = lo + ph->p_memsz;

		if (ph->p_type != PT_LOAD)
			continue;
		r->lo = r->lo && r->lo < lo ? r->lo : lo;
		r->hi = r->hi > hi ? r->hi : hi;
	}
	return 1;
}

bool pr_object_range(const void *sym, uintptr_t *lo, uintptr_t *hi)
{
	struct range r = { 0, 0, 0 };
	Dl_info info;

	*lo = *hi = 0;
	if (!sym || !dladdr(sym, &info))
		return false;
	r.base = (uintptr_t)info.dli_fbase;
	dl_iterate_phdr(find_object, &r);
	*lo = r.lo;
	*hi = r.hi;
	return r.hi != 0;
}

bool pr_malloc_object(uintptr_t *lo, uintptr_t *hi)
{
	return pr_object_range(dlsym(RTLD_DEFAULT, "malloc"), lo, hi);
}
