// SPDX-License-Identifier: MIT
/*
 * Live upgrade (src/upgrade.h), driven as an operator does it:
 * `vhost-user-rtc-ctl upgrade` on the control socket, while VMs work.
 *
 * UPGRADE_VMS VMs (default 8) issue READs without pause and 2 VMs have
 * an alarm armed (none with UPGRADE_ALARMS=0); the daemon is upgraded
 * UPGRADE_COUNT times (default 50). `make bench` runs it with 1, 64 and 256 VMs
 * for the pause. Every READ must be answered with OK and a time, none lost or
 * answered twice (the front-end checks each used entry against what is in
 * flight), no connection dropped, every alarm notified exactly once and
 * not before its time, the old process must end with status 0, and the
 * new one hold as many fds as the first one (no fd leaks across
 * generations). The longest READ round trip is the pause of service.
 *
 * And the failure path: a binary on disk that cannot adopt leaves the
 * running daemon serving, and ctl says why.
 *
 * This process is a child subreaper: each new daemon is the launcher's
 * child, and becomes ours when the old one ends.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "harness_bystander.h"
#include "itest_alarm.h"
#include "vmclock_wire.h"

#define READ_VMS_MAX 512
#define ALARM_VMS 2

struct reader {
	pthread_t th;
	struct vuf *v;
	atomic_bool *stop;
	uint64_t reads;
	int64_t worst_ns;
	char error[256];
};

static void *read_loop(void *arg)
{
	struct reader *r = arg;
	uint64_t last = 0;

	while (!atomic_load(r->stop)) {
		int64_t t0 = time_ns_now(CLOCK_MONOTONIC), d;
		uint64_t ns = 0;

		/* MONOTONIC: each reading >= the one before */
		if (vuf_rtc_read(r->v, 2, &ns)) {
			snprintf(r->error, sizeof(r->error),
				 "READ %" PRIu64 " failed: %s", r->reads,
				 vuf_error(r->v));
			break;
		}
		d = time_ns_now(CLOCK_MONOTONIC) - t0;
		if (d > r->worst_ns) {
			r->worst_ns = d;
		}
		if (ns < last) {
			snprintf(r->error, sizeof(r->error),
				 "MONOTONIC went back by %" PRIu64 " ns",
				 last - ns);
			break;
		}
		last = ns;
		r->reads++;
	}
	return NULL;
}

/* The disruption marker of the status page at @path. */
static uint64_t page_marker(const char *path)
{
	struct vmclock_abi a;
	FILE *f = fopen(path, "r");

	cr_assert(f, "no status page %s", path);
	cr_assert_eq(fread(&a, sizeof(a), 1, f), 1);
	fclose(f);
	return le64toh(a.disruption_marker);
}

/* A control socket path of this test's own (removed by the daemon). */
static void ctl_path(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/vrtc-upgrade-%d.ctl", (int)getpid());
}

/* `ctl upgrade`; the new pid, or 0 with the output in @out. */
static pid_t ctl_upgrade(struct vdaemon *d, const char *ctl, char *out,
			 size_t len)
{
	const char *args[] = { "--socket", ctl, "upgrade", NULL };
	long from, to;
	int rc = itest_run_ctl(args, out, len);

	if (rc != 0 ||
	    sscanf(out, "upgraded: pid %ld -> %ld", &from, &to) != 2 ||
	    from != vdaemon_pid(d)) {
		return 0;
	}
	return (pid_t)to;
}

