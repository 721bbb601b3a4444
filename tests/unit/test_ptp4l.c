// SPDX-License-Identifier: MIT
/*
 * Unit tests: ptp4l management client (sync/sources/ptp4l.c). Replies are built
 * here byte by byte at IEEE 1588 offsets, independently of the wire
 * structs the code under test uses.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ptp4l.h"
#include "ptp4l_wire.h"

static const struct ptp4l_req req_ts = {
	.mgmt_id = PTP4L_MID_TIME_STATUS_NP,
	.seq = 0x1234,
	.domain = 0,
	.source = { .clock_id = { 'v', 'r', 't', 'c', 0, 0, 0, 0x2a },
		    .port = 7 },
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/*
 * A RESPONSE to @r carrying a TLV of @type whose id is @id and data
 * @data (@dlen bytes); returns the message length.
 */
static size_t mk_reply(uint8_t *b, const struct ptp4l_req *r, uint16_t type,
		       uint16_t id, const uint8_t *data, size_t dlen)
{
	size_t len = 48 + 6 + dlen;

	memset(b, 0, len);
	b[0] = 0x0d;
	b[1] = 0x02;
	put16(b + 2, (uint16_t)len);
	b[4] = r->domain;
	/* sourcePortIdentity of the responder */
	memcpy(b + 20, "\x11\x22\x33\xff\xfe\x44\x55\x66", 8);
	put16(b + 28, 1);
	put16(b + 30, r->seq);
	b[32] = 0x04;
	b[33] = 0x7f;
	memcpy(b + 34, r->source.clock_id, 8);
	put16(b + 42, r->source.port);
	b[46] = 0x02; /* RESPONSE */
	put16(b + 48, type);
	put16(b + 50, (uint16_t)(2 + dlen));
	put16(b + 52, id);
	if (dlen) {
		memcpy(b + 54, data, dlen);
	}
	return len;
}

static uint8_t ts_data[50];

static void fill_ts(void)
{
	memset(ts_data, 0, sizeof(ts_data));
	put64(ts_data, (uint64_t)-1392);	    /* master_offset */
	put64(ts_data + 8, 1795255228724408932ULL); /* ingress_time */
	put32(ts_data + 16, (uint32_t)-2199);	    /* cumulative... */
	put32(ts_data + 20, 5);			    /* scaledLast... */
	put16(ts_data + 24, 3);			    /* gmTimeBase... */
	put32(ts_data + 38, 1);			    /* gmPresent */
	memcpy(ts_data + 42, "\x92\xd2\xc7\xff\xfe\x2c\xfb\x15", 8);
}

static size_t mk_ts(uint8_t *b)
{
	fill_ts();
	return mk_reply(b, &req_ts, 1, PTP4L_MID_TIME_STATUS_NP, ts_data,
			sizeof(ts_data));
}

static struct ptp4l_req req_for(uint16_t id)
{
	struct ptp4l_req r = req_ts;

	r.mgmt_id = id;
	return r;
}

Test(ptp4l, build_get_byte_exact)
{
	static const uint8_t want[54] = {
		0x0d, 0x02, 0x00, 0x36, 0x00, 0x00, 0x00, 0x00, /* hdr */
		0,    0,    0,	  0,	0,    0,    0,	  0,	/* corr */
		0,    0,    0,	  0,				/* rsvd */
		'v',  'r',  't',  'c',	0,    0,    0,	  0x2a,
		0x00, 0x07,					/* src */
		0x12, 0x34, 0x04, 0x7f,				/* seq.. */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* target */
		0xff, 0xff, 0x00, 0x00, 0x00, 0x00,		/* hops.. */
		0x00, 0x01, 0x00, 0x02, 0xc0, 0x00,		/* TLV */
	};
	uint8_t buf[64];

	memset(buf, 0xaa, sizeof(buf));
	cr_assert_eq(ptp4l_build_get(buf, sizeof(buf), &req_ts), 54);
	cr_assert_arr_eq(buf, want, sizeof(want));
	cr_assert_eq(buf[54], 0xaa, "wrote past the request");
}

