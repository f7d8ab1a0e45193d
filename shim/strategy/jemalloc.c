/* SPDX-License-Identifier: MIT */
/*
 * jemalloc.c - extent hooks that let jemalloc's purges free page
 * tables, safely.
 *
 * jemalloc gives extents back by trying decommit before purge_forced, and it
 * calls commit before it touches an uncommitted extent again.  Our hooks make
 * decommit succeed (MADV_DONTNEED, so the pages read as zero after commit)
 * and record the pages in the decommit map; commit clears them there before
 * returning.  The map then knows exactly which pages are out of use, and
 * reclaims a region's table once all 512 of its pages are (decommit_map.c).
 *
 * Every hook chains to the hooks that were installed before ours.  With
 * jemalloc's own hooks on an overcommitting kernel, the default commit and
 * decommit are no-ops that fail, so ours replace them ("takeover").  With
 * anything else (the application's hooks, or vm.overcommit_memory=2) ours
 * only observe: a decommit is recorded when the previous hook succeeded.
 *
 * Attaching calls mallctl, found with dlsym, so it happens only from the
 * constructor or the public API, never from an interposed call.
 *
 * Armed (core/life.c, the usual start): the constructor attaches and
 * nothing else, no /proc read either; the strategy is chosen at the first
 * decommit, inside h_decommit (core/life.c says what runs there and why
 * it may).  Until then takeover is only a candidate: jemalloc's own alloc
 * reporting fresh memory committed when we asked for none proves the
 * kernel overcommits (jemalloc's pages_map sets *commit only then), and
 * the first decommit reads vm.overcommit_memory if nothing proved it.  If
 * the choice is not the adapter, the hooks stay (mallctl is not allowed
 * there) but go inert: they chain to jemalloc's own, except that commit
 * keeps succeeding for the extents we already said were uncommitted.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include <jemalloc/jemalloc.h>

#include "core.h"
#include "hint.h"
#include "jemalloc.h"
#include "strategy.h"

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
typedef void *(*mallocx_fn)(size_t, int);
typedef void (*dallocx_fn)(void *, int);

/* One per hooked arena.  jemalloc passes &hooks to every hook. */
struct je_slot {
	extent_hooks_t hooks;
	extent_hooks_t *old;	/* what was installed before ours */
	unsigned arena;
	/* old are jemalloc's own: their commit and decommit are failing
	 * no-ops where the kernel overcommits (takeover(), below). */
	bool takeover;
	bool installed;
	bool burnt;		/* lost a race once: never reused */
};

static struct {
	pthread_mutex_t lock;
	mallctl_fn mallctl;
	const char *via;	/* the symbol that found jemalloc */
	char object[128];	/* the object that defines it */
	char version[64];
	struct je_slot *slots;
	unsigned nslots;
	unsigned hooked;
	unsigned takeover;	/* of hooked, how many replace commit/decommit */
	extent_hooks_t *def;	/* jemalloc's own hooks, if known */
	int overcommit;		/* jemalloc's commit/decommit are no-ops; -1:
				 * not known yet (armed) */
	bool armed;		/* attached by the constructor, undecided */
	bool inert;		/* armed, and the choice was not the adapter */
	void (*on_decommit)(void);	/* armed: at every decommit */
	bool retain;
	bool lazy;		/* arenas hooked as threads pick them */
	uintptr_t text_lo, text_hi;	/* jemalloc's object */
	bool attached;
	const char *why_not;	/* reason, when not attached */
} je = { .lock = PTHREAD_MUTEX_INITIALIZER, .why_not = "not tried" };

static struct je_slot *slot_of(extent_hooks_t *h)
{
	return (struct je_slot *)h;
}

/* Our commit and decommit replace jemalloc's failing no-ops. */
static bool takeover(const struct je_slot *s)
{
	return s->takeover &&
	       __atomic_load_n(&je.overcommit, __ATOMIC_ACQUIRE) == 1;
}

static bool inert(void)
{
	return __atomic_load_n(&je.inert, __ATOMIC_ACQUIRE);
}

/* --- the hooks --- */

