/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for device/virtio_rtc.c, the clock set: rtcdev_config_default(),
 * rtcdev_config_parse() and the checks rtcdev_dev_new() makes on it. Request
 * handling is in test_virtio_rtc.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "clock_model_writer.h"
#include "clock_list.h"
#include "virtio_rtc.h"

/* The GError API with the message copied out, so a check can read it. */
static int parse_msg(struct rtcdev_config *c, const char *list, uint8_t smear,
		     char *msg, size_t len)
{
	GError *e = NULL;
	int r = rtcdev_config_parse(c, list, smear, msg ? &e : NULL);

	if (e) {
		g_strlcpy(msg, e->message, len);
		g_error_free(e);
	}
	return r;
}

TestSuite(rtcdev_config);

static bool config_eq(const struct rtcdev_config *a,
		      const struct rtcdev_config *b)
{
	if (a->num_clocks != b->num_clocks) {
		return false;
	}
	for (unsigned int i = 0; i < a->num_clocks; i++) {
		if (a->clocks[i].type != b->clocks[i].type ||
		    a->clocks[i].smearing != b->clocks[i].smearing ||
		    a->clocks[i].ts != b->clocks[i].ts) {
			return false;
		}
	}
	return true;
}

Test(rtcdev_config, default_set)
{
	struct rtcdev_config c;

	rtcdev_config_default(&c, VIRTIO_RTC_SMEAR_NOON_LINEAR);
	cr_assert_eq(c.num_clocks, 4);
	cr_assert_eq(c.clocks[0].type, VIRTIO_RTC_CLOCK_UTC);
	cr_assert_eq(c.clocks[0].ts, TIMESCALE_UTC);
	cr_assert_eq(c.clocks[0].smearing, 0);
	cr_assert_eq(c.clocks[1].type, VIRTIO_RTC_CLOCK_TAI);
	cr_assert_eq(c.clocks[1].ts, TIMESCALE_TAI);
	cr_assert_eq(c.clocks[2].type, VIRTIO_RTC_CLOCK_MONOTONIC);
	cr_assert_eq(c.clocks[2].ts, TIMESCALE_MONOTONIC);
	cr_assert_eq(c.clocks[3].type, VIRTIO_RTC_CLOCK_UTC_SMEARED);
	cr_assert_eq(c.clocks[3].smearing, VIRTIO_RTC_SMEAR_NOON_LINEAR);
	cr_assert_eq(c.clocks[3].ts, TIMESCALE_UTC_NOON_LINEAR);

	rtcdev_config_default(&c, VIRTIO_RTC_SMEAR_UTC_SLS);
	cr_assert_eq(c.clocks[3].smearing, VIRTIO_RTC_SMEAR_UTC_SLS);
	cr_assert_eq(c.clocks[3].ts, TIMESCALE_UTC_SLS);
}

