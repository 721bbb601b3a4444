/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue, device side.
 *
 * The guest writes the rings concurrently with us: every ring word is
 * read once (atomically for the 16-bit indexes, by a copy for
 * descriptors) and checked before use, so the guest cannot change a
 * value between our check and our use. Walks are bounded by the queue
 * size (direct) or the table length (indirect).
 *
 * Ordering (VIRTIO 2.7.7 / 2.7.13): avail->idx, then acquire, then ring
 * entries and descriptors; used elements, then release, then used->idx;
 * with EVENT_IDX a full fence separates publishing our index from reading
 * the guest's.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>

#include "virtq.h"

static uint16_t load16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static void store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

static void store32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, htole32(v), __ATOMIC_RELAXED);
}

/* le16 used_event, after the avail ring */
static uint16_t *used_event_ptr(const struct virtq *vq)
{
	return &vq->avail->ring[vq->num];
}

/* le16 avail_event, after the used ring */
static uint16_t *avail_event_ptr(const struct virtq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

static bool mapped(const struct virtq *vq)
{
	return vq->desc && vq->mem &&
	       guest_mem_generation(vq->mem) == vq->mem_generation;
}

static void unmap(struct virtq *vq)
{
	vq->mem = NULL;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
}

static int mark_broken(struct virtq *vq, const char *why, int rc)
{
	if (!vq->broken) {
		vq->broken = true;
		vq->error = why;
		if (vq->err_fd >= 0) {
			(void)eventfd_write(vq->err_fd, 1);
		}
	}
	return rc;
}

void virtq_init(struct virtq *vq)
{
	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
}

void virtq_reset(struct virtq *vq)
{
	virtq_init(vq);
}

int virtq_set_num(struct virtq *vq, unsigned int num)
{
	if (num == 0 || num > VIRTQ_SIZE_MAX || (num & (num - 1)) != 0) {
		return -EINVAL;
	}
	vq->num = num;
	unmap(vq);
	return 0;
}

int virtq_set_addr(struct virtq *vq, uint64_t desc_qva, uint64_t used_qva,
		   uint64_t avail_qva)
{
	vq->desc_qva = desc_qva;
	vq->used_qva = used_qva;
	vq->avail_qva = avail_qva;
	vq->addr_set = true;
	vq->load_used_idx = true;
	unmap(vq);
	return 0;
}

int virtq_map(struct virtq *vq, const struct guest_mem *mem)
{
	void *desc, *avail, *used;

	unmap(vq);
	if (vq->num == 0 || !vq->addr_set) {
		return mark_broken(vq, "ring mapped before size and address",
				   -EINVAL);
	}
	if (vq->desc_qva % 16 != 0 || vq->avail_qva % 2 != 0 ||
	    vq->used_qva % 4 != 0) {
		return mark_broken(vq, "misaligned ring address", -EINVAL);
	}
	desc = guest_mem_qva_to_ptr(mem, vq->desc_qva,
				    vring_desc_size(vq->num));
	avail = guest_mem_qva_to_ptr(mem, vq->avail_qva,
				     vring_avail_size(vq->num));
	used = guest_mem_qva_to_ptr(mem, vq->used_qva,
				    vring_used_size(vq->num));
	if (!desc || !avail || !used) {
		return mark_broken(vq, "ring outside guest memory", -EFAULT);
	}
	/*
	 * An odd mmap_offset or user address in the memory table can leave
	 * an aligned ring address misaligned in our mapping.
	 */
	if ((uintptr_t)desc % 16 != 0 || (uintptr_t)avail % 2 != 0 ||
	    (uintptr_t)used % 4 != 0) {
		return mark_broken(vq, "ring misaligned in guest memory",
				   -EINVAL);
	}
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->mem = mem;
	vq->mem_generation = guest_mem_generation(mem);
	if (vq->load_used_idx) {
		vq->load_used_idx = false;
		vq->used_idx = load16(&vq->used->idx);
		vq->signalled_used_valid = false;
	}
	return 0;
}

bool virtq_ready(const struct virtq *vq)
{
	return vq->started && vq->enabled && !vq->broken && mapped(vq);
}

bool virtq_has_work(const struct virtq *vq)
{
	if (vq->broken || !mapped(vq)) {
		return false;
	}
	return load16(&vq->avail->idx) != vq->last_avail_idx;
}

/* A descriptor table being walked: the ring's, or an indirect one. */
struct desc_table {
	const uint8_t *base; /* contiguous table, or NULL */
	uint64_t gpa;	     /* indirect table spanning regions */
	unsigned int num;    /* entries */
};

static int read_desc(const struct virtq *vq, const struct desc_table *t,
		     unsigned int i, struct vring_desc *d)
{
	struct iovec iov[VHOST_USER_MAX_RAM_SLOTS];
	int n;

	if (t->base) {
		memcpy(d, t->base + (size_t)i * sizeof(*d), sizeof(*d));
	} else {
		n = guest_mem_gpa_to_iov(vq->mem, t->gpa + 16ull * i,
					 sizeof(*d), iov,
					 VHOST_USER_MAX_RAM_SLOTS);
		if (n < 0) {
			return n;
		}
		(void)iov_to_buf(iov, (unsigned int)n, d, sizeof(*d));
	}
	/* Use the copy only: no re-read the guest could change. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return 0;
}

static int enter_indirect(struct virtq *vq, struct desc_table *t, bool nested,
			  uint16_t flags, uint64_t addr, uint32_t len)
{
	struct iovec iov[VHOST_USER_MAX_RAM_SLOTS];

	if (!vq->indirect) {
		return mark_broken(vq, "indirect descriptor not negotiated",
				   -EIO);
	}
	if (nested) {
		return mark_broken(vq, "nested indirect descriptor", -EIO);
	}
	if (flags & VRING_DESC_F_NEXT) {
		return mark_broken(vq, "indirect descriptor with NEXT", -EIO);
	}
	if (len == 0 || len % sizeof(struct vring_desc) != 0 ||
	    len / sizeof(struct vring_desc) > VIRTQ_SIZE_MAX) {
		return mark_broken(vq, "bad indirect table length", -EIO);
	}
	t->num = len / sizeof(struct vring_desc);
	t->gpa = addr;
	t->base = guest_mem_gpa_to_ptr(vq->mem, addr, len);
	if (!t->base && guest_mem_gpa_to_iov(vq->mem, addr, len, iov,
					     VHOST_USER_MAX_RAM_SLOTS) < 0) {
		return mark_broken(vq, "indirect table outside guest memory",
				   -EIO);
	}
	return 0;
}

static int add_buffer(struct virtq *vq, struct virtq_elem *e, bool write,
		      uint64_t addr, uint32_t len)
{
	struct iovec *iov = write ? e->in : e->out;
	unsigned int *num = write ? &e->in_num : &e->out_num;
	int n;

	if (len == 0) {
		return mark_broken(vq, "zero-length descriptor", -EIO);
	}
	if (!write && e->in_num > 0) {
		return mark_broken(vq, "readable descriptor after writable",
				   -EIO);
	}
	n = guest_mem_gpa_to_iov(vq->mem, addr, len, iov + *num,
				 VIRTQ_ELEM_MAX_IOV - *num);
	if (n == -ENOBUFS) {
		return mark_broken(vq, "too many buffers in one direction",
				   -EIO);
	}
	if (n < 0) {
		return mark_broken(vq, "buffer outside guest memory", -EIO);
	}
	*num += (unsigned int)n;
	if (write) {
		e->in_len += len;
	} else {
		e->out_len += len;
	}
	return 0;
}

/*
 * Fill @e from the chain starting at @head (< num). Each table is walked
 * at most its own length of steps: a loop is caught when the count runs
 * out, without remembering which entries were seen.
 */
static int walk_chain(struct virtq *vq, uint16_t head, struct virtq_elem *e)
{
	struct desc_table t = {
		.base = (const uint8_t *)vq->desc,
		.num = vq->num,
	};
	bool in_indirect = false;
	unsigned int i = head, count = 0;
	struct vring_desc d;
	uint16_t flags;
	int rc;

	e->head = head;
	e->out_num = 0;
	e->in_num = 0;
	e->out_len = 0;
	e->in_len = 0;
	e->mem_generation = vq->mem_generation;
	for (;;) {
		if (++count > t.num) {
			return mark_broken(vq, "descriptor chain loops", -EIO);
		}
		if (read_desc(vq, &t, i, &d) < 0) {
			return mark_broken(vq, "indirect table unreadable",
					   -EIO);
		}
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			rc = enter_indirect(vq, &t, in_indirect, flags,
					    le64toh(d.addr), le32toh(d.len));
			if (rc < 0) {
				return rc;
			}
			in_indirect = true;
			i = 0;
			count = 0;
			continue;
		}
		rc = add_buffer(vq, e, flags & VRING_DESC_F_WRITE,
				le64toh(d.addr), le32toh(d.len));
		if (rc < 0) {
			return rc;
		}
		if (!(flags & VRING_DESC_F_NEXT)) {
			return 0;
		}
		i = le16toh(d.next);
		if (i >= t.num) {
			return mark_broken(vq, "next descriptor out of range",
					   -EIO);
		}
	}
}

int virtq_pop(struct virtq *vq, struct virtq_elem *e)
{
	uint16_t avail_idx, head;
	int rc;

	if (vq->broken) {
		return -EIO;
	}
	if (!mapped(vq)) {
		return 0;
	}
	avail_idx = load16(&vq->avail->idx);
	if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->num) {
		return mark_broken(vq, "avail index moved too far", -EIO);
	}
	if (avail_idx == vq->last_avail_idx) {
		return 0;
	}
	if (vq->inuse >= vq->num) {
		return mark_broken(vq, "more buffers in use than queue size",
				   -EIO);
	}
	/* Ring entries and descriptors only after seeing the index. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = load16(&vq->avail->ring[vq->last_avail_idx & (vq->num - 1)]);
	if (head >= vq->num) {
		return mark_broken(vq, "avail ring head out of range", -EIO);
	}
	rc = walk_chain(vq, head, e);
	if (rc < 0) {
		return rc;
	}
	vq->last_avail_idx++;
	vq->inuse++;
	if (vq->event_idx && !vq->notify_disabled) {
		store16(avail_event_ptr(vq), vq->last_avail_idx);
	}
	return 1;
}

int virtq_elem_remap(struct virtq *vq, struct virtq_elem *e)
{
	if (vq->broken) {
		return -EIO;
	}
	if (!mapped(vq)) {
		return -EAGAIN;
	}
	if (e->mem_generation == vq->mem_generation) {
		return 0;
	}
	if (e->head >= vq->num) {
		return mark_broken(vq, "held element outside resized ring",
				   -EIO);
	}
	return walk_chain(vq, e->head, e);
}

void virtq_push(struct virtq *vq, const struct virtq_elem *e, uint32_t len)
{
	struct vring_used_elem *u;

	if (vq->inuse > 0) {
		vq->inuse--;
	}
	if (vq->broken || !mapped(vq)) {
		return;
	}
	if (len > e->in_len) {
		len = (uint32_t)e->in_len;
	}
	u = &vq->used->ring[vq->used_idx & (vq->num - 1)];
	store32(&u->id, e->head);
	store32(&u->len, len);
	/* The element before the index that publishes it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	vq->used_idx++;
	store16(&vq->used->idx, vq->used_idx);
}

static bool should_notify(struct virtq *vq)
{
	uint16_t old, new;
	bool notify;

	/* Our used->idx store before the guest's flags / used_event. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		old = vq->signalled_used;
		new = vq->used_idx;
		notify = !vq->signalled_used_valid ||
			 vring_need_event(load16(used_event_ptr(vq)), new, old);
		vq->signalled_used = new;
		vq->signalled_used_valid = true;
	} else {
		notify = !(load16(&vq->avail->flags) &
			   VRING_AVAIL_F_NO_INTERRUPT);
	}
	/* Out of buffers: notify even when suppressed (legacy feature). */
	if (!notify && vq->notify_on_empty && vq->inuse == 0 &&
	    load16(&vq->avail->idx) == vq->last_avail_idx) {
		notify = true;
	}
	return notify;
}

