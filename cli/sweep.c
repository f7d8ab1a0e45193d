/* SPDX-License-Identifier: MIT */
/*
 * sweep.c - `ptreclaim sweep --pid PID | --all`: free the empty PTE tables
 * of processes that run without the shim (glibc programs, static
 * binaries), with the patched kernel's MADV_RECLAIM_PT through
 * process_madvise().
 *
 * The advice frees only tables that map nothing, under the kernel's locks,
 * so it needs no knowledge of the target's allocator: every whole 2 MiB
 * span of its private anonymous mappings is offered, in batches of
 * iovecs.  The number is read from /sys/kernel/mm/reclaim_pt/advice; a
 * kernel without that file gets no call at all.
 *
 * Where the kernel also publishes MADV_RECLAIM_PT_LAZYFREE
 * (.../advice_lazyfree), that advice is used instead: it frees strictly
 * more (the empty tables, and those mapping only clean lazily freed pages,
 * which it discards as reclaim would; a page written after MADV_FREE is
 * never discarded).  --empty-only keeps to the plain advice, which never
 * changes what any address maps.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "commands.h"
#include "platform.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

#define PMD (2UL << 20)
#define BATCH 512		/* iovecs per call (below UIO_MAXIOV) */

/* The advice a sweep gives, and its name in the output. */
struct advice {
	int number;
	const char *name;	/* "lazyfree" or "empty" */
};

struct target {
	int pid;
	char comm[32];
	long before_kb, after_kb;
	long rss_before_kb, rss_after_kb;
	unsigned long spans, calls, skipped;
	unsigned long long bytes;
};

static void read_comm(struct target *t)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", t->pid);
	strcpy(t->comm, "?");
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(t->comm, sizeof(t->comm), f))
		t->comm[strcspn(t->comm, "\n")] = '\0';
	fclose(f);
}

/* Private anonymous: no file, and not one of the kernel's special maps. */
static bool anon_private(const char *perms, unsigned long inode,
			 const char *name)
{
	if (perms[3] != 'p' || inode)
		return false;
	return !*name || (name[0] == '[' &&
			  strncmp(name, "[vvar", 5) && strcmp(name, "[vdso]") &&
			  strcmp(name, "[vsyscall]"));
}

/* One batch of iovecs to the kernel; on a partial result the iovec that
 * failed (a mapping that changed meanwhile) is skipped.  Returns 0 or
 * -errno for errors that end the sweep of this process. */
static int send_batch(int pidfd, int advice, struct iovec *iov, unsigned n,
		      struct target *t)
{
	while (n) {
		long r = syscall(SYS_process_madvise, pidfd, iov, n, advice, 0);
		unsigned long long done;

		t->calls++;
		if (r < 0 && (errno == EPERM || errno == ESRCH ||
			      errno == EINVAL || errno == ENOSYS))
			return -errno;
		done = r < 0 ? 0 : (unsigned long long)r;
		t->bytes += done;
		while (n && done >= iov->iov_len) {
			done -= iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			/* The kernel stopped inside this one: skip it. */
			t->skipped++;
			iov++;
			n--;
		}
	}
	return 0;
}

static void add_span(struct iovec *iov, unsigned *n, unsigned long lo,
		     unsigned long hi)
{
	lo = (lo + PMD - 1) & ~(PMD - 1);
	hi &= ~(PMD - 1);
	if (hi <= lo)
		return;
	iov[*n].iov_base = (void *)lo;
	iov[(*n)++].iov_len = hi - lo;
}

/* Walk the maps: adjacent private anonymous VMAs form one span (a table
 * whose 2 MiB lie in several qualifying VMAs can be freed too). */
static int walk_maps(FILE *maps, int pidfd, int advice, struct target *t)
{
	static struct iovec iov[BATCH];
	unsigned long lo = 0, hi = 0;
	unsigned n = 0;
	char line[4096];
	int err = 0;

	while (!err && fgets(line, sizeof(line), maps)) {
		unsigned long s, e, inode;
		char perms[8], name[4096] = "";

		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %4095[^\n]", &s, &e,
			   perms, &inode, name) < 4)
			continue;
		if (!anon_private(perms, inode, name + strspn(name, " ")))
			continue;
		if (s == hi) {
			hi = e;
			continue;
		}
		add_span(iov, &n, lo, hi);
		lo = s;
		hi = e;
		if (n == BATCH) {
			err = send_batch(pidfd, advice, iov, n, t);
			t->spans += n;
			n = 0;
		}
	}
	if (!err)
		add_span(iov, &n, lo, hi);
	if (!err && n)
		err = send_batch(pidfd, advice, iov, n, t);
	t->spans += n;
	return err;
}

static const char *why(int err)
{
	switch (err) {
	case ESRCH: return "no such process";
	case EPERM:
	case EACCES: return "permission denied (process_madvise needs PTRACE_MODE_READ on the target and CAP_SYS_NICE)";
	case EINVAL: return "the kernel refused the advice (EINVAL)";
	case ENOSYS: return "this kernel has no process_madvise";
	default: return strerror(err);
	}
}

/* Sweep one process.  Returns 0, or an errno (the reason in why()). */
static int sweep_one(int advice, struct target *t)
{
	char path[64];
	FILE *maps;
	int pidfd, err;

	pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0);
	if (pidfd < 0)
		return errno;
	read_comm(t);
	snprintf(path, sizeof(path), "/proc/%d/maps", t->pid);
	maps = fopen(path, "r");
	if (!maps) {
		err = errno == ENOENT ? ESRCH : errno;
		close(pidfd);
		return err;
	}
	t->before_kb = pr_vmpte_kb_of(t->pid);
	t->rss_before_kb = pr_proc_status(t->pid, "VmRSS");
	err = -walk_maps(maps, pidfd, advice, t);
	fclose(maps);
	close(pidfd);
	t->after_kb = pr_vmpte_kb_of(t->pid);
	t->rss_after_kb = pr_proc_status(t->pid, "VmRSS");
	return err;
}

