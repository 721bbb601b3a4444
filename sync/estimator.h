/* SPDX-License-Identifier: MIT */
/*
 * The estimator: turns one source's time_samples into clock snapshots
 * (counter -> TAI) with an estimated and a worst-case error.
 *
 * Algorithm. A 2-state Kalman filter (phase, frequency) in the form
 * ntpd-rs uses: measurement noise per sample from its own err_ns (a
 * uniform error in +-err has variance err^2/3), process noise a pure
 * random walk of the frequency (config wander_ppb, ppb per sqrt(s)):
 * Q = w^2 [dt^3/3, dt^2/2; dt^2/2, dt]. Chosen over chrony's windowed
 * regression because it weighs every sample by its own err_ns, costs
 * O(1) per sample, handles dropouts and irregular intervals without
 * re-fitting, and its one tuning knob is a physical quantity (the
 * oscillator pair's wander). It is the *estimate* only: the Kalman
 * covariance is a 1-sigma statistic, so it feeds the esterr fields and
 * never the worst-case bound.
 *
 * Worst-case bound, built only from triangle inequalities over the
 * samples' own err_ns and one assumption, that the true frequency stays
 * within max_drift_ppb of its average over the sample window for as long
 * as the model is used (window plus holdover):
 *   phase at the newest sample n:  err_n + |x(c_n) - y_n|
 *   frequency:  |f - f_an| + (err_a + err_n) / (c_n - c_a) + max_drift
 *     where f_an is the mean frequency measured between window sample a
 *     and n (a picked to minimise the bound) and f the Kalman estimate;
 *   plus the slew residual and the slew rate (below), and 1 ns / 1 ppb
 *     for the fixed-point rounding of tai0 and period_q.
 * Before two samples the frequency bound is max_freq_ppb + max_drift.
 * In holdover the bound keeps growing at the frequency bound (which
 * includes max_drift) times the time since the last good sample.
 *
 * Slew, not step. At each update the new model is anchored at c0 =
 * max(now, sample counter) with tai0 = the old model's value there (so
 * the served clock is continuous), and the residual e = estimate - tai0
 * is steered out through the period over slew_ns (rate capped at
 * max_slew_ppb). Only |e| > step_ns steps, counted in snapshot.steps.
 * estimator_tick() ends a slew that was not refreshed by a sample in
 * time, re-anchoring continuously, and moves the status as time passes.
 * MONOTONIC is always carried: mono0 = the old model's MONOTONIC at c0.
 *
 * Outliers. A sample whose residual against the published model exceeds
 * its err_ns + the model's bound at its counter contradicts the model
 * (they cannot both be right): it is rejected and counted, and the
 * status goes UNRELIABLE. outlier_reinit such samples in a row that
 * agree with each other mean the source moved: the filter restarts from
 * them (frequency kept) and the model steps (counted) or slews.
 *
 * Status: INITIALIZING until min_samples good samples since the (re)start,
 * SYNCHRONIZED, FREERUNNING when no sample came for stale_intervals
 * intervals, UNRELIABLE when the bound passes unreliable_ns or during an
 * outlier streak.
 *
 * Thread/loop: not thread-safe; one owner feeds and ticks it, publishing
 * the snapshots it returns with clock_model_publish().
 */
#ifndef SYNC_ESTIMATOR_H
#define SYNC_ESTIMATOR_H

#include <stdint.h>

#include "clock_model.h"
#include "sample.h"

struct estimator_config {
	uint64_t interval_ns;	      /* nominal sample interval */
	unsigned int min_samples;     /* good samples before SYNCHRONIZED */
	unsigned int stale_intervals; /* missed intervals -> FREERUNNING */
	unsigned int outlier_reinit;  /* outliers in a row -> restart */
	uint64_t slew_ns;	      /* time to steer a phase error out */
	uint64_t max_slew_ppb;	      /* steering rate cap */
	uint64_t step_ns;	      /* step above this phase error */
	uint64_t max_drift_ppb;	      /* frequency change bound (holdover) */
	uint64_t max_freq_ppb;	      /* counter frequency error, unmeasured */
	uint64_t unreliable_ns;	      /* bound above this -> UNRELIABLE */
	double wander_ppb;	      /* frequency random walk, ppb/sqrt(s) */
	const char *name; /* for its log lines (copied); NULL: none */
};