Test(upgrade, vms_keep_their_clock_across_upgrades, .init = itest_init,
     .fini = itest_fini, .timeout = 600)
{
	unsigned int n = itest_env_uint("UPGRADE_COUNT", 50, 1, 10000), i;
	unsigned int nvm = itest_env_uint("UPGRADE_VMS", 8, 1, READ_VMS_MAX);
	/* UPGRADE_ALARMS=0: none (the benchmark's single VM) */
	const char *alarms = getenv("UPGRADE_ALARMS");
	unsigned int nal = alarms && !strcmp(alarms, "0") ? 0 : ALARM_VMS;
	static struct reader r[READ_VMS_MAX];
	struct vuf *al[ALARM_VMS];
	uint64_t alarm_at[ALARM_VMS];
	atomic_bool stop = false;
	char ctl[128], out[1024], page[160];
	struct vdaemon *d;
	uint64_t marker0;
	int fds0 = -1;
	uint64_t reads = 0;
	int64_t worst = 0;

	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	bystanders_raise_nofile(); /* 256 VMs: theirs and the daemon's */
	ctl_path(ctl, sizeof(ctl));
	snprintf(page, sizeof(page), "%s.vmclock", ctl);
	d = itest_startl("--control-socket", ctl, "--vmclock-page", page);
	marker0 = page_marker(page);
	for (i = 0; i < nal; i++) {
		uint64_t now = 0;
		uint8_t st;

		al[i] = itest_alarm_vm(d, 0, 2);
		cr_assert_eq(vuf_rtc_read(al[i], 3, &now), 0);
		/* late in the run: after a few upgrades */
		alarm_at[i] = now + (uint64_t)(n / 2 + 1) * 300000000ull +
			      i * 100000000ull;
		cr_assert_eq(
			vuf_rtc_set_alarm(al[i], 3, alarm_at[i], true, &st), 0,
			"%s", vuf_error(al[i]));
		cr_assert_eq(st, VIRTIO_RTC_S_OK);
	}
	for (i = 0; i < nvm; i++) {
		r[i].v = itest_vm(vdaemon_socket(d, 0), NULL);
		r[i].stop = &stop;
		cr_assert_eq(pthread_create(&r[i].th, NULL, read_loop, &r[i]),
			     0);
	}
	itest_sleep_ms(200);
	fds0 = vdaemon_fd_count(d);
	for (i = 0; i < n; i++) {
		pid_t next = ctl_upgrade(d, ctl, out, sizeof(out));

		cr_assert(next > 0, "upgrade %u failed: %s", i + 1, out);
		cr_assert_eq(vdaemon_follow(d, next, 5000), 0,
			     "the old process did not end cleanly");
		fprintf(stderr, "upgrade %u: %s", i + 1, out);
		itest_sleep_ms(250);
		itest_alive(d);
		cr_assert_eq(vdaemon_fd_count(d), fds0,
			     "generation %u holds %d fds, the first %d", i + 2,
			     vdaemon_fd_count(d), fds0);
		/* libvrtc and ClockBound readers see no disruption */
		cr_assert_eq(page_marker(page), marker0,
			     "the status page's disruption marker moved");
	}
	/* the alarms: each exactly once, not early */
	for (i = 0; i < nal; i++) {
		struct vuf_completion c;
		uint64_t now = 0;

		cr_assert_eq(vuf_wait(al[i], VIRTIO_RTC_ALARMQ, &c, 10000), 0,
			     "VM %u: no alarm after the upgrades: %s", i,
			     vuf_error(al[i]));
		cr_assert_eq(vuf_rtc_read(al[i], 3, &now), 0);
		cr_assert_geq(now, alarm_at[i], "VM %u: alarm early", i);
		cr_assert_eq(vuf_wait(al[i], VIRTIO_RTC_ALARMQ, &c, 500),
			     -ETIMEDOUT, "VM %u: a second notification", i);
	}
	atomic_store(&stop, true);
	for (i = 0; i < nvm; i++) {
		pthread_join(r[i].th, NULL);
		cr_expect_str_empty(r[i].error, "VM %u: %s", i, r[i].error);
		cr_expect_gt(r[i].reads, 0);
		reads += r[i].reads;
		if (r[i].worst_ns > worst) {
			worst = r[i].worst_ns;
		}
		vuf_free(r[i].v);
	}
	for (i = 0; i < nal; i++) {
		vuf_free(al[i]);
	}
	fprintf(stderr,
		"upgrade: %u live upgrades, %u VMs reading and %u with an "
		"alarm; %" PRIu64 " READs, all answered; longest READ %.1f "
		"ms; fds %d in every generation\n",
		n, nvm, nal, reads, (double)worst / 1e6, fds0);
	itest_stop(d);
	unlink(page);
}

/* A binary on disk that cannot serve: the running daemon serves on. */
ITEST(upgrade, failed_upgrade_keeps_the_daemon)
{
	char bin[256], ctl[128], out[1024];
	const char *src = getenv("VRTC_DAEMON");
	struct vdaemon *d;
	struct vuf *v;
	FILE *f;

	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	/* start from a copy, then put a broken "new version" in its place */
	snprintf(bin, sizeof(bin), "/tmp/vrtc-upgrade-%d.bin", (int)getpid());
	snprintf(out, sizeof(out), "cp '%s' '%s'",
		 src && *src ? src : "build/vhost-user-rtc", bin);
	cr_assert_eq(system(out), 0);
	cr_assert_eq(setenv("VRTC_DAEMON", bin, 1), 0);
	ctl_path(ctl, sizeof(ctl));
	d = itest_startl("--control-socket", ctl);
	v = itest_vm(vdaemon_socket(d, 0), NULL);
	(void)itest_read(v, 0);
	cr_assert_eq(unlink(bin), 0);
	f = fopen(bin, "w");
	cr_assert(f);
	fputs("#!/bin/sh\necho 'this version cannot start' >&2\nexit 3\n", f);
	fclose(f);
	cr_assert_eq(chmod(bin, 0755), 0);
	{
		const char *args[] = { "--socket", ctl, "upgrade", NULL };
		int rc = itest_run_ctl(args, out, sizeof(out));

		cr_assert_eq(rc, 1, "ctl upgrade exited %d: %s", rc, out);
		cr_assert(strstr(out, "exited with status 3"),
			  "the reason is missing: %s", out);
	}
	/* the same daemon, the same connection, still served */
	itest_alive(d);
	(void)itest_read(v, 0);
	vuf_free(v);
	unlink(bin);
	itest_stop(d);
}
