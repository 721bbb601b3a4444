// SPDX-License-Identifier: MIT
/*
 * Every virtio-rtc request type and status over a real socket (VIRTIO
 * 1.4 section 5.23): constant answers, status precedence, exact used
 * lengths, zeroed reserved bytes, buffer layouts, and the served time.
 */
#include "itest.h"

/* One request, asserting that a used entry came back. */
static struct vuf_rtc_reply call(struct vuf *v, const void *req, size_t req_len,
				 size_t resp_cap, const struct vuf_layout *lay)
{
	struct vuf_rtc_reply r;
	int ret = vuf_rtc_call(v, req, req_len, resp_cap, lay, &r);

	cr_assert_eq(ret, 0, "request failed: %s", vuf_error(v));
	return r;
}

/* An error status: 8-byte header, reserved bytes zero. */
static void expect_status(const struct vuf_rtc_reply *r, uint8_t status,
			  const char *what)
{
	unsigned int i;

	cr_assert_eq(r->used_len, 8, "%s: used len %u, want 8", what,
		     r->used_len);
	cr_assert_eq(r->status, status, "%s: status %u, want %u", what,
		     r->status, status);
	for (i = 1; i < 8; i++) {
		cr_assert_eq(r->resp[i], 0, "%s: reserved byte %u = 0x%02x",
			     what, i, r->resp[i]);
	}
}

/* Bytes [from, to) of the response room were not written. */
static void expect_untouched(const struct vuf_rtc_reply *r, size_t from,
			     size_t to, const char *what)
{
	size_t i;

	for (i = from; i < to; i++) {
		cr_assert_eq(r->resp[i], VUF_FILL,
			     "%s: byte %zu beyond the response was written",
			     what, i);
	}
}

static void hdr(void *req, uint16_t type)
{
	struct virtio_rtc_req_head *h = req;

	h->msg_type = htole16(type);
}

ITEST(requests, cfg)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	struct virtio_rtc_req_cfg req = { 0 };
	struct virtio_rtc_resp_cfg resp;
	struct vuf_rtc_reply r;

	hdr(&req, VIRTIO_RTC_REQ_CFG);
	r = call(v, &req, sizeof(req), VUF_SLOT_SIZE, NULL);
	cr_assert_eq(r.used_len, 16, "CFG used len %u", r.used_len);
	memcpy(&resp, r.resp, sizeof(resp));
	cr_assert_eq(resp.head.status, VIRTIO_RTC_S_OK);
	cr_assert_eq(le16toh(resp.num_clocks), 4);
	cr_assert_arr_eq(resp.head.reserved, (uint8_t[7]){ 0 }, 7);
	cr_assert_arr_eq(resp.reserved, (uint8_t[6]){ 0 }, 6);
	expect_untouched(&r, 16, VUF_SLOT_SIZE, "CFG");
	vuf_free(v);
	itest_stop(d);
}

ITEST(requests, clock_cap)
{
	static const uint8_t want[4][2] = {
		{ VIRTIO_RTC_CLOCK_UTC, 0 },
		{ VIRTIO_RTC_CLOCK_TAI, 0 },
		{ VIRTIO_RTC_CLOCK_MONOTONIC, 0 },
		{ VIRTIO_RTC_CLOCK_UTC_SMEARED, VIRTIO_RTC_SMEAR_NOON_LINEAR },
	};
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	uint16_t id;

	for (id = 0; id < 4; id++) {
		struct virtio_rtc_req_clock_cap req = { 0 };
		struct virtio_rtc_resp_clock_cap c;
		struct vuf_rtc_reply r;

		hdr(&req, VIRTIO_RTC_REQ_CLOCK_CAP);
		req.clock_id = htole16(id);
		r = call(v, &req, sizeof(req), VUF_SLOT_SIZE, NULL);
		cr_assert_eq(r.used_len, 16, "clock %u: used len %u", id,
			     r.used_len);
		memcpy(&c, r.resp, sizeof(c));
		cr_assert_eq(c.head.status, VIRTIO_RTC_S_OK);
		cr_assert_eq(c.type, want[id][0], "clock %u type %u", id,
			     c.type);
		cr_assert_eq(c.leap_second_smearing, want[id][1],
			     "clock %u variant %u", id, c.leap_second_smearing);
		cr_assert_eq(c.flags, 0, "clock %u flags 0x%x without F_ALARM",
			     id, c.flags);
		cr_assert_arr_eq(c.head.reserved, (uint8_t[7]){ 0 }, 7);
		cr_assert_arr_eq(c.reserved, (uint8_t[5]){ 0 }, 5);
		expect_untouched(&r, 16, VUF_SLOT_SIZE, "CLOCK_CAP");
	}
	vuf_free(v);
	itest_stop(d);
}

