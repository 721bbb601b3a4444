// SPDX-License-Identifier: MIT
/*
 * A time source stepping by seconds, through the whole daemon (issue 6):
 * the real binary follows a fake gpsd over a real TCP socket
 * (harness_fakegpsd.h: PPS reports whose receiver time the test offsets
 * from the host's REALTIME), with --system-clock off so it is the only
 * source, while bystander VMs (harness_bystander.h) keep READs in flight
 * and a test VM with alarms watches the served clocks.
 *
 * Why gpsd and not chronyd or ptp4l: the chronyd source serves the
 * host's CLOCK_REALTIME and takes only the error bound from chronyd's
 * TRACKING reply, so a fake chronyd cannot make it step without stepping
 * the shared test host's clock; the ptp4l route needs a PHC, and the test
 * host has none. gpsd's PPS report carries the receiver's time itself.
 *
 * What the code specifies, and what is asserted (sync/estimator.h):
 * a sample further from the model than its bound plus the model's is an
 * outlier (model UNRELIABLE); outlier_reinit (3) in a row that agree
 * restart the filter from them and step the model (logged "stepped the
 * model by"), status INITIALIZING until min_samples (8) good samples,
 * then SYNCHRONIZED. MONOTONIC is carried across (mono0 = the old
 * model's MONOTONIC at c0): it neither goes back nor jumps with the step.
 * Alarms (VIRTIO 1.4 §5.23, Alarm Operation): an event when the clock steps
 * from before the alarm time to at or after it; after a backward step
 * to before it, a new event when the clock progresses to it again.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_fakegpsd.h"
#include "itest_alarm.h"
#include "itest_faults.h"

#define NS 1000000000LL
#define MS 1000000LL
#define STEP_NS (5 * NS)
#define CLK_UTC 0
#define CLK_TAI 1
#define CLK_MONO 2
#define CLK_SMEARED 3
/* the fake's report period and the daemon's sampling interval */
#define GPSD_PERIOD_MS 50
#define SYNC_MS "100"
/* served UTC vs REALTIME + offset, read through a loaded ring */
#define NEAR_NS (50 * MS)

static struct fake_gpsd *gps;

static void rig_fini(void)
{
	itest_fini();
	fake_gpsd_stop(gps);
	gps = NULL;
}

#define STEP_TEST(name)                                                        \
	Test(source_step, name, .init = itest_init, .fini = rig_fini,          \
	     .timeout = ITEST_TIMEOUT)

static int64_t now_ns(int clk)
{
	return time_ns_now(clk);
}

/* The fake gpsd, and the daemon following it alone, synchronized. */
static struct vdaemon *rig_start(void)
{
	char err[256], server[32];
	struct vdaemon *d;

	gps = fake_gpsd_start(GPSD_PERIOD_MS, err, sizeof(err));
	cr_assert(gps, "%s", err);
	snprintf(server, sizeof(server), "127.0.0.1:%d", fake_gpsd_port(gps));
	d = itest_startl("--gpsd", server, "--system-clock", "off",
			 "--sync-interval-ms", SYNC_MS);
	cr_assert(itest_wait_log(d, 0, "model synchronized", 20000),
		  "never synchronized on the fake gpsd; log:\n%s",
		  itest_log_from(d, 0));
	return d;
}

static struct bystanders *rig_bystanders(struct vdaemon *d, const int64_t *offs,
					 unsigned int n)
{
	struct bystanders_opts o;

	itest_bystanders_opts(d, &o);
	o.pause_us = 1000; /* leave the 2 shared CPUs to the daemon */
	memcpy(o.step_offsets_ns, offs, n * sizeof(*offs));
	o.n_step_offsets = n;
	return itest_bystanders_start(&o);
}

/* The alarm of @clock is still enabled, at @t. */
static void expect_alarm_enabled(struct vuf *v, uint16_t clock, uint64_t t)
{
	uint64_t at = 0;
	uint8_t flags = 0;

	cr_assert_eq(itest_read_alarm(v, clock, &at, &flags), VIRTIO_RTC_S_OK);
	cr_assert_eq(at, t);
	cr_assert_eq(flags, VIRTIO_RTC_FLAG_ALARM_ENABLED);
}

/* ---- what the test VM sees */

