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
/* A relative clock's origin: the median over this many first samples */
#define EVAL_ORIGIN_SAMPLES 16

/* What a sample keeps beyond its time, offset and bound. */
struct eval_sample {
	uint64_t served;     /* the READ's value, ns */
	int64_t tai_ns;	     /* the reference, TAI ns */
	int64_t raw_off_ns;  /* served - the reference in the clock's
			      * timescale (a relative clock: before its
			      * origin is taken off) */
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
	/* MONOTONIC (no defined epoch): offsets from @first, the median of
	 * the first EVAL_ORIGIN_SAMPLES raw offsets (eval_settle_origin()),
	 * not from the first sample alone, which may be a noisy read */
	bool relative;
	bool origin_set;
	int64_t first;
	char label[48];
	size_t n, cap;
	size_t counted;	      /* samples with a known bound (not relative) */
	size_t covered;	      /* of those, within it */
	double *t_s, *off_ns; /* off_ns: NAN until a relative origin is set */
	double *bound_ns;     /* NAN: not known (yet) */
	double *cover_ns;     /* eval_cover_ns(), NAN: none (relative) */
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
 * eval_ref_open() - open the reference (PHC read with sync/sources/phc.c) and
 * describe it in @r->desc. Returns 0, or -errno with @err set.
 */
int eval_ref_open(struct eval_ref *r, GError **err);

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

/*
 * eval_cover_ns() - the half-width of the interval around the reference
 * that a sample with bound @bound_ns must fall in to count as covered:
 * bound + window/2 + the reference's own error, ns; NAN if the bound is
 * not @known. Coverage counts against it and the plot shades it.
 */
double eval_cover_ns(bool known, uint64_t bound_ns,
		     const struct eval_sample *s);

/*
 * eval_give_bound() - sample @j of @c gets its bound (@known: else none)
 * and, unless @c is relative, its eval_cover_ns() interval, and is
 * counted in @c's coverage.
 */
void eval_give_bound(struct eval_clock *c, size_t j, bool known,
		     uint64_t bound_ns);

/*
 * eval_median_origin() - the median raw offset of the first @n samples
 * (at most EVAL_ORIGIN_SAMPLES; the lower middle for an even count).
 */
int64_t eval_median_origin(const struct eval_sample *s, size_t n);

/*
 * eval_settle_origin() - for a relative clock with EVAL_ORIGIN_SAMPLES
 * samples (or, with @final, any), set its origin (eval_median_origin())
 * and its offsets so far. Returns true once the origin is set (always
 * for a clock that is not relative).
 */
bool eval_settle_origin(struct eval_clock *c, bool final);

/* @s's offset for @c: raw, or from @c's origin (NAN: not set yet). */
double eval_offset(const struct eval_clock *c, const struct eval_sample *s);

/* The name of virtio-rtc clock type @t ("UTC", "TAI", ...). */
const char *eval_type_name(uint8_t t);

/*
 * eval_report() - print the reference, method, bound source and one
 * statistics line per clock to stdout.
 */
void eval_report(const struct eval_clock *c, size_t n,
		 const struct eval_ref *ref, const struct eval_opts *o);

struct plot_series;
#define EVAL_LABEL_LEN 120

/*
 * eval_plot_series() - the plot's series for clocks @c[0..@n): offsets,
 * and as band each sample's eval_cover_ns() (the interval its coverage
 * was counted against; none for a relative clock); legend text into
 * @labels.
 */
void eval_plot_series(const struct eval_clock *c, size_t n,
		      struct plot_series *s, char (*labels)[EVAL_LABEL_LEN]);

/*
 * eval_plots() - write the PNG and/or SVG plot @o asks for: offsets per
 * clock, each with its coverage interval (eval_plot_series()), and
 * the daemon's status at the start and where it changed. Returns 0, or
 * the failing plot_write()'s -errno (the file named on stderr).
 */
int eval_plots(const struct eval_clock *c, size_t n, const struct eval_ref *ref,
	       const struct eval_opts *o);

#endif /* PROBE_EVAL_H */
