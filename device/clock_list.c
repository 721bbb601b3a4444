/* SPDX-License-Identifier: MIT */
/*
 * The served clock set from the `clocks` and `alarm-clocks` lists; see
 * clock_list.h. Clock types and smearing variants: VIRTIO 1.4 sections
 * 5.23.6.2 (clock types) and 5.23.6.3 (UTC_SMEARED variants).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "clock_list.h"

struct rtcdev_clock_name {
	const char *name;
	uint8_t type;
	uint8_t smearing; /* SMEAR_FROM_ARG: take the caller's variant */
	enum timescale ts;
};

#define SMEAR_FROM_ARG 0xff

static const struct rtcdev_clock_name rtcdev_clock_names[] = {
	{ "utc", VIRTIO_RTC_CLOCK_UTC, VIRTIO_RTC_SMEAR_UNSPECIFIED,
	  TIMESCALE_UTC },
	{ "tai", VIRTIO_RTC_CLOCK_TAI, VIRTIO_RTC_SMEAR_UNSPECIFIED,
	  TIMESCALE_TAI },
	{ "monotonic", VIRTIO_RTC_CLOCK_MONOTONIC, VIRTIO_RTC_SMEAR_UNSPECIFIED,
	  TIMESCALE_MONOTONIC },
	{ "utc-smeared", VIRTIO_RTC_CLOCK_UTC_SMEARED, SMEAR_FROM_ARG,
	  TIMESCALE_UTC_NOON_LINEAR },
	{ "utc-noon-linear", VIRTIO_RTC_CLOCK_UTC_SMEARED,
	  VIRTIO_RTC_SMEAR_NOON_LINEAR, TIMESCALE_UTC_NOON_LINEAR },
	{ "utc-sls", VIRTIO_RTC_CLOCK_UTC_SMEARED, VIRTIO_RTC_SMEAR_UTC_SLS,
	  TIMESCALE_UTC_SLS },
};

#define N_CLOCK_NAMES                                                          \
	(sizeof(rtcdev_clock_names) / sizeof(rtcdev_clock_names[0]))

/* One item of a comma-separated list, blanks around it trimmed. */
struct list_item {
	const char *start;
	size_t len;
};

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * Take the item at *@p into @it and move *@p past its comma. Returns true
 * while there was an item (possibly empty), false after the last one.
 */
static bool list_next(const char **p, struct list_item *it)
{
	const char *s = *p, *end, *comma;

	if (!s) {
		return false;
	}
	while (is_blank(*s)) {
		s++;
	}
	comma = strchr(s, ',');
	end = comma ? comma : s + strlen(s);
	while (end > s && is_blank(end[-1])) {
		end--;
	}
	it->start = s;
	it->len = (size_t)(end - s);
	*p = comma ? comma + 1 : NULL;
	return true;
}

static void rtcdev_clock_set(struct rtcdev_clock *c,
			     const struct rtcdev_clock_name *n, uint8_t smear)
{
	c->type = n->type;
	c->smearing = n->smearing;
	c->ts = n->ts;
	if (n->smearing == SMEAR_FROM_ARG) {
		c->smearing = smear;
		c->ts = smear == VIRTIO_RTC_SMEAR_UTC_SLS
				? TIMESCALE_UTC_SLS
				: TIMESCALE_UTC_NOON_LINEAR;
	}
}

void rtcdev_config_default(struct rtcdev_config *cfg, uint8_t smear)
{
	unsigned int i;

	/* Only the smears the model computes; anything else is noon-linear. */
	if (smear != VIRTIO_RTC_SMEAR_UTC_SLS) {
		smear = VIRTIO_RTC_SMEAR_NOON_LINEAR;
	}
	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < 4; i++) {
		rtcdev_clock_set(&cfg->clocks[i], &rtcdev_clock_names[i],
				 smear);
	}
	cfg->num_clocks = 4;
	cfg->alarm = true;
	(void)rtcdev_config_set_alarm_clocks(cfg, "default", NULL);
}

static const struct rtcdev_clock_name *
clock_name_find(const struct list_item *it)
{
	size_t i;

	for (i = 0; i < N_CLOCK_NAMES; i++) {
		const char *n = rtcdev_clock_names[i].name;

		if (strlen(n) == it->len &&
		    !strncasecmp(n, it->start, it->len)) {
			return &rtcdev_clock_names[i];
		}
	}
	return NULL;
}

