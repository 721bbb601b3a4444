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
 * The supervisor is a child subreaper: each new daemon is the launcher's
 * child, and becomes ours when the old one ends.
 */
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "harness_bystander.h"
#include "time_ns.h"
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

/* `ctl upgrade` of @pid; the new pid, or 0 with the output in @out. */
static pid_t ctl_upgrade_pid(pid_t pid, const char *ctl, char *out, size_t len)
{
	const char *args[] = { "--socket", ctl, "upgrade", NULL };
	long from, to;
	int rc = itest_run_ctl(args, out, len);

	if (rc != 0 ||
	    sscanf(out, "upgraded: pid %ld -> %ld", &from, &to) != 2 ||
	    from != pid) {
		return 0;
	}
	return (pid_t)to;
}

/* The daemon's pid under the supervisor (its --pid-file). */
static pid_t main_pid(const char *pid_file)
{
	long v = 0;
	FILE *f = fopen(pid_file, "r");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1) {
			v = 0;
		}
		fclose(f);
	}
	return (pid_t)v;
}

/* Open fds of @pid, -1 if it is gone. */
static int fd_count(pid_t pid)
{
	char p[64];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	dir = opendir(p);
	if (!dir) {
		return -1;
	}
	while ((de = readdir(dir))) {
		n += de->d_name[0] != '.';
	}
	closedir(dir);
	return n;
}

/* Wait up to @ms for the pid file to name a process other than @old. */
static pid_t next_main(const char *pid_file, pid_t old, int ms)
{
	for (int i = 0; i < ms; i++) {
		pid_t p = main_pid(pid_file);

		if (p > 0 && p != old && kill(old, 0) < 0) {
			return p;
		}
		itest_sleep_ms(1);
	}
	return 0;
}

/* How many lines of @log hold @what. */
static unsigned int count_lines(const char *log, const char *what)
{
	unsigned int n = 0;
	char line[1024];
	FILE *f = fopen(log, "r");

	while (f && fgets(line, sizeof(line), f)) {
		n += strstr(line, what) != NULL;
	}
	if (f) {
		fclose(f);
	}
	return n;
}

/*
 * The daemon runs under fdstore-supervisor (systemd's fd store and
 * Restart=on-failure); UPGRADE_COUNT live upgrades and CRASH_COUNT
 * SIGKILLs (default 50 each) alternate while the VMs work.
 */
