/* SPDX-License-Identifier: MIT */
/* sweep.h - `ptreclaim sweep` (sweep.c). */
#ifndef PTRECLAIM_CLI_SWEEP_H
#define PTRECLAIM_CLI_SWEEP_H

#include <stdbool.h>

/* argv[0] is "sweep".  Returns the exit status. */
int pr_cmd_sweep(int argc, char **argv);

#endif
