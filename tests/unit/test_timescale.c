// SPDX-License-Identifier: MIT
/*
 * Unit tests: UTC and smeared UTC from TAI (sync/model/timescale.c), with
 * made-up future leap seconds: +1 at 2100-01-01 and -1 at 2100-07-01.
 * Expected values are computed here straight from the definitions in
 * the smear definitions of sync/model/timescale.h, as one exact fraction
 * rounded down.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "leap.h"
#include "timescale.h"
#include "test_seed.h"

#define NS 1000000000LL
#define MP 4102444800LL /* 2100-01-01, TAI-UTC 37 -> 38 */
#define MN 4118083200LL /* 2100-07-01, TAI-UTC 38 -> 37 */

static struct leap_table *tab;

static void setup(void)
{
	static const struct leap_entry e[] = {
		{ 63072000, 10 },
		{ 1483228800, 37 },
		{ MP, 38 },
		{ MN, 37 },
	};

	tab = leap_table_new(e, 4, 4200000000LL);
	cr_assert_not_null(tab);
}

static void teardown(void)
{
	leap_table_free(tab);
}

TestSuite(timescale, .init = setup, .fini = teardown);

struct leap_case {
	int64_t m;
	int dold, dnew;
};

static const struct leap_case pos = { MP, 37, 38 };
static const struct leap_case neg = { MN, 38, 37 };

static __int128 fdiv(__int128 a, __int128 b)
{
	__int128 q = a / b;

	if (q * b > a) {
		q--;
	}
	return q;
}

static __int128 conv(enum timescale ts, __int128 t)
{
	__int128 v = 0;

	cr_assert_eq(timescale_from_tai(tab, ts, t, &v), 0);
	return v;
}

/* UTC: t - old before the switch, t - new from it on. */
static __int128 exp_utc(const struct leap_case *c, __int128 t)
{
	int64_t sw = c->dnew > c->dold ? c->m + c->dold : c->m - 1 + c->dold;

	return t < (__int128)sw * NS ? t - (__int128)c->dold * NS
				     : t - (__int128)c->dnew * NS;
}

static void window(const struct leap_case *c, enum timescale ts, __int128 *s,
		   __int128 *e)
{
	if (ts == TIMESCALE_UTC_NOON_LINEAR) {
		*s = ((__int128)c->m - 43200 + c->dold) * NS;
		*e = ((__int128)c->m + 43200 + c->dnew) * NS;
	} else {
		*s = ((__int128)c->m - 1000 + c->dold) * NS;
		*e = ((__int128)c->m + c->dnew) * NS;
	}
}

static __int128 exp_smear(const struct leap_case *c, enum timescale ts,
			  __int128 t)
{
	__int128 s, e;

	window(c, ts, &s, &e);
	if (t < s) {
		return t - (__int128)c->dold * NS;
	}
	if (t >= e) {
		return t - (__int128)c->dnew * NS;
	}
	/* (t - old) - (new - old) (t - S) / (E - S), one fraction */
	return fdiv((t - (__int128)c->dold * NS) * (e - s) -
			    (__int128)(c->dnew - c->dold) * NS * (t - s),
		    e - s);
}

static void print128(const char *what, __int128 v)
{
	fprintf(stderr, "%s %lld.%09lld\n", what, (long long)(v / NS),
		(long long)(v % NS));
}

static void check_utc_around(const struct leap_case *c)
{
	int64_t sw = c->dnew > c->dold ? c->m + c->dold : c->m - 1 + c->dold;

	for (int64_t sec = -5; sec <= 5; sec++) {
		for (int64_t frac = 0; frac < NS; frac += NS / 4) {
			__int128 t = ((__int128)sw + sec) * NS + frac;

			cr_assert(conv(TIMESCALE_UTC, t) == exp_utc(c, t));
		}
	}
}

