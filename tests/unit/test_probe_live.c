// SPDX-License-Identifier: MIT
/*
 * The probe's live bound (src/tools/probe/eval_live.c): `status json` parsed
 * into a clock snapshot (good, missing fields, wrong types, unpublished,
 * garbage), the bound checked against clock_snapshot_tai(), and the query
 * against a stand-in control socket served by a thread.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "probe/eval_live.h"

/* The contract's example "model", as key/value pairs in order. */
static const char *const model_kv[][2] = {
	{ "published", "true" },
	{ "status", "\"synchronized\"" },
	{ "generation", "12" },
	{ "steps", "1" },
	{ "counter", "\"monotonic-raw\"" },
	{ "counter_now", "123456789012" },
	{ "c0", "123456000000" },
	{ "tai0_ns", "1795000000000000000" },
	{ "mono0_ns", "1000" },
	{ "period_q", "1099511627776" },
	{ "time_maxerr_ns", "1500" },
	{ "rate_maxerr_ppb", "1000" },
	{ "time_esterr_ns", "200" },
	{ "rate_esterr_ppb", "10" },
	{ "bound_ns", "2290" },
	{ "freq_ppb", "12.5" },
	{ "last_offset_ns", "-3.2" },
	{ "samples_accepted", "100" },
};

#define NKV (sizeof(model_kv) / sizeof(model_kv[0]))

/* A whole `status json` reply, field @key dropped (@val NULL) or given
 * the JSON text @val; @key NULL: as in the contract. Static buffer. */
static const char *reply_with(const char *key, const char *val)
{
	static char buf[2048];
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf),
			     "{\"version\": \"0.1.0\", \"pid\": 7, "
			     "\"uptime_s\": 1.5, \"model\": {");
	for (size_t i = 0; i < NKV; i++) {
		const char *v = model_kv[i][1];

		if (key && !strcmp(key, model_kv[i][0])) {
			if (!val) {
				continue;
			}
			v = val;
		}
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"%s\": %s",
				      buf[n - 1] == '{' ? "" : ", ",
				      model_kv[i][0], v);
	}
	snprintf(buf + n, sizeof(buf) - n,
		 "}, \"leap\": {\"tai_utc_s\": 37}, \"selection\": "
		 "{\"selected\": null}, \"sources\": [], \"vms\": "
		 "{\"list\": []}}\n");
	return buf;
}

/* The GError's message, if any, into @msg (200 bytes), for the checks. */
static void reason(GError *err, char *msg)
{
	if (err) {
		snprintf(msg, 200, "%s", err->message);
		g_error_free(err);
	}
}

static int parse(const char *json, struct eval_live_snap *s, char *msg)
{
	GError *err = NULL;
	int ret = eval_live_parse(json, strlen(json), s, &err);

	reason(err, msg);
	return ret;
}

static int query(const char *path, int timeout_ms, struct eval_live_snap *out,
		 char *msg)
{
	GError *err = NULL;
	int ret = eval_live_query(path, timeout_ms, out, &err);

	reason(err, msg);
	return ret;
}

Test(probe_live, contract_example_parses)
{
	struct eval_live_snap s;
	char msg[200] = "";

	cr_assert_eq(parse(reply_with(NULL, NULL), &s, msg), 0, "%s", msg);
	cr_expect(s.published);
	cr_expect_eq(s.model.status, CLOCK_STATUS_SYNCHRONIZED);
	cr_expect_eq(s.model.generation, 12);
	cr_expect_eq(s.model.steps, 1);
	cr_expect_eq(s.model.counter, CLOCK_COUNTER_MONOTONIC_RAW);
	cr_expect_eq(s.model.c0, 123456000000ULL);
	cr_expect_eq(s.model.tai0_ns, 1795000000000000000LL);
	cr_expect_eq(s.model.mono0_ns, 1000);
	cr_expect_eq(s.model.period_q, 1ULL << 40);
	cr_expect_eq(s.model.time_maxerr_ns, 1500);
	cr_expect_eq(s.model.rate_maxerr_ppb, 1000);
	cr_expect_eq(s.model.time_esterr_ns, 200);
	cr_expect_eq(s.model.rate_esterr_ppb, 10);
	cr_expect_eq(s.counter_now, 123456789012ULL);
	cr_expect_eq(s.bound_ns, 2290);
	cr_expect_str_eq(eval_live_status(&s), "synchronized");
}

