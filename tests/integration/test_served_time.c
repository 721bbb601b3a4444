// SPDX-License-Identifier: MIT
/*
 * The time the daemon serves, end to end: the leap-second table it is
 * given (--leap-file), UTC stepping vs. smearing around a leap second
 * placed an hour from now, both smear variants, and MONOTONIC's rate.
 *
 * Expected smears follow the design's continuous piecewise-linear maps,
 * exact at the window ends (sync/model/timescale.h): for a leap at UTC second
 * M with TAI-UTC going old -> new (k = new - old), the smeared clock
 * deviates from the stepping UTC "old" scale by
 *   -k * (t - S) / (E - S),  S = window start, E - S = W + k seconds
 * with W = 86400 (noon to noon) or 1000 (UTC-SLS, last 1000 s of the
 * day). A plain 1/86400 rate would differ by < 6 us here, well inside
 * the tolerance.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define NTP_UNIX 2208988800ll
#define NS 1000000000ll
#define TOL_NS 10000 /* arithmetic, and rate interpretations */

static char leap_path[64];

/*
 * A leap-seconds.list: the system's history plus, if @extra_dtai, one
 * more entry at UTC second @extra_utc; expiring at UTC @expires.
 */
static void write_leap_file(int64_t extra_utc, int extra_dtai, int64_t expires)
{
	FILE *in = fopen("/usr/share/zoneinfo/leap-seconds.list", "re");
	FILE *out;
	char line[256];

	cr_assert(in, "no system leap-seconds.list");
	snprintf(leap_path, sizeof(leap_path), "/tmp/vrtc-leap-%d.list",
		 (int)getpid());
	out = fopen(leap_path, "we");
	cr_assert(out);
	fprintf(out, "# test table\n#$ %lld\n#@ %lld\n",
		(long long)(time(NULL) + NTP_UNIX),
		(long long)(expires + NTP_UNIX));
	while (fgets(line, sizeof(line), in)) {
		if (line[0] >= '0' && line[0] <= '9') {
			fputs(line, out);
		}
	}
	if (extra_dtai) {
		fprintf(out, "%lld %d # test leap\n",
			(long long)(extra_utc + NTP_UNIX), extra_dtai);
	}
	fclose(in);
	fclose(out);
}

static void remove_leap_file(void)
{
	unlink(leap_path);
}

/* Cleanup even when an assertion ends the test early. */
static void served_fini(void)
{
	if (leap_path[0]) {
		unlink(leap_path);
	}
	itest_fini();
}

#define STEST(name)                                                            \
	Test(served_time, name, .init = itest_init, .fini = served_fini,       \
	     .timeout = ITEST_TIMEOUT)

static int64_t years(int n)
{
	return (int64_t)time(NULL) + (int64_t)n * 365 * 86400;
}

/* The window of a read of clock @a before and after one of clock @b. */
static int64_t window_ns;

/* Reads @a, @b, @a again; returns b - (first a), asserting the window
 * is sane (50 ms: a loaded CI machine can be slow, and the callers
 * widen their tolerance by window_ns anyway). */
static int64_t sandwich(struct vuf *v, uint16_t a, uint16_t b, int64_t *a0)
{
	int64_t x0 = (int64_t)itest_read(v, a);
	int64_t y = (int64_t)itest_read(v, b);
	int64_t x1 = (int64_t)itest_read(v, a);

	cr_assert(x1 >= x0 && x1 - x0 < 50000000,
		  "reads of clock %u: %lld then %lld", a, (long long)x0,
		  (long long)x1);
	*a0 = x0;
	window_ns = x1 - x0;
	return y - x0;
}

/* @got was taken within window_ns after the reference read. */
static void expect_offset(int64_t got, int64_t want, int64_t tol,
			  const char *what)
{
	cr_assert(got >= want - tol && got <= want + window_ns + tol,
		  "%s: offset %lld ns, expected %lld (+ up to %lld of read "
		  "window) +- %lld ns",
		  what, (long long)got, (long long)want, (long long)window_ns,
		  (long long)tol);
}

STEST(leap_file_sets_tai_offset)
{
	struct vdaemon *d;
	struct vuf *v;
	int64_t u, off;

	/* TAI-UTC became 38 a month ago: smear window long over. */
	write_leap_file(time(NULL) - 30 * 86400, 38, years(5));
	d = itest_startl("--leap-file", leap_path);
	v = itest_vm(vdaemon_socket(d, 0), NULL);
	off = sandwich(v, 0, 1, &u);
	expect_offset(off, 38 * NS, 5000000, "TAI - UTC");
	off = sandwich(v, 0, 3, &u);
	expect_offset(off, 0, 5000000, "smeared - UTC");
	vuf_free(v);
	itest_stop(d);
	remove_leap_file();
}

/* Noon-linear smear, @k = +1 or -1, leap @delta_s seconds from now. */
static void noon_linear(int k, int64_t delta_s)
{
	int64_t now = time(NULL), m = now + delta_s, u, off, want, t_ns, win;
	int old = 37, neu = 37 + k;
	struct vdaemon *d;
	struct vuf *v;

	write_leap_file(m, neu, years(5));
	d = itest_startl("--leap-file", leap_path);
	v = itest_vm(vdaemon_socket(d, 0), NULL);
	off = sandwich(v, 0, 1, &u);
	expect_offset(off, (delta_s > 0 ? old : neu) * NS, 5000000,
		      "TAI - UTC");
	/* UTC follows the host clock across the fake leap. */
	cr_assert(llabs(u - time_ns_now(CLOCK_REALTIME)) < 50000000,
		  "UTC %lld vs host %lld", (long long)u,
		  (long long)time_ns_now(CLOCK_REALTIME));

	off = sandwich(v, 0, 3, &u);
	/* TAI ns since the window start S = M - 43200 + old. */
	t_ns = u + (delta_s > 0 ? old : neu) * NS - (m - 43200 + old) * NS;
	win = 86400 + k;
	/* smeared - UTC_old = -k t/W; UTC = UTC_old - k after the leap */
	want = -(int64_t)((__int128)k * t_ns / win) +
	       (delta_s > 0 ? 0 : (int64_t)k * NS);
	cr_log_info("k=%+d, leap in %lld s: smeared - UTC = %lld ns "
		    "(expected %lld)",
		    k, (long long)delta_s, (long long)off, (long long)want);
	expect_offset(off, want, TOL_NS, "noon-linear smear");
	vuf_free(v);
	itest_stop(d);
	remove_leap_file();
}

