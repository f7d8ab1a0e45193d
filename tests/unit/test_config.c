/* SPDX-License-Identifier: MIT */
/* Unit test: the PTRECLAIM_CONF parser and its table of keys. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "internal.h"

static char last[512];
static int warnings;

static void warn(const char *msg)
{
	strncpy(last, msg, sizeof(last) - 1);
	warnings++;
}

static struct pr_conf parse(const char *text, int *bad)
{
	struct pr_conf c;

	pr_conf_defaults(&c);
	last[0] = '\0';
	warnings = 0;
	*bad = pr_conf_parse(text, &c, warn);
	return c;
}

/* Set key k to each of its choices, or its min and max: every one is
 * accepted and changes only bytes of k's field; some change one.
 * Returns how many bytes changed in all. */
static size_t set_others(const struct pr_conf_key *k, const struct pr_conf *d)
{
	const unsigned char *a = (const void *)d;
	char text[128];
	size_t changed = 0;

	for (int t = 0; k->choices ? k->choices[t].name != NULL : t < 2; t++) {
		struct pr_conf c;
		const unsigned char *b = (const void *)&c;

		memcpy(&c, d, sizeof(c));	/* padding too */
		if (k->type == PR_CONF_PATH)
			snprintf(text, sizeof(text), "%s:/%s", k->name,
				 t ? "var/log/x-%p.%%" : "x");
		else if (k->choices)
			snprintf(text, sizeof(text), "%s:%s", k->name,
				 k->choices[t].name);
		else
			snprintf(text, sizeof(text), "%s:%llu", k->name,
				 t ? k->max : k->min);
		CHECK(pr_conf_parse(text, &c, warn) == 0);
		for (size_t j = 0; j < sizeof(c); j++)
			if (a[j] != b[j]) {
				changed++;
				CHECK(j >= k->offset && j < k->offset + k->size);
			}
	}
	return changed;
}

/* Each key: its default parses and changes nothing; another value changes
 * its field and no other bytes; a bad value names it, what it accepts and
 * its default. */
static void check_keys(void)
{
	size_t n;
	const struct pr_conf_key *keys = pr_conf_keys(&n);
	struct pr_conf d, c;
	char text[128], want[128];
	int bad;

	CHECK(n == 20);
	memset(&d, 0, sizeof(d));
	pr_conf_defaults(&d);
	for (size_t i = 0; i < n; i++) {
		const struct pr_conf_key *k = &keys[i];
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(keys[j].name, k->name));
		CHECK(k->offset + k->size <= sizeof(d) && k->meaning[0]);
		memcpy(&c, &d, sizeof(c));
		/* A path's default is none, which cannot be written. */
		snprintf(text, sizeof(text), "%s:%s", k->name, k->dflt);
		bad = pr_conf_parse(text, &c, warn);
		CHECK(bad == (k->type == PR_CONF_PATH) &&
		      !memcmp(&c, &d, sizeof(c)));

		CHECK(set_others(k, &d) > 0);

		snprintf(text, sizeof(text), "%s:x9", k->name);
		warnings = 0;
		bad = pr_conf_parse(text, &c, warn);
		snprintf(want, sizeof(want),
			 "ptreclaim: PTRECLAIM_CONF: %s: expected ", k->name);
		CHECK(bad == 1 && warnings == 1 && !memcmp(&c, &d, sizeof(c)));
		CHECK(!strncmp(last, want, strlen(want)));
		snprintf(want, sizeof(want), "; using %s\n",
			 k->dflt[0] ? k->dflt : "none");
		CHECK(strlen(last) > strlen(want) &&
		      !strcmp(last + strlen(last) - strlen(want), want));
	}
	/* The unknown-key message lists them all, uncut. */
	parse("nosuch:1", &bad);
	for (size_t i = 0; i < n; i++) {
		snprintf(want, sizeof(want), " %s%s", keys[i].name,
			 i + 1 < n ? "," : "\n");
		CHECK(strstr(last, want));
	}
}

