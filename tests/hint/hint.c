/* SPDX-License-Identifier: MIT */
/*
 * hint - the hinting policy under the preloaded shim (PTRECLAIM_CONF
 * hint:on, hint_min:4M; hint:off with argument "off"; the split after a
 * zap with argument "split", and hint_split:0 with "nosplit"; the
 * default, hint:auto, with argument "auto": hints unless a virtio balloon
 * reports free pages; threads, signals and forks with argument "race").  Checks VMA flags (smaps VmFlags hg/nh),
 * placement, VMA counts and data, never timing.  Exits 77 where THP can't be hinted (enabled not madvise), and
 * the split tests where the mapping got no huge page or the kernel is
 * older than 6.12 (RSS can't show the split there).
 *
 * The shim hints only mappings the allocator makes, that is, mmap calls
 * from the object that provides malloc: so this program provides it
 * (glibc's, passed through) and its own mmap calls count as the
 * allocator's.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void __libc_free(void *);
void *malloc(size_t n) { return __libc_malloc(n); }
void *calloc(size_t n, size_t m) { return __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }

/* The rest of line KEY of the smaps entry holding addr ("" if none), and
 * the entry's bounds. */
static void smaps_field(void *addr, const char *key, char out[512],
			uintptr_t *lo, uintptr_t *hi)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;

	out[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') <
		    strchr(line, ' ')) {
			in = (uintptr_t)addr >= a && (uintptr_t)addr < b;
			if (in && lo)
				*lo = a, *hi = b;
		} else if (in && !strncmp(line, key, strlen(key))) {
			snprintf(out, 512, "%s", line + strlen(key));
			break;
		}
	}
	if (f)
		fclose(f);
}

/* VmFlags of the VMA holding addr ("" if none), and its bounds. */
static void vma_of(void *addr, char flags[512], uintptr_t *lo, uintptr_t *hi)
{
	smaps_field(addr, "VmFlags:", flags, lo, hi);
}

static int has(void *addr, const char *flag)
{
	char fl[512], pat[8];

	vma_of(addr, fl, NULL, NULL);
	snprintf(pat, sizeof(pat), " %s", flag);
	return strstr(fl, pat) != NULL;
}

/* A field of the smaps entry holding addr, in kB (-1 if none). */
static long smaps_kb(void *addr, const char *key)
{
	char v[512];

	smaps_field(addr, key, v, NULL, NULL);
	return v[0] ? strtol(v, NULL, 10) : -1;
}

static int kernel_at_least(int major, int minor)
{
	FILE *f = fopen("/proc/sys/kernel/osrelease", "r");
	int a = 0, b = 0;

	if (f) {
		if (fscanf(f, "%d.%d", &a, &b) != 2)
			a = b = 0;
		fclose(f);
	}
	return a > major || (a == major && b >= minor);
}

/* A virtio balloon that reports free pages to the host (feature bit 5). */
static int free_page_reporting(void)
{
	char path[96], buf[160];
	int hit = 0;

	for (int i = 0; i < 64 && !hit; i++) {
		FILE *f;
		long dev = 0;

		snprintf(path, sizeof(path), "/sys/bus/virtio/devices/virtio%d/device", i);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%lx", &dev) != 1)
			dev = 0;
		fclose(f);
		snprintf(path, sizeof(path), "/sys/bus/virtio/devices/virtio%d/features", i);
		f = fopen(path, "r");
		if (!f)
			continue;
		hit = dev == 5 && fgets(buf, sizeof(buf), f) && strlen(buf) > 5 &&
		      buf[5] == '1';
		fclose(f);
	}
	return hit;
}

static long vmas_in(uintptr_t lo, uintptr_t hi)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long a, b;
	char line[512];
	long n = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < hi && b > lo)
			n++;
	if (f)
		fclose(f);
	return n;
}

static unsigned char *map(size_t len)
{
	return (unsigned char *)map_anon(len);
}

static void fill(unsigned char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i += 512)
		p[i] = (unsigned char)(seed + i / 512);
}

/* Bytes of [p, p + len) that differ from fill()'s, or from zero inside
 * the purged hole: every byte, the unwritten ones too. */
static size_t bad_bytes(unsigned char *p, size_t len, unsigned seed,
			size_t hole_lo, size_t hole_hi)
{
	size_t bad = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char want = (i >= hole_lo && i < hole_hi) || i % 512 ? 0 :
				     (unsigned char)(seed + i / 512);
		bad += p[i] != want;
	}
	return bad;
}