Test(ptp4l, build_get_other_ids_and_errors)
{
	static const uint16_t ids[] = { 0x2001, 0x2002, 0x2003, 0x2004 };
	struct ptp4l_req r = req_ts;
	uint8_t buf[54];

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		r.mgmt_id = ids[i];
		r.domain = 24;
		cr_assert_eq(ptp4l_build_get(buf, sizeof(buf), &r), 54);
		cr_assert_eq(buf[4], 24);
		cr_assert_eq(buf[52], ids[i] >> 8);
		cr_assert_eq(buf[53], ids[i] & 0xff);
	}
	cr_assert_eq(ptp4l_build_get(buf, 53, &r), -ENOBUFS);
	r.mgmt_id = 0x2000; /* DEFAULT_DATA_SET: not ours */
	cr_assert_eq(ptp4l_build_get(buf, sizeof(buf), &r), -EINVAL);
}

Test(ptp4l, data_len)
{
	cr_assert_eq(ptp4l_data_len(PTP4L_MID_CURRENT_DATA_SET), 18);
	cr_assert_eq(ptp4l_data_len(PTP4L_MID_PARENT_DATA_SET), 32);
	cr_assert_eq(ptp4l_data_len(PTP4L_MID_TIME_PROPERTIES_DATA_SET), 4);
	cr_assert_eq(ptp4l_data_len(PTP4L_MID_PORT_DATA_SET), 26);
	cr_assert_eq(ptp4l_data_len(PTP4L_MID_TIME_STATUS_NP), 50);
	cr_assert_eq(ptp4l_data_len(0xc001), 0);
}

Test(ptp4l, parse_time_status)
{
	uint8_t b[128];
	struct ptp4l_reply out;
	size_t n = mk_ts(b);

	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), 0);
	cr_assert_eq(out.mgmt_id, PTP4L_MID_TIME_STATUS_NP);
	cr_assert_eq(out.seq, 0x1234);
	cr_assert_eq(out.source.port, 1);
	cr_assert_arr_eq(out.source.clock_id,
			 "\x11\x22\x33\xff\xfe\x44\x55\x66", 8);
	cr_assert_eq(out.ts.master_offset_ns, -1392);
	cr_assert_eq(out.ts.ingress_time_ns, 1795255228724408932LL);
	cr_assert_eq(out.ts.cumulative_scaled_rate_offset, -2199);
	cr_assert_eq(out.ts.scaled_last_gm_phase_change, 5);
	cr_assert_eq(out.ts.gm_time_base_indicator, 3);
	cr_assert(out.ts.gm_present);
	cr_assert_arr_eq(out.ts.gm_identity, ts_data + 42, 8);
}

Test(ptp4l, parse_time_props)
{
	struct ptp4l_req r = req_for(PTP4L_MID_TIME_PROPERTIES_DATA_SET);
	uint8_t d[4] = { 0x00, 0x25, 0x3d, 0x20 }, b[128];
	struct ptp4l_reply out;
	size_t n = mk_reply(b, &r, 1, r.mgmt_id, d, sizeof(d));

	cr_assert_eq(ptp4l_parse_reply(b, n, &r, &out, NULL), 0);
	cr_assert_eq(out.tp.current_utc_offset_s, 37);
	cr_assert_eq(out.tp.flags, PTP4L_TP_LEAP_61 | PTP4L_TP_UTC_OFF_VALID |
					   PTP4L_TP_PTP_TIMESCALE |
					   PTP4L_TP_TIME_TRACEABLE |
					   PTP4L_TP_FREQ_TRACEABLE);
	cr_assert_eq(out.tp.time_source, 0x20);
	d[0] = 0xff; /* negative offsets survive the sign */
	d[1] = 0xfe;
	n = mk_reply(b, &r, 1, r.mgmt_id, d, sizeof(d));
	cr_assert_eq(ptp4l_parse_reply(b, n, &r, &out, NULL), 0);
	cr_assert_eq(out.tp.current_utc_offset_s, -2);
}

