// SPDX-License-Identifier: MIT
/*
 * Unit tests of sync/discipline.c with one source: polled into its
 * shadow and the served estimator, published to the clock model
 * (several sources: test_discipline_multi.c).
 *
 * The source is a fake struct source_ops: its "truth" is TAI = TAI0 +
 * counter * (1 + 20 ppm), each sample off by a known pseudo-random
 * amount within its err_ns; it can be told to fail to open, or to stop
 * giving samples (stale). The host counter is fake too (the discipline's
 * now/sleep_ms hooks), so time passes only when the test says.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock_model.h"
#include "discipline.h"
#include "leap.h"
#include "source.h"
#include "test_seed.h"

#define NS 1000000000LL
#define TAI0 (1750000037LL * NS)
#define FREQ_PPB 20000 /* the counter runs 20 ppm slow of TAI */
#define SAMPLE_ERR 1000ULL

static struct {
	uint64_t now;	/* the host counter */
	bool open_fail; /* new() fails */
	bool stale;	/* poll() has no sample */
	bool down_ok;	/* poll() fails but says SOURCE_OK */
	unsigned int polls;
	unsigned int opened, freed;
	uint32_t rnd;
} fs;

struct fake_source {
	struct source base;
};

static int64_t truth(uint64_t c)
{
	return TAI0 + (int64_t)c + (int64_t)(c / 1000000) * FREQ_PPB / 1000;
}

static int fake_new(const struct source_conf *conf, struct source **out,
		    GError **err)
{
	struct fake_source *f;

	if (fs.open_fail) {
		g_set_error(err, source_error_quark(), ENOENT,
			    "fake device /dev/fake0: %s", g_strerror(ENOENT));
		return -ENOENT;
	}
	f = g_new0(struct fake_source, 1);
	fs.opened++;
	*out = &f->base;
	return 0;
}

static void fake_free(struct source *s)
{
	if (s) {
		fs.freed++;
		g_free(s);
	}
}

static int fake_poll(struct source *s, struct time_sample *out,
		     struct source_health *h)
{
	int64_t noise;

	fs.polls++;
	memset(h, 0, sizeof(*h));
	fs.now += 1000; /* a sample takes a microsecond */
	if (fs.down_ok) {
		h->state = SOURCE_OK;
		snprintf(h->text, sizeof(h->text), "fake: connection lost");
		return -ECONNREFUSED;
	}
	if (fs.stale) {
		h->state = SOURCE_STALE;
		snprintf(h->text, sizeof(h->text), "fake: no sample");
		return -EAGAIN;
	}
	fs.rnd = fs.rnd * 1103515245u + 12345u;
	noise = (int64_t)(fs.rnd >> 8) % (2 * (int64_t)SAMPLE_ERR / 2 + 1) -
		(int64_t)SAMPLE_ERR / 2;
	out->counter = fs.now;
	out->tai_ns = truth(fs.now) + noise;
	out->window_ns = 0;
	out->err_ns = SAMPLE_ERR;
	h->state = SOURCE_OK;
	snprintf(h->text, sizeof(h->text), "fake: fine");
	return 0;
}

static const struct source_ops fake_ops = {
	.name = "fake",
	.new = fake_new,
	.free = fake_free,
	.poll = fake_poll,
};

static uint64_t fake_now(void *ctx)
{
	return fs.now;
}

static void fake_sleep(void *ctx, unsigned int ms)
{
	fs.now += (uint64_t)ms * 1000000;
}

static struct leap_table *leaps;
static struct clock_model *model;
static struct source_conf src_conf;
static struct estimator_config est;

static void setup(void)
{
	static const struct leap_entry e[] = { { 1483228800, 37 } };

	memset(&fs, 0, sizeof(fs));
	fs.now = 5000 * NS;
	fs.rnd = test_seed("discipline");
	leaps = leap_table_new(e, 1, 4200000000LL);
	cr_assert_not_null(leaps);
	model = clock_model_new();
	cr_assert_not_null(model);
	memset(&src_conf, 0, sizeof(src_conf));
	src_conf.leaps = leaps;
	estimator_config_default(&est);
	est.interval_ns = NS;
	est.min_samples = 12; /* more than the start-up samples */
}

