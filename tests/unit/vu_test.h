/* SPDX-License-Identifier: MIT */
/*
 * Shared by the unit tests of the vhost-user transport (test_vhost_user,
 * test_rtc_backend, test_vu_server): a memfd as guest memory, a fake
 * device, vu_conn_handle() helpers playing QEMU's message sequences
 * (hw/virtio/vhost-user.c), a tiny guest driver for the requestq, and
 * fd-leak accounting at the end of every test.
 */
#ifndef TESTS_UNIT_VU_TEST_H
#define TESTS_UNIT_VU_TEST_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vhost_user.h"
#include "virtio_rtc.h"
#include "vu_server.h"

#define MEM_SIZE (1u << 20)
#define QVA0 0x7f1200000000ull /* the "QEMU user address" of GPA 0 */
#define QSIZE 16
#define DESC_GPA 0x1000ull
#define AVAIL_GPA 0x2000ull
#define USED_GPA 0x3000ull
#define BUF_GPA 0x10000ull

#define NEED_REPLY VHOST_USER_NEED_REPLY_MASK

/* ---- a fake device and the hook, counting calls ---------------------- */

static struct {
	unsigned int set_features, resets, process;
	uint64_t features;
	unsigned int changed[VU_NUM_QUEUES];
} calls;

static inline void fake_set_features(void *b, uint64_t f)
{
	calls.set_features++;
	calls.features = f;
}

static inline void fake_reset(void *b)
{
	calls.resets++;
}

static inline int fake_process(void *b, unsigned int idx, struct virtq *vq,
			       unsigned int budget)
{
	calls.process++;
	return 0;
}

static const struct vu_backend_ops fake_ops = {
	.features = 0,
	.request_queues = 1,
	.set_features = fake_set_features,
	.reset = fake_reset,
	.process = fake_process,
};

static inline void hook_changed(void *opaque, unsigned int idx)
{
	cr_assert_lt(idx, VU_NUM_QUEUES);
	calls.changed[idx]++;
}

static const struct vu_conn_hooks hooks = {
	.queue_changed = hook_changed,
};

/* ---- fixture -------------------------------------------------------- */

static struct vu_conn *conn;
static int memfd = -1;
static uint8_t *view; /* our mapping of guest memory */
static int fds_at_start;

static inline int count_fds(void)
{
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] != '.') {
			n++;
		}
	}
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static inline void setup(void)
{
	memset(&calls, 0, sizeof(calls));
	memfd = memfd_create("test-guest", MFD_CLOEXEC);
	cr_assert_geq(memfd, 0);
	cr_assert_eq(ftruncate(memfd, MEM_SIZE), 0);
	view = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd,
		    0);
	cr_assert_neq(view, MAP_FAILED);
	fds_at_start = count_fds();
	conn = vu_conn_new("test#1", &fake_ops, NULL, &hooks, NULL);
	cr_assert_not_null(conn);
}

static inline void teardown(void)
{
	vu_conn_free(conn);
	conn = NULL;
	munmap(view, MEM_SIZE);
	close(memfd);
}

static struct vu_server *srv;

/*
 * End of every test body: free what holds fds, then count them (an
 * assertion in .fini would not fail the test).
 */
static inline void finish(void)
{
	if (srv) {
		vu_server_free(srv);
		srv = NULL;
		while (g_main_context_iteration(NULL, FALSE)) {
		}
	}
	vu_conn_free(conn);
	conn = NULL;
	cr_assert_eq(count_fds(), fds_at_start, "fds leaked: %d -> %d",
		     fds_at_start, count_fds());
}

