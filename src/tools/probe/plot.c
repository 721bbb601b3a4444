// SPDX-License-Identifier: MIT
/*
 * The eval plot, drawn with cairo.
 */
#include <cairo-svg.h>
#include <cairo.h>
#include <errno.h>
#include <fontconfig/fontconfig.h>
#include <glib.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "plot.h"

/* Plot area inside the surface, in pixels. */
#define M_LEFT 95.0
#define M_RIGHT 30.0
#define M_TOP 80.0
#define M_BOTTOM 65.0

static const double colours[PLOT_MAX_SERIES][3] = {
	{ 0.12, 0.47, 0.71 }, { 0.84, 0.15, 0.16 }, { 0.17, 0.63, 0.17 },
	{ 1.00, 0.50, 0.05 }, { 0.58, 0.40, 0.74 }, { 0.55, 0.34, 0.29 },
	{ 0.89, 0.47, 0.76 }, { 0.50, 0.50, 0.50 },
};

struct frame {
	double x0, x1, y0, y1; /* data ranges: s, ns */
	double px0, px1, py0, py1;
};

static double map_x(const struct frame *f, double x)
{
	return f->px0 + (x - f->x0) / (f->x1 - f->x0) * (f->px1 - f->px0);
}

static double map_y(const struct frame *f, double y)
{
	return f->py1 - (y - f->y0) / (f->y1 - f->y0) * (f->py1 - f->py0);
}

/* A "nice" tick step (1, 2 or 5 x 10^k) for about 8 ticks over @span. */
static double tick_step(double span)
{
	double raw = span / 8, mag = pow(10, floor(log10(raw)));
	double m = raw / mag;

	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * mag;
}

static void text(cairo_t *cr, double x, double y, double size, double align,
		 const char *s)
{
	cairo_text_extents_t e;

	cairo_set_font_size(cr, size);
	cairo_text_extents(cr, s, &e);
	cairo_move_to(cr, x - align * e.width, y);
	cairo_show_text(cr, s);
}

enum band_state {
	BAND_NONE, /* no bound known */
	BAND_OFF,  /* known, off scale everywhere: not drawn */
	BAND_ON,   /* drawn, all of it on scale */
	BAND_PART, /* drawn, clipped where off scale */
};

/* The bands' smallest and largest known values; false if none. */
static bool bound_extent(const struct plot_spec *sp, double *lo, double *hi)
{
	bool any = false;

	for (size_t k = 0; k < sp->nseries; k++) {
		const struct plot_series *s = &sp->series[k];

		for (size_t i = 0; s->band_ns && i < s->n; i++) {
			double b = s->band_ns[i];

			if (!isfinite(b) || b < 0) {
				continue;
			}
			*lo = any ? fmin(*lo, b) : b;
			*hi = any ? fmax(*hi, b) : b;
			any = true;
		}
	}
	return any;
}

/* Data ranges: the offsets with 10 % headroom, and the bound band if it
 * is within 20x the largest offset (otherwise it is noted, off scale). */
static enum band_state ranges(const struct plot_spec *sp, struct frame *f)
{
	double amax = 0, tmax = 0, lo, hi;
	enum band_state st = BAND_NONE;

	for (size_t i = 0; i < sp->nseries; i++) {
		for (size_t j = 0; j < sp->series[i].n; j++) {
			if (isfinite(sp->series[i].offset_ns[j])) {
				amax = fmax(amax,
					    fabs(sp->series[i].offset_ns[j]));
			}
			tmax = fmax(tmax, sp->series[i].t_s[j]);
		}
	}
	if (amax <= 0) {
		amax = 1;
	}
	if (bound_extent(sp, &lo, &hi)) {
		if (hi <= 20 * amax) {
			st = BAND_ON;
			amax = fmax(amax, hi);
		} else if (lo <= 20 * amax) {
			st = BAND_PART;
			amax = fmax(amax, lo);
		} else {
			st = BAND_OFF;
		}
	}
	f->x0 = 0;
	f->x1 = tmax > 0 ? tmax : 1;
	f->y0 = -1.1 * amax;
	f->y1 = 1.1 * amax;
	f->px0 = M_LEFT;
	f->px1 = PLOT_WIDTH - M_RIGHT;
	f->py0 = M_TOP;
	f->py1 = PLOT_HEIGHT - M_BOTTOM;
	return st;
}