static void teardown(void)
{
	clock_model_free(model);
	leap_table_free(leaps);
}

TestSuite(discipline, .init = setup, .fini = teardown);

static struct discipline *start(unsigned int interval_ms, GError **err)
{
	struct discipline_conf c = {
		.ops = { &fake_ops },
		.n_sources = 1,
		.src = &src_conf,
		.interval_ms = interval_ms,
		.est = &est,
		.now = fake_now,
		.sleep_ms = fake_sleep,
	};

	return discipline_new(model, &c, err);
}

static struct clock_snapshot snap(void)
{
	struct clock_snapshot s;

	cr_assert_eq(clock_model_get(model, &s), 0, "nothing published");
	return s;
}

/* Served TAI at @c within the model's own bound of the truth. */
static int64_t check_served(const struct clock_snapshot *s, uint64_t c)
{
	struct clock_reading r;
	int64_t d;

	clock_snapshot_tai(s, c, &r);
	d = r.ns - truth(c);
	cr_assert_leq((uint64_t)llabs(d), r.maxerr_ns,
		      "served TAI off by %lld ns, bound %llu, status %s",
		      (long long)d, (unsigned long long)r.maxerr_ns,
		      clock_status_name(s->status));
	return d;
}

static int64_t mono(const struct clock_snapshot *s, uint64_t c)
{
	struct clock_reading r;

	cr_assert_eq(clock_snapshot_read(s, TIMESCALE_MONOTONIC, c, &r), 0);
	return r.ns;
}

Test(discipline, first_snapshot_is_published_at_start)
{
	GError *err = NULL;
	struct discipline *d = start(1000, &err);
	struct clock_snapshot s;

	cr_assert_not_null(d, "%s", err ? err->message : "");
	cr_assert_eq(fs.polls, DISCIPLINE_INITIAL_SAMPLES);
	/* the start-up samples were spaced by the (fake) sleep */
	cr_assert_geq(fs.now, 5000 * NS + (DISCIPLINE_INITIAL_SAMPLES - 1) *
						  DISCIPLINE_INITIAL_GAP_MS *
						  1000000ULL);
	s = snap();
	cr_assert_geq(s.generation, 1);
	cr_assert_eq(s.status, CLOCK_STATUS_INITIALIZING);
	cr_assert_eq(s.leaps, leaps);
	check_served(&s, fs.now);
	discipline_free(d);
	cr_assert_eq(fs.freed, 1);
}

