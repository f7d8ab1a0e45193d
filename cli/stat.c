/* SPDX-License-Identifier: MIT */
/*
 * stat.c - `ptreclaim stat PID... | --all [--json] [--watch SECONDS]
 * [--count N] [--prometheus] [-o FILE]`: page-table memory of running
 * processes, and what the shim did in those that run under it, read from
 * outside (stat_read.c).  docs/stat.md has the fields.
 *
 * Every PID is read on its own: one that is gone or not readable is
 * reported as such and the others go on; the exit status is 0 only if
 * every PID was read in full (1 otherwise, 2 for bad usage).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "stat.h"

struct opts {
	bool json, prometheus, all;
	double watch;		/* seconds between samples; 0: one */
	long count;		/* samples at most (0: until the PIDs end) */
	const char *out;	/* file written by rename */
	pid_t *pids;
	size_t npids;
};

static const char *err_text(const struct stat_proc *p, char *buf, size_t n)
{
	if (p->err == ESRCH)
		return "no such process";
	snprintf(buf, n, "%s: %s", p->err_what, strerror(p->err));
	return buf;
}

/* --- JSON --- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned)(unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, const char *key, long long v)
{
	if (v < 0)
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%lld", key, v);
}

static void json_strategies(FILE *f, const struct stat_shim *s)
{
	fprintf(f, ",\"strategies\":{");
	for (unsigned i = 0; i < s->nr_strategies; i++) {
		fprintf(f, "%s", i ? "," : "");
		json_str(f, s->names[i]);
		fprintf(f, ":{\"state\":");
		json_str(f, s->state[i]);
		fprintf(f, ",\"reason\":");
		if (s->why[i][0])
			json_str(f, s->why[i]);
		else
			fprintf(f, "null");
		fprintf(f, "}");
	}
	fprintf(f, "},\"counters\":{");
	for (unsigned c = 0; c < s->nr_counters; c++) {
		fprintf(f, "%s", c ? "," : "");
		json_str(f, s->counter_name[c]);
		fprintf(f, ":%llu", (unsigned long long)s->counter[c]);
	}
	fprintf(f, "}");
}

static void json_shim(FILE *f, const struct stat_shim *s)
{
	fprintf(f, ",\"shim\":");
	if (!s->loaded) {
		fprintf(f, "null");
		return;
	}
	fprintf(f, "{\"loaded\":true,\"published\":%s",
		s->published ? "true" : "false");
	if (s->inherited_from && !s->published)
		fprintf(f, ",\"inherited_from\":%d", s->inherited_from);
	if (s->err[0]) {
		fprintf(f, ",\"error\":");
		json_str(f, s->err);
	}
	if (s->published) {
		fprintf(f, ",\"strategy\":");
		json_str(f, s->strategy);
		fprintf(f, ",\"tables_freed\":%llu,\"regions_tracked\":%llu,\"regions_full\":%llu,\"errors\":%llu,\"published_at\":%.3f",
			(unsigned long long)s->tables_freed,
			(unsigned long long)s->regions_tracked,
			(unsigned long long)s->regions_full,
			(unsigned long long)s->errors, s->published_ns / 1e9);
		json_strategies(f, s);
	}
	fprintf(f, "}");
}

static void json_proc(FILE *f, const struct stat_proc *p)
{
	char buf[128];

	fprintf(f, "{\"pid\":%d,\"time\":%.3f", (int)p->pid, p->time);
	if (p->comm[0]) {
		fprintf(f, ",\"comm\":");
		json_str(f, p->comm);
	}
	if (p->err) {
		fprintf(f, ",\"error\":");
		json_str(f, err_text(p, buf, sizeof(buf)));
	}
	if (p->err != ESRCH) {
		json_num(f, "vmpte_kb", p->vmpte_kb);
		json_num(f, "need_kb", p->need_kb);
		if (p->need_kb >= 0)
			fprintf(f, ",\"reclaimable_kb\":%lld",
				p->vmpte_kb - p->need_kb);
		else
			fprintf(f, ",\"reclaimable_kb\":null");
		json_num(f, "rss_kb", p->rss_kb);
		if (p->need_kb >= 0)
			json_shim(f, &p->shim);
	}
	fprintf(f, "}");
}

/* One object for one PID, a list for several: one line per sample. */
static void print_json(FILE *f, const struct stat_proc *ps, size_t n,
		       bool list)
{
	if (list)
		fprintf(f, "[");
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s", i ? "," : "");
		json_proc(f, &ps[i]);
	}
	fprintf(f, list ? "]\n" : "\n");
}

