// SPDX-License-Identifier: MIT
/*
 * libvrtc: opening the page (host file or guest ivshmem BAR) and the
 * served PHC, and vrtc_now().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/ptp_clock.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "time_ns.h"
#include "vrtc_internal.h"
#include "vrtc_page.h"

/* PTP_SYS_OFFSET_EXTENDED samples per read; the narrowest one is used */
#define PHC_SAMPLES 3
/* a page changing under a PHC read: read both again this often */
#define GUEST_TRIES 4

const char *vrtc_status_name(enum vrtc_status s)
{
	switch (s) {
	case VRTC_STATUS_UNKNOWN:
		return "unknown";
	case VRTC_STATUS_INITIALIZING:
		return "initializing";
	case VRTC_STATUS_SYNCHRONIZED:
		return "synchronized";
	case VRTC_STATUS_FREERUNNING:
		return "freerunning";
	case VRTC_STATUS_UNRELIABLE:
		return "unreliable";
	}
	return "invalid";
}

const char *vrtc_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case -ENOENT:
		return "no status page (or no served PHC) found";
	case -EPERM:
		return "the page file could be written by someone else than "
		       "its "
		       "owner, or is not owned by root or us";
	case -EMSGSIZE:
		return "the page file is shorter than a page";
	case -EPROTO:
		return "not a vmclock page of version 1 (bad magic, version or "
		       "size)";
	case -EAGAIN:
		return "the page kept changing while read (torn)";
	case -ESTALE:
		return "the page is stale (the daemon stopped updating it), or "
		       "not from this host's counter";
	case -ENODATA:
		return "the page carries no valid bound (status unknown)";
	case -EIO:
		return "reading the served PHC failed";
	default:
		return strerror(-err);
	}
}

/* Map @len bytes of @path read-only, after the checks of a host page
 * file (@check_owner) or none (a sysfs BAR). */
static int map_file(const char *path, bool check_owner, const void **map,
		    size_t *len)
{
	struct stat st;
	void *m;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int r = 0;

	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &st)) {
		r = -errno;
		goto out;
	}
	if (check_owner) {
		if (!S_ISREG(st.st_mode)) {
			r = -EPROTO;
			goto out;
		}
		/* Only the owner may write it, and the owner is root (the
		 * daemon starts as root) or ourselves. */
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) ||
		    (st.st_uid != 0 && st.st_uid != geteuid())) {
			r = -EPERM;
			goto out;
		}
		/* Mapping beyond the end would fault (SIGBUS) on access. */
		if (st.st_size < (off_t)VMCLOCK_PAGE_SIZE) {
			r = -EMSGSIZE;
			goto out;
		}
	}
	m = mmap(NULL, VMCLOCK_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	*map = m;
	*len = VMCLOCK_PAGE_SIZE;
out:
	close(fd);
	return r;
}

static int read_sysfs(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f) {
		return -errno;
	}
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok) {
		return -EIO;
	}
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* The first ivshmem-plain device (1af4:1110) whose BAR 2 holds a vmclock
 * page. */
static int find_ivshmem(struct vrtc *v)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	int r = -ENOENT;

	if (!d) {
		return -ENOENT;
	}
	while ((e = readdir(d))) {
		char path[PATH_MAX], vendor[16], device[16];
		struct vmclock_abi f;

		if (e->d_name[0] == '.') {
			continue;
		}
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor",
			 e->d_name);
		if (read_sysfs(path, vendor, sizeof(vendor)) ||
		    strcmp(vendor, "0x1af4") != 0) {
			continue;
		}
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device",
			 e->d_name);
		if (read_sysfs(path, device, sizeof(device)) ||
		    strcmp(device, "0x1110") != 0) {
			continue;
		}
		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/%s/resource2", e->d_name);
		r = map_file(path, false, &v->map, &v->len);
		if (r) {
			continue;
		}
		if (vrtc_page_copy(v->map, v->len, &f) != -EPROTO &&
		    vrtc_page_copy(v->map, v->len, &f) != -EMSGSIZE) {
			r = 0;
			break;
		}
		munmap((void *)v->map, v->len);
		v->map = NULL;
		r = -ENOENT;
	}
	closedir(d);
	return r;
}

/* The PCI function (realpath of .../device) of PHC @dev, in @out. */
static void phc_parent(const char *dev, char *out, size_t len)
{
	char link[PATH_MAX], real[PATH_MAX];
	char *slash;

	snprintf(link, sizeof(link), "/sys/class/ptp/%s/device", dev);
	if (!realpath(link, real)) {
		snprintf(out, len, "?");
		return;
	}
	/* .../0000:00:04.0/virtio1: the PCI function is the parent */
	slash = strrchr(real, '/');
	if (slash) {
		*slash = '\0';
	}
	snprintf(out, len, "%s", real);
}

