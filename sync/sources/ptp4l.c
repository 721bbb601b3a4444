// SPDX-License-Identifier: MIT
/* ptp4l management client; see ptp4l.h and linuxptp's
 * pmc_common.c and tlv.h. */
#include <endian.h>
#include <errno.h>
#include <glib.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ptp4l.h"
#include "ptp4l_wire.h"
#include "time_ns.h"

_Static_assert(PTP4L_REQ_LEN == sizeof(struct ptp4l_wire_mgmt) +
					sizeof(struct ptp4l_wire_tlv),
	       "GET request length");

/* managementErrorId values (IEEE 1588 Table 72) mapped to errno. */
#define PTP4L_ERR_NO_SUCH_ID 0x0002
#define PTP4L_ERR_NOT_SUPPORTED 0x0006

struct ptp4l_client {
	int fd;
	bool bound; /* bind_path exists and is ours to unlink */
	bool outstanding;
	uint16_t next_seq;
	struct ptp4l_req req; /* the outstanding request */
	char bind_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char server_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

size_t ptp4l_data_len(uint16_t mgmt_id)
{
	switch (mgmt_id) {
	case PTP4L_MID_CURRENT_DATA_SET:
		return sizeof(struct ptp4l_wire_current_ds);
	case PTP4L_MID_PARENT_DATA_SET:
		return sizeof(struct ptp4l_wire_parent_ds);
	case PTP4L_MID_TIME_PROPERTIES_DATA_SET:
		return sizeof(struct ptp4l_wire_time_props);
	case PTP4L_MID_PORT_DATA_SET:
		return sizeof(struct ptp4l_wire_port_ds);
	case PTP4L_MID_TIME_STATUS_NP:
		return sizeof(struct ptp4l_wire_time_status);
	default:
		return 0;
	}
}

static struct ptp4l_wire_port_id port_id_to_wire(const struct ptp4l_port_id *p)
{
	struct ptp4l_wire_port_id w;

	memcpy(w.clock_id, p->clock_id, sizeof(w.clock_id));
	w.port = htobe16(p->port);
	return w;
}

static struct ptp4l_port_id port_id_from_wire(struct ptp4l_wire_port_id w)
{
	struct ptp4l_port_id p;

