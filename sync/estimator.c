// SPDX-License-Identifier: MIT
/*
 * The estimator: Kalman phase/frequency estimate, worst-case bound from
 * the samples' own budgets, slewed continuous model. See estimator.h for
 * the algorithm and the bound.
 */
#define G_LOG_DOMAIN "vrtc-sync"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator.h"
#include "time_ns.h"

#define EST_WINDOW 64	   /* samples kept for the frequency bound */
#define EST_MAX_STREAK 16  /* outlier_reinit cap */
#define EST_INIT_SD_NS 1e9 /* phase unknown before the first sample */

struct est_point {
	uint64_t c;
	int64_t y;
	uint64_t err;
};

struct estimator {
	struct estimator_config cfg;
	char who[48]; /* "estimator (NAME)", in log lines */
	const struct leap_table *leaps;

	bool have_snap;
	struct clock_snapshot cur; /* last returned */
	enum clock_status base;	   /* INITIALIZING or SYNCHRONIZED */
	double rate_f;		   /* frequency bound of cur, ppb, no slew */
	double slew_ppb;	   /* steering in cur's period */
	uint64_t slew_end;	   /* counter where that slew is done */

	/* Kalman state: TAI(kc) = ktai + kp; kf = TAI rate - 1, in ppb */
	bool kf_init;
	uint64_t kc;
	int64_t ktai;
	double kp, kf;
	double p00, p01, p11; /* covariance, ns and ppb */

	struct est_point win[EST_WINDOW]; /* accepted samples, ring */
	unsigned int nwin, whead;
	unsigned int since_init; /* accepted since the (re)start */
	uint64_t last_good_c;

	struct est_point streak[EST_MAX_STREAK]; /* outliers in a row */
	unsigned int nstreak;
	bool have_last;
	uint64_t last_c;

	struct estimator_stats st;
};

void estimator_config_default(struct estimator_config *cfg)
{
	*cfg = (struct estimator_config){
		.interval_ns = 1000000000ULL,
		.min_samples = 8,
		.stale_intervals = 8,
		.outlier_reinit = 3,
		.slew_ns = 4000000000ULL,
		.max_slew_ppb = 500000,
		.step_ns = 1000000,
		.max_drift_ppb = 1000,
		.max_freq_ppb = 500000,
		.unreliable_ns = 1000000000ULL,
		.wander_ppb = 0.1,
	};
}

int estimator_new(const struct estimator_config *cfg,
		  const struct leap_table *leaps, struct estimator **out)
{
	struct estimator_config def;
	struct estimator *e;

	if (!cfg) {
		estimator_config_default(&def);
		cfg = &def;
	}
	if (!leaps || cfg->interval_ns == 0 || cfg->min_samples < 2 ||
	    cfg->stale_intervals == 0 || cfg->outlier_reinit == 0 ||
	    cfg->outlier_reinit > EST_MAX_STREAK || cfg->slew_ns == 0 ||
	    cfg->max_freq_ppb >= 100000000ULL ||
	    !(cfg->wander_ppb >= 0.0 && cfg->wander_ppb < 1e6)) {
		return -EINVAL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		return -ENOMEM;
	}
	e->cfg = *cfg;
	e->cfg.name = NULL; /* not kept: the caller's string may go */
	if (cfg->name) {
		snprintf(e->who, sizeof(e->who), "estimator (%s)", cfg->name);
	} else {
		snprintf(e->who, sizeof(e->who), "estimator");
	}
	e->leaps = leaps;
	*out = e;
	return 0;
}

void estimator_free(struct estimator *e)
{
	free(e);
}

static double sec(int64_t ticks)
{
	return (double)ticks / (double)NS_PER_S;
}

/* Kalman prediction to counter @c (>= kc), renormalising the phase. */
static void kf_predict(struct estimator *e, uint64_t c)
{
	double dt = sec((int64_t)(c - e->kc));
	double q = e->cfg.wander_ppb * e->cfg.wander_ppb;
	double total = e->kp + e->kf * dt;
	double whole = nearbyint(total);

	e->ktai += (int64_t)(c - e->kc) + (int64_t)whole;
	e->kp = total - whole;
	e->kc = c;
	e->p00 += 2 * dt * e->p01 + dt * dt * e->p11 + q * dt * dt * dt / 3;
	e->p01 += dt * e->p11 + q * dt * dt / 2;
	e->p11 += q * dt;
}

