// SPDX-License-Identifier: MIT
/*
 * Connection life cycle: QEMU's handshake values, guest resets, memory
 * table re-sends, front-ends dying mid-request, several listening
 * sockets, fd and mapping hygiene, SIGTERM, and the command line.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define OFFERED                                                                \
	((1ull << VIRTIO_F_VERSION_1) |                                        \
	 (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |                            \
	 (1ull << VIRTIO_RING_F_INDIRECT_DESC) |                               \
	 (1ull << VIRTIO_RING_F_EVENT_IDX) |                                   \
	 (1ull << VIRTIO_F_NOTIFY_ON_EMPTY) | (1ull << VHOST_F_LOG_ALL) |      \
	 (1ull << VIRTIO_RTC_F_ALARM))

ITEST(lifecycle, handshake_values)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	uint64_t p = vuf_protocol_features(v);

	cr_assert_eq(vuf_features_offered(v), OFFERED,
		     "features offered 0x%llx",
		     (unsigned long long)vuf_features_offered(v));
	cr_assert(p & (1ull << VHOST_USER_PROTOCOL_F_MQ));
	cr_assert(p & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	/* What QEMU needs to migrate a VM with the device. */
	cr_assert(p & (1ull << VHOST_USER_PROTOCOL_F_LOG_SHMFD));
	cr_assert(p & (1ull << VHOST_USER_PROTOCOL_F_DEVICE_STATE));
	cr_assert(!(p & (1ull << VHOST_USER_PROTOCOL_F_CONFIG)),
		  "CONFIG offered without config space");
	cr_assert_eq(vuf_queue_num(v), 2);
	itest_read(v, 0);
	vuf_free(v);
	itest_stop(d);
}

/* NEED_REPLY on a message without its own reply gets u64 0; on one
 * with a reply (GET_FEATURES) it is ignored: exactly one reply. */
ITEST(lifecycle, need_reply_handling)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	uint64_t u = 0;

	cr_assert_eq(vuf_msg_send(v, VHOST_USER_SET_OWNER,
				  VHOST_USER_NEED_REPLY_MASK, NULL, 0, NULL, 0),
		     0);
	cr_assert_eq(vuf_msg_recv(v, VHOST_USER_SET_OWNER, &u, 8, 2000), 0,
		     "%s", vuf_error(v));
	cr_assert_eq(u, 0);
	u = vuf_features_acked(v);
	cr_assert_eq(vuf_set_u64(v, VHOST_USER_SET_FEATURES, u, true), 0, "%s",
		     vuf_error(v));
	cr_assert_eq(vuf_msg_send(v, VHOST_USER_GET_FEATURES,
				  VHOST_USER_NEED_REPLY_MASK, NULL, 0, NULL, 0),
		     0);
	cr_assert_eq(vuf_msg_recv(v, VHOST_USER_GET_FEATURES, &u, 8, 2000), 0,
		     "%s", vuf_error(v));
	cr_assert_eq(u, OFFERED);
	/* Nothing else is pending: the next reply is for the next call. */
	cr_assert_eq(vuf_ping(v), 0, "%s", vuf_error(v));
	itest_read(v, 0);
	vuf_free(v);
	itest_stop(d);
}

/* (d) Guest resets in a loop, reads between, some with requests still
 * in flight when the reset comes. */
