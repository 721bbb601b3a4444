// SPDX-License-Identifier: MIT
/*
 * The discipline loop: sources -> shadow estimators -> selection ->
 * served estimator -> clock model. The rules are in discipline.h; the
 * selection itself (agreement, rank, hysteresis) in discipline_select.c.
 */
#define G_LOG_DOMAIN "vrtc-sync"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "discipline.h"
#include "discipline_select.h"
#include "time_ns.h"

#define DISCIPLINE_LOG_EVERY_S 60
#define DISCIPLINE_MIN_MS 10U
#define DISCIPLINE_MAX_MS 600000U

struct disc_source {
	struct source *src;
	struct estimator *shadow;
	bool have_snap;
	struct clock_snapshot snap; /* the shadow's latest */
	struct source_health h;
	int poll_r;
	bool have_sample;
	struct time_sample s; /* this poll's, if have_sample */
	bool accepted;	      /* ... and its shadow took it */
	uint64_t last_counter;
	uint64_t last_accepted_c; /* 0: never */
	enum discipline_role role;
	bool logged_state;
	enum source_state state;
	gint64 last_fail_log_us;
	bool falseticker;
};

struct discipline {
	struct clock_model *m;
	struct disc_source s[DISCIPLINE_MAX_SOURCES];
	unsigned int n;
	struct estimator *est; /* the served one */
	struct leap_merge *lm;
	const struct leap_table *file;
	uint64_t (*now)(void *ctx);
	void *now_ctx;
	int64_t (*utc_now)(void *ctx);
	guint timer;
	bool published;
	struct clock_snapshot served; /* the estimator's latest */
	enum clock_status pub_status; /* last published (with override) */
	uint64_t served_last_c;
	int selected;
	char reason[256];
	bool contradiction;
	int64_t last_tai_ns; /* newest sample's TAI, for the leap merge */
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

const char *discipline_role_name(enum discipline_role r)
{
	switch (r) {
	case DISCIPLINE_ROLE_UNUSABLE:
		return "unusable";
	case DISCIPLINE_ROLE_CANDIDATE:
		return "candidate";
	case DISCIPLINE_ROLE_SELECTED:
		return "selected";
	case DISCIPLINE_ROLE_FALSETICKER:
		return "falseticker";
	}
	return "?";
}

static double ppb_of(const struct clock_snapshot *s)
{
	return ((double)s->period_q - (double)(1ULL << CLOCK_PERIOD_SHIFT)) *
	       1e9 / (double)(1ULL << CLOCK_PERIOD_SHIFT);
}

/*
 * While sources contradict each other nobody knows which is right, so
 * the served bound must hold whichever is: at every t, for every
 * source i with a meant bound, |served(t) - tai_i(t)| + bound_i(t).
 * Taken at the snapshot's anchor c0 with the rate difference on top,
 * that holds for all t (bound_i(t) <= bound_i(c0) + rate_i |t - c0|).
 */
static void widen_for_contradiction(const struct discipline *d,
				    struct clock_snapshot *s)
{
	struct clock_reading rs, ri;
	double f = ppb_of(s);

