// SPDX-License-Identifier: MIT
/*
 * Unit tests: the system-clock feed (sync/sysclock.c), run for real on
 * the default GLib main context against this host's clocks.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "clock_model.h"
#include "leap.h"
#include "sysclock.h"
#include "../../sync/clock_model.h"

#define NS 1000000000LL
#define Q1 ((uint64_t)1 << CLOCK_PERIOD_SHIFT)
#define MAX_SNAPS 256

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static int read_at(const struct clock_snapshot *s, enum timescale ts,
		   uint64_t c, int64_t *ns)
{
	struct clock_reading r;
	int ret = clock_snapshot_read(s, ts, c, &r);

	*ns = r.ns;
	return ret;
}

static struct timex kernel_state(int *state)
{
	struct timex tx = { 0 };

	*state = ntp_adjtime(&tx);
	return tx;
}

Test(sysclock, bad_args)
{
	static const struct leap_entry e[] = { { 0, 37 } };
	struct leap_table *tab = leap_table_new(e, 1, 0);
	struct clock_model *m = clock_model_new();
	GError *err = NULL;

	cr_assert_null(sysclock_feed_new(NULL, tab, 100, &err));
	cr_assert_not_null(err);
	g_clear_error(&err);
	cr_assert_null(sysclock_feed_new(m, NULL, 100, &err));
	g_clear_error(&err);
	cr_assert_null(sysclock_feed_new(m, tab, 0, &err));
	cr_assert_eq(err->code, EINVAL);
	g_clear_error(&err);
	cr_assert_null(sysclock_feed_new(m, tab, 3600001, &err));
	g_clear_error(&err);
	sysclock_feed_free(NULL);
	clock_model_free(m);
	leap_table_free(tab);
}

/* Checks between two consecutive snapshots. */
static void check_continuity(const struct clock_snapshot *a,
			     const struct clock_snapshot *b)
{
	struct clock_reading tai;
	int64_t mono;

	cr_assert_eq(b->generation, a->generation + 1);
	cr_assert_geq(b->c0, a->c0);
	/* MONOTONIC continues exactly where the old model had it */
	cr_assert_eq(read_at(a, TIMESCALE_MONOTONIC, b->c0, &mono), 0);
	cr_assert_eq(mono, b->mono0_ns, "mono jump %lld ns",
		     (long long)(b->mono0_ns - mono));
	/* TAI too, unless the feed stepped (and said so) */
	clock_snapshot_tai(a, b->c0, &tai);
	if (b->steps == a->steps) {
		cr_assert_eq(tai.ns, b->tai0_ns, "TAI jump %lld ns",
			     (long long)(b->tai0_ns - tai.ns));
	}
	/* the rate stays sane: within 1000 ppm of the raw counter */
	cr_assert_lt(b->period_q, Q1 + Q1 / 1000);
	cr_assert_gt(b->period_q, Q1 - Q1 / 1000);
}

