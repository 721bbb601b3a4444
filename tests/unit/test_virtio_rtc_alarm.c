// SPDX-License-Identifier: MIT
/*
 * Unit tests of the alarm state machine (device/virtio_rtc_alarm.c)
 * through rtcdev_handle(), on a frozen clock model whose TAI the test
 * moves by publishing (a model step): every event kind, obsolete events,
 * disable ordering, reset retention, waiting for buffers, ENODEV cases,
 * and the leap-second mapping of the stepping UTC clock.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <string.h>

#include "clock_model_writer.h"
#include "clock_list.h"
#include "alarm_timer.h"
#include "leap.h"
#include "virtio_rtc.h"

/* The GError API with the message copied out, so a check can read it. */
static int parse_msg(struct rtcdev_config *c, const char *list, uint8_t smear,
		     char *msg, size_t len)
{
	GError *e = NULL;
	int r = rtcdev_config_parse(c, list, smear, msg ? &e : NULL);

	if (e) {
		g_strlcpy(msg, e->message, len);
		g_error_free(e);
	}
	return r;
}

static int alarms_msg(struct rtcdev_config *c, const char *list, char *msg,
		      size_t len)
{
	GError *e = NULL;
	int r = rtcdev_config_set_alarm_clocks(c, list, &e);

	if (e) {
		g_strlcpy(msg, e->message, len);
		g_error_free(e);
	}
	return r;
}

#define NS 1000000000LL
#define T_UTC_S 1748736000LL /* 2025-06-01 */
#define T_EXPIRES_S 1814140800LL
#define LEAP_M 1483228800LL /* 2017-01-01, TAI-UTC 36 -> 37 */
#define F_ALARM (1ull << VIRTIO_RTC_F_ALARM)

static struct leap_table *leaps;
static struct clock_model *model;
static struct alarm_timer *timer;
static struct rtcdev_config cfg;
static struct rtcdev_dev *dev;
static unsigned int pending_calls;

static void publish_tai_with(int64_t tai_ns, const struct leap_table *t)
{
	struct clock_snapshot s;

	memset(&s, 0, sizeof(s));
	s.counter = CLOCK_COUNTER_MONOTONIC_RAW;
	s.status = CLOCK_STATUS_SYNCHRONIZED;
	s.c0 = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
	s.tai0_ns = tai_ns;
	s.leaps = t;
	clock_model_publish(model, &s);
}

static void publish_tai(int64_t tai_ns)
{
	publish_tai_with(tai_ns, leaps);
}

/* UTC (no leap nearby) as TAI. */
static int64_t utc(int64_t utc_ns)
{
	return utc_ns + 37 * NS;
}

static void on_pending(void *opaque)
{
	pending_calls++;
}

static void setup(void)
{
	static const struct leap_entry e[] = {
		{ 63072000, 10 },
		{ 1435708800, 36 },
		{ LEAP_M, 37 },
	};

	leaps = leap_table_new(e, 3, T_EXPIRES_S);
	model = clock_model_new();
	cr_assert(leaps && model);
	publish_tai(utc(T_UTC_S * NS));
	timer = alarm_timer_new(model);
	cr_assert_not_null(timer);
	rtcdev_config_default(&cfg, VIRTIO_RTC_SMEAR_NOON_LINEAR);
	dev = rtcdev_dev_new(&cfg, model);
	cr_assert_not_null(dev);
	cr_assert_eq(rtcdev_dev_attach_alarms(dev, timer, on_pending, NULL), 0);
	rtcdev_dev_set_features(dev, F_ALARM);
	pending_calls = 0;
}

static void teardown(void)
{
	rtcdev_dev_free(dev);
	cr_assert_eq(alarm_timer_armed(timer), 0, "device left alarms armed");
	alarm_timer_free(timer);
	clock_model_free(model);
	leap_table_free(leaps);
}

TestSuite(alarm, .init = setup, .fini = teardown);

static uint8_t set_alarm(uint16_t id, uint64_t t, bool en)
{
	struct virtio_rtc_req_set_alarm q = { 0 };
	uint8_t r[VIRTIO_RTC_RESP_MAX];

	q.head.msg_type = htole16(VIRTIO_RTC_REQ_SET_ALARM);
	q.alarm_time = htole64(t);
	q.clock_id = htole16(id);
	q.flags = en ? VIRTIO_RTC_FLAG_ALARM_ENABLED : 0;
	cr_assert_eq(rtcdev_handle(dev, &q, sizeof(q), r, 8), 8);
	return r[0];
}