	clock_snapshot_tai(s, s->c0, &rs);
	for (unsigned int i = 0; i < d->n; i++) {
		const struct disc_source *ds = &d->s[i];
		double dt, rate;
		uint64_t need;

		if (!ds->have_snap ||
		    (ds->snap.status != CLOCK_STATUS_SYNCHRONIZED &&
		     ds->snap.status != CLOCK_STATUS_INITIALIZING)) {
			continue;
		}
		clock_snapshot_tai(&ds->snap, s->c0, &ri);
		dt = fabs((double)rs.ns - (double)ri.ns) + (double)ri.maxerr_ns;
		need = dt >= 1.8e19 ? UINT64_MAX : (uint64_t)ceil(dt);
		if (need > s->time_maxerr_ns) {
			s->time_maxerr_ns = need;
		}
		rate = fabs(f - ppb_of(&ds->snap)) +
		       (double)ds->snap.rate_maxerr_ppb + 1;
		need = rate >= 1.8e19 ? UINT64_MAX : (uint64_t)ceil(rate);
		if (need > s->rate_maxerr_ppb) {
			s->rate_maxerr_ppb = need;
		}
	}
}

/*
 * Publish the served estimator's model; on a contradiction UNRELIABLE,
 * with a bound that covers every contradicting source.
 */
static void publish(struct discipline *d)
{
	struct clock_snapshot s = d->served;

	if (d->contradiction) {
		s.status = CLOCK_STATUS_UNRELIABLE;
		widen_for_contradiction(d, &s);
	}
	clock_model_publish(d->m, &s);
	if (!d->published || s.status != d->pub_status) {
		g_message("model %s, bound %llu ns%s%s",
			  clock_status_name(s.status),
			  (unsigned long long)s.time_maxerr_ns,
			  d->selected >= 0 ? ", following " : "",
			  d->selected >= 0 ? source_name(d->s[d->selected].src)
					   : "");
	}
	d->published = true;
	d->pub_status = s.status;
}

/*
 * The state as logged: a poll that gave no sample is never logged as a
 * normal one, whatever state the source filled in.
 */
static enum source_state logged_state(const struct disc_source *ds)
{
	if (ds->poll_r < 0 && ds->h.state < SOURCE_STALE) {
		return ds->poll_r == -EAGAIN ? SOURCE_STALE : SOURCE_ERROR;
	}
	return ds->h.state;
}

static void log_health(struct disc_source *ds)
{
	gint64 now = g_get_monotonic_time();
	const struct source_health *h = &ds->h;
	enum source_state st = logged_state(ds);

	if (!ds->logged_state || st != ds->state) {
		if (st == SOURCE_OK) {
			g_message("%s: %s", source_name(ds->src), h->text);
		} else {
			g_warning("%s %s: %s", source_name(ds->src),
				  source_state_name(st), h->text);
		}
		ds->state = st;
		ds->logged_state = true;
		ds->last_fail_log_us = now;
	} else if (ds->poll_r < 0 &&
		   now - ds->last_fail_log_us >
			   (gint64)DISCIPLINE_LOG_EVERY_S * 1000000) {
		g_warning("%s still %s: %s", source_name(ds->src),
			  source_state_name(st), h->text);
		ds->last_fail_log_us = now;
	}
}

/* Poll one source and feed its shadow. */
static void poll_source(struct discipline *d, struct disc_source *ds)
{
	struct estimator_stats st0, st1;
	struct clock_snapshot snap;
	uint64_t now;

	ds->poll_r = source_poll(ds->src, &ds->s, &ds->h);
	log_health(ds);
	now = d->now(d->now_ctx);
	ds->have_sample = false;
	ds->accepted = false;
	if (ds->poll_r == 0 && ds->s.counter > ds->last_counter &&
	    ds->s.counter <= now) {
		ds->have_sample = true;
		ds->last_counter = ds->s.counter;
		d->last_tai_ns = ds->s.tai_ns;
		estimator_get_stats(ds->shadow, &st0);
		if (estimator_feed(ds->shadow, &ds->s, now, &snap) == 1) {
			ds->snap = snap;
			ds->have_snap = true;
		}
		estimator_get_stats(ds->shadow, &st1);
		ds->accepted = st1.accepted > st0.accepted;
		if (ds->accepted) {
			ds->last_accepted_c = ds->s.counter;
		}
	}
	if (estimator_tick(ds->shadow, now, &snap) == 1) {
		ds->snap = snap;
	}
}

static int64_t utc_now(const struct discipline *d)
{
	int64_t tai_s;

	if (d->utc_now) {
		return d->utc_now(d->now_ctx);
	}
	if (d->last_tai_ns == 0) {
		return g_get_real_time() / 1000000;
	}
	tai_s = d->last_tai_ns / NS_PER_S;
	return tai_s - leap_dtai_at_utc(d->file, tai_s - 37);
}

/*
 * The effective table changed: sources that turn UTC into TAI use it,
 * the served model carries it at once; @shadows: the shadows too (a new
 * file, not a source's view).
 */
static void apply_leaps(struct discipline *d, bool shadows)
{
	const struct leap_table *t = leap_merge_table(d->lm);
	struct clock_snapshot snap;

	for (unsigned int i = 0; i < d->n; i++) {
		source_set_leaps(d->s[i].src, t);
		if (shadows) {
			(void)estimator_set_leaps(d->s[i].shadow, t, &snap);
		}
	}
	if (estimator_set_leaps(d->est, t, &snap) == 1) {
		d->served = snap;
		publish(d);
	}
}

static void merge_leaps(struct discipline *d)
{
	struct leap_view v[DISCIPLINE_MAX_SOURCES];
	size_t n = 0;

	for (unsigned int i = 0; i < d->n; i++) {
		const struct source_health *h = &d->s[i].h;

		if (h->leap_auth == LEAP_AUTH_NONE) {
			continue;
		}
		v[n++] = (struct leap_view){
			.name = source_name(d->s[i].src),
			.auth = h->leap_auth,
			.tai_utc_known = h->tai_utc_known,
			.tai_utc_s = h->tai_utc_s,
			.leap_known = h->leap_known,
			.leap = h->leap,
		};
	}
	if (leap_merge_update(d->lm, v, n, utc_now(d)) != 1) {
		return;
	}
	apply_leaps(d, false);
}

/* Fill the selection's view of every source at @now. */
static void candidates(struct discipline *d, uint64_t now,
		       struct select_cand *c)
{
	for (unsigned int i = 0; i < d->n; i++) {
		struct disc_source *ds = &d->s[i];
		struct clock_reading r = { 0 };

		if (ds->have_snap) {
			clock_snapshot_tai(&ds->snap, now, &r);
		}
		c[i] = (struct select_cand){
			.name = source_name(ds->src),
			.eligible =
				ds->accepted && ds->have_snap &&
				ds->snap.status != CLOCK_STATUS_FREERUNNING &&
				ds->snap.status != CLOCK_STATUS_UNKNOWN,
			.status = ds->snap.status,
			.tai_ns = r.ns,
			.bound_ns = r.maxerr_ns,
		};
	}
}

/* Why source @ds is not usable now, for "following X: Y lost: WHY". */
static void lost_why(const struct discipline *d, const struct disc_source *ds,
		     uint64_t now, char *buf, size_t len)
{
	if (ds->falseticker) {
		snprintf(buf, len, "falseticker");
	} else if (ds->poll_r < 0) {
		snprintf(buf, len, "%s",
			 ds->h.text[0] ? ds->h.text : "no sample");
	} else if (ds->have_sample && !ds->accepted) {
		snprintf(buf, len, "sample rejected as an outlier");
	} else if (ds->snap.status == CLOCK_STATUS_FREERUNNING &&
		   ds->last_accepted_c) {
		snprintf(buf, len, "stale for %llu s",
			 (unsigned long long)((now - ds->last_accepted_c) /
					      NS_PER_S));
	} else {
		snprintf(buf, len, "%s", clock_status_name(ds->snap.status));
	}
}

static void select_and_log(struct discipline *d, uint64_t now)
{
	struct select_cand c[DISCIPLINE_MAX_SOURCES];
	struct select_result res;
	char why[160];
	int old = d->selected;

	candidates(d, now, c);
	select_run(c, d->n, d->selected, &res);
	for (unsigned int i = 0; i < d->n; i++) {
		struct disc_source *ds = &d->s[i];

		if (c[i].falseticker != ds->falseticker) {
			if (c[i].falseticker) {
				g_warning("%s is a falseticker: %+lld ns from "
					  "the agreeing sources' common time, "
					  "bound %llu ns",
					  c[i].name, (long long)c[i].offset_ns,
					  (unsigned long long)c[i].bound_ns);
			} else {
				g_message("%s agrees again", c[i].name);
			}
		}
		ds->falseticker = c[i].falseticker;
		ds->role = c[i].falseticker ? DISCIPLINE_ROLE_FALSETICKER
			   : c[i].eligible  ? DISCIPLINE_ROLE_CANDIDATE
					    : DISCIPLINE_ROLE_UNUSABLE;
	}
	if (res.contradiction != d->contradiction) {
		if (res.contradiction) {
			select_describe(c, d->n, why, sizeof(why));
			g_warning("sources contradict each other (%s); model "
				  "UNRELIABLE",
				  why);
		} else {
			g_message("sources agree again");
		}
		d->contradiction = res.contradiction;
	}
	d->selected = res.selected;
	if (d->selected >= 0) {
		d->s[d->selected].role = DISCIPLINE_ROLE_SELECTED;
	}
	if (d->selected == old) {
		return;
	}
	if (d->selected < 0) {
		lost_why(d, &d->s[old], now, why, sizeof(why));
		snprintf(d->reason, sizeof(d->reason),
			 "no usable source (%s lost: %s); holding over",
			 c[old].name, why);
		g_warning("%s", d->reason);
		return;
	}
	if (old >= 0 && !c[old].eligible) {
		char lost[100];

		lost_why(d, &d->s[old], now, lost, sizeof(lost));
		snprintf(why, sizeof(why), "%s lost: %s", c[old].name, lost);
	} else {
		select_reason(c, d->n, &res, why, sizeof(why));
	}
	snprintf(d->reason, sizeof(d->reason), "%s", why);
	g_message("following %s: %s", c[d->selected].name, d->reason);
}

int discipline_poll(struct discipline *d)
{
	struct disc_source *sel;
	struct clock_snapshot snap;
	uint64_t now;
	bool was_contra = d->contradiction;
	int r = -EAGAIN;

	for (unsigned int i = 0; i < d->n; i++) {
		poll_source(d, &d->s[i]);
	}
	now = d->now(d->now_ctx);
	select_and_log(d, now);
	merge_leaps(d);
	if (d->selected >= 0) {
		sel = &d->s[d->selected];
		if (sel->s.counter > d->served_last_c) {
			if (estimator_feed(d->est, &sel->s, now, &snap) == 1) {
				d->served = snap;
				publish(d);
			}
			d->served_last_c = sel->s.counter;
			r = 0;
		}
	}
	if (estimator_tick(d->est, now, &snap) == 1) {
		d->served = snap;
		publish(d);
	} else if (d->published && was_contra != d->contradiction) {
		publish(d);
	}
	return r;
}

static gboolean on_timer(gpointer data)
{
	discipline_poll(data);
	return G_SOURCE_CONTINUE;
}

static bool bad_conf(struct clock_model *m, const struct discipline_conf *c)
{
	if (!m || !c || !c->src || !c->src->leaps || c->n_sources == 0 ||
	    c->n_sources > DISCIPLINE_MAX_SOURCES ||
	    c->interval_ms < DISCIPLINE_MIN_MS ||
	    c->interval_ms > DISCIPLINE_MAX_MS) {
		return true;
	}
	for (unsigned int i = 0; i < c->n_sources; i++) {
		if (!c->ops[i] || (c->src_of[i] && !c->src_of[i]->leaps)) {
			return true;
		}
	}
	return false;
}

static int open_sources(struct discipline *d, const struct discipline_conf *c,
			const struct estimator_config *ec, GError **err)
{
	GString *names = g_string_new(NULL);
	struct estimator_config sec;
	int r = 0;

	for (unsigned int i = 0; i < c->n_sources; i++) {
		struct disc_source *ds = &d->s[i];

		const struct source_conf *sc =
			c->src_of[i] ? c->src_of[i] : c->src;

		r = source_new(c->ops[i], sc, &ds->src, err);
		if (r < 0) {
			break;
		}
		d->n++;
		sec = *ec;
		sec.name = source_name(ds->src);
		r = estimator_new(&sec, c->src->leaps, &ds->shadow);
		if (r < 0) {
			g_set_error(err, discipline_error_quark(), -r,
				    "discipline: estimator: %s",
				    g_strerror(-r));
			break;
		}
		g_string_append_printf(names, "%s%s", i ? ", " : "",
				       source_name(ds->src));
	}
	if (r == 0) {
		g_message("time sources, in order of preference: %s",
			  names->str);
	}
	g_string_free(names, TRUE);
	return r;
}

struct discipline *discipline_new(struct clock_model *m,
				  const struct discipline_conf *c, GError **err)
{
	struct estimator_config ec;
	struct discipline *d;
	int r;

	if (bad_conf(m, c)) {
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
	d->utc_now = c->utc_now;
	d->selected = -1;
	d->file = c->src->leaps;
	d->lm = leap_merge_new(c->src->leaps);
	ec.name = "served";
	r = estimator_new(&ec, c->src->leaps, &d->est);
	if (r < 0) {
		g_set_error(err, discipline_error_quark(), -r,
			    "discipline: estimator: %s", g_strerror(-r));
		goto fail;
	}
	if (open_sources(d, c, &ec, err) < 0) {
		goto fail;
	}
	for (unsigned int i = 0; !c->resume && i < DISCIPLINE_INITIAL_SAMPLES;
	     i++) {
		if (i) {
			(c->sleep_ms ? c->sleep_ms : default_sleep)(
				c->now_ctx, DISCIPLINE_INITIAL_GAP_MS);
		}
		discipline_poll(d);
	}
	if (!d->published && !c->resume) {
		g_warning("no time source gave a usable sample at start-up; "
			  "serving no model (status UNKNOWN) until one does");
	}
	d->timer = g_timeout_add(c->interval_ms, on_timer, d);
	return d;
fail:
	discipline_free(d);
	return NULL;
}

int discipline_set_leap_file(struct discipline *d,
			     const struct leap_table *file)
{
	if (!d || !file) {
		return -EINVAL;
	}
	d->file = file;
	leap_merge_set_file(d->lm, file);
	apply_leaps(d, true);
	/* the sources' views against the new file, now */
	merge_leaps(d);
	return 0;
}

void discipline_free(struct discipline *d)
{
	if (!d) {
		return;
	}
	if (d->timer) {
		g_source_remove(d->timer);
	}
	for (unsigned int i = 0; i < DISCIPLINE_MAX_SOURCES; i++) {
		source_free(d->s[i].src);
		estimator_free(d->s[i].shadow);
	}
	estimator_free(d->est);
	leap_merge_free(d->lm);
	g_free(d);
}

void discipline_get_stats(const struct discipline *d,
			  struct estimator_stats *st)
{
	estimator_get_stats(d->est, st);
}

void discipline_get_status(const struct discipline *d,
			   struct discipline_status *out)
{
	uint64_t now = d->now(d->now_ctx);
	struct clock_reading served = { 0 };

	memset(out, 0, sizeof(*out));
	out->n_sources = d->n;
	out->selected = d->selected;
	snprintf(out->reason, sizeof(out->reason), "%s", d->reason);
	out->contradiction = d->contradiction;
	/* What readers see: the published model, generation included. */
	out->have_served =
		d->published && clock_model_get(d->m, &out->served) == 0;
	if (out->have_served) {
		clock_snapshot_tai(&out->served, now, &served);
	}
	estimator_get_stats(d->est, &out->stats);
	leap_merge_get(d->lm, utc_now(d), &out->leap);
	for (unsigned int i = 0; i < d->n; i++) {
		const struct disc_source *ds = &d->s[i];
		struct discipline_source_status *o = &out->src[i];
		struct estimator_stats st;
		struct clock_reading r;

		estimator_get_stats(ds->shadow, &st);
		o->name = source_name(ds->src);
		o->state = ds->h.state;
		snprintf(o->health, sizeof(o->health), "%s", ds->h.text);
		o->role = ds->role;
		o->accepted = st.accepted;
		o->rejected = st.outliers;
		o->leap = ds->h;
		if (!ds->have_snap) {
			o->status = CLOCK_STATUS_UNKNOWN;
			continue;
		}
		clock_snapshot_tai(&ds->snap, now, &r);
		o->status = ds->snap.status;
		o->bound_ns = r.maxerr_ns;
		if (out->have_served) {
			o->have_offset = true;
			o->offset_ns = r.ns - served.ns;
		}
	}
}

int discipline_save(const struct discipline *d, struct estimator_state *st)
{
	return estimator_save(d->est, st);
}

int discipline_resume(struct discipline *d, const struct estimator_state *st)
{
	struct clock_snapshot s;
	int rc;

	rc = estimator_resume(d->est, st, d->now(d->now_ctx), &s);
	if (rc < 0) {
		return rc;
	}
	d->served = s;
	d->served_last_c = s.c0;
	publish(d);
	return 0;
}
