// SPDX-License-Identifier: MIT
/*
 * vhost-user front-end: life cycle, guest memory, and QEMU's message
 * sequences (as QEMU's hw/virtio/vhost-user.c and vhost-user-base.c send them:
 * at device realize, at driver start, and at reset).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frontend_internal.h"

/* The protocol features this front-end implements (echoed if offered). */
#define VUF_PROTOCOL_SUPPORTED                                                 \
	((1ull << VHOST_USER_PROTOCOL_F_MQ) |                                  \
	 (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |                           \
	 (1ull << VHOST_USER_PROTOCOL_F_LOG_SHMFD) |                           \
	 (1ull << VHOST_USER_PROTOCOL_F_DEVICE_STATE))

int vuf_fail(struct vuf *v, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->err, sizeof(v->err), fmt, ap);
	va_end(ap);
	return ret;
}

void vuf_opts_init(struct vuf_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ring_features = (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
			   (1ull << VIRTIO_RING_F_EVENT_IDX);
	o->queue_size = VIRTQ_SIZE_MAX;
	o->mem_size = VUF_MEM_MIN;
	o->timeout_ms = 2000;
	o->started_queues = 1;
}

/* Fake user addresses: plausible, distinct, never our own mapping. */
static uint64_t vuf_pick_qva(const struct vuf *v, uint64_t base, uint64_t size)
{
	uint64_t lo = (uintptr_t)v->mem, hi = lo + v->mem_size;

	while (base < hi && lo < base + size) {
		base += 1ull << 40;
	}
	return base;
}

static void vuf_layout_regions(struct vuf *v)
{
	uint64_t low = v->mem_size / 2, high = v->mem_size - low;

	v->regions[0] = (struct vuf_region){ 0, low, 0, 0 };
	if (!v->opts.split_high) {
		v->regions[1] =
			(struct vuf_region){ VUF_GPA_HIGH, high, 0, low };
		v->nregions = 2;
	} else {
		/* GPA- and file-adjacent, but not adjacent as user addresses.
		 */
		uint64_t a = high / 2, b = high / 4, c = high - a - b;

		v->regions[1] = (struct vuf_region){ VUF_GPA_HIGH, a, 0, low };
		v->regions[2] =
			(struct vuf_region){ VUF_GPA_HIGH + a, b, 0, low + a };
		v->regions[3] = (struct vuf_region){ VUF_GPA_HIGH + a + b, c, 0,
						     low + a + b };
		v->nregions = 4;
		v->boundary[0] = VUF_GPA_HIGH + a;
		v->boundary[1] = VUF_GPA_HIGH + a + b;
	}
	v->regions[0].qva = vuf_pick_qva(v, 0x7f3a00000000ull, low);
	v->regions[1].qva = vuf_pick_qva(v, 0x7f2c00000000ull, high);
	if (v->nregions == 4) {
		v->regions[2].qva = vuf_pick_qva(v, 0x7f1a00000000ull, high);
		v->regions[3].qva = vuf_pick_qva(v, 0x7f5e00000000ull, high);
	}
}

struct vuf *vuf_new(const struct vuf_opts *opts)
{
	struct vuf *v;
	unsigned int i;

	v = calloc(1, sizeof(*v));
	if (!v) {
		return NULL;
	}
	v->sock = -1;
	v->mem_fd = -1;
	v->log_fd = -1;
	for (i = 0; i < VUF_MAX_QUEUES; i++) {
		v->q[i].kick_fd = v->q[i].call_fd = -1;
		v->q[i].masked_fd = v->q[i].err_fd = -1;
	}
	if (opts) {
		v->opts = *opts;
	} else {
		vuf_opts_init(&v->opts);
	}
	if (v->opts.queue_size < 1 || v->opts.queue_size > VIRTQ_SIZE_MAX ||
	    (v->opts.queue_size & (v->opts.queue_size - 1)) ||
	    v->opts.mem_size < VUF_MEM_MIN || v->opts.mem_size % 4096 ||
	    v->opts.started_queues > VUF_MAX_QUEUES ||
	    v->opts.ring_features & ~VUF_RING_FEATURES) {
		errno = EINVAL;
		goto fail;
	}
	if (v->opts.timeout_ms <= 0) {
		v->opts.timeout_ms = 2000;
	}
	v->mem_size = v->opts.mem_size;
	v->mem_fd =
		memfd_create("vuf-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (v->mem_fd < 0 || ftruncate(v->mem_fd, v->mem_size) < 0) {
		goto fail;
	}
	if (!v->opts.unsealed &&
	    fcntl(v->mem_fd, F_ADD_SEALS,
		  F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		goto fail;
	}
	v->mem = mmap(NULL, v->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->mem_fd, 0);
	if (v->mem == MAP_FAILED) {
		v->mem = NULL;
		goto fail;
	}
	vuf_layout_regions(v);
	for (i = 0; i < 3; i++) {
		static const unsigned int align[3] = { 16, 2, 4 };
		uint64_t g = v->opts.ring_gpa[i];
		uint64_t len = i == 0	? vring_desc_size(v->opts.queue_size)
			       : i == 1 ? vring_avail_size(v->opts.queue_size)
					: vring_used_size(v->opts.queue_size);

		if (g && (g % align[i] || !vuf_gpa_ptr(v, g, len))) {
			errno = EINVAL;
			goto fail;
		}
	}
	for (i = 0; i < VUF_MAX_QUEUES; i++) {
		struct vuf_queue *q = &v->q[i];

		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->masked_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->kick_fd < 0 || q->call_fd < 0 || q->masked_fd < 0 ||
		    q->err_fd < 0) {
			goto fail;
		}
	}
	return v;
fail:
	i = errno;
	vuf_free(v);
	errno = i;
	return NULL;
}

static void vuf_close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

void vuf_free(struct vuf *v)
{
	unsigned int i;

	if (!v) {
		return;
	}
	vuf_close_fd(&v->sock);
	for (i = 0; i < VUF_MAX_QUEUES; i++) {
		vuf_close_fd(&v->q[i].kick_fd);
		vuf_close_fd(&v->q[i].call_fd);
		vuf_close_fd(&v->q[i].masked_fd);
		vuf_close_fd(&v->q[i].err_fd);
	}
	if (v->mem) {
		munmap(v->mem, v->mem_size);
	}
	vuf_close_fd(&v->mem_fd);
	vuf_log_free(v);
	free(v);
}

int vuf_connect(struct vuf *v, const char *socket_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		return vuf_fail(v, -ENAMETOOLONG, "socket path too long");
	}
	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return vuf_fail(v, -errno, "socket: %s", strerror(errno));
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int ret = -errno;

		close(fd);
		return vuf_fail(v, ret, "connect %s: %s", socket_path,
				strerror(-ret));
	}
	vuf_attach(v, fd);
	return 0;
}

