// SPDX-License-Identifier: MIT
/*
 * vrtc-guest test: the checks about the device as a whole: the RTC class
 * device and its alarm, a device reset (unbind/bind), the kernel log.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/rtc.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
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

static int ours_rtc = -1; /* N of our /dev/rtcN, once check_rtc found it */
static const struct guest_phc *rtc_clock; /* the smeared PHC behind it */

/* struct rtc_time (UTC) <-> seconds since the epoch */
static time_t rtc_to_time(const struct rtc_time *r)
{
	struct tm t;

	memset(&t, 0, sizeof(t));
	t.tm_sec = r->tm_sec;
	t.tm_min = r->tm_min;
	t.tm_hour = r->tm_hour;
	t.tm_mday = r->tm_mday;
	t.tm_mon = r->tm_mon;
	t.tm_year = r->tm_year;
	return timegm(&t);
}

static void time_to_rtc(time_t s, struct rtc_time *r)
{
	struct tm t;

	gmtime_r(&s, &t);
	memset(r, 0, sizeof(*r));
	r->tm_sec = t.tm_sec;
	r->tm_min = t.tm_min;
	r->tm_hour = t.tm_hour;
	r->tm_mday = t.tm_mday;
	r->tm_mon = t.tm_mon;
	r->tm_year = t.tm_year;
}

static int cmp_phc_index(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * The RTC: exactly one RTC class device whose parent is our virtio device,
 * named by virtio_rtc, readable, and reading our smeared-UTC clock: the
 * RTC is that clock truncated to seconds, so reads of the smeared PHC
 * just before and just after must bracket it exactly.
 */
void check_rtc(const char *ours, const char *ref, bool ref_only,
	       const struct guest_phc *smeared)
{
	DIR *d = opendir("/sys/class/rtc");
	struct dirent *e;
	int n_ours = 0, n_ref = 0, idx[MAX_RTCS], n = 0, ours_idx = -1;
	char name[128] = "", pci[32], virtio[32];

	while (d && (e = readdir(d)) && n < MAX_RTCS) {
		if (sscanf(e->d_name, "rtc%d", &idx[n]) == 1) {
			n++;
		}
	}
	if (d) {
		closedir(d);
	}
	qsort(idx, (size_t)n, sizeof(idx[0]), cmp_phc_index);
	for (int i = 0; i < n; i++) {
		char dev[32], path[PATH_MAX], nm[128] = "";

		snprintf(dev, sizeof(dev), "rtc%d", idx[i]);
		snprintf(path, sizeof(path), "/sys/class/rtc/%s/name", dev);
		read_line(path, nm, sizeof(nm));
		if (device_path("rtc", dev, pci, sizeof(pci), virtio,
				sizeof(virtio)) < 0) {
			snprintf(pci, sizeof(pci), "?");
		}
		printf("VRTC-E2E: rtc INFO dev=/dev/%s name=\"%s\" pci=%s\n",
		       dev, nm, pci);
		if (!strcmp(pci, ours)) {
			n_ours++;
			ours_idx = idx[i];
			snprintf(name, sizeof(name), "%s", nm);
		} else if (!strcmp(pci, ref)) {
			n_ref++;
		}
	}
	if (ref_only) {
		result("rtc", n_ours == 0 && n_ref == 0,
		       "ours=%d ref=%d expected=0+0 (reference clock is UTC: "
		       "no RTC)",
		       n_ours, n_ref);
		return;
	}
	if (n_ours == 1) {
		ours_rtc = ours_idx;
		rtc_clock = smeared;
	}
	if (n_ours != 1 || n_ref != 0 || strncmp(name, "virtio_rtc", 10)) {
		result("rtc", false,
		       "ours=%d ref=%d name=\"%s\" expected one RTC named "
		       "virtio_rtc on %s",
		       n_ours, n_ref, name, ours);
		return;
	}

	/* Read it the way hwclock does, between two smeared-PHC reads. */
	char path[64];
	struct rtc_time tm;
	int fd, err = 0;
	int64_t before_ns = 0, after_ns = 0, rtc_s = 0;

	snprintf(path, sizeof(path), "/dev/rtc%d", ours_idx);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
	}
	if (!err && smeared) {
		err = phc_gettime(smeared, &before_ns);
	}
	if (!err && ioctl(fd, RTC_RD_TIME, &tm) < 0) {
		err = -errno;
	}
	if (!err) {
		rtc_s = (int64_t)rtc_to_time(&tm);
	}
	if (!err && smeared) {
		err = phc_gettime(smeared, &after_ns);
	}
	if (fd >= 0) {
		close(fd);
	}
	if (err) {
		result("rtc", false, "dev=%s name=\"%s\" read_error=%s", path,
		       name, strerror(-err));
		return;
	}
	if (!smeared) {
		result("rtc", true,
		       "dev=%s name=\"%s\" rtc_rd_time=%" PRId64
		       " (no smeared PHC to compare with)",
		       path, name, rtc_s);
		return;
	}
	result("rtc",
	       before_ns / NSEC_PER_SEC <= rtc_s &&
		       rtc_s <= after_ns / NSEC_PER_SEC,
	       "dev=%s name=\"%s\" rtc_rd_time=%" PRId64
	       " smeared_phc_s=[%" PRId64 ", %" PRId64 "] (must bracket it)",
	       path, name, rtc_s, before_ns / NSEC_PER_SEC,
	       after_ns / NSEC_PER_SEC);
}

