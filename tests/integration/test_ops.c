// SPDX-License-Identifier: MIT
/*
 * Operations (issue 12): SIGHUP reloads the leap file and keeps serving,
 * and names the edited keys it leaves for a restart;
 * SIGTERM and SIGINT remove the sockets the daemon made, and systemd's
 * sd_notify protocol (READY=1, STATUS=, WATCHDOG=1) on a NOTIFY_SOCKET
 * this test creates and reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define SYSTEM_LEAPS "/usr/share/zoneinfo/leap-seconds.list"

/* Copy the system leap file to @dst without its #h line (then editable). */
static void copy_leaps(const char *dst, const char *extra)
{
	FILE *in = fopen(SYSTEM_LEAPS, "r"), *out = fopen(dst, "w");
	char line[512];

	cr_assert(in && out, "cannot copy %s to %s", SYSTEM_LEAPS, dst);
	while (fgets(line, sizeof(line), in)) {
		if (strncmp(line, "#h", 2) != 0) {
			fputs(line, out);
		}
	}
	if (extra) {
		fputs(extra, out);
	}
	fclose(in);
	fclose(out);
}

/* Served TAI - UTC in ns, from one VM's READs. */
static int64_t tai_minus_utc(struct vuf *v)
{
	uint64_t utc = itest_read(v, 0), tai = itest_read(v, 1);

	return (int64_t)(tai - utc);
}

static bool log_has(struct vdaemon *d, const char *what)
{
	static char log[65536];

	vdaemon_read_log(d, log, sizeof(log));
	return strstr(log, what) != NULL;
}

static bool wait_log(struct vdaemon *d, const char *what, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (log_has(d, what)) {
			return true;
		}
		itest_sleep_ms(10);
	}
	return log_has(d, what);
}

ITEST(ops, sighup_reloads_leap_file_and_keeps_serving)
{
	char dir[] = "/tmp/vrtc-hup-XXXXXX", leaps[64];
	struct vdaemon *d;
	struct vuf *v;
	int64_t diff;

	cr_assert(mkdtemp(dir));
	snprintf(leaps, sizeof(leaps), "%s/leap.list", dir);
	copy_leaps(leaps, NULL);
	d = itest_startl("--leap-file", leaps);
	v = itest_vm(vdaemon_socket(d, 0), NULL);
	diff = tai_minus_utc(v);
	cr_assert(llabs(diff - 37000000000ll) < 5000000,
		  "TAI-UTC %lld ns before SIGHUP", (long long)diff);

	/* A broken file: kept the running table, still serving. */
	copy_leaps(leaps, "garbage\n");
	cr_assert_eq(kill(vdaemon_pid(d), SIGHUP), 0);
	cr_assert(wait_log(d, "SIGHUP: cannot use leap-second file", 2000),
		  "no log line for a bad leap file on SIGHUP");
	cr_assert(wait_log(d, "SIGHUP: kept the running leap-file", 2000),
		  "a bad leap file on SIGHUP not logged as kept");
	cr_assert(!log_has(d, "SIGHUP: reloaded leap-file"),
		  "a bad leap file on SIGHUP logged as reloaded");
	itest_alive(d);
	diff = tai_minus_utc(v);
	cr_assert(llabs(diff - 37000000000ll) < 5000000,
		  "TAI-UTC %lld ns after a bad reload", (long long)diff);

	/* One more (made-up) leap on 1 Jan 2026: TAI-UTC 38 s at once. */
	copy_leaps(leaps, "3976214400\t38\t# 1 Jan 2026 (test)\n");
	cr_assert_eq(kill(vdaemon_pid(d), SIGHUP), 0);
	cr_assert(wait_log(d, "SIGHUP: reloaded leap-file", 2000),
		  "no reload logged");
	itest_alive(d);
	diff = tai_minus_utc(v);
	cr_assert(llabs(diff - 38000000000ll) < 5000000,
		  "TAI-UTC %lld ns after SIGHUP with the new table",
		  (long long)diff);
	vuf_free(v);
	itest_stop(d);
	unlink(leaps);
	rmdir(dir);
}

