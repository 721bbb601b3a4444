// SPDX-License-Identifier: MIT
/*
 * The probe's eval: the printed report and the plots.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "frontend.h"
#include "plot.h"

_Static_assert(EVAL_MAX_CLOCKS == PLOT_MAX_SERIES, "one series per clock");

const char *eval_type_name(uint8_t t)
{
	static const char *const n[] = { "UTC", "TAI", "MONOTONIC",
					 "UTC_SMEARED", "UTC_MAYBE_SMEARED" };

	return t < 5 ? n[t] : "unknown";
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

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* The status at the start and at each change, from @c's samples. */
static size_t status_marks(const struct eval_clock *c, struct plot_mark *m,
			   size_t max)
{
	size_t k = 0;

	for (size_t j = 0; j < c->n; j++) {
		if (!c->s[j].status ||
		    (j && same(c->s[j].status, c->s[j - 1].status))) {
			continue;
		}
		if (k < max) {
			m[k] = (struct plot_mark){ .t_s = c->t_s[j],
						   .label = c->s[j].status };
		}
		k++;
	}
	return k;
}

static void report_live(const struct eval_clock *c, const struct eval_opts *o)
{
	const struct eval_live_run *l = &o->live;
	struct plot_mark m[12];
	size_t k = status_marks(c, m, 12);

	printf("model: %u answers, %u with a new generation (the larger "
	       "bound of the two used across each), %" PRIu64
	       " publishes between answers not seen\n",
	       l->queries, l->changes, l->unseen);
	if (l->failed) {
		printf("bound: WARNING: the control socket failed at t=%.1f s "
		       "(%s); later samples use the last snapshot "
		       "(generation %" PRIu64 "), which may be stale\n",
		       l->failed_t_s, l->why, l->last.model.generation);
	}
	printf("status:");
	for (size_t i = 0; i < k && i < 12; i++) {
		printf("%s %s at t=%.1f s", i ? "," : "", m[i].label, m[i].t_s);
	}
	if (k > 12) {
		printf(", ... (%zu changes in all)", k - 1);
	}
	printf("\n");
}

void eval_report(const struct eval_clock *c, size_t n,
		 const struct eval_ref *ref, const struct eval_opts *o)
{
	printf("reference: %s\n", ref->desc);
	printf("method: READ bracketed by two reference reads, narrowest of "
	       "%u per sample (READ_CROSS: no counter this host can read is "
	       "offered)\n",
	       o->burst);
	printf("bound: %s\n", o->bound_src);
	if (o->live.path && n) {
		report_live(&c[0], o);
	}
	printf("%-28s %8s %10s %10s %10s %10s %10s %10s %9s\n", "clock",
	       "samples", "mean_ns", "p50_ns", "p99|.|_ns", "max|.|_ns",
	       "win50_ns", "win99_ns", "coverage");
	for (size_t i = 0; i < n; i++) {
		const struct eval_clock *r = &c[i];
		double *a = malloc(r->n * sizeof(double));
		double *w = malloc(r->n * sizeof(double));
		double *s = malloc(r->n * sizeof(double));
		double sum = 0;
		char cov[32];

		if (!a || !w || !s || !r->n) {
			free(a);
			free(w);
			free(s);
			continue;
		}
		for (size_t j = 0; j < r->n; j++) {
			sum += r->off_ns[j];
			a[j] = fabs(r->off_ns[j]);
			w[j] = (double)r->s[j].win_ns;
		}
		memcpy(s, r->off_ns, r->n * sizeof(double));
		qsort(a, r->n, sizeof(double), cmp_d);
		qsort(w, r->n, sizeof(double), cmp_d);
		qsort(s, r->n, sizeof(double), cmp_d);
		if (r->relative || !r->counted) {
			snprintf(cov, sizeof(cov), "n/a");
		} else {
			snprintf(cov, sizeof(cov), "%.3f%%",
				 100.0 * (double)r->covered /
					 (double)r->counted);
		}
		printf("%-28s %8zu %10.0f %10.0f %10.0f %10.0f %10.0f %10.0f "
		       "%9s\n",
		       r->label, r->n, sum / (double)r->n, pctl(s, r->n, 0.5),
		       pctl(a, r->n, 0.99), a[r->n - 1], pctl(w, r->n, 0.5),
		       pctl(w, r->n, 0.99), cov);
		free(s);
		free(a);
		free(w);
	}
	for (size_t i = 0; i < n; i++) {
		if (c[i].relative) {
			printf("%s: no defined epoch; offsets from the median "
			       "of its first %zu, not from one first sample; "
			       "no coverage\n",
			       c[i].label,
			       c[i].n < EVAL_ORIGIN_SAMPLES
				       ? c[i].n
				       : (size_t)EVAL_ORIGIN_SAMPLES);
		}
		if (!c[i].relative && c[i].counted && c[i].counted < c[i].n) {
			printf("%s: coverage over %zu of %zu samples (no "
			       "bound known for the rest)\n",
			       c[i].label, c[i].counted, c[i].n);
		}
	}
}

