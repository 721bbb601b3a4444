/* SPDX-License-Identifier: MIT */
/*
 * virtq: the device side of the split ring against a fake guest.
 *
 * Guest memory is one memfd shared as three regions: r0 and r1 adjacent
 * in guest-physical space (a buffer may span them), r2 above 4G holding
 * the rings; made-up front-end addresses for each. A small driver in
 * this file lays out desc/avail/used and posts chains through its own
 * mapping of the memfd, as a guest would.
 */
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

static uint8_t *gpa_view(uint64_t gpa)
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

static uint8_t *desc_base(void)
{
	return gpa_view(G2 + DESC_OFF);
}

static uint16_t *avail16(unsigned int i) /* 0 flags, 1 idx, 2.. ring */
{
	return (uint16_t *)gpa_view(G2 + AVAIL_OFF) + i;
}

static uint8_t *used_base(void)
{
	return gpa_view(G2 + USED_OFF);
}

static uint16_t rd16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static uint32_t rd32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void wr16(void *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static uint16_t used_idx_guest(void)
{
	return rd16(used_base() + 2);
}

static uint16_t used_flags_guest(void)
{
	return rd16(used_base());
}

static uint32_t used_id(unsigned int slot)
{
	return rd32(used_base() + 4 + 8 * slot);
}

static uint32_t used_len(unsigned int slot)
{
	return rd32(used_base() + 4 + 8 * slot + 4);
}

static uint16_t avail_event_guest(void)
{
	return rd16(used_base() + 4 + 8 * drv.num);
}

static void set_used_event(uint16_t v)
{
	wr16(avail16(2 + drv.num), v);
}

static void set_avail_flags(uint16_t v)
{
	wr16(avail16(0), v);
}

static void put_desc(uint8_t *table, unsigned int i, uint64_t addr,
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

static void set_desc(unsigned int i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	put_desc(desc_base(), i, addr, len, flags, next);
}

static void set_avail_idx(uint16_t idx)
{
	drv.avail_idx = idx;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	wr16(avail16(1), idx);
}

/* Make @head available at the driver's next slot. */
static void publish(uint16_t head)
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
static uint16_t post_chain(const struct buf *b, unsigned int n)
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
static uint16_t post_indirect(uint64_t table_gpa, const struct buf *b,
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
static uint64_t fired(int fd)
{
	eventfd_t v = 0;

	if (eventfd_read(fd, &v) < 0) {
		return 0;
	}
	return v;
}

static void start_queue(unsigned int num, uint16_t start_idx)
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

static void setup(void)
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

static void teardown(void)
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
static void expect_broken(const char *why)
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
static void expect_iov_bytes(const struct iovec *iov, unsigned int n,
			     uint64_t gpa, size_t len)
{
	uint8_t buf[256];

	cr_assert_leq(len, sizeof(buf));
	cr_assert_eq(iov_to_buf(iov, n, buf, len), len);
	cr_assert_eq(memcmp(buf, gpa_view(gpa), len), 0);
}

static void fill_pattern(uint64_t gpa, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		gpa_view(gpa + i)[0] = (uint8_t)(seed + i * 7);
	}
}

/* ---- configuration ---- */

Test(virtq, set_num)
{
	cr_assert_eq(virtq_set_num(&vq, 0), -EINVAL);
	cr_assert_eq(virtq_set_num(&vq, 3), -EINVAL);
	cr_assert_eq(virtq_set_num(&vq, 2048), -EINVAL);
	cr_assert_eq(virtq_set_num(&vq, 1536), -EINVAL);
	cr_assert_eq(virtq_set_num(&vq, 1), 0);
	cr_assert_eq(virtq_set_num(&vq, 1024), 0);
	/* a new size needs a new map */
	cr_assert_not(virtq_ready(&vq));
	cr_assert_eq(virtq_pop(&vq, &elem), 0);
	cr_assert_eq(virtq_map(&vq, drv.mem), 0);
	cr_assert(virtq_ready(&vq));
}

Test(virtq, init_state)
{
	struct virtq q;

	memset(&q, 0x5a, sizeof(q));
	virtq_init(&q);
	cr_assert_eq(q.kick_fd, -1);
	cr_assert_eq(q.call_fd, -1);
	cr_assert_eq(q.err_fd, -1);
	cr_assert_not(q.broken);
	cr_assert_null(virtq_error(&q));
	cr_assert_not(virtq_ready(&q));
	cr_assert_not(virtq_has_work(&q));
	cr_assert_eq(virtq_pop(&q, &elem), 0);
	/* nothing to write to: these must not crash */
	virtq_notify(&q);
	virtq_disable_notification(&q);
	cr_assert_not(virtq_enable_notification(&q));
	virtq_push(&q, &elem, 0);
}

Test(virtq, ready_needs_everything)
{
	vq.enabled = false;
	cr_assert_not(virtq_ready(&vq));
	vq.enabled = true;
	vq.started = false;
	cr_assert_not(virtq_ready(&vq));
	vq.started = true;
	cr_assert(virtq_ready(&vq));
}

Test(virtq, map_unconfigured)
{
	struct virtq q;

	virtq_init(&q);
	cr_assert_eq(virtq_map(&q, drv.mem), -EINVAL);
	cr_assert(q.broken);
	cr_assert_not_null(virtq_error(&q));
	virtq_init(&q);
	cr_assert_eq(virtq_set_num(&q, 8), 0);
	cr_assert_eq(virtq_map(&q, drv.mem), -EINVAL);
	cr_assert(q.broken);
	virtq_init(&q);
	cr_assert_eq(
		virtq_set_addr(&q, QVA2, QVA2 + USED_OFF, QVA2 + AVAIL_OFF), 0);
	cr_assert_eq(virtq_map(&q, drv.mem), -EINVAL);
	cr_assert(q.broken);
}

static void map_expect(uint64_t d, uint64_t u, uint64_t a, int err)
{
	virtq_reset(&vq);
	vq.err_fd = drv.err_fd;
	cr_assert_eq(virtq_set_num(&vq, 8), 0);
	cr_assert_eq(virtq_set_addr(&vq, d, u, a), 0);
	cr_assert_eq(virtq_map(&vq, drv.mem), err);
	if (err) {
		expect_broken(err == -EFAULT ? "ring outside guest memory"
					     : "misaligned ring address");
	} else {
		cr_assert_not(vq.broken);
	}
}

Test(virtq, map_checks)
{
	uint64_t d = QVA2 + DESC_OFF, a = QVA2 + AVAIL_OFF;
	uint64_t u = QVA2 + USED_OFF;

	map_expect(d, u, a, 0);
	map_expect(d + 8, u, a, -EINVAL);
	map_expect(d, u + 2, a, -EINVAL);
	map_expect(d, u, a + 1, -EINVAL);
	/* in the gap between made-up user addresses */
	map_expect(QVA0 + R, u, a, -EFAULT);
	/* crossing the end of a region */
	map_expect(QVA2 + R - 64, u, a, -EFAULT);
	map_expect(d, QVA2 + R - 32, a, -EFAULT);
	map_expect(d, u, QVA2 + R - 18, -EFAULT);
	/* near the end is fine: used is 4 + 8 * 8 + 2 = 70 bytes */
	map_expect(d, QVA2 + R - 72, a, 0);
	/* a guest-physical address is not a user address */
	map_expect(G2 + DESC_OFF, u, a, -EFAULT);
}

/*
 * The ring address is aligned in the front-end's address space but the
 * region's mmap_offset is odd, so our pointer is not (found by fuzzing:
 * misaligned struct vring_used access).
 */
Test(virtq, map_rejects_ring_misaligned_in_our_mapping)
{
	const struct vhost_user_mem_region odd[1] = {
		REGION(0, R, QVA0, 1),
	};
	int fds[1] = { drv.memfd };

	cr_assert_eq(guest_mem_set_table(drv.mem, odd, fds, 1), 0);
	virtq_reset(&vq);
	vq.err_fd = drv.err_fd;
	cr_assert_eq(virtq_set_num(&vq, 8), 0);
	cr_assert_eq(virtq_set_addr(&vq, QVA0, QVA0 + 0x1000, QVA0 + 0x800), 0);
	cr_assert_eq(virtq_map(&vq, drv.mem), -EINVAL);
	expect_broken("ring misaligned in guest memory");
}

/* ---- normal operation ---- */

Test(virtq, direct_chain)
{
	struct buf b[3] = {
		{ 0x1000, 24, false },
		{ 0x2000, 40, false },
		{ 0x3000, 64, true },
	};
	uint16_t head;
	uint8_t reply[64];

	fill_pattern(0x1000, 24, 1);
	fill_pattern(0x2000, 40, 2);
	cr_assert_not(virtq_has_work(&vq));
	cr_assert_eq(virtq_pop(&vq, &elem), 0);
	head = post_chain(b, 3);
	cr_assert(virtq_has_work(&vq));
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	cr_assert_eq(elem.head, head);
	cr_assert_eq(elem.out_num, 2);
	cr_assert_eq(elem.in_num, 1);
	cr_assert_eq(elem.out_len, 64);
	cr_assert_eq(elem.in_len, 64);
	cr_assert_eq(vq.inuse, 1);
	expect_iov_bytes(elem.out, 1, 0x1000, 24);
	expect_iov_bytes(&elem.out[1], 1, 0x2000, 40);
	cr_assert_not(virtq_has_work(&vq));
	cr_assert_eq(virtq_pop(&vq, &elem), 0);

	memset(reply, 0xcd, sizeof(reply));
	cr_assert_eq(iov_from_buf(elem.in, elem.in_num, reply, 16), 16);
	cr_assert_eq(gpa_view(0x3000)[15], 0xcd);
	virtq_push(&vq, &elem, 16);
	cr_assert_eq(vq.inuse, 0);
	cr_assert_eq(used_idx_guest(), 1);
	cr_assert_eq(used_id(0), head);
	cr_assert_eq(used_len(0), 16);
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 1);
}

Test(virtq, push_len_capped)
{
	struct buf b[2] = { { 0x1000, 8, false }, { 0x2000, 8, true } };

	post_chain(b, 2);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 1000);
	cr_assert_eq(used_len(0), 8);
}

