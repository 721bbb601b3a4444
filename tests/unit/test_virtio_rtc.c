/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for device/virtio_rtc.c request handling: every message type,
 * every status path and their precedence, exact used lengths, zeroed
 * reserved bytes, short buffers, random garbage, and READ values against
 * the clock model. The clock-set parser is in test_virtio_rtc_config.c.
 *
 * The expected sizes, offsets and reserved spans below are written out
 * from the spec tables (VIRTIO 1.4 §5.23, the message layouts), not taken from
 * the implementation.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock_model_writer.h"
#include "clock_list.h"
#include "leap.h"
#include "virtio_rtc.h"
#include "test_seed.h"

#define NS 1000000000LL
#define FILL 0xaa
/* 2025-06-01 00:00:00 UTC, far from any leap second. */
#define T_UTC_S 1748736000LL
/* 2027-06-28, the expiry of tzdata 2026f's list. */
#define T_EXPIRES_S 1814140800LL

struct msg_spec {
	const char *name;
	uint16_t type;
	size_t req_size;
	size_t resp_size;
	int clock_off;	   /* -1: none */
	int counter_off;   /* -1: none */
	uint8_t ok_status; /* for a well-formed request on clock 0, ARM_VCT */
	size_t rsv_lo;	   /* reserved request bytes besides the header, */
	size_t rsv_hi;	   /* inclusive; lo > hi means none */
};

static const struct msg_spec specs[] = {
	{ "READ", VIRTIO_RTC_REQ_READ, 16, 16, 8, -1, VIRTIO_RTC_S_OK, 10, 15 },
	{ "READ_CROSS", VIRTIO_RTC_REQ_READ_CROSS, 16, 24, 8, 10,
	  VIRTIO_RTC_S_EOPNOTSUPP, 11, 15 },
	{ "CFG", VIRTIO_RTC_REQ_CFG, 8, 16, -1, -1, VIRTIO_RTC_S_OK, 1, 0 },
	{ "CLOCK_CAP", VIRTIO_RTC_REQ_CLOCK_CAP, 16, 16, 8, -1, VIRTIO_RTC_S_OK,
	  10, 15 },
	{ "CROSS_CAP", VIRTIO_RTC_REQ_CROSS_CAP, 16, 16, 8, 10, VIRTIO_RTC_S_OK,
	  11, 15 },
	{ "READ_ALARM", VIRTIO_RTC_REQ_READ_ALARM, 16, 24, 8, -1,
	  VIRTIO_RTC_S_ENODEV, 10, 15 },
	{ "SET_ALARM", VIRTIO_RTC_REQ_SET_ALARM, 24, 8, 16, -1,
	  VIRTIO_RTC_S_ENODEV, 19, 23 },
	{ "SET_ALARM_ENABLED", VIRTIO_RTC_REQ_SET_ALARM_ENABLED, 16, 8, 8, -1,
	  VIRTIO_RTC_S_ENODEV, 11, 15 },
};

#define N_SPECS (sizeof(specs) / sizeof(specs[0]))

static struct leap_table *leaps;
static struct clock_model *model;
static struct rtcdev_config cfg;
static struct rtcdev_dev *dev;

static struct leap_table *make_leaps(void)
{
	static const struct leap_entry e[] = {
		{ 63072000, 10 },   /* 1972-01-01 */
		{ 1341100800, 35 }, /* 2012-07-01 */
		{ 1435708800, 36 }, /* 2015-07-01 */
		{ 1483228800, 37 }, /* 2017-01-01 */
	};

	return leap_table_new(e, sizeof(e) / sizeof(e[0]), T_EXPIRES_S);
}

/* A model with TAI = tai0_ns + rate * (c - now), rate 0 or 1 ns/ns. */
static void publish(int64_t tai0_ns, int64_t mono0_ns, int running)
{
	struct clock_snapshot s;

	memset(&s, 0, sizeof(s));
	s.counter = CLOCK_COUNTER_MONOTONIC_RAW;
	s.status = CLOCK_STATUS_SYNCHRONIZED;
	s.c0 = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
	s.tai0_ns = tai0_ns;
	s.mono0_ns = mono0_ns;
	s.period_q = running ? 1ull << CLOCK_PERIOD_SHIFT : 0;
	s.time_esterr_ns = 1000;
	s.time_maxerr_ns = 10000;
	s.rate_esterr_ppb = 10;
	s.rate_maxerr_ppb = 100;
	s.leaps = leaps;
	clock_model_publish(model, &s);
}

