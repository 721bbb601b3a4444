// SPDX-License-Identifier: MIT
/*
 * No request is lost at the edge of the adaptive poll window.
 *
 * Several VMs each issue READs one at a time and wait for every answer,
 * with a pause before each request drawn uniformly from 0 to 4 x
 * --poll-ns: many requests land just as the daemon's poll window for
 * that queue closes, which is where the hand-over between polling and
 * kicks happens (device/vu_server.c, queue_maybe_sleep()). Every
 * posted request must be used, each within POLLWIN_DEADLINE_MS; a miss
 * names the VM, the request and the ring indexes.
 *
 * The variants cover what front-ends do: kick always (as some VMMs'
 * test front-ends do) or only when the device asks (a Linux guest);
 * wait sleeping on the call eventfd, 1 ms at a time (a guest's driver),
 * or spinning on the used index; EVENT_IDX negotiated or not.
 *
 * No Criterion time limit (`make soak` runs millions of requests): every
 * wait is bounded by POLLWIN_DEADLINE_MS, and the first miss ends a VM.
 *
 * Environment: POLLWIN_REQUESTS (per VM, default 3000; `make soak`
 * raises it), POLLWIN_VMS (default 4), POLLWIN_SEED (default: time).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>

#include "itest.h"

#define POLLWIN_POLL_NS 50000u
#define POLLWIN_DEADLINE_MS 1000
#define POLLWIN_MAX_VMS 16

struct pollwin_cfg {
	bool kick_always;
	bool spin;
	bool event_idx;
};

struct pollwin_vm {
	pthread_t th;
	const char *sock;
	struct pollwin_cfg cfg;
	unsigned int requests;
	unsigned int seed;
	/* results */
	unsigned int done;
	int64_t max_wait_ns;
	char error[256];
};

#define POLLWIN_TEST(name)                                                     \
	Test(poll_window, name, .init = itest_init, .fini = itest_fini,        \
	     .timeout = 0)

static bool itest_log_has(struct vdaemon *d, const char *needle)
{
	static char log[1 << 16];

	vdaemon_read_log(d, log, sizeof(log));
	return strstr(log, needle) != NULL;
}

static void pause_ns(unsigned int ns)
{
	struct timespec ts = { 0, (long)ns };

	if (ns) {
		nanosleep(&ts, NULL);
	}
}

/* Wait for the one request in flight: 0, or -errno. */
static int pollwin_wait(struct vuf *v, const struct pollwin_cfg *cfg,
			struct vuf_completion *c)
{
	int64_t end = time_ns_now(CLOCK_MONOTONIC) +
		      (int64_t)POLLWIN_DEADLINE_MS * 1000000;
	int ret;

	if (cfg->spin) {
		return vuf_spin(v, 0, c, POLLWIN_DEADLINE_MS);
	}
	for (;;) {
		ret = vuf_wait(v, 0, c, 1);
		if (ret != -ETIMEDOUT) {
			return ret;
		}
		if (time_ns_now(CLOCK_MONOTONIC) > end) {
			return -ETIMEDOUT;
		}
	}
}

static void *pollwin_run(void *arg)
{
	struct pollwin_vm *m = arg;
	struct virtio_rtc_req_read req;
	struct vuf_completion c;
	struct vuf_opts o;
	struct vuf *v = NULL;
	unsigned int seed = m->seed;
	int ret;

	vuf_opts_init(&o);
	if (!m->cfg.event_idx) {
		o.ring_features &= ~(1ull << VIRTIO_RING_F_EVENT_IDX);
	}
	ret = vuf_open(&v, m->sock, &o);
	if (ret) {
		snprintf(m->error, sizeof(m->error), "setup: %s",
			 v ? vuf_error(v) : strerror(-ret));
		vuf_free(v);
		return NULL;
	}
	vuf_rtc_req_read(&req, 0);
	for (m->done = 0; m->done < m->requests; m->done++) {
		int64_t t0;

		pause_ns((unsigned int)(rand_r(&seed) %
					(4 * POLLWIN_POLL_NS + 1)));
		ret = vuf_submit(v, 0, &req, sizeof(req), 16, NULL, m->done);
		if (!ret) {
			ret = m->cfg.kick_always ? vuf_kick_force(v, 0)
						 : vuf_kick(v, 0);
		}
		if (ret < 0) {
			snprintf(m->error, sizeof(m->error),
				 "request %u: submit/kick: %s", m->done,
				 vuf_error(v));
			break;
		}
		t0 = time_ns_now(CLOCK_MONOTONIC);
		ret = pollwin_wait(v, &m->cfg, &c);
		if (ret) {
			snprintf(m->error, sizeof(m->error),
				 "request %u never answered (%s): used "
				 "index %u, %u in flight",
				 m->done, strerror(-ret), vuf_used_idx(v, 0),
				 vuf_inflight(v, 0));
			break;
		}
		if (time_ns_now(CLOCK_MONOTONIC) - t0 > m->max_wait_ns) {
			m->max_wait_ns = time_ns_now(CLOCK_MONOTONIC) - t0;
		}
		if (c.cookie != m->done || c.len != 16 || c.resp[0] != 0) {
			snprintf(m->error, sizeof(m->error),
				 "request %u: answer for %" PRIu64
				 ", length %u, status %u",
				 m->done, c.cookie, c.len, c.resp[0]);
			break;
		}
	}
	vuf_free(v);
	return NULL;
}

