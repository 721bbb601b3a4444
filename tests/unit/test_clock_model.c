// SPDX-License-Identifier: MIT
/* Unit tests: clock-model publication and reads (sync/model/clock_model.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "clock_model_writer.h"
#include "leap.h"

#define NS 1000000000LL
#define Q1 ((uint64_t)1 << CLOCK_PERIOD_SHIFT)

static struct leap_table *tab;

static void setup(void)
{
	static const struct leap_entry e[] = {
		{ 63072000, 10 },
		{ 1483228800, 37 },
		{ 4102444800LL, 38 },
	};

	tab = leap_table_new(e, 3, 4200000000LL);
	cr_assert_not_null(tab);
}

static void teardown(void)
{
	leap_table_free(tab);
}

TestSuite(clock_model, .init = setup, .fini = teardown);

static struct clock_snapshot base(void)
{
	struct clock_snapshot s = {
		.counter = CLOCK_COUNTER_MONOTONIC_RAW,
		.status = CLOCK_STATUS_SYNCHRONIZED,
		.c0 = 5000000000ULL,
		.tai0_ns = 1800000000LL * NS,
		.mono0_ns = 1000,
		.period_q = Q1,
		.time_esterr_ns = 10,
		.time_maxerr_ns = 1000,
		.rate_esterr_ppb = 100,
		.rate_maxerr_ppb = 1000000, /* 1 ms/s */
		.leaps = tab,
	};
	return s;
}

Test(clock_model, get_before_publish)
{
	struct clock_model *m = clock_model_new();
	struct clock_snapshot s;

	cr_assert_not_null(m);
	cr_assert_eq(clock_model_get(m, &s), -EAGAIN);
	clock_model_free(m);
	clock_model_free(NULL);
}

Test(clock_model, publish_get_consistency)
{
	struct clock_model *m = clock_model_new();
	struct clock_snapshot in = base(), out;

	for (uint64_t g = 1; g <= 5; g++) {
		in.tai0_ns += 17;
		in.steps = g * 3;
		in.generation = 999; /* ignored: the model numbers them */
		clock_model_publish(m, &in);
		cr_assert_eq(clock_model_get(m, &out), 0);
		cr_assert_eq(out.generation, g);
		cr_assert_eq(out.steps, g * 3);
		cr_assert_eq(out.tai0_ns, in.tai0_ns);
		cr_assert_eq(out.c0, in.c0);
		cr_assert_eq(out.mono0_ns, in.mono0_ns);
		cr_assert_eq(out.period_q, in.period_q);
		cr_assert_eq(out.status, in.status);
		cr_assert_eq(out.counter, in.counter);
		cr_assert_eq(out.time_esterr_ns, in.time_esterr_ns);
		cr_assert_eq(out.time_maxerr_ns, in.time_maxerr_ns);
		cr_assert_eq(out.rate_esterr_ppb, in.rate_esterr_ppb);
		cr_assert_eq(out.rate_maxerr_ppb, in.rate_maxerr_ppb);
		cr_assert_eq(out.leaps, tab);
	}
	clock_model_free(m);
}

