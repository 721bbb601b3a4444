/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue layout (VIRTIO 1.x section 2.7), little-endian.
 */
#ifndef VIRTIO_RING_WIRE_H
#define VIRTIO_RING_WIRE_H

#include <stdint.h>

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4

#define VRING_USED_F_NO_NOTIFY 1
#define VRING_AVAIL_F_NO_INTERRUPT 1

/* Largest queue size this project supports (QEMU's vhost-user-rtc). */
#define VIRTQ_SIZE_MAX 1024

struct vring_desc {
	uint64_t addr; /* guest-physical */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* then le16 used_event when EVENT_IDX */
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[]; /* then le16 avail_event */
};

_Static_assert(sizeof(struct vring_desc) == 16, "desc");
_Static_assert(sizeof(struct vring_avail) == 4, "avail");
_Static_assert(sizeof(struct vring_used_elem) == 8, "used_elem");
_Static_assert(sizeof(struct vring_used) == 4, "used");

/* Bytes of each ring part for a queue of num entries, with EVENT_IDX. */
static inline uint64_t vring_desc_size(unsigned int num)
{
	return 16ull * num;
}

static inline uint64_t vring_avail_size(unsigned int num)
{
	return 4ull + 2ull * num + 2;
}

static inline uint64_t vring_used_size(unsigned int num)
{
	return 4ull + 8ull * num + 2;
}

/*
 * True if a notification is needed when the index moved from old_idx to
 * new_idx and the other side asked for one at event_idx (VIRTIO 2.7.10).
 */
static inline int vring_need_event(uint16_t event_idx, uint16_t new_idx,
				   uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) <
	       (uint16_t)(new_idx - old_idx);
}

#endif /* VIRTIO_RING_WIRE_H */