static void reset_loop_run(const char *poll_ns)
{
	struct vdaemon *d = itest_start_poll(poll_ns);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	struct virtio_rtc_req_read rd;
	unsigned int cycle, i;

	vuf_rtc_req_read(&rd, 2);
	for (cycle = 0; cycle < 200; cycle++) {
		uint16_t last[VUF_MAX_QUEUES], used;
		unsigned int n = 3;

		for (i = 0; i < 3; i++) {
			itest_read(v, (uint16_t)((cycle + i) % 4));
		}
		if (cycle % 10 == 9) {
			/* Busy when the reset comes. */
			for (i = 0; i < 8; i++) {
				cr_assert_eq(vuf_submit(v, 0, &rd, sizeof(rd),
							16, NULL, i),
					     0);
			}
			vuf_kick_force(v, 0);
			n += 8;
		}
		cr_assert_eq(vuf_reset(v, last), 0, "cycle %u reset: %s", cycle,
			     vuf_error(v));
		used = vuf_used_idx(v, 0);
		if (n == 3) {
			cr_assert_eq(last[0], 3,
				     "cycle %u: last_avail %u after 3 reads",
				     cycle, last[0]);
		} else {
			cr_assert(last[0] >= 3 && last[0] <= n,
				  "cycle %u: last_avail %u of %u", cycle,
				  last[0], n);
		}
		cr_assert(used <= last[0], "used %u > last_avail %u", used,
			  last[0]);
		if (cycle % 50 == 0) {
			/* A stopped ring is not touched any more. */
			itest_sleep_ms(20);
			cr_assert_eq(vuf_used_idx(v, 0), used,
				     "used ring written after GET_VRING_BASE");
		}
		cr_assert_eq(vuf_driver_ok(v), 0, "cycle %u restart: %s", cycle,
			     vuf_error(v));
	}
	itest_read(v, 0);
	vuf_free(v);
	itest_stop(d);
}

ITEST(lifecycle, reset_loop)
{
	reset_loop_run(NULL);
}

ITEST(lifecycle, reset_loop_event_driven)
{
	reset_loop_run("0");
}

ITEST(lifecycle, reset_loop_busy_polling)
{
	reset_loop_run("10000000");
}

/* QEMU re-sends SET_MEM_TABLE at any time (hotplug): rings keep working. */
ITEST(lifecycle, mem_table_resent_while_running)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	struct vhost_user_mem_table t = { 0 };
	int fds[8], i, k;

	t.nregions = vuf_mem_regions(v, t.regions, 8);
	for (i = 0; i < (int)t.nregions; i++) {
		fds[i] = vuf_mem_fd(v);
	}
	for (k = 0; k < 20; k++) {
		uint64_t ack = 1;

		itest_read(v, 0);
		cr_assert_eq(vuf_msg_send(v, VHOST_USER_SET_MEM_TABLE,
					  VHOST_USER_NEED_REPLY_MASK, &t,
					  8 + t.nregions * 32, fds, t.nregions),
			     0);
		cr_assert_eq(vuf_msg_recv(v, VHOST_USER_SET_MEM_TABLE, &ack, 8,
					  2000),
			     0, "%s", vuf_error(v));
		cr_assert_eq(ack, 0);
		itest_read(v, 3);
	}
	vuf_free(v);
	itest_stop(d);
}

/* A child front-end that submits requests and dies. */
static void doomed_child(const char *sock, int how)
{
	struct virtio_rtc_req_read rd;
	struct vuf *v = NULL;
	int i;

	if (vuf_open(&v, sock, NULL)) {
		_exit(2);
	}
	vuf_rtc_req_read(&rd, 0);
	for (i = 0; i < 32; i++) {
		vuf_submit(v, 0, &rd, sizeof(rd), 16, NULL, i);
	}
	vuf_kick_force(v, 0);
	if (how == 1) {
		/* Half a message on the socket, then death. */
		struct vhost_user_header h = { VHOST_USER_SET_VRING_NUM,
					       VHOST_USER_VERSION, 8 };

		vuf_send_raw(v, &h, sizeof(h), NULL, 0);
	}
	if (how == 2) {
		/* Orderly close of the socket, guest memory still mapped. */
		vuf_close(v);
		_exit(0);
	}
	raise(SIGKILL);
	_exit(3);
}

/* (f) Front-ends killed mid-request while another keeps reading. */
ITEST(lifecycle, frontend_killed_mid_request)
{
	struct vdaemon *d = itest_start(NULL);
	const char *s = vdaemon_socket(d, 0);
	struct vuf *v = itest_vm(s, NULL);
	int base, child, now = -1;
	int64_t deadline;

	itest_sleep_ms(20);
	base = vdaemon_fd_count(d);
	for (child = 0; child < 12; child++) {
		pid_t pid = fork();
		int st, i;

		cr_assert_geq(pid, 0);
		if (pid == 0) {
			doomed_child(s, child % 3);
		}
		for (i = 0; i < 20; i++) {
			itest_read(v, (uint16_t)(i % 4));
		}
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(!(WIFEXITED(st) && WEXITSTATUS(st) == 2),
			  "child could not set up");
		itest_alive(d);
	}
	deadline = time_ns_now(CLOCK_MONOTONIC) + 2000000000ll;
	while (time_ns_now(CLOCK_MONOTONIC) < deadline) {
		now = vdaemon_fd_count(d);
		if (now == base) {
			break;
		}
		itest_sleep_ms(10);
	}
	cr_assert_eq(now, base, "daemon fds: %d before, %d after dead VMs",
		     base, now);
	itest_read(v, 0);
	vuf_free(v);
	itest_stop(d);
}