static void pollwin(const struct pollwin_cfg *cfg)
{
	unsigned int n = itest_env_uint("POLLWIN_REQUESTS", 3000, 1, 100000000);
	unsigned int vms = itest_env_uint("POLLWIN_VMS", 4, 1, POLLWIN_MAX_VMS);
	unsigned int seed = itest_env_uint("POLLWIN_SEED",
					   (unsigned int)time(NULL), 0, ~0u);
	struct pollwin_vm m[POLLWIN_MAX_VMS] = { 0 };
	char poll_ns[16];
	struct vdaemon *d;
	uint64_t posted = 0, answered = 0;
	int64_t worst = 0;
	unsigned int i;

	snprintf(poll_ns, sizeof(poll_ns), "%u", POLLWIN_POLL_NS);
	d = itest_start_poll(poll_ns);
	cr_log_info("seed %u (POLLWIN_SEED), %u VMs x %u READs", seed, vms, n);
	for (i = 0; i < vms; i++) {
		m[i].sock = vdaemon_socket(d, 0);
		m[i].cfg = *cfg;
		m[i].requests = n;
		m[i].seed = seed + i;
		cr_assert_eq(pthread_create(&m[i].th, NULL, pollwin_run, &m[i]),
			     0);
	}
	for (i = 0; i < vms; i++) {
		pthread_join(m[i].th, NULL);
	}
	for (i = 0; i < vms; i++) {
		cr_expect_str_empty(m[i].error, "VM %u (seed %u): %s", i,
				    m[i].seed, m[i].error);
		posted += m[i].requests;
		answered += m[i].done;
		if (m[i].max_wait_ns > worst) {
			worst = m[i].max_wait_ns;
		}
	}
	fprintf(stderr,
		"poll window (%s, %s, %s): %" PRIu64 " of %" PRIu64
		" READs answered, longest wait %.3f ms\n",
		cfg->kick_always ? "kick always" : "kick when asked",
		cfg->spin ? "spinning" : "sleeping",
		cfg->event_idx ? "EVENT_IDX" : "no EVENT_IDX", answered, posted,
		(double)worst / 1e6);
	cr_assert_eq(answered, posted, "%" PRIu64 " READs lost",
		     posted - answered);
	itest_alive(d);
	/* Every request came with its kick or was polled: the sweep that
	 * serves a queue whose kick never came had nothing to do. */
	cr_assert(!itest_log_has(d, "and no kick"),
		  "the daemon had to sweep up a request");
	itest_stop(d);
}

POLLWIN_TEST(kick_always_sleeping_event_idx)
{
	pollwin(&(struct pollwin_cfg){ true, false, true });
}

POLLWIN_TEST(kick_always_sleeping_no_event_idx)
{
	pollwin(&(struct pollwin_cfg){ true, false, false });
}

POLLWIN_TEST(kick_when_asked_sleeping_event_idx)
{
	pollwin(&(struct pollwin_cfg){ false, false, true });
}

POLLWIN_TEST(kick_when_asked_sleeping_no_event_idx)
{
	pollwin(&(struct pollwin_cfg){ false, false, false });
}

POLLWIN_TEST(kick_always_spinning_event_idx)
{
	pollwin(&(struct pollwin_cfg){ true, true, true });
}

POLLWIN_TEST(kick_when_asked_spinning_no_event_idx)
{
	pollwin(&(struct pollwin_cfg){ false, true, false });
}

/*
 * A front-end that does not kick when the device asked (or a kick lost
 * on the way): the request is served by the sweep within two of its
 * periods, counted, and logged once. Without the sweep it would wait
 * forever, as a guest's clock read did.
 */
ITEST(poll_window, request_without_kick_is_served)
{
	struct virtio_rtc_req_read req;
	struct vuf_completion c;
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	int64_t t0, waited;
	int ret;

	(void)itest_read(v, 0);
	itest_sleep_ms(20); /* the poll window (50 us) is long over */
	vuf_rtc_req_read(&req, 0);
	cr_assert_eq(vuf_submit(v, 0, &req, sizeof(req), 16, NULL, 7), 0);
	t0 = time_ns_now(CLOCK_MONOTONIC);
	ret = vuf_spin(v, 0, &c, 2000);
	waited = time_ns_now(CLOCK_MONOTONIC) - t0;
	cr_assert_eq(ret, 0, "an unkicked READ was never served: %s",
		     vuf_error(v));
	cr_assert_eq(c.cookie, 7);
	cr_assert_eq(c.resp[0], 0);
	fprintf(stderr,
		"poll window: an unkicked READ was served after "
		"%.1f ms\n",
		(double)waited / 1e6);
	/* two sweep periods (50 ms) and scheduling slack */
	cr_assert_lt(waited, 500 * 1000000LL, "served after %.1f ms",
		     (double)waited / 1e6);
	cr_assert(itest_log_has(d, "had requests and no kick"),
		  "the sweep did not say what it did");
	/* and the queue works as before */
	(void)itest_read(v, 0);
	vuf_free(v);
	itest_stop(d);
}
