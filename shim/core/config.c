/* SPDX-License-Identifier: MIT */
/*
 * config.c - PTRECLAIM_CONF="key:value,key:value", in the manner of
 * jemalloc's MALLOC_CONF.  A bad pair is reported in one line naming the
 * key and what it accepts; the default stays and the program runs on.
 *
 * One table, keys[], says everything about a key: its type and range, the
 * field it sets, its default and its meaning.  The parser, the defaults,
 * the error messages and README.md's table (pr_conf_markdown, checked by
 * tests/unit/test_config_readme) all come from it.  No malloc, no stdio
 * streams: this runs in the shim's constructor.
 *
 * The same pairs can come from /etc/ptreclaim.conf (pr_conf_load), for
 * processes started by /etc/ld.so.preload, which no environment reaches.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "config.h"
#include "platform.h"

struct pr_conf pr_conf;

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static const struct pr_conf_choice bool_choices[] = {
	{ "0", 0 }, { "1", 1 }, { "true", 1 }, { "false", 0 }, { NULL, 0 }
};
static const struct pr_conf_choice auto_off[] = {
	{ "auto", 1 }, { "off", 0 }, { NULL, 0 }
};
static const struct pr_conf_choice hint_modes[] = {
	{ "off", PR_HINT_OFF }, { "auto", PR_HINT_AUTO }, { "on", PR_HINT_ON },
	{ "always", PR_HINT_ALWAYS }, { NULL, 0 }
};
static const struct pr_conf_choice scopes[] = {
	{ "allocator", 0 }, { "all", 1 }, { NULL, 0 }
};
static const struct pr_conf_choice stats_formats[] = {
	{ "text", 0 }, { "json", 1 }, { NULL, 0 }
};
static const struct pr_conf_choice fence_modes[] = {
	{ "auto", PR_FENCE_AUTO }, { "on", PR_FENCE_ON }, { "off", PR_FENCE_OFF },
	{ NULL, 0 }
};

/* The field f of struct pr_conf, which must be of type t (a compile error
 * otherwise: store() writes it by its size). */
#define FIELD(f, t)							\
	.offset = offsetof(struct pr_conf, f),				\
	.size = sizeof(((struct pr_conf *)0)->f) +			\
		0 * sizeof(char[__builtin_types_compatible_p(		\
			__typeof__(((struct pr_conf *)0)->f), t) ? 1 : -1])
#define BOOL(key, f, def, text)						\
	{ .name = key, .type = PR_CONF_BOOL, FIELD(f, bool),		\
	  .choices = bool_choices, .dflt = def, .meaning = text }
#define ENUM(key, f, t, list, def, text)				\
	{ .name = key, .type = PR_CONF_ENUM, FIELD(f, t),		\
	  .choices = list, .dflt = def, .meaning = text }
#define UINT(key, f, lo, hi, what, def, text)				\
	{ .name = key, .type = PR_CONF_UINT, FIELD(f, unsigned),	\
	  .min = lo, .max = hi, .unit = what, .dflt = def, .meaning = text }
#define SIZE(key, f, lo, hi, def, text)					\
	{ .name = key, .type = PR_CONF_SIZE, FIELD(f, size_t),		\
	  .min = lo, .max = hi, .dflt = def, .meaning = text }
#define PATH(key, f, text)						\
	{ .name = key, .type = PR_CONF_PATH,				\
	  FIELD(f, char[PR_CONF_PATH_LEN]), .dflt = "", .meaning = text }

