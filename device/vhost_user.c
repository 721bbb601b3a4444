/* SPDX-License-Identifier: MIT */
/*
 * vhost-user protocol state machine of one front-end connection.
 *
 * Ring life cycle, as QEMU's vhost-user-base drives it: a ring starts on
 * SET_VRING_KICK and stops on GET_VRING_BASE; SET_VRING_ENABLE may name a
 * queue that is never set up; MEM_TABLE, CALL and KICK come again on
 * every guest reset. The device is reset when the last ring stops. A
 * stopped ring is reset at once (only its err fd survives), so a queue
 * broken by a hostile guest works again after the guest resets it.
 */
#define G_LOG_DOMAIN "vrtc-device"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest_mem.h"
#include "ratelimit.h"
#include "vhost_user.h"

/* Requests newer than the header's list that expect a reply. */
#define VU_REQ_GET_SHARED_OBJECT 41
#define VU_REQ_SET_DEVICE_STATE_FD 42
#define VU_REQ_CHECK_DEVICE_STATE 43

/* Payload size checked by the handler itself. */
#define VU_SIZE_ANY UINT32_MAX

struct vu_conn {
	char *name;
	const struct vu_backend_ops *ops;
	void *backend;
	const struct vu_conn_hooks *hooks;
	void *opaque;

	struct guest_mem *mem;
	struct virtq vq[VU_NUM_QUEUES];
	uint64_t features;	    /* SET_FEATURES */
	uint64_t protocol_features; /* SET_PROTOCOL_FEATURES */

	uint32_t request; /* being handled, for error messages */
	char error[192];
	struct ratelimit rl; /* guest- and front-end-triggered lines */
};

/* One received message as the handlers see it. */
struct vu_msg {
	const struct vhost_user_header *h;
	const uint8_t *payload;
	int *fds; /* entries a handler keeps are set to -1 */
	unsigned int nfds;
};

/* The reply payload a handler produces (size 0: none). */
struct vu_out {
	uint32_t size;
	union {
		uint64_t u64;
		struct vhost_user_vring_state state;
	} u;
};

typedef int (*vu_handler)(struct vu_conn *c, struct vu_msg *m,
			  struct vu_out *out);

struct vu_req {
	const char *name;
	vu_handler fn;	 /* NULL: not supported */
	uint32_t size;	 /* exact payload bytes, or VU_SIZE_ANY */
	uint8_t max_fds; /* more is a protocol violation */
	bool reply;	 /* has a reply of its own */
};

/*
 * Record why the message closes the connection, prefixed with the
 * request's name; evaluates to -EPROTO.
 */