static uint8_t set_enabled(uint16_t id, bool en)
{
	struct virtio_rtc_req_set_alarm_enabled q = { 0 };
	uint8_t r[VIRTIO_RTC_RESP_MAX];

	q.head.msg_type = htole16(VIRTIO_RTC_REQ_SET_ALARM_ENABLED);
	q.clock_id = htole16(id);
	q.flags = en ? VIRTIO_RTC_FLAG_ALARM_ENABLED : 0;
	cr_assert_eq(rtcdev_handle(dev, &q, sizeof(q), r, 8), 8);
	return r[0];
}

static uint8_t read_alarm(uint16_t id, uint64_t *t, uint8_t *fl)
{
	struct virtio_rtc_req_read_alarm q = { 0 };
	struct virtio_rtc_resp_read_alarm a;
	uint8_t r[VIRTIO_RTC_RESP_MAX];
	size_t len;

	q.head.msg_type = htole16(VIRTIO_RTC_REQ_READ_ALARM);
	q.clock_id = htole16(id);
	len = rtcdev_handle(dev, &q, sizeof(q), r, 24);
	if (r[0] == VIRTIO_RTC_S_OK) {
		cr_assert_eq(len, 24);
		memcpy(&a, r, sizeof(a));
		*t = le64toh(a.alarm_time);
		*fl = a.flags;
	}
	return r[0];
}

static uint8_t cap_flags(uint16_t id)
{
	struct virtio_rtc_req_clock_cap q = { 0 };
	uint8_t r[VIRTIO_RTC_RESP_MAX];

	q.head.msg_type = htole16(VIRTIO_RTC_REQ_CLOCK_CAP);
	q.clock_id = htole16(id);
	cr_assert_eq(rtcdev_handle(dev, &q, sizeof(q), r, 16), 16);
	return r[offsetof(struct virtio_rtc_resp_clock_cap, flags)];
}

/* Take one notification: its clock id, or -1 if none waits. */
static int take(void)
{
	uint8_t n[16];
	uint16_t v;
	unsigned int i;

	if (!rtcdev_dev_alarm_take(dev, n)) {
		return -1;
	}
	memcpy(&v, n, 2);
	cr_assert_eq(le16toh(v), VIRTIO_RTC_NOTIF_ALARM);
	for (i = 2; i < 8; i++) {
		cr_assert_eq(n[i], 0);
	}
	for (i = 10; i < 16; i++) {
		cr_assert_eq(n[i], 0);
	}
	memcpy(&v, n + 8, 2);
	return le16toh(v);
}

Test(alarm, enodev_and_caps)
{
	uint64_t t;
	uint8_t fl;

	cr_assert_eq(cap_flags(0), VIRTIO_RTC_FLAG_ALARM_CAP);
	cr_assert_eq(cap_flags(1), 0);
	cr_assert_eq(cap_flags(2), 0);
	cr_assert_eq(cap_flags(3), VIRTIO_RTC_FLAG_ALARM_CAP);
	cr_assert_eq(read_alarm(1, &t, &fl), VIRTIO_RTC_S_ENODEV);
	cr_assert_eq(set_alarm(2, 0, true), VIRTIO_RTC_S_ENODEV);
	cr_assert_eq(set_enabled(1, true), VIRTIO_RTC_S_ENODEV);
	cr_assert_eq(set_alarm(9, 0, true), VIRTIO_RTC_S_ENODEV);
	rtcdev_dev_set_features(dev, 0);
	cr_assert_eq(cap_flags(3), 0);
	cr_assert_eq(read_alarm(3, &t, &fl), VIRTIO_RTC_S_ENODEV);
	cr_assert_eq(set_alarm(3, 0, true), VIRTIO_RTC_S_ENODEV);
	cr_assert_eq(set_enabled(0, false), VIRTIO_RTC_S_ENODEV);
	cr_assert_eq(alarm_timer_armed(timer), 0);
}