/* (g) Several --socket-path sockets, several VMs on each. */
ITEST(lifecycle, multiple_sockets)
{
	struct vdaemon_opts o;
	struct vdaemon *d;
	struct vuf *v[6];
	unsigned int i, round;

	vdaemon_opts_init(&o);
	o.nsockets = 3;
	d = itest_start(&o);
	for (i = 0; i < 6; i++) {
		v[i] = itest_vm(vdaemon_socket(d, i % 3), NULL);
	}
	for (round = 0; round < 20; round++) {
		for (i = 0; i < 6; i++) {
			itest_read(v[i], (uint16_t)((round + i) % 4));
		}
	}
	for (i = 0; i < 6; i++) {
		uint16_t n = 0;

		cr_assert_eq(vuf_rtc_cfg(v[i], &n, NULL), 0);
		cr_assert_eq(n, 4);
	}
	/* Losing the VMs of one socket leaves the others alone. */
	vuf_free(v[0]);
	vuf_free(v[3]);
	for (i = 0; i < 6; i++) {
		if (i % 3) {
			itest_read(v[i], 1);
		}
	}
	v[0] = itest_vm(vdaemon_socket(d, 0), NULL);
	itest_read(v[0], 2);
	vuf_free(v[0]);
	for (i = 1; i < 6; i++) {
		if (i != 3) {
			vuf_free(v[i]);
		}
	}
	itest_stop(d);
}

/* A listening socket inherited with --fd (socket activation style). */
ITEST(lifecycle, inherited_listen_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vdaemon_opts o;
	struct vdaemon *d;
	struct vuf *a, *b;
	char path[64];
	int lfd;

	snprintf(path, sizeof(path), "/tmp/vrtc-fd-%d.sock", (int)getpid());
	unlink(path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(lfd, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 16), 0);
	vdaemon_opts_init(&o);
	o.listen_fd = lfd;
	d = itest_start(&o);
	close(lfd);
	a = itest_vm(path, NULL);
	b = itest_vm(vdaemon_socket(d, 0), NULL);
	itest_read(a, 0);
	itest_read(b, 0);
	vuf_free(a);
	vuf_free(b);
	itest_stop(d);
	unlink(path);
}

/* (h) fds and mappings return to baseline after 100 connections that
 * end in every state, cleanly or not. */
ITEST(lifecycle, no_fd_or_mapping_leak)
{
	struct vdaemon *d = itest_start(NULL);
	const char *s = vdaemon_socket(d, 0);
	int fd0, map0, fd1 = -1, map1 = -1, cycle;
	int64_t deadline;

	itest_sleep_ms(50);
	fd0 = vdaemon_fd_count(d);
	map0 = vdaemon_map_count(d);
	cr_assert(fd0 > 0 && map0 > 0);
	for (cycle = 0; cycle < 100; cycle++) {
		struct vuf *v = vuf_new(NULL);
		int ret;

		cr_assert(v);
		ret = vuf_connect(v, s);
		if (!ret && cycle % 4 != 0) {
			ret = vuf_init(v);
		}
		if (!ret && cycle % 4 >= 2) {
			ret = vuf_driver_ok(v);
		}
		cr_assert_eq(ret, 0, "cycle %d: %s", cycle, vuf_error(v));
		if (cycle % 4 >= 2) {
			itest_read(v, 0);
		}
		if (cycle % 8 == 3) {
			uint16_t last[VUF_MAX_QUEUES];

			cr_assert_eq(vuf_reset(v, last), 0);
			cr_assert_eq(vuf_driver_ok(v), 0);
			itest_read(v, 1);
		}
		vuf_free(v);
	}
	deadline = time_ns_now(CLOCK_MONOTONIC) + 2000000000ll;
	while (time_ns_now(CLOCK_MONOTONIC) < deadline) {
		fd1 = vdaemon_fd_count(d);
		map1 = vdaemon_map_count(d);
		if (fd1 == fd0 && map1 <= map0) {
			break;
		}
		itest_sleep_ms(10);
	}
	cr_assert_eq(fd1, fd0, "fds: %d at start, %d after 100 VMs", fd0, fd1);
	cr_assert_leq(map1, map0, "mappings: %d at start, %d after 100 VMs",
		      map0, map1);
	itest_stop(d);
}