Test(virtq, many_in_order)
{
	struct buf b[1] = { { 0x1000, 8, true } };
	unsigned int i;

	for (i = 0; i < 8; i++) {
		post_chain(b, 1);
	}
	for (i = 0; i < 8; i++) {
		cr_assert_eq(virtq_pop(&vq, &elem), 1);
		cr_assert_eq(elem.head, i);
	}
	cr_assert_eq(vq.inuse, 8);
	cr_assert_eq(virtq_pop(&vq, &elem), 0);
	/* out of order completion is allowed */
	elem.head = 5;
	virtq_push(&vq, &elem, 0);
	cr_assert_eq(used_id(0), 5);
}

Test(virtq, full_length_chain)
{
	struct buf b[8];
	unsigned int i;

	for (i = 0; i < 8; i++) {
		b[i] = (struct buf){ 0x1000 + 0x100 * i, 0x10, i >= 4 };
	}
	post_chain(b, 8); /* uses every descriptor once: legal */
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	cr_assert_eq(elem.out_num, 4);
	cr_assert_eq(elem.in_num, 4);
}

Test(virtq, indirect_chain)
{
	struct buf b[4] = {
		{ 0x1000, 16, false },
		{ 0x1100, 16, false },
		{ 0x2000, 32, true },
		{ 0x2100, 32, true },
	};
	uint16_t head;

	vq.indirect = true;
	fill_pattern(0x1000, 16, 3);
	fill_pattern(0x1100, 16, 4);
	head = post_indirect(0x8000, b, 4);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	cr_assert_eq(elem.head, head);
	cr_assert_eq(elem.out_num, 2);
	cr_assert_eq(elem.in_num, 2);
	cr_assert_eq(elem.out_len, 32);
	cr_assert_eq(elem.in_len, 64);
	expect_iov_bytes(elem.out, 1, 0x1000, 16);
	expect_iov_bytes(&elem.out[1], 1, 0x1100, 16);
	virtq_push(&vq, &elem, 64);
	cr_assert_eq(used_id(0), head);
}

