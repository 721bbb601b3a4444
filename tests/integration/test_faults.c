// SPDX-License-Identifier: MIT
/*
 * Faults from one front-end, with nothing lost for the others: a
 * front-end killed mid-request, one that stops reading its replies, one
 * flooding kicks. Four bystander VMs keep READs in flight throughout
 * and check every answer; afterwards the daemon's fds, mappings and RSS
 * are back (itest_faults.h) and it exits 0 on SIGTERM (LSan-clean under
 * the ASan build).
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest_faults.h"

#define KILLED_FRONTENDS 24

/*
 * Child: set up a VM, keep its ring full of READs and kick, forever;
 * one byte on @ready once requests are in flight. Never returns. With
 * @no_kick the requests are made available but never kicked.
 */
static void __attribute__((noreturn))
doomed_frontend(const char *sock, int ready, bool no_kick)
{
	struct virtio_rtc_req_read rd;
	struct vuf_completion c;
	struct vuf_opts o;
	struct vuf *v = NULL;
	bool told = false;

	vuf_opts_init(&o);
	o.queue_size = 64;
	if (vuf_open(&v, sock, &o)) {
		_exit(2);
	}
	vuf_set_interrupts(v, 0, false);
	vuf_rtc_req_read(&rd, 0);
	for (;;) {
		while (vuf_submit(v, 0, &rd, sizeof(rd), 16, NULL, 0) == 0) {
		}
		if (!no_kick) {
			vuf_kick_force(v, 0);
		}
		if (!told) {
			told = write(ready, "r", 1) == 1;
		}
		while (vuf_poll(v, 0, &c) > 0) {
		}
	}
}

ITEST(faults, frontend_killed_mid_request)
{
	struct vdaemon *d = itest_start(NULL);
	struct bystanders *b = itest_bystanders(d);
	struct itest_usage before;
	unsigned int i, seed = 99;

	cr_log_info("seed %u", seed);
	itest_usage(d, &before);
	for (i = 0; i < KILLED_FRONTENDS; i++) {
		struct pollfd pfd;
		int p[2], status;
		pid_t pid;
		char c;

		cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
		pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			doomed_frontend(vdaemon_socket(d, 0), p[1], i % 4 == 3);
		}
		close(p[1]);
		pfd = (struct pollfd){ p[0], POLLIN, 0 };
		cr_assert_eq(poll(&pfd, 1, 10000), 1, "child %u never ready",
			     i);
		cr_assert_eq(read(p[0], &c, 1), 1, "child %u failed to set up",
			     i);
		close(p[0]);
		itest_sleep_ms((int)(rand_r(&seed) % 4));
		kill(pid, SIGKILL);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			  "child %u ended on its own (status 0x%x)", i, status);
		itest_alive(d);
	}
	itest_expect_no_leak(d, &before, "24 front-ends killed");
	itest_bystanders_stop(b);
	itest_stop(d);
}

/* Send @len bytes without blocking; -errno when the daemon closed. */
static int send_some(int fd, const void *buf, size_t len, int64_t deadline)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { fd, POLLOUT, 0 };

			if (time_ns_now(CLOCK_MONOTONIC) > deadline) {
				return -ETIMEDOUT;
			}
			(void)poll(&pfd, 1, 10);
			continue;
		}
		if (n < 0 && errno != EINTR) {
			return -errno;
		}
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		}
	}
	return 0;
}

/*
 * A front-end that sends requests needing replies and never reads one:
 * the daemon must not block on the full socket (its other VMs would
 * stall) and must drop that connection.
 */