static void *h_alloc(extent_hooks_t *h, void *new_addr, size_t size,
		     size_t align, bool *zero, bool *commit, unsigned ind)
{
	struct je_slot *s = slot_of(h);
	bool want_commit = *commit;
	void *p = s->old->alloc(s->old, new_addr, size, align, zero, commit,
				ind);

	/*
	 * jemalloc asked for uncommitted memory (it grows its retained set
	 * that way) and got fresh, committed pages.  Say they are not
	 * committed: jemalloc will commit what it uses, and the rest counts as
	 * decommitted from the start, so the regions at its edges can
	 * complete.
	 */
	if (p && s->takeover && !want_commit && *commit && !inert()) {
		uint64_t t0 = pr_now_ns();

		/* Only an overcommitting kernel gets jemalloc's alloc to say
		 * so: what armed start-up would otherwise read from /proc. */
		if (__atomic_load_n(&je.overcommit, __ATOMIC_RELAXED) < 0)
			__atomic_store_n(&je.overcommit, 1, __ATOMIC_RELEASE);

		pr_dcm_decommitted((uintptr_t)p, (uintptr_t)p + size, false);
		*commit = false;
		pr_count(PRC_JE_NS, pr_now_ns() - t0);
	}
	return p;
}

static bool h_dalloc(extent_hooks_t *h, void *addr, size_t size,
		     bool committed, unsigned ind)
{
	struct je_slot *s = slot_of(h);
	uintptr_t a = (uintptr_t)addr;
	bool kept;

	/* Forget first: once the old hook unmaps, the range is anyone's. */
	pr_dcm_forget(a, a + size);
	kept = s->old->dalloc(s->old, addr, size, committed, ind);
	if (kept && !committed)
		pr_dcm_decommitted(a, a + size, true);
	return kept;
}

static void h_destroy(extent_hooks_t *h, void *addr, size_t size,
		      bool committed, unsigned ind)
{
	struct je_slot *s = slot_of(h);

	pr_dcm_forget((uintptr_t)addr, (uintptr_t)addr + size);
	s->old->destroy(s->old, addr, size, committed, ind);
}

static bool h_commit(extent_hooks_t *h, void *addr, size_t size,
		     size_t off, size_t len, unsigned ind)
{
	struct je_slot *s = slot_of(h);
	uintptr_t a = (uintptr_t)addr + off;
	uint64_t t0 = pr_now_ns();
	bool failed = false;

	/* Unmark before jemalloc can touch a byte: a reclaim holding the
	 * region's lock finishes first, and none starts after. */
	pr_dcm_committed(a, a + len);
	pr_count(PRC_JE_COMMITS, 1);
	pr_count(PRC_JE_NS, pr_now_ns() - t0);
	/* Our decommit only purged: the pages are mapped, and read zero.
	 * (Also once inert: extents we said were uncommitted need it.) */
	if (!takeover(s))
		failed = !s->old->commit ||
			 s->old->commit(s->old, addr, size, off, len, ind);
	return failed;
}

static bool h_decommit(extent_hooks_t *h, void *addr, size_t size,
		       size_t off, size_t len, unsigned ind)
{
	struct je_slot *s = slot_of(h);
	uintptr_t a = (uintptr_t)addr + off;
	uint64_t t0;

	/* Armed: the first decommit chooses the strategy (raw system calls
	 * only, nothing that allocates or locks; core/life.c). */
	if (__builtin_expect(__atomic_load_n(&je.armed, __ATOMIC_RELAXED) &&
			     je.on_decommit, 0))
		je.on_decommit();
	if (inert())
		return !s->old->decommit ||
		       s->old->decommit(s->old, addr, size, off, len, ind);
	if (takeover(s)) {
		if (pr_sys(SYS_madvise, (long)a, (long)len, MADV_DONTNEED, 0, 0,
			   0)) {
			/* mlocked, say: jemalloc falls back to purging. */
			pr_count(PRC_JE_DECOMMIT_FAILED, 1);
			return true;
		}
	} else if (!s->old->decommit ||
		   s->old->decommit(s->old, addr, size, off, len, ind)) {
		return true;
	}
	t0 = pr_now_ns();
	/* Before the reclaim below, so the report's peak sees the growth. */
	pr_dcm_decommitted(a, a + len, true);
	pr_hint_purged(a, a + len, true);
	pr_count(PRC_JE_DECOMMITS, 1);
	pr_count(PRC_JE_DECOMMIT_BYTES, len);
	pr_count(PRC_JE_NS, pr_now_ns() - t0);
	return false;
}

