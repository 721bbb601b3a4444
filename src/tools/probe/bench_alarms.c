// SPDX-License-Identifier: MIT
/*
 * probe bench, alarm part (--only alarms; also in the default run):
 *
 *  A. Per-alarm cost of arming (SET_ALARM through rtcdev_handle() into the
 *     process-wide heap) and of firing (the timer's poll after a model
 *     step, up to the notification being ready), in process, with 1k,
 *     10k and 100k alarms side by side (devices of 400 UTC clocks each,
 *     as 256 VMs of 391 clocks would be). O(log n) shows as a slowly
 *     growing per-alarm cost; the ratios are printed.
 *  B. The daemon's idle CPU with 100,000 alarms armed an hour ahead
 *     across 256 VMs (391 alarm clocks each), measured from
 *     /proc/PID/stat over a quiet interval.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock_model_writer.h"
#include "alarm_timer.h"
#include "bench_alarms.h"
#include "frontend.h"
#include "frontend_daemon.h"
#include "leap.h"
#include "time_ns.h"
#include "virtio_rtc.h"

#define CLOCKS_PER_DEV 400
#define IDLE_VMS 256u
#define IDLE_CLOCKS 391u /* 256 * 391 = 100,096 alarms */

static double now_s(void)
{
	return (double)time_ns_now(CLOCK_MONOTONIC) / (double)NS_PER_S;
}

/*
 * The benchmark owns this in-process model and is its only writer, as
 * clock_model_writer.h allows; no daemon's model is touched.
 */
static void publish(struct clock_model *m, const struct leap_table *l,
		    int64_t tai)
{
	struct clock_snapshot s;

	memset(&s, 0, sizeof(s));
	s.counter = CLOCK_COUNTER_MONOTONIC_RAW;
	s.status = CLOCK_STATUS_SYNCHRONIZED;
	s.c0 = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
	s.tai0_ns = tai;
	s.leaps = l;
	clock_model_publish(m, &s);
}

static void cost_at(unsigned int n, struct alarm_cost *r)
{
	static const struct leap_entry e[] = { { 63072000, 10 },
					       { 1483228800, 37 } };
	struct leap_table *l = leap_table_new(e, 2, 4102444800LL);
	struct clock_model *m = clock_model_new();
	unsigned int ndev = (n + CLOCKS_PER_DEV - 1) / CLOCKS_PER_DEV, i, k;
	struct rtcdev_config cfg;
	struct rtcdev_dev **dev = calloc(ndev, sizeof(struct rtcdev_dev *));
	struct alarm_timer *t;
	struct virtio_rtc_req_set_alarm q = { 0 };
	uint8_t resp[VIRTIO_RTC_RESP_MAX];
	int64_t t0 = 1750000000LL * NS_PER_S;
	unsigned int seed = 12345, fired;
	double a, b;

	memset(r, 0, sizeof(*r));
	r->n = n;
	memset(&cfg, 0, sizeof(cfg));
	cfg.num_clocks = CLOCKS_PER_DEV;
	cfg.alarm = true;
	for (i = 0; i < CLOCKS_PER_DEV; i++) {
		cfg.clocks[i].type = VIRTIO_RTC_CLOCK_UTC;
		cfg.clocks[i].ts = TIMESCALE_UTC;
		cfg.clocks[i].alarm_cap = true;
	}
	if (!l || !m || !dev) {
		goto out;
	}
	publish(m, l, t0 + 37 * NS_PER_S);
	t = alarm_timer_new(m);
	for (i = 0; t && i < ndev; i++) {
		dev[i] = rtcdev_dev_new(&cfg, m);
		if (!dev[i] ||
		    rtcdev_dev_attach_alarms(dev[i], t, NULL, NULL)) {
			goto free;
		}
		rtcdev_dev_set_features(dev[i], 1ull << VIRTIO_RTC_F_ALARM);
	}
	q.head.msg_type = htole16(VIRTIO_RTC_REQ_SET_ALARM);
	q.flags = VIRTIO_RTC_FLAG_ALARM_ENABLED;
	a = now_s();
	for (k = 0; k < n; k++) {
		/* Random deadlines within an hour: a realistic heap shape. */
		int64_t at =
			t0 + 1 + (int64_t)(rand_r(&seed) % 3600000) * 1000000LL;

		q.alarm_time = htole64((uint64_t)at);
		q.clock_id = htole16((uint16_t)(k % CLOCKS_PER_DEV));
		(void)rtcdev_handle(dev[k / CLOCKS_PER_DEV], &q, sizeof(q),
				    resp, 8);
		if (resp[0] != VIRTIO_RTC_S_OK) {
			goto free;
		}
	}
	b = now_s();
	r->arm_ns = (b - a) * 1e9 / n;
	/* Step the model an hour and a bit ahead: everything is due. */
	publish(m, l, t0 + 37 * NS_PER_S + 3700 * NS_PER_S);
	a = now_s();
	fired = alarm_timer_poll(t);
	b = now_s();
	r->fire_ns = (b - a) * 1e9 / n;
	r->ok = fired == n;
free:
	for (i = 0; i < ndev; i++) {
		rtcdev_dev_free(dev[i]);
	}
	alarm_timer_free(t);
out:
	free(dev);
	clock_model_free(m);
	leap_table_free(l);
}

