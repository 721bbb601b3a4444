// SPDX-License-Identifier: MIT
/*
 * Unit tests of the system clock as a source (sync/sources/source_sysclock.c on
 * sync/sources/sysclock.c's reading helpers): against this host's real clocks,
 * and against a simulated host through the source_conf seams
 * (clock_ops and sysclock_adjtime) where the truth is known.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include "leap.h"
#include "source.h"
#include "source_sysclock.h"
#include "sysclock.h"

#define NS 1000000000LL
#define READ_COST_NS 40

/*
 * The simulated host: MONOTONIC_RAW advances READ_COST_NS per clock
 * read; REALTIME = base_l + (raw - base_raw), minus 1 s from an inserted
 * leap second at leap_m on (the kernel repeats 23:59:59, TIME_OOP).
 */
static struct {
	int64_t raw, base_raw, base_l;
	int64_t leap_m;
	int kernel_tai;
	long maxerror_us;
	int status, state;
	bool fail_gettime, fail_adjtime;
} h;

static int64_t fake_l(int64_t raw)
{
	return h.base_l + (raw - h.base_raw);
}

static int64_t fake_realtime(int64_t raw)
{
	int64_t l = fake_l(raw);

	return h.leap_m && l >= h.leap_m * NS ? l - NS : l;
}

static void to_ts(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = ns / NS;
	ts->tv_nsec = ns % NS;
}

