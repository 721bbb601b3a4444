/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for device/vhost_user.c: vu_conn_handle() driven without a
 * socket, with QEMU's exact message sequence (hw/virtio/vhost-user.c) and
 * with hostile headers, payloads and fds. Replies must carry flags 0x5
 * and their exact size; every fd handed over must be kept or closed,
 * never leaked.
 */
#include <time.h>

#include "vu_test.h"
#include "test_seed.h"

TestSuite(vhost_user, .init = setup, .fini = teardown);

/* ---- the normal sequence ---------------------------------------------- */

LTest(vhost_user, qemu_sequence)
{
	const struct virtq *vq0 = vu_conn_queue(conn, 0);
	const struct virtq *vq1 = vu_conn_queue(conn, 1);

	qemu_init();
	cr_assert_eq(fds_at_start + 4, count_fds());
	qemu_start(QEMU_FEATURES, 0);
	cr_assert_eq(calls.set_features, 1);
	cr_assert_eq(calls.features, QEMU_FEATURES);
	cr_assert(virtq_ready(vq0));
	cr_assert(vq0->event_idx && vq0->indirect && !vq0->notify_on_empty);
	cr_assert(!vq1->started && vq1->enabled);
	cr_assert_gt(calls.changed[0], 0);
	/* kick 0, call 0, call 1, err 0, err 1, and the memory region's
	 * file, kept with its mapping (for a live upgrade) */
	cr_assert_eq(count_fds(), fds_at_start + 6);

	/* A guest reset, then the next boot, twice. */
	for (int round = 0; round < 2; round++) {
		unsigned int resets = calls.resets;

		cr_assert_eq(qemu_stop(), 0);
		cr_assert(!vq0->started);
		cr_assert_eq(calls.resets, resets + 1);
		cr_assert_eq(vq0->kick_fd, -1);
		cr_assert_eq(vq0->call_fd, -1);
		cr_assert_geq(vq0->err_fd, 0, "err fd kept across reset");
		qemu_start(QEMU_FEATURES, 0);
		cr_assert(virtq_ready(vq0));
		/* the new table replaced the old one, its file closed */
		cr_assert_eq(count_fds(), fds_at_start + 6);
	}
}

LTest(vhost_user, get_vring_base_reports_last_avail)
{
	qemu_init();
	qemu_start(QEMU_FEATURES, 0);
	qemu_stop();
	qemu_start(QEMU_FEATURES, 4242);
	cr_assert_eq(vu_conn_queue(conn, 0)->last_avail_idx, 4242);
	cr_assert_eq(qemu_stop(), 4242);
}

/* A front-end that restarts a stopped ring with only a new KICK. */
LTest(vhost_user, restart_with_kick_only)
{
	qemu_init();
	qemu_start(QEMU_FEATURES, 7);
	cr_assert_eq(qemu_stop(), 7);
	ok(set_vring_fd(VHOST_USER_SET_VRING_KICK, 0, efd()));
	ok(msg_state(VHOST_USER_SET_VRING_ENABLE, 0, 0, 1));
	cr_assert(virtq_ready(vu_conn_queue(conn, 0)));
	cr_assert_eq(vu_conn_queue(conn, 0)->last_avail_idx, 7);
}

LTest(vhost_user, no_protocol_features_rings_start_enabled)
{
	ok(msg_u64(VHOST_USER_SET_FEATURES, 0, 1ull << VIRTIO_F_VERSION_1, NULL,
		   0));
	int fds[1] = { dup(memfd) };

	ok(set_mem_table(&region0, 1, fds, 1));
	cr_assert_eq(reply_len, 0, "no ack without REPLY_ACK negotiated");
	ok(msg_state(VHOST_USER_SET_VRING_NUM, 0, 0, QSIZE));
	ok(set_addr(0, QVA0 + DESC_GPA, QVA0 + USED_GPA, QVA0 + AVAIL_GPA));
	ok(set_vring_fd(VHOST_USER_SET_VRING_KICK, 0, efd()));
	cr_assert(virtq_ready(vu_conn_queue(conn, 0)));
}

