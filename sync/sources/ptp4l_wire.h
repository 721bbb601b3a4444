/* SPDX-License-Identifier: MIT */
/*
 * IEEE 1588-2008 management messages as ptp4l speaks them on its Unix
 * socket: every multi-byte field is big-endian (network order), stored
 * here as raw fixed-width integers and converted only in ptp4l.c with
 * be16toh()/be32toh()/be64toh(). Structs are copied in and out with
 * memcpy(), never overlaid on a receive buffer.
 */
#ifndef SYNC_PTP4L_WIRE_H
#define SYNC_PTP4L_WIRE_H

#include <stdint.h>

#define PTP4L_WIRE_PACKED __attribute__((packed))

#define PTP4L_MSG_MANAGEMENT 0x0d    /* messageType, low nibble of tsmt */
#define PTP4L_VERSION_MAJOR 2	     /* versionPTP, low nibble of ver */
#define PTP4L_CTL_MANAGEMENT 0x04    /* controlField of management msgs */
#define PTP4L_LOG_INTERVAL_NONE 0x7f /* logMessageInterval, management */

enum ptp4l_action {
	PTP4L_ACTION_GET = 0,
	PTP4L_ACTION_SET = 1,
	PTP4L_ACTION_RESPONSE = 2,
	PTP4L_ACTION_COMMAND = 3,
	PTP4L_ACTION_ACK = 4,
};

#define PTP4L_TLV_MANAGEMENT 0x0001
#define PTP4L_TLV_MANAGEMENT_ERROR_STATUS 0x0002

struct ptp4l_wire_port_id {
	uint8_t clock_id[8];
	uint16_t port; /* BE */
} PTP4L_WIRE_PACKED;
_Static_assert(sizeof(struct ptp4l_wire_port_id) == 10, "PortIdentity");

/* Common PTP header (IEEE 1588 13.3). */
struct ptp4l_wire_hdr {
	uint8_t tsmt;	  /* transportSpecific << 4 | messageType */
	uint8_t ver;	  /* minorVersionPTP << 4 | versionPTP */
	uint16_t msg_len; /* BE, whole message */
	uint8_t domain;
	uint8_t reserved1; /* minorSdoId in 1588-2019 */
	uint8_t flags[2];
	int64_t correction; /* BE */
	uint32_t reserved2;
	struct ptp4l_wire_port_id source;
	uint16_t seq; /* BE */
	uint8_t control;
	int8_t log_interval;
} PTP4L_WIRE_PACKED;
_Static_assert(sizeof(struct ptp4l_wire_hdr) == 34, "PTP header");

/* Management message body (IEEE 1588 15.4.1) before its one TLV. */
struct ptp4l_wire_mgmt {
	struct ptp4l_wire_hdr hdr;
	struct ptp4l_wire_port_id target;
	uint8_t starting_hops;
	uint8_t hops;
	uint8_t action; /* low nibble: enum ptp4l_action */
	uint8_t reserved;
} PTP4L_WIRE_PACKED;
_Static_assert(sizeof(struct ptp4l_wire_mgmt) == 48, "management body");

/* TLV header; for MANAGEMENT, len = 2 (the id) + data length. */
struct ptp4l_wire_tlv {
	uint16_t type; /* BE */
	uint16_t len;  /* BE, bytes after this field */
	uint16_t id;   /* BE, managementId */
} PTP4L_WIRE_PACKED;
_Static_assert(sizeof(struct ptp4l_wire_tlv) == 6, "management TLV");

/*
 * MANAGEMENT_ERROR_STATUS (15.5.4): the TLV header's id field holds the
 * managementErrorId; then the managementId and 4 reserved bytes; an
 * optional PTPText displayData follows (ignored).
 */
struct ptp4l_wire_error {
	uint16_t mgmt_id; /* BE */
	uint8_t reserved[4];
} PTP4L_WIRE_PACKED;
_Static_assert(sizeof(struct ptp4l_wire_error) == 6, "error status");

struct ptp4l_wire_clock_quality {
	uint8_t clock_class;
	uint8_t clock_accuracy;
	uint16_t log_variance; /* BE, offsetScaledLogVariance */
} PTP4L_WIRE_PACKED;
_Static_assert(sizeof(struct ptp4l_wire_clock_quality) == 4, "ClockQuality");

/* currentDS (8.2.2); TimeInterval = ns * 2^16. */
struct ptp4l_wire_current_ds {
	uint16_t steps_removed;	    /* BE */
	int64_t offset_from_master; /* BE, TimeInterval */
	int64_t mean_path_delay;    /* BE, TimeInterval */
} PTP4L_WIRE_PACKED;
_Static_assert(sizeof(struct ptp4l_wire_current_ds) == 18, "currentDS");

/* parentDS (8.2.3). */
struct ptp4l_wire_parent_ds {
	struct ptp4l_wire_port_id parent;
	uint8_t parent_stats;
	uint8_t reserved;
	uint16_t observed_log_variance;	    /* BE */
	int32_t observed_phase_change_rate; /* BE */
	uint8_t gm_priority1;
	struct ptp4l_wire_clock_quality gm_quality;
	uint8_t gm_priority2;
	uint8_t gm_identity[8];
} PTP4L_WIRE_PACKED;
_Static_assert(sizeof(struct ptp4l_wire_parent_ds) == 32, "parentDS");

/* timePropertiesDS (8.2.4) as sent in the management TLV. */
struct ptp4l_wire_time_props {
	int16_t current_utc_offset; /* BE, s */
	uint8_t flags;		    /* PTP4L_TP_* */
	uint8_t time_source;
} PTP4L_WIRE_PACKED;
_Static_assert(sizeof(struct ptp4l_wire_time_props) == 4, "timePropertiesDS");

/* portDS (8.2.5) as sent in the management TLV. */
struct ptp4l_wire_port_ds {
	struct ptp4l_wire_port_id port;
	uint8_t port_state;
	int8_t log_min_delay_req_interval;
	int64_t peer_mean_path_delay; /* BE, TimeInterval */
	int8_t log_announce_interval;
	uint8_t announce_receipt_timeout;
	int8_t log_sync_interval;
	uint8_t delay_mechanism;
	int8_t log_min_pdelay_req_interval;
	uint8_t version_number;
} PTP4L_WIRE_PACKED;
_Static_assert(sizeof(struct ptp4l_wire_port_ds) == 26, "portDS");

/* linuxptp's TIME_STATUS_NP (its tlv.h). */
struct ptp4l_wire_time_status {
	int64_t master_offset; /* BE, ns */
	int64_t ingress_time;  /* BE, ns, PHC time of the last Sync */
	int32_t cumulative_scaled_rate_offset; /* BE, (rate - 1) * 2^41 */
	int32_t scaled_last_gm_phase_change;   /* BE */
	uint16_t gm_time_base_indicator;       /* BE */
	uint8_t last_gm_phase_change[12];      /* ScaledNs, unused */
	int32_t gm_present;		       /* BE, boolean */
	uint8_t gm_identity[8];
} PTP4L_WIRE_PACKED;
_Static_assert(sizeof(struct ptp4l_wire_time_status) == 50, "TIME_STATUS_NP");

#endif /* SYNC_PTP4L_WIRE_H */
