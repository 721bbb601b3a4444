/* SPDX-License-Identifier: MIT */
/*
 * virtio-rtc alarms (VIRTIO 1.4 section 5.23.7, Alarm Operation and its
 * device requirements): per-clock alarm state, expiration events, and the FIFO
 * of notifications waiting for alarmq buffers.
 *
 * States of an alarm: disabled; enabled and armed (its TAI deadline is in
 * the process's alarm timer); enabled and reached (fired, not armed, but
 * watched: a model step back before its time arms it again, so the clock
 * reaching the time once more is a new expiration, as the spec says).
 * An expiration event sets `pending`: the clock then owes the guest one
 * VIRTIO_RTC_NOTIF_ALARM. A newer event while one is pending merges into
 * it (the older one is obsolete); SET_ALARM and disabling clear it
 * synchronously, i.e. before the request's response is marked used.
 * Notifications leave in event order, one per alarmq buffer; the alarmq's
 * buffers are popped only when a notification is ready, so no buffer is
 * ever held: nothing to drop or remap when the ring stops or the memory
 * table changes.
 *
 * An event fires only when the model's TAI now has reached the deadline,
 * the earliest TAI instant at which the clock's served value reads the
 * alarm time or more (timescale_to_tai()), so every READ after the
 * notification returns at least the alarm time. That instant depends on
 * the leap table for the UTC and smeared clocks: when the table changes
 * (a leap second announced), every alarm's deadline is taken again from
 * it (alarm_timer.h), so an alarm after the leap moves by its second and
 * one reached by the old table but not by the new is armed again.
 *
 * Retention: alarm time and enabled state survive device reset (the
 * Linux driver relies on it across suspend and never clears them);
 * pending notifications do not, and an enabled alarm already reached
 * raises a new event at reset, as the spec requires.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "handover.h"
#include "virtio_rtc_priv.h"

#define container_of(p, type, m) ((type *)((char *)(p)-offsetof(type, m)))

bool rtcdev_alarm_usable(const struct rtcdev_dev *d, unsigned int id)
{
	return d->alarms && (d->features & (1ull << VIRTIO_RTC_F_ALARM)) &&
	       d->cfg->clocks[id].alarm_cap;
}

/* TAI now, from the same model as READ. */
static int now_tai(const struct rtcdev_dev *d, struct clock_snapshot *snap,
		   int64_t *out)
{
	struct clock_reading r;

	if (clock_model_get(d->model, snap) < 0) {
		return -EAGAIN;
	}
	clock_snapshot_tai(snap, clock_counter_now(snap->counter), &r);
	*out = r.ns;
	return 0;
}

/* The deadline of @a: earliest TAI at which its clock reads time_ns. */
static int deadline(const struct rtcdev_dev *d, const struct clock_snapshot *s,
		    const struct rtcdev_alarm *a, int64_t *key)
{
	return clock_snapshot_deadline_tai(s, d->cfg->clocks[a->clock_id].ts,
					   a->time_ns, key);
}

/*
 * An expiration event for @a, whose deadline @key has been reached: it
 * is watched from now on, to be armed again if the clock steps back
 * before @key (alarm_timer.h).
 */
static void raise_event(struct rtcdev_dev *d, struct rtcdev_alarm *a,
			int64_t key)
{
	alarm_timer_watch(d->timer, &a->entry, key);
	d->alarm_events++;
	d->state_seq++;
	a->pending = true;
	if (!a->queued) {
		unsigned int n = d->cfg->num_clocks;

		/* At most one slot per clock: the FIFO cannot overflow. */
		d->fifo[(d->fifo_head + d->fifo_len) % n] = a->clock_id;
		d->fifo_len++;
		a->queued = true;
	}
	if (d->pending_cb) {
		d->pending_cb(d->pending_opaque);
	}
}

