/* SPDX-License-Identifier: MIT */
/*
 * virtio-rtc request handling: decode, check in the order of VIRTIO 1.4
 * section 5.23.6 (its device requirements on the status field), execute,
 * encode.
 *
 * Precedence decisions not fixed by the spec:
 * - Non-zero reserved bytes, and flag bits the spec does not define, in a
 *   request of a known type are EINVAL ("request values inconsistent with
 *   the spec"). They rank below every ENODEV and EOPNOTSUPP rule, as the
 *   spec's EINVAL rule says. Linux allocates its requests zeroed, so it
 *   never trips this.
 * - hw_counter 0xFF (VIRTIO_RTC_COUNTER_INVALID) is described by the spec
 *   but no driver may send it: EINVAL. 0xF0-0xFE and every other value we
 *   do not know are EOPNOTSUPP.
 * - READ_CROSS for a valid clock and a known counter is an implementation
 *   limitation (no guest counter mapping yet): EOPNOTSUPP, decided with
 *   the other counter checks, so it ranks above the reserved-byte EINVAL.
 *   CROSS_CAP answers OK with flags 0 for the same pairs.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handover.h"
#include "virtio_rtc_priv.h"

/* Mask of request bytes [off, off + len), for off + len <= 32. */
#define BYTE_SPAN(off, len)                                                    \
	((uint32_t)((1ull << ((off) + (len))) - (1ull << (off))))
#define FIELD_SPAN(type, f)                                                    \
	BYTE_SPAN(offsetof(struct type, f), sizeof(((struct type *)0)->f))
#define HEAD_RSV FIELD_SPAN(virtio_rtc_req_head, reserved)

/* How to decode one message type. Offsets of 0 mean "no such field". */
struct rtcdev_msg_desc {
	uint16_t type;
	uint8_t req_size;
	uint8_t resp_size;
	uint8_t clock_off;   /* le16 clock_id */
	uint8_t counter_off; /* u8 hw_counter */
	uint8_t flags_off;   /* u8 flags; only ALARM_ENABLED is defined */
	bool alarm;	     /* needs F_ALARM and an alarm-capable clock */
	uint32_t reserved;   /* request bytes that must be zero */
};

