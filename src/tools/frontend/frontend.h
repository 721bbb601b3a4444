/* SPDX-License-Identifier: MIT */
/*
 * A vhost-user front-end for virtio-rtc back-ends: it plays QEMU (the
 * vhost-user messages, in QEMU's exact order) and a guest driver (the
 * split virtqueues in shared guest memory). Used by the integration
 * tests, the benchmark, and as a load/evaluation tool.
 *
 * Guest memory is one memfd shared as several regions, like QEMU does
 * with -m 4G: a low region at GPA 0 and a high region at GPA 4 GiB
 * (mmap_offset != 0); with vuf_opts.split_high the high region is cut
 * into three GPA-adjacent regions so buffers can straddle region
 * boundaries. Every region gets a fake "QEMU user address" that is not
 * the front-end's own mapping: ring addresses in SET_VRING_ADDR are such
 * user addresses, descriptor addresses are guest-physical.
 *
 * Errors: functions return 0 or -errno; the reason is also kept as text
 * in vuf_error(). Every wait is bounded by vuf_opts.timeout_ms (or an
 * explicit timeout): a misbehaving back-end makes calls fail, never hang.
 * A struct vuf is not thread-safe; use one per thread.
 */
#ifndef FRONTEND_H
#define FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vhost_user_wire.h"
#include "virtio_ring_wire.h"
#include "virtio_rtc_wire.h"
#include "time_ns.h"

/* Queues a virtio-rtc device has (requestq, alarmq). */
#define VUF_MAX_QUEUES 2

/* Bytes of request and of response room each in-flight request owns. */
#define VUF_SLOT_SIZE 128

/* Entries in each request's indirect table. */
#define VUF_INDIRECT_MAX 16

/* Byte written into response buffers before submission. */
#define VUF_FILL 0xaa

#define VUF_RING_FEATURES                                                      \
	((1ull << VIRTIO_RING_F_INDIRECT_DESC) |                               \
	 (1ull << VIRTIO_RING_F_EVENT_IDX) |                                   \
	 (1ull << VIRTIO_F_NOTIFY_ON_EMPTY))

struct vuf_opts {
	/* Ring features to accept when offered (subset of
	 * VUF_RING_FEATURES). Default: INDIRECT_DESC | EVENT_IDX, what a
	 * Linux guest acks. */
	uint64_t ring_features;
	unsigned int queue_size; /* power of 2, 1..1024; default 1024 */
	size_t mem_size;	 /* guest RAM bytes, >= 4 MiB; default 4 MiB */
	bool split_high;	 /* 4 regions instead of 2 */
	int timeout_ms;		 /* replies and completions; default 2000 */
	/* Queues to start at DRIVER_OK (1 = requestq only, like a guest
	 * without VIRTIO_RTC_F_ALARM). Default 1. */
	unsigned int started_queues;
	/* Device feature bits to accept when offered (e.g.
	 * 1 << VIRTIO_RTC_F_ALARM, with started_queues 2). Default 0. */
	uint64_t device_features;
	/* Leave the guest-memory memfd unsealed. By default it is sealed
	 * against growing and shrinking, as QEMU's memory-backend-memfd
	 * does (seal=on). */
	bool unsealed;
	/* Guest-physical placement of the requestq's descriptor table,
	 * avail ring and used ring; 0 = the default layout. */
	uint64_t ring_gpa[3];
};

/* Fill @o with the defaults described above. */
void vuf_opts_init(struct vuf_opts *o);

struct vuf;

/* ---- life cycle ------------------------------------------------------ */

/*
 * vuf_new() - allocate a front-end and its guest memory (not connected).
 * @opts may be NULL for the defaults. Returns NULL with errno set.
 */
struct vuf *vuf_new(const struct vuf_opts *opts);

/* Close the socket and every fd, unmap guest memory; NULL is a no-op. */
void vuf_free(struct vuf *v);

/* Connect to a listening back-end socket. Returns 0 or -errno. */
int vuf_connect(struct vuf *v, const char *socket_path);