Test(discipline, synchronizes_follows_truth_then_freeruns)
{
	GError *err = NULL;
	struct discipline *d = start(1000, &err);
	struct clock_snapshot s, prev;
	struct estimator_stats st;
	int64_t last_mono, worst = 0;
	unsigned int synced_at = 0;
	uint64_t bound_at_stale = 0;

	cr_assert_not_null(d, "%s", err ? err->message : "");
	prev = snap();
	last_mono = mono(&prev, fs.now);
	for (unsigned int i = 1; i <= 60; i++) {
		/* a second passes; read the clock on the way, then poll */
		for (int k = 1; k <= 4; k++) {
			uint64_t c = fs.now + (uint64_t)k * NS / 4;
			int64_t m = mono(&prev, c);

			cr_assert_geq(m, last_mono, "MONOTONIC went back");
			last_mono = m;
			check_served(&prev, c);
		}
		fs.now += NS - 1000;
		cr_assert_eq(discipline_poll(d), 0);
		s = snap();
		/* the publish at this instant does not step MONOTONIC back */
		cr_assert_geq(mono(&s, fs.now), last_mono);
		last_mono = mono(&s, fs.now);
		cr_assert_eq(s.steps, 0);
		if (i < 12 - DISCIPLINE_INITIAL_SAMPLES) {
			cr_assert_eq(s.status, CLOCK_STATUS_INITIALIZING,
				     "poll %u: %s", i,
				     clock_status_name(s.status));
		} else {
			cr_assert_eq(s.status, CLOCK_STATUS_SYNCHRONIZED,
				     "poll %u: %s", i,
				     clock_status_name(s.status));
			synced_at = synced_at ? synced_at : i;
		}
		if (i > 30) {
			int64_t e = llabs(check_served(&s, fs.now));

			worst = e > worst ? e : worst;
		} else {
			check_served(&s, fs.now);
		}
		prev = s;
	}
	cr_assert_eq(synced_at, 12 - DISCIPLINE_INITIAL_SAMPLES);
	/* settled: the served clock is within the samples' own error */
	cr_assert_leq(worst, (int64_t)SAMPLE_ERR, "worst %lld ns",
		      (long long)worst);
	discipline_get_stats(d, &st);
	cr_assert_eq(st.accepted, DISCIPLINE_INITIAL_SAMPLES + 60);
	cr_assert_eq(st.outliers, 0);
	cr_assert_lt(llabs((long long)st.freq_ppb - FREQ_PPB), 100,
		     "freq %f ppb", st.freq_ppb);

	/* the source goes stale: FREERUNNING after stale_intervals */
	fs.stale = true;
	for (unsigned int i = 1; i <= est.stale_intervals + 4; i++) {
		for (int k = 1; k <= 4; k++) {
			uint64_t c = fs.now + (uint64_t)k * NS / 4;
			int64_t m = mono(&prev, c);

			cr_assert_geq(m, last_mono, "MONOTONIC went back");
			last_mono = m;
		}
		fs.now += NS - 1000;
		cr_assert_eq(discipline_poll(d), -EAGAIN);
		s = snap();
		cr_assert_geq(mono(&s, fs.now), last_mono);
		last_mono = mono(&s, fs.now);
		check_served(&s, fs.now);
		if (i > est.stale_intervals) {
			struct clock_reading r;

			cr_assert_eq(s.status, CLOCK_STATUS_FREERUNNING,
				     "stale poll %u: %s", i,
				     clock_status_name(s.status));
			clock_snapshot_tai(&s, fs.now, &r);
			/* the bound keeps growing in holdover */
			cr_assert_gt(r.maxerr_ns, bound_at_stale);
			bound_at_stale = r.maxerr_ns;
		} else if (i < est.stale_intervals - 1) {
			cr_assert_eq(s.status, CLOCK_STATUS_SYNCHRONIZED,
				     "stale poll %u: %s", i,
				     clock_status_name(s.status));
		}
		prev = s;
	}

	/* the source comes back: SYNCHRONIZED again, no step */
	fs.stale = false;
	for (unsigned int i = 0; i < 20; i++) {
		fs.now += NS - 1000;
		cr_assert_eq(discipline_poll(d), 0);
		s = snap();
		cr_assert_geq(mono(&s, fs.now), last_mono);
		last_mono = mono(&s, fs.now);
		check_served(&s, fs.now);
	}
	cr_assert_eq(s.status, CLOCK_STATUS_SYNCHRONIZED);
	discipline_free(d);
}

Test(discipline, polls_on_the_glib_timer_until_freed)
{
	GError *err = NULL;
	struct discipline *d = start(10, &err);
	gint64 t0 = g_get_monotonic_time();
	unsigned int n;

	cr_assert_not_null(d, "%s", err ? err->message : "");
	cr_assert_eq(fs.polls, DISCIPLINE_INITIAL_SAMPLES);
	while (fs.polls < DISCIPLINE_INITIAL_SAMPLES + 3) {
		cr_assert_lt(g_get_monotonic_time() - t0, 2000000,
			     "timer did not poll");
		g_main_context_iteration(NULL, TRUE);
	}
	discipline_free(d);
	n = fs.polls;
	t0 = g_get_monotonic_time();
	while (g_get_monotonic_time() - t0 < 50000) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
	cr_assert_eq(fs.polls, n, "polled after discipline_free");
	cr_assert_eq(fs.freed, 1);
}

