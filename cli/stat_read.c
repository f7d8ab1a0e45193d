/* SPDX-License-Identifier: MIT */
/*
 * stat_read.c - one sample of one process for `ptreclaim stat`.
 *
 * From procfs: VmPTE and VmRSS (/proc/PID/status), the command name, and
 * what the page tables must cost for what is mapped now (need: one table
 * per 2 MiB, 1 GiB and 512 GiB region that maps a present or swapped
 * page, from /proc/PID/pagemap; examples/pagetables.c, the same count the
 * churn workload and the tests use).  Pagemap and maps need the access
 * pmap needs (PTRACE_MODE_READ).
 *
 * From the shim, if the process runs under it and published its stats
 * page (shim/core/publish.h): the page is found by name in the maps, its
 * header read, then the live structures it points to, with
 * process_vm_readv (PTRACE_MODE_ATTACH: root, or the same user where
 * ptrace is allowed).  The target is neither stopped nor asked anything.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "pagetables.h"
#include "platform.h"
#include "stat.h"

#define MAX_SHARDS	256
#define MAX_STRIDE	4096

static bool peek(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };

	return addr && process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)len;
}

/* A C string in the target; it may end near the end of a mapping, so a
 * short read is fine. */
static void peek_str(pid_t pid, uint64_t addr, char *buf, size_t len)
{
	struct iovec l = { buf, len - 1 }, r = { (void *)(uintptr_t)addr, len - 1 };
	ssize_t n = addr ? process_vm_readv(pid, &l, 1, &r, 1, 0) : -1;

	buf[n > 0 ? (size_t)n : 0] = '\0';
}

static bool read_comm(struct stat_proc *p)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)p->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fgets(p->comm, sizeof(p->comm), f))
		p->comm[strcspn(p->comm, "\n")] = '\0';
	fclose(f);
	return true;
}

static uint64_t counter(const struct stat_shim *s, const char *name)
{
	for (unsigned c = 0; c < s->nr_counters; c++)
		if (!strcmp(s->counter_name[c], name))
			return s->counter[c];
	return 0;
}

/* Summed over the shards, as the library's pr_counter_sum() does. */
static bool read_counters(pid_t pid, const struct pr_pub *h,
			  struct stat_shim *s)
{
	static uint8_t buf[MAX_SHARDS * MAX_STRIDE];
	size_t len = (size_t)h->nr_shards * h->shard_stride;

	if (h->nr_shards > MAX_SHARDS || h->shard_stride > MAX_STRIDE ||
	    h->nr_counters > PR_PUB_COUNTERS ||
	    h->nr_counters * 8 > h->shard_stride ||
	    !peek(pid, h->shards_addr, buf, len))
		return false;
	s->nr_counters = h->nr_counters;
	for (unsigned c = 0; c < h->nr_counters; c++) {
		memcpy(s->counter_name[c], h->counter_name[c], PR_PUB_NAME_LEN);
		s->counter_name[c][PR_PUB_NAME_LEN - 1] = '\0';
		s->counter[c] = 0;
		for (unsigned i = 0; i < h->nr_shards; i++) {
			uint64_t v;

			memcpy(&v, buf + (size_t)i * h->shard_stride + c * 8, 8);
			s->counter[c] += v;
		}
	}
	return true;
}

/* The strategies as published, corrected by what runs now: the worker
 * may have stopped for good since (a seccomp filter), or the program
 * attached or detached the jemalloc adapter. */
static bool read_strategies(pid_t pid, const struct pr_pub *h,
			    struct stat_shim *s)
{
	unsigned n = h->nr_strategies < PR_PUB_STRATS ? h->nr_strategies
						      : PR_PUB_STRATS;
	uint64_t quit = 0;
	int32_t run;

	if (!n || !peek(pid, h->running_addr, &run, sizeof(run)) ||
	    !peek(pid, h->quit_why_addr, &quit, sizeof(quit)))
		return false;
	s->nr_strategies = n;
	memcpy(s->names, h->strategy, sizeof(s->names));
	memcpy(s->state, h->state, sizeof(s->state));
	memcpy(s->why, h->why, sizeof(s->why));
	if (run < 0 || (unsigned)run >= n)
		run = (int32_t)n - 1;
	if (quit && (h->worker_users >> run & 1)) {
		strcpy(s->state[run], "unavailable");
		peek_str(pid, quit, s->why[run], sizeof(s->why[run]));
		run = (int32_t)n - 1;	/* observe */
	}
	for (unsigned i = 0; i < n; i++) {
		s->names[i][PR_PUB_NAME_LEN - 1] = s->state[i][15] = '\0';
		s->why[i][PR_PUB_WHY_LEN - 1] = '\0';
		if (i == (unsigned)run) {
			strcpy(s->state[i], "active");
			s->why[i][0] = '\0';
		} else if (!strcmp(s->state[i], "active")) {
			strcpy(s->state[i], "off");
			strcpy(s->why[i], "stopped since the shim published");
		}
	}
	memcpy(s->strategy, s->names[run], sizeof(s->strategy));
	return true;
}