/* Use an already connected socket (ownership passes). */
void vuf_attach(struct vuf *v, int sock_fd);

/*
 * vuf_init() - QEMU's realize sequence (A): GET_FEATURES,
 * GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM (with MQ),
 * SET_OWNER, GET_FEATURES, then SET_VRING_CALL + SET_VRING_ERR for each
 * queue. Checks VERSION_1 and PROTOCOL_FEATURES are offered.
 */
int vuf_init(struct vuf *v);

/*
 * vuf_driver_ok() - QEMU's start sequence (B) after the guest set
 * DRIVER_OK: SET_FEATURES, SET_MEM_TABLE (NEED_REPLY), then per started
 * ring NUM/BASE(0)/ADDR/KICK/CALL, SET_VRING_ENABLE 1 for every queue
 * (NEED_REPLY), SET_VRING_CALL again for every queue. The rings are
 * (re)initialised empty first, as a freshly probed guest driver does.
 */
int vuf_driver_ok(struct vuf *v);

/*
 * vuf_reset() - QEMU's stop sequence (C) on a guest reset:
 * SET_VRING_ENABLE 0 for every queue, then GET_VRING_BASE for each
 * started ring. @last_avail (may be NULL) receives, per queue, the
 * back-end's last_avail_idx. vuf_driver_ok() starts again.
 */
int vuf_reset(struct vuf *v, uint16_t last_avail[VUF_MAX_QUEUES]);

/*
 * vuf_disable() - the first half of sequence C: SET_VRING_ENABLE 0 for
 * every queue, the rings left started (a VM paused for the last phase
 * of a migration, whose guest made requests available just before).
 */
int vuf_disable(struct vuf *v);

/*
 * vuf_resume() - sequence B after vuf_reset() without a guest reset, as
 * QEMU does on "stop"/"cont": the rings keep their contents and indexes
 * and SET_VRING_BASE sends back what GET_VRING_BASE reported. Requests
 * made available (and kicked) while stopped must be served after this.
 */
int vuf_resume(struct vuf *v);

/*
 * vuf_mask_call() - SET_VRING_CALL with the "masked notifier" eventfd
 * (@masked, as QEMU does when the guest masks the vector) or with the
 * guest's call eventfd again. vuf_drain_masked() reads the signals that
 * went to the masked one.
 */
int vuf_mask_call(struct vuf *v, unsigned int q, bool masked);
uint64_t vuf_drain_masked(struct vuf *v, unsigned int q);

/* vuf_new() + vuf_connect() + vuf_init() + vuf_driver_ok(). */
int vuf_open(struct vuf **out, const char *socket_path,
	     const struct vuf_opts *opts);

/* Close the socket abruptly (as a crashing QEMU); fds stay open. */
void vuf_close(struct vuf *v);

/* Text of the last error, "" if none. */
const char *vuf_error(const struct vuf *v);

/* Negotiation results. */
uint64_t vuf_features_offered(const struct vuf *v);
uint64_t vuf_features_acked(const struct vuf *v);
uint64_t vuf_protocol_features(const struct vuf *v); /* offered */
unsigned int vuf_queue_num(const struct vuf *v);
int vuf_socket(const struct vuf *v);

/* ---- vhost-user messages ------------------------------------------- */

/*
 * vuf_msg_send() - one message: header (@flags added to the version
 * bits) + @size payload bytes + @nfds fds as SCM_RIGHTS on the header.
 */
int vuf_msg_send(struct vuf *v, uint32_t request, uint32_t flags,
		 const void *payload, uint32_t size, const int *fds,
		 unsigned int nfds);

/*
 * vuf_msg_recv() - wait for a reply to @request and check it: flags
 * exactly VERSION|REPLY (0x5), same request, size exactly @size, no fds.
 * Returns 0, -ETIMEDOUT, -ECONNRESET on EOF, or -EPROTO.
 */
int vuf_msg_recv(struct vuf *v, uint32_t request, void *payload, uint32_t size,
		 int timeout_ms);

