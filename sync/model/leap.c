// SPDX-License-Identifier: MIT
/*
 * IERS leap-seconds.list parser.
 *
 * The format (comments in the file itself): '#' starts a comment, except
 * "#$ <NTP s>" (last update), "#@ <NTP s>" (expiry) and "#h <5 hex
 * words>" (SHA-1). Data lines are "<NTP s> <TAI-UTC> [# comment]". The
 * hash is over the digits of the #$ value, of the #@ value and of every
 * data line's two numbers, in that order, whitespace removed.
 *
 * The input is hostile: every number is bounded, the text and the table
 * are capped, and anything not in the format is an error naming its line.
 */
#define G_LOG_DOMAIN "vrtc-sync"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "leap.h"

#define LEAP_MAX_ENTRIES 1000
#define LEAP_MAX_TEXT ((size_t)1024 * 1024)
#define LEAP_MAX_DIGITS 20
/* Bounds keep all later arithmetic far from overflow. */
#define LEAP_NTP_MAX (1LL << 34)	     /* year 2444 */
#define LEAP_UTC_MIN (-LEAP_NTP_UNIX_OFFSET) /* NTP 0 */
#define LEAP_UTC_MAX (LEAP_NTP_MAX - LEAP_NTP_UNIX_OFFSET)
#define LEAP_DTAI_MAX 200
#define LEAP_MIN_GAP_S 86400 /* keeps smear windows apart */

GQuark leap_error_quark(void)
{
	return g_quark_from_static_string("vrtc-leap-error-quark");
}

struct leap_parse {
	unsigned int line;
	bool have_updated, have_expires, have_hash;
	int64_t updated_ntp, expires_ntp;
	char updated_digits[LEAP_MAX_DIGITS + 1];
	char expires_digits[LEAP_MAX_DIGITS + 1];
	uint32_t hash[5];
	GString *data_digits;
	size_t n;
	struct leap_entry e[LEAP_MAX_ENTRIES];
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && is_space(*p)) {
		p++;
	}
	return p;
}

/*
 * Parse an unsigned decimal at *@pp, at most @max, followed by a space,
 * '#' or the end of the line. Copies its digits to @digits (NUL
 * terminated, LEAP_MAX_DIGITS + 1 bytes). Returns 0 or -EINVAL/-ERANGE.
 */
static int parse_uint(const char **pp, const char *end, int64_t max,
		      int64_t *out, char *digits)
{
	const char *p = skip_space(*pp, end);
	int64_t v = 0;
	size_t nd = 0;

	while (p < end && *p >= '0' && *p <= '9') {
		if (nd == LEAP_MAX_DIGITS) {
			return -ERANGE;
		}
		if (v > (max - (*p - '0')) / 10) {
			return -ERANGE;
		}
		v = v * 10 + (*p - '0');
		digits[nd++] = *p++;
	}
	digits[nd] = '\0';
	if (nd == 0 || (p < end && !is_space(*p) && *p != '#')) {
		return -EINVAL;
	}
	*pp = p;
	*out = v;
	return 0;
}

/* Only spaces (or nothing) may follow. */
static bool at_line_end(const char *p, const char *end)
{
	return skip_space(p, end) == end;
}

static int parse_hash(struct leap_parse *st, const char *p, const char *end)
{
	for (int w = 0; w < 5; w++) {
		uint32_t v = 0;
		int nd = 0;

		p = skip_space(p, end);
		while (p < end && g_ascii_isxdigit(*p)) {
			if (nd == 8) {
				return -EINVAL;
			}
			v = v << 4 | (uint32_t)g_ascii_xdigit_value(*p);
			nd++;
			p++;
		}
		if (nd == 0 || (p < end && !is_space(*p))) {
			return -EINVAL;
		}
		st->hash[w] = v;
	}
	return at_line_end(p, end) ? 0 : -EINVAL;
}

static int leap_parse_error(GError **err, int code, const struct leap_parse *st,
			    const char *what)
{
	if (st && st->line) {
		g_set_error(err, LEAP_ERROR, code,
			    "leap-seconds.list line %u: %s", st->line, what);
	} else {
		g_set_error(err, LEAP_ERROR, code, "leap-seconds.list: %s",
			    what);
	}
	return -code;
}

static int parse_stamp(struct leap_parse *st, const char *p, const char *end,
		       bool *have, int64_t *ntp, char *digits, GError **err)
{
	int ret;

	if (*have) {
		return leap_parse_error(err, EINVAL, st,
					"repeated #$ or #@ line");
	}
	ret = parse_uint(&p, end, LEAP_NTP_MAX, ntp, digits);
	if (ret == -ERANGE) {
		return leap_parse_error(err, ERANGE, st, "time out of range");
	}
	if (ret < 0 || !at_line_end(p, end)) {
		return leap_parse_error(err, EINVAL, st, "malformed time");
	}
	*have = true;
	return 0;
}

