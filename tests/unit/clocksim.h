/* SPDX-License-Identifier: MIT */
/*
 * Tests only: a simulated PHC / host counter pair with known truth, and a
 * phc2sys-style PI servo baseline (written from linuxptp's documented
 * pi.c behaviour, not copied).
 *
 * Truth: TAI(c) = tai_base + rel(c), rel advancing at (1 + f) per
 * counter ns; f (ppb) is a random walk of wander ppb/sqrt(s), updated once
 * per simulated segment. A PHC read happens at the segment start c; the
 * host sees it somewhere in a read window of window_ns, uniformly, so
 * the sample's counter is the window's midpoint and its err_ns half the
 * window (+1 ns for the PHC's ns resolution).
 */
#ifndef TESTS_CLOCKSIM_H
#define TESTS_CLOCKSIM_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "sample.h"

struct clocksim {
	uint64_t rng;
	uint64_t c;	  /* counter now */
	int64_t tai_base; /* TAI = tai_base + rel */
	double rel;	  /* truth at c, ns since tai_base */
	double f_ppb;	  /* TAI rate - 1 vs the counter */
	double wander;	  /* ppb / sqrt(s) */
	uint64_t window_ns;
};

static inline uint64_t sim_rand(struct clocksim *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL); /* splitmix64 */

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform in [0, 1) */
static inline double sim_unif(struct clocksim *s)
{
	return (double)(sim_rand(s) >> 11) / 9007199254740992.0;
}

static inline double sim_gauss(struct clocksim *s)
{
	double u = sim_unif(s), v = sim_unif(s);

	return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

static inline void sim_init(struct clocksim *s, uint64_t seed, double f_ppb,
			    double wander, uint64_t window_ns)
{
	*s = (struct clocksim){ .rng = seed,
				.c = 1000000000000ULL,
				.tai_base = 1700000037000000000LL,
				.rel = 123456789.0,
				.f_ppb = f_ppb,
				.wander = wander,
				.window_ns = window_ns };
}

/* truth at counter @c >= s->c (within the current segment), rel ns */
static inline double sim_truth(const struct clocksim *s, uint64_t c)
{
	return s->rel + (double)(c - s->c) * (1 + s->f_ppb * 1e-9);
}

static inline void sim_advance(struct clocksim *s, uint64_t dt)
{
	s->rel = sim_truth(s, s->c + dt);
	s->c += dt;
	s->f_ppb += s->wander * sqrt((double)dt * 1e-9) * sim_gauss(s);
}

/* the source steps (e.g. a new grandmaster): truth jumps by @ns */
static inline void sim_step(struct clocksim *s, double ns)
{
	s->rel += ns;
}

/* A PHC read at s->c. */
static inline struct time_sample sim_sample(struct clocksim *s)
{
	uint64_t u = (uint64_t)(sim_unif(s) * (double)s->window_ns);

	return (struct time_sample){
		.counter = s->c - u + s->window_ns / 2,
		.tai_ns = s->tai_base + (int64_t)llround(s->rel),
		.window_ns = s->window_ns,
		.err_ns = s->window_ns / 2 + 1,
	};
}

/*
 * The baseline: phc2sys steering a clock with linuxptp's PI servo,
 * constant gains kp 0.7, ki 0.3, first_step_threshold 20 us.
 */
enum pi_state { PI_UNLOCKED, PI_JUMP, PI_LOCKED };

struct pi_servo {
	double kp, ki, maxppb, drift;
	double off0;
	uint64_t t0;
	int count;
	int first_update;
};

static inline void pi_init(struct pi_servo *p)
{
	*p = (struct pi_servo){
		.kp = 0.7, .ki = 0.3, .maxppb = 500000, .first_update = 1
	};
}

static inline double pi_clamp(double v, double m)
{
	return v > m ? m : (v < -m ? -m : v);
}

/* pi_sample(): @offset = clock - source (ns), @t local time (ns). */
static inline double pi_sample(struct pi_servo *p, double offset, uint64_t t,
			       enum pi_state *st)
{
	double ppb = 0, ki_term;

	switch (p->count) {
	case 0:
		p->off0 = offset;
		p->t0 = t;
		p->count = 1;
		*st = PI_UNLOCKED;
		break;
	case 1:
		/* 0.016 / ki s of baseline: one 1 s interval is enough */
		p->drift += (1e9 - p->drift) * (offset - p->off0) /
			    (double)(t - p->t0);
		p->drift = pi_clamp(p->drift, p->maxppb);
		*st = (p->first_update && fabs(offset) > 20000) ? PI_JUMP
								: PI_LOCKED;
		ppb = p->drift;
		p->count = 2;
		break;
	default:
		ki_term = p->ki * offset;
		ppb = p->kp * offset + p->drift + ki_term;
		if (ppb < -p->maxppb) {
			ppb = -p->maxppb;
		} else if (ppb > p->maxppb) {
			ppb = p->maxppb;
		} else {
			p->drift += ki_term; /* anti-windup */
		}
		*st = PI_LOCKED;
		break;
	}
	p->first_update = 0;
	return ppb;
}

/* The clock phc2sys steers: value(c) = v + (c - ca) * (1 + adj). */
struct pi_clock {
	struct pi_servo servo;
	uint64_t ca;
	double v;   /* rel ns, as clocksim.rel */
	double adj; /* ppb */
};

static inline double pi_clock_at(const struct pi_clock *k, uint64_t c)
{
	return k->v + ((double)c - (double)k->ca) * (1 + k->adj * 1e-9);
}

/* One phc2sys iteration: measure, run the servo, step or set frequency
 * (the adjustment takes effect at @now). @y is the sample's rel ns. */
static inline void pi_clock_feed(struct pi_clock *k, uint64_t c, double y,
				 uint64_t now)
{
	double offset = pi_clock_at(k, c) - y;
	enum pi_state st;
	double ppb = pi_sample(&k->servo, offset, c, &st);

	k->v = pi_clock_at(k, now);
	k->ca = now;
	if (st == PI_UNLOCKED) {
		return;
	}
	if (st == PI_JUMP) {
		k->v -= offset;
	}
	k->adj = -ppb;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* p-quantile of @v[0..n) (sorts @v) */
static inline double quantile(double *v, size_t n, double p)
{
	size_t i;

	if (n == 0) {
		return 0;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)ceil(p * (double)n);
	return v[i ? i - 1 : 0];
}

#endif /* TESTS_CLOCKSIM_H */
