/* SPDX-License-Identifier: MIT */
/*
 * UTC and smeared UTC as exact integer functions of TAI and the leap
 * table (Google's noon-to-noon linear smear; UTC-SLS as in Kuhn's
 * draft-kuhn-leapsecond-00, the reference VIRTIO 1.4 §5.23 gives). Used on the
 * read path of the clock model: nothing here allocates, blocks or makes a
 * system call, and a lookup is a binary search over the table.
 *
 * All times are ns since 1970-01-01 00:00 in their own timescale, held
 * in __int128 so that no intermediate value can overflow; callers range
 * check the result.
 *
 * Leap entry i >= 1 ({utc_s = M, dtai = new}, previous dtai = old, step
 * k = new - old) takes effect at the TAI instant
 *
 *   T = M + old + min(0, k)
 *
 * i.e. for k = +1 at the start of 23:59:60 (UTC steps back to 23:59:59),
 * for k = -1 at the start of the missing 23:59:59 (UTC jumps to M).
 * Smear windows [S, E) in TAI:
 *
 *   NOON_LINEAR: S = M - 43200 + old, E = M + 43200 + new
 *   UTC_SLS:     S = M - 1000 + old,  E = M + new
 *
 * and inside a window, in ns, rounded down (like TAI(c) itself)
 *
 *   smear(t) = floor(t - old * 1e9 - k * 1e9 * (t - S) / (E - S))
 *
 * which is continuous at S and E (it equals t - new at E) and never
 * decreases. The noon smear reads exactly M at the middle of its window
 * (23:59:60.5 of a positive leap). Tables from leap.c keep the windows
 * of different leaps apart (entries at least a day apart).
 *
 * Thread/loop: pure functions, any thread.
 */
#ifndef SYNC_TIMESCALE_H
#define SYNC_TIMESCALE_H

#include <stddef.h>
#include <stdint.h>

#include "clock_model.h"
#include "leap.h"
#include "time_ns.h"

/* Half-widths of the smear windows, s (see above). */
#define TIMESCALE_NOON_HALF_S 43200
#define TIMESCALE_SLS_S 1000

/*
 * timescale_leap_tai_s() - TAI instant (s since 1970 TAI) at which entry
 * @i (1 <= i < t->n) of @t takes effect.
 */
int64_t timescale_leap_tai_s(const struct leap_table *t, size_t i);

/*
 * timescale_dtai_at_tai() - TAI - UTC (s) in effect at TAI @tai_ns, for
 * the stepping UTC timescale (entry 0's before the first switch).
 */
int32_t timescale_dtai_at_tai(const struct leap_table *t, __int128 tai_ns);

/*
 * timescale_from_tai() - the value of timescale @ts at TAI @tai_ns.
 * @ts: TIMESCALE_TAI, _UTC, _UTC_NOON_LINEAR or _UTC_SLS
 * Returns 0 with *@out_ns set, or -EINVAL for another @ts or, except for
 * TAI, a NULL @t.
 */
int timescale_from_tai(const struct leap_table *t, enum timescale ts,
		       __int128 tai_ns, __int128 *out_ns);

/*
 * timescale_to_tai() - the earliest TAI instant at which timescale @ts
 * reads @value_ns or more (what an alarm set in @ts waits for). For UTC
 * around a positive leap a value in the repeated 23:59:59 maps to its
 * first occurrence; a value skipped by a negative leap maps to the
 * instant UTC jumps past it.
 * Returns 0 with *@tai_ns set, or -EINVAL as timescale_from_tai().
 * O(n) in the table size: not for the hot path.
 */
int timescale_to_tai(const struct leap_table *t, enum timescale ts,
		     __int128 value_ns, __int128 *tai_ns);

#endif /* SYNC_TIMESCALE_H */
