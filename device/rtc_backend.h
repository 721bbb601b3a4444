/* SPDX-License-Identifier: MIT */
/*
 * The virtio-rtc device behind the vhost-user transport: the glue
 * between the requestq (device/virtq.h) and the request handler
 * (device/virtio_rtc.h). The backend object is a struct vrtc_dev.
 *
 * Thread/loop: the daemon's main loop only.
 */
#ifndef DEVICE_RTC_BACKEND_H
#define DEVICE_RTC_BACKEND_H

#include "vhost_user.h"
#include "virtio_rtc.h"
#include "virtq.h"

/* Ops for vu_conn_new(); the backend pointer is a struct vrtc_dev *. */
extern const struct vu_backend_ops rtc_backend_ops;

/*
 * rtc_backend_process_requestq() - answer at most @budget requests of
 * the requestq @vq: each chain's first VIRTIO_RTC_REQ_MAX readable bytes
 * go to vrtc_handle(), its answer is written to the writable buffers and
 * returned as used with exactly the length vrtc_handle() gave. The guest
 * is notified once for the batch. No allocation.
 * Returns the chains answered, or -EIO if the ring turned hostile (the
 * queue is then broken; chains answered before stay answered).
 */
int rtc_backend_process_requestq(struct vrtc_dev *d, struct virtq *vq,
				 unsigned int budget);

#endif /* DEVICE_RTC_BACKEND_H */
