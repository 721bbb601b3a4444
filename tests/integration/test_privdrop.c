// SPDX-License-Identifier: MIT
/*
 * The privilege drop of the running daemon, started as root the way users
 * start it: /proc/PID/task/TID/status of every thread says the configured
 * uid/gid, empty capability sets (inheritable, permitted, effective,
 * bounding, ambient), no_new_privs and seccomp filter mode; the daemon
 * still serves READs, alarms and new connections afterwards, and follows
 * chronyd through the socket it opened before the drop. A call outside
 * the allow-list (the hidden --debug-seccomp-selftest) is named in the
 * log and ends the daemon with status 3; with seccomp=off it is not.
 * socket-group and control-group give the sockets to their groups, mode
 * 0660: a process of user nobody connects with the group and is refused
 * without it.
 * Needs root (CI runs as root); creates the user TEST_USER if missing.
 */
#include <dirent.h>
#include <endian.h>
#include <glib.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness_chronyd.h"
#include "itest.h"

#define TEST_USER ITEST_USER
#define NS 1000000000LL

/* Value of "@key:" in @status, or NULL. */
static const char *field(const char *status, const char *key, char *buf,
			 size_t len)
{
	const char *p = status;
	size_t n = 0, k = strlen(key);

	/* at the start of a line: "Gid:" is also the end of "Tgid:" */
	while (p && strncmp(p, key, k) != 0) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	if (!p) {
		return NULL;
	}
	p += k;
	while (*p == '\t' || *p == ' ') {
		p++;
	}
	while (p[n] && p[n] != '\n' && n + 1 < len) {
		n++;
	}
	memcpy(buf, p, n);
	buf[n] = 0;
	return buf;
}

/* The socket accepts before the drop; "serving" is logged after it. */
static void wait_serving(struct vdaemon *d)
{
	char log[8192];
	int i;

	for (i = 0; i < 500; i++) {
		vdaemon_read_log(d, log, sizeof(log));
		if (strstr(log, "serving ")) {
			return;
		}
		itest_sleep_ms(10);
	}
	cr_assert_fail("the daemon never logged \"serving\":\n%s", log);
}

/* Every thread of @pid: ids, capabilities, no_new_privs, seccomp mode. */
static void check_threads(pid_t pid, uid_t uid, gid_t gid, const char *seccomp)
{
	static const char *const caps[] = { "CapInh:", "CapPrm:", "CapEff:",
					    "CapBnd:", "CapAmb:" };
	char path[320], ids[64], want_uid[64], want_gid[64], v[64];
	struct dirent *e;
	unsigned int i, threads = 0;
	DIR *dir;

	snprintf(want_uid, sizeof(want_uid), "%u\t%u\t%u\t%u", uid, uid, uid,
		 uid);
	snprintf(want_gid, sizeof(want_gid), "%u\t%u\t%u\t%u", gid, gid, gid,
		 gid);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	cr_assert(dir, "%s: %s", path, strerror(errno));
	while ((e = readdir(dir))) {
		char status[8192];
		FILE *f;
		size_t n;

		if (e->d_name[0] == '.') {
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status",
			 (int)pid, e->d_name);
		f = fopen(path, "r");
		cr_assert(f, "%s: %s", path, strerror(errno));
		n = fread(status, 1, sizeof(status) - 1, f);
		fclose(f);
		status[n] = 0;
		threads++;
		cr_assert_str_eq(field(status, "Uid:", ids, sizeof(ids)),
				 want_uid, "%s", path);
		cr_assert_str_eq(field(status, "Gid:", ids, sizeof(ids)),
				 want_gid, "%s", path);
		for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
			cr_assert_str_eq(field(status, caps[i], v, sizeof(v)),
					 "0000000000000000", "%s %s", path,
					 caps[i]);
		}
		cr_assert_str_eq(field(status, "NoNewPrivs:", v, sizeof(v)),
				 "1", "%s", path);
		cr_assert_str_eq(field(status, "Seccomp:", v, sizeof(v)),
				 seccomp, "%s", path);
	}
	closedir(dir);
	cr_assert_geq(threads, 1);
}

/* READ, an alarm that fires, and a second VM, all after the drop. */
static void check_serving(struct vdaemon *d)
{
	struct vuf_opts o;
	struct vuf_completion c;
	struct vuf *v, *w;
	uint64_t t;

	vuf_opts_init(&o);
	o.device_features = 1ull << VIRTIO_RTC_F_ALARM;
	o.started_queues = 2;
	v = itest_vm(vdaemon_socket(d, 0), &o);
	t = itest_read(v, 0) + 200 * 1000000ull;
	cr_assert_eq(vuf_submit(v, VIRTIO_RTC_ALARMQ, NULL, 0, 16, NULL, 1), 0,
		     "%s", vuf_error(v));
	cr_assert_geq(vuf_kick(v, VIRTIO_RTC_ALARMQ), 0);
	cr_assert_eq(vuf_rtc_set_alarm(v, 0, t, true, NULL), 0, "%s",
		     vuf_error(v));
	cr_assert_eq(vuf_wait(v, VIRTIO_RTC_ALARMQ, &c, 3000), 0,
		     "no alarm notification after the drop");
	cr_assert_geq(itest_read(v, 0), t);
	w = itest_vm(vdaemon_socket(d, 0), NULL);
	cr_assert_gt(itest_read(w, 1), itest_read(w, 0), "TAI > UTC");
	vuf_free(w);
	vuf_free(v);
}