void check_dmesg(bool ref_only)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf, *line, *save = NULL;
	int n, bad = 0, lines = 0, registered = 0;

	if (size <= 0) {
		size = 1 << 20;
	}
	buf = malloc((size_t)size + 1);
	if (!buf) {
		result("dmesg", false, "out of memory");
		return;
	}
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	if (n < 0) {
		result("dmesg", false, "klogctl_error=%s", strerror(errno));
		free(buf);
		return;
	}
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		int level = 6;

		if (!strstr(line, "virtio_rtc")) {
			continue;
		}
		lines++;
		if (line[0] == '<') {
			level = atoi(line + 1) & 7;
		}
		if (strstr(line, "registered as rtc")) {
			registered++;
		}
		printf("VRTC-E2E: dmesg INFO level=%d line=\"%s\"\n", level,
		       line);
		if (level <= 4) {
			bad++;
		}
	}
	free(buf);
	if (ref_only) {
		result("dmesg", bad == 0, "virtio_rtc_lines=%d err_or_warn=%d",
		       lines, bad);
	} else {
		result("dmesg", bad == 0 && registered >= 1,
		       "virtio_rtc_lines=%d err_or_warn=%d "
		       "registered_as_rtc=%d",
		       lines, bad, registered);
	}
}

/*
 * One wake alarm through the RTC core: @ahead_s seconds from the RTC's
 * time (negative: in the past). Fills @dt_ns (set to fired), @data and
 * @after_s (the RTC's time read after the interrupt, s since 1970).
 * Returns 0, or -errno; *@fired is false after a 15 s timeout.
 */
static int wake_alarm(const char *path, int ahead_s, bool *fired,
		      int64_t *dt_ns, unsigned long *data, int64_t *alarm_s,
		      int64_t *after_s, int64_t *late_ns)
{
	struct rtc_time tm;
	struct rtc_wkalrm alm;
	struct pollfd pfd;
	int64_t t0;
	int fd, err = 0, pr;

	*fired = false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, RTC_RD_TIME, &tm) < 0) {
		err = -errno;
		goto out;
	}
	memset(&alm, 0, sizeof(alm));
	alm.enabled = 1;
	*alarm_s = rtc_to_time(&tm) + ahead_s;
	time_to_rtc(*alarm_s, &alm.time);
	t0 = mono_ns();
	if (ioctl(fd, RTC_WKALM_SET, &alm) < 0) {
		err = -errno;
		goto out;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	pr = poll(&pfd, 1, 15000);
	*dt_ns = mono_ns() - t0;
	/* How late, on the alarm's own clock (the smeared PHC). */
	*late_ns = INT64_MIN;
	if (pr == 1 && rtc_clock) {
		int64_t now_ns;

		if (phc_gettime(rtc_clock, &now_ns) == 0) {
			*late_ns = now_ns - *alarm_s * NSEC_PER_SEC;
		}
	}
	if (pr == 1 && read(fd, data, sizeof(*data)) < 0) {
		err = -errno;
	}
	*fired = pr == 1 && (*data & RTC_AF);
	/* The device's time after the notification (hwclock-style). */
	if (!err && ioctl(fd, RTC_RD_TIME, &tm) == 0) {
		*after_s = rtc_to_time(&tm);
	}
	ioctl(fd, RTC_AIE_OFF, 0);
out:
	if (fd >= 0) {
		close(fd);
	}
	return err;
}

