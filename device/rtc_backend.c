/* SPDX-License-Identifier: MIT */
/*
 * virtio-rtc on the vhost-user transport: requestq and alarmq processing.
 *
 * Requests are answered synchronously and in avail order, which keeps
 * reads of one clock ordered (the spec's per-clock ordering) and leaves
 * nothing in flight when a ring stops.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rtc_backend.h"
#include "rtc_migrate.h"

static size_t clamp_size(uint64_t v)
{
	return v > SIZE_MAX ? SIZE_MAX : (size_t)v;
}

int rtc_backend_process_requestq(struct rtcdev_dev *d, struct virtq *vq,
				 unsigned int budget)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];
	struct virtq_elem e;
	struct timespec t0, t1;
	unsigned int n;
	size_t req_len, len;
	int rc = 0;

	/* Service time, for "how much of the guest's read is ours". */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (n = 0; n < budget; n++) {
		rc = virtq_pop(vq, &e);
		if (rc <= 0) {
			break;
		}
		rc = 0;
		req_len = clamp_size(e.out_len);
		(void)iov_to_buf(e.out, e.out_num, req,
				 req_len < sizeof(req) ? req_len : sizeof(req));
		len = rtcdev_handle(d, req, req_len, resp,
				    clamp_size(e.in_len));
		/* rtcdev_handle() never exceeds either; trust but verify. */
		if (len > sizeof(resp)) {
			len = sizeof(resp);
		}
		if (len > e.in_len) {
			len = (size_t)e.in_len;
		}
		if (len) {
			(void)virtq_elem_write(vq, &e, resp, len);
		}
		virtq_push(vq, &e, (uint32_t)len);
	}
	if (n) {
		/* Up to the signal: the eventfd write that follows wakes
		 * the VMM, which on a busy host may preempt us there. */
		clock_gettime(CLOCK_MONOTONIC, &t1);
		rtcdev_dev_add_busy(
			d,
			(uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
				   (t1.tv_nsec - t0.tv_nsec)),
			n);
		virtq_notify(vq);
	}
	return rc < 0 ? rc : (int)n;
}

static void rtc_set_features(void *b, uint64_t features)
{
	rtcdev_dev_set_features(b, features);
}

static void rtc_reset(void *b)
{
	rtcdev_dev_reset(b);
}

int rtc_backend_process_alarmq(struct rtcdev_dev *d, struct virtq *vq,
			       unsigned int budget)
{
	uint8_t notif[sizeof(struct virtio_rtc_notif_alarm)];
	struct virtq_elem e;
	unsigned int n = 0;
	size_t len;
	int rc;

	while (n < budget && rtcdev_dev_alarm_pending(d)) {
		rc = virtq_pop(vq, &e);
		if (rc < 0) {
			break;
		}
		if (rc == 0) {
			/* Events wait: ask for a kick with the next buffer. */
			if (virtq_enable_notification(vq)) {
				continue;
			}
			break;
		}
		(void)rtcdev_dev_alarm_take(d, notif);
		/* A buffer too small for it gets what fits (Linux posts 16
		 * bytes and drops anything shorter). */
		len = e.in_len < sizeof(notif) ? (size_t)e.in_len
					       : sizeof(notif);
		(void)virtq_elem_write(vq, &e, notif, len);
		virtq_push(vq, &e, (uint32_t)len);
		n++;
	}
	if (n) {
		virtq_notify(vq);
	}
	return vq->broken ? -EIO : (int)n;
}

static int rtc_save_state(void *b, GByteArray **out)
{
	return rtc_migrate_save(b, out);
}

static int rtc_load_state(void *b, const void *data, size_t len, char *why,
			  size_t why_len)
{
	return rtc_migrate_load(b, data, len, why, why_len);
}

static int rtc_process(void *b, unsigned int idx, struct virtq *vq,
		       unsigned int budget)
{
	if (idx == VIRTIO_RTC_ALARMQ) {
		return rtc_backend_process_alarmq(b, vq, budget);
	}
	return rtc_backend_process_requestq(b, vq, budget);
}

const struct vu_backend_ops rtc_backend_ops = {
	.features = 0,
	.request_queues = 1u << VIRTIO_RTC_REQUESTQ,
	.set_features = rtc_set_features,
	.reset = rtc_reset,
	.process = rtc_process,
	.save_state = rtc_save_state,
	.load_state = rtc_load_state,
};

const struct vu_backend_ops rtc_backend_alarm_ops = {
	.features = 1ull << VIRTIO_RTC_F_ALARM,
	.request_queues = 1u << VIRTIO_RTC_REQUESTQ,
	.set_features = rtc_set_features,
	.reset = rtc_reset,
	.process = rtc_process,
	.save_state = rtc_save_state,
	.load_state = rtc_load_state,
};
