// SPDX-License-Identifier: MIT
/*
 * Break test for MADV_RECLAIM_PT, for the "debug" kernel (KASAN,
 * MMU_NOTIFIER with the HMM test driver, SWAP, BLOCK, IO_URING, KSM).
 *
 * Usage: rpt_break SECONDS [--expect-failure]
 *
 * Each 2 MiB span of the test regions belongs to one worker thread, which
 * keeps, per 64 KiB block, what the block must hold (a tag in every
 * word, zero, a lazily freed tag, or the disk's bytes), and cycles: fill
 * some blocks (by its own means: stores, O_DIRECT or io_uring reads into
 * the purged block, the HMM device, vmsplice), verify every block, purge
 * the whole span in 64 KiB pieces (MADV_DONTNEED or MADV_FREE), verify
 * again.  Spans are thus empty again and again, and refilled right away,
 * while one thread applies the advice to everything in a loop (and
 * through process_madvise()), every other round the lazyfree advice,
 * which also discards clean lazily freed pages.  Around them: khugepaged and MADV_COLLAPSE
 * on a MADV_HUGEPAGE region, KSM merging, compaction, a child that puts
 * the VM under memory pressure (swap on /dev/vda, lazyfree discard),
 * uffd-wp write protection of unpopulated ranges with a fault handler,
 * fork with checks in the child, mprotect splits.
 *
 * Any block that does not hold what its owner put there fails the test
 * (exit 1).  With the negative control's knob
 * (/sys/module/reclaim_pt/parameters/debug_skip_recheck) the kernel frees
 * tables without the recheck under the locks, and the test must fail:
 * --expect-failure sets the knob, and then exits 0 if a loss was found.
 */
#include "rpt.h"

#include <linux/io_uring.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
#endif

#define BLK		(64UL << 10)
#define BPS		(PMD_SZ / BLK)		/* blocks per span */
#define WPB		(BLK / 8)		/* words per block */
#define DISK_DATA	"/dev/vdb"
#define DISK_SWAP	"/dev/vda"

/* HMM test driver (lib/test_hmm_uapi.h). */
struct hmm_dmirror_cmd {
	uint64_t addr, ptr, npages, cpages, faults;
};
#define HMM_DMIRROR_READ	_IOWR('H', 0x00, struct hmm_dmirror_cmd)

enum kind { K_STORE, K_ODIRECT, K_URING, K_HMM, K_SPLICE, K_FORK,
	    K_UFFD, K_THP, NKINDS };
static const char *kind_name[] = { "store", "odirect", "io_uring", "hmm",
				   "vmsplice", "fork", "uffd-wp", "thp" };

enum bstate { B_ZERO, B_TAG, B_LAZY, B_DISK };

struct block {
	enum bstate st;
	uint64_t tag;
	off_t disk_off;
};

struct worker {
	enum kind kind;
	int id;
	char *base;		/* first span */
	int nspans;
	int stride;		/* spans between two of ours */
	struct block *blocks;	/* nspans * BPS */
	unsigned int seed;
	long cycles;
	uint64_t tagseq;
	/* io_uring */
	int ring_fd;
	struct io_uring_sqe *sqes;
	unsigned int *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail,
		     *cq_mask;
	struct io_uring_cqe *cqes;
};

static atomic_int stop, failed, handler_stop;
static int adv, adv_lazy = -1, data_fd = -1, hmm_fd = -1, uffd = -1;
static double t_end;
static char *reg_r, *reg_h, *reg_u;
static size_t len_r, len_h, len_u;
static long advice_calls, freed_start;

static void fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&failed, 1) < 5) {
		va_start(ap, fmt);
		printf("FAIL [%s %d]: ", w ? kind_name[w->kind] : "-",
		       w ? w->id : -1);
		vprintf(fmt, ap);
		printf("\n");
		va_end(ap);
	}
	atomic_store(&stop, 1);
}

static uint64_t disk_word(off_t off)
{
	return 0x5d15c0ffee000000ULL ^ (uint64_t)off;
}

static char *blk_addr(struct worker *w, int b)
{
	int span = b / BPS;

	return w->base + (size_t)span * w->stride * PMD_SZ +
	       (size_t)(b % BPS) * BLK;
}

