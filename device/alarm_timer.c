/* SPDX-License-Identifier: MIT */
/*
 * One binary min-heap of alarm entries behind one timerfd (see
 * alarm_timer.h). Entries know their heap slot, so cancel is O(log n).
 */
#define G_LOG_DOMAIN "vrtc-device"

#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "alarm_timer.h"

/* ---- heap ------------------------------------------------------------ */

static void heap_set(struct alarm_heap *h, size_t i, struct alarm_entry *e)
{
	h->v[i] = e;
	e->pos = i + 1;
}

static void sift_up(struct alarm_heap *h, size_t i)
{
	struct alarm_entry *e = h->v[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (h->v[p]->key_tai_ns <= e->key_tai_ns) {
			break;
		}
		heap_set(h, i, h->v[p]);
		i = p;
	}
	heap_set(h, i, e);
}

static void sift_down(struct alarm_heap *h, size_t i)
{
	struct alarm_entry *e = h->v[i];

	for (;;) {
		size_t l = 2 * i + 1, m;

		if (l >= h->n) {
			break;
		}
		m = l;
		if (l + 1 < h->n &&
		    h->v[l + 1]->key_tai_ns < h->v[l]->key_tai_ns) {
			m = l + 1;
		}
		if (e->key_tai_ns <= h->v[m]->key_tai_ns) {
			break;
		}
		heap_set(h, i, h->v[m]);
		i = m;
	}
	heap_set(h, i, e);
}

int alarm_heap_reserve(struct alarm_heap *h, size_t n)
{
	size_t want = h->reserved + n, cap;
	struct alarm_entry **v;

	if (want < h->reserved) {
		return -ENOMEM;
	}
	if (want > h->cap) {
		cap = h->cap ? h->cap : 64;
		while (cap < want) {
			cap *= 2;
		}
		v = realloc(h->v, cap * sizeof(struct alarm_entry *));
		if (!v) {
			return -ENOMEM;
		}
		h->v = v;
		h->cap = cap;
	}
	h->reserved = want;
	return 0;
}

void alarm_heap_unreserve(struct alarm_heap *h, size_t n)
{
	h->reserved = n > h->reserved ? 0 : h->reserved - n;
}

void alarm_heap_release(struct alarm_heap *h)
{
	free(h->v);
	memset(h, 0, sizeof(*h));
}

bool alarm_heap_insert(struct alarm_heap *h, struct alarm_entry *e,
		       int64_t key_tai_ns)
{
	if (e->pos) {
		alarm_heap_remove(h, e);
	}
	/* Room was reserved by the entry's owner: our bug if missing. */
	g_assert(h->n < h->cap);
	e->key_tai_ns = key_tai_ns;
	h->v[h->n] = e;
	h->n++;
	sift_up(h, h->n - 1);
	return e->pos == 1;
}

void alarm_heap_remove(struct alarm_heap *h, struct alarm_entry *e)
{
	size_t i;
	struct alarm_entry *last;

	if (!e->pos) {
		return;
	}
	i = e->pos - 1;
	e->pos = 0;
	h->n--;
	if (i == h->n) {
		return;
	}
	last = h->v[h->n];
	heap_set(h, i, last);
	if (i > 0 && h->v[(i - 1) / 2]->key_tai_ns > last->key_tai_ns) {
		sift_up(h, i);
	} else {
		sift_down(h, i);
	}
}

struct alarm_entry *alarm_heap_top(const struct alarm_heap *h)
{
	return h->n ? h->v[0] : NULL;
}

unsigned int alarm_heap_run(struct alarm_heap *h, int64_t now_tai_ns)
{
	struct alarm_entry *e;
	unsigned int n = 0;

	while ((e = alarm_heap_top(h)) && e->key_tai_ns <= now_tai_ns) {
		alarm_heap_remove(h, e);
		n++;
		e->fire(e);
	}
	return n;
}

/* ---- timer ----------------------------------------------------------- */

struct alarm_timer {
	const struct clock_model *model;
	const struct leap_table *leaps; /* the table keys were made with */
	struct alarm_heap heap;
	struct alarm_entry *watch; /* reached entries, for a step back */
	size_t nwatch;
	int fd;
	guint src_id;
	uint64_t wakeups;
};

static void unwatch(struct alarm_timer *t, struct alarm_entry *e)
{
	if (!e->wprev) {
		return;
	}
	*e->wprev = e->wnext;
	if (e->wnext) {
		e->wnext->wprev = e->wprev;
	}
	e->wnext = NULL;
	e->wprev = NULL;
	t->nwatch--;
}

/* Arm again every watched entry whose deadline is after @now_tai_ns. */
static void rewind_watched(struct alarm_timer *t, int64_t now_tai_ns)
{
	struct alarm_entry *e = t->watch, *next;

	for (; e; e = next) {
		next = e->wnext;
		if (e->key_tai_ns <= now_tai_ns) {
			continue;
		}
		unwatch(t, e);
		(void)alarm_heap_insert(&t->heap, e, e->key_tai_ns);
		if (e->rewound) {
			e->rewound(e);
		}
	}
}

