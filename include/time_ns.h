/* SPDX-License-Identifier: MIT */
/*
 * The one set of time helpers: nanoseconds as int64_t, the unit in every
 * name. Header-only (static inline), no GLib, so every layer and the
 * GLib-free guest tool (tests/e2e) can use it.
 *
 * Thread/loop: any; nothing here keeps state.
 */
#ifndef TIME_NS_H
#define TIME_NS_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds per second; write (double)NS_PER_S in floating point. */
#define NS_PER_S 1000000000LL

/* @ts in ns. int64 holds about +-292 years around the epoch. */
static inline int64_t time_ns_from_ts(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NS_PER_S + ts->tv_nsec;
}

/* clock_gettime(@clk) in ns; 0 if the clock cannot be read. */
static inline int64_t time_ns_now(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) < 0) {
		return 0;
	}
	return time_ns_from_ts(&ts);
}

/* time_ns_now(@clk) in ms, for timeouts and deadlines. */
static inline int64_t time_ns_now_ms(clockid_t clk)
{
	return time_ns_now(clk) / 1000000;
}

/*
 * clock_gettime() with a context, for the clock ops tables sources read
 * through (tests substitute a simulated host). @ctx is unused. Returns
 * 0, or -1 with errno set, as clock_gettime().
 */
static inline int time_ns_sys_gettime(void *ctx, clockid_t clk,
				      struct timespec *ts)
{
	(void)ctx;
	return clock_gettime(clk, ts);
}

#endif /* TIME_NS_H */
