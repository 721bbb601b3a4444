/* SPDX-License-Identifier: MIT */
/*
 * The PHC source with a ptp4l companion that never answers, or is not
 * there: polling must not wait for ptp4l (the main loop serves every
 * VM), and the PHC, which nothing vouches for, gives no sample (STALE,
 * saying why). The PHC is a fake at the
 * phc_ops seam answering PTP_SYS_OFFSET_EXTENDED with the real
 * MONOTONIC_RAW clock plus a fixed offset (and a step, when a test sets
 * one); it can be made to fail every ioctl with one errno, as a device
 * that errs (EIO) or vanished (ENODEV) does.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/ptp_clock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "leap.h"
#include "source.h"
#include "source_phc.h"

/*
 * A poll must not block (its peers are asked with short timeouts). The
 * limit catches a real wait (the 250 ms resend, the 1 s query) but not a
 * loaded, shared CI machine's scheduling delays.
 */
#define POLL_BLOCK_LIMIT_NS 100000000
#define OFFSET_NS 1000000000000ll /* the fake PHC's TAI - MONOTONIC_RAW */

static int64_t step_ns;		/* added to the fake PHC's time */
static int fail_err;		/* > 0: every ioctl fails with it */
static unsigned int n_precise;	/* PTP_SYS_OFFSET_PRECISE tries */
static unsigned int n_extended; /* PTP_SYS_OFFSET_EXTENDED tries */

static int64_t raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void put(struct ptp_clock_time *t, int64_t ns)
{
	t->sec = ns / 1000000000ll;
	t->nsec = (uint32_t)(ns % 1000000000ll);
}

static int fake_open(void *ctx, const char *path)
{
	return strcmp(path, "/dev/ptp-fake") ? -ENOENT : 42;
}

static int fake_socket(void *ctx)
{
	return -EAFNOSUPPORT;
}

static int fake_close(void *ctx, int fd)
{
	return 0;
}

static int fake_gettime(void *ctx, clockid_t clk, struct timespec *ts)
{
	return clock_gettime(clk, ts) < 0 ? -errno : 0;
}

/* GETCAPS and EXTENDED (with the MONOTONIC_RAW clockid) only. */
static int fake_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	n_precise += req == PTP_SYS_OFFSET_PRECISE;
	n_extended += req == PTP_SYS_OFFSET_EXTENDED;
	if (fail_err) {
		return -fail_err;
	}
	if (req == PTP_CLOCK_GETCAPS) {
		memset(arg, 0, sizeof(struct ptp_clock_caps));
		return 0;
	}
	if (req == PTP_SYS_OFFSET_EXTENDED) {
		struct ptp_sys_offset_extended *x = arg;

		if (x->rsv[0] != CLOCK_MONOTONIC_RAW) {
			return -EINVAL;
		}
		for (unsigned int i = 0; i < x->n_samples; i++) {
			int64_t a = raw_ns(), b;

			b = raw_ns();
			put(&x->ts[i][0], a);
			put(&x->ts[i][1], (a + b) / 2 + OFFSET_NS + step_ns);
			put(&x->ts[i][2], b);
		}
		return 0;
	}
	return -EOPNOTSUPP;
}

static const struct phc_ops fake_ops = {
	.open = fake_open,
	.socket = fake_socket,
	.ioctl = fake_ioctl,
	.close = fake_close,
	.gettime = fake_gettime,
};

static char dir[64];
static char sock_path[96];
static int silent = -1; /* a ptp4l that reads nothing and answers nothing */
static struct leap_table *leaps;