/* A large mapping: one VMA, hinted (and 2 MiB aligned unless placed
 * right next to a hinted one: then it stays there, one VMA with it). */
static unsigned char *large(size_t len, int want_hint)
{
	unsigned char *p = map(len);
	uintptr_t lo = 0, hi = 0;
	char fl[512];

	vma_of(p, fl, &lo, &hi);
	if (want_hint) {
		CHECK(((uintptr_t)p & (PMD - 1)) == 0 ||
		      has((char *)p - 1, "hg") || has(p + len, "hg"));
		CHECK(has(p, "hg") && has(p + len - 1, "hg"));
	} else {
		CHECK(!has(p, "hg"));
	}
	CHECK(vmas_in((uintptr_t)p, (uintptr_t)p + len) == 1);
	fill(p, len, 7);
	CHECK(bad_bytes(p, len, 7, 0, 0) == 0);
	return p;
}

static void fine_purges_stop(void)
{
	size_t len = 16 * MIB + 12288;	/* not a 2 MiB multiple */
	unsigned char *p = large(len, 1);
	size_t off;

	/* Whole aligned 2 MiB purges split nothing: still hinted. */
	CHECK(madvise(p, 2 * PMD, MADV_DONTNEED) == 0);
	CHECK(has(p, "hg"));
	fill(p, 2 * PMD, 7);
	/* 64 KiB purges: under 1/32 of the region, still hinted ... */
	for (off = 4 * MIB; off < 4 * MIB + 256 * 1024; off += 64 * 1024)
		CHECK(madvise(p + off, 64 * 1024, MADV_DONTNEED) == 0);
	CHECK(has(p, "hg"));
	/* ... past it, the whole region stops, once, in one VMA. */
	for (; off < 4 * MIB + 2 * MIB; off += 64 * 1024)
		CHECK(madvise(p + off, 64 * 1024, MADV_DONTNEED) == 0);
	CHECK(has(p, "nh") && !has(p, "hg") && has(p + len - 1, "nh"));
	CHECK(vmas_in((uintptr_t)p, (uintptr_t)p + len) == 1);
	CHECK(bad_bytes(p, len, 7, 4 * MIB, off) == 0);
	/* Never hinted again. */
	CHECK(madvise(p + 8 * MIB, 64 * 1024, MADV_FREE) == 0);
	CHECK(has(p, "nh"));
	CHECK(munmap(p, len) == 0);
}

/*
 * A zap inside a huge page: the shim splits the folio (hint_split), so the
 * pages nobody wrote stop counting in RSS (6.12+: mapped to the zero page)
 * and every written byte is still there.  With hint_split:0 the folio
 * stays whole and so does RSS.
 */
static void split_after_zap(int want_split)
{
	size_t len = 8 * MIB;
	unsigned char *p = map(len);
	long huge, before, after = 0;
	int tries;

	CHECK(((uintptr_t)p & (PMD - 1)) == 0 && has(p, "hg"));
	for (size_t i = 0; i < len; i += 64 * 4096)	/* 8 pages per block */
		p[i] = (unsigned char)(1 + i / 4096);
	huge = smaps_kb(p, "AnonHugePages:");
	before = smaps_kb(p, "Rss:");
	/* A page of block 1: under 1/32, so the region stays hinted.  The
	 * kernel skips a split it can't take at once (the folio locked, an
	 * extra reference): the next zap in the block tries again. */
	for (tries = 1; tries <= 3; tries++) {
		CHECK(madvise(p + PMD + tries * 4096, 4096, MADV_DONTNEED) == 0);
		after = smaps_kb(p, "Rss:");
		if (after <= before - 1024)
			break;
	}
	printf("split: AnonHugePages %ld kB, Rss %ld -> %ld kB after %d zap(s)\n",
	       huge, before, after, tries > 3 ? 3 : tries);
	/* RSS is the property: it shows a split only where the region got a
	 * huge page, and unwritten pages leave RSS only from 6.12 on. */
	SKIP_UNLESS(huge == 8192, "no huge page here: the split not checked");
	SKIP_UNLESS(kernel_at_least(6, 12), "kernel before 6.12: RSS not checked");
	if (huge == 8192 && kernel_at_least(6, 12)) {
		/* Block 1 keeps its 8 written pages, not 509. */
		if (want_split)
			CHECK(after <= before - 2048 + 8 * 4 + 4);
		else
			CHECK(after >= before - 3 * 4);
	}
	CHECK(has(p, "hg"));
	for (size_t i = 0; i < len; i += 4096)
		CHECK(p[i] == (i % (64 * 4096) ? 0 : (unsigned char)(1 + i / 4096)));
	CHECK(p[PMD] == (unsigned char)(1 + PMD / 4096));
	CHECK(munmap(p, len) == 0);
}

