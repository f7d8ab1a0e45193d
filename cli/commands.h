/* SPDX-License-Identifier: MIT */
/* commands.h - the ptreclaim program's subcommands. */
#ifndef PTRECLAIM_CLI_COMMANDS_H
#define PTRECLAIM_CLI_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

#define EXIT_USAGE 2

/* Prints the usage to f; returns EXIT_USAGE. */
int pr_cli_usage(FILE *f);
int pr_cmd_probe(int argc, char **argv);
int pr_cmd_sweep(int argc, char **argv);
int pr_cmd_run(int argc, char **argv);

/* A subcommand, for its usage errors. */
struct pr_cli_cmd {
	const char *name;	/* "ptreclaim run" */
	const char *usage;	/* "usage: ptreclaim run ..." */
};

/*
 * The value of option name at argv[*i], as "--name VALUE" or "--name=VALUE"
 * (then *i is moved past it): 1 and *value set; 0 if argv[*i] is another
 * option; -1 (a line and the usage line printed) if the value is missing:
 * no next argument, an empty one, or one that starts with "--".
 */
int pr_cli_value(int argc, char **argv, int *i, const char *name,
		 const struct pr_cli_cmd *cmd, const char **value);
/* A usage error of a subcommand: "NAME: what", then its usage line;
 * returns EXIT_USAGE. */
int pr_cli_misuse(const struct pr_cli_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* elf.c: NULL if path is a shared object the loader can preload into this
 * program's kind of process, else what it is instead. */
const char *pr_elf_not_library(const char *path);
/* A 64-bit ELF executable without PT_INTERP: no dynamic loader, no
 * preload. */
bool pr_elf_is_static(const char *path);
int pr_cmd_stat(int argc, char **argv);
int pr_cmd_plot(int argc, char **argv);

#endif
