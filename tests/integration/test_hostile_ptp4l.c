// SPDX-License-Identifier: MIT
/*
 * A hostile ptp4l over a REAL Unix datagram management socket (the fake
 * of harness_fakepeer.h) against our ptp4l client and the PHC source's
 * ptp4l companion: short, oversized, wrong-length, wrong-version,
 * wrong-type, wrong-action, TLV overrunning the message, wrong
 * sequence/domain/target/managementId, error statuses, absurd values,
 * foreign senders, floods and silence. Each is rejected with its
 * documented -errno (ptp4l.h), within the documented time, without fd
 * leaks (counted) or memory leaks (ASan/LSan build), and the next good
 * reply is accepted. The chronyd side is test_hostile_peers.c.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_fakepeer.h"
#include "leap.h"
#include "ptp4l.h"
#include "ptp4l_wire.h"
#include "source.h"
#include "source_phc.h"

#define NS_PER_MS 1000000LL
/*
 * A non-blocking call that took longer than NONBLOCK_NS waited for
 * something (a blocking wait here is a 250 ms resend or a whole
 * timeout); SLACK_MS is what a timeout may overrun by. Both leave room
 * for a loaded 2-core CI machine (load 8 seen) under ASan.
 */
#define NONBLOCK_NS (100 * NS_PER_MS)
#define SLACK_MS 200
#define FLOOD_QUEUED 9 /* net.unix.max_dgram_qlen 10, less the reply */
#define HDR_LEN sizeof(struct ptp4l_wire_mgmt)
#define TLV_LEN sizeof(struct ptp4l_wire_tlv)

static char dir[64], srv_path[96];
static struct fake_peer peer = { .fd = -1 };
static int fds_before;

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	strcpy(dir, "/tmp/vrtc-hptp.XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(srv_path, sizeof(srv_path), "%s/ptp4l", dir);
	fds_before = fake_peer_fd_count();
	fake_peer_open(&peer, srv_path);
}

