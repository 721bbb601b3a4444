// SPDX-License-Identifier: MIT
/*
 * Reading a vmclock page: seqlock copy, checks, and the interval.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "time_ns.h"
#include "vrtc_page.h"

/* Bounds beyond this (about 4e13 years) saturate the int64 results. */
#define BOUND_CAP ((unsigned __int128)1 << 100)

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void from_le(struct vmclock_abi *f)
{
	f->magic = le32toh(f->magic);
	f->size = le32toh(f->size);
	f->version = le16toh(f->version);
	f->seq_count = le32toh(f->seq_count);
	f->disruption_marker = le64toh(f->disruption_marker);
	f->flags = le64toh(f->flags);
	f->tai_offset_sec = le16toh(f->tai_offset_sec);
	f->counter_value = le64toh(f->counter_value);
	f->counter_period_frac_sec = le64toh(f->counter_period_frac_sec);
	f->counter_period_esterror_rate_frac_sec =
		le64toh(f->counter_period_esterror_rate_frac_sec);
	f->counter_period_maxerror_rate_frac_sec =
		le64toh(f->counter_period_maxerror_rate_frac_sec);
	f->time_sec = le64toh(f->time_sec);
	f->time_frac_sec = le64toh(f->time_frac_sec);
	f->time_esterror_nanosec = le64toh(f->time_esterror_nanosec);
	f->time_maxerror_nanosec = le64toh(f->time_maxerror_nanosec);
	f->vm_generation_counter = le64toh(f->vm_generation_counter);
}

