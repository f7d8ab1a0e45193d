/* SPDX-License-Identifier: MIT */
/*
 * ptreclaim - the command-line front end.
 *
 *   ptreclaim run [--stats] [--conf KEY:VALUE,...] -- CMD [ARGS...]
 *   ptreclaim probe [--json]
 *   ptreclaim sweep --pid PID | --all
 *
 * run puts libptreclaim.so in front of LD_PRELOAD (keeping what is there)
 * and execs CMD, so CMD's exit status is ptreclaim's.  probe runs the
 * shim's own capability probes (shim/caps.c, the same code) in this process
 * and says what the shim would do here.
 */
#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "internal.h"
#include "sweep.h"

#ifndef PTRECLAIM_LIBDIR
#define PTRECLAIM_LIBDIR "/usr/local/lib"
#endif
#ifndef PTRECLAIM_VERSION
#define PTRECLAIM_VERSION "unknown"
#endif

#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ptreclaim run [--stats] [--conf KEY:VALUE,...] -- CMD [ARGS...]\n"
		"       ptreclaim probe [--json]\n"
		"       ptreclaim sweep --pid PID | --all\n"
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
		"\n"
		"The library is taken from $PTRECLAIM_LIB, else next to this program\n"
		"(build tree), else " PTRECLAIM_LIBDIR ".\n");
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
			usage(stderr);
			return EXIT_USAGE;
		} else {
			break;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "ptreclaim run: no command given\n");
		usage(stderr);
		return EXIT_USAGE;
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

static const struct {
	enum pr_alloc a;
	const char *name;
} allocators[] = {
	{ PR_ALLOC_JEMALLOC, "jemalloc" }, { PR_ALLOC_TCMALLOC, "tcmalloc" },
	{ PR_ALLOC_MIMALLOC, "mimalloc" }, { PR_ALLOC_GLIBC, "glibc" },
};

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void cli_warn(const char *msg)
{
	fputs(msg, stderr);
}

static const char *hint_mode(bool fpr)
{
	if (pr_conf.hint == PR_HINT_AUTO && fpr)
		return "auto: idle here (free page reporting, below); hint:on hints anyway";
	return pr_hint_mode_name(pr_conf.hint);
}

