/* SPDX-License-Identifier: MIT */
/*
 * ptp4l management client: GET requests over ptp4l's Unix datagram
 * socket for the data sets that give the PHC's error budget and the UTC
 * offset (TIME_PROPERTIES_DATA_SET, PORT_DATA_SET, TIME_STATUS_NP,
 * PARENT_DATA_SET, CURRENT_DATA_SET).
 *
 * Three layers, usable apart: ptp4l_build_get() and ptp4l_parse_reply()
 * are pure functions on byte buffers; struct ptp4l_client owns the
 * socket and is non-blocking (put ptp4l_client_fd() in a GLib source,
 * call ptp4l_client_send_get() then ptp4l_client_recv() when readable);
 * ptp4l_client_get() is a blocking helper with a timeout for tests and
 * one-shot tools. Replies are hostile input: every length, the version,
 * message type, action, TLV type and length, sequenceId and target port
 * are checked. Nothing here logs; errors are 0 / -errno.
 * Thread/loop: a client belongs to one thread (the default main context).
 */
#ifndef SYNC_PTP4L_H
#define SYNC_PTP4L_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ptp4l's uds_address in linuxptp <= 4.4 (Debian 12 ships 3.1.1). */
#define PTP4L_UDS_PATH_OLD "/var/run/ptp4l"
/* ... and after linuxptp commit 472247ad (2025-07). */
#define PTP4L_UDS_PATH_NEW "/var/run/ptp/ptp4l"

/* Longest request ptp4l_build_get() writes, and longest reply accepted. */
#define PTP4L_REQ_LEN 54
#define PTP4L_MAX_MSG 1500

/* managementId values (IEEE 1588 Table 40, linuxptp tlv.h). */
enum ptp4l_mgmt_id {
	PTP4L_MID_CURRENT_DATA_SET = 0x2001,
	PTP4L_MID_PARENT_DATA_SET = 0x2002,
	PTP4L_MID_TIME_PROPERTIES_DATA_SET = 0x2003,
	PTP4L_MID_PORT_DATA_SET = 0x2004,
	PTP4L_MID_TIME_STATUS_NP = 0xc000,
};

/* portState (IEEE 1588 Table 8). */
enum ptp4l_port_state {
	PTP4L_PS_INITIALIZING = 1,
	PTP4L_PS_FAULTY = 2,
	PTP4L_PS_DISABLED = 3,
	PTP4L_PS_LISTENING = 4,
	PTP4L_PS_PRE_MASTER = 5,
	PTP4L_PS_MASTER = 6,
	PTP4L_PS_PASSIVE = 7,
	PTP4L_PS_UNCALIBRATED = 8,
	PTP4L_PS_SLAVE = 9,
};

/* timePropertiesDS flags (linuxptp msg.h bit numbering). */
#define PTP4L_TP_LEAP_61 (1u << 0)
#define PTP4L_TP_LEAP_59 (1u << 1)
#define PTP4L_TP_UTC_OFF_VALID (1u << 2)
#define PTP4L_TP_PTP_TIMESCALE (1u << 3)
#define PTP4L_TP_TIME_TRACEABLE (1u << 4)
#define PTP4L_TP_FREQ_TRACEABLE (1u << 5)

/* clockAccuracy 0xFE: unknown (also used for reserved values). */
#define PTP4L_ACCURACY_UNKNOWN 0xfe

struct ptp4l_port_id {
	uint8_t clock_id[8];
	uint16_t port;
};

struct ptp4l_time_props {
	int16_t current_utc_offset_s; /* TAI - UTC */
	uint8_t flags;		      /* PTP4L_TP_* */
	uint8_t time_source;	      /* IEEE 1588 Table 7, 0xa0 internal */
};

struct ptp4l_port_ds {
	struct ptp4l_port_id port;
	uint8_t port_state; /* enum ptp4l_port_state, as received */
	int8_t log_min_delay_req_interval;
	int64_t peer_mean_path_delay_tins; /* TimeInterval, ns * 2^16 */
	int8_t log_announce_interval;
	uint8_t announce_receipt_timeout;
	int8_t log_sync_interval;
	uint8_t delay_mechanism;
	int8_t log_min_pdelay_req_interval;
	uint8_t version_number;
};