void bench_alarm_costs(struct alarm_cost r[3])
{
	static const unsigned int sizes[3] = { 1000, 10000, 100000 };
	unsigned int i;

	for (i = 0; i < 3; i++) {
		fprintf(stderr, "alarms: arm and fire %u\n", sizes[i]);
		cost_at(sizes[i], &r[i]);
	}
}

void bench_alarm_idle(double idle_s, struct alarm_idle *r)
{
	char *clocks = malloc(IDLE_CLOCKS * 4 + 1);
	const char *args[] = { "--clocks", clocks, "--max-connections", "0",
			       NULL };
	struct vdaemon_opts o;
	struct vdaemon *d = NULL;
	struct vuf **v = calloc(IDLE_VMS, sizeof(struct vuf *));
	struct vuf_opts vo;
	unsigned int i, k;
	int64_t c0, c1;
	uint64_t now;
	double a, b;
	char why[8192];

	memset(r, 0, sizeof(*r));
	if (!clocks || !v) {
		goto out;
	}
	clocks[0] = 0;
	for (i = 0; i < IDLE_CLOCKS; i++) {
		strcat(clocks, i ? ",utc" : "utc");
	}
	vdaemon_opts_init(&o);
	o.args = args;
	d = vdaemon_start(&o, why, sizeof(why));
	if (!d) {
		fprintf(stderr, "alarms: daemon: %s\n", why);
		goto out;
	}
	vuf_opts_init(&vo);
	vo.device_features = 1ull << VIRTIO_RTC_F_ALARM;
	vo.started_queues = 2;
	vo.queue_size = 64;
	fprintf(stderr, "alarms: arming %u alarms in %u VMs\n",
		IDLE_VMS * IDLE_CLOCKS, IDLE_VMS);
	a = now_s();
	for (i = 0; i < IDLE_VMS; i++) {
		if (vuf_open(&v[i], vdaemon_socket(d, 0), &vo) ||
		    vuf_rtc_read(v[i], 0, &now)) {
			fprintf(stderr, "alarms: VM %u: %s\n", i,
				v[i] ? vuf_error(v[i]) : "");
			goto out;
		}
		for (k = 0; k < IDLE_CLOCKS; k++) {
			/* An hour ahead, spread over a minute. */
			if (vuf_rtc_set_alarm(v[i], (uint16_t)k,
					      now + 3600 * NS_PER_S +
						      (k * 997 + i) % 60 *
							      NS_PER_S,
					      true, NULL)) {
				fprintf(stderr, "alarms: SET_ALARM failed\n");
				goto out;
			}
			r->armed++;
		}
	}
	b = now_s();
	r->arm_wall_s = b - a;
	usleep(200000);
	c0 = vdaemon_cpu_ns(d);
	a = now_s();
	usleep((useconds_t)(idle_s * 1e6));
	c1 = vdaemon_cpu_ns(d);
	b = now_s();
	r->idle_cpu_pct = (double)(c1 - c0) / 1e9 / (b - a) * 100.0;
	r->idle_s = b - a;
	r->rss_kb = vdaemon_rss_kb(d);
	r->ok = c0 >= 0 && c1 >= c0;
out:
	for (i = 0; v && i < IDLE_VMS; i++) {
		vuf_free(v[i]);
	}
	free(v);
	if (d) {
		(void)vdaemon_stop(d, 5000, why, sizeof(why));
	}
	free(clocks);
}

void bench_alarm_report(FILE *f, const struct alarm_cost c[3],
			const struct alarm_idle *idle)
{
	unsigned int i;

	fprintf(f, "\nAlarms: per-alarm cost, one heap for all (in process, "
		   "side by side)\n");
	fprintf(f, "  %8s %12s %12s %10s %10s\n", "alarms", "arm ns", "fire ns",
		"arm/1k", "fire/1k");
	for (i = 0; i < 3; i++) {
		if (!c[i].ok) {
			fprintf(f, "  %8u FAILED\n", c[i].n);
			continue;
		}
		fprintf(f, "  %8u %12.0f %12.0f %10.2f %10.2f\n", c[i].n,
			c[i].arm_ns, c[i].fire_ns,
			c[0].ok ? c[i].arm_ns / c[0].arm_ns : 0,
			c[0].ok ? c[i].fire_ns / c[0].fire_ns : 0);
	}
	if (!idle) {
		return;
	}
	if (!idle->ok) {
		fprintf(f, "  idle with %u alarms: FAILED\n", idle->armed);
		return;
	}
	fprintf(f,
		"  daemon idle with %u alarms armed in %u VMs: %.3f %% CPU "
		"over %.1f s (RSS %ld KiB; arming took %.1f s over the "
		"sockets)\n",
		idle->armed, IDLE_VMS, idle->idle_cpu_pct, idle->idle_s,
		idle->rss_kb, idle->arm_wall_s);
}