ITEST(requests, cross_cap)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	struct virtio_rtc_req_cross_cap req = { 0 };
	struct vuf_rtc_reply r;
	uint16_t id;
	uint8_t ctr;

	hdr(&req, VIRTIO_RTC_REQ_CROSS_CAP);
	for (id = 0; id < 4; id++) {
		for (ctr = 0; ctr <= VIRTIO_RTC_COUNTER_X86_TSC; ctr++) {
			struct virtio_rtc_resp_cross_cap x;

			req.clock_id = htole16(id);
			req.hw_counter = ctr;
			r = call(v, &req, sizeof(req), VUF_SLOT_SIZE, NULL);
			cr_assert_eq(r.used_len, 16,
				     "clock %u counter %u: used len %u", id,
				     ctr, r.used_len);
			memcpy(&x, r.resp, sizeof(x));
			cr_assert_eq(x.head.status, VIRTIO_RTC_S_OK);
			cr_assert_eq(x.flags, 0, "cross-timestamping claimed");
			cr_assert_arr_eq(x.head.reserved, (uint8_t[7]){ 0 }, 7);
			cr_assert_arr_eq(x.reserved, (uint8_t[7]){ 0 }, 7);
		}
	}
	/* A counter the spec does not describe. */
	req.clock_id = htole16(0);
	req.hw_counter = 0x42;
	r = call(v, &req, sizeof(req), VUF_SLOT_SIZE, NULL);
	expect_status(&r, VIRTIO_RTC_S_EOPNOTSUPP, "CROSS_CAP counter 0x42");
	/* A clock that does not exist. */
	req.clock_id = htole16(4);
	req.hw_counter = VIRTIO_RTC_COUNTER_ARM_VCT;
	r = call(v, &req, sizeof(req), VUF_SLOT_SIZE, NULL);
	expect_status(&r, VIRTIO_RTC_S_ENODEV, "CROSS_CAP clock 4");
	vuf_free(v);
	itest_stop(d);
}

ITEST(requests, read_cross_unsupported)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	uint16_t id;
	uint8_t ctr;

	for (id = 0; id < 4; id++) {
		for (ctr = 0; ctr <= VIRTIO_RTC_COUNTER_X86_TSC; ctr++) {
			struct virtio_rtc_req_read_cross req = { 0 };
			struct vuf_rtc_reply r;

			hdr(&req, VIRTIO_RTC_REQ_READ_CROSS);
			req.clock_id = htole16(id);
			req.hw_counter = ctr;
			r = call(v, &req, sizeof(req), 24, NULL);
			expect_status(&r, VIRTIO_RTC_S_EOPNOTSUPP,
				      "READ_CROSS");
		}
	}
	vuf_free(v);
	itest_stop(d);
}

