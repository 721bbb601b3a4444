// SPDX-License-Identifier: MIT
/*
 * Alarms end to end over the real socket: VIRTIO_RTC_F_ALARM, the alarm
 * requests, and notifications on the alarmq (queue 1) for every kind of
 * expiration event the spec lists that a test can cause from outside:
 * reaching the time, SET_ALARM with a time already reached, enabling when
 * reached, and device reset with a retained reached alarm.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <string.h>

#include "itest_alarm.h"

#define F_ALARM ITEST_F_ALARM
#define CLK_UTC 0
#define CLK_TAI 1
#define CLK_SMEARED 3
#define NS_PER_MS 1000000ull

static uint8_t set_alarm(struct vuf *v, uint16_t clock, uint64_t t,
			 bool enabled)
{
	struct virtio_rtc_req_set_alarm q = { 0 };
	struct vuf_rtc_reply r;

	q.head.msg_type = htole16(VIRTIO_RTC_REQ_SET_ALARM);
	q.alarm_time = htole64(t);
	q.clock_id = htole16(clock);
	q.flags = enabled ? VIRTIO_RTC_FLAG_ALARM_ENABLED : 0;
	cr_assert_eq(vuf_rtc_call(v, &q, sizeof(q), 8, NULL, &r), 0, "%s",
		     vuf_error(v));
	cr_assert_eq(r.used_len, 8);
	return r.status;
}

static uint8_t set_enabled(struct vuf *v, uint16_t clock, bool enabled)
{
	struct virtio_rtc_req_set_alarm_enabled q = { 0 };
	struct vuf_rtc_reply r;

	q.head.msg_type = htole16(VIRTIO_RTC_REQ_SET_ALARM_ENABLED);
	q.clock_id = htole16(clock);
	q.flags = enabled ? VIRTIO_RTC_FLAG_ALARM_ENABLED : 0;
	cr_assert_eq(vuf_rtc_call(v, &q, sizeof(q), 8, NULL, &r), 0, "%s",
		     vuf_error(v));
	cr_assert_eq(r.used_len, 8);
	return r.status;
}

static void expect_none(struct vuf *v, int ms)
{
	int id = itest_wait_notif(v, ms, false);

	cr_assert_eq(id, -1, "unexpected notification for clock %d", id);
}

ITEST(alarms, caps_follow_feature_and_config)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf_opts old;
	struct vuf *v = itest_alarm_vm(d, 0, 0), *o;
	struct virtio_rtc_resp_clock_cap cap;
	uint64_t t;
	uint8_t fl, want[] = { 1, 0, 0, 1 };
	uint16_t i;

	for (i = 0; i < 4; i++) {
		cr_assert_eq(vuf_rtc_clock_cap(v, i, &cap, NULL), 0, "%s",
			     vuf_error(v));
		cr_assert_eq(cap.flags, want[i] ? VIRTIO_RTC_FLAG_ALARM_CAP : 0,
			     "clock %u flags 0x%x", i, cap.flags);
	}
	/* A clock without an alarm: ENODEV for all three. */
	cr_assert_eq(itest_read_alarm(v, CLK_TAI, &t, &fl),
		     VIRTIO_RTC_S_ENODEV);
	cr_assert_eq(set_alarm(v, CLK_TAI, 1, true), VIRTIO_RTC_S_ENODEV);
	cr_assert_eq(set_enabled(v, 2, true), VIRTIO_RTC_S_ENODEV);
	/* An old guest (no F_ALARM, queue 1 never set up) keeps working. */
	vuf_opts_init(&old);
	o = itest_vm(vdaemon_socket(d, 0), &old);
	cr_assert(!(vuf_features_acked(o) & F_ALARM));
	cr_assert_eq(vuf_rtc_clock_cap(o, CLK_SMEARED, &cap, NULL), 0);
	cr_assert_eq(cap.flags, 0);
	cr_assert_eq(itest_read_alarm(o, CLK_SMEARED, &t, &fl),
		     VIRTIO_RTC_S_ENODEV);
	cr_assert_eq(set_alarm(o, CLK_UTC, 1, true), VIRTIO_RTC_S_ENODEV);
	itest_read(o, CLK_SMEARED);
	vuf_free(o);
	vuf_free(v);
	itest_stop(d);
}

