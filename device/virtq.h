/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue, device side (VIRTIO 1.x section 2.7).
 *
 * The ring lives in guest memory and is hostile: every index, length,
 * flag and address is checked. A violation marks the queue broken (it
 * then does nothing until virtq_reset()), never crashes, spins or
 * allocates. Supports direct and indirect chains (one level), EVENT_IDX
 * and NOTIFY_ON_EMPTY, and buffers spanning memory regions.
 *
 * Thread/loop: the daemon's main loop only.
 */
#ifndef DEVICE_VIRTQ_H
#define DEVICE_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "guest_mem.h"
#include "virtio_ring_wire.h"

/* iovecs one element may use, per direction; more marks the ring broken */
#define VIRTQ_ELEM_MAX_IOV 64

struct virtq_elem {
	uint16_t head;		 /* descriptor index to return as used.id */
	unsigned int out_num;	 /* device-readable iovecs */
	unsigned int in_num;	 /* device-writable iovecs */
	uint64_t out_len;	 /* total readable bytes */
	uint64_t in_len;	 /* total writable bytes */
	uint64_t mem_generation; /* guest_mem generation the iovecs are in */
	struct iovec out[VIRTQ_ELEM_MAX_IOV];
	struct iovec in[VIRTQ_ELEM_MAX_IOV];
};

struct virtq {
	/* Set by the front-end through vhost-user messages. */
	unsigned int num; /* queue size, power of 2, <= 1024 */
	uint64_t desc_qva, avail_qva, used_qva; /* front-end user addresses */
	uint16_t last_avail_idx; /* SET_VRING_BASE / GET_VRING_BASE */
	bool addr_set;
	bool enabled;		      /* SET_VRING_ENABLE */
	bool started;		      /* KICK received, not yet stopped */
	bool broken;		      /* hostile ring seen; until reset */
	const char *error;	      /* why broken (static string) */
	int kick_fd, call_fd, err_fd; /* -1 when absent */

	/* Negotiated ring features. */
	bool event_idx;
	bool indirect;
	bool notify_on_empty;

	/* Resolved from the front-end addresses, or NULL. */
	const struct guest_mem *mem;
	uint64_t mem_generation;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;

	/* Device-side state. */
	uint16_t used_idx;	 /* next used slot (shadow of used->idx) */
	uint16_t signalled_used; /* used idx at the last notification */
	bool signalled_used_valid;
	unsigned int inuse;   /* popped, not yet pushed */
	bool notify_disabled; /* virtq_disable_notification() in force */
	bool load_used_idx;   /* next virtq_map() reads used_idx from ring */
};

/* Fresh queue: nothing set, fds -1. */
void virtq_init(struct virtq *vq);

/*
 * virtq_reset() - back to the virtq_init() state, keeping nothing but
 * closing no fds (the owner closes kick/call/err before calling this).
 */
void virtq_reset(struct virtq *vq);

/*
 * SET_VRING_NUM: num must be a power of 2 in [1, VIRTQ_SIZE_MAX].
 * Like virtq_set_addr(), drops the resolved ring pointers: the queue does
 * nothing until the next virtq_map().
 */
int virtq_set_num(struct virtq *vq, unsigned int num);

/* SET_VRING_ADDR: records user addresses; resolved at virtq_map(). */
int virtq_set_addr(struct virtq *vq, uint64_t desc_qva, uint64_t used_qva,
		   uint64_t avail_qva);

/*
 * virtq_map() - resolve the ring pointers in @mem (at start, and after
 * every memory-table change). Checks alignment (desc 16, avail 2,
 * used 4) and that every ring part lies inside one region.
 * The first map after virtq_set_addr() loads used_idx from the ring's
 * used->idx (as vhost does); later maps keep the device-side state.
 * Returns 0 or -EFAULT / -EINVAL (the queue is then marked broken; that
 * includes calling it before virtq_set_num() and virtq_set_addr()).
 * Until the next successful map, a queue whose @mem changed generation
 * does nothing (pop returns 0, push and notify are dropped). @mem must
 * outlive the mapping: virtq_reset() the queue before guest_mem_free().
 */
int virtq_map(struct virtq *vq, const struct guest_mem *mem);

/* True if the queue is started, enabled, mapped and not broken. */
bool virtq_ready(const struct virtq *vq);

/* True if the guest has made buffers available we have not popped. */
bool virtq_has_work(const struct virtq *vq);

/*
 * virtq_pop() - take the next available chain.
 * Returns 1 with @e filled, 0 if none is available (or not mapped), or
 * -EIO if the ring is hostile (the queue is now broken; the reason is in
 * virtq_error(), and err_fd was signalled). With EVENT_IDX and
 * notifications enabled, also advances avail_event to the new index.
 */
int virtq_pop(struct virtq *vq, struct virtq_elem *e);

/*
 * virtq_elem_remap() - re-resolve the iovecs of an element popped before
 * a memory-table change (its e->mem_generation differs from the mapped
 * one) by walking its chain again. Call it, after virtq_map(), before
 * touching the iovecs of an element held across SET_MEM_TABLE (an alarm
 * buffer, say). No-op for an element that is current.
 * Returns 0, -EAGAIN if the queue is not mapped, or -EIO if the chain
 * is now hostile (the queue is then broken).
 */
int virtq_elem_remap(struct virtq *vq, struct virtq_elem *e);

/*
 * virtq_push() - return @e as used with @len bytes written, publishing
 * the used index (after a write barrier). @len is capped at e->in_len.
 * Does not notify: call virtq_notify() after one or more pushes.
 * Dropped (nothing written) when the queue is broken or not mapped.
 */
void virtq_push(struct virtq *vq, const struct virtq_elem *e, uint32_t len);

/*
 * virtq_recover() - after a crash of the process before us: what the
 * used ring says was answered is all that was (requests are answered
 * synchronously and alarmq buffers are taken only to be filled), so
 * the next available entry is the used index. Interrupts the driver
 * once, in case a used entry was written and not notified. False if
 * the queue is not mapped (nothing to do).
 */
bool virtq_recover(struct virtq *vq);

/*
 * virtq_notify() - signal call_fd if the guest wants an interrupt now
 * (EVENT_IDX used_event, or VRING_AVAIL_F_NO_INTERRUPT, NOTIFY_ON_EMPTY).
 */
void virtq_notify(struct virtq *vq);

/*
 * virtq_enable_notification() - ask the guest to kick on its next buffer
 * (avail_event with EVENT_IDX, else clear VRING_USED_F_NO_NOTIFY).
 * Returns true if work arrived meanwhile (the caller must process it
 * before sleeping). virtq_disable_notification() asks for no kicks while
 * the device polls the ring.
 */
bool virtq_enable_notification(struct virtq *vq);
void virtq_disable_notification(struct virtq *vq);

/* Why the queue was marked broken (static string), or NULL. */
const char *virtq_error(const struct virtq *vq);

/* Copy up to @len bytes from iovecs into @buf; returns bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned int n, void *buf,
		  size_t len);

/* Copy @len bytes from @buf into iovecs; returns bytes copied. */
size_t iov_from_buf(const struct iovec *iov, unsigned int n, const void *buf,
		    size_t len);

#endif /* DEVICE_VIRTQ_H */
