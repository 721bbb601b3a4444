// SPDX-License-Identifier: MIT
/*
 * Churn with nothing lost: 1,000 connect/disconnect cycles (some through
 * the whole set-up, some dropped mid-handshake), and guest resets in a
 * loop with READs in flight. Bystander VMs are served throughout; the
 * daemon's fds, mappings and RSS come back (itest_faults.h).
 */
#include <stdlib.h>
#include <unistd.h>

#include "itest_faults.h"

#define CYCLES 1000
#define WARMUP_CYCLES 50

/* SET_MEM_TABLE with the front-end's regions, no reply wanted. */
static void send_mem_table(struct vuf *v)
{
	struct vhost_user_mem_table t = { 0 };
	int fds[VHOST_USER_MAX_RAM_SLOTS];
	unsigned int i, n;

	n = vuf_mem_regions(v, t.regions, VHOST_USER_MAX_RAM_SLOTS);
	t.nregions = n;
	for (i = 0; i < n; i++) {
		fds[i] = vuf_mem_fd(v);
	}
	cr_assert_eq(vuf_msg_send(v, VHOST_USER_SET_MEM_TABLE, 0, &t,
				  (uint32_t)(8 + n * sizeof(t.regions[0])), fds,
				  n),
		     0, "%s", vuf_error(v));
}

/* One connection of kind @kind, ended by the front-end. */
static void one_cycle(const char *sock, unsigned int kind)
{
	static const uint8_t half_header[6] = { 1, 0, 0, 0, 1, 0 };
	struct virtio_rtc_req_read rd;
	struct vuf_opts o;
	struct vuf *v;
	unsigned int i;

	vuf_opts_init(&o);
	o.queue_size = 64;
	switch (kind) {
	case 0: /* connect and hang up */
		v = vuf_new(&o);
		cr_assert(v);
		cr_assert_eq(vuf_connect(v, sock), 0, "%s", vuf_error(v));
		break;
	case 1: /* hang up inside a message header */
		v = vuf_new(&o);
		cr_assert(v);
		cr_assert_eq(vuf_connect(v, sock), 0, "%s", vuf_error(v));
		cr_assert_eq(vuf_send_raw(v, half_header, sizeof(half_header),
					  NULL, 0),
			     0);
		break;
	case 2: /* sequence A only */
		v = itest_vm_init(sock, &o);
		break;
	case 3: /* memory mapped, rings never started */
		v = itest_vm_init(sock, &o);
		cr_assert_eq(vuf_set_u64(v, VHOST_USER_SET_FEATURES,
					 vuf_features_offered(v) &
						 ((1ull << 32) | (1ull << 30)),
					 false),
			     0, "%s", vuf_error(v));
		send_mem_table(v);
		cr_assert_eq(vuf_ping(v), 0, "%s", vuf_error(v));
		break;
	case 4: /* full set-up, one READ */
		v = itest_vm(sock, &o);
		itest_read(v, 1);
		break;
	default: /* full set-up, hang up with READs in flight */
		v = itest_vm(sock, &o);
		vuf_rtc_req_read(&rd, 3);
		for (i = 0; i < 16; i++) {
			cr_assert_eq(
				vuf_submit(v, 0, &rd, sizeof(rd), 16, NULL, i),
				0);
		}
		vuf_kick_force(v, 0);
		break;
	}
	vuf_free(v);
}

