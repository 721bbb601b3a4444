/* SPDX-License-Identifier: MIT */
/*
 * The PHC reader: compares a PTP hardware clock (/dev/ptpN, or the PHC of
 * a network interface) with the host counter (CLOCK_MONOTONIC_RAW ns, the
 * units of clock_counter_now()) and hands the best comparison of a burst
 * to the estimator as a struct time_sample with its own error bound.
 *
 * The read method is chosen once, by trying in order
 *   PTP_SYS_OFFSET_PRECISE                 (hardware cross-timestamp)
 *   PTP_SYS_OFFSET_EXTENDED, MONOTONIC_RAW (clockid, Linux >= 6.12)
 *   PTP_SYS_OFFSET_EXTENDED, REALTIME      (converted to MONOTONIC_RAW)
 *   PTP_SYS_OFFSET                         (REALTIME, converted)
 * and probed again when the chosen one fails.
 *
 * No GLib: the e2e guest tool links this file statically.  Not thread
 * safe; one struct phc belongs to one thread (the daemon's main loop).
 */
#ifndef SYNC_PHC_H
#define SYNC_PHC_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sample.h"

struct phc;

enum phc_method {
	PHC_METHOD_NONE = 0,	 /* not probed yet, or every method failed */
	PHC_METHOD_PRECISE,	 /* PTP_SYS_OFFSET_PRECISE */
	PHC_METHOD_EXTENDED_RAW, /* PTP_SYS_OFFSET_EXTENDED, MONOTONIC_RAW */
	PHC_METHOD_EXTENDED_RT,	 /* PTP_SYS_OFFSET_EXTENDED, REALTIME */
	PHC_METHOD_BASIC,	 /* PTP_SYS_OFFSET */
	PHC_METHOD_COUNT,
};

/* What the PHC counts: TAI (ptp4l's convention, the default) or UTC. */
enum phc_timescale {
	PHC_TIMESCALE_TAI = 0,
	PHC_TIMESCALE_UTC,
};

/* Samples per phc_read() burst: default and the kernel's maximum. */
#define PHC_DEFAULT_SAMPLES 9
#define PHC_MAX_SAMPLES 25
/* Error of a PRECISE cross-timestamp when the caller gives none, ns. */
#define PHC_DEFAULT_PRECISE_ERR_NS 10
/* A sample whose read window is wider than this is discarded, ns. */
#define PHC_MAX_WINDOW_NS 10000000
/* |TAI - UTC| accepted by phc_set_tai_utc(), s. */
#define PHC_MAX_TAI_UTC_S 100000

/*
 * Where the reader meets the kernel: by default open(2), socket(2),
 * ioctl(2), close(2) and clock_gettime(2); unit tests substitute a fake.
 * Every function returns 0 (or the new fd) on success, -errno on failure.
 */
struct phc_ops {
	int (*open)(void *ctx, const char *path); /* O_RDONLY */
	int (*socket)(void *ctx);		  /* for SIOCETHTOOL */
	int (*ioctl)(void *ctx, int fd, unsigned long req, void *arg);
	int (*close)(void *ctx, int fd);
	int (*gettime)(void *ctx, clockid_t clk, struct timespec *ts);
};

struct phc_options {
	enum phc_timescale timescale; /* default TAI */
	/* error of a PRECISE reading (device resolution), ns; 0: default */
	uint32_t precise_err_ns;
	const struct phc_ops *ops; /* NULL: the real system calls */
	void *ctx;		   /* passed to every ops function */
};

/*
 * phc_open() - open a PHC read-only and read its capabilities.
 * @dev_or_ifname: a path (anything containing '/', e.g. /dev/ptp0) or a
 *                 network interface name whose PHC is looked up with
 *                 ETHTOOL_GET_TS_INFO
 * @opt:           options, or NULL for the defaults
 * @out:           receives the reader
 * @msg, @msg_len: receives a one-line reason on failure (may be NULL)
 * Returns 0, or -ENOENT (no such device or interface), -ENODEV (the
 * interface has no PHC), -ENOTTY (the device is not a PHC), -EINVAL (bad
 * argument), -ENOMEM, or another -errno of open/ioctl.  The method is not
 * probed here but by the first phc_read().
 */
int phc_open(const char *dev_or_ifname, const struct phc_options *opt,
	     struct phc **out, char *msg, size_t msg_len);

/* Closes the device; NULL is a no-op. */
void phc_free(struct phc *p);

/*
 * phc_set_tai_utc() - TAI - UTC in seconds, used to turn the readings of a
 * UTC PHC into TAI (ignored for a TAI PHC).  Returns 0 or -EINVAL.
 */
int phc_set_tai_utc(struct phc *p, int tai_utc_s);

/*
 * phc_read() - a burst of @nsamples comparisons (0: PHC_DEFAULT_SAMPLES;
 * more than PHC_MAX_SAMPLES: -EINVAL); the one with the narrowest read
 * window goes to @out: the counter at the middle of the window, the PHC's
 * TAI there, the window, and err_ns = ceil(window / 2) + 1 plus the error
 * of the REALTIME to MONOTONIC_RAW conversion when one was needed (for
 * PRECISE: the device resolution).  Probes the method on the first call
 * and again after a failure of the chosen one.
 * Returns 0; -EAGAIN (device busy, or the system clock stepped during the
 * read: try again); -EPROTO (the kernel's answer made no sense: every
 * sample rejected); or the -errno of the last method tried.
 */
int phc_read(struct phc *p, unsigned int nsamples, struct time_sample *out);

/* The method in use (PHC_METHOD_NONE before the first successful read). */
enum phc_method phc_method(const struct phc *p);

/* A short name of @m ("PRECISE", "EXTENDED(MONOTONIC_RAW)", ...). */
const char *phc_method_name(enum phc_method m);

/*
 * phc_method_error() - what the last probe found for method @m: 0 if it
 * worked, -errno if it failed, 1 if it was not tried.
 */
int phc_method_error(const struct phc *p, enum phc_method m);

/* PTP_CLOCK_GETCAPS said the driver can cross-timestamp (PRECISE). */
int phc_cross_timestamping(const struct phc *p);

/* N of /dev/ptpN, or -1 if the path did not say. */
int phc_dev_index(const struct phc *p);

#endif /* SYNC_PHC_H */
