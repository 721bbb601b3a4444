// SPDX-License-Identifier: MIT
/*
 * Unit tests of device/alarm_timer.c: the min-heap against a sorted
 * reference under random arms, re-keys and cancels (seed printed), firing
 * order, callbacks that re-arm, reserved capacity, and the timer's
 * poll against a frozen clock model.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock_model_writer.h"
#include "alarm_timer.h"
#include "test_seed.h"

#define N 2000

static struct alarm_entry ents[N];
static int64_t fired_key[N];
static unsigned int nfired;

static void record(struct alarm_entry *e)
{
	fired_key[nfired++] = e->key_tai_ns;
}

/* Deadline of entry i in the reference, INT64_MIN = not armed. */
static int64_t ref[N];

static void check_heap(const struct alarm_heap *h)
{
	size_t i, n = 0;

	for (i = 0; i < h->n; i++) {
		cr_assert_eq(h->v[i]->pos, i + 1, "back index of slot %zu", i);
		if (i) {
			cr_assert_leq(h->v[(i - 1) / 2]->key_tai_ns,
				      h->v[i]->key_tai_ns, "heap order at %zu",
				      i);
		}
	}
	for (i = 0; i < N; i++) {
		n += ref[i] != INT64_MIN;
		cr_assert_eq(ents[i].pos != 0, ref[i] != INT64_MIN, "entry %zu",
			     i);
		if (ref[i] != INT64_MIN) {
			cr_assert_eq(ents[i].key_tai_ns, ref[i]);
		}
	}
	cr_assert_eq(n, h->n);
}

Test(alarm_heap, random_against_reference)
{
	unsigned int seed = test_seed("alarm_heap"), i, step;
	struct alarm_heap h = { 0 };
	int64_t last = INT64_MIN, now;

	srand(seed);
	memset(ents, 0, sizeof(ents));
	nfired = 0;
	for (i = 0; i < N; i++) {
		ents[i].fire = record;
		ref[i] = INT64_MIN;
	}
	cr_assert_eq(alarm_heap_reserve(&h, N), 0);
	for (step = 0; step < 20000; step++) {
		i = (unsigned int)rand() % N;
		if (rand() % 3) {
			ref[i] = (int64_t)(rand() % 100000);
			(void)alarm_heap_insert(&h, &ents[i], ref[i]);
		} else {
			alarm_heap_remove(&h, &ents[i]);
			ref[i] = INT64_MIN;
		}
		if (step % 997 == 0) {
			check_heap(&h);
		}
	}
	check_heap(&h);
	/* Fire in steps: keys come out non-decreasing, all due ones. */
	for (now = 0; now <= 100000; now += 7919) {
		unsigned int before = nfired, k;

		(void)alarm_heap_run(&h, now);
		for (k = before; k < nfired; k++) {
			cr_assert_leq(fired_key[k], now, "fired early");
			cr_assert_geq(fired_key[k], last, "out of order");
			last = fired_key[k];
		}
		cr_assert(!alarm_heap_top(&h) ||
			  alarm_heap_top(&h)->key_tai_ns > now);
	}
	(void)alarm_heap_run(&h, INT64_MAX);
	cr_assert_eq(h.n, 0);
	for (i = 0, step = 0; i < N; i++) {
		step += ref[i] != INT64_MIN;
	}
	cr_assert_eq(nfired, step, "every armed entry fired exactly once");
	alarm_heap_release(&h);
}

static struct alarm_heap *rearm_heap;

static void rearm_once(struct alarm_entry *e)
{
	nfired++;
	if (e->key_tai_ns < 100) {
		(void)alarm_heap_insert(rearm_heap, e, e->key_tai_ns + 100);
	}
}