/* Write @text to @path. */
static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

/*
 * SIGHUP names each edited key it does not apply (only leap-file and
 * log-level are), and says so when nothing else changed.
 */
ITEST(ops, sighup_names_the_keys_it_ignores)
{
	char dir[] = "/tmp/vrtc-hup-XXXXXX", conf[64], sock[64], ctl[64];
	const char *argv[] = { "--config", conf, NULL };
	struct vdaemon_opts o;
	struct vdaemon *d;
	char *text;

	cr_assert(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/vrtc.conf", dir);
	snprintf(sock, sizeof(sock), "%s/vm.sock", dir);
	snprintf(ctl, sizeof(ctl), "%s/vm.ctl", dir);
	text = g_strdup_printf("[vhost-user-rtc]\nsocket-path=%s\n"
			       "control-socket=%s\nuser=root\n"
			       "poll-ns=50000\n",
			       sock, ctl);
	write_text(conf, text);
	g_free(text);
	vdaemon_opts_init(&o);
	o.nsockets = 0;
	o.args = argv;
	d = itest_start(&o);
	/* its sockets are in the file: wait for them here */
	cr_assert(wait_log(d, "serving 4 clocks", 5000), "never served");

	cr_assert_eq(kill(vdaemon_pid(d), SIGHUP), 0);
	cr_assert(wait_log(d, "; no other setting changed", 2000),
		  "an unchanged reload not said so");

	/* the operator's edits: poll-ns and clocks need a restart,
	 * log-level is applied */
	text = g_strdup_printf("[vhost-user-rtc]\nsocket-path=%s\n"
			       "control-socket=%s\nuser=root\n"
			       "poll-ns=0\nclocks=utc,tai\nlog-level=info\n",
			       sock, ctl);
	write_text(conf, text);
	g_free(text);
	cr_assert_eq(kill(vdaemon_pid(d), SIGHUP), 0);
	cr_assert(wait_log(d,
			   "changed but not applied until a restart: "
			   "clocks, poll-ns\n",
			   2000),
		  "the ignored keys are not named");
	itest_alive(d);
	itest_stop(d);
	unlink(conf);
	rmdir(dir);
}

/* SIGTERM or SIGINT: exit 0, and the socket files made are gone. */
static void stop_removes_sockets(int sig)
{
	char dir[] = "/tmp/vrtc-rm-XXXXXX", vm[64], ctl[64], why[256];
	const char *argv[] = { "--socket-path", vm, "--control-socket", ctl,
			       NULL };
	struct vdaemon_opts o;
	struct vdaemon *d;
	struct vuf *v;
	int st, i;

	cr_assert(mkdtemp(dir));
	snprintf(vm, sizeof(vm), "%s/vm.sock", dir);
	snprintf(ctl, sizeof(ctl), "%s/vm.ctl", dir);
	vdaemon_opts_init(&o);
	o.nsockets = 0;
	o.args = argv;
	d = itest_start(&o);
	v = vuf_new(NULL);
	for (i = 0; i < 500 && vuf_connect(v, vm); i++) {
		itest_sleep_ms(10);
	}
	cr_assert_eq(vuf_init(v), 0, "%s", vuf_error(v));
	cr_assert_eq(access(ctl, F_OK), 0, "no control socket %s", ctl);
	if (sig == SIGTERM) {
		itest_stop(d);
	} else {
		cr_assert_eq(kill(vdaemon_pid(d), sig), 0);
		for (i = 0; i < 200 && vdaemon_alive(d); i++) {
			itest_sleep_ms(10);
		}
		itest_daemons[0] = NULL;
		/* already gone: vdaemon_stop() says how it ended */
		st = vdaemon_stop(d, 2000, why, sizeof(why));
		cr_assert(st == 0 || strstr(why, "exited with status 0"),
			  "after signal %d: %s", sig, why);
	}
	vuf_free(v);
	cr_assert(access(vm, F_OK) < 0 && errno == ENOENT,
		  "%s left behind after signal %d", vm, sig);
	cr_assert(access(ctl, F_OK) < 0 && errno == ENOENT,
		  "%s left behind after signal %d", ctl, sig);
	rmdir(dir);
}

ITEST(ops, sigterm_removes_sockets)
{
	stop_removes_sockets(SIGTERM);
}

ITEST(ops, sigint_removes_sockets)
{
	stop_removes_sockets(SIGINT);
}

/* A NOTIFY_SOCKET for the daemon; returns the bound datagram fd. */
static int notify_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s",
		     strerror(errno));
	return fd;
}