/* Send raw bytes (any header, truncated or not) with optional fds. */
int vuf_send_raw(struct vuf *v, const void *buf, size_t len, const int *fds,
		 unsigned int nfds);

/* Request with a u64 reply (GET_FEATURES, GET_QUEUE_NUM, ...). */
int vuf_get_u64(struct vuf *v, uint32_t request, uint64_t *val);

/* Message with a u64 payload; with @need_reply, expects the u64 0 ack. */
int vuf_set_u64(struct vuf *v, uint32_t request, uint64_t val, bool need_reply);

/* Round-trip GET_FEATURES: 0 if the back-end still answers. */
int vuf_ping(struct vuf *v);

/*
 * vuf_wait_closed() - wait until the back-end closes the connection,
 * discarding whatever it sends before. Returns 0 on EOF/reset,
 * -ETIMEDOUT if the connection is still open after @timeout_ms.
 */
int vuf_wait_closed(struct vuf *v, int timeout_ms);

/* One region of the memory table as vuf_driver_ok() sends it. */
unsigned int vuf_mem_regions(const struct vuf *v,
			     struct vhost_user_mem_region *r, unsigned int max);

/* fd of the guest memory (for hand-made SET_MEM_TABLE messages). */
int vuf_mem_fd(const struct vuf *v);

/* ---- guest memory --------------------------------------------------- */

/* Our pointer to @len bytes at guest-physical @gpa, or NULL. */
void *vuf_gpa_ptr(struct vuf *v, uint64_t gpa, size_t len);

/* The fake QEMU user address of @gpa (0 if unmapped). */
uint64_t vuf_gpa_to_qva(const struct vuf *v, uint64_t gpa);

/* 1 MiB of guest memory no ring or slot uses (low region). */
uint64_t vuf_scratch_gpa(const struct vuf *v);

/* With split_high: the GPA where two high regions meet (0 otherwise). */
uint64_t vuf_boundary_gpa(const struct vuf *v, unsigned int which);

/* A GPA below 4 GiB that no region maps. */
#define VUF_GPA_HOLE 0x80000000ull

/* ---- driver side of the split rings -------------------------------- */

/* How a request's buffers are laid out in the descriptor table. */
struct vuf_layout {
	unsigned int out_segs; /* descriptors for the request, >= 1 */
	unsigned int in_segs;  /* descriptors for the response, 0 = none */
	bool indirect;	       /* put the chain in an indirect table */
	/* Place the request across one high-region boundary and the
	 * response across another (needs split_high). */
	bool cross_region;
};

/*
 * vuf_submit() - make one request available on queue @q (not kicked):
 * @req_len bytes copied from @req (<= VUF_SLOT_SIZE), @resp_len bytes of
 * device-writable room (pre-filled with VUF_FILL), laid out as @lay
 * (NULL: one descriptor each way). @cookie comes back on completion.
 * Returns 0, -ENOSPC when out of descriptors, -EINVAL.
 */
int vuf_submit(struct vuf *v, unsigned int q, const void *req, size_t req_len,
	       size_t resp_len, const struct vuf_layout *lay, uint64_t cookie);

/*
 * vuf_kick() - notify the device of new buffers if it wants it
 * (used->flags NO_NOTIFY, or avail_event with EVENT_IDX). Returns 1 if
 * the eventfd was written, 0 if suppressed, or -errno.
 */
int vuf_kick(struct vuf *v, unsigned int q);

/* Write the kick eventfd unconditionally. */
int vuf_kick_force(struct vuf *v, unsigned int q);

struct vuf_completion {
	uint16_t id;		     /* head descriptor */
	uint32_t len;		     /* used length reported by the device */
	uint64_t cookie;	     /* from vuf_submit() */
	uint32_t resp_cap;	     /* bytes of response room offered */
	uint8_t resp[VUF_SLOT_SIZE]; /* the whole response room */
};