/* Check @buf (a copy of block @b, or the block itself) against its state. */
static int check_words(struct worker *w, int b, const uint64_t *p)
{
	struct block *bl = &w->blocks[b];
	size_t i, pg;

	for (pg = 0; pg < BLK / PG; pg++) {
		const uint64_t *q = p + pg * (PG / 8);
		int zero_page = 1, tag_page = 1;

		for (i = 0; i < PG / 8; i += 61) {
			uint64_t want = 0;

			switch (bl->st) {
			case B_ZERO:
				break;
			case B_TAG:
				want = bl->tag;
				break;
			case B_DISK:
				want = disk_word(bl->disk_off + pg * PG + i * 8);
				break;
			case B_LAZY:
				/* Either kept or discarded, per page. */
				if (q[i])
					zero_page = 0;
				if (q[i] != bl->tag)
					tag_page = 0;
				continue;
			}
			if (q[i] != want) {
				fail(w, "block %d (%p) page %zu word %zu: %#llx, want %#llx (state %d)",
				     b, (void *)blk_addr(w, b), pg, i,
				     (unsigned long long)q[i],
				     (unsigned long long)want, bl->st);
				return -1;
			}
		}
		if (bl->st == B_LAZY && !zero_page && !tag_page) {
			fail(w, "lazily freed block %d page %zu: mixed", b, pg);
			return -1;
		}
	}
	return 0;
}

static void verify(struct worker *w, int b)
{
	struct hmm_dmirror_cmd cmd;
	static __thread uint64_t *buf;

	if (w->kind == K_HMM && hmm_fd >= 0) {
		/* Read it through the device's mirror of our page tables. */
		if (!buf)
			buf = malloc(BLK);
		memset(&cmd, 0, sizeof(cmd));
		cmd.addr = (uintptr_t)blk_addr(w, b);
		cmd.ptr = (uintptr_t)buf;
		cmd.npages = BLK / PG;
		if (ioctl(hmm_fd, HMM_DMIRROR_READ, &cmd)) {
			fail(w, "HMM_DMIRROR_READ: %s", strerror(errno));
			return;
		}
		check_words(w, b, buf);
		return;
	}
	check_words(w, b, (const uint64_t *)blk_addr(w, b));
}

static void store_tag(struct worker *w, int b)
{
	uint64_t *p = (uint64_t *)blk_addr(w, b);
	uint64_t tag = ((uint64_t)w->id << 48) ^ ((uint64_t)b << 24) ^
		       ++w->tagseq ^ 0x100000000ULL;
	size_t i;

	for (i = 0; i < WPB; i++)
		p[i] = tag;
	w->blocks[b].st = B_TAG;
	w->blocks[b].tag = tag;
}

static off_t pick_disk_off(struct worker *w)
{
	/* 64 MiB of pattern on the data disk. */
	return (off_t)(rand_r(&w->seed) % 1024) * BLK;
}

static void fill_odirect(struct worker *w, int b)
{
	off_t off = pick_disk_off(w);
	ssize_t n = pread(data_fd, blk_addr(w, b), BLK, off);

	if (n != (ssize_t)BLK) {
		fail(w, "O_DIRECT pread: %zd %s", n, strerror(errno));
		return;
	}
	w->blocks[b].st = B_DISK;
	w->blocks[b].disk_off = off;
}

static int uring_setup(struct worker *w)
{
	struct io_uring_params p;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	w->ring_fd = syscall(__NR_io_uring_setup, 4, &p);
	if (w->ring_fd < 0)
		return -1;
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned int),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		  w->ring_fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		  w->ring_fd, IORING_OFF_CQ_RING);
	w->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       w->ring_fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || w->sqes == MAP_FAILED)
		return -1;
	w->sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	w->sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	w->sq_array = (unsigned int *)(sq + p.sq_off.array);
	w->cq_head = (unsigned int *)(cq + p.cq_off.head);
	w->cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	w->cq_mask = (unsigned int *)(cq + p.cq_off.ring_mask);
	w->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

