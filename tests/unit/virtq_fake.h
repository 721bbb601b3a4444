/* SPDX-License-Identifier: MIT */
/*
 * A fake guest for the virtq suites (test_virtq, test_virtq_hostile).
 *
 * Guest memory is one memfd shared as three regions: r0 and r1 adjacent
 * in guest-physical space (a buffer may span them), r2 above 4G holding
 * the rings; made-up front-end addresses for each. A small driver here
 * lays out desc/avail/used and posts chains through its own mapping of
 * the memfd, as a guest would. Each suite file is its own test binary.
 */
#ifndef TEST_VIRTQ_FAKE_H
#define TEST_VIRTQ_FAKE_H

#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "guest_mem.h"
#include "virtq.h"

#define R 0x10000ull	  /* region size */
#define G2 0x100000000ull /* gpa of r2 */
#define QVA0 0x7f0000000000ull
#define QVA1 0x7f0000100000ull
#define QVA2 0x7f0000200000ull

/* gpa, size, front-end user address, offset in the fd */
#define REGION(g, s, q, o)                                                     \
	{                                                                      \
		.guest_phys_addr = (g), .memory_size = (s),                    \
		.userspace_addr = (q), .mmap_offset = (o),                     \
	}
#define FILE_SIZE (3 * R)

/* ring layout inside r2, room for 1024 entries */
#define DESC_OFF 0x0ull
#define AVAIL_OFF 0x4000ull
#define USED_OFF 0x5000ull

static const struct vhost_user_mem_region layout[3] = {
	REGION(0, R, QVA0, 0),
	REGION(R, R, QVA1, R),
	REGION(G2, R, QVA2, 2 * R),
};

/* The fake driver. */
static struct {
	int memfd;
	uint8_t *view; /* whole memfd */
	struct guest_mem *mem;
	unsigned int num;
	uint16_t avail_idx;
	unsigned int next_desc;
	int call_fd, err_fd;
} drv;

static struct virtq vq;
static struct virtq_elem elem;

static inline uint8_t *gpa_view(uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		const struct vhost_user_mem_region *r = &layout[i];

		if (gpa >= r->guest_phys_addr &&
		    gpa - r->guest_phys_addr < r->memory_size) {
			return drv.view + r->mmap_offset +
			       (gpa - r->guest_phys_addr);
		}
	}
	cr_assert_fail("test bug: gpa 0x%llx not in layout",
		       (unsigned long long)gpa);
	return NULL;
}

static inline uint8_t *desc_base(void)
{
	return gpa_view(G2 + DESC_OFF);
}

static inline uint16_t *avail16(unsigned int i) /* 0 flags, 1 idx, 2.. ring */
{
	return (uint16_t *)gpa_view(G2 + AVAIL_OFF) + i;
}

static inline uint8_t *used_base(void)
{
	return gpa_view(G2 + USED_OFF);
}

