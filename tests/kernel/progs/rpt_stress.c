// SPDX-License-Identifier: MIT
/*
 * Concurrency stress for MADV_RECLAIM_PT.
 *
 * One private anonymous region of NPMD PMD-sized spans.  Each span has an
 * owner thread that writes, verifies and purges it (MADV_DONTNEED in
 * 64 KiB pieces, the way allocators give memory back), so spans keep going
 * empty and being faulted in again.  Owners:
 *   writers     fill, verify, purge, refill: no write may be lost;
 *   mremapper   moves its spans away (MREMAP_DONTUNMAP) and back, verifies;
 *   forker      forks; the child verifies and purges its copy, reclaims
 *               its own tables; the parent checks its bytes are unchanged;
 *   reader      process_vm_readv() of its own spans (checked) and of the
 *               whole region (GUP over racing tables, unchecked);
 *   purger      faults in random pages and purges random sub-PMD ranges;
 * while reclaimer threads run MADV_RECLAIM_PT, and process_madvise() on
 * the process itself, over the whole region and random parts of it.
 *
 * Usage: rpt_stress [SECONDS]   (default 60)
 */
#include "rpt.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define NPMD		16
#define CHUNK		(64UL << 10)
#define CHUNKS		(PMD_SZ / CHUNK)
#define WORDS		(CHUNK / 8)

enum role { WRITER0, WRITER1, WRITER2, MREMAPPER, FORKER, READER,
	    PURGER0, PURGER1, NROLES };

static char *region;
static int adv;
static atomic_int stop;
static atomic_long errors, ops[NROLES + 2], reclaim_calls, reclaim_enomem;
static const char *names[NROLES + 2] = {
	"writer0", "writer1", "writer2", "mremapper", "forker", "reader",
	"purger0", "purger1", "reclaim", "preclaim",
};

/* Per chunk, the value written last (0: purged, reads as zero). */
static uint64_t shadow[NPMD][CHUNKS];

static char *span(int p)
{
	return region + p * PMD_SZ;
}

static void fail(const char *who, const char *what, int p, int c,
		 uint64_t want, uint64_t got)
{
	atomic_fetch_add(&errors, 1);
	fprintf(stderr, "ERROR %s: %s: span %d chunk %d want %#llx got %#llx\n",
		who, what, p, c, (unsigned long long)want,
		(unsigned long long)got);
}

