// SPDX-License-Identifier: MIT
/*
 * gpsd messages: the reduction of libgps's unpacked data to struct
 * gpsd_msg, the few fields read from the message text (gpsd.h says why),
 * and the conversion of TOFF/PPS reports into time samples.
 */
#include <errno.h>
#include <gps.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpsd.h"
#include "time_ns.h"

/* 2000-01-01 and 2200-01-01, POSIX s: outside is absurd for a receiver */
#define SANE_MIN_S 946684800LL
#define SANE_MAX_S 7258118400LL
#define MAX_QERR_PS 1000000000LL /* 1 ms */
#define MAX_LEAP_S 100
#define MSG_MAX 4096

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end &&
	       (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
		p++;
	}
	return p;
}

/* Past the string starting at the quote @p; NULL if unterminated. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			p++;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/*
 * The value of top-level key @key: its first byte, or NULL (with *@err)
 * when absent (-ENOENT) or the text is not a JSON object (-EINVAL).
 */
static const char *find_value(const char *json, size_t len, const char *key,
			      int *err)
{
	const char *p = json, *end = json + len;
	size_t klen = strlen(key);
	bool want_key = true;
	int depth = 1;

	p = skip_ws(p, end);
	if (p == end || *p != '{') {
		*err = -EINVAL;
		return NULL;
	}
	for (p++; p < end && depth > 0;) {
		const char *s = p, *q;

		switch (*p) {
		case '"':
			q = skip_string(p, end);
			if (!q) {
				*err = -EINVAL;
				return NULL;
			}
			p = q;
			if (depth != 1 || !want_key) {
				break;
			}
			want_key = false;
			q = skip_ws(p, end);
			if (q == end || *q != ':') {
				*err = -EINVAL;
				return NULL;
			}
			if ((size_t)(p - s) == klen + 2 &&
			    memcmp(s + 1, key, klen) == 0) {
				return skip_ws(q + 1, end);
			}
			p = q + 1;
			break;
		case '{':
		case '[':
			depth++;
			p++;
			break;
		case '}':
		case ']':
			depth--;
			p++;
			break;
		case ',':
			want_key = depth == 1;
			p++;
			break;
		default:
			p++;
			break;
		}
	}
	*err = depth > 0 ? -EINVAL : -ENOENT;
	return NULL;
}

/* Past one JSON value at @p (depth-limited), or NULL if malformed. */
static const char *skip_value(const char *p, const char *end, int depth);

static const char *skip_literal(const char *p, const char *end)
{
	static const char *const lits[] = { "true", "false", "null" };

	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(lits[i]);

		if ((size_t)(end - p) >= l && memcmp(p, lits[i], l) == 0) {
			return p + l;
		}
	}
	return NULL;
}

static const char *skip_number(const char *p, const char *end)
{
	const char *s;

	if (p < end && *p == '-') {
		p++;
	}
	s = p;
	while (p < end && *p >= '0' && *p <= '9') {
		p++;
	}
	if (p == s) {
		return NULL;
	}
	if (p < end && *p == '.') {
		s = ++p;
		while (p < end && *p >= '0' && *p <= '9') {
			p++;
		}
		if (p == s) {
			return NULL;
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-')) {
			p++;
		}
		s = p;
		while (p < end && *p >= '0' && *p <= '9') {
			p++;
		}
		if (p == s) {
			return NULL;
		}
	}
	return p;
}

