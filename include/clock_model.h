/* SPDX-License-Identifier: MIT */
/*
 * The clock model: the one read-only interface between the discipline
 * (sync/) and everything that serves time (device/, exports).
 *
 * The estimator publishes immutable snapshots through a sequence counter;
 * readers copy a consistent snapshot with clock_model_get() and compute
 * every served timescale from it as a pure function of the host counter:
 *
 *   TAI(c) = tai0_ns + period * (c - c0)
 *   |error(c)| <= time_maxerr_ns + rate_maxerr_ppb * |c - c0| / 1e9
 *
 * UTC, smeared UTC and MONOTONIC are then pure functions of TAI(c) (and,
 * for MONOTONIC, of mono0_ns) and of the leap-second table.
 *
 * Thread/loop: clock_model_get() may be called from any thread and never
 * blocks; in practice everything runs on the daemon's one GLib main loop.
 */
#ifndef CLOCK_MODEL_H
#define CLOCK_MODEL_H

#include <stdbool.h>
#include <stdint.h>

/* The host counter the model is expressed in. */
enum clock_counter {
	CLOCK_COUNTER_MONOTONIC_RAW = 0, /* CLOCK_MONOTONIC_RAW, in ns */
};

/* Same values as the vmclock ABI's clock_status. */
enum clock_status {
	CLOCK_STATUS_UNKNOWN = 0,
	CLOCK_STATUS_INITIALIZING = 1,
	CLOCK_STATUS_SYNCHRONIZED = 2,
	CLOCK_STATUS_FREERUNNING = 3,
	CLOCK_STATUS_UNRELIABLE = 4,
};

/* The timescales the model can serve. */
enum timescale {
	TIMESCALE_TAI = 0,
	TIMESCALE_UTC,		   /* steps back 1 s at a positive leap */
	TIMESCALE_UTC_NOON_LINEAR, /* noon-to-noon linear smear */
	TIMESCALE_UTC_SLS,	   /* last 1000 s of the leap day */
	TIMESCALE_MONOTONIC,	   /* physical ns since model start */
};

/* Leap-second table; immutable once published (see sync/model/leap.h). */
struct leap_table;

/* Fixed-point shift of clock_snapshot.period_q: ns per tick * 2^40. */
#define CLOCK_PERIOD_SHIFT 40

struct clock_snapshot {
	uint64_t generation; /* +1 on every publish; 0 = never published */
	uint64_t steps;	     /* +1 on every step (discontinuity) */
	enum clock_counter counter;
	enum clock_status status;
	uint64_t c0;		 /* counter value at the reference point */
	int64_t tai0_ns;	 /* TAI at c0, ns since 1970-01-01 00:00 TAI */
	int64_t mono0_ns;	 /* MONOTONIC at c0 */
	uint64_t period_q;	 /* ns per counter tick << CLOCK_PERIOD_SHIFT */
	uint64_t time_esterr_ns; /* estimated error of tai0_ns */
	uint64_t time_maxerr_ns; /* worst-case error of tai0_ns */
	uint64_t rate_esterr_ppb;	/* estimated error growth, ns per s */
	uint64_t rate_maxerr_ppb;	/* worst-case error growth, ns per s */
	const struct leap_table *leaps; /* never NULL once published */
};

/* One served value and its worst-case error. */
struct clock_reading {
	int64_t ns;	    /* value in the requested timescale */
	uint64_t maxerr_ns; /* |served - true| <= maxerr_ns */
};

struct clock_model;

/*
 * clock_counter_now() - read the host counter the model uses.
 * Returns the counter value (CLOCK_MONOTONIC_RAW ns for now).
 */
uint64_t clock_counter_now(enum clock_counter counter);

/*
 * clock_model_get() - copy the latest published snapshot.
 * @m:   the model
 * @out: receives a consistent (never torn) snapshot
 * Returns 0, or -EAGAIN if nothing has been published yet.
 */
int clock_model_get(const struct clock_model *m, struct clock_snapshot *out);

/*
 * clock_model_tai_now() - TAI now, as the READ path computes it: the
 * latest snapshot (into *@snap) at the counter's present value.
 * @tai_ns: receives TAI in ns (its bound is the snapshot's)
 * Returns 0, or -EAGAIN if nothing has been published yet.
 */
int clock_model_tai_now(const struct clock_model *m,
			struct clock_snapshot *snap, int64_t *tai_ns);

/*
 * clock_snapshot_tai() - TAI at counter value @c, with its bound.
 */
void clock_snapshot_tai(const struct clock_snapshot *s, uint64_t c,
			struct clock_reading *out);

/*
 * clock_snapshot_rebase() - @s with its reference point moved to counter
 * value @c (>= s->c0): tai0 and mono0 carried along at the model's
 * rate, the time errors grown by their rates over c - c0 (rounded up).
 * Bounds computed from @out at any c' >= @c are never narrower than
 * from @s. For exports that must stay fresh while nothing is published
 * (the status page in holdover). @c < s->c0 copies @s unchanged.
 */
void clock_snapshot_rebase(const struct clock_snapshot *s, uint64_t c,
			   struct clock_snapshot *out);

/*
 * clock_snapshot_read() - the value of timescale @ts at counter @c.
 * Returns 0, -EINVAL for an unknown timescale, -ERANGE if the value is
 * outside [0, INT64_MAX] ns (before 1970 or after 2262).
 */
int clock_snapshot_read(const struct clock_snapshot *s, enum timescale ts,
			uint64_t c, struct clock_reading *out);

/*
 * clock_snapshot_deadline_tai() - the earliest TAI instant at which
 * timescale @ts reads @value_ns or more: the deadline of an alarm set in
 * @ts. For TAI and the UTC timescales it depends only on the leap table,
 * not on the model's estimate. Saturates to the int64 range.
 * Returns 0, or -EINVAL for a timescale without such a mapping.
 * O(n) in the leap table: for arming alarms, not for the READ path.
 */
int clock_snapshot_deadline_tai(const struct clock_snapshot *s,
				enum timescale ts, uint64_t value_ns,
				int64_t *tai_ns);

/* Human-readable names, for logs and status output. */
const char *clock_status_name(enum clock_status st);
const char *timescale_name(enum timescale ts);

#endif /* CLOCK_MODEL_H */
