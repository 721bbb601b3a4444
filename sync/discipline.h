/* SPDX-License-Identifier: MIT */
/*
 * The discipline: polls ONE configured time source every interval on a
 * GLib timeout, feeds its samples to the estimator, ticks the estimator
 * and publishes its snapshots to the clock model. Selection among
 * several sources (prefer the best healthy one, notice disagreement) is
 * not done yet: one source is followed, and the log says which.
 *
 * Start-up: discipline_new() takes DISCIPLINE_INITIAL_SAMPLES samples
 * synchronously, DISCIPLINE_INITIAL_GAP_MS apart (about 50 ms in all),
 * and publishes the estimator's first (INITIALIZING) model, so the
 * device has a model before any VM connects and READ does not answer
 * EIO while the first interval passes.
 *
 * Thread/loop: the default GLib main context.
 */
#ifndef SYNC_DISCIPLINE_H
#define SYNC_DISCIPLINE_H

#include <glib.h>
#include <stdint.h>

#include "clock_model.h"
#include "estimator.h"
#include "source.h"

#define DISCIPLINE_INITIAL_SAMPLES 8
#define DISCIPLINE_INITIAL_GAP_MS 7

struct discipline_conf {
	const struct source_ops *ops; /* the source kind */
	const struct source_conf *src;
	unsigned int interval_ms; /* poll interval, 10..600000 */
	/* NULL: estimator_config_default() with interval_ns set */
	const struct estimator_config *est;
	/* the host counter now; NULL: clock_counter_now() (tests: fake) */
	uint64_t (*now)(void *ctx);
	void *now_ctx;
	/* sleep between initial samples; NULL: g_usleep (tests: fake) */
	void (*sleep_ms)(void *ctx, unsigned int ms);
};

struct discipline;

/*
 * discipline_new() - open the source, take the initial samples and
 * publish the first model, then poll every interval_ms.
 * @m and @src->leaps must outlive the discipline.
 * Returns NULL with @err set (its message one line naming the source:
 * device, socket) when the source cannot be opened or gives no sample.
 */
struct discipline *discipline_new(struct clock_model *m,
				  const struct discipline_conf *c,
				  GError **err);

/* Stops polling, closes the source; NULL is a no-op. */
void discipline_free(struct discipline *d);

/*
 * discipline_poll() - one poll now (the timer does this every interval):
 * sample, feed, tick, publish. Returns 0, or the source's -errno when
 * it gave no sample (the model then ages in the estimator).
 */
int discipline_poll(struct discipline *d);

/* The estimator's counters (tests, status). */
void discipline_get_stats(const struct discipline *d,
			  struct estimator_stats *st);

#endif /* SYNC_DISCIPLINE_H */