/* A Criterion test that ends with finish(). */
#define LTest(suite, name, ...)                                                \
	static void suite##_##name##_body(void);                               \
	Test(suite, name, ##__VA_ARGS__)                                       \
	{                                                                      \
		suite##_##name##_body();                                       \
		finish();                                                      \
	}                                                                      \
	static void suite##_##name##_body(void)

/* ---- message helpers ------------------------------------------------ */

static uint8_t reply[VU_REPLY_MAX];
static size_t reply_len;

static inline int msg(uint32_t req, uint32_t flags, const void *payload,
		      uint32_t size, int *fds, unsigned int nfds)
{
	struct vhost_user_header h = {
		.request = req,
		.flags = VHOST_USER_VERSION | flags,
		.size = size,
	};

	memset(reply, 0xee, sizeof(reply));
	return vu_conn_handle(conn, &h, payload, fds, nfds, reply, &reply_len);
}

static inline int msg_u64(uint32_t req, uint32_t flags, uint64_t v, int *fds,
			  unsigned int nfds)
{
	return msg(req, flags, &v, sizeof(v), fds, nfds);
}

static inline int msg_state(uint32_t req, uint32_t flags, uint32_t idx,
			    uint32_t num)
{
	struct vhost_user_vring_state s = { .index = idx, .num = num };

	return msg(req, flags, &s, sizeof(s), NULL, 0);
}

/* Check the reply header of a u64 reply to @req; return the value. */
static inline uint64_t reply_u64(uint32_t req)
{
	struct vhost_user_header h;
	uint64_t v;

	cr_assert_eq(reply_len, sizeof(h) + 8, "reply of %zu bytes", reply_len);
	memcpy(&h, reply, sizeof(h));
	cr_assert_eq(h.request, req);
	cr_assert_eq(h.flags, 0x5, "reply flags 0x%x", h.flags);
	cr_assert_eq(h.size, 8);
	memcpy(&v, reply + sizeof(h), sizeof(v));
	return v;
}

static inline uint64_t get_u64(uint32_t req)
{
	cr_assert_eq(msg(req, 0, NULL, 0, NULL, 0), 0, "%s",
		     vu_conn_error(conn));
	return reply_u64(req);
}

static inline void ok(int rc)
{
	cr_assert_eq(rc, 0, "failed: %s", vu_conn_error(conn));
}

static inline void ok_no_reply(int rc)
{
	ok(rc);
	cr_assert_eq(reply_len, 0, "unexpected reply of %zu bytes", reply_len);
}

static inline void ok_ack(int rc, uint32_t req)
{
	ok(rc);
	cr_assert_eq(reply_u64(req), 0);
}

static inline void rejected(int rc)
{
	cr_assert_lt(rc, 0, "hostile message accepted");
	cr_assert_eq(reply_len, 0);
	cr_assert_neq(vu_conn_error(conn)[0], '\0');
}

static inline int efd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	return fd;
}

static inline bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static inline int set_vring_fd(uint32_t req, unsigned int idx, int fd)
{
	int fds[1] = { fd };

	if (fd < 0) {
		return msg_u64(req, 0, idx | VHOST_USER_VRING_NOFD_MASK, NULL,
			       0);
	}
	return msg_u64(req, 0, idx, fds, 1);
}

static inline int set_mem_table(const struct vhost_user_mem_region *r,
				unsigned int n, int *fds, unsigned int nfds)
{
	struct vhost_user_mem_table t = { .nregions = n };

	memcpy(t.regions, r, n * sizeof(*r));
	return msg(VHOST_USER_SET_MEM_TABLE, NEED_REPLY, &t, 8 + n * sizeof(*r),
		   fds, nfds);
}

static const struct vhost_user_mem_region region0 = {
	.guest_phys_addr = 0,
	.memory_size = MEM_SIZE,
	.userspace_addr = QVA0,
	.mmap_offset = 0,
};

