/* SPDX-License-Identifier: MIT */
/*
 * config.c - PTRECLAIM_CONF="key:value,key:value", in the manner of
 * jemalloc's MALLOC_CONF.  A bad pair is reported in one line naming the
 * key and what it accepts; the default stays and the program runs on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

struct pr_conf pr_conf;

#define PR_LEDGER_MIN (1UL << 20)
#define PR_LEDGER_MAX (1UL << 36)

void pr_conf_defaults(struct pr_conf *conf)
{
	conf->stats = false;
	conf->profile = false;
	conf->ledger_max = 64UL << 20;
	conf->profile_top = 10;
	conf->jemalloc = true;
	conf->fence = true;
	conf->fence_rate = 2000;
	conf->fence_batch = 16;
	conf->fence_delay_ms = 500;
	conf->hint = PR_HINT_AUTO;
	conf->hint_align = true;
	conf->hint_min = 8UL << 20;
	conf->hint_all = false;
	conf->hint_split = true;
	conf->advice = true;
	conf->advice_rate = 1000;
	conf->advice_delay_ms = 500;
}

static const char *const hint_modes[] = { "off", "auto", "on", "always" };

const char *pr_hint_mode_name(int mode)
{
	return mode >= 0 && mode < 4 ? hint_modes[mode] : "?";
}

static bool parse_bool(const char *v, size_t n, bool *out)
{
	if ((n == 1 && *v == '1') || (n == 4 && !strncmp(v, "true", 4))) {
		*out = true;
		return true;
	}
	if ((n == 1 && *v == '0') || (n == 5 && !strncmp(v, "false", 5))) {
		*out = false;
		return true;
	}
	return false;
}

/* A byte count with an optional K, M or G suffix. */
static bool parse_size(const char *v, size_t n, size_t *out)
{
	unsigned long long x = 0;
	size_t i = 0;
	unsigned shift = 0;

	for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
		if (x > (1ULL << 50))
			return false;
		x = x * 10 + (unsigned)(v[i] - '0');
	}
	if (i == 0)
		return false;
	if (i + 1 == n) {
		const char *units = "KMG";
		const char *u = strchr(units, v[i] & ~0x20);

		if (!v[i] || !u || !*u)
			return false;
		shift = 10 * (unsigned)(u - units + 1);
		if (x > (~0ULL >> shift))
			return false;
	} else if (i != n) {
		return false;
	}
	*out = (size_t)(x << shift);
	return true;
}

static bool parse_uint(const char *v, size_t n, unsigned lo, unsigned hi,
		       unsigned *out)
{
	size_t sz;

	if (!parse_size(v, n, &sz) || (v[n - 1] < '0' || v[n - 1] > '9') ||
	    sz < lo || sz > hi)
		return false;
	*out = (unsigned)sz;
	return true;
}

static void complain(pr_warn_fn warn, const char *key, size_t klen,
		     const char *what)
{
	char line[256];

	snprintf(line, sizeof(line), "ptreclaim: PTRECLAIM_CONF: %.*s: %s\n",
		 (int)(klen > 64 ? 64 : klen), key, what);
	warn(line);
}