Test(virtq, indirect_after_direct)
{
	/* a direct descriptor, then one pointing at a table (no NEXT) */
	struct buf t[1] = { { 0x2000, 32, true } };

	vq.indirect = true;
	put_desc(gpa_view(0x8000), 0, t[0].gpa, t[0].len, VRING_DESC_F_WRITE,
		 0);
	set_desc(0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
	set_desc(1, 0x8000, 16, VRING_DESC_F_INDIRECT, 0);
	publish(0);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	cr_assert_eq(elem.out_num, 1);
	cr_assert_eq(elem.in_num, 1);
	cr_assert_eq(elem.in_len, 32);
}

Test(virtq, buffer_spans_regions)
{
	struct buf b[2] = {
		{ R - 8, 24, false }, /* 8 bytes in r0, 16 in r1 */
		{ R - 4, 8, true },
	};

	fill_pattern(R - 8, 24, 9);
	post_chain(b, 2);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	cr_assert_eq(elem.out_num, 2);
	cr_assert_eq(elem.out[0].iov_len, 8);
	cr_assert_eq(elem.out[1].iov_len, 16);
	cr_assert_eq(elem.in_num, 2);
	expect_iov_bytes(elem.out, 2, R - 8, 24);
	cr_assert_eq(iov_from_buf(elem.in, 2, "ABCDEFGH", 8), 8);
	cr_assert_eq(memcmp(gpa_view(R - 4), "ABCD", 4), 0);
	cr_assert_eq(memcmp(gpa_view(R), "EFGH", 4), 0);
}

Test(virtq, indirect_table_spans_regions)
{
	struct buf b[3] = {
		{ 0x1000, 16, false },
		{ 0x2000, 16, true },
		{ G2 + 0x8000, 16, true },
	};

	vq.indirect = true;
	/* 3 entries from R - 24: the second straddles r0 and r1 */
	post_indirect(R - 24, b, 3);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	cr_assert_eq(elem.out_num, 1);
	cr_assert_eq(elem.in_num, 2);
	cr_assert_eq(elem.in_len, 32);
}

Test(virtq, iov_copy_partial)
{
	uint8_t a[4] = { 1, 2, 3, 4 }, b[4] = { 5, 6, 7, 8 }, out[16];
	struct iovec iov[3] = { { a, 4 }, { NULL, 0 }, { b, 4 } };

	cr_assert_eq(iov_to_buf(iov, 3, out, 6), 6);
	cr_assert_eq(out[4], 5);
	cr_assert_eq(out[5], 6);
	cr_assert_eq(iov_to_buf(iov, 3, out, 16), 8);
	cr_assert_eq(iov_from_buf(iov, 3, "xyzw12345", 9), 8);
	cr_assert_eq(a[0], 'x');
	cr_assert_eq(b[3], '4');
	cr_assert_eq(iov_to_buf(iov, 0, out, 16), 0);
}

/* ---- notifications ---- */

Test(virtq, notify_no_interrupt)
{
	struct buf b[1] = { { 0x1000, 8, true } };

	post_chain(b, 1);
	post_chain(b, 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 0);
	set_avail_flags(VRING_AVAIL_F_NO_INTERRUPT);
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 0);
	set_avail_flags(0);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 0);
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 1);
}

