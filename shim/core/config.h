/* SPDX-License-Identifier: MIT */
/*
 * config.h - PTRECLAIM_CONF: the settings, and the one table of keys that
 * parses them, words their error messages and writes README.md's table.
 * Self-contained: needs nothing of the shim's other headers.
 */
#ifndef PTRECLAIM_CONFIG_H
#define PTRECLAIM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#ifndef pr_hidden
#define pr_hidden __attribute__((visibility("hidden")))
#endif

/* stats_file's pattern, NUL included; longer values are refused. */
#define PR_CONF_PATH_LEN 256

struct pr_conf {
	bool stats;		/* print the summary at exit */
	/* the summary's file ("": stderr); %p is the pid (report_file.c) */
	char stats_file[PR_CONF_PATH_LEN];
	bool profile;		/* record purge call sites */
	size_t ledger_max;	/* bytes of ledger memory at most */
	unsigned profile_top;	/* call sites in the report */
	bool jemalloc;		/* attach the jemalloc adapter at start */
	/* the userfaultfd fence (reclaim_fence.c) */
	int fence;		/* PR_FENCE_OFF, _AUTO or _ON */
	bool fence_all;		/* fence_scope:all - not only the allocator's */
	unsigned fence_rate;	/* fence windows per second at most */
	unsigned fence_batch;	/* 2 MiB regions per window at most */
	unsigned fence_delay_ms; /* a region must stay complete this long */
	/* huge-region hinting (hint.c) */
	int hint;		/* PR_HINT_OFF, _AUTO, _ON or _ALWAYS */
	bool hint_align;	/* place isolated large mappings on 2 MiB */
	size_t hint_min;	/* smallest mapping hinted */
	bool hint_all;		/* hint_scope:all - not only the allocator's */
	bool hint_split;	/* split huge folios a purge left partly mapped */
	/* the kernel's MADV_RECLAIM_PT (reclaim_advice.c) */
	bool advice;		/* advice:auto (true) or advice:off */
	unsigned advice_rate;	/* advice calls per second at most */
	unsigned advice_delay_ms; /* a region must stay unchanged this long */
	bool stats_json;	/* stats_format:json - the report as JSON */
};
/* auto: the policy where it pays; on: the policy anywhere; always: hint,
 * never stop (for comparison). */
/* auto: off until its guarantee has no known hole (docs/fence.md). */
enum { PR_FENCE_OFF, PR_FENCE_AUTO, PR_FENCE_ON };
enum { PR_HINT_OFF, PR_HINT_AUTO, PR_HINT_ON, PR_HINT_ALWAYS };
pr_hidden const char *pr_hint_mode_name(int mode);

typedef void (*pr_warn_fn)(const char *msg);
/* Parse "key:value,..." into *conf (which holds the defaults on entry);
 * returns the number of pairs rejected, each reported through warn. */
pr_hidden int pr_conf_parse(const char *text, struct pr_conf *conf,
			    pr_warn_fn warn);
/* The same, with source naming where text came from in the complaints
 * ("PTRECLAIM_CONF", a file's path). */
pr_hidden int pr_conf_parse_from(const char *source, const char *text,
				 struct pr_conf *conf, pr_warn_fn warn);
/*
 * The configuration file's text as PTRECLAIM_CONF's: '#' starts a comment
 * that ends with its line, line ends separate pairs like commas, blanks
 * around a pair are dropped.  out must hold strlen(in) + 2 bytes.
 */
pr_hidden void pr_conf_file_text(const char *in, char *out);
/*
 * pr_conf: the defaults, then /etc/ptreclaim.conf, then PTRECLAIM_CONF
 * (the environment wins).  A secure-execution process (AT_SECURE) takes
 * neither.  No malloc, no stdio: the shim's constructor calls it.
 */
pr_hidden void pr_conf_load(pr_warn_fn warn);
#ifndef PR_CONF_FILE
#define PR_CONF_FILE "/etc/ptreclaim.conf"
#endif
/* The file read instead of PR_CONF_FILE, for tests (never under AT_SECURE). */
#define PR_CONF_FILE_ENV "PTRECLAIM_CONF_FILE"
/* Every field to its key's default (the table's text, parsed). */
pr_hidden void pr_conf_defaults(struct pr_conf *conf);
extern pr_hidden struct pr_conf pr_conf;

/* --- the table of keys --- */
enum pr_conf_type {
	PR_CONF_BOOL,	/* 0, 1, true, false */
	PR_CONF_UINT,	/* decimal, min..max */
	PR_CONF_SIZE,	/* bytes, K/M/G suffix, min..max */
	PR_CONF_ENUM,	/* one of choices */
	PR_CONF_PATH,	/* an absolute path; % only as %p or %% */
};
struct pr_conf_choice {
	const char *name;
	int value;		/* stored in the field */
};
struct pr_conf_key {
	const char *name;
	enum pr_conf_type type;
	size_t offset, size;	/* the field in struct pr_conf */
	unsigned long long min, max;		/* UINT, SIZE */
	const char *unit;	/* UINT: what the number counts, for errors */
	const struct pr_conf_choice *choices;	/* BOOL, ENUM; NULL-ended */
	const char *dflt;	/* the default, as a value would be written */
	const char *meaning;	/* one line, markdown */
};
pr_hidden const struct pr_conf_key *pr_conf_keys(size_t *n);
/*
 * README.md's configuration table, header to last row, each line ending in
 * '\n': written into buf (NUL-terminated, cut short if len is too small);
 * returns its full length, like snprintf.
 */
pr_hidden size_t pr_conf_markdown(char *buf, size_t len);

#endif /* PTRECLAIM_CONFIG_H */