Test(probe_live, every_status_name_parses)
{
	static const char *const names[] = { "unknown", "initializing",
					     "synchronized", "freerunning",
					     "unreliable" };
	struct eval_live_snap s;
	char msg[200], v[40];

	for (unsigned int i = 0; i < 5; i++) {
		snprintf(v, sizeof(v), "\"%s\"", names[i]);
		cr_expect_eq(parse(reply_with("status", v), &s, msg), 0, "%s",
			     msg);
		cr_expect_eq((unsigned int)s.model.status, i);
		cr_expect_str_eq(eval_live_status(&s), names[i]);
	}
}

Test(probe_live, unpublished_needs_nothing_else)
{
	const char *json = "{\"model\": {\"published\": false, \"status\": "
			   "null, \"generation\": null, \"c0\": null}}";
	struct eval_live_snap s;
	char msg[200];

	memset(&s, 0xa5, sizeof(s));
	cr_assert_eq(parse(json, &s, msg), 0, "%s", msg);
	cr_expect(!s.published);
	cr_expect_eq(s.model.generation, 0);
	cr_expect_str_eq(eval_live_status(&s), "unpublished");
}

Test(probe_live, every_needed_field_missing_is_named)
{
	/* the first 15 are needed; the rest are informative */
	for (size_t i = 0; i < 15; i++) {
		struct eval_live_snap s;
		char msg[200] = "";

		memset(&s, 0xa5, sizeof(s));
		cr_expect_eq(parse(reply_with(model_kv[i][0], NULL), &s, msg),
			     -EINVAL, "without %s", model_kv[i][0]);
		cr_expect(strstr(msg, model_kv[i][0]), "%s: %s", model_kv[i][0],
			  msg);
		cr_expect(!s.published && !s.model.generation,
			  "output cleared on error");
	}
	for (size_t i = 15; i < NKV; i++) {
		struct eval_live_snap s;
		char msg[200] = "";

		cr_expect_eq(parse(reply_with(model_kv[i][0], NULL), &s, msg),
			     0, "%s", msg);
	}
}

Test(probe_live, wrong_types_and_values_are_rejected)
{
	static const char *const bad[][2] = {
		{ "published", "\"yes\"" },
		{ "published", "1" },
		{ "published", "null" },
		{ "status", "2" },
		{ "status", "\"bogus\"" },
		{ "status", "null" },
		{ "counter", "\"tsc\"" },
		{ "counter", "0" },
		{ "c0", "\"123\"" },
		{ "c0", "1.5" },
		{ "c0", "null" },
		{ "c0", "-1" },
		{ "c0", "[1]" },
		{ "c0", "{}" },
		{ "period_q", "-5" },
		{ "time_maxerr_ns", "1e3" },
		{ "rate_maxerr_ppb", "true" },
		{ "generation", "0" },
		{ "tai0_ns", "\"now\"" },
		{ "bound_ns", "1.0" },
	};
	struct eval_live_snap s;
	char msg[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = '\0';
		cr_expect_eq(parse(reply_with(bad[i][0], bad[i][1]), &s, msg),
			     -EINVAL, "%s: %s", bad[i][0], bad[i][1]);
		cr_expect(strstr(msg, bad[i][0]), "%s: %s -> %s", bad[i][0],
			  bad[i][1], msg);
	}
	/* a negative tai0_ns is a value, not a type error */
	cr_expect_eq(parse(reply_with("tai0_ns", "-5"), &s, msg), 0, "%s", msg);
	cr_expect_eq(s.model.tai0_ns, -5);
}