struct watch {
	struct vuf *v;
	uint64_t last_mono;
	int64_t mono0, host0; /* MONOTONIC served and host's, at the start */
};

static void watch_start(struct watch *w, struct vuf *v)
{
	w->v = v;
	w->host0 = now_ns(CLOCK_MONOTONIC);
	w->mono0 = (int64_t)itest_read(v, CLK_MONO);
	w->last_mono = (uint64_t)w->mono0;
}

/* Served UTC minus host REALTIME now, ns; MONOTONIC must not go back. */
static int64_t watch_offset(struct watch *w)
{
	int64_t t0 = now_ns(CLOCK_REALTIME);
	int64_t utc = (int64_t)itest_read(w->v, CLK_UTC);
	int64_t t1 = now_ns(CLOCK_REALTIME);
	uint64_t mono = itest_read(w->v, CLK_MONO);

	cr_assert_geq(mono, w->last_mono, "MONOTONIC went back by %llu ns",
		      (unsigned long long)(w->last_mono - mono));
	w->last_mono = mono;
	return utc - (t0 + (t1 - t0) / 2);
}

/* MONOTONIC advanced with the host's MONOTONIC: no jump with a step. */
static void watch_expect_continuous(struct watch *w)
{
	int64_t host = now_ns(CLOCK_MONOTONIC) - w->host0;
	int64_t mono = (int64_t)itest_read(w->v, CLK_MONO) - w->mono0;

	cr_log_info("MONOTONIC advanced %lld ns, the host's %lld ns",
		    (long long)mono, (long long)host);
	cr_assert_lt(llabs(mono - host), 250 * MS,
		     "MONOTONIC advanced %lld ns while the host's did %lld ns",
		     (long long)mono, (long long)host);
}

/*
 * Wait up to @ms until the served UTC is within NEAR_NS of REALTIME +
 * @off; fails if any alarm notification comes meanwhile and @quiet.
 */
static void wait_offset(struct watch *w, int64_t off, int ms, bool quiet)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + ms * MS, got = 0;

	while (now_ns(CLOCK_MONOTONIC) < end) {
		got = watch_offset(w);
		if (llabs(got - off) < NEAR_NS) {
			return;
		}
		if (quiet) {
			int id = itest_wait_notif(w->v, 20, true);

			cr_assert_eq(id, -1,
				     "notification for clock %d while "
				     "the step was pending",
				     id);
		} else {
			itest_sleep_ms(20);
		}
	}
	cr_assert_fail("served UTC at %+lld ns from REALTIME, not %+lld",
		       (long long)got, (long long)off);
}

/* The model stepped by about @step_ns since @from, logged as such. */
static void expect_step_logged(struct vdaemon *d, size_t from, int64_t step_ns)
{
	const char *l, *p;
	double by;

	cr_assert(itest_wait_log(d, from, "stepped the model by", 5000),
		  "no step logged:\n%s", itest_log_from(d, from));
	l = itest_log_from(d, from);
	p = strstr(l, "stepped the model by");
	cr_assert_eq(sscanf(p, "stepped the model by %lf", &by), 1);
	cr_log_info("logged: %.40s", p);
	cr_assert_lt(fabs(by - (double)step_ns), 20e6, "stepped by %.0f ns",
		     by);
	cr_assert(strstr(l, "contradict the model: restarting"), "%s", l);
}

/*
 * The status went UNRELIABLE (the outlier streak), INITIALIZING (the
 * restart) and back to SYNCHRONIZED, in that order, after @from.
 */
static void expect_status_walk(struct vdaemon *d, size_t from)
{
	const char *l, *u, *i, *s;

	cr_assert(itest_wait_log(d, from, "model synchronized", 15000),
		  "not synchronized again:\n%s", itest_log_from(d, from));
	l = itest_log_from(d, from);
	u = strstr(l, "model unreliable");
	i = u ? strstr(u, "model initializing") : NULL;
	s = i ? strstr(i, "model synchronized") : NULL;
	cr_assert(u && i && s,
		  "status not unreliable -> initializing -> synchronized:\n%s",
		  l);
}

/*
 * +5 s: served UTC and TAI follow after the streak, the step is logged,
 * MONOTONIC stays continuous, an alarm 3 s ahead fires at the step (not
 * when the host's clock reaches it) and one 60 s ahead does not.
 */