static void setup(void)
{
	leaps = make_leaps();
	cr_assert_not_null(leaps);
	model = clock_model_new();
	cr_assert_not_null(model);
	publish((T_UTC_S + 37) * NS, 5 * NS, 0);
	rtcdev_config_default(&cfg, VIRTIO_RTC_SMEAR_NOON_LINEAR);
	dev = rtcdev_dev_new(&cfg, model);
	cr_assert_not_null(dev);
}

static void teardown(void)
{
	rtcdev_dev_free(dev);
	clock_model_free(model);
	leap_table_free(leaps);
}

TestSuite(vrtc, .init = setup, .fini = teardown);

static void put16(uint8_t *b, int off, uint16_t v)
{
	v = htole16(v);
	memcpy(b + off, &v, sizeof(v));
}

static uint16_t get16(const uint8_t *b, int off)
{
	uint16_t v;

	memcpy(&v, b + off, sizeof(v));
	return le16toh(v);
}

static int64_t get64(const uint8_t *b, int off)
{
	uint64_t v;

	memcpy(&v, b + off, sizeof(v));
	return (int64_t)le64toh(v);
}

/* A well-formed request of @sp for @clock and @counter in @b (24 bytes). */
static size_t mkreq(uint8_t *b, const struct msg_spec *sp, uint16_t clock,
		    uint8_t counter)
{
	memset(b, 0, VIRTIO_RTC_REQ_MAX);
	put16(b, 0, sp->type);
	if (sp->clock_off >= 0) {
		put16(b, sp->clock_off, clock);
	}
	if (sp->counter_off >= 0) {
		b[sp->counter_off] = counter;
	}
	return sp->req_size;
}

/*
 * Run one request the way the transport does: the handler sees only
 * min(req_len, 24) request bytes (heap-allocated, so ASan catches an
 * overread) and a 24-byte response buffer pre-filled with FILL.
 */
static size_t call_dev(struct rtcdev_dev *d, const uint8_t *req, size_t req_len,
		       uint8_t *resp, size_t resp_cap)
{
	size_t n = req_len < VIRTIO_RTC_REQ_MAX ? req_len : VIRTIO_RTC_REQ_MAX;
	uint8_t *copy = malloc(n ? n : 1);
	size_t ret;

	cr_assert_not_null(copy);
	memcpy(copy, req, n);
	memset(resp, FILL, VIRTIO_RTC_RESP_MAX);
	ret = rtcdev_handle(d, copy, req_len, resp, resp_cap);
	free(copy);
	return ret;
}

static size_t call(const uint8_t *req, size_t req_len, uint8_t *resp,
		   size_t resp_cap)
{
	return call_dev(dev, req, req_len, resp, resp_cap);
}

/* Bytes [from, VIRTIO_RTC_RESP_MAX) were not written. */
static void assert_untouched(const uint8_t *resp, size_t from)
{
	size_t i;

	for (i = from; i < VIRTIO_RTC_RESP_MAX; i++) {
		cr_assert_eq(resp[i], FILL, "byte %zu written past used length",
			     i);
	}
}

/* Bytes [from, to) of @resp are zero (reserved, or the unused header). */
static void assert_zero(const uint8_t *resp, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		cr_assert_eq(resp[i], 0, "response byte %zu not zero", i);
	}
}

/* An error response of @status in a @resp_cap buffer, as the spec says. */
static void assert_error(size_t ret, const uint8_t *resp, size_t resp_cap,
			 uint8_t status, const char *what)
{
	size_t want = resp_cap < 8 ? resp_cap : 8;

	cr_assert_eq(ret, want, "%s: used %zu, want %zu", what, ret, want);
	if (want) {
		cr_assert_eq(resp[0], status, "%s: status %u, want %u", what,
			     resp[0], status);
	}
	assert_zero(resp, 1, want);
	assert_untouched(resp, want);
}

static uint8_t expect_status(uint16_t type, uint16_t clock, uint8_t counter)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];
	size_t i;

	for (i = 0; i < N_SPECS; i++) {
		if (specs[i].type == type) {
			break;
		}
	}
	cr_assert_lt(i, N_SPECS);
	mkreq(req, &specs[i], clock, counter);
	call(req, specs[i].req_size, resp, VIRTIO_RTC_RESP_MAX);
	return resp[0];
}

/* Control requests */

