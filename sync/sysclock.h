/* SPDX-License-Identifier: MIT */
/*
 * The system-clock feed: disciplines the clock model from CLOCK_REALTIME
 * (with the kernel's TAI offset when set, else the leap table), read
 * against the model's counter, with adjtimex status and maxerror giving
 * the bound. The time-source issue replaces this feed, not the model.
 * Thread/loop: runs on the default GLib main context.
 */
#ifndef SYNC_SYSCLOCK_H
#define SYNC_SYSCLOCK_H

#include <glib.h>

#include "clock_model.h"
#include "leap.h"

struct sysclock_feed;

/*
 * sysclock_feed_new() - sample once and publish the first snapshot
 * synchronously (so the model is valid before any VM connects), then
 * poll every @poll_ms ms on the default main context.
 * @leaps must outlive the feed. Returns NULL with @err set on failure.
 */
struct sysclock_feed *sysclock_feed_new(struct clock_model *m,
					const struct leap_table *leaps,
					unsigned int poll_ms, GError **err);

/* Stops polling; NULL is a no-op. */
void sysclock_feed_free(struct sysclock_feed *f);

#endif /* SYNC_SYSCLOCK_H */
