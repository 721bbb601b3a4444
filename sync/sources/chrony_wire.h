/* SPDX-License-Identifier: MIT */
/*
 * chronyd command protocol version 6 on the wire: the TRACKING request
 * and reply. All fields big-endian; converted only in sync/sources/chrony.c.
 * Sizes from chrony's candm.h (REQ_/RPY_ tracking, sourcestats).
 */
#ifndef SYNC_CHRONY_WIRE_H
#define SYNC_CHRONY_WIRE_H

#include <stdint.h>

#define CHRONY_PKT_REQUEST 1
#define CHRONY_PKT_REPLY 2

#define CHRONY_STT_SUCCESS 0
#define CHRONY_STT_UNAUTH 2
#define CHRONY_STT_ACCESSDENIED 9

/* Timespec.sec_hi meaning "no high part" (32-bit time_t senders) */
#define CHRONY_NO_HIGH_SEC 0x7fffffffu

struct chrony_wire_req_hdr {
	uint8_t version; /* CHRONY_PROTO_VERSION */
	uint8_t pkt_type;
	uint8_t res1; /* 0 */
	uint8_t res2; /* 0 */
	uint16_t command;
	uint16_t attempt;
	uint32_t sequence;
	uint32_t pad1;
	uint32_t pad2;
};
_Static_assert(sizeof(struct chrony_wire_req_hdr) == 20, "request header");

struct chrony_wire_rpy_hdr {
	uint8_t version;
	uint8_t pkt_type;
	uint8_t res1;
	uint8_t res2;
	uint16_t command; /* the request's, echoed */
	uint16_t reply;	  /* reply type */
	uint16_t status;
	uint16_t pad1;
	uint16_t pad2;
	uint16_t pad3;
	uint32_t sequence; /* the request's, echoed */
	uint32_t pad4;
	uint32_t pad5;
};
_Static_assert(sizeof(struct chrony_wire_rpy_hdr) == 28, "reply header");

struct chrony_wire_timespec {
	uint32_t sec_hi;
	uint32_t sec_lo;
	uint32_t nsec;
};
_Static_assert(sizeof(struct chrony_wire_timespec) == 12, "timespec");

struct chrony_wire_ipaddr {
	uint8_t addr[16]; /* union of in4 (u32), in6, id (u32) */
	uint16_t family;
	uint16_t pad;
};
_Static_assert(sizeof(struct chrony_wire_ipaddr) == 20, "IPAddr");

struct chrony_wire_tracking {
	struct chrony_wire_rpy_hdr hdr;
	uint32_t ref_id;
	struct chrony_wire_ipaddr ip;
	uint16_t stratum;
	uint16_t leap_status;
	struct chrony_wire_timespec ref_time;
	uint32_t current_correction; /* chrony floats */
	uint32_t last_offset;
	uint32_t rms_offset;
	uint32_t freq_ppm;
	uint32_t resid_freq_ppm;
	uint32_t skew_ppm;
	uint32_t root_delay;
	uint32_t root_dispersion;
	uint32_t last_update_interval;
};
_Static_assert(sizeof(struct chrony_wire_tracking) == 104, "tracking reply");

#endif /* SYNC_CHRONY_WIRE_H */
