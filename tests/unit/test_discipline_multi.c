// SPDX-License-Identifier: MIT
/*
 * Unit tests of sync/discipline.c with several sources: selection by
 * rank and bound, hysteresis, a lost source, falsetickers, a
 * contradiction, the leap merge through the discipline.
 *
 * Up to three fake sources "A", "B", "C" (one ops table each, defined
 * here): source i reads TAI = truth(c) + bias_i + noise within +-err_i/2
 * and says its err_i; it can be stale (no sample) or announce a leap.
 * The host counter is fake (the discipline's now/sleep_ms hooks).
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
#define NSRC 3

static struct {
	uint64_t now;
	uint32_t rnd;
	struct fake_kind {
		uint64_t err_ns;
		int64_t bias_ns;
		bool stale;
		enum leap_authority leap_auth;
		enum source_leap leap;
		unsigned int polls;
		const struct leap_table *leaps; /* last set_leaps() */
	} k[NSRC];
} fs;

struct fake_source {
	struct source base;
	int idx;
};

static int64_t truth(uint64_t c)
{
	return TAI0 + (int64_t)c;
}

static int fake_new(int idx, struct source **out)
{
	struct fake_source *f = g_new0(struct fake_source, 1);

	f->idx = idx;
	*out = &f->base;
	return 0;
}

#define FAKE_NEW(i)                                                            \
	static int fake_new_##i(const struct source_conf *conf,                \
				struct source **out, GError **err)             \
	{                                                                      \
		return fake_new(i, out);                                       \
	}
FAKE_NEW(0)
FAKE_NEW(1)
FAKE_NEW(2)

static void fake_free(struct source *s)
{
	g_free(s);
}

static int fake_poll(struct source *s, struct time_sample *out,
		     struct source_health *h)
{
	struct fake_kind *k = &fs.k[((struct fake_source *)s)->idx];
	int64_t noise;

	k->polls++;
	fs.now += 1000;
	h->leap_auth = k->leap_auth;
	h->leap_known = k->leap_auth != LEAP_AUTH_NONE;
	h->leap = k->leap;
	if (k->stale) {
		h->state = SOURCE_STALE;
		snprintf(h->text, sizeof(h->text), "no reply for a while");
		return -EAGAIN;
	}
	fs.rnd = fs.rnd * 1103515245u + 12345u;
	noise = (int64_t)((fs.rnd >> 8) % (k->err_ns + 1)) -
		(int64_t)k->err_ns / 2;
	out->counter = fs.now;
	out->tai_ns = truth(fs.now) + k->bias_ns + noise;
	out->window_ns = 0;
	out->err_ns = k->err_ns;
	h->state = SOURCE_OK;
	snprintf(h->text, sizeof(h->text), "fine");
	return 0;
}

static void fake_set_leaps(struct source *s, const struct leap_table *t)
{
	fs.k[((struct fake_source *)s)->idx].leaps = t;
}

static const struct source_ops fake_ops[NSRC] = {
	{ .name = "A",
	  .new = fake_new_0,
	  .free = fake_free,
	  .poll = fake_poll,
	  .set_leaps = fake_set_leaps },
	{ .name = "B",
	  .new = fake_new_1,
	  .free = fake_free,
	  .poll = fake_poll,
	  .set_leaps = fake_set_leaps },
	{ .name = "C",
	  .new = fake_new_2,
	  .free = fake_free,
	  .poll = fake_poll,
	  .set_leaps = fake_set_leaps },
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
	fs.rnd = test_seed("discipline_multi");
	for (int i = 0; i < NSRC; i++) {
		fs.k[i].err_ns = 1000;
	}
	leaps = leap_table_new(e, 1, 4200000000LL);
	cr_assert_not_null(leaps);
	model = clock_model_new();
	memset(&src_conf, 0, sizeof(src_conf));
	src_conf.leaps = leaps;
	estimator_config_default(&est);
	est.interval_ns = NS;
}

static void teardown(void)
{
	clock_model_free(model);
	leap_table_free(leaps);
}

TestSuite(multi, .init = setup, .fini = teardown);

