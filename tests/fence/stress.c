/* SPDX-License-Identifier: MIT */
/*
 * stress - threads fault pages into regions while the fence works on them.
 *
 * Each round: 16 regions are filled, then purged in 64 KiB pieces (the
 * ledger sees them complete).  Worker threads then take pages all over
 * them, as an allocator reusing purged memory would: plain stores, read(2)
 * from a memfd into the page (a kernel-mode fault), process_vm_readv on
 * ourselves (GUP), and give most of them back with a 4 KiB MADV_DONTNEED,
 * while the main thread asks the fence for pass after pass and a
 * signaller interrupts the workers.  Afterwards every page must hold exactly what was last written
 * to it, or zeros if nothing was: never zeros where data was written, no
 * EFAULT, no short read.  The fence must have zapped regions, and faults
 * must have waited in its windows.
 *
 * usage: stress [ROUNDS]
 */
#include "fence_test.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/uio.h>

#define NREG	16
#define NWORK	3
#define OPS	1500

static char *area;
static int memfd;
static unsigned round_no;
static volatile int running;
static pthread_barrier_t bar;
static uint8_t written[NREG * NPG];	/* 0 none, 1 store, 2 read(2), 3 vm_readv */
static uint64_t sigs, kernel_io, stores;
static unsigned done;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static uint64_t tag_of(unsigned page)
{
	return mix(((uint64_t)round_no << 32) | page) | 1;
}

/* The memfd holds, at page i, what page i gets by read(2). */
static void memfd_fill(void)
{
	static uint64_t buf[PG / 8];

	for (unsigned i = 0; i < NREG * NPG; i++) {
		for (size_t k = 0; k < PG / 8; k++)
			buf[k] = tag_of(i) ^ k;
		if (pwrite(memfd, buf, PG, (off_t)i * PG) != (ssize_t)PG)
			die("pwrite memfd");
	}
}

static void on_sig(int s)
{
	(void)s;
	__atomic_fetch_add(&sigs, 1, __ATOMIC_RELAXED);
}

/* One page, one way of writing it; false (and a failure) on error. */
static bool write_page(unsigned i, unsigned how)
{
	char *pg = area + (size_t)i * PG;

	if (how == 0) {
		/* read(2) into the page: the kernel faults it in. */
		ssize_t r = pread(memfd, pg, PG, (off_t)i * PG);

		if (r != (ssize_t)PG) {
			fprintf(stderr, "FAIL: read(2) into %p: %zd (%s)\n",
				(void *)pg, r, strerror(errno));
			return false;
		}
		__atomic_fetch_add(&kernel_io, 1, __ATOMIC_RELAXED);
	} else if (how == 1) {
		/* GUP on ourselves, into our own page. */
		static __thread uint64_t src[PG / 8];
		struct iovec l = { pg, PG }, r = { src, PG };

		for (size_t k = 0; k < PG / 8; k++)
			src[k] = tag_of(i) ^ k;
		if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) != (ssize_t)PG) {
			fprintf(stderr, "FAIL: process_vm_readv into %p: %s\n",
				(void *)pg, strerror(errno));
			return false;
		}
		__atomic_fetch_add(&kernel_io, 1, __ATOMIC_RELAXED);
	} else {
		uint64_t *q = (uint64_t *)pg;

		for (size_t k = 0; k < PG / 8; k++)
			q[k] = tag_of(i) ^ k;
		__atomic_fetch_add(&stores, 1, __ATOMIC_RELAXED);
	}
	/* Read back at once. */
	for (size_t k = 0; k < PG / 8; k += 61)
		if (((uint64_t *)pg)[k] != (tag_of(i) ^ k)) {
			fprintf(stderr, "FAIL: page %u word %zu lost right after writing it\n",
				i, k);
			return false;
		}
	return true;
}

/*
 * Like an allocator: take a page (a fault, often into a region the fence
 * is working on), write it, check it, and often give it back with a small
 * MADV_DONTNEED, which makes its region a candidate again.
 */
