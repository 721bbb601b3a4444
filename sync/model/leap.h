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
 * GError domain of leap_table_parse() and leap_table_load(); the codes
 * are errno values: EINVAL malformed, ERANGE number out of range, E2BIG
 * more than 1000 entries, EFBIG text over 1 MiB, ENODATA no data lines
 * or a missing #$ / #@ line, EBADMSG #h mismatch, or open()/read()'s.
 */
#define LEAP_ERROR leap_error_quark()
GQuark leap_error_quark(void);

/*
 * leap_table_parse() - parse leap-seconds.list text.
 * Rejects (NULL, @err set): no data lines, unsorted or duplicate dates
 * (or less than a day apart), DTAI steps other than +-1, malformed or
 * out-of-range numbers (NTP s > 2^34, DTAI > 200), missing #$ or #@,
 * repeated #$/#@/#h lines, more than 1000 entries, NUL bytes, more than
 * 1 MiB, a #h line whose hash does not match. No #h: hash_ok = false.
 */
struct leap_table *leap_table_parse(const char *text, size_t len, GError **err);

/* Read (at most 1 MiB of a regular file) and parse @path. */
struct leap_table *leap_table_load(const char *path, GError **err);

/*
 * Build a table from entries (tests, and fallbacks); copies @e.
 * Returns NULL unless 1 <= @n <= 1000, entries are at least a day
 * (86400 s) apart in ascending order, |dtai| <= 200 and utc_s is within
 * NTP era 0..2^34 s. Steps of any size are allowed.
 */
struct leap_table *leap_table_new(const struct leap_entry *e, size_t n,
				  int64_t expires_utc_s);

void leap_table_free(struct leap_table *t);

/* True if @now_utc_s is at or past the table's expiry (or @t is NULL). */
bool leap_table_expired(const struct leap_table *t, int64_t now_utc_s);

/*
 * TAI - UTC in effect at POSIX time @utc_s (first entry's before it; 0
 * for a NULL @t). O(log n).
 */
int32_t leap_dtai_at_utc(const struct leap_table *t, int64_t utc_s);

#endif /* SYNC_LEAP_H */