Test(vrtc, cfg)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX] = { 0 }, resp[VIRTIO_RTC_RESP_MAX];
	size_t ret;

	put16(req, 0, VIRTIO_RTC_REQ_CFG);
	ret = call(req, 8, resp, 16);
	cr_assert_eq(ret, 16);
	cr_assert_eq(resp[0], VIRTIO_RTC_S_OK);
	cr_assert_eq(get16(resp, 8), 4);
	assert_zero(resp, 1, 8);
	assert_zero(resp, 10, 16);
	assert_untouched(resp, 16);
}

Test(vrtc, clock_cap_each_clock)
{
	static const uint8_t type[] = { VIRTIO_RTC_CLOCK_UTC,
					VIRTIO_RTC_CLOCK_TAI,
					VIRTIO_RTC_CLOCK_MONOTONIC,
					VIRTIO_RTC_CLOCK_UTC_SMEARED };
	static const uint8_t smear[] = { 0, 0, 0,
					 VIRTIO_RTC_SMEAR_NOON_LINEAR };
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];
	uint16_t id;

	for (id = 0; id < 4; id++) {
		mkreq(req, &specs[3], id, 0);
		cr_assert_eq(call(req, 16, resp, 16), 16);
		cr_assert_eq(resp[0], VIRTIO_RTC_S_OK);
		cr_assert_eq(resp[8], type[id], "clock %u type", id);
		cr_assert_eq(resp[9], smear[id], "clock %u smearing", id);
		cr_assert_eq(resp[10], 0, "clock %u: no ALARM_CAP", id);
		assert_zero(resp, 1, 8);
		assert_zero(resp, 11, 16);
		assert_untouched(resp, 16);
	}
}

Test(vrtc, clock_cap_sls_variant)
{
	struct rtcdev_config c;
	struct rtcdev_dev *d;
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];

	rtcdev_config_default(&c, VIRTIO_RTC_SMEAR_UTC_SLS);
	d = rtcdev_dev_new(&c, model);
	mkreq(req, &specs[3], 3, 0);
	cr_assert_eq(call_dev(d, req, 16, resp, 16), 16);
	cr_assert_eq(resp[8], VIRTIO_RTC_CLOCK_UTC_SMEARED);
	cr_assert_eq(resp[9], VIRTIO_RTC_SMEAR_UTC_SLS);
	rtcdev_dev_free(d);
}

Test(vrtc, bad_clock_id_is_enodev)
{
	static const uint16_t ids[] = { 4, 5, 16, 255, 256, 0x8000, 0xffff };
	size_t i, j;

	for (i = 0; i < N_SPECS; i++) {
		if (specs[i].clock_off < 0) {
			continue;
		}
		for (j = 0; j < sizeof(ids) / sizeof(ids[0]); j++) {
			cr_assert_eq(expect_status(specs[i].type, ids[j], 0),
				     VIRTIO_RTC_S_ENODEV, "%s clock %u",
				     specs[i].name, ids[j]);
		}
	}
}

Test(vrtc, cross_cap_counters)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];
	unsigned int c;
	uint16_t id;

	for (id = 0; id < 4; id++) {
		for (c = 0; c < 2; c++) {
			mkreq(req, &specs[4], id, (uint8_t)c);
			cr_assert_eq(call(req, 16, resp, 16), 16);
			cr_assert_eq(resp[0], VIRTIO_RTC_S_OK);
			cr_assert_eq(resp[8], 0, "no CROSS_CAP yet");
			assert_zero(resp, 1, 16);
		}
	}
	/* counted by counter, for the served-requests log line */
	cr_assert_eq(rtcdev_dev_stats(dev)->cross_cap[0], 4);
	cr_assert_eq(rtcdev_dev_stats(dev)->cross_cap[1], 4);
	for (c = 2; c < 256; c++) {
		uint8_t want = c == VIRTIO_RTC_COUNTER_INVALID
				       ? VIRTIO_RTC_S_EINVAL
				       : VIRTIO_RTC_S_EOPNOTSUPP;

		cr_assert_eq(
			expect_status(VIRTIO_RTC_REQ_CROSS_CAP, 0, (uint8_t)c),
			want, "counter 0x%x", c);
	}
}

Test(vrtc, read_cross_not_supported)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];
	unsigned int c;

	for (c = 0; c < 256; c++) {
		uint8_t want = VIRTIO_RTC_S_EOPNOTSUPP;

		if (c == VIRTIO_RTC_COUNTER_INVALID) {
			want = VIRTIO_RTC_S_EINVAL;
		}
		mkreq(req, &specs[1], 2, (uint8_t)c);
		assert_error(call(req, 16, resp, 24), resp, 24, want,
			     "READ_CROSS");
	}
}