/*
 * vuf_poll() - take the next used entry without waiting. Returns 1 with
 * @c filled, 0 if none, -EPROTO if the device returned an id that is not
 * in flight or a length larger than the room offered.
 */
int vuf_poll(struct vuf *v, unsigned int q, struct vuf_completion *c);

/*
 * vuf_wait() - wait for the next used entry, sleeping in poll() on the
 * call eventfd (interrupts are enabled first). Returns 0, -ETIMEDOUT,
 * -EPROTO.
 */
int vuf_wait(struct vuf *v, unsigned int q, struct vuf_completion *c,
	     int timeout_ms);

/* Like vuf_wait() but spinning on used->idx (no interrupts needed). */
int vuf_spin(struct vuf *v, unsigned int q, struct vuf_completion *c,
	     int timeout_ms);

/*
 * vuf_set_interrupts() - ask for call-eventfd signals (@on) or not:
 * avail->flags NO_INTERRUPT, and used_event with EVENT_IDX.
 */
void vuf_set_interrupts(struct vuf *v, unsigned int q, bool on);

/* Requests submitted and not yet completed. */
unsigned int vuf_inflight(const struct vuf *v, unsigned int q);

/* Counters since vuf_new(): kicks written, kicks suppressed, signals
 * read from the call eventfd. */
struct vuf_stats {
	uint64_t submitted, completed;
	uint64_t kicks, kicks_suppressed;
	uint64_t calls;
};
void vuf_get_stats(const struct vuf *v, unsigned int q, struct vuf_stats *s);

/* Read (and count) call-eventfd signals pending on @q; returns them. */
uint64_t vuf_drain_calls(struct vuf *v, unsigned int q);

/* ---- raw ring access, for hostile tests ----------------------------- */

/*
 * vuf_desc_reserve() - take @n descriptors off the free list for raw
 * use (until the next vuf_driver_ok()); their indexes go to @ids.
 */
int vuf_desc_reserve(struct vuf *v, unsigned int q, unsigned int n,
		     uint16_t *ids);

/* Write descriptor @idx (any value; @idx must be < queue size). */
void vuf_raw_desc(struct vuf *v, unsigned int q, uint16_t idx, uint64_t addr,
		  uint32_t len, uint16_t flags, uint16_t next);

/* Append @head to the avail ring and publish avail->idx + 1. */
void vuf_raw_avail(struct vuf *v, unsigned int q, uint16_t head);

/* Store any value in avail->idx. */
void vuf_raw_avail_idx(struct vuf *v, unsigned int q, uint16_t idx);

/* Current used->idx as the device wrote it. */
uint16_t vuf_used_idx(const struct vuf *v, unsigned int q);

/* Queue size in use. */
unsigned int vuf_queue_size(const struct vuf *v);

/* ---- virtio-rtc ------------------------------------------------------ */

struct vuf_rtc_reply {
	uint32_t used_len;
	uint8_t status; /* resp[0] when used_len >= 1 */
	uint8_t resp[VUF_SLOT_SIZE];
};

/*
 * vuf_rtc_call() - one synchronous request on the requestq (nothing else
 * may be in flight: -EBUSY), kicked as needed, waiting for the interrupt
 * up to vuf_opts.timeout_ms. @lay may be NULL. Returns 0 when a used
 * entry came back (whatever the status), or -errno.
 */
int vuf_rtc_call(struct vuf *v, const void *req, size_t req_len,
		 size_t resp_cap, const struct vuf_layout *lay,
		 struct vuf_rtc_reply *r);

/*
 * The helpers below return 0 if the status is OK and the used length is
 * exactly the response size, -EREMOTEIO for another status (in @status
 * if not NULL), -EPROTO for a wrong used length, or -errno.
 */
int vuf_rtc_read(struct vuf *v, uint16_t clock_id, uint64_t *ns);
int vuf_rtc_read_cross(struct vuf *v, uint16_t clock_id, uint8_t counter,
		       struct virtio_rtc_resp_read_cross *out, uint8_t *status);