/* tables_freed and errors are summed as the library's
 * pr_publish_tables_freed() and pr_publish_errors() sum them. */
static bool read_live(pid_t pid, const struct pr_pub *h, struct stat_shim *s)
{
	uint8_t w[256];
	uint64_t freed_kb = 0, e;

	if (!read_counters(pid, h, s) || !read_strategies(pid, h, s) ||
	    !peek(pid, h->ledger_tracked_addr, &s->regions_tracked, 8) ||
	    !peek(pid, h->ledger_full_addr, &s->regions_full, 8) ||
	    h->worker_stats_size > sizeof(w) ||
	    h->worker_freed_kb_off + 8 > h->worker_stats_size ||
	    !peek(pid, h->worker_stats_addr, w, h->worker_stats_size))
		return false;
	memcpy(&freed_kb, w + h->worker_freed_kb_off, 8);
	s->tables_freed = counter(s, "je_pte_reclaimed") + freed_kb / 4;
	s->errors = counter(s, "je_reclaim_failed") +
		    counter(s, "je_decommit_failed");
	for (unsigned i = 0; i < PR_PUB_STRATS; i++)
		if (h->errors_addr[i] && peek(pid, h->errors_addr[i], &e, 8))
			s->errors += e;
	s->published_ns = h->published_ns;
	return true;
}

/* One candidate page at addr: ours if it is a stats page of this pid. */
static void try_page(struct stat_proc *p, uint64_t addr)
{
	struct stat_shim *s = &p->shim;
	struct pr_pub h;

	if (!peek(p->pid, addr, &h, sizeof(h))) {
		snprintf(s->err, sizeof(s->err), "stats page: %s",
			 strerror(errno));
		return;
	}
	/* Mapped, not filled yet: nothing published so far. */
	if (!h.magic[0])
		return;
	/* Fields are only appended: a larger header is one we can read. */
	if (memcmp(h.magic, PR_PUB_MAGIC, 8) || h.version != PR_PUB_VERSION ||
	    h.size < sizeof(h)) {
		snprintf(s->err, sizeof(s->err),
			 "stats page: unknown layout (version %u)", h.version);
		return;
	}
	if (h.pid != p->pid) {
		s->inherited_from = h.pid;
		return;
	}
	s->err[0] = '\0';
	if (read_live(p->pid, &h, s))
		s->published = true;
	else
		snprintf(s->err, sizeof(s->err), "stats page: %s",
			 strerror(errno ? errno : EIO));
}

void stat_read_shim(struct stat_proc *p)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)p->pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0 && !p->shim.published) {
		uint64_t lo = strtoull(line, NULL, 16);

		if (strstr(line, "/memfd:" PR_PUB_NAME)) {
			p->shim.loaded = true;
			try_page(p, lo);
		} else if (strstr(line, "/libptreclaim.so")) {
			p->shim.loaded = true;
		}
	}
	free(line);
	fclose(f);
}

void stat_read(pid_t pid, struct stat_proc *p)
{
	struct timespec ts;
	struct pt_need n;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->vmpte_kb = p->rss_kb = -1;
	p->need_kb = -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	p->time = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	if (!read_comm(p)) {
		p->err = errno == ENOENT ? ESRCH : errno;
		p->err_what = "comm";
		return;
	}
	p->vmpte_kb = pr_proc_status(pid, "VmPTE");
	p->rss_kb = pr_proc_status(pid, "VmRSS");
	if (p->vmpte_kb < 0 || p->rss_kb < 0) {
		/* Gone meanwhile, a zombie, or a kernel thread: no mm. */
		p->err = ESRCH;
		p->err_what = "status";
		return;
	}
	if (pt_need_scan_pid(pid, &n) == 0) {
		p->need_kb = 4 * (long long)pt_need_pages(&n);
	} else {
		p->err = errno;
		p->err_what = "pagemap";
		return;
	}
	stat_read_shim(p);
}
