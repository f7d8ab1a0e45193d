/* SPDX-License-Identifier: MIT */
/*
 * sandbox.c - the calls that need a process without our threads:
 * unshare and setns (a user namespace, and a mount namespace, need a
 * single-threaded caller: the kernel counts threads) and installing a
 * seccomp filter (TSYNC applies it to our threads too, and the worker's
 * calls are not in the program's allow-list).
 *
 * Each one first quiesces the shim (life.c: the bootstrap thread and the
 * worker are stopped and joined, so the kernel no longer counts them),
 * then makes exactly the system call asked for and returns its result and
 * errno, then lets the worker run again, unless a filter is now in place:
 * then never.  prctl() and glibc's syscall() are interposed to catch
 * PR_SET_SECCOMP and SYS_seccomp / SYS_unshare / SYS_setns; every other
 * call passes through with all its arguments.  A raw inline system call
 * (no libc function) cannot be seen: docs/architecture.md says what then.
 * setuid and its kin quiesce too (below).
 */
#include <errno.h>
#include <grp.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core.h"

#ifndef SECCOMP_SET_MODE_STRICT
#define SECCOMP_SET_MODE_STRICT 0
#define SECCOMP_SET_MODE_FILTER 1
#endif

/* The kernel's answer the way libc returns it: -1 and errno. */
static long libc_ret(long r)
{
	if ((unsigned long)r > -4096UL) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* Which calls quiesce; *filter: success installs a seccomp filter. */
static bool needs_quiet(long nr, long a, bool *filter)
{
	*filter = false;
	if (nr == SYS_unshare || nr == SYS_setns)
		return true;
	if (nr == SYS_prctl && a == PR_SET_SECCOMP)
		return (*filter = true);
	if (nr == SYS_seccomp &&
	    (a == SECCOMP_SET_MODE_FILTER || a == SECCOMP_SET_MODE_STRICT))
		return (*filter = true);
	return false;
}

/* Quiesce, call, resume; the call's result and errno are what return. */
static long quiet_call(long nr, long a, long b, long c, long d, long e,
		       long f, bool filter)
{
	int token, saved = errno;
	long r;

	pr_life_check_child();
	token = pr_life_quiesce();
	r = pr_raw_syscall(nr, a, b, c, d, e, f);
	pr_life_resume(token, filter && r == 0);
	/* On success errno is the caller's, as libc leaves it. */
	errno = saved;
	return libc_ret(r);
}

static long call(long nr, long a, long b, long c, long d, long e, long f)
{
	bool filter;

	if (needs_quiet(nr, a, &filter))
		return quiet_call(nr, a, b, c, d, e, f, filter);
	return libc_ret(pr_raw_syscall(nr, a, b, c, d, e, f));
}

PR_EXPORT int unshare(int flags)
{
	return (int)call(SYS_unshare, flags, 0, 0, 0, 0, 0);
}

PR_EXPORT int setns(int fd, int nstype)
{
	return (int)call(SYS_setns, fd, nstype, 0, 0, 0, 0);
}

/* glibc's prctl takes four more words, whatever the option. */
PR_EXPORT int prctl(int option, ...)
{
	unsigned long a[4];
	va_list ap;

	va_start(ap, option);
	for (int i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	return (int)call(SYS_prctl, option, (long)a[0], (long)a[1], (long)a[2],
			 (long)a[3], 0);
}

/* glibc's syscall(): six words after the number, passed on unchanged. */
PR_EXPORT long syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	return call(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/*
 * setuid and its kin: glibc makes every thread of the process change its
 * credentials (POSIX wants them per process).  A thread of ours may not
 * share the caller's capabilities (setpriv keeps them with
 * PR_SET_KEEPCAPS, which is per thread): its change then fails after the
 * caller's succeeded, and glibc aborts the process.  So the call is made
 * with no thread of ours, by libc's own function.
 */
#define XID(name, params, args)						\
PR_EXPORT int name params						\
{									\
	static void *slot;						\
	int (*real) params = (int (*) params)pr_libc_fn(&slot, #name);	\
	int token, ret, err;						\
									\
	if (!real) {							\
		errno = ENOSYS;						\
		return -1;						\
	}								\
	pr_life_check_child();						\
	token = pr_life_quiesce();					\
	ret = real args;						\
	err = errno;							\
	pr_life_resume(token, false);					\
	errno = err;							\
	return ret;							\
}

XID(setuid, (uid_t u), (u))
XID(setgid, (gid_t g), (g))
XID(seteuid, (uid_t u), (u))
XID(setegid, (gid_t g), (g))
XID(setreuid, (uid_t ru, uid_t eu), (ru, eu))
XID(setregid, (gid_t rg, gid_t eg), (rg, eg))
XID(setresuid, (uid_t ru, uid_t eu, uid_t su), (ru, eu, su))
XID(setresgid, (gid_t rg, gid_t eg, gid_t sg), (rg, eg, sg))
XID(setgroups, (size_t n, const gid_t *list), (n, list))