static int cmd_probe(int argc, char **argv)
{
	struct utsname u;
	struct pr_thp thp;
	int json = 0;
	bool fpr;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else {
			fprintf(stderr, "ptreclaim probe: unknown option %s\n",
				argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	pr_conf_defaults(&pr_conf);
	pr_conf_parse(getenv("PTRECLAIM_CONF"), &pr_conf, cli_warn);
	pr_probe_caps();
	pr_caps_thp(&thp);
	fpr = pr_caps_free_page_reporting();
	if (uname(&u))
		memset(&u, 0, sizeof(u));

	if (json) {
		printf("{\"kernel\":");
		json_str(u.release);
		printf(",\"machine\":");
		json_str(u.machine);
		printf(",\"page_size\":%ld,\"pmd_size\":%ld", pr_caps.page_size,
		       pr_caps.pmd_size);
		printf(",\"pt_reclaim_on_dontneed\":%s",
		       pr_caps.pt_reclaim_on_dontneed ? "true" : "false");
		if (pr_caps.advice > 0)
			printf(",\"reclaim_pt_advice\":%d", pr_caps.advice);
		else
			printf(",\"reclaim_pt_advice\":null");
		printf(",\"userfaultfd\":{\"mode\":");
		json_str(pr_uffd_mode_name(pr_caps.uffd));
		printf(",\"via\":");
		json_str(pr_caps.uffd_via);
		printf(",\"full_errno\":");
		json_str(pr_caps.uffd_err ? strerrorname_np(pr_caps.uffd_err) : "");
		printf(",\"unprivileged_userfaultfd\":%d,\"cap_sys_ptrace\":%s,"
		       "\"dev_userfaultfd\":%s,\"seccomp\":%d,\"features\":%llu}",
		       pr_caps.unpriv_uffd_sysctl,
		       pr_caps.cap_sys_ptrace ? "true" : "false",
		       pr_caps.dev_uffd ? "true" : "false", pr_caps.seccomp,
		       (unsigned long long)pr_caps.uffd_features);
		printf(",\"thp\":{\"enabled\":");
		json_str(thp.enabled);
		printf(",\"defrag\":");
		json_str(thp.defrag);
		printf(",\"shmem_enabled\":");
		json_str(thp.shmem_enabled);
		printf(",\"max_ptes_none\":%ld,\"mthp\":{", thp.max_ptes_none);
		for (unsigned i = 0; i < thp.nr_mthp; i++) {
			printf("%s\"%ukB\":", i ? "," : "", thp.mthp[i].kb);
			json_str(thp.mthp[i].enabled);
		}
		printf("},\"free_page_reporting\":%s},\"hint\":",
		       fpr ? "true" : "false");
		json_str(pr_hint_mode_name(pr_conf.hint));
		printf(",\"strategy\":{");
		for (size_t i = 0; i < sizeof(allocators) / sizeof(*allocators);
		     i++) {
			const char *why;
			enum pr_strategy s = pr_strategy_for(allocators[i].a, &why);

			printf("%s\"%s\":{\"name\":", i ? "," : "",
			       allocators[i].name);
			json_str(pr_strategy_name(s));
			printf(",\"why\":");
			json_str(why);
			printf("}");
		}
		printf("}}\n");
		return 0;
	}

	printf("ptreclaim probe: kernel %s %s\n", u.release, u.machine);
	printf("  %-26s %ld bytes\n", "page size", pr_caps.page_size);
	printf("  %-26s %ld KiB (one PTE table maps it)\n", "PMD size",
	       pr_caps.pmd_size >> 10);
	printf("  %-26s %s\n", "whole-PMD MADV_DONTNEED",
	       pr_caps.pt_reclaim_on_dontneed ?
	       "frees the PTE table (tried; CONFIG_PT_RECLAIM)" :
	       "keeps the PTE table (tried)");
	if (pr_caps.advice > 0)
		printf("  %-26s advice %d (/sys/kernel/mm/reclaim_pt/advice)\n",
		       "MADV_RECLAIM_PT", pr_caps.advice);
	else
		printf("  %-26s absent (no /sys/kernel/mm/reclaim_pt/advice)\n",
		       "MADV_RECLAIM_PT");
	printf("  %-26s %s via %s", "userfaultfd",
	       pr_uffd_mode_name(pr_caps.uffd), pr_caps.uffd_via);
	if (pr_caps.uffd_err)
		printf(" (full mode by syscall: %s)",
		       strerrorname_np(pr_caps.uffd_err));
	printf("\n  %-26s vm.unprivileged_userfaultfd=%d CAP_SYS_PTRACE=%s /dev/userfaultfd=%s seccomp=%s\n",
	       "", pr_caps.unpriv_uffd_sysctl,
	       pr_caps.cap_sys_ptrace ? "yes" : "no",
	       pr_caps.dev_uffd ? "usable" : "not usable",
	       pr_caps.seccomp == 0 ? "none" : pr_caps.seccomp == 1 ?
	       "strict" : pr_caps.seccomp == 2 ? "filter" : "unknown");
	printf("  %-26s enabled=%s defrag=%s shmem=%s max_ptes_none=%ld\n",
	       "THP", thp.enabled, thp.defrag, thp.shmem_enabled,
	       thp.max_ptes_none);
	printf("  %-26s", "mTHP");
	if (!thp.nr_mthp)
		printf(" none");
	for (unsigned i = 0; i < thp.nr_mthp; i++)
		printf(" %uK=%s", thp.mthp[i].kb, thp.mthp[i].enabled);
	printf("\n  %-26s %s\n", "hinting", hint_mode(fpr));
	if (fpr)
		printf("  %-26s on: a virtio balloon hands free memory to the host; huge-page faults after idle pay host faults (docs/hinting.md)\n",
		       "free page reporting");
	printf("strategy per allocator:\n");
	for (size_t i = 0; i < sizeof(allocators) / sizeof(*allocators); i++) {
		const char *why;
		enum pr_strategy s = pr_strategy_for(allocators[i].a, &why);

		printf("  %-9s %-15s %s\n", allocators[i].name,
		       pr_strategy_name(s), why);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "probe"))
		return cmd_probe(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sweep"))
		return pr_cmd_sweep(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--version")) {
		printf("ptreclaim %s\n", PTRECLAIM_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "ptreclaim: unknown command %s\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
