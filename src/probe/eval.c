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
 * only against a bound the operator supplies (--bound-ns, or
 * --bound-log with the daemon's log) and the report says which.
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

#include "eval.h"
#include "frontend.h"
#include "phc.h"
#include "plot.h"
#include "probe.h"
#include "timescale.h"

#define MAX_CLOCKS PLOT_MAX_SERIES
#define NS_PER_S 1000000000LL

struct clock_run {
	uint16_t id;
	uint8_t type, smear;
	enum timescale ts;
	bool relative; /* MONOTONIC: offsets from the first sample */
	int64_t first;
	char label[48];
	size_t n, cap, covered;
	double *t_s, *off_ns;
	uint64_t *win_ns;
};

struct eval_opts {
	const char *socket, *csv, *png, *svg, *leap_file, *bound_log;
	double duration_s, rate_hz;
	unsigned int burst; /* bracketed READs per sample, narrowest kept */
	int64_t bound_ns;   /* < 0: none */
	char bound_src[160];
};

static const char *type_name(uint8_t t)
{
	static const char *const n[] = { "UTC", "TAI", "MONOTONIC",
					 "UTC_SMEARED", "UTC_MAYBE_SMEARED" };

	return t < 5 ? n[t] : "unknown";
}

static int push(struct clock_run *c, double t, double off, uint64_t win)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1024;
		double *a = realloc(c->t_s, cap * sizeof(double));
		double *b = a ? realloc(c->off_ns, cap * sizeof(double)) : NULL;
		uint64_t *w = NULL;

		if (a) {
			c->t_s = a;
		}
		if (b) {
			c->off_ns = b;
			w = realloc(c->win_ns, cap * sizeof(uint64_t));
		}
		if (!w) {
			return -ENOMEM;
		}
		c->win_ns = w;
		c->cap = cap;
	}
	c->t_s[c->n] = t;
	c->off_ns[c->n] = off;
	c->win_ns[c->n] = win;
	c->n++;
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pctl(const double *sorted, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return sorted[i < n ? i : n - 1];
}

