/* SPDX-License-Identifier: MIT */
/*
 * The virtio-rtc device state that travels with a live migration
 * (VHOST_USER_PROTOCOL_F_DEVICE_STATE), from the source daemon to the
 * destination daemon through QEMU's migration stream.
 *
 * It is a hand-over image (include/handover_wire.h: header with magic,
 * version and SHA-256 of the body; tagged, length-checked records) with
 * no fds, whose body is exactly one HO_MIG record holding, in order:
 *
 *   HO_MIG_VERSION   u32, RTC_MIG_VERSION
 *   HO_MIG_CLOCK     one per clock, by id: the clock set it was saved
 *                    with; the destination must serve the same one, or
 *                    the guest's clock ids would change meaning
 *   HO_ALARM         struct ho_alarm, one per alarm set (time or
 *                    enabled), pending ones first in notification order
 *
 * What is not in it, and why: ring indexes (QEMU carries last_avail_idx
 * through GET/SET_VRING_BASE; used_idx is read back from the ring);
 * requests in flight (none: requests are answered synchronously, and
 * alarmq buffers are only popped to be filled); the MONOTONIC floors and
 * counters (of this host's clock and this daemon: the guest must treat
 * a move to another host as a disruption anyway).
 *
 * The destination checks every record as untrusted input and refuses
 * the whole image on the first fault. A record of an unknown tag is a
 * fault: a newer format bumps RTC_MIG_VERSION.
 */
#ifndef RTC_MIGRATION_WIRE_H
#define RTC_MIGRATION_WIRE_H

#include <stdint.h>

#include "handover_wire.h"

#define RTC_MIG_VERSION 1u

/* Tags, apart from the hand-over's own (HO_ALARM is shared). */
enum rtc_mig_tag {
	HO_MIG = HO_NESTED | 64,
	HO_MIG_VERSION = 65, /* u32 */
	HO_MIG_CLOCK = 66,   /* struct ho_mig_clock */
};

struct ho_mig_clock {
	uint16_t clock_id;
	uint8_t type;	  /* VIRTIO_RTC_CLOCK_* */
	uint8_t smearing; /* VIRTIO_RTC_SMEAR_* */
	uint8_t alarm_cap;
	uint8_t reserved[3];
};

_Static_assert(sizeof(struct ho_mig_clock) == 8, "migration clock");

#endif /* RTC_MIGRATION_WIRE_H */