Test(alarm_heap, fire_callback_may_rearm_and_top_is_reported)
{
	struct alarm_heap h = { 0 };
	struct alarm_entry a = { .fire = rearm_once };
	struct alarm_entry b = { .fire = rearm_once };

	rearm_heap = &h;
	nfired = 0;
	cr_assert_eq(alarm_heap_reserve(&h, 2), 0);
	cr_assert(alarm_heap_insert(&h, &a, 50), "first entry is the top");
	cr_assert_not(alarm_heap_insert(&h, &b, 60));
	cr_assert(alarm_heap_insert(&h, &b, 10), "re-key to the front");
	cr_assert_eq(alarm_heap_run(&h, 99), 2);
	cr_assert_eq(h.n, 2, "both re-armed");
	cr_assert_eq(alarm_heap_top(&h)->key_tai_ns, 110);
	cr_assert_eq(alarm_heap_run(&h, 200), 2);
	cr_assert_eq(h.n, 0);
	alarm_heap_remove(&h, &a); /* not armed: no-op */
	alarm_heap_unreserve(&h, 2);
	cr_assert_eq(h.reserved, 0);
	alarm_heap_release(&h);
}

static struct leap_table *fake_leaps = (struct leap_table *)&fake_leaps;

static void publish_frozen_with(struct clock_model *m, int64_t tai_ns,
				const struct leap_table *leaps)
{
	struct clock_snapshot s;

	memset(&s, 0, sizeof(s));
	s.counter = CLOCK_COUNTER_MONOTONIC_RAW;
	s.status = CLOCK_STATUS_SYNCHRONIZED;
	s.c0 = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
	s.tai0_ns = tai_ns;
	s.leaps = leaps; /* only compared by the timer, never read */
	clock_model_publish(m, &s);
}

static void publish_frozen(struct clock_model *m, int64_t tai_ns)
{
	publish_frozen_with(m, tai_ns, fake_leaps);
}

Test(alarm_timer, poll_fires_only_what_the_model_reached)
{
	struct clock_model *m = clock_model_new();
	struct alarm_timer *t;
	struct alarm_entry a = { .fire = record }, b = { .fire = record };

	cr_assert_not_null(m);
	t = alarm_timer_new(m);
	cr_assert_not_null(t);
	nfired = 0;
	/* No model yet: nothing fires. */
	cr_assert_eq(alarm_timer_reserve(t, 2), 0);
	alarm_timer_arm(t, &a, 1000);
	alarm_timer_arm(t, &b, 5000);
	cr_assert_eq(alarm_timer_poll(t), 0);
	publish_frozen(m, 999);
	cr_assert_eq(alarm_timer_poll(t), 0, "one ns early");
	publish_frozen(m, 1000);
	cr_assert_eq(alarm_timer_poll(t), 1);
	cr_assert_eq(fired_key[0], 1000);
	/* A model step past the other deadline fires it. */
	publish_frozen(m, 1000000);
	alarm_timer_cancel(t, &a); /* not armed any more: no-op */
	cr_assert_eq(alarm_timer_armed(t), 1);
	cr_assert_eq(alarm_timer_poll(t), 1);
	cr_assert_eq(alarm_timer_armed(t), 0);
	alarm_timer_unreserve(t, 2);
	alarm_timer_free(t);
	clock_model_free(m);
}

static unsigned int nrewound;

static void count_rewound(struct alarm_entry *e)
{
	nrewound++;
}

