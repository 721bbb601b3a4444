/* SPDX-License-Identifier: MIT */
/*
 * Private to virtio_rtc.c and virtio_rtc_alarm.c: the device state and
 * the alarm request handlers.
 */
#ifndef DEVICE_VIRTIO_RTC_PRIV_H
#define DEVICE_VIRTIO_RTC_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "alarm_timer.h"
#include "virtio_rtc.h"

/* The alarm of one alarm-capable clock. */
struct rtcdev_alarm {
	struct alarm_entry entry; /* armed while enabled and not reached */
	struct rtcdev_dev *dev;
	uint64_t time_ns; /* alarm_time, in the clock's own timescale */
	uint16_t clock_id;
	bool enabled;
	bool pending; /* an expiration event waits for an alarmq buffer */
	bool queued;  /* clock_id is in the pending FIFO */
};

struct rtcdev_dev {
	const struct rtcdev_config *cfg;
	const struct clock_model *model;
	uint64_t features;
	/*
	 * Highest MONOTONIC reading served, per clock. Kept across device
	 * resets on purpose: the guest never sees MONOTONIC go back.
	 */
	int64_t mono_floor_ns[RTCDEV_MAX_CLOCKS];
	struct rtcdev_stats stats;

	/* Alarms: NULL/0 until rtcdev_dev_attach_alarms(). */
	struct alarm_timer *timer;
	void (*pending_cb)(void *opaque);
	void *pending_opaque;
	struct rtcdev_alarm *alarms; /* cfg->num_clocks, by clock id */
	unsigned int num_alarms;     /* alarm-capable clocks */
	uint16_t *fifo;		     /* pending clock ids, oldest first */
	unsigned int fifo_head, fifo_len;
	uint64_t alarm_events;
	/* Bumped by every change of the alarms' state (crash recovery
	 * saves the state again when it moved). */
	uint64_t state_seq;
};

/* True if clock @id answers alarm requests now. */
bool rtcdev_alarm_usable(const struct rtcdev_dev *d, unsigned int id);

/*
 * The alarm requests, after rtcdev_check() (clock usable, flags valid).
 * @out receives the OK response body. Return a VIRTIO_RTC_S_* status.
 */
uint8_t rtcdev_alarm_read(struct rtcdev_dev *d, unsigned int id, uint8_t *out);
uint8_t rtcdev_alarm_set(struct rtcdev_dev *d, unsigned int id,
			 uint64_t time_ns, bool enabled);
uint8_t rtcdev_alarm_set_enabled(struct rtcdev_dev *d, unsigned int id,
				 bool enabled);

/* Device reset: drop pending notifications, re-raise reached alarms. */
void rtcdev_alarm_reset(struct rtcdev_dev *d);

struct ho_writer;
struct ho_reader;
struct ho_item;

/* Live upgrade: every alarm as HO_ALARM records, pending ones first in
 * notification order; one record back (after the features). */
void rtcdev_alarm_save(const struct rtcdev_dev *d, struct ho_writer *w);
int rtcdev_alarm_load(struct rtcdev_dev *d, struct ho_reader *r,
		      const struct ho_item *it);

/* Cancel everything and free the alarm state. */
void rtcdev_alarm_detach(struct rtcdev_dev *d);

#endif /* DEVICE_VIRTIO_RTC_PRIV_H */
