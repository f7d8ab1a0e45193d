/* SPDX-License-Identifier: MIT */
/*
 * image_static_hello - a statically linked program (no dynamic loader, so
 * no /etc/ld.so.preload): in the image it must run exactly as without.
 */
#include <stdio.h>

int main(int argc, char **argv)
{
	printf("static: hello from a statically linked binary, %d argument%s\n",
	       argc - 1, argc == 2 ? "" : "s");
	for (int i = 1; i < argc; i++)
		printf("static: %s\n", argv[i]);
	return argc > 1 ? 0 : 3;
}