Test(ptp4l, parse_port_ds)
{
	struct ptp4l_req r = req_for(PTP4L_MID_PORT_DATA_SET);
	uint8_t d[26] = { 0 }, b[128];
	struct ptp4l_reply out;
	size_t n;

	memcpy(d, "\xf6\xc5\x4a\xff\xfe\xb5\xef\x80\x00\x01", 10);
	d[10] = PTP4L_PS_SLAVE;
	d[11] = (uint8_t)-3;
	put64(d + 12, (uint64_t)(-5 * 65536));
	d[20] = (uint8_t)-2;
	d[21] = 2;
	d[22] = (uint8_t)-3;
	d[23] = 1;
	d[24] = 0;
	d[25] = 2;
	n = mk_reply(b, &r, 1, r.mgmt_id, d, sizeof(d));
	cr_assert_eq(ptp4l_parse_reply(b, n, &r, &out, NULL), 0);
	cr_assert_arr_eq(out.port.port.clock_id, d, 8);
	cr_assert_eq(out.port.port.port, 1);
	cr_assert_eq(out.port.port_state, PTP4L_PS_SLAVE);
	cr_assert_eq(out.port.log_min_delay_req_interval, -3);
	cr_assert_eq(out.port.peer_mean_path_delay_tins, -5 * 65536);
	cr_assert_eq(out.port.log_announce_interval, -2);
	cr_assert_eq(out.port.announce_receipt_timeout, 2);
	cr_assert_eq(out.port.log_sync_interval, -3);
	cr_assert_eq(out.port.delay_mechanism, 1);
	cr_assert_eq(out.port.log_min_pdelay_req_interval, 0);
	cr_assert_eq(out.port.version_number, 2);
}

Test(ptp4l, parse_parent_ds)
{
	struct ptp4l_req r = req_for(PTP4L_MID_PARENT_DATA_SET);
	uint8_t d[32] = { 0 }, b[128];
	struct ptp4l_reply out;
	size_t n;

	memcpy(d, "\x92\xd2\xc7\xff\xfe\x2c\xfb\x15\x00\x01", 10);
	d[10] = 1;
	put16(d + 12, 0xffff);
	put32(d + 14, 0x7fffffff);
	d[18] = 10;
	d[19] = 6;
	d[20] = 0x21;
	put16(d + 21, 0x4e5d);
	d[23] = 128;
	memcpy(d + 24, "\x92\xd2\xc7\xff\xfe\x2c\xfb\x15", 8);
	n = mk_reply(b, &r, 1, r.mgmt_id, d, sizeof(d));
	cr_assert_eq(ptp4l_parse_reply(b, n, &r, &out, NULL), 0);
	cr_assert_arr_eq(out.parent.parent.clock_id, d, 8);
	cr_assert_eq(out.parent.parent.port, 1);
	cr_assert_eq(out.parent.parent_stats, 1);
	cr_assert_eq(out.parent.observed_log_variance, 0xffff);
	cr_assert_eq(out.parent.observed_phase_change_rate, 0x7fffffff);
	cr_assert_eq(out.parent.gm_priority1, 10);
	cr_assert_eq(out.parent.gm_clock_class, 6);
	cr_assert_eq(out.parent.gm_clock_accuracy, 0x21);
	cr_assert_eq(out.parent.gm_log_variance, 0x4e5d);
	cr_assert_eq(out.parent.gm_priority2, 128);
	cr_assert_arr_eq(out.parent.gm_identity, d + 24, 8);
}

Test(ptp4l, parse_current_ds)
{
	struct ptp4l_req r = req_for(PTP4L_MID_CURRENT_DATA_SET);
	uint8_t d[18], b[128];
	struct ptp4l_reply out;
	size_t n;

	put16(d, 1);
	put64(d + 2, (uint64_t)(-1392LL * 65536 - 0x8000));
	put64(d + 10, (uint64_t)(2534LL * 65536));
	n = mk_reply(b, &r, 1, r.mgmt_id, d, sizeof(d));
	cr_assert_eq(ptp4l_parse_reply(b, n, &r, &out, NULL), 0);
	cr_assert_eq(out.cur.steps_removed, 1);
	cr_assert_eq(out.cur.offset_from_master_tins, -1392LL * 65536 - 0x8000);
	cr_assert_eq(ptp4l_tins_to_ns(out.cur.offset_from_master_tins), -1393);
	cr_assert_eq(out.cur.mean_path_delay_tins, 2534LL * 65536);
}

