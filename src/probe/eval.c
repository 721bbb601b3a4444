// SPDX-License-Identifier: MIT
/*
 * vhost-user-rtc-probe eval: every served clock against a reference.
 *
 * Each round reads every clock once with READ, bracketed by two reads of
 * the reference (READ_CROSS is used by nobody here: no device offers a
 * counter this host can read, and the probe says so). The offset of a
 * sample is the served reading minus the reference converted to the
 * clock's timescale (UTC, TAI, smeared UTC from the leap table); for
 * MONOTONIC, whose epoch is unspecified, it is relative to the first
 * sample. virtio-rtc carries no error bound, so coverage is computed
 * against the daemon's live model from its control socket (--control),
 * or a bound the operator supplies (--bound-ns, or --bound-log with the
 * daemon's log), and the report says which.
 *
 * With --control, `status json` is asked at the start and then at most
 * every 250 ms, between rounds. A sample's bound is computed when the
 * next answer is in: from the snapshot before it, or the larger of the
 * two if a publish came in between. CSV rows are written then.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eval.h"
#include "frontend.h"
#include "phc.h"
#include "plot.h"
#include "probe.h"
#include "timescale.h"

#define MAX_CLOCKS EVAL_MAX_CLOCKS
#define NS_PER_S 1000000000LL
#define LIVE_PERIOD_NS 250000000LL
#define LIVE_TIMEOUT_MS 1000

static int grow(void *pp, size_t size, size_t cap)
{
	void **p = pp;
	void *q = realloc(*p, cap * size);

	if (!q) {
		return -ENOMEM;
	}
	*p = q;
	return 0;
}

static int push(struct eval_clock *c, double t, double off,
		const struct eval_sample *s)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1024;

		if (grow(&c->t_s, sizeof(double), cap) ||
		    grow(&c->off_ns, sizeof(double), cap) ||
		    grow(&c->bound_ns, sizeof(double), cap) ||
		    grow(&c->s, sizeof(*s), cap)) {
			return -ENOMEM;
		}
		c->cap = cap;
	}
	c->t_s[c->n] = t;
	c->off_ns[c->n] = off;
	c->bound_ns[c->n] = NAN;
	c->s[c->n] = *s;
	c->n++;
	return 0;
}

/* Clocks from CFG and CLOCK_CAP; timescale of each type. */
static int discover(struct vuf *v, struct eval_clock *c, size_t *n)
{
	uint16_t num;
	int ret = vuf_rtc_cfg(v, &num, NULL);

	if (ret) {
		fprintf(stderr, "eval: CFG: %s\n", vuf_error(v));
		return ret;
	}
	*n = 0;
	for (uint16_t id = 0; id < num && *n < MAX_CLOCKS; id++) {
		struct virtio_rtc_resp_clock_cap cap;
		struct eval_clock *r = &c[*n];

		ret = vuf_rtc_clock_cap(v, id, &cap, NULL);
		if (ret) {
			fprintf(stderr, "eval: CLOCK_CAP %u: %s\n", id,
				vuf_error(v));
			return ret;
		}
		memset(r, 0, sizeof(*r));
		r->id = id;
		r->type = cap.type;
		r->smear = cap.leap_second_smearing;
		switch (cap.type) {
		case VIRTIO_RTC_CLOCK_TAI:
			r->ts = TIMESCALE_TAI;
			break;
		case VIRTIO_RTC_CLOCK_MONOTONIC:
			r->ts = TIMESCALE_TAI;
			r->relative = true;
			break;
		case VIRTIO_RTC_CLOCK_UTC_SMEARED:
			r->ts = cap.leap_second_smearing ==
						VIRTIO_RTC_SMEAR_UTC_SLS
					? TIMESCALE_UTC_SLS
					: TIMESCALE_UTC_NOON_LINEAR;
			break;
		default: /* UTC, and UTC_MAYBE_SMEARED away from leaps */
			r->ts = TIMESCALE_UTC;
			break;
		}
		snprintf(r->label, sizeof(r->label), "clock %u %s%s", id,
			 eval_type_name(cap.type),
			 r->relative ? " (relative)" : "");
		(*n)++;
	}
	if (num > MAX_CLOCKS) {
		fprintf(stderr, "eval: %u clocks, evaluating the first %d\n",
			num, MAX_CLOCKS);
	}
	return *n ? 0 : -ENODEV;
}

