// SPDX-License-Identifier: MIT
/*
 * vhost-user front-end: the guest driver's side of the split virtqueues
 * (VIRTIO 1.x section 2.7): descriptor free list, submission with direct
 * or indirect chains, kick and interrupt suppression (flags or
 * EVENT_IDX), completion by polling, spinning or sleeping on the call
 * eventfd. Raw writers for hostile tests.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frontend_internal.h"

static inline void vuf_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

static inline void vuf_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

uint64_t vuf_ring_desc_gpa(const struct vuf *v, unsigned int q)
{
	return q == 0 && v->opts.ring_gpa[0] ? v->opts.ring_gpa[0]
					     : VUF_HIGH_DESC(q);
}

uint64_t vuf_ring_avail_gpa(const struct vuf *v, unsigned int q)
{
	return q == 0 && v->opts.ring_gpa[1] ? v->opts.ring_gpa[1]
					     : VUF_LOW_AVAIL(q);
}

uint64_t vuf_ring_used_gpa(const struct vuf *v, unsigned int q)
{
	return q == 0 && v->opts.ring_gpa[2] ? v->opts.ring_gpa[2]
					     : VUF_HIGH_USED(q);
}

/* used_event lives after the avail ring, avail_event after the used ring */
static inline uint16_t *vuf_used_event(struct vuf_queue *q, unsigned int num)
{
	return &q->avail->ring[num];
}

static inline uint16_t vuf_avail_event(const struct vuf_queue *q,
				       unsigned int num)
{
	const uint16_t *p = (const uint16_t *)&q->used->ring[num];

	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

void vuf_ring_setup(struct vuf *v, unsigned int qi)
{
	struct vuf_queue *q = &v->q[qi];
	unsigned int num = v->opts.queue_size, i;

	q->desc =
		vuf_gpa_ptr(v, vuf_ring_desc_gpa(v, qi), vring_desc_size(num));
	q->avail = vuf_gpa_ptr(v, vuf_ring_avail_gpa(v, qi),
			       vring_avail_size(num));
	q->used =
		vuf_gpa_ptr(v, vuf_ring_used_gpa(v, qi), vring_used_size(num));
	memset(q->desc, 0, vring_desc_size(num));
	memset(q->avail, 0, vring_avail_size(num));
	memset(q->used, 0, vring_used_size(num));
	for (i = 0; i < num; i++) {
		q->next[i] = (uint16_t)(i + 1);
	}
	memset(q->slots, 0, sizeof(q->slots));
	q->free_head = 0;
	q->num_free = num;
	q->inflight = 0;
	q->avail_idx = q->kicked_idx = q->last_used = 0;
	q->interrupts = true;
}

static struct vuf_queue *vuf_q(struct vuf *v, unsigned int qi)
{
	/* Set up once; usable while stopped too (requests made then are
	 * served after vuf_resume()). */
	if (qi >= VUF_MAX_QUEUES || !v->q[qi].desc) {
		return NULL;
	}
	return &v->q[qi];
}

static bool vuf_has(const struct vuf *v, unsigned int bit)
{
	return v->acked & (1ull << bit);
}

struct vuf_seg {
	uint64_t gpa;
	uint32_t len;
	uint16_t flags;
};

/* Cut [gpa, gpa + len) into @n descriptors of (nearly) equal size. */
static unsigned int vuf_split(struct vuf_seg *segs, uint64_t gpa, size_t len,
			      unsigned int n, uint16_t flags)
{
	size_t piece = n ? len / n : 0, off = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		size_t l = i == n - 1 ? len - off : piece;

		segs[i] = (struct vuf_seg){ gpa + off, (uint32_t)l, flags };
		off += l;
	}
	return n;
}