/* In README.md's order, which is also the unknown-key message's. */
static const struct pr_conf_key keys[] = {
	BOOL("stats", stats, "0",
	     "print the summary at exit (on stderr, or into `stats_file`)"),
	PATH("stats_file", stats_file,
	     "write the summary at exit into this file instead of stderr (appended, created with mode 0600), and turn it on"),
	ENUM("stats_format", stats_json, bool, stats_formats, "text",
	     "`json`: the summary as one JSON object on one line (at exit, and from the API's report call)"),
	BOOL("profile", profile, "0",
	     "record purge call sites (glibc's `backtrace`) and list the top ones"),
	UINT("profile_top", profile_top, 1, 1000, "a number", "10",
	     "call sites listed"),
	SIZE("ledger_max", ledger_max, 1 * MiB, 64 * GiB, "64M",
	     "ledger memory at most (~110 bytes per 2 MiB region tracked); past it new regions go untracked and are counted"),
	ENUM("advice", advice, bool, auto_off, "auto",
	     "the patched kernel's `MADV_RECLAIM_PT` where it exists ([docs/advice.md](docs/advice.md))"),
	UINT("advice_rate", advice_rate, 1, 1000000, "calls per second",
	     "1000", "advice calls per second at most"),
	UINT("advice_delay_ms", advice_delay_ms, 0, 60000, "milliseconds",
	     "500",
	     "a region must stay unchanged this long before its table is offered"),
	ENUM("jemalloc", jemalloc, bool, auto_off, "auto",
	     "attach the jemalloc adapter at start ([docs/jemalloc-adapter.md](docs/jemalloc-adapter.md))"),
	ENUM("hint", hint, int, hint_modes, "auto",
	     "huge-region hinting ([docs/hinting.md](docs/hinting.md)); `auto` stays idle in a VM whose balloon reports free pages, `on` hints there too, `always` never stops (for comparison)"),
	/* From one PMD (2 MiB) up. */
	SIZE("hint_min", hint_min, 2 * MiB, 64 * GiB, "8M",
	     "smallest allocator mapping hinted"),
	ENUM("hint_scope", hint_all, bool, scopes, "allocator",
	     "`all`: every caller's large mappings, not only the allocator's"),
	BOOL("hint_align", hint_align, "1",
	     "move isolated large mappings to a 2 MiB boundary"),
	BOOL("hint_split", hint_split, "1",
	     "split a huge page that a `MADV_DONTNEED` cut into (`MADV_COLD` on one page next to it), so its unmapped and unwritten pages are freed"),
	ENUM("fence", fence, int, fence_modes, "auto",
	     "the userfaultfd fence ([docs/fence.md](docs/fence.md)): `on` runs it where it can run; `auto` keeps it off, since its guarantee has known holes"),
	ENUM("fence_scope", fence_all, bool, scopes, "allocator",
	     "`allocator`: only mappings the allocator made and the brk heap; `all`: every private anonymous mapping"),
	UINT("fence_delay_ms", fence_delay_ms, 0, 60000, "milliseconds", "500",
	     "a region must stay quiet this long before it is fenced"),
	UINT("fence_rate", fence_rate, 1, 1000000, "windows per second",
	     "2000", "fence windows per second at most"),
	UINT("fence_batch", fence_batch, 1, 512, "2 MiB regions per window",
	     "16", "2 MiB regions per window at most"),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

const struct pr_conf_key *pr_conf_keys(size_t *n)
{
	*n = NKEYS;
	return keys;
}

const char *pr_hint_mode_name(int mode)
{
	for (const struct pr_conf_choice *c = hint_modes; c->name; c++)
		if (c->value == mode)
			return c->name;
	return "?";
}

/* --- text into a fixed buffer, counting what did not fit --- */
struct out {
	char *buf;
	size_t len, used;	/* used may exceed len: what it needed */
};

static void __attribute__((format(printf, 2, 3)))
outf(struct out *o, const char *fmt, ...)
{
	size_t at = o->used < o->len ? o->used : o->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->buf ? o->buf + at : NULL, o->len - at, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->used += (size_t)n;
}

/* What goes before item i of n: mid between items, last before the last. */
static const char *sep(size_t i, size_t n, const char *mid, const char *last)
{
	return i == 0 ? "" : i + 1 < n ? mid : last;
}

static size_t nchoices(const struct pr_conf_choice *c)
{
	size_t n = 0;

	while (c[n].name)
		n++;
	return n;
}

/* 1M, 64G: the largest unit that divides v. */
static void out_size(struct out *o, unsigned long long v)
{
	if (v && v % GiB == 0)
		outf(o, "%lluG", v / GiB);
	else if (v && v % MiB == 0)
		outf(o, "%lluM", v / MiB);
	else if (v && v % KiB == 0)
		outf(o, "%lluK", v / KiB);
	else
		outf(o, "%llu", v);
}

/* How the accepted values are written: in a message, in README.md. */
struct wording {
	const char *quote;		/* around a choice */
	const char *mid, *last;		/* between choices */
	bool unit;			/* a number's unit before its range */
	const char *size_head, *to, *size_tail;	/* around a range */
	const char *path;		/* what a path may be */
};
/* "0, 1, true or false", "milliseconds from 0 to 60000", "a size from 1M
 * to 64G (suffix K, M or G)" */
static const struct wording in_message = {
	"", ", ", " or ", true, "a size from ", " to ", " (suffix K, M or G)",
	"an absolute path, at most 255 bytes, %p for the pid, %% for %"
};
/* "`0`/`1`/`true`/`false`", "0–60000", "size, `K`/`M`/`G` suffix, 1M–64G" */
static const struct wording in_readme = {
	"`", "/", "/", false, "size, `K`/`M`/`G` suffix, ", "–", "",
	"absolute path; `%p`: the pid, `%%`: `%`"
};
_Static_assert(PR_CONF_PATH_LEN == 256, "in_message says 255 bytes");

/* A default as written: "none" where there is none (a path's). */
static void out_default(struct out *o, const struct pr_conf_key *k,
			const char *quote)
{
	if (k->dflt[0])
		outf(o, "%s%s%s", quote, k->dflt, quote);
	else
		outf(o, "none");
}

static void out_accepted(struct out *o, const struct pr_conf_key *k,
			 const struct wording *w)
{
	size_t n = k->choices ? nchoices(k->choices) : 0;

	switch (k->type) {
	case PR_CONF_BOOL:
	case PR_CONF_ENUM:
		for (size_t i = 0; i < n; i++)
			outf(o, "%s%s%s%s", sep(i, n, w->mid, w->last),
			     w->quote, k->choices[i].name, w->quote);
		break;
	case PR_CONF_UINT:
		if (w->unit)
			outf(o, "%s from ", k->unit);
		outf(o, "%llu%s%llu", k->min, w->to, k->max);
		break;
	case PR_CONF_SIZE:
		outf(o, "%s", w->size_head);
		out_size(o, k->min);
		outf(o, "%s", w->to);
		out_size(o, k->max);
		outf(o, "%s", w->size_tail);
		break;
	case PR_CONF_PATH:
		outf(o, "%s", w->path);
		break;
	}
}

size_t pr_conf_markdown(char *buf, size_t len)
{
	struct out o = { buf, len, 0 };

	if (len)
		buf[0] = '\0';
	outf(&o, "| key | values | default | meaning |\n|---|---|---|---|\n");
	for (size_t i = 0; i < NKEYS; i++) {
		outf(&o, "| `%s` | ", keys[i].name);
		out_accepted(&o, &keys[i], &in_readme);
		outf(&o, " | ");
		out_default(&o, &keys[i], "`");
		outf(&o, " | %s |\n", keys[i].meaning);
	}
	return o.used;
}

/* --- parsing --- */

/* A decimal number, with an optional K, M or G suffix if units. */
static bool parse_number(const char *v, size_t n, bool units,
			 unsigned long long *out)
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
	if (i + 1 == n && units) {
		static const char suffix[] = "KMG";
		const char *u = memchr(suffix, v[i] & ~0x20, sizeof(suffix) - 1);

		if (!u)
			return false;
		shift = 10 * (unsigned)(u - suffix + 1);
		if (x > (~0ULL >> shift))
			return false;
	} else if (i != n) {
		return false;
	}
	*out = x << shift;
	return true;
}

