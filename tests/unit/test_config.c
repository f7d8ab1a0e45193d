/* SPDX-License-Identifier: MIT */
/* Unit test: the PTRECLAIM_CONF parser. */
#include <string.h>

#include "check.h"
#include "internal.h"

static char last[256];
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

int main(void)
{
	struct pr_conf c;
	int bad;

	c = parse(NULL, &bad);
	CHECK(bad == 0 && !c.stats && !c.profile);
	CHECK(c.ledger_max == 64UL << 20 && c.profile_top == 10);

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
