// SPDX-License-Identifier: MIT
/* The leap merge; the rules and their reasons are in leapmerge.h. */
#define G_LOG_DOMAIN "vrtc-sync"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "leapmerge.h"

#define DAY_S 86400LL
#define FILE_NAME "leap-seconds.list"

struct leap_merge {
	const struct leap_table *file;
	const struct leap_table *cur; /* file, or one of derived */
	GPtrArray *derived;	      /* struct leap_table *, owned */
	const char *from;	      /* who the effective table follows */
	char logged[320];	      /* last disagreement logged */
};

const char *leap_authority_name(enum leap_authority a)
{
	switch (a) {
	case LEAP_AUTH_NONE:
		return "none";
	case LEAP_AUTH_KERNEL:
		return "kernel";
	case LEAP_AUTH_GNSS:
		return "GNSS";
	case LEAP_AUTH_NTP:
		return "NTP";
	case LEAP_AUTH_PTP:
		return "PTP";
	case LEAP_AUTH_PTP_TRACEABLE:
		return "PTP traceable";
	}
	return "?";
}

struct leap_merge *leap_merge_new(const struct leap_table *file)
{
	struct leap_merge *lm;

	if (!file) {
		errno = EINVAL;
		return NULL;
	}
	lm = g_new0(struct leap_merge, 1);
	lm->file = file;
	lm->cur = file;
	lm->from = FILE_NAME;
	lm->derived =
		g_ptr_array_new_with_free_func((GDestroyNotify)leap_table_free);
	return lm;
}

void leap_merge_free(struct leap_merge *lm)
{
	if (!lm) {
		return;
	}
	g_ptr_array_unref(lm->derived);
	g_free(lm);
}

int leap_merge_set_file(struct leap_merge *lm, const struct leap_table *file)
{
	if (!lm || !file) {
		return -EINVAL;
	}
	lm->file = file;
	lm->cur = file;
	lm->from = FILE_NAME;
	lm->logged[0] = '\0';
	return 0;
}

const struct leap_table *leap_merge_table(const struct leap_merge *lm)
{
	return lm->cur;
}

static int64_t midnight(int64_t t)
{
	int64_t r = t % DAY_S;

	return t - (r < 0 ? r + DAY_S : r);
}

/* The leap at the end of the day starting at @today in @t. */
static enum source_leap table_leap(const struct leap_table *t, int64_t today)
{
	int32_t d = leap_dtai_at_utc(t, today + DAY_S) -
		    leap_dtai_at_utc(t, today + DAY_S - 1);

	return d > 0   ? SOURCE_LEAP_INSERT
	       : d < 0 ? SOURCE_LEAP_DELETE
		       : SOURCE_LEAP_NONE;
}

static const char *leap_name(enum source_leap l)
{
	return l == SOURCE_LEAP_INSERT	 ? "a leap second (insert)"
	       : l == SOURCE_LEAP_DELETE ? "a leap second (delete)"
					 : "no leap";
}

/* The most authoritative view giving TAI - UTC (@dtai) or a leap. */
static const struct leap_view *best_view(const struct leap_view *v, size_t n,
					 bool dtai)
{
	const struct leap_view *b = NULL;

	for (size_t i = 0; i < n; i++) {
		bool has = dtai ? v[i].tai_utc_known : v[i].leap_known;

		if (has && v[i].auth > LEAP_AUTH_NONE &&
		    (!b || v[i].auth > b->auth)) {
			b = &v[i];
		}
	}
	return b;
}

static void log_once(struct leap_merge *lm, const char *msg)
{
	if (!strcmp(msg, lm->logged)) {
		return;
	}
	snprintf(lm->logged, sizeof(lm->logged), "%s", msg);
	if (msg[0]) {
		g_message("leap: %s", msg);
	}
}

static bool same_table(const struct leap_table *a, const struct leap_entry *e,
		       size_t n)
{
	if (a->n != n) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (a->e[i].utc_s != e[i].utc_s || a->e[i].dtai != e[i].dtai) {
			return false;
		}
	}
	return true;
}