static bool h_purge_lazy(extent_hooks_t *h, void *addr, size_t size,
			 size_t off, size_t len, unsigned ind)
{
	struct je_slot *s = slot_of(h);

	return s->old->purge_lazy(s->old, addr, size, off, len, ind);
}

static bool h_purge_forced(extent_hooks_t *h, void *addr, size_t size,
			   size_t off, size_t len, unsigned ind)
{
	struct je_slot *s = slot_of(h);

	return s->old->purge_forced(s->old, addr, size, off, len, ind);
}

static bool h_split(extent_hooks_t *h, void *addr, size_t size, size_t a,
		    size_t b, bool committed, unsigned ind)
{
	struct je_slot *s = slot_of(h);

	return s->old->split(s->old, addr, size, a, b, committed, ind);
}

static bool h_merge(extent_hooks_t *h, void *a, size_t sa, void *b,
		    size_t sb, bool committed, unsigned ind)
{
	struct je_slot *s = slot_of(h);

	return s->old->merge(s->old, a, sa, b, sb, committed, ind);
}

/*
 * Our table for one arena.  Where the old hooks leave a slot NULL (jemalloc
 * then skips that operation), ours does too, except commit and decommit,
 * which we offer in takeover.  In takeover with opt.retain, jemalloc's own
 * dalloc always declines, and jemalloc does not even try it: leaving ours
 * NULL keeps it that way (a non-NULL dalloc costs jemalloc a deregister and
 * reregister of the extent on every give-back).
 */
static void slot_fill(struct je_slot *s, extent_hooks_t *old, unsigned arena,
		      bool takeover)
{
	memset(s, 0, sizeof(*s));
	s->old = old;
	s->arena = arena;
	/* Armed, a candidate until the kernel's overcommit is known (with
	 * opt.retain jemalloc's own dalloc declines either way). */
	s->takeover = takeover;
	s->hooks.alloc = h_alloc;
	s->hooks.dalloc = old->dalloc && !(takeover && je.retain) ?
			  h_dalloc : NULL;
	s->hooks.destroy = old->destroy ? h_destroy : NULL;
	s->hooks.commit = takeover || old->commit ? h_commit : NULL;
	s->hooks.decommit = takeover || old->decommit ? h_decommit : NULL;
	s->hooks.purge_lazy = old->purge_lazy ? h_purge_lazy : NULL;
	s->hooks.purge_forced = old->purge_forced ? h_purge_forced : NULL;
	s->hooks.split = old->split ? h_split : NULL;
	s->hooks.merge = old->merge ? h_merge : NULL;
}

/* --- finding jemalloc --- */

static const char *const prefixes[] = { "", "je_", "_rjem_" };

/*
 * A failing dlsym leaves its message on the thread: the program's own
 * dlerror() would report our lookup, and the thread's next successful dl
 * call frees it (maybe a safe point's first dlsym, in a signal handler
 * that interrupted malloc).  So it is taken and freed here (two dlerror
 * calls: the first returns it, the second frees it).  Test
 * lifecycle-dlerror-left-*.
 */
static void *sym(const char *prefix, const char *name)
{
	char full[64];
	void *f;

	snprintf(full, sizeof(full), "%s%s", prefix, name);
	f = dlsym(RTLD_DEFAULT, full);
	if (!f) {
		(void)dlerror();
		(void)dlerror();
	}
	return f;
}

/* By the objects' ranges (platform/objects.c): dladdr would also scan
 * each object's symbol table for the nearest symbol. */
static bool same_object(const void *a, const void *b)
{
	uintptr_t alo, ahi, blo, bhi;

	return pr_object_range(a, &alo, &ahi) &&
	       pr_object_range(b, &blo, &bhi) && alo == blo;
}

static bool is_main_program(const void *p)
{
	return same_object(p, (const void *)getauxval(AT_PHDR));
}

static bool find_jemalloc(const char **prefix)
{
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++) {
		mallctl_fn f = (mallctl_fn)sym(prefixes[i], "mallctl");
		const char *name;

		if (!f)
			continue;
		je.mallctl = f;
		je.via = i == 0 ? "mallctl" : i == 1 ? "je_mallctl" :
			 "_rjem_mallctl";
		*prefix = prefixes[i];
		name = pr_object_name((void *)f);
		if (name)
			snprintf(je.object, sizeof(je.object), "%s",
				 is_main_program((void *)f) ? "(main program)" : name);
		return true;
	}
	return false;
}