/* --- the table --- */

static const char *strategy_col(const struct stat_shim *s)
{
	if (!s->loaded)
		return "-";
	return s->published ? s->strategy : "(loaded)";
}

static void print_table(FILE *f, const struct stat_proc *ps, size_t n)
{
	char buf[128];

	fprintf(f, "%8s %-16s %9s %9s %10s %10s %-15s %7s %6s\n", "PID",
		"COMM", "VMPTE_KB", "NEED_KB", "RECLAIM_KB", "RSS_KB",
		"STRATEGY", "FREED", "ERRORS");
	for (size_t i = 0; i < n; i++) {
		const struct stat_proc *p = &ps[i];

		if (p->err == ESRCH) {
			fprintf(f, "%8d %-16s %s\n", (int)p->pid, p->comm,
				err_text(p, buf, sizeof(buf)));
			continue;
		}
		if (p->err) {	/* status read, pagemap not */
			fprintf(f, "%8d %-16s %9ld %9s %10s %10ld %s\n",
				(int)p->pid, p->comm, p->vmpte_kb, "-", "-",
				p->rss_kb, err_text(p, buf, sizeof(buf)));
			continue;
		}
		fprintf(f, "%8d %-16s %9ld %9lld %10lld %10ld %-15s",
			(int)p->pid, p->comm, p->vmpte_kb, p->need_kb,
			p->vmpte_kb - p->need_kb, p->rss_kb,
			strategy_col(&p->shim));
		if (p->shim.published)
			fprintf(f, " %7llu %6llu\n",
				(unsigned long long)p->shim.tables_freed,
				(unsigned long long)p->shim.errors);
		else
			fprintf(f, " %7s %6s\n", "-", "-");
	}
}

/* --- the PIDs --- */

/* Every process with an address space (kernel threads have no VmPTE). */
static size_t all_pids(pid_t **out)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t n = 0, cap = 0;

	*out = NULL;
	while (d && (e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			*out = realloc(*out, cap * sizeof(**out));
			if (!*out)
				break;
		}
		(*out)[n++] = (pid_t)atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return *out ? n : 0;
}

/* Kernel threads and processes gone since the listing are not errors
 * of --all. */
static bool skip_in_all(const struct stat_proc *p)
{
	return p->err == ESRCH;
}

static size_t sample(const struct opts *o, struct stat_proc *ps, size_t cap,
		     size_t *failed)
{
	pid_t *pids = o->pids, *list = NULL;
	size_t n = o->npids, k = 0;

	if (o->all)
		n = all_pids(&list), pids = list;
	for (size_t i = 0; i < n && k < cap; i++) {
		stat_read(pids[i], &ps[k]);
		if (o->all && skip_in_all(&ps[k]))
			continue;
		/* A stats page that could not be read is a PID not read in
		 * full, too. */
		*failed += ps[k].err != 0 || ps[k].shim.err[0];
		k++;
	}
	free(list);
	return k;
}

/* --- Prometheus --- */

static void prom_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fprintf(f, "\\n");
		else
			fputc(*s, f);
	}
}

static void prom_labels(FILE *f, const struct stat_proc *p, bool strategy)
{
	fprintf(f, "{pid=\"%d\",comm=\"", (int)p->pid);
	prom_label(f, p->comm);
	if (strategy) {
		fprintf(f, "\",strategy=\"");
		prom_label(f, p->shim.strategy);
	}
	fprintf(f, "\"}");
}

