// SPDX-License-Identifier: MIT
/*
 * vhost-user front-end: QEMU's side of a live migration. The log is
 * sized and sealed as QEMU's vhost_log_alloc() makes it, collected as
 * vhost_dev_sync_region() does (swap each word to zero), and the device
 * state goes through a pipe of ours, as vhost_save_backend_state() and
 * vhost_load_backend_state() do.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frontend_internal.h"

#define VUF_STATE_MAX (1u << 20)

void vuf_log_free(struct vuf *v)
{
	if (v->log) {
		munmap(v->log, v->log_size);
		v->log = NULL;
	}
	if (v->log_fd >= 0) {
		close(v->log_fd);
		v->log_fd = -1;
	}
	v->log_size = 0;
	v->logging = false;
}

size_t vuf_mem_size(const struct vuf *v)
{
	return v->mem_size;
}

size_t vuf_log_bytes(const struct vuf *v)
{
	const struct vuf_region *r = &v->regions[v->nregions - 1];
	uint64_t pages =
		(r->gpa + r->size + VHOST_LOG_PAGE - 1) / VHOST_LOG_PAGE;

	/* Whole u64 chunks, as QEMU's log is. */
	return (size_t)((pages + 63) / 64 * 8);
}

static int vuf_log_alloc(struct vuf *v)
{
	size_t size = vuf_log_bytes(v);
	void *p;
	int fd;

	fd = memfd_create("vuf-log", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) <
		    0) {
		int ret = -errno;

		if (fd >= 0) {
			close(fd);
		}
		return vuf_fail(v, ret, "log memfd: %s", strerror(-ret));
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int ret = -errno;

		close(fd);
		return vuf_fail(v, ret, "log mmap: %s", strerror(-ret));
	}
	vuf_log_free(v);
	v->log_fd = fd;
	v->log = p;
	v->log_size = size;
	return 0;
}

/* SET_FEATURES and SET_VRING_ADDR of every started ring, @on or off. */
static int vuf_log_set(struct vuf *v, bool on)
{
	uint64_t f = v->acked | (on ? 1ull << VHOST_F_LOG_ALL : 0);
	unsigned int q;
	int ret;

	ret = vuf_set_u64(v, VHOST_USER_SET_FEATURES, f, true);
	for (q = 0; !ret && q < VUF_MAX_QUEUES; q++) {
		struct vhost_user_vring_addr a = {
			.index = q,
			.flags = on ? VHOST_VRING_F_LOG : 0,
			.desc_user_addr =
				vuf_gpa_to_qva(v, vuf_ring_desc_gpa(v, q)),
			.used_user_addr =
				vuf_gpa_to_qva(v, vuf_ring_used_gpa(v, q)),
			.avail_user_addr =
				vuf_gpa_to_qva(v, vuf_ring_avail_gpa(v, q)),
			.log_guest_addr = vuf_ring_used_gpa(v, q),
		};

		if (!v->q[q].started) {
			continue;
		}
		ret = vuf_request(v, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a),
				  NULL, 0, true);
	}
	if (!ret) {
		v->logging = on;
	}
	return ret;
}

int vuf_log_start(struct vuf *v)
{
	struct vhost_user_log l = { 0 };
	uint64_t r;
	int ret;

	if (!(v->protocol_acked & (1ull << VHOST_USER_PROTOCOL_F_LOG_SHMFD)) ||
	    !(v->features & (1ull << VHOST_F_LOG_ALL))) {
		return vuf_fail(v, -ENOTSUP, "back-end cannot log");
	}
	ret = vuf_log_alloc(v);
	if (ret) {
		return ret;
	}
	l.mmap_size = v->log_size;
	ret = vuf_msg_send(v, VHOST_USER_SET_LOG_BASE, 0, &l, sizeof(l),
			   &v->log_fd, 1);
	if (!ret) {
		/* QEMU reads a reply, of whatever size, and checks only
		 * its request code; ours is u64 0. */
		ret = vuf_msg_recv(v, VHOST_USER_SET_LOG_BASE, &r, sizeof(r),
				   v->opts.timeout_ms);
	}
	if (ret) {
		return ret;
	}
	if (r != 0) {
		return vuf_fail(v, -EREMOTEIO, "SET_LOG_BASE answered %llu",
				(unsigned long long)r);
	}
	return vuf_log_set(v, true);
}

