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
 * Usable results, and what they promise (see also libvrtc(3)):
 *  - vrtc_now() returning 0 gives an interval; it is trustworthy (true
 *    time lies in [earliest, latest]) when t->flags has VRTC_TIME_TRUSTED:
 *    status INITIALIZING, SYNCHRONIZED or FREERUNNING. UNRELIABLE returns
 *    0 with a widened interval that is NOT trustworthy (sources disagree;
 *    ClockBound's writer calls it Unknown); the helpers refuse it.
 *  - The first reading with an interval after a disruption (the daemon
 *    restarted, its model stepped, the handle moved to a new page file,
 *    or the page contradicts an earlier reading: latest_ns below an
 *    earliest_ns returned before) has VRTC_TIME_DISRUPTED, and every reading
 * from then on a higher t->disruptions: orderings with earlier readings no
 * longer hold. On a shared handle one thread's reading carries the flag; the
 *    others see the count move.
 *  - On one handle, the earliest_ns of trusted readings never decreases
 *    from one reading to a later one (in one thread, or in threads that
 *    synchronize between the two calls): it is raised to the highest
 *    earliest_ns returned before, which is sound since true time only
 *    moves on. Except across a disruption and, in UTC, while the page
 *    announces or has just passed a leap second (UTC itself repeats a
 *    second). latest_ns has no such promise: it may drop at a republish,
 *    and bounds only that instant.
 *
 * Recovery (host mode): a handle notices when its page file was replaced
 * or deleted and recreated (a daemon restart with a new file, a package
 * upgrade, a tmpfs cleanup): it compares the file's identity at the path
 * (stat(): device and inode) with the mapped one at most once a second,
 * and after an error at most every 10 ms, and then maps the new page in
 * place of the old, by itself. Until a valid new page is there, readings
 * fail as the old page says (-ENODATA after a clean daemon exit, -ESTALE
 * after a crash). VRTC_OPEN_NO_RECOVER turns this off.
 *
 * Thread safety: vrtc_now(), vrtc_now_within(), vrtc_time_at() and
 * vrtc_commit_wait() may be called on one handle from any number of
 * threads at once (the handle's shared state is atomic; no lock is
 * taken; a reopen by one thread is seen whole or not at all by the
 * others); on a shared handle exactly one reading carries each
 * VRTC_TIME_DISRUPTED (a reading of a page replaced meanwhile carries
 * none). vrtc_clockbound_write() keeps the segment's state
 * in the handle: one thread at a time per handle (it may run beside
 * vrtc_now() in others). vrtc_close() only when no other call is running
 * on the handle. The other functions are pure. vrtc_now() never blocks
 * except on the PHC ioctl in guest mode and the rare stat() of the page
 * file; vrtc_commit_wait() sleeps.
 *
 * ABI: the handle is opaque; struct vrtc_options and struct vrtc_time are
 * caller-allocated with spare room: new fields take reserved space and
 * keep their meaning when zero. Zero the whole struct vrtc_options (= {0}
 * or memset); a library that does not know a field a caller sets refuses
 * it with -EINVAL, so nothing is silently ignored. Check vrtc_version()
 * before using a field or function newer than VRTC_0.1. Symbols are
 * versioned (VRTC_0: version 0.1; VRTC_0.2: 0.2).
 * Link: pkg-config --cflags --libs vrtc.
 */
#ifndef VRTC_H
#define VRTC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* This header's library version; vrtc_version() is the running one's. */
#define VRTC_VERSION_MAJOR 0
#define VRTC_VERSION_MINOR 2
#define VRTC_VERSION_PATCH 0
#define VRTC_VERSION_NUMBER                                                    \
	((VRTC_VERSION_MAJOR << 16) | (VRTC_VERSION_MINOR << 8) |              \
	 VRTC_VERSION_PATCH)

#if defined(__GNUC__)
#pragma GCC visibility push(default)
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

/* vrtc_options.flags */
#define VRTC_OPEN_NO_RECOVER 0x1u /* keep the page first opened */

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
	/* since 0.2: */
	uint32_t flags;	      /* VRTC_OPEN_* */
	uint32_t reserved0;   /* 0 */
	uint64_t reserved[3]; /* 0 */
};

/* vrtc_time.flags */
#define VRTC_TIME_TRUSTED                                                      \
	0x1u			 /* status INITIALIZING, SYNCHRONIZED or       \
				    FREERUNNING: true time is inside */
#define VRTC_TIME_DISRUPTED 0x2u /* first reading after a disruption */
#define VRTC_TIME_REOPENED                                                     \
	0x4u /* first reading from a page file the                             \
		handle reopened (also DISRUPTED) */

