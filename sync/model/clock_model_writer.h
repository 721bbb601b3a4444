/* SPDX-License-Identifier: MIT */
/*
 * Writer side of the clock model (the read side is include/clock_model.h).
 * Only the discipline in sync/ publishes; everything else reads.
 * Thread/loop: publish from the main loop; readers anywhere.
 */
#ifndef SYNC_CLOCK_MODEL_H
#define SYNC_CLOCK_MODEL_H

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

#endif /* SYNC_CLOCK_MODEL_H */