static void teardown(void)
{
	char cmd[96];

	fake_peer_close(&peer);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(hostile_ptp4l, .init = setup, .fini = teardown, .timeout = 60.0);

static void expect_no_fd_leak(void)
{
	fake_peer_close(&peer);
	cr_assert_eq(fake_peer_fd_count(), fds_before, "fds leaked");
}

/* What the fake answers (the data sets a PHC source asks for). */
static int16_t utc_offset_s = 37;
static int64_t master_offset_ns = -1234, path_delay_ns = 5678;
static uint64_t ingress_time_ns = 1795255228724408932ULL; /* 0: no Sync yet */
#define BUDGET_NS (1234 + 5678 + 100) /* clockAccuracy 0x21: 100 ns */

static size_t data_set(uint16_t id, uint8_t *d)
{
	switch (id) {
	case PTP4L_MID_TIME_PROPERTIES_DATA_SET: {
		struct ptp4l_wire_time_props w = {
			.current_utc_offset = (int16_t)htobe16(utc_offset_s),
			.flags = PTP4L_TP_UTC_OFF_VALID |
				 PTP4L_TP_TIME_TRACEABLE | PTP4L_TP_LEAP_61,
			.time_source = 0x20,
		};

		memcpy(d, &w, sizeof(w));
		return sizeof(w);
	}
	case PTP4L_MID_TIME_STATUS_NP: {
		struct ptp4l_wire_time_status w = {
			.master_offset = (int64_t)htobe64(master_offset_ns),
			.ingress_time = (int64_t)htobe64(ingress_time_ns),
			.gm_present = (int32_t)htobe32(1),
		};

		memcpy(d, &w, sizeof(w));
		return sizeof(w);
	}
	case PTP4L_MID_CURRENT_DATA_SET: {
		struct ptp4l_wire_current_ds w = {
			.steps_removed = htobe16(1),
			.mean_path_delay =
				(int64_t)htobe64((uint64_t)path_delay_ns << 16),
		};

		memcpy(d, &w, sizeof(w));
		return sizeof(w);
	}
	case PTP4L_MID_PARENT_DATA_SET: {
		struct ptp4l_wire_parent_ds w = {
			.gm_quality = { .clock_class = 6,
					.clock_accuracy = 0x21 },
		};

		memcpy(d, &w, sizeof(w));
		return sizeof(w);
	}
	default:
		cr_assert_fail("GET of 0x%04x", id);
		return 0;
	}
}

/* The fake takes a GET; returns it (header and managementId). */
static struct ptp4l_wire_mgmt take_get(uint16_t *id)
{
	uint8_t buf[512];
	struct ptp4l_wire_mgmt m;
	struct ptp4l_wire_tlv t;
	ssize_t n = fake_peer_take(&peer, buf, sizeof(buf), 1000);

	cr_assert_eq(n, PTP4L_REQ_LEN, "request of %zd bytes", n);
	memcpy(&m, buf, sizeof(m));
	memcpy(&t, buf + HDR_LEN, sizeof(t));
	cr_assert_eq(m.action, PTP4L_ACTION_GET);
	*id = be16toh(t.id);
	return m;
}

/* ptp4l's answer to @q: returns its length in @b (>= 2048 bytes). */
static size_t build_reply(uint8_t *b, const struct ptp4l_wire_mgmt *q,
			  uint16_t id)
{
	struct ptp4l_wire_mgmt m = *q;
	struct ptp4l_wire_tlv t;
	size_t dlen = data_set(id, b + HDR_LEN + TLV_LEN);

	m.target = q->hdr.source;
	memset(m.hdr.source.clock_id, 0x22, sizeof(m.hdr.source.clock_id));
	m.hdr.source.port = htobe16(1);
	m.action = PTP4L_ACTION_RESPONSE;
	m.hdr.msg_len = htobe16((uint16_t)(HDR_LEN + TLV_LEN + dlen));
	t.type = htobe16(PTP4L_TLV_MANAGEMENT);
	t.len = htobe16((uint16_t)(2 + dlen));
	t.id = htobe16(id);
	memcpy(b, &m, sizeof(m));
	memcpy(b + HDR_LEN, &t, sizeof(t));
	return HDR_LEN + TLV_LEN + dlen;
}

static void answer(const struct ptp4l_wire_mgmt *q, uint16_t id)
{
	uint8_t b[2048];
	size_t len = build_reply(b, q, id);

	cr_assert_eq(fake_peer_send(&peer, b, len, 1), 0);
}

static struct ptp4l_client *client_open(void)
{
	struct ptp4l_client_opts o = { .server_path = srv_path,
				       .bind_dir = dir };
	struct ptp4l_client *c = NULL;

	cr_assert_eq(ptp4l_client_new(&o, &c), 0);
	return c;
}

static void expect_rx(struct ptp4l_client *c, int want, const char *what)
{
	struct ptp4l_reply r;
	int64_t t0 = fake_peer_mono_ns();
	int ret = ptp4l_client_recv(c, &r, NULL);

	cr_assert_lt(fake_peer_mono_ns() - t0, NONBLOCK_NS, "%s: waited", what);
	cr_assert_eq(ret, want, "%s: got %d (%s), want %d", what, ret,
		     strerror(-ret), want);
	if (!ret) {
		cr_assert_eq(r.tp.current_utc_offset_s, utc_offset_s);
	}
}

/* A hostile edit of a good reply in @b (*@len bytes). */
struct ptp_case {
	const char *name;
	int err;
	void (*mutate)(struct ptp4l_wire_mgmt *m, struct ptp4l_wire_tlv *t,
		       uint8_t *b, size_t *len);
};

#define CASE(n, body)                                                          \
	static void pm_##n(struct ptp4l_wire_mgmt *m,                          \
			   struct ptp4l_wire_tlv *t, uint8_t *b, size_t *len)  \
	{                                                                      \
		body;                                                          \
	}