Test(ptp4l, accepts_minor_version_and_transport_specific)
{
	uint8_t b[128];
	struct ptp4l_reply out;
	size_t n = mk_ts(b);

	b[0] = 0x1d; /* transportSpecific 1 */
	b[1] = 0x12; /* 1588-2019 minorVersionPTP 1 */
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), 0);
}

Test(ptp4l, hostile_lengths)
{
	uint8_t b[PTP4L_MAX_MSG + 8];
	struct ptp4l_reply out;
	size_t n = mk_ts(b);

	/* every truncation, with and without a matching messageLength */
	for (size_t l = 0; l < n; l++) {
		cr_assert_lt(ptp4l_parse_reply(b, l, &req_ts, &out, NULL), 0,
			     "truncated to %zu accepted", l);
		mk_ts(b);
		put16(b + 2, (uint16_t)l);
		cr_assert_lt(ptp4l_parse_reply(b, l, &req_ts, &out, NULL), 0,
			     "truncated to %zu (length fixed) accepted", l);
		mk_ts(b);
	}
	/* trailing byte, messageLength agreeing, TLV length not */
	n = mk_ts(b);
	b[n] = 0;
	put16(b + 2, (uint16_t)(n + 1));
	cr_assert_eq(ptp4l_parse_reply(b, n + 1, &req_ts, &out, NULL),
		     -EBADMSG);
	/* messageLength lies, both ways */
	n = mk_ts(b);
	put16(b + 2, (uint16_t)(n + 2));
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -EBADMSG);
	put16(b + 2, (uint16_t)(n - 2));
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -EBADMSG);
	/* oversized datagram */
	memset(b + n, 0, sizeof(b) - n);
	put16(b + 2, PTP4L_MAX_MSG + 1);
	cr_assert_eq(
		ptp4l_parse_reply(b, PTP4L_MAX_MSG + 1, &req_ts, &out, NULL),
		-EBADMSG);
}

Test(ptp4l, hostile_tlv_lengths)
{
	static const uint16_t lies[] = { 0, 1, 2, 51, 53, 0xffff };
	uint8_t b[256];
	struct ptp4l_reply out;
	size_t n;

	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		n = mk_ts(b);
		put16(b + 50, lies[i]);
		cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL),
			     -EBADMSG, "TLV length %u", lies[i]);
	}
	/* consistent framing but a truncated data set (49 of 50 bytes) */
	fill_ts();
	n = mk_reply(b, &req_ts, 1, PTP4L_MID_TIME_STATUS_NP, ts_data, 49);
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -EBADMSG);
	/* ... and an overlong one */
	n = mk_reply(b, &req_ts, 1, PTP4L_MID_TIME_STATUS_NP, b + 200, 52);
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -EBADMSG);
}

Test(ptp4l, hostile_header_fields)
{
	uint8_t b[128];
	struct ptp4l_reply out;
	struct ptp4l_req r;
	size_t n;

	n = mk_ts(b);
	b[1] = 0x01; /* PTP v1 */
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -EPROTO);
	b[1] = 0x03;
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -EPROTO);
	n = mk_ts(b);
	b[0] = 0x0b; /* ANNOUNCE */
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -EPROTO);
	n = mk_ts(b);
	b[46] = PTP4L_ACTION_GET; /* our own request echoed back */
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -EPROTO);
	b[46] = PTP4L_ACTION_ACK;
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -EPROTO);
	n = mk_ts(b);
	put16(b + 30, 0x1235); /* sequenceId */
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -ESTALE);
	n = mk_ts(b);
	b[4] = 1; /* domain */
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -ESTALE);
	n = mk_ts(b);
	b[43] ^= 1; /* target port: someone else's reply */
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -ESTALE);
	n = mk_ts(b);
	memset(b + 34, 0xff, 10); /* wildcard target is not us either */
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -ESTALE);
	/* a well-formed reply to another managementId */
	r = req_for(PTP4L_MID_CURRENT_DATA_SET);
	n = mk_ts(b);
	cr_assert_eq(ptp4l_parse_reply(b, n, &r, &out, NULL), -ESTALE);
	/* unknown TLV type */
	n = mk_ts(b);
	put16(b + 48, 0x0003);
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -EPROTO);
}