bool virtq_recover(struct virtq *vq)
{
	if (vq->broken || !mapped(vq)) {
		return false;
	}
	vq->used_idx = load16(&vq->used->idx);
	vq->last_avail_idx = vq->used_idx;
	vq->inuse = 0;
	vq->signalled_used_valid = false;
	if (vq->call_fd >= 0) {
		(void)eventfd_write(vq->call_fd, 1);
	}
	return true;
}

void virtq_notify(struct virtq *vq)
{
	if (vq->broken || !mapped(vq)) {
		return;
	}
	if (should_notify(vq) && vq->call_fd >= 0) {
		(void)eventfd_write(vq->call_fd, 1);
	}
}

bool virtq_enable_notification(struct virtq *vq)
{
	if (vq->broken || !mapped(vq)) {
		return false;
	}
	vq->notify_disabled = false;
	if (vq->event_idx) {
		store16(avail_event_ptr(vq), vq->last_avail_idx);
	} else {
		store16(&vq->used->flags, 0);
	}
	/* Our request before the re-check of avail->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(&vq->avail->idx) != vq->last_avail_idx;
}

void virtq_disable_notification(struct virtq *vq)
{
	vq->notify_disabled = true;
	if (vq->broken || !mapped(vq)) {
		return;
	}
	/* With EVENT_IDX, avail_event simply stops following our index. */
	if (!vq->event_idx) {
		store16(&vq->used->flags, VRING_USED_F_NO_NOTIFY);
	}
}

const char *virtq_error(const struct virtq *vq)
{
	return vq->error;
}

size_t iov_to_buf(const struct iovec *iov, unsigned int n, void *buf,
		  size_t len)
{
	uint8_t *p = buf;
	size_t done = 0, chunk;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		chunk = iov[i].iov_len;
		if (chunk > len - done) {
			chunk = len - done;
		}
		if (chunk == 0) {
			continue;
		}
		memcpy(p + done, iov[i].iov_base, chunk);
		done += chunk;
	}
	return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned int n, const void *buf,
		    size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0, chunk;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		chunk = iov[i].iov_len;
		if (chunk > len - done) {
			chunk = len - done;
		}
		if (chunk == 0) {
			continue;
		}
		memcpy(iov[i].iov_base, p + done, chunk);
		done += chunk;
	}
	return done;
}
