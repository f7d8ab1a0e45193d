/* SPDX-License-Identifier: MIT */
/*
 * hint - the hinting policy under the preloaded shim (PTRECLAIM_CONF
 * hint:on, hint_min:4M; hint:off with argument "off"; the split after a
 * zap with argument "split", and hint_split:0 with "nosplit"; the
 * default, hint:auto, with argument "auto": hints unless a virtio balloon
 * reports free pages).  Checks VMA flags (smaps VmFlags hg/nh),
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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

int main(int argc, char **argv)
{
	int off = argc > 1 && !strcmp(argv[1], "off");
	int split = argc > 1 && !strcmp(argv[1], "split");
	int nosplit = argc > 1 && !strcmp(argv[1], "nosplit");
	int def = argc > 1 && !strcmp(argv[1], "auto");
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
	} else if (split || nosplit) {
		split_after_zap(split);
	} else {
		fine_purges_stop();
		bounded(1);
		unmap_and_errors();
	}
	CHECK_DONE();
}
