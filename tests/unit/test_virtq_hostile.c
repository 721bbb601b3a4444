/* SPDX-License-Identifier: MIT */
/*
 * virtq: hostile rings against a fake guest (virtq_fake.h). Each case
 * must break the queue with its reason, signal err_fd once, and leave
 * the queue broken until reset, without touching memory outside the
 * guest's, looping or allocating.
 */
#include "virtq_fake.h"
#include "test_seed.h"

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
	unsigned int seed = test_seed("virtq random_rings");
	unsigned int round, i, num, pops, broken = 0, total = 0;
	uint8_t *region0 = gpa_view(0);
	int rc = 0;

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