ITEST(requests, unknown_msg_type)
{
	static const uint16_t types[] = { 0x0000, 0x0003, 0x00ff, 0x0fff,
					  0x1006, 0x1fff, 0x2000, 0xffff };
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	unsigned int i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint8_t req[24] = { 0 };
		struct vuf_rtc_reply r;
		char what[32];

		hdr(req, types[i]);
		r = call(v, req, sizeof(req), 24, NULL);
		snprintf(what, sizeof(what), "msg_type 0x%04x", types[i]);
		expect_status(&r, VIRTIO_RTC_S_EOPNOTSUPP, what);
	}
	vuf_free(v);
	itest_stop(d);
}

ITEST(requests, bad_clock_id)
{
	static const uint16_t ids[] = { 4, 5, 16, 0x100, 0xffff };
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	unsigned int i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct virtio_rtc_req_read rd;
		struct virtio_rtc_req_clock_cap cc = { 0 };
		struct vuf_rtc_reply r;

		vuf_rtc_req_read(&rd, ids[i]);
		r = call(v, &rd, sizeof(rd), 16, NULL);
		expect_status(&r, VIRTIO_RTC_S_ENODEV, "READ bad clock");
		hdr(&cc, VIRTIO_RTC_REQ_CLOCK_CAP);
		cc.clock_id = htole16(ids[i]);
		r = call(v, &cc, sizeof(cc), 16, NULL);
		expect_status(&r, VIRTIO_RTC_S_ENODEV, "CLOCK_CAP bad clock");
	}
	vuf_free(v);
	itest_stop(d);
}

ITEST(requests, alarm_requests_without_feature)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	uint16_t id;

	for (id = 0; id < 4; id++) {
		struct virtio_rtc_req_read_alarm ra = { 0 };
		struct virtio_rtc_req_set_alarm sa = { 0 };
		struct virtio_rtc_req_set_alarm_enabled se = { 0 };
		struct vuf_rtc_reply r;

		hdr(&ra, VIRTIO_RTC_REQ_READ_ALARM);
		ra.clock_id = htole16(id);
		r = call(v, &ra, sizeof(ra), 24, NULL);
		expect_status(&r, VIRTIO_RTC_S_ENODEV, "READ_ALARM");

		hdr(&sa, VIRTIO_RTC_REQ_SET_ALARM);
		sa.clock_id = htole16(id);
		sa.alarm_time = htole64(1);
		sa.flags = VIRTIO_RTC_FLAG_ALARM_ENABLED;
		r = call(v, &sa, sizeof(sa), 8, NULL);
		expect_status(&r, VIRTIO_RTC_S_ENODEV, "SET_ALARM");

		hdr(&se, VIRTIO_RTC_REQ_SET_ALARM_ENABLED);
		se.clock_id = htole16(id);
		se.flags = VIRTIO_RTC_FLAG_ALARM_ENABLED;
		r = call(v, &se, sizeof(se), 8, NULL);
		expect_status(&r, VIRTIO_RTC_S_ENODEV, "SET_ALARM_ENABLED");
	}
	vuf_free(v);
	itest_stop(d);
}

ITEST(requests, short_request)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	struct virtio_rtc_req_read rd;
	struct virtio_rtc_req_cross_cap xc = { 0 };
	struct vuf_rtc_reply r;
	size_t len;

	vuf_rtc_req_read(&rd, 0);
	for (len = 2; len < sizeof(rd); len++) {
		r = call(v, &rd, len, 16, NULL);
		expect_status(&r, VIRTIO_RTC_S_EINVAL, "short READ");
	}
	/* Not even msg_type fits. */
	r = call(v, &rd, 1, 16, NULL);
	expect_status(&r, VIRTIO_RTC_S_EINVAL, "1-byte request");
	hdr(&xc, VIRTIO_RTC_REQ_CROSS_CAP);
	r = call(v, &xc, 11, 16, NULL);
	expect_status(&r, VIRTIO_RTC_S_EINVAL, "short CROSS_CAP");
	/* No device-readable part at all. */
	r = call(v, NULL, 0, 16, NULL);
	expect_status(&r, VIRTIO_RTC_S_EINVAL, "no request bytes");
	/* Still serving. */
	itest_read(v, 0);
	vuf_free(v);
	itest_stop(d);
}

