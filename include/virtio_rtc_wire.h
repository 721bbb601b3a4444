/* SPDX-License-Identifier: MIT */
/*
 * virtio-rtc wire format, VIRTIO 1.4 section 5.23 (device ID 17).
 *
 * All multi-byte fields are little-endian on the wire; convert with
 * le16toh()/htole64() at the boundary only. Every struct carries its
 * reserved bytes explicitly and is checked for size below.
 */
#ifndef VIRTIO_RTC_WIRE_H
#define VIRTIO_RTC_WIRE_H

#include <stdint.h>

#define VIRTIO_ID_CLOCK 17

/* Device feature bits. */
#define VIRTIO_RTC_F_ALARM 0

/* Virtqueue indexes. */
#define VIRTIO_RTC_REQUESTQ 0
#define VIRTIO_RTC_ALARMQ 1

/* Message types. */
#define VIRTIO_RTC_REQ_READ 0x0001
#define VIRTIO_RTC_REQ_READ_CROSS 0x0002
#define VIRTIO_RTC_REQ_CFG 0x1000
#define VIRTIO_RTC_REQ_CLOCK_CAP 0x1001
#define VIRTIO_RTC_REQ_CROSS_CAP 0x1002
#define VIRTIO_RTC_REQ_READ_ALARM 0x1003
#define VIRTIO_RTC_REQ_SET_ALARM 0x1004
#define VIRTIO_RTC_REQ_SET_ALARM_ENABLED 0x1005
#define VIRTIO_RTC_NOTIF_ALARM 0x2000

/* Response status codes (1 is unused). */
#define VIRTIO_RTC_S_OK 0
#define VIRTIO_RTC_S_EOPNOTSUPP 2
#define VIRTIO_RTC_S_ENODEV 3
#define VIRTIO_RTC_S_EINVAL 4
#define VIRTIO_RTC_S_EIO 5

/* Clock types. */
#define VIRTIO_RTC_CLOCK_UTC 0
#define VIRTIO_RTC_CLOCK_TAI 1
#define VIRTIO_RTC_CLOCK_MONOTONIC 2
#define VIRTIO_RTC_CLOCK_UTC_SMEARED 3
#define VIRTIO_RTC_CLOCK_UTC_MAYBE_SMEARED 4

/* Smearing variants. */
#define VIRTIO_RTC_SMEAR_UNSPECIFIED 0
#define VIRTIO_RTC_SMEAR_NOON_LINEAR 1
#define VIRTIO_RTC_SMEAR_UTC_SLS 2

/* Flags. */
#define VIRTIO_RTC_FLAG_ALARM_CAP (1u << 0)
#define VIRTIO_RTC_FLAG_CROSS_CAP (1u << 0)
#define VIRTIO_RTC_FLAG_ALARM_ENABLED (1u << 0)

/* Hardware counters. */
#define VIRTIO_RTC_COUNTER_ARM_VCT 0
#define VIRTIO_RTC_COUNTER_X86_TSC 1
#define VIRTIO_RTC_COUNTER_INVALID 0xff

struct virtio_rtc_req_head {
	uint16_t msg_type;
	uint8_t reserved[6];
};

struct virtio_rtc_resp_head {
	uint8_t status;
	uint8_t reserved[7];
};

struct virtio_rtc_notif_head {
	uint16_t msg_type;
	uint8_t reserved[6];
};

struct virtio_rtc_req_read {
	struct virtio_rtc_req_head head;
	uint16_t clock_id;
	uint8_t reserved[6];
};

struct virtio_rtc_resp_read {
	struct virtio_rtc_resp_head head;
	uint64_t clock_reading;
};

struct virtio_rtc_req_read_cross {
	struct virtio_rtc_req_head head;
	uint16_t clock_id;
	uint8_t hw_counter;
	uint8_t reserved[5];
};

struct virtio_rtc_resp_read_cross {
	struct virtio_rtc_resp_head head;
	uint64_t clock_reading;
	uint64_t counter_cycles;
};

struct virtio_rtc_req_cfg {
	struct virtio_rtc_req_head head;
};

struct virtio_rtc_resp_cfg {
	struct virtio_rtc_resp_head head;
	uint16_t num_clocks;
	uint8_t reserved[6];
};

