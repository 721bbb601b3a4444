/* SPDX-License-Identifier: MIT */
/*
 * The discipline: polls every configured time source (up to
 * DISCIPLINE_MAX_SOURCES) on one GLib timeout, picks the one to follow,
 * and publishes the served model to the clock model.
 *
 * Each source has a "shadow" estimator fed only by its own samples: its
 * status and bound say how good that source is right now. The served
 * model comes from one more estimator fed with the selected source's
 * samples only, so switching sources slews (never jumps) and a real
 * disagreement is caught by that estimator's outlier logic.
 *
 * Selection, every poll:
 *   eligible     gave a sample this poll that its shadow accepted, and
 *                the shadow is not FREERUNNING (nor UNKNOWN);
 *   agreement    the intervals TAI_i(now) +- bound_i of the eligible
 *                SYNCHRONIZED and INITIALIZING sources (INITIALIZING
 *                too, so a falseticker is not followed while the others
 *                start up): the largest set sharing a point
 *                (Marzullo-style). With a strict majority, the others
 *                are falsetickers (not eligible, logged once per
 *                change); without one (two that disagree) it is a
 *                contradiction: the served status is UNRELIABLE, the
 *                best-ranked source is still followed (logged once) and
 *                the published bound is widened to cover every
 *                SYNCHRONIZED or INITIALIZING source's interval;
 *   rank         SYNCHRONIZED, then INITIALIZING, then UNRELIABLE; then
 *                the smaller bound now; then configured order;
 *   hysteresis   the current selection stays while it is eligible and
 *                in the best rank class, unless another's bound is below
 *                half of its own; in a contradiction, whatever the
 *                bounds (switching would move the served time between
 *                sources that disagree).
 * No eligible source: nothing is fed; the served estimator holds over
 * (FREERUNNING after its stale intervals, the bound growing).
 *
 * Leap seconds: the sources' leap views are merged with the table
 * (leapmerge.h) every poll; a new effective table is carried by the
 * served model at once.
 *
 * Start-up: discipline_new() opens every source (one that cannot be
 * opened fails start-up, naming it; with source_conf.retry_at_start a
 * chronyd or gpsd not up yet is not that: its source opens down and is
 * retried at the polls), then polls DISCIPLINE_INITIAL_SAMPLES
 * times, DISCIPLINE_INITIAL_GAP_MS apart, so a first model is published
 * before any VM connects. If no source gave a usable sample it does not
 * fail: it warns, publishes nothing (status UNKNOWN to readers) and keeps
 * polling.
 *
 * Logging: the configured sources at start; every change of selection
 * ("following NAME: REASON"); falsetickers and contradictions once per
 * change; each source's health changes once, repeats at most once per
 * minute.
 *
 * Thread/loop: the default GLib main context.
 */
#ifndef SYNC_DISCIPLINE_H
#define SYNC_DISCIPLINE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock_model_writer.h"
#include "estimator.h"
#include "leapmerge.h"
#include "source.h"

#define DISCIPLINE_INITIAL_SAMPLES 8
#define DISCIPLINE_INITIAL_GAP_MS 7
#define DISCIPLINE_MAX_SOURCES 8

struct discipline_conf {
	/* the source kinds, in order of preference among equals */
	const struct source_ops *ops[DISCIPLINE_MAX_SOURCES];
	unsigned int n_sources;	       /* 1..DISCIPLINE_MAX_SOURCES */
	const struct source_conf *src; /* every source's, unless: */
	const struct source_conf *src_of[DISCIPLINE_MAX_SOURCES]; /* own */
	unsigned int interval_ms; /* poll interval, 10..600000 */
	/* NULL: estimator_config_default() with interval_ns set */
	const struct estimator_config *est;
	/* the host counter now; NULL: clock_counter_now() (tests: fake) */
	uint64_t (*now)(void *ctx);
	void *now_ctx;
	/* sleep between initial samples; NULL: g_usleep (tests: fake) */
	void (*sleep_ms)(void *ctx, unsigned int ms);
	/* The first model comes from discipline_resume() (live upgrade):
	 * no start-up samples. */
	bool resume;
	/* POSIX s now, for the leap merge; NULL: from the served model's
	 * TAI, else the system clock (tests: fake) */
	int64_t (*utc_now)(void *ctx);
};