ITEST(requests, short_response)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	struct virtio_rtc_req_read rd;
	struct virtio_rtc_req_cfg cfg = { 0 };
	struct vuf_rtc_reply r;
	size_t cap;

	vuf_rtc_req_read(&rd, 1);
	hdr(&cfg, VIRTIO_RTC_REQ_CFG);
	for (cap = 8; cap < 16; cap++) {
		r = call(v, &rd, sizeof(rd), cap, NULL);
		expect_status(&r, VIRTIO_RTC_S_EINVAL, "READ short response");
		expect_untouched(&r, 8, VUF_SLOT_SIZE, "READ short response");
		r = call(v, &cfg, sizeof(cfg), cap, NULL);
		expect_status(&r, VIRTIO_RTC_S_EINVAL, "CFG short response");
	}
	/* The status byte fits, the 8-byte header does not. */
	r = call(v, &rd, sizeof(rd), 4, NULL);
	cr_assert(r.used_len >= 1 && r.used_len <= 4,
		  "4-byte response room: used len %u", r.used_len);
	cr_assert_eq(r.status, VIRTIO_RTC_S_EINVAL, "4-byte room: status %u",
		     r.status);
	expect_untouched(&r, 4, VUF_SLOT_SIZE, "4-byte response room");
	itest_read(v, 1);
	vuf_free(v);
	itest_stop(d);
}

ITEST(requests, no_response_buffer)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	struct virtio_rtc_req_read rd;
	struct vuf_rtc_reply r;
	int i;

	vuf_rtc_req_read(&rd, 0);
	for (i = 0; i < 3; i++) {
		r = call(v, &rd, sizeof(rd), 0, NULL);
		cr_assert_eq(r.used_len, 0, "no writable buffer: used len %u",
			     r.used_len);
	}
	itest_read(v, 0);
	vuf_free(v);
	itest_stop(d);
}

/* Exact used length and untouched bytes for every OK response, with
 * oversized request and response buffers. */
ITEST(requests, exact_lengths_big_buffers)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	uint8_t req[VUF_SLOT_SIZE];
	struct vuf_rtc_reply r;
	uint16_t id;

	for (id = 0; id < 4; id++) {
		struct virtio_rtc_resp_read rr;

		memset(req, 0x5a, sizeof(req)); /* garbage past the request */
		vuf_rtc_req_read((void *)req, id);
		r = call(v, req, sizeof(req), VUF_SLOT_SIZE, NULL);
		cr_assert_eq(r.used_len, 16, "READ used len %u", r.used_len);
		memcpy(&rr, r.resp, sizeof(rr));
		cr_assert_eq(rr.head.status, VIRTIO_RTC_S_OK);
		cr_assert_arr_eq(rr.head.reserved, (uint8_t[7]){ 0 }, 7);
		cr_assert_neq(rr.clock_reading, 0);
		expect_untouched(&r, 16, VUF_SLOT_SIZE, "READ");

		/* Exactly the response size is fine too. */
		r = call(v, req, 16, 16, NULL);
		cr_assert_eq(r.used_len, 16);
		cr_assert_eq(r.status, VIRTIO_RTC_S_OK);
	}
	vuf_free(v);
	itest_stop(d);
}

/* READ of every clock through every descriptor layout and ring
 * feature set; the reading must be sane each time. */