Test(sysclock, feed_runs_and_stays_continuous)
{
	static struct clock_snapshot snaps[MAX_SNAPS];
	struct clock_model *m = clock_model_new();
	struct leap_table *tab;
	struct sysclock_feed *f;
	GError *err = NULL;
	size_t n = 0;
	int64_t start, prev_mono, v, utc, rt, tai;
	int32_t dtai;
	uint64_t c, gen;
	struct timex tx;
	int state;
	enum clock_status want;

	tab = leap_table_load(LEAP_DEFAULT_PATH, &err);
	cr_assert_not_null(tab, "%s", err ? err->message : "");
	tx = kernel_state(&state);
	dtai = tx.tai > 0 ? tx.tai
			  : leap_dtai_at_utc(tab, now_ns(CLOCK_REALTIME) / NS);
	cr_assert_eq(dtai, 37, "TAI-UTC today is 37 s");

	f = sysclock_feed_new(m, tab, 100, &err);
	cr_assert_not_null(f, "%s", err ? err->message : "");
	/* the first snapshot is there synchronously */
	cr_assert_eq(clock_model_get(m, &snaps[0]), 0);
	n = 1;
	cr_assert_eq(snaps[0].generation, 1);
	cr_assert_eq(snaps[0].steps, 0);
	cr_assert_eq(snaps[0].leaps, tab);
	cr_assert_eq(snaps[0].counter, CLOCK_COUNTER_MONOTONIC_RAW);
	cr_assert(snaps[0].status == CLOCK_STATUS_INITIALIZING ||
		  (state < 0 && snaps[0].status == CLOCK_STATUS_UNKNOWN));
	c = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
	cr_assert_eq(read_at(&snaps[0], TIMESCALE_MONOTONIC, c, &prev_mono), 0);

	start = now_ns(CLOCK_MONOTONIC);
	while (now_ns(CLOCK_MONOTONIC) - start < 1500000000LL) {
		struct clock_snapshot *last;

		g_main_context_iteration(NULL, TRUE);
		cr_assert_lt(n, MAX_SNAPS);
		cr_assert_eq(clock_model_get(m, &snaps[n]), 0);
		if (snaps[n].generation != snaps[n - 1].generation) {
			check_continuity(&snaps[n - 1], &snaps[n]);
			n++;
		}
		last = &snaps[n - 1];
		c = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
		/* MONOTONIC never goes back across publishes */
		cr_assert_eq(read_at(last, TIMESCALE_MONOTONIC, c, &v), 0);
		cr_assert_geq(v, prev_mono);
		prev_mono = v;
		/* TAI - UTC through the model is the table's offset */
		cr_assert_eq(read_at(last, TIMESCALE_TAI, c, &tai), 0);
		cr_assert_eq(read_at(last, TIMESCALE_UTC, c, &utc), 0);
		cr_assert_eq(tai - utc, (int64_t)dtai * NS);
	}
	fprintf(stderr, "sysclock feed: %zu snapshots in 1.5 s\n", n);
	cr_assert_geq(n, 8);

	/* the model follows the system clock closely */
	c = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
	rt = now_ns(CLOCK_REALTIME);
	cr_assert_eq(read_at(&snaps[n - 1], TIMESCALE_UTC, c, &utc), 0);
	cr_assert_lt(llabs(rt - utc), 1000000, "model - REALTIME %lld ns",
		     (long long)(utc - rt));

	tx = kernel_state(&state);
	want = state < 0 ? CLOCK_STATUS_UNKNOWN
	       : (state == TIME_ERROR || (tx.status & STA_UNSYNC))
		       ? CLOCK_STATUS_FREERUNNING
		       : CLOCK_STATUS_SYNCHRONIZED;
	cr_assert_eq(snaps[n - 1].status, want, "status %s, want %s",
		     clock_status_name(snaps[n - 1].status),
		     clock_status_name(want));
	cr_assert_geq(snaps[n - 1].time_maxerr_ns,
		      (uint64_t)tx.maxerror * 1000);
	cr_assert_geq(snaps[n - 1].rate_maxerr_ppb, 15000);
	cr_assert_eq(snaps[n - 1].steps, 0);
	fprintf(stderr,
		"sysclock: status %s, maxerr %llu ns (+%llu ppb), period "
		"%+.3f ppm\n",
		clock_status_name(snaps[n - 1].status),
		(unsigned long long)snaps[n - 1].time_maxerr_ns,
		(unsigned long long)snaps[n - 1].rate_maxerr_ppb,
		((double)snaps[n - 1].period_q / (double)Q1 - 1) * 1e6);

	/* freeing stops the polling */
	sysclock_feed_free(f);
	gen = snaps[n - 1].generation;
	start = now_ns(CLOCK_MONOTONIC);
	while (now_ns(CLOCK_MONOTONIC) - start < 300000000LL) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(10000);
	}
	cr_assert_eq(clock_model_get(m, &snaps[0]), 0);
	cr_assert_eq(snaps[0].generation, gen);
	clock_model_free(m);
	leap_table_free(tab);
}

