// SPDX-License-Identifier: MIT
/*
 * The probe's helpers without a daemon: the plot writer (PNG read back
 * with cairo, SVG, bad specs) and the bound taken from a daemon log.
 */
#include <cairo.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