static void fill_uring(struct worker *w, int b)
{
	off_t off = pick_disk_off(w);
	unsigned int tail = *w->sq_tail, idx = tail & *w->sq_mask, head;
	struct io_uring_sqe *sqe = &w->sqes[idx];
	struct io_uring_cqe *cqe;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ;
	sqe->fd = data_fd;
	sqe->addr = (uintptr_t)blk_addr(w, b);
	sqe->len = BLK;
	sqe->off = off;
	w->sq_array[idx] = idx;
	atomic_store_explicit((_Atomic unsigned int *)w->sq_tail, tail + 1,
			      memory_order_release);
	if (syscall(__NR_io_uring_enter, w->ring_fd, 1, 1,
		    IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
		fail(w, "io_uring_enter: %s", strerror(errno));
		return;
	}
	head = atomic_load_explicit((_Atomic unsigned int *)w->cq_head,
				    memory_order_acquire);
	if (head == atomic_load_explicit((_Atomic unsigned int *)w->cq_tail,
					 memory_order_acquire)) {
		fail(w, "io_uring: no completion");
		return;
	}
	cqe = &w->cqes[head & *w->cq_mask];
	if (cqe->res != (int)BLK) {
		fail(w, "io_uring read: %d", cqe->res);
		return;
	}
	atomic_store_explicit((_Atomic unsigned int *)w->cq_head, head + 1,
			      memory_order_release);
	w->blocks[b].st = B_DISK;
	w->blocks[b].disk_off = off;
}

/* vmsplice the block into a pipe, purge it, and read the pipe back. */
static void splice_check(struct worker *w, int b)
{
	static __thread uint64_t *buf;
	struct iovec iov = { blk_addr(w, b), BLK };
	size_t got = 0;
	int p[2];

	if (!buf)
		buf = malloc(BLK);
	if (pipe(p))
		die("pipe");
	fcntl(p[1], F_SETPIPE_SZ, (int)BLK);
	if (vmsplice(p[1], &iov, 1, 0) != (ssize_t)BLK) {
		fail(w, "vmsplice: %s", strerror(errno));
		goto out;
	}
	if (madvise(blk_addr(w, b), BLK, MADV_DONTNEED))
		die("MADV_DONTNEED");
	while (got < BLK) {
		ssize_t n = read(p[0], (char *)buf + got, BLK - got);

		if (n <= 0) {
			fail(w, "pipe read: %s", strerror(errno));
			goto out;
		}
		got += n;
	}
	check_words(w, b, buf);
	w->blocks[b].st = B_ZERO;
out:
	close(p[0]);
	close(p[1]);
}

static void fill(struct worker *w, int b)
{
	switch (w->kind) {
	case K_ODIRECT:
		if (data_fd >= 0)
			return fill_odirect(w, b);
		break;
	case K_URING:
		if (w->ring_fd >= 0)
			return fill_uring(w, b);
		break;
	default:
		break;
	}
	store_tag(w, b);
}

/* Fork: the child checks our blocks and purges its own copy. */
static void fork_check(struct worker *w)
{
	int nb = w->nspans * BPS, b, st;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (!pid) {
		for (b = 0; b < nb; b++)
			check_words(w, b, (const uint64_t *)blk_addr(w, b));
		madvise(reg_r, len_r, MADV_DONTNEED);
		madvise(reg_r, len_r, adv);
		_exit(atomic_load(&failed) ? 1 : 0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st))
		fail(w, "forked child found a difference (status %#x)", st);
}

static void *uffd_handler(void *arg)
{
	struct uffd_msg msg;
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };

	(void)arg;
	/* Until every worker is gone: one may wait in a write fault. */
	while (!atomic_load(&handler_stop)) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (read(uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event == UFFD_EVENT_PAGEFAULT &&
		    (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)) {
			struct uffdio_writeprotect wp = {
				.range = { msg.arg.pagefault.address & ~(PG - 1), PG },
				.mode = 0,
			};

			if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
				fail(NULL, "UFFDIO_WRITEPROTECT(0): %s",
				     strerror(errno));
		}
	}
	return NULL;
}