CASE(short_msg, *len = 30)
CASE(short_tlv, *len = PTP4L_REQ_LEN)
CASE(oversized, (*len = 1600, m->hdr.msg_len = htobe16(1600)))
CASE(length_field, m->hdr.msg_len = htobe16(be16toh(m->hdr.msg_len) + 2))
CASE(trailing, (*len += 4, m->hdr.msg_len = htobe16((uint16_t)*len)))
CASE(tlv_overrun, t->len = htobe16(be16toh(t->len) + 100))
CASE(tlv_underrun, (t->len = htobe16(2), *len = PTP4L_REQ_LEN,
		    m->hdr.msg_len = htobe16(PTP4L_REQ_LEN)))
CASE(version, m->hdr.ver = 1)
CASE(msg_type, m->hdr.tsmt = 0x0b)
CASE(action_get, m->action = PTP4L_ACTION_GET)
CASE(action_ack, m->action = PTP4L_ACTION_ACK)
CASE(tlv_type, t->type = htobe16(0x0003))
CASE(sequence, m->hdr.seq = htobe16(be16toh(m->hdr.seq) + 1))
CASE(domain, m->hdr.domain = 7)
CASE(target, m->target.port ^= htobe16(0x100))
CASE(mgmt_id, t->id = htobe16(PTP4L_MID_PARENT_DATA_SET))
#define ERR_TLV(err_id)                                                        \
	struct ptp4l_wire_error e = {                                          \
		.mgmt_id = htobe16(PTP4L_MID_TIME_PROPERTIES_DATA_SET)         \
	};                                                                     \
	t->type = htobe16(PTP4L_TLV_MANAGEMENT_ERROR_STATUS);                  \
	t->id = htobe16(err_id);                                               \
	t->len = htobe16(2 + sizeof(e));                                       \
	memcpy(b + HDR_LEN + TLV_LEN, &e, sizeof(e));                          \
	*len = HDR_LEN + TLV_LEN + sizeof(e);                                  \
	m->hdr.msg_len = htobe16((uint16_t)*len)
CASE(not_supported, ERR_TLV(0x0006))
CASE(wrong_length_error, ERR_TLV(0x0003))
#undef ERR_TLV
#undef CASE

#define C(n, e)                                                                \
	{                                                                      \
#n, e, pm_##n                                                  \
	}
static const struct ptp_case ptp_cases[] = {
	C(short_msg, -EBADMSG),
	C(short_tlv, -EBADMSG),
	C(oversized, -EBADMSG),
	C(length_field, -EBADMSG),
	C(trailing, -EBADMSG),
	C(tlv_overrun, -EBADMSG),
	C(tlv_underrun, -EBADMSG),
	C(version, -EPROTO),
	C(msg_type, -EPROTO),
	C(action_get, -EPROTO),
	C(action_ack, -EPROTO),
	C(tlv_type, -EPROTO),
	C(sequence, -ESTALE),
	C(domain, -ESTALE),
	C(target, -ESTALE),
	C(mgmt_id, -ESTALE),
	C(not_supported, -EOPNOTSUPP),
	C(wrong_length_error, -EREMOTEIO),
};
#undef C

Test(hostile_ptp4l, each_bad_reply_rejected_then_good_one_accepted)
{
	struct ptp4l_client *c = client_open();

	for (size_t i = 0; i < sizeof(ptp_cases) / sizeof(*ptp_cases); i++) {
		const struct ptp_case *k = &ptp_cases[i];
		uint8_t b[2048] = { 0 };
		struct ptp4l_wire_mgmt m, q;
		struct ptp4l_wire_tlv t;
		uint16_t id;
		size_t len;

		cr_assert_eq(ptp4l_client_send_get(
				     c, PTP4L_MID_TIME_PROPERTIES_DATA_SET),
			     0);
		q = take_get(&id);
		len = build_reply(b, &q, id);
		memcpy(&m, b, sizeof(m));
		memcpy(&t, b + HDR_LEN, sizeof(t));
		k->mutate(&m, &t, b, &len);
		memcpy(b, &m, sizeof(m));
		memcpy(b + HDR_LEN, &t, sizeof(t));
		cr_assert_eq(fake_peer_send(&peer, b, len, 1), 0);
		expect_rx(c, k->err, k->name);
		expect_rx(c, -EAGAIN, k->name);
		if (k->err == -EOPNOTSUPP || k->err == -EREMOTEIO) {
			/* answered (with an error): a late good reply is
			 * dropped, the next request gets its answer */
			answer(&q, id);
			expect_rx(c, -EALREADY, k->name);
			cr_assert_eq(ptp4l_client_send_get(c, id), 0);
			q = take_get(&id);
		}
		answer(&q, id);
		expect_rx(c, 0, k->name);
	}
	ptp4l_client_free(c);
	expect_no_fd_leak();
}