ITEST(privdrop, runs_as_configured_user_confined)
{
	struct passwd pw = itest_user();
	struct vdaemon *d =
		itest_startl("--user", TEST_USER, "--group", TEST_USER);
	char log[8192];

	wait_serving(d);
	check_threads(vdaemon_pid(d), pw.pw_uid, pw.pw_gid, "2");
	check_serving(d);
	check_threads(vdaemon_pid(d), pw.pw_uid, pw.pw_gid, "2");
	vdaemon_read_log(d, log, sizeof(log));
	cr_assert(strstr(log, "running as user " TEST_USER), "log:\n%s", log);
	itest_stop(d);
}

/*
 * Root with user unset: the default user if it exists, else a refusal
 * naming the fix (the daemon is run directly: the harness would add
 * --user root). user=root stays root deliberately, without capabilities.
 */
ITEST(privdrop, default_user_or_refusal_or_root_by_choice)
{
	struct passwd *pw = getpwnam("vhost-user-rtc");
	uid_t uid = pw ? pw->pw_uid : 0;
	gid_t gid = pw ? pw->pw_gid : 0;
	const char *argv[] = { vdaemon_path(), "--socket-path",
			       "/tmp/vrtc-privdrop-unset.sock",
			       "--check-config", NULL };
	char *out = NULL, *err = NULL;
	struct vdaemon *d;
	char log[8192];
	int st = -1;

	cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL,
			       NULL, &out, &err, &st, NULL));
	if (pw) {
		cr_assert(g_spawn_check_wait_status(st, NULL), "%s", err);
		d = itest_start(NULL);
	} else {
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1,
			  "root without the default user: status 0x%x", st);
		cr_assert(strstr(err, "\"vhost-user-rtc\" does not exist") &&
				  strstr(err, "user=root"),
			  "stderr: %s", err);
		d = itest_startl("--user", "root");
	}
	g_free(out);
	g_free(err);
	wait_serving(d);
	check_threads(vdaemon_pid(d), uid, gid, "2");
	vdaemon_read_log(d, log, sizeof(log));
	cr_assert(strstr(log, pw ? "running as user vhost-user-rtc"
				 : "running as user root"),
		  "log:\n%s", log);
	check_serving(d);
	itest_stop(d);
}

ITEST(privdrop, denied_call_is_named)
{
	static const char *const argv[] = {
		"--socket-path", "/tmp/vrtc-privdrop-selftest.sock", "--user",
		TEST_USER,	 "--debug-seccomp-selftest",	     NULL
	};
	char out[8192];
	int st;

	itest_user();
	st = vdaemon_run(argv, 5000, out, sizeof(out));
	unlink("/tmp/vrtc-privdrop-selftest.sock");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 3,
		  "status 0x%x, output:\n%s", st, out);
	cr_assert(strstr(out, "vhost-user-rtc: seccomp denied system call "
			      "syslog ("),
		  "output:\n%s", out);
}

ITEST(privdrop, seccomp_off_allows_the_call)
{
	struct passwd pw = itest_user();
	struct vdaemon *d = itest_startl("--user", TEST_USER, "--seccomp",
					 "off", "--debug-seccomp-selftest");
	char log[8192];

	wait_serving(d);
	check_threads(vdaemon_pid(d), pw.pw_uid, pw.pw_gid, "0");
	check_serving(d);
	vdaemon_read_log(d, log, sizeof(log));
	cr_assert(!strstr(log, "seccomp denied"), "log:\n%s", log);
	itest_stop(d);
}

static void pd_fini(void)
{
	itest_fini();
	chronyd_pair_stop();
}

/* The chronyd socket was opened as root; polls after the drop work. */
Test(privdrop, follows_chronyd_after_drop, .init = chronyd_pair_start,
     .fini = pd_fini, .timeout = ITEST_TIMEOUT)
{
	struct passwd pw = itest_user();
	struct chrony_client *c = chronyd_pair_open_unix();
	struct chrony_tracking t;
	struct timespec rt0, rt1;
	struct vdaemon *d;
	struct vuf *v;
	char log[16384];
	int64_t u, lo, hi;

	chronyd_pair_wait_synced(c, &t);
	chrony_client_free(c);
	/* only chronyd: the kernel clock here is unsynchronised, and the
	 * fallback source would (rightly) warn about it */
	d = itest_startl("--chrony", "--chrony-socket", chronyd_client_sock,
			 "--system-clock", "off", "--user", TEST_USER,
			 "--sync-interval-ms", "100");
	wait_serving(d);
	check_threads(vdaemon_pid(d), pw.pw_uid, pw.pw_gid, "2");
	/* a dozen polls of chronyd as TEST_USER */
	itest_sleep_ms(1200);
	v = itest_vm(vdaemon_socket(d, 0), NULL);
	clock_gettime(CLOCK_REALTIME, &rt0);
	u = (int64_t)itest_read(v, 0);
	clock_gettime(CLOCK_REALTIME, &rt1);
	lo = (int64_t)rt0.tv_sec * NS + rt0.tv_nsec - 5000000;
	hi = (int64_t)rt1.tv_sec * NS + rt1.tv_nsec + 5000000;
	cr_assert(u > lo && u < hi, "served UTC %lld, host [%lld, %lld]",
		  (long long)u, (long long)lo, (long long)hi);
	vdaemon_read_log(d, log, sizeof(log));
	cr_assert(strstr(log, "following chronyd"), "log:\n%s", log);
	cr_assert(!strstr(log, "WARNING"), "log:\n%s", log);
	vuf_free(v);
	itest_stop(d);
}