int vrtc_page_copy(const void *page, size_t len, struct vmclock_abi *f)
{
	const char *base = page;
	const uint32_t *seqp =
		(const uint32_t *)(base +
				   offsetof(struct vmclock_abi, seq_count));
	struct vmclock_abi c;
	int tries;

	if (len < sizeof(c)) {
		return -EMSGSIZE;
	}
	for (tries = 0; tries < VRTC_PAGE_TRIES; tries++) {
		uint32_t s1 = __atomic_load_n(seqp, __ATOMIC_ACQUIRE);
		uint32_t s2;

		if (le32toh(s1) & 1) {
			cpu_relax();
			continue;
		}
		for (size_t off = 0; off < sizeof(c); off += 4) {
			uint32_t w =
				__atomic_load_n((const uint32_t *)(base + off),
						__ATOMIC_RELAXED);

			memcpy((char *)&c + off, &w, 4);
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(seqp, __ATOMIC_RELAXED);
		if (s1 == s2) {
			break;
		}
	}
	if (tries == VRTC_PAGE_TRIES) {
		return -EAGAIN;
	}
	from_le(&c);
	if (c.magic != VMCLOCK_MAGIC || c.version != VMCLOCK_VERSION ||
	    c.size < sizeof(c) || c.size > len) {
		return -EPROTO;
	}
	*f = c;
	return 0;
}

int vrtc_page_usable(const struct vmclock_abi *f)
{
	const uint64_t need = VMCLOCK_FLAG_TIME_MAXERROR_VALID |
			      VMCLOCK_FLAG_PERIOD_MAXERROR_VALID;

	if (f->clock_status == VMCLOCK_STATUS_UNKNOWN ||
	    f->clock_status > VMCLOCK_STATUS_UNRELIABLE ||
	    (f->flags & need) != need || f->counter_period_frac_sec == 0 ||
	    f->counter_period_shift > 64 ||
	    (f->time_type != VMCLOCK_TIME_TAI &&
	     f->time_type != VMCLOCK_TIME_UTC)) {
		return -ENODATA;
	}
	return 0;
}

__int128 vrtc_page_time_ns(const struct vmclock_abi *f)
{
	unsigned __int128 frac =
		((unsigned __int128)f->time_frac_sec * NS_PER_S) >> 64;

	return (__int128)f->time_sec * NS_PER_S + (__int128)frac;
}

/* ticks * units * 1e9 / 2^(64 + shift), floor or ceil, without
 * overflow: split the product at 2^64. */
static unsigned __int128 scale(uint64_t ticks, uint64_t units,
			       unsigned int shift, int up)
{
	unsigned __int128 q = (unsigned __int128)ticks * units;
	unsigned __int128 hi = (q >> 64) * NS_PER_S;
	unsigned __int128 lo = (q & UINT64_MAX) * NS_PER_S;
	unsigned __int128 r = hi + (lo >> 64);
	int rem = (lo & UINT64_MAX) != 0;

	if (shift >= 64) {
		rem |= r != 0;
		r = 0;
	} else {
		rem |= (r & (((unsigned __int128)1 << shift) - 1)) != 0;
		r >>= shift;
	}
	return r + (up && rem);
}

unsigned __int128 vrtc_page_elapsed_ns(const struct vmclock_abi *f,
				       uint64_t ticks)
{
	return scale(ticks, f->counter_period_frac_sec, f->counter_period_shift,
		     0);
}

unsigned __int128 vrtc_page_growth_ns(const struct vmclock_abi *f,
				      uint64_t ticks)
{
	return scale(ticks, f->counter_period_maxerror_rate_frac_sec,
		     f->counter_period_shift, 1);
}

static int64_t sat(__int128 v)
{
	return v > INT64_MAX   ? INT64_MAX
	       : v < INT64_MIN ? INT64_MIN
			       : (int64_t)v;
}

static int refuse(struct vrtc_time *t, int err)
{
	memset(t, 0, sizeof(*t));
	t->status = VRTC_STATUS_UNKNOWN;
	return err;
}

/* The leap second the page announces, as the UTC second M at which the
 * month ends and the TAI instant (ns) UTC steps there; 0 if none. */
static int announced_leap(const struct vmclock_abi *f, int64_t *m_s,
			  __int128 *tai_ns)
{
	int64_t off = (int16_t)f->tai_offset_sec;
	__int128 page_utc = vrtc_page_time_ns(f) + (__int128)off * NS_PER_S;
	int64_t utc_s = (int64_t)(page_utc / NS_PER_S);

	if (f->time_type != VMCLOCK_TIME_TAI ||
	    (f->leap_indicator != VMCLOCK_LEAP_PRE_POS &&
	     f->leap_indicator != VMCLOCK_LEAP_PRE_NEG &&
	     f->leap_indicator != VMCLOCK_LEAP_POS)) {
		return 0;
	}
	*m_s = vmclock_month_end_s(utc_s);
	if (f->leap_indicator == VMCLOCK_LEAP_PRE_NEG) {
		*tai_ns = ((__int128)*m_s - off - 1) * NS_PER_S;
		return -1;
	}
	/* during POS the page already has the new offset: it is past */
	*tai_ns = ((__int128)*m_s - off) * NS_PER_S;
	if (f->leap_indicator == VMCLOCK_LEAP_POS) {
		*tai_ns -= NS_PER_S;
	}
	return f->leap_indicator == VMCLOCK_LEAP_POS ? 2 : 1;
}

/* UTC (stepping) at TAI @tai_ns, for an instant near the page's. */
static __int128 utc_of(const struct vmclock_abi *f, __int128 tai_ns)
{
	int64_t off = (int16_t)f->tai_offset_sec;
	__int128 v = tai_ns + (__int128)off * NS_PER_S;
	__int128 at = 0;
	int64_t m = 0;
	int k = announced_leap(f, &m, &at);

	if (k == 1 && tai_ns >= at) {
		v -= NS_PER_S;
	} else if (k == -1 && tai_ns >= at) {
		v += NS_PER_S;
	}
	return v;
}

/* Near an inserted second UTC repeats: true UTC may be anywhere in
 * [M - 1 s, M] if the interval touches it. */
static void widen_repeat(const struct vmclock_abi *f, __int128 *lo,
			 __int128 *hi)
{
	__int128 at = 0, mn;
	int64_t m = 0;
	int k = announced_leap(f, &m, &at);

	if (k <= 0) {
		return;
	}
	mn = (__int128)m * NS_PER_S;
	if (*lo <= mn && *hi >= mn - NS_PER_S) {
		if (*lo > mn - NS_PER_S) {
			*lo = mn - NS_PER_S;
		}
		if (*hi < mn) {
			*hi = mn;
		}
	}
}

static int finish(const struct vmclock_abi *f, enum vrtc_timescale ts,
		  __int128 now, __int128 lo, __int128 hi, uint64_t age,
		  struct vrtc_time *t)
{
	if (ts == VRTC_TIMESCALE_UTC) {
		widen_repeat(f, &lo, &hi);
	}
	memset(t, 0, sizeof(*t));
	t->now_ns = sat(now);
	t->earliest_ns = sat(lo);
	t->latest_ns = sat(hi);
	t->bound_ns = (uint64_t)(now - lo > (__int128)UINT64_MAX ? UINT64_MAX
								 : now - lo);
	t->status = (enum vrtc_status)f->clock_status;
	t->age_ns = age;
	t->disruption_marker = f->disruption_marker;
	return 0;
}

int vrtc_page_host(const struct vmclock_abi *f, uint64_t counter_now,
		   uint64_t max_age_ns, enum vrtc_timescale ts,
		   struct vrtc_time *t)
{
	unsigned __int128 el, bound;
	__int128 tai, lo, hi, b;
	uint64_t ticks;
	int r = vrtc_page_usable(f);

	if (r) {
		return refuse(t, r);
	}
	if (f->time_type != VMCLOCK_TIME_TAI) {
		return refuse(t, -ENODATA);
	}
	if (ts == VRTC_TIMESCALE_UTC &&
	    !(f->flags & VMCLOCK_FLAG_TAI_OFFSET_VALID)) {
		return refuse(t, -ENODATA);
	}
	/* A counter before the page's: not this host's counter (1 us of
	 * slack for a reader that read the counter just before). */
	if (counter_now < f->counter_value) {
		if (f->counter_value - counter_now > 1000) {
			return refuse(t, -ESTALE);
		}
		counter_now = f->counter_value;
	}
	ticks = counter_now - f->counter_value;
	el = vrtc_page_elapsed_ns(f, ticks);
	if (el > max_age_ns) {
		return refuse(t, -ESTALE);
	}
	/* + 1 ns: the floor of the time and of the elapsed time */
	bound = (unsigned __int128)f->time_maxerror_nanosec +
		vrtc_page_growth_ns(f, ticks) + 1;
	b = bound > BOUND_CAP ? (__int128)BOUND_CAP : (__int128)bound;
	tai = vrtc_page_time_ns(f) + (__int128)el;
	lo = tai - b;
	hi = tai + b;
	if (ts == VRTC_TIMESCALE_UTC) {
		return finish(f, ts, utc_of(f, tai), utc_of(f, lo),
			      utc_of(f, hi), (uint64_t)el, t);
	}
	return finish(f, ts, tai, lo, hi, (uint64_t)el, t);
}

int vrtc_page_guest(const struct vmclock_abi *f, int64_t phc_ns,
		    uint64_t window_ns, uint64_t max_age_ns,
		    enum vrtc_timescale ts, struct vrtc_time *t)
{
	int64_t off = (int16_t)f->tai_offset_sec;
	__int128 page = vrtc_page_time_ns(f), tai = phc_ns, d;
	unsigned __int128 age, bound;
	__int128 b;
	int r = vrtc_page_usable(f);

	if (r) {
		return refuse(t, r);
	}
	if (f->time_type == VMCLOCK_TIME_TAI && ts == VRTC_TIMESCALE_UTC) {
		if (!(f->flags & VMCLOCK_FLAG_TAI_OFFSET_VALID)) {
			return refuse(t, -ENODATA);
		}
		tai -= (__int128)off * NS_PER_S;
	} else if (f->time_type != VMCLOCK_TIME_TAI) {
		return refuse(t, -ENODATA);
	}
	d = tai - page;
	age = (unsigned __int128)(d < 0 ? -d : d);
	if (ts == VRTC_TIMESCALE_UTC &&
	    f->leap_indicator != VMCLOCK_LEAP_NONE) {
		age += NS_PER_S; /* the PHC may be past the leap, or not */
	}
	if (age > max_age_ns) {
		return refuse(t, -ESTALE);
	}
	/* growth per ns of age: maxerror rate / period, rounded up */
	bound = ((unsigned __int128)(uint64_t)age *
			 f->counter_period_maxerror_rate_frac_sec +
		 f->counter_period_frac_sec - 1) /
		f->counter_period_frac_sec;
	bound += (unsigned __int128)f->time_maxerror_nanosec +
		 (window_ns + 1) / 2 + 1;
	b = bound > BOUND_CAP ? (__int128)BOUND_CAP : (__int128)bound;
	return finish(f, ts, phc_ns, (__int128)phc_ns - b, (__int128)phc_ns + b,
		      (uint64_t)age, t);
}
