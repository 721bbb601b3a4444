// SPDX-License-Identifier: MIT
/*
 * vhost-user front-end: virtio-rtc requests (VIRTIO 1.4 section 5.23)
 * on the requestq, one at a time.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "frontend_internal.h"

int vuf_rtc_call(struct vuf *v, const void *req, size_t req_len,
		 size_t resp_cap, const struct vuf_layout *lay,
		 struct vuf_rtc_reply *r)
{
	struct vuf_completion c = { 0 };
	uint64_t cookie = ++v->rtc_seq;
	int ret;

	if (vuf_inflight(v, VIRTIO_RTC_REQUESTQ)) {
		return vuf_fail(v, -EBUSY, "requests already in flight");
	}
	ret = vuf_submit(v, VIRTIO_RTC_REQUESTQ, req, req_len, resp_cap, lay,
			 cookie);
	if (ret) {
		return ret;
	}
	ret = vuf_kick(v, VIRTIO_RTC_REQUESTQ);
	if (ret < 0) {
		return ret;
	}
	ret = vuf_wait(v, VIRTIO_RTC_REQUESTQ, &c, v->opts.timeout_ms);
	if (ret) {
		return ret;
	}
	if (c.cookie != cookie) {
		return vuf_fail(v, -EPROTO, "completion for another request");
	}
	r->used_len = c.len;
	r->status = c.len >= 1 ? c.resp[0] : 0xff;
	memcpy(r->resp, c.resp, sizeof(r->resp));
	return 0;
}

/* One request whose OK response is exactly @resp_len bytes. */
static int vuf_rtc_simple(struct vuf *v, const void *req, size_t req_len,
			  void *resp, size_t resp_len, uint8_t *status)
{
	struct vuf_rtc_reply r = { 0 };
	int ret;

	ret = vuf_rtc_call(v, req, req_len, resp_len, NULL, &r);
	if (ret) {
		return ret;
	}
	if (status) {
		*status = r.status;
	}
	if (r.used_len >= 1 && r.status != VIRTIO_RTC_S_OK) {
		return vuf_fail(v, -EREMOTEIO, "status %u (used len %u)",
				r.status, r.used_len);
	}
	if (r.used_len != resp_len) {
		return vuf_fail(v, -EPROTO, "used len %u, expected %zu",
				r.used_len, resp_len);
	}
	if (resp) {
		memcpy(resp, r.resp, resp_len);
	}
	return 0;
}

void vuf_rtc_req_read(struct virtio_rtc_req_read *req, uint16_t clock_id)
{
	memset(req, 0, sizeof(*req));
	req->head.msg_type = htole16(VIRTIO_RTC_REQ_READ);
	req->clock_id = htole16(clock_id);
}

int vuf_rtc_read(struct vuf *v, uint16_t clock_id, uint64_t *ns)
{
	struct virtio_rtc_req_read req;
	struct virtio_rtc_resp_read resp = { 0 };
	int ret;

	vuf_rtc_req_read(&req, clock_id);
	ret = vuf_rtc_simple(v, &req, sizeof(req), &resp, sizeof(resp), NULL);
	if (!ret && ns) {
		*ns = le64toh(resp.clock_reading);
	}
	return ret;
}

int vuf_rtc_read_cross(struct vuf *v, uint16_t clock_id, uint8_t counter,
		       struct virtio_rtc_resp_read_cross *out, uint8_t *status)
{
	struct virtio_rtc_req_read_cross req = { 0 };

	req.head.msg_type = htole16(VIRTIO_RTC_REQ_READ_CROSS);
	req.clock_id = htole16(clock_id);
	req.hw_counter = counter;
	return vuf_rtc_simple(v, &req, sizeof(req), out, sizeof(*out), status);
}

int vuf_rtc_cfg(struct vuf *v, uint16_t *num_clocks, uint8_t *status)
{
	struct virtio_rtc_req_cfg req = { 0 };
	struct virtio_rtc_resp_cfg resp = { 0 };
	int ret;

	req.head.msg_type = htole16(VIRTIO_RTC_REQ_CFG);
	ret = vuf_rtc_simple(v, &req, sizeof(req), &resp, sizeof(resp), status);
	if (!ret && num_clocks) {
		*num_clocks = le16toh(resp.num_clocks);
	}
	return ret;
}

int vuf_rtc_clock_cap(struct vuf *v, uint16_t clock_id,
		      struct virtio_rtc_resp_clock_cap *out, uint8_t *status)
{
	struct virtio_rtc_req_clock_cap req = { 0 };

	req.head.msg_type = htole16(VIRTIO_RTC_REQ_CLOCK_CAP);
	req.clock_id = htole16(clock_id);
	return vuf_rtc_simple(v, &req, sizeof(req), out, sizeof(*out), status);
}

int vuf_rtc_set_alarm(struct vuf *v, uint16_t clock_id, uint64_t alarm_time,
		      bool enabled, uint8_t *status)
{
	struct virtio_rtc_req_set_alarm req = { 0 };

	req.head.msg_type = htole16(VIRTIO_RTC_REQ_SET_ALARM);
	req.alarm_time = htole64(alarm_time);
	req.clock_id = htole16(clock_id);
	req.flags = enabled ? VIRTIO_RTC_FLAG_ALARM_ENABLED : 0;
	return vuf_rtc_simple(v, &req, sizeof(req), NULL,
			      sizeof(struct virtio_rtc_resp_set_alarm), status);
}

int vuf_rtc_cross_cap(struct vuf *v, uint16_t clock_id, uint8_t counter,
		      struct virtio_rtc_resp_cross_cap *out, uint8_t *status)
{
	struct virtio_rtc_req_cross_cap req = { 0 };

	req.head.msg_type = htole16(VIRTIO_RTC_REQ_CROSS_CAP);
	req.clock_id = htole16(clock_id);
	req.hw_counter = counter;
	return vuf_rtc_simple(v, &req, sizeof(req), out, sizeof(*out), status);
}
