// SPDX-License-Identifier: MIT
/*
 * /init of the test VM (static).  Mounts the basic file systems, runs the
 * program described in /vmrun/ with stdout on ttyS1 and stderr on ttyS2
 * (raw), prints its exit status on the console (ttyS0) and reboots, which
 * ends QEMU (-no-reboot).
 *
 * /vmrun/argv: NUL-separated argument vector (argv[0] is the path)
 * /vmrun/env:  NUL-separated NAME=VALUE list (optional)
 * /vmrun/cwd:  working directory (optional)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

static int console = -1;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (console >= 0 && n > 0 && write(console, buf, n) < 0)
		return;
}

static void finish(int status)
{
	say("\nPTRECLAIM-VMRUN-EXIT=%d\n", status);
	if (console >= 0)
		tcdrain(console);
	sync();
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

/* Read a whole file; return its size, or -1. */
static ssize_t slurp(const char *path, char **out)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			if (!buf)
				return -1;
		}
	}
	close(fd);
	buf[len] = 0;
	*out = buf;
	return len;
}

/* Split a NUL-separated list into a NULL-terminated vector. */
static char **split(char *buf, ssize_t len)
{
	char **v = calloc(len + 2, sizeof(char *));
	ssize_t i = 0;
	int n = 0;

	while (v && i < len) {
		v[n++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	return v;
}

static int open_tty(const char *path, unsigned int minor)
{
	struct termios t;
	int fd;

	mknod(path, S_IFCHR | 0600, makedev(4, minor));
	fd = open(path, O_RDWR | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		cfsetspeed(&t, B115200);
		tcsetattr(fd, TCSANOW, &t);
	}
	return fd;
}

int main(void)
{
	char *argbuf, *envbuf, *cwd;
	char **argv, **envp;
	ssize_t n;
	int out, err, status;
	pid_t pid;

	mkdir("/dev", 0755);
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mkdir("/tmp", 01777);
	mkdir("/run", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	console = open("/dev/console", O_WRONLY | O_NOCTTY);
	if (console < 0) {
		mknod("/dev/console", S_IFCHR | 0600, makedev(5, 1));
		console = open("/dev/console", O_WRONLY | O_NOCTTY);
	}
	if (mount("proc", "/proc", "proc", 0, NULL) ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL)) {
		say("init: mounting /proc or /sys failed: %s\n", strerror(errno));
		finish(125);
	}
	mount("tmpfs", "/dev/shm", "tmpfs", 0, NULL);
	if (access("/dev/shm", F_OK)) {
		mkdir("/dev/shm", 01777);
		mount("tmpfs", "/dev/shm", "tmpfs", 0, NULL);
	}

	out = open_tty("/dev/ttyS1", 65);
	err = open_tty("/dev/ttyS2", 66);
	if (out < 0 || err < 0) {
		say("init: cannot open ttyS1/ttyS2: %s\n", strerror(errno));
		finish(125);
	}

	n = slurp("/vmrun/argv", &argbuf);
	if (n <= 0) {
		say("init: no /vmrun/argv\n");
		finish(125);
	}
	argv = split(argbuf, n);
	n = slurp("/vmrun/env", &envbuf);
	envp = n > 0 ? split(envbuf, n) : calloc(1, sizeof(char *));
	if (slurp("/vmrun/cwd", &cwd) > 0 && chdir(cwd))
		chdir("/");

	say("PTRECLAIM-VMRUN-START\n");
	pid = fork();
	if (pid < 0) {
		say("init: fork: %s\n", strerror(errno));
		finish(125);
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);

		setsid();
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		execve(argv[0], argv, envp);
		dprintf(2, "vm-run: cannot execute %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	/* Reap orphans too; stop when the program itself has ended. */
	for (;;) {
		pid_t w = wait(&status);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			status = 125 << 8;
			break;
		}
		if (w == pid)
			break;
	}
	tcdrain(out);
	tcdrain(err);
	if (WIFEXITED(status))
		finish(WEXITSTATUS(status));
	say("init: program killed by signal %d\n", WTERMSIG(status));
	finish(128 + WTERMSIG(status));
	return 0;
}
