/* SPDX-License-Identifier: MIT */
/*
 * virtq: the device side of the split ring against a fake guest
 * (virtq_fake.h): configuration, normal operation, notifications and
 * 16-bit index wraparound. Hostile rings are in test_virtq_hostile.c.
 */
#include "virtq_fake.h"

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