bool pr_je_present(void)
{
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
		if (sym(prefixes[i], "mallctl"))
			return true;
	return false;
}

static int ctl_get(const char *name, void *out, size_t len)
{
	size_t sz = len;

	return je.mallctl(name, out, &sz, NULL, 0) || sz != len ? -1 : 0;
}

/* arena.<i>.initialized is a snapshot taken at the last "epoch". */
static void refresh_epoch(void)
{
	uint64_t e = 1;
	size_t sz = sizeof(e);

	je.mallctl("epoch", &e, &sz, &e, sizeof(e));
}

static int arena_hooks(unsigned i, extent_hooks_t **old, extent_hooks_t *new)
{
	char name[64];
	size_t sz = sizeof(*old);

	snprintf(name, sizeof(name), "arena.%u.extent_hooks", i);
	return je.mallctl(name, old, &sz, new ? &new : NULL,
			  new ? sizeof(new) : 0);
}

/*
 * jemalloc's own hooks: what an automatic arena that does not exist yet
 * reports.  When every one exists, hooks defined in jemalloc's own shared
 * object are its own; in a program that links jemalloc statically, we can't
 * tell them from the application's and assume the application's.
 */
static extent_hooks_t *default_hooks(unsigned nauto, extent_hooks_t *any)
{
	for (unsigned i = nauto; i-- > 0;) {
		char name[64];
		bool init = true;
		extent_hooks_t *h;

		snprintf(name, sizeof(name), "arena.%u.initialized", i);
		if (ctl_get(name, &init, sizeof(init)) == 0 && !init &&
		    arena_hooks(i, &h, NULL) == 0)
			return h;
	}
	if (any && same_object(any, (void *)je.mallctl) &&
	    !is_main_program((void *)je.mallctl))
		return any;
	return NULL;
}

/* Does the kernel overcommit?  jemalloc asks the same question at start,
 * and its default commit and decommit fail as no-ops when it does. */
static bool kernel_overcommits(void)
{
	char buf[8];

	return pr_read_file("/proc/sys/vm/overcommit_memory", buf,
			    sizeof(buf)) > 0 && (buf[0] == '0' || buf[0] == '1');
}

/*
 * The huge arena (allocations above opt.oversize_threshold) is created on
 * first use, and mallctl can't create it for us: make one such allocation.
 */
static void create_huge_arena(const char *prefix, unsigned nauto)
{
	mallocx_fn mx = (mallocx_fn)sym(prefix, "mallocx");
	dallocx_fn dx = (dallocx_fn)sym(prefix, "dallocx");
	size_t thresh = 0;
	extent_hooks_t *h;
	void *p;

	if (!mx || !dx || ctl_get("opt.oversize_threshold", &thresh,
				  sizeof(thresh)) || !thresh ||
	    arena_hooks(nauto, &h, NULL) == 0)
		return;
	/* Ours, not the program's: its mmap and purge are not observed
	 * (nor do they set hinting up, core/interpose.c). */
	pr_busy++;
	p = mx(thresh, 0);
	if (p)
		dx(p, 0);
	pr_busy--;
}

/*
 * Put our hooks on arena i, chained to what it has.  The old hooks are read
 * first and the swap returns what was really there: if another thread
 * changed them in between, the arena gets its hooks back and our slot is
 * never used again (jemalloc may have called it in that instant).
 */
static bool hook_one(unsigned i)
{
	struct je_slot *s;
	extent_hooks_t *old, *prev;

	if (i >= je.nslots)
		return false;
	s = &je.slots[i];
	if (s->installed || s->burnt)
		return s->installed;
	/* Arenas that are not there (manual ones destroyed, the huge arena
	 * not created) answer EFAULT. */
	if (arena_hooks(i, &old, NULL) || !old || old->alloc == h_alloc)
		return false;
	slot_fill(s, old, i, je.overcommit != 0 && old == je.def);
	if (arena_hooks(i, &prev, &s->hooks))
		return false;
	if (prev != old) {
		arena_hooks(i, &old, prev);
		s->burnt = true;
		return false;
	}
	s->installed = true;
	je.hooked++;
	je.takeover += takeover(s);
	return true;
}

