/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user protocol of one front-end connection, without the
 * socket: a decoded message (header, payload, fds) goes in, a reply comes
 * out. The socket I/O, event sources and polling live in vu_server.c;
 * the device behind the transport comes in through struct vu_backend_ops
 * (rtc_backend.c for virtio-rtc).
 *
 * Everything a front-end sends is hostile. A message that violates the
 * protocol (wrong payload size, bad queue index, bad fd count, bad memory
 * table, ring outside guest memory, ...) makes vu_conn_handle() fail: the
 * caller closes the connection and logs vu_conn_error() once. A hostile
 * ring only marks its queue broken until the guest resets it.
 *
 * Thread/loop: the daemon's main loop only.
 */
#ifndef DEVICE_VHOST_USER_H
#define DEVICE_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vhost_user_wire.h"
#include "virtq.h"

/* Queues of the device (virtio-rtc: requestq, alarmq); GET_QUEUE_NUM. */
#define VU_NUM_QUEUES 2

/* Virtio features offered on top of the backend's device bits. */
#define VU_TRANSPORT_FEATURES                                                  \
	((1ull << VIRTIO_F_VERSION_1) |                                        \
	 (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |                            \
	 (1ull << VIRTIO_RING_F_INDIRECT_DESC) |                               \
	 (1ull << VIRTIO_RING_F_EVENT_IDX) |                                   \
	 (1ull << VIRTIO_F_NOTIFY_ON_EMPTY))

/* Protocol features offered (never CONFIG: virtio-rtc has no config). */
#define VU_PROTOCOL_FEATURES                                                   \
	((1ull << VHOST_USER_PROTOCOL_F_MQ) |                                  \
	 (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK))

/* Largest reply: header + u64 or vring_state. */
#define VU_REPLY_MAX (sizeof(struct vhost_user_header) + sizeof(uint64_t))

/* Chains one vu_conn_process() call handles at most. */
#define VU_PROCESS_BUDGET 64

/* The device behind the transport; @b is the backend's own object. */
struct vu_backend_ops {
	/* Device feature bits offered (e.g. 1 << VIRTIO_RTC_F_ALARM). */
	uint64_t features;
	/*
	 * Bitmask of queues driven by the guest's avail ring (the requestq):
	 * these are processed on kicks and polled. Other started queues
	 * still get process() on every kick (new buffers), never polling.
	 */
	uint32_t request_queues;
	/* SET_FEATURES accepted: the full negotiated feature set. */
	void (*set_features)(void *b, uint64_t features);
	/* Device reset: every ring stopped, or RESET_DEVICE/RESET_OWNER. */
	void (*reset)(void *b);
	/*
	 * process() - handle at most @budget chains of queue @idx, which is
	 * ready (virtq_ready()). Notifies the guest once for the batch.
	 * Returns the chains handled, or -EIO if the ring turned hostile.
	 */
	int (*process)(void *b, unsigned int idx, struct virtq *vq,
		       unsigned int budget);
};

/* What the connection tells its I/O layer (vu_server.c). */
struct vu_conn_hooks {
	/*
	 * queue_changed() - queue @idx was started, stopped, enabled,
	 * disabled, re-mapped, or got a new kick fd. Read the new state with
	 * vu_conn_queue(). Called before any old kick fd is closed, so the
	 * hook can drop its watch on it first. It must not call
	 * vu_conn_handle() or free the connection.
	 */
	void (*queue_changed)(void *opaque, unsigned int idx);
};

struct vu_conn;

/*
 * vu_conn_new() - protocol state for one accepted front-end.
 * @name:    for log lines (copied)
 * @ops, @backend: the device; @backend must outlive the connection
 * @hooks:   may be NULL (unit tests); @opaque is passed to them
 * Returns NULL on allocation failure.
 */
struct vu_conn *vu_conn_new(const char *name, const struct vu_backend_ops *ops,
			    void *backend, const struct vu_conn_hooks *hooks,
			    void *opaque);

/*
 * vu_conn_free() - close every kick/call/err fd and unmap guest memory.
 * Hooks are not called. NULL is a no-op.
 */
void vu_conn_free(struct vu_conn *c);

/*
 * vu_conn_handle() - execute one front-end message.
 * @h:       the header as received (host byte order)
 * @payload: @h->size bytes (any alignment); may be NULL when size is 0
 * @fds:     @nfds descriptors received with the message. They are always
 *           consumed: kept by the connection or closed, on success and on
 *           error alike; every entry is set to -1.
 * @reply:   VU_REPLY_MAX bytes for the reply (header + payload)
 * @reply_len: receives the bytes of @reply to send, 0 for no reply
 * Replies carry flags VERSION|REPLY (0x5) and their exact size. With
 * REPLY_ACK negotiated and NEED_REPLY set, a message without a reply of
 * its own is acknowledged with u64 0 (or 1 for an unsupported request).
 * Returns 0, or -errno when the connection must be closed (the reason is
 * in vu_conn_error(); nothing is logged here).
 */
int vu_conn_handle(struct vu_conn *c, const struct vhost_user_header *h,
		   const void *payload, int *fds, unsigned int nfds,
		   void *reply, size_t *reply_len);

/*
 * vu_conn_process() - run the backend on queue @idx if it is ready: at
 * most @budget chains. Logs (rate-limited) when the queue turns broken.
 * Returns the chains handled (0 if not ready), or -EIO if the queue is
 * broken.
 */
int vu_conn_process(struct vu_conn *c, unsigned int idx, unsigned int budget);

/* True if queue @idx is one the backend wants polled (request_queues). */
bool vu_conn_queue_polled(const struct vu_conn *c, unsigned int idx);

/* Queue @idx (< VU_NUM_QUEUES): read-only state for the I/O layer. */
const struct virtq *vu_conn_queue(const struct vu_conn *c, unsigned int idx);

/*
 * vu_conn_notify_enable() / vu_conn_notify_disable() - guest kicks on
 * (before sleeping) or off (while polling) for queue @idx; enable
 * returns true if work arrived meanwhile (process it before sleeping).
 * No-ops (false) on a queue that is not ready.
 */
bool vu_conn_notify_enable(struct vu_conn *c, unsigned int idx);
void vu_conn_notify_disable(struct vu_conn *c, unsigned int idx);

/* True if queue @idx is ready and has chains we have not popped. */
bool vu_conn_has_work(const struct vu_conn *c, unsigned int idx);

/* Why the last vu_conn_handle() failed ("" if it did not). */
const char *vu_conn_error(const struct vu_conn *c);

/* The name given to vu_conn_new(). */
const char *vu_conn_name(const struct vu_conn *c);

/* Name of a request type, for logs ("UNKNOWN" if out of range). */
/*
 * Live upgrade (see vu_server_save()). A connection's negotiated state is
 * written as the vhost-user messages that rebuild it, in QEMU's order:
 * SET_PROTOCOL_FEATURES, SET_OWNER, SET_FEATURES, SET_MEM_TABLE, then per
 * queue NUM, BASE, ADDR, ERR, KICK, CALL, ENABLE. The next process feeds
 * them to vu_conn_replay(), which checks them exactly as messages from
 * the socket: a corrupted image cannot make it map or touch anything a
 * front-end could not. The used index is read back from the ring, as
 * after any SET_VRING_ADDR; nothing is in flight (requests are answered
 * synchronously).
 */
typedef int (*vu_save_fn)(void *ctx, uint32_t request, const void *payload,
			  uint32_t size, const int *fds, unsigned int nfds);

/* vu_conn_save() - @emit each message; its fds stay ours. 0 or the first
 * error @emit returned. */
int vu_conn_save(const struct vu_conn *c, vu_save_fn emit, void *ctx);

/*
 * vu_conn_replay() - one saved message (only the requests listed above).
 * The fds are consumed whatever happens. Returns 0 or -EPROTO with the
 * reason in vu_conn_error().
 */
int vu_conn_replay(struct vu_conn *c, uint32_t request, const void *payload,
		   uint32_t size, int *fds, unsigned int nfds);

/* After a crash (not a live upgrade): every mapped queue restarts at
 * its used index (virtq_recover()). Returns how many queues. */
unsigned int vu_conn_recover(struct vu_conn *c);

/* Mark queue @idx broken until reset (it was so before the upgrade). */
void vu_conn_break_queue(struct vu_conn *c, unsigned int idx, const char *why);

/* The features SET_FEATURES set (0 before). */
uint64_t vu_conn_features(const struct vu_conn *c);

const char *vu_request_name(uint32_t request);

#endif /* DEVICE_VHOST_USER_H */
