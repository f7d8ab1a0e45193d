/* SPDX-License-Identifier: MIT */
/*
 * safe_point - when a purge made inside an allocator gets a thread.
 * Preloaded with tcmalloc or mimalloc: the purge itself makes none; the
 * next blocking call (here nanosleep) is where a start that needs the
 * worker creates its thread.  With nothing that needs a worker (a stock
 * kernel, the default configuration) no thread is ever made.
 *
 * A blocking call from a signal handler on its alternate stack (a crash
 * handler, perhaps interrupting the allocator) is passed over.
 *
 * usage: safe_point never|after-sleep|altstack
 */
#include "lc.h"

#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

static volatile int handler_threads = -1;

/* On the alternate stack: the blocking call here must start nothing. */
static void on_usr1(int sig)
{
	struct timespec ts = { 0, 1000 * 1000 };

	(void)sig;
	nanosleep(&ts, NULL);
	nanosleep(&ts, NULL);
	handler_threads = 0;
}

/* Raise SIGUSR1 with its handler on an alternate stack; the threads
 * 50 ms after it returned. */
static int threads_after_handler(void)
{
	static char stack[64 << 10];
	stack_t ss = { .ss_sp = stack, .ss_size = sizeof(stack) };
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_ONSTACK };
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	if (sigaltstack(&ss, NULL) || sigaction(SIGUSR1, &sa, NULL))
		die("sigaltstack");
	raise(SIGUSR1);
	CHECK(handler_threads == 0, "the handler did not run");
	/* Waited without a safe point of our own (a raw nanosleep). */
	syscall(SYS_nanosleep, &ts, NULL);
	return threads_now();
}

/* Threads after up to 2 s of waiting for `want` (a start is short). */
static int threads_settled(int want)
{
	int n = threads_now();

	for (int i = 0; i < 200 && n != want; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		n = threads_now();
	}
	return n;
}

int main(int argc, char **argv)
{
	struct timespec ts = { 0, 1000 * 1000 };
	bool altstack = argc > 1 && !strcmp(argv[1], "altstack");
	bool worker = altstack || (argc > 1 && !strcmp(argv[1], "after-sleep"));
	char *m = map_anon(4 * PMD);

	CHECK(threads_now() == 1, "threads=%d before any purge", threads_now());
	purge(m, 2);
	CHECK(threads_now() == 1, "threads=%d right after the first purge",
	      threads_now());
	purge(m + 2 * PMD, 1);
	CHECK(threads_now() == 1, "threads=%d after more purges", threads_now());
	if (altstack)
		CHECK(threads_after_handler() == 1,
		      "threads=%d after a safe point on the signal stack",
		      threads_now());
	nanosleep(&ts, NULL);
	if (worker)
		CHECK(threads_settled(2) == 2,
		      "threads=%d after the safe point (want the worker)",
		      threads_now());
	else
		CHECK(threads_settled(1) == 1,
		      "threads=%d after the safe point (want none)",
		      threads_now());
	munmap(m, 4 * PMD);
	CHECK_DONE();
}