static struct discipline *start(unsigned int n)
{
	struct discipline_conf c = {
		.n_sources = n,
		.src = &src_conf,
		.interval_ms = 1000,
		.est = &est,
		.now = fake_now,
		.sleep_ms = fake_sleep,
	};
	GError *err = NULL;
	struct discipline *d;

	for (unsigned int i = 0; i < n; i++) {
		c.ops[i] = &fake_ops[i];
	}
	d = discipline_new(model, &c, &err);
	cr_assert_not_null(d, "%s", err ? err->message : "");
	return d;
}

struct reading {
	uint64_t c;
	int64_t ns;
	uint64_t bound;
};

static struct reading readings[4096];
static unsigned int nread;

/* One second passes: read the served clock (checked later), poll. */
static struct discipline_status tick(struct discipline *d)
{
	struct discipline_status st;
	struct clock_snapshot s;
	struct clock_reading r;

	if (clock_model_get(model, &s) == 0 && nread < 4096) {
		clock_snapshot_tai(&s, fs.now, &r);
		readings[nread++] =
			(struct reading){ fs.now, r.ns, r.maxerr_ns };
	}
	fs.now += NS - 3000;
	discipline_poll(d);
	discipline_get_status(d, &st);
	return st;
}

static void ticks(struct discipline *d, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		tick(d);
	}
}

/* Every reading taken stayed within its own bound of truth + @bias. */
static void check_readings_of(int64_t bias)
{
	for (unsigned int i = 0; i < nread; i++) {
		int64_t e = readings[i].ns - truth(readings[i].c) - bias;

		cr_assert_leq((uint64_t)llabs(e), readings[i].bound,
			      "reading %u off by %lld ns from truth%+lld, "
			      "bound %llu",
			      i, (long long)e, (long long)bias,
			      (unsigned long long)readings[i].bound);
	}
}

/* Every reading taken stayed within its own bound of the truth. */
static void check_readings(void)
{
	check_readings_of(0);
	nread = 0;
}

Test(multi, smallest_bound_wins_among_synchronized)
{
	struct discipline *d;
	struct discipline_status st;

	fs.k[0].err_ns = 20000;
	fs.k[1].err_ns = 500;
	d = start(2);
	ticks(d, 20);
	st = tick(d);
	cr_assert_eq(st.selected, 1, "%s", st.reason);
	cr_assert(strstr(st.reason, "agreeing sources") ||
			  strstr(st.reason, "smallest bound"),
		  "%s", st.reason);
	cr_assert_eq(st.src[1].role, DISCIPLINE_ROLE_SELECTED);
	cr_assert_eq(st.src[0].role, DISCIPLINE_ROLE_CANDIDATE);
	cr_assert_eq(st.src[0].status, CLOCK_STATUS_SYNCHRONIZED);
	cr_assert_lt(st.src[1].bound_ns, st.src[0].bound_ns);
	cr_assert(st.src[0].have_offset);
	cr_assert_leq((uint64_t)llabs(st.src[0].offset_ns),
		      st.src[0].bound_ns + st.served.time_maxerr_ns +
			      st.served.rate_maxerr_ppb * 2);
	cr_assert_eq(st.served.status, CLOCK_STATUS_SYNCHRONIZED);
	cr_assert_not(st.contradiction);
	cr_assert_gt(st.src[0].accepted, 20);
	check_readings();
	discipline_free(d);
}

Test(multi, synchronized_beats_initializing_then_hysteresis)
{
	struct discipline *d;
	struct discipline_status st;

	fs.k[0].err_ns = 4000;
	fs.k[1].err_ns = 3900; /* better, but never below half of A's */
	fs.k[1].stale = true;
	d = start(2);
	ticks(d, 12);
	st = tick(d);
	cr_assert_eq(st.selected, 0);
	cr_assert_str_eq(st.reason, "only source with samples");
	/* B arrives with a smaller bound but INITIALIZING: A stays */
	fs.k[1].stale = false;
	st = tick(d);
	cr_assert_eq(st.src[1].status, CLOCK_STATUS_INITIALIZING);
	cr_assert_eq(st.src[1].role, DISCIPLINE_ROLE_CANDIDATE);
	cr_assert_eq(st.selected, 0);
	/* synchronized too, not below half of A's bound: A stays */
	ticks(d, 20);
	st = tick(d);
	cr_assert_eq(st.src[1].status, CLOCK_STATUS_SYNCHRONIZED);
	cr_assert_eq(st.selected, 0, "switched: %s", st.reason);
	/* B gets much better: below half, the switch comes */
	fs.k[1].err_ns = 300;
	ticks(d, 30);
	st = tick(d);
	cr_assert_eq(st.selected, 1, "%s", st.reason);
	cr_assert(strstr(st.reason, "smallest bound"), "%s", st.reason);
	cr_assert_eq(st.served.steps, 0);
	check_readings();
	discipline_free(d);
}

