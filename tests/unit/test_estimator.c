// SPDX-License-Identifier: MIT
/*
 * Unit tests: the estimator (sync/estimator.c) against a simulated PHC
 * with known truth (clocksim.h), side by side with a phc2sys PI servo.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "clock_model.h"
#include "clocksim.h"
#include "estimator.h"
#include "leap.h"

#define S 1000000000ULL
#define WINDOW 500ULL
#define QUERIES 4 /* query instants per simulated second */

struct run_cfg {
	uint64_t seed;
	double f_ppb, wander;
	unsigned int seconds;
	double dropout_p;	/* per-sample loss */
	unsigned int outage_at; /* s; 0 = none */
	unsigned int outage_len;
	double outlier_p; /* per-sample gross error */
	double outlier_ns;
	unsigned int step_at; /* s; 0 = none: source steps by 1 s */
};

struct run_res {
	double *est, *pi; /* |error| while synchronised, same instants */
	size_t n;
	uint64_t queries, uncovered, covered_checked;
	uint64_t nest_checked, nest_fail, mono_fail, jump_fail;
	uint64_t injected;
	double p99_est, p99_pi, max_est;
	double hold_max_err, hold_max_bound; /* while FREERUNNING */
	double max_bound_sync;
	struct estimator_stats st;
	struct clock_snapshot last;
	uint64_t freerunning_q;
};

static struct leap_table *leaps(void)
{
	static const struct leap_entry e[] = { { 0, 37 } };

	return leap_table_new(e, 1, 0);
}

static double served_err(const struct clock_snapshot *s, uint64_t c,
			 const struct clocksim *sim, double truth,
			 struct clock_reading *r)
{
	clock_snapshot_tai(s, c, r);
	return (double)(r->ns - sim->tai_base) - truth;
}

static void run(const struct run_cfg *rc, const struct estimator_config *ec,
		struct run_res *res)
{
	struct leap_table *tab = leaps();
	struct estimator *e = NULL;
	struct clocksim sim;
	struct pi_clock pk = { 0 };
	struct clock_snapshot snap = { 0 }, nsnap;
	bool have = false, pi_started = false;
	int64_t last_mono = INT64_MIN;
	double last_served = 0;
	uint64_t last_c = 0;
	uint64_t last_steps = 0;
	/* the last reading served before the next update */
	bool have_q = false;
	uint64_t q_c = 0;
	struct clock_reading q_r = { 0 };

	cr_assert_eq(estimator_new(ec, tab, &e), 0);
	sim_init(&sim, rc->seed, rc->f_ppb, rc->wander, WINDOW);
	pi_init(&pk.servo);
	memset(res, 0, sizeof(*res));
	res->est = calloc((size_t)rc->seconds * QUERIES, sizeof(double));
	res->pi = calloc((size_t)rc->seconds * QUERIES, sizeof(double));
	cr_assert(res->est && res->pi);