/* A string without control characters; NULL if malformed. */
static const char *skip_json_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if ((unsigned char)*p < 0x20) {
			return NULL;
		}
		if (*p == '\\') {
			if (++p == end) {
				return NULL;
			}
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* The members of an object or the elements of an array, after { or [. */
static const char *skip_members(const char *p, const char *end, int depth,
				bool object)
{
	char close = object ? '}' : ']';

	p = skip_ws(p, end);
	if (p < end && *p == close) {
		return p + 1;
	}
	for (;;) {
		if (object) {
			if (p == end || *p != '"') {
				return NULL;
			}
			p = skip_json_string(p, end);
			if (!p) {
				return NULL;
			}
			p = skip_ws(p, end);
			if (p == end || *p != ':') {
				return NULL;
			}
			p = skip_ws(p + 1, end);
		}
		p = skip_value(p, end, depth);
		if (!p) {
			return NULL;
		}
		p = skip_ws(p, end);
		if (p == end) {
			return NULL;
		}
		if (*p == close) {
			return p + 1;
		}
		if (*p != ',') {
			return NULL;
		}
		p = skip_ws(p + 1, end);
	}
}

static const char *skip_value(const char *p, const char *end, int depth)
{
	if (p == end) {
		return NULL;
	}
	switch (*p) {
	case '{':
	case '[':
		if (depth >= GPSD_JSON_MAX_DEPTH) {
			return NULL;
		}
		return skip_members(p + 1, end, depth + 1, *p == '{');
	case '"':
		return skip_json_string(p, end);
	case 't':
	case 'f':
	case 'n':
		return skip_literal(p, end);
	default:
		return skip_number(p, end);
	}
}

bool gpsd_json_valid(const char *json, size_t len)
{
	const char *end = json + len, *p = skip_ws(json, end);

	if (p == end || *p != '{' || memchr(json, '\0', len)) {
		return false;
	}
	p = skip_value(p, end, 0);
	return p && skip_ws(p, end) == end;
}

int gpsd_json_int(const char *json, size_t len, const char *key, int64_t *out)
{
	const char *end = json + len, *p;
	bool neg = false;
	uint64_t v = 0;
	int err = 0;

	p = find_value(json, len, key, &err);
	if (!p) {
		return err;
	}
	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (p == end || *p < '0' || *p > '9') {
		return -EINVAL;
	}
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > ((uint64_t)INT64_MAX + 1 - (uint64_t)(*p - '0')) / 10) {
			return -ERANGE;
		}
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) {
		return -EINVAL;
	}
	if (!neg && v > (uint64_t)INT64_MAX) {
		return -ERANGE;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* The string value of top-level @key into @buf (escapes kept as is). */
static int json_str(const char *json, size_t len, const char *key, char *buf,
		    size_t size)
{
	const char *end = json + len, *p, *q;
	int err = 0;

	p = find_value(json, len, key, &err);
	if (!p) {
		return err;
	}
	if (p == end || *p != '"') {
		return -EINVAL;
	}
	q = skip_string(p, end);
	if (!q) {
		return -EINVAL;
	}
	snprintf(buf, size, "%.*s", (int)(q - p - 2), p + 1);
	return 0;
}

static const struct {
	const char *name;
	enum gpsd_msg_kind kind;
} classes[] = {
	{ "TOFF", GPSD_MSG_TOFF },	 { "PPS", GPSD_MSG_PPS },
	{ "TPV", GPSD_MSG_TPV },	 { "VERSION", GPSD_MSG_VERSION },
	{ "DEVICES", GPSD_MSG_DEVICES }, { "ERROR", GPSD_MSG_ERROR },
};

static void copy_times(const struct timedelta_t *td, struct gpsd_msg *m)
{
	m->real = td->real;
	m->clock = td->clock;
}

int gpsd_msg_from(const struct gps_data_t *gd, const char *json, size_t len,
		  struct gpsd_msg *m)
{
	char cls[16];
	int64_t v;

	memset(m, 0, sizeof(*m));
	if (json_str(json, len, "class", cls, sizeof(cls)) < 0) {
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		if (strcmp(cls, classes[i].name) == 0) {
			m->kind = classes[i].kind;
		}
	}
	switch (m->kind) {
	case GPSD_MSG_TOFF:
		/* libgps 3.22 unpacks TOFF into .pps; later ones into .toff */
		if (gd->toff.real.tv_sec || gd->toff.clock.tv_sec) {
			copy_times(&gd->toff, m);
		} else {
			copy_times(&gd->pps, m);
		}
		break;
	case GPSD_MSG_PPS:
		copy_times(&gd->pps, m);
		if (gpsd_json_int(json, len, "precision", &v) == 0 &&
		    v >= INT32_MIN && v <= INT32_MAX) {
			m->has_precision = true;
			m->precision = (int)v;
		}
		if (gpsd_json_int(json, len, "qErr", &v) == 0) {
			m->has_qerr = true;
			m->qerr_ps = v;
		}
		break;
	case GPSD_MSG_TPV:
		m->mode = gd->fix.mode;
		m->fix_time = gd->fix.time;
		break;
	case GPSD_MSG_VERSION:
		snprintf(m->release, sizeof(m->release), "%s",
			 gd->version.release);
		break;
	default:
		break;
	}
	if ((m->kind == GPSD_MSG_TPV || m->kind == GPSD_MSG_TOFF) &&
	    gpsd_json_int(json, len, "leapseconds", &v) == 0 && v >= 0 &&
	    v <= MAX_LEAP_S) {
		m->has_leap = true;
		m->leap_s = (int)v;
	}
	if (m->kind == GPSD_MSG_TOFF || m->kind == GPSD_MSG_PPS ||
	    m->kind == GPSD_MSG_TPV) {
		snprintf(m->device, sizeof(m->device), "%s", gd->dev.path);
	}
	return 0;
}

static const char class_key[] = "\"class\"";
#define CLASS_KEY_LEN (sizeof(class_key) - 1)

/* "class" is the first key, as gpsd always writes it. */
static const char *class_first(const char *json, size_t len)
{
	const char *end = json + len, *p = skip_ws(json, end);

	p = skip_ws(p + 1, end); /* past the '{' gpsd_json_valid() saw */
	if ((size_t)(end - p) < CLASS_KEY_LEN ||
	    memcmp(p, class_key, CLASS_KEY_LEN) != 0) {
		return NULL;
	}
	return p;
}

/*
 * ... and appears nowhere else, not even inside a string: libgps finds
 * the class by substring search.
 */
static bool class_once(const char *json, size_t len)
{
	const char *p = class_first(json, len) + CLASS_KEY_LEN;

	return !memmem(p, len - (size_t)(p - json), class_key, CLASS_KEY_LEN);
}

/* One object, no nested object or array (outside strings). */
static bool json_flat(const char *json, size_t len)
{
	const char *p = json, *end = json + len;
	int opens = 0;

	while (p < end) {
		if (*p == '"') {
			p = skip_string(p, end);
			if (!p) {
				return false;
			}
			continue;
		}
		if (*p == '{' || *p == '[') {
			opens++;
		}
		p++;
	}
	return opens == 1;
}

static enum gpsd_msg_kind class_kind(const char *json, size_t len)
{
	char cls[16];

	if (json_str(json, len, "class", cls, sizeof(cls)) < 0) {
		return GPSD_MSG_OTHER;
	}
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		if (strcmp(cls, classes[i].name) == 0) {
			return classes[i].kind;
		}
	}
	return GPSD_MSG_OTHER;
}

int gpsd_msg_parse(const char *json, size_t len, struct gpsd_msg *m)
{
	enum gpsd_msg_kind kind;
	struct gps_data_t *gd;
	char *buf;
	int r;

	if (len >= MSG_MAX) {
		return -EMSGSIZE;
	}
	if (!gpsd_json_valid(json, len) || !class_first(json, len)) {
		return -EINVAL;
	}
	kind = class_kind(json, len);
	if (kind != GPSD_MSG_TOFF && kind != GPSD_MSG_PPS &&
	    kind != GPSD_MSG_TPV && kind != GPSD_MSG_VERSION) {
		/* not needed: libgps does not see it (gpsd.h) */
		memset(m, 0, sizeof(*m));
		m->kind = kind;
		return 0;
	}
	if (!json_flat(json, len) || !class_once(json, len)) {
		return -EINVAL;
	}
	gd = calloc(1, sizeof(*gd));
	buf = malloc(len + 1);
	if (!gd || !buf) {
		free(gd);
		free(buf);
		return -ENOMEM;
	}
	memcpy(buf, json, len);
	buf[len] = '\0';
	r = gps_unpack(buf, gd) == 0 ? gpsd_msg_from(gd, buf, len, m) : -EINVAL;
	free(buf);
	free(gd);
	return r;
}

static bool ts_sane(const struct timespec *ts)
{
	return ts->tv_nsec >= 0 && ts->tv_nsec < NS_PER_S &&
	       ts->tv_sec >= SANE_MIN_S && ts->tv_sec < SANE_MAX_S;
}

/* The message's own error budget, ns, or -EINVAL. */
static int64_t msg_err_ns(const struct gpsd_msg *m, const struct gpsd_conv *cv)
{
	int64_t qerr_ns = 0;
	int p;

	if (m->kind == GPSD_MSG_TOFF) {
		return (int64_t)(cv->toff_err_ns ? cv->toff_err_ns
						 : GPSD_TOFF_ERR_NS);
	}
	p = m->has_precision ? m->precision : GPSD_PPS_DEFAULT_PRECISION;
	if (p < -30 || p > 0) {
		return -EINVAL;
	}
	if (m->has_qerr) {
		if (m->qerr_ps < -MAX_QERR_PS || m->qerr_ps > MAX_QERR_PS) {
			return -EINVAL;
		}
		qerr_ns = (llabs(m->qerr_ps) + 999) / 1000;
	}
	/* 2^p s, rounded up to whole ns */
	return ((NS_PER_S + (1LL << -p) - 1) >> -p) + qerr_ns;
}

int gpsd_msg_to_sample(const struct gpsd_msg *m, int mode,
		       const struct gpsd_now *now, const struct gpsd_conv *cv,
		       struct time_sample *out)
{
	int64_t real_ns, clock_ns, age_ns, budget, slew_ns;
	uint32_t slew_ppb = cv->slew_ppb ? cv->slew_ppb : GPSD_SLEW_PPB;
	int32_t dtai;

	if ((m->kind != GPSD_MSG_TOFF && m->kind != GPSD_MSG_PPS) ||
	    !ts_sane(&m->real) || !ts_sane(&m->clock) || now->rt_ns < 0 ||
	    now->half_ns > (uint64_t)NS_PER_S) {
		return -EINVAL;
	}
	budget = msg_err_ns(m, cv);
	if (budget < 0) {
		return (int)budget;
	}
	if (mode < 2) {
		return -ENODATA;
	}
	real_ns = time_ns_from_ts(&m->real);
	clock_ns = time_ns_from_ts(&m->clock);
	if (llabs(m->real.tv_sec - m->clock.tv_sec) > GPSD_MAX_REAL_CLOCK_S ||
	    clock_ns > now->rt_ns) {
		return -ERANGE;
	}
	age_ns = now->rt_ns - clock_ns;
	if (age_ns > GPSD_MAX_AGE_NS) {
		return -ESTALE;
	}
	if ((uint64_t)age_ns > now->raw_ns) {
		return -ERANGE;
	}
	/* age <= 2e9 and slew <= 2^32: the product fits in int64_t */
	slew_ns = (age_ns * (int64_t)slew_ppb + NS_PER_S - 1) / NS_PER_S;
	dtai = leap_dtai_at_utc(cv->leaps, m->real.tv_sec);
	out->counter = now->raw_ns - (uint64_t)age_ns;
	out->tai_ns = real_ns + (int64_t)dtai * NS_PER_S;
	out->window_ns = 2 * now->half_ns;
	out->err_ns = (uint64_t)budget + now->half_ns + (uint64_t)slew_ns + 1;
	return 0;
}