Test(multi, lost_source_switches_continuously)
{
	struct discipline *d;
	struct discipline_status st;
	struct clock_snapshot before, after;
	struct clock_reading rb, ra, mb, ma;
	uint64_t c;

	fs.k[0].err_ns = 500;
	fs.k[1].err_ns = 5000;
	d = start(2);
	ticks(d, 30);
	st = tick(d);
	cr_assert_eq(st.selected, 0);
	cr_assert_eq(clock_model_get(model, &before), 0);
	fs.k[0].stale = true;
	st = tick(d);
	cr_assert_eq(st.selected, 1);
	cr_assert_str_eq(st.reason, "A lost: no reply for a while");
	cr_assert_eq(st.src[0].role, DISCIPLINE_ROLE_UNUSABLE);
	/* the served clock does not jump at the switch */
	cr_assert_eq(clock_model_get(model, &after), 0);
	c = after.c0;
	clock_snapshot_tai(&before, c, &rb);
	clock_snapshot_tai(&after, c, &ra);
	cr_assert_lt(llabs(ra.ns - rb.ns), 2, "TAI jumped %lld ns",
		     (long long)(ra.ns - rb.ns));
	cr_assert_eq(clock_snapshot_read(&before, TIMESCALE_MONOTONIC, c, &mb),
		     0);
	cr_assert_eq(clock_snapshot_read(&after, TIMESCALE_MONOTONIC, c, &ma),
		     0);
	cr_assert_lt(llabs(ma.ns - mb.ns), 2);
	ticks(d, 30);
	st = tick(d);
	cr_assert_eq(st.selected, 1);
	cr_assert_eq(st.served.status, CLOCK_STATUS_SYNCHRONIZED);
	cr_assert_eq(st.served.steps, 0);
	/* A returns; better by far: followed again */
	fs.k[0].stale = false;
	ticks(d, 5);
	st = tick(d);
	cr_assert_eq(st.selected, 0, "%s", st.reason);
	check_readings();
	discipline_free(d);
}

Test(multi, no_source_left_holds_over)
{
	struct discipline *d;
	struct discipline_status st;

	d = start(2);
	ticks(d, 20);
	fs.k[0].stale = fs.k[1].stale = true;
	st = tick(d);
	cr_assert_eq(st.selected, -1);
	cr_assert(strstr(st.reason, "holding over"), "%s", st.reason);
	ticks(d, est.stale_intervals + 2);
	st = tick(d);
	cr_assert_eq(st.served.status, CLOCK_STATUS_FREERUNNING);
	check_readings();
	discipline_free(d);
}

Test(multi, falseticker_outvoted_by_two)
{
	struct discipline *d;
	struct discipline_status st;

	fs.k[0].bias_ns = 1000000; /* A is 1 ms off, its bound a lie */
	d = start(3);
	ticks(d, 20);
	/*
	 * Until the bounds are tight enough to tell, A may be followed and
	 * its lie served: the bound guarantee holds from honest sources
	 * only. Check the served clock from here on.
	 */
	nread = 0;
	ticks(d, 20);
	st = tick(d);
	cr_assert_eq(st.src[0].role, DISCIPLINE_ROLE_FALSETICKER);
	cr_assert_neq(st.selected, 0);
	cr_assert_geq(st.selected, 1);
	cr_assert_not(st.contradiction);
	cr_assert_eq(st.served.status, CLOCK_STATUS_SYNCHRONIZED);
	cr_assert(llabs(st.src[0].offset_ns - 1000000) < 20000, "%lld",
		  (long long)st.src[0].offset_ns);
	check_readings();
	discipline_free(d);
}

