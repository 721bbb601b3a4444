// SPDX-License-Identifier: MIT
/*
 * The probe's eval: what it derives from each sample, in one place so the
 * report, the CSV and the plot agree: the interval coverage counts a
 * sample within (the plot shades the same one), and the origin of a
 * relative clock's offsets.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

double eval_cover_ns(bool known, uint64_t bound_ns, const struct eval_sample *s)
{
	if (!known) {
		return NAN;
	}
	return (double)bound_ns + (double)s->win_ns / 2 + (double)s->err_ns;
}

void eval_give_bound(struct eval_clock *c, size_t j, bool known,
		     uint64_t bound_ns)
{
	c->bound_ns[j] = known ? (double)bound_ns : NAN;
	/* a relative clock's offsets have an arbitrary origin: no interval */
	c->cover_ns[j] =
		c->relative ? NAN : eval_cover_ns(known, bound_ns, &c->s[j]);
	if (isfinite(c->cover_ns[j])) {
		c->counted++;
		c->covered += fabs(c->off_ns[j]) <= c->cover_ns[j];
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int64_t eval_median_origin(const struct eval_sample *s, size_t n)
{
	int64_t v[EVAL_ORIGIN_SAMPLES];

	if (n > EVAL_ORIGIN_SAMPLES) {
		n = EVAL_ORIGIN_SAMPLES;
	}
	if (!n) {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		v[i] = s[i].raw_off_ns;
	}
	qsort(v, n, sizeof(v[0]), cmp_i64);
	/* the lower middle for an even count: an offset that was read */
	return v[(n - 1) / 2];
}

bool eval_settle_origin(struct eval_clock *c, bool final)
{
	if (!c->relative || c->origin_set) {
		return true;
	}
	if (c->n < EVAL_ORIGIN_SAMPLES && !(final && c->n)) {
		return false;
	}
	c->first = eval_median_origin(c->s, c->n);
	c->origin_set = true;
	for (size_t j = 0; j < c->n; j++) {
		c->off_ns[j] = (double)(c->s[j].raw_off_ns - c->first);
	}
	return true;
}

double eval_offset(const struct eval_clock *c, const struct eval_sample *s)
{
	if (!c->relative) {
		return (double)s->raw_off_ns;
	}
	/* NAN until the origin is known (eval_settle_origin()) */
	return c->origin_set ? (double)(s->raw_off_ns - c->first) : NAN;
}
