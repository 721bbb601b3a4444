// SPDX-License-Identifier: MIT
/*
 * Unit tests: the PHC reader (sync/sources/phc.c) against a fake kernel entered
 * through struct phc_ops: method fallback and re-probing, minimum-window
 * selection, the error arithmetic, hostile ioctl answers; and the real
 * system calls on things that are not PHCs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/ptp_clock.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "phc.h"

#define NS 1000000000LL
#define FAKE_FD 7
#define FAKE_SOCK 8

/* The fake kernel: MONOTONIC_RAW advances on every call. */
struct fake {
	int64_t raw;		      /* MONOTONIC_RAW now, ns */
	int64_t rt_off;		      /* REALTIME - MONOTONIC_RAW */
	int64_t phc_off;	      /* PHC - MONOTONIC_RAW */
	int64_t gap_ns;		      /* time each gettime or sample takes */
	int64_t win[PHC_MAX_SAMPLES]; /* read window of sample i, ns */
	int err_precise, err_ext, err_basic, err_caps, err_open, err_ethtool;
	int busy_precise; /* EBUSY this many times first */
	bool ext_clockid; /* the kernel knows ptp_sys_offset_extended.clockid */
	bool precise_no_raw; /* sys_monoraw left 0 (old kernel) */
	int ethtool_index;
	int open_fds;
	char opened[64];
	unsigned int last_n; /* n_samples the last offset ioctl saw */
	int calls[32];	     /* by ioctl nr */
	void (*mangle)(struct fake *f, unsigned long req, void *arg);
};

static int64_t tick(struct fake *f, int64_t d)
{
	int64_t t = f->raw;

	f->raw += d;
	return t;
}

static struct ptp_clock_time pct(int64_t ns)
{
	struct ptp_clock_time t = { .sec = ns / NS,
				    .nsec = (uint32_t)(ns % NS) };

	return t;
}

static int fake_open(void *ctx, const char *path)
{
	struct fake *f = ctx;

	snprintf(f->opened, sizeof(f->opened), "%s", path);
	if (f->err_open) {
		return -f->err_open;
	}
	f->open_fds++;
	return FAKE_FD;
}

static int fake_socket(void *ctx)
{
	((struct fake *)ctx)->open_fds++;
	return FAKE_SOCK;
}

static int fake_close(void *ctx, int fd)
{
	((struct fake *)ctx)->open_fds--;
	return 0;
}

static int fake_gettime(void *ctx, clockid_t clk, struct timespec *ts)
{
	struct fake *f = ctx;
	int64_t t = tick(f, f->gap_ns);

	if (clk == CLOCK_REALTIME) {
		t += f->rt_off;
	} else if (clk != CLOCK_MONOTONIC_RAW) {
		return -EINVAL;
	}
	ts->tv_sec = t / NS;
	ts->tv_nsec = t % NS;
	return 0;
}

/* [pre, phc, post] of sample i, the PHC latched in the middle */
static void triple(struct fake *f, unsigned int i, int64_t sys_off,
		   struct ptp_clock_time *pre, struct ptp_clock_time *dev,
		   struct ptp_clock_time *post)
{
	int64_t t1 = tick(f, f->gap_ns), w = f->win[i];

	*pre = pct(t1 + sys_off);
	*dev = pct(t1 + w / 2 + f->phc_off);
	*post = pct(t1 + w + sys_off);
	tick(f, w);
}

