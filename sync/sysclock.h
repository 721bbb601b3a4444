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
#include <sys/timex.h>
#include <time.h>

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

/*
 * Where the feed reads the host's clocks: by default clock_gettime()
 * and a read-only ntp_adjtime(); tests substitute a simulated host.
 */
struct sysclock_ops {
	/* as clock_gettime(): 0, or -1 with errno set */
	int (*gettime)(void *ctx, clockid_t clk, struct timespec *ts);
	/* as ntp_adjtime() with modes 0: the clock state, or -1 (errno) */
	int (*adjtime)(void *ctx, struct timex *tx);
};

/* sysclock_feed_new() reading the clocks through @ops and @ctx. */
struct sysclock_feed *sysclock_feed_new_ops(struct clock_model *m,
					    const struct leap_table *leaps,
					    unsigned int poll_ms,
					    const struct sysclock_ops *ops,
					    void *ctx, GError **err);

/*
 * sysclock_feed_poll() - sample and publish now (the timer does this
 * every poll_ms). Returns 0, or -errno if the clocks could not be read;
 * the model is left unchanged then.
 */
int sysclock_feed_poll(struct sysclock_feed *f);

#endif /* SYNC_SYSCLOCK_H */
