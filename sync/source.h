/* SPDX-License-Identifier: MIT */
/*
 * Time sources: one static const ops table per kind (PHC, chronyd's
 * system clock, later gpsd), each turning its input into struct
 * time_sample (the source's TAI against the host counter, with the
 * sample's own worst-case error) plus a health report. The discipline
 * (discipline.h) polls one source and feeds the estimator.
 *
 * Thread/loop: a source belongs to the thread that polls it (the
 * daemon's main loop). Nothing here logs: the caller does.
 */
#ifndef SYNC_SOURCE_H
#define SYNC_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "leap.h"
#include "phc.h"
#include "sample.h"

struct timex;

enum source_state {
	SOURCE_OK = 0,	 /* samples valid, companions answering */
	SOURCE_DEGRADED, /* samples valid, but some input is missing */
	SOURCE_STALE,	 /* no fresh sample this poll */
	SOURCE_ERROR,	 /* the source failed; see text */
};

/* Leap announcement, as the source knows it. */
enum source_leap {
	SOURCE_LEAP_NONE = 0,
	SOURCE_LEAP_INSERT, /* 23:59:60 at the end of this UTC day */
	SOURCE_LEAP_DELETE, /* 23:59:59 skipped at the end of this day */
};

/*
 * How much a source's leap information is worth (leapmerge.h ranks it
 * against the leap-seconds.list table). Set with tai_utc_known or
 * leap_known.
 */
enum leap_authority {
	LEAP_AUTH_NONE = 0,
	LEAP_AUTH_KERNEL,	 /* adjtimex TAI offset / STA_INS, STA_DEL */
	LEAP_AUTH_GNSS,		 /* gpsd (receiver's almanac) */
	LEAP_AUTH_NTP,		 /* chronyd's leap status */
	LEAP_AUTH_PTP,		 /* ptp4l, UTC offset valid, not traceable */
	LEAP_AUTH_PTP_TRACEABLE, /* ptp4l, valid and time traceable */
};

struct source_health {
	enum source_state state;
	enum leap_authority leap_auth; /* of the two fields below */
	char text[160];	    /* one line: what the source is doing, or why
			     * not; empty when nothing to say */
	bool tai_utc_known; /* the source itself says TAI - UTC */
	int32_t tai_utc_s;  /* valid if tai_utc_known */
	bool leap_known;    /* the source announces leap status */
	enum source_leap leap;
};

/* Where sources read clocks; tests substitute a simulated host. */
struct source_clock_ops {
	/* as clock_gettime(): 0, or -1 with errno set */
	int (*gettime)(void *ctx, clockid_t clk, struct timespec *ts);
};

/* Everything any source needs; each kind reads its own fields. */
struct source_conf {
	const struct leap_table *leaps; /* required, outlives the source */

	/* PHC */
	const char *phc;		  /* /dev/ptpN or interface name */
	enum phc_timescale phc_timescale; /* default TAI */
	const char *ptp4l_socket;	  /* NULL: no ptp4l companion */
	const char *ptp4l_bind_dir;	  /* NULL: g_get_tmp_dir() */
	const struct phc_ops *phc_ops;	  /* NULL: real system calls */
	uint32_t phc_drift_ppb; /* ageing of ptp4l's last budget once it
				 * no longer vouches; 0: 1000 (1 ppm) */
	void *phc_ctx;

	/* chronyd */
	const char *chrony_socket;  /* NULL: CHRONY_DEFAULT_SOCKET */
	uint16_t chrony_port;	    /* loopback UDP command port for reopening
				     * when the socket cannot be (after the
				     * privilege drop); 0: never */
	const char *chrony_run_dir; /* NULL: the socket's directory */
	uint32_t chrony_drift_ppb;  /* bound ageing; 0: 1000 (1 ppm) */
	const struct source_clock_ops *clock_ops; /* NULL: clock_gettime */
	void *clock_ctx;

	/* gpsd (JSON watch over TCP, libgps) */
	const char *gpsd_server;   /* "host:port"; NULL: localhost:2947 */
	const char *gpsd_device;   /* NULL: every device gpsd reports */
	uint64_t gpsd_toff_err_ns; /* NMEA sentence timing; 0: 500 ms */

	/* system clock: reads through clock_ops/clock_ctx, and this */
	int (*sysclock_adjtime)(void *ctx, struct timex *tx); /* NULL:
							       * ntp_adjtime
							       * read-only */
};

struct source;

struct source_ops {
	const char *name; /* "PHC", "chronyd" */
	/*
	 * Open the source. Returns 0 with *@out, or -errno with a one-line
	 * reason in @msg (which names the device, socket, ...).
	 */
	int (*new)(const struct source_conf *conf, struct source **out,
		   char *msg, size_t msg_len);
	void (*free)(struct source *s); /* NULL is a no-op */
	/*
	 * Take a sample now, without blocking for long (companion daemons
	 * are asked with short timeouts). Always fills @h. Returns 0 with
	 * *@out, or -errno when there is no usable sample this time
	 * (-EAGAIN: none yet, try again; others: the source failed).
	 */
	int (*poll)(struct source *s, struct time_sample *out,
		    struct source_health *h);
	/*
	 * Use @t (which outlives the source) from now on wherever the source
	 * converts between UTC and TAI: the discipline's merged leap table
	 * (leapmerge.h), which may know a leap the file's table does not.
	 * NULL for sources that never convert.
	 */
	void (*set_leaps)(struct source *s, const struct leap_table *t);
};

/* Every source starts with this member, so the generic calls find it. */
struct source {
	const struct source_ops *ops;
	char name[48]; /* set by new(), else ops->name: "PHC /dev/ptp0" */
};

extern const struct source_ops source_phc_ops;
extern const struct source_ops source_chrony_ops;
extern const struct source_ops source_gpsd_ops;	    /* sync/source_gpsd.c */
extern const struct source_ops source_sysclock_ops; /* source_sysclock.c */

/* Generic calls: ops->new/free/poll. source_free(NULL) is a no-op. */
int source_new(const struct source_ops *ops, const struct source_conf *conf,
	       struct source **out, char *msg, size_t msg_len);
void source_free(struct source *s);
int source_poll(struct source *s, struct time_sample *out,
		struct source_health *h);
/* ops->set_leaps if the kind has one; @t NULL is ignored. */
void source_set_leaps(struct source *s, const struct leap_table *t);
const char *source_name(const struct source *s);
const char *source_state_name(enum source_state st);
/* "none", "insert", "delete". */
const char *source_leap_name(enum source_leap l);

#endif /* SYNC_SOURCE_H */
