// SPDX-License-Identifier: MIT
/*
 * The discipline loop: source -> estimator -> clock model.
 *
 * Logging: which source is followed at start; every change of the
 * source's health state or of the published status, once; repeated
 * failures of the same kind at most once per DISCIPLINE_LOG_EVERY_S.
 */
#define G_LOG_DOMAIN "vrtc-sync"

#include <errno.h>

#include "discipline.h"

#define DISCIPLINE_LOG_EVERY_S 60
#define DISCIPLINE_MIN_MS 10U
#define DISCIPLINE_MAX_MS 600000U

struct discipline {
	struct clock_model *m;
	struct source *src;
	struct estimator *est;
	uint64_t (*now)(void *ctx);
	void *now_ctx;
	guint timer;
	bool published;
	enum clock_status status;
	enum source_state state;
	uint64_t last_counter;
	gint64 last_fail_log_us;
};

static GQuark discipline_error_quark(void)
{
	return g_quark_from_static_string("vrtc-discipline-error-quark");
}

static uint64_t default_now(void *ctx)
{
	return clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
}

static void default_sleep(void *ctx, unsigned int ms)
{
	g_usleep((gulong)ms * 1000);
}

static void publish(struct discipline *d, const struct clock_snapshot *s)
{
	clock_model_publish(d->m, s);
	if (!d->published || s->status != d->status) {
		g_message("following %s: model %s, bound %llu ns",
			  source_name(d->src), clock_status_name(s->status),
			  (unsigned long long)s->time_maxerr_ns);
	}
	d->published = true;
	d->status = s->status;
}

static void log_health(struct discipline *d, int r,
		       const struct source_health *h)
{
	gint64 now = g_get_monotonic_time();

	if (h->state != d->state) {
		if (h->state == SOURCE_OK) {
			g_message("%s: %s", source_name(d->src), h->text);
		} else {
			g_warning("%s %s: %s", source_name(d->src),
				  source_state_name(h->state), h->text);
		}
		d->state = h->state;
		d->last_fail_log_us = now;
	} else if (r < 0 && now - d->last_fail_log_us >
				    (gint64)DISCIPLINE_LOG_EVERY_S * 1000000) {
		g_warning("%s still %s: %s", source_name(d->src),
			  source_state_name(h->state), h->text);
		d->last_fail_log_us = now;
	}
}

int discipline_poll(struct discipline *d)
{
	struct source_health h;
	struct time_sample s;
	struct clock_snapshot snap;
	uint64_t now;
	int r, fr = 0;

	r = source_poll(d->src, &s, &h);
	log_health(d, r, &h);
	now = d->now(d->now_ctx);
	if (r == 0 && s.counter > d->last_counter && s.counter <= now) {
		fr = estimator_feed(d->est, &s, now, &snap);
		if (fr == 1) {
			publish(d, &snap);
		}
		d->last_counter = s.counter;
	}
	if (estimator_tick(d->est, now, &snap) == 1) {
		publish(d, &snap);
	}
	return r < 0 ? r : (fr < 0 ? fr : 0);
}

static gboolean on_timer(gpointer data)
{
	discipline_poll(data);
	return G_SOURCE_CONTINUE;
}

struct discipline *discipline_new(struct clock_model *m,
				  const struct discipline_conf *c, GError **err)
{
	struct estimator_config ec;
	struct discipline *d;
	char msg[256] = "";
	int r = 0;

	if (!m || !c || !c->ops || !c->src || !c->src->leaps ||
	    c->interval_ms < DISCIPLINE_MIN_MS ||
	    c->interval_ms > DISCIPLINE_MAX_MS) {
		g_set_error(err, discipline_error_quark(), EINVAL,
			    "discipline: bad arguments");
		return NULL;
	}
	if (c->est) {
		ec = *c->est;
	} else {
		estimator_config_default(&ec);
		ec.interval_ns = (uint64_t)c->interval_ms * 1000000;
	}
	d = g_new0(struct discipline, 1);
	d->m = m;
	d->now = c->now ? c->now : default_now;
	d->now_ctx = c->now_ctx;
	d->state = SOURCE_OK;
	d->est = estimator_new(&ec, c->src->leaps);
	if (!d->est) {
		g_set_error(err, discipline_error_quark(), errno,
			    "discipline: estimator: %s", g_strerror(errno));
		goto fail;
	}
	r = source_new(c->ops, c->src, &d->src, msg, sizeof(msg));
	if (r < 0) {
		g_set_error(err, discipline_error_quark(), -r, "%s", msg);
		goto fail;
	}
	g_message("following %s (the only configured source; selection "
		  "among several is not implemented yet)",
		  source_name(d->src));
	for (unsigned int i = 0; i < DISCIPLINE_INITIAL_SAMPLES; i++) {
		if (i) {
			(c->sleep_ms ? c->sleep_ms : default_sleep)(
				c->now_ctx, DISCIPLINE_INITIAL_GAP_MS);
		}
		r = discipline_poll(d);
	}
	if (!d->published) {
		g_set_error(err, discipline_error_quark(), r < 0 ? -r : EIO,
			    "%s gave no usable sample at start-up: %s",
			    source_name(d->src),
			    r < 0 ? g_strerror(-r) : "rejected");
		goto fail;
	}
	d->timer = g_timeout_add(c->interval_ms, on_timer, d);
	return d;
fail:
	discipline_free(d);
	return NULL;
}

void discipline_free(struct discipline *d)
{
	if (!d) {
		return;
	}
	if (d->timer) {
		g_source_remove(d->timer);
	}
	source_free(d->src);
	estimator_free(d->est);
	g_free(d);
}

void discipline_get_stats(const struct discipline *d,
			  struct estimator_stats *st)
{
	estimator_get_stats(d->est, st);
}