/* One READ of @c bracketed by the reference. */
static int bracket(struct vuf *v, struct eval_ref *ref, uint16_t id,
		   uint64_t *served, int64_t *tai, uint64_t *win, uint64_t *err)
{
	int64_t b = eval_ref_begin(ref);
	int ret;

	ret = vuf_rtc_read(v, id, served);
	if (ret) {
		fprintf(stderr, "eval: READ clock %u: %s\n", id, vuf_error(v));
		return ret;
	}
	ret = eval_ref_end(ref, b, tai, win, err);
	if (ret) {
		fprintf(stderr, "eval: reference: %s\n", strerror(-ret));
	}
	return ret;
}

/* A burst of bracketed READs of @c; the narrowest window is the sample
 * (like sync/phc.c's bursts: a preempted read says little). Its bound
 * comes later, from resolve(). */
static int sample(struct vuf *v, struct eval_ref *ref, struct eval_clock *c,
		  int64_t t0, const struct eval_opts *o)
{
	struct eval_sample s = { .win_ns = UINT64_MAX };
	__int128 expect;
	int64_t off;
	int ret;

	s.c_lo = (uint64_t)vuf_now_ns(CLOCK_MONOTONIC_RAW);
	for (unsigned int i = 0; i < o->burst; i++) {
		uint64_t s1, w1, e1;
		int64_t t1;

		ret = bracket(v, ref, c->id, &s1, &t1, &w1, &e1);
		if (ret) {
			return ret;
		}
		if (w1 + 2 * e1 < s.win_ns + 2 * s.err_ns) {
			s.served = s1, s.tai_ns = t1, s.win_ns = w1,
			s.err_ns = e1;
		}
	}
	s.c_hi = (uint64_t)vuf_now_ns(CLOCK_MONOTONIC_RAW);
	if (o->live.path) {
		s.status = eval_live_status(&o->live.last);
	}
	timescale_from_tai(ref->leap, c->ts, s.tai_ns, &expect);
	off = (int64_t)((__int128)s.served - expect);
	if (c->relative) {
		if (!c->n) {
			c->first = off;
		}
		off -= c->first;
	}
	double t = (double)(vuf_now_ns(CLOCK_MONOTONIC) - t0) / 1e9;

	return push(c, t, (double)off, &s);
}

/*
 * Give rounds [@from, c[0].n) their bound: from the snapshots @a (before)
 * and @b (after, or NULL), or without @a the constant one; count
 * coverage and write their CSV rows.
 */
static void resolve(struct eval_clock *c, size_t n, size_t from,
		    const struct eval_opts *o, const struct eval_live_snap *a,
		    const struct eval_live_snap *b, FILE *csv)
{
	for (size_t j = from; n && j < c[0].n; j++) {
		for (size_t i = 0; i < n; i++) {
			struct eval_clock *r = &c[i];
			const struct eval_sample *s = &r->s[j];
			uint64_t bound = 0;
			bool known;

			if (a) {
				known = !eval_live_bound(a, b, s->c_lo, s->c_hi,
							 &bound);
			} else {
				known = o->bound_ns >= 0;
				bound = (uint64_t)o->bound_ns;
			}
			r->bound_ns[j] = known ? (double)bound : NAN;
			if (known && !r->relative) {
				r->counted++;
				r->covered += fabs(r->off_ns[j]) <=
					      (double)bound +
						      (double)s->win_ns / 2 +
						      (double)s->err_ns;
			}
			if (!csv) {
				continue;
			}
			fprintf(csv,
				"%.6f,%u,%s,%" PRIu64 ",%" PRId64
				",%.0f,%" PRIu64 ",%" PRIu64 ",%" PRId64
				",%s\n",
				r->t_s[j], r->id, eval_type_name(r->type),
				s->served, s->tai_ns, r->off_ns[j], s->win_ns,
				s->err_ns, known ? (int64_t)bound : -1,
				s->status ? s->status : "");
		}
	}
}

/*
 * Ask the control socket for the model if it is time (or @force), and
 * give the rounds since the last answer their bound. On the first
 * failure, say so once and keep the last snapshot for good.
 */
static void live_step(struct eval_clock *c, size_t n, size_t *resolved,
		      struct eval_opts *o, int64_t t0, bool force, FILE *csv)
{
	struct eval_live_run *l = &o->live;
	int64_t now = vuf_now_ns(CLOCK_MONOTONIC);
	struct eval_live_snap snap;
	struct clock_reading chk;