/*
 * The served PHC of @ts: "Virtio PTP type T/variant 0". With several
 * (QEMU's built-in virtio-rtc-pci also serves a UTC clock), the one
 * whose device also serves the other timescale (TAI with UTC, UTC with
 * TAI): vhost-user-rtc serves both by default, QEMU's has UTC only.
 */
static int find_phc(enum vrtc_timescale ts, char *out, size_t len)
{
	char want[64], other[64], cand[8][PATH_MAX], cand_dev[8][NAME_MAX + 1];
	char oth[8][PATH_MAX];
	int nc = 0, no = 0;
	DIR *d = opendir("/sys/class/ptp");
	struct dirent *e;

	if (!d) {
		return -ENOENT;
	}
	snprintf(want, sizeof(want), "Virtio PTP type %d/variant 0", (int)ts);
	snprintf(other, sizeof(other), "Virtio PTP type %d/variant 0",
		 ts == VRTC_TIMESCALE_UTC ? 1 : 0);
	while ((e = readdir(d))) {
		char path[PATH_MAX], name[64];

		if (strncmp(e->d_name, "ptp", 3) != 0) {
			continue;
		}
		snprintf(path, sizeof(path), "/sys/class/ptp/%s/clock_name",
			 e->d_name);
		if (read_sysfs(path, name, sizeof(name))) {
			continue;
		}
		if (!strcmp(name, want) && nc < 8) {
			phc_parent(e->d_name, cand[nc], sizeof(cand[nc]));
			snprintf(cand_dev[nc], sizeof(cand_dev[nc]), "%s",
				 e->d_name);
			nc++;
		} else if (!strcmp(name, other) && no < 8) {
			phc_parent(e->d_name, oth[no++], sizeof(oth[0]));
		}
	}
	closedir(d);
	for (int i = 0; i < nc; i++) {
		for (int j = 0; j < no; j++) {
			if (!strcmp(cand[i], oth[j])) {
				snprintf(out, len, "/dev/%s", cand_dev[i]);
				return 0;
			}
		}
	}
	if (nc == 1) {
		snprintf(out, len, "/dev/%s", cand_dev[0]);
		return 0;
	}
	return -ENOENT;
}

static bool file_exists(const char *p)
{
	return access(p, F_OK) == 0;
}

int vrtc_open(const struct vrtc_options *o, struct vrtc **out)
{
	static const struct vrtc_options defaults = { 0 };
	struct vrtc *v;
	const char *page;
	int r;

	if (!o) {
		o = &defaults;
	}
	if (o->timescale != VRTC_TIMESCALE_UTC &&
	    o->timescale != VRTC_TIMESCALE_TAI) {
		return -EINVAL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		return -ENOMEM;
	}
	v->ts = o->timescale;
	v->max_age_ns = o->max_age_ns ? o->max_age_ns : VRTC_DEFAULT_MAX_AGE_NS;
	v->phc_fd = -1;
	v->mode = o->mode;
	page = o->page_path;
	if (!page && v->mode != VRTC_MODE_GUEST) {
		page = getenv("VRTC_PAGE");
		if (!page || !*page) {
			page = VRTC_DEFAULT_PAGE;
		}
	}
	if (v->mode == VRTC_MODE_AUTO) {
		/* a PCI BAR (ivshmem's resource2) is a guest's page */
		v->mode = file_exists(page) && strncmp(page, "/sys/", 5) != 0
				  ? VRTC_MODE_HOST
				  : VRTC_MODE_GUEST;
		if (v->mode == VRTC_MODE_GUEST) {
			page = o->page_path;
		}
	}
	if (v->mode == VRTC_MODE_HOST) {
		r = map_file(page, true, &v->map, &v->len);
	} else if (page) {
		r = map_file(page, false, &v->map, &v->len);
	} else {
		r = find_ivshmem(v);
	}
	if (r) {
		goto fail;
	}
	if (v->mode == VRTC_MODE_GUEST) {
		char phc[PATH_MAX];

		if (o->phc_path) {
			snprintf(phc, sizeof(phc), "%s", o->phc_path);
		} else if ((r = find_phc(v->ts, phc, sizeof(phc)))) {
			goto fail;
		}
		v->phc_fd = open(phc, O_RDONLY | O_CLOEXEC);
		if (v->phc_fd < 0) {
			r = -errno;
			goto fail;
		}
	}
	*out = v;
	return 0;
fail:
	vrtc_close(v);
	return r;
}

