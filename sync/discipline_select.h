/* SPDX-License-Identifier: MIT */
/*
 * Source selection for the discipline (discipline.h has the rules):
 * agreement among the SYNCHRONIZED and INITIALIZING candidates (falsetickers,
 * contradiction), then rank and hysteresis. Pure functions over a small
 * array; no state, nothing logged.
 *
 * Thread/loop: any.
 */
#ifndef SYNC_DISCIPLINE_SELECT_H
#define SYNC_DISCIPLINE_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock_model.h"

struct select_cand {
	const char *name;
	bool eligible;		  /* in: may be followed; cleared for a
				   * falseticker */
	enum clock_status status; /* its shadow's */
	int64_t tai_ns;		  /* its shadow's TAI now */
	uint64_t bound_ns;	  /* its shadow's bound now */
	bool falseticker;	  /* out */
	int64_t offset_ns;	  /* out: from the agreeing sources' common
				   * point (falsetickers), or from the
				   * best-ranked source (contradiction) */
};

enum select_why {
	SELECT_NONE = 0, /* nothing eligible */
	SELECT_ONLY,	 /* the only eligible source */
	SELECT_KEPT,	 /* hysteresis kept the current one */
	SELECT_BOUND,	 /* same rank class, smallest bound */
	SELECT_STATUS,	 /* the best rank class */
};

struct select_result {
	int selected; /* index, -1: none eligible */
	enum select_why why;
	bool contradiction;    /* candidates disagree, no majority */
	unsigned int agreeing; /* candidates in the majority */
	unsigned int eligible; /* eligible after the falsetickers */
};

/*
 * select_run() - mark falsetickers in @c (n <= 64) and pick the source
 * to follow; @current is the one followed so far (-1: none).
 */
void select_run(struct select_cand *c, unsigned int n, int current,
		struct select_result *out);

/* One line: why @res->selected was picked ("smallest bound 130 ns of 2
 * agreeing sources"). */
void select_reason(const struct select_cand *c, unsigned int n,
		   const struct select_result *res, char *buf, size_t len);

/* One line: every agreeing candidate's offset and bound. */
void select_describe(const struct select_cand *c, unsigned int n, char *buf,
		     size_t len);

#endif /* SYNC_DISCIPLINE_SELECT_H */