struct virtio_rtc_req_clock_cap {
	struct virtio_rtc_req_head head;
	uint16_t clock_id;
	uint8_t reserved[6];
};

struct virtio_rtc_resp_clock_cap {
	struct virtio_rtc_resp_head head;
	uint8_t type;
	uint8_t leap_second_smearing;
	uint8_t flags;
	uint8_t reserved[5];
};

struct virtio_rtc_req_cross_cap {
	struct virtio_rtc_req_head head;
	uint16_t clock_id;
	uint8_t hw_counter;
	uint8_t reserved[5];
};

struct virtio_rtc_resp_cross_cap {
	struct virtio_rtc_resp_head head;
	uint8_t flags;
	uint8_t reserved[7];
};

struct virtio_rtc_req_read_alarm {
	struct virtio_rtc_req_head head;
	uint16_t clock_id;
	uint8_t reserved[6];
};

struct virtio_rtc_resp_read_alarm {
	struct virtio_rtc_resp_head head;
	uint64_t alarm_time;
	uint8_t flags;
	uint8_t reserved[7];
};

struct virtio_rtc_req_set_alarm {
	struct virtio_rtc_req_head head;
	uint64_t alarm_time;
	uint16_t clock_id;
	uint8_t flags;
	uint8_t reserved[5];
};

struct virtio_rtc_resp_set_alarm {
	struct virtio_rtc_resp_head head;
};

struct virtio_rtc_req_set_alarm_enabled {
	struct virtio_rtc_req_head head;
	uint16_t clock_id;
	uint8_t flags;
	uint8_t reserved[5];
};

struct virtio_rtc_resp_set_alarm_enabled {
	struct virtio_rtc_resp_head head;
};

struct virtio_rtc_notif_alarm {
	struct virtio_rtc_notif_head head;
	uint16_t clock_id;
	uint8_t reserved[6];
};

/* Largest request and response of any message type. */
#define VIRTIO_RTC_REQ_MAX 24
#define VIRTIO_RTC_RESP_MAX 24

_Static_assert(sizeof(struct virtio_rtc_req_head) == 8, "req_head");
_Static_assert(sizeof(struct virtio_rtc_resp_head) == 8, "resp_head");
_Static_assert(sizeof(struct virtio_rtc_notif_head) == 8, "notif_head");
_Static_assert(sizeof(struct virtio_rtc_req_read) == 16, "req_read");
_Static_assert(sizeof(struct virtio_rtc_resp_read) == 16, "resp_read");
_Static_assert(sizeof(struct virtio_rtc_req_read_cross) == 16, "req_rc");
_Static_assert(sizeof(struct virtio_rtc_resp_read_cross) == 24, "resp_rc");
_Static_assert(sizeof(struct virtio_rtc_req_cfg) == 8, "req_cfg");
_Static_assert(sizeof(struct virtio_rtc_resp_cfg) == 16, "resp_cfg");
_Static_assert(sizeof(struct virtio_rtc_req_clock_cap) == 16, "req_cc");
_Static_assert(sizeof(struct virtio_rtc_resp_clock_cap) == 16, "resp_cc");
_Static_assert(sizeof(struct virtio_rtc_req_cross_cap) == 16, "req_xc");
_Static_assert(sizeof(struct virtio_rtc_resp_cross_cap) == 16, "resp_xc");
_Static_assert(sizeof(struct virtio_rtc_req_read_alarm) == 16, "req_ra");
_Static_assert(sizeof(struct virtio_rtc_resp_read_alarm) == 24, "resp_ra");
_Static_assert(sizeof(struct virtio_rtc_req_set_alarm) == 24, "req_sa");
_Static_assert(sizeof(struct virtio_rtc_resp_set_alarm) == 8, "resp_sa");
_Static_assert(sizeof(struct virtio_rtc_req_set_alarm_enabled) == 16,
	       "req_sae");
_Static_assert(sizeof(struct virtio_rtc_resp_set_alarm_enabled) == 8, "r_sae");
_Static_assert(sizeof(struct virtio_rtc_notif_alarm) == 16, "notif_alarm");

#endif /* VIRTIO_RTC_WIRE_H */
