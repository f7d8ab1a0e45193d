/* SPDX-License-Identifier: MIT */
/* commands.h - the ptreclaim program's subcommands. */
#ifndef PTRECLAIM_CLI_COMMANDS_H
#define PTRECLAIM_CLI_COMMANDS_H

#include <stdio.h>

#define EXIT_USAGE 2

/* Prints the usage to f; returns EXIT_USAGE. */
int pr_cli_usage(FILE *f);
int pr_cmd_probe(int argc, char **argv);
int pr_cmd_sweep(int argc, char **argv);
int pr_cmd_stat(int argc, char **argv);
int pr_cmd_plot(int argc, char **argv);

#endif
