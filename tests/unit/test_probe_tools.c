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

static struct plot_spec spec(double bound_ns, struct plot_series *s)
{
	*s = (struct plot_series){
		.label = "clock 0 UTC", .t_s = t, .offset_ns = off, .n = 4
	};
	return (struct plot_spec){ .title = "t",
				   .note = "n",
				   .note2 = "n2",
				   .bound_ns = bound_ns,
				   .bound_label = "bound",
				   .series = s,
				   .nseries = 1 };
}

Test(probe_tools, png_has_the_plot_size_and_is_not_blank)
{
	struct plot_series s;
	struct plot_spec sp = spec(500, &s);
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
	struct plot_spec sp = spec(-1, &s);
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
	struct plot_spec sp = spec(0, &s);

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
static const double band_small_then_large[] = { 400, 400, 1000, 1000, NAN };
static const struct plot_mark marks[] = {
	{ .t_s = 0, .label = "initializing" },
	{ .t_s = 1.5, .label = "synchronized" },
};

static unsigned int band_pixels(cairo_surface_t *img, int x)
{
	const unsigned char *d = cairo_image_surface_get_data(img);
	int stride = cairo_image_surface_get_stride(img);
	unsigned int n = 0;

	for (int y = 0; y < PLOT_HEIGHT; y++) {
		const unsigned char *px = d + y * stride + 4 * x;

		/* the pale green band over white: G above R and B */
		n += px[1] > 235 && px[1] < 250 && px[0] + 6 < px[1] &&
		     px[2] + 6 < px[1];
	}
	return n;
}

Test(probe_tools, varying_band_follows_the_bound)
{
	struct plot_series s;
	struct plot_spec sp = spec(-1, &s);
	struct plot_band b = { .t_s = band_t,
			       .bound_ns = band_small_then_large,
			       .n = 5 };
	char path[128];
	cairo_surface_t *img;
	unsigned int early, late, unknown;
	/* plot x of t: the margins of plot.c, 0..3 s */
	int x_early = 95 + (int)(0.7 / 3 * (PLOT_WIDTH - 125));
	int x_late = 95 + (int)(2.1 / 3 * (PLOT_WIDTH - 125));
	int x_none = 95 + (int)(2.8 / 3 * (PLOT_WIDTH - 125));

	sp.band = &b;
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
	struct plot_spec sp = spec(-1, &s);
	struct plot_band b = { .t_s = band_t,
			       .bound_ns = band_small_then_large,
			       .n = 5 };
	char *text;

	sp.band = &b;
	sp.bound_label = "live bound";
	sp.marks = marks;
	sp.nmarks = 2;
	text = svg_of(&sp, "marks.svg");
	cr_expect(strstr(text, "<svg"), "not an SVG");
	cr_expect(strstr(text, "<title>t</title>"), "no title");
	cr_expect(strstr(text, "mark: initializing at t=0.0 s"), "no mark");
	cr_expect(strstr(text, "mark: synchronized at t=1.5 s"), "no mark");
	cr_expect(strstr(text, "shaded: ±live bound\n"), "band not on scale");
	cr_expect(strstr(text, "series: clock 0 UTC"), "no series");
	free(text);
}

Test(probe_tools, huge_bounds_are_noted_off_scale)
{
	static const double huge[] = { 16e9, 16e9, 16e9, 16e9, 16e9 };
	static const double part[] = { 16e9, 16e9, 500, 500, 500 };
	struct plot_series s;
	struct plot_spec sp = spec(16e9, &s);
	struct plot_band b = { .t_s = band_t, .bound_ns = huge, .n = 5 };
	char path[128];
	char *text;

	/* constant: as before */
	text = svg_of(&sp, "const.svg");
	cr_expect(strstr(text, "±bound: off scale, not drawn"), "constant");
	free(text);
	sp.band = &b;
	text = svg_of(&sp, "huge.svg");
	cr_expect(strstr(text, "±bound: off scale, not drawn"), "varying");
	free(text);
	b.bound_ns = part;
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
	struct plot_spec sp = spec(100, &s);

	sp.nmarks = 1;
	cr_expect_eq(plot_write(&sp, PLOT_SVG, "/tmp/x.svg"), -EINVAL);
}
