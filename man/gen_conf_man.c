/* SPDX-License-Identifier: MIT */
/*
 * gen_conf_man - a man page with its configuration keys filled in from
 * the one key table (shim/core/config.c), so that the page cannot drift
 * from the parser: README.md's table is that table's markdown
 * (pr_conf_markdown), and this turns the same rows into roff.
 *
 *   gen_conf_man TEMPLATE OUTPUT VERSION
 *
 * Copies TEMPLATE to OUTPUT; the line "@CONFIG_KEYS@" becomes one .TP
 * entry per key: the key, its values and default, its meaning (a man
 * page), and "@CONFIG_KEY_NAMES@" in a line becomes the keys' names, each
 * with its colon, separated by blanks (the bash completion's list);
 * "@VERSION@" anywhere becomes VERSION (the project's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Markdown inline text as roff: `code` bold, [text](link) as text, '-'
 * and '\' escaped, the en dash of ranges as \(en. */
static void roff_inline(FILE *out, const char *s, size_t n)
{
	int code = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '`') {
			fputs(code ? "\\fR" : "\\fB", out);
			code = !code;
		} else if (c == '[' && !code) {
			const char *close = memchr(s + i, ']', n - i);

			if (close && (size_t)(close - s) + 1 < n &&
			    close[1] == '(') {
				const char *end = memchr(close, ')',
							 n - (size_t)(close - s));

				if (end) {
					roff_inline(out, s + i + 1,
						    (size_t)(close - s - i - 1));
					i = (size_t)(end - s);
					continue;
				}
			}
			fputc(c, out);
		} else if (c == '\\') {
			fputs("\\e", out);
		} else if (c == '-') {
			fputs("\\-", out);
		} else if (!strncmp(s + i, "\xe2\x80\x93", 3) && i + 3 <= n) {
			fputs("\\(en", out);
			i += 2;
		} else {
			fputc(c, out);
		}
	}
	if (code)
		fputs("\\fR", out);
}

/* The table's cells, between "| " and " |": key, values, default, meaning. */
static int keys_roff(FILE *out)
{
	static char table[1 << 16];
	size_t len = pr_conf_markdown(table, sizeof(table));
	const char *line = table;
	int rows = 0;

	if (len >= sizeof(table))
		return -1;
	/* The header and its rule. */
	for (int skip = 0; skip < 2 && line; skip++) {
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	for (; line && *line == '|'; rows++) {
		const char *nl = strchr(line, '\n');
		const char *cell[4], *end[4], *p = line + 2;

		if (!nl)
			return -1;
		for (int c = 0; c < 4; c++) {
			const char *bar = c < 3 ? strstr(p, " | ") : nl - 2;

			if (!bar || bar > nl || strncmp(bar, " |", 2))
				return -1;
			cell[c] = p;
			end[c] = bar;
			p = bar + 3;
		}
		fputs(".TP\n", out);
		roff_inline(out, cell[0], (size_t)(end[0] - cell[0]));
		fputs("\nValues: ", out);
		roff_inline(out, cell[1], (size_t)(end[1] - cell[1]));
		fputs("; default: ", out);
		roff_inline(out, cell[2], (size_t)(end[2] - cell[2]));
		fputs(".\n.br\n", out);
		roff_inline(out, cell[3], (size_t)(end[3] - cell[3]));
		fputs(".\n", out);
		line = nl + 1;
	}
	return rows;
}

/* "stats: stats_file: ..." */
static void key_names(FILE *out)
{
	size_t n;
	const struct pr_conf_key *k = pr_conf_keys(&n);

	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%s:", i ? " " : "", k[i].name);
}

/* line with each "@VERSION@" replaced by version. */
static void put_versioned(FILE *out, const char *line, const char *version)
{
	const char *at;

	while ((at = strstr(line, "@VERSION@"))) {
		fwrite(line, 1, (size_t)(at - line), out);
		fputs(version, out);
		line = at + strlen("@VERSION@");
	}
	fputs(line, out);
}

int main(int argc, char **argv)
{
	char line[4096];
	FILE *in, *out;
	int found = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: gen_conf_man TEMPLATE OUTPUT VERSION\n");
		return 2;
	}
	in = fopen(argv[1], "r");
	if (!in) {
		perror(argv[1]);
		return 1;
	}
	out = fopen(argv[2], "w");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	while (fgets(line, sizeof(line), in)) {
		char *names = strstr(line, "@CONFIG_KEY_NAMES@");

		if (names) {
			fwrite(line, 1, (size_t)(names - line), out);
			key_names(out);
			fputs(names + strlen("@CONFIG_KEY_NAMES@"), out);
			found++;
			continue;
		}
		if (strcmp(line, "@CONFIG_KEYS@\n")) {
			put_versioned(out, line, argv[3]);
			continue;
		}
		if (keys_roff(out) <= 0) {
			fprintf(stderr, "gen_conf_man: the key table's markdown is not a table\n");
			return 1;
		}
		found++;
	}
	fclose(in);
	if (fclose(out) || found > 1) {
		fprintf(stderr, "gen_conf_man: %s: want one line @CONFIG_KEYS@ or @CONFIG_KEY_NAMES@ at most, found %d\n",
			argv[1], found);
		remove(argv[2]);
		return 1;
	}
	return 0;
}