static void obsolete(struct rtcdev_dev *d, struct rtcdev_alarm *a)
{
	/* Its FIFO slot is skipped when reached. */
	a->pending = false;
	d->state_seq++;
	alarm_timer_cancel(d->timer, &a->entry);
}

static void alarm_fire(struct alarm_entry *e)
{
	struct rtcdev_alarm *a = container_of(e, struct rtcdev_alarm, entry);

	raise_event(a->dev, a, e->key_tai_ns);
}

/* The leap table changed: the deadline from the new one. */
static int alarm_rekey(struct alarm_entry *e, const struct clock_snapshot *s,
		       int64_t *key)
{
	struct rtcdev_alarm *a = container_of(e, struct rtcdev_alarm, entry);

	return deadline(a->dev, s, a, key);
}

/* The clock went back before the reached alarm's time: armed again, and
 * an event not yet notified is obsolete (the spec allows dropping it). */
static void alarm_rewound(struct alarm_entry *e)
{
	struct rtcdev_alarm *a = container_of(e, struct rtcdev_alarm, entry);

	a->pending = false;
	a->dev->state_seq++;
}

/*
 * @a was just enabled (or set enabled): an event if its time is
 * reached, else arm it. Returns a status.
 */
static uint8_t start(struct rtcdev_dev *d, struct rtcdev_alarm *a)
{
	struct clock_snapshot snap;
	int64_t now, key;

	if (now_tai(d, &snap, &now) < 0 || deadline(d, &snap, a, &key) < 0) {
		return VIRTIO_RTC_S_EIO;
	}
	if (key <= now) {
		raise_event(d, a, key);
	} else {
		alarm_timer_arm(d->timer, &a->entry, key);
	}
	return VIRTIO_RTC_S_OK;
}

uint8_t rtcdev_alarm_read(struct rtcdev_dev *d, unsigned int id, uint8_t *out)
{
	const struct rtcdev_alarm *a = &d->alarms[id];
	uint64_t t = htole64(a->time_ns);

	memcpy(out + offsetof(struct virtio_rtc_resp_read_alarm, alarm_time),
	       &t, sizeof(t));
	out[offsetof(struct virtio_rtc_resp_read_alarm, flags)] =
		a->enabled ? VIRTIO_RTC_FLAG_ALARM_ENABLED : 0;
	return VIRTIO_RTC_S_OK;
}

uint8_t rtcdev_alarm_set(struct rtcdev_dev *d, unsigned int id,
			 uint64_t time_ns, bool enabled)
{
	struct rtcdev_alarm *a = &d->alarms[id];

	/* A new time makes earlier events obsolete; so does disabling. */
	obsolete(d, a);
	a->time_ns = time_ns;
	a->enabled = enabled;
	d->state_seq++;
	return enabled ? start(d, a) : VIRTIO_RTC_S_OK;
}

uint8_t rtcdev_alarm_set_enabled(struct rtcdev_dev *d, unsigned int id,
				 bool enabled)
{
	struct rtcdev_alarm *a = &d->alarms[id];

	if (!enabled) {
		obsolete(d, a);
		a->enabled = false;
		return VIRTIO_RTC_S_OK;
	}
	/* Enabling an enabled alarm changes nothing: no second event. */
	if (a->enabled) {
		return VIRTIO_RTC_S_OK;
	}
	a->enabled = true;
	d->state_seq++;
	return start(d, a);
}

void rtcdev_alarm_reset(struct rtcdev_dev *d)
{
	unsigned int i;

	if (!d->alarms) {
		return;
	}
	d->fifo_head = 0;
	d->fifo_len = 0;
	d->state_seq++;
	for (i = 0; i < d->cfg->num_clocks; i++) {
		struct rtcdev_alarm *a = &d->alarms[i];

		a->pending = false;
		a->queued = false;
		/* Armed alarms stay armed; reached ones expire again. */
		if (a->enabled && !a->entry.pos) {
			(void)start(d, a);
		}
	}
}

