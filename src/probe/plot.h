/* SPDX-License-Identifier: MIT */
/*
 * Offset-over-time plots of the probe's eval, drawn with cairo as PNG or
 * SVG: one series per served clock, the ±bound band when a bound is
 * known (or a note saying it is off scale or unknown), axes labelled with
 * units. Single-threaded; no state between calls.
 */
#ifndef PROBE_PLOT_H
#define PROBE_PLOT_H

#include <stddef.h>
#include <stdint.h>

#define PLOT_WIDTH 1200
#define PLOT_HEIGHT 700
#define PLOT_MAX_SERIES 8

struct plot_series {
	const char *label; /* legend text, e.g. "clock 0 UTC" */
	const double *t_s; /* time since the start of the run, s */
	const double *offset_ns;
	size_t n;
};

struct plot_spec {
	const char *title;
	const char *note;  /* second title line (the reference) */
	const char *note2; /* third title line (the bound's source) */
	double bound_ns;   /* < 0: no bound known */
	const char *bound_label;
	const struct plot_series *series;
	size_t nseries; /* <= PLOT_MAX_SERIES */
};

enum plot_format {
	PLOT_PNG,
	PLOT_SVG,
};

/*
 * plot_write() - draw @spec into @path (PLOT_WIDTH x PLOT_HEIGHT pixels
 * for PNG, points for SVG). Returns 0, -EINVAL for an empty or oversized
 * spec, or -EIO when cairo cannot write the file.
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