enum prom_field { PF_VMPTE, PF_NEED, PF_RECLAIM, PF_RSS, PF_FREED,
		  PF_ERRORS, PF_TRACKED, PF_NR };

static const struct {
	const char *name, *type, *help;
	bool shim;
} prom_metrics[PF_NR] = {
	[PF_VMPTE] = { "ptreclaim_vmpte_bytes", "gauge",
		       "Page-table memory of the process (VmPTE).", false },
	[PF_NEED] = { "ptreclaim_need_bytes", "gauge",
		      "Page tables what the process maps now needs (pagemap).",
		      false },
	[PF_RECLAIM] = { "ptreclaim_reclaimable_bytes", "gauge",
			 "VmPTE minus need.", false },
	[PF_RSS] = { "ptreclaim_rss_bytes", "gauge",
		     "Resident memory of the process (VmRSS).", false },
	[PF_FREED] = { "ptreclaim_tables_freed_total", "counter",
		       "Page tables the shim's strategy freed.", true },
	[PF_ERRORS] = { "ptreclaim_errors_total", "counter",
			"Failed reclaim calls of the shim's strategies.", true },
	[PF_TRACKED] = { "ptreclaim_regions_tracked", "gauge",
			 "2 MiB regions in the shim's ledger.", true },
};

static bool prom_value(const struct stat_proc *p, enum prom_field m,
		       unsigned long long *v)
{
	const struct stat_shim *s = &p->shim;

	if (p->err || (prom_metrics[m].shim && !s->published))
		return false;
	switch (m) {
	case PF_VMPTE: *v = 1024ULL * (unsigned long long)p->vmpte_kb; break;
	case PF_NEED: *v = 1024ULL * (unsigned long long)p->need_kb; break;
	case PF_RECLAIM:
		if (p->vmpte_kb < p->need_kb)
			return false;
		*v = 1024ULL * (unsigned long long)(p->vmpte_kb - p->need_kb);
		break;
	case PF_RSS: *v = 1024ULL * (unsigned long long)p->rss_kb; break;
	case PF_FREED: *v = s->tables_freed; break;
	case PF_ERRORS: *v = s->errors; break;
	case PF_TRACKED: *v = s->regions_tracked; break;
	default: return false;
	}
	return true;
}

static void print_prometheus(FILE *f, const struct stat_proc *ps, size_t n,
			     size_t failed)
{
	for (int m = 0; m < PF_NR; m++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", prom_metrics[m].name,
			prom_metrics[m].help, prom_metrics[m].name,
			prom_metrics[m].type);
		for (size_t i = 0; i < n; i++) {
			unsigned long long v;

			if (!prom_value(&ps[i], m, &v))
				continue;
			fprintf(f, "%s", prom_metrics[m].name);
			prom_labels(f, &ps[i], prom_metrics[m].shim);
			fprintf(f, " %llu\n", v);
		}
	}
	fprintf(f, "# HELP ptreclaim_stat_failed_processes Processes stat could not read in full.\n"
		   "# TYPE ptreclaim_stat_failed_processes gauge\n"
		   "ptreclaim_stat_failed_processes %zu\n", failed);
}

/* --- output --- */

/* Into o->out by write and rename, so a collector never reads half a
 * file; else stdout. */