static bool arena_exists(unsigned i)
{
	char name[64];
	bool init = false;

	snprintf(name, sizeof(name), "arena.%u.initialized", i);
	return ctl_get(name, &init, sizeof(init)) == 0 && init;
}

/*
 * Eager: every automatic arena, created now with our hooks (writing an
 * absent automatic arena's hooks creates it).  Lazy: the arenas that exist;
 * each thread started later hooks the arena it picks (jemalloc_threads.c).
 */
static int hook_arenas(unsigned n, bool eager)
{
	struct je_slot *slots = pr_map(n * sizeof(*slots));

	if (!slots) {
		je.why_not = "no memory for the hook tables";
		return -ENOMEM;
	}
	je.slots = slots;
	je.nslots = n;
	for (unsigned i = 0; i < n; i++)
		if (eager || arena_exists(i))
			hook_one(i);
	return 0;
}

/* Threads pick an arena per CPU at every allocation with percpu_arena:
 * no thread start tells us which one, so all must be hooked up front. */
static bool percpu_arenas(void)
{
	const char *mode = NULL;
	size_t sz = sizeof(mode);

	return je.mallctl("opt.percpu_arena", &mode, &sz, NULL, 0) == 0 &&
	       mode && strcmp(mode, "disabled") != 0;
}

static int attach_locked(bool armed)
{
	const char *prefix = "";
	unsigned nauto = 0, n = 0;
	extent_hooks_t *arena0 = NULL, *def;
	const char *version = NULL;
	size_t sz = sizeof(version);

	if (je.attached)
		return 0;
	je.hooked = je.takeover = 0;
	if (!find_jemalloc(&prefix)) {
		je.why_not = "jemalloc not found (no mallctl, je_mallctl or _rjem_mallctl)";
		return -ENOENT;
	}
	if (je.mallctl("version", &version, &sz, NULL, 0) || !version) {
		je.why_not = "mallctl(\"version\") failed";
		return -ENOTSUP;
	}
	snprintf(je.version, sizeof(je.version), "%s", version);
	/* Extent hooks are the 5.x interface (4.x had chunk hooks). */
	if (version[0] != '5' || version[1] != '.') {
		je.why_not = "jemalloc version is not 5.x";
		return -ENOTSUP;
	}
	if (ctl_get("opt.narenas", &nauto, sizeof(nauto))) {
		je.why_not = "mallctl(\"opt.narenas\") failed";
		return -ENOTSUP;
	}
	ctl_get("opt.retain", &je.retain, sizeof(je.retain));
	refresh_epoch();
	arena_hooks(0, &arena0, NULL);
	def = default_hooks(nauto, arena0);
	create_huge_arena(prefix, nauto);
	if (ctl_get("arenas.narenas", &n, sizeof(n)) || !n) {
		je.why_not = "mallctl(\"arenas.narenas\") failed";
		return -ENOTSUP;
	}
	je.def = def;
	/* Armed: not read now (no /proc at start), see takeover(). */
	je.overcommit = !def ? 0 : armed ? -1 : kernel_overcommits();
	je.inert = false;
	je.lazy = pr_thread_available() && !percpu_arenas();
	refresh_epoch();
	/* To tell jemalloc's own thread starts (jemalloc_threads.c). */
	pr_object_range((void *)je.mallctl, &je.text_lo, &je.text_hi);
	/* Marks from any earlier attachment are void from here on. */
	pr_dcm_enable(true);
	if (hook_arenas(n, !je.lazy) < 0 || !je.hooked) {
		pr_dcm_enable(false);
		if (!je.hooked && je.slots)
			je.why_not = "no arena accepted our extent hooks";
		return -EBUSY;
	}
	je.why_not = NULL;
	je.armed = armed;
	__atomic_store_n(&je.attached, true, __ATOMIC_RELEASE);
	return 0;
}