Test(clock_model, counter_now)
{
	struct timespec ts;
	uint64_t a, b, raw;

	a = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	b = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
	raw = (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
	cr_assert(a <= raw && raw <= b);
}

Test(clock_model, tai_extrapolation_period_one)
{
	struct clock_snapshot s = base();
	struct clock_reading r;

	clock_snapshot_tai(&s, s.c0, &r);
	cr_assert_eq(r.ns, s.tai0_ns);
	cr_assert_eq(r.maxerr_ns, 1000);
	clock_snapshot_tai(&s, s.c0 + 123456789, &r);
	cr_assert_eq(r.ns, s.tai0_ns + 123456789);
	clock_snapshot_tai(&s, s.c0 - 123456789, &r);
	cr_assert_eq(r.ns, s.tai0_ns - 123456789);
}

Test(clock_model, tai_extrapolation_period_not_one)
{
	struct clock_snapshot s = base();
	struct clock_reading r;

	s.period_q = Q1 + Q1 / 2; /* 1.5 ns per tick */
	clock_snapshot_tai(&s, s.c0 + 1000, &r);
	cr_assert_eq(r.ns, s.tai0_ns + 1500);
	clock_snapshot_tai(&s, s.c0 - 1000, &r);
	cr_assert_eq(r.ns, s.tai0_ns - 1500);
	clock_snapshot_tai(&s, s.c0 + 3, &r);
	cr_assert_eq(r.ns, s.tai0_ns + 4); /* 4.5 rounds down */
	clock_snapshot_tai(&s, s.c0 - 3, &r);
	cr_assert_eq(r.ns, s.tai0_ns - 5); /* -4.5 rounds down too */

	s.period_q = Q1 / 3; /* a 3 GHz counter */
	clock_snapshot_tai(&s, s.c0 + 3000000000ULL, &r);
	cr_assert_eq(r.ns, s.tai0_ns + 999999999); /* Q1/3 is a bit short */

	s.period_q = Q1 + 1; /* 1 + 2^-40 */
	clock_snapshot_tai(&s, s.c0 + Q1, &r);
	cr_assert_eq(r.ns, s.tai0_ns + (int64_t)Q1 + 1);
	clock_snapshot_tai(&s, s.c0 - 1, &r);
	cr_assert_eq(r.ns, s.tai0_ns - 2);

	/* 1 + 10 ppm over one second */
	s.period_q = Q1 + Q1 / 100000;
	clock_snapshot_tai(&s, s.c0 + NS, &r);
	cr_assert_eq(r.ns, s.tai0_ns + NS + 10000 - 1);
}

Test(clock_model, tai_huge_deltas_saturate)
{
	struct clock_snapshot s = base();
	struct clock_reading r;

	s.c0 = 0;
	s.period_q = UINT64_MAX;
	clock_snapshot_tai(&s, UINT64_MAX, &r);
	cr_assert_eq(r.ns, INT64_MAX);
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_TAI, UINT64_MAX, &r),
		     -ERANGE);
	s.c0 = UINT64_MAX;
	clock_snapshot_tai(&s, 0, &r);
	cr_assert_eq(r.ns, INT64_MIN);
	/* 1000 ns + ceil(1 ms/s * (2^64 - 1) ns) */
	cr_assert_eq(r.maxerr_ns, 1000 + 18446744073709552ULL);
}

Test(clock_model, erange)
{
	struct clock_snapshot s = base();
	struct clock_reading r = { 0 };

	s.tai0_ns = 100;
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_TAI, s.c0 - 100, &r), 0);
	cr_assert_eq(r.ns, 0);
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_TAI, s.c0 - 101, &r),
		     -ERANGE);
	/* UTC = TAI - 10 s here: negative */
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_UTC, s.c0, &r), -ERANGE);
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_UTC_SLS, s.c0, &r),
		     -ERANGE);
	cr_assert_eq(
		clock_snapshot_read(&s, TIMESCALE_UTC_NOON_LINEAR, s.c0, &r),
		-ERANGE);
	s.mono0_ns = 0;
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_MONOTONIC, s.c0 - 1, &r),
		     -ERANGE);
	/* TAI past INT64_MAX while UTC is still in range */
	s.tai0_ns = INT64_MAX;
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_TAI, s.c0 + 1, &r),
		     -ERANGE);
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_UTC, s.c0 + 1, &r), 0);
	cr_assert_eq(r.ns, INT64_MAX - 38 * NS + 1);
}

Test(clock_model, einval)
{
	struct clock_snapshot s = base();
	struct clock_reading r;

	cr_assert_eq(clock_snapshot_read(&s, (enum timescale)5, s.c0, &r),
		     -EINVAL);
	cr_assert_eq(clock_snapshot_read(&s, (enum timescale) - 1, s.c0, &r),
		     -EINVAL);
	s.leaps = NULL;
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_UTC, s.c0, &r), -EINVAL);
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_TAI, s.c0, &r), 0);
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_MONOTONIC, s.c0, &r), 0);
}