bool rtcdev_dev_alarm_pending(const struct rtcdev_dev *d)
{
	unsigned int i, n = d->cfg->num_clocks;

	/* Without F_ALARM no clock has an alarm to notify about. */
	if (!d->alarms || !(d->features & (1ull << VIRTIO_RTC_F_ALARM))) {
		return false;
	}
	for (i = 0; i < d->fifo_len; i++) {
		if (d->alarms[d->fifo[(d->fifo_head + i) % n]].pending) {
			return true;
		}
	}
	return false;
}

bool rtcdev_dev_alarm_take(struct rtcdev_dev *d,
			   uint8_t out[sizeof(struct virtio_rtc_notif_alarm)])
{
	unsigned int n = d->cfg->num_clocks;

	while (d->fifo_len) {
		struct rtcdev_alarm *a = &d->alarms[d->fifo[d->fifo_head]];
		uint16_t v;

		d->fifo_head = (d->fifo_head + 1) % n;
		d->fifo_len--;
		a->queued = false;
		if (!a->pending) {
			continue; /* made obsolete while waiting */
		}
		a->pending = false;
		d->state_seq++;
		memset(out, 0, sizeof(struct virtio_rtc_notif_alarm));
		v = htole16(VIRTIO_RTC_NOTIF_ALARM);
		memcpy(out, &v, sizeof(v));
		v = htole16(a->clock_id);
		memcpy(out + offsetof(struct virtio_rtc_notif_alarm, clock_id),
		       &v, sizeof(v));
		return true;
	}
	return false;
}

uint64_t rtcdev_dev_alarm_events(const struct rtcdev_dev *d)
{
	return d->alarm_events;
}

uint64_t rtcdev_dev_state_seq(const struct rtcdev_dev *d)
{
	return d->state_seq;
}

int rtcdev_dev_attach_alarms(struct rtcdev_dev *d, struct alarm_timer *t,
			     void (*pending)(void *opaque), void *opaque)
{
	unsigned int i, n = d->cfg->num_clocks, cap = 0;

	if (d->alarms) {
		return -EBUSY;
	}
	for (i = 0; i < n; i++) {
		cap += d->cfg->clocks[i].alarm_cap;
	}
	if (!d->cfg->alarm || !cap) {
		return 0;
	}
	d->alarms = calloc(n, sizeof(*d->alarms));
	d->fifo = calloc(n, sizeof(*d->fifo));
	if (!d->alarms || !d->fifo || alarm_timer_reserve(t, cap) < 0) {
		free(d->alarms);
		free(d->fifo);
		d->alarms = NULL;
		d->fifo = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		d->alarms[i].dev = d;
		d->alarms[i].clock_id = (uint16_t)i;
		d->alarms[i].entry.fire = alarm_fire;
		d->alarms[i].entry.rewound = alarm_rewound;
		d->alarms[i].entry.rekey = alarm_rekey;
	}
	d->timer = t;
	d->num_alarms = cap;
	d->pending_cb = pending;
	d->pending_opaque = opaque;
	return 0;
}

void rtcdev_alarm_detach(struct rtcdev_dev *d)
{
	unsigned int i;

	if (!d->alarms) {
		return;
	}
	for (i = 0; i < d->cfg->num_clocks; i++) {
		alarm_timer_cancel(d->timer, &d->alarms[i].entry);
	}
	alarm_timer_unreserve(d->timer, d->num_alarms);
	free(d->alarms);
	free(d->fifo);
	d->alarms = NULL;
	d->fifo = NULL;
}

/* ---- live upgrade ----------------------------------------------------- */