LTest(vhost_user, poll_mode_kick_without_fd)
{
	qemu_init();
	ok_no_reply(
		msg_u64(VHOST_USER_SET_FEATURES, 0, QEMU_FEATURES, NULL, 0));
	int fds[1] = { dup(memfd) };

	ok(set_mem_table(&region0, 1, fds, 1));
	ok(msg_state(VHOST_USER_SET_VRING_NUM, 0, 0, QSIZE));
	ok(set_addr(0, QVA0 + DESC_GPA, QVA0 + USED_GPA, QVA0 + AVAIL_GPA));
	ok_no_reply(set_vring_fd(VHOST_USER_SET_VRING_KICK, 0, -1));
	cr_assert(vu_conn_queue(conn, 0)->started);
	cr_assert_eq(vu_conn_queue(conn, 0)->kick_fd, -1);
}

LTest(vhost_user, fd_replacement_closes_old)
{
	int a = efd(), b = efd(), k1 = efd(), k2 = efd();

	qemu_init();
	ok(set_vring_fd(VHOST_USER_SET_VRING_CALL, 1, a));
	ok(set_vring_fd(VHOST_USER_SET_VRING_CALL, 1, b));
	cr_assert(!fd_open(a) && fd_open(b));
	qemu_start(QEMU_FEATURES, 0);
	ok(set_vring_fd(VHOST_USER_SET_VRING_KICK, 0, k1));
	ok(set_vring_fd(VHOST_USER_SET_VRING_KICK, 0, k2));
	cr_assert(!fd_open(k1) && fd_open(k2));
	cr_assert_eq(vu_conn_queue(conn, 0)->kick_fd, k2);
	ok(set_vring_fd(VHOST_USER_SET_VRING_CALL, 1, -1));
	cr_assert(!fd_open(b));
}

LTest(vhost_user, kick_fd_made_nonblocking)
{
	int k = efd();

	qemu_init();
	qemu_start(QEMU_FEATURES, 0);
	ok(set_vring_fd(VHOST_USER_SET_VRING_KICK, 0, k));
	cr_assert(fcntl(k, F_GETFL) & O_NONBLOCK);
}

LTest(vhost_user, reset_owner_and_reset_device)
{
	qemu_init();
	qemu_start(QEMU_FEATURES, 0);
	ok_no_reply(msg(VHOST_USER_RESET_OWNER, 0, NULL, 0, NULL, 0));
	cr_assert(!vu_conn_queue(conn, 0)->started);
	/* every ring fd; the memory table (and its file) stays mapped
	 * until the next SET_MEM_TABLE replaces it */
	cr_assert_eq(count_fds(), fds_at_start + 1, "reset closes every fd");
	qemu_init();
	qemu_start(QEMU_FEATURES, 0);
	ok_ack(msg(VHOST_USER_RESET_DEVICE, NEED_REPLY, NULL, 0, NULL, 0),
	       VHOST_USER_RESET_DEVICE);
	cr_assert_eq(count_fds(), fds_at_start + 1);
	cr_assert_geq(calls.resets, 2);
}

LTest(vhost_user, new_mem_table_remaps_started_ring)
{
	struct vhost_user_mem_region r[2] = { region0, region0 };
	int fds[2];

	qemu_init();
	qemu_start(QEMU_FEATURES, 0);
	/* Same memory as two regions, the second at an mmap offset. */
	r[0].memory_size = MEM_SIZE / 2;
	r[1].guest_phys_addr = MEM_SIZE / 2;
	r[1].memory_size = MEM_SIZE / 2;
	r[1].userspace_addr = QVA0 + MEM_SIZE / 2;
	r[1].mmap_offset = MEM_SIZE / 2;
	fds[0] = dup(memfd);
	fds[1] = dup(memfd);
	ok_ack(set_mem_table(r, 2, fds, 2), VHOST_USER_SET_MEM_TABLE);
	cr_assert_eq(fds[0], -1);
	cr_assert(virtq_ready(vu_conn_queue(conn, 0)));

	/* A table that no longer holds the ring: close. */
	r[0].userspace_addr = QVA0 + 4 * MEM_SIZE;
	fds[0] = dup(memfd);
	rejected(set_mem_table(r, 1, fds, 1));
}

/* ---- hostile headers ------------------------------------------------- */

LTest(vhost_user, bad_flags)
{
	struct vhost_user_header h = { VHOST_USER_GET_FEATURES, 0, 0 };

	rejected(vu_conn_handle(conn, &h, NULL, NULL, 0, reply, &reply_len));
	h.flags = 2;
	rejected(vu_conn_handle(conn, &h, NULL, NULL, 0, reply, &reply_len));
	h.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	rejected(vu_conn_handle(conn, &h, NULL, NULL, 0, reply, &reply_len));
}