Test(hostile_ptp4l, stale_reply_then_the_right_one)
{
	struct ptp4l_client *c = client_open();
	struct ptp4l_wire_mgmt q1, q2;
	uint16_t id;

	cr_assert_eq(
		ptp4l_client_send_get(c, PTP4L_MID_TIME_PROPERTIES_DATA_SET),
		0);
	q1 = take_get(&id);
	cr_assert_eq(
		ptp4l_client_send_get(c, PTP4L_MID_TIME_PROPERTIES_DATA_SET),
		0);
	q2 = take_get(&id);
	answer(&q1, id);
	answer(&q2, id);
	expect_rx(c, -ESTALE, "reply to the earlier request");
	expect_rx(c, 0, "the right one after it");
	ptp4l_client_free(c);
	expect_no_fd_leak();
}

Test(hostile_ptp4l, another_sender_cannot_reach_the_client)
{
	struct ptp4l_client *c = client_open();
	struct ptp4l_wire_mgmt q;
	uint8_t b[2048];
	uint16_t id;
	size_t len;
	int intruder = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_eq(
		ptp4l_client_send_get(c, PTP4L_MID_TIME_PROPERTIES_DATA_SET),
		0);
	q = take_get(&id);
	len = build_reply(b, &q, id);
	cr_assert_lt(sendto(intruder, b, len, MSG_DONTWAIT,
			    (struct sockaddr *)&peer.from, peer.from_len),
		     0);
	cr_assert_eq(errno, EPERM, "%s", strerror(errno));
	close(intruder);
	expect_rx(c, -EAGAIN, "after a foreign sender");
	answer(&q, id);
	expect_rx(c, 0, "ptp4l's own reply");
	ptp4l_client_free(c);
	expect_no_fd_leak();
}

Test(hostile_ptp4l, silent_ptp4l_times_out_on_time)
{
	struct ptp4l_client *c = client_open();
	struct ptp4l_reply r;
	int64_t t0 = fake_peer_mono_ns(), dt;
	int ret = ptp4l_client_get(c, PTP4L_MID_TIME_STATUS_NP, 400, &r);

	dt = fake_peer_mono_ns() - t0;
	cr_assert_eq(ret, -ETIMEDOUT, "%d", ret);
	/* the client's deadline is on its own clock, in whole ms: allow
	 * it to end up to 1 ms early as seen from here */
	cr_assert_geq(dt, (400 - 1) * NS_PER_MS, "took %lld ns", (long long)dt);
	cr_assert_lt(dt, (400 + SLACK_MS) * NS_PER_MS, "took %lld ns",
		     (long long)dt);
	ptp4l_client_free(c);
	expect_no_fd_leak();
}

static void queue_garbage(unsigned int n, uint32_t seed)
{
	for (unsigned int i = 0; i < n; i++) {
		uint8_t junk[400];
		size_t len = 1 + (seed = seed * 1103515245u + 12345u) % 400;

		for (size_t j = 0; j < len; j++) {
			seed = seed * 1103515245u + 12345u;
			junk[j] = (uint8_t)(seed >> 16);
		}
		if (i % 2 && len > 2) {
			junk[0] = PTP4L_MSG_MANAGEMENT; /* looks like one */
			junk[1] = PTP4L_VERSION_MAJOR;
		}
		cr_assert_eq(fake_peer_send(&peer, junk, len, 1), 0);
	}
}

