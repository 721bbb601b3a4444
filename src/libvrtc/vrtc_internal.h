/* SPDX-License-Identifier: MIT */
/*
 * libvrtc's handle, shared by its files (not installed).
 */
#ifndef LIBVRTC_VRTC_INTERNAL_H
#define LIBVRTC_VRTC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "vmclock_wire.h"
#include "vrtc.h"

struct vrtc {
	enum vrtc_mode mode; /* HOST or GUEST once open */
	enum vrtc_timescale ts;
	uint64_t max_age_ns;
	const void *map; /* the page, read-only */
	size_t len;
	int phc_fd; /* guest: the served PHC; -1 on the host */
	/* recovery (host): the page file and the identity of the mapped one;
	 * page_path NULL: none (guest, or VRTC_OPEN_NO_RECOVER) */
	char *page_path;
	dev_t page_dev;
	ino_t page_ino;
	/* Shared by concurrent readers (vrtc_handle.c): atomics only. */
	uint32_t map_gen;	/* odd while the mapping is replaced */
	int reopening;		/* one thread checks or reopens at a time */
	uint64_t next_check_ns; /* MONOTONIC_RAW: the next identity check */
	_Alignas(64) uint64_t marker_key; /* the last disruption marker
					     seen, and when */
	int reopened;			  /* a reopen not yet reported */
	uint32_t disruptions;		  /* reported so far */
	int64_t max_earliest_ns;	  /* of trusted readings (INT64_MIN) */
	int have_earliest;		  /* max_earliest_ns holds one */
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
 * vrtc_read() - vrtc_now() with the page copy it was computed from (@f;
 * valid when the copy succeeded) and, if @sys_ns is not NULL, this
 * system's CLOCK_REALTIME at the same instant as vrtc_now_sys() gives it.
 */
int vrtc_read(struct vrtc *v, struct vrtc_time *t, struct vmclock_abi *f,
	      int64_t *sys_ns, uint64_t *sys_window_ns);

/* Map @path read-only (host page file checks if @check_owner), with its
 * identity in @st. vrtc.c. */
int vrtc_map_file(const char *path, int check_owner, const void **map,
		  size_t *len, struct stat *st);

/*
 * vrtc_handle_copy() - vrtc_page_copy() of @v's page, consistent with a
 * concurrent reopen by another thread (vrtc_handle.c); @gen: the
 * mapping's generation it was copied from.
 */
int vrtc_handle_copy(struct vrtc *v, struct vmclock_abi *f, uint32_t *gen);

/*
 * vrtc_handle_check() - at @raw_ns (CLOCK_MONOTONIC_RAW), if a check is
 * due (once a second; after an error, @failed, every 10 ms), compare the
 * page file's identity with the mapped one's and map a new valid page in
 * its place. Returns 1 if it did (read again), else 0. Never blocks on
 * another thread.
 */
int vrtc_handle_check(struct vrtc *v, uint64_t raw_ns, int failed);

/* The highest trusted earliest_ns returned so far: load it before the
 * reading's counter, for vrtc_handle_finish(). */
int64_t vrtc_handle_floor(struct vrtc *v);

/*
 * vrtc_handle_finish() - the handle's promises on a reading @t (return
 * value @r) from page @f of mapping generation @gen, @floor loaded
 * before it: flags, each disruption reported once, earliest_ns never
 * decreasing.
 */
void vrtc_handle_finish(struct vrtc *v, const struct vmclock_abi *f,
			uint32_t gen, int64_t floor, int r,
			struct vrtc_time *t);

/* Seed the disruption marker from the page at open (ignores errors). */
void vrtc_handle_init(struct vrtc *v);

/*
 * vrtc_phc_read() - the PHC @fd with PTP_SYS_OFFSET_EXTENDED: the
 * narrowest of a few samples. Returns 0 or -EIO.
 */
int vrtc_phc_read(int fd, int64_t *phc_ns, int64_t *sys_ns,
		  uint64_t *window_ns);

/* Unmap the ClockBound segment, if any. */
void vrtc_cb_close(struct vrtc *v);

#endif /* LIBVRTC_VRTC_INTERNAL_H */
