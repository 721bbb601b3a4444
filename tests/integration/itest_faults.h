/* SPDX-License-Identifier: MIT */
/*
 * Shared by the fault and soak suites (test_faults.c, test_churn.c,
 * test_soak.c; uses Criterion): bystander VMs around a fault, and the
 * "nothing lost" checks on the daemon's /proc entries.
 *
 * Leak tolerances: the daemon's fd count must come back exactly; its
 * mappings within ITEST_MAPS_SLACK (malloc may keep an extra arena
 * mapping, a leaked guest-memory mapping is 2 per VM); its VmRSS within
 * ITEST_RSS_SLACK_KB. Under ASan freed memory sits in the quarantine
 * (256 MiB by default), so RSS says little there: the allowance is wider
 * and LSan, run when the daemon exits on SIGTERM (itest_stop() fails on
 * a non-zero exit), is the leak check that counts.
 */
#ifndef ITEST_FAULTS_H
#define ITEST_FAULTS_H

#include "harness_bystander.h"
#include "itest.h"

#if defined(__SANITIZE_ADDRESS__)
#define ITEST_ASAN 1
#define ITEST_RSS_SLACK_KB (96 * 1024)
#define ITEST_SANE_P99_NS 200e6
/* The ASan allocator maps a new region per size class as it grows. */
#define ITEST_MAPS_SLACK 64
#else
#define ITEST_ASAN 0
#define ITEST_RSS_SLACK_KB 2048
#define ITEST_SANE_P99_NS 50e6
#define ITEST_MAPS_SLACK 6
#endif

/* Bystander VMs the fault tests keep busy; the p99 of their round trip
 * during a fault must stay under ITEST_SANE_P99_NS (a loose bound: the
 * 2 shared CPUs of CI machines add milliseconds of scheduling delay). */
#define ITEST_BYSTANDERS 4

struct itest_usage {
	int fds, maps;
	long rss_kb;
};

static inline void itest_usage(struct vdaemon *d, struct itest_usage *u)
{
	u->fds = vdaemon_fd_count(d);
	u->maps = vdaemon_map_count(d);
	u->rss_kb = vdaemon_rss_kb(d);
	cr_assert(u->fds > 0 && u->maps > 0 && u->rss_kb > 0,
		  "cannot read /proc of the daemon");
}

/* Wait (up to 5 s) until the daemon has @fds fds open; false if not. */
static inline bool itest_wait_fds(struct vdaemon *d, int fds)
{
	int64_t deadline = time_ns_now(CLOCK_MONOTONIC) + 5000000000ll;

	while (vdaemon_fd_count(d) != fds) {
		if (time_ns_now(CLOCK_MONOTONIC) > deadline) {
			return false;
		}
		itest_sleep_ms(20);
	}
	return true;
}

/*
 * itest_expect_no_leak() - wait (up to 5 s) for the daemon's fd count
 * to come back to @before's and its mappings to within the slack, then
 * check VmRSS. Logs the figures under @what.
 */
static inline void itest_expect_no_leak(struct vdaemon *d,
					const struct itest_usage *before,
					const char *what)
{
	int64_t deadline = time_ns_now(CLOCK_MONOTONIC) + 5000000000ll;
	struct itest_usage now;

	for (;;) {
		itest_alive(d);
		itest_usage(d, &now);
		if (now.fds == before->fds &&
		    now.maps <= before->maps + ITEST_MAPS_SLACK) {
			break;
		}
		if (time_ns_now(CLOCK_MONOTONIC) > deadline) {
			break;
		}
		itest_sleep_ms(20);
	}
	cr_log_info("%s: daemon fds %d -> %d, mappings %d -> %d, "
		    "VmRSS %ld -> %ld KiB",
		    what, before->fds, now.fds, before->maps, now.maps,
		    before->rss_kb, now.rss_kb);
	cr_assert_eq(now.fds, before->fds, "%s: daemon fds %d -> %d", what,
		     before->fds, now.fds);
	cr_assert_leq(now.maps, before->maps + ITEST_MAPS_SLACK,
		      "%s: daemon mappings %d -> %d", what, before->maps,
		      now.maps);
	cr_assert_leq(now.rss_kb, before->rss_kb + ITEST_RSS_SLACK_KB,
		      "%s: daemon VmRSS %ld -> %ld KiB (slack %d)", what,
		      before->rss_kb, now.rss_kb, ITEST_RSS_SLACK_KB);
}

/* The bystanders' usual options on the daemon's first socket. */
static inline void itest_bystanders_opts(struct vdaemon *d,
					 struct bystanders_opts *o)
{
	bystanders_opts_init(o);
	o->sock = vdaemon_socket(d, 0);
	o->vms = ITEST_BYSTANDERS;
	o->inflight = 2;
}

static inline struct bystanders *
itest_bystanders_start(const struct bystanders_opts *o)
{
	struct bystanders *b;
	char err[256];

	b = bystanders_start(o, err, sizeof(err));
	cr_assert(b, "%s", err);
	return b;
}

static inline struct bystanders *itest_bystanders(struct vdaemon *d)
{
	struct bystanders_opts o;

	itest_bystanders_opts(d, &o);
	return itest_bystanders_start(&o);
}

/* Stop the bystanders: they must have been served throughout. */
static inline void itest_bystanders_stop(struct bystanders *b)
{
	struct bystanders_totals t;
	int ret = bystanders_stop(b, &t);

	cr_log_info("bystanders: %llu READs checked, %llu errors",
		    (unsigned long long)t.requests,
		    (unsigned long long)t.errors);
	cr_assert_eq(ret, 0, "bystanders: %llu errors, first: %s",
		     (unsigned long long)t.errors, t.first_error);
	cr_assert_gt(t.requests, 0, "bystanders were never served");
}

/* Daemon log contains @needle. */
static inline bool itest_log_has(struct vdaemon *d, const char *needle)
{
	static char buf[65536];

	vdaemon_read_log(d, buf, sizeof(buf));
	return strstr(buf, needle) != NULL;
}

#endif /* ITEST_FAULTS_H */