ITEST(alarms, options_withdraw_feature_and_pick_clocks)
{
	struct vdaemon *d = itest_startl("--no-alarm");
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	struct virtio_rtc_resp_clock_cap cap;

	cr_assert(!(vuf_features_offered(v) & F_ALARM));
	vuf_free(v);
	itest_stop(d);

	d = itest_startl("--alarm-clocks", "tai");
	v = itest_alarm_vm(d, 0, 0);
	cr_assert_eq(vuf_rtc_clock_cap(v, CLK_TAI, &cap, NULL), 0);
	cr_assert_eq(cap.flags, VIRTIO_RTC_FLAG_ALARM_CAP);
	cr_assert_eq(vuf_rtc_clock_cap(v, CLK_SMEARED, &cap, NULL), 0);
	cr_assert_eq(cap.flags, 0);
	vuf_free(v);
	itest_stop(d);
}

ITEST(alarms, requests_keep_time_and_accept_any_value)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_alarm_vm(d, 0, 0);
	uint64_t t = 0;
	uint8_t fl = 0xff;

	cr_assert_eq(itest_read_alarm(v, CLK_SMEARED, &t, &fl),
		     VIRTIO_RTC_S_OK);
	cr_assert_eq(t, 0, "initial alarm time");
	cr_assert_eq(fl, 0, "initially disabled");
	cr_assert_eq(set_alarm(v, CLK_SMEARED, UINT64_MAX, true),
		     VIRTIO_RTC_S_OK);
	cr_assert_eq(itest_read_alarm(v, CLK_SMEARED, &t, &fl),
		     VIRTIO_RTC_S_OK);
	cr_assert_eq(t, UINT64_MAX);
	cr_assert_eq(fl, VIRTIO_RTC_FLAG_ALARM_ENABLED);
	cr_assert_eq(set_enabled(v, CLK_SMEARED, false), VIRTIO_RTC_S_OK);
	cr_assert_eq(itest_read_alarm(v, CLK_SMEARED, &t, &fl),
		     VIRTIO_RTC_S_OK);
	cr_assert_eq(t, UINT64_MAX, "SET_ALARM_ENABLED keeps the time");
	cr_assert_eq(fl, 0);
	itest_post_alarm_buffers(v, 1);
	expect_none(v, 200);
	vuf_free(v);
	itest_stop(d);
}

ITEST(alarms, fires_when_the_served_clock_reaches_it)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_alarm_vm(d, 0, 0);
	uint16_t clocks[] = { CLK_SMEARED, CLK_UTC };
	unsigned int i;

	itest_post_alarm_buffers(v, 2);
	for (i = 0; i < 2; i++) {
		uint64_t a = itest_read(v, clocks[i]) + 300 * NS_PER_MS;

		cr_assert_eq(set_alarm(v, clocks[i], a, true), VIRTIO_RTC_S_OK);
		expect_none(v, 150);
		cr_assert_eq(itest_wait_notif(v, 3000, false), clocks[i]);
		/* Never early: every read after it is at least A. */
		cr_assert_geq(itest_read(v, clocks[i]), a);
		cr_assert_lt(itest_read(v, clocks[i]), a + 200 * NS_PER_MS,
			     "fired late");
	}
	expect_none(v, 200);
	vuf_free(v);
	itest_stop(d);
}