LTest(vhost_user, oversized_payload)
{
	static uint8_t big[VHOST_USER_PAYLOAD_MAX + 8];

	rejected(msg(VHOST_USER_SET_FEATURES, 0, big,
		     VHOST_USER_PAYLOAD_MAX + 1, NULL, 0));
	rejected(msg(VHOST_USER_GET_FEATURES, 0, big, UINT32_MAX, NULL, 0));
}

LTest(vhost_user, wrong_payload_sizes)
{
	static const uint32_t reqs[] = {
		VHOST_USER_GET_FEATURES,
		VHOST_USER_SET_FEATURES,
		VHOST_USER_SET_OWNER,
		VHOST_USER_RESET_OWNER,
		VHOST_USER_SET_VRING_NUM,
		VHOST_USER_SET_VRING_ADDR,
		VHOST_USER_SET_VRING_BASE,
		VHOST_USER_GET_VRING_BASE,
		VHOST_USER_SET_VRING_KICK,
		VHOST_USER_SET_VRING_CALL,
		VHOST_USER_SET_VRING_ERR,
		VHOST_USER_GET_PROTOCOL_FEATURES,
		VHOST_USER_SET_PROTOCOL_FEATURES,
		VHOST_USER_GET_QUEUE_NUM,
		VHOST_USER_SET_VRING_ENABLE,
		VHOST_USER_RESET_DEVICE,
	};
	uint8_t buf[64] = { 0 };

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		uint32_t right = 0;

		switch (reqs[i]) {
		case VHOST_USER_GET_FEATURES:
		case VHOST_USER_SET_OWNER:
		case VHOST_USER_RESET_OWNER:
		case VHOST_USER_GET_PROTOCOL_FEATURES:
		case VHOST_USER_GET_QUEUE_NUM:
		case VHOST_USER_RESET_DEVICE:
			right = 0;
			break;
		case VHOST_USER_SET_VRING_ADDR:
			right = 40;
			break;
		default:
			right = 8;
		}
		for (uint32_t size = 0; size < sizeof(buf); size++) {
			if (size == right) {
				continue;
			}
			rejected(msg(reqs[i], 0, buf, size, NULL, 0));
		}
	}
}

LTest(vhost_user, truncated_memory_table)
{
	uint8_t buf[4] = { 1 };
	int fds[1] = { dup(memfd) };

	rejected(msg(VHOST_USER_SET_MEM_TABLE, 0, buf, sizeof(buf), fds, 1));
	cr_assert_eq(fds[0], -1);
}

LTest(vhost_user, bad_queue_index)
{
	uint32_t bad[] = { 2, 3, 255, 256, UINT32_MAX };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rejected(msg_state(VHOST_USER_SET_VRING_NUM, 0, bad[i], 16));
		rejected(msg_state(VHOST_USER_SET_VRING_BASE, 0, bad[i], 0));
		rejected(msg_state(VHOST_USER_GET_VRING_BASE, 0, bad[i], 0));
		rejected(msg_state(VHOST_USER_SET_VRING_ENABLE, 0, bad[i], 1));
		rejected(set_addr(bad[i], QVA0, QVA0 + 0x1000, QVA0 + 0x2000));
	}
	rejected(set_vring_fd(VHOST_USER_SET_VRING_CALL, 2, efd()));
	rejected(set_vring_fd(VHOST_USER_SET_VRING_ERR, 255, efd()));
	rejected(set_vring_fd(VHOST_USER_SET_VRING_KICK, 7, efd()));
	rejected(set_vring_fd(VHOST_USER_SET_VRING_CALL, 3, -1));
	/* Bits beyond the index and NOFD flag. */
	int fds[1] = { efd() };

	rejected(msg_u64(VHOST_USER_SET_VRING_CALL, 0, 1ull << 9, fds, 1));
	cr_assert_eq(fds[0], -1);
}

LTest(vhost_user, bad_ring_sizes_and_values)
{
	uint32_t bad[] = { 0, 3, 17, 1000, 2048, 65536, UINT32_MAX };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rejected(msg_state(VHOST_USER_SET_VRING_NUM, 0, 0, bad[i]));
	}
	ok(msg_state(VHOST_USER_SET_VRING_NUM, 0, 0, 1024));
	ok(msg_state(VHOST_USER_SET_VRING_NUM, 0, 1, 1));
	rejected(msg_state(VHOST_USER_SET_VRING_BASE, 0, 0, 65536));
	rejected(msg_state(VHOST_USER_SET_VRING_ENABLE, 0, 1, 2));
}

