/* SPDX-License-Identifier: MIT */
/*
 * signal_purge - purges from signal handlers that interrupt purges.
 *
 * Runtimes with a garbage collector, and some allocators' emergency paths,
 * call madvise/mmap/munmap from signal handlers.  A signal can land while
 * the thread is inside the shim (holding its per-thread state, a lock, an
 * RCU read section): the nested call must neither deadlock nor corrupt
 * the outer one.  Worker threads purge and verify in a loop; a sender
 * thread interrupts them with SIGUSR1 as fast as it can, and the handler
 * purges, maps and unmaps memory of its own and checks it.
 *
 * Usage: signal_purge [SECONDS]   (default 2)
 */
#include "robust.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#define NWORK 3
#define WPAGES 256

static double deadline;
static atomic_long handled;
static __thread char *hpage;	/* the handler's own page, per thread */

static void handler(int sig)
{
	int saved = errno;	/* the interrupted code may be reading it */
	(void)sig;
	if (!hpage)
		return;
	REQUIRE(madvise(hpage, PG, MADV_DONTNEED) == 0, "handler madvise");
	REQUIRE(page_state(hpage, 9) == 0, "handler page not purged");
	stamp_page(hpage, 9);
	void *m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(m != MAP_FAILED, "handler mmap");
	REQUIRE(munmap(m, 2 * PG) == 0, "handler munmap");
	atomic_fetch_add(&handled, 1);
	errno = saved;
}

static void *worker(void *arg)
{
	uint64_t seed = 5 + (uintptr_t)arg;
	char *w = map_pmd_aligned(PMD);
	char *h = map_anon(PG);
	stamp_page(h, 9);
	hpage = h;
	for (size_t i = 0; i < WPAGES; i++)
		stamp_page(w + i * PG, i);
	while (now_s() < deadline) {
		size_t i = rnd(&seed) % (WPAGES - 4);
		errno = 0;
		REQUIRE(madvise(w + i * PG, 4 * PG, MADV_DONTNEED) == 0,
		      "madvise errno %d", errno);
		for (size_t k = i; k < i + 4; k++) {
			REQUIRE(page_state(w + k * PG, k) == 0, "not zero");
			stamp_page(w + k * PG, k);
		}
		REQUIRE(madvise(w + PMD / 2, PMD / 2, MADV_FREE) == 0, "free");
		char *m = map_anon(8 * PG);
		REQUIRE(munmap(m, 8 * PG) == 0, "munmap");
	}
	for (size_t i = 0; i < WPAGES; i++)
		REQUIRE(page_state(w + i * PG, i) == 1, "page %zu lost", i);
	return NULL;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2;
	pthread_t th[NWORK];
	struct sigaction sa;

	arm_watchdog((unsigned)secs + 60);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");

	deadline = now_s() + secs;
	for (uintptr_t i = 0; i < NWORK; i++)
		REQUIRE(pthread_create(&th[i], NULL, worker, (void *)i) == 0,
		      "pthread_create");
	long sent = 0;
	while (now_s() < deadline) {
		for (int i = 0; i < NWORK; i++)
			if (pthread_kill(th[i], SIGUSR1) == 0)
				sent++;
		if (sent % 64 == 0)
			sched_yield();
	}
	for (int i = 0; i < NWORK; i++)
		pthread_join(th[i], NULL);
	printf("signal_purge: %ld signals sent, %ld handled with purges, "
	       "all pages verified\n", sent, (long)handled);
	return 0;
}