/* SIGTERM with VMs connected and traffic in flight: exit 0 quickly. */
ITEST(lifecycle, sigterm_with_busy_vms)
{
	struct vdaemon *d = itest_start(NULL);
	struct virtio_rtc_req_read rd;
	struct vuf *v[8];
	unsigned int i, k;

	vuf_rtc_req_read(&rd, 0);
	for (i = 0; i < 8; i++) {
		v[i] = itest_vm(vdaemon_socket(d, 0), NULL);
		itest_read(v[i], 0);
		for (k = 0; k < 64; k++) {
			vuf_submit(v[i], 0, &rd, sizeof(rd), 16, NULL, k);
		}
		vuf_kick_force(v[i], 0);
	}
	itest_stop(d);
	for (i = 0; i < 8; i++) {
		vuf_free(v[i]);
	}
}

ITEST(lifecycle, command_line)
{
	static const char *const version[] = { "--version", NULL };
	static const char *const help[] = { "--help", NULL };
	static const char *const caps[] = { "--print-capabilities", NULL };
	static const char *const bogus[] = { "--no-such-option", NULL };
	static const char *const clocks[] = { "--socket-path", "/tmp/x.sock",
					      "--clocks", "utc,sundial", NULL };
	static const char *const smear[] = { "--socket-path", "/tmp/x.sock",
					     "--smear", "sideways", NULL };
	static const char *const none[] = { NULL };
	static const char *const badfd[] = { "--fd", "99", NULL };
	char out[4096];
	int st;

	st = vdaemon_run(version, 5000, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "--version: 0x%x", st);
	cr_assert(strlen(out) > 0, "--version printed nothing");
	st = vdaemon_run(help, 5000, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "--help: 0x%x", st);
	cr_assert(strstr(out, "--socket-path"), "--help: %s", out);
	st = vdaemon_run(caps, 5000, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "--print-capabilities: 0x%x", st);
	cr_assert(strstr(out, "\"type\""), "--print-capabilities: %s", out);
	st = vdaemon_run(bogus, 5000, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0,
		  "unknown option accepted");
	st = vdaemon_run(clocks, 5000, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0,
		  "bad --clocks accepted");
	st = vdaemon_run(smear, 5000, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0,
		  "bad --smear accepted");
	st = vdaemon_run(none, 5000, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0,
		  "started without any socket");
	st = vdaemon_run(badfd, 5000, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0,
		  "started with --fd of a closed descriptor");
}

/* Submit @n READs of @clock with cookies from @first. */
static void submit_reads(struct vuf *v, unsigned int n, uint16_t clock,
			 uint64_t first)
{
	struct virtio_rtc_req_read rd;
	unsigned int i;

	vuf_rtc_req_read(&rd, clock);
	for (i = 0; i < n; i++) {
		cr_assert_eq(
			vuf_submit(v, 0, &rd, sizeof(rd), 16, NULL, first + i),
			0, "%s", vuf_error(v));
	}
}

/* Wait for @n completions with cookies @first.. in order, status OK. */
static void expect_reads(struct vuf *v, unsigned int n, uint64_t first)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct vuf_completion c;

		cr_assert_eq(vuf_wait(v, 0, &c, 5000), 0, "completion %u: %s",
			     i, vuf_error(v));
		cr_assert_eq(c.cookie, first + i);
		cr_assert_eq(c.len, 16);
		cr_assert_eq(c.resp[0], VIRTIO_RTC_S_OK);
	}
}