static int fake_offset(struct fake *f, unsigned long req, void *arg)
{
	if (req == PTP_SYS_OFFSET_PRECISE) {
		struct ptp_sys_offset_precise *p = arg;
		int64_t t = tick(f, f->gap_ns);

		if (f->busy_precise > 0) {
			f->busy_precise--;
			return -EBUSY;
		}
		if (f->err_precise) {
			return -f->err_precise;
		}
		p->device = pct(t + f->phc_off);
		p->sys_realtime = pct(t + f->rt_off);
		if (!f->precise_no_raw) {
			p->sys_monoraw = pct(t);
		}
	} else if (req == PTP_SYS_OFFSET_EXTENDED) {
		struct ptp_sys_offset_extended *e = arg;
		int clockid = (int)e->rsv[0];
		int64_t off;

		f->last_n = e->n_samples;
		if (f->err_ext) {
			return -f->err_ext;
		}
		if (e->n_samples > PTP_MAX_SAMPLES || e->rsv[1] || e->rsv[2] ||
		    (clockid && !f->ext_clockid)) {
			return -EINVAL;
		}
		if (clockid == CLOCK_REALTIME) {
			off = f->rt_off;
		} else if (clockid == CLOCK_MONOTONIC_RAW) {
			off = 0;
		} else {
			return -EINVAL;
		}
		for (unsigned int i = 0; i < e->n_samples; i++) {
			triple(f, i, off, &e->ts[i][0], &e->ts[i][1],
			       &e->ts[i][2]);
		}
	} else if (req == PTP_SYS_OFFSET) {
		struct ptp_sys_offset *b = arg;
		struct ptp_clock_time dummy;
		unsigned int i;

		f->last_n = b->n_samples;
		if (f->err_basic) {
			return -f->err_basic;
		}
		if (b->n_samples > PTP_MAX_SAMPLES) {
			return -EINVAL;
		}
		/* interleaved: the post of one is the pre of the next */
		for (i = 0; i < b->n_samples; i++) {
			triple(f, i, f->rt_off, &b->ts[2 * i],
			       &b->ts[2 * i + 1], &dummy);
			b->ts[2 * i + 2] = pct(f->raw + f->rt_off);
		}
	} else {
		return -ENOTTY;
	}
	return 0;
}

static int fake_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct fake *f = ctx;
	int ret;

	f->calls[_IOC_NR(req) & 31]++;
	if (req == SIOCETHTOOL) {
		struct ifreq *ifr = arg;
		struct ethtool_ts_info *ti = (void *)ifr->ifr_data;

		cr_assert_eq(fd, FAKE_SOCK);
		cr_assert_eq(ti->cmd, ETHTOOL_GET_TS_INFO);
		if (f->err_ethtool) {
			return -f->err_ethtool;
		}
		ti->phc_index = f->ethtool_index;
		return 0;
	}
	cr_assert_eq(fd, FAKE_FD);
	if (req == PTP_CLOCK_GETCAPS) {
		struct ptp_clock_caps *c = arg;

		if (f->err_caps) {
			return -f->err_caps;
		}
		c->cross_timestamping = !f->err_precise;
		return 0;
	}
	ret = fake_offset(f, req, arg);
	if (!ret && f->mangle) {
		f->mangle(f, req, arg);
	}
	return ret;
}

static const struct phc_ops fake_ops = {
	.open = fake_open,
	.socket = fake_socket,
	.ioctl = fake_ioctl,
	.close = fake_close,
	.gettime = fake_gettime,
};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->raw = 1000 * NS + 123;
	f->rt_off = 1700000000 * NS + 777;
	f->phc_off = 1700000037 * NS + 4321;
	f->gap_ns = 20;
	for (int i = 0; i < PHC_MAX_SAMPLES; i++) {
		f->win[i] = 500 + 37 * ((i * 7) % 11);
	}
	f->ext_clockid = true;
}

static struct phc *open_fake(struct fake *f, enum phc_timescale ts)
{
	struct phc_options o = { .timescale = ts, .ops = &fake_ops, .ctx = f };
	struct phc *p = NULL;
	char msg[128];

	cr_assert_eq(phc_open("/dev/ptp3", &o, &p, msg, sizeof(msg)), 0, "%s",
		     msg);
	cr_assert_not_null(p);
	return p;
}

/* The sample agrees with the fake's truth within its own bound. */
static void assert_truth(const struct fake *f, const struct time_sample *s,
			 int64_t extra)
{
	int64_t err = s->tai_ns - (int64_t)s->counter - f->phc_off - extra;

	cr_assert_leq(err < 0 ? -err : err, (int64_t)s->err_ns,
		      "error %lld outside bound %llu", (long long)err,
		      (unsigned long long)s->err_ns);
}

static int64_t min_win(const struct fake *f, unsigned int n)
{
	int64_t m = INT64_MAX;

	for (unsigned int i = 0; i < n; i++) {
		m = f->win[i] < m ? f->win[i] : m;
	}
	return m;
}

Test(phc, fallback_precise_first)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;

	fake_init(&f);
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_method(p), PHC_METHOD_NONE);
	cr_assert(phc_cross_timestamping(p));
	cr_assert_eq(phc_dev_index(p), 3);
	cr_assert_eq(phc_read(p, 0, &s), 0);
	cr_assert_eq(phc_method(p), PHC_METHOD_PRECISE);
	cr_assert_str_eq(phc_method_name(phc_method(p)), "PRECISE");
	cr_assert_eq(s.window_ns, 0);
	cr_assert_eq(s.err_ns, PHC_DEFAULT_PRECISE_ERR_NS);
	cr_assert_eq(s.tai_ns - (int64_t)s.counter, f.phc_off);
	phc_free(p);
	cr_assert_eq(f.open_fds, 0);
}

