/* SPDX-License-Identifier: MIT */
/*
 * Shared by the integration suites that drive alarms or follow the
 * daemon's log (test_*.c only: uses Criterion): a VM with F_ALARM and
 * alarmq buffers posted, waiting for one notification, and reading the
 * daemon's log from a point on.
 */
#ifndef ITEST_ALARM_H
#define ITEST_ALARM_H

#include <stdbool.h>

#include "itest.h"

#define ITEST_F_ALARM (1ull << VIRTIO_RTC_F_ALARM)

/* The whole log is read at once; a test's log stays far below this. */
static char itest_logbuf[1 << 20];

/* The daemon's log from byte @from on. */
static inline const char *itest_log_from(struct vdaemon *d, size_t from)
{
	size_t n = vdaemon_read_log(d, itest_logbuf, sizeof(itest_logbuf));

	cr_assert_lt(n, sizeof(itest_logbuf) - 1, "log too long to follow");
	return from <= n ? itest_logbuf + from : itest_logbuf + n;
}

static inline size_t itest_log_len(struct vdaemon *d)
{
	return vdaemon_read_log(d, itest_logbuf, sizeof(itest_logbuf));
}

/* Wait up to @ms for @needle in the log after @from; false if not. */
static inline bool itest_wait_log(struct vdaemon *d, size_t from,
				  const char *needle, int ms)
{
	int64_t end = time_ns_now(CLOCK_MONOTONIC) + (int64_t)ms * 1000000;

	while (!strstr(itest_log_from(d, from), needle)) {
		if (time_ns_now(CLOCK_MONOTONIC) > end) {
			return false;
		}
		itest_alive(d);
		itest_sleep_ms(50);
	}
	return true;
}

/* Make @n 16-byte alarmq buffers available and kick, as a guest would. */
static inline void itest_post_alarm_buffers(struct vuf *v, unsigned int n)
{
	static uint64_t cookie = 1000;

	if (n == 0) {
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		cr_assert_eq(vuf_submit(v, VIRTIO_RTC_ALARMQ, NULL, 0, 16, NULL,
					++cookie),
			     0, "%s", vuf_error(v));
	}
	cr_assert_geq(vuf_kick(v, VIRTIO_RTC_ALARMQ), 0);
}

/* A VM on the daemon's socket @sock with F_ALARM, @nbufs buffers posted. */
static inline struct vuf *itest_alarm_vm(struct vdaemon *d, unsigned int sock,
					 unsigned int nbufs)
{
	struct vuf_opts o;
	struct vuf *v;

	vuf_opts_init(&o);
	o.device_features = ITEST_F_ALARM;
	o.started_queues = 2;
	v = itest_vm(vdaemon_socket(d, sock), &o);
	cr_assert(vuf_features_acked(v) & ITEST_F_ALARM,
		  "F_ALARM not negotiated");
	itest_post_alarm_buffers(v, nbufs);
	return v;
}

/* READ_ALARM of @clock: its status; on OK *@t and *@flags, checked to the
 * byte. */
static inline uint8_t itest_read_alarm(struct vuf *v, uint16_t clock,
				       uint64_t *t, uint8_t *flags)
{
	struct virtio_rtc_req_read_alarm q = { 0 };
	struct virtio_rtc_resp_read_alarm a;
	struct vuf_rtc_reply r;

	q.head.msg_type = htole16(VIRTIO_RTC_REQ_READ_ALARM);
	q.clock_id = htole16(clock);
	cr_assert_eq(vuf_rtc_call(v, &q, sizeof(q), 24, NULL, &r), 0, "%s",
		     vuf_error(v));
	if (r.status == VIRTIO_RTC_S_OK) {
		cr_assert_eq(r.used_len, 24);
		memcpy(&a, r.resp, sizeof(a));
		*t = le64toh(a.alarm_time);
		*flags = a.flags;
		cr_assert_eq(a.reserved[0] | a.reserved[6], 0);
	}
	return r.status;
}

/*
 * Wait up to @ms for one alarm notification, checked to the byte; its
 * clock id, or -1. @give_back posts the buffer again, as the Linux
 * driver does.
 */
static inline int itest_wait_notif(struct vuf *v, int ms, bool give_back)
{
	struct vuf_completion c;
	struct virtio_rtc_notif_alarm n;

	if (vuf_wait(v, VIRTIO_RTC_ALARMQ, &c, ms)) {
		return -1;
	}
	cr_assert_eq(c.len, 16, "used len %u", c.len);
	memcpy(&n, c.resp, sizeof(n));
	cr_assert_eq(le16toh(n.head.msg_type), VIRTIO_RTC_NOTIF_ALARM);
	cr_assert_eq(n.reserved[0] | n.reserved[5], 0);
	if (give_back) {
		itest_post_alarm_buffers(v, 1);
	}
	return le16toh(n.clock_id);
}

#endif
