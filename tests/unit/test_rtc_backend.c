/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for device/rtc_backend.c: requests on the requestq answered
 * by the real virtio-rtc device, exact used lengths, batches, and a
 * hostile ring that breaks only its queue until the guest resets it.
 */
#include "clock_model_writer.h"
#include "clock_list.h"
#include "rtc_backend.h"
#include "vu_test.h"

static struct clock_model *model;
static struct rtcdev_config rtc_cfg;
static struct rtcdev_dev *rtc_dev;

static void rtc_setup(void)
{
	setup();
	vu_conn_free(conn);
	model = clock_model_new();
	cr_assert_not_null(model);
	rtcdev_config_default(&rtc_cfg, VIRTIO_RTC_SMEAR_NOON_LINEAR);
	rtc_dev = rtcdev_dev_new(&rtc_cfg, model);
	cr_assert_not_null(rtc_dev);
	conn = vu_conn_new("rtc#1", &rtc_backend_ops, rtc_dev, NULL, NULL);
	cr_assert_not_null(conn);
}

static void rtc_teardown(void)
{
	teardown();
	rtcdev_dev_free(rtc_dev);
	clock_model_free(model);
}

TestSuite(rtc_backend, .init = rtc_setup, .fini = rtc_teardown);

LTest(rtc_backend, answers_with_exact_used_length)
{
	struct virtio_rtc_req_clock_cap cap = {
		.head.msg_type = VIRTIO_RTC_REQ_CLOCK_CAP,
		.clock_id = 3,
	};
	struct vring_used *u = ring_used();
	int call = efd();
	uint64_t n;

	qemu_init();
	qemu_start(QEMU_FEATURES, 0);
	ok(set_vring_fd(VHOST_USER_SET_VRING_CALL, 0, call));
	submit(0, &cfg_req, sizeof(cfg_req), 64);
	submit(2, &cap, sizeof(cap), 64);
	cr_assert(vu_conn_has_work(conn, 0));
	cr_assert_eq(vu_conn_process(conn, 0, VU_PROCESS_BUDGET), 2);
	cr_assert(!vu_conn_has_work(conn, 0));
	cr_assert_eq(u->idx, 2);
	cr_assert_eq(u->ring[0].id, 0);
	cr_assert_eq(u->ring[0].len, sizeof(struct virtio_rtc_resp_cfg));
	cr_assert_eq(resp_of(0)[0], VIRTIO_RTC_S_OK);
	cr_assert_eq(resp_of(0)[8], rtc_cfg.num_clocks);
	cr_assert_eq(resp_of(0)[16], 0xaa, "wrote past the response");
	cr_assert_eq(u->ring[1].id, 2);
	cr_assert_eq(u->ring[1].len, sizeof(struct virtio_rtc_resp_clock_cap));
	cr_assert_eq(resp_of(2)[8], VIRTIO_RTC_CLOCK_UTC_SMEARED);
	cr_assert_eq(read(call, &n, sizeof(n)), sizeof(n), "no interrupt");
	cr_assert_eq(qemu_stop(), 2);
}

LTest(rtc_backend, batch_budget)
{

	qemu_init();
	qemu_start(QEMU_FEATURES, 0);
	for (uint16_t i = 0; i < 6; i++) {
		submit((uint16_t)(2 * i), &cfg_req, sizeof(cfg_req), 16);
	}
	cr_assert_eq(vu_conn_process(conn, 0, 4), 4);
	cr_assert_eq(ring_used()->idx, 4);
	cr_assert_eq(vu_conn_process(conn, 0, 4), 2);
	cr_assert_eq(vu_conn_process(conn, 0, 4), 0);
}

LTest(rtc_backend, hostile_ring_breaks_only_the_queue)
{
	struct vring_avail *a = ring_avail();

	qemu_init();
	qemu_start(QEMU_FEATURES, 0);
	/* A head index beyond the queue size. */
	a->ring[0] = QSIZE + 3;
	a->idx = 1;
	cr_assert_eq(vu_conn_process(conn, 0, VU_PROCESS_BUDGET), -EIO);
	cr_assert(vu_conn_queue(conn, 0)->broken);
	cr_assert_eq(vu_conn_process(conn, 0, VU_PROCESS_BUDGET), -EIO);
	/* The connection still talks... */
	cr_assert_eq(get_u64(VHOST_USER_GET_QUEUE_NUM), 2);
	/* ...and the guest's reset brings the queue back. */
	cr_assert_eq(qemu_stop(), 0);
	memset(view + AVAIL_GPA, 0, 0x1000);
	memset(view + USED_GPA, 0, 0x1000);
	qemu_start(QEMU_FEATURES, 0);
	cr_assert(!vu_conn_queue(conn, 0)->broken);
	submit(0, &cfg_req, sizeof(cfg_req), 16);
	cr_assert_eq(vu_conn_process(conn, 0, VU_PROCESS_BUDGET), 1);
	cr_assert_eq(ring_used()->ring[0].len, 16);
}

LTest(rtc_backend, short_response_room)
{

	qemu_init();
	qemu_start(QEMU_FEATURES, 0);
	/* 4 bytes of room: not even the error header fits whole. */
	submit(0, &cfg_req, sizeof(cfg_req), 4);
	cr_assert_eq(vu_conn_process(conn, 0, VU_PROCESS_BUDGET), 1);
	cr_assert_leq(ring_used()->ring[0].len, 4);
	cr_assert_eq(resp_of(0)[4], 0xaa);
}
