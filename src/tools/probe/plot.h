/* SPDX-License-Identifier: MIT */
/*
 * Offset-over-time plots of the probe's eval, drawn with cairo as PNG or
 * SVG: one series per served clock, each with its own shaded band, ±the
 * per-sample interval the caller counts coverage against, in the series'
 * colour (or a note saying it is off scale or unknown), vertical marks
 * where the daemon's status changed,
 * axes labelled with units. The SVG also carries the plot's text in its
 * <title> and <desc> (cairo draws text as glyph outlines), so it can be
 * searched. Single-threaded; no state between calls.
 */
#ifndef PROBE_PLOT_H
#define PROBE_PLOT_H

#include <stddef.h>
#include <stdint.h>

#define PLOT_WIDTH 1200
#define PLOT_HEIGHT 700
#define PLOT_MAX_SERIES 8
#define PLOT_MAX_MARKS 24 /* drawn; the legend counts the rest */

struct plot_series {
	const char *label; /* legend text, e.g. "clock 0 UTC" */
	const double *t_s; /* time since the start of the run, s, ascending */
	const double *offset_ns; /* NAN: not drawn */
	/* the band: ±band_ns[i] at t_s[i], NAN where none; NULL: none */
	const double *band_ns;
	size_t n;
};

/* A vertical mark, e.g. where the daemon's status changed. */
struct plot_mark {
	double t_s;	   /* s since the start of the run */
	const char *label; /* e.g. "synchronized"; the time is added */
};

struct plot_spec {
	const char *title;
	const char *note;  /* second title line (the reference) */
	const char *note2; /* third title line (the bound's source) */
	/* what the bands are, for the legend: "shaded: ±LABEL" */
	const char *bound_label;
	const struct plot_mark *marks; /* in time order, or NULL */
	size_t nmarks;
	const struct plot_series *series;
	size_t nseries; /* <= PLOT_MAX_SERIES */
};

enum plot_format {
	PLOT_PNG,
	PLOT_SVG,
};

/*
 * plot_write() - draw @spec into @path (PLOT_WIDTH x PLOT_HEIGHT pixels
 * for PNG, points for SVG). Bands too large for the offsets' scale (more
 * than 20x the largest offset) are not drawn and the legend says so;
 * ones partly on scale are drawn clipped. Returns 0, -EINVAL for
 * an empty or oversized spec, or -EIO when the file cannot be written.
 */
int plot_write(const struct plot_spec *spec, enum plot_format fmt,
	       const char *path);

/*
 * plot_exit() - free cairo's and fontconfig's process-wide caches, so a
 * leak checker sees none at exit. Call once, after the last plot_write(),
 * with no cairo object alive.
 */
void plot_exit(void);

#endif /* PROBE_PLOT_H */