Test(sysclock, uses_the_table_without_kernel_offset)
{
	static const struct leap_entry e[] = { { 0, 40 } };
	struct leap_table *tab = leap_table_new(e, 1, INT64_MAX);
	struct clock_model *m = clock_model_new();
	struct clock_snapshot s;
	struct sysclock_feed *f;
	GError *err = NULL;
	int64_t tai, utc;
	uint64_t c;
	struct timex tx;
	int state;

	tx = kernel_state(&state);
	f = sysclock_feed_new(m, tab, 50, &err);
	cr_assert_not_null(f);
	for (int i = 0; i < 3; i++) {
		g_main_context_iteration(NULL, TRUE);
	}
	cr_assert_eq(clock_model_get(m, &s), 0);
	cr_assert_geq(s.generation, 3);
	c = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
	cr_assert_eq(read_at(&s, TIMESCALE_TAI, c, &tai), 0);
	cr_assert_eq(read_at(&s, TIMESCALE_UTC, c, &utc), 0);
	/* the feed's TAI: REALTIME + the table's 40 s (or the kernel's) */
	cr_assert_lt(llabs(tai - now_ns(CLOCK_REALTIME) -
			   (tx.tai > 0 ? tx.tai : 40) * NS),
		     1000000);
	cr_assert_eq(tai - utc, 40 * NS); /* UTC comes from the table */
	sysclock_feed_free(f);
	clock_model_free(m);
	leap_table_free(tab);
}

/*
 * A simulated host: MONOTONIC_RAW advances READ_COST_NS per clock read;
 * the "true" UTC timeline L(raw) = base_l + (raw - base_raw)(1 + freq);
 * REALTIME is L, minus 1 s from a simulated inserted leap second on
 * (the kernel repeats 23:59:59 in state TIME_OOP), plus any jumps.
 */
#define READ_COST_NS 40

struct fake_host {
	int64_t raw;
	int64_t base_raw, base_l;
	int64_t freq_ppb;
	int64_t jump_ns;  /* REALTIME - L, besides the leap */
	int64_t leap_m;	  /* POSIX s of an inserted leap, 0 = none */
	int kernel_tai;	  /* timex.tai */
	long maxerror_us; /* timex.maxerror */
	int status;	  /* timex.status */
	int state;	  /* ntp_adjtime() return unless leaping */
	bool fail_gettime, fail_adjtime;
};

static int64_t fake_l(const struct fake_host *h, int64_t raw)
{
	return h->base_l + (raw - h->base_raw) +
	       (int64_t)((__int128)(raw - h->base_raw) * h->freq_ppb / NS);
}

static int64_t fake_realtime(const struct fake_host *h, int64_t raw)
{
	int64_t l = fake_l(h, raw);

	if (h->leap_m && l >= h->leap_m * NS) {
		l -= NS;
	}
	return l + h->jump_ns;
}

/* True TAI at @raw for a TAI-UTC of @dtai before any simulated leap. */
static int64_t fake_truth(const struct fake_host *h, int64_t raw, int dtai)
{
	return fake_l(h, raw) + h->jump_ns + dtai * NS;
}

/* Change the rate from now on, keeping L continuous. */
static void fake_set_freq(struct fake_host *h, int64_t ppb)
{
	h->base_l = fake_l(h, h->raw);
	h->base_raw = h->raw;
	h->freq_ppb = ppb;
}

static void to_ts(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = ns / NS;
	ts->tv_nsec = ns % NS;
}

static int fake_gettime(void *ctx, clockid_t clk, struct timespec *ts)
{
	struct fake_host *h = ctx;

	if (h->fail_gettime) {
		errno = EPERM;
		return -1;
	}
	h->raw += READ_COST_NS;
	switch (clk) {
	case CLOCK_MONOTONIC_RAW:
		to_ts(h->raw, ts);
		return 0;
	case CLOCK_REALTIME:
		to_ts(fake_realtime(h, h->raw), ts);
		return 0;
	case CLOCK_TAI:
		to_ts(fake_realtime(h, h->raw) + h->kernel_tai * NS, ts);
		return 0;
	default:
		errno = EINVAL;
		return -1;
	}
}