/* The file's entries before @until, then TAI - UTC @dtai from @today and
 * @leap at the next midnight when they differ from the file's. */
static int derive(struct leap_merge *lm, int64_t today, int32_t dtai,
		  bool set_dtai, enum source_leap leap)
{
	const struct leap_table *f = lm->file;
	struct leap_entry *e = g_new(struct leap_entry, f->n + 2);
	int64_t until = set_dtai ? today : today + DAY_S;
	struct leap_table *t;
	size_t n = 0;
	int r = 1;

	for (size_t i = 0; i < f->n && f->e[i].utc_s < until; i++) {
		e[n++] = f->e[i];
	}
	if (set_dtai || n == 0) {
		e[n++] = (struct leap_entry){ today, dtai };
	}
	if (leap != SOURCE_LEAP_NONE) {
		e[n++] = (struct leap_entry){
			today + DAY_S,
			dtai + (leap == SOURCE_LEAP_INSERT ? 1 : -1),
		};
	}
	if (lm->cur != lm->file && same_table(lm->cur, e, n)) {
		r = 0;
		goto out;
	}
	t = leap_table_new(e, n, f->expires_utc_s);
	if (!t) {
		r = -ENOMEM;
		goto out;
	}
	g_ptr_array_add(lm->derived, t);
	lm->cur = t;
out:
	g_free(e);
	return r;
}

int leap_merge_update(struct leap_merge *lm, const struct leap_view *v,
		      size_t n, int64_t now_utc_s)
{
	const struct leap_view *bd = best_view(v, n, true);
	const struct leap_view *bl = best_view(v, n, false);
	bool current = !leap_table_expired(lm->file, now_utc_s);
	int64_t today = midnight(now_utc_s);
	int32_t fdtai = leap_dtai_at_utc(lm->file, now_utc_s);
	enum source_leap fleap = table_leap(lm->file, today);
	bool dis_dtai = bd && bd->tai_utc_s != fdtai;
	bool dis_leap = bl && bl->leap != fleap;
	char msg[320] = "", *p = msg;
	const char *winner;
	int r;

	winner = current || (!dis_dtai && !dis_leap) ? FILE_NAME
		 : dis_dtai			     ? bd->name
						     : bl->name;
	if (dis_dtai) {
		p += snprintf(p, sizeof(msg) / 2,
			      "%s (%s) says TAI-UTC %d s, %s%s %d s; ",
			      bd->name, leap_authority_name(bd->auth),
			      bd->tai_utc_s, FILE_NAME,
			      current ? "" : " (expired)", fdtai);
	}
	if (dis_leap) {
		p += snprintf(p, sizeof(msg) / 2,
			      "%s (%s) announces %s tonight, %s%s %s; ",
			      bl->name, leap_authority_name(bl->auth),
			      leap_name(bl->leap), FILE_NAME,
			      current ? "" : " (expired)", leap_name(fleap));
	}
	if (p != msg) {
		snprintf(p, sizeof(msg) - (size_t)(p - msg), "%s wins", winner);
	}
	log_once(lm, msg);
	if (current || (!dis_dtai && !dis_leap)) {
		r = lm->cur != lm->file;
		lm->cur = lm->file;
		lm->from = FILE_NAME;
		return r;
	}
	lm->from = winner;
	return derive(lm, today, dis_dtai ? bd->tai_utc_s : fdtai, dis_dtai,
		      bl ? bl->leap : fleap);
}

void leap_merge_get(const struct leap_merge *lm, int64_t now_utc_s,
		    struct leap_merge_state *out)
{
	out->tai_utc_s = leap_dtai_at_utc(lm->cur, now_utc_s);
	out->pending = table_leap(lm->cur, midnight(now_utc_s));
	out->from = lm->from;
	out->derived = lm->cur != lm->file;
	out->file_expires_utc_s = lm->file->expires_utc_s;
}