static bool parse_choice(const struct pr_conf_choice *c, const char *v,
			 size_t n, unsigned long long *out)
{
	for (; c->name; c++)
		if (!strncmp(v, c->name, n) && !c->name[n]) {
			*out = (unsigned long long)c->value;
			return true;
		}
	return false;
}

/* A path pattern: absolute, fits the field, and every % is %p or %%
 * (report_file.c expands them; anything else would be a surprise there). */
static bool parse_path(const char *v, size_t n)
{
	if (n == 0 || v[0] != '/' || n >= PR_CONF_PATH_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] == '%' && (++i == n || (v[i] != 'p' && v[i] != '%')))
			return false;
	return true;
}

/* A parsed value: a number or a choice's value, or a path's text. */
struct value {
	unsigned long long num;
	const char *text;
	size_t len;
};

static bool parse_value(const struct pr_conf_key *k, const char *v, size_t n,
			struct value *out)
{
	out->text = v;
	out->len = n;
	switch (k->type) {
	case PR_CONF_BOOL:
	case PR_CONF_ENUM:
		return parse_choice(k->choices, v, n, &out->num);
	case PR_CONF_UINT:
	case PR_CONF_SIZE:
		return parse_number(v, n, k->type == PR_CONF_SIZE, &out->num) &&
		       out->num >= k->min && out->num <= k->max;
	case PR_CONF_PATH:
		/* The default, "", is no path: the summary goes to stderr. */
		return n == 0 ? v == k->dflt : parse_path(v, n);
	}
	return false;
}

/* The field's type has the field's size (FIELD() makes sure). */
static void store(struct pr_conf *conf, const struct pr_conf_key *k,
		  const struct value *v)
{
	void *p = (char *)conf + k->offset;

	if (k->type == PR_CONF_PATH) {
		memcpy(p, v->text, v->len);	/* parse_path: it fits */
		((char *)p)[v->len] = '\0';
	} else if (k->size == sizeof(bool)) {
		*(bool *)p = v->num != 0;
	} else if (k->size == sizeof(unsigned)) {
		*(unsigned *)p = (unsigned)v->num; /* unsigned, or an enum's int */
	} else {
		*(size_t *)p = (size_t)v->num;
	}
}

void pr_conf_defaults(struct pr_conf *conf)
{
	struct value v;

	for (size_t i = 0; i < NKEYS; i++)
		if (parse_value(&keys[i], keys[i].dflt, strlen(keys[i].dflt),
				&v))
			store(conf, &keys[i], &v);
}

/* Where the pairs come from, and who hears about bad ones. */
struct source {
	const char *name;
	pr_warn_fn warn;
};

