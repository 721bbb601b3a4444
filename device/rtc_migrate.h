/* SPDX-License-Identifier: MIT */
/*
 * The virtio-rtc device's own state for a live migration
 * (include/rtc_migration_wire.h): what VHOST_USER_PROTOCOL_F_DEVICE_STATE
 * carries from the source daemon to the destination daemon.
 * Thread/loop: the daemon's main loop only.
 */
#ifndef DEVICE_RTC_MIGRATE_H
#define DEVICE_RTC_MIGRATE_H

#include <glib.h>
#include <stddef.h>

#include "virtio_rtc.h"

/*
 * rtc_migrate_save() - the state of @d as an image in *@out
 * (g_byte_array_unref() it). Returns 0 or -errno.
 */
int rtc_migrate_save(const struct rtcdev_dev *d, GByteArray **out);

/*
 * rtc_migrate_load() - check the @len bytes at @img completely (header,
 * checksum, version, clock set, every alarm), then apply them to @d,
 * which must hold no alarm yet (a fresh destination device). The alarms
 * are armed in @d's timer; one reached before the move fires at once.
 * Returns 0, or -EBADMSG with the reason in @why (@why_len bytes);
 * nothing is applied when the check fails.
 */
int rtc_migrate_load(struct rtcdev_dev *d, const void *img, size_t len,
		     char *why, size_t why_len);

#endif /* DEVICE_RTC_MIGRATE_H */