int vuf_rtc_cfg(struct vuf *v, uint16_t *num_clocks, uint8_t *status);
int vuf_rtc_clock_cap(struct vuf *v, uint16_t clock_id,
		      struct virtio_rtc_resp_clock_cap *out, uint8_t *status);
int vuf_rtc_cross_cap(struct vuf *v, uint16_t clock_id, uint8_t counter,
		      struct virtio_rtc_resp_cross_cap *out, uint8_t *status);

/* SET_ALARM of @clock_id to @alarm_time, enabled or not. */
int vuf_rtc_set_alarm(struct vuf *v, uint16_t clock_id, uint64_t alarm_time,
		      bool enabled, uint8_t *status);

/* Build a READ request for @clock_id into @req. */
void vuf_rtc_req_read(struct virtio_rtc_req_read *req, uint16_t clock_id);

/* ---- live migration -------------------------------------------------- */

/*
 * QEMU's side of a vhost-user live migration (hw/virtio/vhost.c and
 * vhost-user.c): dirty logging while guest memory is copied, the stop,
 * and the device state through a pipe. A migration in a test:
 *
 *   source: vuf_log_start, traffic, vuf_log_sync..., vuf_reset (the
 *           stop), vuf_log_sync, vuf_state_save
 *   dest:   vuf_new (same opts), vuf_connect, vuf_init,
 *           vuf_migrate_guest (the copied RAM and driver), vuf_state_load,
 *           vuf_resume
 */

/*
 * vuf_log_start() - a sealed memfd log covering all guest memory;
 * SET_LOG_BASE (its reply read, as QEMU does with LOG_SHMFD),
 * SET_FEATURES with VHOST_F_LOG_ALL and SET_VRING_ADDR with
 * VHOST_VRING_F_LOG for every started ring, both acknowledged.
 * vuf_log_stop() sends them again without logging. 0 or -errno.
 */
int vuf_log_start(struct vuf *v);
int vuf_log_stop(struct vuf *v);

/* Bytes of the log (one bit per VHOST_LOG_PAGE of guest-physical
 * memory, from GPA 0 to the end of the highest region). */
size_t vuf_log_bytes(const struct vuf *v);

/*
 * vuf_log_sync() - take the dirty bits (atomically swapped to zero, as
 * QEMU collects them) and OR them into @bitmap (vuf_log_bytes() bytes).
 */
void vuf_log_sync(struct vuf *v, uint8_t *bitmap);

/* True if the page of @gpa is marked in @bitmap. */
bool vuf_log_page(const uint8_t *bitmap, uint64_t gpa);

/*
 * vuf_device_area() - true if the page at @gpa holds anything the
 * device may write: a used ring (with avail_event) or response room.
 * Every other page is written by the guest driver only.
 */
bool vuf_device_area(const struct vuf *v, uint64_t gpa);

/* Guest memory bytes (for snapshots: vuf_gpa_ptr() of each region). */
size_t vuf_mem_size(const struct vuf *v);

/*
 * vuf_state_save() - SET_DEVICE_STATE_FD (SAVE, STOPPED) with our pipe,
 * read it to EOF into *@out (free() it), then CHECK_DEVICE_STATE.
 * vuf_state_load() - SET_DEVICE_STATE_FD (LOAD) with our pipe, write
 * @len bytes, close it, CHECK_DEVICE_STATE. 0, -EREMOTEIO when the
 * back-end refuses or reports failure, or -errno.
 */
int vuf_state_save(struct vuf *v, uint8_t **out, size_t *len);
int vuf_state_load(struct vuf *v, const uint8_t *data, size_t len);

/*
 * vuf_migrate_guest() - make @dst (vuf_init() done, same options) the
 * migrated @src (stopped with vuf_reset()): its guest memory contents
 * and the driver's ring state, so vuf_resume(@dst) goes on where @src
 * stopped. Returns 0 or -EINVAL.
 */
int vuf_migrate_guest(struct vuf *dst, const struct vuf *src);

/* ---- time ------------------------------------------------------------ */

#endif /* FRONTEND_H */