Test(clock_model, every_timescale)
{
	struct clock_snapshot s = base();
	struct clock_reading r;
	uint64_t c = s.c0 + 2 * NS;

	s.period_q = 2 * Q1;
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_TAI, c, &r), 0);
	cr_assert_eq(r.ns, s.tai0_ns + 4 * NS);
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_UTC, c, &r), 0);
	cr_assert_eq(r.ns, s.tai0_ns + 4 * NS - 37 * NS);
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_UTC_NOON_LINEAR, c, &r),
		     0);
	cr_assert_eq(r.ns, s.tai0_ns + 4 * NS - 37 * NS);
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_UTC_SLS, c, &r), 0);
	cr_assert_eq(r.ns, s.tai0_ns + 4 * NS - 37 * NS);
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_MONOTONIC, c, &r), 0);
	cr_assert_eq(r.ns, 1000 + 4 * NS);
	/* 1000 ns + 1 ms/s * 2e9 ticks */
	cr_assert_eq(r.maxerr_ns, 1000 + 2000000);
}

Test(clock_model, bounds_growth)
{
	struct clock_snapshot s = base();
	struct clock_reading r, tai;
	uint64_t prev = 0;

	s.c0 = 1000 * NS;

	for (uint64_t d = 0; d < 100 * (uint64_t)NS; d += 999999937) {
		clock_snapshot_tai(&s, s.c0 + d, &r);
		cr_assert_geq(r.maxerr_ns, prev);
		/* ceil(1e6 * d / 1e9) */
		cr_assert_eq(r.maxerr_ns, 1000 + (d * 1000000 + NS - 1) / NS);
		clock_snapshot_tai(&s, s.c0 - d, &tai);
		cr_assert_eq(tai.maxerr_ns, r.maxerr_ns);
		for (int ts = TIMESCALE_TAI; ts <= TIMESCALE_MONOTONIC; ts++) {
			struct clock_reading x;

			cr_assert_eq(clock_snapshot_read(&s, ts, s.c0 + d, &x),
				     0);
			cr_assert_eq(x.maxerr_ns, r.maxerr_ns);
		}
		prev = r.maxerr_ns;
	}
	clock_snapshot_tai(&s, s.c0 + 1, &r);
	cr_assert_eq(r.maxerr_ns, 1001); /* growth rounds up */

	s.rate_maxerr_ppb = UINT64_MAX;
	clock_snapshot_tai(&s, s.c0 + 100 * NS, &r);
	cr_assert_eq(r.maxerr_ns, UINT64_MAX);
	s.rate_maxerr_ppb = 0;
	s.time_maxerr_ns = UINT64_MAX;
	clock_snapshot_tai(&s, s.c0 + 100 * NS, &r);
	cr_assert_eq(r.maxerr_ns, UINT64_MAX);
	s.rate_maxerr_ppb = 1;
	clock_snapshot_tai(&s, UINT64_MAX, &r);
	cr_assert_eq(r.maxerr_ns, UINT64_MAX);
}

Test(clock_model, names)
{
	cr_assert_str_eq(clock_status_name(CLOCK_STATUS_UNKNOWN), "unknown");
	cr_assert_str_eq(clock_status_name(CLOCK_STATUS_SYNCHRONIZED),
			 "synchronized");
	cr_assert_str_eq(clock_status_name(CLOCK_STATUS_FREERUNNING),
			 "freerunning");
	cr_assert_str_eq(clock_status_name(CLOCK_STATUS_INITIALIZING),
			 "initializing");
	cr_assert_str_eq(clock_status_name(CLOCK_STATUS_UNRELIABLE),
			 "unreliable");
	cr_assert_str_eq(clock_status_name((enum clock_status)42), "invalid");
	cr_assert_str_eq(timescale_name(TIMESCALE_TAI), "tai");
	cr_assert_str_eq(timescale_name(TIMESCALE_UTC), "utc");
	cr_assert_str_eq(timescale_name(TIMESCALE_UTC_NOON_LINEAR),
			 "utc-noon-linear");
	cr_assert_str_eq(timescale_name(TIMESCALE_UTC_SLS), "utc-sls");
	cr_assert_str_eq(timescale_name(TIMESCALE_MONOTONIC), "monotonic");
	cr_assert_str_eq(timescale_name((enum timescale)42), "invalid");
}