Test(virtq, notify_on_empty)
{
	struct buf b[1] = { { 0x1000, 8, true } };
	struct virtq_elem e2;

	vq.notify_on_empty = true;
	set_avail_flags(VRING_AVAIL_F_NO_INTERRUPT);
	post_chain(b, 1);
	post_chain(b, 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 0);
	virtq_notify(&vq); /* one still available: suppressed */
	cr_assert_eq(fired(drv.call_fd), 0);
	cr_assert_eq(virtq_pop(&vq, &e2), 1);
	virtq_push(&vq, &e2, 0);
	virtq_notify(&vq); /* ran out of buffers: notify anyway */
	cr_assert_eq(fired(drv.call_fd), 1);

	/* also overrides EVENT_IDX suppression */
	start_queue(8, 0);
	vq.notify_on_empty = true;
	vq.event_idx = true;
	post_chain(b, 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 0);
	virtq_notify(&vq); /* first one: no valid signalled_used yet */
	cr_assert_eq(fired(drv.call_fd), 1);
	set_used_event(100);
	post_chain(b, 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 0);
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 1);
	vq.notify_on_empty = false;
	post_chain(b, 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 0);
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 0);
}

Test(virtq, event_idx_notify)
{
	struct buf b[1] = { { 0x1000, 8, true } };
	unsigned int i;

	start_queue(8, 0);
	vq.event_idx = true;
	/* signalled_used not valid yet: notify regardless of used_event */
	set_used_event(50);
	post_chain(b, 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	cr_assert_eq(avail_event_guest(), 1);
	virtq_push(&vq, &elem, 0);
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 1);
	/* nothing new used: no notification */
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 0);
	/* guest wants one when used passes 1 (i.e. reaches 2) */
	set_used_event(1);
	post_chain(b, 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 0);
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 1);
	/* guest wants one only at 5: pushes to 3, 4, 5 */
	set_used_event(5);
	for (i = 0; i < 3; i++) {
		post_chain(b, 1);
		cr_assert_eq(virtq_pop(&vq, &elem), 1);
		virtq_push(&vq, &elem, 0);
		virtq_notify(&vq);
		cr_assert_eq(fired(drv.call_fd), 0, "push %u", i);
	}
	post_chain(b, 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 0); /* used 6: crossed 5 */
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 1);
	/* batch crossing the event in one notify */
	set_used_event(7);
	post_chain(b, 1);
	post_chain(b, 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 0);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 0); /* 6 -> 8 */
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 1);
	/* NO_INTERRUPT is ignored with EVENT_IDX */
	set_avail_flags(VRING_AVAIL_F_NO_INTERRUPT);
	set_used_event(8);
	post_chain(b, 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 0);
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 1);
}

Test(virtq, no_call_fd)
{
	struct buf b[1] = { { 0x1000, 8, true } };

	vq.call_fd = -1;
	post_chain(b, 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 0);
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 0);
}

Test(virtq, enable_disable_plain)
{
	struct buf b[1] = { { 0x1000, 8, true } };

	virtq_disable_notification(&vq);
	cr_assert_eq(used_flags_guest(), VRING_USED_F_NO_NOTIFY);
	cr_assert_not(virtq_enable_notification(&vq));
	cr_assert_eq(used_flags_guest(), 0);
	virtq_disable_notification(&vq);
	post_chain(b, 1);
	cr_assert(virtq_enable_notification(&vq)); /* arrived meanwhile */
	cr_assert_eq(used_flags_guest(), 0);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	cr_assert_not(virtq_enable_notification(&vq));
}