static int parse_data(struct leap_parse *st, const char *p, const char *end,
		      GError **err)
{
	char d1[LEAP_MAX_DIGITS + 1], d2[LEAP_MAX_DIGITS + 1];
	int64_t ntp = 0, dtai = 0;
	struct leap_entry *e;
	int ret;

	ret = parse_uint(&p, end, LEAP_NTP_MAX, &ntp, d1);
	if (ret == 0) {
		ret = parse_uint(&p, end, LEAP_DTAI_MAX, &dtai, d2);
	}
	if (ret == -ERANGE) {
		return leap_parse_error(err, ERANGE, st, "number out of range");
	}
	p = skip_space(p, end);
	if (ret < 0 || (p < end && *p != '#')) {
		return leap_parse_error(err, EINVAL, st, "malformed data line");
	}
	if (st->n == LEAP_MAX_ENTRIES) {
		return leap_parse_error(err, E2BIG, st,
					"more than 1000 entries");
	}
	e = &st->e[st->n];
	e->utc_s = ntp - LEAP_NTP_UNIX_OFFSET;
	e->dtai = (int32_t)dtai;
	if (st->n > 0) {
		const struct leap_entry *prev = e - 1;

		if (e->utc_s <= prev->utc_s) {
			return leap_parse_error(err, EINVAL, st,
						"unsorted or duplicate date");
		}
		if (e->utc_s - prev->utc_s < LEAP_MIN_GAP_S) {
			return leap_parse_error(
				err, EINVAL, st,
				"less than a day after the previous entry");
		}
		if (e->dtai != prev->dtai + 1 && e->dtai != prev->dtai - 1) {
			return leap_parse_error(err, EINVAL, st,
						"TAI-UTC step is not +-1");
		}
	}
	st->n++;
	g_string_append(st->data_digits, d1);
	g_string_append(st->data_digits, d2);
	return 0;
}

static int parse_line(struct leap_parse *st, const char *p, const char *end,
		      GError **err)
{
	const char *q = skip_space(p, end);

	if (q > p && q < end && *q == '#') {
		return 0; /* indented comment; special lines start at col 1 */
	}
	if (p == end || p[0] != '#') {
		if (at_line_end(p, end)) {
			return 0;
		}
		return parse_data(st, p, end, err);
	}
	if (end - p < 2) {
		return 0;
	}
	switch (p[1]) {
	case '$':
		return parse_stamp(st, p + 2, end, &st->have_updated,
				   &st->updated_ntp, st->updated_digits, err);
	case '@':
		return parse_stamp(st, p + 2, end, &st->have_expires,
				   &st->expires_ntp, st->expires_digits, err);
	case 'h':
		if (st->have_hash) {
			return leap_parse_error(err, EINVAL, st,
						"repeated #h line");
		}
		if (parse_hash(st, p + 2, end) < 0) {
			return leap_parse_error(err, EINVAL, st,
						"malformed #h line");
		}
		st->have_hash = true;
		return 0;
	default:
		return 0; /* comment */
	}
}

static bool hash_matches(const struct leap_parse *st)
{
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA1);
	uint8_t digest[20];
	gsize dlen = sizeof(digest);
	bool ok = true;

	g_checksum_update(sum, (const guchar *)st->updated_digits,
			  (gssize)strlen(st->updated_digits));
	g_checksum_update(sum, (const guchar *)st->expires_digits,
			  (gssize)strlen(st->expires_digits));
	g_checksum_update(sum, (const guchar *)st->data_digits->str,
			  (gssize)st->data_digits->len);
	g_checksum_get_digest(sum, digest, &dlen);
	g_checksum_free(sum);
	for (size_t w = 0; w < 5; w++) {
		const uint8_t *d = digest + 4 * w;
		uint32_t v = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
			     (uint32_t)d[2] << 8 | (uint32_t)d[3];

		ok = ok && v == st->hash[w];
	}
	return ok;
}

static struct leap_table *table_alloc(const struct leap_entry *e, size_t n)
{
	struct leap_table *t;

	t = g_malloc0(sizeof(*t) + n * sizeof(t->e[0]));
	t->n = n;
	memcpy(t->e, e, n * sizeof(t->e[0]));
	return t;
}

static struct leap_table *finish(struct leap_parse *st, GError **err)
{
	struct leap_table *t;

