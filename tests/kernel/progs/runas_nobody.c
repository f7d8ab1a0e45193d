/* SPDX-License-Identifier: MIT */
/* runas_nobody CMD ARGS... - run CMD as uid/gid 65534, no capabilities
 * (for the permission checks of `ptreclaim sweep`). */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2 || setgroups(0, NULL) || setgid(65534) || setuid(65534)) {
		perror("runas_nobody");
		return 126;
	}
	execv(argv[1], argv + 1);
	perror("runas_nobody: execv");
	return 127;
}