static void stops_reading_run(bool set_up)
{
	struct vdaemon *d = itest_start(NULL);
	struct bystanders *b = itest_bystanders(d);
	struct itest_usage before;
	struct vuf *v;
	int64_t t0, deadline;
	unsigned long sent = 0;
	int fd, ret = 0;

	itest_usage(d, &before);
	v = set_up ? itest_vm(vdaemon_socket(d, 0), NULL)
		   : itest_vm_init(vdaemon_socket(d, 0), NULL);
	fd = vuf_socket(v);
	t0 = time_ns_now(CLOCK_MONOTONIC);
	deadline = t0 + 10000000000ll;
	while (ret == 0) {
		static const uint32_t reqs[] = {
			VHOST_USER_GET_FEATURES,
			VHOST_USER_GET_PROTOCOL_FEATURES,
			VHOST_USER_GET_QUEUE_NUM
		};
		struct {
			struct vhost_user_header h;
			struct vhost_user_vring_state s;
		} __attribute__((packed)) m = { 0 };
		size_t len = sizeof(m.h);

		m.h.flags = VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK;
		if (sent % 4 == 3) {
			/* A NEED_REPLY ack: enable the alarmq again. */
			m.h.request = VHOST_USER_SET_VRING_ENABLE;
			m.h.size = sizeof(m.s);
			m.s = (struct vhost_user_vring_state){ 1, 1 };
			len += sizeof(m.s);
		} else {
			m.h.request = reqs[sent % 3];
		}
		ret = send_some(fd, &m, len, deadline);
		sent += ret == 0;
	}
	cr_log_info("%s front-end: %lu requests sent unread; daemon closed "
		    "the connection after %lld ms (%s)",
		    set_up ? "set-up" : "half set-up", sent,
		    (long long)((time_ns_now(CLOCK_MONOTONIC) - t0) / 1000000),
		    strerror(-ret));
	cr_assert(ret == -EPIPE || ret == -ECONNRESET,
		  "after %lu unread replies the connection is still open: %s",
		  sent, strerror(-ret));
	cr_assert(itest_log_has(d, "not sent"),
		  "the daemon did not say why it closed the connection");
	vuf_free(v);
	itest_expect_no_leak(d, &before, "front-end not reading");
	itest_bystanders_stop(b);
	itest_stop(d);
}

ITEST(faults, frontend_stops_reading_replies)
{
	stops_reading_run(true);
}

ITEST(faults, frontend_stops_reading_replies_mid_handshake)
{
	stops_reading_run(false);
}

struct flooder {
	pthread_t th;
	struct vuf *v; /* NULL: only burn CPU, as the control */
	volatile int stop;
	uint64_t kicks, done;
	char err[256];
};

/* Write the kick eventfd as fast as possible, with READs in flight. */
static void *flooder_main(void *arg)
{
	struct flooder *f = arg;
	struct virtio_rtc_req_read rd;
	struct vuf_completion c;
	int r;

	vuf_rtc_req_read(&rd, 2);
	while (!f->v && !f->stop) {
		f->kicks++;
	}
	while (!f->stop) {
		while (vuf_inflight(f->v, 0) < 8) {
			vuf_submit(f->v, 0, &rd, sizeof(rd), 16, NULL, 0);
		}
		if (vuf_kick_force(f->v, 0) < 0) {
			snprintf(f->err, sizeof(f->err), "kick: %s",
				 vuf_error(f->v));
			return NULL;
		}
		f->kicks++;
		while ((r = vuf_poll(f->v, 0, &c)) > 0) {
			if (c.len != 16 || c.resp[0] != VIRTIO_RTC_S_OK) {
				snprintf(f->err, sizeof(f->err),
					 "status %u len %u", c.resp[0], c.len);
				return NULL;
			}
			f->done++;
		}
		if (r < 0) {
			snprintf(f->err, sizeof(f->err), "%s", vuf_error(f->v));
			return NULL;
		}
	}
	return NULL;
}