static void read_layouts(const char *sock, uint64_t ring_features,
			 unsigned int qsize)
{
	static const struct vuf_layout lays[] = {
		{ 1, 1, false, false }, { 2, 1, false, false },
		{ 1, 3, false, false }, { 4, 4, false, false },
		{ 1, 1, true, false },	{ 3, 2, true, false },
		{ 1, 1, false, true },	{ 2, 2, false, true },
		{ 3, 3, false, true },	{ 1, 1, true, true },
		{ 8, 8, true, true },
	};
	struct vuf_opts o;
	struct vuf *v;
	unsigned int i;
	uint16_t id;

	vuf_opts_init(&o);
	o.ring_features = ring_features;
	o.queue_size = qsize;
	o.split_high = true;
	v = itest_vm(sock, &o);
	for (i = 0; i < sizeof(lays) / sizeof(lays[0]); i++) {
		const struct vuf_layout *l = &lays[i];
		unsigned int ndesc = l->indirect ? 1 : l->out_segs + l->in_segs;

		if ((l->indirect && !(ring_features &
				      (1ull << VIRTIO_RING_F_INDIRECT_DESC))) ||
		    ndesc > qsize) {
			continue;
		}
		for (id = 0; id < 4; id++) {
			struct virtio_rtc_req_read rd;
			struct vuf_rtc_reply r;
			int64_t t0 = time_ns_now(CLOCK_REALTIME), t1;
			uint64_t ns;

			vuf_rtc_req_read(&rd, id);
			r = call(v, &rd, sizeof(rd), 16, l);
			t1 = time_ns_now(CLOCK_REALTIME);
			cr_assert_eq(r.used_len, 16,
				     "layout %u (features 0x%llx, q %u): "
				     "used len %u",
				     i, (unsigned long long)ring_features,
				     qsize, r.used_len);
			cr_assert_eq(r.status, VIRTIO_RTC_S_OK);
			memcpy(&ns, r.resp + 8, 8);
			ns = le64toh(ns);
			if (id == 0 || id == 3) {
				cr_assert((int64_t)ns > t0 - 50000000 &&
						  (int64_t)ns < t1 + 50000000,
					  "layout %u: clock %u reads %llu, "
					  "host %lld",
					  i, id, (unsigned long long)ns,
					  (long long)t0);
			}
		}
	}
	vuf_free(v);
}

static void layouts_and_features_run(const char *poll_ns)
{
	struct vdaemon *d = itest_start_poll(poll_ns);
	const char *s = vdaemon_socket(d, 0);
	uint64_t ind = 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	uint64_t evt = 1ull << VIRTIO_RING_F_EVENT_IDX;
	uint64_t noe = 1ull << VIRTIO_F_NOTIFY_ON_EMPTY;

	read_layouts(s, ind | evt, 1024);
	read_layouts(s, 0, 1024);
	read_layouts(s, ind, 256);
	read_layouts(s, evt, 16);
	read_layouts(s, ind | evt | noe, 2);
	read_layouts(s, noe, 64);
	read_layouts(s, ind | evt, 1); /* indirect only fits */
	itest_stop(d);
}

ITEST(requests, layouts_and_features)
{
	layouts_and_features_run(NULL);
}

ITEST(requests, layouts_and_features_event_driven)
{
	layouts_and_features_run("0");
}

ITEST(requests, layouts_and_features_busy_polling)
{
	layouts_and_features_run("10000000");
}

/* CFG and CAP answers are byte-identical across requests, resets and
 * connections (the Linux driver never asks again after a restore). */