/*
 * Seqlock: a writer thread publishes snapshots whose fields are all
 * derived from one number k, with a checksum; readers must never see a
 * mix of two snapshots, and generations never go back.
 */
#define SEQ_PUBLISHES 300000

static atomic_bool writer_done;
static atomic_uint_fast64_t bad_reads;

static uint64_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

static struct clock_snapshot derived(uint64_t k)
{
	struct clock_snapshot s = {
		.steps = k,
		.status = (enum clock_status)(k % 5),
		.c0 = mix(k),
		.tai0_ns = (int64_t)(mix(k + 1) >> 1),
		.mono0_ns = (int64_t)(mix(k + 2) >> 1),
		.period_q = mix(k + 3),
		.time_esterr_ns = mix(k + 4),
		.rate_esterr_ppb = mix(k + 5),
		.rate_maxerr_ppb = mix(k + 6),
		.leaps = tab,
	};

	s.time_maxerr_ns = s.c0 ^ (uint64_t)s.tai0_ns ^ (uint64_t)s.mono0_ns ^
			   s.period_q ^ s.time_esterr_ns ^ s.rate_esterr_ppb ^
			   s.rate_maxerr_ppb ^ s.steps;
	return s;
}

static void *writer(void *arg)
{
	struct clock_model *m = arg;

	for (uint64_t k = 1; k <= SEQ_PUBLISHES; k++) {
		struct clock_snapshot s = derived(k);

		clock_model_publish(m, &s);
	}
	atomic_store(&writer_done, true);
	return NULL;
}

static void *reader(void *arg)
{
	const struct clock_model *m = arg;
	uint64_t last_gen = 0, reads = 0;

	while (!atomic_load(&writer_done)) {
		struct clock_snapshot s;
		struct clock_snapshot want;

		if (clock_model_get(m, &s) == -EAGAIN) {
			continue;
		}
		/* no cr_assert off the test's thread: count, check later */
		want = derived(s.steps);
		if (s.generation != s.steps || s.generation < last_gen ||
		    memcmp(&s.c0, &want.c0,
			   sizeof(s) - offsetof(struct clock_snapshot, c0))) {
			if (atomic_fetch_add(&bad_reads, 1) == 0) {
				fprintf(stderr,
					"torn read: gen %llu steps "
					"%llu\n",
					(unsigned long long)s.generation,
					(unsigned long long)s.steps);
			}
		}
		last_gen = s.generation;
		reads++;
	}
	return (void *)(uintptr_t)reads;
}

Test(clock_model, seqlock_concurrent_writer, .timeout = 60)
{
	struct clock_model *m = clock_model_new();
	pthread_t w, r[2];
	void *reads;
	struct clock_snapshot s;
	uint64_t bad;

	atomic_store(&writer_done, false);
	for (int i = 0; i < 2; i++) {
		pthread_create(&r[i], NULL, reader, m);
	}
	pthread_create(&w, NULL, writer, m);
	pthread_join(w, NULL);
	for (int i = 0; i < 2; i++) {
		pthread_join(r[i], &reads);
		fprintf(stderr, "seqlock reader %d: %llu consistent reads\n", i,
			(unsigned long long)(uintptr_t)reads);
	}
	bad = atomic_load(&bad_reads);
	cr_assert_eq(bad, 0, "%llu torn reads", (unsigned long long)bad);
	cr_assert_eq(clock_model_get(m, &s), 0);
	cr_assert_eq(s.generation, SEQ_PUBLISHES);
	clock_model_free(m);
}