/* The next GET's header, as the client will send it. */
static struct ptp4l_wire_mgmt next_get(struct ptp4l_wire_mgmt q)
{
	q.hdr.seq = htobe16(be16toh(q.hdr.seq) + 1);
	return q;
}

Test(hostile_ptp4l, queued_flood_does_not_hide_the_reply)
{
	struct ptp4l_client *c = client_open();
	struct ptp4l_wire_mgmt q;
	struct ptp4l_reply r;
	uint16_t id;

	cr_assert_eq(
		ptp4l_client_send_get(c, PTP4L_MID_TIME_PROPERTIES_DATA_SET),
		0);
	q = next_get(take_get(&id));
	queue_garbage(FLOOD_QUEUED, 7);
	answer(&q, id);
	cr_assert_eq(ptp4l_client_get(c, id, 1000, &r), 0);
	cr_assert_eq(r.tp.current_utc_offset_s, utc_offset_s);
	ptp4l_client_free(c);
	expect_no_fd_leak();
}

static struct ptp4l_wire_mgmt flood_q;

static void *flood_thread(void *arg)
{
	for (unsigned int i = 0; i < 2200; i++) {
		uint8_t junk[PTP4L_REQ_LEN + 4] = { PTP4L_MSG_MANAGEMENT,
						    PTP4L_VERSION_MAJOR };

		if (i == 2000) {
			uint8_t b[2048];
			size_t len =
				build_reply(b, &flood_q,
					    PTP4L_MID_TIME_PROPERTIES_DATA_SET);

			fake_peer_send(&peer, b, len, 0);
		}
		junk[40] = (uint8_t)i;
		if (fake_peer_send(&peer, junk, sizeof(junk), 0) < 0) {
			break;
		}
	}
	return NULL;
}

Test(hostile_ptp4l, continuous_flood_does_not_starve_the_reply)
{
	struct ptp4l_client *c = client_open();
	struct ptp4l_reply r;
	pthread_t th;
	uint16_t id;

	cr_assert_eq(
		ptp4l_client_send_get(c, PTP4L_MID_TIME_PROPERTIES_DATA_SET),
		0);
	flood_q = next_get(take_get(&id));
	cr_assert_eq(pthread_create(&th, NULL, flood_thread, NULL), 0);
	cr_assert_eq(ptp4l_client_get(c, id, 5000, &r), 0);
	cr_assert_eq(r.tp.current_utc_offset_s, utc_offset_s);
	ptp4l_client_free(c);
	pthread_join(th, NULL);
	expect_no_fd_leak();
}

/* ---- the PHC source's ptp4l companion on the same fake */

static struct leap_table *leaps;
static struct fake_phc phc = { .offset_ns = 1000000000000LL };

static struct source *source_open(void)
{
	static const struct leap_entry e[] = { { 1483228800, 37 } };
	static char *phcs[] = { FAKE_PHC_PATH, NULL };
	static char *ptp4ls[] = { srv_path, NULL };
	static const struct source_phc_settings set = {
		.phc = phcs,
		.ptp4l_socket = ptp4ls,
		.ptp4l_bind_dir = dir,
		.phc_ops = &fake_phc_ops,
		.phc_ctx = &phc,
	};
	struct source_conf conf = { .settings = &set };
	struct source *s = NULL;
	GError *err = NULL;

	leaps = leap_table_new(e, 1, 4200000000LL);
	conf.leaps = leaps;
	cr_assert_eq(source_new(&source_phc_ops, &conf, &s, &err), 0, "%s",
		     err ? err->message : "");
	return s;
}

/* One poll (never waiting), then the fake answers the GET it sent,
 * behind @garbage bad datagrams. */
