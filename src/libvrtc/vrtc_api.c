// SPDX-License-Identifier: MIT
/*
 * libvrtc's helpers on top of vrtc_now(): a bounded reading, ordering of
 * two intervals, commit wait, dating a past stamp; and the version.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "vrtc_internal.h"
#include "vrtc_page.h"

#define NS_PER_S 1000000000LL
/* The kernel's limit on a clock's frequency correction (MAXFREQ): the
 * rate error assumed for CLOCK_REALTIME, and for CLOCK_MONOTONIC_RAW in
 * a guest (where the page's counter is the host's). */
#define SYS_RATE_PPM 500
/* The oldest stamp vrtc_time_at() dates (a leap second's POST_* day). */
#define STAMP_MAX_AGE_NS (86400 * NS_PER_S)
/* commit wait: poll this often while no trustworthy reading comes */
#define WAIT_UNTRUSTED_NS 10000000LL

uint32_t vrtc_version(void)
{
	return VRTC_VERSION_NUMBER;
}

static bool trusted(const struct vrtc_time *t)
{
	return (t->flags & VRTC_TIME_TRUSTED) != 0;
}

int vrtc_now_within(struct vrtc *v, uint64_t max_bound_ns, struct vrtc_time *t)
{
	int r = vrtc_now(v, t);

	if (r) {
		return r;
	}
	if (!trusted(t)) {
		return -ENODATA;
	}
	if ((uint64_t)(t->now_ns - t->earliest_ns) > max_bound_ns ||
	    (uint64_t)(t->latest_ns - t->now_ns) > max_bound_ns) {
		return -ERANGE;
	}
	return 0;
}

int vrtc_before(const struct vrtc_time *a, const struct vrtc_time *b)
{
	if (!a || !b || a->timescale != b->timescale) {
		return -EINVAL;
	}
	if (!trusted(a) || !trusted(b)) {
		return -ENODATA;
	}
	return a->latest_ns < b->earliest_ns;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int vrtc_commit_wait(struct vrtc *v, int64_t latest_ns, uint64_t timeout_ns,
		     struct vrtc_time *t)
{
	struct vrtc_time own;
	int64_t start = mono_ns();

	if (!v) {
		return -EINVAL;
	}
	if (!t) {
		t = &own;
	}
	for (;;) {
		int r = vrtc_now(v, t);
		uint64_t spent = (uint64_t)(mono_ns() - start), gap;
		struct timespec ts;

		if (!r && trusted(t) && t->earliest_ns > latest_ns) {
			return 0;
		}
		if (spent >= timeout_ns) {
			return -ETIMEDOUT;
		}
		/* earliest moves at about the rate of true time */
		gap = !r && trusted(t) ? (uint64_t)((__int128)latest_ns -
						    t->earliest_ns + 1)
				       : (uint64_t)WAIT_UNTRUSTED_NS;
		if (gap > timeout_ns - spent) {
			gap = timeout_ns - spent;
		}
		ts.tv_sec = (time_t)(gap / NS_PER_S);
		ts.tv_nsec = (long)(gap % NS_PER_S);
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	}
}

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * NS_PER_S + (uint64_t)ts->tv_nsec;
}

/* @d ns of a clock with SYS_RATE_PPM of rate error: at most this much
 * more or less in true time. */
static uint64_t sys_slack(uint64_t d)
{
	return (uint64_t)(((unsigned __int128)d * SYS_RATE_PPM + 999999) /
			  1000000);
}

/* The leap second since a stamp (at most a day ago) that the page says
 * just passed: +1 positive, -1 negative, 0 none. */
static int leap_passed(const struct vmclock_abi *f)
{
	switch (f->leap_indicator) {
	case VMCLOCK_LEAP_POS:
	case VMCLOCK_LEAP_POST_POS:
		return 1;
	case VMCLOCK_LEAP_POST_NEG:
		return -1;
	default:
		return 0;
	}
}

int vrtc_time_at(struct vrtc *v, int clock, int64_t stamp_ns,
		 struct vrtc_time *t)
{
	struct vmclock_abi f;
	struct timespec a, b;
	uint64_t el_lo, el_hi, d_lo, d_hi;
	__int128 lo, hi, now;
	int r, leap = 0;

	if (!v || !t ||
	    (clock != CLOCK_MONOTONIC_RAW && clock != CLOCK_REALTIME)) {
		if (t) {
			memset(t, 0, sizeof(*t));
		}
		return -EINVAL;
	}
	if (clock == CLOCK_MONOTONIC_RAW) {
		clock_gettime(CLOCK_MONOTONIC_RAW, &a);
		r = vrtc_read(v, t, &f, NULL, NULL);
		clock_gettime(CLOCK_MONOTONIC_RAW, &b);
		if (r) {
			return r;
		}
		/* the reading was taken in [a, b] */
		if (stamp_ns < 0 || (uint64_t)stamp_ns > ts_ns(&b)) {
			goto invalid;
		}
		d_hi = ts_ns(&b) - (uint64_t)stamp_ns;
		d_lo = (uint64_t)stamp_ns < ts_ns(&a)
			       ? ts_ns(&a) - (uint64_t)stamp_ns
			       : 0;
		if (v->mode == VRTC_MODE_HOST) {
			/* the page's counter is this clock: its period and
			 * rate bound */
			unsigned __int128 e = vrtc_page_elapsed_ns(&f, d_lo),
					  g = vrtc_page_growth_ns(&f, d_lo);

			el_lo = e > g ? (uint64_t)(e - g) : 0;
			el_hi = (uint64_t)(vrtc_page_elapsed_ns(&f, d_hi) +
					   vrtc_page_growth_ns(&f, d_hi) + 1);
		} else {
			el_lo = d_lo - sys_slack(d_lo);
			el_hi = d_hi + sys_slack(d_hi);
		}
		if (v->ts == VRTC_TIMESCALE_UTC) {
			leap = leap_passed(&f); /* UTC repeated a second */
		}
	} else {
		int64_t sys;
		uint64_t win, half;

		r = vrtc_read(v, t, &f, &sys, &win);
		if (r) {
			return r;
		}
		half = win / 2 + 1;
		if (stamp_ns > sys + (int64_t)half) {
			goto invalid;
		}
		d_hi = stamp_ns < sys ? (uint64_t)(sys - stamp_ns) : 0;
		d_lo = d_hi;
		el_lo = d_lo > half + sys_slack(d_lo)
				? d_lo - half - sys_slack(d_lo)
				: 0;
		el_hi = d_hi + half + sys_slack(d_hi);
		if (v->ts == VRTC_TIMESCALE_TAI) {
			leap = -leap_passed(&f); /* REALTIME stepped */
		}
	}
	if (d_hi > (uint64_t)STAMP_MAX_AGE_NS) {
		memset(t, 0, sizeof(*t));
		return -ERANGE;
	}
	lo = (__int128)t->earliest_ns - el_hi;
	hi = (__int128)t->latest_ns - el_lo;
	if (leap > 0) {
		hi += NS_PER_S;
	} else if (leap < 0) {
		lo -= NS_PER_S;
	}
	now = (__int128)t->now_ns - (el_lo / 2 + el_hi / 2);
	now = now < lo ? lo : now > hi ? hi : now;
	t->earliest_ns = (int64_t)lo;
	t->latest_ns = (int64_t)hi;
	t->now_ns = (int64_t)now;
	t->bound_ns = (uint64_t)(now - lo);
	t->age_ns += d_hi;
	return 0;
invalid:
	memset(t, 0, sizeof(*t));
	return -EINVAL;
}