static int emit(const struct opts *o, const struct stat_proc *ps, size_t n,
		size_t failed)
{
	char tmp[4096];
	FILE *f = stdout;

	if (o->out) {
		snprintf(tmp, sizeof(tmp), "%s.%d.tmp", o->out, (int)getpid());
		f = fopen(tmp, "we");
		if (!f) {
			fprintf(stderr, "ptreclaim stat: %s: %s\n", tmp,
				strerror(errno));
			return -1;
		}
	}
	if (o->prometheus)
		print_prometheus(f, ps, n, failed);
	else if (o->json)
		print_json(f, ps, n, o->all || o->npids > 1);
	else
		print_table(f, ps, n);
	if (!o->out)
		return fflush(f);
	if (fclose(f) || rename(tmp, o->out)) {
		fprintf(stderr, "ptreclaim stat: %s: %s\n", o->out,
			strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* --- the command --- */

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "ptreclaim stat: %s%s%s\n", what, arg ? " " : "",
		arg ? arg : "");
	return pr_cli_usage(stderr);
}

static bool number(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return s[0] && !*end && !errno && *v >= 0;
}

/* An option with a value: --watch S, --count N, -o FILE. */
static int parse_value(const char *opt, const char *val, struct opts *o)
{
	double v;

	if (!strcmp(opt, "-o") || !strcmp(opt, "--output")) {
		o->out = val;
		return 0;
	}
	if (!number(val, &v))
		return usage_error("bad value for", opt);
	if (!strcmp(opt, "--watch")) {
		if (v < 0.01)
			return usage_error("--watch wants 0.01 s or more", NULL);
		o->watch = v;
	} else {
		if (v != (long)v || v < 1)
			return usage_error("--count wants a whole number", NULL);
		o->count = (long)v;
	}
	return 0;
}

static bool is_pid(const char *a)
{
	return isdigit((unsigned char)a[0]) &&
	       strspn(a, "0123456789") == strlen(a) && strlen(a) < 11 &&
	       atol(a) > 0 && atol(a) < 1L << 31;
}

static int parse(int argc, char **argv, struct opts *o)
{
	o->pids = calloc((size_t)argc, sizeof(*o->pids));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r;

		if (!strcmp(a, "--json")) {
			o->json = true;
		} else if (!strcmp(a, "--prometheus")) {
			o->prometheus = true;
		} else if (!strcmp(a, "--all")) {
			o->all = true;
		} else if (!strcmp(a, "--watch") || !strcmp(a, "--count") ||
			   !strcmp(a, "-o") || !strcmp(a, "--output")) {
			if (i + 1 >= argc)
				return usage_error("missing value after", a);
			r = parse_value(a, argv[++i], o);
			if (r)
				return r;
		} else if (is_pid(a)) {
			o->pids[o->npids++] = (pid_t)atol(a);
		} else {
			return usage_error("bad argument", a);
		}
	}
	if (!o->all == !o->npids)
		return usage_error("give PIDs or --all (not both)", NULL);
	return 0;
}

static size_t max_procs(const struct opts *o)
{
	pid_t *list;
	size_t n = o->all ? all_pids(&list) : o->npids;

	if (o->all)
		free(list);
	return n + 1024;	/* room for processes started meanwhile */
}

static void sleep_for(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Until count samples, or until every PID named is gone. */
static int watch(const struct opts *o, struct stat_proc *ps, size_t cap)
{
	bool failed_ever = false;

	for (long k = 0; !o->count || k < o->count; k++) {
		size_t failed = 0, n = sample(o, ps, cap, &failed), gone = 0;

		for (size_t i = 0; i < n; i++)
			gone += ps[i].err == ESRCH;
		if (k && !o->all && gone == n)
			break;	/* they all ended: the recording is over */
		if (!o->json && !o->prometheus && !o->out)
			printf("\033[H\033[J");	/* the table in place */
		if (emit(o, ps, n, failed))
			return 1;
		/* A PID that ended is the end of its recording, not a
		 * failure, unless it was not there to begin with. */
		failed_ever |= failed > gone || (!k && failed);
		if (!o->count || k + 1 < o->count)
			sleep_for(o->watch);
	}
	return failed_ever ? 1 : 0;
}

int pr_cmd_stat(int argc, char **argv)
{
	struct opts o = { 0 };
	struct stat_proc *ps;
	size_t failed = 0, n, cap;
	int r = parse(argc, argv, &o);

	if (r)
		return r;
	cap = max_procs(&o);
	ps = calloc(cap, sizeof(*ps));
	if (!ps || !o.pids) {
		perror("ptreclaim stat");
		return 1;
	}
	if (o.watch > 0) {
		r = watch(&o, ps, cap);
	} else {
		n = sample(&o, ps, cap, &failed);
		r = emit(&o, ps, n, failed) ? 1 : failed ? 1 : 0;
	}
	free(ps);
	free(o.pids);
	return r;
}