struct vrtc_time {
	int64_t earliest_ns; /* ns since 1970 in the timescale */
	int64_t latest_ns;   /* earliest <= true time <= latest */
	int64_t now_ns;	     /* the estimate, in between */
	uint64_t bound_ns;   /* now - earliest (= latest - now, but near a
				leap second) */
	enum vrtc_status status;
	uint32_t flags;		    /* VRTC_TIME_* (since 0.2) */
	uint64_t age_ns;	    /* since the page's reference instant */
	uint64_t window_ns;	    /* guest: the PHC read window; host: 0 */
	uint64_t disruption_marker; /* changes when the daemon restarts or
				       its model steps */
	/* since 0.2: */
	enum vrtc_timescale timescale; /* of the three times */
	uint32_t disruptions; /* the handle's count of them so far: readings
				 with different counts are not ordered */
	uint64_t reserved[7]; /* zero; room for new fields */
};

struct vrtc;

/*
 * vrtc_open() - open the page (and in guest mode the PHC). @o NULL: all
 * defaults. Returns 0 with *@out set, or -EINVAL (@out NULL, an unknown
 * mode, timescale or flag, a reserved field not zero), -ENOENT (no page
 * or PHC found), -EISDIR (the page path is a directory), -ENODEV (not a
 * regular file), -EPERM (page file writable by others, or owned by
 * another user than root or us), -EMSGSIZE (shorter than a page),
 * -EPROTO (not a vmclock page: bad magic, version or size; also a page
 * file the daemon created and has not written yet), -EAGAIN (torn),
 * -ENOMEM, -errno of open/mmap.
 */
int vrtc_open(const struct vrtc_options *o, struct vrtc **out);

/*
 * vrtc_now() - the time now. Returns 0 with *@t filled (status may be any
 * but UNKNOWN; trustworthy if VRTC_TIME_TRUSTED), or a negative errno
 * with t->status UNKNOWN and no interval: -EINVAL (@v or @t NULL), -EPROTO (bad
 * magic, version or size field), -EAGAIN (torn: the page kept changing),
 * -ESTALE (older than max_age_ns, or from the future: not this host's counter),
 * -ENODATA (the page says no valid bound, status UNKNOWN, or UTC without a
 * valid TAI offset), -EIO (the PHC read failed).
 */
int vrtc_now(struct vrtc *v, struct vrtc_time *t);

/* NULL is a no-op. */
void vrtc_close(struct vrtc *v);

/* "unknown", "initializing", "synchronized", "freerunning",
 * "unreliable". */
const char *vrtc_status_name(enum vrtc_status s);

/* A sentence for an error of this library: a negative errno, or the same
 * value positive (5 is read as -5). Never NULL. */
const char *vrtc_strerror(int err);

/* The running library's version, as VRTC_VERSION_NUMBER (since 0.2). */
uint32_t vrtc_version(void);

/*
 * vrtc_now_within() - vrtc_now(), refused unless trustworthy and bound by
 * @max_bound_ns (both halves: now - earliest and latest - now). Returns 0,
 * a vrtc_now() error, -ENODATA (status UNRELIABLE: not trustworthy) or
 * -ERANGE (the bound is wider): *@t is filled then, for a look (since 0.2).
 */
int vrtc_now_within(struct vrtc *v, uint64_t max_bound_ns, struct vrtc_time *t);

/*
 * vrtc_before() - 1 if @a happened definitely before @b (a->latest_ns <
 * b->earliest_ns), 0 if that is not certain (they overlap, or @b is
 * before @a), -EINVAL (NULL, or different timescales), -ENODATA (either
 * is not trustworthy). After(a, b) is before(b, a). Pure (since 0.2).
 */
int vrtc_before(const struct vrtc_time *a, const struct vrtc_time *b);

/*
 * vrtc_commit_wait() - Spanner's commit wait: wait until a trustworthy
 * reading of @v has earliest_ns > @latest_ns (in @v's timescale; e.g. the
 * latest_ns of the reading that stamped a commit), so that every later
 * reading anywhere is after that stamp. Sleeps on CLOCK_MONOTONIC for
 * about the remaining gap, at most @timeout_ns in all. Returns 0 with *@t
 * (may be NULL) the reading, -ETIMEDOUT (*@t the last reading), -EINVAL
 * (@v NULL) (since 0.2).
 */
int vrtc_commit_wait(struct vrtc *v, int64_t latest_ns, uint64_t timeout_ns,
		     struct vrtc_time *t);

/*
 * vrtc_time_at() - the interval of a past instant stamped @stamp_ns on
 * @clock (a clockid_t; int here so that <time.h> need not define it):
 * CLOCK_MONOTONIC_RAW (the stamp of an event, taken cheaply,
 * to be dated later) or CLOCK_REALTIME. The reading now, moved back by
 * the elapsed time with that clock's rate error: the page's bound on
 * CLOCK_MONOTONIC_RAW in host mode, 500 ppm (the kernel's frequency
 * limit) for CLOCK_MONOTONIC_RAW in a guest and for CLOCK_REALTIME, which
 * must not have been stepped since the stamp. A leap second since the
 * stamp widens the interval by 1 s. age_ns is the page's age plus the
 * stamp's. Returns 0, a vrtc_now() error, -EINVAL (NULL, another clock,
 * a stamp in the future), -ERANGE (older than a day) (since 0.2).
 */
int vrtc_time_at(struct vrtc *v, int clock, int64_t stamp_ns,
		 struct vrtc_time *t);

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

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* VRTC_H */
