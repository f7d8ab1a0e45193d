/* SPDX-License-Identifier: MIT */
/*
 * objects.c - the loaded object that holds an address: its range, to
 * tell whose code made a call (the allocator's mmap, jemalloc's own
 * thread start), and its name, to tell which allocator provides malloc.
 * One dl_iterate_phdr walk over the program headers, no dladdr: dladdr
 * also searches the object's symbol table for the nearest symbol, which
 * for libc.so is thousands of entries and was the largest part of the
 * shim's start-up (bench/exec-cost).  Start-up only, never an interposed
 * path.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>

#include "platform.h"

struct object {
	uintptr_t addr;		/* what we look for */
	uintptr_t lo, hi;	/* the holder's PT_LOAD span */
	const char *name;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct object *o = arg;
	uintptr_t lo = 0, hi = 0;
	bool holds = false;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;

		if (ph->p_type != PT_LOAD)
			continue;
		holds = holds || (o->addr >= s && o->addr < e);
		lo = lo && lo < s ? lo : s;
		hi = hi > e ? hi : e;
	}
	if (!holds)
		return 0;
	o->lo = lo;
	o->hi = hi;
	/* The program itself has no name here; dladdr said argv[0]. */
	o->name = info->dlpi_name && info->dlpi_name[0] ?
		  info->dlpi_name : program_invocation_name;
	return 1;
}

static bool find(const void *addr, struct object *o)
{
	*o = (struct object){ .addr = (uintptr_t)addr };
	return addr && dl_iterate_phdr(find_object, o) && o->hi;
}

bool pr_object_range(const void *sym, uintptr_t *lo, uintptr_t *hi)
{
	struct object o;
	bool ok = find(sym, &o);

	*lo = ok ? o.lo : 0;
	*hi = ok ? o.hi : 0;
	return ok;
}

const char *pr_object_name(const void *addr)
{
	struct object o;

	return find(addr, &o) ? o.name : NULL;
}

bool pr_malloc_object(uintptr_t *lo, uintptr_t *hi)
{
	return pr_object_range(dlsym(RTLD_DEFAULT, "malloc"), lo, hi);
}

void *pr_libc_fn(void **slot, const char *name)
{
	void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

	if (!f) {
		f = dlsym(RTLD_NEXT, name);
		__atomic_store_n(slot, f, __ATOMIC_RELEASE);
	}
	return f;
}