static void print_target(const struct advice *a, const struct target *t)
{
	printf("ptreclaim sweep: pid=%d comm=%s advice=%s spans=%lu bytes=%llu calls=%lu skipped=%lu vmpte_kb before=%ld after=%ld freed=%ld rss_kb before=%ld after=%ld\n",
	       t->pid, t->comm, a->name, t->spans, t->bytes, t->calls,
	       t->skipped, t->before_kb, t->after_kb,
	       t->before_kb >= 0 && t->after_kb >= 0 ?
	       t->before_kb - t->after_kb : 0, t->rss_before_kb,
	       t->rss_after_kb);
}

static int sweep_pid(const struct advice *a, int pid)
{
	struct target t = { .pid = pid };
	int err = sweep_one(a->number, &t);

	if (err) {
		fprintf(stderr, "ptreclaim sweep: pid %d: %s\n", pid, why(err));
		return 1;
	}
	print_target(a, &t);
	fflush(stdout);
	return 0;
}

struct totals {
	unsigned long seen, swept, gone, denied, kernel;
	long before_kb, after_kb;
};

static void sweep_entry(const struct advice *a, int pid, struct totals *tot)
{
	struct target t = { .pid = pid };
	int err;

	/* Kernel threads have no VmPTE and no user memory. */
	if (pr_vmpte_kb_of(pid) < 0) {
		tot->kernel++;
		return;
	}
	tot->seen++;
	err = sweep_one(a->number, &t);
	if (err == ESRCH) {
		tot->gone++;
	} else if (err) {
		tot->denied++;
		fprintf(stderr, "ptreclaim sweep: pid %d (%s): %s\n", pid,
			t.comm, why(err));
	} else if (t.before_kb >= 0 && t.after_kb >= 0) {
		tot->swept++;
		tot->before_kb += t.before_kb;
		tot->after_kb += t.after_kb;
		print_target(a, &t);
		fflush(stdout);
	}
}

static int sweep_all(const struct advice *a)
{
	struct totals tot = { 0 };
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d) {
		fprintf(stderr, "ptreclaim sweep: /proc: %s\n", strerror(errno));
		return 1;
	}
	while ((e = readdir(d))) {
		int pid;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid = atoi(e->d_name);
		if (pid != getpid())
			sweep_entry(a, pid, &tot);
	}
	closedir(d);
	printf("ptreclaim sweep: total advice=%s processes=%lu swept=%lu gone=%lu denied=%lu vmpte_kb before=%ld after=%ld freed=%ld\n",
	       a->name, tot.seen, tot.swept, tot.gone, tot.denied, tot.before_kb,
	       tot.after_kb, tot.before_kb - tot.after_kb);
	return tot.swept ? 0 : 1;
}

static const struct pr_cli_cmd sweep_cmd = {
	"ptreclaim sweep", "usage: ptreclaim sweep [--empty-only] --pid PID | --all"
};

/* A pid from 1 to the kernel's pid_max, or 0 (the usage printed). */
static int parse_pid(const char *text)
{
	long max = pr_read_long("/proc/sys/kernel/pid_max", 4194304);
	char *end;
	long pid;

	errno = 0;
	pid = strtol(text, &end, 10);
	if (errno || end == text || *end || pid <= 0 || pid > max) {
		pr_cli_misuse(&sweep_cmd, "bad pid %s (expected 1 to %ld)",
			      text, max);
		return 0;
	}
	return (int)pid;
}

/*
 * The lazyfree advice where the kernel has it and it is not refused,
 * else the plain one; number -1 if the kernel has neither.  Read only
 * once the command line is known good.
 */
static struct advice pick_advice(bool empty_only)
{
	struct advice a = { pr_sysfs_reclaim_pt_advice(), "empty" };
	int lazy;

	if (a.number < 0 || empty_only)
		return a;
	lazy = pr_sysfs_reclaim_pt_advice_lazyfree();
	if (lazy > 0) {
		a.number = lazy;
		a.name = "lazyfree";
	}
	return a;
}

int pr_cmd_sweep(int argc, char **argv)
{
	int pid = 0, all = 0, r;
	bool empty_only = false;
	struct advice a;
	const char *v;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--all")) {
			all = 1;
			continue;
		}
		if (!strcmp(argv[i], "--empty-only")) {
			empty_only = true;
			continue;
		}
		r = pr_cli_value(argc, argv, &i, "--pid", &sweep_cmd, &v);
		if (r < 0)
			return EXIT_USAGE;
		if (r == 0)
			return pr_cli_misuse(&sweep_cmd, "unknown option %s",
					     argv[i]);
		pid = parse_pid(v);
		if (!pid)
			return EXIT_USAGE;
	}
	if (!all == !pid)
		return pr_cli_misuse(&sweep_cmd, "give one of --pid PID and --all");
	a = pick_advice(empty_only);
	if (a.number < 0) {
		fprintf(stderr, "ptreclaim sweep: this kernel offers no MADV_RECLAIM_PT (no /sys/kernel/mm/reclaim_pt/advice); nothing done\n");
		return 1;
	}
	return all ? sweep_all(&a) : sweep_pid(&a, pid);
}