Test(alarm, reaching_the_time_by_progress_and_by_step)
{
	int64_t a = (T_UTC_S + 10) * NS;

	cr_assert_eq(set_alarm(0, (uint64_t)a, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(alarm_timer_armed(timer), 1);
	cr_assert_not(rtcdev_dev_alarm_pending(dev));
	publish_tai(utc(a) - 1);
	cr_assert_eq(alarm_timer_poll(timer), 0, "fired 1 ns early");
	publish_tai(utc(a));
	cr_assert_eq(alarm_timer_poll(timer), 1);
	cr_assert_eq(pending_calls, 1);
	cr_assert_eq(take(), 0);
	cr_assert_eq(take(), -1, "one notification per event");
	/* A model step far past the next one fires it too, once. */
	cr_assert_eq(set_alarm(3, (uint64_t)(a + 60 * NS), true),
		     VIRTIO_RTC_S_OK);
	publish_tai(utc(a + 3600 * NS));
	cr_assert_eq(alarm_timer_poll(timer), 1);
	cr_assert_eq(alarm_timer_poll(timer), 0);
	cr_assert_eq(take(), 3);
	cr_assert_eq(take(), -1);
}

/*
 * After a backward model step to before a reached alarm's time, reaching
 * the time again is a new expiration (VIRTIO 1.4 5.23.7: "every such
 * event is a new expiration"); the step itself is not one, and makes an
 * event not yet notified obsolete.
 */
Test(alarm, backward_step_makes_a_reached_alarm_expire_again)
{
	int64_t a = (T_UTC_S + 10) * NS;

	cr_assert_eq(set_alarm(0, (uint64_t)a, true), VIRTIO_RTC_S_OK);
	publish_tai(utc(a));
	cr_assert_eq(alarm_timer_poll(timer), 1);
	cr_assert_eq(take(), 0);
	publish_tai(utc(a + NS));
	cr_assert_eq(alarm_timer_poll(timer), 0, "still reached: no event");
	cr_assert_eq(take(), -1);
	publish_tai(utc(a - 5 * NS));
	cr_assert_eq(alarm_timer_poll(timer), 0, "a step back is no event");
	cr_assert_eq(take(), -1);
	cr_assert_eq(alarm_timer_armed(timer), 1, "armed again");
	publish_tai(utc(a) - 1);
	cr_assert_eq(alarm_timer_poll(timer), 0, "1 ns early");
	publish_tai(utc(a));
	cr_assert_eq(alarm_timer_poll(timer), 1);
	cr_assert_eq(take(), 0, "reached again: a new expiration");
	/* not yet notified when the clock goes back: obsolete */
	publish_tai(utc(a - NS));
	cr_assert_eq(alarm_timer_poll(timer), 0);
	publish_tai(utc(a));
	cr_assert_eq(alarm_timer_poll(timer), 1);
	publish_tai(utc(a - NS));
	cr_assert_eq(alarm_timer_poll(timer), 0);
	cr_assert(!rtcdev_dev_alarm_pending(dev), "obsolete event still owed");
	cr_assert_eq(take(), -1);
	/* disabled, it is neither armed nor watched */
	cr_assert_eq(set_enabled(0, false), VIRTIO_RTC_S_OK);
	cr_assert_eq(alarm_timer_armed(timer), 0);
	cr_assert_eq(alarm_timer_watched(timer), 0);
	publish_tai(utc(a + NS));
	cr_assert_eq(alarm_timer_poll(timer), 0);
	cr_assert_eq(take(), -1);
}

Test(alarm, set_with_reached_time_and_enabling_when_reached)
{
	uint64_t t;
	uint8_t fl;

	cr_assert_eq(set_alarm(3, 1, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(take(), 3);
	cr_assert_eq(set_alarm(0, 2, false), VIRTIO_RTC_S_OK);
	cr_assert_eq(take(), -1, "disabled: no event");
	cr_assert_eq(set_enabled(0, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(take(), 0);
	cr_assert_eq(set_enabled(0, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(take(), -1, "already enabled: no new event");
	cr_assert_eq(read_alarm(0, &t, &fl), VIRTIO_RTC_S_OK);
	cr_assert_eq(t, 2);
	cr_assert_eq(fl, VIRTIO_RTC_FLAG_ALARM_ENABLED);
	cr_assert_eq(set_enabled(0, false), VIRTIO_RTC_S_OK);
	cr_assert_eq(read_alarm(0, &t, &fl), VIRTIO_RTC_S_OK);
	cr_assert_eq(t, 2, "SET_ALARM_ENABLED keeps the time");
	cr_assert_eq(fl, 0);
	/* Any alarm_time is accepted; far future never fires. */
	cr_assert_eq(set_alarm(3, UINT64_MAX, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(alarm_timer_poll(timer), 0);
	cr_assert_eq(take(), -1);
}

Test(alarm, disable_cancels_pending_before_the_response)
{
	cr_assert_eq(set_alarm(3, 1, true), VIRTIO_RTC_S_OK);
	cr_assert(rtcdev_dev_alarm_pending(dev));
	cr_assert_eq(set_enabled(3, false), VIRTIO_RTC_S_OK);
	cr_assert_not(rtcdev_dev_alarm_pending(dev));
	cr_assert_eq(take(), -1);
	cr_assert_eq(set_alarm(0, 1, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(set_alarm(0, 1, false), VIRTIO_RTC_S_OK);
	cr_assert_eq(take(), -1);
	/* An armed alarm, disabled, never fires. */
	cr_assert_eq(set_alarm(0, (uint64_t)(T_UTC_S + 5) * NS, true),
		     VIRTIO_RTC_S_OK);
	cr_assert_eq(set_enabled(0, false), VIRTIO_RTC_S_OK);
	cr_assert_eq(alarm_timer_armed(timer), 0);
	publish_tai(utc((T_UTC_S + 50) * NS));
	cr_assert_eq(alarm_timer_poll(timer), 0);
	cr_assert_eq(take(), -1);
}

Test(alarm, events_wait_and_newer_ones_obsolete_older)
{
	cr_assert_eq(set_alarm(3, 1, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(set_alarm(0, 1, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(set_alarm(3, 2, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(pending_calls, 3, "transport told of every event");
	/* Nobody took them (no buffers): they wait, merged per clock. */
	cr_assert_eq(take(), 3);
	cr_assert_eq(take(), 0);
	cr_assert_eq(take(), -1);
}

Test(alarm, reset_retains_and_reraises_reached_alarms)
{
	int64_t fut = (T_UTC_S + 100) * NS;
	uint64_t t;
	uint8_t fl;

	cr_assert_eq(set_alarm(3, 7, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(set_alarm(0, (uint64_t)fut, true), VIRTIO_RTC_S_OK);
	rtcdev_dev_reset(dev);
	/* The pending one was dropped and raised again by the reset. */
	cr_assert_eq(take(), 3);
	cr_assert_eq(take(), -1);
	cr_assert_eq(read_alarm(3, &t, &fl), VIRTIO_RTC_S_OK);
	cr_assert_eq(t, 7);
	cr_assert_eq(fl, VIRTIO_RTC_FLAG_ALARM_ENABLED);
	rtcdev_dev_reset(dev);
	cr_assert_eq(take(), 3, "every reset with it reached is an event");
	cr_assert_eq(alarm_timer_armed(timer), 1, "future alarm kept");
	publish_tai(utc(fut));
	cr_assert_eq(alarm_timer_poll(timer), 1);
	cr_assert_eq(take(), 0);
	/* Disabled alarms stay quiet across reset. */
	cr_assert_eq(set_enabled(3, false), VIRTIO_RTC_S_OK);
	cr_assert_eq(set_enabled(0, false), VIRTIO_RTC_S_OK);
	rtcdev_dev_reset(dev);
	cr_assert_eq(take(), -1);
}

Test(alarm, stepping_utc_maps_through_the_leap_table)
{
	/* UTC 00:00:00 after the positive leap of 2017-01-01 is TAI
	 * LEAP_M + 37; the smeared clock reads it earlier (LEAP_M + 36.5
	 * is the noon-linear midpoint, where it reads LEAP_M exactly). */
	publish_tai((LEAP_M + 30) * NS);
	cr_assert_eq(set_alarm(0, (uint64_t)LEAP_M * NS, true),
		     VIRTIO_RTC_S_OK);
	cr_assert_eq(set_alarm(3, (uint64_t)LEAP_M * NS, true),
		     VIRTIO_RTC_S_OK);
	publish_tai((LEAP_M + 36) * NS + NS / 2 - 1);
	cr_assert_eq(alarm_timer_poll(timer), 0);
	publish_tai((LEAP_M + 36) * NS + NS / 2);
	cr_assert_eq(alarm_timer_poll(timer), 1);
	cr_assert_eq(take(), 3);
	publish_tai((LEAP_M + 37) * NS - 1);
	cr_assert_eq(alarm_timer_poll(timer), 0, "UTC in its leap second");
	publish_tai((LEAP_M + 37) * NS);
	cr_assert_eq(alarm_timer_poll(timer), 1);
	cr_assert_eq(take(), 0);
}

/* The setup's table and a leap second (+1 or -1) at 2025-07-01. */
#define LEAP_N (T_UTC_S + 30 * 86400)
static struct leap_table *announce(int dir)
{
	const struct leap_entry e[] = {
		{ 63072000, 10 },
		{ 1435708800, 36 },
		{ LEAP_M, 37 },
		{ LEAP_N, 37 + dir },
	};
	struct leap_table *t = leap_table_new(e, 4, T_EXPIRES_S);

	cr_assert_not_null(t);
	return t;
}

/*
 * A leap second announced after a UTC alarm was set moves its TAI
 * deadline: inserted, an armed alarm after it fires a second later than
 * the old table said, and one already reached no longer is (the clock
 * reads a second less): armed again, no event, a new expiration when the
 * time comes.
 */
Test(alarm, an_inserted_leap_second_moves_armed_and_reached_alarms)
{
	struct leap_table *l2 = announce(+1);
	int64_t a = (LEAP_N + 3600) * NS; /* UTC, an hour after it */

	publish_tai(utc(a) - 5 * NS);
	cr_assert_eq(set_alarm(0, (uint64_t)a, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(alarm_timer_poll(timer), 0);
	publish_tai_with(utc(a), l2); /* the old deadline */
	cr_assert_eq(alarm_timer_poll(timer), 0, "fired a second early");
	publish_tai_with(utc(a) + NS - 1, l2);
	cr_assert_eq(alarm_timer_poll(timer), 0, "fired 1 ns early");
	publish_tai_with(utc(a) + NS, l2);
	cr_assert_eq(alarm_timer_poll(timer), 1);
	cr_assert_eq(take(), 0);

	/* reached by the old table, then the announcement */
	publish_tai(utc(a) + 2 * NS);
	cr_assert_eq(alarm_timer_poll(timer), 0);
	cr_assert_eq(set_alarm(0, (uint64_t)a, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(take(), 0, "set when reached: an event");
	publish_tai(utc(a) + NS / 2);
	cr_assert_eq(alarm_timer_poll(timer), 0);
	publish_tai_with(utc(a) + NS / 2, l2);
	cr_assert_eq(alarm_timer_poll(timer), 0, "no longer reached: no event");
	cr_assert_eq(alarm_timer_armed(timer), 1, "armed again");
	cr_assert_eq(take(), -1);
	publish_tai_with(utc(a) + NS, l2);
	cr_assert_eq(alarm_timer_poll(timer), 1);
	cr_assert_eq(take(), 0, "reached again: a new expiration");
	cr_assert_eq(set_enabled(0, false), VIRTIO_RTC_S_OK);
	publish_tai(utc(a));
	leap_table_free(l2);
}

/* A deleted leap second: the smeared clock's alarm a day after it fires
 * a second earlier than the old table said. */
Test(alarm, a_deleted_leap_second_brings_alarms_forward)
{
	struct leap_table *l2 = announce(-1);
	int64_t a = (LEAP_N + 86400) * NS;

	publish_tai(utc(a) - 10 * NS);
	cr_assert_eq(set_alarm(3, (uint64_t)a, true), VIRTIO_RTC_S_OK);
	publish_tai_with(utc(a) - NS - 1, l2);
	cr_assert_eq(alarm_timer_poll(timer), 0, "fired 1 ns early");
	publish_tai_with(utc(a) - NS, l2);
	cr_assert_eq(alarm_timer_poll(timer), 1, "a second early is on time");
	cr_assert_eq(take(), 3);
	cr_assert_eq(set_enabled(3, false), VIRTIO_RTC_S_OK);
	publish_tai(utc(a));
	leap_table_free(l2);
}

Test(alarm, alarm_clock_config)
{
	struct rtcdev_config c;
	char err[160];

	cr_assert_eq(parse_msg(&c, "utc,tai,monotonic,utc-sls,utc",
			       VIRTIO_RTC_SMEAR_NOON_LINEAR, err, sizeof(err)),
		     0);
	cr_assert(c.alarm);
	cr_assert(c.clocks[0].alarm_cap && c.clocks[3].alarm_cap &&
		  c.clocks[4].alarm_cap);
	cr_assert_not(c.clocks[1].alarm_cap || c.clocks[2].alarm_cap);
	cr_assert_eq(alarms_msg(&c, "1, utc-smeared", err, sizeof(err)), 0);
	cr_assert(c.clocks[1].alarm_cap && c.clocks[3].alarm_cap);
	cr_assert_not(c.clocks[0].alarm_cap || c.clocks[4].alarm_cap);
	cr_assert_eq(alarms_msg(&c, "none", err, 160), 0);
	cr_assert_not(c.clocks[1].alarm_cap || c.clocks[3].alarm_cap);
	cr_assert_eq(alarms_msg(&c, "2", err, 160), -EINVAL,
		     "monotonic has no alarm");
	cr_assert_eq(alarms_msg(&c, "5", err, 160), -EINVAL);
	cr_assert_eq(alarms_msg(&c, "bogus", err, 160), -EINVAL);
	cr_assert_eq(alarms_msg(&c, "utc,", err, 160), -EINVAL);
	cr_assert(strstr(err, "alarm clock"), "%s", err);
}