Test(phc, precise_without_monoraw_converts)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;

	fake_init(&f);
	f.precise_no_raw = true;
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, 0, &s), 0);
	cr_assert_eq(phc_method(p), PHC_METHOD_PRECISE);
	cr_assert_gt(s.err_ns, PHC_DEFAULT_PRECISE_ERR_NS);
	assert_truth(&f, &s, 0);
	phc_free(p);
}

Test(phc, fallback_to_extended_raw)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;
	int64_t w;

	fake_init(&f);
	f.err_precise = EOPNOTSUPP;
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, 0, &s), 0);
	cr_assert_eq(phc_method(p), PHC_METHOD_EXTENDED_RAW);
	cr_assert_eq(phc_method_error(p, PHC_METHOD_PRECISE), -EOPNOTSUPP);
	cr_assert_eq(phc_method_error(p, PHC_METHOD_EXTENDED_RAW), 0);
	cr_assert_eq(phc_method_error(p, PHC_METHOD_BASIC), 1);
	cr_assert_eq(f.last_n, PHC_DEFAULT_SAMPLES);
	w = min_win(&f, PHC_DEFAULT_SAMPLES);
	cr_assert_eq(s.window_ns, (uint64_t)w);
	cr_assert_eq(s.err_ns, (uint64_t)(w / 2 + w % 2 + 1));
	assert_truth(&f, &s, 0);
	phc_free(p);
}

Test(phc, extended_clockid_rejected_uses_realtime)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;
	int64_t w;

	fake_init(&f);
	f.err_precise = EOPNOTSUPP;
	f.ext_clockid = false; /* a kernel before 6.12 */
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, 25, &s), 0);
	cr_assert_eq(phc_method(p), PHC_METHOD_EXTENDED_RT);
	cr_assert_eq(phc_method_error(p, PHC_METHOD_EXTENDED_RAW), -EINVAL);
	w = min_win(&f, 25);
	cr_assert_eq(s.window_ns, (uint64_t)w);
	/* half the window, 1 ns, and the conversion's own error */
	cr_assert_gt(s.err_ns, (uint64_t)(w / 2 + w % 2 + 1));
	cr_assert_lt(s.err_ns, (uint64_t)(w / 2 + 1 + 4 * f.gap_ns));
	assert_truth(&f, &s, 0);
	phc_free(p);
}

Test(phc, fallback_to_basic)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;

	fake_init(&f);
	f.err_precise = EOPNOTSUPP;
	f.err_ext = EOPNOTSUPP;
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, 5, &s), 0);
	cr_assert_eq(phc_method(p), PHC_METHOD_BASIC);
	cr_assert_str_eq(phc_method_name(PHC_METHOD_BASIC), "BASIC");
	cr_assert_eq(phc_method_error(p, PHC_METHOD_EXTENDED_RT), -EOPNOTSUPP);
	/* interleaved: one read's post is the next one's pre */
	cr_assert_eq(s.window_ns, (uint64_t)(min_win(&f, 5) + f.gap_ns));
	assert_truth(&f, &s, 0);
	phc_free(p);
}

Test(phc, nothing_works)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;

	fake_init(&f);
	f.err_precise = EOPNOTSUPP;
	f.err_ext = EOPNOTSUPP;
	f.err_basic = EIO;
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, 0, &s), -EIO);
	cr_assert_eq(phc_method(p), PHC_METHOD_NONE);
	/* and the next read probes again */
	f.err_basic = 0;
	cr_assert_eq(phc_read(p, 0, &s), 0);
	cr_assert_eq(phc_method(p), PHC_METHOD_BASIC);
	phc_free(p);
}

