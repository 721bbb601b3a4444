// SPDX-License-Identifier: MIT
/*
 * Unit tests of sync/leapmerge.c: every authority rule, the derived
 * tables, and a derived leap actually served by a clock model snapshot
 * (UTC steps back at midnight, TAI continuous, smeared UTC exact).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "clock_model.h"
#include "leap.h"
#include "leapmerge.h"

#define NS 1000000000LL
#define DAY 86400LL
/* 2030-01-01 00:00:00 UTC, a midnight */
#define M 1893456000LL
/* 12:00 UTC the day before M */
#define NOW (M - DAY / 2)

static const struct leap_entry file_e[] = { { 1341100800, 35 },
					    { 1435708800, 36 },
					    { 1483228800, 37 } };

static struct leap_table *current, *expired;

static void setup(void)
{
	current = leap_table_new(file_e, 3, M + 100 * DAY);
	expired = leap_table_new(file_e, 3, M - 30 * DAY);
	cr_assert_not_null(current);
	cr_assert_not_null(expired);
}

static void teardown(void)
{
	leap_table_free(current);
	leap_table_free(expired);
}

TestSuite(leapmerge, .init = setup, .fini = teardown);

static struct leap_view ptp_leap61(void)
{
	return (struct leap_view){ .name = "PHC",
				   .auth = LEAP_AUTH_PTP_TRACEABLE,
				   .tai_utc_known = true,
				   .tai_utc_s = 37,
				   .leap_known = true,
				   .leap = SOURCE_LEAP_INSERT };
}

Test(leapmerge, bad_arguments)
{
	errno = 0;
	cr_assert_null(leap_merge_new(NULL));
	cr_assert_eq(errno, EINVAL);
	leap_merge_free(NULL);
}

Test(leapmerge, nobody_says_anything_file_table)
{
	struct leap_merge *lm = leap_merge_new(expired);
	struct leap_merge_state st;

	cr_assert_eq(leap_merge_update(lm, NULL, 0, NOW), 0);
	cr_assert_eq(leap_merge_table(lm), expired);
	leap_merge_get(lm, NOW, &st);
	cr_assert_eq(st.tai_utc_s, 37);
	cr_assert_eq(st.pending, SOURCE_LEAP_NONE);
	cr_assert_str_eq(st.from, "leap-seconds.list");
	cr_assert_not(st.derived);
	leap_merge_free(lm);
}

Test(leapmerge, current_table_beats_traceable_ptp)
{
	struct leap_merge *lm = leap_merge_new(current);
	struct leap_view v = ptp_leap61();
	struct leap_merge_state st;

	v.tai_utc_s = 38;
	cr_assert_eq(leap_merge_update(lm, &v, 1, NOW), 0);
	cr_assert_eq(leap_merge_table(lm), current);
	leap_merge_get(lm, NOW, &st);
	cr_assert_eq(st.tai_utc_s, 37);
	cr_assert_eq(st.pending, SOURCE_LEAP_NONE);
	leap_merge_free(lm);
}