Test(vrtc, alarm_messages_enodev)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];
	uint64_t features[] = { 0, 1ull << VIRTIO_RTC_F_ALARM };
	size_t f, i;
	uint16_t id;

	for (f = 0; f < 2; f++) {
		rtcdev_dev_set_features(dev, features[f]);
		for (i = 5; i < 8; i++) {
			for (id = 0; id < 4; id++) {
				mkreq(req, &specs[i], id, 0);
				/* an enabled flag does not change anything */
				if (specs[i].type !=
				    VIRTIO_RTC_REQ_READ_ALARM) {
					req[specs[i].clock_off + 2] = 1;
				}
				assert_error(
					call(req, specs[i].req_size, resp, 24),
					resp, 24, VIRTIO_RTC_S_ENODEV,
					specs[i].name);
			}
		}
	}
}

Test(vrtc, unknown_msg_type)
{
	static const uint16_t types[] = { 0x0000, 0x0003, 0x00ff, 0x0fff,
					  0x1006, 0x1fff, 0x2000, 0x2001,
					  0x8000, 0xffff, 0x0100, 0x0010 };
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];
	size_t i, len;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		for (len = 8; len <= 24; len += 8) {
			memset(req, 0, sizeof(req));
			put16(req, 0, types[i]);
			assert_error(call(req, len, resp, 24), resp, 24,
				     VIRTIO_RTC_S_EOPNOTSUPP, "unknown type");
		}
	}
}

/* Reserved bytes and flags */

Test(vrtc, reserved_request_bytes_are_einval)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];
	size_t i, b;

	for (i = 0; i < N_SPECS; i++) {
		const struct msg_spec *sp = &specs[i];
		uint8_t want = VIRTIO_RTC_S_EINVAL;

		/* ENODEV and EOPNOTSUPP rank above request-value EINVAL */
		if (sp->ok_status != VIRTIO_RTC_S_OK) {
			want = sp->ok_status;
		}
		for (b = 2; b < sp->req_size; b++) {
			int rsv = b < 8 || (b >= sp->rsv_lo && b <= sp->rsv_hi);

			if (!rsv) {
				continue;
			}
			mkreq(req, sp, 0, 0);
			req[b] = 0x01;
			assert_error(call(req, sp->req_size, resp, 24), resp,
				     24, want, sp->name);
			mkreq(req, sp, 0, 0);
			req[b] = 0x80;
			assert_error(call(req, sp->req_size, resp, 24), resp,
				     24, want, sp->name);
		}
	}
}

Test(vrtc, bytes_past_the_request_are_ignored)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];
	size_t i, b;

	for (i = 0; i < N_SPECS; i++) {
		const struct msg_spec *sp = &specs[i];

		mkreq(req, sp, 1, 1);
		for (b = sp->req_size; b < VIRTIO_RTC_REQ_MAX; b++) {
			req[b] = 0xff;
		}
		call(req, 64, resp, 64);
		cr_assert_eq(resp[0], sp->ok_status, "%s", sp->name);
	}
}

Test(vrtc, counter_field_of_valid_counters_is_not_reserved)
{
	/* CROSS_CAP with X86_TSC: byte 10 is hw_counter, not reserved. */
	cr_assert_eq(expect_status(VIRTIO_RTC_REQ_CROSS_CAP, 3, 1),
		     VIRTIO_RTC_S_OK);
}

/* Buffer sizes */

Test(vrtc, every_short_buffer)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];
	size_t i, rl, rc, ret;

	for (i = 0; i < N_SPECS; i++) {
		const struct msg_spec *sp = &specs[i];

		mkreq(req, sp, 1, 0);
		for (rl = 0; rl <= 24; rl++) {
			for (rc = 0; rc <= 24; rc++) {
				uint8_t want = sp->ok_status;

				if (rl < 8 || rl < sp->req_size ||
				    rc < sp->resp_size) {
					want = VIRTIO_RTC_S_EINVAL;
				}
				ret = call(req, rl, resp, rc);
				if (rc == 0) {
					cr_assert_eq(ret, 0);
					assert_untouched(resp, 0);
				} else if (want == VIRTIO_RTC_S_OK) {
					cr_assert_eq(ret, sp->resp_size,
						     "%s rl %zu rc %zu",
						     sp->name, rl, rc);
					cr_assert_eq(resp[0], want);
					assert_untouched(resp, ret);
				} else {
					assert_error(ret, resp, rc, want,
						     sp->name);
				}
			}
		}
	}
}