static void vuf_put_desc(struct vring_desc *d, uint64_t addr, uint32_t len,
			 uint16_t flags, uint16_t next)
{
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

static void vuf_publish(struct vuf *v, struct vuf_queue *q, uint16_t head)
{
	unsigned int num = v->opts.queue_size;

	q->avail->ring[q->avail_idx & (num - 1)] = htole16(head);
	q->avail_idx++;
	__atomic_store_n(&q->avail->idx, htole16(q->avail_idx),
			 __ATOMIC_RELEASE);
}

int vuf_submit(struct vuf *v, unsigned int qi, const void *req, size_t req_len,
	       size_t resp_len, const struct vuf_layout *lay, uint64_t cookie)
{
	struct vuf_layout def = { req_len ? 1 : 0, resp_len ? 1 : 0, false,
				  false };
	struct vuf_seg segs[VUF_INDIRECT_MAX];
	struct vuf_queue *q = vuf_q(v, qi);
	unsigned int n, ndesc, i;
	uint64_t req_gpa, resp_gpa;
	struct vuf_slot *slot;
	uint16_t head, idx;
	size_t fill;

	if (!q) {
		return vuf_fail(v, -EINVAL, "queue %u not set up", qi);
	}
	if (!lay) {
		lay = &def;
	}
	n = lay->out_segs + lay->in_segs;
	if (req_len > VUF_SLOT_SIZE || resp_len > VUF_SLOT_SIZE ||
	    lay->out_segs > req_len || lay->in_segs > resp_len ||
	    (req_len && !lay->out_segs) || (resp_len && !lay->in_segs) ||
	    n == 0 || n > VUF_INDIRECT_MAX) {
		return vuf_fail(v, -EINVAL, "bad request layout");
	}
	if (lay->indirect && !vuf_has(v, VIRTIO_RING_F_INDIRECT_DESC)) {
		return vuf_fail(v, -EINVAL, "INDIRECT_DESC not negotiated");
	}
	ndesc = lay->indirect ? 1 : n;
	if (q->num_free < ndesc) {
		return vuf_fail(v, -ENOSPC, "queue %u full", qi);
	}
	head = q->free_head;
	if (lay->cross_region) {
		if (!v->opts.split_high || v->cross_busy) {
			return vuf_fail(v, -EBUSY, "cross-region unavailable");
		}
		req_gpa = v->boundary[0] - req_len / 2;
		resp_gpa = v->boundary[1] - resp_len / 2;
		fill = resp_len + 16 <= VUF_SLOT_SIZE ? resp_len + 16
						      : VUF_SLOT_SIZE;
		v->cross_busy = true;
	} else {
		req_gpa = VUF_LOW_REQ(qi) + (uint64_t)head * VUF_SLOT_SIZE;
		resp_gpa = VUF_HIGH_RESP(qi) + (uint64_t)head * VUF_SLOT_SIZE;
		fill = VUF_SLOT_SIZE;
	}
	if (req_len) {
		memcpy(vuf_gpa_ptr(v, req_gpa, req_len), req, req_len);
	}
	memset(vuf_gpa_ptr(v, resp_gpa, fill), VUF_FILL, fill);

	vuf_split(segs, req_gpa, req_len, lay->out_segs, 0);
	vuf_split(segs + lay->out_segs, resp_gpa, resp_len, lay->in_segs,
		  VRING_DESC_F_WRITE);

	if (lay->indirect) {
		uint64_t tgpa = VUF_LOW_INDIRECT(qi) +
				(uint64_t)head * VUF_INDIRECT_MAX * 16;
		struct vring_desc *t = vuf_gpa_ptr(v, tgpa, (size_t)n * 16);

		for (i = 0; i < n; i++) {
			vuf_put_desc(
				&t[i], segs[i].gpa, segs[i].len,
				segs[i].flags |
					(i + 1 < n ? VRING_DESC_F_NEXT : 0),
				(uint16_t)(i + 1 < n ? i + 1 : 0));
		}
		vuf_put_desc(&q->desc[head], tgpa, n * 16,
			     VRING_DESC_F_INDIRECT, 0);
		q->free_head = q->next[head];
	} else {
		idx = head;
		for (i = 0; i < n; i++) {
			bool more = i + 1 < n;

			vuf_put_desc(&q->desc[idx], segs[i].gpa, segs[i].len,
				     segs[i].flags |
					     (more ? VRING_DESC_F_NEXT : 0),
				     more ? q->next[idx] : 0);
			idx = q->next[idx];
		}
		q->free_head = idx;
	}
	q->num_free -= ndesc;
	slot = &q->slots[head];
	*slot = (struct vuf_slot){ true,
				   lay->cross_region,
				   (uint16_t)ndesc,
				   (uint32_t)resp_len,
				   resp_gpa,
				   cookie };
	q->inflight++;
	q->stats.submitted++;
	vuf_publish(v, q, head);
	return 0;
}

static int vuf_kick_fd(struct vuf *v, struct vuf_queue *q)
{
	uint64_t one = 1;

	if (write(q->kick_fd, &one, sizeof(one)) != sizeof(one)) {
		return vuf_fail(v, -errno, "kick: %s", strerror(errno));
	}
	q->stats.kicks++;
	return 1;
}

int vuf_kick(struct vuf *v, unsigned int qi)
{
	struct vuf_queue *q = vuf_q(v, qi);
	uint16_t old, now;
	bool need;

	if (!q) {
		return vuf_fail(v, -EINVAL, "queue %u not set up", qi);
	}
	vuf_mb(); /* avail->idx store before reading the device's wishes */
	old = q->kicked_idx;
	now = q->avail_idx;
	q->kicked_idx = now;
	if (vuf_has(v, VIRTIO_RING_F_EVENT_IDX)) {
		need = vring_need_event(vuf_avail_event(q, v->opts.queue_size),
					now, old);
	} else {
		uint16_t fl =
			__atomic_load_n(&q->used->flags, __ATOMIC_ACQUIRE);

		need = !(le16toh(fl) & VRING_USED_F_NO_NOTIFY);
	}
	if (!need) {
		q->stats.kicks_suppressed++;
		return 0;
	}
	return vuf_kick_fd(v, q);
}

int vuf_kick_force(struct vuf *v, unsigned int qi)
{
	if (qi >= VUF_MAX_QUEUES) {
		return vuf_fail(v, -EINVAL, "no queue %u", qi);
	}
	return vuf_kick_fd(v, &v->q[qi]);
}

void vuf_set_interrupts(struct vuf *v, unsigned int qi, bool on)
{
	struct vuf_queue *q = vuf_q(v, qi);
	unsigned int num = v->opts.queue_size;

	if (!q) {
		return;
	}
	q->interrupts = on;
	if (on) {
		__atomic_store_n(vuf_used_event(q, num), htole16(q->last_used),
				 __ATOMIC_RELAXED);
		__atomic_store_n(&q->avail->flags, 0, __ATOMIC_RELAXED);
	} else {
		/* The event index just passed: no signal for 64k entries. */
		__atomic_store_n(vuf_used_event(q, num),
				 htole16((uint16_t)(q->last_used - 1)),
				 __ATOMIC_RELAXED);
		__atomic_store_n(&q->avail->flags,
				 htole16(VRING_AVAIL_F_NO_INTERRUPT),
				 __ATOMIC_RELAXED);
	}
	vuf_mb();
}

int vuf_poll(struct vuf *v, unsigned int qi, struct vuf_completion *c)
{
	struct vuf_queue *q = vuf_q(v, qi);
	unsigned int num = v->opts.queue_size, k;
	struct vring_used_elem e;
	struct vuf_slot *slot;
	uint16_t used_idx, id, last;
	size_t copy;

	if (!q) {
		return vuf_fail(v, -EINVAL, "queue %u not set up", qi);
	}
	used_idx = le16toh(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE));
	if (used_idx == q->last_used) {
		return 0;
	}
	if ((uint16_t)(used_idx - q->last_used) > q->inflight) {
		return vuf_fail(v, -EPROTO,
				"used->idx %u runs %u ahead of %u in flight",
				used_idx, (uint16_t)(used_idx - q->last_used),
				q->inflight);
	}
	e = q->used->ring[q->last_used & (num - 1)];
	id = (uint16_t)le32toh(e.id);
	if (le32toh(e.id) >= num || !q->slots[id].inflight) {
		return vuf_fail(v, -EPROTO, "used id %u is not in flight",
				le32toh(e.id));
	}
	slot = &q->slots[id];
	if (le32toh(e.len) > slot->resp_cap) {
		return vuf_fail(v, -EPROTO,
				"used len %u exceeds the %u writable bytes",
				le32toh(e.len), slot->resp_cap);
	}
	c->id = id;
	c->len = le32toh(e.len);
	c->cookie = slot->cookie;
	c->resp_cap = slot->resp_cap;
	copy = slot->cross ? slot->resp_cap + 16 : VUF_SLOT_SIZE;
	if (copy > VUF_SLOT_SIZE) {
		copy = VUF_SLOT_SIZE;
	}
	memcpy(c->resp, vuf_gpa_ptr(v, slot->resp_gpa, copy), copy);

	last = id;
	for (k = 1; k < slot->ndesc; k++) {
		last = q->next[last];
	}
	q->next[last] = q->free_head;
	q->free_head = id;
	q->num_free += slot->ndesc;
	if (slot->cross) {
		v->cross_busy = false;
	}
	slot->inflight = false;
	q->inflight--;
	q->last_used++;
	q->stats.completed++;
	if (q->interrupts) {
		__atomic_store_n(vuf_used_event(q, num), htole16(q->last_used),
				 __ATOMIC_RELAXED);
	}
	return 1;
}