/* The messages word by word, and the README table's shape. */
static void check_text(void)
{
	static const char *const msgs[][2] = {
		{ "stats:2", "stats: expected 0, 1, true or false; using 0" },
		{ "hint:x", "hint: expected off, auto, on or always; using auto" },
		{ "hint_scope:x",
		  "hint_scope: expected allocator or all; using allocator" },
		{ "fence:x", "fence: expected auto, on or off; using auto" },
		{ "fence_scope:x", "fence_scope: expected allocator or all; using allocator" },
		{ "fence_rate:0", "fence_rate: expected windows per second from 1 to 1000000; using 2000" },
		{ "fence_batch:0", "fence_batch: expected 2 MiB regions per window from 1 to 512; using 16" },
		{ "profile_top:0", "profile_top: expected a number from 1 to 1000; using 10" },
		{ "ledger_max:1K", "ledger_max: expected a size from 1M to 64G (suffix K, M or G); using 64M" },
		{ "hint_min:1M", "hint_min: expected a size from 2M to 64G (suffix K, M or G); using 8M" },
	};
	char want[256], md[8192], small[40];
	size_t n, len, lines = 0;
	int bad;

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		parse(msgs[i][0], &bad);
		snprintf(want, sizeof(want), "ptreclaim: PTRECLAIM_CONF: %s\n",
			 msgs[i][1]);
		if (strcmp(last, want))
			fprintf(stderr, "got:  %swant: %s", last, want);
		CHECK(bad == 1 && !strcmp(last, want));
	}
	pr_conf_keys(&n);
	len = pr_conf_markdown(md, sizeof(md));
	CHECK(len == strlen(md) && len < sizeof(md));
	for (size_t i = 0; i < len; i++)
		lines += md[i] == '\n';
	CHECK(lines == n + 2 && md[len - 1] == '\n');
	CHECK(!strncmp(md, "| key | values | default | meaning |\n|---|", 42));
	CHECK(strstr(md, "\n| `fence_batch` | 1–512 | `16` | 2 MiB regions per window at most |\n"));
	CHECK(strstr(md, "\n| `ledger_max` | size, `K`/`M`/`G` suffix, 1M–64G | `64M` | "));
	CHECK(pr_conf_markdown(small, sizeof(small)) == len &&
	      strlen(small) == sizeof(small) - 1 && !strncmp(small, md, 39));
	CHECK(pr_conf_markdown(NULL, 0) == len);
}

/* Every default, as it was before the table. */
static void check_defaults(void)
{
	int bad;
	struct pr_conf c = parse(NULL, &bad);

	CHECK(!c.stats && !c.profile && c.profile_top == 10 &&
	      c.ledger_max == 64UL << 20 && c.jemalloc);
	CHECK(c.fence == PR_FENCE_AUTO && !c.fence_all && c.fence_rate == 2000 && c.fence_batch == 16 &&
	      c.fence_delay_ms == 500);
	CHECK(c.hint == PR_HINT_AUTO && c.hint_align && c.hint_min == 8UL << 20 &&
	      !c.hint_all && c.hint_split);
	CHECK(c.advice && c.advice_rate == 1000 && c.advice_delay_ms == 500);
	CHECK(!strcmp(pr_hint_mode_name(PR_HINT_ALWAYS), "always") &&
	      !strcmp(pr_hint_mode_name(PR_HINT_OFF), "off") &&
	      !strcmp(pr_hint_mode_name(7), "?"));
}

/* Range ends, suffixes, near misses. */
static void check_edges(void)
{
	struct pr_conf c;
	int bad;

	c = parse("ledger_max:64G", &bad);
	CHECK(bad == 0 && c.ledger_max == 64UL << 30);
	c = parse("ledger_max:68719476737", &bad);	/* 64G + 1 */
	CHECK(bad == 1 && c.ledger_max == 64UL << 20);
	c = parse("ledger_max:2m,hint_min:2097152", &bad);
	CHECK(bad == 0 && c.ledger_max == 2UL << 20 && c.hint_min == 2UL << 20);
	c = parse("ledger_max:M,ledger_max:4MB,ledger_max:-1", &bad);
	CHECK(bad == 3 && c.ledger_max == 64UL << 20);
	c = parse("hint_align:false,hint_split:true", &bad);
	CHECK(bad == 0 && !c.hint_align && c.hint_split);
	c = parse("stats:1:1,stats:tru,stats:truee", &bad);
	CHECK(bad == 3 && !c.stats);
}

