// SPDX-License-Identifier: MIT
/*
 * Soak: 256 VMs (connections), each keeping READs in flight for
 * $SOAK_SECONDS (20 s in the integration suite; `make soak` runs 600),
 * every answer checked (harness_bystander.c: status, length, value,
 * per-clock order, no VM silent for 5 s). Reports round-trip latency
 * percentiles, throughput and the daemon's fds/RSS before, during and
 * after. Nothing may grow while the soak runs (fds equal, VmRSS within
 * the slack from its start to its end); once every VM is gone the
 * daemon is back to its idle fds and within the RSS slack of its idle
 * RSS after a first wave of VMs (what malloc keeps after a wave is not
 * a leak: the first wave sets that mark); it exits 0 on SIGTERM.
 *
 * Environment: SOAK_SECONDS (default 20), SOAK_VMS (default 256),
 * SOAK_INFLIGHT (per VM, default 4), SOAK_OUT (append the results
 * there too).
 *
 * No Criterion time limit: every wait below is bounded by the soak's
 * own length plus the bystanders' stall limit.
 */
#include <stdlib.h>

#include "itest_faults.h"

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line to stderr, the Criterion log and $SOAK_OUT. */
static void report(const char *fmt, ...)
{
	const char *out = getenv("SOAK_OUT");
	char line[512];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "soak: %s\n", line);
	if (out && *out && (f = fopen(out, "a"))) {
		fprintf(f, "%s\n", line);
		fclose(f);
	}
}

Test(soak, vms_256_requests_in_flight, .init = itest_init, .fini = itest_fini,
     .timeout = 0)
{
	unsigned int secs = itest_env_uint("SOAK_SECONDS", 20, 1, 86400);
	unsigned int vms = itest_env_uint("SOAK_VMS", 256, 1, 1024);
	unsigned int inflight = itest_env_uint("SOAK_INFLIGHT", 4, 1, 32);
	struct itest_usage idle0, idle, loaded0, loaded;
	struct bystanders_totals t;
	struct bystanders_lap lap;
	struct bystanders_opts o;
	struct vdaemon *d;
	struct bystanders *b;
	int64_t t0, end;
	double cpu0, cpu1;
	char err[256];
	unsigned int s;
	int ret;

	bystanders_raise_nofile();
	d = itest_start(NULL);
	itest_sleep_ms(300); /* vdaemon_start()'s probe connection gone */
	itest_usage(d, &idle0);
	bystanders_opts_init(&o);
	o.sock = vdaemon_socket(d, 0);
	o.vms = vms;
	o.threads = 2;
	o.inflight = inflight;
	/* A first wave sets malloc's high-water mark: the baseline. */
	b = bystanders_start(&o, err, sizeof(err));
	cr_assert(b, "%s", err);
	itest_sleep_ms(500);
	cr_assert_eq(bystanders_stop(b, &t), 0, "warm-up: %s", t.first_error);
	cr_assert(itest_wait_fds(d, idle0.fds), "warm-up VMs still open");
	itest_usage(d, &idle);
	b = bystanders_start(&o, err, sizeof(err));
	cr_assert(b, "%s", err);
	itest_sleep_ms(500);
	bystanders_lap(b, &lap); /* set-up and warm-up, dropped */
	itest_usage(d, &loaded0);
	cpu0 = (double)vdaemon_cpu_ns(d) / 1e9;
	t0 = time_ns_now(CLOCK_MONOTONIC);
	end = t0 + (int64_t)secs * 1000000000;
	for (s = 1; time_ns_now(CLOCK_MONOTONIC) < end; s++) {
		itest_sleep_ms(1000);
		itest_alive(d);
		bystanders_totals(b, &t);
		cr_assert_eq(t.errors, 0, "after %u s: %s", s, t.first_error);
		if (s % 60 == 0) {
			fprintf(stderr, "soak: %u s, %llu READs\n", s,
				(unsigned long long)t.requests);
		}
	}
	bystanders_lap(b, &lap);
	cpu1 = (double)vdaemon_cpu_ns(d) / 1e9;
	itest_usage(d, &loaded);
	ret = bystanders_stop(b, &t);
	cr_assert_eq(ret, 0, "%llu errors, first: %s",
		     (unsigned long long)t.errors, t.first_error);
	report("%u VMs x %u in flight for %.1f s%s: %llu READs, %.0f/s, "
	       "0 errors",
	       vms, inflight, lap.wall_s, ITEST_ASAN ? " (ASan build)" : "",
	       (unsigned long long)lap.n, (double)lap.n / lap.wall_s);
	report("round trip (made available -> used seen): p50 %.1f us, "
	       "p99 %.1f us, p999 %.1f us, max %.1f us, mean %.1f us",
	       lap.p50 / 1e3, lap.p99 / 1e3, lap.p999 / 1e3, lap.max / 1e3,
	       lap.mean / 1e3);
	report("daemon CPU %.1f s of %.1f s wall; fds %d idle, %d loaded; "
	       "VmRSS %ld KiB fresh, %ld KiB idle after a first wave of VMs, "
	       "%ld KiB loaded at the start, %ld KiB at the end",
	       cpu1 - cpu0, lap.wall_s, idle.fds, loaded.fds, idle0.rss_kb,
	       idle.rss_kb, loaded0.rss_kb, loaded.rss_kb);
	cr_assert_gt(lap.n, (uint64_t)vms, "hardly any READs answered");
	/* Nothing grows with the requests served. */
	cr_assert_eq(loaded.fds, loaded0.fds);
	cr_assert_leq(loaded.rss_kb, loaded0.rss_kb + ITEST_RSS_SLACK_KB,
		      "VmRSS grew under load: %ld -> %ld KiB", loaded0.rss_kb,
		      loaded.rss_kb);
	itest_expect_no_leak(d, &idle, "soak, every VM gone");
	report("after: fds %d, VmRSS %ld KiB (slack %d KiB)",
	       vdaemon_fd_count(d), vdaemon_rss_kb(d), ITEST_RSS_SLACK_KB);
	itest_stop(d);
}
