/* SPDX-License-Identifier: MIT */
/*
 * libvrtc's handle, shared by its files (not installed).
 */
#ifndef LIBVRTC_VRTC_INTERNAL_H
#define LIBVRTC_VRTC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vrtc.h"

struct vrtc {
	enum vrtc_mode mode; /* HOST or GUEST once open */
	enum vrtc_timescale ts;
	uint64_t max_age_ns;
	const void *map; /* the page, read-only */
	size_t len;
	int phc_fd; /* guest: the served PHC; -1 on the host */
	/* ClockBound segment (vrtc_clockbound_write()) */
	void *cb_map;
	char *cb_path;
	uint64_t cb_marker; /* the last disruption marker written */
	int cb_have_marker;
	/* the last write with a bound: kept while the page cannot be read */
	struct timespec cb_good_asof, cb_good_void;
	int64_t cb_good_bound;
	int cb_have_good;
};

/*
 * vrtc_now_sys() - vrtc_now() and this system's CLOCK_REALTIME at the
 * same instant (@sys_ns, within @sys_window_ns).
 */
int vrtc_now_sys(struct vrtc *v, struct vrtc_time *t, int64_t *sys_ns,
		 uint64_t *sys_window_ns);

/*
 * vrtc_phc_read() - the PHC @fd with PTP_SYS_OFFSET_EXTENDED: the
 * narrowest of a few samples. Returns 0 or -EIO.
 */
int vrtc_phc_read(int fd, int64_t *phc_ns, int64_t *sys_ns,
		  uint64_t *window_ns);

/* Unmap the ClockBound segment, if any. */
void vrtc_cb_close(struct vrtc *v);

#endif /* LIBVRTC_VRTC_INTERNAL_H */