static int detach_locked(void)
{
	unsigned restored = 0;

	if (!je.attached)
		return -ENOENT;
	for (unsigned i = 0; i < je.nslots; i++) {
		struct je_slot *s = &je.slots[i];
		extent_hooks_t *cur;

		if (!s->installed)
			continue;
		/* Only where ours are still the arena's hooks. */
		if (arena_hooks(s->arena, &cur, NULL) == 0 && cur == &s->hooks &&
		    arena_hooks(s->arena, &cur, s->old) == 0)
			restored++;
		s->installed = false;
	}
	/* The slots stay mapped: a hook may still be running on one. */
	pr_dcm_enable(false);
	__atomic_store_n(&je.attached, false, __ATOMIC_RELEASE);
	je.hooked = je.takeover = 0;
	je.armed = je.inert = false;
	je.why_not = "detached";
	return (int)restored;
}

bool pr_je_wants_thread_start(const void *caller)
{
	uintptr_t c = (uintptr_t)caller;

	/* jemalloc starting its own background thread: it may hold its locks. */
	return __atomic_load_n(&je.attached, __ATOMIC_ACQUIRE) && je.lazy &&
	       !(c >= je.text_lo && c < je.text_hi);
}

void pr_je_thread_started(void)
{
	unsigned ind = ~0U;
	size_t sz = sizeof(ind);

	/* Reading thread.arena makes jemalloc pick this thread's arena now,
	 * as its first allocation would; creating it if it must. */
	if (!__atomic_load_n(&je.attached, __ATOMIC_ACQUIRE) ||
	    je.mallctl("thread.arena", &ind, &sz, NULL, 0) ||
	    (ind < je.nslots && je.slots[ind].installed))
		return;
	pthread_mutex_lock(&je.lock);
	if (je.attached)
		hook_one(ind);
	pthread_mutex_unlock(&je.lock);
}

int pr_je_attach(void)
{
	int r;

	pthread_mutex_lock(&je.lock);
	r = attach_locked(false);
	pthread_mutex_unlock(&je.lock);
	return r;
}

int pr_je_detach(void)
{
	int r;

	pthread_mutex_lock(&je.lock);
	r = detach_locked();
	pthread_mutex_unlock(&je.lock);
	return r;
}

static const char *const observe_only = "jemalloc's commit and decommit are not its failing no-ops (the application's hooks, or vm.overcommit_memory=2): the adapter could only observe";

/*
 * Armed: the constructor attached (pr_je_arm).  The start, at the first
 * decommit and inside h_decommit, takes no lock of ours (a thread holding
 * je.lock may be inside mallctl, waiting for a lock of jemalloc's that
 * the decommitting thread holds) and makes no mallctl call: it only reads
 * vm.overcommit_memory if no alloc proved it yet (raw read, stack buffer).
 */
static const char *armed_decide(void)
{
	unsigned n = 0;

	if (__atomic_load_n(&je.overcommit, __ATOMIC_ACQUIRE) < 0)
		__atomic_store_n(&je.overcommit, kernel_overcommits(),
				 __ATOMIC_RELEASE);
	for (unsigned i = 0; i < je.nslots; i++)
		n += je.slots[i].installed && takeover(&je.slots[i]);
	if (!n) {
		pr_je_inert(observe_only);
		return observe_only;
	}
	je.takeover = n;
	return NULL;
}

int pr_je_arm(void (*on_decommit)(void))
{
	int r;

	pthread_mutex_lock(&je.lock);
	je.on_decommit = on_decommit;
	r = attach_locked(true);
	pthread_mutex_unlock(&je.lock);
	return r;
}

/* Armed, and another strategy (or none) was chosen: the hooks stay, as
 * jemalloc's own.  Lock-free: called inside h_decommit. */
void pr_je_inert(const char *why)
{
	if (!__atomic_load_n(&je.armed, __ATOMIC_ACQUIRE))
		return;
	je.why_not = why;
	__atomic_store_n(&je.inert, true, __ATOMIC_RELEASE);
	pr_dcm_enable(false);
}

/*
 * The strategy's start: attach, and reclaim only where jemalloc's own
 * commit and decommit are the failing no-ops ours replace.  Hooks that
 * could only observe (the application's own, vm.overcommit_memory=2) are
 * taken off again, so the next strategy can run instead.
 */