static void uffd_protect(struct worker *w)
{
	struct uffdio_writeprotect wp = {
		.range = { (uintptr_t)w->base, (uint64_t)w->nspans * PMD_SZ },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	if (uffd >= 0 && ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
		fail(w, "UFFDIO_WRITEPROTECT: %s", strerror(errno));
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int nb = w->nspans * BPS, b, r;

	if (w->kind == K_URING && data_fd >= 0 && uring_setup(w))
		w->ring_fd = -1;
	while (!atomic_load(&stop) && now_ns() < t_end) {
		/* Fill a random part of every span, then verify all. */
		for (b = 0; b < nb; b++)
			if (rand_r(&w->seed) % 3 == 0)
				fill(w, b);
		if (w->kind == K_UFFD && rand_r(&w->seed) % 2)
			uffd_protect(w);
		if (w->kind == K_THP && rand_r(&w->seed) % 4 == 0)
			madvise(w->base, (size_t)w->nspans * PMD_SZ, 25);
		if (w->kind == K_STORE && rand_r(&w->seed) % 4 == 0) {
			/* Split the VMA for a while. */
			b = rand_r(&w->seed) % nb;
			if (mprotect(blk_addr(w, b), BLK, PROT_READ))
				die("mprotect");
			verify(w, b);
			if (mprotect(blk_addr(w, b), BLK, PROT_READ | PROT_WRITE))
				die("mprotect");
		}
		for (b = 0; b < nb && !atomic_load(&stop); b++)
			verify(w, b);
		if (w->kind == K_FORK)
			fork_check(w);
		if (w->kind == K_SPLICE)
			for (b = 0; b < nb; b++)
				if (w->blocks[b].st != B_ZERO)
					splice_check(w, b);
		/* Purge everything in 64 KiB pieces: spans become empty. */
		r = rand_r(&w->seed) % 4;
		for (b = 0; b < nb; b++) {
			if (r == 0 && w->blocks[b].st == B_TAG) {
				if (madvise(blk_addr(w, b), BLK, MADV_FREE))
					die("MADV_FREE");
				w->blocks[b].st = B_LAZY;
			} else if (w->blocks[b].st != B_LAZY) {
				if (madvise(blk_addr(w, b), BLK, MADV_DONTNEED))
					die("MADV_DONTNEED");
				w->blocks[b].st = B_ZERO;
			}
		}
		/*
		 * Reading a purged block maps the zero page, and the span
		 * would no longer be empty when the next round writes into
		 * it: check only now and then.
		 */
		if (rand_r(&w->seed) % 4 == 0)
			for (b = 0; b < nb && !atomic_load(&stop); b++)
				verify(w, b);
		/* Lazily freed blocks: purge for good now and then. */
		if (rand_r(&w->seed) % 2)
			for (b = 0; b < nb; b++)
				if (w->blocks[b].st == B_LAZY) {
					madvise(blk_addr(w, b), BLK, MADV_DONTNEED);
					w->blocks[b].st = B_ZERO;
				}
		w->cycles++;
	}
	return NULL;
}

static void *advice_main(void *arg)
{
	int pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	struct iovec iov[3] = {
		{ reg_r, len_r }, { reg_h, len_h }, { reg_u, len_u },
	};

	(void)arg;
	while (!atomic_load(&stop) && now_ns() < t_end) {
		/*
		 * Every other round the lazyfree advice, which also discards
		 * clean lazily freed pages: a page written since must survive.
		 */
		int a = (advice_calls % 2 && adv_lazy > 0) ? adv_lazy : adv;

		if (madvise(reg_r, len_r, a) || madvise(reg_h, len_h, a) ||
		    madvise(reg_u, len_u, a)) {
			fail(NULL, "advice %d: %s", a, strerror(errno));
			break;
		}
		if (pidfd >= 0 &&
		    syscall(SYS_process_madvise, pidfd, iov, 3, a, 0) < 0) {
			fail(NULL, "process_madvise: %s", strerror(errno));
			break;
		}
		advice_calls++;
	}
	return NULL;
}

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		printf("note: %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void *compact_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop) && now_ns() < t_end) {
		write_file("/proc/sys/vm/compact_memory", "1");
		usleep(200000);
	}
	return NULL;
}

/* A child that keeps taking most of the free memory and giving it back. */
static pid_t start_pressure(void)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	write_file("/proc/self/oom_score_adj", "1000");
	for (;;) {
		long avail = status_kb("MemAvailable");
		size_t len = (size_t)(avail > 0 ? avail : 0) * 1024 / 4 * 3;
		char *p;

		if (len < PMD_SZ) {
			usleep(100000);
			continue;
		}
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			touch(p, len, PG);
			usleep(500000);
			munmap(p, len);
		}
		sleep(2);
	}
}