void check_alarm(void)
{
	char path[64];
	unsigned long data = 0;
	int64_t dt = 0, alarm_s = 0, after_s = -1, late = INT64_MIN;
	bool fired;
	int err;

	if (ours_rtc < 0) {
		return;
	}
	snprintf(path, sizeof(path), "/sys/class/rtc/rtc%d/wakealarm",
		 ours_rtc);
	if (access(path, F_OK)) {
		info("alarm",
		     "not offered (rtc%d has no wakealarm: no alarm-capable "
		     "clock or no F_ALARM)",
		     ours_rtc);
		return;
	}
	snprintf(path, sizeof(path), "/dev/rtc%d", ours_rtc);
	err = wake_alarm(path, 2, &fired, &dt, &data, &alarm_s, &after_s,
			 &late);
	if (err) {
		result("alarm", false, "dev=%s error=%s", path, strerror(-err));
		return;
	}
	/* Set for the RTC's second + 2: it must fire after 1..3 s, within
	 * 1 s after its time on the smeared clock (never before it), and
	 * the RTC then reads at least the alarm time. */
	result("alarm",
	       fired && dt >= 500000000 && dt <= 4 * NSEC_PER_SEC &&
		       late >= 0 && late < NSEC_PER_SEC && after_s >= alarm_s,
	       "dev=%s fired=%s irq_data=0x%lx after_ms=%" PRId64
	       " late_ms=%.3f (limit 0..1000) rtc_after=%" PRId64
	       " alarm=%" PRId64,
	       path, fired ? "yes" : "no (15 s timeout)", data, dt / 1000000,
	       late == INT64_MIN ? -1.0 : (double)late / 1e6, after_s, alarm_s);

	data = 0;
	err = wake_alarm(path, -5, &fired, &dt, &data, &alarm_s, &after_s,
			 &late);
	if (err) {
		result("alarm_past", false, "dev=%s error=%s", path,
		       strerror(-err));
		return;
	}
	result("alarm_past", fired && dt <= NSEC_PER_SEC,
	       "dev=%s fired=%s irq_data=0x%lx after_ms=%" PRId64
	       " expected_ms=0..1000",
	       path, fired ? "yes" : "no (15 s timeout)", data, dt / 1000000);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		return -errno;
	}
	n = write(fd, text, strlen(text));
	if (n < 0) {
		n = -errno;
	}
	close(fd);
	return n < 0 ? (int)n : 0;
}

/*
 * Device reset, as a guest reboot or driver reload does it: unbind our
 * virtio device from virtio_rtc and bind it again (QEMU stops the rings,
 * GET_VRING_BASE, and starts them again).  The four PHCs must come back
 * and be readable.
 */
void check_rebind(const char *ours)
{
	const char *drv = "/sys/bus/virtio/drivers/virtio_rtc";
	char path[128], virtio[32] = "";
	int err, seen = 0, bad_reads = 0;

	for (int i = 0; i < n_phcs; i++) {
		if (!strcmp(phcs[i].pci, ours)) {
			copy(virtio, sizeof(virtio), phcs[i].virtio);
		}
	}
	if (!virtio[0]) {
		result("rebind", false, "no virtio device of ours");
		return;
	}
	for (int i = 0; i < n_phcs; i++) {
		if (phcs[i].fd >= 0) {
			close(phcs[i].fd);
			phcs[i].fd = -1;
		}
	}
	snprintf(path, sizeof(path), "%s/unbind", drv);
	err = write_file(path, virtio);
	if (!err) {
		snprintf(path, sizeof(path), "%s/bind", drv);
		err = write_file(path, virtio);
	}
	if (err) {
		result("rebind", false, "device=%s %s: %s", virtio, path,
		       strerror(-err));
		return;
	}
	scan_phcs();
	for (int k = 0; k < 4; k++) {
		struct guest_phc *p = find_phc(ours, want_type[k]);
		struct sample s;

		if (p && p->variant == want_variant[k]) {
			seen++;
			if (phc_ext(p, 1, &s, NULL)) {
				bad_reads++;
			}
		}
	}
	result("rebind", seen == 4 && bad_reads == 0,
	       "device=%s phcs_after=%d read_errors=%d", virtio, seen,
	       bad_reads);
}