Test(timescale, utc_positive_leap)
{
	__int128 t = (__int128)(MP + 37) * NS; /* start of 23:59:60 */

	check_utc_around(&pos);
	cr_assert(conv(TIMESCALE_UTC, t - 1) == (__int128)MP * NS - 1);
	/* steps back 1 s at the start of the leap second */
	cr_assert(conv(TIMESCALE_UTC, t) == (__int128)(MP - 1) * NS);
	cr_assert(conv(TIMESCALE_UTC, t + NS - 1) == (__int128)MP * NS - 1);
	cr_assert(conv(TIMESCALE_UTC, t + NS) == (__int128)MP * NS);
	cr_assert_eq(timescale_dtai_at_tai(tab, t - 1), 37);
	cr_assert_eq(timescale_dtai_at_tai(tab, t), 38);
	cr_assert_eq(timescale_leap_tai_s(tab, 2), MP + 37);
}

Test(timescale, utc_negative_leap)
{
	__int128 t = (__int128)(MN - 1 + 38) * NS; /* start of missing :59 */

	check_utc_around(&neg);
	cr_assert(conv(TIMESCALE_UTC, t - 1) == (__int128)(MN - 1) * NS - 1);
	cr_assert(conv(TIMESCALE_UTC, t) == (__int128)MN * NS);
	cr_assert_eq(timescale_dtai_at_tai(tab, t - 1), 38);
	cr_assert_eq(timescale_dtai_at_tai(tab, t), 37);
	cr_assert_eq(timescale_leap_tai_s(tab, 3), MN - 1 + 38);
}

Test(timescale, before_first_and_far_future)
{
	cr_assert(conv(TIMESCALE_UTC, 0) == -10 * NS);
	cr_assert(conv(TIMESCALE_UTC_NOON_LINEAR, 5 * NS) == -5 * NS);
	cr_assert(conv(TIMESCALE_UTC_SLS, 5 * NS) == -5 * NS);
	cr_assert(conv(TIMESCALE_UTC, (__int128)INT64_MAX) ==
		  (__int128)INT64_MAX - 37 * NS);
	cr_assert(conv(TIMESCALE_TAI, 12345) == 12345);
	/* the table's 10 -> 37 jump: a 27 s step back at TAI M + 10 */
	cr_assert(conv(TIMESCALE_UTC, (__int128)(1483228810) * NS - 1) ==
		  (__int128)1483228800 * NS - 1);
	cr_assert(conv(TIMESCALE_UTC, (__int128)(1483228810) * NS) ==
		  (__int128)(1483228800 - 27) * NS);
	/* and its noon smear ends at noon, continuous */
	cr_assert(conv(TIMESCALE_UTC_NOON_LINEAR,
		       (__int128)(1483228800 + 43200 + 37) * NS) ==
		  (__int128)(1483228800 + 43200) * NS);
	cr_assert(conv(TIMESCALE_UTC_NOON_LINEAR,
		       (__int128)(1483228800 + 43200 + 37) * NS - 1) ==
		  (__int128)(1483228800 + 43200) * NS - 1);
}

Test(timescale, invalid)
{
	__int128 v;

	cr_assert_eq(timescale_from_tai(tab, TIMESCALE_MONOTONIC, 0, &v),
		     -EINVAL);
	cr_assert_eq(timescale_from_tai(tab, (enum timescale)99, 0, &v),
		     -EINVAL);
	cr_assert_eq(timescale_from_tai(NULL, TIMESCALE_UTC, 0, &v), -EINVAL);
	cr_assert_eq(timescale_from_tai(NULL, TIMESCALE_TAI, 7, &v), 0);
	cr_assert(v == 7);
	cr_assert_eq(timescale_to_tai(tab, TIMESCALE_MONOTONIC, 0, &v),
		     -EINVAL);
	cr_assert_eq(timescale_to_tai(NULL, TIMESCALE_UTC_SLS, 0, &v), -EINVAL);
}