Test(phc, reprobe_on_error)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;
	int before;

	fake_init(&f);
	f.err_precise = EOPNOTSUPP;
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, 0, &s), 0);
	cr_assert_eq(phc_method(p), PHC_METHOD_EXTENDED_RAW);
	/* chosen once: no more PRECISE attempts while EXTENDED works */
	before = f.calls[_IOC_NR(PTP_SYS_OFFSET_PRECISE)];
	cr_assert_eq(phc_read(p, 0, &s), 0);
	cr_assert_eq(f.calls[_IOC_NR(PTP_SYS_OFFSET_PRECISE)], before);

	f.err_ext = ENODEV;
	cr_assert_eq(phc_read(p, 0, &s), 0);
	cr_assert_eq(phc_method(p), PHC_METHOD_BASIC);
	cr_assert_eq(f.calls[_IOC_NR(PTP_SYS_OFFSET_PRECISE)], before + 1);
	assert_truth(&f, &s, 0);

	f.err_ext = 0;
	f.err_basic = EIO;
	cr_assert_eq(phc_read(p, 0, &s), 0);
	cr_assert_eq(phc_method(p), PHC_METHOD_EXTENDED_RAW);
	phc_free(p);
}

Test(phc, busy_is_retried_not_a_verdict)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;

	fake_init(&f);
	f.busy_precise = 2;
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, 0, &s), 0);
	cr_assert_eq(phc_method(p), PHC_METHOD_PRECISE);
	phc_free(p);

	fake_init(&f);
	f.busy_precise = 1000;
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, 0, &s), -EAGAIN);
	cr_assert_eq(phc_method(p), PHC_METHOD_NONE);
	cr_assert_eq(f.calls[_IOC_NR(PTP_SYS_OFFSET_EXTENDED)], 0);
	phc_free(p);
}

Test(phc, min_window_selection)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;

	fake_init(&f);
	f.err_precise = EOPNOTSUPP;
	for (int i = 0; i < PHC_MAX_SAMPLES; i++) {
		f.win[i] = 3000 - 10 * i;
	}
	f.win[6] = 41; /* the narrowest, odd */
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, 9, &s), 0);
	cr_assert_eq(s.window_ns, 41);
	cr_assert_eq(s.err_ns, 21 + 1);
	assert_truth(&f, &s, 0);
	/* a zero window: the bound is the 1 ns of rounding */
	f.win[6] = 0;
	cr_assert_eq(phc_read(p, 9, &s), 0);
	cr_assert_eq(s.window_ns, 0);
	cr_assert_eq(s.err_ns, 1);
	assert_truth(&f, &s, 0);
	phc_free(p);
}

Test(phc, utc_timescale)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;

	fake_init(&f);
	f.err_precise = EOPNOTSUPP;
	p = open_fake(&f, PHC_TIMESCALE_UTC);
	cr_assert_eq(phc_set_tai_utc(p, 37), 0);
	cr_assert_eq(phc_set_tai_utc(p, PHC_MAX_TAI_UTC_S + 1), -EINVAL);
	cr_assert_eq(phc_read(p, 0, &s), 0);
	assert_truth(&f, &s, 37 * NS);
	phc_free(p);
}

Test(phc, bad_arguments)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;
	struct phc_options bad = { .timescale = (enum phc_timescale)9 };

	fake_init(&f);
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, PHC_MAX_SAMPLES + 1, &s), -EINVAL);
	cr_assert_eq(phc_read(p, 0, NULL), -EINVAL);
	cr_assert_eq(phc_read(NULL, 0, &s), -EINVAL);
	phc_free(p);
	phc_free(NULL);
	cr_assert_eq(phc_open("/dev/ptp0", NULL, NULL, NULL, 0), -EINVAL);
	cr_assert_eq(phc_open("", NULL, &p, NULL, 0), -EINVAL);
	cr_assert_eq(phc_open("/dev/ptp0", &bad, &p, NULL, 0), -EINVAL);
	cr_assert_null(p);
	cr_assert_str_eq(phc_method_name((enum phc_method)99), "none");
	cr_assert_eq(phc_method_error(NULL, PHC_METHOD_BASIC), 1);
}

/* --- opening ---------------------------------------------------------- */

static int open_msg(struct fake *f, const char *name, char *msg, size_t len)
{
	struct phc_options o = { .ops = &fake_ops, .ctx = f };
	struct phc *p = NULL;
	int ret = phc_open(name, &o, &p, msg, len);

	if (ret == 0) {
		cr_assert_not_null(p);
		phc_free(p);
	} else {
		cr_assert_null(p);
	}
	cr_assert_eq(f->open_fds, 0, "fd leak");
	return ret;
}