/*
 * QEMU "stop"/"cont": the rings are stopped and restarted without a
 * guest reset; SET_VRING_BASE carries the old last_avail, the indexes
 * carry on (across the 16-bit wrap here), and requests the guest made
 * and kicked while stopped are served after the restart.
 */
static void pause_resume_keeps_ring_run(const char *poll_ns)
{
	struct vdaemon *d = itest_start_poll(poll_ns);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	uint64_t done = 0;
	unsigned int cycle;

	for (cycle = 0; cycle < 80; cycle++) {
		uint16_t last[VUF_MAX_QUEUES];
		unsigned int burst = cycle == 0 ? 3 : 850;

		/* ~68k requests in all: avail/used indexes wrap. */
		submit_reads(v, 8, 2, done);
		vuf_kick(v, 0);
		expect_reads(v, 8, done);
		done += 8;
		while (burst) {
			unsigned int n = burst > 512 ? 512 : burst;

			submit_reads(v, n, (uint16_t)(cycle % 4), done);
			vuf_kick(v, 0);
			expect_reads(v, n, done);
			done += n;
			burst -= n;
		}
		cr_assert_eq(vuf_reset(v, last), 0, "%s", vuf_error(v));
		cr_assert_eq(last[0], (uint16_t)done,
			     "cycle %u: last_avail %u, %llu made available",
			     cycle, last[0], (unsigned long long)done);
		/* The guest keeps going while the device is stopped. */
		submit_reads(v, 4, 0, done);
		vuf_kick_force(v, 0);
		itest_sleep_ms(cycle < 3 ? 30 : 1);
		cr_assert_eq(vuf_used_idx(v, 0), (uint16_t)done,
			     "served while stopped");
		cr_assert_eq(vuf_resume(v), 0, "%s", vuf_error(v));
		expect_reads(v, 4, done);
		done += 4;
	}
	cr_log_info("%llu requests through 80 stop/cont cycles",
		    (unsigned long long)done);
	vuf_free(v);
	itest_stop(d);
}

ITEST(lifecycle, pause_resume_keeps_ring)
{
	pause_resume_keeps_ring_run(NULL);
}

ITEST(lifecycle, pause_resume_keeps_ring_event_driven)
{
	pause_resume_keeps_ring_run("0");
}

ITEST(lifecycle, pause_resume_keeps_ring_busy_polling)
{
	pause_resume_keeps_ring_run("10000000");
}

/*
 * QEMU swaps the call fd (masked notifier while the guest masks the
 * vector, then the guest notifier again): signals must follow the
 * newest fd.
 */
static void call_fd_masking_run(const char *poll_ns)
{
	struct vdaemon *d = itest_start_poll(poll_ns);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	struct vuf_completion c;
	int round;

	for (round = 0; round < 5; round++) {
		uint64_t masked;

		/* SET_VRING_CALL has no reply: a round trip orders it
		 * before the request (QEMU copes with the race itself). */
		cr_assert_eq(vuf_mask_call(v, 0, true), 0);
		cr_assert_eq(vuf_ping(v), 0);
		itest_sleep_ms(1);
		vuf_drain_calls(v, 0);
		vuf_set_interrupts(v, 0, true);
		submit_reads(v, 1, 0, 100);
		vuf_kick(v, 0);
		/*
		 * Wait for the signal before consuming the used entry: with
		 * EVENT_IDX, consuming it moves used_event past it, and a
		 * device that checks used_event after that rightly sends no
		 * interrupt at all (the driver said it had seen the entry).
		 */
		masked = 0;
		for (int ms = 0; ms < 2000 && masked == 0; ms++) {
			itest_sleep_ms(1);
			masked = vuf_drain_masked(v, 0);
		}
		cr_assert_gt(masked, 0, "no signal on the masked call fd");
		cr_assert_eq(vuf_spin(v, 0, &c, 5000), 0, "%s", vuf_error(v));
		cr_assert_eq(vuf_drain_calls(v, 0), 0,
			     "signal on the old call fd after the swap");
		cr_assert_eq(vuf_mask_call(v, 0, false), 0);
		cr_assert_eq(vuf_ping(v), 0);
		itest_read(v, 1);
	}
	vuf_free(v);
	itest_stop(d);
}