Test(ptp4l, error_status)
{
	uint8_t d[6] = { 0xc0, 0x00, 0, 0, 0, 0 }, b[128];
	uint8_t text[10] = { 0xc0, 0x00, 0, 0, 0, 0, 3, 'a', 'b', 'c' };
	struct ptp4l_reply out;
	uint16_t err_id = 0;
	size_t n;

	n = mk_reply(b, &req_ts, 2, 0x0006, d, sizeof(d));
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, &err_id),
		     -EOPNOTSUPP);
	cr_assert_eq(err_id, 0x0006);
	n = mk_reply(b, &req_ts, 2, 0x0002, d, sizeof(d));
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -EOPNOTSUPP);
	n = mk_reply(b, &req_ts, 2, 0xfffe, text, sizeof(text));
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, &err_id),
		     -EREMOTEIO);
	cr_assert_eq(err_id, 0xfffe);
	/* too short for managementId + reserved */
	n = mk_reply(b, &req_ts, 2, 0x0006, d, 4);
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -EBADMSG);
	/* an error about another request */
	d[1] = 0x01;
	n = mk_reply(b, &req_ts, 2, 0x0006, d, sizeof(d));
	cr_assert_eq(ptp4l_parse_reply(b, n, &req_ts, &out, NULL), -ESTALE);
}

Test(ptp4l, accuracy_decoding)
{
	static const struct {
		uint8_t acc;
		uint64_t ns;
	} known[] = {
		{ 0x17, 1 },	       { 0x1d, 1 },
		{ 0x1e, 3 },	       { 0x1f, 10 },
		{ 0x20, 25 },	       { 0x21, 100 },
		{ 0x22, 250 },	       { 0x23, 1000 },
		{ 0x24, 2500 },	       { 0x25, 10000 },
		{ 0x26, 25000 },       { 0x27, 100000 },
		{ 0x28, 250000 },      { 0x29, 1000000 },
		{ 0x2a, 2500000 },     { 0x2b, 10000000 },
		{ 0x2c, 25000000 },    { 0x2d, 100000000 },
		{ 0x2e, 250000000 },   { 0x2f, 1000000000 },
		{ 0x30, 10000000000 },
	};
	static const uint8_t unknown[] = { 0x00, 0x16, 0x31, 0x80, 0xfe, 0xff };
	uint64_t ns;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		cr_assert_eq(ptp4l_accuracy_ns(known[i].acc, &ns), 0);
		cr_assert_eq(ns, known[i].ns, "0x%02x", known[i].acc);
	}
	for (size_t i = 0; i < sizeof(unknown); i++) {
		ns = 42;
		cr_assert_eq(ptp4l_accuracy_ns(unknown[i], &ns), -ENOENT);
		cr_assert_eq(ns, 42);
	}
}

Test(ptp4l, tins_to_ns)
{
	cr_assert_eq(ptp4l_tins_to_ns(0), 0);
	cr_assert_eq(ptp4l_tins_to_ns(1), 1);
	cr_assert_eq(ptp4l_tins_to_ns(-1), -1);
	cr_assert_eq(ptp4l_tins_to_ns(65536), 1);
	cr_assert_eq(ptp4l_tins_to_ns(65537), 2);
	cr_assert_eq(ptp4l_tins_to_ns(2534LL * 65536), 2534);
	cr_assert_eq(ptp4l_tins_to_ns(INT64_MIN), INT64_MIN / 65536);
	cr_assert_eq(ptp4l_tins_to_ns(INT64_MAX), INT64_MAX / 65536 + 1);
}