struct ptp4l_time_status {
	int64_t master_offset_ns;
	int64_t ingress_time_ns; /* PHC time of the last Sync ingress */
	int32_t cumulative_scaled_rate_offset; /* (rate ratio - 1) * 2^41 */
	int32_t scaled_last_gm_phase_change;
	uint16_t gm_time_base_indicator;
	bool gm_present; /* a foreign grandmaster is selected (not: locked) */
	uint8_t gm_identity[8];
};

struct ptp4l_parent_ds {
	struct ptp4l_port_id parent;
	uint8_t parent_stats;
	uint16_t observed_log_variance;
	int32_t observed_phase_change_rate;
	uint8_t gm_priority1;
	uint8_t gm_clock_class;
	uint8_t gm_clock_accuracy; /* see ptp4l_accuracy_ns() */
	uint16_t gm_log_variance;  /* offsetScaledLogVariance */
	uint8_t gm_priority2;
	uint8_t gm_identity[8];
};

struct ptp4l_current_ds {
	uint16_t steps_removed;
	int64_t offset_from_master_tins; /* TimeInterval, ns * 2^16 */
	int64_t mean_path_delay_tins;	 /* TimeInterval, ns * 2^16 */
};

/* One parsed reply: mgmt_id says which member of the union is valid. */
struct ptp4l_reply {
	uint16_t mgmt_id; /* enum ptp4l_mgmt_id */
	uint16_t seq;
	struct ptp4l_port_id source; /* responding port */
	union {
		struct ptp4l_time_props tp;
		struct ptp4l_port_ds port;
		struct ptp4l_time_status ts;
		struct ptp4l_parent_ds parent;
		struct ptp4l_current_ds cur;
	};
};

/* What a GET carries, and what its reply must echo. */
struct ptp4l_req {
	uint16_t mgmt_id; /* one of enum ptp4l_mgmt_id */
	uint16_t seq;
	uint8_t domain;		     /* ptp4l's domainNumber, default 0 */
	struct ptp4l_port_id source; /* ours; the reply targets it */
};

/* Size of the data set that follows the managementId of @mgmt_id, or 0
 * for an id this client does not know. */
size_t ptp4l_data_len(uint16_t mgmt_id);

/*
 * ptp4l_build_get() - encode a GET of @r->mgmt_id into @buf: PTP v2
 * header (MANAGEMENT, control 4, logMessageInterval 0x7f), wildcard
 * targetPortIdentity, boundary hops 0, and a MANAGEMENT TLV with no data
 * (as phc2sys sends). Returns the length written (PTP4L_REQ_LEN),
 * -EINVAL for an unknown id, -ENOBUFS if @len is too small.
 */
int ptp4l_build_get(uint8_t *buf, size_t len, const struct ptp4l_req *r);

/*
 * ptp4l_parse_reply() - check and decode one received datagram as the
 * reply to @r. Returns 0 with @out filled, or:
 *  -EBADMSG  short, over PTP4L_MAX_MSG, messageLength != @len, trailing
 *            bytes, a TLV length that is not the data set's size;
 *  -EPROTO   not version 2, not MANAGEMENT, action not RESPONSE, TLV
 *            type neither MANAGEMENT nor MANAGEMENT_ERROR_STATUS;
 *  -ESTALE   sequenceId, managementId, domain or target port differ
 *            from @r (an old or foreign reply: read on);
 *  -EOPNOTSUPP / -EREMOTEIO  ptp4l answered MANAGEMENT_ERROR_STATUS
 *            (NOT_SUPPORTED or NO_SUCH_ID / any other error); then
 *            *@err_id (if non-NULL) holds managementErrorId.
 */
int ptp4l_parse_reply(const uint8_t *buf, size_t len, const struct ptp4l_req *r,
		      struct ptp4l_reply *out, uint16_t *err_id);

/*
 * ptp4l_accuracy_ns() - IEEE 1588 clockAccuracy (Table 6; 0x17..0x1F
 * from 1588-2019) as its upper bound in ns, rounded up to 1 ns.
 * Returns 0, or -ENOENT for 0xFE (unknown), 0x31 (> 10 s) and reserved
 * values (then *@ns is untouched).
 */