STEST(noon_linear_before_positive_leap)
{
	noon_linear(+1, 3600);
}

STEST(noon_linear_after_positive_leap)
{
	noon_linear(+1, -3600);
}

STEST(noon_linear_before_negative_leap)
{
	noon_linear(-1, 7200);
}

STEST(utc_sls_before_positive_leap)
{
	int64_t now = time(NULL), m = now + 500, u, off, want, t_ns;
	struct vdaemon *d;
	struct vuf *v;

	write_leap_file(m, 38, years(5));
	d = itest_startl("--leap-file", leap_path, "--smear", "utc-sls");
	v = itest_vm(vdaemon_socket(d, 0), NULL);
	off = sandwich(v, 0, 3, &u);
	t_ns = u - (m - 1000) * NS;
	want = -(int64_t)(t_ns / 1001);
	cr_log_info("UTC-SLS, leap in 500 s: smeared - UTC = %lld ns "
		    "(expected %lld)",
		    (long long)off, (long long)want);
	expect_offset(off, want, TOL_NS, "UTC-SLS smear");
	/* The noon-linear variant is not what this clock does. */
	cr_assert(off < -400000000, "UTC-SLS clock not smearing");
	vuf_free(v);
	itest_stop(d);
	remove_leap_file();
}

/* An expired table is used but loudly reported. */
STEST(expired_leap_file_reported)
{
	struct vdaemon *d;
	struct vuf *v;
	char log[8192];
	int64_t u, off;

	write_leap_file(0, 0, time(NULL) - 86400);
	d = itest_startl("--leap-file", leap_path);
	v = itest_vm(vdaemon_socket(d, 0), NULL);
	off = sandwich(v, 0, 1, &u);
	expect_offset(off, 37 * NS, 5000000, "TAI - UTC");
	vdaemon_read_log(d, log, sizeof(log));
	cr_assert(strstr(log, "expired"),
		  "no warning about the expired "
		  "table in the log:\n%s",
		  log);
	vuf_free(v);
	itest_stop(d);
	remove_leap_file();
}

STEST(bad_leap_file_refused)
{
	static const char *const garbage[] = { "--socket-path",
					       "/tmp/vrtc-never.sock",
					       "--leap-file", NULL, NULL };
	const char *argv[5];
	char out[4096];
	FILE *f;
	int st;

	snprintf(leap_path, sizeof(leap_path), "/tmp/vrtc-leap-%d.list",
		 (int)getpid());
	f = fopen(leap_path, "we");
	cr_assert(f);
	fputs("#@ 4023129600\n2272060800 10\nthis is not a leap table\n", f);
	fclose(f);
	memcpy(argv, garbage, sizeof(argv));
	argv[3] = leap_path;
	st = vdaemon_run(argv, 5000, out, sizeof(out));
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 0,
		  "daemon accepted a malformed leap file (status 0x%x): %s", st,
		  out);
	remove_leap_file();
	unlink("/tmp/vrtc-never.sock");
}

/*
 * MONOTONIC runs at the host's rate (no jumps, no drift from nowhere).
 * Each READ is bracketed by host reads, so a slow round trip on a loaded
 * machine widens the allowed range instead of failing the test; the
 * model may steer by up to its 500 ppm slew cap.
 */
STEST(monotonic_rate)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	int64_t h0a, h0b, h1a, h1b, m0, m1, dm, lo, hi;

	h0a = time_ns_now(CLOCK_MONOTONIC_RAW);
	m0 = (int64_t)itest_read(v, 2);
	h0b = time_ns_now(CLOCK_MONOTONIC_RAW);
	itest_sleep_ms(500);
	h1a = time_ns_now(CLOCK_MONOTONIC_RAW);
	m1 = (int64_t)itest_read(v, 2);
	h1b = time_ns_now(CLOCK_MONOTONIC_RAW);
	dm = m1 - m0;
	lo = h1a - h0b;
	hi = h1b - h0a;
	cr_assert(dm >= lo - lo / 2000 && dm <= hi + hi / 2000,
		  "MONOTONIC advanced %lld ns while the host's advanced "
		  "%lld..%lld",
		  (long long)dm, (long long)lo, (long long)hi);
	vuf_free(v);
	itest_stop(d);
}

/* UTC_SMEARED equals UTC away from leap seconds, to the nanosecond
 * ordering of three reads. */
STEST(smeared_equals_utc_without_leap)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	int i;

	for (i = 0; i < 20; i++) {
		uint64_t u0 = itest_read(v, 0), s = itest_read(v, 3);
		uint64_t u1 = itest_read(v, 0);

		cr_assert(s >= u0 && s <= u1,
			  "smeared %llu outside UTC reads [%llu, %llu]",
			  (unsigned long long)s, (unsigned long long)u0,
			  (unsigned long long)u1);
	}
	vuf_free(v);
	itest_stop(d);
}