Test(ptp4l, error_budget)
{
	struct ptp4l_time_status ts = { .master_offset_ns = -1392,
					.ingress_time_ns =
						1795255228724408932LL,
					.gm_present = true };
	struct ptp4l_current_ds cur = { .mean_path_delay_tins =
						2534LL * 65536 + 1 };
	struct ptp4l_parent_ds p = { .gm_clock_accuracy = 0x21 };
	uint64_t b = 0;

	cr_assert_eq(ptp4l_error_budget_ns(&ts, &cur, &p, 5000000, &b), 0);
	cr_assert_eq(b, 1392 + 2535 + 100);
	p.gm_clock_accuracy = PTP4L_ACCURACY_UNKNOWN;
	cr_assert_eq(ptp4l_error_budget_ns(&ts, &cur, &p, 5000000, &b), 0);
	cr_assert_eq(b, 1392 + 2535 + 5000000);
	/* a negative path delay counts by its size */
	cur.mean_path_delay_tins = -7 * 65536;
	ts.master_offset_ns = 3;
	cr_assert_eq(ptp4l_error_budget_ns(&ts, &cur, &p, 0, &b), 0);
	cr_assert_eq(b, 10);
	/* saturation */
	ts.master_offset_ns = INT64_MIN;
	cur.mean_path_delay_tins = INT64_MIN;
	cr_assert_eq(ptp4l_error_budget_ns(&ts, &cur, &p, UINT64_MAX, &b), 0);
	cr_assert_eq(b, UINT64_MAX);
	ts.gm_present = false;
	b = 1;
	cr_assert_eq(ptp4l_error_budget_ns(&ts, &cur, &p, 0, &b), -ENOLINK);
	cr_assert_eq(b, 1);
}

/*
 * What ptp4l answers when it has measured nothing: a slave whose NIC gives
 * no Rx timestamps has a grandmaster (gmPresent) but its servo never ran,
 * so master_offset, ingress_time and meanPathDelay stay 0. That is no
 * lock, whatever the zero offset looks like.
 */
Test(ptp4l, error_budget_never_measured)
{
	struct ptp4l_time_status ts = { .gm_present = true };
	struct ptp4l_current_ds cur = { 0 };
	struct ptp4l_parent_ds p = { .gm_clock_accuracy = 0x21 };
	uint64_t b = 7;

	/* no timestamped Sync yet: all zero */
	cr_assert_eq(ptp4l_error_budget_ns(&ts, &cur, &p, 0, &b), -ENODATA);
	cr_assert_eq(b, 7);
	/* a path delay but no Sync ingress yet */
	cur.mean_path_delay_tins = 2534LL * 65536;
	cr_assert_eq(ptp4l_error_budget_ns(&ts, &cur, &p, 0, &b), -ENODATA);
	/* Syncs stamped, but no path delay: no offset computed */
	ts.ingress_time_ns = 1795255228724408932LL;
	cur.mean_path_delay_tins = 0;
	cr_assert_eq(ptp4l_error_budget_ns(&ts, &cur, &p, 0, &b), -ENODATA);
	cr_assert_eq(b, 7);
	/* a measured offset of exactly 0 is fine with a path delay ... */
	cur.mean_path_delay_tins = 1;
	cr_assert_eq(ptp4l_error_budget_ns(&ts, &cur, &p, 0, &b), 0);
	cr_assert_eq(b, 1 + 100);
	/* ... and a path delay of exactly 0 with an offset */
	cur.mean_path_delay_tins = 0;
	ts.master_offset_ns = -1;
	cr_assert_eq(ptp4l_error_budget_ns(&ts, &cur, &p, 0, &b), 0);
	cr_assert_eq(b, 1 + 100);
	/* no grandmaster still says so first */
	ts.gm_present = false;
	cr_assert_eq(ptp4l_error_budget_ns(&ts, &cur, &p, 0, &b), -ENOLINK);
}

/* A fake ptp4l: a datagram socket bound in a temp dir. */
struct fake {
	char dir[64];
	char path[128];
	int fd;
};

