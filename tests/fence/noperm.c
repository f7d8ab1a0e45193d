/* SPDX-License-Identifier: MIT */
/*
 * noperm - run without full userfaultfd: the fence must not start, say
 * why, and the program must see nothing but its own memory as usual.
 */
#include "fence_test.h"

int main(void)
{
	char *p = map_regions(2);
	const char *why;

	api_init();
	why = api_reason();
	printf("noperm: fence reason: %s\n", why ? why : "(none: active)");
	CHECK(why != NULL, "the fence is active without full userfaultfd");
	fill_pages(p, 2 * NPG, 5);
	purge_pieces(p, PMD, MADV_DONTNEED);
	strcpy(p + PMD + 3 * PG, "kept");
	errno = 0;
	CHECK(api_flush(1000) == -1 && errno == ENOTSUP,
	      "flush without a fence: %s", strerror(errno));
	CHECK(mapped_pages(p, NPG) == 0, "purged pages still mapped");
	CHECK(!strcmp(p + PMD + 3 * PG, "kept"), "data lost");
	CHECK_DONE();
}