/* stats_file: an absolute path whose % are %p or %%; its expansion. */
static void check_paths(void)
{
	char path[PR_CONF_PATH_LEN + 1], buf[64];
	struct pr_conf c;
	int bad;

	c = parse("stats_file:/var/log/pr-%p.%%.log", &bad);
	CHECK(bad == 0 && !strcmp(c.stats_file, "/var/log/pr-%p.%%.log"));
	c = parse("stats_file:/a:b", &bad);	/* only the first ':' splits */
	CHECK(bad == 0 && !strcmp(c.stats_file, "/a:b"));
	c = parse("stats_file:rel/x,stats_file:/a%d,stats_file:/a%", &bad);
	CHECK(bad == 3 && c.stats_file[0] == '\0');
	CHECK(!strcmp(last, "ptreclaim: PTRECLAIM_CONF: stats_file: expected an absolute path, at most 255 bytes, %p for the pid, %% for %; using none\n"));
	c = parse("stats_file:", &bad);
	CHECK(bad == 1 && strstr(last, "key:value") && !c.stats_file[0]);
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[PR_CONF_PATH_LEN - 1] = '\0';		/* 255 bytes: fits */
	{
		char text[PR_CONF_PATH_LEN + 32];

		snprintf(text, sizeof(text), "stats_file:%s", path);
		c = parse(text, &bad);
		CHECK(bad == 0 && strlen(c.stats_file) == PR_CONF_PATH_LEN - 1);
		snprintf(text, sizeof(text), "stats_file:%sa", path);
		c = parse(text, &bad);
		CHECK(bad == 1 && !c.stats_file[0]);
	}
	CHECK(pr_report_path("/x/%p-%%-%p", 42, buf, sizeof(buf)) == 10 &&
	      !strcmp(buf, "/x/42-%-42"));
	CHECK(pr_report_path("/tmp/report-%p", 123456, buf, 8) == 18 &&
	      !strcmp(buf, "/tmp/re"));
}

/* The file's text: comments, line ends and blanks around pairs. */
static void check_file_text(void)
{
	char out[256];
	struct pr_conf c;
	int bad;

	pr_conf_file_text("# ptreclaim\n stats:1 ,profile:1 # on\n\n"
			  "\tledger_max:2M\r\nhint:off", out);
	CHECK(!strcmp(out, ",stats:1,profile:1,,ledger_max:2M,hint:off,"));
	c = parse(out, &bad);
	CHECK(bad == 0 && c.stats && c.profile && c.ledger_max == 2UL << 20 &&
	      c.hint == PR_HINT_OFF);
	pr_conf_file_text("", out);
	CHECK(!strcmp(out, ""));
	pr_conf_file_text("#only\n#comments", out);
	CHECK(!strcmp(out, ",,"));
	pr_conf_defaults(&c);
	bad = pr_conf_parse_from("/etc/x.conf", "bogus:1", &c, warn);
	CHECK(bad == 1 && !strncmp(last, "ptreclaim: /etc/x.conf: bogus: unknown key", 42));
}

