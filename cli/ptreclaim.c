/* SPDX-License-Identifier: MIT */
/*
 * ptreclaim - the command-line front end.
 *
 *   ptreclaim run [--stats] [--conf KEY:VALUE,...] -- CMD [ARGS...]
 *   ptreclaim probe [--json]
 *   ptreclaim sweep --pid PID | --all
 *   ptreclaim stat PID... | --all [--json] [--watch S] [--prometheus]
 *   ptreclaim plot FILE... -o OUT.svg
 *
 * run puts libptreclaim.so in front of LD_PRELOAD (keeping what is there)
 * and execs CMD, so CMD's exit status is ptreclaim's.  probe (probe.c)
 * and sweep (sweep.c) live in their own files.
 */
#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

#ifndef PTRECLAIM_LIBDIR
#define PTRECLAIM_LIBDIR "/usr/local/lib"
#endif
#ifndef PTRECLAIM_VERSION
#define PTRECLAIM_VERSION "unknown"
#endif

int pr_cli_usage(FILE *f)
{
	fprintf(f,
		"usage: ptreclaim run [--stats] [--conf KEY:VALUE,...] -- CMD [ARGS...]\n"
		"       ptreclaim probe [--json]\n"
		"       ptreclaim sweep --pid PID | --all\n"
		"       ptreclaim stat PID... | --all [--json] [--watch SECONDS] [--count N]\n"
		"                      [--prometheus] [-o FILE]\n"
		"       ptreclaim plot FILE... -o OUT.svg [--title TEXT]\n"
		"       ptreclaim --version\n"
		"\n"
		"run     run CMD with libptreclaim.so preloaded\n"
		"  --stats        print the shim's summary on stderr when CMD exits\n"
		"  --conf CONF    extra PTRECLAIM_CONF settings (see README)\n"
		"probe   what this kernel and process allow, and the strategy the\n"
		"        shim would use per allocator (honours PTRECLAIM_CONF)\n"
		"  --json         one JSON object instead of the table\n"
		"sweep   free the empty PTE tables of a process running without\n"
		"        the shim (MADV_RECLAIM_PT via process_madvise; patched kernel)\n"
		"  --pid PID      one process\n"
		"  --all          every process this user may advise\n"
		"stat    VmPTE, need (pagemap), reclaimable and RSS of processes,\n"
		"        and what the shim did in those under it (its stats page)\n"
		"  --json         an object per process (a list for several)\n"
		"  --watch S      a sample every S seconds (a JSON line each)\n"
		"  --count N      N samples at most\n"
		"  --prometheus   the text exposition format (textfile collector)\n"
		"  -o FILE        write FILE whole (temporary file, rename)\n"
		"plot    an SVG of VmPTE, need and RSS over time from recordings\n"
		"        of `stat PID --watch 1 --json`, one series per file\n"
		"\n"
		"The library is taken from $PTRECLAIM_LIB, else next to this program\n"
		"(build tree), else " PTRECLAIM_LIBDIR ".\n");
	return EXIT_USAGE;
}

static int readable(const char *path)
{
	return access(path, R_OK) == 0;
}

/* Find libptreclaim.so; NULL (with a message) if there is none to read. */
static const char *find_library(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("PTRECLAIM_LIB");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		if (readable(env))
			return env;
		fprintf(stderr, "ptreclaim: cannot read PTRECLAIM_LIB=%s: %s\n",
			env, strerror(errno));
		return NULL;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(path, sizeof(path), "%s/../shim/libptreclaim.so",
			 dirname(self));
		if (readable(path))
			return path;
	}
	snprintf(path, sizeof(path), "%s/libptreclaim.so", PTRECLAIM_LIBDIR);
	if (readable(path))
		return path;
	fprintf(stderr,
		"ptreclaim: cannot find libptreclaim.so (looked next to this program and in %s); set PTRECLAIM_LIB\n",
		PTRECLAIM_LIBDIR);
	return NULL;
}

/* Prepend lib to the colon- or space-separated list in var. */
static int prepend_env(const char *var, const char *value, const char *sep)
{
	const char *old = getenv(var);
	char *joined;
	int r;

	if (!old || !*old)
		return setenv(var, value, 1);
	if (strstr(old, value))
		return 0;
	if (asprintf(&joined, "%s%s%s", value, sep, old) < 0)
		return -1;
	r = setenv(var, joined, 1);
	free(joined);
	return r;
}

static int cmd_run(int argc, char **argv)
{
	const char *conf = NULL;
	int stats = 0, i;
	const char *lib;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--stats")) {
			stats = 1;
		} else if (!strcmp(argv[i], "--conf") && i + 1 < argc) {
			conf = argv[++i];
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "ptreclaim run: unknown option %s\n",
				argv[i]);
			return pr_cli_usage(stderr);
		} else {
			break;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "ptreclaim run: no command given\n");
		return pr_cli_usage(stderr);
	}
	lib = find_library();
	if (!lib)
		return 1;
	if (prepend_env("LD_PRELOAD", lib, ":") ||
	    (conf && prepend_env("PTRECLAIM_CONF", conf, ",")) ||
	    (stats && prepend_env("PTRECLAIM_CONF", "stats:1", ","))) {
		perror("ptreclaim: setenv");
		return 1;
	}
	execvp(argv[i], argv + i);
	fprintf(stderr, "ptreclaim: cannot run %s: %s\n", argv[i],
		strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		return pr_cli_usage(stderr);
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "probe"))
		return pr_cmd_probe(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sweep"))
		return pr_cmd_sweep(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stat"))
		return pr_cmd_stat(argc - 1, argv + 1);
	if (!strcmp(argv[1], "plot"))
		return pr_cmd_plot(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--version")) {
		printf("ptreclaim %s\n", PTRECLAIM_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		pr_cli_usage(stdout);
		return 0;
	}
	fprintf(stderr, "ptreclaim: unknown command %s\n", argv[1]);
	return pr_cli_usage(stderr);
}