ITEST(requests, constant_answers)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *a = itest_vm(vdaemon_socket(d, 0), NULL);
	struct vuf *b = itest_vm(vdaemon_socket(d, 0), NULL);
	uint8_t first[9][16];
	int round;

	for (round = 0; round < 4; round++) {
		struct vuf *v = round % 2 ? b : a;
		unsigned int k = 0;
		uint16_t id;

		for (id = 0; id < 5; id++) {
			struct vuf_rtc_reply r;
			uint8_t req[16] = { 0 };

			if (id == 4) {
				hdr(req, VIRTIO_RTC_REQ_CFG);
				r = call(v, req, 8, 16, NULL);
			} else {
				hdr(req, VIRTIO_RTC_REQ_CLOCK_CAP);
				req[8] = (uint8_t)id;
				r = call(v, req, 16, 16, NULL);
			}
			if (round == 0) {
				memcpy(first[k], r.resp, 16);
			} else {
				cr_assert_arr_eq(
					first[k], r.resp, 16,
					"answer %u changed in round %d", k,
					round);
			}
			k++;
			hdr(req, VIRTIO_RTC_REQ_CROSS_CAP);
			req[8] = (uint8_t)(id & 3);
			req[10] = VIRTIO_RTC_COUNTER_X86_TSC;
			if (id < 4) {
				r = call(v, req, 16, 16, NULL);
				cr_assert_eq(r.status, VIRTIO_RTC_S_OK);
			}
		}
		cr_assert_eq(vuf_reset(v, NULL), 0, "%s", vuf_error(v));
		cr_assert_eq(vuf_driver_ok(v), 0, "%s", vuf_error(v));
	}
	vuf_free(a);
	vuf_free(b);
	itest_stop(d);
}

ITEST(requests, tai_minus_utc)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	int i;

	for (i = 0; i < 20; i++) {
		uint64_t u0 = itest_read(v, 0);
		uint64_t tai = itest_read(v, 1);
		uint64_t u1 = itest_read(v, 0);
		int64_t off = (int64_t)(tai - 37000000000ull);

		cr_assert(off >= (int64_t)u0 - 1000 &&
				  off <= (int64_t)u1 + 1000,
			  "TAI - 37 s = %lld not within the UTC reads "
			  "[%llu, %llu] (TAI-UTC about %lld ns)",
			  (long long)off, (unsigned long long)u0,
			  (unsigned long long)u1, (long long)(tai - u0));
	}
	vuf_free(v);
	itest_stop(d);
}

ITEST(requests, utc_follows_host_clock)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	int64_t worst = 0;
	int i;

	for (i = 0; i < 50; i++) {
		uint16_t id = i % 2 ? 0 : 3; /* UTC, smeared UTC (no leap) */
		int64_t t0 = time_ns_now(CLOCK_REALTIME);
		int64_t ns = (int64_t)itest_read(v, id);
		int64_t t1 = time_ns_now(CLOCK_REALTIME);
		int64_t err = ns < t0 ? t0 - ns : ns > t1 ? ns - t1 : 0;

		worst = err > worst ? err : worst;
		cr_assert(err <= 5000000,
			  "clock %u reads %lld, host CLOCK_REALTIME in "
			  "[%lld, %lld]: off by %lld ns",
			  id, (long long)ns, (long long)t0, (long long)t1,
			  (long long)err);
	}
	cr_log_info("worst UTC distance from host window: %lld ns",
		    (long long)worst);
	vuf_free(v);
	itest_stop(d);
}

/* 10k MONOTONIC reads with 16 in flight: non-decreasing and used in
 * the order they were made available. */
static void monotonic_ordering_run(const char *poll_ns)
{
	struct vdaemon *d = itest_start_poll(poll_ns);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	uint64_t next_cookie = 0, submitted = 0, last = 0, first = 0;
	struct virtio_rtc_req_read rd;
	const uint64_t total = 10000;

	vuf_rtc_req_read(&rd, 2);
	while (next_cookie < total) {
		struct vuf_completion c;
		uint64_t ns;
		int ret;

		while (submitted < total && vuf_inflight(v, 0) < 16) {
			ret = vuf_submit(v, 0, &rd, sizeof(rd), 16, NULL,
					 submitted++);
			cr_assert_eq(ret, 0, "%s", vuf_error(v));
		}
		cr_assert_geq(vuf_kick(v, 0), 0);
		ret = vuf_wait(v, 0, &c, 5000);
		cr_assert_eq(ret, 0, "%s", vuf_error(v));
		cr_assert_eq(c.cookie, next_cookie,
			     "request %llu used before %llu",
			     (unsigned long long)c.cookie,
			     (unsigned long long)next_cookie);
		cr_assert_eq(c.len, 16);
		cr_assert_eq(c.resp[0], VIRTIO_RTC_S_OK);
		memcpy(&ns, c.resp + 8, 8);
		ns = le64toh(ns);
		cr_assert_geq(ns, last, "MONOTONIC went back: %llu after %llu",
			      (unsigned long long)ns, (unsigned long long)last);
		if (!next_cookie) {
			first = ns;
		}
		last = ns;
		next_cookie++;
	}
	cr_assert_gt(last, first, "MONOTONIC did not advance");
	vuf_free(v);
	itest_stop(d);
}