void vuf_attach(struct vuf *v, int sock_fd)
{
	vuf_close_fd(&v->sock);
	v->sock = sock_fd;
	v->initialised = false;
	v->running = false;
}

void vuf_close(struct vuf *v)
{
	vuf_close_fd(&v->sock);
	v->running = false;
}

const char *vuf_error(const struct vuf *v)
{
	return v->err;
}

uint64_t vuf_features_offered(const struct vuf *v)
{
	return v->features;
}

uint64_t vuf_features_acked(const struct vuf *v)
{
	return v->acked;
}

uint64_t vuf_protocol_features(const struct vuf *v)
{
	return v->protocol;
}

unsigned int vuf_queue_num(const struct vuf *v)
{
	return v->queue_num;
}

int vuf_socket(const struct vuf *v)
{
	return v->sock;
}

int vuf_mem_fd(const struct vuf *v)
{
	return v->mem_fd;
}

unsigned int vuf_queue_size(const struct vuf *v)
{
	return v->opts.queue_size;
}

/* ---- guest memory ---------------------------------------------------- */

static const struct vuf_region *vuf_region_of(const struct vuf *v, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < v->nregions; i++) {
		const struct vuf_region *r = &v->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size) {
			return r;
		}
	}
	return NULL;
}

void *vuf_gpa_ptr(struct vuf *v, uint64_t gpa, size_t len)
{
	const struct vuf_region *a = vuf_region_of(v, gpa), *b;

	if (!a) {
		return NULL;
	}
	if (len > 1) {
		/* Spanning GPA-adjacent regions is fine when they are also
		 * adjacent in the file, as ours are. */
		b = vuf_region_of(v, gpa + len - 1);
		if (!b || b->file_off + (gpa + len - 1 - b->gpa) !=
				  a->file_off + (gpa - a->gpa) + len - 1) {
			return NULL;
		}
	}
	return v->mem + a->file_off + (gpa - a->gpa);
}

uint64_t vuf_gpa_to_qva(const struct vuf *v, uint64_t gpa)
{
	const struct vuf_region *r = vuf_region_of(v, gpa);

	return r ? r->qva + (gpa - r->gpa) : 0;
}

uint64_t vuf_scratch_gpa(const struct vuf *v)
{
	return VUF_LOW_SCRATCH;
}

uint64_t vuf_boundary_gpa(const struct vuf *v, unsigned int which)
{
	return which < 2 ? v->boundary[which] : 0;
}

unsigned int vuf_mem_regions(const struct vuf *v,
			     struct vhost_user_mem_region *r, unsigned int max)
{
	unsigned int i;

