// SPDX-License-Identifier: MIT
/*
 * A leap-table change reaching a guest's armed alarm, through the whole
 * daemon: the real binary, a real vhost-user socket, the test front-end
 * as the guest, and a fake gpsd (harness_fakegpsd.h) on a real TCP
 * socket as the only time source (--system-clock off).
 *
 * VIRTIO 1.4 §5.23.7: an alarm expires when the clock's served value has
 * reached the alarm time. A UTC alarm is kept as a TAI deadline, computed
 * through the published snapshot's leap table (device/alarm_timer.h), so
 * when the table changes every deadline must be computed again; one
 * keyed by the old table fires early by the change in TAI - UTC.
 *
 * How the table changes (sync/leapmerge.h): the daemon is given an
 * EXPIRED leap-seconds.list (TAI - UTC 37 s, written by the test, no #h:
 * only a warning). An expired file ranks below every source's view, so
 * once gpsd's "leapseconds" (GPS - UTC) says 19, i.e. TAI - UTC 38 s
 * (LEAP_AUTH_GNSS), the merge derives a table with TAI - UTC 38 s from
 * today's UTC midnight and logs "... says TAI-UTC 38 s, ... (expired)
 * 37 s; gpsd wins". With 18 (37 s) the views agree and the file's table
 * stays. While the file is current its table wins and nothing changes,
 * so the file must be expired for this input to matter.
 *
 * What the served clocks then do: served UTC = TAI - 38 s drops by 1 s
 * at once; the gpsd source takes the merged table too (set_leaps), so
 * from its next samples the receiver's UTC becomes TAI + 1 s, the served
 * estimator steps the model's TAI after its outlier streak, and served
 * UTC is back on REALTIME a few seconds later. An alarm at UTC T armed
 * before the change was keyed at TAI T + 37 s; it must now fire at
 * T + 38 s, when served UTC reaches T. Keyed by the old table it would
 * fire when served UTC reads T - 1 s.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_fakegpsd.h"
#include "itest_alarm.h"
#include "itest_faults.h"

#define NS 1000000000LL
#define MS 1000000LL
#define CLK_UTC 0
#define CLK_TAI 1
#define GPSD_PERIOD_MS 50
#define SYNC_MS "100"
/* the alarm's distance from UTC now when armed */
#define ALARM_AHEAD_NS (4 * NS)
/* served UTC vs REALTIME + expected offset: loaded 2-core CI with ASan */
#define NEAR_NS (250 * MS)
/* NTP seconds of 1 Jul 2015 and 1 Jan 2017 (IERS leap-seconds.list) */
#define NTP_2015_07_01 3644697600LL
#define NTP_2017_01_01 3692217600LL
#define NTP_UNIX_OFFSET 2208988800LL

static struct fake_gpsd *gps;
static char tmpdir[64];
static char leap_path[96];

static void rig_fini(void)
{
	itest_fini();
	fake_gpsd_stop(gps);
	gps = NULL;
	if (leap_path[0]) {
		unlink(leap_path);
		leap_path[0] = '\0';
	}
	if (tmpdir[0]) {
		rmdir(tmpdir);
		tmpdir[0] = '\0';
	}
}

#define LEAP_TEST(name)                                                        \
	Test(leap_alarm, name, .init = itest_init, .fini = rig_fini,           \
	     .timeout = ITEST_TIMEOUT)

static int64_t now_ns(int clk)
{
	return time_ns_now(clk);
}

/*
 * A leap-seconds.list (TAI - UTC 36 s from 1 Jul 2015, 37 s from
 * 1 Jan 2017) that expired a day ago, without a #h line.
 */