Test(vrtc, big_buffers_give_exact_lengths)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];
	static const size_t caps[] = { 25, 32, 4096, 65536, (size_t)-1 };
	size_t i, j;

	for (i = 0; i < N_SPECS; i++) {
		for (j = 0; j < sizeof(caps) / sizeof(caps[0]); j++) {
			size_t ret, want;

			mkreq(req, &specs[i], 0, 0);
			ret = call(req, caps[j], resp, caps[j]);
			want = specs[i].ok_status == VIRTIO_RTC_S_OK
				       ? specs[i].resp_size
				       : 8;
			cr_assert_eq(ret, want, "%s cap %zu", specs[i].name,
				     caps[j]);
			cr_assert_eq(resp[0], specs[i].ok_status);
			assert_untouched(resp, ret);
		}
	}
}

Test(vrtc, precedence_combinations)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];
	size_t rc;

	/* short header: EINVAL, even for an unknown type */
	memset(req, 0xff, sizeof(req));
	for (rc = 1; rc <= 8; rc++) {
		assert_error(call(req, 7, resp, rc), resp, rc,
			     VIRTIO_RTC_S_EINVAL, "short header");
	}
	/* unknown type beats a short response buffer, whatever fits */
	memset(req, 0xff, sizeof(req));
	for (rc = 1; rc <= 8; rc++) {
		assert_error(call(req, 8, resp, rc), resp, rc,
			     VIRTIO_RTC_S_EOPNOTSUPP, "unknown type");
	}
	/* unknown type with garbage in the header's reserved bytes */
	memset(req, 0x5a, sizeof(req));
	put16(req, 0, 0x1234);
	assert_error(call(req, 24, resp, 24), resp, 24, VIRTIO_RTC_S_EOPNOTSUPP,
		     "unknown type, reserved");
	/* short request beats a bad clock */
	mkreq(req, &specs[0], 99, 0);
	assert_error(call(req, 12, resp, 16), resp, 16, VIRTIO_RTC_S_EINVAL,
		     "short req, bad clock");
	/* short response beats a bad clock */
	assert_error(call(req, 16, resp, 15), resp, 15, VIRTIO_RTC_S_EINVAL,
		     "short resp, bad clock");
	/* bad clock beats a bad counter and reserved bytes */
	mkreq(req, &specs[4], 99, 0xff);
	req[15] = 1;
	assert_error(call(req, 16, resp, 16), resp, 16, VIRTIO_RTC_S_ENODEV,
		     "bad clock, bad counter");
	/* bad clock on an alarm message */
	mkreq(req, &specs[6], 99, 0);
	assert_error(call(req, 24, resp, 8), resp, 8, VIRTIO_RTC_S_ENODEV,
		     "SET_ALARM bad clock");
	/* alarm ENODEV beats reserved bytes and unknown flags */
	mkreq(req, &specs[7], 0, 0);
	req[10] = 0xfe;
	req[12] = 1;
	assert_error(call(req, 16, resp, 8), resp, 8, VIRTIO_RTC_S_ENODEV,
		     "SET_ALARM_ENABLED flags");
	/* short request beats the alarm ENODEV */
	mkreq(req, &specs[6], 0, 0);
	assert_error(call(req, 16, resp, 8), resp, 8, VIRTIO_RTC_S_EINVAL,
		     "SET_ALARM short");
	/* unknown counter beats reserved bytes */
	mkreq(req, &specs[4], 0, 0xf0);
	req[11] = 1;
	assert_error(call(req, 16, resp, 16), resp, 16, VIRTIO_RTC_S_EOPNOTSUPP,
		     "counter 0xf0, reserved");
	/* the invalid counter is EINVAL either way */
	mkreq(req, &specs[4], 0, 0xff);
	req[11] = 1;
	assert_error(call(req, 16, resp, 16), resp, 16, VIRTIO_RTC_S_EINVAL,
		     "counter 0xff, reserved");
	/* READ_CROSS: short response for its 24 bytes beats EOPNOTSUPP */
	mkreq(req, &specs[1], 0, 0);
	assert_error(call(req, 16, resp, 16), resp, 16, VIRTIO_RTC_S_EINVAL,
		     "READ_CROSS resp 16");
	/* READ_CROSS: the limitation beats reserved bytes */
	req[13] = 1;
	assert_error(call(req, 16, resp, 24), resp, 24, VIRTIO_RTC_S_EOPNOTSUPP,
		     "READ_CROSS reserved");
	/* reserved bytes beat an execution failure (EIO) */
	{
		struct clock_model *m = clock_model_new();
		struct rtcdev_dev *d = rtcdev_dev_new(&cfg, m);

		mkreq(req, &specs[0], 0, 0);
		req[3] = 1;
		call_dev(d, req, 16, resp, 16);
		cr_assert_eq(resp[0], VIRTIO_RTC_S_EINVAL);
		req[3] = 0;
		call_dev(d, req, 16, resp, 16);
		cr_assert_eq(resp[0], VIRTIO_RTC_S_EIO);
		rtcdev_dev_free(d);
		clock_model_free(m);
	}
}