static int fake_adjtime(void *ctx, struct timex *tx)
{
	struct fake_host *h = ctx;
	int64_t l = fake_l(h, h->raw);

	if (h->fail_adjtime) {
		errno = EPERM;
		return -1;
	}
	tx->status = h->status;
	tx->maxerror = h->maxerror_us;
	tx->esterror = h->maxerror_us / 2;
	tx->tai = h->kernel_tai;
	tx->freq = 0;
	tx->tick = 1000000 / sysconf(_SC_CLK_TCK);
	if (h->leap_m && l < h->leap_m * NS) {
		return TIME_INS;
	}
	if (h->leap_m && l < (h->leap_m + 1) * NS) {
		return TIME_OOP;
	}
	if (h->leap_m) {
		return TIME_WAIT;
	}
	return h->state;
}

static const struct sysclock_ops fake_ops = {
	.gettime = fake_gettime,
	.adjtime = fake_adjtime,
};

struct fake_run {
	struct fake_host h;
	struct leap_table *tab;
	struct clock_model *m;
	struct sysclock_feed *f;
	struct clock_snapshot last;
};

static void fake_start(struct fake_run *r, int64_t utc_s, int dtai)
{
	struct leap_entry e[] = { { 0, dtai } };
	GError *err = NULL;

	r->h.raw = 1000 * NS;
	r->h.base_raw = r->h.raw;
	r->h.base_l = utc_s * NS;
	r->h.maxerror_us = 100;
	r->h.state = TIME_OK;
	if (!r->tab) {
		r->tab = leap_table_new(e, 1, INT64_MAX);
	}
	r->m = clock_model_new();
	/* the 1000 s timer never fires: the tests poll by hand */
	r->f = sysclock_feed_new_ops(r->m, r->tab, 1000, &fake_ops, &r->h,
				     &err);
	cr_assert_not_null(r->f, "%s", err ? err->message : "");
	cr_assert_eq(clock_model_get(r->m, &r->last), 0);
}

/*
 * Advance the host by @dt_ns and poll. Checks continuity against the
 * previous snapshot and that its bound held at the new sample.
 */
static void fake_poll(struct fake_run *r, int64_t dt_ns, int dtai,
		      bool expect_bound)
{
	struct clock_snapshot s;
	struct clock_reading old;
	int64_t truth;

	r->h.raw += dt_ns;
	cr_assert_eq(sysclock_feed_poll(r->f), 0);
	cr_assert_eq(clock_model_get(r->m, &s), 0);
	check_continuity(&r->last, &s);
	truth = fake_truth(&r->h, (int64_t)s.c0, dtai);
	/* the new model's bound covers the truth at its reference point */
	cr_assert_leq(llabs(s.tai0_ns - truth), s.time_maxerr_ns,
		      "tai0 - truth %lld ns > %llu",
		      (long long)(s.tai0_ns - truth),
		      (unsigned long long)s.time_maxerr_ns);
	/* and the old one's, extrapolated to here, did too */
	clock_snapshot_tai(&r->last, s.c0, &old);
	if (expect_bound) {
		cr_assert_leq(llabs(old.ns - truth), old.maxerr_ns,
			      "old model off by %lld ns > %llu",
			      (long long)(old.ns - truth),
			      (unsigned long long)old.maxerr_ns);
	}
	r->last = s;
}

static void fake_stop(struct fake_run *r)
{
	sysclock_feed_free(r->f);
	clock_model_free(r->m);
	leap_table_free(r->tab);
}

