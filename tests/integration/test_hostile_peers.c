// SPDX-License-Identifier: MIT
/*
 * Hostile peer daemons over REAL sockets: a fake chronyd on a Unix
 * datagram command socket and a fake ptp4l on a Unix datagram management
 * socket (harness_fakepeer.h) answer our real clients (sync/sources/chrony.c,
 * sync/sources/ptp4l.c, and the sources built on them) with short, oversized,
 * wrong-version, wrong-code, wrong-sequence, out-of-range and garbage
 * datagrams, floods, foreign senders and silence. Each must be rejected
 * with its documented -errno and no sample, never make the caller wait
 * beyond its documented timeout, leak no fd (counted here) nor memory
 * (the ASan/LSan build), and the next good reply must be accepted.
 *
 * chrony's wire float has no NaN: chronyd writes its largest exponent
 * (63) for infinities and overflows, which is what "NaN/Inf" means on
 * this wire; values that decode fine but are absurd (negative delays,
 * frequencies of 2e6 ppm, offsets of 60 years) are the out-of-range case.
 * This file: chronyd. test_hostile_ptp4l.c: ptp4l.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chrony.h"
#include "chrony_wire.h"
#include "harness_fakepeer.h"
#include "leap.h"
#include "source.h"
#include "source_chrony.h"

#define NS_PER_MS 1000000LL
/*
 * A non-blocking call that took longer than NONBLOCK_NS waited for
 * something (a blocking wait here is a 250 ms resend or a whole
 * timeout); SLACK_MS is what a timeout may overrun by. Both leave room
 * for a loaded 2-core CI machine (load 8 seen) under ASan.
 */
#define NONBLOCK_NS (100 * NS_PER_MS)
#define SLACK_MS 200
/* bad datagrams queued ahead of a good one: the kernel's default
 * net.unix.max_dgram_qlen is 10, so 9 plus the good reply fit */
#define FLOOD_QUEUED 9

static char dir[64], srv_path[96];
static struct fake_peer peer = { .fd = -1 };
static int fds_before;

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	strcpy(dir, "/tmp/vrtc-hostile.XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(srv_path, sizeof(srv_path), "%s/chronyd.sock", dir);
	fds_before = fake_peer_fd_count();
}