static inline int set_addr(uint32_t idx, uint64_t desc, uint64_t used,
			   uint64_t avail)
{
	struct vhost_user_vring_addr a = {
		.index = idx,
		.desc_user_addr = desc,
		.used_user_addr = used,
		.avail_user_addr = avail,
		.log_guest_addr = USED_GPA,
	};

	return msg(VHOST_USER_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
}

/* QEMU's realize sequence (A). */
static inline void qemu_init(void)
{
	uint64_t f;

	f = get_u64(VHOST_USER_GET_FEATURES);
	cr_assert_eq(f, VU_TRANSPORT_FEATURES);
	uint64_t pf = get_u64(VHOST_USER_GET_PROTOCOL_FEATURES);

	/* MQ, REPLY_ACK, LOG_SHMFD; DEVICE_STATE with a backend's state. */
	cr_assert_eq(pf & ~(1ull << VHOST_USER_PROTOCOL_F_DEVICE_STATE), 0xb);
	cr_assert_eq(pf, vu_conn_protocol_offered(conn));
	ok_no_reply(msg_u64(VHOST_USER_SET_PROTOCOL_FEATURES, 0, pf, NULL, 0));
	cr_assert_eq(get_u64(VHOST_USER_GET_QUEUE_NUM), 2);
	ok_no_reply(msg(VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0));
	cr_assert_eq(get_u64(VHOST_USER_GET_FEATURES), f);
	for (unsigned int i = 0; i < VU_NUM_QUEUES; i++) {
		ok_no_reply(set_vring_fd(VHOST_USER_SET_VRING_CALL, i, efd()));
		ok_no_reply(set_vring_fd(VHOST_USER_SET_VRING_ERR, i, efd()));
	}
}

/* QEMU's start sequence (B), queue 0 only (no VIRTIO_RTC_F_ALARM). */
static inline void qemu_start(uint64_t features, uint16_t base)
{
	int fds[1] = { dup(memfd) };

	ok_no_reply(msg_u64(VHOST_USER_SET_FEATURES, 0, features, NULL, 0));
	ok_ack(set_mem_table(&region0, 1, fds, 1), VHOST_USER_SET_MEM_TABLE);
	ok_no_reply(msg_state(VHOST_USER_SET_VRING_NUM, 0, 0, QSIZE));
	ok_no_reply(msg_state(VHOST_USER_SET_VRING_BASE, 0, 0, base));
	ok_no_reply(set_addr(0, QVA0 + DESC_GPA, QVA0 + USED_GPA,
			     QVA0 + AVAIL_GPA));
	ok_no_reply(set_vring_fd(VHOST_USER_SET_VRING_KICK, 0, efd()));
	ok_no_reply(set_vring_fd(VHOST_USER_SET_VRING_CALL, 0, efd()));
	for (unsigned int i = 0; i < VU_NUM_QUEUES; i++) {
		ok_ack(msg_state(VHOST_USER_SET_VRING_ENABLE, NEED_REPLY, i, 1),
		       VHOST_USER_SET_VRING_ENABLE);
	}
	for (unsigned int i = 0; i < VU_NUM_QUEUES; i++) {
		ok_no_reply(set_vring_fd(VHOST_USER_SET_VRING_CALL, i, efd()));
	}
}

/* QEMU's stop sequence (C); returns queue 0's last_avail_idx. */
static inline uint32_t qemu_stop(void)
{
	struct vhost_user_vring_state s;
	struct vhost_user_header h;

	for (unsigned int i = 0; i < VU_NUM_QUEUES; i++) {
		ok_ack(msg_state(VHOST_USER_SET_VRING_ENABLE, NEED_REPLY, i, 0),
		       VHOST_USER_SET_VRING_ENABLE);
	}
	ok(msg_state(VHOST_USER_GET_VRING_BASE, 0, 0, 0));
	cr_assert_eq(reply_len, sizeof(h) + sizeof(s));
	memcpy(&h, reply, sizeof(h));
	memcpy(&s, reply + sizeof(h), sizeof(s));
	cr_assert_eq(h.request, VHOST_USER_GET_VRING_BASE);
	cr_assert_eq(h.flags, 0x5);
	cr_assert_eq(h.size, 8);
	cr_assert_eq(s.index, 0);
	return s.num;
}

#define QEMU_FEATURES                                                          \
	((1ull << VIRTIO_F_VERSION_1) |                                        \
	 (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |                            \
	 (1ull << VIRTIO_RING_F_EVENT_IDX) |                                   \
	 (1ull << VIRTIO_RING_F_INDIRECT_DESC))

/* ---- the guest driver side of queue 0 ---------------------------------- */

static inline struct vring_desc *ring_desc(void)
{
	return (struct vring_desc *)(view + DESC_GPA);
}

static inline struct vring_avail *ring_avail(void)
{
	return (struct vring_avail *)(view + AVAIL_GPA);
}

static inline struct vring_used *ring_used(void)
{
	return (struct vring_used *)(view + USED_GPA);
}

/* Driver side: request in desc @head, response room in @head + 1. */
static inline void submit(uint16_t head, const void *req, uint32_t req_len,
			  uint32_t resp_len)
{
	struct vring_desc *d = ring_desc();
	struct vring_avail *a = ring_avail();
	uint64_t req_gpa = BUF_GPA + 0x100ull * head;
	uint64_t resp_gpa = req_gpa + 0x80;

	memcpy(view + req_gpa, req, req_len);
	memset(view + resp_gpa, 0xaa, 0x80);
	d[head] = (struct vring_desc){ req_gpa, req_len, VRING_DESC_F_NEXT,
				       (uint16_t)(head + 1) };
	d[head + 1] = (struct vring_desc){ resp_gpa, resp_len,
					   VRING_DESC_F_WRITE, 0 };
	a->ring[a->idx % QSIZE] = head;
	__atomic_store_n(&a->idx, (uint16_t)(a->idx + 1), __ATOMIC_RELEASE);
}

static inline const uint8_t *resp_of(uint16_t head)
{
	return view + BUF_GPA + 0x100ull * head + 0x80;
}

static const struct virtio_rtc_req_cfg cfg_req = {
	.head.msg_type = VIRTIO_RTC_REQ_CFG,
};

#endif /* TESTS_UNIT_VU_TEST_H */
