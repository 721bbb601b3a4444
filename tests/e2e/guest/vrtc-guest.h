// SPDX-License-Identifier: MIT
/*
 * vrtc-guest: shared declarations of the guest tool (see vrtc-guest.c).
 */
#ifndef VRTC_GUEST_H
#define VRTC_GUEST_H

#include <linux/ptp_clock.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vrtc.h"

#define MAX_PHCS 16
#define MAX_RTCS 8
#define NSEC_PER_SEC ((int64_t)1000000000)
#define CLOCKFD 3
#define FD_TO_CLOCKID(fd) ((clockid_t)((((unsigned int)~(fd)) << 3) | CLOCKFD))

/* virtio-rtc clock types (VIRTIO 1.4 5.23.6.2) */
enum { VT_UTC = 0, VT_TAI = 1, VT_MONOTONIC = 2, VT_UTC_SMEARED = 3 };

struct guest_phc {
	int index;	   /* N of /dev/ptpN */
	char name[64];	   /* clock_name */
	char pci[32];	   /* PCI address of the virtio device's parent */
	char virtio[32];   /* virtioM */
	int type, variant; /* parsed from the name, -1 if not virtio */
	int fd;
};

/* One PTP_SYS_OFFSET_EXTENDED sample, in ns of the PHC / guest realtime. */
struct sample {
	int64_t pre, phc, post;
};

/*
 * Two PHCs compared: rounds of (a, b) EXTENDED reads; the round with the
 * narrowest combined window wins.  d = offset(a) - offset(b).
 */
struct pair {
	int64_t d, wa, wb;
	int64_t d_median;
	int err;
};

#define ROUNDS 64

struct opts {
	const char *ours,
		*ref; /* PCI addresses: device under test, reference */
	long tai_utc; /* expected TAI - UTC, s */
	bool leap_near, ref_only;
	int samples;	     /* reads per PHC for the window statistics */
	int compare_s;	     /* seconds of phc_compare, 0 = skip */
	int status_change_s; /* limit of vrtc_status_seen, s; 0 = skip */
	int holdover_s;	     /* readings after FREERUNNING was seen, s */
	int stall_s;	     /* seconds of read_stall, 0 = skip */
	int upgrade_s;	     /* seconds of read_upgrade, 0 = skip */
};

/* phc.c: the PHCs in sysfs and /dev, reading them, output */
extern struct guest_phc phcs[MAX_PHCS];
extern int n_phcs;
extern int n_pass, n_fail;

int64_t window(const struct sample *s);
int64_t offset(const struct sample *s);
void result(const char *check, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void info(const char *check, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int read_line(const char *path, char *buf, size_t len);
void copy(char *dst, size_t len, const char *src);
int device_path(const char *cls, const char *dev, char *pci, size_t pl,
		char *virtio, size_t vl);
void scan_phcs(void);
struct guest_phc *find_phc(const char *pci, int type);
int phc_ext(const struct guest_phc *p, unsigned int n, struct sample *best,
	    struct sample *all);
int phc_gettime(const struct guest_phc *p, int64_t *ns);
int cmp_i64(const void *a, const void *b);
struct pair compare(const struct guest_phc *a, const struct guest_phc *b);
int64_t abs64(int64_t x);
int64_t mono_ns(void);
const char *type_name(int t);
void fmt_reading(const struct guest_phc *p, int64_t ns, char *buf, size_t len);

/* checks.c: the checks of vrtc-guest test */
int cmd_test(struct opts *o);

/* checks_dev.c: the RTC, its alarm, device reset, the kernel log */
void check_rtc(const char *ours, const char *ref, bool ref_only,
	       const struct guest_phc *smeared);
void check_alarm(void);
void check_rebind(const char *ours);
void check_dmesg(bool ref_only);
/* checks_vrtc.c: libvrtc over ivshmem-plain against the reference */
void check_vrtc_bound(const struct guest_phc *ref, int samples);
void check_vrtc_status_change(const struct guest_phc *ref, int limit_s,
			      int holdover_s);

/* One libvrtc reading, with the reference carried to its instant. */
struct vreading {
	struct vrtc_time t;
	int64_t ref_ns; /* the reference's UTC at our instant */
	int64_t margin; /* how far inside [earliest, latest] it lies, with
			   half the reference's read window; < 0: outside */
	uint32_t seq;	/* the page's seq_count right after the read: the
			   page libvrtc read (it re-reads until the page is
			   the same before and after the PHC); 0: odd */
	int64_t cost_ns;
	uint64_t sys_window_ns; /* CLOCK_REALTIME's bracket of the reading */
};

/* 0, a vrtc_now() error (< 0), or 1 if the reference could not be read. */
int vread(struct vrtc *v, const struct guest_phc *ref, struct vreading *r);

/* checks_agent.c: the guest agent (vrtc-agent) and libvrtc on its page */
void check_agent(const struct guest_phc *ref);

/* cross.c: the driver took the CROSS_CAP answer (no cross-timestamps) */
void check_cross(const char *ours, const char *ref);

/* reader.c: the daemon's PHC reader (sync/sources/phc.c) on the guest's PHCs */
void check_phc_reader(const struct guest_phc *ours, const struct guest_phc *ref,
		      const struct pair *utc_vs_ref);

/* compare.c: our UTC PHC against the reference for @seconds */
/* stall.c: reads around the daemon's poll window, none may hang */
void check_read_stall(const char *ours, const struct guest_phc *ref,
		      int seconds, int upgrade_seconds);
void check_phc_compare(const struct guest_phc *ours,
		       const struct guest_phc *ref, int seconds);

/* Wanted clocks of the device under test, in clock-id order. */
extern const int want_type[4];
extern const int want_variant[4];

#endif