int vuf_log_stop(struct vuf *v)
{
	return vuf_log_set(v, false);
}

void vuf_log_sync(struct vuf *v, uint8_t *bitmap)
{
	size_t i, n = v->log_size / 8;

	for (i = 0; i < n; i++) {
		uint64_t w =
			__atomic_exchange_n(&v->log[i], 0, __ATOMIC_ACQ_REL);

		for (unsigned int b = 0; b < 8 && w; b++, w >>= 8) {
			bitmap[i * 8 + b] |= (uint8_t)w;
		}
	}
}

bool vuf_log_page(const uint8_t *bitmap, uint64_t gpa)
{
	uint64_t page = gpa / VHOST_LOG_PAGE;

	return bitmap[page / 8] & (1u << (page % 8));
}

static bool vuf_overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

bool vuf_device_area(const struct vuf *v, uint64_t gpa)
{
	uint64_t page = gpa & ~(uint64_t)(VHOST_LOG_PAGE - 1);
	unsigned int q;

	for (q = 0; q < VUF_MAX_QUEUES; q++) {
		if (vuf_overlaps(page, VHOST_LOG_PAGE, vuf_ring_used_gpa(v, q),
				 vring_used_size(v->opts.queue_size)) ||
		    vuf_overlaps(page, VHOST_LOG_PAGE, VUF_HIGH_RESP(q),
				 (uint64_t)v->opts.queue_size *
					 VUF_SLOT_SIZE)) {
			return true;
		}
	}
	/* The cross-region response room straddles boundary[1]. */
	return v->opts.split_high &&
	       vuf_overlaps(page, VHOST_LOG_PAGE,
			    v->boundary[1] - VUF_SLOT_SIZE,
			    2ull * VUF_SLOT_SIZE);
}

/* ---- device state ---------------------------------------------------- */

static int vuf_state_fd(struct vuf *v, uint32_t direction, int fd)
{
	struct vhost_user_transfer_state t = {
		.direction = direction,
		.phase = VHOST_USER_TRANSFER_STATE_PHASE_STOPPED,
	};
	uint64_t r;
	int ret;

	if (!(v->protocol_acked &
	      (1ull << VHOST_USER_PROTOCOL_F_DEVICE_STATE))) {
		return vuf_fail(v, -ENOTSUP, "back-end has no device state");
	}
	ret = vuf_msg_send(v, VHOST_USER_SET_DEVICE_STATE_FD, 0, &t, sizeof(t),
			   &fd, 1);
	if (!ret) {
		/* A reply with an fd fails here: ours says NOFD. */
		ret = vuf_msg_recv(v, VHOST_USER_SET_DEVICE_STATE_FD, &r,
				   sizeof(r), v->opts.timeout_ms);
	}
	if (ret) {
		return ret;
	}
	if ((r & 0xff) != 0 || !(r & VHOST_USER_VRING_NOFD_MASK)) {
		return vuf_fail(v, -EREMOTEIO,
				"SET_DEVICE_STATE_FD answered 0x%llx",
				(unsigned long long)r);
	}
	return 0;
}

static int vuf_state_check(struct vuf *v)
{
	uint64_t r;
	int ret = vuf_get_u64(v, VHOST_USER_CHECK_DEVICE_STATE, &r);

	if (ret) {
		return ret;
	}
	if (r != 0) {
		return vuf_fail(v, -EREMOTEIO, "CHECK_DEVICE_STATE said %llu",
				(unsigned long long)r);
	}
	return 0;
}

