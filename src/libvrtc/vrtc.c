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
#include "vrtc_agent.h"
#include "vrtc_internal.h"
#include "vrtc_page.h"

/* PTP_SYS_OFFSET_EXTENDED samples per read; the narrowest one is used */
#define PHC_SAMPLES 3
/* a page changing under a PHC read: read both again this often */
#define GUEST_TRIES 4

/* The 0.2 ABI of these two (struct vrtc_options and vrtc_time grew);
 * vrtc_compat.c keeps the 0.1 ones for programs linked before. */
__asm__(".symver vrtc_open, vrtc_open@@VRTC_0.2, remove");
__asm__(".symver vrtc_now, vrtc_now@@VRTC_0.2, remove");

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
	const char *d;

	if (err > 0) {
		err = -err;
	}
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
		return "the page carries no valid bound (status unknown), or "
		       "not a trustworthy one (unreliable)";
	case -EIO:
		return "reading the served PHC failed";
	case -EINVAL:
		return "invalid argument (NULL, an unknown mode, timescale, "
		       "flag or clock, a reserved field not zero, a stamp in "
		       "the future, or intervals in different timescales)";
	case -EISDIR:
		return "the page path is a directory";
	case -ENODEV:
		return "the page path is not a regular file";
	case -ERANGE:
		return "the bound is wider than asked (or the stamp too old)";
	case -ETIMEDOUT:
		return "timed out before the time was certainly past";
	default:
		break;
	}
	/* strerror() may format into a static buffer: not thread-safe */
	d = err == INT_MIN ? NULL : strerrordesc_np(-err);
	return d ? d : "unknown error";
}

/* Map @len bytes of @path read-only, after the checks of a host page
 * file (@check_owner) or none (a sysfs BAR); its identity in @stp. */
int vrtc_map_file(const char *path, int check_owner, const void **map,
		  size_t *len, struct stat *stp)
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
			r = S_ISDIR(st.st_mode) ? -EISDIR : -ENODEV;
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
	if (stp) {
		*stp = st;
	}
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
		r = vrtc_map_file(path, false, &v->map, &v->len, NULL);
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

/* The options a library of this version knows, all else zero. */
static bool options_valid(const struct vrtc_options *o)
{
	if ((o->timescale != VRTC_TIMESCALE_UTC &&
	     o->timescale != VRTC_TIMESCALE_TAI) ||
	    (o->mode != VRTC_MODE_AUTO && o->mode != VRTC_MODE_HOST &&
	     o->mode != VRTC_MODE_GUEST) ||
	    (o->flags & ~VRTC_OPEN_NO_RECOVER) || o->reserved0) {
		return false;
	}
	for (size_t i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]);
	     i++) {
		if (o->reserved[i]) {
			return false;
		}
	}
	return true;
}

/* A file page must be one (a BAR found by find_ivshmem() is). */
static int check_page(const struct vrtc *v)
{
	struct vmclock_abi f;

	return vrtc_page_copy(v->map, v->len, &f);
}

