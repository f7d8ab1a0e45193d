/* SPDX-License-Identifier: MIT */
/*
 * The public adapter API in a program linked with libptreclaim and
 * jemalloc (run with PTRECLAIM_CONF=jemalloc:off): attach, reclaim, detach
 * restores the previous hooks, a thread started later gets a hooked arena,
 * and an application's own hooks on a manual arena are chained, not
 * replaced.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <jemalloc/jemalloc.h>

#include "check.h"
#include "pattern.h"
#include "ptreclaim.h"

static extent_hooks_t *deflt;
static unsigned app_calls[9];

/* The application's hooks: count, then do what jemalloc's own would. */
#define APP_HOOK(i, ret, name, params, args)				\
	static ret app_##name params					\
	{								\
		(void)h;						\
		app_calls[i]++;						\
		return deflt->name args;				\
	}
APP_HOOK(0, void *, alloc, (extent_hooks_t *h, void *a, size_t s, size_t al,
	 bool *z, bool *c, unsigned i), (deflt, a, s, al, z, c, i))
APP_HOOK(1, bool, dalloc, (extent_hooks_t *h, void *a, size_t s, bool c,
	 unsigned i), (deflt, a, s, c, i))
APP_HOOK(3, bool, commit, (extent_hooks_t *h, void *a, size_t s, size_t o,
	 size_t l, unsigned i), (deflt, a, s, o, l, i))
APP_HOOK(4, bool, decommit, (extent_hooks_t *h, void *a, size_t s, size_t o,
	 size_t l, unsigned i), (deflt, a, s, o, l, i))
APP_HOOK(6, bool, purge_forced, (extent_hooks_t *h, void *a, size_t s,
	 size_t o, size_t l, unsigned i), (deflt, a, s, o, l, i))
APP_HOOK(7, bool, split, (extent_hooks_t *h, void *a, size_t s, size_t sa,
	 size_t sb, bool c, unsigned i), (deflt, a, s, sa, sb, c, i))
APP_HOOK(8, bool, merge, (extent_hooks_t *h, void *a, size_t sa, void *b,
	 size_t sb, bool c, unsigned i), (deflt, a, sa, b, sb, c, i))

static extent_hooks_t app_hooks = {
	.alloc = app_alloc, .dalloc = app_dalloc, .commit = app_commit,
	.decommit = app_decommit, .purge_forced = app_purge_forced,
	.split = app_split, .merge = app_merge,
};

static extent_hooks_t *hooks_of(unsigned arena)
{
	char name[64];
	extent_hooks_t *h = NULL;
	size_t sz = sizeof(h);

	snprintf(name, sizeof(name), "arena.%u.extent_hooks", arena);
	CHECK(mallctl(name, &h, &sz, NULL, 0) == 0);
	return h;
}

/* Churn 64 MiB in the given arena flags; every survivor checked. */
static void churn(int flags, uint64_t seed)
{
	enum { N = 1024, SZ = 65536 };
	static unsigned char *p[N];

	for (unsigned i = 0; i < N; i++) {
		p[i] = mallocx(SZ + i * 64, flags);
		CHECK(p[i] != NULL);
		pat_fill_id(p[i], SZ + i * 64, seed, i);
	}
	for (unsigned i = 0; i < N; i++)
		if (i % 40) {
			dallocx(p[i], flags);
			p[i] = NULL;
		}
	mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
	for (unsigned i = 0; i < N; i++)
		if (p[i]) {
			CHECK(pat_check_id(p[i], SZ + i * 64, seed, i) == PAT_OK);
			dallocx(p[i], flags);
		}
}

/* A thread started after attach allocates from a hooked arena. */
static void *thread_arena_hooked(void *arg)
{
	unsigned ind;
	size_t sz = sizeof(ind);
	void *p = malloc(100000);

	free(p);
	CHECK(mallctl("thread.arena", &ind, &sz, NULL, 0) == 0);
	*(int *)arg = hooks_of(ind) != deflt;
	return NULL;
}

int main(void)
{
	pthread_t th;
	int hooked = 0;

	struct ptreclaim_jemalloc_status st;
	extent_hooks_t *orig = hooks_of(0), *app = &app_hooks;
	unsigned manual;
	size_t sz = sizeof(manual);

	deflt = orig;
	CHECK(ptreclaim_jemalloc_status(&st, sizeof(st)) == 0 && !st.attached);
	CHECK(ptreclaim_jemalloc_detach() == -1 && errno == ENOENT);

	/* Attached: our hooks on arena 0, reclaim happens, bytes survive. */
	CHECK(ptreclaim_jemalloc_attach() == 0);
	CHECK(ptreclaim_jemalloc_attach() == 0);
	CHECK(hooks_of(0) != orig);
	churn(0, 1);
	CHECK(ptreclaim_jemalloc_status(&st, sizeof(st)) == 0 && st.attached);
	CHECK(st.arenas_hooked >= 1 && st.arenas_takeover == st.arenas_hooked);
	CHECK(st.decommits > 0 && st.commits > 0);
	/* Reclaim is promised only where the kernel frees a table on a
	 * whole-PMD MADV_DONTNEED; elsewhere the rest is still checked. */
	SKIP_UNLESS(st.kernel_frees_tables,
		    "this kernel keeps tables on a whole-PMD MADV_DONTNEED: reclaim not checked");
	if (st.kernel_frees_tables)
		CHECK(st.regions_reclaimed > 0);
	CHECK(pthread_create(&th, NULL, thread_arena_hooked, &hooked) == 0);
	CHECK(pthread_join(th, NULL) == 0 && hooked);

	/* Detached: the previous hooks are back; jemalloc still works. */
	CHECK(ptreclaim_jemalloc_detach() == 0);
	CHECK(hooks_of(0) == orig);
	CHECK(ptreclaim_jemalloc_status(&st, sizeof(st)) == 0 && !st.attached);
	churn(0, 2);

	/* The application's hooks on a manual arena: chained. */
	CHECK(mallctl("arenas.create", &manual, &sz, &app, sizeof(app)) == 0);
	CHECK(ptreclaim_jemalloc_attach() == 0);
	CHECK(hooks_of(manual) != &app_hooks);
	CHECK(ptreclaim_jemalloc_status(&st, sizeof(st)) == 0);
	CHECK(st.arenas_takeover < st.arenas_hooked);
	memset(app_calls, 0, sizeof(app_calls));
	churn(MALLOCX_ARENA(manual) | MALLOCX_TCACHE_NONE, 3);
	CHECK(app_calls[0] > 0);	/* alloc went through theirs */
	CHECK(app_calls[4] > 0);	/* so did decommit (which fails) */
	CHECK(app_calls[6] > 0);	/* and so jemalloc purged */
	CHECK(ptreclaim_jemalloc_detach() == 0);
	CHECK(hooks_of(manual) == &app_hooks);
	CHECK_DONE();
}
