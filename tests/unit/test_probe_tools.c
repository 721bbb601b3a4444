// SPDX-License-Identifier: MIT
/*
 * The probe's helpers without a daemon: the plot writer (PNG read back
 * with cairo, SVG, bad specs, a band following a varying bound, status
 * marks, bounds off scale) and the bound taken from a daemon log.
 */
#include <cairo.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/eval.h"
#include "probe/plot.h"

static char dir[] = "/tmp/vrtc-probe-unit-XXXXXX";

static void setup(void)
{
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[64];

	plot_exit();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(probe_tools, .init = setup, .fini = teardown);

static const double t[] = { 0, 1, 2, 3 };
static const double off[] = { -120, 40, 300, -80 };
static const double band500[] = { 500, 500, 500, 500 };
static const double band100[] = { 100, 100, 100, 100 };
static const double band16s[] = { 16e9, 16e9, 16e9, 16e9 };

/* One series, with the band @band (4 values, or NULL: none). */
static struct plot_spec spec(const double *band, struct plot_series *s)
{
	*s = (struct plot_series){ .label = "clock 0 UTC",
				   .t_s = t,
				   .offset_ns = off,
				   .band_ns = band,
				   .n = 4 };
	return (struct plot_spec){ .title = "t",
				   .note = "n",
				   .note2 = "n2",
				   .bound_label = "bound",
				   .series = s,
				   .nseries = 1 };
}

Test(probe_tools, png_has_the_plot_size_and_is_not_blank)
{
	struct plot_series s;
	struct plot_spec sp = spec(band500, &s);
	char path[128];
	cairo_surface_t *img;
	unsigned int coloured = 0;

	snprintf(path, sizeof(path), "%s/p.png", dir);
	cr_assert_eq(plot_write(&sp, PLOT_PNG, path), 0);
	img = cairo_image_surface_create_from_png(path);
	cr_assert_eq(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
	cr_expect_eq(cairo_image_surface_get_width(img), PLOT_WIDTH);
	cr_expect_eq(cairo_image_surface_get_height(img), PLOT_HEIGHT);
	/* the series colour (blue) must appear somewhere */
	cairo_surface_flush(img);
	const unsigned char *d = cairo_image_surface_get_data(img);
	int stride = cairo_image_surface_get_stride(img);

	for (int y = 0; y < PLOT_HEIGHT; y++) {
		for (int x = 0; x < PLOT_WIDTH; x++) {
			const unsigned char *px = d + y * stride + 4 * x;

			/* BGRx: strongly blue, not grey */
			coloured += px[0] > 150 && px[2] < 80;
		}
	}
	cr_expect_gt(coloured, 50, "%u blue pixels", coloured);
	cairo_surface_destroy(img);
}

Test(probe_tools, svg_is_written)
{
	struct plot_series s;
	struct plot_spec sp = spec(NULL, &s);
	char path[128], buf[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/p.svg", dir);
	cr_assert_eq(plot_write(&sp, PLOT_SVG, path), 0);
	f = fopen(path, "r");
	cr_assert(f);
	cr_expect_gt(fread(buf, 1, sizeof(buf) - 1, f), 0);
	fclose(f);
	cr_expect(strstr(buf, "<svg"), "%s", buf);
}

Test(probe_tools, bad_specs_and_paths_fail)
{
	struct plot_series s;
	struct plot_spec sp = spec(NULL, &s);

	sp.nseries = 0;
	cr_expect_eq(plot_write(&sp, PLOT_PNG, "/tmp/x.png"), -EINVAL);
	sp.nseries = PLOT_MAX_SERIES + 1;
	cr_expect_eq(plot_write(&sp, PLOT_PNG, "/tmp/x.png"), -EINVAL);
	sp.nseries = 1;
	cr_expect_eq(plot_write(&sp, PLOT_PNG, "/nonexistent/dir/x.png"), -EIO);
}

static int bound_of(const char *text, uint64_t *b)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/daemon.log", dir);
	f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
	return eval_bound_from_log(path, b);
}

Test(probe_tools, bound_is_the_last_one_logged)
{
	uint64_t b = 0;

	cr_expect_eq(
		bound_of("system clock feed: initializing, maxerr 16000015021 "
			 "ns\n"
			 "following phc: model synchronized, bound 1200 ns\n"
			 "following phc: model freerunning, bound 3400 ns\n",
			 &b),
		0);
	cr_expect_eq(b, 3400);
	cr_expect_eq(
		bound_of("system clock feed: freerunning, maxerr 77 ns\n", &b),
		0);
	cr_expect_eq(b, 77);
}

Test(probe_tools, logs_without_a_bound_are_rejected)
{
	uint64_t b = 42;

	cr_expect_eq(bound_of("", &b), -ENOENT);
	cr_expect_eq(bound_of("bound x ns\nmaxerr 12 s\nbound "
			      "99999999999999999999999 ns\n",
			      &b),
		     -ENOENT);
	cr_expect_eq(b, 42);
	cr_expect_eq(eval_bound_from_log("/nonexistent/log", &b), -ENOENT);
}

/* A bound of 400 ns to t = 1.4 s, 1000 ns from 1.6 s, unknown after
 * 2.6 s. */
static const double band_t[] = { 0, 1.4, 1.6, 2.6, 3 };
static const double band_off[] = { -120, 40, 300, -80, 10 };
static const double band_small_then_large[] = { 400, 400, 1000, 1000, NAN };
static const struct plot_mark marks[] = {
	{ .t_s = 0, .label = "initializing" },
	{ .t_s = 1.5, .label = "synchronized" },
};

/* The first series' pale blue band over white: B above R, not white. */
static bool band_px(const unsigned char *px)
{
	return px[2] > 215 && px[0] > px[2] + 6 && px[0] < 252;
}

static unsigned int band_pixels(cairo_surface_t *img, int x)
{
	const unsigned char *d = cairo_image_surface_get_data(img);
	int stride = cairo_image_surface_get_stride(img);
	unsigned int n = 0;

	for (int y = 0; y < PLOT_HEIGHT; y++) {
		n += band_px(d + y * stride + 4 * x);
	}
	return n;
}

/* The 5-sample series of the band tests, with band @b. */
static struct plot_spec spec5(const double *b, struct plot_series *s)
{
	struct plot_spec sp = spec(NULL, s);

	*s = (struct plot_series){ .label = "clock 0 UTC",
				   .t_s = band_t,
				   .offset_ns = band_off,
				   .band_ns = b,
				   .n = 5 };
	return sp;
}

Test(probe_tools, varying_band_follows_the_bound)
{
	struct plot_series s;
	struct plot_spec sp = spec5(band_small_then_large, &s);
	char path[128];
	cairo_surface_t *img;
	unsigned int early, late, unknown;
	/* plot x of t: the margins of plot.c, 0..3 s */
	int x_early = 95 + (int)(0.7 / 3 * (PLOT_WIDTH - 125));
	int x_late = 95 + (int)(2.1 / 3 * (PLOT_WIDTH - 125));
	int x_none = 95 + (int)(2.8 / 3 * (PLOT_WIDTH - 125));

	sp.marks = marks;
	sp.nmarks = 2;
	snprintf(path, sizeof(path), "%s/band.png", dir);
	cr_assert_eq(plot_write(&sp, PLOT_PNG, path), 0);
	img = cairo_image_surface_create_from_png(path);
	cr_assert_eq(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
	cr_expect_eq(cairo_image_surface_get_width(img), PLOT_WIDTH);
	cr_expect_eq(cairo_image_surface_get_height(img), PLOT_HEIGHT);
	cairo_surface_flush(img);
	early = band_pixels(img, x_early);
	late = band_pixels(img, x_late);
	unknown = band_pixels(img, x_none);
	/* 1000 ns spans about 2.5x the pixels of 400 ns */
	cr_expect_gt(early, 50, "%u band pixels at t=0.7", early);
	cr_expect_gt(late, 2 * early, "%u vs %u", late, early);
	cr_expect_lt(unknown, 5, "%u band pixels at t=2.8", unknown);
	cairo_surface_destroy(img);
}

static char *svg_of(const struct plot_spec *sp, const char *name)
{
	char path[128];
	char *buf = calloc(1, 1 << 20);
	FILE *f;

	cr_assert(buf);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_eq(plot_write(sp, PLOT_SVG, path), 0);
	f = fopen(path, "r");
	cr_assert(f);
	cr_expect_gt(fread(buf, 1, (1 << 20) - 1, f), 0);
	fclose(f);
	return buf;
}

Test(probe_tools, svg_names_the_marks_and_the_band)
{
	struct plot_series s;
	struct plot_spec sp = spec5(band_small_then_large, &s);
	char *text;

	sp.bound_label = "live bound";
	sp.marks = marks;
	sp.nmarks = 2;
	text = svg_of(&sp, "marks.svg");
	cr_expect(strstr(text, "<svg"), "not an SVG");
	cr_expect(strstr(text, "<title>t</title>"), "no title");
	cr_expect(strstr(text, "mark: initializing at t=0.0 s"), "no mark");
	cr_expect(strstr(text, "mark: synchronized at t=1.5 s"), "no mark");
	cr_expect(
		strstr(text, "shaded, per clock in its colour: ±live bound\n"),
		"band not on scale");
	cr_expect(strstr(text, "series: clock 0 UTC"), "no series");
	free(text);
}

Test(probe_tools, huge_bounds_are_noted_off_scale)
{
	static const double huge[] = { 16e9, 16e9, 16e9, 16e9, 16e9 };
	static const double part[] = { 16e9, 16e9, 500, 500, 500 };
	struct plot_series s;
	struct plot_spec sp = spec(band16s, &s);
	char path[128];
	char *text;

	text = svg_of(&sp, "const.svg");
	cr_expect(strstr(text, "±bound: off scale, not drawn"), "constant");
	free(text);
	sp = spec5(huge, &s);
	text = svg_of(&sp, "huge.svg");
	cr_expect(strstr(text, "±bound: off scale, not drawn"), "varying");
	free(text);
	sp = spec5(part, &s);
	text = svg_of(&sp, "part.svg");
	cr_expect(strstr(text, "off scale where it fills the plot"), "part");
	free(text);
	/* the PNG too: cairo must not choke on 16 s at a 300 ns scale */
	snprintf(path, sizeof(path), "%s/part.png", dir);
	cr_expect_eq(plot_write(&sp, PLOT_PNG, path), 0);
}

Test(probe_tools, marks_without_an_array_are_rejected)
{
	struct plot_series s;
	struct plot_spec sp = spec(band100, &s);

	sp.nmarks = 1;
	cr_expect_eq(plot_write(&sp, PLOT_SVG, "/tmp/x.svg"), -EINVAL);
}

/* A clock of @n samples at t = j s in caller-owned arrays. */
struct fake_clock {
	struct eval_clock c;
	double t[32], off[32], bound[32], cover[32];
	struct eval_sample s[32];
};

static void fake_clock_init(struct fake_clock *f, bool relative)
{
	memset(f, 0, sizeof(*f));
	f->c.relative = relative;
	snprintf(f->c.label, sizeof(f->c.label), "clock %d %s",
		 relative ? 2 : 0, relative ? "MONOTONIC (relative)" : "UTC");
	f->c.t_s = f->t;
	f->c.off_ns = f->off;
	f->c.bound_ns = f->bound;
	f->c.cover_ns = f->cover;
	f->c.s = f->s;
	f->c.cap = 32;
}

/* Sample @j: raw offset @raw_ns, read window @win_ns, ref error @err_ns. */
static void fake_sample(struct fake_clock *f, int64_t raw_ns, uint64_t win_ns,
			uint64_t err_ns)
{
	size_t j = f->c.n++;

	f->s[j] = (struct eval_sample){ .raw_off_ns = raw_ns,
					.win_ns = win_ns,
					.err_ns = err_ns };
	f->t[j] = (double)j;
	f->off[j] = eval_offset(&f->c, &f->s[j]);
	eval_settle_origin(&f->c, false);
}

/*
 * Coverage counts |offset| <= bound + window/2 + reference error, and the
 * plot's band for that clock is exactly that, sample by sample (not the
 * bare bound); a relative clock, not counted, gets no band.
 */
Test(probe_tools, band_is_the_interval_coverage_counts)
{
	struct fake_clock f, m;
	struct plot_series s[2];
	char labels[2][EVAL_LABEL_LEN];
	struct eval_clock both[2];

	fake_clock_init(&f, false);
	fake_sample(&f, 1100, 1200, 100); /* 400 + 600 + 100: on the edge */
	fake_sample(&f, 1101, 1200, 100); /* 1 ns beyond */
	fake_sample(&f, -500, 0, 0);	  /* beyond the bare bound, ... */
	fake_sample(&f, -399, 0, 0);
	for (size_t j = 0; j < f.c.n; j++) {
		eval_give_bound(&f.c, j, true, 400);
	}
	cr_expect_eq(f.c.counted, 4);
	cr_expect_eq(f.c.covered, 2, "covered %zu", f.c.covered);
	cr_expect_eq(f.cover[0], 1100);
	cr_expect_eq(f.cover[1], 1100);
	cr_expect_eq(f.cover[2], 400);

	fake_clock_init(&m, true);
	for (int j = 0; j < 4; j++) {
		fake_sample(&m, 5000 + j, 1200, 100);
	}
	eval_settle_origin(&m.c, true);
	for (size_t j = 0; j < m.c.n; j++) {
		eval_give_bound(&m.c, j, true, 400);
	}
	cr_expect_eq(m.c.counted, 0);

	both[0] = f.c;
	both[1] = m.c;
	eval_plot_series(both, 2, s, labels);
	cr_assert_not_null(s[0].band_ns);
	for (size_t j = 0; j < f.c.n; j++) {
		double want = 400.0 + (double)f.s[j].win_ns / 2 +
			      (double)f.s[j].err_ns;

		cr_expect_eq(s[0].band_ns[j], want,
			     "sample %zu: band %g, "
			     "coverage interval %g",
			     j, s[0].band_ns[j], want);
	}
	cr_expect_null(s[1].band_ns, "a relative clock has no band");
	cr_expect(strstr(s[1].label, "median of its first"), "%s", s[1].label);
}

/* The drawn band's height is the coverage interval's, not the bound's. */
Test(probe_tools, plotted_band_has_the_coverage_height)
{
	struct fake_clock f;
	struct plot_series s;
	char labels[1][EVAL_LABEL_LEN];
	struct plot_spec sp = spec(NULL, &s);
	char path[128];
	cairo_surface_t *img;
	unsigned int narrow, wide;
	int x_narrow = 95 + (int)(0.7 / 3 * (PLOT_WIDTH - 125));
	int x_wide = 95 + (int)(2.3 / 3 * (PLOT_WIDTH - 125));

	fake_clock_init(&f, false);
	fake_sample(&f, 300, 0, 0);	  /* 400 */
	fake_sample(&f, 300, 0, 0);	  /* 400 */
	fake_sample(&f, -300, 1200, 500); /* 400 + 600 + 500 = 1500 */
	fake_sample(&f, -300, 1200, 500);
	for (size_t j = 0; j < f.c.n; j++) {
		eval_give_bound(&f.c, j, true, 400);
	}
	eval_plot_series(&f.c, 1, &s, labels);
	snprintf(path, sizeof(path), "%s/cover.png", dir);
	cr_assert_eq(plot_write(&sp, PLOT_PNG, path), 0);
	img = cairo_image_surface_create_from_png(path);
	cr_assert_eq(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
	cairo_surface_flush(img);
	narrow = band_pixels(img, x_narrow);
	wide = band_pixels(img, x_wide);
	cairo_surface_destroy(img);
	/* 1500 ns against 400 ns: 3.75x as tall (the bound alone: 1x) */
	cr_expect_gt(narrow, 50, "%u band pixels at the 400 ns end", narrow);
	cr_expect_gt(wide, 3 * narrow, "%u vs %u", wide, narrow);
	cr_expect_lt(wide, 4.5 * narrow, "%u vs %u", wide, narrow);
}

/*
 * MONOTONIC has no epoch: its offsets are counted from the median of its
 * first EVAL_ORIGIN_SAMPLES raw offsets, so a noisy first read does not
 * shift the whole series.
 */
Test(probe_tools, relative_origin_is_robust_to_a_noisy_first_sample)
{
	static const int64_t base = 1700000000000000000LL;
	static const int noise[] = { 30, -20, 10, -40, 0,  25,	-15, 5,
				     45, -35, 15, -5,  20, -25, 35 };
	struct fake_clock m;
	double mx = 0;

	fake_clock_init(&m, true);
	fake_sample(&m, base + 25000, 60000, 0); /* a late, wide read */
	cr_expect(!m.c.origin_set);
	cr_expect(isnan(m.off[0]), "no offset before the origin");
	for (int j = 0; j < 15; j++) {
		fake_sample(&m, base + noise[j], 8000, 0);
	}
	cr_assert(m.c.origin_set, "origin after %d samples",
		  EVAL_ORIGIN_SAMPLES);
	cr_expect_lt(llabs(m.c.first - base), 50, "origin %+lld from base",
		     (long long)(m.c.first - base));
	for (size_t j = 1; j < m.c.n; j++) {
		mx = fmax(mx, fabs(m.off[j]));
	}
	cr_expect_lt(mx, 100, "the series hangs %g ns off", mx);
	cr_expect_gt(m.off[0], 24900, "the noisy read stays visible: %g",
		     m.off[0]);
	fake_sample(&m, base + 7, 8000, 0);
	cr_expect_lt(fabs(m.off[16]), 100, "%g", m.off[16]);

	/* a run shorter than the origin's samples: from all it has */
	fake_clock_init(&m, true);
	fake_sample(&m, base + 25000, 60000, 0);
	fake_sample(&m, base + 10, 8000, 0);
	fake_sample(&m, base - 10, 8000, 0);
	cr_expect(!eval_settle_origin(&m.c, false));
	cr_expect(eval_settle_origin(&m.c, true));
	cr_expect_eq(m.c.first, base + 10);
	cr_expect_eq(m.off[2], -20);
}
