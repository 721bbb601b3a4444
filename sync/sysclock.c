// SPDX-License-Identifier: MIT
/*
 * The system-clock feed.
 *
 * Every poll takes SYSCLOCK_SAMPLES bracketed reads (RAW, REALTIME or
 * TAI, RAW) and keeps the one with the narrowest bracket; its counter
 * midpoint c is the new reference point. The measured TAI there is T.
 *
 * The new model must agree with the old one: at c it takes the old
 * model's prediction P, and the phase error e = T - P is steered out over
 * the next poll interval through the period (rate capped at
 * SYSCLOCK_MAX_SLEW_PPB), on top of the frequency measured between the
 * last two samples (dead-beat: the model follows the system clock's own
 * rate, including its NTP slews). Only when |e| > SYSCLOCK_STEP_NS does
 * the model step to T; that is logged and counted in snapshot.steps.
 * MONOTONIC never steps: mono0 is always the old model's MONOTONIC at c.
 *
 * Bound at c0 (the true TAI lies within tai0 +- time_maxerr_ns):
 *   kernel maxerror          the system clock's own bound (adjtimex)
 *   + half the read bracket  where in the bracket the clock was read
 *   + |e|                    what the slew has not yet removed
 *   + SYSCLOCK_DRIFT_PPB * 1 s  the kernel refreshes maxerror once a s
 * and it grows at rate_maxerr_ppb = SYSCLOCK_DRIFT_PPB + |slew|: the
 * slew itself can carry the model away from the truth if the next poll
 * never comes. SYSCLOCK_DRIFT_PPB (15 ppm) covers a free-running
 * crystal's wander over a poll interval, frequency-estimate noise, and
 * NTP frequency changes between polls; it is not the kernel's 500 ppm
 * tolerance, which bounds an undisciplined oscillator's absolute
 * frequency error, not its change over seconds. The first snapshot knows
 * the frequency only from adjtimex (freq + tick) and so grows at
 * SYSCLOCK_INIT_RATE_PPB, covering the kernel's offset slew (<= 500 ppm).
 *
 * With STA_UNSYNC the kernel's maxerror (capped at 16 s) is no real bound;
 * the status then says FREERUNNING.
 */
#define G_LOG_DOMAIN "vrtc-sync"

#include <errno.h>
#include <stdlib.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "clock_model.h"
#include "leap.h"
#include "sysclock.h"

/* Tunables; see the comment above. */
#define SYSCLOCK_SAMPLES 5	       /* bracketed reads per poll */
#define SYSCLOCK_STEP_NS 1000000LL     /* step above 1 ms phase error */
#define SYSCLOCK_MAX_SLEW_PPB 500000LL /* 500 ppm steering at most */
#define SYSCLOCK_DRIFT_PPB 15000ULL    /* holdover rate bound, 15 ppm */
#define SYSCLOCK_INIT_RATE_PPB (500000ULL + SYSCLOCK_DRIFT_PPB)
/* the kernel refreshes maxerror once a second: 1 s of drift */
#define SYSCLOCK_STALE_NS (SYSCLOCK_DRIFT_PPB * 1)
#define SYSCLOCK_RATE_ESTERR_PPB 1000ULL    /* typical, 1 ppm */
#define SYSCLOCK_MAX_FREQ_PPB 100000000LL   /* rates beyond +-10%: bogus */
#define SYSCLOCK_MIN_BASELINE_NS 10000000LL /* 10 ms for a frequency */
/* system clock bound when adjtimex cannot be read (the kernel's cap) */
#define SYSCLOCK_UNKNOWN_MAXERR_NS (16 * NS_PER_S)
#define SYSCLOCK_POLL_MIN_MS 10U
#define SYSCLOCK_POLL_MAX_MS 3600000U

#define NS_PER_S 1000000000LL
#define Q_ONE ((uint64_t)1 << CLOCK_PERIOD_SHIFT)

struct sysclock_sample {
	uint64_t c;	  /* counter at the bracket midpoint */
	int64_t tai_ns;	  /* measured TAI at c */
	uint64_t half_ns; /* |read instant - c| bound */
	int64_t utc_s;	  /* POSIX s at c */
	int32_t dtai;	  /* TAI - UTC used, s */
	int state;	  /* ntp_adjtime() return, -1 if it failed */
	int adj_errno;	  /* its errno when it failed */
	struct timex tx;
};

struct sysclock_feed {
	const struct sysclock_ops *ops;
	void *ctx;
	struct clock_model *m;
	const struct leap_table *leaps;
	unsigned int poll_ms;
	guint source;
	struct clock_snapshot cur; /* last published */
	struct sysclock_sample prev;
	uint64_t freq_q; /* system clock rate, TAI ns per tick << 40 */
	unsigned int nsamples;
	uint64_t steps;
	bool warned_tai, warned_adjtimex, warned_read, warned_expired;
};