Test(sysclock_fake, tracks_frequency_and_bounds)
{
	struct fake_run r = { 0 };
	int64_t truth;

	r.h.freq_ppb = 20000; /* REALTIME runs 20 ppm fast of RAW */
	r.h.status = 0;
	fake_start(&r, 1800000000, 37);
	r.h.maxerror_us = 0; /* so only the feed's own terms are tested */
	cr_assert_eq(r.last.status, CLOCK_STATUS_INITIALIZING);
	cr_assert_eq(r.last.rate_maxerr_ppb, 515000);
	for (int i = 0; i < 10; i++) {
		fake_poll(&r, NS, 37, true);
		cr_assert_eq(r.last.status, CLOCK_STATUS_SYNCHRONIZED);
	}
	truth = fake_truth(&r.h, (int64_t)r.last.c0, 37);
	cr_assert_lt(llabs(r.last.tai0_ns - truth), 100);
	/* period: 1 + 20 ppm, within 1 ppb */
	cr_assert_lt(
		llabs((int64_t)(r.last.period_q - Q1) - (int64_t)(Q1 / 50000)),
		(int64_t)(Q1 / 1000000000));
	cr_assert_eq(r.last.steps, 0);
	/* bound: kernel (0) + bracket + residual + 15 us; 15 ppm */
	cr_assert_geq(r.last.time_maxerr_ns, 15000);
	cr_assert_lt(r.last.time_maxerr_ns, 15000 + 200);
	cr_assert_lt(r.last.rate_maxerr_ppb, 15000 + 200);

	/* the system clock's rate changes by 25 ppm: the bound holds */
	fake_set_freq(&r.h, 45000);
	for (int i = 0; i < 5; i++) {
		fake_poll(&r, NS, 37, true);
	}
	truth = fake_truth(&r.h, (int64_t)r.last.c0, 37);
	cr_assert_lt(llabs(r.last.tai0_ns - truth), 100);
	fake_stop(&r);
}

Test(sysclock_fake, small_jump_is_slewed)
{
	struct fake_run r = { 0 };
	int64_t err_ns;

	fake_start(&r, 1800000000, 37);
	for (int i = 0; i < 3; i++) {
		fake_poll(&r, NS, 37, true);
	}
	r.h.jump_ns = 400000; /* 0.4 ms: below the step threshold */
	fake_poll(&r, NS, 37, false);
	cr_assert_eq(r.last.steps, 0);
	cr_assert_geq(r.last.time_maxerr_ns, 400000);
	for (int i = 0; i < 4; i++) {
		fake_poll(&r, NS, 37, false);
		cr_assert_eq(r.last.steps, 0);
	}
	err_ns = r.last.tai0_ns - fake_truth(&r.h, (int64_t)r.last.c0, 37);
	cr_assert_lt(llabs(err_ns), 1000, "still %lld ns off",
		     (long long)err_ns);
	fake_stop(&r);
}

Test(sysclock_fake, big_jump_steps_monotonic_does_not)
{
	struct fake_run r = { 0 };
	int64_t mono_before, err_ns;
	struct clock_reading rd;

	fake_start(&r, 1800000000, 37);
	for (int i = 0; i < 3; i++) {
		fake_poll(&r, NS, 37, true);
	}
	r.h.jump_ns = -2 * NS; /* someone set the clock back 2 s */
	clock_snapshot_read(&r.last, TIMESCALE_MONOTONIC,
			    (uint64_t)(r.h.raw + NS), &rd);
	mono_before = rd.ns;
	fake_poll(&r, NS, 37, false); /* check_continuity: MONOTONIC */
	cr_assert_eq(r.last.steps, 1);
	err_ns = r.last.tai0_ns - fake_truth(&r.h, (int64_t)r.last.c0, 37);
	cr_assert_lt(llabs(err_ns), 1000);
	cr_assert_geq(r.last.mono0_ns, mono_before);
	r.h.jump_ns += 5000000; /* and 5 ms forward */
	fake_poll(&r, NS, 37, false);
	cr_assert_eq(r.last.steps, 2);
	fake_poll(&r, NS, 37, true);
	cr_assert_eq(r.last.steps, 2);
	fake_stop(&r);
}