/* @ns in the largest unit that keeps it >= 1: "1.7 µs", "16 s". */
static void fmt_ns(double ns, char *buf, size_t len)
{
	static const struct {
		double div;
		const char *unit;
	} u[] = { { 1e9, "s" }, { 1e6, "ms" }, { 1e3, "µs" }, { 1, "ns" } };
	size_t i = 0;

	while (i < 3 && fabs(ns) < u[i].div) {
		i++;
	}
	snprintf(buf, len, "%.3g %s", ns / u[i].div, u[i].unit);
}

/*
 * The bands' label, for the legend: what they are (the interval the
 * coverage counts, eval_cover_ns()) and the bound's range in them.
 */
static void band_label(const struct eval_clock *c, size_t n, bool live,
		       char *buf, size_t len)
{
	double lo = INFINITY, hi = -INFINITY;
	char a[24], b[24];

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < c[i].n; j++) {
			if (isfinite(c[i].cover_ns[j])) {
				lo = fmin(lo, c[i].bound_ns[j]);
				hi = fmax(hi, c[i].bound_ns[j]);
			}
		}
	}
	if (lo > hi) {
		snprintf(buf, len, "bound (none known)");
		return;
	}
	fmt_ns(lo, a, sizeof(a));
	fmt_ns(hi, b, sizeof(b));
	snprintf(buf, len,
		 "(bound + window/2 + reference error), the interval coverage "
		 "counts; %s bound %s%s%s",
		 live ? "live" : "given", a, lo < hi ? " .. " : "",
		 lo < hi ? b : "");
}

/* A relative clock's legend says where its offsets are counted from. */
static void series_label(const struct eval_clock *c, char *buf, size_t len)
{
	if (c->relative) {
		snprintf(buf, len,
			 "%s: from the median of its first %d offsets, no band",
			 c->label, EVAL_ORIGIN_SAMPLES);
	} else {
		snprintf(buf, len, "%s", c->label);
	}
}

void eval_plot_series(const struct eval_clock *c, size_t n,
		      struct plot_series *s, char (*labels)[EVAL_LABEL_LEN])
{
	for (size_t i = 0; i < n; i++) {
		series_label(&c[i], labels[i], EVAL_LABEL_LEN);
		s[i] = (struct plot_series){
			.label = labels[i],
			.t_s = c[i].t_s,
			.offset_ns = c[i].off_ns,
			/* the very interval eval_give_bound() counted */
			.band_ns = c[i].relative ? NULL : c[i].cover_ns,
			.n = c[i].n,
		};
	}
}

int eval_plots(const struct eval_clock *c, size_t n, const struct eval_ref *ref,
	       const struct eval_opts *o)
{
	struct plot_series s[EVAL_MAX_CLOCKS];
	char labels[EVAL_MAX_CLOCKS][EVAL_LABEL_LEN];
	struct plot_mark *marks = NULL;
	char note[300], note2[300], bl[160];
	struct plot_spec sp = {
		.title =
			"vhost-user-rtc-probe eval: served clocks vs reference",
		.note = note,
		.note2 = note2,
		.bound_label = bl,
		.series = s,
		.nseries = n,
	};
	int ret = 0;

	snprintf(note, sizeof(note),
		 "reference %s; READ, narrowest of %u per sample", ref->desc,
		 o->burst);
	band_label(c, n, o->live.path, bl, sizeof(bl));
	if (o->live.path && n) {
		sp.nmarks = status_marks(&c[0], NULL, 0);
		marks = calloc(sp.nmarks ? sp.nmarks : 1, sizeof(*marks));
		if (!marks) {
			return -ENOMEM;
		}
		status_marks(&c[0], marks, sp.nmarks);
		sp.marks = marks;
		snprintf(note2, sizeof(note2),
			 "bound and status live from %s (queried every "
			 "250 ms)%s",
			 o->live.path,
			 o->live.failed ? "; the socket failed mid-run" : "");
	} else {
		snprintf(note2, sizeof(note2),
			 "bound %s; status: not exposed by virtio-rtc, not "
			 "marked",
			 o->bound_src);
	}
	eval_plot_series(c, n, s, labels);
	if (o->png && (ret = plot_write(&sp, PLOT_PNG, o->png))) {
		fprintf(stderr, "eval: %s: cannot write the plot\n", o->png);
	}
	if (!ret && o->svg && (ret = plot_write(&sp, PLOT_SVG, o->svg))) {
		fprintf(stderr, "eval: %s: cannot write the plot\n", o->svg);
	}
	free(marks);
	return ret;
}
