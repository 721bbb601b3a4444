/* SPDX-License-Identifier: MIT */
/*
 * Writer side of the clock model (the read side is include/clock_model.h).
 *
 * Who publishes: into the daemon's model, only the discipline
 * (sync/discipline.c); src/ creates the model, sets the status page's
 * observer and frees it, and device/ only reads. A program that builds
 * a private model of its own, in process, is that model's one writer
 * and may publish into it: the probe's alarm benchmark
 * (src/tools/probe/bench_alarms.c) steps one to make 100k alarms due at
 * once, and the unit tests drive theirs the same way. Nothing they do
 * reaches a daemon's model. make lint (tests/check-layers.sh) checks
 * that no other object of sync/, device/ or src/ calls
 * clock_model_publish().
 * Thread/loop: publish from the main loop; readers anywhere.
 */
#ifndef SYNC_MODEL_CLOCK_MODEL_WRITER_H
#define SYNC_MODEL_CLOCK_MODEL_WRITER_H

#include "clock_model.h"

/* A model with nothing published (clock_model_get() gives -EAGAIN). */
struct clock_model *clock_model_new(void);

/* NULL is a no-op. Readers must be gone. */
void clock_model_free(struct clock_model *m);

/*
 * clock_model_publish() - make @s the current snapshot. Bumps the
 * sequence counter (odd while writing) and s->generation. The leap table
 * @s->leaps must stay alive until clock_model_free().
 */
void clock_model_publish(struct clock_model *m, const struct clock_snapshot *s);

/*
 * clock_model_set_observer() - call @fn(@ctx, snapshot) after every
 * publish, with the snapshot as readers now get it (generation set).
 * One observer; @fn NULL removes it. For exports that must follow every
 * publish (the status page); @fn runs on the publisher's loop and must
 * not block.
 */
void clock_model_set_observer(struct clock_model *m,
			      void (*fn)(void *ctx,
					 const struct clock_snapshot *s),
			      void *ctx);

#endif /* SYNC_MODEL_CLOCK_MODEL_WRITER_H */
