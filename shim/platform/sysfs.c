/* SPDX-License-Identifier: MIT */
/*
 * sysfs.c - the kernel's settings and counters that matter to us:
 * MADV_RECLAIM_PT's and MADV_RECLAIM_PT_LAZYFREE's numbers (our kernel
 * series), THP and mTHP switches and
 * counters, and whether a virtio balloon reports free pages to the host.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"

#define RPT_DIR "/sys/kernel/mm/reclaim_pt"

/* A number the series publishes, or -1: a kernel without the file may use
 * the same number for something else one day, so it is never guessed. */
static int advice_number(const char *path)
{
	long v = pr_read_long(path, -1);

	return v > 0 && v < 4096 ? (int)v : -1;
}

int pr_sysfs_reclaim_pt_advice(void)
{
	return advice_number(RPT_DIR "/advice");
}

int pr_sysfs_reclaim_pt_advice_lazyfree(void)
{
	return advice_number(RPT_DIR "/advice_lazyfree");
}

/* "always [madvise] never" -> "madvise". */
static void bracketed(const char *path, char *out, size_t len)
{
	char buf[256];
	const char *lb, *rb;

	snprintf(out, len, "%s", "absent");
	if (pr_read_file(path, buf, sizeof(buf)) <= 0)
		return;
	lb = strchr(buf, '[');
	rb = lb ? strchr(lb, ']') : NULL;
	if (lb && rb && rb - lb - 1 < (long)len)
		snprintf(out, len, "%.*s", (int)(rb - lb - 1), lb + 1);
	else
		snprintf(out, len, "%.*s", (int)strcspn(buf, "\n"), buf);
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* One hugepages-NkB directory: its size and anon switch. */
static void add_mthp(struct pr_thp *t, const char *name)
{
	char path[256], *end;
	unsigned kb;

	if (strncmp(name, "hugepages-", 10) || t->nr_mthp >= PR_MAX_MTHP)
		return;
	kb = (unsigned)strtoul(name + 10, &end, 10);
	if (strcmp(end, "kB"))
		return;
	t->mthp[t->nr_mthp].kb = kb;
	snprintf(path, sizeof(path), THP_DIR "/%s/enabled", name);
	bracketed(path, t->mthp[t->nr_mthp].enabled,
		  sizeof(t->mthp[0].enabled));
	/* Sizes only shmem can use have no anon switch. */
	if (strcmp(t->mthp[t->nr_mthp].enabled, "absent"))
		t->nr_mthp++;
}

static void sort_mthp(struct pr_thp *t)
{
	for (unsigned i = 1; i < t->nr_mthp; i++)
		for (unsigned j = i; j > 0 && t->mthp[j - 1].kb > t->mthp[j].kb;
		     j--) {
			struct pr_mthp tmp = t->mthp[j];

			t->mthp[j] = t->mthp[j - 1];
			t->mthp[j - 1] = tmp;
		}
}

void pr_sysfs_thp(struct pr_thp *t)
{
	char buf[4096];
	long fd, n;

	memset(t, 0, sizeof(*t));
	bracketed(THP_DIR "/enabled", t->enabled, sizeof(t->enabled));
	bracketed(THP_DIR "/defrag", t->defrag, sizeof(t->defrag));
	bracketed(THP_DIR "/shmem_enabled", t->shmem_enabled,
		  sizeof(t->shmem_enabled));
	t->max_ptes_none = pr_read_long(THP_DIR "/khugepaged/max_ptes_none", -1);
	fd = pr_sys(SYS_openat, AT_FDCWD, (long)THP_DIR,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return;
	while ((n = pr_sys(SYS_getdents64, fd, (long)buf, sizeof(buf), 0, 0,
			   0)) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (void *)(buf + off);

			off += d->d_reclen;
			add_mthp(t, d->d_name);
		}
	}
	pr_close(&fd);
	sort_mthp(t);
}

/* System-wide: every process's faults count there. */
long pr_sysfs_thp_stat(unsigned kb, const char *name)
{
	char path[160];

	snprintf(path, sizeof(path), THP_DIR "/hugepages-%ukB/stats/%s", kb,
		 name);
	return pr_read_long(path, -1);
}

/*
 * Feature bit 5 of a virtio balloon (device id 5) is
 * VIRTIO_BALLOON_F_REPORTING: free 2 MiB blocks idle for about two seconds
 * go back to the host, and the next touch of each 4 KiB of them is a host
 * fault; huge-page faults, which take whole free blocks, meet that first
 * (docs/hinting.md).  Devices are probed by index, no opendir.
 */
bool pr_sysfs_free_page_reporting(void)
{
	char path[96], buf[160];

	for (int i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "/sys/bus/virtio/devices/virtio%d/device", i);
		if (pr_read_file(path, buf, sizeof(buf)) <= 0 ||
		    strtol(buf, NULL, 16) != 5)
			continue;
		snprintf(path, sizeof(path), "/sys/bus/virtio/devices/virtio%d/features", i);
		if (pr_read_file(path, buf, sizeof(buf)) > 5 && buf[5] == '1')
			return true;
	}
	return false;
}
