// SPDX-License-Identifier: MIT
/*
 * Unit tests of sync/sources/source_gpsd.c: gpsd as a time source.
 *
 * The host is simulated at the source_clock_ops seam: MONOTONIC_RAW is a
 * counter that moves 50 ns on each side of every REALTIME read, so the
 * poll's bracket, its midpoint and the REALTIME read are known exactly,
 * and time jumps only when a test says so. gpsd is a TCP listener on
 * loopback in the test's own thread: libgps's connect completes in the
 * listen backlog, the test accepts, reads the ?WATCH and writes JSON
 * lines as gpsd 3.22 does.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gpsd.h"
#include "leap.h"
#include "source.h"
#include "source_gpsd.h"

#define NS 1000000000LL
#define T0 1795259234LL
#define RT_OFF (T0 * NS - 1000 * NS) /* REALTIME - RAW */

static struct {
	int64_t raw;
} clk;

static int fake_gettime(void *ctx, clockid_t id, struct timespec *ts)
{
	int64_t v;

	if (id == CLOCK_REALTIME) {
		clk.raw += 50;
		v = clk.raw + RT_OFF;
		clk.raw += 50;
	} else {
		v = clk.raw;
	}
	ts->tv_sec = (time_t)(v / NS);
	ts->tv_nsec = (long)(v % NS);
	return 0;
}

static const struct source_clock_ops fake_clock = {
	.gettime = fake_gettime,
};

static struct leap_table *leaps;
static int lfd = -1, peer = -1;
static char server[64];
static struct source_gpsd_settings set;
static struct source_conf conf;

static void setup(void)
{
	static const struct leap_entry e[] = {
		{ .utc_s = 1483228800LL, .dtai = 37 },
	};
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	leaps = leap_table_new(e, 1, 4200000000LL);
	cr_assert_not_null(leaps);
	clk.raw = 1000 * NS;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(lfd, 4), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
	snprintf(server, sizeof(server), "127.0.0.1:%u", ntohs(a.sin_port));
	set = (struct source_gpsd_settings){ .gpsd_server = server };
	conf = (struct source_conf){
		.leaps = leaps,
		.clock_ops = &fake_clock,
		.settings = &set,
	};
}

static void teardown(void)
{
	if (peer >= 0) {
		close(peer);
	}
	if (lfd >= 0) {
		close(lfd);
	}
	peer = lfd = -1;
	leap_table_free(leaps);
}

TestSuite(source_gpsd, .init = setup, .fini = teardown);

/* Accept our client and return what it asked for. */
static void accept_client(char *watch, size_t len)
{
	struct pollfd p;
	ssize_t n;

	peer = accept(lfd, NULL, NULL);
	cr_assert_geq(peer, 0);
	p = (struct pollfd){ .fd = peer, .events = POLLIN };
	cr_assert_eq(poll(&p, 1, 2000), 1);
	n = read(peer, watch, len - 1);
	cr_assert_gt(n, 0);
	watch[n] = '\0';
}

static void say(const char *fmt, ...)
{
	static char buf[10000];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	memcpy(buf + n, "\r\n", 2);
	cr_assert_eq(write(peer, buf, (size_t)n + 2), n + 2);
}

/* REALTIME now (between reads), ns */
static int64_t rt_now(void)
{
	return clk.raw + RT_OFF;
}

static void say_toff(int64_t clock_ns)
{
	say("{\"class\":\"TOFF\",\"device\":\"/dev/pts/7\",\"real_sec\":%lld, "
	    "\"real_nsec\":0,\"clock_sec\":%lld,\"clock_nsec\":%lld}",
	    (long long)(clock_ns / NS), (long long)(clock_ns / NS),
	    (long long)(clock_ns % NS));
}

static void say_tpv(int mode)
{
	say("{\"class\":\"TPV\",\"device\":\"/dev/pts/7\",\"mode\":%d,"
	    "\"time\":\"2026-11-21T11:07:14.000Z\",\"ept\":0.005}",
	    mode);
}

static struct source *open_src(void)
{
	struct source *s = NULL;
	char watch[512];
	GError *err = NULL;

	cr_assert_eq(source_new(&source_gpsd_ops, &conf, &s, &err), 0, "%s",
		     err ? err->message : "");
	accept_client(watch, sizeof(watch));
	cr_assert(strstr(watch, "\"pps\":true"), "%s", watch);
	cr_assert(strstr(watch, "\"json\":true"), "%s", watch);
	say("{\"class\":\"VERSION\",\"release\":\"3.22\",\"rev\":\"3.22\","
	    "\"proto_major\":3,\"proto_minor\":14}");
	return s;
}

