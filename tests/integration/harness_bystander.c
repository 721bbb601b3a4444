// SPDX-License-Identifier: MIT
/*
 * Bystander VMs: see harness_bystander.h.
 *
 * Each in-flight READ carries its submission time (CLOCK_REALTIME ns)
 * and clock id in the cookie, so a completion is checked against the
 * interval [submitted, seen] without any per-slot bookkeeping here.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "frontend/frontend.h"
#include "harness_bystander.h"

#define BY_NCLOCKS 4
#define BY_TAI_UTC_NS 37000000000ll
#define BY_SLACK_NS 5000000ll
#define BY_BUCKETS 1024
#define BY_MAX_THREADS 16

struct by_vm {
	struct vuf *v;
	uint64_t last[BY_NCLOCKS]; /* last reading of each clock */
	int64_t last_done_ns;	   /* CLOCK_MONOTONIC of the last completion */
	unsigned int seed;
};

struct by_worker {
	pthread_t th;
	struct bystanders *b;
	unsigned int first, count; /* its VMs */
	bool running;
};

struct bystanders {
	struct bystanders_opts o;
	struct by_vm *vm;
	struct by_worker w[BY_MAX_THREADS];
	volatile int stop;

	pthread_mutex_t lock; /* everything below */
	uint64_t hist[BY_BUCKETS];
	uint64_t lap_n, lap_sum_ns, lap_max_ns;
	int64_t lap_start_ns;
	struct bystanders_totals tot;
};

void bystanders_opts_init(struct bystanders_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->vms = 4;
	o->threads = 1;
	o->inflight = 1;
	o->queue_size = 64;
	o->stall_ms = 5000;
}

void bystanders_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Log-linear: 16 exact buckets, then 16 per power of two (~6 %). */
static unsigned int by_bucket(uint64_t ns)
{
	unsigned int e;

	if (ns < 16) {
		return (unsigned int)ns;
	}
	e = 63u - (unsigned int)__builtin_clzll(ns);
	return 16 + (e - 4) * 16 + (unsigned int)((ns >> (e - 4)) & 15);
}

/* The largest value bucket @i holds. */
static double by_bucket_top(unsigned int i)
{
	unsigned int e, sub;

	if (i < 16) {
		return i;
	}
	e = (i - 16) / 16 + 4;
	sub = (i - 16) % 16;
	return (double)(((uint64_t)(16 + sub + 1) << (e - 4)) - 1);
}

static double by_quantile(const uint64_t *hist, uint64_t n, double q)
{
	uint64_t want = (uint64_t)((double)n * q), seen = 0;
	unsigned int i;

	if (want >= n) {
		want = n - 1;
	}
	for (i = 0; i < BY_BUCKETS; i++) {
		seen += hist[i];
		if (seen > want) {
			return by_bucket_top(i);
		}
	}
	return by_bucket_top(BY_BUCKETS - 1);
}

