/* SPDX-License-Identifier: MIT */
/*
 * The probe's eval: references and per-clock statistics, shared by
 * eval.c (sampling, reporting) and eval_ref.c (reading the reference).
 * Single-threaded.
 */
#ifndef PROBE_EVAL_H
#define PROBE_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leap.h"

struct phc;

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

#endif /* PROBE_EVAL_H */