Test(vrtc, control_answers_are_constant)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX], first[3][4][VIRTIO_RTC_RESP_MAX];
	uint8_t resp[VIRTIO_RTC_RESP_MAX];
	static const int which[] = { 2, 3, 4 };
	int round, k;
	uint16_t id;

	for (round = 0; round < 3; round++) {
		if (round == 1) {
			rtcdev_dev_reset(dev);
			rtcdev_dev_set_features(dev, 0);
		}
		if (round == 2) {
			/* a model update changes nothing either */
			publish(1, 1, 1);
		}
		for (k = 0; k < 3; k++) {
			const struct msg_spec *sp = &specs[which[k]];

			for (id = 0; id < 4; id++) {
				mkreq(req, sp, id, 1);
				cr_assert_eq(call(req, sp->req_size, resp,
						  sp->resp_size),
					     sp->resp_size);
				if (round == 0) {
					memcpy(first[k][id], resp,
					       sizeof(resp));
				} else {
					cr_assert_eq(memcmp(first[k][id], resp,
							    sp->resp_size),
						     0, "%s changed", sp->name);
				}
			}
		}
	}
}

/* READ */

static int64_t read_clock(struct rtcdev_dev *d, uint16_t id)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];

	mkreq(req, &specs[0], id, 0);
	cr_assert_eq(call_dev(d, req, 16, resp, 16), 16);
	cr_assert_eq(resp[0], VIRTIO_RTC_S_OK, "READ clock %u: status %u", id,
		     resp[0]);
	assert_zero(resp, 1, 8);
	return get64(resp, 8);
}

Test(vrtc, read_frozen_model_exact)
{
	int64_t tai = (T_UTC_S + 37) * NS;

	cr_assert_eq(read_clock(dev, 1), tai);
	cr_assert_eq(read_clock(dev, 0), T_UTC_S * NS);
	cr_assert_eq(read_clock(dev, 1) - read_clock(dev, 0), 37 * NS,
		     "TAI - UTC must be 37 s with a table ending at 37");
	cr_assert_eq(read_clock(dev, 2), 5 * NS);
	/* far from a leap second the smeared clock is UTC */
	cr_assert_eq(read_clock(dev, 3), T_UTC_S * NS);
}

Test(vrtc, read_running_model_bracketed)
{
	static const enum timescale ts[] = { TIMESCALE_UTC, TIMESCALE_TAI,
					     TIMESCALE_MONOTONIC,
					     TIMESCALE_UTC_NOON_LINEAR };
	struct clock_snapshot s;
	struct clock_reading lo, hi;
	uint64_t c0, c1;
	int64_t v;
	uint16_t id;
	int k;

	publish((T_UTC_S + 37) * NS + 123456789, 42 * NS, 1);
	cr_assert_eq(clock_model_get(model, &s), 0);
	for (k = 0; k < 100; k++) {
		for (id = 0; id < 4; id++) {
			c0 = clock_counter_now(s.counter);
			v = read_clock(dev, id);
			c1 = clock_counter_now(s.counter);
			cr_assert_eq(clock_snapshot_read(&s, ts[id], c0, &lo),
				     0);
			cr_assert_eq(clock_snapshot_read(&s, ts[id], c1, &hi),
				     0);
			cr_assert(v >= lo.ns && v <= hi.ns,
				  "clock %u: %lld not in [%lld, %lld]", id,
				  (long long)v, (long long)lo.ns,
				  (long long)hi.ns);
		}
	}
}

