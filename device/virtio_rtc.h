/* SPDX-License-Identifier: MIT */
/*
 * virtio-rtc request handling (VIRTIO 1.4 section 5.23), independent of
 * the transport: bytes in, bytes out. Decoding follows the spec's status
 * precedence; OK responses have their exact size with reserved bytes
 * zeroed, errors are an 8-byte header.
 *
 * Thread/loop: the daemon's main loop only.
 */
#ifndef DEVICE_VIRTIO_RTC_H
#define DEVICE_VIRTIO_RTC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock_model.h"
#include "virtio_rtc_wire.h"

/* Enough for hundreds of alarm clocks per VM (the alarm benchmark). */
#define RTCDEV_MAX_CLOCKS 512

/* One served clock: what CLOCK_CAP says and how it is computed. */
struct rtcdev_clock {
	uint8_t type;	  /* VIRTIO_RTC_CLOCK_* */
	uint8_t smearing; /* VIRTIO_RTC_SMEAR_* (0 unless UTC_SMEARED) */
	bool alarm_cap;	  /* has an alarm (when F_ALARM is negotiated) */
	enum timescale ts;
};

/* The clock set; fixed for the life of the process (so CFG/CAP answers
 * are identical across resets and connections). */
struct rtcdev_config {
	unsigned int num_clocks; /* 1 .. RTCDEV_MAX_CLOCKS */
	bool alarm;		 /* offer VIRTIO_RTC_F_ALARM */
	struct rtcdev_clock clocks[RTCDEV_MAX_CLOCKS];
};

#define RTCDEV_BUSY_BUCKETS 128
#define RTCDEV_BUSY_BUCKET_NS 250

/* Request counters, per device. */
struct rtcdev_stats {
	uint64_t requests;
	uint64_t errors; /* non-OK responses */
	uint64_t by_status[8];
	/* CROSS_CAP answered OK, by hw_counter: [0] ARM_VCT, [1] X86_TSC
	 * (the flag is clear for both today: no guest counter mapping). */
	uint64_t cross_cap[2];
	uint64_t busy_ns; /* time spent serving the rings (transport-timed) */
	/* Requests by their share of a batch's time, RTCDEV_BUSY_BUCKET_NS
	 * wide; the last bucket takes everything above. */
	uint64_t busy_hist[RTCDEV_BUSY_BUCKETS];
};

struct rtcdev_dev;

/* Per-connection device state; @cfg and @model must outlive it. */
struct rtcdev_dev *rtcdev_dev_new(const struct rtcdev_config *cfg,
				  const struct clock_model *model);

/* NULL is a no-op. */
void rtcdev_dev_free(struct rtcdev_dev *d);

/*
 * Device reset (all rings stopped): per-reset state back to initial.
 * Alarm times and enabled states are retained (the Linux driver expects
 * it across suspend); pending notifications are dropped, and every
 * enabled alarm already reached makes a new expiration event.
 */
void rtcdev_dev_reset(struct rtcdev_dev *d);

/* Negotiated device features (bit VIRTIO_RTC_F_ALARM). */
void rtcdev_dev_set_features(struct rtcdev_dev *d, uint64_t features);

struct alarm_timer;

/*
 * rtcdev_dev_attach_alarms() - give the device its alarms: entries in the
 * process's timer @t (room for one per alarm clock is reserved now, so
 * requests never allocate), and @pending, called whenever a notification
 * becomes ready to send (the transport then runs the alarmq). Without
 * it, every clock answers alarm requests with ENODEV.
 * Returns 0 or -ENOMEM.
 */
int rtcdev_dev_attach_alarms(struct rtcdev_dev *d, struct alarm_timer *t,
			     void (*pending)(void *opaque), void *opaque);

struct ho_writer;
struct ho_reader;
struct ho_item;

/*
 * Live upgrade: the device's own state, as hand-over records (its
 * MONOTONIC floors, counters and alarms). rtcdev_dev_load() takes one
 * record after the connection's features were replayed: 1 if it was the
 * device's, 0 if not, -EBADMSG (reason in the reader).
 */
void rtcdev_dev_save(const struct rtcdev_dev *d, struct ho_writer *w);
int rtcdev_dev_load(struct rtcdev_dev *d, struct ho_reader *r,
		    const struct ho_item *it);

/* A number that changes whenever the state rtcdev_dev_save() writes may
 * have changed (alarms set, reached, notified, reset). */
uint64_t rtcdev_dev_state_seq(const struct rtcdev_dev *d);

/* True if an alarm notification waits for an alarmq buffer. */
bool rtcdev_dev_alarm_pending(const struct rtcdev_dev *d);

/*
 * rtcdev_dev_alarm_take() - the oldest waiting alarm notification, as the
 * 16-byte VIRTIO_RTC_NOTIF_ALARM in @out; it is then no longer pending.
 * Returns false (nothing written) if none waits.
 */
bool rtcdev_dev_alarm_take(struct rtcdev_dev *d,
			   uint8_t out[sizeof(struct virtio_rtc_notif_alarm)]);

/* Notifications sent and expiration events so far (tests, stats). */
uint64_t rtcdev_dev_alarm_events(const struct rtcdev_dev *d);

/*
 * rtcdev_handle() - execute one request.
 * @req:      the first min(@req_len, VIRTIO_RTC_REQ_MAX) bytes of the
 *            device-readable part of the chain
 * @req_len:  total device-readable bytes in the chain
 * @resp:     buffer of VIRTIO_RTC_RESP_MAX bytes for the response
 * @resp_cap: total device-writable bytes in the chain
 * Returns the number of response bytes to write and report as used
 * length: the exact response size, 8 for an error, or 0 when not even
 * the status byte fits (nothing is written then).
 */
size_t rtcdev_handle(struct rtcdev_dev *d, const void *req, size_t req_len,
		     void *resp, size_t resp_cap);

const struct rtcdev_stats *rtcdev_dev_stats(const struct rtcdev_dev *d);

/*
 * rtcdev_dev_add_busy() - account @ns of ring-serving time (pop to notify)
 * spent on a batch of @nreq requests.
 */
void rtcdev_dev_add_busy(struct rtcdev_dev *d, uint64_t ns, unsigned int nreq);

/*
 * rtcdev_stats_busy_quantile() - device time per request at quantile @q
 * (0..1), in ns, to RTCDEV_BUSY_BUCKET_NS resolution (the bucket's upper
 * edge; UINT64_MAX if it lies beyond the last bucket). 0 if no requests.
 */
uint64_t rtcdev_stats_busy_quantile(const struct rtcdev_stats *st, double q);

/*
 * rtcdev_stats_busy_text() - the quantile @q for a log line, in @buf:
 * "<= 18.50 us", or "> 31.75 us" when it lies beyond the histogram
 * (never "inf"). Returns @buf.
 */
const char *rtcdev_stats_busy_text(const struct rtcdev_stats *st, double q,
				   char *buf, size_t len);

#endif /* DEVICE_VIRTIO_RTC_H */