Test(discipline, source_that_cannot_open_fails_with_its_reason)
{
	GError *err = NULL;
	struct clock_snapshot s;

	fs.open_fail = true;
	cr_assert_null(start(1000, &err));
	cr_assert_not_null(err);
	cr_assert_eq(err->code, ENOENT);
	cr_assert_str_eq(err->message, "fake device /dev/fake0: No such file "
				       "or directory");
	cr_assert_eq(clock_model_get(model, &s), -EAGAIN);
	g_error_free(err);
}

Test(discipline, source_without_samples_at_start_serves_unknown_then_syncs)
{
	GError *err = NULL;
	struct clock_snapshot s;
	struct discipline_status ds;
	struct discipline *d;

	fs.stale = true;
	d = start(1000, &err);
	cr_assert_not_null(d, "%s", err ? err->message : "");
	cr_assert_eq(fs.polls, DISCIPLINE_INITIAL_SAMPLES);
	cr_assert_eq(fs.opened, 1);
	/* nothing published: readers see no model (status UNKNOWN) */
	cr_assert_eq(clock_model_get(model, &s), -EAGAIN);
	discipline_get_status(d, &ds);
	cr_assert_eq(ds.selected, -1);
	cr_assert_not(ds.have_served);
	cr_assert_eq(ds.src[0].role, DISCIPLINE_ROLE_UNUSABLE);
	cr_assert_eq(ds.src[0].state, SOURCE_STALE);
	cr_assert_eq(discipline_poll(d), -EAGAIN);
	cr_assert_eq(clock_model_get(model, &s), -EAGAIN);

	/* the source comes: published at once, SYNCHRONIZED later */
	fs.stale = false;
	for (unsigned int i = 0; i < est.min_samples + 2; i++) {
		fs.now += NS;
		cr_assert_eq(discipline_poll(d), 0);
		s = snap();
		check_served(&s, fs.now);
	}
	cr_assert_eq(s.status, CLOCK_STATUS_SYNCHRONIZED);
	discipline_get_status(d, &ds);
	cr_assert_eq(ds.selected, 0);
	cr_assert_str_eq(ds.reason, "only source with samples");
	cr_assert_eq(ds.src[0].role, DISCIPLINE_ROLE_SELECTED);
	cr_assert_str_eq(ds.src[0].name, "fake");
	discipline_free(d);
	cr_assert_eq(fs.freed, 1);
}

Test(discipline, bad_arguments_are_refused)
{
	GError *err = NULL;

	cr_assert_null(start(5, &err));
	cr_assert_not_null(err);
	cr_assert_eq(err->code, EINVAL);
	g_clear_error(&err);
	cr_assert_null(start(600001, &err));
	cr_assert_eq(err->code, EINVAL);
	g_clear_error(&err);
	src_conf.leaps = NULL;
	cr_assert_null(start(1000, &err));
	cr_assert_eq(err->code, EINVAL);
	g_clear_error(&err);
	cr_assert_eq(fs.opened, 0);
}

/* Log lines captured by level, for the test below. */
static GString *logged_messages, *logged_warnings;

static GLogWriterOutput capture(GLogLevelFlags level, const GLogField *f,
				gsize n, gpointer data)
{
	for (gsize i = 0; i < n; i++) {
		if (!strcmp(f[i].key, "MESSAGE")) {
			g_string_append_printf(
				level & G_LOG_LEVEL_WARNING ? logged_warnings
							    : logged_messages,
				"%s\n", (const char *)f[i].value);
		}
	}
	return G_LOG_WRITER_HANDLED;
}

/* A source that gives no sample is not logged as a normal one, even if
 * it fills in SOURCE_OK (issue 12). */
Test(discipline, source_without_sample_is_not_logged_as_ok)
{
	struct discipline *d;

	logged_messages = g_string_new(NULL);
	logged_warnings = g_string_new(NULL);
	g_log_set_writer_func(capture, NULL, NULL);
	fs.down_ok = true;
	d = start(1000, NULL);
	cr_assert_not_null(d);
	cr_expect_null(strstr(logged_messages->str, "connection lost"),
		       "logged as normal: %s", logged_messages->str);
	cr_expect(strstr(logged_warnings->str, "fake error: fake: connection "
					       "lost"),
		  "not warned: %s", logged_warnings->str);
	discipline_free(d);
}