static GQuark sysclock_error_quark(void)
{
	return g_quark_from_static_string("vrtc-sysclock-error-quark");
}

static int sys_gettime(void *ctx, clockid_t clk, struct timespec *ts)
{
	return clock_gettime(clk, ts);
}

static int sys_adjtime(void *ctx, struct timex *tx)
{
	tx->modes = 0; /* read only */
	return ntp_adjtime(tx);
}

static const struct sysclock_ops sys_ops = {
	.gettime = sys_gettime,
	.adjtime = sys_adjtime,
};

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NS_PER_S + ts->tv_nsec;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Kernel TAI offset against the table; warn once if they disagree. */
static void check_kernel_tai(struct sysclock_feed *f, int64_t tai_ns,
			     int kernel_tai)
{
	int64_t utc_s = floor_div(tai_ns, NS_PER_S) - kernel_tai;

	if (f->warned_tai || leap_dtai_at_utc(f->leaps, utc_s) == kernel_tai ||
	    leap_dtai_at_utc(f->leaps, utc_s + 1) == kernel_tai ||
	    leap_dtai_at_utc(f->leaps, utc_s - 1) == kernel_tai) {
		return;
	}
	g_warning("kernel TAI offset %d s disagrees with the leap table's "
		  "%d s; using the kernel's",
		  kernel_tai, leap_dtai_at_utc(f->leaps, utc_s));
	f->warned_tai = true;
}

static int take_sample(struct sysclock_feed *f, struct sysclock_sample *s)
{
	clockid_t clk;
	uint64_t best = UINT64_MAX;
	int64_t t = 0;

	s->tx = (struct timex){ 0 };
	s->state = f->ops->adjtime(f->ctx, &s->tx);
	s->adj_errno = s->state < 0 ? errno : 0;
	clk = s->state >= 0 && s->tx.tai > 0 ? CLOCK_TAI : CLOCK_REALTIME;
	for (int i = 0; i < SYSCLOCK_SAMPLES; i++) {
		struct timespec a, b, c;
		uint64_t ca, cc;

		if (f->ops->gettime(f->ctx, CLOCK_MONOTONIC_RAW, &a) < 0 ||
		    f->ops->gettime(f->ctx, clk, &b) < 0 ||
		    f->ops->gettime(f->ctx, CLOCK_MONOTONIC_RAW, &c) < 0) {
			return errno > 0 ? -errno : -EIO;
		}
		ca = (uint64_t)ts_ns(&a);
		cc = (uint64_t)ts_ns(&c);
		if (cc - ca < best) {
			best = cc - ca;
			s->c = ca + best / 2;
			t = ts_ns(&b);
		}
	}
	/* bracket half-width rounded up, + 1 ns for the reads' truncation */
	s->half_ns = best - best / 2 + 1;
	if (clk == CLOCK_TAI) {
		check_kernel_tai(f, t, s->tx.tai);
		s->tai_ns = t;
		s->dtai = s->tx.tai;
		s->utc_s = floor_div(t, NS_PER_S) - s->dtai;
	} else {
		s->utc_s = floor_div(t, NS_PER_S);
		/* inside an inserted leap second REALTIME repeats M - 1 */
		s->dtai = leap_dtai_at_utc(f->leaps, s->state == TIME_OOP
							     ? s->utc_s + 1
							     : s->utc_s);
		s->tai_ns = t + (int64_t)s->dtai * NS_PER_S;
	}
	return 0;
}

static enum clock_status status_of(const struct sysclock_sample *s)
{
	if (s->state < 0) {
		return CLOCK_STATUS_UNKNOWN;
	}
	if (s->state == TIME_ERROR || (s->tx.status & STA_UNSYNC)) {
		return CLOCK_STATUS_FREERUNNING;
	}
	return CLOCK_STATUS_SYNCHRONIZED;
}

/* The kernel's maxerror, or its cap when adjtimex failed. */
static uint64_t kernel_maxerr_ns(const struct sysclock_sample *s)
{
	if (s->state < 0) {
		return SYSCLOCK_UNKNOWN_MAXERR_NS;
	}
	return s->tx.maxerror > 0 ? (uint64_t)s->tx.maxerror * 1000 : 0;
}