/* Wait up to the timeout for @events on @fd. */
static int vuf_wait_fd(struct vuf *v, int fd, short events)
{
	struct pollfd p = { fd, events, 0 };
	int r;

	do {
		r = poll(&p, 1, v->opts.timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r <= 0) {
		return vuf_fail(v, r ? -errno : -ETIMEDOUT,
				"device state pipe: %s",
				r ? strerror(errno) : "timeout");
	}
	return 0;
}

int vuf_state_save(struct vuf *v, uint8_t **out, size_t *len)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	int p[2], ret;

	*out = NULL;
	*len = 0;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		return vuf_fail(v, -errno, "pipe: %s", strerror(errno));
	}
	ret = vuf_state_fd(v, VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE, p[1]);
	close(p[1]);
	buf = malloc(VUF_STATE_MAX);
	if (!buf) {
		ret = -ENOMEM;
	}
	while (!ret) {
		ssize_t r = read(p[0], buf + n, VUF_STATE_MAX - n);

		if (r == 0) {
			break;
		}
		if (r > 0) {
			n += (size_t)r;
			if (n == VUF_STATE_MAX) {
				ret = vuf_fail(v, -EFBIG, "state too big");
			}
			continue;
		}
		if (errno != EAGAIN && errno != EINTR) {
			ret = vuf_fail(v, -errno, "read: %s", strerror(errno));
		} else if (errno == EAGAIN) {
			ret = vuf_wait_fd(v, p[0], POLLIN);
		}
	}
	close(p[0]);
	if (!ret) {
		ret = vuf_state_check(v);
	}
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	*len = n;
	return 0;
}

int vuf_state_load(struct vuf *v, const uint8_t *data, size_t len)
{
	size_t done = 0;
	int p[2], ret;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		return vuf_fail(v, -errno, "pipe: %s", strerror(errno));
	}
	ret = vuf_state_fd(v, VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD, p[0]);
	close(p[0]);
	while (!ret && done < len) {
		ssize_t r = write(p[1], data + done, len - done);

		if (r > 0) {
			done += (size_t)r;
		} else if (r < 0 && errno == EAGAIN) {
			ret = vuf_wait_fd(v, p[1], POLLOUT);
		} else if (r < 0 && errno != EINTR) {
			ret = vuf_fail(v, -errno, "write: %s", strerror(errno));
		}
	}
	close(p[1]);
	return ret ? ret : vuf_state_check(v);
}

/* ---- the guest's side ------------------------------------------------ */

int vuf_migrate_guest(struct vuf *dst, const struct vuf *src)
{
	unsigned int i;

	if (dst->mem_size != src->mem_size ||
	    dst->opts.queue_size != src->opts.queue_size ||
	    dst->opts.split_high != src->opts.split_high ||
	    dst->opts.started_queues != src->opts.started_queues ||
	    memcmp(dst->opts.ring_gpa, src->opts.ring_gpa,
		   sizeof(src->opts.ring_gpa)) != 0 ||
	    !src->stopped || !dst->initialised) {
		return vuf_fail(dst, -EINVAL, "not a migration of the same VM");
	}
	/* The RAM, as the migration stream brings it. */
	memcpy(dst->mem, src->mem, src->mem_size);
	for (i = 0; i < VUF_MAX_QUEUES; i++) {
		struct vuf_queue *d = &dst->q[i];
		const struct vuf_queue *s = &src->q[i];
		int kick = d->kick_fd, call = d->call_fd;
		int masked = d->masked_fd, err = d->err_fd;

		memcpy(d, s, sizeof(*d));
		d->kick_fd = kick;
		d->call_fd = call;
		d->masked_fd = masked;
		d->err_fd = err;
		d->started = false;
		d->desc = vuf_gpa_ptr(dst, vuf_ring_desc_gpa(dst, i),
				      vring_desc_size(dst->opts.queue_size));
		d->avail = vuf_gpa_ptr(dst, vuf_ring_avail_gpa(dst, i),
				       vring_avail_size(dst->opts.queue_size));
		d->used = vuf_gpa_ptr(dst, vuf_ring_used_gpa(dst, i),
				      vring_used_size(dst->opts.queue_size));
	}
	dst->cross_busy = src->cross_busy;
	dst->rtc_seq = src->rtc_seq;
	dst->stopped = true;
	dst->running = false;
	return 0;
}