	for (i = 0; i < v->nregions && i < max; i++) {
		r[i].guest_phys_addr = v->regions[i].gpa;
		r[i].memory_size = v->regions[i].size;
		r[i].userspace_addr = v->regions[i].qva;
		r[i].mmap_offset = v->regions[i].file_off;
	}
	return v->nregions;
}

/* ---- QEMU's sequences ------------------------------------------------ */

int vuf_init(struct vuf *v)
{
	uint64_t f2, qn = VUF_MAX_QUEUES;
	unsigned int i;
	int ret;

	ret = vuf_get_u64(v, VHOST_USER_GET_FEATURES, &v->features);
	if (ret) {
		return ret;
	}
	if (!(v->features & (1ull << VIRTIO_F_VERSION_1)) ||
	    !(v->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))) {
		return vuf_fail(v, -EPROTO,
				"features 0x%llx lack VERSION_1 or "
				"PROTOCOL_FEATURES",
				(unsigned long long)v->features);
	}
	ret = vuf_get_u64(v, VHOST_USER_GET_PROTOCOL_FEATURES, &v->protocol);
	if (ret) {
		return ret;
	}
	v->protocol_acked = v->protocol & VUF_PROTOCOL_SUPPORTED;
	ret = vuf_set_u64(v, VHOST_USER_SET_PROTOCOL_FEATURES,
			  v->protocol_acked, false);
	if (ret) {
		return ret;
	}
	if (v->protocol_acked & (1ull << VHOST_USER_PROTOCOL_F_MQ)) {
		ret = vuf_get_u64(v, VHOST_USER_GET_QUEUE_NUM, &qn);
		if (ret) {
			return ret;
		}
		if (qn < VUF_MAX_QUEUES || qn > 0x100) {
			return vuf_fail(v, -EPROTO, "GET_QUEUE_NUM said %llu",
					(unsigned long long)qn);
		}
	}
	v->queue_num = (unsigned int)qn;
	ret = vuf_msg_send(v, VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
	if (ret) {
		return ret;
	}
	ret = vuf_get_u64(v, VHOST_USER_GET_FEATURES, &f2);
	if (ret) {
		return ret;
	}
	if (f2 != v->features) {
		return vuf_fail(v, -EPROTO, "GET_FEATURES changed: 0x%llx",
				(unsigned long long)f2);
	}
	for (i = 0; i < VUF_MAX_QUEUES; i++) {
		ret = vuf_vring_fd(v, VHOST_USER_SET_VRING_CALL, i,
				   v->q[i].masked_fd);
		if (!ret) {
			ret = vuf_vring_fd(v, VHOST_USER_SET_VRING_ERR, i,
					   v->q[i].err_fd);
		}
		if (ret) {
			return ret;
		}
	}
	v->initialised = true;
	return 0;
}

static int vuf_send_mem_table(struct vuf *v)
{
	struct vhost_user_mem_table t = { 0 };
	int fds[VUF_MAX_REGIONS];
	unsigned int i;

	t.nregions = vuf_mem_regions(v, t.regions, VUF_MAX_REGIONS);
	for (i = 0; i < t.nregions; i++) {
		fds[i] = v->mem_fd;
	}
	return vuf_request(v, VHOST_USER_SET_MEM_TABLE, &t,
			   8 + t.nregions * sizeof(t.regions[0]), fds,
			   t.nregions, true);
}

static int vuf_start_ring(struct vuf *v, unsigned int q, bool fresh)
{
	struct vhost_user_vring_addr a = {
		.index = q,
		.desc_user_addr = vuf_gpa_to_qva(v, vuf_ring_desc_gpa(v, q)),
		.used_user_addr = vuf_gpa_to_qva(v, vuf_ring_used_gpa(v, q)),
		.avail_user_addr = vuf_gpa_to_qva(v, vuf_ring_avail_gpa(v, q)),
		.log_guest_addr = vuf_ring_used_gpa(v, q),
	};
	int ret;

	if (fresh) {
		vuf_ring_setup(v, q);
		v->q[q].base = 0;
	}
	ret = vuf_vring_state(v, VHOST_USER_SET_VRING_NUM, q,
			      v->opts.queue_size, false);
	if (!ret) {
		ret = vuf_vring_state(v, VHOST_USER_SET_VRING_BASE, q,
				      v->q[q].base, false);
	}
	if (!ret) {
		ret = vuf_request(v, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a),
				  NULL, 0, false);
	}
	if (!ret) {
		ret = vuf_vring_fd(v, VHOST_USER_SET_VRING_KICK, q,
				   v->q[q].kick_fd);
	}
	if (!ret) {
		ret = vuf_vring_fd(v, VHOST_USER_SET_VRING_CALL, q,
				   v->q[q].call_fd);
	}
	if (!ret) {
		v->q[q].started = true;
	}
	return ret;
}

