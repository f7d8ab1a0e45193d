/* SPDX-License-Identifier: MIT */
/*
 * probe.c - `ptreclaim probe [--json]`: what this kernel and process can
 * do, and the strategy the shim would run here per allocator.  The same
 * probes and the same selection (shim/strategy/policy.c) as the library's
 * start-up, so the answer is the one a real run reports as mode=.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "commands.h"
#include "config.h"
#include "platform.h"
#include "strategy.h"

/* The allocators a user asks about. */
static const enum pr_alloc allocators[] = {
	PR_ALLOC_JEMALLOC, PR_ALLOC_TCMALLOC, PR_ALLOC_MIMALLOC, PR_ALLOC_GLIBC,
};
#define NR_ALLOCATORS (sizeof(allocators) / sizeof(*allocators))

struct probe {
	struct utsname u;
	struct pr_thp thp;
	bool fpr;		/* free page reporting */
	enum pr_strategy_id strategy[NR_ALLOCATORS];
	const char *why[NR_ALLOCATORS];
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


/* An advice's number from sysfs, or null where the file is absent. */
static void json_advice(const char *key, int advice)
{
	if (advice > 0)
		printf(",\"%s\":%d", key, advice);
	else
		printf(",\"%s\":null", key);
}

/* One row for an advice: its number and file, or absent (and why). */
static void table_advice(const char *name, const char *file, int advice,
			 const char *absent_note)
{
	if (advice > 0)
		printf("  %-26s advice %d (/sys/kernel/mm/reclaim_pt/%s)\n",
		       name, advice, file);
	else
		printf("  %-26s absent (no /sys/kernel/mm/reclaim_pt/%s)%s\n",
		       name, file, absent_note);
}
static void json_uffd(void)
{
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
}

static void json_thp(const struct probe *p)
{
	printf(",\"thp\":{\"enabled\":");
	json_str(p->thp.enabled);
	printf(",\"defrag\":");
	json_str(p->thp.defrag);
	printf(",\"shmem_enabled\":");
	json_str(p->thp.shmem_enabled);
	printf(",\"max_ptes_none\":%ld,\"mthp\":{", p->thp.max_ptes_none);
	for (unsigned i = 0; i < p->thp.nr_mthp; i++) {
		printf("%s\"%ukB\":", i ? "," : "", p->thp.mthp[i].kb);
		json_str(p->thp.mthp[i].enabled);
	}
	printf("},\"free_page_reporting\":%s}", p->fpr ? "true" : "false");
}

static void print_json(const struct probe *p)
{
	printf("{\"kernel\":");
	json_str(p->u.release);
	printf(",\"machine\":");
	json_str(p->u.machine);
	printf(",\"page_size\":%ld,\"pmd_size\":%ld", pr_caps.page_size,
	       pr_caps.pmd_size);
	printf(",\"pt_reclaim_on_dontneed\":%s",
	       pr_caps.pt_reclaim_on_dontneed ? "true" : "false");
	json_advice("reclaim_pt_advice", pr_caps.advice);
	json_advice("reclaim_pt_advice_lazyfree", pr_caps.advice_lazyfree);
	json_uffd();
	json_thp(p);
	printf(",\"hint\":");
	json_str(pr_hint_mode_name(pr_conf.hint));
	printf(",\"strategy\":{");
	for (size_t i = 0; i < NR_ALLOCATORS; i++) {
		printf("%s\"%s\":{\"name\":", i ? "," : "",
		       pr_alloc_name(allocators[i]));
		json_str(pr_strategy_name(p->strategy[i]));
		printf(",\"why\":");
		json_str(p->why[i]);
		printf("}");
	}
	printf("}}\n");
}

static void table_uffd(void)
{
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
}

static void table_thp(const struct probe *p)
{
	printf("  %-26s enabled=%s defrag=%s shmem=%s max_ptes_none=%ld\n",
	       "THP", p->thp.enabled, p->thp.defrag, p->thp.shmem_enabled,
	       p->thp.max_ptes_none);
	printf("  %-26s", "mTHP");
	if (!p->thp.nr_mthp)
		printf(" none");
	for (unsigned i = 0; i < p->thp.nr_mthp; i++)
		printf(" %uK=%s", p->thp.mthp[i].kb, p->thp.mthp[i].enabled);
	printf("\n  %-26s %s\n", "hinting", hint_mode(p->fpr));
	if (p->fpr)
		printf("  %-26s on: a virtio balloon hands free memory to the host; huge-page faults after idle pay host faults (docs/hinting.md)\n",
		       "free page reporting");
}

static void print_table(const struct probe *p)
{
	printf("ptreclaim probe: kernel %s %s\n", p->u.release, p->u.machine);
	printf("  %-26s %ld bytes\n", "page size", pr_caps.page_size);
	printf("  %-26s %ld KiB (one PTE table maps it)\n", "PMD size",
	       pr_caps.pmd_size >> 10);
	printf("  %-26s %s\n", "whole-PMD MADV_DONTNEED",
	       pr_caps.pt_reclaim_on_dontneed ?
	       "frees the PTE table (tried; CONFIG_PT_RECLAIM)" :
	       "keeps the PTE table (tried)");
	table_advice("MADV_RECLAIM_PT", "advice", pr_caps.advice, "");
	table_advice("MADV_RECLAIM_PT_LAZYFREE", "advice_lazyfree",
		     pr_caps.advice_lazyfree, pr_caps.advice > 0 ?
		     ": MADV_FREE regions wait for memory pressure" : "");
	table_uffd();
	table_thp(p);
	printf("strategy per allocator:\n");
	for (size_t i = 0; i < NR_ALLOCATORS; i++)
		printf("  %-9s %-15s %s\n", pr_alloc_name(allocators[i]),
		       pr_strategy_name(p->strategy[i]), p->why[i]);
}

int pr_cmd_probe(int argc, char **argv)
{
	struct probe p;
	int json = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json")) {
			fprintf(stderr, "ptreclaim probe: unknown option %s\n",
				argv[i]);
			return pr_cli_usage(stderr);
		}
		json = 1;
	}
	memset(&p, 0, sizeof(p));
	pr_conf_load(cli_warn);	/* what the shim would take */
	pr_caps_probe();
	pr_sysfs_thp(&p.thp);
	p.fpr = pr_sysfs_free_page_reporting();
	if (uname(&p.u))
		memset(&p.u, 0, sizeof(p.u));
	for (size_t i = 0; i < NR_ALLOCATORS; i++)
		p.strategy[i] = pr_strategy_select(&pr_caps, &pr_conf,
						   allocators[i], PR_STRAT_ADVICE,
						   &p.why[i]);
	if (json)
		print_json(&p);
	else
		print_table(&p);
	return 0;
}
