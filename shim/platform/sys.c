/* SPDX-License-Identifier: MIT */
/*
 * sys.c - the shim's own kernel calls.  They leave errno alone, so the
 * caller of an interposed function sees exactly what the kernel told it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>

#include "platform.h"

long pr_sys(long nr, long a, long b, long c, long d, long e, long f)
{
	/* Not libc's syscall(): the shim interposes it (core/sandbox.c). */
	return pr_raw_syscall(nr, a, b, c, d, e, f);
}

void *pr_map(size_t len)
{
	long r = pr_sys(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return r < 0 && r > -4096 ? NULL : (void *)r;
}

void pr_unmap(void *p, size_t len)
{
	pr_sys(SYS_munmap, (long)p, (long)len, 0, 0, 0, 0);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t pr_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t pr_thread_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

void pr_sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ULL),
			       (long)(ns % 1000000000ULL) };

	pr_sys(SYS_nanosleep, (long)&ts, 0, 0, 0, 0, 0);
}

void pr_close(long *fd)
{
	if (*fd >= 0)
		pr_sys(SYS_close, *fd, 0, 0, 0, 0, 0);
	*fd = -1;
}

long pr_open_ro(const char *path)
{
	return pr_sys(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC,
		      0, 0, 0);
}

/* Read up to len-1 bytes of a file and terminate them; -errno on failure. */
long pr_read_file(const char *path, char *buf, size_t len)
{
	long fd = pr_open_ro(path);
	long got = 0;

	if (fd < 0)
		return fd;
	while ((size_t)got < len - 1) {
		long r = pr_sys(SYS_read, fd, (long)(buf + got),
				(long)(len - 1 - got), 0, 0, 0);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	buf[got] = '\0';
	pr_close(&fd);
	return got;
}

/* The number a file starts with (sysfs, sysctl), or dflt. */
long pr_read_long(const char *path, long dflt)
{
	char buf[64], *s = buf, *end;
	long v;

	if (pr_read_file(path, buf, sizeof(buf)) <= 0)
		return dflt;
	while (*s == ' ' || *s == '\t')
		s++;
	v = strtol(s, &end, 10);
	return end == s ? dflt : v;
}

void pr_write_str(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		long r = pr_sys(SYS_write, fd, (long)s, (long)len, 0, 0, 0);

		if (r == -EINTR)
			continue;
		if (r <= 0)
			return;
		s += r;
		len -= (size_t)r;
	}
}

bool pr_seccomp_active(void)
{
	return pr_sys(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0, 0) > 0;
}