	for (unsigned int k = 0; k < rc->seconds; k++) {
		bool out = rc->outage_at && k >= rc->outage_at &&
			   k < rc->outage_at + rc->outage_len;
		bool drop = out || sim_unif(&sim) < rc->dropout_p;
		uint64_t now = sim.c + WINDOW + 10000;
		int ret;

		if (rc->step_at && k == rc->step_at) {
			sim_step(&sim, 1e9);
		}
		if (!drop) {
			struct time_sample ts = sim_sample(&sim);
			double y;

			if (k > 30 && sim_unif(&sim) < rc->outlier_p) {
				ts.tai_ns += (int64_t)rc->outlier_ns;
				res->injected++;
			}
			y = (double)(ts.tai_ns - sim.tai_base);
			ret = estimator_feed(e, &ts, now, &nsnap);
			cr_assert_geq(ret, 0, "feed: %d", ret);
			if (!pi_started) {
				pk.v = y;
				pk.ca = ts.counter;
				pi_started = true;
			}
			pi_clock_feed(&pk, ts.counter, y, now);
		} else {
			ret = have ? estimator_tick(e, now, &nsnap) : 0;
			cr_assert_geq(ret, 0, "tick: %d", ret);
		}
		if (ret == 1) {
			struct clock_reading r;

			/* nesting: the new model keeps the last served
			 * reading inside its bound (unless it stepped) */
			if (have && have_q && nsnap.steps == snap.steps) {
				clock_snapshot_tai(&nsnap, q_c, &r);
				res->nest_checked++;
				if (llabs(r.ns - q_r.ns) >
				    (int64_t)q_r.maxerr_ns)
					res->nest_fail++;
			}
			snap = nsnap;
			have = true;
			have_q = false;
		}
		for (unsigned int j = 0; have && j < QUERIES; j++) {
			/* increasing instants, one per quarter second */
			uint64_t c =
				now + (S - 20000) / QUERIES * j +
				(uint64_t)(sim_unif(&sim) *
					   (double)((S - 20000) / QUERIES));
			double truth = sim_truth(&sim, c);
			struct clock_reading r;
			double err = served_err(&snap, c, &sim, truth, &r);
			struct clock_reading m;
			bool stepping = rc->step_at && k >= rc->step_at &&
					snap.steps == 0;

			res->queries++;
			if (!stepping &&
			    snap.status != CLOCK_STATUS_UNRELIABLE) {
				res->covered_checked++;
				if (fabs(err) > (double)r.maxerr_ns + 0.01) {
					if (res->uncovered < 5)
						cr_log_warn("uncovered k=%u "
							    "err=%.1f "
							    "bound=%" PRIu64
							    " st=%d",
							    k, err, r.maxerr_ns,
							    snap.status);
					res->uncovered++;
				}
			}
			/* served TAI moves only with time, or a counted
			 * step */
			if (res->queries > 1 && snap.steps == last_steps &&
			    ((double)r.ns < last_served ||
			     fabs((double)r.ns - last_served -
				  ((double)c - (double)last_c)) > 1e6))
				res->jump_fail++;
			last_served = (double)r.ns;
			last_c = c;
			last_steps = snap.steps;
			cr_assert_eq(clock_snapshot_read(
					     &snap, TIMESCALE_MONOTONIC, c, &m),
				     0);
			if (m.ns < last_mono)
				res->mono_fail++;
			last_mono = m.ns;
			if (snap.status == CLOCK_STATUS_SYNCHRONIZED) {
				res->est[res->n] = fabs(err);
				res->pi[res->n] =
					fabs(pi_clock_at(&pk, c) - truth);
				res->n++;
				if ((double)r.maxerr_ns > res->max_bound_sync)
					res->max_bound_sync =
						(double)r.maxerr_ns;
			}
			if (snap.status == CLOCK_STATUS_FREERUNNING) {
				res->freerunning_q++;
				if (fabs(err) > res->hold_max_err)
					res->hold_max_err = fabs(err);
				if ((double)r.maxerr_ns > res->hold_max_bound)
					res->hold_max_bound =
						(double)r.maxerr_ns;
			}
			/* keep the latest reading for the nesting check */
			if (!have_q || c > q_c) {
				q_c = c;
				q_r = r;
				have_q = true;
			}
		}
		sim_advance(&sim, S);
	}
	estimator_get_stats(e, &res->st);
	res->last = snap;
	res->max_est = quantile(res->est, res->n, 1.0);
	res->p99_est = quantile(res->est, res->n, 0.99);
	res->p99_pi = quantile(res->pi, res->n, 0.99);
	free(res->est);
	free(res->pi);
	estimator_free(e);
	leap_table_free(tab);
}

static void test_cfg(struct estimator_config *ec, double wander)
{
	estimator_config_default(ec);
	ec->wander_ppb = wander;
	ec->max_drift_ppb = 50;
}

static void report(const char *name, const struct run_cfg *rc,
		   const struct run_res *r)
{
	cr_log_info("%s: seed %#llx, %u s, f %.0f ppb, wander %.3f ppb/rt(s)",
		    name, (unsigned long long)rc->seed, rc->seconds, rc->f_ppb,
		    rc->wander);
	cr_log_info("%s: estimator p99 %.1f ns (max %.1f), PI p99 %.1f ns, "
		    "ratio %.2fx; coverage %llu/%llu uncovered; bound max "
		    "(sync) %.0f ns; nesting %llu checked, %llu failed",
		    name, r->p99_est, r->max_est, r->p99_pi,
		    r->p99_pi / r->p99_est, (unsigned long long)r->uncovered,
		    (unsigned long long)r->covered_checked, r->max_bound_sync,
		    (unsigned long long)r->nest_checked,
		    (unsigned long long)r->nest_fail);
	cr_log_info("%s: accepted %llu, outliers %llu (injected %llu), "
		    "reinits %llu, steps %llu; holdover max err %.0f ns, "
		    "bound %.0f ns",
		    name, (unsigned long long)r->st.accepted,
		    (unsigned long long)r->st.outliers,
		    (unsigned long long)r->injected,
		    (unsigned long long)r->st.reinits,
		    (unsigned long long)r->st.steps, r->hold_max_err,
		    r->hold_max_bound);
}

static void assert_clean(const struct run_res *r)
{
	cr_expect_eq(r->uncovered, 0, "bound coverage not 100%%");
	cr_expect_eq(r->nest_fail, 0, "nesting guarantee broken");
	cr_expect_eq(r->mono_fail, 0, "MONOTONIC went back");
	cr_expect_eq(r->jump_fail, 0,
		     "served TAI jumped without a counted step");
}