int vrtc_open(const struct vrtc_options *o, struct vrtc **out)
{
	static const struct vrtc_options defaults = { 0 };
	struct vrtc *v;
	struct stat st = { 0 };
	const char *page;
	int r;

	if (!out) {
		return -EINVAL;
	}
	if (!o) {
		o = &defaults;
	}
	if (!options_valid(o)) {
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
	/* guest: the agent's page when it gives a reading (vrtc_agent.h) */
	if (v->mode == VRTC_MODE_GUEST && !o->page_path && !o->phc_path &&
	    !vrtc_agent_open(o, out)) {
		vrtc_close(v);
		return 0;
	}
	if (v->mode == VRTC_MODE_HOST) {
		r = vrtc_map_file(page, true, &v->map, &v->len, &st);
		if (!r && !(o->flags & VRTC_OPEN_NO_RECOVER)) {
			v->page_path = strdup(page);
			v->page_dev = st.st_dev;
			v->page_ino = st.st_ino;
			r = v->page_path ? 0 : -ENOMEM;
		}
	} else if (page) {
		r = vrtc_map_file(page, false, &v->map, &v->len, NULL);
	} else {
		r = find_ivshmem(v);
	}
	if (!r && page) {
		r = check_page(v);
	}
	if (r) {
		goto fail;
	}
	vrtc_handle_init(v);
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
	free(v->page_path);
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

static int now_guest(struct vrtc *v, struct vrtc_time *t, int64_t *sys_ns,
		     struct vmclock_abi *fp, uint32_t *gen)
{
	struct vmclock_abi f, g;
	int r = -EAGAIN;

	for (int i = 0; i < GUEST_TRIES; i++) {
		int64_t phc;
		uint64_t win;

		r = vrtc_handle_copy(v, &f, gen);
		if (r) {
			break;
		}
		if (vrtc_phc_read(v->phc_fd, &phc, sys_ns, &win)) {
			r = -EIO;
			break;
		}
		/* the PHC was read from the model on the page, or from a
		 * newer one; read both again if the page moved meanwhile */
		r = vrtc_handle_copy(v, &g, gen);
		if (r) {
			break;
		}
		if (g.seq_count != f.seq_count) {
			r = -EAGAIN;
			continue;
		}
		*fp = f;
		r = vrtc_page_guest(&f, phc, win, v->max_age_ns, v->ts, t);
		t->window_ns = r ? 0 : win;
		return r;
	}
	memset(t, 0, sizeof(*t));
	return r;
}

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * NS_PER_S + (uint64_t)ts->tv_nsec;
}

/* Host: the page, then the counter (a counter read after the page is
 * never before it), and CLOCK_REALTIME around it if @sys_ns. */
static int now_host(struct vrtc *v, struct vrtc_time *t, struct vmclock_abi *f,
		    int64_t *sys_ns, uint64_t *sys_window_ns, uint32_t *gen)
{
	struct timespec a, raw, b;
	int r;

	for (int again = 0;; again++) {
		r = vrtc_handle_copy(v, f, gen);
		if (sys_ns) {
			clock_gettime(CLOCK_REALTIME, &a);
		}
		clock_gettime(CLOCK_MONOTONIC_RAW, &raw);
		if (sys_ns) {
			clock_gettime(CLOCK_REALTIME, &b);
			*sys_ns = (int64_t)(ts_ns(&a) / 2 + ts_ns(&b) / 2);
			*sys_window_ns = ts_ns(&b) - ts_ns(&a);
		}
		if (!r) {
			r = vrtc_page_host(f, ts_ns(&raw), v->max_age_ns, v->ts,
					   t);
		} else {
			memset(t, 0, sizeof(*t));
		}
		if (again || !v->page_path ||
		    !vrtc_handle_check(v, ts_ns(&raw), r != 0)) {
			return r;
		}
	}
}

int vrtc_read(struct vrtc *v, struct vrtc_time *t, struct vmclock_abi *f,
	      int64_t *sys_ns, uint64_t *sys_window_ns)
{
	int64_t floor = vrtc_handle_floor(v), sys;
	uint32_t gen = 0;
	int r;

	if (v->mode == VRTC_MODE_GUEST) {
		r = now_guest(v, t, sys_ns ? sys_ns : &sys, f, &gen);
		if (sys_window_ns) {
			*sys_window_ns = t->window_ns;
		}
	} else {
		r = now_host(v, t, f, sys_ns, sys_window_ns, &gen);
	}
	vrtc_handle_finish(v, f, gen, floor, r, t);
	return r;
}

int vrtc_now_sys(struct vrtc *v, struct vrtc_time *t, int64_t *sys_ns,
		 uint64_t *sys_window_ns)
{
	struct vmclock_abi f;

	return vrtc_read(v, t, &f, sys_ns, sys_window_ns);
}

int vrtc_now(struct vrtc *v, struct vrtc_time *t)
{
	struct vmclock_abi f;

	if (!v || !t) {
		if (t) {
			memset(t, 0, sizeof(*t));
		}
		return -EINVAL;
	}
	return vrtc_read(v, t, &f, NULL, NULL);
}