/* Measurement @y at kc, variance @r. */
static void kf_update(struct estimator *e, int64_t y, double r)
{
	double nu = (double)(y - e->ktai) - e->kp;
	double s = e->p00 + r;
	double k0 = e->p00 / s, k1 = e->p01 / s;
	double p01 = e->p01;

	e->kp += k0 * nu;
	e->kf += k1 * nu;
	e->p11 -= k1 * p01;
	e->p01 = (1 - k0) * p01;
	e->p00 = (1 - k0) * e->p00;
}

static double meas_var(uint64_t err)
{
	double v = err ? (double)err : 1.0;

	return v * v / 3; /* uniform in +-err */
}

static void kf_start(struct estimator *e, const struct est_point *p,
		     double freq_var)
{
	e->kf_init = true;
	e->kc = p->c;
	e->ktai = p->y;
	e->kp = 0;
	e->p00 = meas_var(p->err);
	e->p01 = 0;
	e->p11 = freq_var;
}

static void kf_add(struct estimator *e, const struct est_point *p)
{
	kf_predict(e, p->c);
	kf_update(e, p->y, meas_var(p->err));
}

/* Estimate at @c (>= kc) minus @ref, in ns. */
static double est_minus(const struct estimator *e, uint64_t c, int64_t ref)
{
	double dt = sec((int64_t)(c - e->kc));

	return (double)(e->ktai + (int64_t)(c - e->kc) - ref) + e->kp +
	       e->kf * dt;
}

static void win_push(struct estimator *e, const struct est_point *p)
{
	e->win[e->whead] = *p;
	e->whead = (e->whead + 1) % EST_WINDOW;
	if (e->nwin < EST_WINDOW) {
		e->nwin++;
	}
}

/* Frequency bound (ppb, without max_drift) from the window's newest
 * sample n and the best other sample a. */
static double freq_bound(const struct estimator *e)
{
	const struct est_point *n;
	double best = (double)e->cfg.max_freq_ppb;

	if (e->nwin < 2) {
		return best;
	}
	n = &e->win[(e->whead + EST_WINDOW - 1) % EST_WINDOW];
	for (unsigned int i = 1; i < e->nwin; i++) {
		const struct est_point *a =
			&e->win[(e->whead + EST_WINDOW - 1 - i) % EST_WINDOW];
		int64_t dc = (int64_t)(n->c - a->c);
		double f_an = (double)(n->y - a->y - dc) / sec(dc);
		double b = fabs(e->kf - f_an) +
			   (double)(a->err + n->err) / sec(dc);

		if (b < best) {
			best = b;
		}
	}
	return best;
}

static uint64_t ceil_u64(double v)
{
	if (!(v > 0)) {
		return 0;
	}
	if (v >= 1.8e19) {
		return UINT64_MAX;
	}
	return (uint64_t)ceil(v);
}

static uint64_t period_q_of(double ppb)
{
	return (uint64_t)llround((1.0 + ppb / (double)NS_PER_S) *
				 (double)(1ULL << CLOCK_PERIOD_SHIFT));
}

static int64_t mono_at(const struct clock_snapshot *s, uint64_t c)
{
	struct clock_reading r;

	if (clock_snapshot_read(s, TIMESCALE_MONOTONIC, c, &r) < 0) {
		return s->mono0_ns;
	}
	return r.ns;
}

static enum clock_status status_at(const struct estimator *e,
				   const struct clock_snapshot *s, uint64_t now)
{
	struct clock_reading r;
	uint64_t stale = (uint64_t)e->cfg.stale_intervals * e->cfg.interval_ns;

	clock_snapshot_tai(s, now, &r);
	if (r.maxerr_ns > e->cfg.unreliable_ns || e->nstreak > 0) {
		return CLOCK_STATUS_UNRELIABLE;
	}
	if (now > e->last_good_c && now - e->last_good_c > stale) {
		return CLOCK_STATUS_FREERUNNING;
	}
	return e->base;
}

/* The new model after an accepted sample @p (already in the filter and
 * the window), anchored at @c0. */
static void build(struct estimator *e, const struct est_point *p, uint64_t c0,
		  struct clock_snapshot *out)
{
	struct clock_snapshot n = e->cur;
	double ph = (double)p->err + fabs(est_minus(e, p->c, p->y));
	double xerr, tmax, resid;
	double dt0 = sec((int64_t)(c0 - p->c));
	double sd = sqrt(e->p00 + 2 * dt0 * e->p01 + dt0 * dt0 * e->p11);
	struct clock_reading old;