static int vuf_start(struct vuf *v, bool fresh)
{
	unsigned int i;
	int ret;

	if (!v->initialised) {
		return vuf_fail(v, -EINVAL, "DRIVER_OK before vuf_init");
	}
	if (!fresh && !v->stopped) {
		return vuf_fail(v, -EINVAL, "resume without a stop");
	}
	v->acked = (1ull << VIRTIO_F_VERSION_1) |
		   (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |
		   (v->features & v->opts.ring_features) |
		   (v->features & v->opts.device_features);
	ret = vuf_set_u64(v, VHOST_USER_SET_FEATURES, v->acked, false);
	if (!ret) {
		ret = vuf_send_mem_table(v);
	}
	if (ret) {
		return ret;
	}
	if (fresh) {
		v->cross_busy = false;
	}
	for (i = 0; i < VUF_MAX_QUEUES; i++) {
		v->q[i].started = false;
	}
	for (i = 0; i < v->opts.started_queues; i++) {
		ret = vuf_start_ring(v, i, fresh);
		if (ret) {
			return ret;
		}
	}
	for (i = 0; i < VUF_MAX_QUEUES; i++) {
		ret = vuf_vring_state(v, VHOST_USER_SET_VRING_ENABLE, i, 1,
				      true);
		if (ret) {
			return ret;
		}
	}
	for (i = 0; i < VUF_MAX_QUEUES; i++) {
		ret = vuf_vring_fd(v, VHOST_USER_SET_VRING_CALL, i,
				   v->q[i].call_fd);
		if (ret) {
			return ret;
		}
	}
	v->running = true;
	v->stopped = false;
	return 0;
}

int vuf_driver_ok(struct vuf *v)
{
	return vuf_start(v, true);
}

int vuf_resume(struct vuf *v)
{
	return vuf_start(v, false);
}

int vuf_mask_call(struct vuf *v, unsigned int q, bool masked)
{
	if (q >= VUF_MAX_QUEUES) {
		return vuf_fail(v, -EINVAL, "no queue %u", q);
	}
	return vuf_vring_fd(v, VHOST_USER_SET_VRING_CALL, q,
			    masked ? v->q[q].masked_fd : v->q[q].call_fd);
}

uint64_t vuf_drain_masked(struct vuf *v, unsigned int q)
{
	uint64_t cnt = 0;

	if (q < VUF_MAX_QUEUES &&
	    read(v->q[q].masked_fd, &cnt, sizeof(cnt)) == sizeof(cnt)) {
		return cnt;
	}
	return 0;
}

int vuf_disable(struct vuf *v)
{
	unsigned int i;
	int ret;

	for (i = 0; i < VUF_MAX_QUEUES; i++) {
		ret = vuf_vring_state(v, VHOST_USER_SET_VRING_ENABLE, i, 0,
				      true);
		if (ret) {
			return ret;
		}
	}
	return 0;
}

int vuf_reset(struct vuf *v, uint16_t last_avail[VUF_MAX_QUEUES])
{
	unsigned int i;
	int ret;

	ret = vuf_disable(v);
	if (ret) {
		return ret;
	}
	for (i = 0; i < VUF_MAX_QUEUES; i++) {
		struct vhost_user_vring_state s = { i, 0 };

		if (last_avail) {
			last_avail[i] = 0;
		}
		if (!v->q[i].started) {
			continue;
		}
		ret = vuf_msg_send(v, VHOST_USER_GET_VRING_BASE, 0, &s,
				   sizeof(s), NULL, 0);
		if (!ret) {
			ret = vuf_msg_recv(v, VHOST_USER_GET_VRING_BASE, &s,
					   sizeof(s), v->opts.timeout_ms);
		}
		if (ret) {
			return ret;
		}
		if (s.index != i || s.num > 0xffff) {
			return vuf_fail(v, -EPROTO,
					"GET_VRING_BASE %u replied {%u, %u}", i,
					s.index, s.num);
		}
		if (last_avail) {
			last_avail[i] = (uint16_t)s.num;
		}
		v->q[i].base = (uint16_t)s.num;
		v->q[i].started = false;
	}
	v->running = false;
	v->stopped = true;
	return 0;
}

int vuf_open(struct vuf **out, const char *socket_path,
	     const struct vuf_opts *opts)
{
	struct vuf *v = vuf_new(opts);
	int ret;

	*out = v;
	if (!v) {
		return -errno;
	}
	ret = vuf_connect(v, socket_path);
	if (!ret) {
		ret = vuf_init(v);
	}
	if (!ret) {
		ret = vuf_driver_ok(v);
	}
	return ret;
}
