// SPDX-License-Identifier: MIT
/*
 * UTC and smeared UTC from TAI; the formulas are in timescale.h.
 */
#include <errno.h>

#include "timescale.h"

#define NS NS_PER_S

/* What a binary search over the leap entries is keyed on. */
enum leap_key {
	KEY_SWITCH,	/* TAI instant of the UTC step */
	KEY_NOON_START, /* S of the noon-to-noon window */
	KEY_SLS_START,	/* S of the UTC-SLS window */
};

static int32_t step_of(const struct leap_table *t, size_t i)
{
	return t->e[i].dtai - t->e[i - 1].dtai;
}

int64_t timescale_leap_tai_s(const struct leap_table *t, size_t i)
{
	int32_t k = step_of(t, i);

	return t->e[i].utc_s + t->e[i - 1].dtai + (k < 0 ? k : 0);
}

/* Key of entry @i (>= 1), TAI ns. */
static __int128 key_ns(const struct leap_table *t, size_t i, enum leap_key key)
{
	int64_t m = t->e[i].utc_s;
	int32_t dold = t->e[i - 1].dtai;

	switch (key) {
	case KEY_SWITCH:
		return (__int128)timescale_leap_tai_s(t, i) * NS;
	case KEY_NOON_START:
		return ((__int128)m - TIMESCALE_NOON_HALF_S + dold) * NS;
	case KEY_SLS_START:
	default:
		return ((__int128)m - TIMESCALE_SLS_S + dold) * NS;
	}
}

/* Largest i >= 1 whose key is <= @tai_ns, or 0 if there is none. */
static size_t find_last_le(const struct leap_table *t, __int128 tai_ns,
			   enum leap_key key)
{
	size_t lo = 1, hi = t->n; /* answer in [lo - 1, hi - 1] */

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_ns(t, mid, key) <= tai_ns) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo - 1;
}

int32_t timescale_dtai_at_tai(const struct leap_table *t, __int128 tai_ns)
{
	return t->e[find_last_le(t, tai_ns, KEY_SWITCH)].dtai;
}

static __int128 window_end_ns(const struct leap_table *t, size_t i,
			      enum leap_key key)
{
	int64_t m = t->e[i].utc_s;
	int32_t dnew = t->e[i].dtai;

	if (key == KEY_NOON_START) {
		return ((__int128)m + TIMESCALE_NOON_HALF_S + dnew) * NS;
	}
	return ((__int128)m + dnew) * NS;
}

/* floor(a / b) for b > 0 */
static __int128 floor_div(__int128 a, __int128 b)
{
	__int128 q = a / b;

	return (a % b != 0 && a < 0) ? q - 1 : q;
}

static __int128 smear_from_tai(const struct leap_table *t, __int128 tai_ns,
			       enum leap_key key)
{
	size_t i = find_last_le(t, tai_ns, key);
	__int128 s, e;

	if (i == 0) {
		return tai_ns - (__int128)t->e[0].dtai * NS;
	}
	s = key_ns(t, i, key);
	e = window_end_ns(t, i, key);
	if (tai_ns >= e) {
		return tai_ns - (__int128)t->e[i].dtai * NS;
	}
	/* the floor of the exact value; 0 <= tai_ns - s < e - s */
	return tai_ns - (__int128)t->e[i - 1].dtai * NS +
	       floor_div(-(__int128)step_of(t, i) * NS * (tai_ns - s), e - s);
}

int timescale_from_tai(const struct leap_table *t, enum timescale ts,
		       __int128 tai_ns, __int128 *out_ns)
{
	if (ts == TIMESCALE_TAI) {
		*out_ns = tai_ns;
		return 0;
	}
	if (!t || t->n == 0) {
		return -EINVAL;
	}
	switch (ts) {
	case TIMESCALE_UTC:
		*out_ns = tai_ns -
			  (__int128)timescale_dtai_at_tai(t, tai_ns) * NS;
		return 0;
	case TIMESCALE_UTC_NOON_LINEAR:
		*out_ns = smear_from_tai(t, tai_ns, KEY_NOON_START);
		return 0;
	case TIMESCALE_UTC_SLS:
		*out_ns = smear_from_tai(t, tai_ns, KEY_SLS_START);
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * UTC is piecewise t - dtai(i) on segments [T_i, T_i+1); segment i's
 * values end (exclusive) at T_i+1 - dtai(i), which grows with i. The
 * earliest instant reading >= v lies in the first segment whose end is
 * past v.
 */
static __int128 utc_to_tai(const struct leap_table *t, __int128 v)
{
	size_t lo = 0, hi = t->n - 1;
	__int128 tai;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		__int128 end = key_ns(t, mid + 1, KEY_SWITCH) -
			       (__int128)t->e[mid].dtai * NS;

		if (v < end) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	tai = v + (__int128)t->e[lo].dtai * NS;
	if (lo > 0 && tai < key_ns(t, lo, KEY_SWITCH)) {
		tai = key_ns(t, lo, KEY_SWITCH);
	}
	return tai;
}

int timescale_to_tai(const struct leap_table *t, enum timescale ts,
		     __int128 value_ns, __int128 *tai_ns)
{
	enum leap_key key =
		ts == TIMESCALE_UTC_SLS ? KEY_SLS_START : KEY_NOON_START;
	int32_t dmin, dmax;
	__int128 lo, hi;

	if (ts == TIMESCALE_TAI) {
		*tai_ns = value_ns;
		return 0;
	}
	if (!t || t->n == 0 ||
	    (ts != TIMESCALE_UTC && ts != TIMESCALE_UTC_NOON_LINEAR &&
	     ts != TIMESCALE_UTC_SLS)) {
		return -EINVAL;
	}
	if (ts == TIMESCALE_UTC) {
		*tai_ns = utc_to_tai(t, value_ns);
		return 0;
	}
	/*
	 * The smear is non-decreasing and lies between t - dmax and
	 * t - dmin, so f(lo) < v <= f(hi); bisect for the first t with
	 * f(t) >= v.
	 */
	dmin = dmax = t->e[0].dtai;
	for (size_t i = 1; i < t->n; i++) {
		dmin = t->e[i].dtai < dmin ? t->e[i].dtai : dmin;
		dmax = t->e[i].dtai > dmax ? t->e[i].dtai : dmax;
	}
	lo = value_ns + (__int128)dmin * NS - 1;
	hi = value_ns + (__int128)dmax * NS;
	while (hi - lo > 1) {
		__int128 mid = lo + (hi - lo) / 2;

		if (smear_from_tai(t, mid, key) >= value_ns) {
			hi = mid;
		} else {
			lo = mid;
		}
	}
	*tai_ns = hi;
	return 0;
}