/* A series' band, one polygon per run of known values, filled and
 * edged in its colour; values far off scale are clamped first (cairo's
 * fixed point would overflow). */
static void draw_band(cairo_t *cr, const struct frame *f,
		      const struct plot_series *s, const double *rgb)
{
	const double *b = s->band_ns;
	double cap = 2 * f->y1;
	size_t i = 0;

	while (i < s->n) {
		size_t j = i;

		if (!isfinite(b[i]) || b[i] < 0) {
			i++;
			continue;
		}
		while (j < s->n && isfinite(b[j]) && b[j] >= 0) {
			double y = fmin(b[j], cap);

			cairo_line_to(cr, map_x(f, s->t_s[j]), map_y(f, y));
			j++;
		}
		for (size_t k = j; k-- > i;) {
			double y = fmin(b[k], cap);

			cairo_line_to(cr, map_x(f, s->t_s[k]), map_y(f, -y));
		}
		cairo_close_path(cr);
		cairo_new_sub_path(cr);
		i = j;
	}
	cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], 0.10);
	cairo_fill_preserve(cr);
	cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], 0.45);
	cairo_set_line_width(cr, 0.8);
	cairo_stroke(cr);
}

/* Vertical marks with their label along the line, reading upwards. */
static void draw_marks(cairo_t *cr, const struct frame *f,
		       const struct plot_spec *sp)
{
	static const double dash[] = { 5, 4 };
	char buf[96];

	for (size_t i = 0; i < sp->nmarks && i < PLOT_MAX_MARKS; i++) {
		const struct plot_mark *m = &sp->marks[i];
		double x = map_x(f, fmin(fmax(m->t_s, f->x0), f->x1));

		cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
		cairo_set_line_width(cr, 1);
		cairo_set_dash(cr, dash, 2, 0);
		cairo_move_to(cr, x, f->py0);
		cairo_line_to(cr, x, f->py1);
		cairo_stroke(cr);
		cairo_set_dash(cr, NULL, 0, 0);
		snprintf(buf, sizeof(buf), "%s (t=%.1f s)",
			 m->label ? m->label : "", m->t_s);
		cairo_save(cr);
		/* glyphs to the right of the line, or left at the edge */
		cairo_translate(cr, x + 14 < f->px1 ? x + 13 : x - 3,
				f->py1 - 6);
		cairo_rotate(cr, -M_PI / 2);
		text(cr, 0, 0, 11, 0, buf);
		cairo_restore(cr);
	}
}

static void axes(cairo_t *cr, const struct frame *f)
{
	double span = f->y1 - f->y0, unit = 1, step;
	const char *uname = "ns";
	char buf[64];

	if (span > 2e9) {
		unit = 1e9, uname = "s";
	} else if (span > 2e6) {
		unit = 1e6, uname = "ms";
	} else if (span > 2e3) {
		unit = 1e3, uname = "µs";
	}
	cairo_set_line_width(cr, 1);
	step = tick_step(span / unit) * unit;
	for (long k = lround(ceil(f->y0 / step)); (double)k * step <= f->y1;
	     k++) {
		double y = (double)k * step;

		cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
		cairo_move_to(cr, f->px0, map_y(f, y));
		cairo_line_to(cr, f->px1, map_y(f, y));
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0, 0, 0);
		snprintf(buf, sizeof(buf), "%g", y / unit);
		text(cr, f->px0 - 6, map_y(f, y) + 4, 12, 1, buf);
	}
	step = tick_step(f->x1 - f->x0);
	for (long k = 0; (double)k * step <= f->x1 + step / 1000; k++) {
		double x = (double)k * step;

		cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
		cairo_move_to(cr, map_x(f, x), f->py0);
		cairo_line_to(cr, map_x(f, x), f->py1);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0, 0, 0);
		snprintf(buf, sizeof(buf), "%g", x);
		text(cr, map_x(f, x), f->py1 + 18, 12, 0.5, buf);
	}
	cairo_rectangle(cr, f->px0, f->py0, f->px1 - f->px0, f->py1 - f->py0);
	cairo_stroke(cr);
	text(cr, (f->px0 + f->px1) / 2, PLOT_HEIGHT - 18, 14, 0.5,
	     "time since start of the run (s)");
	snprintf(buf, sizeof(buf), "offset from reference (%s)", uname);
	cairo_save(cr);
	cairo_translate(cr, 22, (f->py0 + f->py1) / 2);
	cairo_rotate(cr, -M_PI / 2);
	text(cr, 0, 0, 14, 0.5, buf);
	cairo_restore(cr);
}