/* The next datagram within @ms, NUL-terminated in @buf; false if none. */
static bool notify_recv(int fd, char *buf, size_t len, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) != 1) {
		return false;
	}
	n = recv(fd, buf, len - 1, 0);
	cr_assert(n >= 0);
	buf[n] = '\0';
	return true;
}

ITEST(ops, sd_notify_ready_status_watchdog)
{
	char dir[] = "/tmp/vrtc-nfy-XXXXXX", path[64], msg[512];
	unsigned int ready = 0, status = 0, dogs = 0, stopping = 0;
	struct vdaemon *d;
	struct vuf *v;
	int64_t t0;
	int fd;

	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = notify_socket(path);
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "200000", 1); /* WATCHDOG=1 every 100 ms */
	d = itest_start(NULL);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");

	/* READY=1 once listening, with a STATUS= naming the model */
	t0 = g_get_monotonic_time();
	while (g_get_monotonic_time() - t0 < 1000000 &&
	       notify_recv(fd, msg, sizeof(msg), 1000)) {
		ready += !strcmp(msg, "READY=1");
		dogs += !strcmp(msg, "WATCHDOG=1");
		if (g_str_has_prefix(msg, "STATUS=")) {
			status++;
			cr_assert(strstr(msg, "model "), "STATUS: %s", msg);
			cr_assert(strstr(msg, "0 VMs connected"), "STATUS: %s",
				  msg);
		}
	}
	cr_assert_eq(ready, 1, "READY=1 sent %u times", ready);
	cr_assert_geq(status, 1, "no STATUS=");
	cr_assert_geq(dogs, 5, "%u WATCHDOG=1 in 1 s at a 200 ms period", dogs);

	/* a VM connects: the status says so within NOTIFY_CHECK_MS + */
	v = itest_vm(vdaemon_socket(d, 0), NULL);
	status = 0;
	t0 = g_get_monotonic_time();
	while (!status && g_get_monotonic_time() - t0 < 3000000 &&
	       notify_recv(fd, msg, sizeof(msg), 3000)) {
		status = g_str_has_prefix(msg, "STATUS=") &&
			 strstr(msg, "1 VM connected");
	}
	cr_assert(status, "STATUS= not updated for a connected VM");
	vuf_free(v);
	/* read what waits, as systemd does (the fd store's messages too:
	 * the daemon keeps its state there, persist.h) */
	while (notify_recv(fd, msg, sizeof(msg), 0)) {
	}
	itest_stop(d);
	while (notify_recv(fd, msg, sizeof(msg), 100)) {
		stopping += !strcmp(msg, "STOPPING=1");
	}
	cr_assert_eq(stopping, 1, "STOPPING=1 sent %u times", stopping);
	close(fd);
	unlink(path);
	rmdir(dir);
}

ITEST(ops, no_notify_socket_no_notify)
{
	/* without NOTIFY_SOCKET nothing is tried: no warning logged */
	struct vdaemon *d = itest_start(NULL);

	itest_sleep_ms(300);
	cr_assert(!log_has(d, "sd_notify"), "sd_notify used without systemd");
	itest_stop(d);
}