	e->rate_f = freq_bound(e) + (double)e->cfg.max_drift_ppb;
	xerr = ph + e->rate_f * dt0;
	e->slew_ppb = 0;
	if (!e->have_snap) {
		memset(&n, 0, sizeof(n));
		n.counter = CLOCK_COUNTER_MONOTONIC_RAW;
		n.leaps = e->leaps;
		n.mono0_ns = 0;
		n.tai0_ns = p->y;
		resid = est_minus(e, c0, p->y);
		n.tai0_ns = p->y + (int64_t)nearbyint(resid);
		tmax = xerr + 0.5;
		resid = 0;
	} else {
		clock_snapshot_tai(&e->cur, c0, &old);
		n.mono0_ns = mono_at(&e->cur, c0);
		resid = est_minus(e, c0, old.ns);
		if (fabs(resid) > (double)e->cfg.step_ns) {
			n.tai0_ns = old.ns + (int64_t)nearbyint(resid);
			n.steps++;
			e->st.steps++;
			g_message("%s: stepped the model by %.0f ns (step "
				  "%" G_GUINT64_FORMAT ")",
				  e->who, resid, (guint64)n.steps);
			tmax = xerr + 0.5;
			resid = 0;
		} else {
			double lim = (double)e->cfg.max_slew_ppb;

			n.tai0_ns = old.ns;
			e->slew_ppb = resid / sec((int64_t)e->cfg.slew_ns);
			if (e->slew_ppb > lim) {
				e->slew_ppb = lim;
			} else if (e->slew_ppb < -lim) {
				e->slew_ppb = -lim;
			}
			tmax = fabs(resid) + xerr;
		}
	}
	n.c0 = c0;
	n.period_q = period_q_of(e->kf + e->slew_ppb);
	n.time_maxerr_ns = ceil_u64(tmax + 1);
	n.rate_maxerr_ppb = ceil_u64(fabs(e->slew_ppb) + e->rate_f + 1);
	n.time_esterr_ns = ceil_u64(sd + fabs(resid));
	n.rate_esterr_ppb = ceil_u64(sqrt(e->p11) + fabs(e->slew_ppb));
	e->slew_end = c0 + e->cfg.slew_ns;
	e->base = e->since_init >= e->cfg.min_samples
			  ? CLOCK_STATUS_SYNCHRONIZED
			  : CLOCK_STATUS_INITIALIZING;
	e->have_snap = true;
	n.status = status_at(e, &n, c0);
	e->cur = n;
	*out = n;
}

static void accept(struct estimator *e, const struct est_point *p)
{
	if (!e->kf_init) {
		double f = (double)e->cfg.max_freq_ppb;

		kf_start(e, p, f * f);
	} else {
		kf_add(e, p);
	}
	win_push(e, p);
	e->since_init++;
	e->last_good_c = p->c;
	e->st.accepted++;
}

/* Restart the filter from the outlier streak, keeping the frequency. */
static void restart(struct estimator *e)
{
	double d = (double)e->cfg.max_drift_ppb;
	double f = e->kf, pf = e->p11 + d * d;

	e->nwin = 0;
	e->whead = 0;
	e->since_init = 0;
	kf_start(e, &e->streak[0], pf);
	e->kf = f;
	win_push(e, &e->streak[0]);
	e->since_init = 1;
	for (unsigned int i = 1; i < e->nstreak; i++) {
		kf_add(e, &e->streak[i]);
		win_push(e, &e->streak[i]);
		e->since_init++;
	}
	e->last_good_c = e->streak[e->nstreak - 1].c;
	e->nstreak = 0;
	e->st.reinits++;
	g_message("%s: %u samples in a row contradict the model: "
		  "restarting from them",
		  e->who, e->cfg.outlier_reinit);
}

/* Does @p agree with the streak's last sample? */
static bool streak_agrees(const struct estimator *e, const struct est_point *p)
{
	const struct est_point *q = &e->streak[e->nstreak - 1];
	int64_t dc = (int64_t)(p->c - q->c);
	double d = (double)(p->y - q->y - dc) - e->kf * sec(dc);
	double lim = (double)(p->err + q->err) + e->rate_f * sec(dc);

	return fabs(d) <= lim;
}