ITEST(lifecycle, call_fd_masking)
{
	call_fd_masking_run(NULL);
}

ITEST(lifecycle, call_fd_masking_event_driven)
{
	call_fd_masking_run("0");
}

ITEST(lifecycle, call_fd_masking_busy_polling)
{
	call_fd_masking_run("10000000");
}

/* SET_VRING_CALL with the no-fd flag: valid (the guest polls). */
ITEST(lifecycle, vring_call_without_fd)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	uint64_t u = 0 | VHOST_USER_VRING_NOFD_MASK;
	struct vuf_completion c;
	int i;

	cr_assert_eq(
		vuf_msg_send(v, VHOST_USER_SET_VRING_CALL, 0, &u, 8, NULL, 0),
		0);
	for (i = 0; i < 10; i++) {
		submit_reads(v, 1, 3, (uint64_t)i);
		vuf_kick(v, 0);
		cr_assert_eq(vuf_spin(v, 0, &c, 5000), 0, "%s", vuf_error(v));
		cr_assert_eq(c.resp[0], VIRTIO_RTC_S_OK);
	}
	cr_assert_eq(vuf_ping(v), 0, "connection dropped: %s", vuf_error(v));
	cr_assert_eq(vuf_mask_call(v, 0, false), 0);
	itest_read(v, 0);
	vuf_free(v);
	itest_stop(d);
}

/*
 * VIRTIO_F_NOTIFY_ON_EMPTY negotiated: the device signals when the ring
 * runs empty even though the driver suppressed interrupts.
 */
static void notify_on_empty_run(const char *poll_ns)
{
	struct vdaemon *d = itest_start_poll(poll_ns);
	struct vuf_completion c;
	struct vuf_opts o;
	struct vuf *v;
	uint64_t calls;
	int i;

	vuf_opts_init(&o);
	o.ring_features = 1ull << VIRTIO_F_NOTIFY_ON_EMPTY;
	v = itest_vm(vdaemon_socket(d, 0), &o);
	cr_assert(vuf_features_acked(v) & (1ull << VIRTIO_F_NOTIFY_ON_EMPTY));
	for (i = 0; i < 5; i++) {
		vuf_drain_calls(v, 0);
		vuf_set_interrupts(v, 0, false);
		submit_reads(v, 4, 2, 0);
		vuf_kick(v, 0);
		cr_assert_eq(vuf_spin(v, 0, &c, 5000), 0, "%s", vuf_error(v));
		while (vuf_inflight(v, 0)) {
			cr_assert_eq(vuf_spin(v, 0, &c, 5000), 0);
		}
		calls = 0;
		for (int ms = 0; ms < 2000 && calls == 0; ms++) {
			itest_sleep_ms(1);
			calls = vuf_drain_calls(v, 0);
		}
		cr_assert_gt(calls, 0, "ring ran empty without a notification");
	}
	vuf_free(v);
	itest_stop(d);
}

ITEST(lifecycle, notify_on_empty)
{
	notify_on_empty_run(NULL);
}

ITEST(lifecycle, notify_on_empty_event_driven)
{
	notify_on_empty_run("0");
}

ITEST(lifecycle, notify_on_empty_busy_polling)
{
	notify_on_empty_run("10000000");
}

/* --max-connections: the extra front-end is turned away, the others
 * are unaffected, and a freed slot can be used again. */
ITEST(lifecycle, connection_limit)
{
	struct vdaemon *d = itest_startl("--max-connections", "4");
	const char *s = vdaemon_socket(d, 0);
	struct vuf *v[4], *extra;
	unsigned int i;
	int ret;

	itest_sleep_ms(20); /* the start-up probe connection is gone */
	for (i = 0; i < 4; i++) {
		v[i] = itest_vm(s, NULL);
	}
	extra = vuf_new(NULL);
	ret = vuf_connect(extra, s);
	if (ret == 0) {
		ret = vuf_init(extra);
		cr_assert_neq(ret, 0, "a 5th front-end was served");
	}
	vuf_free(extra);
	for (i = 0; i < 4; i++) {
		itest_read(v[i], 0);
	}
	vuf_free(v[3]);
	itest_sleep_ms(50);
	v[3] = itest_vm(s, NULL);
	itest_read(v[3], 1);
	for (i = 0; i < 4; i++) {
		vuf_free(v[i]);
	}
	itest_stop(d);
}