int ptp4l_accuracy_ns(uint8_t accuracy, uint64_t *ns);

/*
 * ptp4l_error_budget_ns() - worst-case error of the PHC ptp4l disciplines,
 * from the same ptp4l data fbclock reads (its daemon/datafetcher_sock.go),
 * but worst-case rather than fbclock's mean + k sigma:
 *   |master_offset| + |meanPathDelay| (the bound on path asymmetry)
 *   + the grandmaster's clockAccuracy (@unknown_accuracy_ns if unknown),
 * saturating at UINT64_MAX. Returns 0, -ENOLINK when @ts says no
 * grandmaster is present, or -ENODATA when ptp4l has measured nothing yet:
 * ingress_time 0 (no timestamped Sync has reached its servo), or
 * master_offset and meanPathDelay both exactly 0 (no offset computed:
 * E2E/P2P needs a path delay first). (The caller should also require
 * portState SLAVE, or UNCALIBRATED in free_running setups.)
 */
int ptp4l_error_budget_ns(const struct ptp4l_time_status *ts,
			  const struct ptp4l_current_ds *cur,
			  const struct ptp4l_parent_ds *parent,
			  uint64_t unknown_accuracy_ns, uint64_t *budget_ns);

/* TimeInterval (ns * 2^16) to ns, rounded away from zero, saturating. */
int64_t ptp4l_tins_to_ns(int64_t tins);

struct ptp4l_client;

struct ptp4l_client_opts {
	/* ptp4l's uds_address; NULL: PTP4L_UDS_PATH_OLD if it exists, else
	 * PTP4L_UDS_PATH_NEW */
	const char *server_path;
	/* directory for our own bound socket; NULL: g_get_tmp_dir() */
	const char *bind_dir;
	uint8_t domain; /* ptp4l's domainNumber */
};

/*
 * ptp4l_client_new() - bind a datagram socket at
 * @o->bind_dir/vrtc-ptp4l.<pid>.<n> (removed again by ptp4l_client_free())
 * and connect it to ptp4l, so only ptp4l's datagrams are received.
 * Returns 0 with *@out set, or -errno (-ENAMETOOLONG for paths over
 * sun_path, -ENOENT/-ECONNREFUSED without ptp4l).
 */
int ptp4l_client_new(const struct ptp4l_client_opts *o,
		     struct ptp4l_client **out);

/* Close and unlink our socket; NULL is a no-op. */
void ptp4l_client_free(struct ptp4l_client *c);

/* The socket, for a GLib fd source (G_IO_IN). */
int ptp4l_client_fd(const struct ptp4l_client *c);

/* Path ptp4l is reached at (the resolved default if none was given). */
const char *ptp4l_client_server_path(const struct ptp4l_client *c);

/*
 * ptp4l_client_send_get() - send a GET of @mgmt_id with the next
 * sequenceId; it becomes the one outstanding request (an earlier one's
 * reply is then -ESTALE). Returns 0, -EINVAL, -EAGAIN (socket full), or
 * send()'s -errno.
 */
int ptp4l_client_send_get(struct ptp4l_client *c, uint16_t mgmt_id);

/*
 * ptp4l_client_recv() - read one datagram without blocking and parse it
 * against the outstanding request. Returns 0 with @out filled (the
 * request is then answered), -EAGAIN if nothing is queued, -EALREADY if
 * nothing is outstanding (the datagram is dropped), else
 * ptp4l_parse_reply()'s error for that datagram (read on for -ESTALE).
 */
int ptp4l_client_recv(struct ptp4l_client *c, struct ptp4l_reply *out,
		      uint16_t *err_id);

/*
 * ptp4l_client_get() - blocking helper: send_get, then wait up to
 * @timeout_ms for its reply, skipping stale and malformed datagrams.
 * Returns 0, -ETIMEDOUT, or a send/MANAGEMENT_ERROR_STATUS error.
 */
int ptp4l_client_get(struct ptp4l_client *c, uint16_t mgmt_id, int timeout_ms,
		     struct ptp4l_reply *out);

#endif /* SYNC_PTP4L_H */