static void write_expired_leap_file(void)
{
	long long now_ntp = (long long)time(NULL) + NTP_UNIX_OFFSET;
	FILE *f;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vrtc-leapalarm-XXXXXX");
	cr_assert(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	snprintf(leap_path, sizeof(leap_path), "%s/leap-seconds.list", tmpdir);
	f = fopen(leap_path, "we");
	cr_assert(f, "%s: %s", leap_path, strerror(errno));
	fprintf(f,
		"# test table: expired, so any source's view overrides it\n"
		"#$\t%lld\n#@\t%lld\n"
		"%lld\t36\t# 1 Jul 2015\n%lld\t37\t# 1 Jan 2017\n",
		now_ntp - 30 * 86400LL, now_ntp - 86400LL, NTP_2015_07_01,
		NTP_2017_01_01);
	cr_assert_eq(fclose(f), 0, "%s: %s", leap_path, strerror(errno));
}

/* The daemon on the expired file, following the fake gpsd, synchronized. */
static struct vdaemon *rig_start(void)
{
	char err[256], server[32];
	struct vdaemon *d;

	write_expired_leap_file();
	gps = fake_gpsd_start(GPSD_PERIOD_MS, err, sizeof(err));
	cr_assert(gps, "%s", err);
	snprintf(server, sizeof(server), "127.0.0.1:%d", fake_gpsd_port(gps));
	d = itest_startl("--gpsd", server, "--system-clock", "off",
			 "--sync-interval-ms", SYNC_MS, "--leap-file",
			 leap_path);
	cr_assert(itest_wait_log(d, 0, "model synchronized", 20000),
		  "never synchronized on the fake gpsd; log:\n%s",
		  itest_log_from(d, 0));
	cr_assert(strstr(itest_log_from(d, 0), "expired on"),
		  "the leap file was not taken as expired:\n%s",
		  itest_log_from(d, 0));
	return d;
}

/* Served TAI - UTC now, ns (two READs a few microseconds apart). */
static int64_t served_tai_utc(struct vuf *v)
{
	int64_t utc = (int64_t)itest_read(v, CLK_UTC);

	return (int64_t)itest_read(v, CLK_TAI) - utc;
}

/* Served UTC minus host REALTIME now, ns. */
static int64_t utc_offset(struct vuf *v)
{
	int64_t t0 = now_ns(CLOCK_REALTIME);
	int64_t utc = (int64_t)itest_read(v, CLK_UTC);
	int64_t t1 = now_ns(CLOCK_REALTIME);

	return utc - (t0 + (t1 - t0) / 2);
}

static bool near(int64_t got, int64_t want)
{
	return llabs(got - want) < NEAR_NS;
}

/*
 * gpsd goes from TAI - UTC 37 s to 38 s while a UTC alarm 4 s ahead is
 * armed: the alarm fires only once served UTC (now 1 s behind) reaches
 * it, never at the instant the old table gave.
 */
LEAP_TEST(gnss_tai_utc_change_moves_armed_utc_alarm)
{
	struct vdaemon *d = rig_start();
	struct itest_usage before;
	int64_t changed_rt = 0, fired_rt, end;
	uint64_t alarm, utc;
	struct vuf *v;
	size_t from;
	int id;

	itest_usage(d, &before);
	v = itest_alarm_vm(d, 0, 8);
	cr_assert(near(served_tai_utc(v), 37 * NS), "TAI - UTC %lld ns",
		  (long long)served_tai_utc(v));
	cr_assert(near(utc_offset(v), 0), "served UTC %+lld ns from REALTIME",
		  (long long)utc_offset(v));

	alarm = itest_read(v, CLK_UTC) + ALARM_AHEAD_NS;
	cr_assert_eq(vuf_rtc_set_alarm(v, CLK_UTC, alarm, true, NULL), 0, "%s",
		     vuf_error(v));
	from = itest_log_len(d);
	fake_gpsd_set_leapseconds(gps, FAKE_GPSD_LEAP_S + 1);

	/* the new table reaches the served clocks; no alarm meanwhile */
	end = now_ns(CLOCK_MONOTONIC) + 3 * NS;
	while (now_ns(CLOCK_MONOTONIC) < end) {
		id = itest_wait_notif(v, 20, true);
		cr_assert_eq(id, -1,
			     "alarm (clock %d) before the leap change was "
			     "served",
			     id);
		if (near(served_tai_utc(v), 38 * NS)) {
			changed_rt = now_ns(CLOCK_REALTIME);
			break;
		}
	}
	cr_assert(changed_rt, "served TAI - UTC still %lld ns after 3 s",
		  (long long)served_tai_utc(v));
	cr_log_info("new table served %.3f s before REALTIME reached the alarm",
		    (double)((int64_t)alarm - changed_rt) / NS);
	/* else an early alarm could not be told from a right one */
	cr_assert_lt(changed_rt, (int64_t)alarm - NS / 2,
		     "the change came too late to test the alarm");
	cr_assert(itest_wait_log(d, from, "says TAI-UTC 38 s", 5000),
		  "the merge did not log the change:\n%s",
		  itest_log_from(d, from));
	cr_assert(strstr(itest_log_from(d, from), "(expired) 37 s; gpsd wins"),
		  "%s", itest_log_from(d, from));

	/* the notification, then at once the clock: at or past the alarm */
	id = itest_wait_notif(v, (int)((ALARM_AHEAD_NS + 6 * NS) / MS), true);
	utc = itest_read(v, CLK_UTC);
	fired_rt = now_ns(CLOCK_REALTIME);
	cr_assert_eq(id, CLK_UTC, "notification: clock %d", id);
	cr_log_info("alarm read UTC %+.3f s from its time, REALTIME %+.3f s",
		    (double)((int64_t)utc - (int64_t)alarm) / NS,
		    (double)(fired_rt - (int64_t)alarm) / NS);
	cr_assert_geq(utc, alarm,
		      "alarm fired with served UTC %.3f s before its time",
		      (double)((int64_t)alarm - (int64_t)utc) / NS);
	cr_assert_eq(itest_wait_notif(v, 500, true), -1,
		     "a second notification");
	cr_assert(near(served_tai_utc(v), 38 * NS), "TAI - UTC %lld ns",
		  (long long)served_tai_utc(v));
	/* gpsd's UTC through the merged table: served UTC on REALTIME again
	 * (TAI stepped +1 s), not left 1 s behind the receiver */
	end = now_ns(CLOCK_MONOTONIC) + 10 * NS;
	while (!near(utc_offset(v), 0) && now_ns(CLOCK_MONOTONIC) < end) {
		usleep(100000);
	}
	cr_assert(near(utc_offset(v), 0), "served UTC %+lld ns from REALTIME",
		  (long long)utc_offset(v));

	vuf_free(v);
	itest_expect_no_leak(d, &before, "leap change");
	itest_stop(d);
}
