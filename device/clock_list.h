/* SPDX-License-Identifier: MIT */
/*
 * The served clock set from the configuration's words: the `clocks` list
 * (which clocks, in which order) and the `alarm-clocks` list (which of
 * them have an alarm). Both are comma-separated, case-insensitive, with
 * blanks around items ignored; one tokenizer reads both.
 *
 * Errors report to a person (a config key's value): GError in
 * G_OPTION_ERROR, and -EINVAL returned; @cfg is unchanged on error.
 * Thread/loop: start-up only.
 */
#ifndef DEVICE_CLOCK_LIST_H
#define DEVICE_CLOCK_LIST_H

#include <glib.h>
#include <stdint.h>

#include "virtio_rtc.h"

/*
 * rtcdev_config_parse() - build a clock set from a comma-separated list of
 * names: utc, tai, monotonic, utc-smeared (uses @smear), utc-noon-linear,
 * utc-sls. F_ALARM is offered and the default alarm clocks are set (see
 * rtcdev_config_set_alarm_clocks()). @smear is VIRTIO_RTC_SMEAR_NOON_LINEAR
 * or VIRTIO_RTC_SMEAR_UTC_SLS, the variants the model computes.
 * Returns 0, or -EINVAL with the reason in @err.
 */
int rtcdev_config_parse(struct rtcdev_config *cfg, const char *list,
			uint8_t smear, GError **err);

/* The default set: 0 UTC, 1 TAI, 2 MONOTONIC, 3 UTC_SMEARED(@smear),
 * F_ALARM offered, alarms on clocks 0 and 3. */
void rtcdev_config_default(struct rtcdev_config *cfg, uint8_t smear);

/*
 * rtcdev_config_set_alarm_clocks() - which clocks have an alarm: @list is
 * "default" (every UTC and UTC_SMEARED clock; also for NULL), "none", or
 * a comma-separated list of clock ids and names (utc, tai, utc-smeared:
 * every clock of that type). MONOTONIC clocks cannot have one.
 * Returns 0, or -EINVAL with the reason in @err.
 */
int rtcdev_config_set_alarm_clocks(struct rtcdev_config *cfg, const char *list,
				   GError **err);

#endif /* DEVICE_CLOCK_LIST_H */