#define fail(c, fmt, ...)                                                      \
	(snprintf((c)->error, sizeof((c)->error), "%s: " fmt,                  \
		  vu_request_name((c)->request), ##__VA_ARGS__),               \
	 -EPROTO)

static void close_fd(int fd)
{
	if (fd >= 0) {
		close(fd);
	}
}

static uint64_t load_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void reply_u64(struct vu_out *out, uint64_t v)
{
	out->size = sizeof(out->u.u64);
	out->u.u64 = v;
}

static uint64_t offered_features(const struct vu_conn *c)
{
	return VU_TRANSPORT_FEATURES | c->ops->features;
}

static void queue_changed(struct vu_conn *c, unsigned int idx)
{
	if (c->hooks && c->hooks->queue_changed) {
		c->hooks->queue_changed(c->opaque, idx);
	}
}

static void apply_ring_features(const struct vu_conn *c, struct virtq *vq)
{
	vq->event_idx = c->features & (1ull << VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = c->features & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	vq->notify_on_empty = c->features & (1ull << VIRTIO_F_NOTIFY_ON_EMPTY);
}

static bool any_started(const struct vu_conn *c)
{
	unsigned int i;

	for (i = 0; i < VU_NUM_QUEUES; i++) {
		if (c->vq[i].started) {
			return true;
		}
	}
	return false;
}

/*
 * Stop queue @idx: drop its watch, close its kick and call fds, and reset
 * it (a broken queue works again) keeping only what the front-end set:
 * size, addresses, base, err fd and the negotiated ring features. QEMU
 * sends them all again before the next KICK; another front-end may not.
 */
static void queue_stop(struct vu_conn *c, unsigned int idx)
{
	struct virtq *vq = &c->vq[idx];
	struct virtq old = *vq;

	vq->started = false;
	vq->kick_fd = -1;
	queue_changed(c, idx);
	close_fd(old.kick_fd);
	close_fd(old.call_fd);
	virtq_reset(vq);
	vq->err_fd = old.err_fd;
	apply_ring_features(c, vq);
	if (old.num) {
		(void)virtq_set_num(vq, old.num);
	}
	if (old.addr_set) {
		(void)virtq_set_addr(vq, old.desc_qva, old.used_qva,
				     old.avail_qva);
	}
	vq->last_avail_idx = old.last_avail_idx;
}

/* RESET_OWNER / RESET_DEVICE: back to the state after SET_OWNER. */
static void conn_reset(struct vu_conn *c)
{
	unsigned int i;

	c->features = 0;
	for (i = 0; i < VU_NUM_QUEUES; i++) {
		queue_stop(c, i);
		close_fd(c->vq[i].err_fd);
		virtq_reset(&c->vq[i]);
	}
	c->ops->reset(c->backend);
}

/* Queue @idx, or NULL with the error recorded. */
static struct virtq *get_vq(struct vu_conn *c, uint32_t idx)
{
	if (idx >= VU_NUM_QUEUES) {
		(void)fail(c, "queue %" PRIu32 " out of range", idx);
		return NULL;
	}
	return &c->vq[idx];
}

static struct virtq *load_state(struct vu_conn *c, const struct vu_msg *m,
				struct vhost_user_vring_state *s)
{
	memcpy(s, m->payload, sizeof(*s));
	return get_vq(c, s->index);
}

/* ---- features and ownership ---------------------------------------- */

static int get_features(struct vu_conn *c, struct vu_msg *m, struct vu_out *out)
{
	reply_u64(out, offered_features(c));
	return 0;
}

static int set_features(struct vu_conn *c, struct vu_msg *m, struct vu_out *out)
{
	uint64_t f = load_u64(m->payload), offered = offered_features(c);
	unsigned int i;

	if (f & ~offered) {
		return fail(c, "features 0x%" PRIx64 " were not offered",
			    f & ~offered);
	}
	if (!(f & (1ull << VIRTIO_F_VERSION_1))) {
		return fail(c, "VERSION_1 not acked (legacy virtio)");
	}
	c->features = f;
	for (i = 0; i < VU_NUM_QUEUES; i++) {
		apply_ring_features(c, &c->vq[i]);
	}
	c->ops->set_features(c->backend, f);
	return 0;
}

static int get_protocol_features(struct vu_conn *c, struct vu_msg *m,
				 struct vu_out *out)
{
	reply_u64(out, VU_PROTOCOL_FEATURES);
	return 0;
}

static int set_protocol_features(struct vu_conn *c, struct vu_msg *m,
				 struct vu_out *out)
{
	uint64_t f = load_u64(m->payload);

	if (f & ~(uint64_t)VU_PROTOCOL_FEATURES) {
		return fail(c,
			    "protocol features 0x%" PRIx64 " were not offered",
			    f & ~(uint64_t)VU_PROTOCOL_FEATURES);
	}
	c->protocol_features = f;
	return 0;
}

static int get_queue_num(struct vu_conn *c, struct vu_msg *m,
			 struct vu_out *out)
{
	reply_u64(out, VU_NUM_QUEUES);
	return 0;
}

static int set_owner(struct vu_conn *c, struct vu_msg *m, struct vu_out *out)
{
	return 0;
}

static int reset_device(struct vu_conn *c, struct vu_msg *m, struct vu_out *out)
{
	conn_reset(c);
	return 0;
}

/* ---- memory --------------------------------------------------------- */

static int set_mem_table(struct vu_conn *c, struct vu_msg *m,
			 struct vu_out *out)
{
	struct vhost_user_mem_region regions[VHOST_USER_MAX_RAM_SLOTS];
	const size_t head = offsetof(struct vhost_user_mem_table, regions);
	uint32_t n, size = m->h->size;
	unsigned int i;
	int rc;

	if (size < head) {
		return fail(c, "payload of %" PRIu32 " bytes", size);
	}
	memcpy(&n, m->payload, sizeof(n));
	if (n == 0 || n > VHOST_USER_MAX_RAM_SLOTS) {
		return fail(c, "%" PRIu32 " regions (1..%d)", n,
			    VHOST_USER_MAX_RAM_SLOTS);
	}
	if (size != head + n * sizeof(regions[0])) {
		return fail(c,
			    "payload of %" PRIu32 " bytes for %" PRIu32
			    " regions",
			    size, n);
	}
	if (m->nfds != n) {
		return fail(c, "%u fds for %" PRIu32 " regions", m->nfds, n);
	}
	memcpy(regions, m->payload + head, n * sizeof(regions[0]));
	/* The fds are closed by the caller once mapped (or not). */
	rc = guest_mem_set_table(c->mem, regions, m->fds, n);
	if (rc == -EINVAL) {
		return fail(c, "invalid table (overlap, overflow or region "
			       "beyond its file)");
	}
	if (rc < 0) {
		return fail(c, "mapping failed: %s", g_strerror(-rc));
	}
	for (i = 0; i < VU_NUM_QUEUES; i++) {
		struct virtq *vq = &c->vq[i];

		if (!vq->started) {
			continue;
		}
		if (virtq_map(vq, c->mem) < 0) {
			return fail(c, "queue %u: %s", i, virtq_error(vq));
		}
		queue_changed(c, i);
	}
	return 0;
}

/* ---- rings ---------------------------------------------------------- */

static int set_vring_num(struct vu_conn *c, struct vu_msg *m,
			 struct vu_out *out)
{
	struct vhost_user_vring_state s;
	struct virtq *vq;

	vq = load_state(c, m, &s);
	if (!vq) {
		return -EPROTO;
	}
	if (vq->started) {
		return fail(c, "queue %" PRIu32 " is started", s.index);
	}
	if (virtq_set_num(vq, s.num) < 0) {
		return fail(c,
			    "queue %" PRIu32 ": size %" PRIu32
			    " is not a power of 2 in 1..%d",
			    s.index, s.num, VIRTQ_SIZE_MAX);
	}
	return 0;
}

static int set_vring_base(struct vu_conn *c, struct vu_msg *m,
			  struct vu_out *out)
{
	struct vhost_user_vring_state s;
	struct virtq *vq;

	vq = load_state(c, m, &s);
	if (!vq) {
		return -EPROTO;
	}
	if (vq->started) {
		return fail(c, "queue %" PRIu32 " is started", s.index);
	}
	if (s.num > UINT16_MAX) {
		return fail(c,
			    "queue %" PRIu32 ": base %" PRIu32 " out of range",
			    s.index, s.num);
	}
	vq->last_avail_idx = (uint16_t)s.num;
	return 0;
}

static int set_vring_addr(struct vu_conn *c, struct vu_msg *m,
			  struct vu_out *out)
{
	struct vhost_user_vring_addr a;
	struct virtq *vq;

	memcpy(&a, m->payload, sizeof(a));
	vq = get_vq(c, a.index);
	if (!vq) {
		return -EPROTO;
	}
	if (virtq_set_addr(vq, a.desc_user_addr, a.used_user_addr,
			   a.avail_user_addr) < 0) {
		return fail(c, "queue %" PRIu32 ": bad addresses", a.index);
	}
	/* Allowed on a running ring (vhost does it to toggle logging). */
	if (vq->started) {
		if (virtq_map(vq, c->mem) < 0) {
			return fail(c, "queue %" PRIu32 ": %s", a.index,
				    virtq_error(vq));
		}
		queue_changed(c, a.index);
	}
	return 0;
}

static int get_vring_base(struct vu_conn *c, struct vu_msg *m,
			  struct vu_out *out)
{
	struct vhost_user_vring_state s;
	struct virtq *vq;

	vq = load_state(c, m, &s);
	if (!vq) {
		return -EPROTO;
	}
	out->size = sizeof(out->u.state);
	out->u.state.index = s.index;
	out->u.state.num = vq->last_avail_idx;
	queue_stop(c, s.index);
	if (!any_started(c)) {
		c->ops->reset(c->backend);
	}
	return 0;
}

/*
 * Decode SET_VRING_KICK/CALL/ERR: u64 index | NOFD flag, and exactly one
 * fd unless NOFD. On success *@fd is ours (-1 for NOFD), non-blocking so
 * a hostile fd can never stall the loop.
 */
static int vring_fd(struct vu_conn *c, struct vu_msg *m, unsigned int *idx,
		    int *fd)
{
	uint64_t v = load_u64(m->payload);
	bool nofd = v & VHOST_USER_VRING_NOFD_MASK;
	int flags;

	*idx = 0;
	*fd = -1;
	if (v & ~(uint64_t)(VHOST_USER_VRING_IDX_MASK |
			    VHOST_USER_VRING_NOFD_MASK)) {
		return fail(c, "bad payload 0x%" PRIx64, v);
	}
	*idx = v & VHOST_USER_VRING_IDX_MASK;
	if (*idx >= VU_NUM_QUEUES) {
		return fail(c, "queue %u out of range", *idx);
	}
	if (m->nfds != (nofd ? 0u : 1u)) {
		return fail(c, "queue %u: %u fds with%s the no-fd flag", *idx,
			    m->nfds, nofd ? "" : "out");
	}
	if (nofd) {
		return 0;
	}
	flags = fcntl(m->fds[0], F_GETFL);
	if (flags < 0 || fcntl(m->fds[0], F_SETFL, flags | O_NONBLOCK) < 0) {
		return fail(c, "queue %u: unusable fd: %s", *idx,
			    g_strerror(errno));
	}
	*fd = m->fds[0];
	m->fds[0] = -1;
	return 0;
}

static int set_vring_kick(struct vu_conn *c, struct vu_msg *m,
			  struct vu_out *out)
{
	struct virtq *vq;
	unsigned int idx;
	int rc, fd, old;

	rc = vring_fd(c, m, &idx, &fd);
	if (rc < 0) {
		return rc;
	}
	vq = &c->vq[idx];
	if (!vq->started) {
		if (vq->num == 0 || !vq->addr_set) {
			close_fd(fd);
			return fail(c,
				    "queue %u started before size and address",
				    idx);
		}
		if (virtq_map(vq, c->mem) < 0) {
			close_fd(fd);
			return fail(c, "queue %u: %s", idx, virtq_error(vq));
		}
	}
	old = vq->kick_fd;
	vq->kick_fd = fd;
	vq->started = true;
	if (!(c->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))) {
		vq->enabled = true;
	}
	queue_changed(c, idx);
	close_fd(old);
	return 0;
}

/* SET_VRING_CALL / SET_VRING_ERR: the new fd replaces (closes) the old. */
static int replace_vring_fd(struct vu_conn *c, struct vu_msg *m, bool call)
{
	unsigned int idx;
	int rc, fd, *slot;

	rc = vring_fd(c, m, &idx, &fd);
	if (rc < 0) {
		return rc;
	}
	slot = call ? &c->vq[idx].call_fd : &c->vq[idx].err_fd;
	close_fd(*slot);
	*slot = fd;
	return 0;
}

static int set_vring_call(struct vu_conn *c, struct vu_msg *m,
			  struct vu_out *out)
{
	return replace_vring_fd(c, m, true);
}

static int set_vring_err(struct vu_conn *c, struct vu_msg *m,
			 struct vu_out *out)
{
	return replace_vring_fd(c, m, false);
}

static int set_vring_enable(struct vu_conn *c, struct vu_msg *m,
			    struct vu_out *out)
{
	struct vhost_user_vring_state s;
	struct virtq *vq;

	vq = load_state(c, m, &s);
	if (!vq) {
		return -EPROTO;
	}
	if (s.num > 1) {
		return fail(c, "queue %" PRIu32 ": enable %" PRIu32, s.index,
			    s.num);
	}
	vq->enabled = s.num;
	queue_changed(c, s.index);
	return 0;
}

/* ---- dispatch ------------------------------------------------------- */

#define U64 sizeof(uint64_t)
#define STATE sizeof(struct vhost_user_vring_state)

static const struct vu_req vu_reqs[] = {
	[VHOST_USER_GET_FEATURES] = { "GET_FEATURES", get_features, 0, 0,
				      true },
	[VHOST_USER_SET_FEATURES] = { "SET_FEATURES", set_features, U64, 0,
				      false },
	[VHOST_USER_SET_OWNER] = { "SET_OWNER", set_owner, 0, 0, false },
	[VHOST_USER_RESET_OWNER] = { "RESET_OWNER", reset_device, 0, 0, false },
	[VHOST_USER_SET_MEM_TABLE] = { "SET_MEM_TABLE", set_mem_table,
				       VU_SIZE_ANY, VHOST_USER_MAX_RAM_SLOTS,
				       false },
	[VHOST_USER_SET_LOG_BASE] = { "SET_LOG_BASE" },
	[VHOST_USER_SET_LOG_FD] = { "SET_LOG_FD" },
	[VHOST_USER_SET_VRING_NUM] = { "SET_VRING_NUM", set_vring_num, STATE, 0,
				       false },
	[VHOST_USER_SET_VRING_ADDR] = { "SET_VRING_ADDR", set_vring_addr,
					sizeof(struct vhost_user_vring_addr), 0,
					false },
	[VHOST_USER_SET_VRING_BASE] = { "SET_VRING_BASE", set_vring_base, STATE,
					0, false },
	[VHOST_USER_GET_VRING_BASE] = { "GET_VRING_BASE", get_vring_base, STATE,
					0, true },
	[VHOST_USER_SET_VRING_KICK] = { "SET_VRING_KICK", set_vring_kick, U64,
					1, false },
	[VHOST_USER_SET_VRING_CALL] = { "SET_VRING_CALL", set_vring_call, U64,
					1, false },
	[VHOST_USER_SET_VRING_ERR] = { "SET_VRING_ERR", set_vring_err, U64, 1,
				       false },
	[VHOST_USER_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES",
					       get_protocol_features, 0, 0,
					       true },
	[VHOST_USER_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES",
					       set_protocol_features, U64, 0,
					       false },
	[VHOST_USER_GET_QUEUE_NUM] = { "GET_QUEUE_NUM", get_queue_num, 0, 0,
				       true },
	[VHOST_USER_SET_VRING_ENABLE] = { "SET_VRING_ENABLE", set_vring_enable,
					  STATE, 0, false },
	[VHOST_USER_SEND_RARP] = { "SEND_RARP" },
	[VHOST_USER_NET_SET_MTU] = { "NET_SET_MTU" },
	[VHOST_USER_SET_BACKEND_REQ_FD] = { "SET_BACKEND_REQ_FD" },
	[VHOST_USER_IOTLB_MSG] = { "IOTLB_MSG" },
	[VHOST_USER_SET_VRING_ENDIAN] = { "SET_VRING_ENDIAN" },
	[VHOST_USER_GET_CONFIG] = { "GET_CONFIG", .reply = true },
	[VHOST_USER_SET_CONFIG] = { "SET_CONFIG" },
	[VHOST_USER_CREATE_CRYPTO_SESSION] = { "CREATE_CRYPTO_SESSION",
					       .reply = true },
	[VHOST_USER_CLOSE_CRYPTO_SESSION] = { "CLOSE_CRYPTO_SESSION" },
	[VHOST_USER_POSTCOPY_ADVISE] = { "POSTCOPY_ADVISE", .reply = true },
	[VHOST_USER_POSTCOPY_LISTEN] = { "POSTCOPY_LISTEN" },
	[VHOST_USER_POSTCOPY_END] = { "POSTCOPY_END", .reply = true },
	[VHOST_USER_GET_INFLIGHT_FD] = { "GET_INFLIGHT_FD", .reply = true },
	[VHOST_USER_SET_INFLIGHT_FD] = { "SET_INFLIGHT_FD" },
	[VHOST_USER_GPU_SET_SOCKET] = { "GPU_SET_SOCKET" },
	[VHOST_USER_RESET_DEVICE] = { "RESET_DEVICE", reset_device, 0, 0,
				      false },
	[VHOST_USER_VRING_KICK] = { "VRING_KICK" },
	[VHOST_USER_GET_MAX_MEM_SLOTS] = { "GET_MAX_MEM_SLOTS", .reply = true },
	[VHOST_USER_ADD_MEM_REG] = { "ADD_MEM_REG" },
	[VHOST_USER_REM_MEM_REG] = { "REM_MEM_REG" },
	[VHOST_USER_SET_STATUS] = { "SET_STATUS" },
	[VHOST_USER_GET_STATUS] = { "GET_STATUS", .reply = true },
	[VU_REQ_GET_SHARED_OBJECT] = { "GET_SHARED_OBJECT", .reply = true },
	[VU_REQ_SET_DEVICE_STATE_FD] = { "SET_DEVICE_STATE_FD", .reply = true },
	[VU_REQ_CHECK_DEVICE_STATE] = { "CHECK_DEVICE_STATE", .reply = true },
};

#undef U64
#undef STATE

static const struct vu_req *lookup(uint32_t request)
{
	if (request >= G_N_ELEMENTS(vu_reqs) || !vu_reqs[request].name) {
		return NULL;
	}
	return &vu_reqs[request];
}

const char *vu_request_name(uint32_t request)
{
	const struct vu_req *r = lookup(request);

	return r ? r->name : "UNKNOWN";
}

/*
 * A request we do not implement (none is ever sent to us by a front-end
 * that respects the features we offer). If it waits for a reply of its
 * own, no answer would be right: close. Otherwise ignore it, and fail it
 * when an ack is asked for.
 */
static int unsupported(struct vu_conn *c, const struct vu_req *r,
		       bool need_reply, struct vu_out *out)
{
	if (r && r->reply) {
		return fail(c, "not supported, and it expects a reply");
	}
	g_warning_ratelimited(
		&c->rl, "%s: ignoring unsupported request %s (%" PRIu32 ")",
		c->name, vu_request_name(c->request), c->request);
	if (need_reply) {
		reply_u64(out, 1);
	}
	return 0;
}

int vu_conn_handle(struct vu_conn *c, const struct vhost_user_header *h,
		   const void *payload, int *fds, unsigned int nfds,
		   void *reply, size_t *reply_len)
{
	const struct vu_req *r = lookup(h->request);
	struct vu_msg m = {
		.h = h,
		.payload = payload,
		.fds = fds,
		.nfds = nfds,
	};
	struct vu_out out = { .size = 0 };
	struct vhost_user_header rh;
	bool need_reply;
	unsigned int i;
	int rc;

	*reply_len = 0;
	c->request = h->request;
	c->error[0] = '\0';
	need_reply = (h->flags & VHOST_USER_NEED_REPLY_MASK) &&
		     (c->protocol_features &
		      (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));

	if ((h->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    (h->flags & VHOST_USER_REPLY_MASK)) {
		rc = fail(c, "bad flags 0x%" PRIx32, h->flags);
	} else if (h->size > VHOST_USER_PAYLOAD_MAX || (h->size && !payload)) {
		rc = fail(c, "payload of %" PRIu32 " bytes", h->size);
	} else if (nfds > VHOST_USER_MAX_FDS) {
		rc = fail(c, "%u fds", nfds);
	} else if (!r || !r->fn) {
		rc = unsupported(c, r, need_reply, &out);
	} else if (r->size != VU_SIZE_ANY && h->size != r->size) {
		rc = fail(c, "payload of %" PRIu32 " bytes, expected %" PRIu32,
			  h->size, r->size);
	} else if (nfds > r->max_fds) {
		rc = fail(c, "%u unexpected fds", nfds);
	} else {
		rc = r->fn(c, &m, &out);
		if (rc == 0 && !r->reply && need_reply) {
			reply_u64(&out, 0);
		}
	}

	for (i = 0; i < nfds; i++) {
		close_fd(fds[i]);
		fds[i] = -1;
	}
	if (rc < 0 || out.size == 0) {
		return rc;
	}
	rh.request = h->request;
	rh.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	rh.size = out.size;
	memcpy(reply, &rh, sizeof(rh));
	memcpy((uint8_t *)reply + sizeof(rh), &out.u, out.size);
	*reply_len = sizeof(rh) + out.size;
	return 0;
}

/* ---- life cycle and data path --------------------------------------- */

struct vu_conn *vu_conn_new(const char *name, const struct vu_backend_ops *ops,
			    void *backend, const struct vu_conn_hooks *hooks,
			    void *opaque)
{
	struct vu_conn *c;
	unsigned int i;

	c = calloc(1, sizeof(*c));
	if (!c) {
		return NULL;
	}
	c->name = strdup(name ? name : "?");
	c->mem = guest_mem_new();
	if (!c->name || !c->mem) {
		vu_conn_free(c);
		return NULL;
	}
	c->ops = ops;
	c->backend = backend;
	c->hooks = hooks;
	c->opaque = opaque;
	ratelimit_init(&c->rl, 5, 10);
	for (i = 0; i < VU_NUM_QUEUES; i++) {
		virtq_init(&c->vq[i]);
	}
	return c;
}

void vu_conn_free(struct vu_conn *c)
{
	unsigned int i;

	if (!c) {
		return;
	}
	for (i = 0; i < VU_NUM_QUEUES; i++) {
		close_fd(c->vq[i].kick_fd);
		close_fd(c->vq[i].call_fd);
		close_fd(c->vq[i].err_fd);
	}
	guest_mem_free(c->mem);
	free(c->name);
	free(c);
}

int vu_conn_process(struct vu_conn *c, unsigned int idx, unsigned int budget)
{
	struct virtq *vq = &c->vq[idx];
	int n;

	if (vq->broken) {
		return -EIO;
	}
	if (!virtq_ready(vq)) {
		return 0;
	}
	n = c->ops->process(c->backend, idx, vq, budget);
	if (guest_mem_poisoned(c->mem) && !vq->broken) {
		vq->broken = true;
		vq->error = "guest memory file shrank under its mapping";
	}
	if (n < 0 || vq->broken) {
		/* Once per break: the queue does nothing until reset. */
		vq->broken = true;
		g_warning_ratelimited(
			&c->rl, "%s: queue %u broken until reset: %s", c->name,
			idx,
			virtq_error(vq) ? virtq_error(vq) : "device error");
		return -EIO;
	}
	return n;
}

/* ---- live upgrade: the connection as messages ------------------------ */

static int save_u64(vu_save_fn emit, void *ctx, uint32_t req, uint64_t v,
		    int fd)
{
	return emit(ctx, req, &v, sizeof(v), &fd, fd >= 0 ? 1 : 0);
}

static int save_state(vu_save_fn emit, void *ctx, uint32_t req,
		      unsigned int idx, uint32_t num)
{
	struct vhost_user_vring_state st = { .index = idx, .num = num };

	return emit(ctx, req, &st, sizeof(st), NULL, 0);
}

static int save_ring_fd(vu_save_fn emit, void *ctx, uint32_t req,
			unsigned int idx, int fd)
{
	uint64_t v = idx | (fd < 0 ? VHOST_USER_VRING_NOFD_MASK : 0);

	return save_u64(emit, ctx, req, v, fd);
}

static int save_queue(const struct vu_conn *c, unsigned int i, vu_save_fn emit,
		      void *ctx)
{
	const struct virtq *vq = &c->vq[i];
	int rc = 0;

	if (vq->num) {
		rc = save_state(emit, ctx, VHOST_USER_SET_VRING_NUM, i,
				vq->num);
	}
	if (!rc && (vq->num || vq->last_avail_idx)) {
		rc = save_state(emit, ctx, VHOST_USER_SET_VRING_BASE, i,
				vq->last_avail_idx);
	}
	if (!rc && vq->addr_set) {
		struct vhost_user_vring_addr a = {
			.index = i,
			.desc_user_addr = vq->desc_qva,
			.used_user_addr = vq->used_qva,
			.avail_user_addr = vq->avail_qva,
		};

		rc = emit(ctx, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL,
			  0);
	}
	if (!rc && vq->err_fd >= 0) {
		rc = save_ring_fd(emit, ctx, VHOST_USER_SET_VRING_ERR, i,
				  vq->err_fd);
	}
	if (!rc && vq->started) {
		rc = save_ring_fd(emit, ctx, VHOST_USER_SET_VRING_KICK, i,
				  vq->kick_fd);
	}
	if (!rc && vq->call_fd >= 0) {
		rc = save_ring_fd(emit, ctx, VHOST_USER_SET_VRING_CALL, i,
				  vq->call_fd);
	}
	if (!rc && (c->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))) {
		rc = save_state(emit, ctx, VHOST_USER_SET_VRING_ENABLE, i,
				vq->enabled);
	}
	return rc;
}

int vu_conn_save(const struct vu_conn *c, vu_save_fn emit, void *ctx)
{
	struct vhost_user_mem_table t = { 0 };
	int fds[VHOST_USER_MAX_RAM_SLOTS];
	unsigned int i, n;
	int rc;

	rc = save_u64(emit, ctx, VHOST_USER_SET_PROTOCOL_FEATURES,
		      c->protocol_features, -1);
	if (!rc) {
		rc = emit(ctx, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	}
	if (!rc && c->features) {
		rc = save_u64(emit, ctx, VHOST_USER_SET_FEATURES, c->features,
			      -1);
	}
	n = guest_mem_nregions(c->mem);
	if (!rc && n) {
		t.nregions = n;
		for (i = 0; i < n; i++) {
			fds[i] = guest_mem_region(c->mem, i, &t.regions[i]);
			if (fds[i] < 0) {
				return fds[i];
			}
		}
		rc = emit(ctx, VHOST_USER_SET_MEM_TABLE, &t,
			  (uint32_t)(offsetof(struct vhost_user_mem_table,
					      regions) +
				     n * sizeof(t.regions[0])),
			  fds, n);
	}
	for (i = 0; !rc && i < VU_NUM_QUEUES; i++) {
		rc = save_queue(c, i, emit, ctx);
	}
	return rc;
}

int vu_conn_replay(struct vu_conn *c, uint32_t request, const void *payload,
		   uint32_t size, int *fds, unsigned int nfds)
{
	struct vhost_user_header h = {
		.request = request,
		.flags = VHOST_USER_VERSION,
		.size = size,
	};
	uint8_t reply[VU_REPLY_MAX];
	size_t reply_len;

	/* Only what vu_conn_save() writes: never a request with a reply. */
	switch (request) {
	case VHOST_USER_SET_PROTOCOL_FEATURES:
	case VHOST_USER_SET_OWNER:
	case VHOST_USER_SET_FEATURES:
	case VHOST_USER_SET_MEM_TABLE:
	case VHOST_USER_SET_VRING_NUM:
	case VHOST_USER_SET_VRING_BASE:
	case VHOST_USER_SET_VRING_ADDR:
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
	case VHOST_USER_SET_VRING_ENABLE:
		break;
	default:
		for (unsigned int i = 0; i < nfds; i++) {
			close_fd(fds[i]);
			fds[i] = -1;
		}
		return fail(c, "request %" PRIu32 " cannot be replayed",
			    request);
	}
	return vu_conn_handle(c, &h, payload, fds, nfds, reply, &reply_len);
}

unsigned int vu_conn_recover(struct vu_conn *c)
{
	unsigned int i, n = 0;

	for (i = 0; i < VU_NUM_QUEUES; i++) {
		n += virtq_recover(&c->vq[i]);
	}
	return n;
}

void vu_conn_break_queue(struct vu_conn *c, unsigned int idx, const char *why)
{
	if (idx < VU_NUM_QUEUES) {
		c->vq[idx].broken = true;
		c->vq[idx].error = why;
	}
}

bool vu_conn_queue_polled(const struct vu_conn *c, unsigned int idx)
{
	return c->ops->request_queues & (1u << idx);
}

const struct virtq *vu_conn_queue(const struct vu_conn *c, unsigned int idx)
{
	return &c->vq[idx];
}

bool vu_conn_notify_enable(struct vu_conn *c, unsigned int idx)
{
	if (!virtq_ready(&c->vq[idx])) {
		return false;
	}
	return virtq_enable_notification(&c->vq[idx]);
}

void vu_conn_notify_disable(struct vu_conn *c, unsigned int idx)
{
	if (virtq_ready(&c->vq[idx])) {
		virtq_disable_notification(&c->vq[idx]);
	}
}

bool vu_conn_has_work(const struct vu_conn *c, unsigned int idx)
{
	return virtq_ready(&c->vq[idx]) && virtq_has_work(&c->vq[idx]);
}

uint64_t vu_conn_features(const struct vu_conn *c)
{
	return c->features;
}

const char *vu_conn_error(const struct vu_conn *c)
{
	return c->error;
}

const char *vu_conn_name(const struct vu_conn *c)
{
	return c->name;
}
