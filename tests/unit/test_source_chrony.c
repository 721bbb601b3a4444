// SPDX-License-Identifier: MIT
/*
 * Unit tests of sync/sources/source_chrony.c: the system clock disciplined by
 * chronyd as a time source.
 *
 * The host is simulated at the source_clock_ops seam: MONOTONIC_RAW is a
 * counter that only moves when REALTIME is read, each REALTIME read
 * taking a scripted time, so the narrowest bracket, its midpoint and the
 * REALTIME read in it are known exactly. chronyd is a thread serving a
 * Unix datagram socket in a temp dir, answering TRACKING requests with
 * replies built by chrony_tracking_encode(), or with nothing, or with an
 * unsynchronised status, or with hostile bytes.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "chrony.h"
#include "leap.h"
#include "source.h"
#include "source_chrony.h"
#include "test_seed.h"

/*
 * A poll must not block (its peers are asked with short timeouts). The
 * limit catches a real wait (the 250 ms resend, the 1 s query) but not a
 * loaded, shared CI machine's scheduling delays.
 */
#define POLL_BLOCK_LIMIT_NS 100000000
#define NS 1000000000LL
#define DTAI 37
/* the fake REALTIME - MONOTONIC_RAW: REALTIME near 2025-06 */
#define RT_OFF (1750000000LL * NS)
#define RAW0 (1000LL * NS)

/* ---- the simulated host clock ---- */

/* REALTIME read durations, ns, cycled: the narrowest is 400 */
static const int64_t pattern[5] = { 3000, 2000, 400, 5000, 1000 };

static struct {
	int64_t raw;
	unsigned int k;
	int64_t rt_off;
	bool fail;
} clk;

static void put_ns(struct timespec *ts, int64_t ns)
{
	ts->tv_sec = (time_t)(ns / NS);
	ts->tv_nsec = (long)(ns % NS);
}

static int fake_gettime(void *ctx, clockid_t id, struct timespec *ts)
{
	int64_t p;

	if (clk.fail) {
		errno = EIO;
		return -1;
	}
	if (id == CLOCK_MONOTONIC_RAW) {
		put_ns(ts, clk.raw);
		return 0;
	}
	if (id != CLOCK_REALTIME) {
		errno = EINVAL;
		return -1;
	}
	p = pattern[clk.k++ % 5];
	clk.raw += p / 2;
	put_ns(ts, clk.raw + clk.rt_off);
	clk.raw += p - p / 2;
	return 0;
}

static const struct source_clock_ops fake_clock = {
	.gettime = fake_gettime,
};

static int64_t real_raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

/* ---- the fake chronyd ---- */

enum fake_mode {
	FAKE_ANSWER,  /* a good, synchronised TRACKING reply */
	FAKE_UNSYNC,  /* the same with leap status 3 */
	FAKE_SILENT,  /* reads requests, answers nothing */
	FAKE_HOSTILE, /* answers with malformed or forged bytes */
	FAKE_INSERT,  /* synchronised, announcing a leap insertion */
};

static char dir[64];
static char sock_path[96];
static int srv = -1;
static pthread_t thr;
static bool thr_running;
static atomic_int mode;
static atomic_int stop;
static atomic_uint handled; /* requests read (and answered, if at all) */
static atomic_uint hostile_n;
static struct chrony_tracking good; /* set before the thread starts */
static struct leap_table *leaps;

static void hostile_reply(uint32_t seq, uint8_t *b, size_t *len)
{
	struct chrony_tracking bad = good;
	unsigned int n = atomic_fetch_add(&hostile_n, 1);

	/* each is built from a reply that would change the bound if used */
	bad.root_dispersion = 5.0;
	bad.stratum = 1;
	/* not cr_assert: this runs on the fake's thread */
	if (chrony_tracking_encode(&bad, seq, b) != CHRONY_TRACKING_LEN) {
		abort();
	}
	*len = CHRONY_TRACKING_LEN;
	switch (n % 8) {
	case 0: /* wrong protocol version */
		b[0] = 5;
		break;
	case 1: /* truncated */
		*len = 40;
		break;
	case 2: /* stratum out of range */
		b[52] = 0;
		b[53] = 99;
		break;
	case 3: /* leap status out of range */
		b[55] = 7;
		break;
	case 4: /* chrony float overflow marker in root dispersion */
		memset(b + 96, 0x7f, 4);
		break;
	case 5: /* oversized */
		*len = 1000;
		memset(b + CHRONY_TRACKING_LEN, 0xee,
		       *len - CHRONY_TRACKING_LEN);
		break;
	case 6: /* reply to another command */
		b[5] = 34;
		break;
	default: /* random bytes */
		for (size_t i = 0; i < *len; i++) {
			b[i] = (uint8_t)(rand() & 0xff);
		}
		break;
	}
}