#define DESC(t, name, co, ho, fo, al)                                          \
	{                                                                      \
		.type = (t), .req_size = sizeof(struct virtio_rtc_req_##name), \
		.resp_size = sizeof(struct virtio_rtc_resp_##name),            \
		.clock_off = (co), .counter_off = (ho), .flags_off = (fo),     \
		.alarm = (al),                                                 \
		.reserved = HEAD_RSV |                                         \
			    FIELD_SPAN(virtio_rtc_req_##name, reserved),       \
	}

static const struct rtcdev_msg_desc rtcdev_msgs[] = {
	DESC(VIRTIO_RTC_REQ_READ, read, 8, 0, 0, false),
	DESC(VIRTIO_RTC_REQ_READ_CROSS, read_cross, 8, 10, 0, false),
	{
		.type = VIRTIO_RTC_REQ_CFG,
		.req_size = sizeof(struct virtio_rtc_req_cfg),
		.resp_size = sizeof(struct virtio_rtc_resp_cfg),
		.reserved = HEAD_RSV,
	},
	DESC(VIRTIO_RTC_REQ_CLOCK_CAP, clock_cap, 8, 0, 0, false),
	DESC(VIRTIO_RTC_REQ_CROSS_CAP, cross_cap, 8, 10, 0, false),
	DESC(VIRTIO_RTC_REQ_READ_ALARM, read_alarm, 8, 0, 0, true),
	DESC(VIRTIO_RTC_REQ_SET_ALARM, set_alarm, 16, 0, 18, true),
	DESC(VIRTIO_RTC_REQ_SET_ALARM_ENABLED, set_alarm_enabled, 8, 0, 10,
	     true),
};

_Static_assert(sizeof(struct virtio_rtc_req_set_alarm) <= 32, "span mask");

static const struct rtcdev_msg_desc *rtcdev_msg_lookup(uint16_t type)
{
	size_t i;

	for (i = 0; i < sizeof(rtcdev_msgs) / sizeof(rtcdev_msgs[0]); i++) {
		if (rtcdev_msgs[i].type == type) {
			return &rtcdev_msgs[i];
		}
	}
	return NULL;
}

static uint16_t get_le16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

/*
 * Steps 1-7 of the precedence: everything decidable from the request
 * alone. Returns VIRTIO_RTC_S_OK if the request may be executed.
 */
static uint8_t rtcdev_check(const struct rtcdev_dev *d, const uint8_t *req,
			    size_t req_len, size_t resp_cap,
			    const struct rtcdev_msg_desc **out)
{
	const struct rtcdev_msg_desc *m;
	size_t i;

	*out = NULL;
	if (req_len < sizeof(struct virtio_rtc_req_head)) {
		return VIRTIO_RTC_S_EINVAL;
	}
	m = rtcdev_msg_lookup(get_le16(req));
	if (!m) {
		return VIRTIO_RTC_S_EOPNOTSUPP;
	}
	*out = m;
	if (req_len < m->req_size || resp_cap < m->resp_size) {
		return VIRTIO_RTC_S_EINVAL;
	}
	if (m->clock_off &&
	    get_le16(req + m->clock_off) >= d->cfg->num_clocks) {
		return VIRTIO_RTC_S_ENODEV;
	}
	/* Without F_ALARM no clock has an alarm. */
	if (m->alarm && !rtcdev_alarm_usable(d, get_le16(req + m->clock_off))) {
		return VIRTIO_RTC_S_ENODEV;
	}
	if (m->counter_off) {
		uint8_t c = req[m->counter_off];

		if (c == VIRTIO_RTC_COUNTER_INVALID) {
			return VIRTIO_RTC_S_EINVAL;
		}
		if (c != VIRTIO_RTC_COUNTER_ARM_VCT &&
		    c != VIRTIO_RTC_COUNTER_X86_TSC) {
			return VIRTIO_RTC_S_EOPNOTSUPP;
		}
		if (m->type == VIRTIO_RTC_REQ_READ_CROSS) {
			return VIRTIO_RTC_S_EOPNOTSUPP;
		}
	}
	for (i = 0; i < m->req_size; i++) {
		if ((m->reserved & (1u << i)) && req[i]) {
			return VIRTIO_RTC_S_EINVAL;
		}
	}
	if (m->flags_off &&
	    (req[m->flags_off] & ~VIRTIO_RTC_FLAG_ALARM_ENABLED)) {
		return VIRTIO_RTC_S_EINVAL;
	}
	return VIRTIO_RTC_S_OK;
}

static uint8_t rtcdev_read(struct rtcdev_dev *d, unsigned int id, uint8_t *out)
{
	const struct rtcdev_clock *clk = &d->cfg->clocks[id];
	struct clock_snapshot snap;
	struct clock_reading r;
	uint64_t c;

	if (clock_model_get(d->model, &snap) < 0) {
		return VIRTIO_RTC_S_EIO;
	}
	/* The request is already available: any counter read now is after. */
	c = clock_counter_now(snap.counter);
	if (clock_snapshot_read(&snap, clk->ts, c, &r) < 0 || r.ns < 0) {
		return VIRTIO_RTC_S_EIO;
	}
	if (clk->type == VIRTIO_RTC_CLOCK_MONOTONIC) {
		if (r.ns < d->mono_floor_ns[id]) {
			r.ns = d->mono_floor_ns[id];
		}
		d->mono_floor_ns[id] = r.ns;
	}
	put_le64(out + offsetof(struct virtio_rtc_resp_read, clock_reading),
		 (uint64_t)r.ns);
	return VIRTIO_RTC_S_OK;
}

/* Step 8: execute a request that passed rtcdev_check(); fills @out on OK. */
static uint8_t rtcdev_exec(struct rtcdev_dev *d,
			   const struct rtcdev_msg_desc *m, const uint8_t *req,
			   uint8_t *out)
{
	unsigned int id = m->clock_off ? get_le16(req + m->clock_off) : 0;
	const struct rtcdev_clock *clk = &d->cfg->clocks[id];

	switch (m->type) {
	case VIRTIO_RTC_REQ_CFG:
		put_le16(out + offsetof(struct virtio_rtc_resp_cfg, num_clocks),
			 (uint16_t)d->cfg->num_clocks);
		return VIRTIO_RTC_S_OK;
	case VIRTIO_RTC_REQ_CLOCK_CAP:
		out[offsetof(struct virtio_rtc_resp_clock_cap, type)] =
			clk->type;
		out[offsetof(struct virtio_rtc_resp_clock_cap,
			     leap_second_smearing)] =
			clk->type == VIRTIO_RTC_CLOCK_UTC_SMEARED
				? clk->smearing
				: VIRTIO_RTC_SMEAR_UNSPECIFIED;
		/* Fixed by the clock set and the features: stable across
		 * resets for the same negotiated features. */
		out[offsetof(struct virtio_rtc_resp_clock_cap, flags)] =
			rtcdev_alarm_usable(d, id) ? VIRTIO_RTC_FLAG_ALARM_CAP
						   : 0;
		return VIRTIO_RTC_S_OK;
	case VIRTIO_RTC_REQ_CROSS_CAP:
		/* flags: no CROSS_CAP, READ_CROSS is not supported yet; the
		 * counter is ARM_VCT or X86_TSC (rtcdev_check), counted so the
		 * log shows what a guest driver asked at probe */
		d->stats.cross_cap[req[m->counter_off] ==
				   VIRTIO_RTC_COUNTER_X86_TSC]++;
		return VIRTIO_RTC_S_OK;
	case VIRTIO_RTC_REQ_READ:
		return rtcdev_read(d, id, out);
	case VIRTIO_RTC_REQ_READ_ALARM:
		return rtcdev_alarm_read(d, id, out);
	case VIRTIO_RTC_REQ_SET_ALARM:
		return rtcdev_alarm_set(
			d, id,
			get_le64(req + offsetof(struct virtio_rtc_req_set_alarm,
						alarm_time)),
			req[m->flags_off] & VIRTIO_RTC_FLAG_ALARM_ENABLED);
	case VIRTIO_RTC_REQ_SET_ALARM_ENABLED:
		return rtcdev_alarm_set_enabled(
			d, id,
			req[m->flags_off] & VIRTIO_RTC_FLAG_ALARM_ENABLED);
	default:
		/* rtcdev_check() lets nothing else through */
		return VIRTIO_RTC_S_EIO;
	}
}

size_t rtcdev_handle(struct rtcdev_dev *d, const void *req, size_t req_len,
		     void *resp, size_t resp_cap)
{
	uint8_t out[VIRTIO_RTC_RESP_MAX] = { 0 };
	const struct rtcdev_msg_desc *m;
	size_t len;
	uint8_t status;

	status = rtcdev_check(d, req, req_len, resp_cap, &m);
	if (status == VIRTIO_RTC_S_OK) {
		status = rtcdev_exec(d, m, req, out);
	}

	d->stats.requests++;
	d->stats.by_status[status]++;
	if (status != VIRTIO_RTC_S_OK) {
		d->stats.errors++;
	}

	/* @out is still all zero unless the status is OK */
	len = status == VIRTIO_RTC_S_OK ? m->resp_size
					: sizeof(struct virtio_rtc_resp_head);
	/* Only an error can meet a short buffer: every OK size was checked. */
	if (len > resp_cap) {
		len = resp_cap;
	}
	out[offsetof(struct virtio_rtc_resp_head, status)] = status;
	if (len) {
		memcpy(resp, out, len);
	}
	return len;
}

struct rtcdev_dev *rtcdev_dev_new(const struct rtcdev_config *cfg,
				  const struct clock_model *model)
{
	struct rtcdev_dev *d;

	if (!cfg || !model || cfg->num_clocks < 1 ||
	    cfg->num_clocks > RTCDEV_MAX_CLOCKS) {
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		return NULL;
	}
	d->cfg = cfg;
	d->model = model;
	return d;
}

void rtcdev_dev_free(struct rtcdev_dev *d)
{
	if (!d) {
		return;
	}
	rtcdev_alarm_detach(d);
	free(d);
}

void rtcdev_dev_reset(struct rtcdev_dev *d)
{
	/*
	 * The clock set is fixed, features are set again by the transport,
	 * the MONOTONIC floor and the alarms outlive resets.
	 */
	rtcdev_alarm_reset(d);
}

void rtcdev_dev_save(const struct rtcdev_dev *d, struct ho_writer *w)
{
	struct ho_stats st = {
		.requests = htole64(d->stats.requests),
		.errors = htole64(d->stats.errors),
		.alarm_events = htole64(d->alarm_events),
	};
	unsigned int i;

	for (i = 0; i < d->cfg->num_clocks; i++) {
		if (d->mono_floor_ns[i]) {
			struct ho_mono_floor f = {
				.clock_id = htole16((uint16_t)i),
				.ns = (int64_t)htole64(
					(uint64_t)d->mono_floor_ns[i]),
			};

			ho_put(w, HO_MONO_FLOOR, &f, sizeof(f));
		}
	}
	ho_put(w, HO_STATS, &st, sizeof(st));
	rtcdev_alarm_save(d, w);
}

int rtcdev_dev_load(struct rtcdev_dev *d, struct ho_reader *r,
		    const struct ho_item *it)
{
	struct ho_mono_floor f;
	struct ho_stats st;
	unsigned int id;

	switch (it->tag) {
	case HO_MONO_FLOOR:
		if (ho_get(r, it, &f, sizeof(f))) {
			return -EBADMSG;
		}
		id = le16toh(f.clock_id);
		if (id >= d->cfg->num_clocks ||
		    memcmp(f.reserved, (const uint8_t[6]){ 0 }, 6) != 0) {
			return ho_fail(r, "MONOTONIC floor of clock %u", id);
		}
		d->mono_floor_ns[id] = (int64_t)le64toh((uint64_t)f.ns);
		return 1;
	case HO_STATS:
		if (ho_get(r, it, &st, sizeof(st))) {
			return -EBADMSG;
		}
		d->stats.requests = le64toh(st.requests);
		d->stats.errors = le64toh(st.errors);
		d->alarm_events = le64toh(st.alarm_events);
		return 1;
	case HO_ALARM:
		return rtcdev_alarm_load(d, r, it) < 0 ? -EBADMSG : 1;
	default:
		return 0;
	}
}

void rtcdev_dev_set_features(struct rtcdev_dev *d, uint64_t features)
{
	d->features = features;
}

const struct rtcdev_stats *rtcdev_dev_stats(const struct rtcdev_dev *d)
{
	return &d->stats;
}

void rtcdev_dev_add_busy(struct rtcdev_dev *d, uint64_t ns, unsigned int nreq)
{
	uint64_t b;

	if (nreq == 0) {
		return;
	}
	d->stats.busy_ns += ns;
	b = ns / nreq / RTCDEV_BUSY_BUCKET_NS;
	d->stats.busy_hist[b < RTCDEV_BUSY_BUCKETS ? b
						   : RTCDEV_BUSY_BUCKETS - 1] +=
		nreq;
}

uint64_t rtcdev_stats_busy_quantile(const struct rtcdev_stats *st, double q)
{
	uint64_t total = 0, want, seen = 0;
	unsigned int i;

	for (i = 0; i < RTCDEV_BUSY_BUCKETS; i++) {
		total += st->busy_hist[i];
	}
	if (total == 0) {
		return 0;
	}
	want = (uint64_t)(q * (double)total);
	if (want >= total) {
		want = total - 1;
	}
	for (i = 0; i < RTCDEV_BUSY_BUCKETS - 1; i++) {
		seen += st->busy_hist[i];
		if (seen > want) {
			return (uint64_t)(i + 1) * RTCDEV_BUSY_BUCKET_NS;
		}
	}
	return UINT64_MAX;
}

const char *rtcdev_stats_busy_text(const struct rtcdev_stats *st, double q,
				   char *buf, size_t len)
{
	uint64_t ns = rtcdev_stats_busy_quantile(st, q);

	if (ns == UINT64_MAX) {
		snprintf(buf, len, "> %.2f us",
			 (double)(RTCDEV_BUSY_BUCKETS - 1) *
				 RTCDEV_BUSY_BUCKET_NS / 1e3);
	} else {
		snprintf(buf, len, "<= %.2f us", (double)ns / 1e3);
	}
	return buf;
}