/*
 * chronyd restarts after the drop: our end can no longer be bound in the
 * run directory as the unprivileged user, so the source reopens on
 * chronyd's loopback UDP command port (--chrony-port). The daemon must
 * neither die (seccomp) nor stay lost.
 */
Test(privdrop, chronyd_restart_after_drop_recovers_over_udp,
     .init = chronyd_pair_start, .fini = pd_fini, .timeout = ITEST_TIMEOUT)
{
	struct chrony_client *c = chronyd_pair_open_unix();
	struct chrony_tracking t;
	struct vdaemon *d;
	char port[16], log[32768];
	bool back = false;

	chronyd_pair_wait_synced(c, &t);
	chrony_client_free(c);
	snprintf(port, sizeof(port), "%u", chronyd_client_cmdport);
	d = itest_startl("--chrony", "--chrony-socket", chronyd_client_sock,
			 "--chrony-port", port, "--system-clock", "off",
			 "--user", TEST_USER, "--sync-interval-ms", "100");
	wait_serving(d);
	chronyd_client_stop();
	itest_sleep_ms(500);
	chronyd_client_start();
	for (int i = 0; i < 100 && !back; i++) {
		itest_sleep_ms(100);
		itest_alive(d);
		vdaemon_read_log(d, log, sizeof(log));
		back = strstr(log, "chronyd at 127.0.0.1 (UDP): stratum");
	}
	cr_assert(back, "no recovery over UDP; log:\n%s", log);
	cr_assert(!strstr(log, "seccomp denied"), "log:\n%s", log);
	itest_stop(d);
}

/* Connect to @path as user nobody with only group @gid: 0 or errno. */
static int connect_as_nobody(const char *path, gid_t gid)
{
	pid_t pid = fork();
	int st;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd;

		if (setgroups(1, &gid) || setresgid(gid, gid, gid) ||
		    setresuid(65534, 65534, 65534)) {
			_exit(100);
		}
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			_exit(0);
		}
		_exit(errno > 0 && errno < 100 ? errno : 99);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 100, "setuid failed");
	return WEXITSTATUS(st);
}

static void expect_group(const char *path, gid_t gid)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(st.st_gid, gid, "%s: group %u, not %u", path,
		     (unsigned int)st.st_gid, (unsigned int)gid);
	cr_assert_eq(st.st_mode & 07777, 0660, "%s: mode %o", path,
		     (unsigned int)(st.st_mode & 07777));
}

ITEST(privdrop, sockets_given_to_their_groups)
{
	struct passwd pw = itest_user();
	struct group *ng = getgrnam("nogroup");
	char ctl[128], dir[128];
	struct vdaemon *d;

	cr_assert_not_null(ng, "no group nogroup");
	snprintf(ctl, sizeof(ctl), "/tmp/vrtc-privdrop-%d.ctl", (int)getpid());
	d = itest_startl("--user", TEST_USER, "--socket-group", "nogroup",
			 "--control-socket", ctl, "--control-group", TEST_USER);
	wait_serving(d);
	expect_group(vdaemon_socket(d, 0), ng->gr_gid);
	expect_group(ctl, pw.pw_gid);
	/* nobody may reach the socket directory; the socket decides */
	snprintf(dir, sizeof(dir), "%s", vdaemon_socket(d, 0));
	cr_assert_eq(chmod(dirname(dir), 0711), 0);
	cr_assert_eq(connect_as_nobody(vdaemon_socket(d, 0), ng->gr_gid), 0,
		     "a member of socket-group cannot connect");
	cr_assert_eq(connect_as_nobody(vdaemon_socket(d, 0), pw.pw_gid), EACCES,
		     "a non-member connects");
	cr_assert_eq(connect_as_nobody(ctl, pw.pw_gid), 0,
		     "a member of control-group cannot connect");
	cr_assert_eq(connect_as_nobody(ctl, ng->gr_gid), EACCES,
		     "a non-member reaches the control socket");
	check_serving(d);
	itest_stop(d);
	unlink(ctl); /* the dropped user may not remove it from /tmp */
}