/* A watched, reached entry is armed again when the model steps back. */
Test(alarm_timer, watched_entry_rearms_after_a_step_back)
{
	struct clock_model *m = clock_model_new();
	struct alarm_timer *t;
	struct alarm_entry a = { .fire = record, .rewound = count_rewound };
	struct alarm_entry b = { .fire = record, .rewound = count_rewound };

	cr_assert_not_null(m);
	t = alarm_timer_new(m);
	cr_assert_not_null(t);
	nfired = 0;
	nrewound = 0;
	cr_assert_eq(alarm_timer_reserve(t, 2), 0);
	publish_frozen(m, 5000);
	alarm_timer_watch(t, &a, 1000);
	alarm_timer_watch(t, &a, 1000); /* already watched: no-op */
	alarm_timer_watch(t, &b, 4000);
	cr_assert_eq(alarm_timer_watched(t), 2);
	cr_assert_eq(alarm_timer_armed(t), 0);
	cr_assert_eq(alarm_timer_poll(t), 0, "reached: nothing to fire");
	cr_assert_eq(alarm_timer_watched(t), 2);
	/* back before b's deadline only: b is armed again, a not */
	publish_frozen(m, 3000);
	cr_assert_eq(alarm_timer_poll(t), 0);
	cr_assert_eq(nrewound, 1);
	cr_assert_eq(alarm_timer_armed(t), 1);
	cr_assert_eq(alarm_timer_watched(t), 1);
	/* reaching it again fires it */
	publish_frozen(m, 4000);
	cr_assert_eq(alarm_timer_poll(t), 1);
	cr_assert_eq(fired_key[0], 4000);
	/* cancel stops watching too */
	alarm_timer_cancel(t, &a);
	cr_assert_eq(alarm_timer_watched(t), 0);
	publish_frozen(m, 0);
	cr_assert_eq(alarm_timer_poll(t), 0);
	cr_assert_eq(nrewound, 1);
	cr_assert_eq(alarm_timer_armed(t), 0);
	alarm_timer_unreserve(t, 2);
	alarm_timer_free(t);
	clock_model_free(m);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Even entries move by +1 s minus their index, odd ones keep theirs. */
static int shift_even(struct alarm_entry *e, const struct clock_snapshot *s,
		      int64_t *key)
{
	size_t i = (size_t)(e - ents);

	if (i % 2) {
		return -1;
	}
	*key = e->key_tai_ns + 1000000000 - (int64_t)i;
	return 0;
}

/*
 * A new leap table re-keys every armed and watched entry with a rekey
 * callback, keeps the heap in order (they fire sorted by their new
 * keys), and arms again a watched entry whose new deadline is ahead.
 */
Test(alarm_timer, a_new_leap_table_rekeys_in_order)
{
	static struct leap_table *other = (struct leap_table *)&other;
	struct clock_model *m = clock_model_new();
	unsigned int seed = test_seed("alarm_timer rekey");
	const unsigned int n = 500;
	struct alarm_timer *t;
	int64_t want[500];

	cr_assert_not_null(m);
	t = alarm_timer_new(m);
	cr_assert_not_null(t);
	cr_assert_eq(alarm_timer_reserve(t, n), 0);
	srand(seed);
	memset(ents, 0, sizeof(ents));
	nfired = 0;
	nrewound = 0;
	publish_frozen(m, 10000000000LL);
	for (unsigned int i = 0; i < n; i++) {
		int64_t k = 20000000000LL + (int64_t)(rand() % 2000000) * 1000;

		ents[i] = (struct alarm_entry){ .fire = record,
						.rewound = count_rewound,
						.rekey = shift_even };
		alarm_timer_arm(t, &ents[i], k);
		want[i] = i % 2 ? k : k + 1000000000 - (int64_t)i;
	}
	/* one reached, watched entry that the new table moves ahead */
	ents[n] = (struct alarm_entry){ .fire = record,
					.rewound = count_rewound,
					.rekey = shift_even };
	alarm_timer_watch(t, &ents[n], 9500000000LL);
	cr_assert_eq(n % 2, 0, "ents[n] is even: it moves");
	cr_assert_eq(alarm_timer_poll(t), 0);
	publish_frozen_with(m, 10000000000LL, other);
	cr_assert_eq(alarm_timer_poll(t), 0);
	cr_assert_eq(nrewound, 1, "the watched one is ahead again");
	cr_assert_eq(alarm_timer_armed(t), n + 1);
	publish_frozen_with(m, 10500000000LL - (int64_t)n, other);
	cr_assert_eq(alarm_timer_poll(t), 1, "the moved watched one");
	publish_frozen_with(m, INT64_MAX / 2, other);
	cr_assert_eq(alarm_timer_poll(t), n);
	for (unsigned int i = 2; i <= n; i++) {
		cr_assert_leq(fired_key[i - 1], fired_key[i], "order at %u", i);
	}
	qsort(want, n, sizeof(want[0]), cmp64);
	for (unsigned int i = 0; i < n; i++) {
		cr_assert_eq(fired_key[i + 1], want[i], "key %u", i);
	}
	alarm_timer_unreserve(t, n);
	alarm_timer_free(t);
	clock_model_free(m);
}