enum discipline_role {
	DISCIPLINE_ROLE_UNUSABLE = 0, /* no accepted sample this poll */
	DISCIPLINE_ROLE_CANDIDATE,    /* eligible, not followed */
	DISCIPLINE_ROLE_SELECTED,     /* followed */
	DISCIPLINE_ROLE_FALSETICKER,  /* outside the agreeing majority */
};

struct discipline_source_status {
	const char *name; /* the ops' name; valid while the discipline is */
	enum source_state state;
	char health[160]; /* the source's own text */
	enum discipline_role role;
	enum clock_status status;    /* its shadow's */
	uint64_t bound_ns;	     /* its shadow's bound now (0: none yet) */
	bool have_offset;	     /* both models exist */
	int64_t offset_ns;	     /* its TAI now minus the served TAI now */
	uint64_t accepted, rejected; /* samples, by its shadow */
	struct source_health leap;   /* its last leap view (tai_utc, leap) */
};

struct discipline_status {
	unsigned int n_sources;
	struct discipline_source_status src[DISCIPLINE_MAX_SOURCES];
	int selected;	    /* index into src, -1: none */
	char reason[256];   /* why it is selected (the last change) */
	bool contradiction; /* sources disagree without a majority */
	bool have_served;   /* a model was published */
	struct clock_snapshot served;
	struct estimator_stats stats; /* the served estimator's */
	struct leap_merge_state leap; /* effective TAI-UTC, pending leap */
};

struct discipline;

/*
 * discipline_new() - open the sources, take the initial samples and
 * publish the first model (when any sample was usable), then poll every
 * interval_ms. @m and @c->src->leaps must outlive the discipline.
 * Returns NULL with @err set for bad arguments or a source that cannot
 * be opened (the message names it: device, socket).
 */
struct discipline *discipline_new(struct clock_model *m,
				  const struct discipline_conf *c,
				  GError **err);

/* Stops polling, closes the sources; NULL is a no-op. */
void discipline_free(struct discipline *d);

/*
 * discipline_poll() - one poll now (the timer does this every interval):
 * sample every source, select, feed, tick, publish. Returns 0 if the
 * selected source's sample was fed, -EAGAIN if no source was eligible.
 */
int discipline_poll(struct discipline *d);

struct estimator_state;

/*
 * Live upgrade: the served estimator's state (-EAGAIN before the first
 * model), and going on from it in the next process: its model is
 * published at once, so the VMs read the same clock across the hand-
 * over. discipline_resume() returns -EINVAL (nothing changed) for a
 * state no estimator could hold.
 */
int discipline_save(const struct discipline *d, struct estimator_state *st);
int discipline_resume(struct discipline *d, const struct estimator_state *st);

/* The served estimator's counters (tests, status). */
void discipline_get_stats(const struct discipline *d,
			  struct estimator_stats *st);

/*
 * discipline_get_status() - the operator's view, as of now (the host
 * counter read through the now hook): every source's role, health and
 * shadow, the selection and its reason, the served model and the
 * effective leap state. Cheap (no source is polled).
 */
void discipline_get_status(const struct discipline *d,
			   struct discipline_status *out);

/*
 * discipline_set_leap_file() - use @file (a leap-seconds.list re-read on
 * SIGHUP) from now on: the leap merge starts again from it, the sources
 * and every estimator carry it, and the served model is republished at
 * once with it. @file and the table it replaces must both outlive the
 * discipline (published snapshots point at them).
 * Returns 0, or -EINVAL for NULL arguments.
 */
int discipline_set_leap_file(struct discipline *d,
			     const struct leap_table *file);

/* "selected", "candidate", "unusable", "falseticker". */
const char *discipline_role_name(enum discipline_role r);

#endif /* SYNC_DISCIPLINE_H */