/* Small mappings are left alone; many large ones add no VMA boundary
 * inside any of them. */
static void bounded(int want_hint)
{
	unsigned char *s = map(MIB), *p[12];
	long total = 0;

	CHECK(!has(s, "hg") && !has(s, "nh"));
	for (int i = 0; i < 12; i++) {
		p[i] = large(8 * MIB + (size_t)i * 4096, want_hint);
		total += vmas_in((uintptr_t)p[i], (uintptr_t)p[i] + 8 * MIB);
	}
	CHECK(total <= 12);
	for (int i = 0; i < 12; i++)
		CHECK(munmap(p[i], 8 * MIB + (size_t)i * 4096) == 0);
	CHECK(munmap(s, MIB) == 0);
}

/* A partly unmapped region is still tracked, and an mremap'd one keeps
 * working; results and errno are the kernel's. */
static void unmap_and_errors(void)
{
	unsigned char *p = large(12 * MIB, 1);
	void *q;

	CHECK(munmap(p + 4 * MIB, 2 * MIB) == 0);
	fill(p, 4 * MIB, 3);
	CHECK(bad_bytes(p, 4 * MIB, 3, 0, 0) == 0);
	q = mremap(p + 6 * MIB, 6 * MIB, 8 * MIB, MREMAP_MAYMOVE);
	CHECK(q != MAP_FAILED);
	/* Every byte that moved must hold what was written there. */
	CHECK(bad_bytes(q, 6 * MIB, 7 + 6 * MIB / 512, 0, 0) == 0);
	errno = 0;
	CHECK(mmap(NULL, 1UL << 50, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED &&
	      errno == ENOMEM);
	errno = 0;
	CHECK(mmap(NULL, 8 * MIB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 4096 + 1) == MAP_FAILED &&
	      errno == EINVAL);
	CHECK(munmap(p, 4 * MIB) == 0 && munmap(q, 8 * MIB) == 0);
}

/*
 * race: hinting under concurrency (hint.c keeps no lock).  Purger threads
 * purge 64 KiB pieces of the regions all the time, which stops them;
 * two unmapper threads meanwhile replace pieces of the same regions
 * (MAP_FIXED "victims": head, middle, tail; some with the program's own
 * MADV_HUGEPAGE) and then whole regions; signal handlers purge and remap
 * beside them; the main thread forks (fork and _Fork) and the children
 * map, remap and purge.  A victim must never get "nh": that would be a
 * stop issued over memory that was no longer the region's.  Addresses
 * the test used are never unmapped, only replaced (PROT_NONE), so no
 * purge can reach memory the process has since used for something else.
 */
#define RACE_SLOTS 8
#define RACE_LEN (12 * MIB)
#define RACE_ROUNDS 40

static unsigned char *race_base[RACE_SLOTS];
static int race_done;
static unsigned long race_bad, race_nh, race_hg;

static unsigned race_rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static void fine_purge(unsigned *seed)
{
	unsigned char *p = __atomic_load_n(&race_base[race_rnd(seed) % RACE_SLOTS],
					   __ATOMIC_ACQUIRE);
	size_t off = (race_rnd(seed) % (RACE_LEN / (64 * 1024))) * 64 * 1024;

	madvise(p + off, 64 * 1024, MADV_DONTNEED);
}

static void on_usr1(int sig)
{
	static __thread unsigned seed = 7;
	static __thread unsigned char *scratch;
	int err = errno;

	(void)sig;
	fine_purge(&seed);
	if (!scratch)
		scratch = mmap(NULL, MIB, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (scratch != MAP_FAILED)
		mmap(scratch, MIB, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	errno = err;
}

static void *purger(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	while (!__atomic_load_n(&race_done, __ATOMIC_RELAXED))
		fine_purge(&seed);
	return NULL;
}

static void replace(void *at, size_t len, int prot)
{
	if (mmap(at, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
		 0) != at)
		__atomic_add_fetch(&race_bad, 1, __ATOMIC_RELAXED);
}

/* Victims in the region at slot i, then the whole region replaced by a
 * fresh one; the victims are checked first. */
static void race_round(int i, unsigned round)
{
	unsigned char *p = race_base[i], *q;
	size_t at[3] = { 0, 4 * MIB, RACE_LEN - 2 * MIB };

	for (int v = 0; v < 3; v++) {
		replace(p + at[v], 2 * MIB, v == 1 ? PROT_NONE : PROT_READ | PROT_WRITE);
		if ((round + (unsigned)v) & 1)
			madvise(p + at[v], 2 * MIB, MADV_HUGEPAGE);
	}
	for (int v = 0; v < 3; v++)
		if (has(p + at[v], "nh"))
			__atomic_add_fetch(&race_bad, 1, __ATOMIC_RELAXED);
	race_nh += has(p + 8 * MIB, "nh");
	replace(p, RACE_LEN, PROT_NONE);	/* never unmapped: see above */
	q = map(RACE_LEN);
	race_hg += has(q, "hg") || has(q, "nh");
	__atomic_store_n(&race_base[i], q, __ATOMIC_RELEASE);
}

static void *unmapper(void *arg)
{
	int first = (int)(uintptr_t)arg;

	for (unsigned round = 0; round < RACE_ROUNDS; round++)
		for (int i = first; i < RACE_SLOTS; i += 2)
			race_round(i, round);
	return NULL;
}

/* A child of a process in the middle of all that: its own maps, remaps
 * and purges must neither hang (alarm) nor fail. */
static void race_child(void)
{
	unsigned seed = 99;

	alarm(20);
	for (int i = 0; i < RACE_SLOTS; i++) {
		replace(race_base[i], RACE_LEN, PROT_NONE);
		race_base[i] = mmap(NULL, RACE_LEN, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (race_base[i] == MAP_FAILED)
			_exit(2);
	}
	for (int n = 0; n < 2000; n++)
		fine_purge(&seed);
	_exit(race_bad ? 3 : 0);
}

static void race_forks(pthread_t *purgers, int np, pthread_t *unmappers)
{
	for (int n = 0; !__atomic_load_n(&race_done, __ATOMIC_RELAXED); n++) {
		pid_t pid;
		int status = -1;

		for (int k = 0; k < np; k++)
			pthread_kill(purgers[k], SIGUSR1);
		usleep(2000);
		if (n % 25)
			continue;
		pid = n % 50 ? fork() : _Fork();
		if (pid == 0)
			race_child();
		CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
		      WIFEXITED(status) && WEXITSTATUS(status) == 0);
		if (pthread_tryjoin_np(unmappers[0], NULL) == 0 &&
		    pthread_join(unmappers[1], NULL) == 0)
			__atomic_store_n(&race_done, 1, __ATOMIC_RELAXED);
	}
}

static void race(void)
{
	pthread_t purgers[2], unmappers[2];

	signal(SIGUSR1, on_usr1);
	for (int i = 0; i < RACE_SLOTS; i++)
		race_base[i] = map(RACE_LEN);
	for (int k = 0; k < 2; k++) {
		CHECK(pthread_create(&purgers[k], NULL, purger,
				     (void *)(uintptr_t)(k + 1)) == 0);
		CHECK(pthread_create(&unmappers[k], NULL, unmapper,
				     (void *)(uintptr_t)k) == 0);
	}
	race_forks(purgers, 2, unmappers);
	for (int k = 0; k < 2; k++)
		CHECK(pthread_join(purgers[k], NULL) == 0);
	printf("race: %d rounds, %lu of %d regions stopped when replaced, %lu hinted\n",
	       RACE_ROUNDS * RACE_SLOTS, race_nh, RACE_ROUNDS * RACE_SLOTS,
	       race_hg);
	CHECK(race_bad == 0);
	CHECK(race_nh > 0 && race_hg == RACE_ROUNDS * RACE_SLOTS);
}

int main(int argc, char **argv)
{
	int off = argc > 1 && !strcmp(argv[1], "off");
	int split = argc > 1 && !strcmp(argv[1], "split");
	int nosplit = argc > 1 && !strcmp(argv[1], "nosplit");
	int def = argc > 1 && !strcmp(argv[1], "auto");
	int races = argc > 1 && !strcmp(argv[1], "race");
	char buf[64] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!f || !fgets(buf, sizeof(buf), f) || !strstr(buf, "[madvise]")) {
		printf("skip: THP enabled is not madvise\n");
		return 77;
	}
	fclose(f);
	if (def) {
		int fpr = free_page_reporting();

		printf("auto: free page reporting %s: expect %s\n", fpr ? "on" : "off",
		       fpr ? "no hints" : "hints");
		bounded(!fpr);
	} else if (off) {
		bounded(0);
	} else if (races) {
		race();
	} else if (split || nosplit) {
		split_after_zap(split);
	} else {
		fine_purges_stop();
		bounded(1);
		unmap_and_errors();
	}
	CHECK_DONE();
}
