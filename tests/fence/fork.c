/* SPDX-License-Identifier: MIT */
/*
 * fork - the fence across fork: children (forked while the parent's fence
 * thread is busy) get a fence of their own that works, and the parent's
 * keeps working.  Data written before fork stays in parent and child.
 */
#include "fence_test.h"

#include <pthread.h>
#include <sys/wait.h>

static volatile int busy = 1;
static char *shared_area;

/* Keeps the parent's fence thread in passes while we fork. */
static void *flusher(void *arg)
{
	(void)arg;
	while (busy) {
		fill_pages(shared_area, NPG, 3);
		purge_pieces(shared_area, PMD, MADV_DONTNEED);
		flush();
	}
	return NULL;
}

static int child(void)
{
	struct ptreclaim_fence_stats a, b;
	char *p = map_regions(2);

	if (api_reason()) {
		fprintf(stderr, "FAIL child: no fence: %s\n", api_reason());
		return 1;
	}
	fill_pages(p, 2 * NPG, 11);
	purge_pieces(p, 2 * PMD, MADV_DONTNEED);
	strcpy(p + PMD + 8 * PG, "child data");
	a = fstats();
	flush();
	b = fstats();
	if (b.regions_zapped <= a.regions_zapped) {
		fprintf(stderr, "FAIL child: the fence zapped nothing\n");
		return 1;
	}
	if (strcmp(p + PMD + 8 * PG, "child data")) {
		fprintf(stderr, "FAIL child: data lost\n");
		return 1;
	}
	return 0;
}

int main(void)
{
	struct ptreclaim_fence_stats a, b;
	char *keep = map_regions(1);
	pthread_t th;
	int bad = 0;

	api_init_active();
	shared_area = map_regions(1);
	strcpy(keep + 5 * PG, "before fork");
	pthread_create(&th, NULL, flusher, NULL);
	for (int i = 0; i < 20; i++) {
		pid_t pid = fork();
		int st;

		if (pid < 0)
			die("fork");
		if (pid == 0)
			_exit(child() || strcmp(keep + 5 * PG, "before fork"));
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st)) {
			fprintf(stderr, "FAIL: child %d: status %#x\n", i, st);
			bad++;
		}
	}
	busy = 0;
	pthread_join(th, NULL);
	CHECK(!bad, "%d children failed", bad);

	/* The parent's fence still works. */
	{
		char *p = map_regions(1);

		fill_pages(p, NPG, 12);
		purge_pieces(p, PMD, MADV_DONTNEED);
		a = fstats();
		flush();
		b = fstats();
		CHECK(b.regions_zapped > a.regions_zapped,
		      "the parent's fence zapped nothing after fork");
	}
	CHECK(!strcmp(keep + 5 * PG, "before fork"), "parent data lost");
	CHECK_DONE();
}
