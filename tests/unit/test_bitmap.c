/* SPDX-License-Identifier: MIT */
/* Unit test: the 512-bit page map of a PMD region. */
#include <string.h>

#include "bitmap.h"
#include "check.h"

int main(void)
{
	uint64_t m[PR_BITMAP_WORDS];

	memset(m, 0, sizeof(m));
	CHECK(pr_bitmap_empty(m));
	CHECK(!pr_bitmap_full(m));
	CHECK(pr_word_mask(0, 64) == ~0ULL);
	CHECK(pr_word_mask(3, 5) == 0x18);
	CHECK(pr_word_mask(63, 64) == 1ULL << 63);

	pr_bitmap_set(m, 0, 0);
	CHECK(m[0] == 1 && pr_bitmap_count(m) == 1);
	/* A span across word boundaries. */
	pr_bitmap_set(m, 60, 130);
	CHECK(pr_bitmap_count(m) == 72);
	CHECK(m[0] == (1ULL | pr_word_mask(60, 64)));
	CHECK(m[1] == ~0ULL);
	CHECK(m[2] == 0x7);
	pr_bitmap_clear(m, 64, 127);
	CHECK(m[1] == 0 && pr_bitmap_count(m) == 8);

	pr_bitmap_set(m, 0, 511);
	CHECK(pr_bitmap_full(m) && pr_bitmap_count(m) == 512);
	pr_bitmap_clear(m, 511, 511);
	CHECK(!pr_bitmap_full(m) && pr_bitmap_count(m) == 511);
	pr_bitmap_set(m, 511, 511);
	CHECK(pr_bitmap_full(m));
	pr_bitmap_zero(m);
	CHECK(pr_bitmap_empty(m));

	/* Every single page lands in exactly one bit. */
	for (unsigned i = 0; i < 512; i++) {
		pr_bitmap_set(m, i, i);
		CHECK(pr_bitmap_count(m) == i + 1);
	}
	CHECK(pr_bitmap_full(m));
	CHECK_DONE();
}
