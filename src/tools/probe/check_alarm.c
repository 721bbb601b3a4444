// SPDX-License-Identifier: MIT
/*
 * vhost-user-rtc-probe check: the alarm feature (VIRTIO_RTC_F_ALARM).
 */
#include <endian.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

#define SEC "5.23.6.3 alarms"

static int set_alarm(struct vuf *v, uint16_t id, uint64_t t, uint8_t flags)
{
	struct virtio_rtc_req_set_alarm q;
	struct vuf_rtc_reply r;

	memset(&q, 0, sizeof(q));
	q.head.msg_type = htole16(VIRTIO_RTC_REQ_SET_ALARM);
	q.alarm_time = htole64(t);
	q.clock_id = htole16(id);
	q.flags = flags;
	if (check_call(v, (const uint8_t *)&q, sizeof(q), 8, &r)) {
		return -1;
	}
	return r.used_len == 8 ? r.status : -1;
}

static int read_alarm(struct vuf *v, uint16_t id, uint64_t *t, uint8_t *flags,
		      bool *zero)
{
	uint8_t b[CHECK_REQ_LEN];
	struct vuf_rtc_reply r;

	check_build(b, VIRTIO_RTC_REQ_READ_ALARM, id, 0);
	if (check_call(v, b, 16, 24, &r) || r.used_len < 1) {
		return -1;
	}
	if (r.status == VIRTIO_RTC_S_OK && r.used_len == 24) {
		memcpy(t, r.resp + 8, 8);
		*t = le64toh(*t);
		*flags = r.resp[16];
		*zero = check_zero(r.resp, 1, 8) && check_zero(r.resp, 17, 24);
	}
	return r.status;
}

static int set_enabled(struct vuf *v, uint16_t id, uint8_t flags)
{
	uint8_t b[CHECK_REQ_LEN];
	struct vuf_rtc_reply r;

	check_build(b, VIRTIO_RTC_REQ_SET_ALARM_ENABLED, id, flags);
	if (check_call(v, b, 16, 8, &r) || r.used_len < 1) {
		return -1;
	}
	return r.status;
}

/* The alarm clock's reading now, for a time already reached. */
static uint64_t now_on(struct vuf *v, uint16_t id)
{
	uint64_t ns = 0;

	vuf_rtc_read(v, id, &ns);
	return ns;
}

static void notification(struct vuf *v, uint16_t id)
{
	struct virtio_rtc_notif_alarm n;
	struct vuf_completion c;
	uint64_t t = now_on(v, id) - 1000000000ull, after = 0;
	bool got;

	if (vuf_submit(v, VIRTIO_RTC_ALARMQ, NULL, 0, 16, NULL, 1) ||
	    vuf_kick(v, VIRTIO_RTC_ALARMQ) < 0) {
		check_req(false, SEC,
			  "The device MUST use one NOTIF_ALARM for "
			  "[an alarm event]",
			  "alarmq: %s", vuf_error(v));
		return;
	}
	set_alarm(v, id, t, VIRTIO_RTC_FLAG_ALARM_ENABLED);
	got = !vuf_wait(v, VIRTIO_RTC_ALARMQ, &c, 2000);
	if (got) {
		memcpy(&n, c.resp, sizeof(n));
		after = now_on(v, id);
	}
	check_req(got && c.len == 16 &&
			  le16toh(n.head.msg_type) == VIRTIO_RTC_NOTIF_ALARM &&
			  le16toh(n.clock_id) == id &&
			  check_zero(c.resp, 2, 8) &&
			  check_zero(c.resp, 10, 16),
		  SEC,
		  "The device MUST use one NOTIF_ALARM for [an alarm "
		  "event], as soon as an alarmq buffer is available [reserved "
		  "fields zero]",
		  "SET_ALARM 1 s in the past, clock %u: %s", id,
		  got ? "notified" : "nothing within 2 s");
	check_req(got && after >= t, SEC,
		  "Once an alarm notification for "
		  "clock C with alarm time A has been sent, every later read "
		  "of C MUST be >= A",
		  NULL);
	set_enabled(v, id, 0);
}

