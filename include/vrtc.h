/* SPDX-License-Identifier: MIT */
/*
 * libvrtc: the time now as an interval [earliest, latest] that contains
 * true time, and a status, from vhost-user-rtc's status page (a vmclock
 * page, include/vmclock_wire.h). The same idea as ClockBound's
 * clockbound_now() and fbclock's fbclock_gettime().
 *
 * Host mode: reads the daemon's page file and CLOCK_MONOTONIC_RAW (the
 * model's counter; vDSO, no system call) and extrapolates:
 *
 *   T(now)  = time + period * (counter_now - counter_value)
 *   bound   = time_maxerror + period_maxerror_rate * age + 1 ns
 *
 * Guest mode: reads the page through QEMU's ivshmem-plain device (PCI
 * 1af4:1110, BAR 2) and the served PHC ("Virtio PTP type 0/variant 0"
 * for UTC, type 1 for TAI) with PTP_SYS_OFFSET_EXTENDED:
 *
 *   T(now)  = the PHC reading (at the middle of its read window)
 *   bound   = time_maxerror + rate * |T(now) - time| + window / 2
 *
 * (|T(now) - time| + 1 s near a leap second). With the guest agent
 * running (vrtc-agent, its page /run/vrtc-agent/vmclock or
 * $VRTC_AGENT_PAGE), guest mode without a page or PHC path reads the
 * agent's page as host mode does: no PHC read, no system call.
 *
 * Refuses, with status
 * UNKNOWN and a negative errno, when the page is absent, torn (still
 * changing after retries), stale (older than max_age_ns), from another
 * ABI version or size, or says the bound is not valid.
 *
 * Thread safety: one struct vrtc per thread, or a lock around it;
 * vrtc_now() never blocks except on the PHC ioctl in guest mode.
 * Link: pkg-config --cflags --libs vrtc.
 */
#ifndef VRTC_H
#define VRTC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The daemon's page file when none is given (host mode). */
#define VRTC_DEFAULT_PAGE "/run/vhost-user-rtc/vmclock"
/* A page older than this is stale (vrtc_options.max_age_ns = 0). */
#define VRTC_DEFAULT_MAX_AGE_NS 10000000000ull

/* The vmclock ABI's clock_status values. */
enum vrtc_status {
	VRTC_STATUS_UNKNOWN = 0,      /* no usable bound: do not trust */
	VRTC_STATUS_INITIALIZING = 1, /* bound valid, still converging */
	VRTC_STATUS_SYNCHRONIZED = 2, /* bound valid, source followed */
	VRTC_STATUS_FREERUNNING = 3,  /* bound valid, holding over */
	VRTC_STATUS_UNRELIABLE = 4,   /* sources disagree; bound widened */
};

enum vrtc_timescale {
	VRTC_TIMESCALE_UTC = 0, /* POSIX time: steps back at a leap second */
	VRTC_TIMESCALE_TAI = 1,
};

enum vrtc_mode {
	VRTC_MODE_AUTO = 0, /* host if the page file exists (and is not
			       under /sys/), else guest */
	VRTC_MODE_HOST,
	VRTC_MODE_GUEST,
};

struct vrtc_options {
	enum vrtc_mode mode;
	enum vrtc_timescale timescale;
	/* host: the page file (NULL: $VRTC_PAGE, else VRTC_DEFAULT_PAGE);
	 * guest: a file to map instead of the ivshmem BAR (NULL: the first
	 * ivshmem-plain device holding a vmclock page) */
	const char *page_path;
	/* guest: the served PHC (NULL: found by its clock name) */
	const char *phc_path;
	uint64_t max_age_ns; /* 0: VRTC_DEFAULT_MAX_AGE_NS */
};

struct vrtc_time {
	int64_t earliest_ns; /* ns since 1970 in the timescale */
	int64_t latest_ns;   /* earliest <= true time <= latest */
	int64_t now_ns;	     /* the estimate, in between */
	uint64_t bound_ns;   /* now - earliest (= latest - now, but near a
				leap second) */
	enum vrtc_status status;
	uint64_t age_ns;	    /* since the page's reference instant */
	uint64_t window_ns;	    /* guest: the PHC read window; host: 0 */
	uint64_t disruption_marker; /* changes when the daemon restarts or
				       its model steps */
};

struct vrtc;

/*
 * vrtc_open() - open the page (and in guest mode the PHC). @o NULL: all
 * defaults. Returns 0 with *@out set, or -ENOENT (no page or PHC found),
 * -EPERM (page file writable by others, or owned by another user than
 * root or us), -EMSGSIZE (shorter than a page), -errno of open/mmap.
 */
int vrtc_open(const struct vrtc_options *o, struct vrtc **out);

/*
 * vrtc_now() - the time now. Returns 0 with *@t filled (status may be any
 * but UNKNOWN), or a negative errno with t->status UNKNOWN and no
 * interval: -EPROTO (bad magic, version or size field), -EAGAIN (torn:
 * the page kept changing), -ESTALE (older than max_age_ns, or from the
 * future: not this host's counter), -ENODATA (the page says no valid
 * bound, status UNKNOWN, or UTC without a valid TAI offset), -EIO (the
 * PHC read failed).
 */
int vrtc_now(struct vrtc *v, struct vrtc_time *t);

/* NULL is a no-op. */
void vrtc_close(struct vrtc *v);

/* "unknown", "initializing", "synchronized", "freerunning",
 * "unreliable". */
const char *vrtc_status_name(enum vrtc_status s);

/* A sentence for a vrtc_now()/vrtc_open() error (negative errno). */
const char *vrtc_strerror(int err);

/*
 * vrtc_clockbound_write() - write ClockBound's shared-memory segment
 * (its docs/PROTOCOL.md, version 2; default path /var/run/clockbound/shm0)
 * at @path from @v's view now, so that unmodified ClockBound clients
 * read a bound on this system's CLOCK_REALTIME: |REALTIME - our UTC| +
 * our bound, valid for @max_drift_ppb of REALTIME drift (0: from the
 * page, REALTIME's rate against the page's, plus its rate bound) and until
 * @void_after_s seconds from now. Call it at least every 5 s (ClockBound
 * clients call the bound FREE_RUNNING after that). Returns 0, or what
 * vrtc_now() returns (the segment then says UNKNOWN and keeps the last
 * bound written, with its as_of and void_after, so that it grows from
 * when it was true; before any, a bound of INT64_MAX / 4 ns, void at
 * once), or -errno of the file.
 */
int vrtc_clockbound_write(struct vrtc *v, const char *path,
			  uint32_t max_drift_ppb, unsigned int void_after_s);

#ifdef __cplusplus
}
#endif

#endif /* VRTC_H */