Test(virtq, enable_disable_event_idx)
{
	struct buf b[1] = { { 0x1000, 8, true } };

	start_queue(8, 0);
	vq.event_idx = true;
	virtq_disable_notification(&vq);
	post_chain(b, 1);
	post_chain(b, 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	/* while disabled, avail_event does not follow */
	cr_assert_eq(avail_event_guest(), 0);
	cr_assert(virtq_enable_notification(&vq));
	cr_assert_eq(avail_event_guest(), 1);
	cr_assert_eq(used_flags_guest(), 0);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	cr_assert_eq(avail_event_guest(), 2);
	cr_assert_not(virtq_enable_notification(&vq));
	cr_assert_eq(avail_event_guest(), 2);
}

/* ---- 16-bit index wraparound ---- */

static void wrap_run(bool event_idx)
{
	struct buf b[2] = { { 0x1000, 8, false }, { 0x2000, 8, true } };
	uint16_t heads[6];
	unsigned int i;

	start_queue(8, 65533);
	vq.event_idx = event_idx;
	cr_assert_eq(vq.last_avail_idx, 65533);
	/* a first notification makes signalled_used valid (65533) */
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 1);
	for (i = 0; i < 3; i++) {
		heads[i] = post_chain(b, 2);
	}
	cr_assert_eq(rd16(avail16(1)), 0); /* avail idx wrapped */
	for (i = 0; i < 3; i++) {
		cr_assert_eq(virtq_pop(&vq, &elem), 1);
		cr_assert_eq(elem.head, heads[i]);
		virtq_push(&vq, &elem, 4);
	}
	cr_assert_eq(vq.last_avail_idx, 0);
	cr_assert_eq(used_idx_guest(), 0);
	/* slots 65533 % 8 = 5, 6, 7 */
	cr_assert_eq(used_id(5), heads[0]);
	cr_assert_eq(used_id(6), heads[1]);
	cr_assert_eq(used_id(7), heads[2]);
	if (event_idx) {
		cr_assert_eq(avail_event_guest(), 0);
		/* guest asked at 65535: used went 65533 -> 0, crossed it */
		set_used_event(65535);
	}
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 1);
	for (i = 3; i < 6; i++) {
		heads[i] = post_chain(b, 2);
	}
	for (i = 3; i < 6; i++) {
		cr_assert_eq(virtq_pop(&vq, &elem), 1);
		cr_assert_eq(elem.head, heads[i]);
		virtq_push(&vq, &elem, 4);
	}
	cr_assert_eq(used_idx_guest(), 3);
	cr_assert_eq(used_id(0), heads[3]);
	cr_assert_eq(used_id(2), heads[5]);
	if (event_idx) {
		set_used_event(10); /* not crossed by 0 -> 3 */
		virtq_notify(&vq);
		cr_assert_eq(fired(drv.call_fd), 0);
	}
	cr_assert_eq(virtq_pop(&vq, &elem), 0);
}

Test(virtq, wraparound)
{
	wrap_run(false);
}

Test(virtq, wraparound_event_idx)
{
	wrap_run(true);
}

Test(virtq, wraparound_full_ring)
{
	struct buf b[1] = { { 0x1000, 8, true } };
	unsigned int i;

	start_queue(8, 65532);
	for (i = 0; i < 8; i++) {
		post_chain(b, 1);
	}
	/* exactly num available across the wrap: fine */
	for (i = 0; i < 8; i++) {
		cr_assert_eq(virtq_pop(&vq, &elem), 1);
	}
	cr_assert_eq(virtq_pop(&vq, &elem), 0);
	cr_assert_eq(vq.last_avail_idx, 4);
}

/* ---- hostile rings ---- */

Test(virtq, hostile_avail_idx_jump)
{
	set_avail_idx(9); /* num is 8 */
	expect_broken("avail index moved too far");
	/* fixing the ring does not un-break it; reset does */
	set_avail_idx(0);
	cr_assert_eq(virtq_pop(&vq, &elem), -EIO);
	start_queue(8, 0);
	cr_assert_not(vq.broken);
	cr_assert_null(virtq_error(&vq));
	cr_assert_eq(virtq_pop(&vq, &elem), 0);
}

Test(virtq, hostile_avail_idx_backwards)
{
	start_queue(8, 100);
	set_avail_idx(99); /* 65535 ahead */
	expect_broken("avail index moved too far");
}

Test(virtq, hostile_head_out_of_range)
{
	set_desc(0, 0x1000, 8, 0, 0);
	publish(8);
	expect_broken("avail ring head out of range");
}

Test(virtq, hostile_next_out_of_range)
{
	set_desc(0, 0x1000, 8, VRING_DESC_F_NEXT, 8);
	publish(0);
	expect_broken("next descriptor out of range");
}

Test(virtq, hostile_loop)
{
	set_desc(0, 0x1000, 8, VRING_DESC_F_NEXT, 1);
	set_desc(1, 0x1000, 8, VRING_DESC_F_NEXT, 0);
	publish(0);
	expect_broken("descriptor chain loops");
}

Test(virtq, hostile_self_loop_writable)
{
	/* a self-loop in a big ring ends (here at the iovec cap) */
	start_queue(1024, 0);
	set_desc(0, 0x1000, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0);
	publish(0);
	expect_broken("too many buffers in one direction");
}

Test(virtq, hostile_loop_in_indirect)
{
	uint8_t *t = gpa_view(0x8000);

	vq.indirect = true;
	put_desc(t, 0, 0x1000, 8, VRING_DESC_F_NEXT, 1);
	put_desc(t, 1, 0x1000, 8, VRING_DESC_F_NEXT, 0);
	set_desc(0, 0x8000, 32, VRING_DESC_F_INDIRECT, 0);
	publish(0);
	expect_broken("descriptor chain loops");
}

Test(virtq, hostile_indirect_next_out_of_table)
{
	uint8_t *t = gpa_view(0x8000);

	vq.indirect = true;
	put_desc(t, 0, 0x1000, 8, VRING_DESC_F_NEXT, 2); /* table of 2 */
	put_desc(t, 1, 0x1000, 8, 0, 0);
	put_desc(t, 2, 0x1000, 8, 0, 0);
	set_desc(0, 0x8000, 32, VRING_DESC_F_INDIRECT, 0);
	publish(0);
	expect_broken("next descriptor out of range");
}

Test(virtq, hostile_indirect_not_negotiated)
{
	put_desc(gpa_view(0x8000), 0, 0x1000, 8, 0, 0);
	set_desc(0, 0x8000, 16, VRING_DESC_F_INDIRECT, 0);
	publish(0);
	expect_broken("indirect descriptor not negotiated");
}

