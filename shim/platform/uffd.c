/* SPDX-License-Identifier: MIT */
/*
 * uffd.c - opening a userfaultfd: by the system call, else through
 * /dev/userfaultfd (which needs no privilege beyond the device's mode).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>

#include "platform.h"

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

long pr_uffd_open_dev(int flags)
{
	long dev = pr_sys(SYS_openat, AT_FDCWD, (long)"/dev/userfaultfd",
			  O_RDWR | O_CLOEXEC, 0, 0, 0);
	long fd;

	if (dev < 0)
		return dev;
	fd = pr_sys(SYS_ioctl, dev, USERFAULTFD_IOC_NEW, flags, 0, 0, 0);
	pr_close(&dev);
	return fd;
}

long pr_uffd_open(void)
{
	int flags = O_CLOEXEC | O_NONBLOCK;
	long fd = pr_sys(SYS_userfaultfd, flags, 0, 0, 0, 0, 0);

	if (fd >= 0 || fd == -ENOSYS)
		return fd;
	return pr_uffd_open_dev(flags);
}

const char *pr_uffd_mode_name(enum pr_uffd_mode m)
{
	return m == PR_UFFD_FULL ? "full" :
	       m == PR_UFFD_USER_ONLY ? "user-mode-only" : "none";
}
