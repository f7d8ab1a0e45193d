/* SPDX-License-Identifier: MIT */
/*
 * Unit test: README.md's configuration table is the one config.c's key
 * table writes, row for row.
 *   test_config_readme README.md   compare
 *   test_config_readme             print the table (to paste into README.md)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define HEADER "| key | values | default | meaning |\n"

/* README.md's table: from the header line to the first line not a row. */
static char *readme_table(const char *path)
{
	static char text[1 << 20];
	FILE *f = fopen(path, "r");
	size_t n;
	char *start, *end;

	if (!f) {
		perror(path);
		return NULL;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	start = strstr(text, "\n" HEADER);
	if (!start) {
		fprintf(stderr, "%s: no line \"%.*s\"\n", path,
			(int)strlen(HEADER) - 1, HEADER);
		return NULL;
	}
	start++;
	for (end = start; *end == '|';) {
		char *nl = strchr(end, '\n');

		end = nl ? nl + 1 : end + strlen(end);
	}
	*end = '\0';
	return start;
}

/* The first line where they differ. */
static void show_difference(const char *want, const char *have)
{
	size_t line = 1, wn, hn;

	for (;; line++) {
		wn = strcspn(want, "\n");
		hn = strcspn(have, "\n");
		if (wn != hn || strncmp(want, have, wn) || !want[wn] || !have[hn])
			break;
		want += wn + 1;
		have += hn + 1;
	}
	fprintf(stderr, "README.md's configuration table differs at its line %zu\n"
		"  the key table: %.*s\n  README.md:     %.*s\n"
		"print the table with: test_config_readme (no argument)\n",
		line, (int)wn, want, (int)hn, have);
}

int main(int argc, char **argv)
{
	static char want[1 << 16];
	size_t n = pr_conf_markdown(want, sizeof(want));
	const char *have;

	if (n >= sizeof(want)) {
		fprintf(stderr, "the table needs %zu bytes\n", n);
		return 1;
	}
	if (argc < 2) {
		fputs(want, stdout);
		return 0;
	}
	have = readme_table(argv[1]);
	if (!have)
		return 1;
	if (strcmp(want, have)) {
		show_difference(want, have);
		return 1;
	}
	printf("ok\n");
	return 0;
}
