/* SPDX-License-Identifier: MIT */
/*
 * The PHC source with a ptp4l companion that never answers, or is not
 * there: polling must not wait for ptp4l (the main loop serves every
 * VM), must keep serving the PHC, must say it is degraded, and must not
 * pretend to know ptp4l's error budget. The PHC is a fake at the
 * phc_ops seam answering PTP_SYS_OFFSET_EXTENDED with the real
 * MONOTONIC_RAW clock plus a fixed offset.
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

#define OFFSET_NS 1000000000000ll /* the fake PHC's TAI - MONOTONIC_RAW */

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
			put(&x->ts[i][1], (a + b) / 2 + OFFSET_NS);
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
	struct source_conf c = {
		.leaps = leaps,
		.phc = "/dev/ptp-fake",
		.ptp4l_socket = ptp4l,
		.ptp4l_bind_dir = dir,
		.phc_ops = &fake_ops,
	};
	struct source *s = NULL;
	char msg[160] = "";

	cr_assert_eq(source_new(&source_phc_ops, &c, &s, msg, sizeof(msg)), 0,
		     "%s", msg);
	return s;
}

/* Polls never wait on ptp4l; the PHC is served, degraded, no budget. */
static void expect_degraded_fast(struct source *s, const char *why)
{
	for (int i = 0; i < 12; i++) {
		struct time_sample t;
		struct source_health h = { 0 };
		int64_t t0 = raw_ns();

		cr_assert_eq(source_poll(s, &t, &h), 0);
		cr_expect_lt(raw_ns() - t0, 5000000, "poll %d waited %lld ns",
			     i, (long long)(raw_ns() - t0));
		cr_expect_eq(h.state, SOURCE_DEGRADED, "poll %d: %s", i,
			     h.text);
		cr_expect(strstr(h.text, why), "poll %d: \"%s\"", i, h.text);
		/* the PHC sample itself: fake offset, read error only */
		cr_expect_lt(llabs(t.tai_ns - ((int64_t)t.counter + OFFSET_NS)),
			     1000);
		cr_expect_lt(t.err_ns, 1000000, "no ptp4l budget invented");
	}
}

Test(source_phc, ptp4l_never_answers)
{
	struct source *s = open_src(sock_path);

	/* "no recent answer", or "unreachable" once its socket is full */
	expect_degraded_fast(s, "ptp4l at ");
	source_free(s);
}

Test(source_phc, ptp4l_not_there)
{
	struct source *s = open_src("/nonexistent/ptp4l");

	expect_degraded_fast(s, "ptp4l at /nonexistent/ptp4l");
	source_free(s);
}

Test(source_phc, no_companion_is_ok)
{
	struct source *s = open_src(NULL);
	struct time_sample t;
	struct source_health h = { 0 };

	cr_assert_eq(source_poll(s, &t, &h), 0);
	cr_expect_eq(h.state, SOURCE_OK, "%s", h.text);
	source_free(s);
}