static void *fake_chronyd(void *arg)
{
	while (!atomic_load(&stop)) {
		struct pollfd p = { .fd = srv, .events = POLLIN };
		uint8_t req[512], b[1024];
		struct sockaddr_un from;
		socklen_t fl = sizeof(from);
		struct chrony_tracking t = good;
		size_t len = CHRONY_TRACKING_LEN;
		uint32_t seq;
		ssize_t n;
		int m;

		if (poll(&p, 1, 10) <= 0) {
			continue;
		}
		n = recvfrom(srv, req, sizeof(req), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &fl);
		if (n < 20) {
			continue;
		}
		memcpy(&seq, req + 8, 4);
		seq = be32toh(seq);
		m = atomic_load(&mode);
		if (m == FAKE_UNSYNC) {
			t.leap_status = CHRONY_LEAP_UNSYNC;
		} else if (m == FAKE_INSERT) {
			t.leap_status = CHRONY_LEAP_INSERT;
		}
		if (m == FAKE_HOSTILE) {
			hostile_reply(seq, b, &len);
		} else if (m != FAKE_SILENT) {
			chrony_tracking_encode(&t, seq, b);
		}
		if (m != FAKE_SILENT) {
			sendto(srv, b, len, 0, (struct sockaddr *)&from, fl);
		}
		atomic_fetch_add(&handled, 1);
	}
	return NULL;
}

static void fake_start(enum fake_mode m)
{
	atomic_store(&mode, m);
	atomic_store(&stop, 0);
	cr_assert_eq(pthread_create(&thr, NULL, fake_chronyd, NULL), 0);
	thr_running = true;
}

static void fake_stop(void)
{
	if (thr_running) {
		atomic_store(&stop, 1);
		pthread_join(thr, NULL);
		thr_running = false;
	}
	if (srv >= 0) {
		close(srv);
		srv = -1;
		unlink(sock_path);
	}
}