	if (l->failed) {
		resolve(c, n, *resolved, o, &l->last, NULL, csv);
		*resolved = c[0].n;
		return;
	}
	if (!force && now < l->next_ns) {
		return;
	}
	l->next_ns = now + LIVE_PERIOD_NS;
	if (eval_live_query(l->path, LIVE_TIMEOUT_MS, &snap, l->why,
			    sizeof(l->why))) {
		l->failed = true;
		l->failed_t_s = (double)(now - t0) / 1e9;
		fprintf(stderr,
			"eval: control socket %s: %s; keeping the last "
			"snapshot (generation %" PRIu64 ") from t=%.1f s\n",
			l->path, l->why, l->last.model.generation,
			l->failed_t_s);
		resolve(c, n, *resolved, o, &l->last, NULL, csv);
		*resolved = c[0].n;
		return;
	}
	l->queries++;
	if (snap.model.generation != l->last.model.generation) {
		l->changes++;
		if (snap.model.generation > l->last.model.generation + 1) {
			l->unseen += snap.model.generation -
				     l->last.model.generation - 1;
		}
	}
	clock_snapshot_tai(&snap.model, snap.counter_now, &chk);
	if (snap.published && chk.maxerr_ns != snap.bound_ns && !l->warned) {
		fprintf(stderr,
			"eval: warning: the daemon's bound_ns %" PRIu64
			" differs from clock_snapshot_tai()'s %" PRIu64
			" at its counter_now\n",
			snap.bound_ns, chk.maxerr_ns);
		l->warned = true;
	}
	resolve(c, n, *resolved, o, &l->last, &snap, csv);
	*resolved = c[0].n;
	l->last = snap;
}

#define FIRST_MODEL_WAIT_S 60

/*
 * A daemon without a model yet (its source has not synchronised) answers
 * READ with EIO: wait for its first model, up to FIRST_MODEL_WAIT_S,
 * rather than fail. Returns 0 once clock @id reads, else -1 (said why).
 */
static int wait_first_model(struct vuf *v, uint16_t id)
{
	int64_t t0 = vuf_now_ns(CLOCK_MONOTONIC);
	struct virtio_rtc_req_read rd;
	struct vuf_rtc_reply r;
	bool said = false;

	vuf_rtc_req_read(&rd, id);
	for (;;) {
		int ret = vuf_rtc_call(v, &rd, sizeof(rd),
				       sizeof(struct virtio_rtc_resp_read),
				       NULL, &r);

		if (ret) {
			fprintf(stderr, "eval: READ clock %u: %s\n", id,
				vuf_error(v));
			return -1;
		}
		if (r.status == VIRTIO_RTC_S_OK) {
			break;
		}
		if (r.status != VIRTIO_RTC_S_EIO) {
			fprintf(stderr, "eval: READ clock %u: status %u\n", id,
				r.status);
			return -1;
		}
		if (vuf_now_ns(CLOCK_MONOTONIC) - t0 >
		    FIRST_MODEL_WAIT_S * NS_PER_S) {
			fprintf(stderr,
				"eval: the daemon served no time for %d s "
				"(READ answers EIO: no model yet)\n",
				FIRST_MODEL_WAIT_S);
			return -1;
		}
		if (!said) {
			fprintf(stderr,
				"eval: the daemon has no time to serve yet "
				"(READ answers EIO: its source has given no "
				"model); waiting up to %d s\n",
				FIRST_MODEL_WAIT_S);
			said = true;
		}
		usleep(100000);
	}
	if (said) {
		fprintf(stderr, "eval: first model after %.1f s\n",
			(double)(vuf_now_ns(CLOCK_MONOTONIC) - t0) / 1e9);
	}
	return 0;
}