static void complain(const struct source *src, const char *key, size_t klen,
		     const char *what)
{
	char line[640];		/* 11 + 128 + 2 + 64 + 2 + what's 384 + 1 */

	snprintf(line, sizeof(line), "ptreclaim: %.128s: %.*s: %s\n",
		 src->name, (int)(klen > 64 ? 64 : klen), key, what);
	src->warn(line);
}

static int apply(const char *k, size_t kn, const char *v, size_t vn,
		 struct pr_conf *conf, const struct source *src)
{
	char what[384];
	struct out o = { what, sizeof(what), 0 };
	struct value x;

	for (size_t i = 0; i < NKEYS; i++) {
		if (strncmp(k, keys[i].name, kn) || keys[i].name[kn])
			continue;
		if (parse_value(&keys[i], v, vn, &x)) {
			store(conf, &keys[i], &x);
			return 0;
		}
		outf(&o, "expected ");
		out_accepted(&o, &keys[i], &in_message);
		outf(&o, "; using ");
		out_default(&o, &keys[i], "");
		complain(src, k, kn, what);
		return -1;
	}
	outf(&o, "unknown key; accepted: ");
	for (size_t i = 0; i < NKEYS; i++)
		outf(&o, "%s%s", sep(i, NKEYS, ", ", ", "), keys[i].name);
	complain(src, k, kn, what);
	return -1;
}

/* Returns the number of pairs rejected. */
int pr_conf_parse_from(const char *source, const char *text,
		       struct pr_conf *conf, pr_warn_fn warn)
{
	const struct source src = { source, warn };
	int bad = 0;

	while (text && *text) {
		const char *end = strchr(text, ',');
		const char *colon;
		size_t n = end ? (size_t)(end - text) : strlen(text);

		colon = memchr(text, ':', n);
		if (n == 0) {
			/* Tolerate a stray comma. */
		} else if (!colon || colon == text || colon + 1 == text + n) {
			complain(&src, text,
				 colon ? (size_t)(colon - text) : n,
				 "expected key:value");
			bad++;
		} else {
			bad += apply(text, (size_t)(colon - text), colon + 1,
				     (size_t)(text + n - colon - 1), conf,
				     &src) ? 1 : 0;
		}
		text = end ? end + 1 : NULL;
	}
	return bad;
}

int pr_conf_parse(const char *text, struct pr_conf *conf, pr_warn_fn warn)
{
	return pr_conf_parse_from("PTRECLAIM_CONF", text, conf, warn);
}

/* --- the configuration file --- */

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* s[0..n) without the blanks around it, at out + o, then a comma. */
static size_t put_pair(char *out, size_t o, const char *s, size_t n)
{
	while (n && blank(*s)) {
		s++;
		n--;
	}
	while (n && blank(s[n - 1]))
		n--;
	memcpy(out + o, s, n);
	out[o + n] = ',';
	return o + n + 1;
}

void pr_conf_file_text(const char *in, char *out)
{
	size_t o = 0;

	while (*in) {
		size_t line = strcspn(in, "\n");
		const char *p = in, *end = in + strcspn(in, "#\n");

		/* Each pair of the line before its comment; at most one
		 * byte more than the line, its comma (the '\n' it had). */
		for (;;) {
			const char *c = memchr(p, ',', (size_t)(end - p));

			o = put_pair(out, o, p, (size_t)((c ? c : end) - p));
			if (!c)
				break;
			p = c + 1;
		}
		in += line + (in[line] == '\n');
	}
	out[o] = '\0';
}

/* The file's pairs into conf.  Absent or unreadable: nothing to say (most
 * machines have none); too long to be read whole: one line, and none of
 * it, rather than half a file. */
static void conf_file_apply(const char *path, struct pr_conf *conf,
			    pr_warn_fn warn)
{
	static char raw[8192], text[sizeof(raw) + 1];
	long got = pr_read_file(path, raw, sizeof(raw));
	char line[256];

	if (got <= 0)
		return;
	if ((size_t)got >= sizeof(raw) - 1) {
		snprintf(line, sizeof(line),
			 "ptreclaim: %.128s: longer than 8 KiB; ignored\n",
			 path);
		warn(line);
		return;
	}
	pr_conf_file_text(raw, text);
	pr_conf_parse_from(path, text, conf, warn);
}

void pr_conf_load(pr_warn_fn warn)
{
	const char *file;

	pr_conf_defaults(&pr_conf);
	/* A setuid program must not take orders from its caller: not its
	 * environment, nor a file the environment names. */
	if (getauxval(AT_SECURE))
		return;
	file = getenv(PR_CONF_FILE_ENV);
	conf_file_apply(file && *file ? file : PR_CONF_FILE, &pr_conf, warn);
	pr_conf_parse(getenv("PTRECLAIM_CONF"), &pr_conf, warn);
}
