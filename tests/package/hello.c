/* SPDX-License-Identifier: MIT */
/* Built against the installed library with pkg-config alone. */
#include <stdio.h>
#include <ptreclaim.h>

int main(void)
{
	struct ptreclaim_stats st;

	if (ptreclaim_stats_get(&st, sizeof(st)))
		return 1;
	printf("ptreclaim api %d: %llu madvise calls\n", PTRECLAIM_API_VERSION,
	       (unsigned long long)st.madvise_calls);
	return 0;
}
