/* SPDX-License-Identifier: MIT */
/*
 * Time sources: one static const ops table per kind (PHC, chronyd's
 * system clock, gpsd, the system clock itself), each turning its input into
 * struct time_sample (the source's TAI against the host counter, with the
 * sample's own worst-case error) plus a health report. The discipline
 * (discipline.h) polls one source and feeds the estimator.
 *
 * Thread/loop: a source belongs to the thread that polls it (the
 * daemon's main loop). Nothing here logs: the caller does.
 */
#ifndef SYNC_SOURCE_H
#define SYNC_SOURCE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config_key.h"
#include "leap.h"
#include "sample.h"

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

/* What every source is given, whatever its kind. */
struct source_conf {
	const struct leap_table *leaps; /* required, outlives the source */
	/* ageing of a bound once nothing vouches for it (chronyd's system
	 * clock, a PHC ptp4l no longer steers); 0: 1000 (1 ppm) */
	uint32_t drift_ppb;
	const struct source_clock_ops *clock_ops; /* NULL: clock_gettime */
	void *clock_ctx;
	/* The kind's own settings (struct source_phc_settings, ...), which
	 * outlive the call to new(); NULL: all zero. */
	const void *settings;
	unsigned int index; /* which of the kind's sources: the Nth phc */
	/*
	 * A companion daemon (chronyd, gpsd) that cannot be reached in
	 * new(): true, the source is opened down (no samples, its health
	 * says why) and keeps trying at its polls, as when it is lost later
	 * (source-start=retry); false, new() fails (source-start=strict).
	 * What is not a daemon's absence (a missing PHC device, a gpsd host
	 * name that does not resolve) fails new() either way.
	 */
	bool retry_at_start;
};

struct source;

struct source_ops {
	const char *name; /* "PHC", "chronyd" */
	/*
	 * Open the source. Returns 0 with *@out, or -errno with @err set
	 * (source_error_quark(), code the errno) to a one-line reason that
	 * names the device, socket, ... With conf->retry_at_start, an
	 * unreachable companion daemon is not an error (see there).
	 */
	int (*new)(const struct source_conf *conf, struct source **out,
		   GError **err);
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

/*
 * A kind of time source as the daemon configures it, like a chrony
 * refclock driver: its ops, its settings struct and the keys that fill it
 * (include/config_key.h: offsets into that struct; the daemon's config
 * parser reads them, for the key file and the command line alike).
 * source_kinds() lists them all; adding a kind is one source_X.c with its
 * ops, settings, keys and checks, and one line in the registry
 * (SOURCE_KINDS in source.c).
 */
struct source_kind {
	/* the key that turns it on, and the name in "no other time source
	 * (phc, chrony, gpsd)" */
	const char *name;
	const char *plural; /* "at most 5 PHCs" */
	const struct source_ops *ops;
	const struct config_key *keys;
	size_t n_keys;
	size_t settings_size; /* of its struct source_*_settings */
	/* most sources of this kind; 0: as many as the others leave */
	unsigned int max_sources;
	/* How many sources @settings ask for (0: the kind is off). */
	unsigned int (*count)(const void *settings);
	/*
	 * Check the combination of its keys, once all are read. @origin[i]
	 * says where keys[i]'s value came from ("FILE:LINE: key", "--key"),
	 * for the message. NULL: nothing to check. Returns 0, or -EINVAL
	 * with @err set.
	 */
	int (*check)(const void *settings, const char *const *origin,
		     GError **err);
	/*
	 * Check the settings against this host, for --check-config and
	 * start-up only (not a reload, not the config's own tests): a
	 * device that does not exist, say. Opening it stays new()'s job.
	 * Same arguments and return as check; NULL: nothing to check.
	 */
	int (*check_host)(const void *settings, const char *const *origin,
			  GError **err);
};

/*
 * The registry: every kind, in order of preference among equals (the
 * system clock, the fallback, last). @n receives the count.
 */
const struct source_kind *const *source_kinds(size_t *n);

/* The GError domain of source_new() and ops->new; the code is the errno. */
GQuark source_error_quark(void);

/* Generic calls: ops->new/free/poll. source_free(NULL) is a no-op. */
int source_new(const struct source_ops *ops, const struct source_conf *conf,
	       struct source **out, GError **err);
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
