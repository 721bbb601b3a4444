// SPDX-License-Identifier: MIT
/*
 * A long simulated run through the whole discipline (sources, shadows,
 * selection, served estimator, clock model): a simulated PHC
 * (tests/unit/clocksim.h, 500 ns read window) and a coarse honest
 * source (1 ms error, like an NTP-disciplined system clock), both
 * entering through the source ops seam.
 *
 * Timeline (1 s polls): 2 h with both; the PHC drops out for 10 min (the
 * coarse source is followed); 1 h with both again; then both go silent
 * for 1 h of holdover. Checked: served-TAI error p99 <= 100 ns while the
 * PHC is followed and the model SYNCHRONIZED; the truth inside the
 * served bound at every reading (4 per second), everywhere.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock_model.h"
#include "clocksim.h"
#include "discipline.h"
#include "leap.h"
#include "source.h"
#include "test_seed.h"

#define NS 1000000000ULL
#define WINDOW 500
#define COARSE_ERR 1000000ULL
#define T_DROP (2 * 3600)
#define T_BACK (T_DROP + 600)
#define T_HOLD (T_BACK + 3600)
#define T_END (T_HOLD + 3600)

static struct clocksim sim;
static bool phc_stale, coarse_stale;
static uint64_t coarse_last;

struct sim_source {
	struct source base;
	bool coarse;
};

static int64_t truth(uint64_t c)
{
	return sim.tai_base + (int64_t)llround(sim_truth(&sim, c));
}

static int new_phc(const struct source_conf *conf, struct source **out,
		   GError **err)
{
	struct sim_source *s = g_new0(struct sim_source, 1);

	*out = &s->base;
	return 0;
}

static int new_coarse(const struct source_conf *conf, struct source **out,
		      GError **err)
{
	struct sim_source *s = g_new0(struct sim_source, 1);

	s->coarse = true;
	*out = &s->base;
	return 0;
}

static void free_src(struct source *s)
{
	g_free(s);
}

static int poll_src(struct source *s, struct time_sample *out,
		    struct source_health *h)
{
	if (((struct sim_source *)s)->coarse) {
		uint64_t c = sim.c + WINDOW + 1000;

		if (coarse_stale || c <= coarse_last) {
			h->state = SOURCE_STALE;
			return -EAGAIN;
		}
		coarse_last = c;
		*out = (struct time_sample){
			.counter = c,
			.tai_ns = truth(c) + (int64_t)((sim_unif(&sim) - 0.5) *
						       (double)COARSE_ERR),
			.window_ns = 0,
			.err_ns = COARSE_ERR,
		};
	} else {
		if (phc_stale) {
			h->state = SOURCE_STALE;
			return -EAGAIN;
		}
		*out = sim_sample(&sim);
	}
	h->state = SOURCE_OK;
	return 0;
}

static const struct source_ops phc_ops = {
	.name = "simulated PHC",
	.new = new_phc,
	.free = free_src,
	.poll = poll_src,
};

static const struct source_ops coarse_ops = {
	.name = "coarse",
	.new = new_coarse,
	.free = free_src,
	.poll = poll_src,
};

static uint64_t sim_now(void *ctx)
{
	return sim.c + WINDOW + 2000;
}

static void sim_sleep(void *ctx, unsigned int ms)
{
	sim_advance(&sim, (uint64_t)ms * 1000000);
}

Test(discipline_sim, long_run_with_dropout_and_holdover, .timeout = 300)
{
	static const struct leap_entry le[] = { { 1483228800, 37 } };
	static double err[T_END];
	struct leap_table *tab = leap_table_new(le, 1, 4200000000LL);
	struct clock_model *m = clock_model_new();
	struct source_conf sc = { .leaps = tab };
	struct estimator_config ec;
	struct discipline_conf dc = {
		.ops = { &phc_ops, &coarse_ops },
		.n_sources = 2,
		.src = &sc,
		.interval_ms = 1000,
		.est = &ec,
		.now = sim_now,
		.sleep_ms = sim_sleep,
	};
	uint64_t seed = (uint64_t)test_seed("discipline_sim") * 2654435761ULL;
	uint64_t readings = 0, uncovered = 0, switches = 0;
	double hold_max_err = 0, hold_bound = 0, p99;
	struct discipline_status st;
	struct discipline *d;
	int last_sel = -2;
	size_t n = 0;

	printf("discipline_sim seed %#llx\n", (unsigned long long)seed);
	sim_init(&sim, seed, 20000, 0.02, WINDOW);
	estimator_config_default(&ec);
	ec.wander_ppb = 0.02;
	ec.max_drift_ppb = 50;
	phc_stale = coarse_stale = false;
	coarse_last = 0;
	g_log_set_always_fatal(G_LOG_FATAL_MASK);
	d = discipline_new(m, &dc, NULL);
	cr_assert_not_null(d);
	for (unsigned int t = 0; t < T_END; t++) {
		struct clock_snapshot s;

		phc_stale = (t >= T_DROP && t < T_BACK) || t >= T_HOLD;
		coarse_stale = t >= T_HOLD;
		cr_assert_eq(clock_model_get(m, &s), 0);
		/* four readings through the second, before its poll */
		for (int k = 0; k < 4; k++) {
			struct clock_reading r;
			uint64_t c = sim.c + (uint64_t)k * NS / 4 + 3000;
			double e;

			clock_snapshot_tai(&s, c, &r);
			e = fabs((double)(r.ns - truth(c)));
			readings++;
			if (e > (double)r.maxerr_ns) {
				uncovered++;
				if (uncovered < 5) {
					printf("t %u: off %.0f ns, bound "
					       "%llu\n",
					       t, e,
					       (unsigned long long)r.maxerr_ns);
				}
			}
			if (t >= T_HOLD && e > hold_max_err) {
				hold_max_err = e;
				hold_bound = (double)r.maxerr_ns;
			}
		}
		sim_advance(&sim, NS);
		discipline_poll(d);
		discipline_get_status(d, &st);
		if (st.selected != last_sel) {
			switches++;
			last_sel = st.selected;
		}
		if (t > 600 && st.selected == 0 &&
		    st.served.status == CLOCK_STATUS_SYNCHRONIZED &&
		    (t < T_DROP || t > T_BACK + 600)) {
			struct clock_reading r;
			uint64_t c = sim_now(NULL);

			clock_snapshot_tai(&st.served, c, &r);
			err[n++] = fabs((double)(r.ns - truth(c)));
		}
	}
	discipline_get_status(d, &st);
	p99 = quantile(err, n, 0.99);
	cr_log_info("discipline_sim: seed %#llx, %zu synced polls, p99 %.1f "
		    "ns, max %.1f ns; %llu readings, %llu uncovered; %llu "
		    "selection changes; holdover 1 h: max err %.0f ns, "
		    "bound %.0f ns; steps %llu",
		    (unsigned long long)seed, n, p99, quantile(err, n, 1.0),
		    (unsigned long long)readings, (unsigned long long)uncovered,
		    (unsigned long long)switches, hold_max_err, hold_bound,
		    (unsigned long long)st.served.steps);
	printf("p99 %.1f ns over %zu polls, %llu/%llu readings uncovered, "
	       "holdover max err %.0f ns (bound %.0f)\n",
	       p99, n, (unsigned long long)uncovered,
	       (unsigned long long)readings, hold_max_err, hold_bound);
	cr_expect_gt(n, (T_DROP + T_HOLD - T_BACK) * 8 / 10);
	cr_expect_leq(p99, 100.0, "p99 %.1f ns", p99);
	cr_expect_eq(uncovered, 0, "bound coverage not 100%%");
	cr_expect_eq(st.served.status, CLOCK_STATUS_FREERUNNING);
	cr_expect_geq(switches, 3, "dropout did not switch sources");
	discipline_free(d);
	clock_model_free(m);
	leap_table_free(tab);
}