ITEST(alarms, reached_time_fires_at_once_and_enabling_fires)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_alarm_vm(d, 0, 0);
	uint64_t past = itest_read(v, CLK_SMEARED) - 1000 * NS_PER_MS;

	itest_post_alarm_buffers(v, 4);
	/* SET_ALARM with a reached time and the flag: an event. */
	cr_assert_eq(set_alarm(v, CLK_SMEARED, past, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(itest_wait_notif(v, 500, false), CLK_SMEARED);
	expect_none(v, 100);
	/* Re-enabling an enabled alarm is no new event. */
	cr_assert_eq(set_enabled(v, CLK_SMEARED, true), VIRTIO_RTC_S_OK);
	expect_none(v, 100);
	/* Reached but disabled: nothing; enabling: an event. */
	cr_assert_eq(set_alarm(v, CLK_UTC, 0, false), VIRTIO_RTC_S_OK);
	expect_none(v, 100);
	cr_assert_eq(set_enabled(v, CLK_UTC, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(itest_wait_notif(v, 500, false), CLK_UTC);
	expect_none(v, 100);
	vuf_free(v);
	itest_stop(d);
}

ITEST(alarms, events_wait_for_buffers_without_duplicates)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_alarm_vm(d, 0, 0);

	/* Two events on one clock, one on another, no buffers yet. */
	cr_assert_eq(set_alarm(v, CLK_SMEARED, 1, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(set_alarm(v, CLK_UTC, 1, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(set_alarm(v, CLK_SMEARED, 2, true), VIRTIO_RTC_S_OK);
	itest_sleep_ms(100);
	itest_post_alarm_buffers(v, 1);
	/* A newer event takes the place of the pending one it obsoletes. */
	cr_assert_eq(itest_wait_notif(v, 500, false), CLK_SMEARED,
		     "oldest slot first");
	expect_none(v, 100);
	itest_post_alarm_buffers(v, 3);
	cr_assert_eq(itest_wait_notif(v, 500, false), CLK_UTC);
	/* The older CLK_SMEARED event was obsolete: one notification. */
	expect_none(v, 200);
	vuf_free(v);
	itest_stop(d);
}

ITEST(alarms, disable_cancels_pending_notifications)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_alarm_vm(d, 0, 0);

	cr_assert_eq(set_alarm(v, CLK_SMEARED, 1, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(set_enabled(v, CLK_SMEARED, false), VIRTIO_RTC_S_OK);
	cr_assert_eq(set_alarm(v, CLK_UTC, 1, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(set_alarm(v, CLK_UTC, 1, false), VIRTIO_RTC_S_OK);
	itest_post_alarm_buffers(v, 2);
	expect_none(v, 300);
	/* Positive control: the same sequence without the disable. */
	cr_assert_eq(set_alarm(v, CLK_UTC, 1, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(itest_wait_notif(v, 500, false), CLK_UTC);
	vuf_free(v);
	itest_stop(d);
}

ITEST(alarms, retained_across_reset)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_alarm_vm(d, 0, 0);
	uint64_t t, fut = itest_read(v, CLK_UTC) + 700 * NS_PER_MS;
	uint8_t fl;

	itest_post_alarm_buffers(v, 1);
	cr_assert_eq(set_alarm(v, CLK_SMEARED, 5, true), VIRTIO_RTC_S_OK);
	cr_assert_eq(itest_wait_notif(v, 500, false), CLK_SMEARED);
	cr_assert_eq(set_alarm(v, CLK_UTC, fut, true), VIRTIO_RTC_S_OK);
	/* Guest reset: rings stop, the guest starts afresh (no CFG,
	 * no SET_ALARM: Linux restore) and posts its buffers. */
	cr_assert_eq(vuf_reset(v, NULL), 0, "%s", vuf_error(v));
	cr_assert_eq(vuf_driver_ok(v), 0, "%s", vuf_error(v));
	itest_post_alarm_buffers(v, 2);
	/* The reached enabled alarm expires again at reset. */
	cr_assert_eq(itest_wait_notif(v, 500, false), CLK_SMEARED);
	cr_assert_eq(itest_read_alarm(v, CLK_SMEARED, &t, &fl),
		     VIRTIO_RTC_S_OK);
	cr_assert_eq(t, 5);
	cr_assert_eq(fl, VIRTIO_RTC_FLAG_ALARM_ENABLED);
	/* The armed one still fires at its time. */
	cr_assert_eq(itest_wait_notif(v, 3000, false), CLK_UTC);
	cr_assert_geq(itest_read(v, CLK_UTC), fut);
	expect_none(v, 200);
	vuf_free(v);
	itest_stop(d);
}

ITEST(alarms, many_vms_at_once)
{
	struct vdaemon_opts o;
	struct vdaemon *d;
	struct vuf *v[VDAEMON_MAX_SOCKETS];
	unsigned int i, got;
	uint64_t a;

	vdaemon_opts_init(&o);
	o.nsockets = VDAEMON_MAX_SOCKETS;
	d = itest_start(&o);
	for (i = 0; i < VDAEMON_MAX_SOCKETS; i++) {
		v[i] = itest_alarm_vm(d, i, 0);
		itest_post_alarm_buffers(v[i], 2);
	}
	for (i = 0; i < VDAEMON_MAX_SOCKETS; i++) {
		a = itest_read(v[i], CLK_SMEARED) + (200 + 20 * i) * NS_PER_MS;
		cr_assert_eq(set_alarm(v[i], CLK_SMEARED, a, true),
			     VIRTIO_RTC_S_OK);
		a = itest_read(v[i], CLK_UTC) + (400 - 20 * i) * NS_PER_MS;
		cr_assert_eq(set_alarm(v[i], CLK_UTC, a, true),
			     VIRTIO_RTC_S_OK);
	}
	for (i = 0; i < VDAEMON_MAX_SOCKETS; i++) {
		int a1 = itest_wait_notif(v[i], 3000, false),
		    a2 = itest_wait_notif(v[i], 3000, false);

		cr_assert(a1 >= 0 && a2 >= 0, "VM %u: notifications %d %d", i,
			  a1, a2);
		got = (1u << a1) | (1u << a2);
		cr_assert_eq(got, (1u << CLK_UTC) | (1u << CLK_SMEARED),
			     "VM %u got 0x%x", i, got);
		expect_none(v[i], 50);
		vuf_free(v[i]);
	}
	itest_stop(d);
}