Test(upgrade, vms_keep_their_clock_across_upgrades_and_crashes,
     .init = itest_init, .fini = itest_fini, .timeout = 900)
{
	unsigned int n = itest_env_uint("UPGRADE_COUNT", 50, 0, 10000), i;
	unsigned int ncrash = itest_env_uint("CRASH_COUNT", 50, 0, 10000);
	unsigned int nvm = itest_env_uint("UPGRADE_VMS", 8, 1, READ_VMS_MAX);
	/* UPGRADE_ALARMS=0: none (the benchmark's single VM) */
	const char *alarms = getenv("UPGRADE_ALARMS");
	const char *sup = getenv("VRTC_SUPERVISOR");
	unsigned int nal = alarms && !strcmp(alarms, "0") ? 0 : ALARM_VMS;
	unsigned int rounds = n > ncrash ? n : ncrash, crashes = 0;
	static struct reader r[READ_VMS_MAX];
	struct vuf *al[ALARM_VMS], *probe;
	uint64_t alarm_at[ALARM_VMS];
	atomic_bool stop = false;
	char ctl[128], out[1024], page[160], pidf[160], slog[160];
	const char *wrap[8];
	struct vdaemon_opts o;
	struct vdaemon *d;
	uint64_t marker0;
	int fds0 = -1;
	uint64_t reads = 0;
	int64_t worst = 0, worst_gap = 0;
	pid_t pid;

	cr_assert(sup && *sup,
		  "VRTC_SUPERVISOR (build/tests/fdstore-supervisor) unset");
	bystanders_raise_nofile(); /* 256 VMs: theirs and the daemon's */
	ctl_path(ctl, sizeof(ctl));
	snprintf(page, sizeof(page), "%s.vmclock", ctl);
	snprintf(pidf, sizeof(pidf), "%s.pid", ctl);
	snprintf(slog, sizeof(slog), "%s.supervisor.log", ctl);
	unlink(slog);
	wrap[0] = sup;
	wrap[1] = "--pid-file";
	wrap[2] = pidf;
	wrap[3] = "--log";
	wrap[4] = slog;
	wrap[5] = "--";
	wrap[6] = NULL;
	{
		const char *args[] = { "--control-socket", ctl,
				       "--vmclock-page", page, NULL };

		vdaemon_opts_init(&o);
		o.args = args;
		o.wrapper = wrap;
		d = itest_start(&o);
	}
	pid = main_pid(pidf);
	cr_assert(pid > 0, "no pid file from the supervisor");
	marker0 = page_marker(page);
	for (i = 0; i < nal; i++) {
		uint64_t now = 0;
		uint8_t st;

		al[i] = itest_alarm_vm(d, 0, 2);
		cr_assert_eq(vuf_rtc_read(al[i], 3, &now), 0);
		/* late in the run: after a few upgrades and crashes */
		alarm_at[i] = now + (uint64_t)(rounds / 2 + 1) * 500000000ull +
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
	probe = itest_vm(vdaemon_socket(d, 0), NULL);
	itest_sleep_ms(200);
	fds0 = fd_count(pid);
	for (i = 0; i < rounds; i++) {
		if (i < n) {
			pid_t next =
				ctl_upgrade_pid(pid, ctl, out, sizeof(out));

			cr_assert(next > 0, "upgrade %u failed: %s", i + 1,
				  out);
			cr_assert_eq(next_main(pidf, pid, 5000), next,
				     "upgrade %u: the old process did not "
				     "end",
				     i + 1);
			fprintf(stderr, "upgrade %u: %s", i + 1, out);
			pid = next;
			itest_sleep_ms(250);
			cr_assert_eq(fd_count(pid), fds0,
				     "generation after upgrade %u holds %d "
				     "fds, the first %d",
				     i + 1, fd_count(pid), fds0);
		}
		if (i < ncrash) {
			int64_t t0 = time_ns_now(CLOCK_MONOTONIC), gap;
			uint64_t ns = 0;

			cr_assert_eq(kill(pid, SIGKILL), 0);
			/* a READ made while no daemon runs */
			cr_assert_eq(vuf_rtc_read(probe, 2, &ns), 0,
				     "crash %u: the READ made during the "
				     "outage: %s",
				     i + 1, vuf_error(probe));
			gap = time_ns_now(CLOCK_MONOTONIC) - t0;
			worst_gap = gap > worst_gap ? gap : worst_gap;
			pid = next_main(pidf, pid, 5000);
			cr_assert(pid > 0, "crash %u: no new daemon", i + 1);
			crashes++;
			fprintf(stderr,
				"crash %u: SIGKILL; recovered by pid %d, "
				"gap of service %.1f ms\n",
				i + 1, (int)pid, (double)gap / 1e6);
			itest_sleep_ms(250);
			cr_assert_eq(fd_count(pid), fds0,
				     "generation after crash %u holds %d "
				     "fds, the first %d",
				     i + 1, fd_count(pid), fds0);
		}
		itest_alive(d);
		/* libvrtc and ClockBound readers see no disruption */
		cr_assert_eq(page_marker(page), marker0,
			     "the status page's disruption marker moved");
	}
	/* the alarms: each exactly once, not early */
	for (i = 0; i < nal; i++) {
		struct vuf_completion c;
		uint64_t now = 0;

		cr_assert_eq(vuf_wait(al[i], VIRTIO_RTC_ALARMQ, &c, 10000), 0,
			     "VM %u: no alarm: %s", i, vuf_error(al[i]));
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
	vuf_free(probe);
	/* every process replaced by an upgrade ended cleanly */
	cr_expect_eq(count_lines(slog, "(main before) exited with status 0"), n,
		     "%u upgrades, %u clean ends of the process before", n,
		     count_lines(slog, "(main before) exited with status 0"));
	cr_expect_eq(count_lines(slog, "killed by signal 9"), ncrash);
	fprintf(stderr,
		"upgrade: %u live upgrades and %u SIGKILLs, %u VMs reading "
		"and %u with an alarm; %" PRIu64 " READs, all answered; "
		"longest READ %.1f ms; longest gap after a SIGKILL %.1f ms; "
		"fds %d in every generation\n",
		n, crashes, nvm, nal, reads, (double)worst / 1e6,
		(double)worst_gap / 1e6, fds0);
	itest_stop(d);
	unlink(page);
	unlink(slog);
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

/*
 * A connection's state image damaged in the store (the supervisor flips
 * a byte of one on the next restart): after a SIGKILL that connection is
 * refused with a line why and closed, and the other VM is adopted and
 * served.
 */
ITEST(upgrade, damaged_state_image_drops_only_its_connection)
{
	const char *sup = getenv("VRTC_SUPERVISOR");
	char ctl[128], pidf[160], slog[160], log[16384];
	const char *wrap[8];
	struct vdaemon_opts o;
	struct vdaemon *d;
	struct vuf *v[2];
	unsigned int served = 0, closed = 0, i;
	pid_t pid;

	cr_assert(sup && *sup, "VRTC_SUPERVISOR unset");
	ctl_path(ctl, sizeof(ctl));
	snprintf(pidf, sizeof(pidf), "%s.pid", ctl);
	snprintf(slog, sizeof(slog), "%s.supervisor.log", ctl);
	unlink(slog);
	wrap[0] = sup;
	wrap[1] = "--pid-file";
	wrap[2] = pidf;
	wrap[3] = "--log";
	wrap[4] = slog;
	wrap[5] = "--";
	wrap[6] = NULL;
	{
		const char *args[] = { "--control-socket", ctl, NULL };

		vdaemon_opts_init(&o);
		o.args = args;
		o.wrapper = wrap;
		d = itest_start(&o);
	}
	for (i = 0; i < 2; i++) {
		v[i] = itest_vm(vdaemon_socket(d, 0), NULL);
		(void)itest_read(v[i], 0);
	}
	pid = main_pid(pidf);
	cr_assert_eq(kill(vdaemon_pid(d), SIGUSR1), 0);
	itest_sleep_ms(100);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert(next_main(pidf, pid, 5000) > 0, "no new daemon");
	for (i = 0; i < 2; i++) {
		uint64_t ns;

		if (vuf_rtc_read(v[i], 0, &ns) == 0) {
			served++;
		} else {
			closed += vuf_wait_closed(v[i], 2000) == 0;
		}
	}
	vdaemon_read_log(d, log, sizeof(log));
	cr_expect_eq(count_lines(slog, "damaged (byte"), 1,
		     "the supervisor damaged no image");
	cr_expect_eq(served, 1, "VMs served after the crash: %u", served);
	cr_expect_eq(closed, 1, "VMs whose connection closed: %u", closed);
	cr_expect(strstr(log, "state image") && strstr(log, "refused"),
		  "no line says why: %s", log);
	cr_expect(strstr(log, "adopted 1 VM connection"),
		  "the other VM was not adopted: %s", log);
	for (i = 0; i < 2; i++) {
		vuf_free(v[i]);
	}
	itest_stop(d);
	unlink(slog);
}
