/* SPDX-License-Identifier: MIT */
/*
 * Leap-second table: IERS leap-seconds.list (as shipped by tzdata), with
 * its SHA-1 hash (#h) checked and its expiry (#@) known.
 */
#ifndef SYNC_LEAP_H
#define SYNC_LEAP_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEAP_DEFAULT_PATH "/usr/share/zoneinfo/leap-seconds.list"

/* Difference between the NTP (1900) and POSIX (1970) epochs, s. */
#define LEAP_NTP_UNIX_OFFSET 2208988800LL

struct leap_entry {
	int64_t utc_s; /* POSIX time from which dtai applies (a midnight) */
	int32_t dtai;  /* TAI - UTC from utc_s on, s */
};

struct leap_table {
	int64_t updated_utc_s; /* #$ line, POSIX s */
	int64_t expires_utc_s; /* #@ line, POSIX s */
	bool hash_ok;	       /* #h present and matching */
	size_t n;	       /* entries, ascending utc_s, n >= 1 */
	struct leap_entry e[];
};

/*
 * leap_table_parse() - parse leap-seconds.list text.
 * Rejects (NULL, @err set): no data lines, unsorted or duplicate dates,
 * DTAI steps other than +-1, malformed numbers, missing #@, more than
 * 1000 entries, a #h line whose hash does not match.
 */
struct leap_table *leap_table_parse(const char *text, size_t len,
				    GError **err);

/* Read and parse @path. */
struct leap_table *leap_table_load(const char *path, GError **err);

/* Build a table from entries (tests, and fallbacks); copies @e. */
struct leap_table *leap_table_new(const struct leap_entry *e, size_t n,
				  int64_t expires_utc_s);

void leap_table_free(struct leap_table *t);

/* True if @now_utc_s is at or past the table's expiry. */
bool leap_table_expired(const struct leap_table *t, int64_t now_utc_s);

/* TAI - UTC in effect at POSIX time @utc_s (first entry's before it). */
int32_t leap_dtai_at_utc(const struct leap_table *t, int64_t utc_s);

#endif /* SYNC_LEAP_H */