/* Record an error (under b->lock). */
static void by_error(struct bystanders *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void by_error(struct bystanders *b, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&b->lock);
	if (b->tot.errors++ == 0) {
		va_start(ap, fmt);
		vsnprintf(b->tot.first_error, sizeof(b->tot.first_error), fmt,
			  ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&b->lock);
}

/* Is @utc within [@t0, @t1] (REALTIME ns), plus 0 or a step offset? */
static bool by_near(const struct bystanders *b, int64_t utc, int64_t t0,
		    int64_t t1)
{
	unsigned int n = b->o.n_step_offsets;

	if (utc >= t0 - BY_SLACK_NS && utc <= t1 + BY_SLACK_NS) {
		return true;
	}
	for (unsigned int k = 0; k < n && k < BYSTANDERS_MAX_OFFSETS; k++) {
		int64_t off = b->o.step_offsets_ns[k];

		if (utc >= t0 + off - BY_SLACK_NS &&
		    utc <= t1 + off + BY_SLACK_NS) {
			return true;
		}
	}
	return false;
}

/* Check one reading of @id taken between @t0 and @t1 (REALTIME ns). */
static int by_check(struct bystanders *b, unsigned int i, uint16_t id,
		    uint64_t ns, int64_t t0, int64_t t1)
{
	struct by_vm *vm = &b->vm[i];
	int64_t utc = (int64_t)ns;

	if (id == 1) {
		utc -= BY_TAI_UTC_NS;
	}
	if (id != 2 && !by_near(b, utc, t0, t1)) {
		by_error(b, "VM %u clock %u: %lld outside [%lld, %lld]%s", i,
			 id, (long long)utc, (long long)t0, (long long)t1,
			 b->o.n_step_offsets ? " plus every step offset" : "");
		return -1;
	}
	if (ns < vm->last[id] && (id == 2 || !b->o.n_step_offsets)) {
		by_error(b, "VM %u clock %u went back %llu -> %llu", i, id,
			 (unsigned long long)vm->last[id],
			 (unsigned long long)ns);
		return -1;
	}
	vm->last[id] = ns;
	return 0;
}

static int by_submit(struct bystanders *b, unsigned int i)
{
	struct by_vm *vm = &b->vm[i];
	struct virtio_rtc_req_read rd;
	bool any = false;

	while (vuf_inflight(vm->v, 0) < b->o.inflight) {
		uint16_t id = (uint16_t)(rand_r(&vm->seed) % BY_NCLOCKS);
		uint64_t ck = (uint64_t)time_ns_now(CLOCK_REALTIME) << 2 | id;

		vuf_rtc_req_read(&rd, id);
		if (vuf_submit(vm->v, 0, &rd, sizeof(rd), 16, NULL, ck)) {
			by_error(b, "VM %u submit: %s", i, vuf_error(vm->v));
			return -1;
		}
		any = true;
	}
	if (any && vuf_kick(vm->v, 0) < 0) {
		by_error(b, "VM %u kick: %s", i, vuf_error(vm->v));
		return -1;
	}
	return 0;
}

/* Take and check every completion of VM @i. Returns -1 on a ring error. */
static int by_reap(struct bystanders *b, unsigned int i, int64_t mono)
{
	struct by_vm *vm = &b->vm[i];
	struct vuf_completion c;
	int r;

	while ((r = vuf_poll(vm->v, 0, &c)) > 0) {
		int64_t t1 = time_ns_now(CLOCK_REALTIME);
		int64_t t0 = (int64_t)(c.cookie >> 2);
		uint16_t id = (uint16_t)(c.cookie & 3);
		uint64_t ns, lat = t1 > t0 ? (uint64_t)(t1 - t0) : 0;

		vm->last_done_ns = mono;
		if (c.len != 16 || c.resp[0] != VIRTIO_RTC_S_OK) {
			by_error(b, "VM %u clock %u: status %u, used len %u", i,
				 id, c.resp[0], c.len);
		} else {
			memcpy(&ns, c.resp + 8, sizeof(ns));
			(void)by_check(b, i, id, le64toh(ns), t0, t1);
		}
		pthread_mutex_lock(&b->lock);
		b->tot.requests++;
		b->hist[by_bucket(lat)]++;
		b->lap_n++;
		b->lap_sum_ns += lat;
		if (lat > b->lap_max_ns) {
			b->lap_max_ns = lat;
		}
		pthread_mutex_unlock(&b->lock);
	}
	if (r < 0) {
		by_error(b, "VM %u ring: %s", i, vuf_error(vm->v));
	}
	return r;
}

static void *by_worker_main(void *arg)
{
	struct by_worker *w = arg;
	struct bystanders *b = w->b;
	int64_t stall_ns = (int64_t)b->o.stall_ms * 1000000;
	unsigned int i;

	while (!b->stop) {
		int64_t mono = time_ns_now(CLOCK_MONOTONIC);

		for (i = w->first; i < w->first + w->count; i++) {
			struct by_vm *vm = &b->vm[i];

			if (by_reap(b, i, mono) < 0 || by_submit(b, i) < 0) {
				return NULL;
			}
			if (mono - vm->last_done_ns > stall_ns) {
				by_error(b, "VM %u: no answer for %u ms", i,
					 b->o.stall_ms);
				return NULL;
			}
		}
		if (b->o.pause_us) {
			usleep(b->o.pause_us);
		}
	}
	return NULL;
}

/* After the workers stopped: drain, then one synchronous READ each. */
static void by_finish_vm(struct bystanders *b, unsigned int i)
{
	struct by_vm *vm = &b->vm[i];
	int64_t deadline =
		time_ns_now(CLOCK_MONOTONIC) + (int64_t)b->o.stall_ms * 1000000;
	uint64_t ns;

	while (vuf_inflight(vm->v, 0) > 0) {
		if (by_reap(b, i, time_ns_now(CLOCK_MONOTONIC)) < 0) {
			return;
		}
		if (time_ns_now(CLOCK_MONOTONIC) > deadline) {
			by_error(b, "VM %u: %u requests never answered", i,
				 vuf_inflight(vm->v, 0));
			return;
		}
	}
	if (vuf_rtc_read(vm->v, 2, &ns)) {
		by_error(b, "VM %u last READ: %s", i, vuf_error(vm->v));
	} else if (ns < vm->last[2]) {
		by_error(b, "VM %u MONOTONIC went back at the end", i);
	}
}

static void by_free(struct bystanders *b)
{
	unsigned int i;

	for (i = 0; i < b->o.vms; i++) {
		vuf_free(b->vm[i].v);
	}
	pthread_mutex_destroy(&b->lock);
	free(b->vm);
	free(b);
}

static struct bystanders *by_fail(struct bystanders *b, char *err, size_t len,
				  const char *what, unsigned int i)
{
	snprintf(err, len, "bystander %u %s: %s", i, what,
		 b->vm[i].v ? vuf_error(b->vm[i].v) : strerror(errno));
	by_free(b);
	return NULL;
}

struct bystanders *bystanders_start(const struct bystanders_opts *o, char *err,
				    size_t len)
{
	struct bystanders *b = calloc(1, sizeof(*b));
	struct vuf_opts vo;
	unsigned int i, per;
	uint64_t ns;

	if (!b) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	b->o = *o;
	if (b->o.threads == 0 || b->o.threads > BY_MAX_THREADS) {
		b->o.threads = 1;
	}
	if (b->o.threads > b->o.vms) {
		b->o.threads = b->o.vms ? b->o.vms : 1;
	}
	pthread_mutex_init(&b->lock, NULL);
	b->vm = calloc(b->o.vms ? b->o.vms : 1, sizeof(*b->vm));
	if (!b->vm) {
		snprintf(err, len, "out of memory");
		pthread_mutex_destroy(&b->lock);
		free(b);
		return NULL;
	}
	vuf_opts_init(&vo);
	vo.queue_size = b->o.queue_size;
	vo.timeout_ms = (int)b->o.stall_ms;
	for (i = 0; i < b->o.vms; i++) {
		b->vm[i].seed = 4242 + i;
		if (vuf_open(&b->vm[i].v, o->sock, &vo)) {
			return by_fail(b, err, len, "setup", i);
		}
		if (vuf_rtc_read(b->vm[i].v, 2, &ns)) {
			return by_fail(b, err, len, "first READ", i);
		}
		b->vm[i].last[2] = ns;
		b->vm[i].last_done_ns = time_ns_now(CLOCK_MONOTONIC);
		vuf_set_interrupts(b->vm[i].v, 0, false);
	}
	b->lap_start_ns = time_ns_now(CLOCK_MONOTONIC);
	per = (b->o.vms + b->o.threads - 1) / b->o.threads;
	for (i = 0; i < b->o.threads; i++) {
		struct by_worker *w = &b->w[i];

		w->b = b;
		w->first = i * per;
		w->count = w->first >= b->o.vms	       ? 0
			   : w->first + per > b->o.vms ? b->o.vms - w->first
						       : per;
		if (pthread_create(&w->th, NULL, by_worker_main, w)) {
			snprintf(err, len, "pthread_create failed");
			(void)bystanders_stop(b, NULL);
			return NULL;
		}
		w->running = true;
	}
	return b;
}

void bystanders_lap(struct bystanders *b, struct bystanders_lap *out)
{
	int64_t now = time_ns_now(CLOCK_MONOTONIC);

	pthread_mutex_lock(&b->lock);
	memset(out, 0, sizeof(*out));
	out->n = b->lap_n;
	out->wall_s = (double)(now - b->lap_start_ns) / 1e9;
	if (b->lap_n) {
		out->p50 = by_quantile(b->hist, b->lap_n, 0.5);
		out->p99 = by_quantile(b->hist, b->lap_n, 0.99);
		out->p999 = by_quantile(b->hist, b->lap_n, 0.999);
		out->max = (double)b->lap_max_ns;
		out->mean = (double)b->lap_sum_ns / (double)b->lap_n;
	}
	memset(b->hist, 0, sizeof(b->hist));
	b->lap_n = b->lap_sum_ns = b->lap_max_ns = 0;
	b->lap_start_ns = now;
	pthread_mutex_unlock(&b->lock);
}

void bystanders_totals(struct bystanders *b, struct bystanders_totals *t)
{
	pthread_mutex_lock(&b->lock);
	*t = b->tot;
	pthread_mutex_unlock(&b->lock);
}

int bystanders_stop(struct bystanders *b, struct bystanders_totals *t)
{
	unsigned int i;
	int ret;

	if (!b) {
		return 0;
	}
	b->stop = 1;
	for (i = 0; i < b->o.threads; i++) {
		if (b->w[i].running) {
			pthread_join(b->w[i].th, NULL);
		}
	}
	for (i = 0; i < b->o.vms && b->tot.errors == 0; i++) {
		by_finish_vm(b, i);
	}
	if (t) {
		*t = b->tot;
	}
	ret = b->tot.errors ? -1 : 0;
	by_free(b);
	return ret;
}