void rtcdev_alarm_save(const struct rtcdev_dev *d, struct ho_writer *w)
{
	unsigned int i, n;

	if (!d->alarms) {
		return;
	}
	n = d->cfg->num_clocks;
	/* Pending ones first, in notification order, then the others. */
	for (i = 0; i < d->fifo_len; i++) {
		const struct rtcdev_alarm *a =
			&d->alarms[d->fifo[(d->fifo_head + i) % n]];

		if (a->pending) {
			struct ho_alarm h = {
				.clock_id = htole16(a->clock_id),
				.flags = HO_ALARM_PENDING |
					 (a->enabled ? HO_ALARM_ENABLED : 0),
				.time_ns = htole64(a->time_ns),
			};

			ho_put(w, HO_ALARM, &h, sizeof(h));
		}
	}
	for (i = 0; i < n; i++) {
		const struct rtcdev_alarm *a = &d->alarms[i];

		if (!a->pending && (a->enabled || a->time_ns)) {
			struct ho_alarm h = {
				.clock_id = htole16(a->clock_id),
				.flags = (a->enabled ? HO_ALARM_ENABLED : 0) |
					 (a->entry.pos ? HO_ALARM_ARMED : 0),
				.time_ns = htole64(a->time_ns),
			};

			ho_put(w, HO_ALARM, &h, sizeof(h));
		}
	}
}

int rtcdev_alarm_load(struct rtcdev_dev *d, struct ho_reader *r,
		      const struct ho_item *it)
{
	struct clock_snapshot snap;
	struct rtcdev_alarm *a;
	struct ho_alarm h;
	int64_t now, key;
	unsigned int id;

	if (ho_get(r, it, &h, sizeof(h))) {
		return -EBADMSG;
	}
	id = le16toh(h.clock_id);
	if (id >= d->cfg->num_clocks || !rtcdev_alarm_usable(d, id)) {
		return ho_fail(r, "alarm of clock %u, which has none", id);
	}
	a = &d->alarms[id];
	if ((h.flags &
	     ~(HO_ALARM_ENABLED | HO_ALARM_PENDING | HO_ALARM_ARMED)) ||
	    memcmp(h.reserved, (const uint8_t[5]){ 0 }, 5) != 0 || a->enabled ||
	    a->pending || a->time_ns) {
		return ho_fail(r, "alarm of clock %u: bad flags, or twice", id);
	}
	if ((h.flags & (HO_ALARM_PENDING | HO_ALARM_ARMED)) &&
	    !(h.flags & HO_ALARM_ENABLED)) {
		return ho_fail(r,
			       "alarm of clock %u: pending or armed, and "
			       "disabled",
			       id);
	}
	if ((h.flags & HO_ALARM_PENDING) && (h.flags & HO_ALARM_ARMED)) {
		return ho_fail(r, "alarm of clock %u: pending and armed", id);
	}
	a->time_ns = le64toh(h.time_ns);
	a->enabled = h.flags & HO_ALARM_ENABLED;
	if (!a->enabled) {
		return 0;
	}
	if (now_tai(d, &snap, &now) < 0 || deadline(d, &snap, a, &key) < 0) {
		return ho_fail(r, "alarm of clock %u: no time to arm it by",
			       id);
	}
	if (key > now || (h.flags & HO_ALARM_ARMED)) {
		/* Not reached before the hand-over: armed; if its time came
		 * during the pause it fires at the first wake-up, so no
		 * event is lost. Reached, but not by this model: armed again
		 * (a notification owed for a time now ahead is obsolete, as
		 * after a step back). */
		alarm_timer_arm(d->timer, &a->entry, key);
		return 0;
	}
	/* Reached: watched, not raised again; owed if it was owed. */
	alarm_timer_watch(d->timer, &a->entry, key);
	if (h.flags & HO_ALARM_PENDING) {
		a->pending = true;
		d->fifo[(d->fifo_head + d->fifo_len) % d->cfg->num_clocks] =
			a->clock_id;
		d->fifo_len++;
		a->queued = true;
		if (d->pending_cb) {
			d->pending_cb(d->pending_opaque);
		}
	}
	return 0;
}
