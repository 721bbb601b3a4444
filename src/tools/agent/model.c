// SPDX-License-Identifier: MIT
/*
 * The guest agent's model: calibration, the disruption check, and the
 * agent's page (see model.h for the arithmetic and why it holds).
 */
#include <string.h>

#include "model.h"

#define NS_PER_S 1000000000LL
#define PPB 1000000000ull
/* the disruption marker's step per epoch (odd: no cycle before 2^64) */
#define EPOCH_STEP 0x9e3779b97f4a7c15ull

void gm_config_default(struct gm_config *c)
{
	c->apriori_ppb = 1000000; /* 1000 ppm */
	c->wander_ppb = 1000;	  /* 1 ppm */
	c->settle = 4;
	c->span = 64;
}

void gm_init(struct gm *m, const struct gm_config *c)
{
	memset(m, 0, sizeof(*m));
	if (c) {
		m->cfg = *c;
	} else {
		gm_config_default(&m->cfg);
	}
	if (m->cfg.span < 2) {
		m->cfg.span = 2;
	}
	if (m->cfg.span > GM_MAX_SPAN) {
		m->cfg.span = GM_MAX_SPAN;
	}
	if (m->cfg.settle < 2) {
		m->cfg.settle = 2;
	}
	if (m->cfg.apriori_ppb > PPB / 2) {
		m->cfg.apriori_ppb = PPB / 2;
	}
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat128(unsigned __int128 v)
{
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

uint64_t gm_host_rate_ppb(const struct vmclock_abi *host)
{
	unsigned __int128 q;

	if (!host->counter_period_frac_sec) {
		return UINT64_MAX;
	}
	/* the rate error per tick over the period per tick, in ppb */
	q = ((unsigned __int128)host->counter_period_maxerror_rate_frac_sec *
		     PPB +
	     host->counter_period_frac_sec - 1) /
	    host->counter_period_frac_sec;
	return q > PPB ? UINT64_MAX : (uint64_t)q;
}

/* The calibration @i back from the newest (0: newest). */
static const struct gm_cal *back(const struct gm *m, unsigned int i)
{
	return &m->cal[(m->head + GM_MAX_SPAN - i) % GM_MAX_SPAN];
}

const struct gm_cal *gm_newest(const struct gm *m)
{
	return m->n ? back(m, 0) : NULL;
}

static void push(struct gm *m, const struct gm_cal *k, bool restart)
{
	if (restart || !m->n) {
		m->head = 0;
		m->n = 1;
		m->cal[0] = *k;
		return;
	}
	m->head = (m->head + 1) % GM_MAX_SPAN;
	m->cal[m->head] = *k;
	if (m->n < m->cfg.span) {
		m->n++;
	}
}

/* 2^(64 + shift) s / 1e9 ns: a rate of 1 as a period per counter ns */
static unsigned __int128 unit_period(void)
{
	return ((unsigned __int128)1 << (64 + GM_PERIOD_SHIFT)) / NS_PER_S;
}

/* The line from the newest calibration and the epoch's oldest one. */
static void fit(struct gm *m)
{
	const struct gm_cal *k = back(m, 0), *a = back(m, m->n - 1);
	uint64_t host_max = k->host_rate_ppb, u, span;
	unsigned __int128 p, e;

	for (unsigned int i = 1; i < m->n; i++) {
		if (back(m, i)->host_rate_ppb > host_max) {
			host_max = back(m, i)->host_rate_ppb;
		}
	}
	m->host_max_ppb = host_max;
	span = k->c_ns - a->c_ns;
	if (m->n < 2 || !span || k->tai_ns <= a->tai_ns) {
		/* one calibration: rate 1, within the a-priori bound */
		m->period_frac = (uint64_t)unit_period();
		u = m->cfg.apriori_ppb;
	} else {
		uint64_t dt = (uint64_t)(k->tai_ns - a->tai_ns);

		p = ((unsigned __int128)dt * unit_period() + span / 2) / span;
		m->period_frac = sat128(p);
		/* (h_old + h_new) / span in ppb, rounded up */
		e = ((unsigned __int128)(a->half_ns + k->half_ns + 2) * PPB +
		     span - 1) /
		    span;
		u = sat128(e);
	}
	/*
	 * r(t) - p = (r(t) - mean r) - mean(s - r) - (p - mean s) over the
	 * span, s the served rate, r the true one: at most the wander, the
	 * largest host rate bound of the span, and u.
	 */
	m->rate_ppb = sat_add(sat_add(host_max, u), m->cfg.wander_ppb);
	if (m->rate_ppb > PPB) {
		m->rate_ppb = PPB;
	}
	/* the host's bound, the half window in true time (at most a-priori
	 * faster than the counter), and 2 ns of rounding */
	e = (unsigned __int128)k->half_ns * m->cfg.apriori_ppb / PPB + 1;
	m->maxerr_ns = sat_add(sat_add(k->host_bound_ns, k->half_ns),
			       sat_add(sat128(e), 2));
}

/* (c - c_j) * period: the served time the current line predicts from
 * calibration @j to counter @c (>= c_j), ns, floor. */
static __int128 advance(const struct gm *m, const struct gm_cal *j, uint64_t c)
{
	/* ticks * period * 1e9 / 2^(64 + shift), split at 2^64 so that
	 * no product overflows */
	unsigned __int128 q = (unsigned __int128)(c - j->c_ns) * m->period_frac;

	return (__int128)(((q >> 64) * NS_PER_S +
			   (((q & UINT64_MAX) * NS_PER_S) >> 64)) >>
			  GM_PERIOD_SHIFT);
}

/*
 * Whether @k agrees with the current line from every calibration of the
 * span: the served time may have moved from the line by the half
 * windows of both and (line rate + wander + largest host rate) per ns
 * between them. From the newest one a counter jump shows; from the
 * older ones a rate change too small to show in one poll.
 */
static bool agrees(struct gm *m, const struct gm_cal *k)
{
	uint64_t slope =
		sat_add(sat_add(m->rate_ppb, m->cfg.wander_ppb),
			k->host_rate_ppb > m->host_max_ppb ? k->host_rate_ppb
							   : m->host_max_ppb);

	for (unsigned int i = 0; i < m->n; i++) {
		const struct gm_cal *j = back(m, i);
		uint64_t dc = k->c_ns - j->c_ns;
		unsigned __int128 g = (unsigned __int128)dc * slope / PPB + 1;
		__int128 r = (__int128)k->tai_ns - j->tai_ns -
			     advance(m, j, k->c_ns);
		uint64_t thr = sat_add(sat_add(j->half_ns, k->half_ns),
				       sat_add(sat128(g), 2));
		unsigned __int128 ar = (unsigned __int128)(r < 0 ? -r : r);

		if (i == 0) {
			m->last_resid_ns = r > INT64_MAX   ? INT64_MAX
					   : r < INT64_MIN ? INT64_MIN
							   : (int64_t)r;
			m->last_thresh_ns = thr;
		}
		if (ar > thr) {
			return false;
		}
	}
	return true;
}

enum gm_event gm_calibrate(struct gm *m, const struct gm_cal *k)
{
	enum gm_event ev = GM_OK;
	const struct gm_cal *prev;

	m->calibrations++;
	m->last_resid_ns = 0;
	m->last_thresh_ns = 0;
	if (!m->n) {
		push(m, k, true);
		fit(m);
		return GM_FIRST;
	}
	prev = back(m, 0);
	if (k->host.disruption_marker != prev->host.disruption_marker) {
		ev = GM_HOST_MARKER;
	} else if (k->c_ns <= prev->c_ns) {
		ev = GM_BACKWARDS;
	} else if (!agrees(m, k)) {
		m->misses++;
		/* against the a-priori line only the rate was unknown: this
		 * calibration measures it */
		ev = m->n < 2 ? GM_OK : GM_MISS;
	}
	if (ev != GM_OK) {
		m->epoch++;
	}
	push(m, k, ev != GM_OK);
	fit(m);
	return ev;
}

uint8_t gm_status(const struct gm *m)
{
	uint8_t host;

	if (!m->n) {
		return VMCLOCK_STATUS_UNKNOWN;
	}
	host = back(m, 0)->host.clock_status;
	if (host != VMCLOCK_STATUS_SYNCHRONIZED) {
		return host;
	}
	return m->n < m->cfg.settle ? VMCLOCK_STATUS_INITIALIZING
				    : VMCLOCK_STATUS_SYNCHRONIZED;
}

void gm_page(const struct gm *m, struct vmclock_abi *f)
{
	const struct gm_cal *k = gm_newest(m);
	int64_t s, rem;
	unsigned __int128 q;

	memset(f, 0, sizeof(*f));
	f->magic = VMCLOCK_MAGIC;
	f->size = VMCLOCK_PAGE_SIZE;
	f->version = VMCLOCK_VERSION;
	f->counter_id = VMCLOCK_COUNTER_INVALID;
	f->time_type = VMCLOCK_TIME_TAI;
	f->counter_period_shift = GM_PERIOD_SHIFT;
	if (!k) {
		f->clock_status = VMCLOCK_STATUS_UNKNOWN;
		return;
	}
	f->disruption_marker =
		k->host.disruption_marker + m->epoch * EPOCH_STEP;
	f->flags = (k->host.flags & VMCLOCK_FLAG_TAI_OFFSET_VALID) |
		   VMCLOCK_FLAG_TIME_MAXERROR_VALID |
		   VMCLOCK_FLAG_PERIOD_MAXERROR_VALID;
	f->clock_status = gm_status(m);
	f->leap_second_smearing_hint = k->host.leap_second_smearing_hint;
	f->tai_offset_sec = k->host.tai_offset_sec;
	f->leap_indicator = k->host.leap_indicator;
	f->counter_value = k->c_ns;
	f->counter_period_frac_sec = m->period_frac;
	/* ppb as a period error per counter ns, rounded up, + 1 unit */
	q = ((unsigned __int128)m->rate_ppb * unit_period() + PPB - 1) / PPB +
	    1;
	f->counter_period_maxerror_rate_frac_sec = sat128(q);
	s = k->tai_ns / NS_PER_S;
	rem = k->tai_ns % NS_PER_S;
	if (rem < 0) {
		rem += NS_PER_S;
		s--;
	}
	f->time_sec = (uint64_t)s;
	/* rounded up, so that the reader's floor gives back rem exactly */
	f->time_frac_sec =
		(uint64_t)((((unsigned __int128)rem << 64) + NS_PER_S - 1) /
			   NS_PER_S);
	f->time_maxerror_nanosec = m->maxerr_ns;
	if (f->clock_status == VMCLOCK_STATUS_UNKNOWN) {
		f->flags &= ~(VMCLOCK_FLAG_TIME_MAXERROR_VALID |
			      VMCLOCK_FLAG_PERIOD_MAXERROR_VALID);
	}
}