Test(probe_live, garbage_is_rejected)
{
	static const char *const junk[] = {
		"",
		"{",
		"error: unknown command 'status json' (try: status, status "
		"json, metrics)\n",
		"[1, 2]",
		"42",
		"null",
		"{}",
		"{\"model\": 3}",
		"{\"model\": null}",
		"{\"model\": []}",
		"{\"model\": {}}",
		"{\"model\": {\"published\": true}}",
		"{\"model\": {\"published\": true, \"status\": "
		"\"synchronized\"",
	};
	struct eval_live_snap s;
	char msg[200];

	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		msg[0] = '\0';
		cr_expect_eq(parse(junk[i], &s, msg), -EINVAL, "%s", junk[i]);
		cr_expect(msg[0], "a reason for %s", junk[i]);
	}
	/* not NUL-terminated, and a NUL inside */
	char raw[] = { '{', '"', 'm', '"', ':', '\0', '1', '}', 'x' };

	cr_expect_eq(eval_live_parse(raw, 8, &s, NULL), -EINVAL);
	cr_expect_eq(eval_live_parse(raw, 3, &s, NULL), -EINVAL);
}

static struct eval_live_snap snap(uint64_t gen, uint64_t c0, uint64_t tm,
				  uint64_t rm)
{
	return (struct eval_live_snap){
		.published = true,
		.model = { .generation = gen,
			   .status = CLOCK_STATUS_SYNCHRONIZED,
			   .c0 = c0,
			   .tai0_ns = 1795000000000000000LL,
			   .period_q = 1ULL << 40,
			   .time_maxerr_ns = tm,
			   .rate_maxerr_ppb = rm },
	};
}

static uint64_t tai_bound(const struct eval_live_snap *s, uint64_t c)
{
	struct clock_reading r;

	clock_snapshot_tai(&s->model, c, &r);
	return r.maxerr_ns;
}

Test(probe_live, bound_is_clock_snapshot_tai_s)
{
	struct eval_live_snap a = snap(5, 1000000000000ULL, 1500, 1000);
	static const uint64_t cs[] = { 0,
				       999999999999ULL,
				       1000000000000ULL,
				       1000000000001ULL,
				       1000123456789ULL,
				       1003600000000000ULL,
				       UINT64_MAX };
	uint64_t b;

	for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
		cr_assert_eq(eval_live_bound(&a, NULL, cs[i], cs[i], &b), 0);
		cr_expect_eq(b, tai_bound(&a, cs[i]), "c=%llu",
			     (unsigned long long)cs[i]);
	}
	/* 1 s after c0 at 1000 ppb: 1500 + 1000 ns */
	cr_expect_eq(tai_bound(&a, 1001000000000ULL), 2500);
	/* an interval takes its worse end, on either side of c0 */
	cr_assert_eq(eval_live_bound(&a, NULL, 1000500000000ULL,
				     1002000000000ULL, &b),
		     0);
	cr_expect_eq(b, 3500);
	cr_assert_eq(eval_live_bound(&a, NULL, 997000000000ULL,
				     1001000000000ULL, &b),
		     0);
	cr_expect_eq(b, 4500);
}

Test(probe_live, bound_across_a_publish_is_the_larger)
{
	struct eval_live_snap a = snap(5, 1000000000000ULL, 1500, 1000);
	struct eval_live_snap same = snap(5, 1000000000000ULL, 1, 0);
	struct eval_live_snap tight = snap(6, 1002000000000ULL, 100, 10);
	struct eval_live_snap loose = snap(7, 1002000000000ULL, 900000, 10);
	struct eval_live_snap none = { 0 };
	uint64_t c = 1002000000000ULL, b;

	/* same generation: @b says nothing new */
	cr_assert_eq(eval_live_bound(&a, &same, c, c, &b), 0);
	cr_expect_eq(b, tai_bound(&a, c));
	cr_assert_eq(eval_live_bound(&a, &tight, c, c, &b), 0);
	cr_expect_eq(b, tai_bound(&a, c));
	cr_expect_gt(b, tai_bound(&tight, c));
	cr_assert_eq(eval_live_bound(&a, &loose, c, c, &b), 0);
	cr_expect_eq(b, tai_bound(&loose, c));
	/* unpublished snapshots add nothing */
	cr_assert_eq(eval_live_bound(&none, &tight, c, c, &b), 0);
	cr_expect_eq(b, tai_bound(&tight, c));
	cr_assert_eq(eval_live_bound(&a, &none, c, c, &b), 0);
	cr_expect_eq(b, tai_bound(&a, c));
	b = 77;
	cr_expect_eq(eval_live_bound(&none, &none, c, c, &b), -ENODATA);
	cr_expect_eq(eval_live_bound(&none, NULL, c, c, &b), -ENODATA);
	cr_expect_eq(b, 77);
}