static int poll_answer(struct source *s, struct time_sample *t,
		       struct source_health *h, unsigned int garbage)
{
	struct ptp4l_wire_mgmt q;
	int64_t t0 = fake_peer_mono_ns();
	uint16_t id;
	int r;

	memset(h, 0, sizeof(*h));
	r = source_poll(s, t, h);
	cr_assert_lt(fake_peer_mono_ns() - t0, NONBLOCK_NS, "poll waited");
	q = take_get(&id);
	queue_garbage(garbage, id);
	answer(&q, id);
	return r;
}

static void expect_budget(unsigned int garbage)
{
	struct source *s = source_open();
	struct time_sample t;
	struct source_health h;

	/* four polls fill the four data sets; the fifth uses them all;
	 * until then nothing vouches for the PHC: no sample */
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(poll_answer(s, &t, &h, garbage), -EAGAIN, "%s",
			     h.text);
		cr_assert_eq(h.state, SOURCE_STALE, "%s", h.text);
		cr_assert(strstr(h.text, "never vouched"), "%s", h.text);
	}
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(poll_answer(s, &t, &h, garbage), 0, "%s", h.text);
		cr_assert_eq(h.state, SOURCE_OK, "poll %d: %s", i, h.text);
		cr_assert_eq(t.err_ns, FAKE_PHC_ERR_NS + BUDGET_NS);
		cr_assert(h.tai_utc_known);
		cr_assert_eq(h.tai_utc_s, 37);
		cr_assert_eq(h.leap_auth, LEAP_AUTH_PTP_TRACEABLE);
		cr_assert_eq(h.leap, SOURCE_LEAP_INSERT);
	}
	source_free(s);
	leap_table_free(leaps);
	expect_no_fd_leak();
}

Test(hostile_ptp4l, phc_source_adds_the_budget)
{
	expect_budget(0);
}

Test(hostile_ptp4l, phc_source_drains_floods)
{
	expect_budget(FLOOD_QUEUED);
}

Test(hostile_ptp4l, phc_source_rejects_absurd_utc_offset)
{
	static const int16_t bad[] = { -5, 1001, 32767, -32768 };
	struct source *s;
	struct time_sample t;
	struct source_health h;

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		utc_offset_s = bad[k];
		s = source_open();
		for (int i = 0; i < 8; i++) {
			cr_assert_eq(poll_answer(s, &t, &h, 0), -EAGAIN, "%s",
				     h.text);
			cr_assert_eq(h.state, SOURCE_STALE, "%s", h.text);
			cr_assert_not(h.tai_utc_known, "offset %d passed on",
				      bad[k]);
			cr_assert_eq(h.leap_auth, LEAP_AUTH_NONE);
		}
		cr_assert(strstr(h.text, "absurd"), "%s", h.text);
		source_free(s);
		leap_table_free(leaps);
	}
	expect_no_fd_leak();
}

/*
 * A ptp4l that has chosen a grandmaster but measured nothing (its NIC
 * gives no Rx timestamps: gmPresent, master_offset 0, ingress_time 0,
 * meanPathDelay 0) vouches for nothing; once it measures, it does.
 */
Test(hostile_ptp4l, phc_source_unmeasured_ptp4l_is_no_vouching)
{
	struct source *s;
	struct time_sample t;
	struct source_health h;

	master_offset_ns = 0;
	path_delay_ns = 0;
	ingress_time_ns = 0;
	s = source_open();
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(poll_answer(s, &t, &h, 0), -EAGAIN, "%s", h.text);
		cr_assert_eq(h.state, SOURCE_STALE, "%s", h.text);
	}
	cr_assert(strstr(h.text, "ptp4l never vouched"), "%s", h.text);
	cr_assert(strstr(h.text, "measured nothing yet"), "%s", h.text);
	/* Syncs stamped, no path delay yet: still nothing computed */
	ingress_time_ns = 1795255228724408932ULL;
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(poll_answer(s, &t, &h, 0), -EAGAIN, "%s", h.text);
	}
	cr_assert(strstr(h.text, "measured nothing yet"), "%s", h.text);
	/* measured: vouched, with the budget */
	master_offset_ns = -1234;
	path_delay_ns = 5678;
	for (int i = 0; i < 4; i++) {
		poll_answer(s, &t, &h, 0);
	}
	cr_assert_eq(poll_answer(s, &t, &h, 0), 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_OK, "%s", h.text);
	cr_assert_eq(t.err_ns, FAKE_PHC_ERR_NS + BUDGET_NS);
	source_free(s);
	leap_table_free(leaps);
	expect_no_fd_leak();
}