Test(source_gpsd, toff_only_is_degraded_with_the_mapped_counter)
{
	struct source *s = open_src();
	struct source_health h = { 0 };
	struct time_sample t;
	int64_t c = rt_now() - 200 * 1000000; /* 0.2 s ago */
	int64_t r0;

	say_tpv(3);
	say_toff(c);
	r0 = clk.raw;
	cr_assert_eq(source_poll(s, &t, &h), 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_DEGRADED);
	cr_assert(strstr(h.text, "no PPS: NMEA timing only, bound 500 ms"),
		  "%s", h.text);
	/* the poll's first bracket: raw r0 + 50, REALTIME r0 + 50 + off */
	cr_assert_eq(t.counter, (uint64_t)(r0 + 50 - (r0 + 50 + RT_OFF - c)));
	cr_assert_eq(t.tai_ns, (c / NS) * NS + 37 * NS);
	cr_assert_eq(t.window_ns, 100);
	cr_assert_eq(t.err_ns,
		     500000000ULL + 50 + (200000000ULL + 50) / 1000 + 1 + 1);
	cr_assert(!h.tai_utc_known);
	source_free(s);
}

Test(source_gpsd, fresh_pps_is_ok_and_preferred)
{
	struct source *s = open_src();
	struct source_health h = { 0 };
	struct time_sample t;
	int64_t c = rt_now() - 1000;

	say_tpv(3);
	say_toff(rt_now() - 100 * 1000000);
	say("{\"class\":\"PPS\",\"device\":\"/dev/pps0\",\"real_sec\":%lld,"
	    "\"real_nsec\":0,\"clock_sec\":%lld,\"clock_nsec\":%lld,"
	    "\"precision\":-20,\"shm\":\"NTP2\",\"qErr\":2500}",
	    (long long)(c / NS + 1), (long long)(c / NS), (long long)(c % NS));
	cr_assert_eq(source_poll(s, &t, &h), 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_OK, "%s", h.text);
	cr_assert(strstr(h.text, "PPS /dev/pps0"), "%s", h.text);
	cr_assert_eq(t.tai_ns, (c / NS + 1 + 37) * NS);
	/* 954 + 3 + 50 + 1 ppm * age(1050 ns) + 1 */
	cr_assert_eq(t.err_ns, 954 + 3 + 50 + 2 + 1);
	/* 2 s later that PPS is stale: nothing fresh left */
	clk.raw += 2 * NS;
	say_tpv(3);
	cr_assert_eq(source_poll(s, &t, &h), -EAGAIN);
	cr_assert_eq(h.state, SOURCE_STALE);
	source_free(s);
}

Test(source_gpsd, no_fix_and_silence_are_stale)
{
	struct source *s = open_src();
	struct source_health h = { 0 };
	struct time_sample t;

	cr_assert_eq(source_poll(s, &t, &h), -EAGAIN);
	cr_assert_eq(h.state, SOURCE_STALE);
	say_tpv(1);
	say_toff(rt_now() - 1000);
	cr_assert_eq(source_poll(s, &t, &h), -EAGAIN);
	cr_assert_eq(h.state, SOURCE_STALE);
	cr_assert(strstr(h.text, "no fix"), "%s", h.text);
	cr_assert(strstr(h.text, server), "%s", h.text);
	say_tpv(2);
	cr_assert_eq(source_poll(s, &t, &h), 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_DEGRADED);
	clk.raw += 3 * NS + 1;
	cr_assert_eq(source_poll(s, &t, &h), -EAGAIN);
	cr_assert_eq(h.state, SOURCE_STALE);
	cr_assert(strstr(h.text, "no report for 3 s"), "%s", h.text);
	source_free(s);
}

Test(source_gpsd, hostile_lines_are_skipped)
{
	struct source *s = open_src();
	struct source_health h = { 0 };
	struct time_sample t;
	static char big[9000];

	say("{a\"class\":\"PPS\""); /* hangs libgps 3.22's unpacker */
	say("{\"class\":\"PPS\",\"real_sec\":1e400}");
	say("not json at all");
	memset(big, 'x', sizeof(big) - 1);
	say("%s", big); /* longer than the client's buffer */
	say_tpv(3);
	say_toff(rt_now() - 1000);
	cr_assert_eq(source_poll(s, &t, &h), 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_DEGRADED);
	source_free(s);
}

Test(source_gpsd, leapseconds_give_tai_utc)
{
	struct source *s = open_src();
	struct source_health h = { 0 };
	struct time_sample t;

	say("{\"class\":\"TPV\",\"device\":\"/dev/pts/7\",\"mode\":3,"
	    "\"leapseconds\":18}");
	say_toff(rt_now() - 1000);
	cr_assert_eq(source_poll(s, &t, &h), 0, "%s", h.text);
	cr_assert(h.tai_utc_known);
	cr_assert_eq(h.tai_utc_s, 37);
	cr_assert_eq(h.leap_auth, LEAP_AUTH_GNSS);
	source_free(s);
}

Test(source_gpsd, other_devices_are_ignored)
{
	struct source *s;
	struct source_health h = { 0 };
	struct time_sample t;
	char watch[512];
	GError *err = NULL;

	set.gpsd_device = "/dev/gps1";
	cr_assert_eq(source_new(&source_gpsd_ops, &conf, &s, &err), 0, "%s",
		     err ? err->message : "");
	accept_client(watch, sizeof(watch));
	cr_assert(strstr(watch, "\"device\":\"/dev/gps1\""), "%s", watch);
	say_tpv(3);
	say_toff(rt_now() - 1000);
	cr_assert_eq(source_poll(s, &t, &h), -EAGAIN);
	cr_assert_eq(h.state, SOURCE_STALE);
	source_free(s);
}

