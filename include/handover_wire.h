/* SPDX-License-Identifier: MIT */
/*
 * The hand-over image: what one daemon process gives the next so that it
 * serves the same front-ends without their noticing (live upgrade, and
 * recovery from a crash through systemd's fd store).
 *
 * Layout, little-endian:
 *
 *   header   magic "VRTC-HO\0", u32 version, u32 reserved (0),
 *            u64 body length, 32 bytes SHA-256 of the body
 *   body     records: u16 tag, u16 reserved (0), u32 length, then
 *            length bytes of value, padded with zeros to 8 bytes
 *
 * A record whose tag has HO_NESTED set holds records itself. An fd is a
 * u32 index into the table of fds that travel beside the image (in the
 * order the writer added them); each may be taken once. Readers check
 * every length, index and tag, and refuse the whole image on the first
 * fault: it is input from another process, possibly another version.
 */
#ifndef HANDOVER_WIRE_H
#define HANDOVER_WIRE_H

#include <stdint.h>

#define HO_MAGIC "VRTC-HO"
#define HO_VERSION 1u
#define HO_NESTED 0x8000u
/* Bounds a reader enforces whatever the header says. */
#define HO_MAX_BODY (64u << 20)
#define HO_MAX_FDS 65536u
#define HO_MAX_DEPTH 4

struct ho_header {
	char magic[8];
	uint32_t version;
	uint32_t reserved;
	uint64_t body_len;
	uint8_t sha256[32];
};

struct ho_record {
	uint16_t tag;
	uint16_t reserved;
	uint32_t len;
};

_Static_assert(sizeof(struct ho_header) == 56, "hand-over header");
_Static_assert(sizeof(struct ho_record) == 8, "hand-over record");

/* Tags. Values are fixed once released; new ones get new numbers. */
enum ho_tag {
	/* vu_server: one per listening socket */
	HO_LISTENER = HO_NESTED | 1,
	HO_NAME = 2, /* string */
	HO_FD = 3,   /* u32 fd index */
	HO_SEQ = 4,  /* u32: connections accepted so far */
	/* vu_server: one per front-end connection */
	HO_CONN = HO_NESTED | 5,
	HO_CONN_LISTENER = 6, /* string: HO_NAME of its listener */
	/* one vhost-user message to replay (vu_conn_replay()) */
	HO_MSG = HO_NESTED | 7,
	HO_MSG_REQUEST = 8, /* u32 */
	HO_MSG_PAYLOAD = 9, /* bytes, <= VHOST_USER_PAYLOAD_MAX */
	/* HO_FD records of the message follow, in order */
	HO_QUEUE_BROKEN = 10, /* u32 queue index */
	/* a message received in part: bytes and fds so far */
	HO_RX = HO_NESTED | 11,
	HO_RX_BYTES = 12,
	/* an alarm of the device */
	HO_ALARM = 13,	    /* struct ho_alarm */
	HO_MONO_FLOOR = 14, /* struct ho_mono_floor */
	HO_STATS = 15,	    /* struct ho_stats */
	/* the daemon (src/): the server's records inside HO_SERVER */
	HO_SERVER = HO_NESTED | 16,
	HO_CONTROL_LISTENER = HO_NESTED | 17, /* name, fd, protocol */
	HO_ESTIMATOR = 18,     /* struct estimator_state (sync/estimator.h) */
	HO_GENERATION = 19,    /* u32: the process's, counting from 1 */
	HO_SAVED_AT = 20,      /* u64: CLOCK_MONOTONIC ns when written */
	HO_VM_ADDED = 21,      /* string: a socket made by vm add */
	HO_PAGE_MARKER = 22,   /* u64: the status page's disruption base */
	HO_SERVER_TOTALS = 23, /* struct ho_server_totals, in HO_SERVER */
	HO_PAGE_FD = 24,       /* u32 fd index: the status page, locked */
	/* crash recovery (src/persist.h): images in the fd store */
	HO_STORE_NAMES = 25, /* strings, each NUL-ended: fd i's store name */
	HO_STORE_CONN = 26,  /* string: the conn_id a connection image is of */
	HO_STORE_OLD = 27,   /* strings, NUL-ended: names stored before us */
};

struct ho_alarm {
	uint16_t clock_id;
	uint8_t flags; /* HO_ALARM_* */
	uint8_t reserved[5];
	uint64_t time_ns;
};

#define HO_ALARM_ENABLED 1u
#define HO_ALARM_PENDING 2u /* reached, its notification owed */
#define HO_ALARM_ARMED 4u   /* not reached yet: armed in the timer */

struct ho_mono_floor {
	uint16_t clock_id;
	uint8_t reserved[6];
	int64_t ns;
};

struct ho_stats {
	uint64_t requests, errors, alarm_events;
};

/* The server's counters of closed connections and events, so that
 * totals go on across generations. */
struct ho_server_totals {
	uint64_t accepted, refused, closed;
	uint64_t requests, errors, alarm_events;
	uint64_t kicks_missed;
};

_Static_assert(sizeof(struct ho_server_totals) == 56, "server totals");
_Static_assert(sizeof(struct ho_alarm) == 16, "hand-over alarm");
_Static_assert(sizeof(struct ho_mono_floor) == 16, "hand-over mono floor");
_Static_assert(sizeof(struct ho_stats) == 24, "hand-over stats");

#endif /* HANDOVER_WIRE_H */
