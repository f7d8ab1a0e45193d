/* SPDX-License-Identifier: MIT */
/*
 * lifemark.c - which process is this?  Raw system calls, and a word that
 * tells a child created without atfork handlers from its parent.
 *
 * _Fork(), a raw clone() and a raw fork system call run no atfork
 * handlers, yet the child inherits the shim's memory as the parent's
 * threads left it: a work lock held by the worker, a fence window open,
 * a worker "live" that has no thread.  The mark is one page with
 * MADV_WIPEONFORK: the parent writes a non-zero word into it, and any
 * child with a new address space reads zero there, with no system call
 * (getpid() on every munmap would be a call the program did not make).
 * A vfork() child shares the parent's memory, reads the parent's word and
 * resets nothing, which is right: it may only exec or _exit.
 */
#include <errno.h>
#include <sys/mman.h>

#include "platform.h"

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

long pr_raw_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ __volatile__("syscall"
			     : "=a"(ret)
			     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10),
			       "r"(r8), "r"(r9)
			     : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;

	__asm__ __volatile__("svc 0"
			     : "+r"(x0)
			     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4),
			       "r"(x5)
			     : "memory");
	return x0;
#else
#error "pr_raw_syscall: add this architecture"
#endif
}

/* The page, and the value this process wrote into it (0: not armed). */
static volatile uint32_t *mark;
static uint32_t armed_gen;

bool pr_lifemark_arm(void)
{
	long p;

	if (__atomic_load_n(&mark, __ATOMIC_ACQUIRE))
		return true;
	p = pr_raw_syscall(SYS_mmap, 0, (long)PR_PAGE_SIZE,
			   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
	if (p < 0 && p > -4096)
		return false;
	/* Without WIPEONFORK (before 4.14) a child can't be told apart:
	 * the shim then behaves as before, atfork handlers only. */
	if (pr_raw_syscall(SYS_madvise, p, (long)PR_PAGE_SIZE, MADV_WIPEONFORK,
			   0, 0, 0) < 0) {
		pr_raw_syscall(SYS_munmap, p, (long)PR_PAGE_SIZE, 0, 0, 0, 0);
		return false;
	}
	*(volatile uint32_t *)p = 1;
	armed_gen = 1;
	__atomic_store_n(&mark, (volatile uint32_t *)p, __ATOMIC_RELEASE);
	return true;
}

int pr_lifemark_check(void)
{
	volatile uint32_t *m = __atomic_load_n(&mark, __ATOMIC_ACQUIRE);
	uint32_t zero = 0;

	if (!m || __atomic_load_n(m, __ATOMIC_ACQUIRE))
		return 0;
	/* One thread of the child resets; others wait the few stores out. */
	if (__atomic_compare_exchange_n(m, &zero, UINT32_MAX, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return 1;
	while (__atomic_load_n(m, __ATOMIC_ACQUIRE) == UINT32_MAX)
		pr_cpu_relax();
	return 0;
}

void pr_lifemark_rearm(void)
{
	volatile uint32_t *m = __atomic_load_n(&mark, __ATOMIC_ACQUIRE);

	if (m)
		__atomic_store_n(m, armed_gen, __ATOMIC_RELEASE);
}
