/* SPDX-License-Identifier: MIT */
/*
 * run.c - `ptreclaim run [--stats] [--conf KEY:VALUE,...] -- CMD [ARGS...]`:
 * put libptreclaim.so in front of LD_PRELOAD (keeping what is there) and
 * exec CMD, so CMD's exit status is ptreclaim's.
 *
 * Where ld.so would silently run CMD without the shim, run refuses (exit 1,
 * one line) or, for a static CMD, says so: a library path LD_PRELOAD would
 * split (a blank or a ':'), a file that is no loadable ELF object.  The
 * library's path is made absolute, so a CMD that changes directory keeps
 * it.
 */
#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"

#ifndef PTRECLAIM_LIBDIR
#define PTRECLAIM_LIBDIR "/usr/local/lib"
#endif

static const struct pr_cli_cmd run_cmd = {
	"ptreclaim run",
	"usage: ptreclaim run [--stats] [--conf KEY:VALUE,...] -- CMD [ARGS...]"
};

/* path made absolute and canonical into out, but for its last part: the
 * name the library is known by (libptreclaim.so.0, not the file it links
 * to, which an upgrade replaces); false (errno set) if it does not exist. */
static bool absolute(const char *path, char out[PATH_MAX])
{
	char dir[PATH_MAX], base[PATH_MAX];
	size_t n;

	if (strlen(path) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return false;
	}
	strcpy(dir, path);
	strcpy(base, path);
	if (!realpath(dirname(dir), out) || access(path, F_OK))
		return false;
	n = strlen(out);
	if (snprintf(out + n, PATH_MAX - n, "/%s", basename(base)) >=
	    (int)(PATH_MAX - n)) {
		errno = ENAMETOOLONG;
		return false;
	}
	return true;
}

/* The library of $PTRECLAIM_LIB, else next to this program (the build
 * tree's shim/libptreclaim.so), else the install directory's
 * libptreclaim.so.0; absolute.  NULL (with a line) if
 * there is none to read. */
static const char *locate_library(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("PTRECLAIM_LIB");
	char self[PATH_MAX], guess[PATH_MAX + 32];
	ssize_t n;

	if (env && *env) {
		if (absolute(env, path) && access(path, R_OK) == 0)
			return path;
		fprintf(stderr, "ptreclaim: cannot read PTRECLAIM_LIB=%s: %s\n",
			env, strerror(errno));
		return NULL;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(guess, sizeof(guess), "%s/../shim/libptreclaim.so",
			 dirname(self));
		if (absolute(guess, path) && access(path, R_OK) == 0)
			return path;
	}
	/* The runtime's name: the libptreclaim.so symlink comes only with
	 * the development files (libptreclaim-dev). */
	if (absolute(PTRECLAIM_LIBDIR "/libptreclaim.so.0", path) &&
	    access(path, R_OK) == 0)
		return path;
	fprintf(stderr,
		"ptreclaim: cannot find libptreclaim.so.0 (looked next to this program and in %s); set PTRECLAIM_LIB\n",
		PTRECLAIM_LIBDIR);
	return NULL;
}

/* Whether ld.so can preload lib; if not, one line says why. */
static bool loadable(const char *lib)
{
	size_t sep = strcspn(lib, ": \t\n");
	const char *why;

	if (lib[sep]) {
		fprintf(stderr,
			"ptreclaim: the library path %s contains %s, which splits LD_PRELOAD: the shim would not load (use a path without blanks or ':')\n",
			lib, lib[sep] == ':' ? "a colon" : "a blank");
		return false;
	}
	why = pr_elf_not_library(lib);
	if (why) {
		fprintf(stderr,
			"ptreclaim: %s %s; the shim cannot be preloaded from it\n",
			lib, why);
		return false;
	}
	return true;
}

/* Prepend value to the sep-separated list in var, unless it is there. */
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

/* Append pairs to PTRECLAIM_CONF: the last setting of a key wins, so the
 * command line's override the environment's. */
static int append_conf(const char *pairs)
{
	const char *old = getenv("PTRECLAIM_CONF");
	char *joined;
	int r;

	if (!old || !*old)
		return setenv("PTRECLAIM_CONF", pairs, 1);
	if (asprintf(&joined, "%s,%s", old, pairs) < 0)
		return -1;
	r = setenv("PTRECLAIM_CONF", joined, 1);
	free(joined);
	return r;
}

/* The file execvp would run for cmd, into buf; NULL if none is found. */
static const char *which(const char *cmd, char *buf, size_t len)
{
	const char *path = getenv("PATH");
	struct stat st;

	if (strchr(cmd, '/'))
		return cmd;
	if (!path)
		path = "/bin:/usr/bin";
	for (const char *p = path;; p += strcspn(p, ":") + 1) {
		int n = (int)strcspn(p, ":");

		snprintf(buf, len, "%.*s%s%s", n, p, n ? "/" : "", cmd);
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(buf, X_OK) == 0)
			return buf;
		if (!p[n])
			return NULL;
	}
}

/* A static CMD runs, but without the shim: say so, and what helps. */
static void warn_if_static(const char *cmd)
{
	char buf[PATH_MAX];
	const char *file = which(cmd, buf, sizeof(buf));

	if (file && pr_elf_is_static(file))
		fprintf(stderr,
			"ptreclaim: %s is statically linked: the shim cannot load into it, so it runs without; `ptreclaim sweep --pid PID` frees its empty page tables from outside (patched kernel)\n",
			file);
}

/* The options before CMD; the index of CMD, or -1 (usage printed). */
static int run_options(int argc, char **argv, int *stats, const char **conf)
{
	int i, r;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "--stats")) {
			*stats = 1;
			continue;
		}
		r = pr_cli_value(argc, argv, &i, "--conf", &run_cmd, conf);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (argv[i][0] != '-')
			break;
		pr_cli_misuse(&run_cmd, "unknown option %s", argv[i]);
		return -1;
	}
	if (i < argc)
		return i;
	pr_cli_misuse(&run_cmd, "no command given");
	return -1;
}

int pr_cmd_run(int argc, char **argv)
{
	const char *conf = NULL, *lib;
	int stats = 0, i = run_options(argc, argv, &stats, &conf);

	if (i < 0)
		return EXIT_USAGE;
	lib = locate_library();
	if (!lib || !loadable(lib))
		return 1;
	if (prepend_env("LD_PRELOAD", lib, ":") ||
	    (conf && append_conf(conf)) || (stats && append_conf("stats:1"))) {
		perror("ptreclaim: setenv");
		return 1;
	}
	warn_if_static(argv[i]);
	execvp(argv[i], argv + i);
	fprintf(stderr, "ptreclaim: cannot run %s: %s\n", argv[i],
		strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