/* Adaptive polling stops when the traffic does: an idle daemon with
 * VMs connected uses (almost) no CPU. */
static void idle_cpu_run(const char *poll_ns)
{
	struct vdaemon *d = itest_start_poll(poll_ns);
	struct vuf *v[8];
	int64_t c0, c1;
	unsigned int i, k;

	for (i = 0; i < 8; i++) {
		v[i] = itest_vm(vdaemon_socket(d, 0), NULL);
		for (k = 0; k < 100; k++) {
			itest_read(v[i], (uint16_t)(k % 4));
		}
	}
	itest_sleep_ms(100);
	c0 = vdaemon_cpu_ns(d);
	itest_sleep_ms(1000);
	c1 = vdaemon_cpu_ns(d);
	cr_assert_lt(c1 - c0, 50000000,
		     "idle daemon used %lld ms of CPU in 1 s",
		     (long long)((c1 - c0) / 1000000));
	for (i = 0; i < 8; i++) {
		itest_read(v[i], 0);
		vuf_free(v[i]);
	}
	itest_stop(d);
}

ITEST(lifecycle, idle_cpu)
{
	idle_cpu_run(NULL);
}

ITEST(lifecycle, idle_cpu_busy_polling)
{
	idle_cpu_run("10000000");
}

/* Front-ends that hang up before their replies are written: the daemon
 * must not die of SIGPIPE. */
ITEST(lifecycle, close_before_reply)
{
	struct vdaemon *d = itest_start(NULL);
	const char *s = vdaemon_socket(d, 0);
	struct vuf *by = itest_vm(s, NULL);
	int i;

	for (i = 0; i < 200; i++) {
		struct vuf *v = vuf_new(NULL);
		int k;

		cr_assert_eq(vuf_connect(v, s), 0);
		for (k = 0; k < 16; k++) {
			vuf_msg_send(v, VHOST_USER_GET_FEATURES, 0, NULL, 0,
				     NULL, 0);
			vuf_msg_send(v, VHOST_USER_GET_PROTOCOL_FEATURES, 0,
				     NULL, 0, NULL, 0);
		}
		vuf_free(v);
		if (i % 20 == 0) {
			itest_read(by, 0);
		}
	}
	itest_sleep_ms(50);
	itest_alive(d);
	itest_read(by, 1);
	vuf_free(by);
	itest_stop(d);
}

/* A socket file left behind by a crashed daemon is replaced; any other
 * file at the path is not clobbered. */
ITEST(lifecycle, stale_socket_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/vrtc-stale-XXXXXX", path[64], out[4096];
	const char *argv[] = { "--socket-path", path, NULL };
	struct vdaemon_opts o;
	struct vdaemon *d;
	struct vuf *v;
	FILE *f;
	int fd, st;

	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vm.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd); /* the socket inode stays: a stale socket */

	vdaemon_opts_init(&o);
	o.nsockets = 0;
	o.args = argv;
	d = itest_start(&o); /* waits on no socket: check ourselves */
	v = vuf_new(NULL);
	for (st = 0; st < 500 && vuf_connect(v, path); st++) {
		itest_sleep_ms(10);
	}
	cr_assert_eq(vuf_init(v), 0, "stale socket not replaced: %s",
		     vuf_error(v));
	cr_assert_eq(vuf_driver_ok(v), 0);
	itest_read(v, 0);
	vuf_free(v);
	itest_stop(d);
	unlink(path);

	/* A regular file at the path: refused, and left alone. */
	f = fopen(path, "w");
	cr_assert(f);
	fputs("precious\n", f);
	fclose(f);
	st = vdaemon_run(argv, 5000, out, sizeof(out));
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 0,
		  "daemon started over a regular file (0x%x)", st);
	f = fopen(path, "r");
	cr_assert(f, "the regular file at the socket path was deleted");
	cr_assert(fgets(out, sizeof(out), f) && !strcmp(out, "precious\n"),
		  "the regular file was overwritten");
	fclose(f);
	unlink(path);
	rmdir(dir);
}
