/* SPDX-License-Identifier: MIT */
/*
 * unshare - a program that purges (so the shim's worker runs where a
 * strategy with one is selected) and then enters a new user namespace,
 * as bwrap, rootless podman and browser sandboxes do.  The kernel refuses
 * unshare(CLONE_NEWUSER) to a multithreaded caller: the shim must have
 * stopped and joined its threads first, and start again afterwards.  It
 * prints every result and errno, so the run with the shim and the plain
 * run must print the same; the threads it counts are checked here.
 *
 * Usage: unshare [libc|syscall]   (which entry point: unshare() or
 *        syscall(SYS_unshare))
 */
#include "lc.h"

#include <sched.h>
#include <sys/syscall.h>

static int do_unshare(bool raw, int flags)
{
	return raw ? (int)syscall(SYS_unshare, flags) : unshare(flags);
}

int main(int argc, char **argv)
{
	bool raw = argc > 1 && !strcmp(argv[1], "syscall");
	char *p = map_pmd_aligned(4 * PMD);
	const char *why;
	int r, e, fd;

	purge(p, 4);
	why = fence_reason();
	/* With the fence running its worker is a second thread. */
	if (!why)
		CHECK(threads_now() == 2, "threads=%d", threads_now());
	errno = 0;
	r = do_unshare(raw, CLONE_NEWUSER);
	e = errno;
	printf("unshare(CLONE_NEWUSER)=%d errno=%d\n", r, e);
	CHECK(r == 0, "%s", strerror(e));
	/* Bad flags: the kernel's EINVAL, passed through unchanged. */
	errno = 0;
	r = do_unshare(raw, 0x1);
	printf("unshare(0x1)=%d errno=%d\n", r, errno);
	/* setns into the namespace we are in: the kernel's own answer. */
	fd = open("/proc/self/ns/user", O_RDONLY);
	errno = 0;
	r = setns(fd, CLONE_NEWUSER);
	printf("setns(self)=%d errno=%d\n", r, errno);
	close(fd);
	/* The worker is back after the call (a purge brings work). */
	purge(p, 4);
	if (!why) {
		int n = 0;

		for (int i = 0; i < 100 && (n = threads_now()) != 2; i++)
			usleep(10000);
		CHECK(n == 2, "threads after unshare=%d", n);
		CHECK(fence_reason() == NULL, "%s", fence_reason());
	}
	fprintf(stderr, "fence: %s\n", why ? why : "active");
	CHECK_DONE();
}