static void fake_start(struct fake *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(f->dir, "/tmp/vrtc-ptp4l-test.XXXXXX");
	cr_assert(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/ptp4l", f->dir);
	f->fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	cr_assert_geq(f->fd, 0);
	strcpy(sa.sun_path, f->path);
	cr_assert_eq(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void fake_stop(struct fake *f)
{
	close(f->fd);
	unlink(f->path);
	cr_assert_eq(rmdir(f->dir), 0, "client left its socket behind");
}

/* Receive a GET; return its request fields and the sender's address. */
static void fake_recv(struct fake *f, struct ptp4l_req *r,
		      struct sockaddr_un *from, socklen_t *flen)
{
	uint8_t b[128];
	ssize_t n;

	*flen = sizeof(*from);
	n = recvfrom(f->fd, b, sizeof(b), 0, (struct sockaddr *)from, flen);
	cr_assert_eq(n, 54);
	cr_assert_eq(b[0], 0x0d);
	cr_assert_eq(b[46], PTP4L_ACTION_GET);
	memcpy(r->source.clock_id, b + 20, 8);
	r->source.port = (uint16_t)(b[28] << 8 | b[29]);
	r->seq = (uint16_t)(b[30] << 8 | b[31]);
	r->domain = b[4];
	r->mgmt_id = (uint16_t)(b[52] << 8 | b[53]);
}

Test(ptp4l, client_roundtrip_nonblocking)
{
	struct ptp4l_client_opts o = { 0 };
	struct ptp4l_client *c = NULL;
	struct ptp4l_reply out;
	struct sockaddr_un from;
	socklen_t flen;
	struct ptp4l_req r;
	struct fake f;
	uint8_t b[128];
	size_t n;

	fake_start(&f);
	o.server_path = f.path;
	o.bind_dir = f.dir;
	cr_assert_eq(ptp4l_client_new(&o, &c), 0);
	cr_assert_str_eq(ptp4l_client_server_path(c), f.path);
	cr_assert_eq(ptp4l_client_recv(c, &out, NULL), -EAGAIN);
	cr_assert_eq(ptp4l_client_send_get(c, PTP4L_MID_TIME_STATUS_NP), 0);
	fake_recv(&f, &r, &from, &flen);
	cr_assert_eq(r.mgmt_id, PTP4L_MID_TIME_STATUS_NP);
	fill_ts();
	/* a stale reply first, then garbage, then the answer */
	r.seq--;
	n = mk_reply(b, &r, 1, r.mgmt_id, ts_data, sizeof(ts_data));
	sendto(f.fd, b, n, 0, (struct sockaddr *)&from, flen);
	sendto(f.fd, "junk", 4, 0, (struct sockaddr *)&from, flen);
	r.seq++;
	n = mk_reply(b, &r, 1, r.mgmt_id, ts_data, sizeof(ts_data));
	sendto(f.fd, b, n, 0, (struct sockaddr *)&from, flen);
	cr_assert_eq(ptp4l_client_recv(c, &out, NULL), -ESTALE);
	cr_assert_eq(ptp4l_client_recv(c, &out, NULL), -EBADMSG);
	cr_assert_eq(ptp4l_client_recv(c, &out, NULL), 0);
	cr_assert_eq(out.ts.master_offset_ns, -1392);
	/* a duplicate after the answer: nothing outstanding */
	sendto(f.fd, b, n, 0, (struct sockaddr *)&from, flen);
	cr_assert_eq(ptp4l_client_recv(c, &out, NULL), -EALREADY);
	cr_assert_eq(ptp4l_client_recv(c, &out, NULL), -EAGAIN);
	/* sequence ids advance */
	cr_assert_eq(ptp4l_client_send_get(c, PTP4L_MID_PORT_DATA_SET), 0);
	fake_recv(&f, &r, &from, &flen);
	cr_assert_eq(r.seq, out.seq + 1);
	cr_assert_eq(ptp4l_client_send_get(c, 0x1234), -EINVAL);
	ptp4l_client_free(c);
	fake_stop(&f);
}

Test(ptp4l, client_blocking_get_and_timeout)
{
	struct ptp4l_client_opts o = { 0 };
	struct ptp4l_client *c = NULL;
	struct ptp4l_reply out;
	struct sockaddr_un from;
	socklen_t flen;
	struct ptp4l_req r;
	struct fake f;
	uint8_t b[PTP4L_MAX_MSG + 100];
	size_t n;

	fake_start(&f);
	o.server_path = f.path;
	o.bind_dir = f.dir;
	cr_assert_eq(ptp4l_client_new(&o, &c), 0);
	/* nobody answers */
	cr_assert_eq(ptp4l_client_get(c, PTP4L_MID_TIME_STATUS_NP, 50, &out),
		     -ETIMEDOUT);
	fake_recv(&f, &r, &from, &flen);
	/* the late answer to it, and an oversized datagram, are skipped */
	fill_ts();
	n = mk_reply(b, &r, 1, r.mgmt_id, ts_data, sizeof(ts_data));
	sendto(f.fd, b, n, 0, (struct sockaddr *)&from, flen);
	memset(b, 0, sizeof(b));
	sendto(f.fd, b, sizeof(b), 0, (struct sockaddr *)&from, flen);
	cr_assert_eq(ptp4l_client_recv(c, &out, NULL), -EALREADY);
	cr_assert_eq(ptp4l_client_send_get(c, PTP4L_MID_TIME_STATUS_NP), 0);
	cr_assert_eq(ptp4l_client_recv(c, &out, NULL), -EBADMSG);
	fake_recv(&f, &r, &from, &flen);
	/* error status ends a blocking get */
	{
		uint8_t d[6] = { 0xc0, 0x00 };

		n = mk_reply(b, &r, 2, 0x0006, d, sizeof(d));
		sendto(f.fd, b, n, 0, (struct sockaddr *)&from, flen);
		cr_assert_eq(ptp4l_client_recv(c, &out, NULL), -EOPNOTSUPP);
	}
	ptp4l_client_free(c);
	fake_stop(&f);
}

Test(ptp4l, client_errors)
{
	struct ptp4l_client_opts o = { 0 };
	struct ptp4l_client *c = NULL;
	char longdir[200];
	struct fake f;

	fake_start(&f);
	o.bind_dir = f.dir;
	o.server_path = "/nonexistent/ptp4l";
	cr_assert_eq(ptp4l_client_new(&o, &c), -ENOENT);
	cr_assert_null(c);
	memset(longdir, 'x', sizeof(longdir) - 1);
	longdir[sizeof(longdir) - 1] = 0;
	o.server_path = longdir;
	cr_assert_eq(ptp4l_client_new(&o, &c), -ENAMETOOLONG);
	o.server_path = f.path;
	o.bind_dir = longdir;
	cr_assert_eq(ptp4l_client_new(&o, &c), -ENAMETOOLONG);
	ptp4l_client_free(NULL);
	fake_stop(&f); /* fails if a socket was left in f.dir */
}

/* Real ptp4l 3.1.1 replies (the fuzz seeds), captured from a slave. */
static size_t load(const char *name, uint8_t *b, size_t len)
{
	char path[128];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "tests/fuzz/corpus/ptp4l/%s.bin", name);
	f = fopen(path, "rb");
	cr_assert(f, "%s (run from the repository root)", path);
	n = fread(b, 1, len, f);
	fclose(f);
	return n;
}

Test(ptp4l, real_replies)
{
	static const struct {
		const char *name;
		uint16_t id;
		int ret;
	} cases[] = {
		{ "slave_current_ds", 0x2001, 0 },
		{ "slave_parent_ds", 0x2002, 0 },
		{ "slave_time_props", 0x2003, 0 },
		{ "slave_port_ds", 0x2004, 0 },
		{ "slave_time_status", 0xc000, 0 },
		{ "slave_error_no_such_id", 0xc00b, -EOPNOTSUPP },
	};
	struct ptp4l_req r = req_ts;
	struct ptp4l_reply out;
	uint8_t b[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = load(cases[i].name, b, sizeof(b));

		r.mgmt_id = cases[i].id;
		r.seq = (uint16_t)(b[30] << 8 | b[31]);
		cr_assert_eq(ptp4l_parse_reply(b, n, &r, &out, NULL),
			     cases[i].ret, "%s", cases[i].name);
		if (cases[i].id == PTP4L_MID_PARENT_DATA_SET) {
			cr_assert_eq(out.parent.gm_clock_class, 6);
			cr_assert_eq(out.parent.gm_clock_accuracy, 0x21);
		} else if (cases[i].id == PTP4L_MID_TIME_PROPERTIES_DATA_SET) {
			cr_assert_eq(out.tp.current_utc_offset_s, 36);
			cr_assert_eq(out.tp.time_source, 0x50);
		} else if (cases[i].id == PTP4L_MID_PORT_DATA_SET) {
			cr_assert_eq(out.port.port_state,
				     PTP4L_PS_UNCALIBRATED);
		} else if (cases[i].id == PTP4L_MID_TIME_STATUS_NP) {
			cr_assert(out.ts.gm_present);
		}
		/* the reply answers request r and no other */
		r.seq++;
		cr_assert_eq(ptp4l_parse_reply(b, n, &r, &out, NULL), -ESTALE);
	}
}
