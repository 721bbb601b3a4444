/* SPDX-License-Identifier: MIT */
/*
 * The virtio-rtc device behind the vhost-user transport: the glue
 * between the requestq (device/virtq.h) and the request handler
 * (device/virtio_rtc.h). The backend object is a struct rtcdev_dev.
 *
 * Thread/loop: the daemon's main loop only.
 */
#ifndef DEVICE_RTC_BACKEND_H
#define DEVICE_RTC_BACKEND_H

#include "vhost_user.h"
#include "virtio_rtc.h"
#include "virtq.h"

/*
 * Ops for vu_conn_new(); the backend pointer is a struct rtcdev_dev *.
 * rtc_backend_alarm_ops offers VIRTIO_RTC_F_ALARM (queue 1 is then the
 * alarmq, if negotiated); rtc_backend_ops does not.
 */
extern const struct vu_backend_ops rtc_backend_ops;
extern const struct vu_backend_ops rtc_backend_alarm_ops;

/*
 * rtc_backend_process_requestq() - answer at most @budget requests of
 * the requestq @vq: each chain's first VIRTIO_RTC_REQ_MAX readable bytes
 * go to rtcdev_handle(), its answer is written to the writable buffers and
 * returned as used with exactly the length rtcdev_handle() gave. The guest
 * is notified once for the batch. No allocation.
 * Returns the chains answered, or -EIO if the ring turned hostile (the
 * queue is then broken; chains answered before stay answered).
 */
int rtc_backend_process_requestq(struct rtcdev_dev *d, struct virtq *vq,
				 unsigned int budget);

/*
 * rtc_backend_process_alarmq() - send at most @budget waiting alarm
 * notifications, one per alarmq buffer, oldest first (used length 16).
 * Buffers are popped only for a notification, so none is ever held; when
 * they run out, guest kicks are re-enabled so the next buffer wakes us.
 * Returns the notifications sent, or -EIO if the ring turned hostile.
 */
int rtc_backend_process_alarmq(struct rtcdev_dev *d, struct virtq *vq,
			       unsigned int budget);

#endif /* DEVICE_RTC_BACKEND_H */