static int apply(const char *k, size_t kn, const char *v, size_t vn,
		 struct pr_conf *conf, pr_warn_fn warn)
{
#define KEY(name) (kn == sizeof(name) - 1 && !strncmp(k, name, kn))
	if (KEY("stats")) {
		if (parse_bool(v, vn, &conf->stats))
			return 0;
		complain(warn, k, kn, "expected 0, 1, true or false; using 0");
	} else if (KEY("profile")) {
		if (parse_bool(v, vn, &conf->profile))
			return 0;
		complain(warn, k, kn, "expected 0, 1, true or false; using 0");
	} else if (KEY("ledger_max")) {
		size_t sz;

		if (parse_size(v, vn, &sz) && sz >= PR_LEDGER_MIN &&
		    sz <= PR_LEDGER_MAX) {
			conf->ledger_max = sz;
			return 0;
		}
		complain(warn, k, kn,
			 "expected a size from 1M to 64G (suffix K, M or G); using 64M");
	} else if (KEY("profile_top")) {
		if (parse_uint(v, vn, 1, 1000, &conf->profile_top))
			return 0;
		complain(warn, k, kn, "expected a number from 1 to 1000; using 10");
	} else if (KEY("jemalloc")) {
		if (vn == 4 && !strncmp(v, "auto", 4)) {
			conf->jemalloc = true;
			return 0;
		}
		if (vn == 3 && !strncmp(v, "off", 3)) {
			conf->jemalloc = false;
			return 0;
		}
		complain(warn, k, kn, "expected auto or off; using auto");
	} else if (KEY("fence")) {
		if ((vn == 4 && !strncmp(v, "auto", 4)) ||
		    (vn == 3 && !strncmp(v, "off", 3))) {
			conf->fence = vn == 4;
			return 0;
		}
		complain(warn, k, kn, "expected auto or off; using auto");
	} else if (KEY("fence_rate")) {
		if (parse_uint(v, vn, 1, 1000000, &conf->fence_rate))
			return 0;
		complain(warn, k, kn,
			 "expected windows per second from 1 to 1000000; using 2000");
	} else if (KEY("fence_batch")) {
		if (parse_uint(v, vn, 1, 512, &conf->fence_batch))
			return 0;
		complain(warn, k, kn,
			 "expected 2 MiB regions per window from 1 to 512; using 16");
	} else if (KEY("fence_delay_ms")) {
		if (parse_uint(v, vn, 0, 60000, &conf->fence_delay_ms))
			return 0;
		complain(warn, k, kn,
			 "expected milliseconds from 0 to 60000; using 500");
	} else if (KEY("hint")) {
		for (int m = 0; m < 4; m++)
			if (vn == strlen(hint_modes[m]) &&
			    !strncmp(v, hint_modes[m], vn)) {
				conf->hint = m;
				return 0;
			}
		complain(warn, k, kn, "expected off, auto, on or always; using auto");
	} else if (KEY("hint_min")) {
		size_t sz;

		if (parse_size(v, vn, &sz) && sz >= PR_PMD_SIZE &&
		    sz <= PR_LEDGER_MAX) {
			conf->hint_min = sz;
			return 0;
		}
		complain(warn, k, kn,
			 "expected a size from 2M to 64G (suffix K, M or G); using 8M");
	} else if (KEY("hint_scope")) {
		if ((vn == 9 && !strncmp(v, "allocator", 9)) ||
		    (vn == 3 && !strncmp(v, "all", 3))) {
			conf->hint_all = vn == 3;
			return 0;
		}
		complain(warn, k, kn, "expected allocator or all; using allocator");
	} else if (KEY("hint_align")) {
		if (parse_bool(v, vn, &conf->hint_align))
			return 0;
		complain(warn, k, kn, "expected 0, 1, true or false; using 1");
	} else if (KEY("hint_split")) {
		if (parse_bool(v, vn, &conf->hint_split))
			return 0;
		complain(warn, k, kn, "expected 0, 1, true or false; using 1");
	} else if (KEY("advice")) {
		if ((vn == 4 && !strncmp(v, "auto", 4)) ||
		    (vn == 3 && !strncmp(v, "off", 3))) {
			conf->advice = vn == 4;
			return 0;
		}
		complain(warn, k, kn, "expected auto or off; using auto");
	} else if (KEY("advice_rate")) {
		if (parse_uint(v, vn, 1, 1000000, &conf->advice_rate))
			return 0;
		complain(warn, k, kn,
			 "expected calls per second from 1 to 1000000; using 1000");
	} else if (KEY("advice_delay_ms")) {
		if (parse_uint(v, vn, 0, 60000, &conf->advice_delay_ms))
			return 0;
		complain(warn, k, kn,
			 "expected milliseconds from 0 to 60000; using 500");
	} else {
		complain(warn, k, kn,
			 "unknown key; accepted: stats, profile, profile_top, ledger_max, jemalloc, fence, fence_rate, fence_batch, fence_delay_ms, advice, advice_rate, advice_delay_ms, hint, hint_min, hint_scope, hint_align, hint_split");
	}
	return -1;
#undef KEY
}

/* Returns the number of pairs rejected. */
int pr_conf_parse(const char *text, struct pr_conf *conf, pr_warn_fn warn)
{
	int bad = 0;

	while (text && *text) {
		const char *end = strchr(text, ',');
		const char *colon;
		size_t n = end ? (size_t)(end - text) : strlen(text);

		colon = memchr(text, ':', n);
		if (n == 0) {
			/* Tolerate a stray comma. */
		} else if (!colon || colon == text || colon + 1 == text + n) {
			complain(warn, text, colon ? (size_t)(colon - text) : n,
				 "expected key:value");
			bad++;
		} else {
			bad += apply(text, (size_t)(colon - text), colon + 1,
				     (size_t)(text + n - colon - 1), conf,
				     warn) ? 1 : 0;
		}
		text = end ? end + 1 : NULL;
	}
	return bad;
}