struct estimator_stats {
	uint64_t accepted;    /* samples used */
	uint64_t outliers;    /* samples rejected as contradicting the model */
	uint64_t reinits;     /* restarts after an outlier streak */
	uint64_t steps;	      /* model steps (as snapshot.steps) */
	double freq_ppb;      /* estimated frequency of TAI vs counter - 1 */
	double phase_sd_ns;   /* Kalman 1-sigma phase at the last sample */
	double last_resid_ns; /* last sample minus the published model */
};

/* Fill @cfg with the defaults (1 s interval, 8 samples, 8 intervals,
 * 3 outliers, 4 s slew, 500 ppm slew cap, 1 ms step, 1 ppm drift, 500 ppm
 * unmeasured frequency, 1 s unreliable, 0.1 ppb/sqrt(s) wander). */
void estimator_config_default(struct estimator_config *cfg);

struct estimator;

/*
 * estimator_new() - an estimator with nothing published yet.
 * @cfg:   tunables, copied; NULL for the defaults
 * @leaps: the leap table every snapshot carries; must outlive it
 * @out:   receives the estimator
 * Returns 0, or -EINVAL for a bad config or NULL @leaps, or -ENOMEM.
 */
int estimator_new(const struct estimator_config *cfg,
		  const struct leap_table *leaps, struct estimator **out);

/* NULL is a no-op. */
void estimator_free(struct estimator *e);

/*
 * estimator_feed() - take one sample.
 * @s:   the sample; counters must increase from sample to sample
 * @now: the counter now (>= s->counter); the new model is anchored here
 * @out: receives the snapshot to publish when the return value is 1
 * Returns 1 if @out holds a new snapshot, 0 if nothing changed, -EINVAL
 * for a bad or out-of-order sample (ignored).
 */
int estimator_feed(struct estimator *e, const struct time_sample *s,
		   uint64_t now, struct clock_snapshot *out);

/*
 * estimator_tick() - let time pass without a sample: ends an expired
 * slew and updates the status (FREERUNNING, UNRELIABLE).
 * Returns 1 if @out holds a new snapshot, 0 if nothing changed, -EAGAIN
 * before the first sample, -EINVAL if @now is before the model's c0.
 */
int estimator_tick(struct estimator *e, uint64_t now,
		   struct clock_snapshot *out);

/*
 * estimator_set_leaps() - carry @leaps (must outlive the estimator, or
 * the next call) in every snapshot from now on.
 * Returns 1 with @out holding the current model with the new table (to
 * publish at once, so served UTC and alarms see it), 0 if nothing is
 * published yet or @leaps is the table already carried, -EINVAL for a
 * NULL @leaps.
 */
int estimator_set_leaps(struct estimator *e, const struct leap_table *leaps,
			struct clock_snapshot *out);

void estimator_get_stats(const struct estimator *e, struct estimator_stats *st);

/*
 * What an estimator knows, for the process that serves after this one
 * (live upgrade): its model, its filter and its window of samples.
 * Plain numbers; the next process checks them with estimator_resume().
 * The snapshot's leap table is not carried: the next process has its
 * own (the same file).
 */
#define ESTIMATOR_STATE_WINDOW 64
struct estimator_state {
	uint32_t version; /* ESTIMATOR_STATE_VERSION */
	uint32_t nwin, whead, since_init;
	uint64_t last_good_c;
	uint64_t kc;
	int64_t ktai;
	double kp, kf, p00, p01, p11;
	double rate_f, slew_ppb;
	uint64_t slew_end;
	uint32_t base; /* enum clock_status */
	uint32_t kf_init;
	struct {
		uint64_t c;
		int64_t y;
		uint64_t err;
	} win[ESTIMATOR_STATE_WINDOW];
	/* the model (leaps: none) */
	uint64_t generation, steps;
	uint32_t counter, status;
	uint64_t c0;
	int64_t tai0_ns, mono0_ns;
	uint64_t period_q, time_esterr_ns, time_maxerr_ns, rate_esterr_ppb,
		rate_maxerr_ppb;
};
#define ESTIMATOR_STATE_VERSION 1u

/* -EAGAIN before the first model. */
int estimator_save(const struct estimator *e, struct estimator_state *out);

/*
 * estimator_resume() - go on from @st, taken by estimator_save() in the
 * process before (the counter is system-wide); @now is the counter now.
 * Every number is checked: -EINVAL and the estimator unchanged if one is
 * not what a running estimator could hold. @out gets the model to serve.
 */
int estimator_resume(struct estimator *e, const struct estimator_state *st,
		     uint64_t now, struct clock_snapshot *out);

#endif /* SYNC_ESTIMATOR_H */