STEP_TEST(forward_step_follows_and_fires_passed_alarm)
{
	struct vdaemon *d = rig_start();
	int64_t offs[] = { STEP_NS };
	struct itest_usage before;
	struct bystanders *b;
	struct watch w;
	uint64_t near_alarm, far_alarm, smeared;
	int64_t fired_rt, tai_utc;
	struct vuf *v;
	size_t from;
	int id;

	itest_usage(d, &before);
	b = rig_bystanders(d, offs, 1);
	v = itest_alarm_vm(d, 0, 8);
	watch_start(&w, v);
	from = itest_log_len(d);
	near_alarm = itest_read(v, CLK_SMEARED) + 3 * NS;
	far_alarm = itest_read(v, CLK_UTC) + 60 * NS;
	cr_assert_eq(vuf_rtc_set_alarm(v, CLK_SMEARED, near_alarm, true, NULL),
		     0, "%s", vuf_error(v));
	cr_assert_eq(vuf_rtc_set_alarm(v, CLK_UTC, far_alarm, true, NULL), 0,
		     "%s", vuf_error(v));
	fake_gpsd_set_offset(gps, STEP_NS);

	wait_offset(&w, STEP_NS, 10000, false);
	id = itest_wait_notif(v, 5000, true);
	fired_rt = now_ns(CLOCK_REALTIME);
	cr_assert_eq(id, CLK_SMEARED, "notification: clock %d", id);
	smeared = itest_read(v, CLK_SMEARED);
	cr_log_info("alarm fired %.3f s before REALTIME reached it",
		    (double)((int64_t)near_alarm - fired_rt) / NS);
	cr_assert_geq(smeared, near_alarm, "read after the alarm is earlier");
	/* fired by the step, not by the host's clock reaching the time */
	cr_assert_lt(fired_rt, (int64_t)near_alarm - NS,
		     "alarm fired only %.3f s before REALTIME reached it",
		     (double)((int64_t)near_alarm - fired_rt) / NS);

	expect_step_logged(d, from, STEP_NS);
	tai_utc = (int64_t)itest_read(v, CLK_TAI) -
		  (int64_t)itest_read(v, CLK_UTC);
	cr_assert_lt(llabs(tai_utc - 37 * NS), NEAR_NS, "TAI - UTC %lld",
		     (long long)tai_utc);
	watch_expect_continuous(&w);
	expect_status_walk(d, from);
	wait_offset(&w, STEP_NS, 1000, false);
	cr_assert_eq(itest_wait_notif(v, 500, true), -1,
		     "the 60 s alarm fired");
	expect_alarm_enabled(v, CLK_UTC, far_alarm);

	itest_bystanders_stop(b);
	vuf_free(v);
	itest_expect_no_leak(d, &before, "forward step");
	itest_stop(d);
}

/*
 * -5 s: served UTC goes back after the streak, MONOTONIC does not. An
 * alarm that fired before the step is not fired at the step (the clock
 * went back before its time: the event is obsolete), but again, as the
 * spec requires, when the clock reaches its time a second time.
 */