/* /proc/meminfo lookup (status_kb reads /proc/self/status). */
static long meminfo_kb(const char *key)
{
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

static void setup_swap(void)
{
	static char page[PG];
	unsigned int *hdr = (unsigned int *)(page + 1024);
	off_t size;
	int fd = open(DISK_SWAP, O_RDWR);

	if (fd < 0) {
		printf("note: no %s: no swap\n", DISK_SWAP);
		return;
	}
	size = lseek(fd, 0, SEEK_END);
	hdr[0] = 1;				/* version */
	hdr[1] = size / PG - 1;			/* last page */
	memcpy(page + PG - 10, "SWAPSPACE2", 10);
	if (pwrite(fd, page, PG, 0) != PG)
		die("swap header");
	fsync(fd);
	close(fd);
	if (swapon(DISK_SWAP, 0))
		printf("note: swapon: %s\n", strerror(errno));
	else
		printf("swap on %s: %lld MiB\n", DISK_SWAP,
		       (long long)(size >> 20));
}

static void setup_disk(void)
{
	size_t chunk = 1 << 20;
	uint64_t *buf;
	off_t off;
	size_t i;
	int fd = open(DISK_DATA, O_RDWR);

	if (fd < 0) {
		printf("note: no %s: no O_DIRECT/io_uring\n", DISK_DATA);
		return;
	}
	buf = malloc(chunk);
	for (off = 0; off < 64 << 20; off += chunk) {
		for (i = 0; i < chunk / 8; i++)
			buf[i] = disk_word(off + i * 8);
		if (pwrite(fd, buf, chunk, off) != (ssize_t)chunk)
			die("disk pattern");
	}
	fsync(fd);
	close(fd);
	free(buf);
	data_fd = open(DISK_DATA, O_RDONLY | O_DIRECT);
	if (data_fd < 0)
		die("open O_DIRECT");
}

static void setup_uffd(void)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_WP_UNPOPULATED };
	struct uffdio_register reg = {
		.range = { (uintptr_t)reg_u, len_u },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) ||
	    ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		printf("note: userfaultfd wp: %s\n", strerror(errno));
		if (uffd >= 0)
			close(uffd);
		uffd = -1;
	}
}

#define NW_R	7	/* workers on region R */