void check_alarms(const char *socket, uint16_t num)
{
	struct vuf_opts o;
	struct vuf *v = NULL;
	int alarm_id = -1, no_alarm_id = -1;
	uint64_t t = 0;
	uint8_t fl = 0;
	bool zero = false;
	int st;

	vuf_opts_init(&o);
	o.device_features = 1ull << VIRTIO_RTC_F_ALARM;
	o.started_queues = 2;
	if (vuf_open(&v, socket, &o)) {
		check_req(false, SEC,
			  "[a device offering F_ALARM accepts a "
			  "driver negotiating it and using the alarmq]",
			  "%s", v ? vuf_error(v) : "");
		vuf_free(v);
		return;
	}
	for (uint16_t id = 0; id < num; id++) {
		struct virtio_rtc_resp_clock_cap cap;

		if (vuf_rtc_clock_cap(v, id, &cap, NULL)) {
			continue;
		}
		if (cap.flags & VIRTIO_RTC_FLAG_ALARM_CAP) {
			alarm_id = alarm_id < 0 ? id : alarm_id;
		} else if (no_alarm_id < 0) {
			no_alarm_id = id;
		}
	}
	check_req(alarm_id >= 0, SEC,
		  "The device SHOULD offer F_ALARM [only] "
		  "if it can support an alarm for any of its clocks; "
		  "ALARM_CAP MUST be set iff the clock supports alarm "
		  "messages",
		  "first clock with ALARM_CAP: %d", alarm_id);
	if (no_alarm_id >= 0) {
		check_req(read_alarm(v, (uint16_t)no_alarm_id, &t, &fl,
				     &zero) == VIRTIO_RTC_S_ENODEV,
			  SEC,
			  "[alarm requests for a clock without ALARM_CAP]: "
			  "the device MUST answer ENODEV",
			  "clock %d", no_alarm_id);
	}
	if (alarm_id < 0) {
		vuf_free(v);
		return;
	}
	st = set_alarm(v, (uint16_t)alarm_id, UINT64_MAX - 5, 0);
	check_req(st == VIRTIO_RTC_S_OK, SEC,
		  "SET_ALARM MUST accept any "
		  "alarm_time value",
		  "alarm_time 2^64 - 6: status %d", st);
	st = read_alarm(v, (uint16_t)alarm_id, &t, &fl, &zero);
	check_req(st == VIRTIO_RTC_S_OK && t == UINT64_MAX - 5 && !fl && zero,
		  SEC,
		  "[READ_ALARM returns the alarm time and enabled flag "
		  "set]; reserved fields MUST be zero",
		  "status %d, time %llu, flags %u", st, (unsigned long long)t,
		  fl);
	set_alarm(v, (uint16_t)alarm_id, 4000000000000000000ull, 0);
	set_enabled(v, (uint16_t)alarm_id, VIRTIO_RTC_FLAG_ALARM_ENABLED);
	st = read_alarm(v, (uint16_t)alarm_id, &t, &fl, &zero);
	check_req(st == VIRTIO_RTC_S_OK && t == 4000000000000000000ull &&
			  fl == VIRTIO_RTC_FLAG_ALARM_ENABLED,
		  SEC, "SET_ALARM_ENABLED MUST retain the alarm time",
		  "time %llu, flags %u", (unsigned long long)t, fl);
	set_enabled(v, (uint16_t)alarm_id, 0);
	check_req(set_enabled(v, (uint16_t)alarm_id, 0x80) ==
			  VIRTIO_RTC_S_EINVAL,
		  SEC,
		  "status MUST be EINVAL if the request values are "
		  "inconsistent with the spec [undefined flag bit]",
		  NULL);
	notification(v, (uint16_t)alarm_id);
	vuf_free(v);
}