static inline uint16_t rd16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static inline uint32_t rd32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline void wr16(void *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static inline uint16_t used_idx_guest(void)
{
	return rd16(used_base() + 2);
}

static inline uint16_t used_flags_guest(void)
{
	return rd16(used_base());
}

static inline uint32_t used_id(unsigned int slot)
{
	return rd32(used_base() + 4 + 8 * slot);
}

static inline uint32_t used_len(unsigned int slot)
{
	return rd32(used_base() + 4 + 8 * slot + 4);
}

static inline uint16_t avail_event_guest(void)
{
	return rd16(used_base() + 4 + 8 * drv.num);
}

static inline void set_used_event(uint16_t v)
{
	wr16(avail16(2 + drv.num), v);
}

static inline void set_avail_flags(uint16_t v)
{
	wr16(avail16(0), v);
}

static inline void put_desc(uint8_t *table, unsigned int i, uint64_t addr,
			    uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = {
		.addr = htole64(addr),
		.len = htole32(len),
		.flags = htole16(flags),
		.next = htole16(next),
	};

	memcpy(table + 16 * i, &d, sizeof(d));
}

static inline void set_desc(unsigned int i, uint64_t addr, uint32_t len,
			    uint16_t flags, uint16_t next)
{
	put_desc(desc_base(), i, addr, len, flags, next);
}

static inline void set_avail_idx(uint16_t idx)
{
	drv.avail_idx = idx;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	wr16(avail16(1), idx);
}

/* Make @head available at the driver's next slot. */
static inline void publish(uint16_t head)
{
	wr16(avail16(2 + drv.avail_idx % drv.num), head);
	set_avail_idx((uint16_t)(drv.avail_idx + 1));
}

struct buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* Direct chain of @n buffers from consecutive descriptors. */
static inline uint16_t post_chain(const struct buf *b, unsigned int n)
{
	uint16_t head = (uint16_t)drv.next_desc;
	unsigned int i, d;

	for (i = 0; i < n; i++) {
		d = (head + i) % drv.num;
		set_desc(d, b[i].gpa, b[i].len,
			 (uint16_t)((b[i].write ? VRING_DESC_F_WRITE : 0) |
				    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			 (uint16_t)((d + 1) % drv.num));
	}
	drv.next_desc = (head + n) % drv.num;
	publish(head);
	return head;
}

/* Indirect table at @table_gpa with @n buffers, one ring descriptor. */
static inline uint16_t post_indirect(uint64_t table_gpa, const struct buf *b,
				     unsigned int n)
{
	uint16_t head = (uint16_t)drv.next_desc;
	uint8_t *t = gpa_view(table_gpa);
	unsigned int i;

	for (i = 0; i < n; i++) {
		put_desc(t, i, b[i].gpa, b[i].len,
			 (uint16_t)((b[i].write ? VRING_DESC_F_WRITE : 0) |
				    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			 (uint16_t)(i + 1));
	}
	set_desc(head, table_gpa, 16 * n, VRING_DESC_F_INDIRECT, 0);
	drv.next_desc = (head + 1) % drv.num;
	publish(head);
	return head;
}

/* Read and clear an eventfd (non-blocking): how often it fired. */
static inline uint64_t fired(int fd)
{
	eventfd_t v = 0;

	if (eventfd_read(fd, &v) < 0) {
		return 0;
	}
	return v;
}

static inline void start_queue(unsigned int num, uint16_t start_idx)
{
	drv.num = num;
	drv.next_desc = 0;
	memset(desc_base(), 0, 16 * VIRTQ_SIZE_MAX);
	memset(avail16(0), 0, 4 + 2 * VIRTQ_SIZE_MAX + 2);
	memset(used_base(), 0, 4 + 8 * VIRTQ_SIZE_MAX + 2);
	drv.avail_idx = start_idx;
	wr16(avail16(1), start_idx);
	wr16(used_base() + 2, start_idx);

	virtq_reset(&vq);
	vq.call_fd = drv.call_fd;
	vq.err_fd = drv.err_fd;
	cr_assert_eq(virtq_set_num(&vq, num), 0);
	vq.last_avail_idx = start_idx;
	cr_assert_eq(virtq_set_addr(&vq, QVA2 + DESC_OFF, QVA2 + USED_OFF,
				    QVA2 + AVAIL_OFF),
		     0);
	vq.enabled = true;
	vq.started = true;
	cr_assert_eq(virtq_map(&vq, drv.mem), 0);
	cr_assert_eq(vq.used_idx, start_idx);
	cr_assert(virtq_ready(&vq));
}

static inline void setup(void)
{
	int fds[3];

	drv.memfd = memfd_create("test-virtq", MFD_CLOEXEC);
	cr_assert(drv.memfd >= 0);
	cr_assert_eq(ftruncate(drv.memfd, FILE_SIZE), 0);
	drv.view = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			drv.memfd, 0);
	cr_assert(drv.view != MAP_FAILED);
	fds[0] = fds[1] = fds[2] = drv.memfd;
	drv.mem = guest_mem_new();
	cr_assert_not_null(drv.mem);
	cr_assert_eq(guest_mem_set_table(drv.mem, layout, fds, 3), 0);
	drv.call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	drv.err_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	cr_assert(drv.call_fd >= 0 && drv.err_fd >= 0);
	virtq_init(&vq);
	start_queue(8, 0);
}

static inline void teardown(void)
{
	virtq_reset(&vq);
	guest_mem_free(drv.mem);
	munmap(drv.view, FILE_SIZE);
	close(drv.memfd);
	close(drv.call_fd);
	close(drv.err_fd);
}

TestSuite(virtq, .init = setup, .fini = teardown);

/* The queue is broken, says why, signalled err_fd, and stays broken. */
static inline void expect_broken(const char *why)
{
	cr_assert_eq(virtq_pop(&vq, &elem), -EIO);
	cr_assert(vq.broken);
	cr_assert_not_null(virtq_error(&vq));
	cr_assert_str_eq(virtq_error(&vq), why);
	cr_assert_eq(fired(drv.err_fd), 1);
	cr_assert_not(virtq_ready(&vq));
	cr_assert_not(virtq_has_work(&vq));
	cr_assert_eq(virtq_pop(&vq, &elem), -EIO);
	cr_assert_eq(fired(drv.err_fd), 0, "err_fd signalled once");
}

/* iovec contents equal guest bytes at @gpa. */
static inline void expect_iov_bytes(const struct iovec *iov, unsigned int n,
				    uint64_t gpa, size_t len)
{
	uint8_t buf[256];

	cr_assert_leq(len, sizeof(buf));
	cr_assert_eq(iov_to_buf(iov, n, buf, len), len);
	cr_assert_eq(memcmp(buf, gpa_view(gpa), len), 0);
}

static inline void fill_pattern(uint64_t gpa, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		gpa_view(gpa + i)[0] = (uint8_t)(seed + i * 7);
	}
}

#endif /* TEST_VIRTQ_FAKE_H */