static int fake_gettime(void *ctx, clockid_t clk, struct timespec *ts)
{
	if (h.fail_gettime) {
		errno = EPERM;
		return -1;
	}
	h.raw += READ_COST_NS;
	if (clk == CLOCK_MONOTONIC_RAW) {
		to_ts(h.raw, ts);
	} else if (clk == CLOCK_REALTIME) {
		to_ts(fake_realtime(h.raw), ts);
	} else if (clk == CLOCK_TAI) {
		to_ts(fake_realtime(h.raw) + h.kernel_tai * NS, ts);
	} else {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int fake_adjtime(void *ctx, struct timex *tx)
{
	int64_t l = fake_l(h.raw);

	if (h.fail_adjtime) {
		errno = EPERM;
		return -1;
	}
	cr_assert_eq(tx->modes, 0, "adjtimex must only read");
	tx->status = h.status;
	tx->maxerror = h.maxerror_us;
	tx->tai = h.kernel_tai;
	if (h.leap_m && l < h.leap_m * NS) {
		return TIME_INS;
	}
	if (h.leap_m && l < (h.leap_m + 1) * NS) {
		return TIME_OOP;
	}
	return h.state;
}

static const struct source_clock_ops fake_clock_ops = {
	.gettime = fake_gettime,
};

static struct leap_table *tab;
static struct source_sysclock_settings set;
static struct source_conf conf;

static void setup(void)
{
	static const struct leap_entry e[] = { { 0, 37 },
					       { 4102444800LL, 38 } };

	memset(&h, 0, sizeof(h));
	h.raw = 1000 * NS;
	h.base_raw = h.raw;
	h.base_l = 1800000000LL * NS;
	h.maxerror_us = 100;
	h.state = TIME_OK;
	tab = leap_table_new(e, 2, INT64_MAX);
	cr_assert_not_null(tab);
	memset(&conf, 0, sizeof(conf));
	conf.leaps = tab;
	conf.clock_ops = &fake_clock_ops;
	set.sysclock_adjtime = fake_adjtime;
	conf.settings = &set;
}

static void teardown(void)
{
	leap_table_free(tab);
}

TestSuite(source_sysclock, .init = setup, .fini = teardown);

static struct source *open_src(void)
{
	struct source *s = NULL;
	GError *err = NULL;

	cr_assert_eq(source_new(&source_sysclock_ops, &conf, &s, &err), 0, "%s",
		     err ? err->message : "");
	cr_assert_str_eq(source_name(s), "system clock");
	return s;
}

/* TAI truth at @counter for TAI-UTC @dtai (before any leap). */
static int64_t truth(uint64_t counter, int dtai)
{
	return fake_l((int64_t)counter) + dtai * NS;
}

Test(source_sysclock, synchronised_sample_and_health)
{
	struct source *s = open_src();
	struct source_health hl;
	struct time_sample t;

	cr_assert_eq(source_poll(s, &t, &hl), 0);
	cr_assert_eq(hl.state, SOURCE_OK, "%s", hl.text);
	/* bracket RAW, REALTIME, RAW: 80 ns wide, midpoint at the read */
	cr_assert_eq(t.window_ns, 2 * (READ_COST_NS + 1));
	cr_assert_eq(t.err_ns, READ_COST_NS + 1 + 100000 + 1);
	cr_assert_eq(t.tai_ns, truth(t.counter, 37));
	cr_assert_eq(hl.leap_auth, LEAP_AUTH_KERNEL);
	cr_assert(hl.leap_known);
	cr_assert_eq(hl.leap, SOURCE_LEAP_NONE);
	cr_assert_not(hl.tai_utc_known, "kernel offset 0 means unset");
	cr_assert(strstr(hl.text, "leap table"), "%s", hl.text);
	source_free(s);
}

Test(source_sysclock, unsynchronised_is_degraded_with_16_s)
{
	struct source *s = open_src();
	struct source_health hl;
	struct time_sample t;

	h.status = STA_UNSYNC;
	h.state = TIME_ERROR;
	cr_assert_eq(source_poll(s, &t, &hl), 0);
	cr_assert_eq(hl.state, SOURCE_DEGRADED);
	cr_assert_str_eq(hl.text, "kernel clock unsynchronised, maxerror 16 s");
	cr_assert_eq(t.err_ns, READ_COST_NS + 1 + 16 * NS + 1);
	source_free(s);
}

Test(source_sysclock, kernel_tai_offset_wins_over_the_table)
{
	struct source *s;
	struct source_health hl;
	struct time_sample t;

	h.kernel_tai = 36; /* the table says 37 */
	s = open_src();
	cr_assert_eq(source_poll(s, &t, &hl), 0);
	cr_assert_eq(t.tai_ns, truth(t.counter, 36));
	cr_assert(hl.tai_utc_known);
	cr_assert_eq(hl.tai_utc_s, 36);
	cr_assert(strstr(hl.text, "kernel"), "%s", hl.text);
	source_free(s);
}

Test(source_sysclock, announced_leap_and_the_repeated_second)
{
	struct source *s;
	struct source_health hl;
	struct time_sample t;

	h.base_l = (4102444800LL - 2) * NS;
	h.leap_m = 4102444800LL;
	h.status = STA_INS;
	s = open_src();
	cr_assert_eq(source_poll(s, &t, &hl), 0);
	cr_assert_eq(hl.leap, SOURCE_LEAP_INSERT);
	cr_assert_eq(t.tai_ns, truth(t.counter, 37));
	/* inside 23:59:60 REALTIME repeats 23:59:59; TAI goes on */
	h.raw += 2 * NS + NS / 2;
	cr_assert_eq(source_poll(s, &t, &hl), 0);
	cr_assert_eq(t.tai_ns, truth(t.counter, 37));
	h.status = 0;
	h.raw += NS;
	cr_assert_eq(source_poll(s, &t, &hl), 0);
	cr_assert_eq(hl.leap, SOURCE_LEAP_NONE);
	cr_assert_eq(t.tai_ns, truth(t.counter, 37));
	source_free(s);
}

Test(source_sysclock, delete_flag)
{
	struct source *s = open_src();
	struct source_health hl;
	struct time_sample t;

	h.status = STA_DEL;
	cr_assert_eq(source_poll(s, &t, &hl), 0);
	cr_assert_eq(hl.leap, SOURCE_LEAP_DELETE);
	source_free(s);
}

Test(source_sysclock, read_failures)
{
	struct source *s = NULL;
	struct source_health hl;
	struct time_sample t;
	GError *err = NULL;

	h.fail_gettime = true;
	cr_assert_eq(source_new(&source_sysclock_ops, &conf, &s, &err), -EPERM);
	cr_assert(strstr(err->message, "system clock"), "%s",
		  err ? err->message : "");
	g_clear_error(&err);
	h.fail_gettime = false;
	s = open_src();
	h.fail_gettime = true;
	cr_assert_eq(source_poll(s, &t, &hl), -EPERM);
	cr_assert_eq(hl.state, SOURCE_ERROR);
	h.fail_gettime = false;
	h.fail_adjtime = true;
	cr_assert_eq(source_poll(s, &t, &hl), 0);
	cr_assert_eq(hl.state, SOURCE_DEGRADED);
	cr_assert_eq(hl.leap_auth, LEAP_AUTH_NONE);
	cr_assert_geq(t.err_ns, 16 * NS);
	source_free(s);
}

Test(source_sysclock, real_host_clocks)
{
	struct source *s;
	struct source_health hl;
	struct time_sample t;
	struct timespec rt;
	int64_t now_tai;

	conf.clock_ops = NULL;
	set.sysclock_adjtime = NULL;
	s = open_src();
	cr_assert_eq(source_poll(s, &t, &hl), 0, "%s", hl.text);
	clock_gettime(CLOCK_REALTIME, &rt);
	printf("real host: %s, err %llu ns, window %llu ns\n", hl.text,
	       (unsigned long long)t.err_ns, (unsigned long long)t.window_ns);
	cr_assert(hl.state == SOURCE_OK || hl.state == SOURCE_DEGRADED);
	now_tai = rt.tv_sec * NS + rt.tv_nsec +
		  (hl.tai_utc_known ? hl.tai_utc_s : 37) * NS;
	/* read within the last second, TAI-UTC of 37 s unless the kernel
	 * says otherwise */
	cr_assert_lt(llabs(now_tai - t.tai_ns), NS);
	cr_assert_lt(t.window_ns, NS / 100);
	cr_assert_geq(t.err_ns, t.window_ns / 2);
	source_free(s);
}