void vrtc_close(struct vrtc *v)
{
	if (!v) {
		return;
	}
	if (v->map) {
		munmap((void *)v->map, v->len);
	}
	if (v->phc_fd >= 0) {
		close(v->phc_fd);
	}
	vrtc_cb_close(v);
	free(v);
}

static int64_t pct_ns(const struct ptp_clock_time *t)
{
	return (int64_t)t->sec * NS_PER_S + t->nsec;
}

int vrtc_phc_read(int fd, int64_t *phc_ns, int64_t *sys_ns, uint64_t *window_ns)
{
	struct ptp_sys_offset_extended req;
	int64_t best = INT64_MAX;

	memset(&req, 0, sizeof(req));
	req.n_samples = PHC_SAMPLES;
	if (ioctl(fd, PTP_SYS_OFFSET_EXTENDED, &req)) {
		return -EIO;
	}
	for (unsigned int i = 0; i < req.n_samples; i++) {
		int64_t pre = pct_ns(&req.ts[i][0]);
		int64_t post = pct_ns(&req.ts[i][2]);

		if (post >= pre && post - pre < best) {
			best = post - pre;
			*phc_ns = pct_ns(&req.ts[i][1]);
			*sys_ns = pre + best / 2;
		}
	}
	if (best == INT64_MAX) {
		return -EIO;
	}
	*window_ns = (uint64_t)best;
	return 0;
}

static int now_guest(struct vrtc *v, struct vrtc_time *t, int64_t *sys_ns)
{
	struct vmclock_abi f, g;
	int r = -EAGAIN;

	for (int i = 0; i < GUEST_TRIES; i++) {
		int64_t phc;
		uint64_t win;

		r = vrtc_page_copy(v->map, v->len, &f);
		if (r) {
			break;
		}
		if (vrtc_phc_read(v->phc_fd, &phc, sys_ns, &win)) {
			r = -EIO;
			break;
		}
		/* the PHC was read from the model on the page, or from a
		 * newer one; read both again if the page moved meanwhile */
		r = vrtc_page_copy(v->map, v->len, &g);
		if (r) {
			break;
		}
		if (g.seq_count != f.seq_count) {
			r = -EAGAIN;
			continue;
		}
		r = vrtc_page_guest(&f, phc, win, v->max_age_ns, v->ts, t);
		t->window_ns = r ? 0 : win;
		return r;
	}
	memset(t, 0, sizeof(*t));
	return r;
}

int vrtc_now_sys(struct vrtc *v, struct vrtc_time *t, int64_t *sys_ns,
		 uint64_t *sys_window_ns)
{
	struct vmclock_abi f;
	struct timespec a, raw, b;
	int r;

	if (v->mode == VRTC_MODE_GUEST) {
		r = now_guest(v, t, sys_ns);
		*sys_window_ns = t->window_ns;
		return r;
	}
	r = vrtc_page_copy(v->map, v->len, &f);
	if (r) {
		memset(t, 0, sizeof(*t));
		return r;
	}
	clock_gettime(CLOCK_REALTIME, &a);
	clock_gettime(CLOCK_MONOTONIC_RAW, &raw);
	clock_gettime(CLOCK_REALTIME, &b);
	*sys_ns = ((int64_t)a.tv_sec * NS_PER_S + a.tv_nsec) / 2 +
		  ((int64_t)b.tv_sec * NS_PER_S + b.tv_nsec) / 2;
	*sys_window_ns = (uint64_t)(((int64_t)b.tv_sec - a.tv_sec) * NS_PER_S +
				    b.tv_nsec - a.tv_nsec);
	return vrtc_page_host(
		&f, (uint64_t)raw.tv_sec * NS_PER_S + (uint64_t)raw.tv_nsec,
		v->max_age_ns, v->ts, t);
}

int vrtc_now(struct vrtc *v, struct vrtc_time *t)
{
	struct vmclock_abi f;
	struct timespec raw;
	int64_t sys;
	int r;

	if (v->mode == VRTC_MODE_GUEST) {
		return now_guest(v, t, &sys);
	}
	/* the page first: a counter read after it is never before it */
	r = vrtc_page_copy(v->map, v->len, &f);
	if (r) {
		memset(t, 0, sizeof(*t));
		return r;
	}
	clock_gettime(CLOCK_MONOTONIC_RAW, &raw);
	return vrtc_page_host(
		&f, (uint64_t)raw.tv_sec * NS_PER_S + (uint64_t)raw.tv_nsec,
		v->max_age_ns, v->ts, t);
}