Test(multi, two_disagreeing_sources_are_a_contradiction)
{
	struct discipline *d;
	struct discipline_status st;
	struct clock_snapshot s;

	fs.k[1].bias_ns = 1000000;
	fs.k[1].err_ns = 2000;
	d = start(2);
	/* once chosen, kept: switching would move the served time 1 ms */
	for (int i = 0; i < 20; i++) {
		st = tick(d);
		cr_assert(st.contradiction, "tick %d", i);
		cr_assert_eq(st.selected, 0, "tick %d: %s", i, st.reason);
	}
	cr_assert_eq(st.served.status, CLOCK_STATUS_UNRELIABLE);
	cr_assert_eq(clock_model_get(model, &s), 0);
	cr_assert_eq(s.status, CLOCK_STATUS_UNRELIABLE);
	/* B goes away: no contradiction at once; SYNCHRONIZED again within
	 * a restart's worth of samples if the served model followed B */
	fs.k[1].stale = true;
	st = tick(d);
	cr_assert_not(st.contradiction);
	for (unsigned int i = 0; i < est.outlier_reinit + est.min_samples;
	     i++) {
		cr_assert_eq(clock_model_get(model, &s), 0);
		if (s.status == CLOCK_STATUS_SYNCHRONIZED) {
			break;
		}
		cr_assert_neq(s.status, CLOCK_STATUS_UNRELIABLE, "tick %u", i);
		tick(d);
	}
	cr_assert_eq(s.status, CLOCK_STATUS_SYNCHRONIZED);
	check_readings();
	discipline_free(d);
}

/*
 * Nobody knows which of two contradicting sources is right, so the
 * served bound must hold for either one (B's truth is truth + its bias),
 * every second, whichever source is followed.
 */
Test(multi, a_contradictions_bound_covers_every_source)
{
	struct discipline *d;

	fs.k[1].bias_ns = 1000000;
	fs.k[1].err_ns = 2000;
	d = start(2);
	ticks(d, 40);
	cr_assert(tick(d).contradiction);
	cr_assert_gt(nread, 30);
	check_readings_of(0);
	check_readings_of(fs.k[1].bias_ns);
	nread = 0;
	discipline_free(d);
}

static int64_t fake_utc(void *ctx)
{
	return (int64_t)((truth(fs.now) / NS) - 37);
}

Test(multi, ptp_leap_announcement_beats_an_expired_table)
{
	static const struct leap_entry e[] = { { 1483228800, 37 } };
	struct discipline_conf c = {
		.ops = { &fake_ops[0], &fake_ops[1] },
		.n_sources = 2,
		.src = &src_conf,
		.interval_ms = 1000,
		.est = &est,
		.now = fake_now,
		.sleep_ms = fake_sleep,
		.utc_now = fake_utc,
	};
	struct discipline_status st;
	struct clock_snapshot s;
	struct discipline *d;
	GError *err = NULL;

	leap_table_free(leaps);
	leaps = leap_table_new(e, 1, 1700000000); /* expired */
	src_conf.leaps = leaps;
	fs.k[0].leap_auth = LEAP_AUTH_PTP_TRACEABLE;
	fs.k[0].leap = SOURCE_LEAP_INSERT;
	fs.k[1].leap_auth = LEAP_AUTH_KERNEL;
	fs.k[1].leap = SOURCE_LEAP_NONE;
	d = discipline_new(model, &c, &err);
	cr_assert_not_null(d);
	ticks(d, 3);
	discipline_get_status(d, &st);
	cr_assert_eq(st.leap.pending, SOURCE_LEAP_INSERT);
	cr_assert_str_eq(st.leap.from, "A");
	cr_assert(st.leap.derived);
	cr_assert_eq(st.leap.tai_utc_s, 37);
	cr_assert_eq(st.src[0].leap.leap, SOURCE_LEAP_INSERT);
	cr_assert_eq(clock_model_get(model, &s), 0);
	cr_assert_neq(s.leaps, leaps, "served model keeps the file's table");
	cr_assert_eq(leap_dtai_at_utc(s.leaps, fake_utc(NULL) + 86400), 38);
	/* the sources convert UTC with the merged table, not the file's */
	cr_assert_eq(fs.k[0].leaps, s.leaps);
	cr_assert_eq(fs.k[1].leaps, s.leaps);
	discipline_free(d);
}
