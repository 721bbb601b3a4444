// SPDX-License-Identifier: MIT
/*
 * Reading the system clock: SYSCLOCK_READS bracketed reads (RAW,
 * REALTIME or TAI, RAW), keeping the narrowest bracket; its midpoint is
 * the sample's counter and half its width (rounded up, + 1 ns for the
 * reads' truncation) the read error.
 */
#include <errno.h>
#include <sys/timex.h>
#include <time.h>

#include "sysclock.h"
#include "time_ns.h"

static int sys_adjtime(void *ctx, struct timex *tx)
{
	tx->modes = 0; /* read only */
	return ntp_adjtime(tx);
}

const struct sysclock_ops sysclock_sys_ops = {
	.gettime = time_ns_sys_gettime,
	.adjtime = sys_adjtime,
};

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int sysclock_bracket(int (*gettime)(void *ctx, clockid_t clk,
				    struct timespec *ts),
		     void *ctx, clockid_t clk, unsigned int reads,
		     uint64_t *counter, struct timespec *at, uint64_t *width_ns)
{
	uint64_t best = UINT64_MAX;

	for (unsigned int i = 0; i < reads; i++) {
		struct timespec a, b, c;
		uint64_t ca, cc;

		if (gettime(ctx, CLOCK_MONOTONIC_RAW, &a) < 0 ||
		    gettime(ctx, clk, &b) < 0 ||
		    gettime(ctx, CLOCK_MONOTONIC_RAW, &c) < 0) {
			return errno > 0 ? -errno : -EIO;
		}
		ca = (uint64_t)time_ns_from_ts(&a);
		cc = (uint64_t)time_ns_from_ts(&c);
		if (cc >= ca && cc - ca < best) {
			best = cc - ca;
			*counter = ca + best / 2;
			*at = b;
		}
	}
	if (best == UINT64_MAX) {
		return -EPROTO; /* the counter ran backwards every time */
	}
	*width_ns = best;
	return 0;
}

int sysclock_read(const struct sysclock_ops *ops, void *ctx,
		  const struct leap_table *leaps, struct sysclock_reading *out)
{
	struct timespec at = { 0 };
	uint64_t width = 0;
	clockid_t clk;
	int64_t t;
	int r;

	*out = (struct sysclock_reading){ 0 };
	out->state = ops->adjtime(ctx, &out->tx);
	if (out->state < 0) {
		out->adj_errno = errno;
		out->tx = (struct timex){ 0 };
	}
	out->dtai_kernel = out->state >= 0 && out->tx.tai > 0;
	clk = out->dtai_kernel ? CLOCK_TAI : CLOCK_REALTIME;
	r = sysclock_bracket(ops->gettime, ctx, clk, SYSCLOCK_READS,
			     &out->counter, &at, &width);
	if (r < 0) {
		return r;
	}
	t = time_ns_from_ts(&at);
	out->half_ns = width - width / 2 + 1;
	if (out->dtai_kernel) {
		out->tai_ns = t;
		out->dtai = out->tx.tai;
		out->utc_s = floor_div(t, NS_PER_S) - out->dtai;
	} else {
		out->utc_s = floor_div(t, NS_PER_S);
		/* inside an inserted leap second REALTIME repeats M - 1 */
		out->dtai = leap_dtai_at_utc(leaps, out->state == TIME_OOP
							    ? out->utc_s + 1
							    : out->utc_s);
		out->tai_ns = t + (int64_t)out->dtai * NS_PER_S;
	}
	return 0;
}

bool sysclock_synced(const struct sysclock_reading *r)
{
	return r->state >= 0 && r->state != TIME_ERROR &&
	       !(r->tx.status & STA_UNSYNC);
}

uint64_t sysclock_maxerr_ns(const struct sysclock_reading *r)
{
	if (!sysclock_synced(r) || r->tx.maxerror < 0) {
		return SYSCLOCK_UNSYNC_MAXERR_NS;
	}
	return (uint64_t)r->tx.maxerror * 1000;
}