static const char *jemalloc_start(void)
{
	const char *why = NULL;

	if (__atomic_load_n(&je.armed, __ATOMIC_ACQUIRE))
		return armed_decide();
	pthread_mutex_lock(&je.lock);
	if (attach_locked(false) < 0) {
		why = je.why_not;
	} else if (!je.takeover) {
		detach_locked();
		why = je.why_not = observe_only;
	}
	pthread_mutex_unlock(&je.lock);
	return why;
}

void pr_je_status(struct ptreclaim_jemalloc_status *st)
{
	struct ptreclaim_jemalloc_status s = { 0 };

	pthread_mutex_lock(&je.lock);
	s.attached = je.attached && !je.inert;
	s.arenas_hooked = je.hooked;
	s.arenas_takeover = je.takeover;
	s.kernel_frees_tables = pr_caps.pt_reclaim_on_dontneed;
	s.hooks_at_thread_start = je.attached && je.lazy;
	s.decommits = pr_counter_sum(PRC_JE_DECOMMITS);
	s.decommit_bytes = pr_counter_sum(PRC_JE_DECOMMIT_BYTES);
	s.commits = pr_counter_sum(PRC_JE_COMMITS);
	s.reclaim_calls = pr_counter_sum(PRC_JE_RECLAIM_CALLS);
	s.regions_reclaimed = pr_counter_sum(PRC_JE_REGIONS_RECLAIMED);
	s.pte_pages_reclaimed = pr_counter_sum(PRC_JE_PTE_RECLAIMED);
	pthread_mutex_unlock(&je.lock);
	*st = s;
}

static void report_counters(int fd)
{
	char buf[512];

	if (!pr_counter_sum(PRC_JE_DECOMMITS) && !pr_counter_sum(PRC_JE_COMMITS))
		return;
	snprintf(buf, sizeof(buf),
		 "ptreclaim: jemalloc decommits=%llu decommit_bytes=%llu decommit_failed=%llu commits=%llu\n",
		 PR_U(pr_counter_sum(PRC_JE_DECOMMITS)),
		 PR_U(pr_counter_sum(PRC_JE_DECOMMIT_BYTES)),
		 PR_U(pr_counter_sum(PRC_JE_DECOMMIT_FAILED)),
		 PR_U(pr_counter_sum(PRC_JE_COMMITS)));
	pr_write_str(fd, buf);
	snprintf(buf, sizeof(buf),
		 "ptreclaim: jemalloc pte_pages_reclaimed=%llu regions_reclaimed=%llu reclaim_calls=%llu reclaim_failed=%llu untracked=%llu hook_time_ns=%llu\n",
		 PR_U(pr_counter_sum(PRC_JE_PTE_RECLAIMED)),
		 PR_U(pr_counter_sum(PRC_JE_REGIONS_RECLAIMED)),
		 PR_U(pr_counter_sum(PRC_JE_RECLAIM_CALLS)),
		 PR_U(pr_counter_sum(PRC_JE_RECLAIM_FAILED)),
		 PR_U(pr_counter_sum(PRC_JE_UNTRACKED)),
		 PR_U(pr_counter_sum(PRC_JE_NS)));
	pr_write_str(fd, buf);
}

static void jemalloc_report(int fd, enum pr_strategy_state st, const char *why)
{
	char buf[512];

	pthread_mutex_lock(&je.lock);
	/* Armed and no decommit yet: attached, but nothing chosen. */
	if (je.attached && !je.inert && (!je.armed || st == PR_STATE_ACTIVE))
		snprintf(buf, sizeof(buf),
			 "ptreclaim: jemalloc adapter=attached via=%s object=%s version=%s arenas=%u takeover=%u hooking=%s retain=%d reclaim=%s\n",
			 je.via, je.object, je.version, je.hooked, je.takeover,
			 je.lazy ? "at-thread-start" : "all-at-attach", je.retain,
			 pr_caps.pt_reclaim_on_dontneed ? "whole-pmd-dontneed" :
			 "none (kernel keeps tables)");
	else
		snprintf(buf, sizeof(buf),
			 "ptreclaim: jemalloc adapter=off reason=\"%s\"\n",
			 je.why_not && strcmp(je.why_not, "not tried") ?
			 je.why_not : why);
	pthread_mutex_unlock(&je.lock);
	pr_write_str(fd, buf);
	report_counters(fd);
}

const struct pr_strategy_ops pr_jemalloc_ops = {
	.start = jemalloc_start,
	.report = jemalloc_report,
};