/* Clocks from CFG and CLOCK_CAP; timescale of each type. */
static int discover(struct vuf *v, struct clock_run *c, size_t *n)
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
		struct clock_run *r = &c[*n];

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
			 type_name(cap.type), r->relative ? " (relative)" : "");
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
 * (like sync/phc.c's bursts: a preempted read says little). */
static int sample(struct vuf *v, struct eval_ref *ref, struct clock_run *c,
		  int64_t t0, const struct eval_opts *o, FILE *csv)
{
	uint64_t served = 0, win = UINT64_MAX, err = 0;
	int64_t tai = 0;
	__int128 expect;
	int64_t off;
	int ret;

	for (unsigned int i = 0; i < o->burst; i++) {
		uint64_t s1, w1, e1;
		int64_t t1;

		ret = bracket(v, ref, c->id, &s1, &t1, &w1, &e1);
		if (ret) {
			return ret;
		}
		if (w1 + 2 * e1 < win + 2 * err) {
			served = s1, tai = t1, win = w1, err = e1;
		}
	}
	timescale_from_tai(ref->leap, c->ts, tai, &expect);
	off = (int64_t)((__int128)served - expect);
	if (c->relative) {
		if (!c->n) {
			c->first = off;
		}
		off -= c->first;
	}
	if (o->bound_ns >= 0 && !c->relative &&
	    (uint64_t)llabs(off) <= (uint64_t)o->bound_ns + win / 2 + err) {
		c->covered++;
	}
	double t = (double)(vuf_now_ns(CLOCK_MONOTONIC) - t0) / 1e9;

	if (csv) {
		fprintf(csv,
			"%.6f,%u,%s,%" PRIu64 ",%" PRId64 ",%" PRId64
			",%" PRIu64 ",%" PRIu64 ",%" PRId64 "\n",
			t, c->id, type_name(c->type), served, tai, off, win,
			err, o->bound_ns);
	}
	return push(c, t, (double)off, win);
}

static void report(const struct clock_run *c, size_t n,
		   const struct eval_ref *ref, const struct eval_opts *o)
{
	printf("reference: %s\n", ref->desc);
	printf("method: READ bracketed by two reference reads, narrowest of "
	       "%u per sample (READ_CROSS: no counter this host can read is "
	       "offered)\n",
	       o->burst);
	printf("bound: %s\n", o->bound_src);
	printf("%-28s %8s %10s %10s %10s %10s %10s %10s %9s\n", "clock",
	       "samples", "mean_ns", "p50_ns", "p99|.|_ns", "max|.|_ns",
	       "win50_ns", "win99_ns", "coverage");
	for (size_t i = 0; i < n; i++) {
		const struct clock_run *r = &c[i];
		double *a = malloc(r->n * sizeof(double));
		double *w = malloc(r->n * sizeof(double));
		double sum = 0;
		char cov[32];

		if (!a || !w || !r->n) {
			free(a);
			free(w);
			continue;
		}
		for (size_t j = 0; j < r->n; j++) {
			sum += r->off_ns[j];
			a[j] = fabs(r->off_ns[j]);
			w[j] = (double)r->win_ns[j];
		}
		qsort(a, r->n, sizeof(double), cmp_d);
		qsort(w, r->n, sizeof(double), cmp_d);
		double *s = malloc(r->n * sizeof(double));

		if (s) {
			memcpy(s, r->off_ns, r->n * sizeof(double));
			qsort(s, r->n, sizeof(double), cmp_d);
		}
		if (r->relative || o->bound_ns < 0) {
			snprintf(cov, sizeof(cov), "n/a");
		} else {
			snprintf(cov, sizeof(cov), "%.3f%%",
				 100.0 * (double)r->covered / (double)r->n);
		}
		printf("%-28s %8zu %10.0f %10.0f %10.0f %10.0f %10.0f %10.0f "
		       "%9s\n",
		       r->label, r->n, sum / (double)r->n,
		       s ? pctl(s, r->n, 0.5) : NAN, pctl(a, r->n, 0.99),
		       a[r->n - 1], pctl(w, r->n, 0.5), pctl(w, r->n, 0.99),
		       cov);
		free(s);
		free(a);
		free(w);
	}
}

static int plots(const struct clock_run *c, size_t n,
		 const struct eval_ref *ref, const struct eval_opts *o)
{
	struct plot_series s[MAX_CLOCKS];
	char note[300], note2[300], bl[64];
	struct plot_spec sp = {
		.title =
			"vhost-user-rtc-probe eval: served clocks vs reference",
		.note = note,
		.note2 = note2,
		.bound_ns = (double)o->bound_ns,
		.bound_label = bl,
		.series = s,
		.nseries = n,
	};
	int ret = 0;

	snprintf(note, sizeof(note),
		 "reference %s; READ, narrowest of %u per sample", ref->desc,
		 o->burst);
	snprintf(note2, sizeof(note2),
		 "bound %s; status: not exposed by virtio-rtc, not marked",
		 o->bound_src);
	snprintf(bl, sizeof(bl), "bound (%.3g ns)", (double)o->bound_ns);
	for (size_t i = 0; i < n; i++) {
		s[i] = (struct plot_series){ .label = c[i].label,
					     .t_s = c[i].t_s,
					     .offset_ns = c[i].off_ns,
					     .n = c[i].n };
	}
	if (o->png && (ret = plot_write(&sp, PLOT_PNG, o->png))) {
		fprintf(stderr, "eval: %s: cannot write the plot\n", o->png);
	}
	if (!ret && o->svg && (ret = plot_write(&sp, PLOT_SVG, o->svg))) {
		fprintf(stderr, "eval: %s: cannot write the plot\n", o->svg);
	}
	return ret;
}

/* Sample at @o->rate_hz rounds per second for @o->duration_s. */
static int run(struct vuf *v, struct eval_ref *ref, struct clock_run *c,
	       size_t n, const struct eval_opts *o, FILE *csv)
{
	int64_t t0 = vuf_now_ns(CLOCK_MONOTONIC), next = t0, report_at;
	int64_t period = (int64_t)(1e9 / o->rate_hz);
	int64_t end = t0 + (int64_t)(o->duration_s * 1e9);
	struct timespec ts;

	report_at = t0 + NS_PER_S;
	while (next < end) {
		for (size_t i = 0; i < n; i++) {
			int ret = sample(v, ref, &c[i], t0, o, csv);

			if (ret) {
				return ret;
			}
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
		"         [--bound-ns N | --bound-log DAEMON.LOG]\n"
		"         [--leap-file PATH]\n"
		"Defaults: --ref-clock tai, --duration 10, --rate 10, --burst "
		"4,\n"
		"--csv eval.csv. Each sample is the narrowest-window READ of "
		"a burst.\n"
		"virtio-rtc READ carries no error bound: coverage is computed "
		"only\nagainst --bound-ns or the last bound the daemon logged "
		"(--bound-log).\n");
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
	struct clock_run c[MAX_CLOCKS];
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
	if (discover(v, c, &n)) {
		goto out;
	}
	csv = fopen(o.csv, "we");
	if (!csv) {
		fprintf(stderr, "eval: %s: %s\n", o.csv, strerror(errno));
		goto out;
	}
	fprintf(csv, "t_s,clock_id,clock_type,served_ns,ref_tai_ns,offset_ns,"
		     "window_ns,ref_err_ns,bound_ns\n");
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
	report(c, n, &ref, &o);
	ret = plots(c, n, &ref, &o);
	plot_exit();
	if (ret) {
		ret = 1;
		goto out;
	}
	ret = 0;
	for (size_t i = 0; i < n; i++) {
		if (o.bound_ns >= 0 && !c[i].relative &&
		    c[i].covered != c[i].n) {
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
		free(c[i].win_ns);
	}
	vuf_free(v);
	eval_ref_close(&ref);
	leap_table_free(leap);
	return ret;
}