Test(phc, open_interface)
{
	struct fake f;
	char msg[160];

	fake_init(&f);
	f.ethtool_index = 2;
	cr_assert_eq(open_msg(&f, "eth0", msg, sizeof(msg)), 0);
	cr_assert_str_eq(f.opened, "/dev/ptp2");

	f.ethtool_index = -1;
	cr_assert_eq(open_msg(&f, "eth0", msg, sizeof(msg)), -ENODEV);
	cr_assert(strstr(msg, "eth0: the interface has no PHC"), "%s", msg);

	f.err_ethtool = EOPNOTSUPP;
	cr_assert_eq(open_msg(&f, "eth0", msg, sizeof(msg)), -ENODEV);

	f.err_ethtool = ENODEV;
	cr_assert_eq(open_msg(&f, "nosuch0", msg, sizeof(msg)), -ENOENT);
	cr_assert(strstr(msg, "no such network interface"), "%s", msg);

	cr_assert_eq(open_msg(&f, "an-interface-name-far-too-long", msg,
			      sizeof(msg)),
		     -EINVAL);
}

Test(phc, open_errors)
{
	struct fake f;
	char msg[160];

	fake_init(&f);
	f.err_open = ENOENT;
	cr_assert_eq(open_msg(&f, "/dev/ptp9", msg, sizeof(msg)), -ENOENT);
	cr_assert(strstr(msg, "/dev/ptp9: no such device"), "%s", msg);

	fake_init(&f);
	f.err_open = EACCES;
	cr_assert_eq(open_msg(&f, "/dev/ptp9", msg, sizeof(msg)), -EACCES);

	fake_init(&f);
	f.err_caps = ENOTTY;
	cr_assert_eq(open_msg(&f, "/dev/ptp9", msg, sizeof(msg)), -ENOTTY);
	cr_assert(strstr(msg, "not a PHC"), "%s", msg);

	/* a tiny message buffer is fine, and so is none */
	cr_assert_eq(open_msg(&f, "/dev/ptp9", msg, 4), -ENOTTY);
	cr_assert_eq(strlen(msg), 3);
	cr_assert_eq(open_msg(&f, "/dev/ptp9", NULL, 0), -ENOTTY);
}

Test(phc, real_syscalls_on_non_phcs)
{
	struct phc *p = NULL;
	char msg[160];

	cr_assert_eq(phc_open("/dev/null", NULL, &p, msg, sizeof(msg)),
		     -ENOTTY);
	cr_assert(strstr(msg, "not a PHC"), "%s", msg);
	cr_assert_eq(
		phc_open("/dev/ptp-does-not-exist", NULL, &p, msg, sizeof(msg)),
		-ENOENT);
	cr_assert_eq(phc_open("nosuchif0", NULL, &p, msg, sizeof(msg)), -ENOENT,
		     "%s", msg);
	cr_assert_null(p);
}

/* --- hostile answers ---------------------------------------------------- */

static void m_n_samples(struct fake *f, unsigned long req, void *arg)
{
	if (req == PTP_SYS_OFFSET_EXTENDED) {
		((struct ptp_sys_offset_extended *)arg)->n_samples = 1000;
	}
}

static void m_all_reversed(struct fake *f, unsigned long req, void *arg)
{
	if (req == PTP_SYS_OFFSET_EXTENDED) {
		struct ptp_sys_offset_extended *e = arg;

		for (unsigned int i = 0; i < e->n_samples; i++) {
			struct ptp_clock_time t = e->ts[i][0];

			e->ts[i][0] = e->ts[i][2];
			e->ts[i][2] = t;
		}
	}
}

/* samples 0-3 insane, the rest honest: the insane ones must not win */
static void m_some_bad(struct fake *f, unsigned long req, void *arg)
{
	struct ptp_sys_offset_extended *e = arg;
	struct ptp_clock_time t;

	if (req != PTP_SYS_OFFSET_EXTENDED) {
		return;
	}
	t = e->ts[0][0]; /* reversed: a "negative window" */
	e->ts[0][0] = e->ts[0][2];
	e->ts[0][2] = t;
	e->ts[1][1].nsec = 1000000000; /* not a time */
	e->ts[2][0].sec = INT64_MAX;   /* huge */
	e->ts[2][2].sec = INT64_MAX;
	e->ts[3][0].sec -= 3600; /* outside our own reads: window huge */
}

static void m_huge_phc(struct fake *f, unsigned long req, void *arg)
{
	if (req == PTP_SYS_OFFSET) {
		struct ptp_sys_offset *b = arg;

		for (unsigned int i = 0; i < 2 * PTP_MAX_SAMPLES + 1; i++) {
			b->ts[i].sec = (i & 1) ? INT64_MIN : INT64_MAX;
			b->ts[i].nsec = UINT32_MAX;
		}
	}
}

