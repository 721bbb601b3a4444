/* SPDX-License-Identifier: MIT */
/*
 * Alarm timers: every armed alarm of every device in the process, in one
 * binary min-heap keyed by its deadline in TAI ns, behind one timerfd on
 * the main loop. No thread and no event source per alarm.
 *
 * Keys are TAI instants: for the TAI, UTC and smeared-UTC clocks the
 * alarm-time -> TAI mapping depends only on the leap table, so keys do
 * not move when the clock model is republished. Only the wake-up time
 * does: the top's deadline is converted to a CLOCK_MONOTONIC delay
 * through the current snapshot, and the sleep is capped at
 * ALARM_TIMER_MAX_SLEEP_NS, which bounds the error from the model's rate,
 * from CLOCK_MONOTONIC against the model's counter, and picks up model
 * steps. On every wake-up the top is checked against the model's TAI now
 * (the same computation the READ path uses), and fired only if reached;
 * otherwise the timer is re-armed. Host wall-clock steps change nothing:
 * only monotonic timers are used.
 *
 * An owner may also watch an entry whose deadline was reached (an
 * enabled alarm that fired): if the model's TAI goes back before the
 * deadline (a backward model step), the entry is armed again and its
 * @rewound callback runs, so the alarm fires again when the clock
 * reaches its time once more (VIRTIO 1.4 5.23.7: every such progression
 * is a new expiration). While any entry is watched the timer wakes at
 * least every ALARM_TIMER_MAX_SLEEP_NS to look.
 *
 * A change of the leap table (a leap second announced, or a table
 * merged from the sources) moves the TAI instant at which a UTC or
 * smeared clock reads a given time: at the first wake-up that sees the
 * snapshot's table change, every armed and watched entry with a @rekey
 * callback gets its deadline again from the new snapshot, armed entries
 * are re-ordered, and a watched entry whose new deadline is ahead is
 * armed again as after a step back (its @rewound runs). The timer wakes
 * at least every ALARM_TIMER_MAX_SLEEP_NS while anything is armed or
 * watched, so a new table is seen within that.
 *
 * Arm and cancel are O(log n) and never allocate: capacity is reserved
 * up front (per device, at its creation) with alarm_timer_reserve().
 *
 * Thread/loop: the daemon's main loop only.
 */
#ifndef DEVICE_ALARM_TIMER_H
#define DEVICE_ALARM_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock_model.h"

/* Longest sleep while the earliest deadline is far away, ns. */
#define ALARM_TIMER_MAX_SLEEP_NS 1000000000LL

struct alarm_entry;

/* Called when the entry's deadline is reached; it is no longer armed. */
typedef void (*alarm_fire_fn)(struct alarm_entry *e);

/* Embed in the owner's state; zero-initialise, then set @fire (and
 * @rewound if the entry is ever watched). */
struct alarm_entry {
	int64_t key_tai_ns; /* deadline, TAI ns since 1970 */
	size_t pos;	    /* heap index + 1; 0 = not armed */
	alarm_fire_fn fire;
	/* Watched and re-armed because the clock went back before the
	 * deadline; may be NULL. */
	alarm_fire_fn rewound;
	/* The deadline from snapshot @s (its leap table changed): 0 with
	 * *@key, or -errno to keep the old one. May be NULL: never moves. */
	int (*rekey)(struct alarm_entry *e, const struct clock_snapshot *s,
		     int64_t *key);
	struct alarm_entry *wnext, **wprev; /* watch list; wprev NULL: not */
};

/* The heap alone, usable without a main loop (unit tests, bench). */
struct alarm_heap {
	struct alarm_entry **v;
	size_t n;	 /* armed entries */
	size_t reserved; /* capacity promised to owners */
	size_t cap;	 /* allocated slots, >= reserved */
};

/* Reserve room for @n more entries. Returns 0 or -ENOMEM. */
int alarm_heap_reserve(struct alarm_heap *h, size_t n);

/* Give back @n reserved slots (the owner's entries must be cancelled). */
void alarm_heap_unreserve(struct alarm_heap *h, size_t n);

/* Free the heap's memory; it must be empty. */
void alarm_heap_release(struct alarm_heap *h);

/*
 * alarm_heap_insert() - arm @e with deadline @key_tai_ns (re-keys it if
 * armed already). Needs reserved room. Returns true if @e is now the top.
 */
bool alarm_heap_insert(struct alarm_heap *h, struct alarm_entry *e,
		       int64_t key_tai_ns);

/* Disarm @e; no-op if not armed. */
void alarm_heap_remove(struct alarm_heap *h, struct alarm_entry *e);

/* The earliest entry, or NULL. */
struct alarm_entry *alarm_heap_top(const struct alarm_heap *h);

/*
 * alarm_heap_run() - disarm and fire, earliest first, every entry whose
 * deadline is <= @now_tai_ns. A fire callback may arm and cancel
 * entries. Returns the number fired.
 */
unsigned int alarm_heap_run(struct alarm_heap *h, int64_t now_tai_ns);

struct alarm_timer;

/*
 * alarm_timer_new() - the process's alarm timer on the default GLib main
 * context, reading time from @model (which must outlive it).
 * Returns NULL on failure (timerfd or memory).
 */
struct alarm_timer *alarm_timer_new(const struct clock_model *model);

/* All entries must have been cancelled. NULL is a no-op. */
void alarm_timer_free(struct alarm_timer *t);

/* Capacity, as alarm_heap_reserve() / alarm_heap_unreserve(). */
int alarm_timer_reserve(struct alarm_timer *t, size_t n);
void alarm_timer_unreserve(struct alarm_timer *t, size_t n);

/*
 * alarm_timer_arm() - arm @e for TAI @key_tai_ns, waking the loop in
 * time for it. Does not fire it, even if already due (the caller checks
 * that first; an entry due by now fires at the next wake-up).
 */
void alarm_timer_arm(struct alarm_timer *t, struct alarm_entry *e,
		     int64_t key_tai_ns);

/* Disarm or stop watching @e; no-op if neither. */
void alarm_timer_cancel(struct alarm_timer *t, struct alarm_entry *e);

/*
 * alarm_timer_watch() - watch @e, whose deadline @key_tai_ns has been
 * reached (disarming it if armed): at a wake-up that finds the model's
 * TAI before the deadline, @e is armed again for it and e->rewound
 * runs. Never allocates (the entry's reserved heap slot is kept free for
 * it). No-op if already watched.
 */
void alarm_timer_watch(struct alarm_timer *t, struct alarm_entry *e,
		       int64_t key_tai_ns);

/*
 * alarm_timer_poll() - re-key every entry if the leap table changed,
 * re-arm every watched entry the clock went back before, fire every due
 * entry now and re-arm the timerfd (what a wake-up does). Returns the
 * number fired.
 */
unsigned int alarm_timer_poll(struct alarm_timer *t);

/* Armed entries (watched ones not counted). */
size_t alarm_timer_armed(const struct alarm_timer *t);

/* Watched entries. */
size_t alarm_timer_watched(const struct alarm_timer *t);

/* Wake-ups so far (for tests and the idle benchmark). */
uint64_t alarm_timer_wakeups(const struct alarm_timer *t);

#endif /* DEVICE_ALARM_TIMER_H */