Test(leapmerge, expired_table_and_ptp_leap61)
{
	struct leap_merge *lm = leap_merge_new(expired);
	struct leap_view v = ptp_leap61();
	struct leap_merge_state st;
	const struct leap_table *t;

	cr_assert_eq(leap_merge_update(lm, &v, 1, NOW), 1);
	t = leap_merge_table(lm);
	cr_assert_neq(t, expired);
	cr_assert_eq(t->n, 4);
	cr_assert_eq(t->e[3].utc_s, M);
	cr_assert_eq(t->e[3].dtai, 38);
	cr_assert_eq(leap_dtai_at_utc(t, M - 1), 37);
	leap_merge_get(lm, NOW, &st);
	cr_assert_eq(st.pending, SOURCE_LEAP_INSERT);
	cr_assert_str_eq(st.from, "PHC");
	cr_assert(st.derived);
	/* the expiry is the file's, not the derived table's */
	cr_assert_eq(st.file_expires_utc_s, M - 30 * DAY);
	/* the same view again: the same table, nothing new */
	cr_assert_eq(leap_merge_update(lm, &v, 1, NOW + 60), 0);
	cr_assert_eq(leap_merge_table(lm), t);
	/* after the leap the source says 38, no leap: the file still
	 * lacks it, and the derived table already says so: no change */
	v.leap = SOURCE_LEAP_NONE;
	v.tai_utc_s = 38;
	cr_assert_eq(leap_merge_update(lm, &v, 1, M + 3600), 0);
	cr_assert_eq(leap_merge_table(lm), t);
	cr_assert_eq(leap_dtai_at_utc(t, M + 3600), 38);
	cr_assert_eq(leap_dtai_at_utc(t, M - 3600), 37);
	leap_merge_get(lm, M + 3600, &st);
	cr_assert_eq(st.tai_utc_s, 38);
	leap_merge_free(lm);
}

Test(leapmerge, expired_table_and_a_different_offset_now)
{
	struct leap_merge *lm = leap_merge_new(expired);
	struct leap_view v = { .name = "PHC",
			       .auth = LEAP_AUTH_PTP,
			       .tai_utc_known = true,
			       .tai_utc_s = 38 };
	const struct leap_table *t;

	cr_assert_eq(leap_merge_update(lm, &v, 1, NOW), 1);
	t = leap_merge_table(lm);
	cr_assert_eq(leap_dtai_at_utc(t, NOW), 38);
	cr_assert_eq(leap_dtai_at_utc(t, M - DAY - 1), 37);
	cr_assert_eq(t->e[t->n - 1].utc_s, M - DAY, "today's midnight");
	leap_merge_free(lm);
}

Test(leapmerge, authority_order_ptp_over_ntp_over_gnss_over_kernel)
{
	struct leap_merge *lm = leap_merge_new(expired);
	struct leap_view v[4] = {
		{ .name = "sys",
		  .auth = LEAP_AUTH_KERNEL,
		  .tai_utc_known = true,
		  .tai_utc_s = 36,
		  .leap_known = true,
		  .leap = SOURCE_LEAP_DELETE },
		{ .name = "gps",
		  .auth = LEAP_AUTH_GNSS,
		  .tai_utc_known = true,
		  .tai_utc_s = 37,
		  .leap_known = true,
		  .leap = SOURCE_LEAP_INSERT },
		{ .name = "chronyd",
		  .auth = LEAP_AUTH_NTP,
		  .leap_known = true,
		  .leap = SOURCE_LEAP_NONE },
		{ .name = "PHC", .auth = LEAP_AUTH_PTP, .leap_known = false },
	};
	struct leap_merge_state st;

	/* NTP's "no leap" beats GNSS and kernel; GNSS's 37 beats the
	 * kernel's 36: all agree with the table */
	cr_assert_eq(leap_merge_update(lm, v, 4, NOW), 0);
	cr_assert_eq(leap_merge_table(lm), expired);
	/* without chronyd, GNSS's announcement wins over the kernel's */
	cr_assert_eq(leap_merge_update(lm, v, 2, NOW), 1);
	leap_merge_get(lm, NOW, &st);
	cr_assert_eq(st.pending, SOURCE_LEAP_INSERT);
	cr_assert_str_eq(st.from, "gps");
	cr_assert_eq(st.tai_utc_s, 37);
	/* the kernel alone beats only the expired table */
	cr_assert_eq(leap_merge_update(lm, v, 1, NOW), 1);
	leap_merge_get(lm, NOW, &st);
	cr_assert_eq(st.tai_utc_s, 36);
	cr_assert_eq(st.pending, SOURCE_LEAP_DELETE);
	cr_assert_str_eq(st.from, "sys");
	/* PTP saying nothing on leaps changes nothing; all agree again */
	cr_assert_eq(leap_merge_update(lm, &v[3], 1, NOW), 1);
	cr_assert_eq(leap_merge_table(lm), expired);
	leap_merge_free(lm);
}