Test(source_gpsd, gpsd_gone_is_error_then_reconnects)
{
	struct source *s = open_src();
	struct source_health h = { 0 };
	struct time_sample t;
	char watch[512];

	say_tpv(3);
	say_toff(rt_now() - 1000);
	cr_assert_eq(source_poll(s, &t, &h), 0, "%s", h.text);
	close(peer);
	peer = -1;
	cr_assert_eq(source_poll(s, &t, &h), -ECONNRESET);
	cr_assert_eq(h.state, SOURCE_ERROR);
	cr_assert(strstr(h.text, "unreachable"), "%s", h.text);
	/* within the 0.5 s back-off: no new attempt */
	clk.raw += NS / 4;
	cr_assert_lt(source_poll(s, &t, &h), 0);
	cr_assert_eq(h.state, SOURCE_ERROR);
	clk.raw += NS / 2;
	cr_assert_eq(source_poll(s, &t, &h), -EAGAIN, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_STALE, "%s", h.text);
	accept_client(watch, sizeof(watch));
	say_tpv(3);
	say_toff(rt_now() - 1000);
	cr_assert_eq(source_poll(s, &t, &h), 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_DEGRADED);
	/* gpsd stops listening: refused, and says so */
	close(peer);
	peer = -1;
	close(lfd);
	lfd = -1;
	cr_assert_lt(source_poll(s, &t, &h), 0);
	clk.raw += NS;
	cr_assert_eq(source_poll(s, &t, &h), -ECONNREFUSED, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_ERROR);
	cr_assert(strstr(h.text, "refused"), "%s", h.text);
	source_free(s);
}

Test(source_gpsd, new_fails_clearly)
{
	struct source *s = NULL;
	GError *err = NULL;

	close(lfd);
	lfd = -1;
	cr_assert_eq(source_new(&source_gpsd_ops, &conf, &s, &err),
		     -ECONNREFUSED);
	cr_assert(strstr(err->message, server), "%s", err ? err->message : "");
	g_clear_error(&err);
	set.gpsd_device = "/dev/x\",\"raw\":2"; /* would inject into ?WATCH */
	cr_assert_eq(source_new(&source_gpsd_ops, &conf, &s, &err), -EINVAL);
	g_clear_error(&err);
	set.gpsd_device = NULL;
	set.gpsd_server = "localhost:";
	cr_assert_eq(source_new(&source_gpsd_ops, &conf, &s, &err), -EINVAL);
	cr_assert(strstr(err->message, "localhost:"), "%s",
		  err ? err->message : "");
	g_clear_error(&err);
	cr_assert_null(s);
}

/*
 * source-start=retry: gpsd not listening when the source is opened is a
 * source that is down (ERROR, "unreachable", no sample), reconnected at
 * the polls with the usual back-off, used once gpsd is up. What is not
 * gpsd's absence still fails new().
 */
Test(source_gpsd, down_at_start_is_retried_with_the_back_off)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct source *s = NULL;
	struct source_health h = { 0 };
	struct time_sample t;
	GError *err = NULL;
	char watch[512];
	int one = 1;

	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	close(lfd);
	lfd = -1;
	conf.retry_at_start = true;
	cr_assert_eq(source_new(&source_gpsd_ops, &conf, &s, &err), 0, "%s",
		     err ? err->message : "");
	cr_assert_not_null(s);
	cr_assert_eq(source_poll(s, &t, &h), -ECONNREFUSED, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_ERROR);
	cr_assert(strstr(h.text, "unreachable"), "%s", h.text);
	cr_assert(strstr(h.text, server), "%s", h.text);

	/* gpsd comes up on its port; the back-off (0.5 s) passes */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(lfd, 4), 0);
	clk.raw += NS / 4;
	cr_assert_lt(source_poll(s, &t, &h), 0); /* within the back-off */
	cr_assert_eq(h.state, SOURCE_ERROR);
	clk.raw += NS / 2;
	cr_assert_eq(source_poll(s, &t, &h), -EAGAIN, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_STALE, "%s", h.text);
	accept_client(watch, sizeof(watch));
	say_tpv(3);
	say_toff(rt_now() - 1000);
	cr_assert_eq(source_poll(s, &t, &h), 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_DEGRADED);
	source_free(s);
	s = NULL;

	/* a device name we would not send is ours, not gpsd's absence */
	set.gpsd_device = "/dev/x\",\"raw\":2";
	cr_assert_eq(source_new(&source_gpsd_ops, &conf, &s, &err), -EINVAL);
	g_clear_error(&err);
	set.gpsd_device = NULL;
	set.gpsd_server = "localhost:";
	cr_assert_eq(source_new(&source_gpsd_ops, &conf, &s, &err), -EINVAL);
	g_clear_error(&err);
	cr_assert_null(s);
}
