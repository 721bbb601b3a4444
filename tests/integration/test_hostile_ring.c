// SPDX-License-Identifier: MIT
/*
 * Hostile guest rings: each case must stop its queue (no used entries,
 * not even for valid requests behind it) while the connection, the
 * daemon and every other VM keep working; a guest reset (ENABLE 0,
 * GET_VRING_BASE, new DRIVER_OK) brings the queue back.
 */
#include "itest.h"

#define F_IND (1ull << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVT (1ull << VIRTIO_RING_F_EVENT_IDX)
#define F_DEFAULT (F_IND | F_EVT)

/* Scratch layout for hand-made chains. */
#define REQ(v) (vuf_scratch_gpa(v))
#define RESP(v) (vuf_scratch_gpa(v) + 0x100)
#define TABLE(v) (vuf_scratch_gpa(v) + 0x400)
#define TABLE2(v) (vuf_scratch_gpa(v) + 0x800)

typedef void (*hostile_fn)(struct vuf *v);

/* A valid READ request and response room in scratch memory. */
static void scratch_read(struct vuf *v)
{
	struct virtio_rtc_req_read rd;

	vuf_rtc_req_read(&rd, 0);
	memcpy(vuf_gpa_ptr(v, REQ(v), sizeof(rd)), &rd, sizeof(rd));
	memset(vuf_gpa_ptr(v, RESP(v), 16), VUF_FILL, 16);
}

static uint16_t one(struct vuf *v)
{
	uint16_t id;

	cr_assert_eq(vuf_desc_reserve(v, 0, 1, &id), 0);
	return id;
}

/* Write indirect-table entry @i at guest address @table. */
static void table_desc(struct vuf *v, uint64_t table, unsigned int i,
		       uint64_t addr, uint32_t len, uint16_t flags,
		       uint16_t next)
{
	struct vring_desc *t = vuf_gpa_ptr(v, table + 16ull * i, 16);

	t->addr = htole64(addr);
	t->len = htole32(len);
	t->flags = htole16(flags);
	t->next = htole16(next);
}

static void run_hostile(hostile_fn build, uint64_t ring_features,
			bool follow_up)
{
	struct vdaemon *d = itest_start(NULL);
	const char *s = vdaemon_socket(d, 0);
	struct virtio_rtc_req_read rd;
	struct vuf *bad, *good, *fresh;
	uint16_t used0, last[VUF_MAX_QUEUES];
	struct vuf_opts o;

	vuf_opts_init(&o);
	o.ring_features = ring_features;
	bad = itest_vm(s, &o);
	good = itest_vm(s, NULL);
	itest_read(bad, 0);
	itest_read(good, 0);
	used0 = vuf_used_idx(bad, 0);

	scratch_read(bad);
	build(bad);
	cr_assert_eq(vuf_kick_force(bad, 0), 1);
	itest_sleep_ms(ITEST_SILENCE_MS / 2);
	cr_assert_eq(vuf_used_idx(bad, 0), used0,
		     "the hostile chain was returned as used");
	if (follow_up) {
		/* A valid request behind the hostile one: no answer. */
		vuf_rtc_req_read(&rd, 1);
		cr_assert_eq(vuf_submit(bad, 0, &rd, sizeof(rd), 16, NULL, 7),
			     0, "%s", vuf_error(bad));
		cr_assert_eq(vuf_kick_force(bad, 0), 1);
		itest_sleep_ms(ITEST_SILENCE_MS);
		cr_assert_eq(vuf_used_idx(bad, 0), used0,
			     "the queue kept answering after a hostile chain");
	}
	itest_alive(d);
	cr_assert_eq(vuf_ping(bad), 0,
		     "the hostile VM's connection is gone: %s", vuf_error(bad));
	/* Other VMs, old and new, are served. */
	itest_read(good, 2);
	fresh = itest_vm(s, NULL);
	itest_read(fresh, 1);
	vuf_free(fresh);
	/* A guest reset brings the queue back. */
	cr_assert_eq(vuf_reset(bad, last), 0, "reset: %s", vuf_error(bad));
	cr_assert_eq(vuf_driver_ok(bad), 0, "restart: %s", vuf_error(bad));
	itest_read(bad, 0);
	itest_read(bad, 3);
	itest_read(good, 0);
	vuf_free(bad);
	vuf_free(good);
	itest_stop(d);
}