LTest(vhost_user, fds_where_none_expected)
{
	static const uint32_t reqs[] = {
		VHOST_USER_GET_FEATURES,   VHOST_USER_SET_OWNER,
		VHOST_USER_GET_QUEUE_NUM,  VHOST_USER_SET_VRING_NUM,
		VHOST_USER_GET_VRING_BASE,
	};

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		int fds[3] = { efd(), efd(), efd() };
		uint8_t buf[8] = { 0 };
		uint32_t size =
			reqs[i] == VHOST_USER_SET_VRING_NUM ||
					reqs[i] == VHOST_USER_GET_VRING_BASE
				? 8
				: 0;

		rejected(msg(reqs[i], 0, buf, size, fds, 3));
		for (int j = 0; j < 3; j++) {
			cr_assert_eq(fds[j], -1);
		}
	}
	/* Two fds on a ring-fd message; an fd with the NOFD flag. */
	int two[2] = { efd(), efd() };

	rejected(msg_u64(VHOST_USER_SET_VRING_CALL, 0, 0, two, 2));
	int one[1] = { efd() };

	rejected(msg_u64(VHOST_USER_SET_VRING_KICK, 0,
			 VHOST_USER_VRING_NOFD_MASK, one, 1));
	rejected(msg_u64(VHOST_USER_SET_VRING_ERR, 0, 0, NULL, 0));
}

LTest(vhost_user, hostile_memory_tables)
{
	struct vhost_user_mem_region r[VHOST_USER_MAX_RAM_SLOTS + 1];
	int fds[VHOST_USER_MAX_FDS];

	for (unsigned int i = 0; i <= VHOST_USER_MAX_RAM_SLOTS; i++) {
		r[i] = region0;
		r[i].memory_size = 0x1000;
		r[i].guest_phys_addr = 0x1000ull * i;
		r[i].userspace_addr = QVA0 + 0x1000ull * i;
		r[i].mmap_offset = 0x1000ull * i;
	}
	/* Fewer and more fds than regions. */
	fds[0] = dup(memfd);
	rejected(set_mem_table(r, 2, fds, 1));
	cr_assert_eq(fds[0], -1);
	for (int i = 0; i < 3; i++) {
		fds[i] = dup(memfd);
	}
	rejected(set_mem_table(r, 2, fds, 3));
	/* No region; more regions than slots (size says 9). */
	rejected(set_mem_table(r, 0, NULL, 0));
	{
		uint8_t buf[8 + 9 * 32] = { 0 };
		uint32_t n = 9;

		memcpy(buf, &n, 4);
		rejected(msg(VHOST_USER_SET_MEM_TABLE, 0, buf, sizeof(buf),
			     NULL, 0));
	}
	/* Size disagreeing with nregions. */
	{
		struct vhost_user_mem_table t = { .nregions = 1 };

		t.regions[0] = region0;
		fds[0] = dup(memfd);
		rejected(msg(VHOST_USER_SET_MEM_TABLE, 0, &t, 8 + 64, fds, 1));
	}
	/* Overlap in guest-physical, then in user address space. */
	r[1].guest_phys_addr = 0x800;
	fds[0] = dup(memfd);
	fds[1] = dup(memfd);
	rejected(set_mem_table(r, 2, fds, 2));
	r[1].guest_phys_addr = 0x1000;
	r[1].userspace_addr = QVA0 + 0x800;
	fds[0] = dup(memfd);
	fds[1] = dup(memfd);
	rejected(set_mem_table(r, 2, fds, 2));
	/* Region past the end of its file; an fd that is no memory. */
	r[0].mmap_offset = MEM_SIZE;
	fds[0] = dup(memfd);
	rejected(set_mem_table(r, 1, fds, 1));
	r[0] = region0;
	fds[0] = efd();
	rejected(set_mem_table(r, 1, fds, 1));
	/* All eight slots are fine. */
	r[1] = region0;
	r[1].memory_size = 0x1000;
	r[1].guest_phys_addr = 0x1000;
	r[1].userspace_addr = QVA0 + 0x1000;
	r[1].mmap_offset = 0x1000;
	r[0].memory_size = 0x1000;
	for (int i = 0; i < VHOST_USER_MAX_RAM_SLOTS; i++) {
		fds[i] = dup(memfd);
	}
	ok(set_mem_table(r, VHOST_USER_MAX_RAM_SLOTS, fds, VHOST_USER_MAX_FDS));
}