ITEST(requests, monotonic_ordering)
{
	monotonic_ordering_run(NULL);
}

ITEST(requests, monotonic_ordering_event_driven)
{
	monotonic_ordering_run("0");
}

ITEST(requests, monotonic_ordering_busy_polling)
{
	monotonic_ordering_run("10000000");
}

/* Mixed clocks in flight: per clock, used order == avail order, and no
 * clock goes backwards. */
static void per_clock_ordering_run(const char *poll_ns)
{
	struct vdaemon *d = itest_start_poll(poll_ns);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	uint64_t last_seq[4] = { 0 }, last_ns[4] = { 0 };
	unsigned int seed = 12345, round, k;

	cr_log_info("seed %u", seed);
	for (round = 0; round < 200; round++) {
		unsigned int n = 1 + rand_r(&seed) % 64;

		for (k = 0; k < n; k++) {
			struct virtio_rtc_req_read rd;
			uint16_t id = (uint16_t)(rand_r(&seed) % 4);
			uint64_t seq = (uint64_t)round * 64 + k + 1;

			vuf_rtc_req_read(&rd, id);
			cr_assert_eq(vuf_submit(v, 0, &rd, sizeof(rd), 16, NULL,
						seq << 2 | id),
				     0, "%s", vuf_error(v));
		}
		vuf_kick(v, 0);
		for (k = 0; k < n; k++) {
			struct vuf_completion c;
			unsigned int id;
			uint64_t ns, seq;

			cr_assert_eq(vuf_wait(v, 0, &c, 5000), 0, "%s",
				     vuf_error(v));
			id = c.cookie & 3;
			seq = c.cookie >> 2;
			memcpy(&ns, c.resp + 8, 8);
			ns = le64toh(ns);
			cr_assert_eq(c.resp[0], VIRTIO_RTC_S_OK);
			cr_assert_gt(seq, last_seq[id],
				     "clock %u: request %llu used after %llu",
				     id, (unsigned long long)seq,
				     (unsigned long long)last_seq[id]);
			cr_assert_geq(ns, last_ns[id],
				      "clock %u went back by %lld ns", id,
				      (long long)(last_ns[id] - ns));
			last_seq[id] = seq;
			last_ns[id] = ns;
		}
	}
	vuf_free(v);
	itest_stop(d);
}

ITEST(requests, per_clock_ordering)
{
	per_clock_ordering_run(NULL);
}

ITEST(requests, per_clock_ordering_event_driven)
{
	per_clock_ordering_run("0");
}

ITEST(requests, per_clock_ordering_busy_polling)
{
	per_clock_ordering_run("10000000");
}

ITEST(requests, smear_utc_sls)
{
	struct vdaemon *d = itest_startl("--smear", "utc-sls");
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	struct virtio_rtc_resp_clock_cap c;
	uint16_t n = 0;

	cr_assert_eq(vuf_rtc_cfg(v, &n, NULL), 0, "%s", vuf_error(v));
	cr_assert_eq(n, 4);
	cr_assert_eq(vuf_rtc_clock_cap(v, 3, &c, NULL), 0, "%s", vuf_error(v));
	cr_assert_eq(c.type, VIRTIO_RTC_CLOCK_UTC_SMEARED);
	cr_assert_eq(c.leap_second_smearing, VIRTIO_RTC_SMEAR_UTC_SLS,
		     "variant %u", c.leap_second_smearing);
	cr_assert_eq(vuf_rtc_clock_cap(v, 0, &c, NULL), 0);
	cr_assert_eq(c.leap_second_smearing, 0);
	vuf_free(v);
	itest_stop(d);
}

