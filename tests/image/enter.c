/* SPDX-License-Identifier: MIT */
/*
 * image_enter - run a command with ROOT as its root directory, the way a
 * container runtime does: a mount namespace of its own (a private copy of
 * the caller's, where ROOT and its /proc, /dev, /sys, /tmp are mounted),
 * pivot_root(2) into ROOT, the old root detached.  Not chroot(2): the
 * kernel refuses a user namespace to a chrooted caller, and `unshare -Ur`
 * is one of the cases.
 *
 * Linked statically, so the dynamic loader never reads any
 * /etc/ld.so.preload for it: what runs under the image's preload is the
 * command alone.  The environment is passed on unchanged.
 *
 * usage: image_enter ROOT COMMAND [ARGS...]
 * exit: COMMAND's status; 125 if the root can't be entered, 127 if
 * COMMAND can't be run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fail(const char *what, const char *arg)
{
	fprintf(stderr, "image_enter: %s %s: %s\n", what, arg, strerror(errno));
	return 125;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: image_enter ROOT COMMAND [ARGS...]\n");
		return 125;
	}
	if (unshare(CLONE_NEWNS))
		return fail("unshare", "CLONE_NEWNS");
	/* Nothing done here may reach the caller's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return fail("make private", "/");
	if (chdir(argv[1]))
		return fail("chdir", argv[1]);
	/* pivot_root(".", "."): the old root ends up on top of the new one,
	 * and is then detached (pivot_root(2), NOTES). */
	if (syscall(SYS_pivot_root, ".", "."))
		return fail("pivot_root", argv[1]);
	if (umount2(".", MNT_DETACH))
		return fail("detach the old root under", argv[1]);
	if (chdir("/"))
		return fail("chdir", "/");
	execvp(argv[2], argv + 2);
	fprintf(stderr, "image_enter: exec %s: %s\n", argv[2], strerror(errno));
	return 127;
}
