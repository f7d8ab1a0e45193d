/* SPDX-License-Identifier: MIT */
/*
 * ptreclaim - the command-line front end.
 *
 *   ptreclaim run [--stats] [--conf KEY:VALUE,...] -- CMD [ARGS...]
 *   ptreclaim probe [--json]
 *   ptreclaim sweep [--empty-only] --pid PID | --all
 *   ptreclaim stat PID... | --all [--json] [--watch S] [--prometheus]
 *   ptreclaim plot FILE... -o OUT.svg
 *
 * The usage, the dispatch and the option helpers the subcommands share;
 * run (run.c), probe (probe.c) and sweep (sweep.c) live in their own
 * files.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		"       ptreclaim sweep [--empty-only] --pid PID | --all\n"
		"       ptreclaim stat PID... | --all [--json] [--watch SECONDS] [--count N]\n"
		"                      [--prometheus] [-o FILE]\n"
		"       ptreclaim plot FILE... -o OUT.svg [--title TEXT]\n"
		"       ptreclaim --version\n"
		"\n"
		"run     run CMD with libptreclaim.so preloaded\n"
		"  --stats        print the shim's summary on stderr when CMD exits\n"
		"  --conf CONF    extra PTRECLAIM_CONF settings (see README); --conf=CONF too\n"
		"probe   what this kernel and process allow, and the strategy the\n"
		"        shim would use per allocator (honours PTRECLAIM_CONF)\n"
		"  --json         one JSON object instead of the table\n"
		"sweep   free the empty PTE tables of a process running without\n"
		"        the shim (MADV_RECLAIM_PT via process_madvise; patched kernel),\n"
		"        and those mapping only clean MADV_FREE pages where the kernel\n"
		"        has MADV_RECLAIM_PT_LAZYFREE (output: advice=lazyfree|empty)\n"
		"  --pid PID      one process (--pid=PID too)\n"
		"  --all          every process this user may advise\n"
		"  --empty-only   the plain advice only: discard no lazily freed page\n"
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

int pr_cli_misuse(const struct pr_cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s\n", cmd->usage);
	return EXIT_USAGE;
}

int pr_cli_value(int argc, char **argv, int *i, const char *name,
		 const struct pr_cli_cmd *cmd, const char **value)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);
	const char *v;

	if (strncmp(arg, name, n) || (arg[n] && arg[n] != '='))
		return 0;
	if (arg[n] == '=')
		v = arg + n + 1;
	else
		v = *i + 1 < argc ? argv[++*i] : NULL;
	/* "--conf -- CMD": the "--" ends the options, it is no value. */
	if (!v || !*v || !strncmp(v, "--", 2)) {
		if (v && *v)
			--*i;
		pr_cli_misuse(cmd, "option %s needs a value", name);
		return -1;
	}
	*value = v;
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		return pr_cli_usage(stderr);
	}
	if (!strcmp(argv[1], "run"))
		return pr_cmd_run(argc - 1, argv + 1);
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
