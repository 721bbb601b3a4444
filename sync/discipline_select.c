// SPDX-License-Identifier: MIT
/*
 * Source selection. Agreement is Marzullo's question in its simplest
 * O(n^2) form: the largest set of intervals sharing a point is found at
 * one of the intervals' lower ends.
 */
#include <stdio.h>

#include "discipline_select.h"

/* Bounds beyond this (about 3 years) are clamped: no int64 overflow. */
#define SELECT_MAX_BOUND_NS 100000000000000000LL

static int64_t bound_of(const struct select_cand *c)
{
	return c->bound_ns > (uint64_t)SELECT_MAX_BOUND_NS
		       ? SELECT_MAX_BOUND_NS
		       : (int64_t)c->bound_ns;
}

/* Takes part in the agreement: its bound is meant as a bound. */
static bool syncd(const struct select_cand *c)
{
	return c->eligible && (c->status == CLOCK_STATUS_SYNCHRONIZED ||
			       c->status == CLOCK_STATUS_INITIALIZING);
}

static bool contains(const struct select_cand *c, int64_t p)
{
	return c->tai_ns - bound_of(c) <= p && p <= c->tai_ns + bound_of(c);
}

static int rank_class(enum clock_status st)
{
	switch (st) {
	case CLOCK_STATUS_SYNCHRONIZED:
		return 0;
	case CLOCK_STATUS_INITIALIZING:
		return 1;
	case CLOCK_STATUS_UNRELIABLE:
		return 2;
	default:
		return 3;
	}
}

/* True if @a ranks before @b (both eligible). */
static bool better(const struct select_cand *a, int ia,
		   const struct select_cand *b, int ib)
{
	int ca = rank_class(a->status), cb = rank_class(b->status);

	if (ca != cb) {
		return ca < cb;
	}
	if (a->bound_ns != b->bound_ns) {
		return a->bound_ns < b->bound_ns;
	}
	return ia < ib;
}

static void agreement(struct select_cand *c, unsigned int n,
		      struct select_result *out)
{
	unsigned int nsync = 0, best = 0;
	int64_t point = 0;

	for (unsigned int j = 0; j < n; j++) {
		unsigned int k = 0;
		int64_t p;

		if (!syncd(&c[j])) {
			continue;
		}
		nsync++;
		p = c[j].tai_ns - bound_of(&c[j]);
		for (unsigned int i = 0; i < n; i++) {
			k += syncd(&c[i]) && contains(&c[i], p);
		}
		if (k > best) {
			best = k;
			point = p;
		}
	}
	out->agreeing = nsync;
	if (nsync < 2 || best == nsync) {
		return;
	}
	if (2 * best <= nsync) {
		out->contradiction = true;
		out->agreeing = 0;
		return;
	}
	out->agreeing = best;
	for (unsigned int i = 0; i < n; i++) {
		if (syncd(&c[i]) && !contains(&c[i], point)) {
			c[i].falseticker = true;
			c[i].eligible = false;
			c[i].offset_ns = c[i].tai_ns - point;
		}
	}
}

void select_run(struct select_cand *c, unsigned int n, int current,
		struct select_result *out)
{
	int b = -1;

	*out = (struct select_result){ .selected = -1 };
	for (unsigned int i = 0; i < n; i++) {
		c[i].falseticker = false;
		c[i].offset_ns = 0;
	}
	agreement(c, n, out);
	for (unsigned int i = 0; i < n; i++) {
		if (!c[i].eligible) {
			continue;
		}
		out->eligible++;
		if (b < 0 || better(&c[i], (int)i, &c[b], b)) {
			b = (int)i;
		}
	}
	if (b < 0) {
		return;
	}
	if (out->contradiction) {
		for (unsigned int i = 0; i < n; i++) {
			c[i].offset_ns =
				syncd(&c[i]) ? c[i].tai_ns - c[b].tai_ns : 0;
		}
	}
	out->selected = b;
	if (out->eligible == 1) {
		out->why = SELECT_ONLY;
		return;
	}
	/*
	 * Switching between sources that contradict each other only makes
	 * the served time travel between them: in a contradiction the
	 * current one stays whatever the bounds say.
	 */
	if (current >= 0 && (unsigned int)current < n && current != b &&
	    c[current].eligible &&
	    rank_class(c[current].status) == rank_class(c[b].status) &&
	    (out->contradiction ||
	     !(c[b].bound_ns < c[current].bound_ns / 2))) {
		out->selected = current;
		out->why = SELECT_KEPT;
		return;
	}
	out->why = SELECT_BOUND;
	for (unsigned int i = 0; i < n; i++) {
		if ((int)i != b && c[i].eligible &&
		    rank_class(c[i].status) == rank_class(c[b].status)) {
			return;
		}
	}
	out->why = SELECT_STATUS;
}

void select_reason(const struct select_cand *c, unsigned int n,
		   const struct select_result *res, char *buf, size_t len)
{
	const struct select_cand *s;

	if (res->selected < 0) {
		snprintf(buf, len, "no eligible source");
		return;
	}
	s = &c[res->selected];
	switch (res->why) {
	case SELECT_ONLY:
		snprintf(buf, len, "only source with samples");
		break;
	case SELECT_KEPT:
		snprintf(buf, len, "kept (bound %llu ns), %s",
			 (unsigned long long)s->bound_ns,
			 res->contradiction ? "sources contradict each other"
					    : "no other below half");
		break;
	case SELECT_BOUND:
		if (res->agreeing >= 2 && !res->contradiction) {
			snprintf(buf, len,
				 "smallest bound %llu ns of %u agreeing "
				 "sources",
				 (unsigned long long)s->bound_ns,
				 res->agreeing);
		} else {
			snprintf(buf, len, "smallest bound %llu ns of %u %s",
				 (unsigned long long)s->bound_ns, res->eligible,
				 res->contradiction ? "contradicting sources"
						    : "candidates");
		}
		break;
	case SELECT_STATUS:
		snprintf(buf, len, "the only %s one of %u candidates",
			 clock_status_name(s->status), res->eligible);
		break;
	default:
		snprintf(buf, len, "no eligible source");
		break;
	}
}

void select_describe(const struct select_cand *c, unsigned int n, char *buf,
		     size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < n && off < len; i++) {
		if (!syncd(&c[i])) {
			continue;
		}
		off += (size_t)snprintf(
			buf + off, len - off, "%s%s %+lld ns bound %llu ns",
			off ? ", " : "", c[i].name, (long long)c[i].offset_ns,
			(unsigned long long)c[i].bound_ns);
	}
}