/* Every entry's deadline again, from @snap with its new leap table. */
static void rekey_all(struct alarm_timer *t, const struct clock_snapshot *snap)
{
	struct alarm_heap *h = &t->heap;
	int64_t key;

	for (size_t i = 0; i < h->n; i++) {
		struct alarm_entry *e = h->v[i];

		if (e->rekey && e->rekey(e, snap, &key) == 0) {
			e->key_tai_ns = key;
		}
	}
	for (size_t i = h->n / 2; i-- > 0;) {
		sift_down(h, i); /* heapify: keys moved by up to a few s */
	}
	for (struct alarm_entry *e = t->watch; e; e = e->wnext) {
		if (e->rekey && e->rekey(e, snap, &key) == 0) {
			e->key_tai_ns = key;
		}
	}
}

/* Sleep until the top is due, at most ALARM_TIMER_MAX_SLEEP_NS. */
static void rearm(struct alarm_timer *t)
{
	struct alarm_entry *top = alarm_heap_top(&t->heap);
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };
	struct clock_snapshot snap;
	int64_t now, delay = ALARM_TIMER_MAX_SLEEP_NS;

	if (top && clock_model_tai_now(t->model, &snap, &now) == 0) {
		__int128 d = (__int128)top->key_tai_ns - now;

		if (d <= 0) {
			delay = 1;
		} else if (d < delay && snap.period_q) {
			/* TAI ns -> counter ticks (raw ns), rounded up. */
			d = ((d << CLOCK_PERIOD_SHIFT) + snap.period_q - 1) /
			    snap.period_q;
			delay = d < 1 ? 1 : d > delay ? delay : (int64_t)d;
		}
	}
	if (top || t->watch) {
		its.it_value.tv_sec = delay / 1000000000LL;
		its.it_value.tv_nsec = delay % 1000000000LL;
	}
	/* Cannot fail with a valid fd and value; nothing to do if it did. */
	(void)timerfd_settime(t->fd, 0, &its, NULL);
}

unsigned int alarm_timer_poll(struct alarm_timer *t)
{
	struct clock_snapshot snap;
	unsigned int n = 0;
	int64_t now;

	if (clock_model_tai_now(t->model, &snap, &now) == 0) {
		if (snap.leaps != t->leaps) {
			if (t->leaps) {
				rekey_all(t, &snap);
			}
			t->leaps = snap.leaps;
		}
		rewind_watched(t, now);
		n = alarm_heap_run(&t->heap, now);
	}
	rearm(t);
	return n;
}

static gboolean timer_cb(gint fd, GIOCondition cond, gpointer data)
{
	struct alarm_timer *t = data;
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
	t->wakeups++;
	(void)alarm_timer_poll(t);
	return G_SOURCE_CONTINUE;
}

struct alarm_timer *alarm_timer_new(const struct clock_model *model)
{
	struct alarm_timer *t = calloc(1, sizeof(*t));

	if (!t) {
		return NULL;
	}
	t->model = model;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->fd < 0) {
		free(t);
		return NULL;
	}
	t->src_id = g_unix_fd_add(t->fd, G_IO_IN, timer_cb, t);
	return t;
}

void alarm_timer_free(struct alarm_timer *t)
{
	if (!t) {
		return;
	}
	if (t->src_id) {
		g_source_remove(t->src_id);
	}
	close(t->fd);
	alarm_heap_release(&t->heap);
	free(t);
}

int alarm_timer_reserve(struct alarm_timer *t, size_t n)
{
	return alarm_heap_reserve(&t->heap, n);
}

void alarm_timer_unreserve(struct alarm_timer *t, size_t n)
{
	alarm_heap_unreserve(&t->heap, n);
}

/* The table the first keys are made with, before any wake-up saw one. */
static void note_leaps(struct alarm_timer *t)
{
	struct clock_snapshot snap;

	if (!t->leaps && clock_model_get(t->model, &snap) == 0) {
		t->leaps = snap.leaps;
	}
}

void alarm_timer_arm(struct alarm_timer *t, struct alarm_entry *e,
		     int64_t key_tai_ns)
{
	note_leaps(t);
	unwatch(t, e);
	if (alarm_heap_insert(&t->heap, e, key_tai_ns)) {
		rearm(t);
	}
}

void alarm_timer_cancel(struct alarm_timer *t, struct alarm_entry *e)
{
	/* A cancelled top leaves the timer set: a spare wake-up re-arms. */
	alarm_heap_remove(&t->heap, e);
	unwatch(t, e);
}

void alarm_timer_watch(struct alarm_timer *t, struct alarm_entry *e,
		       int64_t key_tai_ns)
{
	bool first = !t->watch;

	if (e->wprev) {
		return;
	}
	note_leaps(t);
	alarm_heap_remove(&t->heap, e);
	e->key_tai_ns = key_tai_ns;
	e->wnext = t->watch;
	e->wprev = &t->watch;
	if (t->watch) {
		t->watch->wprev = &e->wnext;
	}
	t->watch = e;
	t->nwatch++;
	if (first) {
		rearm(t); /* the timer may have been off: nothing armed */
	}
}

size_t alarm_timer_armed(const struct alarm_timer *t)
{
	return t->heap.n;
}

size_t alarm_timer_watched(const struct alarm_timer *t)
{
	return t->nwatch;
}

uint64_t alarm_timer_wakeups(const struct alarm_timer *t)
{
	return t->wakeups;
}
