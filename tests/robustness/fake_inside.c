/* SPDX-License-Identifier: MIT */
/*
 * fake_inside.c - stands in for the shim and claims every thread is inside
 * it, so the malloc guard's self-test can show the guard really fires.
 */
int __ptreclaim_inside(void);

int __ptreclaim_inside(void)
{
	return 1;
}