static void setup(void)
{
	static const struct leap_entry e[] = {
		{ 1435708800, 36 }, /* 2015-07-01 */
		{ 1483228800, 37 }, /* 2017-01-01 */
	};
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	leaps = leap_table_new(e, 2, 4200000000LL);
	cr_assert_not_null(leaps);
	strcpy(dir, "/tmp/vrtc-srcchr.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/chronyd.sock", dir);
	srv = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(srv, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	cr_assert_eq(bind(srv, (struct sockaddr *)&a, sizeof(a)), 0);

	clk.raw = RAW0;
	clk.k = 0;
	clk.rt_off = RT_OFF;
	clk.fail = false;
	memset(&good, 0, sizeof(good));
	good.ref_id = 0x7f000001;
	good.ip_family = CHRONY_AF_INET4;
	good.stratum = 3;
	good.leap_status = CHRONY_LEAP_NORMAL;
	/* chronyd's last update 2 s before the fake REALTIME starts */
	put_ns(&good.ref_time, RAW0 + RT_OFF - 2 * NS);
	good.current_correction = 1e-6;
	good.rms_offset = 1e-7;
	good.freq_ppm = 12.5;
	good.skew_ppm = 0.05;
	good.root_delay = 2e-4;
	good.root_dispersion = 5e-5;
	good.last_update_interval = 64;
	atomic_store(&handled, 0);
	atomic_store(&hostile_n, 0);
	srand(test_seed("source_chrony"));
}

static void teardown(void)
{
	fake_stop();
	rmdir(dir);
	leap_table_free(leaps);
}

TestSuite(source_chrony, .init = setup, .fini = teardown);

/* @retry: source_conf.retry_at_start (source-start=retry) */
static int open_src_mode(struct source **s, GError **err, bool retry)
{
	const struct source_chrony_settings set = { .chrony_socket =
							    sock_path };
	struct source_conf c = {
		.leaps = leaps,
		.clock_ops = &fake_clock,
		.settings = &set,
		.retry_at_start = retry,
	};

	return source_new(&source_chrony_ops, &c, s, err);
}

static int open_src(struct source **s, GError **err)
{
	return open_src_mode(s, err, false);
}

static struct source *open_ok(void)
{
	struct source *s = NULL;
	GError *err = NULL;

	cr_assert_eq(open_src(&s, &err), 0, "%s", err ? err->message : "");
	cr_assert_not_null(s);
	return s;
}

/* Wait until the fake chronyd has read at least @n requests. */
static void wait_handled(unsigned int n)
{
	int64_t t0 = real_raw_ns();

	while (atomic_load(&handled) < n) {
		cr_assert_lt(real_raw_ns() - t0, 2 * NS,
			     "fake chronyd got %u requests, want %u",
			     atomic_load(&handled), n);
		usleep(200);
	}
}

/*
 * One poll, timed, then let the fake chronyd take (and answer) the
 * request it sent, so the next poll finds the answer waiting.
 */
static int poll_once(struct source *s, struct time_sample *t,
		     struct source_health *h)
{
	unsigned int before = atomic_load(&handled);
	int64_t t0 = real_raw_ns();
	int r;

	memset(h, 0, sizeof(*h));
	r = source_poll(s, t, h);
	cr_expect_lt(real_raw_ns() - t0, POLL_BLOCK_LIMIT_NS,
		     "poll waited %lld ns", (long long)(real_raw_ns() - t0));
	if (thr_running) {
		wait_handled(before + 1);
	}
	return r;
}

/* The reply as the source decoded it (chrony floats are 25-bit). */
static struct chrony_tracking decoded(const struct chrony_tracking *t)
{
	uint8_t b[CHRONY_TRACKING_LEN];
	struct chrony_tracking d;

	cr_assert_eq(chrony_tracking_encode(t, 7, b), CHRONY_TRACKING_LEN);
	cr_assert_eq(chrony_tracking_parse(b, sizeof(b), 7, &d), 0);
	return d;
}

/* The sample is exact: narrowest bracket, its REALTIME, the bound. */
static void expect_exact(const struct time_sample *t,
			 const struct chrony_tracking *tr, int32_t dtai)
{
	struct chrony_tracking d = decoded(tr);
	int64_t rt_ns = (int64_t)t->counter + clk.rt_off;
	struct timespec rt;
	uint64_t want = 0, bare = 0;

	/* REALTIME was read at the narrowest bracket's midpoint */
	cr_assert_eq(t->tai_ns, rt_ns + (int64_t)dtai * NS,
		     "tai %lld, counter %llu", (long long)t->tai_ns,
		     (unsigned long long)t->counter);
	/* 400 ns window: half of it rounded up, + 1, twice */
	cr_assert_eq(t->window_ns, 402);
	put_ns(&rt, rt_ns);
	cr_assert_eq(chrony_bound_ns(&d, &rt, 1000, 201, &want), 0);
	cr_assert_eq(chrony_bound_ns(&d, &rt, 1000, 0, &bare), 0);
	cr_assert_eq(t->err_ns, want, "err %llu want %llu",
		     (unsigned long long)t->err_ns, (unsigned long long)want);
	cr_assert_eq(t->err_ns, bare + 201);
	/* sanity: the bound is chrony's correction + delay/2 + dispersion
	 * (55 us + float rounding) aged at 1 ppm over >= 1 s, not less */
	cr_assert_geq(t->err_ns, 1000 + 100000 + 50000 + 1000);
}

Test(source_chrony, sample_is_realtime_in_tai_with_chrony_bound)
{
	struct source *s;
	struct time_sample t;
	struct source_health h;

	fake_start(FAKE_ANSWER);
	s = open_ok();
	cr_assert_str_eq(source_name(s), "chronyd");
	for (int i = 0; i < 5; i++) {
		uint64_t raw_before = (uint64_t)clk.raw;

		cr_assert_eq(poll_once(s, &t, &h), 0, "poll %d: %s", i, h.text);
		cr_assert_eq(h.state, SOURCE_OK, "poll %d: %s", i, h.text);
		cr_assert(strstr(h.text, "stratum 3"), "%s", h.text);
		cr_assert(strstr(h.text, sock_path), "%s", h.text);
		cr_assert(h.leap_known);
		cr_assert_eq(h.leap, SOURCE_LEAP_NONE);
		cr_assert_gt(t.counter, raw_before);
		cr_assert_leq(t.counter, (uint64_t)clk.raw);
		expect_exact(&t, &good, DTAI);
		clk.raw += NS; /* a second between polls: the bound ages */
	}
	source_free(s);
}

Test(source_chrony, tai_offset_comes_from_the_table_at_the_sample)
{
	struct source *s;
	struct time_sample t;
	struct source_health h;

	/* REALTIME in 2016: TAI - UTC was 36 s */
	clk.rt_off = 1460000000LL * NS - RAW0;
	put_ns(&good.ref_time, RAW0 + clk.rt_off - NS);
	fake_start(FAKE_ANSWER);
	s = open_ok();
	cr_assert_eq(poll_once(s, &t, &h), 0, "%s", h.text);
	expect_exact(&t, &good, 36);
	source_free(s);
}

Test(source_chrony, leap_announcement_is_passed_on)
{
	struct source *s;
	struct time_sample t;
	struct source_health h;

	fake_start(FAKE_INSERT);
	s = open_ok();
	cr_assert_eq(poll_once(s, &t, &h), 0, "%s", h.text);
	cr_assert(h.leap_known);
	cr_assert_eq(h.leap, SOURCE_LEAP_INSERT);
	source_free(s);
}

static void expect_untouched(const struct time_sample *t)
{
	struct time_sample sentinel;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	cr_assert_arr_eq(t, &sentinel, sizeof(sentinel),
			 "a sample was written without a bound");
}

Test(source_chrony, unsynchronised_chronyd_is_an_error_without_sample)
{
	struct source *s;
	struct time_sample t;
	struct source_health h;

	fake_start(FAKE_UNSYNC);
	s = open_ok();
	for (int i = 0; i < 3; i++) {
		memset(&t, 0xa5, sizeof(t));
		cr_assert_eq(poll_once(s, &t, &h), -ENODATA);
		cr_assert_eq(h.state, SOURCE_ERROR);
		cr_assert(strstr(h.text, "not synchronised"), "%s", h.text);
		cr_assert_not(h.leap_known);
		expect_untouched(&t);
	}
	source_free(s);
}

Test(source_chrony, chronyd_losing_sync_stops_samples_and_regaining_resumes)
{
	struct source *s;
	struct time_sample t;
	struct source_health h;
	int r = 0;

	fake_start(FAKE_ANSWER);
	s = open_ok();
	cr_assert_eq(poll_once(s, &t, &h), 0, "%s", h.text);
	atomic_store(&mode, FAKE_UNSYNC);
	/* the answer to the request already out is still a good one */
	for (int i = 0; i < 2 && r == 0; i++) {
		memset(&t, 0xa5, sizeof(t));
		r = poll_once(s, &t, &h);
	}
	cr_assert_eq(r, -ENODATA);
	cr_assert_eq(h.state, SOURCE_ERROR);
	expect_untouched(&t);
	atomic_store(&mode, FAKE_ANSWER);
	for (int i = 0; i < 2 && r != 0; i++) {
		r = poll_once(s, &t, &h);
	}
	cr_assert_eq(r, 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_OK);
	expect_exact(&t, &good, DTAI);
	source_free(s);
}

Test(source_chrony, unsynchronised_never_synced_reply_is_an_error)
{
	struct source *s;
	struct time_sample t;
	struct source_health h;

	/* chronyd that never synchronised reports ref_time 0 */
	memset(&good.ref_time, 0, sizeof(good.ref_time));
	fake_start(FAKE_UNSYNC);
	s = open_ok();
	memset(&t, 0xa5, sizeof(t));
	cr_assert_eq(poll_once(s, &t, &h), -ENODATA);
	cr_assert_eq(h.state, SOURCE_ERROR);
	expect_untouched(&t);
	source_free(s);
}

Test(source_chrony, silent_chronyd_is_degraded_after_two_misses_then_stale)
{
	struct source *s;
	struct time_sample t;
	struct source_health h;
	uint64_t last_err = 0;

	fake_start(FAKE_ANSWER);
	s = open_ok(); /* the first reply (in new) is the last one */
	atomic_store(&mode, FAKE_SILENT);
	/*
	 * The reply ages: still a sample, its bound growing at 1 ppm. Poll
	 * 0 sends the first request, poll 1 finds it unanswered (one miss
	 * is no alarm), from poll 2 on two in a row are: DEGRADED.
	 */
	for (int i = 0; i < 15; i++) {
		cr_assert_eq(poll_once(s, &t, &h), 0, "poll %d: %s", i, h.text);
		cr_assert_eq(h.state, i < 2 ? SOURCE_OK : SOURCE_DEGRADED,
			     "poll %d: %s", i, h.text);
		if (i >= 2) {
			cr_assert(strstr(h.text, "no reply to the last"), "%s",
				  h.text);
		}
		expect_exact(&t, &good, DTAI);
		if (i) {
			cr_assert_geq(t.err_ns, last_err + 1000 - 1);
		}
		last_err = t.err_ns;
		clk.raw += NS;
	}
	/* past 16 s without an answer: stale, no sample, no bound */
	clk.raw += 2 * NS;
	for (int i = 0; i < 20; i++) {
		memset(&t, 0xa5, sizeof(t));
		cr_assert_eq(poll_once(s, &t, &h), -EAGAIN);
		cr_assert_eq(h.state, SOURCE_STALE);
		cr_assert(strstr(h.text, "no recent TRACKING"), "%s", h.text);
		expect_untouched(&t);
		clk.raw += NS;
	}
	source_free(s);
}

Test(source_chrony, chronyd_gone_is_degraded_then_stale)
{
	struct source *s;
	struct time_sample t;
	struct source_health h;
	int r;

	fake_start(FAKE_ANSWER);
	s = open_ok();
	fake_stop(); /* socket closed and removed */
	r = poll_once(s, &t, &h);
	cr_assert_eq(r, 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_DEGRADED, "%s", h.text);
	cr_assert(strstr(h.text, "last query"), "%s", h.text);
	expect_exact(&t, &good, DTAI);
	clk.raw += 17 * NS;
	memset(&t, 0xa5, sizeof(t));
	cr_assert_eq(poll_once(s, &t, &h), -EAGAIN);
	cr_assert_eq(h.state, SOURCE_STALE);
	cr_assert(strstr(h.text, "no recent TRACKING reply: "), "%s", h.text);
	expect_untouched(&t);
	source_free(s);
}

/*
 * chronyd restarted, but the client opened again has had no answer yet:
 * that is no "ok" (issue 19: a fresh UDP client that never answered was
 * reported ok), only its first answer is.
 */
Test(source_chrony, reopened_client_is_not_ok_before_it_answers)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct source *s;
	struct time_sample t;
	struct source_health h;
	int r;

	fake_start(FAKE_ANSWER);
	s = open_ok();
	fake_stop();
	r = poll_once(s, &t, &h); /* the socket fails: client dropped */
	cr_assert_eq(r, 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_DEGRADED, "%s", h.text);
	/* a chronyd at the path again, silent for now */
	srv = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(srv, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	cr_assert_eq(bind(srv, (struct sockaddr *)&a, sizeof(a)), 0);
	fake_start(FAKE_SILENT);
	clk.raw += NS;
	r = poll_once(s, &t, &h); /* reopened, asked, not answered */
	cr_assert_eq(r, 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_DEGRADED, "%s", h.text);
	cr_assert(strstr(h.text, "no answer yet since reopening") ||
			  strstr(h.text, "no reply to the last"),
		  "%s", h.text);
	/* it answers: ok again */
	atomic_store(&mode, FAKE_ANSWER);
	for (int i = 0; i < 3; i++) {
		clk.raw += NS;
		r = poll_once(s, &t, &h);
	}
	cr_assert_eq(r, 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_OK, "%s", h.text);
	source_free(s);
}

Test(source_chrony, hostile_replies_are_ignored)
{
	struct source *s;
	struct time_sample t;
	struct source_health h;

	fake_start(FAKE_ANSWER);
	s = open_ok();
	cr_assert_eq(poll_once(s, &t, &h), 0, "%s", h.text);
	atomic_store(&mode, FAKE_HOSTILE);
	/* poll 0 takes the last good answer; then one hostile one each */
	cr_assert_eq(poll_once(s, &t, &h), 0, "%s", h.text);
	for (int i = 0; i < 24; i++) {
		cr_assert_eq(poll_once(s, &t, &h), 0, "poll %d: %s", i, h.text);
		cr_assert_eq(h.state, SOURCE_DEGRADED, "poll %d: %s", i,
			     h.text);
		/* stratum and bound still those of the last good reply */
		cr_assert(strstr(h.text, "stratum 3"), "%s", h.text);
		expect_exact(&t, &good, DTAI);
		clk.raw += NS / 2;
	}
	atomic_store(&mode, FAKE_ANSWER);
	cr_assert_eq(poll_once(s, &t, &h), 0, "%s", h.text);
	cr_assert_eq(poll_once(s, &t, &h), 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_OK, "%s", h.text);
	expect_exact(&t, &good, DTAI);
	source_free(s);
}

Test(source_chrony, clock_read_failure_is_an_error)
{
	struct source *s;
	struct time_sample t;
	struct source_health h;

	fake_start(FAKE_ANSWER);
	s = open_ok();
	clk.fail = true;
	memset(&t, 0xa5, sizeof(t));
	cr_assert_eq(poll_once(s, &t, &h), -EIO);
	cr_assert_eq(h.state, SOURCE_ERROR);
	cr_assert(strstr(h.text, "reading clocks"), "%s", h.text);
	expect_untouched(&t);
	source_free(s);
}

Test(source_chrony, open_fails_clearly_without_chronyd)
{
	struct source *s = NULL;
	GError *err = NULL;
	int64_t t0;

	/* nobody bound at the socket path */
	fake_stop();
	cr_assert_lt(open_src(&s, &err), 0);
	cr_assert_null(s);
	cr_assert(strstr(err->message, sock_path), "%s",
		  err ? err->message : "");
	g_clear_error(&err);

	/* a chronyd that never answers: new() waits its 1 s, no more */
	{
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		srv = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
		cr_assert_eq(bind(srv, (struct sockaddr *)&a, sizeof(a)), 0);
	}
	fake_start(FAKE_SILENT);
	t0 = real_raw_ns();
	cr_assert_eq(open_src(&s, &err), -ETIMEDOUT, "%s",
		     err ? err->message : "");
	cr_assert_lt(real_raw_ns() - t0, 3 * NS);
	cr_assert_null(s);
	cr_assert(strstr(err->message, sock_path), "%s",
		  err ? err->message : "");
	cr_assert(strstr(err->message, "TRACKING"), "%s",
		  err ? err->message : "");
	g_clear_error(&err);
}

/*
 * source-start=retry: chronyd not up when the source is opened is a
 * source that is down (STALE, saying so, no sample), asked again at
 * every poll, and used as soon as chronyd answers: no restart needed.
 */
Test(source_chrony, down_at_start_is_retried_at_the_polls)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct source *s = NULL;
	struct time_sample t;
	struct source_health h;
	GError *err = NULL;
	int i, r = -1;

	fake_stop(); /* nobody bound at the socket path */
	cr_assert_eq(open_src_mode(&s, &err, true), 0, "%s",
		     err ? err->message : "");
	cr_assert_not_null(s);
	for (i = 0; i < 3; i++) {
		memset(&t, 0xa5, sizeof(t));
		cr_assert_eq(poll_once(s, &t, &h), -EAGAIN);
		cr_assert_eq(h.state, SOURCE_STALE, "%s", h.text);
		cr_assert(strstr(h.text, "not reached yet"), "%s", h.text);
		cr_assert(strstr(h.text, sock_path), "%s", h.text);
		expect_untouched(&t);
	}

	/* chronyd comes up on its socket */
	srv = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	cr_assert_eq(bind(srv, (struct sockaddr *)&a, sizeof(a)), 0);
	fake_start(FAKE_ANSWER);
	for (i = 0; i < 5 && r != 0; i++) {
		r = poll_once(s, &t, &h);
	}
	cr_assert_eq(r, 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_OK, "%s", h.text);
	expect_exact(&t, &good, DTAI);
	source_free(s);
}
