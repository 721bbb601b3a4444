// SPDX-License-Identifier: MIT
/*
 * The clock model: seqlock publication and the pure read functions.
 *
 * Publication is a latched sequence counter (Linux's seqcount_latch):
 * two copies of the snapshot; while the counter is odd the writer is
 * updating copy 0 and readers use copy 1, while it is even readers use
 * copy 0. A reader never waits for the writer; it only retries if the
 * counter moved while it was copying. The copies are arrays of atomic
 * words accessed with relaxed loads and stores, so there is no data race
 * in the C11 sense, and fences order them against the counter.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock_model_writer.h"
#include "timescale.h"

#define SNAP_WORDS                                                             \
	((sizeof(struct clock_snapshot) + sizeof(uint64_t) - 1) /              \
	 sizeof(uint64_t))

struct clock_model {
	_Atomic uint64_t seq;
	_Atomic uint64_t copy[2][SNAP_WORDS];
	uint64_t generation; /* writer only */
	void (*observer)(void *ctx, const struct clock_snapshot *s);
	void *observer_ctx;
};

uint64_t clock_counter_now(enum clock_counter counter)
{
	struct timespec ts;

	(void)counter; /* only CLOCK_MONOTONIC_RAW for now */
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct clock_model *clock_model_new(void)
{
	return calloc(1, sizeof(struct clock_model));
}

void clock_model_free(struct clock_model *m)
{
	free(m);
}

static void copy_store(_Atomic uint64_t *dst, const uint64_t *src)
{
	for (size_t i = 0; i < SNAP_WORDS; i++) {
		atomic_store_explicit(&dst[i], src[i], memory_order_relaxed);
	}
}

void clock_model_publish(struct clock_model *m, const struct clock_snapshot *s)
{
	uint64_t w[SNAP_WORDS] = { 0 };
	struct clock_snapshot tmp = *s;
	uint64_t seq;

	tmp.generation = ++m->generation;
	memcpy(w, &tmp, sizeof(tmp));

	seq = atomic_load_explicit(&m->seq, memory_order_relaxed);
	atomic_store_explicit(&m->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	copy_store(m->copy[0], w);
	atomic_store_explicit(&m->seq, seq + 2, memory_order_release);
	atomic_thread_fence(memory_order_release);
	copy_store(m->copy[1], w);
	if (m->observer) {
		m->observer(m->observer_ctx, &tmp);
	}
}

void clock_model_set_observer(struct clock_model *m,
			      void (*fn)(void *ctx,
					 const struct clock_snapshot *s),
			      void *ctx)
{
	m->observer = fn;
	m->observer_ctx = ctx;
}

int clock_model_get(const struct clock_model *m, struct clock_snapshot *out)
{
	uint64_t w[SNAP_WORDS] = { 0 };
	struct clock_snapshot tmp;
	uint64_t seq;

	do {
		const _Atomic uint64_t *src;

		seq = atomic_load_explicit(&m->seq, memory_order_acquire);
		src = m->copy[seq & 1];
		for (size_t i = 0; i < SNAP_WORDS; i++) {
			w[i] = atomic_load_explicit(&src[i],
						    memory_order_relaxed);
		}
		atomic_thread_fence(memory_order_acquire);
	} while (atomic_load_explicit(&m->seq, memory_order_relaxed) != seq);

	/* copy 1 is still empty while the first publish is under way */
	memcpy(&tmp, w, sizeof(tmp));
	if (tmp.generation == 0) {
		return -EAGAIN;
	}
	*out = tmp;
	return 0;
}

int clock_model_tai_now(const struct clock_model *m,
			struct clock_snapshot *snap, int64_t *tai_ns)
{
	struct clock_reading r;

	if (clock_model_get(m, snap) < 0) {
		return -EAGAIN;
	}
	clock_snapshot_tai(snap, clock_counter_now(snap->counter), &r);
	*tai_ns = r.ns;
	return 0;
}

/*
 * Elapsed time from c0 to @c in ns, floor((c - c0) * period_q / 2^40),
 * exactly: |c - c0| < 2^64 and period_q < 2^64, so the magnitude of the
 * product fits an unsigned __int128.
 */
static __int128 elapsed_ns(const struct clock_snapshot *s, uint64_t c)
{
	bool neg = c < s->c0;
	unsigned __int128 d = neg ? s->c0 - c : c - s->c0;
	unsigned __int128 p = d * s->period_q;
	unsigned __int128 r = p >> CLOCK_PERIOD_SHIFT;

	if (!neg) {
		return (__int128)r;
	}
	/* floor for negative values: round the magnitude up */
	if (p & ((1ULL << CLOCK_PERIOD_SHIFT) - 1)) {
		r++;
	}
	return -(__int128)r;
}

/* e + ppb * ticks / 1e9, rounded up, saturating. */
static uint64_t grown(uint64_t e, uint64_t ppb, uint64_t ticks)
{
	unsigned __int128 g = (unsigned __int128)ppb * ticks;

	g = (g + 999999999) / 1000000000 + e;
	return g > UINT64_MAX ? UINT64_MAX : (uint64_t)g;
}

/* time_maxerr + rate_maxerr_ppb * |c - c0| / 1e9, |c - c0| in ticks as
 * include/clock_model.h has it; rounded up, saturating. */
static uint64_t bound_at(const struct clock_snapshot *s, uint64_t c)
{
	uint64_t d = c < s->c0 ? s->c0 - c : c - s->c0;

	return grown(s->time_maxerr_ns, s->rate_maxerr_ppb, d);
}

static int64_t saturate(__int128 v)
{
	if (v > INT64_MAX) {
		return INT64_MAX;
	}
	if (v < INT64_MIN) {
		return INT64_MIN;
	}
	return (int64_t)v;
}

void clock_snapshot_tai(const struct clock_snapshot *s, uint64_t c,
			struct clock_reading *out)
{
	out->ns = saturate((__int128)s->tai0_ns + elapsed_ns(s, c));
	out->maxerr_ns = bound_at(s, c);
}

void clock_snapshot_rebase(const struct clock_snapshot *s, uint64_t c,
			   struct clock_snapshot *out)
{
	__int128 el;
	uint64_t b;

	*out = *s;
	if (c <= s->c0) {
		return;
	}
	el = elapsed_ns(s, c);
	out->c0 = c;
	out->tai0_ns = saturate((__int128)s->tai0_ns + el);
	out->mono0_ns = saturate((__int128)s->mono0_ns + el);
	/* + 1 ns: tai0 is floored here and again when read from @out */
	b = bound_at(s, c);
	out->time_maxerr_ns = b == UINT64_MAX ? b : b + 1;
	out->time_esterr_ns =
		grown(s->time_esterr_ns, s->rate_esterr_ppb, c - s->c0);
}

int clock_snapshot_read(const struct clock_snapshot *s, enum timescale ts,
			uint64_t c, struct clock_reading *out)
{
	__int128 v;
	int ret;

	if (ts == TIMESCALE_MONOTONIC) {
		v = (__int128)s->mono0_ns + elapsed_ns(s, c);
	} else {
		ret = timescale_from_tai(
			s->leaps, ts, (__int128)s->tai0_ns + elapsed_ns(s, c),
			&v);
		if (ret < 0) {
			return ret;
		}
	}
	if (v < 0 || v > INT64_MAX) {
		return -ERANGE;
	}
	out->ns = (int64_t)v;
	out->maxerr_ns = bound_at(s, c);
	return 0;
}

const char *clock_status_name(enum clock_status st)
{
	switch (st) {
	case CLOCK_STATUS_UNKNOWN:
		return "unknown";
	case CLOCK_STATUS_INITIALIZING:
		return "initializing";
	case CLOCK_STATUS_SYNCHRONIZED:
		return "synchronized";
	case CLOCK_STATUS_FREERUNNING:
		return "freerunning";
	case CLOCK_STATUS_UNRELIABLE:
		return "unreliable";
	}
	return "invalid";
}

const char *timescale_name(enum timescale ts)
{
	switch (ts) {
	case TIMESCALE_TAI:
		return "tai";
	case TIMESCALE_UTC:
		return "utc";
	case TIMESCALE_UTC_NOON_LINEAR:
		return "utc-noon-linear";
	case TIMESCALE_UTC_SLS:
		return "utc-sls";
	case TIMESCALE_MONOTONIC:
		return "monotonic";
	}
	return "invalid";
}

int clock_snapshot_deadline_tai(const struct clock_snapshot *s,
				enum timescale ts, uint64_t value_ns,
				int64_t *tai_ns)
{
	__int128 tai;
	int ret;

	ret = timescale_to_tai(s->leaps, ts, (__int128)value_ns, &tai);
	if (ret < 0) {
		return ret;
	}
	*tai_ns = tai > INT64_MAX   ? INT64_MAX
		  : tai < INT64_MIN ? INT64_MIN
				    : (int64_t)tai;
	return 0;
}