Test(sysclock_fake, inserted_leap_second_via_table)
{
	static const struct leap_entry e[] = { { 0, 37 },
					       { 4102444800LL, 38 } };
	struct fake_run r = { 0 };
	bool saw_repeat = false;

	r.tab = leap_table_new(e, 2, INT64_MAX);
	r.h.leap_m = 4102444800LL;
	fake_start(&r, 4102444800LL - 4, 37);
	/* 250 ms polls from 23:59:56 to 00:00:04, through 23:59:60 */
	for (int i = 0; i < 32; i++) {
		struct clock_reading utc;
		int64_t l;

		fake_poll(&r, NS / 4, 37, true);
		cr_assert_eq(r.last.steps, 0, "stepped at poll %d", i);
		l = fake_l(&r.h, (int64_t)r.last.c0);
		cr_assert_eq(clock_snapshot_read(&r.last, TIMESCALE_UTC,
						 r.last.c0, &utc),
			     0);
		if (l >= 4102444800LL * NS && l < 4102444801LL * NS) {
			/* the model's UTC repeats 23:59:59 too */
			cr_assert_lt(llabs(utc.ns - (l - NS)), 1000);
			saw_repeat = true;
		} else if (l > 4102444801LL * NS) {
			cr_assert_lt(llabs(utc.ns - (l - NS)), 1000);
		} else {
			cr_assert_lt(llabs(utc.ns - l), 1000);
		}
	}
	cr_assert(saw_repeat);
	fake_stop(&r);
}

Test(sysclock_fake, kernel_tai_offset_wins)
{
	struct fake_run r = { 0 };
	struct clock_reading tai;

	r.h.kernel_tai = 37;
	fake_start(&r, 1800000000, 40); /* table says 40: warned, ignored */
	fake_poll(&r, NS, 37, true);
	clock_snapshot_tai(&r.last, r.last.c0, &tai);
	cr_assert_lt(llabs(tai.ns - fake_truth(&r.h, (int64_t)r.last.c0, 37)),
		     1000);
	fake_stop(&r);
}

Test(sysclock_fake, status_mapping)
{
	struct fake_run r = { 0 };

	r.h.status = STA_UNSYNC;
	fake_start(&r, 1800000000, 37);
	fake_poll(&r, NS, 37, true);
	cr_assert_eq(r.last.status, CLOCK_STATUS_FREERUNNING);
	r.h.status = 0;
	r.h.state = TIME_ERROR;
	fake_poll(&r, NS, 37, true);
	cr_assert_eq(r.last.status, CLOCK_STATUS_FREERUNNING);
	r.h.state = TIME_OK;
	fake_poll(&r, NS, 37, true);
	cr_assert_eq(r.last.status, CLOCK_STATUS_SYNCHRONIZED);
	r.h.fail_adjtime = true;
	fake_poll(&r, NS, 37, true);
	cr_assert_eq(r.last.status, CLOCK_STATUS_UNKNOWN);
	cr_assert_geq(r.last.time_maxerr_ns, 16 * NS);
	fake_stop(&r);
}

Test(sysclock_fake, read_failures)
{
	struct fake_run r = { 0 };
	struct clock_snapshot s;
	GError *err = NULL;

	r.h.fail_gettime = true;
	r.tab = leap_table_new((struct leap_entry[]){ { 0, 37 } }, 1, 0);
	r.m = clock_model_new();
	cr_assert_null(
		sysclock_feed_new_ops(r.m, r.tab, 100, &fake_ops, &r.h, &err));
	cr_assert_eq(err->code, EPERM);
	g_clear_error(&err);
	cr_assert_eq(clock_model_get(r.m, &s), -EAGAIN);
	clock_model_free(r.m);

	r.h.fail_gettime = false;
	fake_start(&r, 1800000000, 37);
	r.h.fail_gettime = true;
	cr_assert_eq(sysclock_feed_poll(r.f), -EPERM);
	cr_assert_eq(clock_model_get(r.m, &s), 0);
	cr_assert_eq(s.generation, 1);
	r.h.fail_gettime = false;
	fake_poll(&r, NS, 37, true);
	fake_stop(&r);
}