int estimator_feed(struct estimator *e, const struct time_sample *s,
		   uint64_t now, struct clock_snapshot *out)
{
	struct est_point p;
	uint64_t c0;

	if (!e || !s || !out || now < s->counter ||
	    (e->have_last && s->counter <= e->last_c) ||
	    s->err_ns > (uint64_t)INT64_MAX) {
		return -EINVAL;
	}
	if (e->have_snap && s->counter < e->cur.c0) {
		return -EINVAL; /* older than the published model */
	}
	e->have_last = true;
	e->last_c = s->counter;
	p = (struct est_point){ s->counter, s->tai_ns, s->err_ns };

	if (e->have_snap) {
		struct clock_reading r;
		double resid;

		clock_snapshot_tai(&e->cur, p.c, &r);
		resid = (double)(p.y - r.ns);
		e->st.last_resid_ns = resid;
		if (fabs(resid) > (double)p.err + (double)r.maxerr_ns) {
			e->st.outliers++;
			if (e->nstreak > 0 && !streak_agrees(e, &p)) {
				e->nstreak = 0;
			}
			e->streak[e->nstreak++] = p;
			if (e->nstreak >= e->cfg.outlier_reinit) {
				restart(e);
				goto publish;
			}
			if (e->cur.status == CLOCK_STATUS_UNRELIABLE) {
				return 0;
			}
			e->cur.status = CLOCK_STATUS_UNRELIABLE;
			*out = e->cur;
			return 1;
		}
	}
	e->nstreak = 0;
	accept(e, &p);
publish:
	c0 = now;
	if (e->have_snap && c0 < e->cur.c0) {
		c0 = e->cur.c0;
	}
	build(e, &e->win[(e->whead + EST_WINDOW - 1) % EST_WINDOW], c0, out);
	e->st.freq_ppb = e->kf;
	e->st.phase_sd_ns = sqrt(e->p00);
	return 1;
}

int estimator_tick(struct estimator *e, uint64_t now,
		   struct clock_snapshot *out)
{
	struct clock_snapshot n;
	bool changed = false;
	enum clock_status st;

	if (!e || !out) {
		return -EINVAL;
	}
	if (!e->have_snap) {
		return -EAGAIN;
	}
	if (now < e->cur.c0) {
		return -EINVAL;
	}
	n = e->cur;
	if (e->slew_ppb != 0 && now >= e->slew_end) {
		struct clock_reading r;

		/* stop steering, continuously, keeping the bound honest */
		clock_snapshot_tai(&e->cur, now, &r);
		n.mono0_ns = mono_at(&e->cur, now);
		n.tai0_ns = r.ns;
		n.c0 = now;
		n.period_q = period_q_of(e->kf);
		n.time_maxerr_ns = r.maxerr_ns;
		n.time_esterr_ns =
			ceil_u64((double)e->cur.time_esterr_ns +
				 (double)e->cur.rate_esterr_ppb *
					 sec((int64_t)(now - e->cur.c0)));
		n.rate_maxerr_ppb = ceil_u64(e->rate_f + 1);
		n.rate_esterr_ppb = ceil_u64(sqrt(e->p11));
		e->slew_ppb = 0;
		changed = true;
	}
	st = status_at(e, &n, now);
	if (st != n.status) {
		n.status = st;
		changed = true;
	}
	if (!changed) {
		return 0;
	}
	e->cur = n;
	*out = n;
	return 1;
}

int estimator_set_leaps(struct estimator *e, const struct leap_table *leaps,
			struct clock_snapshot *out)
{
	if (!e || !leaps || !out) {
		return -EINVAL;
	}
	if (leaps == e->leaps) {
		return 0;
	}
	e->leaps = leaps;
	if (!e->have_snap) {
		return 0;
	}
	e->cur.leaps = leaps;
	*out = e->cur;
	return 1;
}

void estimator_get_stats(const struct estimator *e, struct estimator_stats *st)
{
	*st = e->st;
}