	st->line = 0;
	if (st->n == 0) {
		leap_parse_error(err, ENODATA, st, "no data lines");
		return NULL;
	}
	if (!st->have_updated) {
		leap_parse_error(err, ENODATA, st,
				 "missing #$ (last update) line");
		return NULL;
	}
	if (!st->have_expires) {
		leap_parse_error(err, ENODATA, st, "missing #@ (expiry) line");
		return NULL;
	}
	if (st->have_hash && !hash_matches(st)) {
		leap_parse_error(err, EBADMSG, st,
				 "#h hash does not match the data");
		return NULL;
	}
	t = table_alloc(st->e, st->n);
	t->updated_utc_s = st->updated_ntp - LEAP_NTP_UNIX_OFFSET;
	t->expires_utc_s = st->expires_ntp - LEAP_NTP_UNIX_OFFSET;
	t->hash_ok = st->have_hash;
	return t;
}

struct leap_table *leap_table_parse(const char *text, size_t len, GError **err)
{
	struct leap_parse *st;
	struct leap_table *t = NULL;
	const char *p = text, *end;

	if (!text) {
		len = 0;
	}
	end = text ? text + len : NULL;
	if (len > LEAP_MAX_TEXT) {
		leap_parse_error(err, EFBIG, NULL, "larger than 1 MiB");
		return NULL;
	}
	if (len > 0 && memchr(text, '\0', len)) {
		leap_parse_error(err, EINVAL, NULL, "contains a NUL byte");
		return NULL;
	}
	st = g_new0(struct leap_parse, 1);
	st->data_digits = g_string_new(NULL);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		st->line++;
		if (parse_line(st, p, eol, err) < 0) {
			goto out;
		}
		p = nl ? nl + 1 : end;
	}
	t = finish(st, err);
out:
	g_string_free(st->data_digits, TRUE);
	g_free(st);
	return t;
}

/* Read at most LEAP_MAX_TEXT + 1 bytes of a regular file. */
static int read_capped(int fd, char *buf, size_t cap, size_t *len)
{
	size_t got = 0;

	while (got < cap) {
		ssize_t r = read(fd, buf + got, cap - got);

		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			return -errno;
		}
		if (r == 0) {
			break;
		}
		got += (size_t)r;
	}
	*len = got;
	return 0;
}

struct leap_table *leap_table_load(const char *path, GError **err)
{
	struct leap_table *t = NULL;
	struct stat sb;
	char *buf = NULL;
	size_t len = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ret = errno;
		g_set_error(err, LEAP_ERROR, ret, "%s: %s", path,
			    g_strerror(ret));
		return NULL;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		g_set_error(err, LEAP_ERROR, EINVAL, "%s: not a regular file",
			    path);
		goto out;
	}
	buf = g_malloc(LEAP_MAX_TEXT + 1);
	ret = read_capped(fd, buf, LEAP_MAX_TEXT + 1, &len);
	if (ret < 0) {
		g_set_error(err, LEAP_ERROR, -ret, "%s: %s", path,
			    g_strerror(-ret));
		goto out;
	}
	if (len > LEAP_MAX_TEXT) {
		g_set_error(err, LEAP_ERROR, EFBIG, "%s: larger than 1 MiB",
			    path);
		goto out;
	}
	t = leap_table_parse(buf, len, err);
	if (!t) {
		g_prefix_error(err, "%s: ", path);
	}
out:
	g_free(buf);
	close(fd);
	return t;
}

struct leap_table *leap_table_new(const struct leap_entry *e, size_t n,
				  int64_t expires_utc_s)
{
	struct leap_table *t;

	if (!e || n == 0 || n > LEAP_MAX_ENTRIES) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (e[i].utc_s < LEAP_UTC_MIN || e[i].utc_s > LEAP_UTC_MAX ||
		    e[i].dtai < -LEAP_DTAI_MAX || e[i].dtai > LEAP_DTAI_MAX) {
			return NULL;
		}
		if (i > 0 && e[i].utc_s - e[i - 1].utc_s < LEAP_MIN_GAP_S) {
			return NULL;
		}
	}
	t = table_alloc(e, n);
	t->expires_utc_s = expires_utc_s;
	return t;
}

void leap_table_free(struct leap_table *t)
{
	g_free(t);
}

bool leap_table_expired(const struct leap_table *t, int64_t now_utc_s)
{
	if (!t) {
		return true;
	}
	return now_utc_s >= t->expires_utc_s;
}

int32_t leap_dtai_at_utc(const struct leap_table *t, int64_t utc_s)
{
	size_t lo = 1, hi;

	if (!t || t->n == 0) {
		return 0;
	}
	hi = t->n;
	/* largest i with e[i].utc_s <= utc_s, else 0 */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->e[mid].utc_s <= utc_s) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return t->e[lo - 1].dtai;
}