/* One poll, and the fake takes the GET it sent without answering. */
static int poll_silent(struct source *s, struct time_sample *t,
		       struct source_health *h)
{
	uint16_t id;
	int r;

	memset(h, 0, sizeof(*h));
	r = source_poll(s, t, h);
	take_get(&id);
	return r;
}

/*
 * ptp4l falls silent: the PHC runs on unsteered, so once the silence is
 * noticed its samples carry ptp4l's last budget aged at 1 ppm (the
 * default) from the poll before the last answer was read, growing poll
 * by poll; when ptp4l answers again the plain budget is back.
 */
Test(hostile_ptp4l, phc_source_ages_the_budget_once_ptp4l_is_silent)
{
	struct source *s = source_open();
	struct time_sample t;
	struct source_health h;
	int64_t last_t0 = 0, last_t1 = 0, t0, t1;
	uint64_t prev_err = 0;
	int degraded = 0;

	for (int i = 0; i < 6; i++) {
		last_t0 = fake_peer_mono_ns();
		poll_answer(s, &t, &h, 0);
		last_t1 = fake_peer_mono_ns();
	}
	cr_assert_eq(h.state, SOURCE_OK, "%s", h.text);
	cr_assert_eq(t.err_ns, FAKE_PHC_ERR_NS + BUDGET_NS);
	/* the last answer is read by the next poll, the rest go unanswered */
	for (int i = 0; i < 20 && degraded < 4; i++) {
		usleep(100000);
		t0 = fake_peer_mono_ns();
		cr_assert_eq(poll_silent(s, &t, &h), 0, "%s", h.text);
		t1 = fake_peer_mono_ns();
		if (h.state == SOURCE_OK) {
			cr_assert_eq(t.err_ns, FAKE_PHC_ERR_NS + BUDGET_NS);
			continue;
		}
		cr_assert_eq(h.state, SOURCE_DEGRADED, "%s", h.text);
		cr_assert(strstr(h.text, "no recent answer"), "%s", h.text);
		cr_assert(strstr(h.text, "budget aged"), "%s", h.text);
		/* 1 ppm of the time since the poll before the answer's read */
		cr_assert_geq(t.err_ns,
			      FAKE_PHC_ERR_NS + BUDGET_NS +
				      (uint64_t)(t0 - last_t1) / 1000000,
			      "err %llu", (unsigned long long)t.err_ns);
		cr_assert_leq(t.err_ns,
			      FAKE_PHC_ERR_NS + BUDGET_NS +
				      (uint64_t)(t1 - last_t0) / 1000000 + 1,
			      "err %llu", (unsigned long long)t.err_ns);
		cr_assert_gt(t.err_ns, prev_err, "the aged bound grows");
		prev_err = t.err_ns;
		degraded++;
	}
	cr_assert_eq(degraded, 4, "never noticed the silence: %s", h.text);
	/* ptp4l answers again: all four sets fresh, the plain budget */
	for (int i = 0; i < 5; i++) {
		poll_answer(s, &t, &h, 0);
	}
	poll_answer(s, &t, &h, 0);
	cr_assert_eq(h.state, SOURCE_OK, "%s", h.text);
	cr_assert_eq(t.err_ns, FAKE_PHC_ERR_NS + BUDGET_NS);
	source_free(s);
	leap_table_free(leaps);
	expect_no_fd_leak();
}