LTest(vhost_user, ring_outside_memory)
{
	int fds[1] = { dup(memfd) };

	qemu_init();
	ok(msg_u64(VHOST_USER_SET_FEATURES, 0, QEMU_FEATURES, NULL, 0));
	ok(set_mem_table(&region0, 1, fds, 1));
	ok(msg_state(VHOST_USER_SET_VRING_NUM, 0, 0, QSIZE));
	/* A guest-physical address where a user address belongs. */
	ok(set_addr(0, DESC_GPA, USED_GPA, AVAIL_GPA));
	rejected(set_vring_fd(VHOST_USER_SET_VRING_KICK, 0, efd()));
	/* Straddling the end of the region. */
	ok(set_addr(0, QVA0 + MEM_SIZE - 16, QVA0 + USED_GPA,
		    QVA0 + AVAIL_GPA));
	rejected(set_vring_fd(VHOST_USER_SET_VRING_KICK, 0, efd()));
}

LTest(vhost_user, kick_before_setup)
{
	int fds[1] = { dup(memfd) };

	rejected(set_vring_fd(VHOST_USER_SET_VRING_KICK, 1, efd()));
	ok(msg_state(VHOST_USER_SET_VRING_NUM, 0, 0, QSIZE));
	rejected(set_vring_fd(VHOST_USER_SET_VRING_KICK, 0, efd()));
	ok(set_addr(0, QVA0 + DESC_GPA, QVA0 + USED_GPA, QVA0 + AVAIL_GPA));
	/* No memory table yet. */
	rejected(set_vring_fd(VHOST_USER_SET_VRING_KICK, 0, efd()));
	ok(set_mem_table(&region0, 1, fds, 1));
	ok(set_vring_fd(VHOST_USER_SET_VRING_KICK, 0, efd()));
}

LTest(vhost_user, reconfiguring_a_started_ring)
{
	qemu_init();
	qemu_start(QEMU_FEATURES, 0);
	rejected(msg_state(VHOST_USER_SET_VRING_NUM, 0, 0, QSIZE));
	rejected(msg_state(VHOST_USER_SET_VRING_BASE, 0, 0, 1));
	/* New addresses on a running ring are re-mapped (or refused). */
	ok(set_addr(0, QVA0 + DESC_GPA + 0x4000, QVA0 + USED_GPA + 0x4000,
		    QVA0 + AVAIL_GPA + 0x4000));
	cr_assert(virtq_ready(vu_conn_queue(conn, 0)));
	rejected(set_addr(0, QVA0 + DESC_GPA + 8, QVA0 + USED_GPA,
			  QVA0 + AVAIL_GPA));
}

LTest(vhost_user, features)
{
	rejected(msg_u64(VHOST_USER_SET_FEATURES, 0,
			 1ull << VHOST_USER_F_PROTOCOL_FEATURES, NULL, 0));
	rejected(msg_u64(VHOST_USER_SET_FEATURES, 0,
			 (1ull << VIRTIO_F_VERSION_1) | (1ull << 34), NULL, 0));
	rejected(msg_u64(VHOST_USER_SET_FEATURES, 0,
			 (1ull << VIRTIO_F_VERSION_1) | 1, NULL, 0));
	ok_no_reply(msg_u64(VHOST_USER_SET_FEATURES, 0, VU_TRANSPORT_FEATURES,
			    NULL, 0));
	rejected(msg_u64(VHOST_USER_SET_PROTOCOL_FEATURES, 0,
			 1ull << VHOST_USER_PROTOCOL_F_CONFIG, NULL, 0));
	rejected(msg_u64(VHOST_USER_SET_PROTOCOL_FEATURES, 0,
			 1ull << VHOST_USER_PROTOCOL_F_STATUS, NULL, 0));
	cr_assert_eq(get_u64(VHOST_USER_GET_PROTOCOL_FEATURES) &
			     (1ull << VHOST_USER_PROTOCOL_F_CONFIG),
		     0);
}