static void teardown(void)
{
	char cmd[96];

	fake_peer_close(&peer);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(hostile_chronyd, .init = setup, .fini = teardown, .timeout = 60.0);

static void expect_no_fd_leak(void)
{
	fake_peer_close(&peer);
	cr_assert_eq(fake_peer_fd_count(), fds_before, "fds leaked");
}

static const struct chrony_tracking good_t = {
	.ref_id = 0x7f000001,
	.ip_family = CHRONY_AF_INET4,
	.ip_addr = { 127, 0, 0, 1 },
	.stratum = 3,
	.leap_status = CHRONY_LEAP_NORMAL,
	.ref_time = { 1700000000, 5000 },
	.current_correction = 1e-6,
	.rms_offset = 1e-6,
	.skew_ppm = 0.01,
	.root_delay = 2e-4,
	.root_dispersion = 1e-4,
	.last_update_interval = 16,
};

static struct chrony_client *chrony_open(void)
{
	struct chrony_client_conf cc = { .socket_path = srv_path,
					 .run_dir = dir };
	struct chrony_client *c = NULL;

	fake_peer_open(&peer, srv_path);
	cr_assert_eq(chrony_client_new(&cc, &c), 0);
	return c;
}

/* The fake takes the next request; returns its sequence number. */
static uint32_t take_req(void)
{
	uint8_t req[512];
	struct chrony_wire_req_hdr h;
	ssize_t n = fake_peer_take(&peer, req, sizeof(req), 1000);

	cr_assert_eq(n, CHRONY_TRACKING_LEN, "request of %zd bytes", n);
	memcpy(&h, req, sizeof(h));
	cr_assert_eq(h.version, CHRONY_PROTO_VERSION);
	cr_assert_eq(be16toh(h.command), CHRONY_REQ_TRACKING);
	return be32toh(h.sequence);
}

static uint32_t ask(struct chrony_client *c)
{
	cr_assert_eq(chrony_client_send(c, 0), 0);
	return take_req();
}

static void send_reply(const void *buf, size_t len)
{
	cr_assert_eq(fake_peer_send(&peer, buf, len, 1), 0);
}

static void send_good(uint32_t seq, uint16_t stratum)
{
	struct chrony_tracking t = good_t;
	uint8_t buf[CHRONY_TRACKING_LEN];

	t.stratum = stratum;
	cr_assert_eq(chrony_tracking_encode(&t, seq, buf), CHRONY_TRACKING_LEN);
	send_reply(buf, sizeof(buf));
}

/* One receive: never waits, returns @want; a good one is the fake's. */
static void expect_rx(struct chrony_client *c, int want, const char *what)
{
	struct chrony_tracking t;
	int64_t t0 = fake_peer_mono_ns();
	int r = chrony_client_receive(c, &t);

	cr_assert_lt(fake_peer_mono_ns() - t0, NONBLOCK_NS, "%s: waited", what);
	cr_assert_eq(r, want, "%s: got %d (%s), want %d", what, r, strerror(-r),
		     want);
	if (!r) {
		cr_assert_eq(t.stratum, good_t.stratum, "%s", what);
		cr_assert_eq(t.ref_time.tv_sec, good_t.ref_time.tv_sec);
	}
}

static void put_float(uint32_t *field, double v)
{
	uint32_t w;

	cr_assert_eq(chrony_float_encode(v, &w), 0);
	*field = htobe32(w);
}

/* Each mutates a good reply (in *w, *len bytes sent) into a hostile one. */
struct chrony_case {
	const char *name;
	int err;
	void (*mutate)(struct chrony_wire_tracking *w, size_t *len);
};

#define CASE(n, e, body)                                                       \
	static void mut_##n(struct chrony_wire_tracking *w, size_t *len)       \
	{                                                                      \
		body;                                                          \
	}
CASE(short_hdr, -EMSGSIZE, *len = 20)
CASE(short_body, -EMSGSIZE, *len = CHRONY_TRACKING_LEN - 4)
CASE(one_over, -EMSGSIZE, *len = CHRONY_TRACKING_LEN + 1)
CASE(oversized, -EMSGSIZE, *len = 1400)
CASE(version, -EPROTO, w->hdr.version = 5)
CASE(pkt_type, -EPROTO, w->hdr.pkt_type = CHRONY_PKT_REQUEST)
CASE(reserved, -EPROTO, w->hdr.res2 = 1)
CASE(command, -EBADMSG, w->hdr.command = htobe16(CHRONY_REQ_TRACKING + 1))
CASE(reply_code, -EBADMSG, w->hdr.reply = htobe16(CHRONY_RPY_TRACKING + 1))
CASE(unauth, -EACCES, w->hdr.status = htobe16(CHRONY_STT_UNAUTH))
CASE(failed, -EREMOTEIO, w->hdr.status = htobe16(1))
CASE(sequence, -ESTALE, w->hdr.sequence = htobe32(be32toh(w->hdr.sequence) + 1))
CASE(inf_float, -ERANGE, w->root_dispersion = htobe32(63u << 25 | 1))
CASE(inf_offset, -ERANGE, w->current_correction = htobe32(0x7fffffffu))
CASE(neg_delay, -ERANGE, put_float(&w->root_delay, -1e-3))
CASE(neg_skew, -ERANGE, put_float(&w->skew_ppm, -0.5))
CASE(huge_freq, -ERANGE, put_float(&w->freq_ppm, 2e6))
CASE(huge_offset, -ERANGE, put_float(&w->current_correction, 2e9))
CASE(huge_interval, -ERANGE, put_float(&w->last_update_interval, 3e9))
CASE(stratum, -ERANGE, w->stratum = htobe16(17))
CASE(leap, -ERANGE, w->leap_status = htobe16(4))
CASE(family, -ERANGE, w->ip.family = htobe16(9))
CASE(nsec, -ERANGE, w->ref_time.nsec = htobe32(1000000000u))
CASE(sec_hi, -ERANGE, w->ref_time.sec_hi = htobe32(4))
#undef CASE

#define C(n, e)                                                                \
	{                                                                      \
#n, e, mut_##n                                                 \
	}
static const struct chrony_case chrony_cases[] = {
	C(short_hdr, -EMSGSIZE),   C(short_body, -EMSGSIZE),
	C(one_over, -EMSGSIZE),	   C(oversized, -EMSGSIZE),
	C(version, -EPROTO),	   C(pkt_type, -EPROTO),
	C(reserved, -EPROTO),	   C(command, -EBADMSG),
	C(reply_code, -EBADMSG),   C(unauth, -EACCES),
	C(failed, -EREMOTEIO),	   C(sequence, -ESTALE),
	C(inf_float, -ERANGE),	   C(inf_offset, -ERANGE),
	C(neg_delay, -ERANGE),	   C(neg_skew, -ERANGE),
	C(huge_freq, -ERANGE),	   C(huge_offset, -ERANGE),
	C(huge_interval, -ERANGE), C(stratum, -ERANGE),
	C(leap, -ERANGE),	   C(family, -ERANGE),
	C(nsec, -ERANGE),	   C(sec_hi, -ERANGE),
};
#undef C

Test(hostile_chronyd, each_bad_reply_rejected_then_good_one_accepted)
{
	struct chrony_client *c = chrony_open();

	for (size_t i = 0; i < sizeof(chrony_cases) / sizeof(*chrony_cases);
	     i++) {
		const struct chrony_case *k = &chrony_cases[i];
		uint8_t buf[1400] = { 0 };
		struct chrony_wire_tracking w;
		struct chrony_tracking t = good_t;
		uint32_t seq = ask(c);
		size_t len = sizeof(w);

		cr_assert_eq(chrony_tracking_encode(&t, seq, (uint8_t *)&w),
			     CHRONY_TRACKING_LEN);
		k->mutate(&w, &len);
		memcpy(buf, &w, len < sizeof(w) ? len : sizeof(w));
		send_reply(buf, len);
		expect_rx(c, k->err, k->name);
		expect_rx(c, -EAGAIN, k->name); /* nothing from it is left */
		send_good(seq, good_t.stratum);
		expect_rx(c, 0, k->name);
	}
	chrony_client_free(c);
	expect_no_fd_leak();
}

Test(hostile_chronyd, stale_reply_then_the_right_one)
{
	struct chrony_client *c = chrony_open();
	uint32_t seq;

	ask(c);
	seq = ask(c); /* the first request is now an earlier one */
	send_good(seq - 1, good_t.stratum);
	send_good(seq, good_t.stratum);
	expect_rx(c, -ESTALE, "late reply to the earlier request");
	expect_rx(c, 0, "the right reply after it");
	chrony_client_free(c);
	expect_no_fd_leak();
}

Test(hostile_chronyd, another_sender_cannot_reach_the_client)
{
	struct chrony_client *c = chrony_open();
	uint8_t buf[CHRONY_TRACKING_LEN];
	uint32_t seq = ask(c);
	int intruder = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_eq(chrony_tracking_encode(&good_t, seq, buf),
		     CHRONY_TRACKING_LEN);
	/* a perfect reply, from the wrong socket: the kernel refuses it */
	cr_assert_lt(sendto(intruder, buf, sizeof(buf), MSG_DONTWAIT,
			    (struct sockaddr *)&peer.from, peer.from_len),
		     0);
	cr_assert_eq(errno, EPERM, "%s", strerror(errno));
	close(intruder);
	expect_rx(c, -EAGAIN, "after a foreign sender");
	send_good(seq, good_t.stratum);
	expect_rx(c, 0, "chronyd's own reply");
	chrony_client_free(c);
	expect_no_fd_leak();
}

Test(hostile_chronyd, silent_chronyd_times_out_on_time)
{
	struct chrony_client *c = chrony_open();
	struct chrony_tracking t;
	int64_t t0 = fake_peer_mono_ns(), dt;
	int r = chrony_client_query(c, 600, &t);

	dt = fake_peer_mono_ns() - t0;
	cr_assert_eq(r, -ETIMEDOUT, "%d", r);
	/* the client's deadline is on its own clock, in whole ms: allow
	 * it to end up to 1 ms early as seen from here */
	cr_assert_geq(dt, (600 - 1) * NS_PER_MS, "took %lld ns", (long long)dt);
	cr_assert_lt(dt, (600 + SLACK_MS) * NS_PER_MS, "took %lld ns",
		     (long long)dt);
	/* it retransmitted like chronyc (every 250 ms) */
	cr_assert_geq(fake_peer_drain(&peer), 2);
	chrony_client_free(c);
	expect_no_fd_leak();
}

/* Only bad replies: the query says why at its deadline, not later. */
Test(hostile_chronyd, query_reports_a_bad_reply_at_its_deadline)
{
	struct chrony_client *c = chrony_open();
	struct chrony_tracking t;
	uint8_t buf[CHRONY_TRACKING_LEN];
	uint32_t seq = ask(c) + 1; /* the query's */
	int64_t t0, dt;
	int r;

	cr_assert_eq(chrony_tracking_encode(&good_t, seq, buf),
		     CHRONY_TRACKING_LEN);
	buf[0] = 4; /* protocol version 4 */
	send_reply(buf, sizeof(buf));
	t0 = fake_peer_mono_ns();
	r = chrony_client_query(c, 300, &t);
	dt = fake_peer_mono_ns() - t0;
	cr_assert_eq(r, -EPROTO, "%d", r);
	cr_assert_lt(dt, (300 + SLACK_MS) * NS_PER_MS, "took %lld ns",
		     (long long)dt);
	chrony_client_free(c);
	expect_no_fd_leak();
}

/* Garbage of every length queued ahead of the reply. */
static void queue_garbage(unsigned int n, uint32_t seed)
{
	for (unsigned int i = 0; i < n; i++) {
		uint8_t junk[300];
		size_t len = 1 + (seed = seed * 1103515245u + 12345u) % 300;

		for (size_t j = 0; j < len; j++) {
			junk[j] = (uint8_t)((seed = seed * 1103515245u +
						    12345u) >>
					    16);
		}
		if (i % 3 == 0 && len >= 4) {
			junk[0] = CHRONY_PROTO_VERSION; /* looks like chrony */
			junk[1] = CHRONY_PKT_REPLY;
		}
		send_reply(junk, len);
	}
}

Test(hostile_chronyd, queued_flood_does_not_hide_the_reply)
{
	struct chrony_client *c = chrony_open();
	struct chrony_tracking t;
	uint32_t seq = ask(c) + 1;

	queue_garbage(FLOOD_QUEUED, seq);
	send_good(seq, good_t.stratum);
	cr_assert_eq(chrony_client_query(c, 1000, &t), 0);
	cr_assert_eq(t.stratum, good_t.stratum);
	chrony_client_free(c);
	expect_no_fd_leak();
}

struct flood {
	unsigned int before, after;
	uint32_t seq;
};

/* A peer that keeps the client's queue full of garbage around a reply. */
static void *flood_thread(void *arg)
{
	struct flood *f = arg;

	for (unsigned int i = 0; i < f->before + f->after; i++) {
		uint8_t junk[CHRONY_TRACKING_LEN] = { CHRONY_PROTO_VERSION,
						      CHRONY_PKT_REPLY };

		if (i == f->before) {
			send_good(f->seq, good_t.stratum);
		}
		junk[20] = (uint8_t)i;
		if (fake_peer_send(&peer, junk, sizeof(junk), 0) < 0) {
			break; /* the client is gone */
		}
	}
	return NULL;
}

Test(hostile_chronyd, continuous_flood_does_not_starve_the_reply)
{
	struct chrony_client *c = chrony_open();
	struct flood f = { .before = 2000, .after = 200 };
	struct chrony_tracking t;
	pthread_t th;

	f.seq = ask(c) + 1;
	cr_assert_eq(pthread_create(&th, NULL, flood_thread, &f), 0);
	cr_assert_eq(chrony_client_query(c, 5000, &t), 0);
	cr_assert_eq(t.stratum, good_t.stratum);
	chrony_client_free(c);
	pthread_join(th, NULL);
	expect_no_fd_leak();
}

/* ---- the chronyd source on the same fake */

static struct leap_table *leaps;

static void *answer_first(void *arg)
{
	send_good(take_req(), good_t.stratum);
	return NULL;
}

static struct source *source_open(void)
{
	static const struct leap_entry e[] = { { 1483228800, 37 } };
	static struct source_chrony_settings set;
	struct source_conf conf = { .settings = &set };
	struct source *s = NULL;
	GError *err = NULL;
	pthread_t th;

	set = (struct source_chrony_settings){ .chrony_socket = srv_path,
					       .chrony_run_dir = dir };
	leaps = leap_table_new(e, 1, 4200000000LL);
	conf.leaps = leaps;
	fake_peer_open(&peer, srv_path);
	cr_assert_eq(pthread_create(&th, NULL, answer_first, NULL), 0);
	cr_assert_eq(source_new(&source_chrony_ops, &conf, &s, &err), 0, "%s",
		     err ? err->message : "");
	pthread_join(th, NULL);
	return s;
}

static int poll_src(struct source *s, struct source_health *h)
{
	struct time_sample t;
	int64_t t0 = fake_peer_mono_ns();
	int r;

	memset(h, 0, sizeof(*h));
	r = source_poll(s, &t, h);
	cr_assert_lt(fake_peer_mono_ns() - t0, NONBLOCK_NS, "poll waited");
	return r;
}

/*
 * A full queue of garbage ahead of each reply: one poll reads past all
 * of it (before, one poll cleared one datagram and the good reply came
 * out only after FLOOD_QUEUED polls).
 */
Test(hostile_chronyd, source_drains_the_flood_in_one_poll)
{
	struct source *s = source_open();
	struct source_health h;
	char want[32];

	cr_assert_eq(poll_src(s, &h), 0, "%s", h.text); /* sends a request */
	for (int i = 0; i < 5; i++) {
		uint32_t seq = take_req();

		queue_garbage(FLOOD_QUEUED, seq);
		send_good(seq, (uint16_t)(5 + i));
		cr_assert_eq(poll_src(s, &h), 0, "%s", h.text);
		cr_assert_eq(h.state, SOURCE_OK, "round %d: %s", i, h.text);
		snprintf(want, sizeof(want), "stratum %d,", 5 + i);
		cr_assert(strstr(h.text, want),
			  "round %d: the flood hid the reply: %s", i, h.text);
	}
	source_free(s);
	leap_table_free(leaps);
	expect_no_fd_leak();
}

/* Bad replies only: DEGRADED with the reason, the last good one used. */
Test(hostile_chronyd, source_keeps_the_last_good_reply)
{
	struct source *s = source_open();
	struct source_health h;
	uint8_t buf[CHRONY_TRACKING_LEN];

	cr_assert_eq(poll_src(s, &h), 0, "%s", h.text);
	for (int i = 0; i < 3; i++) {
		uint32_t seq = take_req();

		cr_assert_eq(chrony_tracking_encode(&good_t, seq, buf),
			     CHRONY_TRACKING_LEN);
		buf[offsetof(struct chrony_wire_tracking, stratum)] = 0xff;
		send_reply(buf, sizeof(buf));
		cr_assert_eq(poll_src(s, &h), 0, "%s", h.text);
		cr_assert_eq(h.state, SOURCE_DEGRADED, "%s", h.text);
		cr_assert(strstr(h.text, "stratum 3"), "%s", h.text);
		cr_assert(strstr(h.text, strerror(ERANGE)), "%s", h.text);
	}
	send_good(take_req(), 4);
	cr_assert_eq(poll_src(s, &h), 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_OK, "%s", h.text);
	cr_assert(strstr(h.text, "stratum 4"), "%s", h.text);
	source_free(s);
	leap_table_free(leaps);
	expect_no_fd_leak();
}

/* chronyd's UDP command port: a reply from another port never arrives. */
Test(hostile_chronyd, udp_reply_from_another_port_is_dropped)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in from;
	socklen_t alen = sizeof(a), flen = sizeof(from);
	struct chrony_client_conf cc = { .host = "127.0.0.1" };
	struct chrony_client *c = NULL;
	uint8_t req[256], buf[CHRONY_TRACKING_LEN];
	struct chrony_wire_req_hdr h;
	int srv = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int intruder = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	cr_assert_eq(bind(srv, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(srv, (struct sockaddr *)&a, &alen), 0);
	cc.port = ntohs(a.sin_port);
	cr_assert_eq(chrony_client_new(&cc, &c), 0);
	cr_assert_eq(chrony_client_send(c, 0), 0);
	n = recvfrom(srv, req, sizeof(req), 0, (struct sockaddr *)&from, &flen);
	cr_assert_eq(n, CHRONY_TRACKING_LEN);
	memcpy(&h, req, sizeof(h));
	cr_assert_eq(chrony_tracking_encode(&good_t, be32toh(h.sequence), buf),
		     CHRONY_TRACKING_LEN);
	/* a perfect reply from another port: the connected socket drops it */
	cr_assert_eq(sendto(intruder, buf, sizeof(buf), 0,
			    (struct sockaddr *)&from, flen),
		     (ssize_t)sizeof(buf));
	usleep(20000);
	expect_rx(c, -EAGAIN, "reply from another port");
	cr_assert_eq(sendto(srv, buf, sizeof(buf), 0, (struct sockaddr *)&from,
			    flen),
		     (ssize_t)sizeof(buf));
	usleep(20000);
	expect_rx(c, 0, "chronyd's own port");
	chrony_client_free(c);
	close(intruder);
	close(srv);
	expect_no_fd_leak();
}
