/* SPDX-License-Identifier: MIT */
/*
 * libvrtc's reading of a vmclock page: the seqlock copy with its checks,
 * and the interval [earliest, latest] from a copied page and a counter
 * (host) or PHC (guest) reading. Pure functions of their arguments but
 * for the copy, which reads shared memory; no system call.
 */
#ifndef LIBVRTC_VRTC_PAGE_H
#define LIBVRTC_VRTC_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "vmclock_wire.h"
#include "vrtc.h"

/* Tries of the seqlock copy before calling the page torn. */
#define VRTC_PAGE_TRIES 1000

/*
 * vrtc_page_copy() - copy the page at @page (@len bytes mapped, 8-byte
 * aligned) into @f in host byte order, under the seqlock.
 * Returns 0, -EMSGSIZE if @len is below a vmclock_abi, -EAGAIN if
 * seq_count was odd or moved on every try, -EPROTO for a bad magic,
 * version, or a size field below the struct or beyond @len.
 */
int vrtc_page_copy(const void *page, size_t len, struct vmclock_abi *f);

/*
 * vrtc_page_usable() - 0 if @f carries a bound: status not UNKNOWN,
 * TIME_MAXERROR_VALID and PERIOD_MAXERROR_VALID set, time_type TAI or
 * UTC; else -ENODATA.
 */
int vrtc_page_usable(const struct vmclock_abi *f);

/* The page's time (time_sec + time_frac_sec) in ns, floor. */
__int128 vrtc_page_time_ns(const struct vmclock_abi *f);

/* @ticks * period in ns, floor; and * maxerror rate in ns, ceil. */
unsigned __int128 vrtc_page_elapsed_ns(const struct vmclock_abi *f,
				       uint64_t ticks);
unsigned __int128 vrtc_page_growth_ns(const struct vmclock_abi *f,
				      uint64_t ticks);

/*
 * vrtc_page_host() - the interval at host counter @counter_now (the
 * counter the page's counter_value is in: CLOCK_MONOTONIC_RAW ns for
 * vhost-user-rtc's page). Returns 0 or the vrtc_now() errors; on error
 * *@t is zero with status UNKNOWN.
 */
int vrtc_page_host(const struct vmclock_abi *f, uint64_t counter_now,
		   uint64_t max_age_ns, enum vrtc_timescale ts,
		   struct vrtc_time *t);

/*
 * vrtc_page_guest() - the interval from a reading @phc_ns of the served
 * PHC in timescale @ts, taken in a read window of @window_ns.
 */
int vrtc_page_guest(const struct vmclock_abi *f, int64_t phc_ns,
		    uint64_t window_ns, uint64_t max_age_ns,
		    enum vrtc_timescale ts, struct vrtc_time *t);

#endif /* LIBVRTC_VRTC_PAGE_H */