Test(rtcdev_config, parse_names)
{
	struct rtcdev_config c;
	char err[128];

	cr_assert_eq(parse_msg(&c,
			       "utc,tai,monotonic,utc-smeared,"
			       "utc-noon-linear,utc-sls",
			       VIRTIO_RTC_SMEAR_UTC_SLS, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(c.num_clocks, 6);
	cr_assert_eq(c.clocks[0].type, VIRTIO_RTC_CLOCK_UTC);
	cr_assert_eq(c.clocks[1].type, VIRTIO_RTC_CLOCK_TAI);
	cr_assert_eq(c.clocks[2].type, VIRTIO_RTC_CLOCK_MONOTONIC);
	/* utc-smeared follows the smear argument */
	cr_assert_eq(c.clocks[3].type, VIRTIO_RTC_CLOCK_UTC_SMEARED);
	cr_assert_eq(c.clocks[3].smearing, VIRTIO_RTC_SMEAR_UTC_SLS);
	cr_assert_eq(c.clocks[3].ts, TIMESCALE_UTC_SLS);
	/* the explicit names do not */
	cr_assert_eq(c.clocks[4].smearing, VIRTIO_RTC_SMEAR_NOON_LINEAR);
	cr_assert_eq(c.clocks[4].ts, TIMESCALE_UTC_NOON_LINEAR);
	cr_assert_eq(c.clocks[5].smearing, VIRTIO_RTC_SMEAR_UTC_SLS);
	cr_assert_eq(c.clocks[5].ts, TIMESCALE_UTC_SLS);
	for (unsigned int i = 0; i < 3; i++) {
		cr_assert_eq(c.clocks[i].smearing, 0);
	}

	/* blanks around names and any case are accepted */
	cr_assert_eq(parse_msg(&c, " TAI , utc-smeared ",
			       VIRTIO_RTC_SMEAR_NOON_LINEAR, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(c.num_clocks, 2);
	cr_assert_eq(c.clocks[0].type, VIRTIO_RTC_CLOCK_TAI);
	cr_assert_eq(c.clocks[1].ts, TIMESCALE_UTC_NOON_LINEAR);

	/* several smeared clocks are allowed (Linux uses the first) */
	cr_assert_eq(parse_msg(&c, "utc-sls,utc-noon-linear",
			       VIRTIO_RTC_SMEAR_NOON_LINEAR, err, sizeof(err)),
		     0);
	cr_assert_eq(c.num_clocks, 2);
}

Test(rtcdev_config, parse_errors)
{
	static const char *const bad[] = {
		"",    " ",	    "utc,,tai", "utc,",		 ",utc",
		"foo", "utc,bogus", "utc tai",	"utc-smeared-x",
	};
	struct rtcdev_config c, before;
	char err[128];
	size_t i;

	rtcdev_config_default(&c, VIRTIO_RTC_SMEAR_NOON_LINEAR);
	before = c;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		cr_assert_eq(parse_msg(&c, bad[i], VIRTIO_RTC_SMEAR_NOON_LINEAR,
				       err, sizeof(err)),
			     -EINVAL, "\"%s\" accepted", bad[i]);
		cr_assert_neq(err[0], 0, "no message for \"%s\"", bad[i]);
		cr_assert(config_eq(&c, &before),
			  "\"%s\" changed the config on error", bad[i]);
	}
	cr_assert_eq(parse_msg(&c, NULL, VIRTIO_RTC_SMEAR_NOON_LINEAR, err,
			       sizeof(err)),
		     -EINVAL);
	/* no room for a message is fine */
	cr_assert_eq(
		parse_msg(&c, "foo", VIRTIO_RTC_SMEAR_NOON_LINEAR, NULL, 0),
		-EINVAL);
	/* a smear the model cannot compute */
	cr_assert_eq(parse_msg(&c, "utc", VIRTIO_RTC_SMEAR_UNSPECIFIED, err,
			       sizeof(err)),
		     -EINVAL);
	cr_assert_eq(parse_msg(&c, "utc", 0xf0, err, sizeof(err)), -EINVAL);
}

Test(rtcdev_config, clock_count_limit)
{
	char list[RTCDEV_MAX_CLOCKS * 8 + 16] = "";
	struct rtcdev_config c;
	char err[128];
	int i;

	for (i = 0; i < RTCDEV_MAX_CLOCKS; i++) {
		strcat(list, i ? ",tai" : "tai");
	}
	cr_assert_eq(parse_msg(&c, list, VIRTIO_RTC_SMEAR_NOON_LINEAR, err,
			       sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(c.num_clocks, RTCDEV_MAX_CLOCKS);
	strcat(list, ",utc");
	cr_assert_eq(parse_msg(&c, list, VIRTIO_RTC_SMEAR_NOON_LINEAR, err,
			       sizeof(err)),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "clocks"), "%s", err);
}

Test(rtcdev_config, dev_new_rejects_bad_config)
{
	struct clock_model *m = clock_model_new();
	struct rtcdev_config c;

	memset(&c, 0, sizeof(c));
	cr_assert_null(rtcdev_dev_new(&c, m), "0 clocks: Linux refuses it");
	c.num_clocks = RTCDEV_MAX_CLOCKS + 1;
	cr_assert_null(rtcdev_dev_new(&c, m));
	rtcdev_config_default(&c, VIRTIO_RTC_SMEAR_NOON_LINEAR);
	cr_assert_null(rtcdev_dev_new(&c, NULL));
	cr_assert_null(rtcdev_dev_new(NULL, m));
	rtcdev_dev_free(NULL);
	clock_model_free(m);
}