Test(estimator, long_run_vs_pi)
{
	static const double drift[] = { 50000, -50000, 12345 };

	for (unsigned int i = 0; i < 3; i++) {
		struct run_cfg rc = { .seed = 0x5eed0000ULL + i,
				      .f_ppb = drift[i],
				      .wander = 0.02,
				      .seconds = 6 * 3600,
				      .dropout_p = 0.01 };
		struct estimator_config ec;
		struct run_res r;

		test_cfg(&ec, rc.wander);
		run(&rc, &ec, &r);
		report("long run", &rc, &r);
		assert_clean(&r);
		cr_expect_eq(r.st.steps, 0);
		cr_expect_gt(r.n, rc.seconds * QUERIES * 9 / 10);
		cr_expect_leq(r.p99_est, 100.0, "p99 %.1f ns", r.p99_est);
		cr_expect_geq(r.p99_pi, 2 * r.p99_est, "PI %.1f vs %.1f",
			      r.p99_pi, r.p99_est);
	}
}

Test(estimator, holdover_one_hour)
{
	struct run_cfg rc = { .seed = 0x401d0001ULL,
			      .f_ppb = -31000,
			      .wander = 0.02,
			      .seconds = 3 * 3600,
			      .outage_at = 3600,
			      .outage_len = 3600 };
	struct estimator_config ec;
	struct run_res r;

	test_cfg(&ec, rc.wander);
	run(&rc, &ec, &r);
	report("holdover", &rc, &r);
	assert_clean(&r);
	cr_expect_gt(r.freerunning_q, 3500 * QUERIES);
	cr_expect_gt(r.hold_max_bound, r.hold_max_err);
	cr_expect_eq(r.st.steps, 0);
	cr_expect_eq(r.last.status, CLOCK_STATUS_SYNCHRONIZED);
	cr_expect_leq(r.p99_est, 100.0, "p99 %.1f ns", r.p99_est);
}

Test(estimator, source_step_is_counted)
{
	struct run_cfg rc = { .seed = 0x57e90001ULL,
			      .f_ppb = 20000,
			      .wander = 0.02,
			      .seconds = 1200,
			      .step_at = 600 };
	struct estimator_config ec;
	struct run_res r;

	test_cfg(&ec, rc.wander);
	run(&rc, &ec, &r);
	report("step", &rc, &r);
	assert_clean(&r);
	cr_expect_eq(r.st.steps, 1);
	cr_expect_eq(r.last.steps, 1);
	cr_expect_eq(r.st.reinits, 1);
	cr_expect_eq(r.st.outliers, ec.outlier_reinit);
	cr_expect_eq(r.last.status, CLOCK_STATUS_SYNCHRONIZED);
}

Test(estimator, outliers_rejected)
{
	struct run_cfg rc = { .seed = 0x0e7001ULL,
			      .f_ppb = 7000,
			      .wander = 0.02,
			      .seconds = 2 * 3600,
			      .outlier_p = 0.01,
			      .outlier_ns = 20000 };
	struct estimator_config ec;
	struct run_res r;

	test_cfg(&ec, rc.wander);
	run(&rc, &ec, &r);
	report("outliers", &rc, &r);
	assert_clean(&r);
	cr_expect_gt(r.injected, 30);
	cr_expect_eq(r.st.outliers, r.injected);
	cr_expect_eq(r.st.steps, 0);
	cr_expect_leq(r.p99_est, 100.0, "p99 %.1f ns", r.p99_est);
}

Test(estimator, api)
{
	struct leap_table *tab = leaps();
	struct estimator_config ec;
	struct estimator *e;
	struct clock_snapshot s;
	struct time_sample ts = { .counter = 1000 * S,
				  .tai_ns = 1700000000 * (int64_t)S,
				  .err_ns = 250 };

	cr_assert_eq(estimator_new(NULL, NULL, &e), -EINVAL);
	estimator_config_default(&ec);
	ec.min_samples = 0;
	cr_assert_eq(estimator_new(&ec, tab, &e), -EINVAL);
	cr_assert_eq(estimator_new(NULL, tab, &e), 0);
	cr_assert_not_null(e);
	cr_assert_eq(estimator_tick(e, ts.counter, &s), -EAGAIN);
	cr_assert_eq(estimator_feed(e, &ts, ts.counter - 1, &s), -EINVAL);
	cr_assert_eq(estimator_feed(e, &ts, ts.counter, &s), 1);
	cr_assert_eq(s.status, CLOCK_STATUS_INITIALIZING);
	cr_assert_eq(s.tai0_ns, ts.tai_ns);
	cr_assert_eq(s.mono0_ns, 0);
	cr_assert_eq(s.leaps, tab);
	cr_assert_geq(s.time_maxerr_ns, 250);
	cr_assert_eq(estimator_feed(e, &ts, ts.counter, &s), -EINVAL);
	cr_assert_eq(estimator_tick(e, ts.counter - 1, &s), -EINVAL);
	/* stale: FREERUNNING after 8 intervals */
	cr_assert_eq(estimator_tick(e, ts.counter + 20 * S, &s), 1);
	cr_assert_neq(s.status, CLOCK_STATUS_INITIALIZING);
	estimator_free(e);
	estimator_free(NULL);
	leap_table_free(tab);
}