	memcpy(p.clock_id, w.clock_id, sizeof(p.clock_id));
	p.port = be16toh(w.port);
	return p;
}

int ptp4l_build_get(uint8_t *buf, size_t len, const struct ptp4l_req *r)
{
	struct ptp4l_wire_mgmt m;
	struct ptp4l_wire_tlv t;

	if (!ptp4l_data_len(r->mgmt_id)) {
		return -EINVAL;
	}
	if (len < PTP4L_REQ_LEN) {
		return -ENOBUFS;
	}
	memset(&m, 0, sizeof(m));
	m.hdr.tsmt = PTP4L_MSG_MANAGEMENT;
	m.hdr.ver = PTP4L_VERSION_MAJOR;
	m.hdr.msg_len = htobe16(PTP4L_REQ_LEN);
	m.hdr.domain = r->domain;
	m.hdr.source = port_id_to_wire(&r->source);
	m.hdr.seq = htobe16(r->seq);
	m.hdr.control = PTP4L_CTL_MANAGEMENT;
	m.hdr.log_interval = PTP4L_LOG_INTERVAL_NONE;
	memset(&m.target, 0xff, sizeof(m.target));
	m.action = PTP4L_ACTION_GET;

	t.type = htobe16(PTP4L_TLV_MANAGEMENT);
	t.len = htobe16(sizeof(t.id));
	t.id = htobe16(r->mgmt_id);

	memcpy(buf, &m, sizeof(m));
	memcpy(buf + sizeof(m), &t, sizeof(t));
	return PTP4L_REQ_LEN;
}

static void decode(const uint8_t *d, uint16_t id, struct ptp4l_reply *out)
{
	switch (id) {
	case PTP4L_MID_CURRENT_DATA_SET: {
		struct ptp4l_wire_current_ds w;

		memcpy(&w, d, sizeof(w));
		out->cur.steps_removed = be16toh(w.steps_removed);
		out->cur.offset_from_master_tins =
			(int64_t)be64toh(w.offset_from_master);
		out->cur.mean_path_delay_tins =
			(int64_t)be64toh(w.mean_path_delay);
		break;
	}
	case PTP4L_MID_PARENT_DATA_SET: {
		struct ptp4l_wire_parent_ds w;

		memcpy(&w, d, sizeof(w));
		out->parent.parent = port_id_from_wire(w.parent);
		out->parent.parent_stats = w.parent_stats;
		out->parent.observed_log_variance =
			be16toh(w.observed_log_variance);
		out->parent.observed_phase_change_rate =
			(int32_t)be32toh(w.observed_phase_change_rate);
		out->parent.gm_priority1 = w.gm_priority1;
		out->parent.gm_clock_class = w.gm_quality.clock_class;
		out->parent.gm_clock_accuracy = w.gm_quality.clock_accuracy;
		out->parent.gm_log_variance =
			be16toh(w.gm_quality.log_variance);
		out->parent.gm_priority2 = w.gm_priority2;
		memcpy(out->parent.gm_identity, w.gm_identity,
		       sizeof(w.gm_identity));
		break;
	}
	case PTP4L_MID_TIME_PROPERTIES_DATA_SET: {
		struct ptp4l_wire_time_props w;

		memcpy(&w, d, sizeof(w));
		out->tp.current_utc_offset_s =
			(int16_t)be16toh(w.current_utc_offset);
		out->tp.flags = w.flags;
		out->tp.time_source = w.time_source;
		break;
	}
	case PTP4L_MID_PORT_DATA_SET: {
		struct ptp4l_wire_port_ds w;

		memcpy(&w, d, sizeof(w));
		out->port.port = port_id_from_wire(w.port);
		out->port.port_state = w.port_state;
		out->port.log_min_delay_req_interval =
			w.log_min_delay_req_interval;
		out->port.peer_mean_path_delay_tins =
			(int64_t)be64toh(w.peer_mean_path_delay);
		out->port.log_announce_interval = w.log_announce_interval;
		out->port.announce_receipt_timeout = w.announce_receipt_timeout;
		out->port.log_sync_interval = w.log_sync_interval;
		out->port.delay_mechanism = w.delay_mechanism;
		out->port.log_min_pdelay_req_interval =
			w.log_min_pdelay_req_interval;
		out->port.version_number = w.version_number;
		break;
	}
	case PTP4L_MID_TIME_STATUS_NP: {
		struct ptp4l_wire_time_status w;

		memcpy(&w, d, sizeof(w));
		out->ts.master_offset_ns = (int64_t)be64toh(w.master_offset);
		out->ts.ingress_time_ns = (int64_t)be64toh(w.ingress_time);
		out->ts.cumulative_scaled_rate_offset =
			(int32_t)be32toh(w.cumulative_scaled_rate_offset);
		out->ts.scaled_last_gm_phase_change =
			(int32_t)be32toh(w.scaled_last_gm_phase_change);
		out->ts.gm_time_base_indicator =
			be16toh(w.gm_time_base_indicator);
		out->ts.gm_present = be32toh(w.gm_present) != 0;
		memcpy(out->ts.gm_identity, w.gm_identity,
		       sizeof(w.gm_identity));
		break;
	}
	default:
		break;
	}
}

int ptp4l_parse_reply(const uint8_t *buf, size_t len, const struct ptp4l_req *r,
		      struct ptp4l_reply *out, uint16_t *err_id)
{
	struct ptp4l_wire_mgmt m;
	struct ptp4l_wire_tlv t;
	struct ptp4l_wire_port_id us = port_id_to_wire(&r->source);
	size_t tlv_len;
	uint16_t type, id;