#define HOSTILE(name, features, follow)                                        \
	static void build_##name(struct vuf *v);                               \
	ITEST(hostile_ring, name)                                              \
	{                                                                      \
		run_hostile(build_##name, features, follow);                   \
	}                                                                      \
	static void build_##name(struct vuf *v)

HOSTILE(desc_loop, F_DEFAULT, true)
{
	uint16_t a = one(v), b = one(v);

	vuf_raw_desc(v, 0, a, REQ(v), 16, VRING_DESC_F_NEXT, b);
	vuf_raw_desc(v, 0, b, REQ(v), 16, VRING_DESC_F_NEXT, a);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(desc_self_loop_writable, F_DEFAULT, true)
{
	uint16_t a = one(v), b = one(v);

	vuf_raw_desc(v, 0, a, REQ(v), 16, VRING_DESC_F_NEXT, b);
	vuf_raw_desc(v, 0, b, RESP(v), 16,
		     VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, b);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(nested_indirect, F_DEFAULT, true)
{
	uint16_t a = one(v);

	table_desc(v, TABLE2(v), 0, REQ(v), 16, VRING_DESC_F_NEXT, 1);
	table_desc(v, TABLE2(v), 1, RESP(v), 16, VRING_DESC_F_WRITE, 0);
	table_desc(v, TABLE(v), 0, TABLE2(v), 32, VRING_DESC_F_INDIRECT, 0);
	vuf_raw_desc(v, 0, a, TABLE(v), 16, VRING_DESC_F_INDIRECT, 0);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(head_out_of_range, F_DEFAULT, true)
{
	vuf_raw_avail(v, 0, (uint16_t)vuf_queue_size(v));
}

HOSTILE(head_0xffff, F_DEFAULT, true)
{
	vuf_raw_avail(v, 0, 0xffff);
}

HOSTILE(next_out_of_range, F_DEFAULT, true)
{
	uint16_t a = one(v);

	vuf_raw_desc(v, 0, a, REQ(v), 16, VRING_DESC_F_NEXT,
		     (uint16_t)vuf_queue_size(v));
	vuf_raw_avail(v, 0, a);
}

HOSTILE(readable_after_writable, F_DEFAULT, true)
{
	uint16_t a = one(v), b = one(v);

	vuf_raw_desc(v, 0, a, RESP(v), 16,
		     VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, b);
	vuf_raw_desc(v, 0, b, REQ(v), 16, 0, 0);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(zero_length, F_DEFAULT, true)
{
	uint16_t a = one(v), b = one(v);

	vuf_raw_desc(v, 0, a, REQ(v), 0, VRING_DESC_F_NEXT, b);
	vuf_raw_desc(v, 0, b, RESP(v), 16, VRING_DESC_F_WRITE, 0);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(huge_length, F_DEFAULT, true)
{
	uint16_t a = one(v), b = one(v);

	vuf_raw_desc(v, 0, a, REQ(v), 0xffffffffu, VRING_DESC_F_NEXT, b);
	vuf_raw_desc(v, 0, b, RESP(v), 16, VRING_DESC_F_WRITE, 0);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(address_outside_memory, F_DEFAULT, true)
{
	uint16_t a = one(v), b = one(v);

	vuf_raw_desc(v, 0, a, VUF_GPA_HOLE, 16, VRING_DESC_F_NEXT, b);
	vuf_raw_desc(v, 0, b, RESP(v), 16, VRING_DESC_F_WRITE, 0);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(writable_outside_memory, F_DEFAULT, true)
{
	uint16_t a = one(v), b = one(v);

	vuf_raw_desc(v, 0, a, REQ(v), 16, VRING_DESC_F_NEXT, b);
	vuf_raw_desc(v, 0, b, 0x7fff0000000ull, 16, VRING_DESC_F_WRITE, 0);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(address_wraps, F_DEFAULT, true)
{
	uint16_t a = one(v), b = one(v);

	vuf_raw_desc(v, 0, a, 0xfffffffffffffff8ull, 16, VRING_DESC_F_NEXT, b);
	vuf_raw_desc(v, 0, b, RESP(v), 16, VRING_DESC_F_WRITE, 0);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(buffer_runs_off_region_end, F_DEFAULT, true)
{
	uint16_t a = one(v), b = one(v);

	/* The low region ends at 2 MiB; the next GPA is unmapped. */
	vuf_raw_desc(v, 0, a, (2ull << 20) - 8, 16, VRING_DESC_F_NEXT, b);
	vuf_raw_desc(v, 0, b, RESP(v), 16, VRING_DESC_F_WRITE, 0);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(avail_idx_jump, F_DEFAULT, false)
{
	uint16_t now = vuf_used_idx(v, 0); /* everything so far was used */

	vuf_raw_avail_idx(v, 0, (uint16_t)(now + vuf_queue_size(v) + 1));
}

HOSTILE(indirect_without_feature, F_EVT, true)
{
	uint16_t a = one(v);

	table_desc(v, TABLE(v), 0, REQ(v), 16, VRING_DESC_F_NEXT, 1);
	table_desc(v, TABLE(v), 1, RESP(v), 16, VRING_DESC_F_WRITE, 0);
	vuf_raw_desc(v, 0, a, TABLE(v), 32, VRING_DESC_F_INDIRECT, 0);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(indirect_loop, F_DEFAULT, true)
{
	uint16_t a = one(v);

	table_desc(v, TABLE(v), 0, REQ(v), 16, VRING_DESC_F_NEXT, 1);
	table_desc(v, TABLE(v), 1, REQ(v), 16, VRING_DESC_F_NEXT, 0);
	vuf_raw_desc(v, 0, a, TABLE(v), 32, VRING_DESC_F_INDIRECT, 0);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(indirect_next_out_of_range, F_DEFAULT, true)
{
	uint16_t a = one(v);

	table_desc(v, TABLE(v), 0, REQ(v), 16, VRING_DESC_F_NEXT, 2);
	table_desc(v, TABLE(v), 1, RESP(v), 16, VRING_DESC_F_WRITE, 0);
	vuf_raw_desc(v, 0, a, TABLE(v), 32, VRING_DESC_F_INDIRECT, 0);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(indirect_bad_length, F_DEFAULT, true)
{
	uint16_t a = one(v);

	table_desc(v, TABLE(v), 0, REQ(v), 16, VRING_DESC_F_NEXT, 1);
	table_desc(v, TABLE(v), 1, RESP(v), 16, VRING_DESC_F_WRITE, 0);
	vuf_raw_desc(v, 0, a, TABLE(v), 24, VRING_DESC_F_INDIRECT, 0);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(indirect_empty_table, F_DEFAULT, true)
{
	uint16_t a = one(v);

	vuf_raw_desc(v, 0, a, TABLE(v), 0, VRING_DESC_F_INDIRECT, 0);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(indirect_table_outside_memory, F_DEFAULT, true)
{
	uint16_t a = one(v);

	vuf_raw_desc(v, 0, a, VUF_GPA_HOLE, 32, VRING_DESC_F_INDIRECT, 0);
	vuf_raw_avail(v, 0, a);
}

HOSTILE(indirect_huge_table, F_DEFAULT, true)
{
	uint16_t a = one(v);

	/* 64 Ki entries: more than any queue, and off the region's end. */
	vuf_raw_desc(v, 0, a, TABLE(v), 0x100000, VRING_DESC_F_INDIRECT, 0);
	vuf_raw_avail(v, 0, a);
}

/* Not hostile: the device must ignore WRITE on an indirect-table
 * descriptor (VIRTIO 1.x 2.7.5.3.2). */
ITEST(hostile_ring, indirect_head_write_flag_ignored)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	struct vuf_completion c;
	uint16_t a;

	scratch_read(v);
	cr_assert_eq(vuf_desc_reserve(v, 0, 1, &a), 0);
	table_desc(v, TABLE(v), 0, REQ(v), 16, VRING_DESC_F_NEXT, 1);
	table_desc(v, TABLE(v), 1, RESP(v), 16, VRING_DESC_F_WRITE, 0);
	vuf_raw_desc(v, 0, a, TABLE(v), 32,
		     VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	vuf_raw_avail(v, 0, a);
	vuf_kick_force(v, 0);
	itest_sleep_ms(ITEST_SILENCE_MS);
	cr_assert_eq(vuf_used_idx(v, 0), 1, "chain was not used");
	cr_assert_eq(*(uint8_t *)vuf_gpa_ptr(v, RESP(v), 1), VIRTIO_RTC_S_OK);
	(void)c;
	vuf_free(v);
	itest_stop(d);
}

/* Not hostile: exactly a queue's worth of chains in flight. */
ITEST(hostile_ring, full_ring)
{
	struct vdaemon *d = itest_start(NULL);
	struct virtio_rtc_req_read rd;
	struct vuf_opts o;
	struct vuf *v;
	unsigned int i, round;

	vuf_opts_init(&o);
	o.queue_size = 16;
	v = itest_vm(vdaemon_socket(d, 0), &o);
	vuf_rtc_req_read(&rd, 2);
	for (round = 0; round < 50; round++) {
		struct vuf_layout l = { 1, 1, true, false };

		for (i = 0; i < 16; i++) {
			cr_assert_eq(
				vuf_submit(v, 0, &rd, sizeof(rd), 16, &l, i), 0,
				"%s", vuf_error(v));
		}
		vuf_kick(v, 0);
		for (i = 0; i < 16; i++) {
			struct vuf_completion c;

			cr_assert_eq(vuf_wait(v, 0, &c, 5000), 0, "%s",
				     vuf_error(v));
			cr_assert_eq(c.cookie, i);
			cr_assert_eq(c.len, 16);
		}
	}
	vuf_free(v);
	itest_stop(d);
}

/* Not hostile: an indirect table that straddles two GPA-adjacent
 * regions (each mapped separately by the daemon). */
ITEST(hostile_ring, indirect_table_across_regions)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf_opts o;
	struct vuf *v;
	uint64_t t;
	uint16_t a;

	vuf_opts_init(&o);
	o.split_high = true;
	v = itest_vm(vdaemon_socket(d, 0), &o);
	scratch_read(v);
	t = vuf_boundary_gpa(v, 0) - 16; /* entry 0 | boundary | entry 1 */
	cr_assert_eq(vuf_desc_reserve(v, 0, 1, &a), 0);
	table_desc(v, t, 0, REQ(v), 16, VRING_DESC_F_NEXT, 1);
	table_desc(v, t, 1, RESP(v), 16, VRING_DESC_F_WRITE, 0);
	vuf_raw_desc(v, 0, a, t, 32, VRING_DESC_F_INDIRECT, 0);
	vuf_raw_avail(v, 0, a);
	vuf_kick_force(v, 0);
	itest_sleep_ms(ITEST_SILENCE_MS);
	cr_assert_eq(vuf_used_idx(v, 0), 1,
		     "an indirect table spanning two regions was refused");
	cr_assert_eq(*(uint8_t *)vuf_gpa_ptr(v, RESP(v), 1), VIRTIO_RTC_S_OK);
	vuf_free(v);
	itest_stop(d);
}