STEP_TEST(backward_step_rearms_a_fired_alarm)
{
	struct vdaemon *d = rig_start();
	int64_t offs[] = { -STEP_NS };
	struct itest_usage before;
	struct bystanders *b;
	struct watch w;
	uint64_t alarm, far_alarm, smeared = 0;
	int64_t end;
	struct vuf *v;
	size_t from;
	int id = -1;

	itest_usage(d, &before);
	b = rig_bystanders(d, offs, 1);
	v = itest_alarm_vm(d, 0, 8);
	alarm = itest_read(v, CLK_SMEARED) + NS / 2;
	cr_assert_eq(vuf_rtc_set_alarm(v, CLK_SMEARED, alarm, true, NULL), 0,
		     "%s", vuf_error(v));
	cr_assert_eq(itest_wait_notif(v, 5000, true), CLK_SMEARED,
		     "first expiration");
	cr_assert_geq(itest_read(v, CLK_SMEARED), alarm);
	far_alarm = itest_read(v, CLK_UTC) + 60 * NS;
	cr_assert_eq(vuf_rtc_set_alarm(v, CLK_UTC, far_alarm, true, NULL), 0,
		     "%s", vuf_error(v));
	watch_start(&w, v);
	from = itest_log_len(d);
	fake_gpsd_set_offset(gps, -STEP_NS);

	wait_offset(&w, -STEP_NS, 10000, true);
	cr_assert_lt(itest_read(v, CLK_SMEARED), alarm,
		     "the clock did not go back before the alarm time");
	expect_step_logged(d, from, -STEP_NS);
	watch_expect_continuous(&w);

	/* progressing to the alarm time again is a new expiration */
	end = now_ns(CLOCK_MONOTONIC) + 15 * NS;
	while (id < 0 && now_ns(CLOCK_MONOTONIC) < end) {
		id = itest_wait_notif(v, 100, true);
		smeared = itest_read(v, CLK_SMEARED);
		(void)watch_offset(&w);
	}
	cr_assert_eq(id, CLK_SMEARED,
		     "no new expiration when the clock reached the alarm "
		     "time again (notification: clock %d)",
		     id);
	cr_assert_geq(smeared, alarm, "notified %lld ns before the alarm time",
		      (long long)(alarm - smeared));
	expect_status_walk(d, from);
	cr_assert_eq(itest_wait_notif(v, 500, true), -1,
		     "a spurious notification");
	expect_alarm_enabled(v, CLK_UTC, far_alarm);

	itest_bystanders_stop(b);
	vuf_free(v);
	itest_expect_no_leak(d, &before, "backward step");
	itest_stop(d);
}

/*
 * A source flapping between 0, +5 s and -5 s every 2 to 6 polls for
 * ~10 s: the daemon keeps serving one of the source's times, bystanders
 * are answered, nothing leaks, and once the source settles the model is
 * SYNCHRONIZED on it again without a restart of the daemon.
 */
STEP_TEST(flapping_source_then_settles)
{
	static const int64_t cycle[] = { STEP_NS, 0, -STEP_NS, 0 };
	static const int holds[] = { 2, 3, 5, 4, 2, 6 };
	struct vdaemon *d = rig_start();
	int64_t offs[] = { STEP_NS, -STEP_NS };
	int64_t end, off;
	struct itest_usage before;
	struct bystanders *b;
	struct watch w;
	uint64_t reports;
	unsigned int k = 0, steps = 0;
	struct vuf *v;
	size_t from;
	const char *p;

	itest_usage(d, &before);
	b = rig_bystanders(d, offs, 2);
	v = itest_vm(vdaemon_socket(d, 0), NULL);
	watch_start(&w, v);
	end = now_ns(CLOCK_MONOTONIC) + 10 * NS;
	while (now_ns(CLOCK_MONOTONIC) < end) {
		int64_t hold_end;

		fake_gpsd_set_offset(gps, cycle[k % 4]);
		hold_end = now_ns(CLOCK_MONOTONIC) +
			   holds[k % 6] * atoi(SYNC_MS) * MS;
		while (now_ns(CLOCK_MONOTONIC) < hold_end) {
			off = watch_offset(&w);
			cr_assert(llabs(off) < NEAR_NS ||
					  llabs(off - STEP_NS) < NEAR_NS ||
					  llabs(off + STEP_NS) < NEAR_NS,
				  "served UTC %+lld ns from REALTIME",
				  (long long)off);
			itest_sleep_ms(20);
		}
		itest_alive(d);
		k++;
	}
	/* end at +5 s, then settle at 0: at least one more step */
	fake_gpsd_set_offset(gps, STEP_NS);
	wait_offset(&w, STEP_NS, 10000, false);
	from = itest_log_len(d);
	reports = fake_gpsd_reports(gps);
	fake_gpsd_set_offset(gps, 0);
	wait_offset(&w, 0, 10000, false);
	expect_step_logged(d, from, -STEP_NS);
	expect_status_walk(d, from);
	/* the source is still connected and followed */
	cr_assert_gt(fake_gpsd_reports(gps), reports);
	for (p = itest_log_from(d, 0); (p = strstr(p, "stepped the model by"));
	     p++) {
		steps++;
	}
	cr_log_info("%u source changes, %u model steps logged", k, steps);
	cr_assert_geq(steps, 3, "only %u steps logged", steps);
	watch_expect_continuous(&w);

	itest_bystanders_stop(b);
	vuf_free(v);
	itest_expect_no_leak(d, &before, "flapping source");
	itest_stop(d);
}