/* Alarm deadlines: the inverse of the served timescales, in TAI. */
Test(clock_model, deadline_tai)
{
	struct clock_snapshot s = base();
	int64_t tai;

	/* 2026: TAI - UTC = 37 s */
	cr_assert_eq(clock_snapshot_deadline_tai(&s, TIMESCALE_UTC,
						 1800000000ULL * NS, &tai),
		     0);
	cr_expect_eq(tai, (1800000000LL + 37) * NS);
	cr_assert_eq(clock_snapshot_deadline_tai(&s, TIMESCALE_TAI,
						 1800000000ULL * NS, &tai),
		     0);
	cr_expect_eq(tai, 1800000000LL * NS);
	/* Far from a leap the smears are UTC. */
	cr_assert_eq(clock_snapshot_deadline_tai(&s, TIMESCALE_UTC_NOON_LINEAR,
						 1800000000ULL * NS, &tai),
		     0);
	cr_expect_eq(tai, (1800000000LL + 37) * NS);
	/* Any u64 alarm time is accepted: far ones saturate. */
	cr_assert_eq(clock_snapshot_deadline_tai(&s, TIMESCALE_UTC, UINT64_MAX,
						 &tai),
		     0);
	cr_expect_eq(tai, INT64_MAX);
	/* After the 2100 leap (+1 s at 4102444800) and its noon-to-noon
	 * window, the smear equals UTC again: the deadline is UTC + 38 s. */
	cr_assert_eq(clock_snapshot_deadline_tai(&s, TIMESCALE_UTC_NOON_LINEAR,
						 (4102444800ULL + 86400) * NS,
						 &tai),
		     0);
	cr_expect_eq(tai, (4102444800LL + 86400 + 38) * NS);
}

/* The status page's refresh in holdover: the same line, never narrower. */
Test(clock_model, rebase_keeps_the_line_and_never_narrows)
{
	struct clock_snapshot s = base(), r;
	struct clock_reading a, b, m;
	const uint64_t at[] = { 1, 999999937, 12 * (uint64_t)NS };

	s.c0 = 1000 * NS;
	s.period_q += s.period_q / 1000000 * 37; /* +37 ppm */
	s.time_esterr_ns = 10;
	s.rate_esterr_ppb = 100;
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		clock_snapshot_rebase(&s, s.c0 + at[i], &r);
		cr_assert_eq(r.c0, s.c0 + at[i]);
		cr_assert_eq(r.generation, s.generation);
		cr_assert_eq(r.status, s.status);
		cr_assert_eq(r.rate_maxerr_ppb, s.rate_maxerr_ppb);
		clock_snapshot_tai(&s, r.c0, &a);
		cr_assert_eq(r.tai0_ns, a.ns);
		cr_assert_eq(r.time_maxerr_ns, a.maxerr_ns + 1);
		/* esterr grows at its own rate, rounded up */
		cr_assert_eq(r.time_esterr_ns,
			     10 + (at[i] * 100 + NS - 1) / (uint64_t)NS);
		cr_assert_eq(
			clock_snapshot_read(&r, TIMESCALE_MONOTONIC, r.c0, &m),
			0);
		cr_assert_eq(m.ns, s.mono0_ns + (a.ns - s.tai0_ns));
		for (uint64_t d = 0; d < 30 * (uint64_t)NS; d += 999999937) {
			clock_snapshot_tai(&s, r.c0 + d, &a);
			clock_snapshot_tai(&r, r.c0 + d, &b);
			cr_assert(b.ns <= a.ns && a.ns - b.ns <= 1,
				  "at +%llu: %lld vs %lld",
				  (unsigned long long)d, (long long)b.ns,
				  (long long)a.ns);
			cr_assert(b.maxerr_ns >= a.maxerr_ns + (a.ns - b.ns),
				  "narrower at +%llu", (unsigned long long)d);
			cr_assert(b.maxerr_ns <= a.maxerr_ns + 2);
		}
	}
	/* before c0: unchanged */
	clock_snapshot_rebase(&s, s.c0 - 5, &r);
	cr_assert_eq(r.c0, s.c0);
	cr_assert_eq(r.tai0_ns, s.tai0_ns);
	cr_assert_eq(r.time_maxerr_ns, s.time_maxerr_ns);
	cr_assert_eq(r.time_esterr_ns, s.time_esterr_ns);
}