int estimator_save(const struct estimator *e, struct estimator_state *out)
{
	unsigned int i;

	if (!e->have_snap) {
		return -EAGAIN;
	}
	memset(out, 0, sizeof(*out));
	out->version = ESTIMATOR_STATE_VERSION;
	out->nwin = e->nwin;
	out->whead = e->whead;
	out->since_init = e->since_init;
	out->last_good_c = e->last_good_c;
	out->kc = e->kc;
	out->ktai = e->ktai;
	out->kp = e->kp;
	out->kf = e->kf;
	out->p00 = e->p00;
	out->p01 = e->p01;
	out->p11 = e->p11;
	out->rate_f = e->rate_f;
	out->slew_ppb = e->slew_ppb;
	out->slew_end = e->slew_end;
	out->base = e->base;
	out->kf_init = e->kf_init;
	for (i = 0; i < EST_WINDOW; i++) {
		out->win[i].c = e->win[i].c;
		out->win[i].y = e->win[i].y;
		out->win[i].err = e->win[i].err;
	}
	out->generation = e->cur.generation;
	out->steps = e->cur.steps;
	out->counter = e->cur.counter;
	out->status = e->cur.status;
	out->c0 = e->cur.c0;
	out->tai0_ns = e->cur.tai0_ns;
	out->mono0_ns = e->cur.mono0_ns;
	out->period_q = e->cur.period_q;
	out->time_esterr_ns = e->cur.time_esterr_ns;
	out->time_maxerr_ns = e->cur.time_maxerr_ns;
	out->rate_esterr_ppb = e->cur.rate_esterr_ppb;
	out->rate_maxerr_ppb = e->cur.rate_maxerr_ppb;
	return 0;
}

static bool sane(double v, double lim)
{
	return isfinite(v) && fabs(v) <= lim;
}

int estimator_resume(struct estimator *e, const struct estimator_state *st,
		     uint64_t now, struct clock_snapshot *out)
{
	struct clock_snapshot n = { 0 };
	unsigned int i;

	_Static_assert(ESTIMATOR_STATE_WINDOW == EST_WINDOW, "window");
	if (st->version != ESTIMATOR_STATE_VERSION || st->nwin > EST_WINDOW ||
	    st->whead >= EST_WINDOW || st->c0 > now || st->last_good_c > now ||
	    st->kc > now || st->counter != CLOCK_COUNTER_MONOTONIC_RAW ||
	    st->status > CLOCK_STATUS_UNRELIABLE ||
	    st->base > CLOCK_STATUS_UNRELIABLE || st->kf_init > 1 ||
	    !sane(st->kp, 1e12) || !sane(st->kf, 1e7) || !sane(st->p00, 1e30) ||
	    !sane(st->p01, 1e30) || !sane(st->p11, 1e30) ||
	    !sane(st->rate_f, 1e9) || !sane(st->slew_ppb, 1e7) ||
	    st->period_q == 0 || st->time_maxerr_ns > INT64_MAX ||
	    st->rate_maxerr_ppb > 1000000000ull) {
		return -EINVAL;
	}
	for (i = 0; i < st->nwin; i++) {
		unsigned int k = (st->whead + EST_WINDOW - 1 - i) % EST_WINDOW;

		if (st->win[k].c > now) {
			return -EINVAL;
		}
	}
	e->nwin = st->nwin;
	e->whead = st->whead;
	e->since_init = st->since_init;
	e->last_good_c = st->last_good_c;
	e->kc = st->kc;
	e->ktai = st->ktai;
	e->kp = st->kp;
	e->kf = st->kf;
	e->p00 = st->p00;
	e->p01 = st->p01;
	e->p11 = st->p11;
	e->rate_f = st->rate_f;
	e->slew_ppb = st->slew_ppb;
	e->slew_end = st->slew_end;
	e->base = (enum clock_status)st->base;
	e->kf_init = st->kf_init;
	for (i = 0; i < EST_WINDOW; i++) {
		e->win[i].c = st->win[i].c;
		e->win[i].y = st->win[i].y;
		e->win[i].err = st->win[i].err;
	}
	n.generation = st->generation;
	n.steps = st->steps;
	n.counter = CLOCK_COUNTER_MONOTONIC_RAW;
	n.status = (enum clock_status)st->status;
	n.c0 = st->c0;
	n.tai0_ns = st->tai0_ns;
	n.mono0_ns = st->mono0_ns;
	n.period_q = st->period_q;
	n.time_esterr_ns = st->time_esterr_ns;
	n.time_maxerr_ns = st->time_maxerr_ns;
	n.rate_esterr_ppb = st->rate_esterr_ppb;
	n.rate_maxerr_ppb = st->rate_maxerr_ppb;
	n.leaps = e->leaps;
	e->cur = n;
	e->have_snap = true;
	e->nstreak = 0;
	e->have_last = false;
	*out = n;
	return 0;
}