static void kick_flood_run(const char *poll_ns)
{
	struct vdaemon *d = itest_start_poll(poll_ns);
	struct bystanders *b = itest_bystanders(d);
	struct bystanders_lap quiet, hog, flood;
	struct flooder f = { 0 };
	struct vuf_completion c;
	struct itest_usage before;
	int64_t t0;
	double secs;

	itest_usage(d, &before);
	itest_sleep_ms(300);
	bystanders_lap(b, &quiet); /* warm-up, dropped */
	itest_sleep_ms(1500);
	bystanders_lap(b, &quiet);
	/* Control: the same CPU taken by a thread that leaves us alone. */
	cr_assert_eq(pthread_create(&f.th, NULL, flooder_main, &f), 0);
	itest_sleep_ms(3000);
	bystanders_lap(b, &hog);
	f.stop = 1;
	pthread_join(f.th, NULL);
	f = (struct flooder){ 0 };
	f.v = itest_vm(vdaemon_socket(d, 0), NULL);
	vuf_set_interrupts(f.v, 0, false);
	bystanders_lap(b, &flood); /* the flooder's set-up, dropped */
	t0 = time_ns_now(CLOCK_MONOTONIC);
	cr_assert_eq(pthread_create(&f.th, NULL, flooder_main, &f), 0);
	itest_sleep_ms(3000);
	bystanders_lap(b, &flood);
	f.stop = 1;
	pthread_join(f.th, NULL);
	secs = (double)(time_ns_now(CLOCK_MONOTONIC) - t0) / 1e9;
	cr_assert_str_empty(f.err, "flooding VM: %s", f.err);
	cr_log_info("poll-ns %s: %.0f kicks/s for %.1f s (%llu READs of the "
		    "flooder answered)",
		    poll_ns ? poll_ns : "default", (double)f.kicks / secs, secs,
		    (unsigned long long)f.done);
	cr_log_info("bystander RTT before: %llu READs, p50 %.1f us, p99 %.1f "
		    "us, max %.1f us",
		    (unsigned long long)quiet.n, quiet.p50 / 1e3,
		    quiet.p99 / 1e3, quiet.max / 1e3);
	cr_log_info("bystander RTT with a CPU hog: %llu READs, p50 %.1f us, "
		    "p99 %.1f us, max %.1f us",
		    (unsigned long long)hog.n, hog.p50 / 1e3, hog.p99 / 1e3,
		    hog.max / 1e3);
	cr_log_info("bystander RTT during: %llu READs, p50 %.1f us, p99 %.1f "
		    "us, max %.1f us",
		    (unsigned long long)flood.n, flood.p50 / 1e3,
		    flood.p99 / 1e3, flood.max / 1e3);
	cr_assert_gt(f.kicks, 10000, "the flood did not happen");
	cr_assert_gt(f.done, 0, "the flooding VM itself was not served");
	/* Sane: served all along (>= 100 READs/s), p99 bounded. */
	cr_assert_gt(flood.n, 300, "bystanders starved during the flood");
	cr_assert_lt(flood.p99, ITEST_SANE_P99_NS,
		     "bystander p99 %.1f ms during the flood", flood.p99 / 1e6);
	/* The flooder still works once it behaves. */
	while (vuf_inflight(f.v, 0)) {
		cr_assert_geq(vuf_spin(f.v, 0, &c, 2000), 0, "%s",
			      vuf_error(f.v));
	}
	itest_read(f.v, 1);
	vuf_free(f.v);
	itest_expect_no_leak(d, &before, "kick flood");
	itest_bystanders_stop(b);
	itest_stop(d);
}

ITEST(faults, kick_flood)
{
	kick_flood_run(NULL);
}

ITEST(faults, kick_flood_event_driven)
{
	kick_flood_run("0");
}

/*
 * SIGTERM while VMs are connected with READs in flight (and one half
 * through its handshake): the daemon frees every connection, exits 0
 * within the 2 s of itest_stop(), and LSan finds nothing under ASan.
 */
ITEST(faults, sigterm_with_vms_connected)
{
	struct vdaemon *d = itest_start(NULL);
	struct virtio_rtc_req_read rd;
	struct vuf *v[8], *half;
	unsigned int i, j;

	vuf_rtc_req_read(&rd, 0);
	for (i = 0; i < 8; i++) {
		v[i] = itest_vm(vdaemon_socket(d, 0), NULL);
		vuf_set_interrupts(v[i], 0, false);
		for (j = 0; j < 32; j++) {
			cr_assert_eq(vuf_submit(v[i], 0, &rd, sizeof(rd), 16,
						NULL, j),
				     0);
		}
		vuf_kick_force(v[i], 0);
	}
	half = itest_vm_init(vdaemon_socket(d, 0), NULL);
	itest_stop(d);
	for (i = 0; i < 8; i++) {
		vuf_free(v[i]);
	}
	vuf_free(half);
}