/* Sample at @o->rate_hz rounds per second for @o->duration_s. */
static int run(struct vuf *v, struct eval_ref *ref, struct eval_clock *c,
	       size_t n, struct eval_opts *o, FILE *csv)
{
	int64_t t0 = vuf_now_ns(CLOCK_MONOTONIC), next = t0, report_at;
	int64_t period = (int64_t)(1e9 / o->rate_hz);
	int64_t end = t0 + (int64_t)(o->duration_s * 1e9);
	struct timespec ts;
	size_t resolved = 0;

	report_at = t0 + NS_PER_S;
	o->live.next_ns = t0 + LIVE_PERIOD_NS;
	while (next < end) {
		for (size_t i = 0; i < n; i++) {
			int ret = sample(v, ref, &c[i], t0, o);

			if (ret) {
				return ret;
			}
		}
		if (o->live.path) {
			live_step(c, n, &resolved, o, t0, false, csv);
		} else {
			resolve(c, n, resolved, o, NULL, NULL, csv);
			resolved = c[0].n;
		}
		next += period;
		if (vuf_now_ns(CLOCK_MONOTONIC) >= report_at) {
			fprintf(stderr,
				"eval: %.0f/%.0f s, %zu rounds, clock %u last "
				"offset %.0f ns\n",
				(double)(report_at - t0) / 1e9, o->duration_s,
				c[0].n, c[0].id, c[0].off_ns[c[0].n - 1]);
			report_at += NS_PER_S;
		}
		ts.tv_sec = next / NS_PER_S;
		ts.tv_nsec = next % NS_PER_S;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	if (o->live.path) {
		live_step(c, n, &resolved, o, t0, true, csv);
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vhost-user-rtc-probe eval --socket PATH\n"
		"         [--ref /dev/ptpN [--ref-utc] | --ref-clock "
		"tai|realtime]\n"
		"         [--duration S] [--rate HZ] [--burst N] [--csv F]\n"
		"         [--plot F.png] [--svg F.svg]\n"
		"         [--control CTL.SOCK | --bound-ns N | --bound-log "
		"DAEMON.LOG]\n"
		"         [--leap-file PATH]\n"
		"Defaults: --ref-clock tai, --duration 10, --rate 10, --burst "
		"4,\n"
		"--csv eval.csv. Each sample is the narrowest-window READ of "
		"a burst.\n"
		"virtio-rtc READ carries no error bound. --control asks the "
		"daemon's control\nsocket for its clock model (at the start, "
		"then every 250 ms) and gives each\nsample the bound at its "
		"own "
		"CLOCK_MONOTONIC_RAW reading, and its status (CSV\ncolumns "
		"bound_ns, status; plot band and status marks). Otherwise "
		"coverage is\ncomputed only against --bound-ns or the last "
		"bound "
		"the daemon logged\n(--bound-log). Exit 1 if any sample with a "
		"known bound is outside it.\n");
}

static int parse(int argc, char **argv, struct eval_opts *o, struct eval_ref *r)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "ref", required_argument, NULL, 'r' },
		{ "ref-utc", no_argument, NULL, 'u' },
		{ "ref-clock", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'R' },
		{ "burst", required_argument, NULL, 'n' },
		{ "csv", required_argument, NULL, 'C' },
		{ "plot", required_argument, NULL, 'p' },
		{ "svg", required_argument, NULL, 'S' },
		{ "bound-ns", required_argument, NULL, 'b' },
		{ "bound-log", required_argument, NULL, 'B' },
		{ "control", required_argument, NULL, 'K' },
		{ "leap-file", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *e;
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'r':
			r->dev = optarg;
			break;
		case 'u':
			r->phc_utc = true;
			break;
		case 'c':
			if (strcmp(optarg, "tai") != 0 &&
			    strcmp(optarg, "realtime") != 0) {
				return 2;
			}
			r->realtime = !strcmp(optarg, "realtime");
			break;
		case 'd':
			o->duration_s = strtod(optarg, &e);
			break;
		case 'R':
			o->rate_hz = strtod(optarg, &e);
			break;
		case 'n':
			o->burst = (unsigned int)strtoul(optarg, &e, 10);
			break;
		case 'C':
			o->csv = optarg;
			break;
		case 'p':
			o->png = optarg;
			break;
		case 'S':
			o->svg = optarg;
			break;
		case 'b':
			o->bound_ns = strtoll(optarg, &e, 10);
			if (*e || o->bound_ns < 0) {
				return 2;
			}
			snprintf(o->bound_src, sizeof(o->bound_src),
				 "%" PRId64 " ns, given with --bound-ns",
				 o->bound_ns);
			break;
		case 'B':
			o->bound_log = optarg;
			break;
		case 'K':
			o->live.path = optarg;
			break;
		case 'l':
			o->leap_file = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return 2;
		}
	}
	if (!o->socket || optind != argc || !(o->duration_s > 0) ||
	    !(o->rate_hz > 0) || o->rate_hz > 10000 || !o->burst ||
	    o->burst > 100) {
		return 2;
	}
	return 0;
}