Test(vrtc, read_before_publish_is_eio)
{
	struct clock_model *m = clock_model_new();
	struct rtcdev_dev *d = rtcdev_dev_new(&cfg, m);
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];
	uint16_t id;

	for (id = 0; id < 4; id++) {
		mkreq(req, &specs[0], id, 0);
		assert_error(call_dev(d, req, 16, resp, 16), resp, 16,
			     VIRTIO_RTC_S_EIO, "unpublished");
	}
	/* control requests do not need the model */
	mkreq(req, &specs[2], 0, 0);
	cr_assert_eq(call_dev(d, req, 8, resp, 16), 16);
	cr_assert_eq(resp[0], VIRTIO_RTC_S_OK);
	cr_assert_eq(rtcdev_dev_stats(d)->by_status[VIRTIO_RTC_S_EIO], 4);
	rtcdev_dev_free(d);
	clock_model_free(m);
}

Test(vrtc, read_out_of_range_is_eio)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];

	/* TAI 5 s after the epoch: UTC (TAI - 10 s) is before 1970 */
	publish(5 * NS, 0, 0);
	mkreq(req, &specs[0], 0, 0);
	assert_error(call(req, 16, resp, 16), resp, 16, VIRTIO_RTC_S_EIO,
		     "UTC before 1970");
	cr_assert_eq(read_clock(dev, 1), 5 * NS);
}

Test(vrtc, monotonic_never_decreases)
{
	struct rtcdev_dev *other;
	int64_t a, b;

	publish((T_UTC_S + 37) * NS, 1000 * NS, 0);
	a = read_clock(dev, 2);
	cr_assert_eq(a, 1000 * NS);
	/* the model steps MONOTONIC back: served value holds */
	publish((T_UTC_S + 37) * NS, 500 * NS, 0);
	b = read_clock(dev, 2);
	cr_assert_eq(b, a);
	/* TAI is not clamped: it may legitimately step */
	publish((T_UTC_S + 30) * NS, 500 * NS, 0);
	cr_assert_eq(read_clock(dev, 1), (T_UTC_S + 30) * NS);
	/* a reset does not lower the floor */
	rtcdev_dev_reset(dev);
	cr_assert_eq(read_clock(dev, 2), a);
	/* once the model passes the floor, its value is served again */
	publish((T_UTC_S + 37) * NS, 2000 * NS, 0);
	cr_assert_eq(read_clock(dev, 2), 2000 * NS);
	/* the floor is per device */
	publish((T_UTC_S + 37) * NS, 500 * NS, 0);
	other = rtcdev_dev_new(&cfg, model);
	cr_assert_eq(read_clock(other, 2), 500 * NS);
	cr_assert_eq(read_clock(dev, 2), 2000 * NS);
	rtcdev_dev_free(other);
}

Test(vrtc, monotonic_running_non_decreasing)
{
	int64_t prev = 0, v;
	int i;

	publish((T_UTC_S + 37) * NS, 7 * NS, 1);
	for (i = 0; i < 10000; i++) {
		v = read_clock(dev, 2);
		cr_assert_geq(v, prev);
		prev = v;
		if (i == 5000) {
			/* a republish 1 ms behind must not show */
			publish((T_UTC_S + 37) * NS, v - 1000000, 1);
		}
	}
}

Test(vrtc, stats_count_statuses)
{
	const struct rtcdev_stats *st = rtcdev_dev_stats(dev);
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];

	mkreq(req, &specs[2], 0, 0);
	call(req, 8, resp, 16); /* OK */
	call(req, 8, resp, 0);	/* EINVAL, nothing written */
	mkreq(req, &specs[0], 9, 0);
	call(req, 16, resp, 16); /* ENODEV */
	put16(req, 0, 0x4242);
	call(req, 16, resp, 16); /* EOPNOTSUPP */
	cr_assert_eq(st->requests, 4);
	cr_assert_eq(st->errors, 3);
	cr_assert_eq(st->by_status[VIRTIO_RTC_S_OK], 1);
	cr_assert_eq(st->by_status[VIRTIO_RTC_S_EINVAL], 1);
	cr_assert_eq(st->by_status[VIRTIO_RTC_S_ENODEV], 1);
	cr_assert_eq(st->by_status[VIRTIO_RTC_S_EOPNOTSUPP], 1);
}

/* Hostile input */

static uint32_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift32: reproducible from the printed seed */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static const struct msg_spec *spec_of(uint16_t type)
{
	size_t i;

	for (i = 0; i < N_SPECS; i++) {
		if (specs[i].type == type) {
			return &specs[i];
		}
	}
	return NULL;
}

