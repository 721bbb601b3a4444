// SPDX-License-Identifier: MIT
/*
 * Integration: the daemon's status page read through libvrtc while the
 * daemon follows a fake gpsd that then goes away. The page's status is
 * the control socket's; the change to holdover (FREERUNNING) is on the
 * page by the time the daemon logs it (the page is written in the
 * publish itself: zero publishes late); the interval contains the
 * source's time; at exit the page says UNKNOWN. A second daemon on the
 * same page is refused and leaves it alone.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness_fakegpsd.h"
#include "itest_alarm.h"
#include "vrtc.h"
#include "vrtc_page.h"

#define NS 1000000000LL

static struct fake_gpsd *gps;
static char *tmp;

static void fini(void)
{
	char *cmd;

	itest_fini();
	fake_gpsd_stop(gps);
	gps = NULL;
	if (tmp) {
		cmd = g_strdup_printf("rm -rf '%s'", tmp);
		(void)system(cmd);
		g_free(cmd);
		g_free(tmp);
		tmp = NULL;
	}
}

/* The model status over the control socket (vhost-user-rtc-ctl). */
static char *ctl_status(const char *ctl)
{
	const char *bin = getenv("VRTC_CTL");
	char *cmd, buf[8192], *p, *st;
	size_t n;
	FILE *f;

	cr_assert(bin, "VRTC_CTL not set (run through make integration)");
	cmd = g_strdup_printf("'%s' --socket '%s' status --json", bin, ctl);
	f = popen(cmd, "r");
	cr_assert(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	pclose(f);
	g_free(cmd);
	p = strstr(buf, "\"model\"");
	cr_assert(p, "no model in %s", buf);
	p = strstr(p, "\"status\":\"");
	cr_assert(p);
	p += strlen("\"status\":\"");
	st = g_strndup(p, strcspn(p, "\""));
	return st;
}

Test(vmclock_page, status_follows_the_daemon, .init = itest_init, .fini = fini,
     .timeout = ITEST_TIMEOUT)
{
	char err[256], server[32];
	struct vrtc_options o = { .mode = VRTC_MODE_HOST };
	struct vdaemon *d;
	struct vrtc *v;
	struct vrtc_time t;
	char *page, *ctl, *st;
	size_t from;
	int64_t rt;

	tmp = g_dir_make_tmp("vrtc-page-XXXXXX", NULL);
	page = g_build_filename(tmp, "vmclock", NULL);
	ctl = g_build_filename(tmp, "ctl.sock", NULL);
	gps = fake_gpsd_start(50, err, sizeof(err));
	cr_assert(gps, "%s", err);
	snprintf(server, sizeof(server), "127.0.0.1:%d", fake_gpsd_port(gps));
	d = itest_startl("--gpsd", server, "--system-clock", "off",
			 "--sync-interval-ms", "100", "--vmclock-page", page,
			 "--control-socket", ctl);
	cr_assert(itest_wait_log(d, 0, "model synchronized", 20000),
		  "never synchronized; log:\n%s", itest_log_from(d, 0));

	o.page_path = page;
	cr_assert_eq(vrtc_open(&o, &v), 0);
	cr_assert_eq(vrtc_now(v, &t), 0);
	rt = time_ns_now(CLOCK_REALTIME);
	cr_expect_eq(t.status, VRTC_STATUS_SYNCHRONIZED);
	st = ctl_status(ctl);
	cr_expect_str_eq(st, vrtc_status_name(t.status));
	g_free(st);
	/* the fake gpsd reports REALTIME: it lies in the interval (with the
	 * few ms between the two reads) */
	cr_expect(t.earliest_ns <= rt && rt - 50000000 <= t.latest_ns,
		  "REALTIME %lld not in [%lld, %lld]", (long long)rt,
		  (long long)t.earliest_ns, (long long)t.latest_ns);

	/* the source goes away: holdover */
	from = itest_log_len(d);
	fake_gpsd_stop(gps);
	gps = NULL;
	cr_assert(itest_wait_log(d, from, "model freerunning", 30000),
		  "no holdover; log:\n%s", itest_log_from(d, from));
	/* logged after the publish that wrote the page: already there */
	cr_assert_eq(vrtc_now(v, &t), 0);
	cr_expect_eq(t.status, VRTC_STATUS_FREERUNNING, "page says %s",
		     vrtc_status_name(t.status));
	st = ctl_status(ctl);
	cr_expect_str_eq(st, "freerunning");
	g_free(st);

	itest_stop(d);
	cr_expect_eq(vrtc_now(v, &t), -ENODATA, "UNKNOWN after exit");
	cr_expect_eq(t.status, VRTC_STATUS_UNKNOWN);
	vrtc_close(v);
	g_free(page);
	g_free(ctl);
}

/* The page file's fields as a reader sees them. */
static void page_fields(const char *path, struct vmclock_abi *f)
{
	unsigned char buf[VMCLOCK_PAGE_SIZE];
	FILE *fp = fopen(path, "rb");

	cr_assert(fp, "%s: %s", path, strerror(errno));
	cr_assert_eq(fread(buf, 1, sizeof(buf), fp), sizeof(buf));
	fclose(fp);
	cr_assert_eq(vrtc_page_copy(buf, sizeof(buf), f), 0);
}

/*
 * Two daemons on one page: the second is refused in one line naming the
 * page and the first's pid, and writes nothing into it (the first's
 * disruption marker and status stay). Once the first is gone, the next
 * start takes the same file over in place.
 */
Test(vmclock_page, one_daemon_per_page, .init = itest_init, .fini = fini,
     .timeout = ITEST_TIMEOUT)
{
	struct vmclock_abi f, g;
	struct stat st, st2;
	struct vdaemon *d;
	char *page, *sock2, out[4096], pid[32];
	const char *argv[6];
	int tries, status;

	tmp = g_dir_make_tmp("vrtc-page-XXXXXX", NULL);
	page = g_build_filename(tmp, "vmclock", NULL);
	sock2 = g_build_filename(tmp, "second.sock", NULL);
	d = itest_startl("--sync-interval-ms", "100", "--vmclock-page", page);
	for (tries = 0; tries < 100; tries++) {
		page_fields(page, &f);
		if (f.clock_status != VMCLOCK_STATUS_UNKNOWN) {
			break;
		}
		itest_sleep_ms(100);
	}
	cr_assert_neq(f.clock_status, VMCLOCK_STATUS_UNKNOWN,
		      "the first daemon never published");
	cr_assert_eq(stat(page, &st), 0);

	argv[0] = "--socket-path";
	argv[1] = sock2;
	argv[2] = "--vmclock-page";
	argv[3] = page;
	argv[4] = NULL;
	status = vdaemon_run(argv, 10000, out, sizeof(out));
	cr_assert(status != -1 && WIFEXITED(status), "second daemon: %s", out);
	cr_expect_eq(WEXITSTATUS(status), 1, "second daemon started:\n%s", out);
	cr_expect(strchr(out, '\n') == out + strlen(out) - 1,
		  "not one line:\n%s", out);
	cr_expect(strstr(out, page), "the page is not named:\n%s", out);
	snprintf(pid, sizeof(pid), "(pid %ld)", (long)vdaemon_pid(d));
	cr_expect(strstr(out, pid), "the holder %s is not named:\n%s", pid,
		  out);
	cr_expect(access(sock2, F_OK) != 0, "the second daemon left %s", sock2);

	page_fields(page, &g);
	cr_expect_eq(g.disruption_marker, f.disruption_marker,
		     "the second daemon wrote its marker into the page");
	cr_expect_neq(g.clock_status, VMCLOCK_STATUS_UNKNOWN,
		      "the second daemon marked the page UNKNOWN");
	itest_alive(d);
	itest_stop(d);

	/* the holder gone, a new daemon takes the page over in place */
	d = itest_startl("--vmclock-page", page);
	cr_assert_eq(stat(page, &st2), 0);
	cr_expect_eq(st.st_ino, st2.st_ino, "the page was not reused");
	itest_stop(d);
	g_free(sock2);
	g_free(page);
}