int probe_eval_main(int argc, char **argv)
{
	struct eval_opts o = {
		.duration_s = 10,
		.rate_hz = 10,
		.burst = 4,
		.csv = "eval.csv",
		.leap_file = "/usr/share/zoneinfo/leap-seconds.list",
		.bound_ns = -1,
	};
	struct eval_ref ref = { 0 };
	struct eval_clock c[MAX_CLOCKS];
	struct leap_table *leap = NULL;
	struct vuf *v = NULL;
	GError *err = NULL;
	size_t n = 0;
	FILE *csv = NULL;
	char msg[200];
	int ret = 1;

	snprintf(o.bound_src, sizeof(o.bound_src),
		 "none (virtio-rtc READ carries no bound; give --bound-ns or "
		 "--bound-log)");
	if (parse(argc, argv, &o, &ref)) {
		usage(stderr);
		return 2;
	}
	if (o.live.path && (o.bound_ns >= 0 || o.bound_log)) {
		fprintf(stderr, "eval: --control gives a live bound; it cannot "
				"be combined with --bound-ns or --bound-log\n");
		return 2;
	}
	if (o.bound_ns >= 0 && o.bound_log) {
		fprintf(stderr, "eval: give --bound-ns or --bound-log, not "
				"both\n");
		return 2;
	}
	if (o.live.path) {
		if (eval_live_query(o.live.path, LIVE_TIMEOUT_MS, &o.live.last,
				    msg, sizeof(msg))) {
			fprintf(stderr, "eval: control socket %s: %s\n",
				o.live.path, msg);
			return 2;
		}
		o.live.queries = 1;
		snprintf(o.bound_src, sizeof(o.bound_src),
			 "live, from the daemon's control socket %s",
			 o.live.path);
	}
	if (o.bound_log) {
		uint64_t b;
		int r = eval_bound_from_log(o.bound_log, &b);

		if (r) {
			fprintf(stderr, "eval: %s: no bound found (%s)\n",
				o.bound_log, strerror(-r));
			return 2;
		}
		o.bound_ns = (int64_t)b;
		snprintf(o.bound_src, sizeof(o.bound_src),
			 "%" PRIu64 " ns, the last one logged in %s (logged "
			 "at a status change, not live)",
			 b, o.bound_log);
	}
	leap = leap_table_load(o.leap_file, &err);
	if (!leap) {
		fprintf(stderr, "eval: %s: %s\n", o.leap_file, err->message);
		g_error_free(err);
		return 2;
	}
	if (leap_table_expired(leap, time(NULL))) {
		fprintf(stderr, "eval: warning: leap table %s has expired\n",
			o.leap_file);
	}
	ref.leap = leap;
	if (eval_ref_open(&ref, msg, sizeof(msg))) {
		fprintf(stderr, "eval: reference: %s\n", msg);
		goto out;
	}
	if (vuf_open(&v, o.socket, NULL)) {
		fprintf(stderr, "eval: %s: %s\n", o.socket,
			v ? vuf_error(v) : strerror(errno));
		goto out;
	}
	if (discover(v, c, &n) || wait_first_model(v, c[0].id)) {
		goto out;
	}
	csv = fopen(o.csv, "we");
	if (!csv) {
		fprintf(stderr, "eval: %s: %s\n", o.csv, strerror(errno));
		goto out;
	}
	fprintf(csv, "t_s,clock_id,clock_type,served_ns,ref_tai_ns,offset_ns,"
		     "window_ns,ref_err_ns,bound_ns,status\n");
	fprintf(stderr, "eval: %zu clocks, %.0f s at %.0f Hz, reference %s\n",
		n, o.duration_s, o.rate_hz, ref.desc);
	if (run(v, &ref, c, n, &o, csv)) {
		goto out;
	}
	if (fclose(csv)) {
		csv = NULL;
		fprintf(stderr, "eval: %s: write error\n", o.csv);
		goto out;
	}
	csv = NULL;
	eval_report(c, n, &ref, &o);
	ret = eval_plots(c, n, &ref, &o);
	plot_exit();
	if (ret) {
		ret = 1;
		goto out;
	}
	ret = 0;
	for (size_t i = 0; i < n; i++) {
		if (c[i].covered != c[i].counted) {
			ret = 1;
		}
	}
out:
	if (csv) {
		fclose(csv);
	}
	for (size_t i = 0; i < n; i++) {
		free(c[i].t_s);
		free(c[i].off_ns);
		free(c[i].bound_ns);
		free(c[i].s);
	}
	vuf_free(v);
	eval_ref_close(&ref);
	leap_table_free(leap);
	return ret;
}