ITEST(churn, connect_disconnect_1000)
{
	struct vdaemon *d = itest_start(NULL);
	struct bystanders *b = itest_bystanders(d);
	const char *sock = vdaemon_socket(d, 0);
	struct itest_usage start, before;
	struct bystanders_lap lap;
	unsigned int i;
	int64_t t0;

	/* Let malloc and GLib reach their working set first. */
	itest_usage(d, &start);
	for (i = 0; i < WARMUP_CYCLES; i++) {
		one_cycle(sock, i % 6);
	}
	itest_expect_no_leak(d, &start, "warm-up");
	itest_usage(d, &before);
	bystanders_lap(b, &lap);
	t0 = time_ns_now(CLOCK_MONOTONIC);
	for (i = 0; i < CYCLES; i++) {
		one_cycle(sock, i % 6);
		if (i % 100 == 99) {
			itest_alive(d);
		}
	}
	bystanders_lap(b, &lap);
	cr_log_info("%u cycles in %.2f s; bystanders meanwhile: %llu READs, "
		    "p99 %.1f us",
		    CYCLES, (double)(time_ns_now(CLOCK_MONOTONIC) - t0) / 1e9,
		    (unsigned long long)lap.n, lap.p99 / 1e3);
	cr_assert_gt(lap.n, 0, "bystanders starved by the churn");
	itest_expect_no_leak(d, &before, "1000 connect/disconnect cycles");
	itest_bystanders_stop(b);
	itest_stop(d);
}

/*
 * Guest resets (ring stop with SET_VRING_ENABLE 0 + GET_VRING_BASE, then
 * a fresh start, as QEMU does on a guest reset) with READs in flight,
 * many times; MONOTONIC never goes back across them.
 */
static void reset_inflight_run(const char *poll_ns, unsigned int cycles)
{
	struct vdaemon *d = itest_start_poll(poll_ns);
	struct bystanders *b = itest_bystanders(d);
	struct virtio_rtc_req_read rd;
	struct itest_usage before;
	struct vuf_opts o;
	struct vuf *v;
	uint64_t mono = 0, ns, answered = 0;
	unsigned int cycle, i, seed = 5;

	cr_log_info("seed %u", seed);
	vuf_opts_init(&o);
	o.queue_size = 64;
	itest_usage(d, &before);
	v = itest_vm(vdaemon_socket(d, 0), &o);
	for (cycle = 0; cycle < cycles; cycle++) {
		unsigned int n = 1 + rand_r(&seed) % 32;
		uint16_t last[VUF_MAX_QUEUES];
		struct vuf_completion c;

		vuf_set_interrupts(v, 0, false);
		for (i = 0; i < n; i++) {
			vuf_rtc_req_read(&rd, (uint16_t)(i % 4));
			cr_assert_eq(
				vuf_submit(v, 0, &rd, sizeof(rd), 16, NULL, i),
				0);
		}
		vuf_kick_force(v, 0);
		/* Take a few answers, leave the rest in flight. */
		for (i = rand_r(&seed) % 4; i > 0; i--) {
			if (vuf_spin(v, 0, &c, 1) < 0) {
				break;
			}
			cr_assert_eq(c.resp[0], VIRTIO_RTC_S_OK);
			answered++;
		}
		cr_assert_eq(vuf_reset(v, last), 0, "cycle %u reset: %s", cycle,
			     vuf_error(v));
		/* n, plus the READ after the previous restart. */
		n += cycle > 0;
		cr_assert_leq(last[0], n, "cycle %u: last_avail %u of %u",
			      cycle, last[0], n);
		cr_assert_leq(vuf_used_idx(v, 0), last[0]);
		cr_assert_eq(vuf_driver_ok(v), 0, "cycle %u restart: %s", cycle,
			     vuf_error(v));
		ns = itest_read(v, 2);
		cr_assert_geq(ns, mono, "cycle %u: MONOTONIC went back", cycle);
		mono = ns;
	}
	cr_log_info("%u resets (poll-ns %s), %llu answers taken before "
		    "them",
		    cycles, poll_ns ? poll_ns : "default",
		    (unsigned long long)answered);
	vuf_free(v);
	itest_expect_no_leak(d, &before, "reset loop");
	itest_bystanders_stop(b);
	itest_stop(d);
}

ITEST(churn, reset_loop_inflight)
{
	reset_inflight_run(NULL, 1000);
}

ITEST(churn, reset_loop_inflight_event_driven)
{
	reset_inflight_run("0", 500);
}