static void *worker(void *arg)
{
	unsigned w = (unsigned)(uintptr_t)arg;

	for (;;) {
		pthread_barrier_wait(&bar);
		if (!running)
			return NULL;
		for (unsigned op = 0; op < OPS; op++) {
			uint64_t h = mix(((uint64_t)round_no << 40) ^
					 ((uint64_t)w << 32) ^ op);
			/* Pages i with i % NWORK == w are this worker's;
			 * the workers move through the regions together, so
			 * faults crowd where windows open. */
			unsigned reg = (op / 32 + round_no) % NREG;
			unsigned i = reg * NPG +
				     (unsigned)((h % (NPG / NWORK)) * NWORK + w);

			if (written[i])
				continue;
			if (!write_page(i, (unsigned)((h >> 32) % 4))) {
				CHECK(0, "writing page %u", i);
				continue;
			}
			written[i] = 1;
			if ((h >> 40) % 8) {
				if (madvise(area + (size_t)i * PG, PG, MADV_DONTNEED))
					die("madvise");
				written[i] = 0;
			}
			if (op % 64 == 0)
				sched_yield();
		}
		__atomic_fetch_add(&done, 1, __ATOMIC_SEQ_CST);
		pthread_barrier_wait(&bar);
	}
}

static void *signaller(void *arg)
{
	pthread_t *ws = arg;
	struct timespec ts = { 0, 200000 };

	while (running) {
		for (int i = 0; i < NWORK; i++)
			pthread_kill(ws[i], SIGUSR1);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void check_round(void)
{
	unsigned bad = 0;

	for (unsigned i = 0; i < NREG * NPG; i++) {
		const uint64_t *q = (const uint64_t *)(area + (size_t)i * PG);

		for (size_t k = 0; k < PG / 8; k++) {
			uint64_t want = written[i] ? tag_of(i) ^ k : 0;

			if (q[k] != want) {
				if (bad++ < 5)
					fprintf(stderr, "FAIL: round %u page %u (%s) word %zu: %#llx, want %#llx\n",
						round_no, i,
						written[i] ? "written" : "purged",
						k, (unsigned long long)q[k],
						(unsigned long long)want);
				break;
			}
		}
	}
	CHECK(bad == 0, "round %u: %u pages wrong", round_no, bad);
}

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 40;
	struct ptreclaim_fence_stats st;
	pthread_t ws[NWORK], sg;
	struct sigaction sa;
	long pte0;

	api_init_active();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
	area = map_regions(NREG);
	memfd = memfd_create("fence-stress", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)NREG * PMD))
		die("memfd");
	pthread_barrier_init(&bar, NULL, NWORK + 1);
	running = 1;
	for (int i = 0; i < NWORK; i++)
		pthread_create(&ws[i], NULL, worker, (void *)(uintptr_t)i);
	pthread_create(&sg, NULL, signaller, ws);

	/* The rounds asked for, and more (up to ten times as many) until a
	 * fault has met an open window. */
	for (round_no = 1; round_no <= rounds ||
	     (round_no <= 10 * rounds && !fstats().faults_in_window);
	     round_no++) {
		memfd_fill();
		fill_pages(area, NREG * NPG, round_no);
		purge_pieces(area, NREG * PMD, MADV_DONTNEED);
		memset(written, 0, sizeof(written));
		pte0 = status_kb("VmPTE");
		done = 0;
		pthread_barrier_wait(&bar);	/* workers go */
		/* Passes, back to back, while the workers fault. */
		while (__atomic_load_n(&done, __ATOMIC_SEQ_CST) < NWORK)
			flush();
		pthread_barrier_wait(&bar);	/* workers done */
		flush();
		check_round();
		if (round_no == 1)
			printf("stress: round %u VmPTE %ld -> %ld kB\n", round_no,
			       pte0, status_kb("VmPTE"));
	}
	rounds = round_no - 1;
	running = 0;
	pthread_barrier_wait(&bar);
	for (int i = 0; i < NWORK; i++)
		pthread_join(ws[i], NULL);
	pthread_join(sg, NULL);

	st = fstats();
	printf("stress: rounds=%u stores=%llu kernel_io=%llu signals=%llu windows=%llu zapped=%llu not_empty=%llu faults_in_window=%llu window_us_max=%llu\n",
	       rounds, (unsigned long long)stores,
	       (unsigned long long)kernel_io, (unsigned long long)sigs,
	       (unsigned long long)st.windows,
	       (unsigned long long)st.regions_zapped,
	       (unsigned long long)st.skipped_not_empty,
	       (unsigned long long)st.faults_in_window,
	       (unsigned long long)(st.window_ns_max / 1000));
	CHECK(st.windows > 0, "the fence opened no window");
	CHECK(st.regions_zapped > 0, "the fence zapped nothing");
	CHECK(st.faults_in_window > 0,
	      "no fault ever waited in a window: the stress did not stress");
	CHECK_DONE();
}