int rtcdev_config_parse(struct rtcdev_config *cfg, const char *list,
			uint8_t smear, GError **err)
{
	struct rtcdev_config out;
	struct list_item it;
	const char *p = list;

	if (smear != VIRTIO_RTC_SMEAR_NOON_LINEAR &&
	    smear != VIRTIO_RTC_SMEAR_UTC_SLS) {
		return error_bad_value(err, "unsupported smearing variant %u",
				       smear);
	}
	if (!list || !list[strspn(list, " \t")]) {
		return error_bad_value(err, "empty clock list");
	}
	memset(&out, 0, sizeof(out));
	while (list_next(&p, &it)) {
		const struct rtcdev_clock_name *n;

		if (!it.len) {
			return error_bad_value(
				err, "empty clock name in \"%s\"", list);
		}
		n = clock_name_find(&it);
		if (!n) {
			return error_bad_value(
				err,
				"unknown clock \"%.*s\" (known: utc, tai, "
				"monotonic, utc-smeared, utc-noon-linear, "
				"utc-sls)",
				(int)it.len, it.start);
		}
		if (out.num_clocks == RTCDEV_MAX_CLOCKS) {
			return error_bad_value(err, "more than %d clocks",
					       RTCDEV_MAX_CLOCKS);
		}
		rtcdev_clock_set(&out.clocks[out.num_clocks++], n, smear);
	}
	out.alarm = true;
	(void)rtcdev_config_set_alarm_clocks(&out, "default", NULL);
	*cfg = out;
	return 0;
}

/* Apply one alarm-clock list item; -EINVAL if it names no clock. */
static int alarm_item(struct rtcdev_config *cfg, bool *cap,
		      const struct list_item *it)
{
	unsigned int i, hits = 0;
	char buf[24];
	char *end;
	unsigned long id;

	if (it->len == 0 || it->len >= sizeof(buf)) {
		return -EINVAL;
	}
	memcpy(buf, it->start, it->len);
	buf[it->len] = 0;
	if (buf[0] >= '0' && buf[0] <= '9') {
		id = strtoul(buf, &end, 10);
		if (*end || id >= cfg->num_clocks ||
		    cfg->clocks[id].type == VIRTIO_RTC_CLOCK_MONOTONIC) {
			return -EINVAL;
		}
		cap[id] = true;
		return 0;
	}
	for (i = 0; i < cfg->num_clocks; i++) {
		uint8_t t = cfg->clocks[i].type;

		if ((!strcasecmp(buf, "utc") && t == VIRTIO_RTC_CLOCK_UTC) ||
		    (!strcasecmp(buf, "tai") && t == VIRTIO_RTC_CLOCK_TAI) ||
		    (!strcasecmp(buf, "utc-smeared") &&
		     t == VIRTIO_RTC_CLOCK_UTC_SMEARED)) {
			cap[i] = true;
			hits++;
		}
	}
	return hits ? 0 : -EINVAL;
}

int rtcdev_config_set_alarm_clocks(struct rtcdev_config *cfg, const char *list,
				   GError **err)
{
	bool cap[RTCDEV_MAX_CLOCKS] = { false };
	struct list_item it;
	const char *p;
	unsigned int i;

	if (!list || !strcasecmp(list, "default")) {
		for (i = 0; i < cfg->num_clocks; i++) {
			uint8_t t = cfg->clocks[i].type;

			cfg->clocks[i].alarm_cap =
				t == VIRTIO_RTC_CLOCK_UTC ||
				t == VIRTIO_RTC_CLOCK_UTC_SMEARED;
		}
		return 0;
	}
	p = strcasecmp(list, "none") ? list : NULL;
	while (list_next(&p, &it)) {
		if (alarm_item(cfg, cap, &it) < 0) {
			return error_bad_value(
				err,
				"alarm clock \"%.*s\" is not a served utc, "
				"tai or utc-smeared clock (name or id)",
				(int)it.len, it.start);
		}
	}
	for (i = 0; i < cfg->num_clocks; i++) {
		cfg->clocks[i].alarm_cap = cap[i];
	}
	return 0;
}