ITEST(requests, clocks_utc_only)
{
	struct vdaemon *d = itest_startl("--clocks", "utc");
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	struct virtio_rtc_resp_clock_cap c;
	uint8_t st = 0;
	uint16_t n = 0;

	cr_assert_eq(vuf_rtc_cfg(v, &n, NULL), 0, "%s", vuf_error(v));
	cr_assert_eq(n, 1, "num_clocks %u", n);
	cr_assert_eq(vuf_rtc_clock_cap(v, 0, &c, NULL), 0);
	cr_assert_eq(c.type, VIRTIO_RTC_CLOCK_UTC);
	cr_assert_eq(vuf_rtc_read(v, 1, NULL), -EREMOTEIO);
	cr_assert_eq(vuf_rtc_clock_cap(v, 1, &c, &st), -EREMOTEIO);
	cr_assert_eq(st, VIRTIO_RTC_S_ENODEV);
	itest_read(v, 0);
	vuf_free(v);
	itest_stop(d);
}

ITEST(requests, clocks_order_kept)
{
	struct vdaemon *d = itest_startl("--clocks", "monotonic,utc,tai");
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	static const uint8_t want[] = { VIRTIO_RTC_CLOCK_MONOTONIC,
					VIRTIO_RTC_CLOCK_UTC,
					VIRTIO_RTC_CLOCK_TAI };
	uint16_t n = 0, id;

	cr_assert_eq(vuf_rtc_cfg(v, &n, NULL), 0, "%s", vuf_error(v));
	cr_assert_eq(n, 3, "num_clocks %u", n);
	for (id = 0; id < 3; id++) {
		struct virtio_rtc_resp_clock_cap c;

		cr_assert_eq(vuf_rtc_clock_cap(v, id, &c, NULL), 0);
		cr_assert_eq(c.type, want[id], "clock %u type %u", id, c.type);
	}
	/* TAI (clock 2 here) - UTC (clock 1) is still 37 s. */
	{
		uint64_t u = itest_read(v, 1), t = itest_read(v, 2);
		int64_t diff = (int64_t)(t - u) - 37000000000ll;

		cr_assert(diff >= 0 && diff < 50000000,
			  "TAI - UTC - 37 s = %lld ns", (long long)diff);
	}
	vuf_free(v);
	itest_stop(d);
}

/* Rings placed flush against region ends (off-by-one checks), with the
 * descriptor table in the last bytes of the high region and the avail
 * ring in the last bytes of the low one. */
ITEST(requests, rings_at_region_ends)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf_opts o;
	struct vuf *v;
	unsigned int qs;

	for (qs = 1; qs <= 1024; qs *= 4) {
		vuf_opts_init(&o);
		o.queue_size = qs;
		o.ring_gpa[0] = 0x100000000ull + (2ull << 20) - 16ull * qs;
		o.ring_gpa[1] = (2ull << 20) - (4 + 2ull * qs + 2);
		o.ring_gpa[2] = (2ull << 20) - 0x10000; /* away from avail */
		v = itest_vm(vdaemon_socket(d, 0), &o);
		if (qs == 1) {
			struct vuf_layout l = { 1, 1, true, false };
			struct virtio_rtc_req_read rd;
			struct vuf_rtc_reply r;

			vuf_rtc_req_read(&rd, 0);
			r = call(v, &rd, sizeof(rd), 16, &l);
			cr_assert_eq(r.status, VIRTIO_RTC_S_OK);
		} else {
			itest_read(v, 0);
			itest_read(v, 2);
		}
		vuf_free(v);
	}
	itest_stop(d);
}