/* A stand-in control socket: answers one connection with @reply after
 * reading a line, or never answers (@reply NULL). */
struct server {
	char path[108];
	int fd;
	const char *reply;
	size_t reply_len;
	char got[300];
	pthread_t th;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	int c = accept(s->fd, NULL, NULL);
	size_t n = 0;

	if (c < 0) {
		return NULL;
	}
	while (n < sizeof(s->got) - 1 && !memchr(s->got, '\n', n)) {
		ssize_t r = read(c, s->got + n, sizeof(s->got) - 1 - n);

		if (r <= 0) {
			break;
		}
		n += (size_t)r;
	}
	if (s->reply) {
		size_t off = 0;

		while (off < s->reply_len) {
			ssize_t w = send(c, s->reply + off, s->reply_len - off,
					 MSG_NOSIGNAL);

			if (w <= 0) {
				break;
			}
			off += (size_t)w;
		}
	} else {
		/* hold the connection open until the client gives up (it
		 * half-closes after its request: wait for the full close) */
		struct pollfd p = { .fd = c, .events = 0 };

		while (read(c, s->got + n, 1) > 0) {
		}
		(void)poll(&p, 1, 5000);
	}
	close(c);
	return NULL;
}

static void server_start(struct server *s, const char *reply, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "/tmp/vrtc-live-%d-%ld.sock",
		 getpid(), (long)random());
	strcpy(sa.sun_path, s->path);
	s->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(s->fd, 0);
	cr_assert_eq(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(s->fd, 1), 0);
	s->reply = reply;
	s->reply_len = len;
	cr_assert_eq(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	pthread_join(s->th, NULL);
	close(s->fd);
	unlink(s->path);
}

Test(probe_live, query_sends_status_json_and_parses_the_reply)
{
	const char *r = reply_with(NULL, NULL);
	struct eval_live_snap snap_out;
	struct server s;
	char msg[200] = "";

	server_start(&s, r, strlen(r));
	cr_expect_eq(query(s.path, 2000, &snap_out, msg), 0, "%s", msg);
	server_stop(&s);
	cr_expect_str_eq(s.got, "status json\n");
	cr_expect(snap_out.published);
	cr_expect_eq(snap_out.model.generation, 12);
}

Test(probe_live, query_reports_the_daemon_s_error_line)
{
	const char *r = "error: unknown command 'status json' (try: status, "
			"status json, metrics)\n";
	struct eval_live_snap out;
	struct server s;
	char msg[200] = "";

	server_start(&s, r, strlen(r));
	cr_expect_eq(query(s.path, 2000, &out, msg), -EINVAL);
	server_stop(&s);
	cr_expect(strstr(msg, "error: unknown command"), "%s", msg);
}

Test(probe_live, query_times_out_on_a_silent_daemon)
{
	struct eval_live_snap out;
	struct timespec a, b;
	struct server s;
	char msg[200] = "";
	double dt;

	server_start(&s, NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	cr_expect_eq(query(s.path, 300, &out, msg), -ETIMEDOUT, "%s", msg);
	clock_gettime(CLOCK_MONOTONIC, &b);
	server_stop(&s);
	dt = (double)(b.tv_sec - a.tv_sec) +
	     (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	cr_expect(dt >= 0.25 && dt < 2, "%.3f s", dt);
}

Test(probe_live, query_caps_the_reply)
{
	size_t len = EVAL_LIVE_MAX_REPLY + 4096;
	char *big = malloc(len);
	struct eval_live_snap out;
	struct server s;
	char msg[200] = "";

	cr_assert(big);
	memset(big, ' ', len);
	server_start(&s, big, len);
	cr_expect_eq(query(s.path, 5000, &out, msg), -EMSGSIZE, "%s", msg);
	server_stop(&s);
	free(big);
}

Test(probe_live, query_without_a_socket_fails)
{
	struct eval_live_snap out;
	char msg[200] = "";

	cr_expect_eq(query("/nonexistent/ctl.sock", 500, &out, msg), -ENOENT);
	cr_expect(strstr(msg, "connect"), "%s", msg);
}