/* Bystanders' latency over @ms while something else goes on. */
static void lap_over(struct bystanders *b, int ms, const char *what)
{
	struct bystanders_lap lap;

	bystanders_lap(b, &lap);
	itest_sleep_ms(ms);
	bystanders_lap(b, &lap);
	cr_log_info("bystander RTT %s: %llu READs, p50 %.1f us, p99 %.1f us, "
		    "max %.1f us",
		    what, (unsigned long long)lap.n, lap.p50 / 1e3,
		    lap.p99 / 1e3, lap.max / 1e3);
	cr_assert_gt(lap.n, (uint64_t)ms / 10, "bystanders starved %s", what);
	cr_assert_lt(lap.p99, ITEST_SANE_P99_NS, "bystander p99 %.1f ms %s",
		     lap.p99 / 1e6, what);
}

/* A kick "eventfd" that is always readable (/dev/zero): a kick flood
 * that costs the front-end nothing. */
ITEST(faults, kick_fd_always_readable)
{
	struct vdaemon *d = itest_start(NULL);
	struct bystanders *b = itest_bystanders(d);
	struct itest_usage before;
	uint64_t idx = 0;
	struct vuf *v;
	int zero;

	itest_usage(d, &before);
	v = itest_vm(vdaemon_socket(d, 0), NULL);
	zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(zero, 0);
	cr_assert_eq(vuf_msg_send(v, VHOST_USER_SET_VRING_KICK, 0, &idx,
				  sizeof(idx), &zero, 1),
		     0, "%s", vuf_error(v));
	close(zero);
	cr_assert_eq(vuf_ping(v), 0, "%s", vuf_error(v));
	lap_over(b, 2000, "with /dev/zero as a kick fd");
	itest_read(v, 0); /* served, by the endless "kicks" */
	vuf_free(v);
	itest_expect_no_leak(d, &before, "kick fd always readable");
	itest_bystanders_stop(b);
	itest_stop(d);
}

/*
 * A front-end flooding the socket with messages that need no reply,
 * each carrying an fd (SET_VRING_CALL, alternating two eventfds): the
 * others keep their share, and no fd is left behind.
 */
ITEST(faults, message_flood_with_fds)
{
	struct vdaemon *d = itest_start(NULL);
	struct bystanders *b = itest_bystanders(d);
	struct bystanders_lap lap;
	struct itest_usage before;
	unsigned long sent = 0;
	int64_t t0, end;
	struct vuf *v;

	itest_usage(d, &before);
	v = itest_vm(vdaemon_socket(d, 0), NULL);
	bystanders_lap(b, &lap);
	t0 = time_ns_now(CLOCK_MONOTONIC);
	end = t0 + 2000000000ll;
	while (time_ns_now(CLOCK_MONOTONIC) < end) {
		cr_assert_eq(vuf_mask_call(v, 0, sent % 2 == 0), 0, "%s",
			     vuf_error(v));
		sent++;
	}
	bystanders_lap(b, &lap);
	cr_assert_eq(vuf_mask_call(v, 0, false), 0, "%s", vuf_error(v));
	cr_assert_eq(vuf_ping(v), 0, "%s", vuf_error(v));
	cr_log_info("%lu SET_VRING_CALL in %.1f s; bystander RTT meanwhile: "
		    "%llu READs, p50 %.1f us, p99 %.1f us, max %.1f us",
		    sent, (double)(time_ns_now(CLOCK_MONOTONIC) - t0) / 1e9,
		    (unsigned long long)lap.n, lap.p50 / 1e3, lap.p99 / 1e3,
		    lap.max / 1e3);
	cr_assert_gt(lap.n, 200, "bystanders starved by the message flood");
	cr_assert_lt(lap.p99, ITEST_SANE_P99_NS, "bystander p99 %.1f ms",
		     lap.p99 / 1e6);
	itest_read(v, 3);
	vuf_free(v);
	itest_expect_no_leak(d, &before, "message flood");
	itest_bystanders_stop(b);
	itest_stop(d);
}
