/* SPDX-License-Identifier: MIT */
/*
 * Leap merge: one effective leap table from the leap-seconds.list file
 * and what the time sources say (source_health: TAI - UTC, an announced
 * leap, with their leap_authority).
 *
 * Authority, most trusted first, and why:
 *   1. the file's table while current (not expired): the IERS bulletin
 *      itself, checked by its hash, independent of any network;
 *   2. LEAP_AUTH_PTP_TRACEABLE: a grandmaster that says its UTC offset is
 *      valid and traceable to a primary reference (GNSS or a lab);
 *   3. LEAP_AUTH_PTP: valid but not traceable (a free-running or
 *      hand-set grandmaster can carry a stale offset);
 *   4. LEAP_AUTH_NTP: chronyd's leap status, voted from its servers or
 *      its own (possibly older) leap file; announces, gives no offset;
 *   5. LEAP_AUTH_GNSS: the receiver's almanac; right, but can lag by up
 *      to 12.5 min after a cold start and gpsd may not pass it on;
 *   6. LEAP_AUTH_KERNEL: adjtimex TAI offset and STA_INS/STA_DEL, only as
 *      good as whoever set them (often nobody: offset 0);
 *   7. the file's table after it expired: still right about the past,
 *      blind to leaps announced since.
 * The effective table is the file's while it is current, or while no
 * view more authoritative than the expired table disagrees with it.
 * Otherwise it is a derived table: the file's entries plus an entry at
 * the next UTC midnight for an announced leap the table lacks, and an
 * entry at today's UTC midnight when the most authoritative TAI - UTC
 * now differs from the table's. TAI - UTC and the announcement are each
 * taken from the most authoritative view that gives them.
 *
 * Derived tables stay allocated until leap_merge_free(): published
 * snapshots point at them.
 *
 * Logging: every new disagreement, once (who says what, which wins).
 * Thread/loop: the discipline's (the daemon's main loop).
 */
#ifndef SYNC_LEAPMERGE_H
#define SYNC_LEAPMERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leap.h"
#include "source.h"

/* One source's leap view (from its source_health). */
struct leap_view {
	const char *name; /* for the log: "PHC", "chronyd" */
	enum leap_authority auth;
	bool tai_utc_known;
	int32_t tai_utc_s;
	bool leap_known;
	enum source_leap leap;
};

/* The merge's result now. */
struct leap_merge_state {
	int32_t tai_utc_s;	  /* TAI - UTC now, s */
	enum source_leap pending; /* leap at the end of today (UTC) */
	const char *from;	  /* "leap-seconds.list", or the view's name */
	bool derived;		  /* the effective table is a derived one */
	int64_t file_expires_utc_s; /* the file's #@ expiry, POSIX s */
};

struct leap_merge;

/*
 * leap_merge_new() - a merge starting from the file's table @file
 * (required, must outlive the merge). Returns NULL only with errno
 * EINVAL for a NULL @file.
 */
struct leap_merge *leap_merge_new(const struct leap_table *file);

/* Frees every derived table; NULL is a no-op. */
void leap_merge_free(struct leap_merge *lm);

/*
 * leap_merge_set_file() - a new file table @file (re-read on SIGHUP;
 * must outlive the merge, as must the old one: published snapshots may
 * point at it). The next leap_merge_update() decides against it; until
 * then the effective table is @file. Returns 0, or -EINVAL for NULL.
 */
int leap_merge_set_file(struct leap_merge *lm, const struct leap_table *file);

/* The table in effect now (the file's, or the latest derived one). */
const struct leap_table *leap_merge_table(const struct leap_merge *lm);

/*
 * leap_merge_update() - merge @n views (names must stay valid until the
 * next update) at POSIX time @now_utc_s.
 * Returns 1 when the effective table changed (leap_merge_table() gives
 * the new one), 0 if not, -ENOMEM.
 */
int leap_merge_update(struct leap_merge *lm, const struct leap_view *v,
		      size_t n, int64_t now_utc_s);

/* The effective TAI - UTC, pending leap and where they came from. */
void leap_merge_get(const struct leap_merge *lm, int64_t now_utc_s,
		    struct leap_merge_state *out);

/* "PTP traceable", "kernel", ..., for logs and status. */
const char *leap_authority_name(enum leap_authority a);

#endif /* SYNC_LEAPMERGE_H */
