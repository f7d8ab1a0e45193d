/* SPDX-License-Identifier: MIT */
/*
 * seccomp_late - a program that sandboxes itself after start (a seccomp
 * filter on every thread, as browsers do): the fence thread must stop
 * before it makes a call the filter might punish, and say so.
 */
#include "fence_test.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

int main(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { 1, f };
	struct timespec ts = { 0, 50000000 };
	const char *why = NULL;

	api_init_active();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_TSYNC, &prog))
		die("seccomp");
	/* The thread looks at least once a second. */
	for (int i = 0; i < 60 && !(why = api_reason()); i++)
		nanosleep(&ts, NULL);
	printf("seccomp_late: %s\n", why ? why : "(fence still active)");
	CHECK(why && strstr(why, "seccomp"), "the fence did not stop");
	errno = 0;
	CHECK(api_flush(100) == -1 && errno == ENOTSUP, "flush after stop");
	CHECK_DONE();
}