LTest(vhost_user, unsupported_requests)
{
	int fds[2] = { efd(), efd() };

	/* Ignored without an ack request... */
	ok_no_reply(msg_u64(VHOST_USER_SEND_RARP, 0, 0, fds, 2));
	cr_assert_eq(fds[0], -1);
	cr_assert_eq(fds[1], -1);
	ok_no_reply(msg(999, 0, NULL, 0, NULL, 0));
	/* ...NEED_REPLY is ignored before REPLY_ACK is negotiated... */
	ok_no_reply(msg(VHOST_USER_SET_STATUS, NEED_REPLY, NULL, 0, NULL, 0));
	/* ...and then answered with a failure. */
	ok(msg_u64(VHOST_USER_SET_PROTOCOL_FEATURES, 0, 0x9, NULL, 0));
	ok(msg_u64(VHOST_USER_SET_STATUS, NEED_REPLY, 8, NULL, 0));
	cr_assert_neq(reply_u64(VHOST_USER_SET_STATUS), 0);
	ok(msg(12345, NEED_REPLY, NULL, 0, NULL, 0));
	cr_assert_neq(reply_u64(12345), 0);
	/* Requests that wait for an answer of their own: close. */
	rejected(msg(VHOST_USER_GET_CONFIG, 0, NULL, 0, NULL, 0));
	rejected(msg(VHOST_USER_GET_STATUS, 0, NULL, 0, NULL, 0));
	rejected(msg(VHOST_USER_GET_MAX_MEM_SLOTS, 0, NULL, 0, NULL, 0));
	rejected(msg(VHOST_USER_GET_INFLIGHT_FD, 0, NULL, 0, NULL, 0));
	/* Requests with their own reply ignore NEED_REPLY. */
	cr_assert_eq(
		msg(VHOST_USER_GET_QUEUE_NUM, NEED_REPLY, NULL, 0, NULL, 0), 0);
	cr_assert_eq(reply_u64(VHOST_USER_GET_QUEUE_NUM), 2);
}

LTest(vhost_user, enable_unconfigured_queue)
{
	ok(msg_u64(VHOST_USER_SET_PROTOCOL_FEATURES, 0, 0x9, NULL, 0));
	ok_ack(msg_state(VHOST_USER_SET_VRING_ENABLE, NEED_REPLY, 1, 1),
	       VHOST_USER_SET_VRING_ENABLE);
	cr_assert(vu_conn_queue(conn, 1)->enabled);
	cr_assert(!virtq_ready(vu_conn_queue(conn, 1)));
	cr_assert_eq(vu_conn_process(conn, 1, 64), 0);
	cr_assert_eq(calls.process, 0);
}

static void quiet(const gchar *domain, GLogLevelFlags level,
		  const gchar *message, gpointer data)
{
}

/* Random garbage: nothing crashes, every fd is accounted for. */
LTest(vhost_user, random_messages)
{
	unsigned int seed = test_seed("vhost_user random_messages");
	static uint8_t buf[VHOST_USER_PAYLOAD_MAX + 64];

	srandom(seed);
	g_log_set_handler("vrtc-device", G_LOG_LEVEL_MASK, quiet, NULL);
	for (int iter = 0; iter < 20000; iter++) {
		struct vhost_user_header h;
		int fds[VHOST_USER_MAX_FDS];
		unsigned int nfds = (unsigned int)(random() % 4), i;

		h.request = (uint32_t)(random() % 48);
		h.flags = (uint32_t)(random() % 4 == 0
					     ? random()
					     : VHOST_USER_VERSION |
						       (random() & NEED_REPLY));
		switch (random() % 4) {
		case 0:
			h.size = (uint32_t)random();
			break;
		case 1:
			h.size = 8;
			break;
		default:
			h.size = (uint32_t)(random() % 300);
		}
		for (i = 0; i < sizeof(buf); i += 4) {
			uint32_t r = (uint32_t)random();

			memcpy(buf + i, &r, 4);
		}
		/* Small indexes more often, so the ring paths run. */
		if (random() % 2) {
			buf[0] = (uint8_t)(random() % 3);
			memset(buf + 1, 0, 3);
		}
		for (i = 0; i < nfds; i++) {
			fds[i] = random() % 2 ? efd() : dup(memfd);
		}
		if (vu_conn_handle(conn, &h, buf, fds, nfds, reply,
				   &reply_len) < 0) {
			/* The server closes the connection: do the same. */
			vu_conn_free(conn);
			conn = vu_conn_new("test#1", &fake_ops, NULL, &hooks,
					   NULL);
			cr_assert_not_null(conn);
		} else if (reply_len) {
			struct vhost_user_header rh;

			memcpy(&rh, reply, sizeof(rh));
			cr_assert_eq(rh.flags, 0x5);
			cr_assert_eq(rh.size, 8);
			cr_assert_eq(reply_len, sizeof(rh) + 8);
		}
		for (i = 0; i < nfds; i++) {
			cr_assert_eq(fds[i], -1, "fd not consumed (seed %u)",
				     seed);
		}
	}
}