Test(leapmerge, kernel_loses_to_a_current_table)
{
	struct leap_merge *lm = leap_merge_new(current);
	struct leap_view v = { .name = "sys",
			       .auth = LEAP_AUTH_KERNEL,
			       .tai_utc_known = true,
			       .tai_utc_s = 36 };

	cr_assert_eq(leap_merge_update(lm, &v, 1, NOW), 0);
	cr_assert_eq(leap_merge_table(lm), current);
	leap_merge_free(lm);
}

/* A new file (SIGHUP) replaces a derived table and its expiry shows. */
Test(leapmerge, new_file_and_its_expiry)
{
	struct leap_merge *lm = leap_merge_new(expired);
	struct leap_view v = ptp_leap61();
	struct leap_merge_state st;

	leap_merge_get(lm, NOW, &st);
	cr_assert_eq(st.file_expires_utc_s, M - 30 * DAY);
	cr_assert_eq(leap_merge_update(lm, &v, 1, NOW), 1);
	cr_assert_eq(leap_merge_set_file(lm, NULL), -EINVAL);
	cr_assert_eq(leap_merge_set_file(lm, current), 0);
	cr_assert_eq(leap_merge_table(lm), current);
	leap_merge_get(lm, NOW, &st);
	cr_assert_eq(st.file_expires_utc_s, M + 100 * DAY);
	cr_assert_not(st.derived);
	cr_assert_str_eq(st.from, "leap-seconds.list");
	leap_merge_free(lm);
}

/* The derived leap served by a model: TAI 1:1 with the counter. */
Test(leapmerge, derived_leap_is_served_by_the_model)
{
	struct leap_merge *lm = leap_merge_new(expired);
	struct leap_view v = ptp_leap61();
	struct clock_snapshot s = { 0 };
	struct clock_reading r, r2;
	/* TAI at 23:59:59.000 UTC before the leap */
	int64_t tai_2359 = (M - 1 + 37) * NS;

	cr_assert_eq(leap_merge_update(lm, &v, 1, NOW), 1);
	s.generation = 1;
	s.status = CLOCK_STATUS_SYNCHRONIZED;
	s.c0 = 1000;
	s.tai0_ns = tai_2359;
	s.period_q = (uint64_t)1 << CLOCK_PERIOD_SHIFT;
	s.leaps = leap_merge_table(lm);
	/* 23:59:59.5 */
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_UTC, 1000 + NS / 2, &r),
		     0);
	cr_assert_eq(r.ns, (M - 1) * NS + NS / 2);
	/* 23:59:60.5: UTC stepped back to 23:59:59.5 */
	cr_assert_eq(
		clock_snapshot_read(&s, TIMESCALE_UTC, 1000 + NS + NS / 2, &r),
		0);
	cr_assert_eq(r.ns, (M - 1) * NS + NS / 2);
	/* 00:00:00.5 after */
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_UTC,
					 1000 + 2 * NS + NS / 2, &r),
		     0);
	cr_assert_eq(r.ns, M * NS + NS / 2);
	/* TAI continuous through it */
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_TAI, 1000 + NS, &r), 0);
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_TAI, 1000 + 2 * NS, &r2),
		     0);
	cr_assert_eq(r2.ns - r.ns, NS);
	/* the noon smear reads exactly M in the middle of 23:59:60 */
	cr_assert_eq(clock_snapshot_read(&s, TIMESCALE_UTC_NOON_LINEAR,
					 1000 + NS + NS / 2, &r),
		     0);
	cr_assert_eq(r.ns, M * NS);
	/* and is 0.5 s behind UTC at the window's end, noon after */
	leap_merge_free(lm);
}
