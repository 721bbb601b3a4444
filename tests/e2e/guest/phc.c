// SPDX-License-Identifier: MIT
/*
 * vrtc-guest: finding the virtio PHCs in sysfs, reading them with
 * PTP_SYS_OFFSET_EXTENDED, comparing two of them, and the result lines.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vrtc-guest.h"

static const char *const type_names[] = { "UTC", "TAI", "MONOTONIC",
					  "UTC_SMEARED", "UTC_MAYBE_SMEARED" };

struct guest_phc phcs[MAX_PHCS];
int n_phcs;
int n_pass, n_fail;

int64_t window(const struct sample *s)
{
	return s->post - s->pre;
}

/* PHC minus the midpoint of the system-clock bracket. */
int64_t offset(const struct sample *s)
{
	return s->phc - s->pre - window(s) / 2;
}

void result(const char *check, bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("VRTC-E2E: %s %s ", check, ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (ok) {
		n_pass++;
	} else {
		n_fail++;
	}
}

void info(const char *check, const char *fmt, ...)
{
	va_list ap;

	printf("VRTC-E2E: %s INFO ", check);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		return -errno;
	}
	if (!fgets(buf, (int)len, f)) {
		buf[0] = '\0';
	}
	fclose(f);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) {
		buf[--n] = '\0';
	}
	return 0;
}

/* Bounded string copy that always terminates (truncates silently). */
void copy(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len) {
		n = len - 1;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * For /sys/class/<cls>/<dev>/device -> .../0000:00:04.0/virtio1, return
 * "0000:00:04.0" in pci and "virtio1" in virtio.
 */
int device_path(const char *cls, const char *dev, char *pci, size_t pl,
		char *virtio, size_t vl)
{
	char link[PATH_MAX], real[PATH_MAX], *slash;

	snprintf(link, sizeof(link), "/sys/class/%s/%s/device", cls, dev);
	if (!realpath(link, real)) {
		return -errno;
	}
	slash = strrchr(real, '/');
	if (!slash) {
		return -EINVAL;
	}
	copy(virtio, vl, slash + 1);
	*slash = '\0';
	slash = strrchr(real, '/');
	copy(pci, pl, slash ? slash + 1 : real);
	return 0;
}

static int cmp_phc(const void *a, const void *b)
{
	return ((const struct guest_phc *)a)->index -
	       ((const struct guest_phc *)b)->index;
}

void scan_phcs(void)
{
	DIR *d = opendir("/sys/class/ptp");
	struct dirent *e;

	n_phcs = 0;
	if (!d) {
		return;
	}
	while ((e = readdir(d)) && n_phcs < MAX_PHCS) {
		struct guest_phc *p = &phcs[n_phcs];
		char path[PATH_MAX];
		unsigned int t, v;

		if (sscanf(e->d_name, "ptp%d", &p->index) != 1) {
			continue;
		}
		snprintf(path, sizeof(path), "/sys/class/ptp/%s/clock_name",
			 e->d_name);
		if (read_line(path, p->name, sizeof(p->name)) < 0) {
			continue;
		}
		if (device_path("ptp", e->d_name, p->pci, sizeof(p->pci),
				p->virtio, sizeof(p->virtio)) < 0) {
			snprintf(p->pci, sizeof(p->pci), "?");
			snprintf(p->virtio, sizeof(p->virtio), "?");
		}
		p->type = p->variant = -1;
		if (sscanf(p->name, "Virtio PTP type %u/variant %u", &t, &v) ==
		    2) {
			p->type = (int)t;
			p->variant = (int)v;
		}
		snprintf(path, sizeof(path), "/dev/ptp%d", p->index);
		p->fd = open(path, O_RDONLY | O_CLOEXEC);
		n_phcs++;
	}
	closedir(d);
	qsort(phcs, (size_t)n_phcs, sizeof(phcs[0]), cmp_phc);
}

struct guest_phc *find_phc(const char *pci, int type)
{
	for (int i = 0; i < n_phcs; i++) {
		if (!strcmp(phcs[i].pci, pci) && phcs[i].type == type) {
			return &phcs[i];
		}
	}
	return NULL;
}

static int64_t pct_ns(const struct ptp_clock_time *t)
{
	return t->sec * NSEC_PER_SEC + t->nsec;
}

/*
 * n PTP_SYS_OFFSET_EXTENDED samples of p (1..PTP_MAX_SAMPLES); returns the
 * one with the narrowest window in *best (and all of them in all, if set).
 */
int phc_ext(const struct guest_phc *p, unsigned int n, struct sample *best,
	    struct sample *all)
{
	struct ptp_sys_offset_extended req;

	if (p->fd < 0) {
		return -EBADF;
	}
	memset(&req, 0, sizeof(req));
	req.n_samples = n;
	if (ioctl(p->fd, PTP_SYS_OFFSET_EXTENDED, &req) < 0) {
		return -errno;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct sample s = { pct_ns(&req.ts[i][0]),
				    pct_ns(&req.ts[i][1]),
				    pct_ns(&req.ts[i][2]) };

		if (all) {
			all[i] = s;
		}
		if (i == 0 || window(&s) < window(best)) {
			*best = s;
		}
	}
	return 0;
}

int phc_gettime(const struct guest_phc *p, int64_t *ns)
{
	struct timespec ts;

	if (clock_gettime(FD_TO_CLOCKID(p->fd), &ts) < 0) {
		return -errno;
	}
	*ns = ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
	return 0;
}

int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

struct pair compare(const struct guest_phc *a, const struct guest_phc *b)
{
	struct pair r = { .err = 0 };
	int64_t ds[ROUNDS];
	int64_t best = INT64_MAX;

	for (int i = 0; i < ROUNDS; i++) {
		struct sample sa, sb;

		r.err = phc_ext(a, 5, &sa, NULL);
		if (!r.err) {
			r.err = phc_ext(b, 5, &sb, NULL);
		}
		if (r.err) {
			return r;
		}
		ds[i] = offset(&sa) - offset(&sb);
		if (window(&sa) + window(&sb) < best) {
			best = window(&sa) + window(&sb);
			r.d = ds[i];
			r.wa = window(&sa);
			r.wb = window(&sb);
		}
	}
	qsort(ds, ROUNDS, sizeof(ds[0]), cmp_i64);
	r.d_median = ds[ROUNDS / 2];
	return r;
}

int64_t abs64(int64_t x)
{
	return x < 0 ? -x : x;
}

int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/*
 * The RTC alarm, end to end (SET_ALARM, the alarmq notification, the RTC
 * interrupt): only when the device offers one, which Linux shows as a
 * wakealarm attribute; otherwise an INFO line.
 */

const char *type_name(int t)
{
	return t >= 0 && t < 5 ? type_names[t] : "?";
}

void fmt_reading(const struct guest_phc *p, int64_t ns, char *buf, size_t len)
{
	if (p->type == VT_MONOTONIC) {
		snprintf(buf, len,
			 "%" PRId64 ".%09" PRId64 " s since its epoch",
			 ns / NSEC_PER_SEC, ns % NSEC_PER_SEC);
	} else {
		time_t s = (time_t)(ns / NSEC_PER_SEC);
		struct tm tm;
		char d[40];

		gmtime_r(&s, &tm);
		strftime(d, sizeof(d), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(buf, len, "%s.%09" PRId64 "%s", d, ns % NSEC_PER_SEC,
			 p->type == VT_TAI ? " TAI" : " UTC");
	}
}
