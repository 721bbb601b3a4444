// SPDX-License-Identifier: MIT
/*
 * (e) Many VMs at once: 64 front-ends reading concurrently, each
 * checking its own answers, on one daemon thread.
 */
#include <pthread.h>

#include "itest.h"

#define NVMS 64

struct worker {
	pthread_t th;
	const char *sock;
	pthread_barrier_t *start;
	unsigned int seed;
	unsigned int reads;
	char err[256];
};

static int check_reading(struct worker *w, uint16_t id, uint64_t ns, int64_t t0,
			 int64_t t1, uint64_t *last_mono)
{
	if (id == 0 || id == 3) {
		if ((int64_t)ns < t0 - 5000000 || (int64_t)ns > t1 + 5000000) {
			snprintf(w->err, sizeof(w->err),
				 "clock %u read %llu outside [%lld, %lld]", id,
				 (unsigned long long)ns, (long long)t0,
				 (long long)t1);
			return -1;
		}
	} else if (id == 1) {
		int64_t utc = (int64_t)ns - 37000000000ll;

		if (utc < t0 - 5000000 || utc > t1 + 5000000) {
			snprintf(w->err, sizeof(w->err),
				 "TAI-37s %lld outside [%lld, %lld]",
				 (long long)utc, (long long)t0, (long long)t1);
			return -1;
		}
	} else {
		if (ns < *last_mono) {
			snprintf(w->err, sizeof(w->err),
				 "MONOTONIC went back %llu -> %llu",
				 (unsigned long long)*last_mono,
				 (unsigned long long)ns);
			return -1;
		}
		*last_mono = ns;
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct vuf_opts o;
	struct vuf *v = NULL;
	uint64_t last_mono = 0;
	uint16_t n = 0;
	unsigned int i;

	vuf_opts_init(&o);
	o.queue_size = 64;
	o.timeout_ms = 10000;
	if (vuf_open(&v, w->sock, &o)) {
		snprintf(w->err, sizeof(w->err), "setup: %s",
			 v ? vuf_error(v) : "no memory");
		pthread_barrier_wait(w->start);
		vuf_free(v);
		return NULL;
	}
	pthread_barrier_wait(w->start);
	if (vuf_rtc_cfg(v, &n, NULL) || n != 4) {
		snprintf(w->err, sizeof(w->err), "CFG: %u clocks (%s)", n,
			 vuf_error(v));
		goto out;
	}
	for (i = 0; i < w->reads; i++) {
		uint16_t id = (uint16_t)(rand_r(&w->seed) % 4);
		int64_t t0 = time_ns_now(CLOCK_REALTIME), t1;
		uint64_t ns;

		if (vuf_rtc_read(v, id, &ns)) {
			snprintf(w->err, sizeof(w->err), "read %u: %s", i,
				 vuf_error(v));
			goto out;
		}
		t1 = time_ns_now(CLOCK_REALTIME);
		if (check_reading(w, id, ns, t0, t1, &last_mono)) {
			goto out;
		}
	}
out:
	vuf_free(v);
	return NULL;
}

static void vms_64_threads_run(const char *poll_ns)
{
	static struct worker w[NVMS];
	struct vdaemon *d = itest_start_poll(poll_ns);
	pthread_barrier_t start;
	unsigned int i;

	pthread_barrier_init(&start, NULL, NVMS);
	cr_log_info("seed base 1000");
	for (i = 0; i < NVMS; i++) {
		w[i] = (struct worker){ .sock = vdaemon_socket(d, 0),
					.start = &start,
					.seed = 1000 + i,
					.reads = 300 };
		cr_assert_eq(pthread_create(&w[i].th, NULL, worker_main, &w[i]),
			     0);
	}
	for (i = 0; i < NVMS; i++) {
		pthread_join(w[i].th, NULL);
	}
	for (i = 0; i < NVMS; i++) {
		cr_expect_str_empty(w[i].err, "VM %u: %s", i, w[i].err);
	}
	pthread_barrier_destroy(&start);
	itest_stop(d);
}

ITEST(scale, vms_64_threads)
{
	vms_64_threads_run(NULL);
}

ITEST(scale, vms_64_threads_event_driven)
{
	vms_64_threads_run("0");
}

ITEST(scale, vms_64_threads_busy_polling)
{
	vms_64_threads_run("10000000");
}

/* One thread keeping 16 requests in flight on each of 64 VMs. */
static void vms_64_pipelined_run(const char *poll_ns)
{
	struct vdaemon *d = itest_start_poll(poll_ns);
	struct vuf *v[NVMS];
	uint64_t last_mono[NVMS] = { 0 }, done = 0, sent = 0;
	const uint64_t total = 64000;
	unsigned int i, seed = 77;
	int64_t deadline;

	cr_log_info("seed %u", seed);
	for (i = 0; i < NVMS; i++) {
		v[i] = itest_vm(vdaemon_socket(d, 0), NULL);
		vuf_set_interrupts(v[i], 0, false);
	}
	deadline = time_ns_now(CLOCK_MONOTONIC) + 40000000000ll;
	while (done < total) {
		cr_assert_lt(time_ns_now(CLOCK_MONOTONIC), deadline,
			     "stalled at %llu of %llu",
			     (unsigned long long)done,
			     (unsigned long long)total);
		for (i = 0; i < NVMS; i++) {
			struct vuf_completion c;
			int got = 0;

			while (sent < total && vuf_inflight(v[i], 0) < 16) {
				struct virtio_rtc_req_read rd;
				uint16_t id = (uint16_t)(rand_r(&seed) % 4);
				uint64_t ck =
					(uint64_t)time_ns_now(CLOCK_REALTIME)
						<< 2 |
					id;

				vuf_rtc_req_read(&rd, id);
				cr_assert_eq(vuf_submit(v[i], 0, &rd,
							sizeof(rd), 16, NULL,
							ck),
					     0, "%s", vuf_error(v[i]));
				sent++;
				got = 1;
			}
			if (got) {
				cr_assert_geq(vuf_kick(v[i], 0), 0);
			}
			for (;;) {
				int r = vuf_poll(v[i], 0, &c);
				uint64_t ns, t0;
				unsigned int id;

				cr_assert_geq(r, 0, "VM %u: %s", i,
					      vuf_error(v[i]));
				if (!r) {
					break;
				}
				id = c.cookie & 3;
				t0 = c.cookie >> 2;
				cr_assert_eq(c.len, 16);
				cr_assert_eq(c.resp[0], VIRTIO_RTC_S_OK);
				memcpy(&ns, c.resp + 8, 8);
				ns = le64toh(ns);
				if (id == 0 || id == 3) {
					int64_t now =
						time_ns_now(CLOCK_REALTIME);
					int64_t r0 = (int64_t)t0 - 5000000;

					cr_assert((int64_t)ns >= r0 &&
							  (int64_t)ns <=
								  now + 5000000,
						  "VM %u clock %u: %llu", i, id,
						  (unsigned long long)ns);
				} else if (id == 2) {
					cr_assert_geq(ns, last_mono[i]);
					last_mono[i] = ns;
				}
				done++;
			}
		}
	}
	for (i = 0; i < NVMS; i++) {
		vuf_free(v[i]);
	}
	itest_stop(d);
}

ITEST(scale, vms_64_pipelined)
{
	vms_64_pipelined_run(NULL);
}

ITEST(scale, vms_64_pipelined_event_driven)
{
	vms_64_pipelined_run("0");
}

ITEST(scale, vms_64_pipelined_busy_polling)
{
	vms_64_pipelined_run("10000000");
}

struct loader {
	pthread_t th;
	const char *sock;
	volatile int stop;
	uint64_t done;
	char err[256];
};

/* 32 VMs, 16 in flight each, polled by one thread until told to stop. */
static void *loader_main(void *arg)
{
	struct loader *l = arg;
	struct virtio_rtc_req_read rd;
	struct vuf *v[32] = { 0 };
	struct vuf_opts o;
	unsigned int i;

	vuf_opts_init(&o);
	o.queue_size = 64;
	vuf_rtc_req_read(&rd, 0);
	for (i = 0; i < 32; i++) {
		if (vuf_open(&v[i], l->sock, &o)) {
			snprintf(l->err, sizeof(l->err), "setup: %s",
				 v[i] ? vuf_error(v[i]) : "");
			goto out;
		}
		vuf_set_interrupts(v[i], 0, false);
	}
	while (!l->stop) {
		for (i = 0; i < 32; i++) {
			struct vuf_completion c;
			int r;

			while ((r = vuf_poll(v[i], 0, &c)) > 0) {
				l->done++;
			}
			if (r < 0) {
				snprintf(l->err, sizeof(l->err), "%s",
					 vuf_error(v[i]));
				goto out;
			}
			while (vuf_inflight(v[i], 0) < 16) {
				vuf_submit(v[i], 0, &rd, sizeof(rd), 16, NULL,
					   0);
			}
			vuf_kick(v[i], 0);
		}
	}
out:
	for (i = 0; i < 32; i++) {
		vuf_free(v[i]);
	}
	return NULL;
}

/* While the data path is saturated, new VMs still get their vhost-user
 * replies promptly: polling must not starve the control sockets. */
static void control_plane_under_load_run(const char *poll_ns)
{
	struct vdaemon *d = itest_start_poll(poll_ns);
	struct loader l = { .sock = vdaemon_socket(d, 0) };
	int64_t worst = 0;
	uint64_t before;
	unsigned int i;

	cr_assert_eq(pthread_create(&l.th, NULL, loader_main, &l), 0);
	itest_sleep_ms(300);
	before = l.done;
	for (i = 0; i < 20; i++) {
		int64_t t0 = time_ns_now(CLOCK_MONOTONIC), dt;
		struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);

		itest_read(v, 0);
		dt = time_ns_now(CLOCK_MONOTONIC) - t0;
		worst = dt > worst ? dt : worst;
		vuf_free(v);
	}
	l.stop = 1;
	pthread_join(l.th, NULL);
	cr_assert_str_empty(l.err, "load generator: %s", l.err);
	cr_assert_gt(l.done, before, "no load while connecting");
	cr_log_info("worst VM setup + first read under load: %lld us "
		    "(%llu requests of load)",
		    (long long)(worst / 1000), (unsigned long long)l.done);
	cr_assert_lt(worst, 500000000, "a VM setup took %lld ms under load",
		     (long long)(worst / 1000000));
	itest_stop(d);
}

ITEST(scale, control_plane_under_load)
{
	control_plane_under_load_run(NULL);
}

ITEST(scale, control_plane_under_load_busy_polling)
{
	control_plane_under_load_run("10000000");
}