/*
 * Run the daemon with @argv to its exit, stderr into @path; with
 * @journal, $JOURNAL_STREAM names that file as systemd names the stream.
 * Returns the exit status; the output in @out.
 */
static int run_logged(const char *const *argv, const char *path, bool journal,
		      char *out, size_t len)
{
	const char *args[16] = { vdaemon_path() };
	struct stat st;
	char env[64];
	int fd, status;
	ssize_t n;
	pid_t pid;

	for (unsigned int i = 0; argv[i] && i < 14; i++) {
		args[i + 1] = argv[i];
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert(fd >= 0);
	cr_assert_eq(fstat(fd, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (journal) {
			setenv("JOURNAL_STREAM", env, 1);
		}
		dup2(fd, 1);
		dup2(fd, 2);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

ITEST(ops, startup_failure_at_error_priority_for_journald)
{
	char dir[] = "/tmp/vrtc-log-XXXXXX", sock[64], log[64], out[8192];
	const char *argv[] = { "--socket-path", sock, "--phc",
			       "/dev/vrtc-no-such-phc", NULL };

	cr_assert(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/vm.sock", dir);
	snprintf(log, sizeof(log), "%s/err.log", dir);
	cr_assert_eq(run_logged(argv, log, true, out, sizeof(out)), 1, "%s",
		     out);
	/* journald reads "<3>" as PRIORITY=3 (err) */
	cr_assert(
		strstr(out, "<3>vhost-user-rtc: --phc: /dev/vrtc-no-such-phc"),
		"not at error priority: %s", out);
	/* every line has a priority */
	for (char *p = out; *p; p = strchr(p, '\n') + 1) {
		cr_assert_eq(*p, '<', "line without a priority: %s", p);
		if (!strchr(p, '\n')) {
			break;
		}
	}
	/* plain stderr: the same failure without the prefix */
	cr_assert_eq(run_logged(argv, log, false, out, sizeof(out)), 1);
	cr_assert(strstr(out, "vhost-user-rtc: --phc: /dev/vrtc-no-such-phc"),
		  "%s", out);
	cr_assert_null(strstr(out, "<3>"), "%s", out);
	unlink(log);
	rmdir(dir);
}

ITEST(ops, no_blank_lines_on_stderr)
{
	static char log[65536];
	struct vdaemon *d = itest_start(NULL);

	/* warnings at start (unsynchronised clock, staying root), then a
	 * SIGHUP's messages */
	cr_assert_eq(kill(vdaemon_pid(d), SIGHUP), 0);
	cr_assert(wait_log(d, "SIGHUP: reloaded", 2000));
	vdaemon_read_log(d, log, sizeof(log));
	cr_assert(strstr(log, "-WARNING: "), "no warning to check: %s", log);
	cr_assert_null(strstr(log, "\n\n"), "a blank line: %s", log);
	cr_assert(log[0] != '\n', "starts with a blank line");
	cr_assert_null(strstr(log, "**"), "GLib decoration: %s", log);
	itest_stop(d);
}

ITEST(ops, check_config_reports_missing_phc)
{
	const char *argv[] = { "--socket-path",	 "/tmp/vrtc-cc.sock",
			       "--phc",		 "/dev/vrtc-no-such-ptp",
			       "--check-config", NULL };
	const char *iface[] = { "--socket-path", "/tmp/vrtc-cc.sock", "--phc",
				"vrtcnoif0",	 "--check-config",    NULL };
	char out[4096];
	int st;

	st = vdaemon_run(argv, 5000, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "0x%x: %s", st, out);
	cr_assert(strstr(out, "--phc: /dev/vrtc-no-such-ptp: No such file"),
		  "%s", out);
	cr_assert_null(strchr(strchr(out, '\n') + 1, '\n'), "one line: %s",
		       out);
	st = vdaemon_run(iface, 5000, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "0x%x: %s", st, out);
	cr_assert(strstr(out, "--phc: vrtcnoif0: no such device"), "%s", out);
}