static void check_ends(const struct leap_case *c, enum timescale ts)
{
	__int128 s, e;

	window(c, ts, &s, &e);
	cr_assert(conv(ts, s - 1) == s - 1 - (__int128)c->dold * NS);
	cr_assert(conv(ts, s) == s - (__int128)c->dold * NS);
	cr_assert(conv(ts, e) == e - (__int128)c->dnew * NS);
	cr_assert(conv(ts, e + 1) == e + 1 - (__int128)c->dnew * NS);
	for (__int128 d = -3000; d <= 3000; d++) {
		cr_assert(conv(ts, s + d) == exp_smear(c, ts, s + d));
		cr_assert(conv(ts, e + d) == exp_smear(c, ts, e + d));
	}
	/* both ends are midnight-aligned in UTC for UTC-SLS's end */
	if (ts == TIMESCALE_UTC_SLS) {
		cr_assert(conv(ts, e) == (__int128)c->m * NS);
	} else {
		cr_assert(conv(ts, e) == ((__int128)c->m + 43200) * NS);
		cr_assert(conv(ts, s) == ((__int128)c->m - 43200) * NS);
	}
}

Test(timescale, window_ends_exact)
{
	check_ends(&pos, TIMESCALE_UTC_NOON_LINEAR);
	check_ends(&neg, TIMESCALE_UTC_NOON_LINEAR);
	check_ends(&pos, TIMESCALE_UTC_SLS);
	check_ends(&neg, TIMESCALE_UTC_SLS);
}

Test(timescale, noon_linear_half_second_at_leap)
{
	/* middle of 23:59:60: UTC reads 23:59:59.5, the smear 00:00:00 */
	__int128 t = (__int128)(MP + 37) * NS + NS / 2;

	cr_assert(conv(TIMESCALE_UTC_NOON_LINEAR, t) == (__int128)MP * NS);
	cr_assert(conv(TIMESCALE_UTC_NOON_LINEAR, t) - conv(TIMESCALE_UTC, t) ==
		  NS / 2);
	cr_assert(t - 37 * NS - conv(TIMESCALE_UTC_NOON_LINEAR, t) == NS / 2);

	/* negative: the middle of the missing 23:59:59 */
	t = (__int128)(MN - 1 + 38) * NS + NS / 2;
	cr_assert(conv(TIMESCALE_UTC_NOON_LINEAR, t) == (__int128)MN * NS);
	cr_assert(conv(TIMESCALE_UTC_NOON_LINEAR, t) - (t - 38 * NS) == NS / 2);
	print128("noon smear at TAI 2100-01-01 00:00:37 (UTC 23:59:60):",
		 conv(TIMESCALE_UTC_NOON_LINEAR, (__int128)(MP + 37) * NS));
}

Test(timescale, sls_midpoint)
{
	/* E - S = 1001 s; in the middle the smear is 0.5 s behind t - old */
	__int128 s, e, t;

	window(&pos, TIMESCALE_UTC_SLS, &s, &e);
	cr_assert(e - s == 1001 * NS);
	t = s + (e - s) / 2;
	cr_assert(t - 37 * NS - conv(TIMESCALE_UTC_SLS, t) == NS / 2);
	window(&neg, TIMESCALE_UTC_SLS, &s, &e);
	cr_assert(e - s == 999 * NS);
	t = s + (e - s) / 2;
	cr_assert(conv(TIMESCALE_UTC_SLS, t) - (t - 38 * NS) == NS / 2);
}

/* Second by second across the window, and in odd-sized steps. */
static void walk(const struct leap_case *c, enum timescale ts)
{
	__int128 s, e, t, prev, v;
	const int64_t odd = 999999937;

	window(c, ts, &s, &e);
	for (t = s - 5 * NS; t <= e + 5 * NS; t += NS) {
		cr_assert(conv(ts, t) == exp_smear(c, ts, t));
		cr_assert(conv(ts, t + 1) == exp_smear(c, ts, t + 1));
		cr_assert(conv(ts, t - 1) == exp_smear(c, ts, t - 1));
	}
	prev = conv(ts, s - 3 * NS - 1);
	for (t = s - 3 * NS - 1 + odd; t <= e + 3 * NS; t += odd) {
		v = conv(ts, t);
		cr_assert(v == exp_smear(c, ts, t));
		cr_assert(v >= prev, "decreases at TAI %lld ns", (long long)t);
		/* rate within the window: 1 -+ 1/(E - S) */
		cr_assert(v - prev <= odd + odd / 900 + 1);
		cr_assert(v - prev >= odd - odd / 900 - 1);
		prev = v;
	}
}