int main(void)
{
	struct pr_conf c;
	int bad;

	c = parse(NULL, &bad);
	CHECK(bad == 0 && !c.stats && !c.profile);
	CHECK(c.ledger_max == 64UL << 20 && c.profile_top == 10);
	check_defaults();
	check_keys();
	check_text();

	c = parse("stats:1,profile:true", &bad);
	CHECK(bad == 0 && c.stats && c.profile && warnings == 0);

	c = parse("stats:0,profile:false,ledger_max:2M,profile_top:25", &bad);
	CHECK(bad == 0 && !c.stats && !c.profile);
	CHECK(c.ledger_max == 2UL << 20 && c.profile_top == 25);

	c = parse("ledger_max:1g", &bad);
	CHECK(bad == 0 && c.ledger_max == 1UL << 30);
	c = parse("ledger_max:3145728", &bad);
	CHECK(bad == 0 && c.ledger_max == 3UL << 20);

	/* Bad values keep the default and name the key. */
	c = parse("stats:yes", &bad);
	CHECK(bad == 1 && !c.stats && strstr(last, "stats:"));
	c = parse("ledger_max:12X", &bad);
	CHECK(bad == 1 && c.ledger_max == 64UL << 20 &&
	      strstr(last, "ledger_max"));
	c = parse("ledger_max:100K", &bad);	/* below the 1M minimum */
	CHECK(bad == 1 && c.ledger_max == 64UL << 20);
	c = parse("ledger_max:99999999999999999999G", &bad);
	CHECK(bad == 1 && c.ledger_max == 64UL << 20);
	c = parse("ledger_max:1 ", &bad);
	CHECK(bad == 1);
	check_edges();
	check_paths();
	check_file_text();
	c = parse("profile_top:0", &bad);
	CHECK(bad == 1 && c.profile_top == 10);
	c = parse("profile_top:5K", &bad);
	CHECK(bad == 1 && c.profile_top == 10);

	/* Unknown keys and malformed pairs: one line each, the rest applies. */
	c = parse("bogus:1,stats:1", &bad);
	CHECK(bad == 1 && c.stats && strstr(last, "bogus") &&
	      strstr(last, "unknown key"));
	c = parse("stats,profile:1", &bad);
	CHECK(bad == 1 && c.profile && strstr(last, "key:value"));
	c = parse(":1,stats:", &bad);
	CHECK(bad == 2 && !c.stats && warnings == 2);
	c = parse(",,stats:1,", &bad);
	CHECK(bad == 0 && c.stats);
	/* The report's format: text (default) or json. */
	c = parse(NULL, &bad);
	CHECK(!c.stats_json);
	c = parse("stats_format:json", &bad);
	CHECK(bad == 0 && c.stats_json);
	c = parse("stats_format:xml", &bad);
	CHECK(bad == 1 && !c.stats_json && strstr(last, "text or json"));

	/* The jemalloc adapter: auto (default) or off. */
	c = parse(NULL, &bad);
	CHECK(c.jemalloc);
	c = parse("jemalloc:off", &bad);
	CHECK(bad == 0 && !c.jemalloc);
	c = parse("jemalloc:off,jemalloc:auto", &bad);
	CHECK(bad == 0 && c.jemalloc);
	c = parse("jemalloc:no", &bad);
	CHECK(bad == 1 && c.jemalloc && strstr(last, "jemalloc") &&
	      strstr(last, "auto or off"));
	c = parse("jemalloc:offf", &bad);
	CHECK(bad == 1 && c.jemalloc);
	c = parse("nope:1", &bad);
	CHECK(bad == 1 && strstr(last, "jemalloc"));
	/* Huge-region hinting: auto by default (docs/hinting.md says why). */
	c = parse(NULL, &bad);
	CHECK(c.hint == PR_HINT_AUTO && c.hint_align && !c.hint_all &&
	      c.hint_split && c.hint_min == 8UL << 20);
	c = parse("hint:off", &bad);
	CHECK(bad == 0 && c.hint == PR_HINT_OFF);
	c = parse("hint:auto,hint_min:4M,hint_align:0", &bad);
	CHECK(bad == 0 && c.hint == PR_HINT_AUTO && !c.hint_align &&
	      c.hint_min == 4UL << 20);
	c = parse("hint:always", &bad);
	CHECK(bad == 0 && c.hint == PR_HINT_ALWAYS);
	c = parse("hint:on", &bad);
	CHECK(bad == 0 && c.hint == PR_HINT_ON);
	c = parse("hint:yes", &bad);
	CHECK(bad == 1 && c.hint == PR_HINT_AUTO && strstr(last, "hint:") &&
	      strstr(last, "off, auto, on or always") && warnings == 1);
	c = parse("hint:autox", &bad);
	CHECK(bad == 1 && c.hint == PR_HINT_AUTO);
	c = parse("hint_min:1M", &bad);		/* below one PMD */
	CHECK(bad == 1 && c.hint_min == 8UL << 20 && strstr(last, "hint_min"));
	c = parse("hint_scope:all", &bad);
	CHECK(bad == 0 && c.hint_all);
	c = parse("hint_scope:mine", &bad);
	CHECK(bad == 1 && !c.hint_all && strstr(last, "allocator or all"));
	c = parse("hint_align:maybe", &bad);
	CHECK(bad == 1 && c.hint_align && strstr(last, "hint_align"));
	c = parse("hint_split:0", &bad);
	CHECK(bad == 0 && !c.hint_split);
	c = parse("hint_split:2", &bad);
	CHECK(bad == 1 && c.hint_split && strstr(last, "hint_split"));


	/* The kernel's advice: auto (default) or off; its call rate. */
	c = parse("", &bad);
	CHECK(c.advice && c.advice_rate == 1000 && c.advice_delay_ms == 500);
	c = parse("advice:off", &bad);
	CHECK(bad == 0 && !c.advice);
	c = parse("advice:off,advice:auto,advice_rate:50", &bad);
	CHECK(bad == 0 && c.advice && c.advice_rate == 50);
	c = parse("advice:110", &bad);
	CHECK(bad == 1 && c.advice && strstr(last, "advice:") &&
	      strstr(last, "auto or off"));
	c = parse("advice_rate:0", &bad);
	CHECK(bad == 1 && c.advice_rate == 1000 && strstr(last, "advice_rate"));
	c = parse("advice_rate:2000000", &bad);
	CHECK(bad == 1 && c.advice_rate == 1000);
	c = parse("advice_delay_ms:0", &bad);
	CHECK(bad == 0 && c.advice_delay_ms == 0);
	c = parse("advice_delay_ms:60001", &bad);
	CHECK(bad == 1 && c.advice_delay_ms == 500 &&
	      strstr(last, "advice_delay_ms"));
	CHECK_DONE();
}