	if (len < PTP4L_REQ_LEN || len > PTP4L_MAX_MSG) {
		return -EBADMSG;
	}
	memcpy(&m, buf, sizeof(m));
	memcpy(&t, buf + sizeof(m), sizeof(t));
	if ((m.hdr.ver & 0x0f) != PTP4L_VERSION_MAJOR ||
	    (m.hdr.tsmt & 0x0f) != PTP4L_MSG_MANAGEMENT) {
		return -EPROTO;
	}
	if (be16toh(m.hdr.msg_len) != len) {
		return -EBADMSG;
	}
	if ((m.action & 0x0f) != PTP4L_ACTION_RESPONSE) {
		return -EPROTO;
	}
	if (be16toh(m.hdr.seq) != r->seq || m.hdr.domain != r->domain ||
	    memcmp(&m.target, &us, sizeof(us)) != 0) {
		return -ESTALE;
	}
	/* Exactly one TLV, filling the message. */
	tlv_len = be16toh(t.len);
	if (tlv_len < sizeof(t.id) || sizeof(m) + 4 + tlv_len != len) {
		return -EBADMSG;
	}
	type = be16toh(t.type);
	id = be16toh(t.id);
	if (type == PTP4L_TLV_MANAGEMENT_ERROR_STATUS) {
		struct ptp4l_wire_error e;

		if (tlv_len < sizeof(t.id) + sizeof(e)) {
			return -EBADMSG;
		}
		memcpy(&e, buf + sizeof(m) + sizeof(t), sizeof(e));
		if (be16toh(e.mgmt_id) != r->mgmt_id) {
			return -ESTALE;
		}
		if (err_id) {
			*err_id = id;
		}
		return id == PTP4L_ERR_NOT_SUPPORTED ||
				       id == PTP4L_ERR_NO_SUCH_ID
			       ? -EOPNOTSUPP
			       : -EREMOTEIO;
	}
	if (type != PTP4L_TLV_MANAGEMENT) {
		return -EPROTO;
	}
	if (id != r->mgmt_id) {
		return -ESTALE;
	}
	if (tlv_len != sizeof(t.id) + ptp4l_data_len(id)) {
		return -EBADMSG;
	}
	memset(out, 0, sizeof(*out));
	out->mgmt_id = id;
	out->seq = r->seq;
	out->source = port_id_from_wire(m.hdr.source);
	decode(buf + sizeof(m) + sizeof(t), id, out);
	return 0;
}

int ptp4l_accuracy_ns(uint8_t accuracy, uint64_t *ns)
{
	/* 0x17 (1 ps) .. 0x30 (10 s), upper bounds rounded up to ns */
	static const uint64_t table[] = {
		1,	    1,
		1,	    1,
		1,	    1,
		1,	    3,
		10,	    25,
		100,	    250,
		1000,	    2500,
		10000,	    25000,
		100000,	    250000,
		1000000,    2500000,
		10000000,   25000000,
		100000000,  250000000,
		1000000000, 10000000000ULL,
	};
	_Static_assert(sizeof(table) / sizeof(table[0]) == 0x30 - 0x17 + 1,
		       "clockAccuracy table");

	if (accuracy < 0x17 || accuracy > 0x30) {
		return -ENOENT;
	}
	*ns = table[accuracy - 0x17];
	return 0;
}

int64_t ptp4l_tins_to_ns(int64_t tins)
{
	int64_t q = tins / 65536;

	if (tins % 65536 > 0) {
		q++;
	} else if (tins % 65536 < 0) {
		q--;
	}
	return q;
}

static uint64_t abs_u64(int64_t v)
{
	return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int ptp4l_error_budget_ns(const struct ptp4l_time_status *ts,
			  const struct ptp4l_current_ds *cur,
			  const struct ptp4l_parent_ds *parent,
			  uint64_t unknown_accuracy_ns, uint64_t *budget_ns)
{
	uint64_t acc_ns;

	if (!ts->gm_present) {
		return -ENOLINK;
	}
	/*
	 * Never measured: no timestamped Sync has reached the servo
	 * (ingress_time is set by each one), or no offset has been computed
	 * (it needs a path delay first). ptp4l then reports 0 for both, which
	 * would otherwise read as a perfect lock (seen with a NIC giving no
	 * Rx timestamps: "received SYNC without timestamp").
	 */
	if (ts->ingress_time_ns == 0 ||
	    (ts->master_offset_ns == 0 && cur->mean_path_delay_tins == 0)) {
		return -ENODATA;
	}
	if (ptp4l_accuracy_ns(parent->gm_clock_accuracy, &acc_ns) < 0) {
		acc_ns = unknown_accuracy_ns;
	}
	*budget_ns = sat_add(
		sat_add(abs_u64(ts->master_offset_ns),
			abs_u64(ptp4l_tins_to_ns(cur->mean_path_delay_tins))),
		acc_ns);
	return 0;
}

static int set_path(char *dst, size_t size, const char *src)
{
	if (strlen(src) >= size) {
		return -ENAMETOOLONG;
	}
	strcpy(dst, src);
	return 0;
}

int ptp4l_client_new(const struct ptp4l_client_opts *o,
		     struct ptp4l_client **out)
{
	static unsigned int instance;
	struct ptp4l_client *c;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *server = o->server_path;
	const char *dir = o->bind_dir ? o->bind_dir : g_get_tmp_dir();
	struct stat st;
	int n, ret;

	if (!server) {
		server = stat(PTP4L_UDS_PATH_OLD, &st) == 0
				 ? PTP4L_UDS_PATH_OLD
				 : PTP4L_UDS_PATH_NEW;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	c->fd = -1;
	c->req.domain = o->domain;
	/* Our portIdentity: "vrtc", the pid, and an instance number. */
	memcpy(c->req.source.clock_id, "vrtc", 4);
	c->req.source.clock_id[4] = (uint8_t)(getpid() >> 24);
	c->req.source.clock_id[5] = (uint8_t)(getpid() >> 16);
	c->req.source.clock_id[6] = (uint8_t)(getpid() >> 8);
	c->req.source.clock_id[7] = (uint8_t)getpid();
	c->req.source.port = (uint16_t)++instance;

	ret = set_path(c->server_path, sizeof(c->server_path), server);
	if (ret < 0) {
		goto fail;
	}
	n = snprintf(c->bind_path, sizeof(c->bind_path), "%s/vrtc-ptp4l.%d.%u",
		     dir, (int)getpid(), instance);
	if (n < 0 || (size_t)n >= sizeof(c->bind_path)) {
		ret = -ENAMETOOLONG;
		goto fail;
	}
	c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		ret = -errno;
		goto fail;
	}
	/* A leftover of an earlier process with our pid is stale. */
	unlink(c->bind_path);
	strcpy(sa.sun_path, c->bind_path);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto fail;
	}
	c->bound = true;
	strcpy(sa.sun_path, c->server_path);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	ptp4l_client_free(c);
	return ret;
}

void ptp4l_client_free(struct ptp4l_client *c)
{
	if (!c) {
		return;
	}
	if (c->fd >= 0) {
		close(c->fd);
	}
	if (c->bound) {
		unlink(c->bind_path);
	}
	free(c);
}

int ptp4l_client_fd(const struct ptp4l_client *c)
{
	return c->fd;
}

const char *ptp4l_client_server_path(const struct ptp4l_client *c)
{
	return c->server_path;
}

int ptp4l_client_send_get(struct ptp4l_client *c, uint16_t mgmt_id)
{
	uint8_t buf[PTP4L_REQ_LEN];
	struct ptp4l_req r = c->req;
	ssize_t n;
	int len;

	r.mgmt_id = mgmt_id;
	r.seq = c->next_seq;
	len = ptp4l_build_get(buf, sizeof(buf), &r);
	if (len < 0) {
		return len;
	}
	n = send(c->fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0) {
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	if (n != len) {
		return -EIO;
	}
	c->next_seq++;
	c->req = r;
	c->outstanding = true;
	return 0;
}

int ptp4l_client_recv(struct ptp4l_client *c, struct ptp4l_reply *out,
		      uint16_t *err_id)
{
	uint8_t buf[PTP4L_MAX_MSG];
	ssize_t n;
	int ret;

	/* MSG_TRUNC: the datagram's real length, to reject oversized ones */
	n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0) {
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	if (!c->outstanding) {
		return -EALREADY;
	}
	if ((size_t)n > sizeof(buf)) {
		return -EBADMSG;
	}
	ret = ptp4l_parse_reply(buf, (size_t)n, &c->req, out, err_id);
	if (ret != -ESTALE && ret != -EBADMSG && ret != -EPROTO) {
		c->outstanding = false;
	}
	return ret;
}

int ptp4l_client_get(struct ptp4l_client *c, uint16_t mgmt_id, int timeout_ms,
		     struct ptp4l_reply *out)
{
	int64_t deadline = time_ns_now_ms(CLOCK_MONOTONIC) + timeout_ms;
	int ret;

	ret = ptp4l_client_send_get(c, mgmt_id);
	if (ret < 0) {
		return ret;
	}
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int64_t left = deadline - time_ns_now_ms(CLOCK_MONOTONIC);

		if (left <= 0) {
			c->outstanding = false;
			return -ETIMEDOUT;
		}
		ret = poll(&p, 1, (int)left);
		if (ret < 0 && errno != EINTR) {
			return -errno;
		}
		if (ret <= 0) {
			continue;
		}
		ret = ptp4l_client_recv(c, out, NULL);
		if (ret == 0 || ret == -EOPNOTSUPP || ret == -EREMOTEIO) {
			return ret;
		}
		if (ret != -EAGAIN && ret != -ESTALE && ret != -EBADMSG &&
		    ret != -EPROTO && ret != -EALREADY) {
			return ret;
		}
	}
}