Test(vrtc, random_garbage)
{
	uint32_t seed = test_seed("vrtc random_garbage");
	uint8_t req[VIRTIO_RTC_REQ_MAX], resp[VIRTIO_RTC_RESP_MAX];
	const int iters = 200000;
	int it;

	if (!seed) {
		seed = 1;
	}
	rng_state = seed;
	rtcdev_dev_set_features(dev, rnd() & 1);
	for (it = 0; it < iters; it++) {
		const struct msg_spec *sp;
		size_t rl, rc, ret, i;
		uint8_t st;

		for (i = 0; i < sizeof(req); i++) {
			req[i] = (uint8_t)rnd();
		}
		/* mostly known types, small clock ids, zero reserved */
		if (rnd() % 4) {
			put16(req, 0, specs[rnd() % N_SPECS].type);
		}
		sp = spec_of(get16(req, 0));
		if (sp && rnd() % 2) {
			mkreq(req, sp, rnd() % 6, rnd() % 3);
		}
		rl = rnd() % 4 ? rnd() % 32 : rnd();
		rc = rnd() % 4 ? rnd() % 32 : rnd();
		ret = call(req, rl, resp, rc);
		cr_assert_leq(ret, rc, "seed %u iter %d", seed, it);
		if (rc == 0) {
			cr_assert_eq(ret, 0);
			assert_untouched(resp, 0);
			continue;
		}
		st = resp[0];
		cr_assert(st == VIRTIO_RTC_S_OK || st == VIRTIO_RTC_S_EINVAL ||
				  st == VIRTIO_RTC_S_ENODEV ||
				  st == VIRTIO_RTC_S_EOPNOTSUPP ||
				  st == VIRTIO_RTC_S_EIO,
			  "seed %u iter %d: status %u", seed, it, st);
		assert_untouched(resp, ret);
		if (st != VIRTIO_RTC_S_OK) {
			assert_error(ret, resp, rc, st, "garbage");
			continue;
		}
		cr_assert_not_null(sp, "seed %u iter %d: OK for unknown type",
				   seed, it);
		cr_assert_geq(rl, sp->req_size);
		cr_assert_eq(ret, sp->resp_size, "seed %u iter %d", seed, it);
		assert_zero(resp, 1, 8);
		if (sp->type == VIRTIO_RTC_REQ_CFG) {
			cr_assert_eq(get16(resp, 8), 4);
			assert_zero(resp, 10, 16);
		} else if (sp->type == VIRTIO_RTC_REQ_CLOCK_CAP ||
			   sp->type == VIRTIO_RTC_REQ_CROSS_CAP) {
			assert_zero(resp,
				    sp->type == VIRTIO_RTC_REQ_CLOCK_CAP ? 10
									 : 8,
				    16);
		}
	}
	cr_assert_eq(rtcdev_dev_stats(dev)->requests, (uint64_t)iters);
}

/* Device-time accounting: a batch's time is split over its requests. */
Test(vrtc, busy_time_quantiles)
{
	const struct rtcdev_stats *st = rtcdev_dev_stats(dev);

	cr_expect_eq(rtcdev_stats_busy_quantile(st, 0.5), 0, "no requests yet");
	rtcdev_dev_add_busy(dev, 0, 0); /* an empty batch counts nothing */
	cr_expect_eq(rtcdev_stats_busy_quantile(st, 0.5), 0);

	rtcdev_dev_add_busy(dev, 10 * 1000, 10); /* 10 requests of 1 us */
	rtcdev_dev_add_busy(dev, 100, 1);	 /* 1 of 100 ns */
	rtcdev_dev_add_busy(dev, 1000000, 1);	 /* 1 of 1 ms: beyond */
	cr_expect_eq(st->busy_ns, 10 * 1000 + 100 + 1000000);
	/* 1 us lies in [1000, 1250): upper edge 1250 */
	cr_expect_eq(rtcdev_stats_busy_quantile(st, 0.5), 1250);
	cr_expect_eq(rtcdev_stats_busy_quantile(st, 0.0),
		     RTCDEV_BUSY_BUCKET_NS);
	cr_expect_eq(rtcdev_stats_busy_quantile(st, 0.99), UINT64_MAX);
	cr_expect_eq(rtcdev_stats_busy_quantile(st, 1.0), UINT64_MAX);
	{
		char b[32];

		/* for the log: never "inf", say it is beyond the scale */
		cr_expect_str_eq(rtcdev_stats_busy_text(st, 0.5, b, sizeof(b)),
				 "<= 1.25 us");
		cr_expect_str_eq(rtcdev_stats_busy_text(st, 0.99, b, sizeof(b)),
				 "> 31.75 us");
	}
}