static int vuf_timeout(struct vuf *v, unsigned int qi, int timeout_ms)
{
	struct vuf_queue *q = &v->q[qi];

	return vuf_fail(v, -ETIMEDOUT,
			"queue %u: no used entry within %d ms (used->idx %u, "
			"seen %u, avail->idx %u, %u in flight)",
			qi, timeout_ms, vuf_used_idx(v, qi), q->last_used,
			q->avail_idx, q->inflight);
}

int vuf_wait(struct vuf *v, unsigned int qi, struct vuf_completion *c,
	     int timeout_ms)
{
	int64_t deadline =
		time_ns_now(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000;
	struct vuf_queue *q = vuf_q(v, qi);
	int ret;

	if (!q) {
		return vuf_fail(v, -EINVAL, "queue %u not set up", qi);
	}
	for (;;) {
		struct pollfd pfd = { q->call_fd, POLLIN, 0 };
		int64_t left;
		uint64_t cnt;

		ret = vuf_poll(v, qi, c);
		if (ret) {
			return ret < 0 ? ret : 0;
		}
		if (!q->interrupts) {
			vuf_set_interrupts(v, qi, true);
			continue; /* re-check after enabling */
		}
		left = deadline - time_ns_now(CLOCK_MONOTONIC);
		if (left <= 0) {
			return vuf_timeout(v, qi, timeout_ms);
		}
		ret = poll(&pfd, 1, (int)((left + 999999) / 1000000));
		if (ret > 0 &&
		    read(q->call_fd, &cnt, sizeof(cnt)) == sizeof(cnt)) {
			q->stats.calls += cnt;
		}
	}
}

int vuf_spin(struct vuf *v, unsigned int qi, struct vuf_completion *c,
	     int timeout_ms)
{
	int64_t deadline = 0;
	unsigned int n = 0;
	int ret;

	for (;;) {
		ret = vuf_poll(v, qi, c);
		if (ret) {
			return ret < 0 ? ret : 0;
		}
		if ((++n & 1023) == 0) {
			int64_t now = time_ns_now(CLOCK_MONOTONIC);

			if (!deadline) {
				deadline = now + (int64_t)timeout_ms * 1000000;
			} else if (now > deadline) {
				return vuf_timeout(v, qi, timeout_ms);
			}
		}
		vuf_cpu_relax();
	}
}

unsigned int vuf_inflight(const struct vuf *v, unsigned int qi)
{
	return qi < VUF_MAX_QUEUES ? v->q[qi].inflight : 0;
}

void vuf_get_stats(const struct vuf *v, unsigned int qi, struct vuf_stats *s)
{
	if (qi < VUF_MAX_QUEUES) {
		*s = v->q[qi].stats;
	} else {
		memset(s, 0, sizeof(*s));
	}
}

uint64_t vuf_drain_calls(struct vuf *v, unsigned int qi)
{
	uint64_t cnt = 0;

	if (qi < VUF_MAX_QUEUES &&
	    read(v->q[qi].call_fd, &cnt, sizeof(cnt)) == sizeof(cnt)) {
		v->q[qi].stats.calls += cnt;
		return cnt;
	}
	return 0;
}

/* ---- raw access -------------------------------------------------------- */

int vuf_desc_reserve(struct vuf *v, unsigned int qi, unsigned int n,
		     uint16_t *ids)
{
	struct vuf_queue *q = vuf_q(v, qi);
	unsigned int i;

	if (!q) {
		return vuf_fail(v, -EINVAL, "queue %u not set up", qi);
	}
	if (q->num_free < n) {
		return vuf_fail(v, -ENOSPC, "queue %u full", qi);
	}
	for (i = 0; i < n; i++) {
		ids[i] = q->free_head;
		q->free_head = q->next[q->free_head];
		q->num_free--;
	}
	return 0;
}

void vuf_raw_desc(struct vuf *v, unsigned int qi, uint16_t idx, uint64_t addr,
		  uint32_t len, uint16_t flags, uint16_t next)
{
	struct vuf_queue *q = &v->q[qi];

	if (qi < VUF_MAX_QUEUES && q->desc && idx < v->opts.queue_size) {
		vuf_put_desc(&q->desc[idx], addr, len, flags, next);
	}
}

void vuf_raw_avail(struct vuf *v, unsigned int qi, uint16_t head)
{
	struct vuf_queue *q = vuf_q(v, qi);

	if (q) {
		vuf_publish(v, q, head);
	}
}

void vuf_raw_avail_idx(struct vuf *v, unsigned int qi, uint16_t idx)
{
	struct vuf_queue *q = vuf_q(v, qi);

	if (q) {
		__atomic_store_n(&q->avail->idx, htole16(idx),
				 __ATOMIC_RELEASE);
	}
}

uint16_t vuf_used_idx(const struct vuf *v, unsigned int qi)
{
	const struct vuf_queue *q = &v->q[qi];

	if (qi >= VUF_MAX_QUEUES || !q->used) {
		return 0;
	}
	return le16toh(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE));
}