static void setup(void)
{
	static const struct leap_entry e[] = { { 1483228800, 37 } };
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	step_ns = 0;
	fail_err = 0;
	n_precise = n_extended = 0;
	leaps = leap_table_new(e, 1, 4200000000LL);
	strcpy(dir, "/tmp/vrtc-srcphc.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/ptp4l", dir);
	silent = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(silent, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	cr_assert_eq(bind(silent, (struct sockaddr *)&a, sizeof(a)), 0);
}

static void teardown(void)
{
	close(silent);
	unlink(sock_path);
	rmdir(dir);
	leap_table_free(leaps);
}

TestSuite(source_phc, .init = setup, .fini = teardown);

static struct source *open_src(const char *ptp4l)
{
	char *phcs[] = { "/dev/ptp-fake", NULL };
	char *ptp4ls[] = { (char *)ptp4l, NULL };
	const struct source_phc_settings set = {
		.phc = phcs,
		.ptp4l_socket = ptp4ls,
		.ptp4l_bind_dir = dir,
		.phc_ops = &fake_ops,
	};
	struct source_conf c = { .leaps = leaps, .settings = &set };
	struct source *s = NULL;
	GError *err = NULL;

	cr_assert_eq(source_new(&source_phc_ops, &c, &s, &err), 0, "%s",
		     err ? err->message : "");
	return s;
}

/*
 * Polls never wait on ptp4l; a PHC ptp4l never vouched for gives no
 * sample (it may be anywhere), saying why.
 */
static void expect_unvouched_fast(struct source *s, const char *why)
{
	for (int i = 0; i < 12; i++) {
		struct time_sample t;
		struct source_health h = { 0 };
		int64_t t0 = raw_ns();

		cr_assert_eq(source_poll(s, &t, &h), -EAGAIN, "poll %d: %s", i,
			     h.text);
		cr_expect_lt(raw_ns() - t0, POLL_BLOCK_LIMIT_NS,
			     "poll %d waited %lld ns", i,
			     (long long)(raw_ns() - t0));
		cr_expect_eq(h.state, SOURCE_STALE, "poll %d: %s", i, h.text);
		cr_expect(strstr(h.text, why), "poll %d: \"%s\"", i, h.text);
		cr_expect(strstr(h.text, "no sample, ptp4l never vouched"),
			  "poll %d: \"%s\"", i, h.text);
	}
}

Test(source_phc, ptp4l_never_answers)
{
	struct source *s = open_src(sock_path);

	/* "no recent answer", or "unreachable" once its socket is full */
	expect_unvouched_fast(s, "ptp4l at ");
	source_free(s);
}

Test(source_phc, ptp4l_not_there)
{
	struct source *s = open_src("/nonexistent/ptp4l");

	expect_unvouched_fast(s, "ptp4l at /nonexistent/ptp4l");
	source_free(s);
}

Test(source_phc, no_companion_is_ok)
{
	struct source *s = open_src(NULL);
	struct time_sample t;
	struct source_health h = { 0 };

	cr_assert_eq(source_poll(s, &t, &h), 0);
	cr_expect_eq(h.state, SOURCE_OK, "%s", h.text);
	/* several PHCs are told apart by their device */
	cr_expect_str_eq(source_name(s), "PHC /dev/ptp-fake");
	source_free(s);
}

/* The PHC's TAI - counter of one OK sample, ns. */
static int64_t poll_offset(struct source *s)
{
	struct time_sample t;
	struct source_health h = { 0 };

	cr_assert_eq(source_poll(s, &t, &h), 0, "%s", h.text);
	cr_assert_eq(h.state, SOURCE_OK, "%s", h.text);
	cr_assert_lt(t.err_ns, 100000, "read error only, no budget");
	return t.tai_ns - (int64_t)t.counter;
}

/* Reads failing with @err: ERROR naming the device, re-probe, recover. */
static void read_fails_then_recovers(int err)
{
	struct source *s = open_src(NULL);
	char want[96];

	cr_assert_lt(llabs(poll_offset(s) - OFFSET_NS), 1000);
	/* probed once: PRECISE refused, EXTENDED chosen */
	cr_assert_eq(n_precise, 1);
	fail_err = err;
	snprintf(want, sizeof(want), "PHC /dev/ptp-fake: read: %s",
		 strerror(err));
	for (int i = 0; i < 3; i++) {
		struct time_sample t;
		struct source_health h = { 0 };
		unsigned int before = n_precise;

		memset(&t, 0xa5, sizeof(t));
		cr_assert_eq(source_poll(s, &t, &h), -err, "poll %d: %s", i,
			     h.text);
		cr_assert_eq(h.state, SOURCE_ERROR, "%s", h.text);
		cr_assert_str_eq(h.text, want);
		/* the chosen method failed: every method tried again */
		cr_assert_eq(n_precise, before + 1, "poll %d: no re-probe", i);
		cr_assert_eq(t.counter, 0xa5a5a5a5a5a5a5a5ull,
			     "no sample on error");
	}
	fail_err = 0;
	n_extended = 0;
	cr_assert_lt(llabs(poll_offset(s) - OFFSET_NS), 1000);
	cr_assert_geq(n_extended, 1, "EXTENDED chosen again");
	/* and kept: no further probing once reads work */
	n_precise = 0;
	poll_offset(s);
	cr_assert_eq(n_precise, 0);
	source_free(s);
}

Test(source_phc, read_eio_is_an_error_then_recovers)
{
	read_fails_then_recovers(EIO);
}

Test(source_phc, device_vanished_is_an_error_then_recovers)
{
	read_fails_then_recovers(ENODEV);
}

/* A PHC stepped by seconds (either way): the samples follow at once. */
Test(source_phc, phc_step_by_seconds_is_followed)
{
	static const int64_t steps[] = { 5000000000ll, -3000000000ll,
					 -2000000000ll, 37000000000ll };
	struct source *s = open_src(NULL);

	cr_assert_lt(llabs(poll_offset(s) - OFFSET_NS), 1000);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		step_ns += steps[i];
		for (int j = 0; j < 3; j++) {
			int64_t off = poll_offset(s);

			cr_assert_lt(llabs(off - (OFFSET_NS + step_ns)), 1000,
				     "step %zu: offset %lld, want %lld", i,
				     (long long)off,
				     (long long)(OFFSET_NS + step_ns));
		}
	}
	source_free(s);
}