Test(virtq, hostile_indirect_with_next)
{
	vq.indirect = true;
	put_desc(gpa_view(0x8000), 0, 0x1000, 8, 0, 0);
	set_desc(0, 0x8000, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	set_desc(1, 0x1000, 8, 0, 0);
	publish(0);
	expect_broken("indirect descriptor with NEXT");
}

Test(virtq, hostile_nested_indirect)
{
	uint8_t *t = gpa_view(0x8000);

	vq.indirect = true;
	put_desc(gpa_view(0x9000), 0, 0x1000, 8, 0, 0);
	put_desc(t, 0, 0x9000, 16, VRING_DESC_F_INDIRECT, 0);
	set_desc(0, 0x8000, 16, VRING_DESC_F_INDIRECT, 0);
	publish(0);
	expect_broken("nested indirect descriptor");
}

static void indirect_len_case(uint32_t len)
{
	start_queue(8, 0);
	vq.indirect = true;
	put_desc(gpa_view(0x8000), 0, 0x1000, 8, 0, 0);
	set_desc(0, 0x8000, len, VRING_DESC_F_INDIRECT, 0);
	publish(0);
	expect_broken("bad indirect table length");
}

Test(virtq, hostile_indirect_len)
{
	indirect_len_case(0);
	indirect_len_case(17);
	indirect_len_case(8);
	indirect_len_case(1025 * 16);
	indirect_len_case(UINT32_MAX & ~15u);
}

Test(virtq, indirect_len_max_ok)
{
	unsigned int i;
	uint8_t *t = gpa_view(0x4000); /* 16 KiB table inside r0 */

	vq.indirect = true;
	/* 1024 entries; only the first is used */
	for (i = 0; i < 1024; i++) {
		put_desc(t, i, 0x1000, 8, 0, 0);
	}
	set_desc(0, 0x4000, 1024 * 16, VRING_DESC_F_INDIRECT, 0);
	publish(0);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	cr_assert_eq(elem.out_num, 1);
}

Test(virtq, hostile_indirect_table_unmapped)
{
	vq.indirect = true;
	set_desc(0, 2 * R - 16, 32, VRING_DESC_F_INDIRECT, 0); /* into gap */
	publish(0);
	expect_broken("indirect table outside guest memory");
}

Test(virtq, hostile_readable_after_writable)
{
	set_desc(0, 0x1000, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(1, 0x2000, 8, 0, 0);
	publish(0);
	expect_broken("readable descriptor after writable");
}

Test(virtq, hostile_readable_after_writable_indirect)
{
	struct buf b[2] = { { 0x1000, 8, true }, { 0x2000, 8, false } };

	vq.indirect = true;
	post_indirect(0x8000, b, 2);
	expect_broken("readable descriptor after writable");
}

Test(virtq, hostile_zero_length)
{
	struct buf b[2] = { { 0x1000, 8, false }, { 0x2000, 0, true } };

	post_chain(b, 2);
	expect_broken("zero-length descriptor");
}

Test(virtq, hostile_zero_length_indirect)
{
	struct buf b[1] = { { 0x1000, 0, false } };

	vq.indirect = true;
	post_indirect(0x8000, b, 1);
	expect_broken("zero-length descriptor");
}

Test(virtq, hostile_addr_unmapped)
{
	struct buf b[1] = { { 2 * R, 8, false } }; /* the gap */

	post_chain(b, 1);
	expect_broken("buffer outside guest memory");
}

Test(virtq, hostile_addr_runs_off_region)
{
	struct buf b[1] = { { G2 + R - 4, 8, true } };

	post_chain(b, 1);
	expect_broken("buffer outside guest memory");
}

Test(virtq, hostile_addr_overflow)
{
	struct buf b[1] = { { UINT64_MAX - 3, 8, true } };

	post_chain(b, 1);
	expect_broken("buffer outside guest memory");
}

Test(virtq, hostile_too_many_iovecs)
{
	struct buf b[VIRTQ_ELEM_MAX_IOV + 1];
	unsigned int i;

	vq.indirect = true;
	for (i = 0; i < VIRTQ_ELEM_MAX_IOV + 1; i++) {
		b[i] = (struct buf){ 0x1000 + 16 * i, 16, true };
	}
	/* exactly the maximum is fine */
	post_indirect(0x8000, b, VIRTQ_ELEM_MAX_IOV);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	cr_assert_eq(elem.in_num, VIRTQ_ELEM_MAX_IOV);
	post_indirect(0x8000, b, VIRTQ_ELEM_MAX_IOV + 1);
	expect_broken("too many buffers in one direction");
}

Test(virtq, hostile_too_many_iovecs_by_splitting)
{
	struct buf b[VIRTQ_ELEM_MAX_IOV];
	unsigned int i;

	/* 63 small ones, then one spanning r0/r1 needs two entries */
	start_queue(64, 0);
	for (i = 0; i < VIRTQ_ELEM_MAX_IOV - 1; i++) {
		b[i] = (struct buf){ 0x1000 + 16 * i, 16, false };
	}
	b[i] = (struct buf){ R - 8, 16, false };
	post_chain(b, VIRTQ_ELEM_MAX_IOV);
	expect_broken("too many buffers in one direction");
}

Test(virtq, hostile_inuse_exceeds_num)
{
	struct buf b[1] = { { 0x1000, 8, true } };

	start_queue(2, 0);
	post_chain(b, 1);
	post_chain(b, 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	/* both in flight, yet the guest offers head 0 again */
	publish(0);
	expect_broken("more buffers in use than queue size");
}

Test(virtq, broken_push_and_notify_do_nothing)
{
	struct buf b[1] = { { 0x1000, 8, true } };

	post_chain(b, 1);
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	set_avail_idx(100);
	expect_broken("avail index moved too far");
	virtq_push(&vq, &elem, 4);
	cr_assert_eq(used_idx_guest(), 0);
	virtq_notify(&vq);
	cr_assert_eq(fired(drv.call_fd), 0);
	cr_assert_not(virtq_enable_notification(&vq));
	cr_assert_eq(virtq_elem_remap(&vq, &elem), -EIO);
}

Test(virtq, no_err_fd)
{
	vq.err_fd = -1;
	set_avail_idx(9);
	cr_assert_eq(virtq_pop(&vq, &elem), -EIO);
	cr_assert(vq.broken);
	cr_assert_eq(fired(drv.err_fd), 0);
}

/* ---- memory table changes ---- */

Test(virtq, remap_after_new_table)
{
	/* same memfd, new layout: r0 split in two, different user
	 * addresses for r0/r1, rings' r2 listed first */
	static const struct vhost_user_mem_region nl[4] = {
		REGION(G2, R, QVA2, 2 * R),
		REGION(0, R / 2, 0x7e0000000000, 0),
		REGION(R / 2, R / 2, 0x7e0000100000, R / 2),
		REGION(R, R, 0x7e0000200000, R),
	};
	int fds[4] = { drv.memfd, drv.memfd, drv.memfd, drv.memfd };
	struct buf b[2] = { { 0x1000, 8, false }, { R / 2 - 4, 8, true } };
	struct virtq_elem held;
	uint64_t gen;

	post_chain(b, 2);
	cr_assert_eq(virtq_pop(&vq, &held), 1);
	cr_assert_eq(held.in_num, 1);
	post_chain(b, 2);
	gen = guest_mem_generation(drv.mem);

	cr_assert_eq(guest_mem_set_table(drv.mem, nl, fds, 4), 0);
	cr_assert_neq(guest_mem_generation(drv.mem), gen);
	/* stale pointers are never used */
	cr_assert_not(virtq_has_work(&vq));
	cr_assert_not(virtq_ready(&vq));
	cr_assert_eq(virtq_pop(&vq, &elem), 0);
	cr_assert_eq(virtq_elem_remap(&vq, &held), -EAGAIN);

	cr_assert_eq(virtq_map(&vq, drv.mem), 0);
	cr_assert(virtq_ready(&vq));
	cr_assert_not_null(vq.desc);
	cr_assert_eq(vq.used_idx, 0);
	cr_assert_eq(vq.inuse, 1);
	cr_assert(virtq_has_work(&vq));
	cr_assert_eq(virtq_pop(&vq, &elem), 1);
	cr_assert_eq(elem.in_num, 2); /* now spans the split */

	/* the held element's iovecs are re-resolved in the new mapping */
	cr_assert_neq(held.mem_generation, vq.mem_generation);
	cr_assert_eq(virtq_elem_remap(&vq, &held), 0);
	cr_assert_eq(held.mem_generation, vq.mem_generation);
	cr_assert_eq(held.in_num, 2);
	cr_assert_eq(iov_from_buf(held.in, held.in_num, "12345678", 8), 8);
	cr_assert_eq(memcmp(gpa_view(R / 2 - 4), "12345678", 8), 0);
	cr_assert_eq(virtq_elem_remap(&vq, &held), 0); /* now a no-op */
	virtq_push(&vq, &held, 8);
	virtq_push(&vq, &elem, 0);
	cr_assert_eq(used_idx_guest(), 2);
	cr_assert_eq(used_id(0), held.head);
}

Test(virtq, remap_ring_gone)
{
	static const struct vhost_user_mem_region nl[1] = {
		REGION(0, R, QVA0, 0),
	};
	int fds[1] = { drv.memfd };

	cr_assert_eq(guest_mem_set_table(drv.mem, nl, fds, 1), 0);
	cr_assert_eq(virtq_map(&vq, drv.mem), -EFAULT);
	expect_broken("ring outside guest memory");
}

/* ---- randomized rings ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/*
 * One random descriptor. @mode 0: raw random bytes; 1: fields biased
 * towards plausible values; 2: well-formed but for a rare bad field.
 */
static void random_desc(uint8_t *table, unsigned int i, unsigned int num,
			unsigned int mode)
{
	uint64_t r = rnd();
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
	unsigned int bad = mode == 1 ? 8 : 64;

	if (mode == 0) {
		put_desc(table, i, rnd(), (uint32_t)r, (uint16_t)(r >> 32),
			 (uint16_t)(r >> 48));
		return;
	}
	if (r % bad == 0) {
		addr = rnd();
	} else if (r % bad == 1) {
		addr = G2 + rnd() % (R + 64);
	} else {
		addr = rnd() % (2 * R + 64);
	}
	r = rnd();
	if (r % bad == 0) {
		len = (uint32_t)rnd();
	} else if (r % bad == 1 || r % bad == 2) {
		len = 16 * (uint32_t)(rnd() % 40);
	} else {
		len = 1 + (uint32_t)(rnd() % 0x300);
	}
	r = rnd();
	if (r % bad == 0) {
		flags = (uint16_t)(r >> 16);
	} else if (mode == 1) {
		flags = (uint16_t)((r >> 8) & 7);
	} else {
		/* all writable (no order to break), short chains */
		flags = VRING_DESC_F_WRITE |
			((r >> 8) % 4 == 0 ? VRING_DESC_F_NEXT : 0);
	}
	if (r % bad == 1) {
		next = (uint16_t)(r >> 32);
	} else {
		next = (uint16_t)((r >> 32) % (num + (mode == 1)));
	}
	put_desc(table, i, addr, len, flags, next);
}

static bool iov_inside(const struct iovec *iov)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		uint8_t *base = guest_mem_gpa_to_ptr(
			drv.mem, layout[i].guest_phys_addr, 1);
		uint8_t *p = iov->iov_base;

		if (p >= base && p - base < (ptrdiff_t)R &&
		    iov->iov_len <= R - (size_t)(p - base)) {
			return true;
		}
	}
	return false;
}

static void check_elem(const struct virtq_elem *e, unsigned int num)
{
	uint64_t out = 0, in = 0;
	unsigned int i;

	cr_assert_lt(e->head, num);
	cr_assert_geq(e->out_num + e->in_num, 1);
	cr_assert_leq(e->out_num, VIRTQ_ELEM_MAX_IOV);
	cr_assert_leq(e->in_num, VIRTQ_ELEM_MAX_IOV);
	for (i = 0; i < e->out_num; i++) {
		cr_assert(iov_inside(&e->out[i]));
		out += e->out[i].iov_len;
	}
	for (i = 0; i < e->in_num; i++) {
		cr_assert(iov_inside(&e->in[i]));
		in += e->in[i].iov_len;
	}
	cr_assert_eq(out, e->out_len);
	cr_assert_eq(in, e->in_len);
}

Test(virtq, random_rings, .timeout = 60)
{
	const char *env = getenv("VIRTQ_SEED");
	unsigned int seed =
		env ? (unsigned int)strtoul(env, NULL, 0)
		    : (unsigned int)time(NULL) ^ (unsigned int)getpid();
	unsigned int round, i, num, pops, broken = 0, total = 0;
	uint8_t *region0 = gpa_view(0);
	int rc = 0;

	fprintf(stderr, "virtq random_rings: seed %u (VIRTQ_SEED=%u)\n", seed,
		seed);
	rng_state = 0x9e3779b97f4a7c15ull ^ seed;
	for (round = 0; round < 3000; round++) {
		uint16_t start = (uint16_t)rnd();
		unsigned int mode = round % 3;

		num = 1u << (rnd() % 11);
		start_queue(num, start);
		vq.indirect = rnd() & 1;
		vq.event_idx = rnd() & 1;
		vq.notify_on_empty = rnd() & 1;
		/* descriptor-like garbage in r0/r1 for indirect tables */
		for (i = 0; i < 2 * R / 16; i += 1 + rnd() % 4) {
			random_desc(region0, i, 64, mode);
		}
		for (i = 0; i < num; i++) {
			random_desc(desc_base(), i, num, mode);
			wr16(avail16(2 + i),
			     (uint16_t)(rnd() % (mode == 2 ? 256 : 16) == 0
						? rnd()
						: rnd() % num));
		}
		set_avail_idx((uint16_t)(start +
					 (rnd() % 8 == 0 ? rnd()
							 : rnd() % (num + 1))));
		set_used_event((uint16_t)rnd());
		set_avail_flags((uint16_t)rnd());
		for (pops = 0; pops <= num + 1; pops++) {
			rc = virtq_pop(&vq, &elem);
			if (rc <= 0) {
				break;
			}
			total++;
			check_elem(&elem, num);
			if (rnd() & 1) {
				virtq_push(&vq, &elem, (uint32_t)rnd());
			}
		}
		cr_assert_leq(pops, num, "seed %u round %u: %u pops", seed,
			      round, pops);
		if (rc < 0) {
			cr_assert_eq(rc, -EIO);
			cr_assert(vq.broken);
			cr_assert_not_null(vq.error);
			broken++;
			(void)fired(drv.err_fd);
		}
		virtq_notify(&vq);
		(void)virtq_enable_notification(&vq);
		virtq_disable_notification(&vq);
		(void)fired(drv.call_fd);
	}
	fprintf(stderr, "virtq random_rings: %u elements, %u broken rings\n",
		total, broken);
	cr_assert_gt(total, 0);
	cr_assert_gt(broken, 0);
}