Test(timescale, noon_linear_walk)
{
	walk(&pos, TIMESCALE_UTC_NOON_LINEAR);
	walk(&neg, TIMESCALE_UTC_NOON_LINEAR);
}

Test(timescale, sls_walk)
{
	walk(&pos, TIMESCALE_UTC_SLS);
	walk(&neg, TIMESCALE_UTC_SLS);
}

/* Step 1 ns at a time through the ends and the leap instant. */
static void fine_walk(const struct leap_case *c, enum timescale ts,
		      __int128 around)
{
	__int128 prev = conv(ts, around - 200007), v;

	for (__int128 t = around - 200000; t <= around + 200000; t += 7) {
		v = conv(ts, t);
		/* slope 1 outside, 1 -+ 1/(E - S) inside: 7 ns -> 6..8 */
		cr_assert(v - prev <= (c->dnew > c->dold ? 7 : 8));
		cr_assert(v - prev >= (c->dnew > c->dold ? 6 : 7));
		prev = v;
	}
}

Test(timescale, fine_continuity)
{
	const struct leap_case *cs[] = { &pos, &neg };
	enum timescale tss[] = { TIMESCALE_UTC_NOON_LINEAR, TIMESCALE_UTC_SLS };

	for (int i = 0; i < 2; i++) {
		for (int j = 0; j < 2; j++) {
			__int128 s, e;

			window(cs[i], tss[j], &s, &e);
			fine_walk(cs[i], tss[j], s);
			fine_walk(cs[i], tss[j], e);
			fine_walk(cs[i], tss[j],
				  ((__int128)cs[i]->m + cs[i]->dold) * NS);
		}
	}
}

static int64_t rnd64(void)
{
	return (int64_t)((uint64_t)rand() << 33 ^ (uint64_t)rand() << 11 ^
			 (uint64_t)rand());
}

Test(timescale, random_points_and_inverse)
{
	unsigned int seed = test_seed("timescale random_points_and_inverse");
	const struct leap_case *cs[] = { &pos, &neg };
	enum timescale tss[] = { TIMESCALE_UTC_NOON_LINEAR, TIMESCALE_UTC_SLS,
				 TIMESCALE_UTC };

	srand(seed);
	for (int iter = 0; iter < 200000; iter++) {
		const struct leap_case *c = cs[iter % 2];
		enum timescale ts = tss[(iter / 2) % 3];
		/* within 1.5 days of the leap */
		__int128 t = ((__int128)c->m + c->dold) * NS +
			     rnd64() % (129600 * NS);
		__int128 v = conv(ts, t), back;

		if (ts == TIMESCALE_UTC) {
			cr_assert(v == exp_utc(c, t));
		} else {
			cr_assert(v == exp_smear(c, ts, t));
		}
		/* inverse: earliest instant reading >= v */
		cr_assert_eq(timescale_to_tai(tab, ts, v, &back), 0);
		cr_assert(back <= t);
		cr_assert(conv(ts, back) >= v);
		cr_assert(conv(ts, back - 1) < v);
		if (ts != TIMESCALE_UTC) {
			cr_assert(conv(ts, back) == v);
		}
	}
}

Test(timescale, utc_inverse_at_leaps)
{
	__int128 back;

	/* 23:59:59.5 before a positive leap: its first occurrence */
	cr_assert_eq(timescale_to_tai(tab, TIMESCALE_UTC,
				      (__int128)(MP - 1) * NS + NS / 2, &back),
		     0);
	cr_assert(back == (__int128)(MP - 1 + 37) * NS + NS / 2);
	/* midnight after it: after the repeated second */
	cr_assert_eq(
		timescale_to_tai(tab, TIMESCALE_UTC, (__int128)MP * NS, &back),
		0);
	cr_assert(back == (__int128)(MP + 38) * NS);
	/* inside the second skipped by a negative leap: the jump */
	cr_assert_eq(timescale_to_tai(tab, TIMESCALE_UTC,
				      (__int128)(MN - 1) * NS + 3, &back),
		     0);
	cr_assert(back == (__int128)(MN - 1 + 38) * NS);
	cr_assert_eq(timescale_to_tai(tab, TIMESCALE_UTC, 0, &back), 0);
	cr_assert(back == 10 * NS);
}
