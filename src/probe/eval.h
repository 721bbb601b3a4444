/* SPDX-License-Identifier: MIT */
/*
 * The probe's eval: references, samples and per-clock statistics, shared
 * by eval.c (sampling), eval_report.c (report and plots) and eval_ref.c
 * (reading the reference). Single-threaded.
 */
#ifndef PROBE_EVAL_H
#define PROBE_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eval_live.h"
#include "leap.h"
#include "timescale.h"

struct phc;

#define EVAL_MAX_CLOCKS 8 /* = PLOT_MAX_SERIES */

/* What a sample keeps beyond its time, offset and bound. */
struct eval_sample {
	uint64_t served;     /* the READ's value, ns */
	int64_t tai_ns;	     /* the reference, TAI ns */
	uint64_t win_ns;     /* the bracket's width */
	uint64_t err_ns;     /* the reference's own error */
	uint64_t c_lo, c_hi; /* CLOCK_MONOTONIC_RAW ns around the burst */
	const char *status;  /* the daemon's, as last queried, or NULL */
};

/* One served clock and its samples, in parallel arrays. */
struct eval_clock {
	uint16_t id;
	uint8_t type, smear;
	enum timescale ts;
	bool relative; /* MONOTONIC: offsets from the first sample */
	int64_t first;
	char label[48];
	size_t n, cap;
	size_t counted; /* samples with a known bound (not relative) */
	size_t covered; /* of those, within it */
	double *t_s, *off_ns;
	double *bound_ns; /* NAN: not known (yet) */
	struct eval_sample *s;
};

/* The control socket as eval uses it (path NULL: not used). */
struct eval_live_run {
	const char *path;
	struct eval_live_snap last; /* the latest good answer */
	int64_t next_ns;	    /* CLOCK_MONOTONIC of the next query */
	unsigned int queries;	    /* good answers */
	unsigned int changes;	    /* of those, with a new generation */
	uint64_t unseen;	    /* publishes between two answers */
	bool failed;		    /* gave up: the last snapshot is used */
	double failed_t_s;	    /* when, s since the start */
	char why[200];
	bool warned; /* the daemon's bound_ns disagreed once */
};

struct eval_opts {
	const char *socket, *csv, *png, *svg, *leap_file, *bound_log;
	double duration_s, rate_hz;
	unsigned int burst; /* bracketed READs per sample, narrowest kept */
	int64_t bound_ns;   /* < 0: none */
	char bound_src[200];
	struct eval_live_run live;
};

/* Where the true time comes from. */
struct eval_ref {
	const char *dev; /* PHC path, or NULL for a system clock */
	bool realtime;	 /* system clock: CLOCK_REALTIME, else CLOCK_TAI */
	bool phc_utc;	 /* the PHC counts UTC (else TAI) */
	struct phc *phc; /* open PHC reader */
	bool kernel_tai; /* CLOCK_TAI has the kernel's TAI offset set */
	const struct leap_table *leap;
	char desc[200]; /* one line, for the report and the plot */
};

/*
 * eval_ref_open() - open the reference (PHC read with sync/phc.c) and
 * describe it in @r->desc. Returns 0, or -errno with @msg filled.
 */
int eval_ref_open(struct eval_ref *r, char *msg, size_t msg_len);

/* Close the PHC, if any; safe on a reference that failed to open. */
void eval_ref_close(struct eval_ref *r);

/*
 * eval_ref_begin() and eval_ref_end() - bracket a device read: the reference
 * TAI at the middle of [begin, end] goes to @tai_ns, the bracket width
to @window_ns, and the reference's own error (beyond the window) to
 * @err_ns. For a system clock the bracket reads the clock itself; for a
 * PHC it reads CLOCK_MONOTONIC_RAW and the PHC once after @end.
 * Returns 0 or -errno (from phc_read()).
 */
int64_t eval_ref_begin(const struct eval_ref *r);
int eval_ref_end(struct eval_ref *r, int64_t begin, int64_t *tai_ns,
		 uint64_t *window_ns, uint64_t *err_ns);

/*
 * eval_bound_from_log() - the last "bound N ns" or "maxerr N ns" the
 * daemon logged in @path. Returns 0 with @bound_ns set, -ENOENT if the
 * file has none, or -errno of fopen().
 */
int eval_bound_from_log(const char *path, uint64_t *bound_ns);

/* The name of virtio-rtc clock type @t ("UTC", "TAI", ...). */
const char *eval_type_name(uint8_t t);

/*
 * eval_report() - print the reference, method, bound source and one
 * statistics line per clock to stdout.
 */
void eval_report(const struct eval_clock *c, size_t n,
		 const struct eval_ref *ref, const struct eval_opts *o);

/*
 * eval_plots() - write the PNG and/or SVG plot @o asks for: offsets per
 * clock, the bound (constant, or per sample from the control socket) and
 * the daemon's status at the start and where it changed. Returns 0, or
 * the failing plot_write()'s -errno (the file named on stderr).
 */
int eval_plots(const struct eval_clock *c, size_t n, const struct eval_ref *ref,
	       const struct eval_opts *o);

#endif /* PROBE_EVAL_H */
