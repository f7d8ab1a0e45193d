/* SPDX-License-Identifier: MIT */
/* check.h - the smallest test harness: CHECK() counts, main returns it. */
#ifndef PTRECLAIM_CHECK_H
#define PTRECLAIM_CHECK_H

#include <stdio.h>

static int check_failures;

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n",	\
				__FILE__, __LINE__, #cond);		\
			check_failures++;				\
		}							\
	} while (0)

#define CHECK_DONE()							\
	do {								\
		printf("%s\n", check_failures ? "FAILED" : "ok");	\
		return check_failures ? 1 : 0;				\
	} while (0)

#endif