static uint64_t xr(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill_chunk(char *base, int p, int c, uint64_t v)
{
	uint64_t *w = (uint64_t *)(base + c * CHUNK);
	unsigned long i;

	for (i = 0; i < WORDS; i++)
		w[i] = v + i;
	shadow[p][c] = v;
}

static int check_chunk(const char *who, char *base, int p, int c)
{
	uint64_t *w = (uint64_t *)(base + c * CHUNK);
	uint64_t v = shadow[p][c];
	unsigned long i;

	for (i = 0; i < WORDS; i++) {
		uint64_t want = v ? v + i : 0;

		if (w[i] != want) {
			fail(who, "lost write", p, c, want, w[i]);
			return 0;
		}
	}
	return 1;
}

static void purge_chunk(char *base, int p, int c)
{
	if (madvise(base + c * CHUNK, CHUNK, MADV_DONTNEED))
		die("MADV_DONTNEED");
	shadow[p][c] = 0;
}

static void purge_span(char *base, int p)
{
	unsigned int c;

	for (c = 0; c < CHUNKS; c++)
		purge_chunk(base, p, c);
}

static void check_span(const char *who, char *base, int p)
{
	unsigned int c;

	for (c = 0; c < CHUNKS; c++)
		check_chunk(who, base, p, c);
}

/* The spans a role owns: p % NROLES == role. */
static int own_span(int role, uint64_t *s)
{
	return role + NROLES * (int)(xr(s) % (NPMD / NROLES));
}

static void writer(int role, uint64_t *s)
{
	int p = own_span(role, s), c = xr(s) % CHUNKS, k;
	uint64_t v = (xr(s) | 1) & ~0xffffULL;

	switch (xr(s) % 6) {
	case 0:
	case 1:		/* write some chunks */
		for (k = 0; k < 4; k++, c = (c + 7) % CHUNKS)
			fill_chunk(span(p), p, c, v + ((uint64_t)k << 20));
		check_chunk(names[role], span(p), p, c);
		break;
	case 2:		/* verify the span (faults purged chunks in) */
		check_span(names[role], span(p), p);
		break;
	case 3:		/* give the whole span back in pieces */
	case 4:
		purge_span(span(p), p);
		usleep(xr(s) % 2000);
		break;
	case 5:
		purge_chunk(span(p), p, c);
		break;
	}
}

static char *scratch;

static void mremapper(uint64_t *s)
{
	int p = own_span(MREMAPPER, s), c;
	char *to;

	for (c = 0; c < (int)CHUNKS; c += 5)
		fill_chunk(span(p), p, c, (xr(s) | 1) & ~0xffffULL);
	if (xr(s) & 1)
		purge_span(span(p), p);
	/* Move the span out: its old place stays mapped, empty. */
	to = mremap(span(p), PMD_SZ, PMD_SZ,
		    MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, scratch);
	if (to == MAP_FAILED)
		die("mremap out");
	check_span("mremapper(moved)", to, p);
	/* ... and back over the empty place, then verify. */
	if (mremap(to, PMD_SZ, PMD_SZ, MREMAP_MAYMOVE | MREMAP_FIXED,
		   span(p)) == MAP_FAILED)
		die("mremap back");
	check_span("mremapper", span(p), p);
	scratch = mmap(scratch, PMD_SZ, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (scratch == MAP_FAILED)
		scratch = map_aligned(PMD_SZ, PROT_NONE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1);
	if (xr(s) & 1)
		purge_span(span(p), p);
}

static void forker(uint64_t *s)
{
	int p = own_span(FORKER, s), c, st;
	pid_t pid;

	for (c = 0; c < (int)CHUNKS; c += 3)
		fill_chunk(span(p), p, c, (xr(s) | 1) & ~0xffffULL);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int q, bad = 0;

		for (q = FORKER; q < NPMD; q += NROLES) {
			for (c = 0; c < (int)CHUNKS; c++)
				bad += !check_chunk("fork child", span(q), q, c);
			purge_span(span(q), q);
			if (madvise(span(q), PMD_SZ, adv))
				bad++;
			fill_chunk(span(q), q, 1, 0x5a5a0000);
		}
		_exit(bad ? 1 : 0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("forker", "child failed", p, 0, 0, st);
	check_span("forker", span(p), p);
	if (xr(s) & 1)
		purge_span(span(p), p);
}

static void reader(uint64_t *s)
{
	static char buf[PMD_SZ];
	int p = own_span(READER, s), c;
	struct iovec l = { buf, PMD_SZ }, r = { span(p), PMD_SZ };

	for (c = 0; c < (int)CHUNKS; c += 2)
		fill_chunk(span(p), p, c, (xr(s) | 1) & ~0xffffULL);
	if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) != (ssize_t)PMD_SZ)
		die("process_vm_readv");
	for (c = 0; c < (int)CHUNKS; c++)
		check_chunk("reader(readv)", buf, p, c);
	/* Unchecked GUP over spans others are purging and reclaiming. */
	r.iov_base = span(xr(s) % NPMD);
	process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	if (xr(s) % 3)
		purge_span(span(p), p);
}

static void purger(int role, uint64_t *s)
{
	int p = own_span(role, s);
	unsigned long off = (xr(s) % (PMD_SZ / PG)) * PG;
	unsigned long len = ((xr(s) % 64) + 1) * PG;
	char *a = span(p);

	if (off + len > PMD_SZ)
		len = PMD_SZ - off;
	if (xr(s) & 1) {
		unsigned long i;

		for (i = 0; i < len; i += PG)
			a[off + i] = 1;
	}
	if (madvise(a + off, len, MADV_DONTNEED))
		die("MADV_DONTNEED");
	if (a[off] || a[off + len - 1])
		fail(names[role], "not zero after DONTNEED", p, off / CHUNK, 0,
		     a[off]);
	if (xr(s) % 4 == 0)
		purge_span(a, p);
}

static void *owner_thread(void *arg)
{
	int role = (int)(long)arg;
	uint64_t s = 0x9e3779b97f4a7c15ULL * (role + 1);

	while (!atomic_load(&stop)) {
		switch (role) {
		case MREMAPPER:
			mremapper(&s);
			break;
		case FORKER:
			forker(&s);
			break;
		case READER:
			reader(&s);
			break;
		case PURGER0:
		case PURGER1:
			purger(role, &s);
			break;
		default:
			writer(role, &s);
			break;
		}
		atomic_fetch_add(&ops[role], 1);
	}
	/* Final check of everything this owner wrote. */
	if (role <= WRITER2 || role == FORKER || role == MREMAPPER ||
	    role == READER) {
		int p;

		for (p = role; p < NPMD; p += NROLES)
			check_span(names[role], span(p), p);
	}
	return NULL;
}

static void *reclaim_thread(void *arg)
{
	int via_pidfd = (int)(long)arg;
	uint64_t s = 12345 + via_pidfd;
	int pidfd = syscall(SYS_pidfd_open, getpid(), 0);

	while (!atomic_load(&stop)) {
		unsigned long first = xr(&s) % NPMD, n = xr(&s) % NPMD + 1;
		char *a = region;
		size_t len = NPMD * PMD_SZ;
		long r;

		if (xr(&s) % 2) {	/* part of the region, maybe unaligned */
			if (first + n > NPMD)
				n = NPMD - first;
			a = region + first * PMD_SZ + (xr(&s) % 3) * PG;
			len = n * PMD_SZ;
			if (a + len > region + NPMD * PMD_SZ)
				len -= PG * 3;
		}
		if (via_pidfd) {
			struct iovec iov = { a, len };

			r = syscall(SYS_process_madvise, pidfd, &iov, 1, adv, 0);
			r = r == (long)len ? 0 : -1;
		} else {
			r = madvise(a, len, adv);
		}
		if (r && errno != ENOMEM) {
			fail("reclaim", strerror(errno), 0, 0, 0, errno);
		} else if (r) {
			atomic_fetch_add(&reclaim_enomem, 1);
		}
		atomic_fetch_add(&reclaim_calls, 1);
		atomic_fetch_add(&ops[NROLES + via_pidfd], 1);
		usleep(xr(&s) % 500);
	}
	close(pidfd);
	return NULL;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 60;
	pthread_t th[NROLES + 2];
	long freed0, skip0, pte0;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	adv = rpt_advice();
	if (adv < 0) {
		printf("FAIL: MADV_RECLAIM_PT not available\n");
		return 1;
	}
	region = map_anon(NPMD * PMD_SZ);
	scratch = map_aligned(PMD_SZ, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	freed0 = vmstat("reclaim_pt_freed");
	skip0 = vmstat("reclaim_pt_not_empty");
	pte0 = status_kb("VmPTE");
	printf("stress: %d s, %d spans of 2 MiB, %d owner threads, 2 reclaimers\n",
	       secs, NPMD, NROLES);
	for (i = 0; i < NROLES; i++)
		pthread_create(&th[i], NULL, owner_thread, (void *)(long)i);
	for (i = 0; i < 2; i++)
		pthread_create(&th[NROLES + i], NULL, reclaim_thread,
			       (void *)(long)i);
	for (i = 0; i < secs && !atomic_load(&errors); i++) {
		sleep(1);
		if (i % 15 == 14)
			printf("  %3d s: freed %ld tables so far, VmPTE %ld kB, errors %ld\n",
			       i + 1, vmstat("reclaim_pt_freed") - freed0,
			       status_kb("VmPTE"), atomic_load(&errors));
	}
	atomic_store(&stop, 1);
	for (i = 0; i < NROLES + 2; i++)
		pthread_join(th[i], NULL);

	/* Everything purged: the advice must now free every table. */
	for (i = 0; i < NPMD; i++)
		purge_span(span(i), i);
	{
		long before = status_kb("VmPTE");
		long f0 = vmstat("reclaim_pt_freed");

		if (madvise(region, NPMD * PMD_SZ, adv))
			fail("final", "reclaim", 0, 0, 0, errno);
		printf("final: VmPTE %ld -> %ld kB, freed %ld\n", before,
		       status_kb("VmPTE"), vmstat("reclaim_pt_freed") - f0);
	}
	for (i = 0; i < NROLES + 2; i++)
		printf("  %-10s %ld ops\n", names[i], atomic_load(&ops[i]));
	printf("reclaim calls %ld (ENOMEM %ld); tables freed %ld, passed over %ld; VmPTE at start %ld kB\n",
	       atomic_load(&reclaim_calls), atomic_load(&reclaim_enomem),
	       vmstat("reclaim_pt_freed") - freed0,
	       vmstat("reclaim_pt_not_empty") - skip0, pte0);
	if (vmstat("reclaim_pt_freed") - freed0 < 10) {
		printf("FAIL: too few tables were freed to mean anything\n");
		return 1;
	}
	printf("%s: %ld error(s)\n", atomic_load(&errors) ? "FAIL" : "PASS",
	       atomic_load(&errors));
	return atomic_load(&errors) ? 1 : 0;
}