int main(int argc, char **argv)
{
	static const enum kind r_kinds[NW_R] = { K_STORE, K_STORE, K_ODIRECT,
		K_URING, K_HMM, K_SPLICE, K_FORK };
	int seconds = argc > 1 ? atoi(argv[1]) : 60;
	int expect_failure = argc > 2 && !strcmp(argv[2], "--expect-failure");
	struct worker w[NW_R + 2];
	pthread_t th[NW_R + 2], adv_th, cmp_th, uffd_th;
	int spans_per = 3, i, nw = 0;
	pid_t pressure;
	long freed;

	setvbuf(stdout, NULL, _IOLBF, 0);
	adv = rpt_advice();
	adv_lazy = rpt_advice_lazyfree();
	if (adv < 0) {
		printf("FAIL: MADV_RECLAIM_PT not available\n");
		return 1;
	}
	write_file("/proc/self/oom_score_adj", "-1000");
	if (expect_failure)
		write_file("/sys/module/reclaim_pt/parameters/debug_skip_recheck",
			   "Y");
	setup_swap();
	setup_disk();
	hmm_fd = open("/dev/hmm_dmirror0", O_RDWR);
	if (hmm_fd < 0)
		printf("note: /dev/hmm_dmirror0: %s\n", strerror(errno));
	write_file("/sys/kernel/mm/ksm/sleep_millisecs", "20");
	write_file("/sys/kernel/mm/ksm/pages_to_scan", "2000");
	write_file("/sys/kernel/mm/ksm/run", "1");
	write_file("/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs", "50");
	write_file("/sys/kernel/mm/transparent_hugepage/khugepaged/alloc_sleep_millisecs", "50");

	len_r = (size_t)NW_R * spans_per * PMD_SZ;
	reg_r = map_aligned(len_r, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1);
	madvise(reg_r, len_r, MADV_NOHUGEPAGE);
	madvise(reg_r, len_r, MADV_MERGEABLE);
	len_h = 4 * PMD_SZ;
	reg_h = map_aligned(len_h, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1);
	madvise(reg_h, len_h, MADV_HUGEPAGE);
	len_u = 2 * PMD_SZ;
	reg_u = map_aligned(len_u, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1);
	setup_uffd();

	memset(w, 0, sizeof(w));
	for (i = 0; i < NW_R; i++, nw++) {
		w[nw].kind = r_kinds[i];
		w[nw].base = reg_r + (size_t)i * PMD_SZ;
		w[nw].nspans = spans_per;
		w[nw].stride = NW_R;
	}
	w[nw].kind = K_THP;
	w[nw].base = reg_h;
	w[nw].nspans = 4;
	w[nw].stride = 1;
	nw++;
	w[nw].kind = K_UFFD;
	w[nw].base = reg_u;
	w[nw].nspans = 2;
	w[nw].stride = 1;
	nw++;

	freed_start = vmstat("reclaim_pt_freed");
	pressure = start_pressure();
	t_end = now_ns() + seconds * 1e9;
	for (i = 0; i < nw; i++) {
		w[i].id = i;
		w[i].seed = 12345 + i;
		w[i].ring_fd = -1;
		w[i].blocks = calloc((size_t)w[i].nspans * BPS,
				     sizeof(struct block));
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	if (uffd >= 0)
		pthread_create(&uffd_th, NULL, uffd_handler, NULL);
	pthread_create(&adv_th, NULL, advice_main, NULL);
	pthread_create(&cmp_th, NULL, compact_main, NULL);

	for (i = 0; i < nw; i++)
		pthread_join(th[i], NULL);
	atomic_store(&stop, 1);
	atomic_store(&handler_stop, 1);
	pthread_join(adv_th, NULL);
	pthread_join(cmp_th, NULL);
	if (uffd >= 0)
		pthread_join(uffd_th, NULL);
	kill(pressure, SIGKILL);
	waitpid(pressure, NULL, 0);

	freed = vmstat("reclaim_pt_freed") - freed_start;
	printf("advice rounds %ld, tables freed %ld, not_empty %ld, changed %ld, write_locked %ld\n",
	       advice_calls, freed, vmstat("reclaim_pt_not_empty"),
	       vmstat("reclaim_pt_changed"), vmstat("reclaim_pt_write_locked"));
	printf("lazyfree advice %d: pages discarded %ld, spans put back %ld\n",
	       adv_lazy, vmstat("reclaim_pt_lazyfree_discarded"),
	       vmstat("reclaim_pt_lazyfree_kept"));
	printf("swap: SwapTotal %ld kB SwapFree %ld kB; pswpout %ld; thp_collapse_alloc %ld; ksm pages_shared via sysfs; compact_stall %ld\n",
	       meminfo_kb("SwapTotal"), meminfo_kb("SwapFree"),
	       vmstat("pswpout"), vmstat("thp_collapse_alloc"),
	       vmstat("compact_stall"));
	for (i = 0; i < nw; i++)
		printf("worker %d %s: %ld cycles\n", i, kind_name[w[i].kind],
		       w[i].cycles);
	if (expect_failure) {
		if (atomic_load(&failed)) {
			printf("PASS: the negative control lost data, as it must\n");
			return 0;
		}
		printf("FAIL: with the recheck skipped no loss was found\n");
		return 1;
	}
	if (atomic_load(&failed))
		return 1;
	if (freed < 100) {
		printf("FAIL: only %ld tables freed: the test did not test\n",
		       freed);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