static void m_precise_outside(struct fake *f, unsigned long req, void *arg)
{
	if (req == PTP_SYS_OFFSET_PRECISE) {
		struct ptp_sys_offset_precise *p = arg;

		p->sys_monoraw.sec += 100;
	}
}

static void m_future_window(struct fake *f, unsigned long req, void *arg)
{
	if (req == PTP_SYS_OFFSET_EXTENDED) {
		struct ptp_sys_offset_extended *e = arg;

		for (unsigned int i = 0; i < e->n_samples; i++) {
			e->ts[i][2].sec += 1; /* later than we read after */
		}
	}
}

Test(phc, hostile_n_samples)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;

	fake_init(&f);
	f.err_precise = EOPNOTSUPP;
	f.mangle = m_n_samples;
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, 0, &s), 0);
	cr_assert_eq(phc_method_error(p, PHC_METHOD_EXTENDED_RAW), -EPROTO);
	cr_assert_eq(phc_method_error(p, PHC_METHOD_EXTENDED_RT), -EPROTO);
	cr_assert_eq(phc_method(p), PHC_METHOD_BASIC);
	assert_truth(&f, &s, 0);
	phc_free(p);
}

Test(phc, hostile_reversed_and_future)
{
	void (*m[])(struct fake *, unsigned long, void *) = { m_all_reversed,
							      m_future_window };

	for (unsigned int k = 0; k < 2; k++) {
		struct fake f;
		struct time_sample s;
		struct phc *p;

		fake_init(&f);
		f.err_precise = EOPNOTSUPP;
		f.err_basic = EOPNOTSUPP;
		f.mangle = m[k];
		p = open_fake(&f, PHC_TIMESCALE_TAI);
		cr_assert_eq(phc_read(p, 0, &s), -EOPNOTSUPP);
		cr_assert_eq(phc_method_error(p, PHC_METHOD_EXTENDED_RAW),
			     -EPROTO);
		cr_assert_eq(phc_method(p), PHC_METHOD_NONE);
		phc_free(p);
	}
}

Test(phc, hostile_samples_skipped)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;

	fake_init(&f);
	f.err_precise = EOPNOTSUPP;
	for (int i = 0; i < PHC_MAX_SAMPLES; i++) {
		f.win[i] = i < 4 ? 10 : 900 + i;
	}
	f.mangle = m_some_bad;
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, 9, &s), 0);
	cr_assert_eq(phc_method(p), PHC_METHOD_EXTENDED_RAW);
	cr_assert_eq(s.window_ns, 904);
	assert_truth(&f, &s, 0);
	phc_free(p);
}

Test(phc, hostile_huge_values)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;

	fake_init(&f);
	f.err_precise = EOPNOTSUPP;
	f.err_ext = EOPNOTSUPP;
	f.mangle = m_huge_phc;
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, PHC_MAX_SAMPLES, &s), -EPROTO);
	cr_assert_eq(phc_method(p), PHC_METHOD_NONE);
	phc_free(p);
}

Test(phc, hostile_precise)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;

	fake_init(&f);
	f.mangle = m_precise_outside;
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, 0, &s), 0);
	cr_assert_eq(phc_method_error(p, PHC_METHOD_PRECISE), -EPROTO);
	cr_assert_eq(phc_method(p), PHC_METHOD_EXTENDED_RAW);
	assert_truth(&f, &s, 0);
	phc_free(p);
}

/* REALTIME stepping between our reads: no sample built on it */
static int64_t step_at;

static void m_step_realtime(struct fake *f, unsigned long req, void *arg)
{
	f->rt_off += step_at;
}

Test(phc, realtime_step_during_read)
{
	struct fake f;
	struct time_sample s;
	struct phc *p;

	fake_init(&f);
	f.err_precise = EOPNOTSUPP;
	f.ext_clockid = false;
	step_at = NS;
	f.mangle = m_step_realtime;
	p = open_fake(&f, PHC_TIMESCALE_TAI);
	cr_assert_eq(phc_read(p, 0, &s), -EAGAIN);
	cr_assert_eq(phc_method(p), PHC_METHOD_NONE);
	f.mangle = NULL;
	cr_assert_eq(phc_read(p, 0, &s), 0);
	cr_assert_eq(phc_method(p), PHC_METHOD_EXTENDED_RT);
	assert_truth(&f, &s, 0);
	phc_free(p);
}
