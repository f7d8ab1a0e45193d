/* SPDX-License-Identifier: MIT */
/*
 * Unit test: a secure-execution process ignores PTRECLAIM_CONF.  The test
 * script runs a setuid copy of this program as an unprivileged user; it
 * prints whether the environment's configuration took effect.
 */
#include <stdio.h>
#include <sys/auxv.h>

#include "internal.h"

int main(void)
{
	/* The constructor (linked whole) read the environment, or not. */
	printf("secure=%lu stats=%d\n", getauxval(AT_SECURE), pr_conf.stats);
	return 0;
}