/* The legend's line about the bound, also in the SVG's <desc>. */
static void bound_text(const struct plot_spec *sp, enum band_state st,
		       char *buf, size_t len)
{
	const char *l = sp->bound_label ? sp->bound_label : "bound";

	switch (st) {
	case BAND_ON:
		snprintf(buf, len, "shaded, per clock in its colour: ±%s", l);
		break;
	case BAND_PART:
		snprintf(
			buf, len,
			"shaded, per clock in its colour: ±%s (off scale where "
			"it fills the plot)",
			l);
		break;
	case BAND_OFF:
		snprintf(buf, len, "±%s: off scale, not drawn", l);
		break;
	default:
		snprintf(buf, len, "bound: none known, not drawn");
		break;
	}
}

static void draw(cairo_t *cr, const struct plot_spec *sp)
{
	struct frame f;
	enum band_state band = ranges(sp, &f);
	char buf[320];

	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
			       CAIRO_FONT_WEIGHT_NORMAL);
	if (band == BAND_ON || band == BAND_PART) {
		cairo_save(cr);
		cairo_rectangle(cr, f.px0, f.py0, f.px1 - f.px0, f.py1 - f.py0);
		cairo_clip(cr);
		for (size_t i = 0; i < sp->nseries; i++) {
			if (sp->series[i].band_ns) {
				draw_band(cr, &f, &sp->series[i], colours[i]);
			}
		}
		cairo_restore(cr);
	}
	axes(cr, &f);
	draw_marks(cr, &f, sp);
	cairo_set_source_rgb(cr, 0, 0, 0);
	text(cr, PLOT_WIDTH / 2.0, 26, 17, 0.5, sp->title ? sp->title : "");
	text(cr, PLOT_WIDTH / 2.0, 47, 11, 0.5, sp->note ? sp->note : "");
	text(cr, PLOT_WIDTH / 2.0, 63, 11, 0.5, sp->note2 ? sp->note2 : "");
	cairo_save(cr);
	cairo_rectangle(cr, f.px0, f.py0, f.px1 - f.px0, f.py1 - f.py0);
	cairo_clip(cr);
	cairo_set_line_width(cr, 1.2);
	for (size_t i = 0; i < sp->nseries; i++) {
		const struct plot_series *s = &sp->series[i];

		cairo_set_source_rgb(cr, colours[i][0], colours[i][1],
				     colours[i][2]);
		for (size_t j = 0; j < s->n; j++) {
			double x = map_x(&f, s->t_s[j]);
			double y = map_y(&f, s->offset_ns[j]);

			if (!isfinite(s->offset_ns[j])) {
				cairo_new_sub_path(cr);
			} else if (cairo_has_current_point(cr)) {
				cairo_line_to(cr, x, y);
			} else {
				cairo_move_to(cr, x, y);
			}
		}
		cairo_stroke(cr);
	}
	cairo_restore(cr);
	/* legend, top left inside the plot area */
	for (size_t i = 0; i < sp->nseries; i++) {
		double y = f.py0 + 18 + 17.0 * (double)i;

		cairo_set_source_rgb(cr, colours[i][0], colours[i][1],
				     colours[i][2]);
		cairo_rectangle(cr, f.px0 + 12, y - 9, 18, 9);
		cairo_fill(cr);
		cairo_set_source_rgb(cr, 0, 0, 0);
		text(cr, f.px0 + 36, y, 12, 0, sp->series[i].label);
	}
	bound_text(sp, band, buf, sizeof(buf));
	cairo_set_source_rgb(cr, 0.1, 0.4, 0.1);
	text(cr, f.px0 + 12, f.py0 + 18 + 17.0 * (double)sp->nseries, 12, 0,
	     buf);
	if (sp->nmarks > PLOT_MAX_MARKS) {
		snprintf(buf, sizeof(buf),
			 "dashed: status changes, the first %d of %zu drawn",
			 PLOT_MAX_MARKS, sp->nmarks);
	} else if (sp->nmarks) {
		snprintf(buf, sizeof(buf),
			 "dashed: status (at start, then "
			 "changes)");
	}
	if (sp->nmarks) {
		cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
		text(cr, f.px0 + 12,
		     f.py0 + 18 + 17.0 * (double)(sp->nseries + 1), 12, 0, buf);
	}
}