static uint64_t kernel_esterr_ns(const struct sysclock_sample *s)
{
	if (s->state < 0) {
		return SYSCLOCK_UNKNOWN_MAXERR_NS;
	}
	return s->tx.esterror > 0 ? (uint64_t)s->tx.esterror * 1000 : 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t ppb_to_q(int64_t ppb)
{
	return (uint64_t)(((__int128)ppb << CLOCK_PERIOD_SHIFT) / NS_PER_S);
}

/* System clock rate per raw tick from adjtimex's frequency and tick. */
static uint64_t kernel_freq_q(const struct sysclock_sample *s)
{
	long hz = sysconf(_SC_CLK_TCK);
	int64_t ppb;

	if (s->state < 0 || hz <= 0) {
		return Q_ONE;
	}
	ppb = (int64_t)s->tx.freq * 1000 / 65536;
	ppb += ((int64_t)s->tx.tick * hz - 1000000) * 1000;
	if (ppb > SYSCLOCK_MAX_FREQ_PPB || ppb < -SYSCLOCK_MAX_FREQ_PPB) {
		return Q_ONE;
	}
	return Q_ONE + ppb_to_q(ppb);
}

/* Rate of the system clock between two samples, or 0 if not usable. */
static uint64_t measured_freq_q(const struct sysclock_sample *a,
				const struct sysclock_sample *b)
{
	__int128 dc = (__int128)b->c - (__int128)a->c;
	__int128 dt = (__int128)b->tai_ns - (__int128)a->tai_ns;
	__int128 q, lim = (__int128)ppb_to_q(SYSCLOCK_MAX_FREQ_PPB);

	if (dc < SYSCLOCK_MIN_BASELINE_NS || dt <= 0) {
		return 0;
	}
	q = (dt << CLOCK_PERIOD_SHIFT) / dc;
	if (q > (__int128)Q_ONE + lim || q < (__int128)Q_ONE - lim) {
		return 0;
	}
	return (uint64_t)q;
}

static void log_status(struct sysclock_feed *f, const struct sysclock_sample *s,
		       const struct clock_snapshot *n)
{
	if (f->nsamples > 1 && n->status == f->cur.status) {
		return;
	}
	g_message("system clock feed: %s, TAI-UTC %d s (%s), maxerr %llu ns",
		  clock_status_name(n->status), s->dtai,
		  s->state >= 0 && s->tx.tai > 0 ? "kernel" : "leap table",
		  (unsigned long long)n->time_maxerr_ns);
}

static void first_model(struct sysclock_feed *f,
			const struct sysclock_sample *s,
			struct clock_snapshot *n)
{
	f->freq_q = kernel_freq_q(s);
	n->c0 = s->c;
	n->tai0_ns = s->tai_ns;
	n->mono0_ns = 0;
	n->period_q = f->freq_q;
	n->rate_maxerr_ppb = SYSCLOCK_INIT_RATE_PPB;
	n->rate_esterr_ppb = SYSCLOCK_INIT_RATE_PPB;
	n->status =
		s->state < 0 ? CLOCK_STATUS_UNKNOWN : CLOCK_STATUS_INITIALIZING;
	n->time_maxerr_ns = sat_add(kernel_maxerr_ns(s),
				    sat_add(s->half_ns, SYSCLOCK_STALE_NS));
	n->time_esterr_ns = sat_add(kernel_esterr_ns(s), s->half_ns);
}

static void next_model(struct sysclock_feed *f, const struct sysclock_sample *s,
		       struct clock_snapshot *n)
{
	const struct clock_snapshot *p = &f->cur;
	struct clock_reading pred, mono;
	int64_t interval_ns = (int64_t)f->poll_ms * 1000000;
	int64_t slew_ppb = 0;
	uint64_t residual = 0, q;
	__int128 e;

	clock_snapshot_tai(p, s->c, &pred);
	if (clock_snapshot_read(p, TIMESCALE_MONOTONIC, s->c, &mono) < 0) {
		mono.ns = p->mono0_ns; /* cannot happen: s->c > c0 */
	}
	e = (__int128)s->tai_ns - pred.ns;
	n->c0 = s->c;
	n->mono0_ns = mono.ns;
	if (e > SYSCLOCK_STEP_NS || e < -SYSCLOCK_STEP_NS) {
		g_warning("system clock moved %+lld ns against the model; "
			  "stepping",
			  (long long)(e > INT64_MAX    ? INT64_MAX
				      : e < -INT64_MAX ? -INT64_MAX
						       : e));
		n->tai0_ns = s->tai_ns;
		f->steps++;
	} else {
		q = measured_freq_q(&f->prev, s);
		if (q) {
			f->freq_q = q;
		}
		slew_ppb = (int64_t)(e * NS_PER_S / interval_ns);
		if (slew_ppb > SYSCLOCK_MAX_SLEW_PPB) {
			slew_ppb = SYSCLOCK_MAX_SLEW_PPB;
		} else if (slew_ppb < -SYSCLOCK_MAX_SLEW_PPB) {
			slew_ppb = -SYSCLOCK_MAX_SLEW_PPB;
		}
		n->tai0_ns = pred.ns;
		residual = (uint64_t)(e < 0 ? -e : e);
	}
	n->period_q = slew_ppb < 0 ? f->freq_q - ppb_to_q(-slew_ppb)
				   : f->freq_q + ppb_to_q(slew_ppb);
	n->status = status_of(s);
	n->time_maxerr_ns = sat_add(sat_add(kernel_maxerr_ns(s), s->half_ns),
				    sat_add(residual, SYSCLOCK_STALE_NS));
	n->time_esterr_ns =
		sat_add(kernel_esterr_ns(s), sat_add(s->half_ns, residual));
	slew_ppb = slew_ppb < 0 ? -slew_ppb : slew_ppb;
	n->rate_maxerr_ppb = SYSCLOCK_DRIFT_PPB + (uint64_t)slew_ppb;
	n->rate_esterr_ppb = SYSCLOCK_RATE_ESTERR_PPB + (uint64_t)slew_ppb;
}

int sysclock_feed_poll(struct sysclock_feed *f)
{
	struct sysclock_sample s;
	struct clock_snapshot n = { 0 };
	int ret;

	ret = take_sample(f, &s);
	if (ret < 0) {
		return ret;
	}
	if (f->nsamples > 0 && s.c <= f->cur.c0) {
		return -ERANGE; /* the counter went back: keep the model */
	}
	if (s.state < 0 && !f->warned_adjtimex) {
		g_warning("ntp_adjtime: %s; system clock status unknown",
			  g_strerror(s.adj_errno));
		f->warned_adjtimex = true;
	}
	if (!f->warned_expired && leap_table_expired(f->leaps, s.utc_s)) {
		g_warning("leap-second table expired; a coming leap second "
			  "may be missed");
		f->warned_expired = true;
	}
	n.counter = CLOCK_COUNTER_MONOTONIC_RAW;
	n.leaps = f->leaps;
	if (f->nsamples == 0) {
		first_model(f, &s, &n);
	} else {
		next_model(f, &s, &n);
	}
	n.steps = f->steps;
	f->nsamples++;
	log_status(f, &s, &n);
	clock_model_publish(f->m, &n);
	f->cur = n;
	f->prev = s;
	return 0;
}

static gboolean on_poll(gpointer data)
{
	struct sysclock_feed *f = data;
	int ret = sysclock_feed_poll(f);

	if (ret < 0 && !f->warned_read) {
		g_warning("system clock read failed: %s; model left to age",
			  g_strerror(-ret));
		f->warned_read = true;
	}
	return G_SOURCE_CONTINUE;
}

struct sysclock_feed *sysclock_feed_new(struct clock_model *m,
					const struct leap_table *leaps,
					unsigned int poll_ms, GError **err)
{
	return sysclock_feed_new_ops(m, leaps, poll_ms, &sys_ops, NULL, err);
}

struct sysclock_feed *sysclock_feed_new_ops(struct clock_model *m,
					    const struct leap_table *leaps,
					    unsigned int poll_ms,
					    const struct sysclock_ops *ops,
					    void *ctx, GError **err)
{
	struct sysclock_feed *f;
	int ret;

	if (!m || !leaps || !ops || leaps->n == 0 ||
	    poll_ms < SYSCLOCK_POLL_MIN_MS || poll_ms > SYSCLOCK_POLL_MAX_MS) {
		g_set_error(err, sysclock_error_quark(), EINVAL,
			    "system clock feed: bad arguments (poll %u ms, "
			    "allowed %u..%u)",
			    poll_ms, SYSCLOCK_POLL_MIN_MS,
			    SYSCLOCK_POLL_MAX_MS);
		return NULL;
	}
	f = g_new0(struct sysclock_feed, 1);
	f->ops = ops;
	f->ctx = ctx;
	f->m = m;
	f->leaps = leaps;
	f->poll_ms = poll_ms;
	ret = sysclock_feed_poll(f);
	if (ret < 0) {
		g_set_error(err, sysclock_error_quark(), -ret,
			    "system clock feed: reading clocks: %s",
			    g_strerror(-ret));
		g_free(f);
		return NULL;
	}
	f->source = g_timeout_add(poll_ms, on_poll, f);
	return f;
}

void sysclock_feed_free(struct sysclock_feed *f)
{
	if (!f) {
		return;
	}
	if (f->source) {
		g_source_remove(f->source);
	}
	g_free(f);
}