/* The plot's text as lines, for the SVG's <desc>. */
static char *describe(const struct plot_spec *sp)
{
	struct frame f;
	GString *d = g_string_new(NULL);
	char buf[320];

	g_string_append_printf(d, "%s\n%s\n", sp->note ? sp->note : "",
			       sp->note2 ? sp->note2 : "");
	for (size_t i = 0; i < sp->nseries; i++) {
		g_string_append_printf(d, "series: %s\n", sp->series[i].label);
	}
	bound_text(sp, ranges(sp, &f), buf, sizeof(buf));
	g_string_append_printf(d, "%s\n", buf);
	for (size_t i = 0; i < sp->nmarks; i++) {
		g_string_append_printf(d, "mark: %s at t=%.1f s\n",
				       sp->marks[i].label ? sp->marks[i].label
							  : "",
				       sp->marks[i].t_s);
	}
	return g_string_free(d, FALSE);
}

static cairo_status_t to_gstring(void *closure, const unsigned char *data,
				 unsigned int len)
{
	g_string_append_len(closure, (const char *)data, len);
	return CAIRO_STATUS_SUCCESS;
}

/* Write cairo's SVG @svg to @path with <title> and <desc> added after
 * the <svg ...> tag. */
static int write_svg(const struct plot_spec *sp, GString *svg, const char *path)
{
	const char *tag = strstr(svg->str, "<svg");
	const char *end = tag ? strchr(tag, '>') : NULL;
	char *title, *desc, *raw;
	GString *meta;
	bool ok;

	if (!end) {
		return -EIO;
	}
	raw = describe(sp);
	title = g_markup_escape_text(sp->title ? sp->title : "", -1);
	desc = g_markup_escape_text(raw, -1);
	meta = g_string_new(NULL);
	g_string_printf(meta, "\n<title>%s</title>\n<desc>%s</desc>", title,
			desc);
	g_string_insert_len(svg, end - svg->str + 1, meta->str,
			    (gssize)meta->len);
	ok = g_file_set_contents(path, svg->str, (gssize)svg->len, NULL);
	g_string_free(meta, TRUE);
	g_free(raw);
	g_free(title);
	g_free(desc);
	return ok ? 0 : -EIO;
}

int plot_write(const struct plot_spec *spec, enum plot_format fmt,
	       const char *path)
{
	GString *svg = NULL;
	cairo_surface_t *s;
	cairo_status_t st;
	cairo_t *cr;
	int ret;

	if (!spec || !spec->nseries || spec->nseries > PLOT_MAX_SERIES ||
	    (spec->nmarks && !spec->marks)) {
		return -EINVAL;
	}
	if (fmt == PLOT_SVG) {
		svg = g_string_new(NULL);
		s = cairo_svg_surface_create_for_stream(
			to_gstring, svg, PLOT_WIDTH, PLOT_HEIGHT);
	} else {
		s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, PLOT_WIDTH,
					       PLOT_HEIGHT);
	}
	if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(s);
		ret = -EIO;
		goto out;
	}
	cr = cairo_create(s);
	draw(cr, spec);
	st = cairo_status(cr);
	cairo_destroy(cr);
	if (st == CAIRO_STATUS_SUCCESS && fmt == PLOT_PNG) {
		st = cairo_surface_write_to_png(s, path);
	}
	cairo_surface_finish(s);
	if (st == CAIRO_STATUS_SUCCESS) {
		st = cairo_surface_status(s);
	}
	cairo_surface_destroy(s);
	ret = st == CAIRO_STATUS_SUCCESS ? 0 : -EIO;
	if (!ret && svg) {
		ret = write_svg(spec, svg, path);
	}
out:
	if (svg) {
		g_string_free(svg, TRUE);
	}
	return ret;
}

void plot_exit(void)
{
	cairo_debug_reset_static_data();
	FcFini();
}
