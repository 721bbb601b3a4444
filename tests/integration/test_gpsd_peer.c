// SPDX-License-Identifier: MIT
/*
 * Integration: our gpsd client and source against a real gpsd.
 *
 * A pty plays a PPS-less NMEA receiver: each second, 50 ms after the
 * second it reports, a thread writes the cycle in
 * data/gpsd_fix.nmea (RMC, VTG, GGA, GSA, GLL, ZDA as a u-blox sends
 * them) re-stamped with the current UTC time, checksums recomputed; or
 * the same with the fix lost (void RMC/GLL, GGA quality 0, GSA 1), or
 * nothing.
 * gpsd is started the way users do, `gpsd -N -n -b -s 9600 -S PORT -F
 * SOCK DEVICE`, on a free loopback port with its control socket in a temp
 * dir (no hot-plug socket in /var/run). -s fixes the line speed, as for a
 * receiver whose speed is known: without it gpsd hunts speeds on the pty
 * (a pty has none) and drops the feed while it does; -b keeps it from
 * writing receiver probes into the pty. gpspipe -w -P prints the same stream
 * for comparison. gpsfake is not used: it replays a log's own timestamps, which
 * are not near now, so gpsd's TOFF would be days off the host. Needs gpsd and
 * gpspipe (packages gpsd, gpsd-clients): without them the test fails, it does
 * not skip.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "gpsd.h"
#include "harness_fakepeer.h"
#include "itest.h"
#include "leap.h"
#include "source.h"
#include "source_gpsd.h"
#include "time_ns.h"

#define NS NS_PER_S
#define NMEA_FILE "tests/integration/data/gpsd_fix.nmea"
/* the mapping error over at most 2 s at 1000 ppm, plus the bracket */
#define MAP_MAX_NS 2100000ULL

static char tmpdir[64], ptsname_buf[64], nmea[2048];
static int ptm = -1, pts = -1, port;
static pid_t gpsd_pid;
static pthread_t feeder;
static atomic_bool feeding, feeder_stop, have_fix;
static bool feeder_started;
static struct leap_table *leaps;

/* One sentence body (no $, no checksum) with its time fields set. */
static void restamp(const char *body, const struct tm *tm, char *out,
		    size_t len)
{
	char f[24][32], hms[16], dmy[8], d[4], m[4], y[8];
	const char *p = body;
	int n = 0, o;
	unsigned int ck = 0;

	while (n < 24) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		snprintf(f[n++], sizeof(f[0]), "%.*s", (int)l, p);
		if (!c) {
			break;
		}
		p = c + 1;
	}
	strftime(hms, sizeof(hms), "%H%M%S.00", tm);
	snprintf(dmy, sizeof(dmy), "%02u%02u%02u",
		 (unsigned int)tm->tm_mday % 100u,
		 (unsigned int)(tm->tm_mon + 1) % 100u,
		 (unsigned int)tm->tm_year % 100u);
	strftime(d, sizeof(d), "%d", tm);
	strftime(m, sizeof(m), "%m", tm);
	strftime(y, sizeof(y), "%Y", tm);
	if (strstr(f[0], "RMC") || strstr(f[0], "GGA") || strstr(f[0], "ZDA")) {
		snprintf(f[1], sizeof(f[1]), "%s", hms);
	}
	if (strstr(f[0], "RMC")) {
		snprintf(f[9], sizeof(f[9]), "%s", dmy);
	}
	if (strstr(f[0], "GLL")) {
		snprintf(f[5], sizeof(f[5]), "%s", hms);
	}
	if (!atomic_load(&have_fix)) {
		/* as a receiver that lost its fix: void status, no quality */
		if (strstr(f[0], "RMC")) {
			snprintf(f[2], sizeof(f[2]), "V");
		}
		if (strstr(f[0], "GGA")) {
			snprintf(f[6], sizeof(f[6]), "0");
		}
		if (strstr(f[0], "GSA")) {
			snprintf(f[2], sizeof(f[2]), "1");
		}
		if (strstr(f[0], "GLL")) {
			snprintf(f[6], sizeof(f[6]), "V");
		}
	}
	if (strstr(f[0], "ZDA")) {
		snprintf(f[2], sizeof(f[2]), "%s", d);
		snprintf(f[3], sizeof(f[3]), "%s", m);
		snprintf(f[4], sizeof(f[4]), "%s", y);
	}
	o = snprintf(out, len, "$");
	for (int i = 0; i < n; i++) {
		o += snprintf(out + o, len - (size_t)o, "%s%s", i ? "," : "",
			      f[i]);
	}
	for (const char *q = out + 1; *q; q++) {
		ck ^= (unsigned char)*q;
	}
	snprintf(out + o, len - (size_t)o, "*%02X\r\n", ck);
}

static void *feed(void *arg)
{
	while (!atomic_load(&feeder_stop)) {
		int64_t t = time_ns_now(CLOCK_REALTIME);
		int64_t next = (t / NS + 1) * NS;
		struct timespec d = { .tv_sec = 0 };
		char line[256], *save = NULL, *body, buf[2048];
		time_t sec = (time_t)(next / NS);
		struct tm tm;

		d.tv_nsec = (long)(next - t + 50000000);
		if (d.tv_nsec >= NS) {
			d.tv_sec = 1;
			d.tv_nsec -= NS;
		}
		nanosleep(&d, NULL);
		if (!atomic_load(&feeding)) {
			continue;
		}
		gmtime_r(&sec, &tm);
		snprintf(buf, sizeof(buf), "%s", nmea);
		for (body = strtok_r(buf, "\r\n", &save); body;
		     body = strtok_r(NULL, "\r\n", &save)) {
			char *star = strchr(body, '*');

			if (body[0] != '$' || !star) {
				continue;
			}
			*star = '\0';
			restamp(body + 1, &tm, line, sizeof(line));
			if (write(ptm, line, strlen(line)) < 0) {
				break;
			}
		}
	}
	return NULL;
}

static void start_gpsd(void)
{
	char p[16], ctl[128], log[128];

	snprintf(p, sizeof(p), "%d", port);
	snprintf(ctl, sizeof(ctl), "%s/gpsd.sock", tmpdir);
	snprintf(log, sizeof(log), "%s/gpsd.log", tmpdir);
	gpsd_pid = fork();
	cr_assert_geq(gpsd_pid, 0);
	if (gpsd_pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("gpsd", "gpsd", "-N", "-n", "-b", "-s", "9600", "-S", p,
		       "-F", ctl, ptsname_buf, (char *)NULL);
		_exit(127);
	}
}

static void stop_gpsd(void)
{
	if (gpsd_pid <= 0) {
		return;
	}
	kill(gpsd_pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(gpsd_pid, NULL, WNOHANG) == gpsd_pid) {
			gpsd_pid = 0;
			return;
		}
		usleep(20000);
	}
	kill(gpsd_pid, SIGKILL);
	waitpid(gpsd_pid, NULL, 0);
	gpsd_pid = 0;
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void setup(void)
{
	static const struct leap_entry e[] = {
		{ .utc_s = 1483228800LL, .dtai = 37 },
	};
	struct termios t;
	FILE *f;
	size_t n;

	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(fake_peer_sh("command -v gpsd >/dev/null && "
				  "command -v gpspipe >/dev/null"),
		     0, "gpsd/gpspipe not found: install gpsd, gpsd-clients");
	leaps = leap_table_new(e, 1, 4200000000LL);
	f = fopen(NMEA_FILE, "r");
	cr_assert(f, "%s: %s", NMEA_FILE, strerror(errno));
	n = fread(nmea, 1, sizeof(nmea) - 1, f);
	nmea[n] = '\0';
	fclose(f);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vrtc-gpsd-XXXXXX");
	cr_assert(mkdtemp(tmpdir));
	ptm = posix_openpt(O_RDWR | O_NOCTTY);
	cr_assert_geq(ptm, 0);
	cr_assert_eq(grantpt(ptm), 0);
	cr_assert_eq(unlockpt(ptm), 0);
	snprintf(ptsname_buf, sizeof(ptsname_buf), "%s", ptsname(ptm));
	/* held open so the master never sees a hang-up */
	pts = open(ptsname_buf, O_RDWR | O_NOCTTY);
	cr_assert_geq(pts, 0);
	tcgetattr(pts, &t);
	cfmakeraw(&t);
	tcsetattr(pts, TCSANOW, &t);
	atomic_store(&feeding, true);
	atomic_store(&have_fix, true);
	atomic_store(&feeder_stop, false);
	cr_assert_eq(pthread_create(&feeder, NULL, feed, NULL), 0);
	feeder_started = true;
	port = free_port();
	start_gpsd();
}

static void teardown(void)
{
	stop_gpsd();
	if (feeder_started) {
		atomic_store(&feeder_stop, true);
		pthread_join(feeder, NULL);
		feeder_started = false;
	}
	if (pts >= 0) {
		close(pts);
	}
	if (ptm >= 0) {
		close(ptm);
	}
	pts = ptm = -1;
	if (tmpdir[0]) {
		fake_peer_sh("rm -rf %s", tmpdir);
	}
	leap_table_free(leaps);
}

TestSuite(gpsd_peer, .init = setup, .fini = teardown, .timeout = 90);

static void dump_gpsd_log(void)
{
	fake_peer_sh("tail -n 20 %s/gpsd.log >&2", tmpdir);
}

/* Connect, retrying while gpsd starts up. */
static struct gpsd_client *connect_client(void)
{
	struct gpsd_client *c = NULL;
	char p[16];
	int r = -1;

	snprintf(p, sizeof(p), "%d", port);
	for (int i = 0; i < 100 && r < 0; i++) {
		r = gpsd_client_new("127.0.0.1", p, NULL, &c);
		if (r < 0) {
			usleep(50000);
		}
	}
	if (r < 0) {
		dump_gpsd_log();
	}
	cr_assert_eq(r, 0, "gpsd on port %d: %s", port, strerror(-r));
	return c;
}

/* The value after "key": in a JSON line, as text up to , or } or ". */
static bool field(const char *line, const char *key, char *out, size_t len)
{
	char pat[32];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	if (!p) {
		return false;
	}
	p += strlen(pat);
	if (*p == '"') {
		p++;
	}
	n = strcspn(p, ",}\"");
	snprintf(out, len, "%.*s", (int)n, p);
	return true;
}

/* gpspipe's line of class @cls with "key":value == @want, or NULL. */
static const char *find_line(char *const *lines, int n, const char *cls,
			     const char *key, const char *want)
{
	char v[64];

	for (int i = 0; i < n; i++) {
		if (strstr(lines[i], cls) &&
		    field(lines[i], key, v, sizeof(v)) &&
		    strcmp(v, want) == 0) {
			return lines[i];
		}
	}
	return NULL;
}

Test(gpsd_peer, client_values_match_gpspipe)
{
	struct gpsd_client *c = connect_client();
	char path[128], v[64], want[64], *lines[64];
	int n = 0, tpv = 0, toff = 0, nmsg = 0;
	struct gpsd_msg msgs[64];
	int64_t end;
	FILE *f;

	snprintf(path, sizeof(path), "%s/pipe.json", tmpdir);
	cr_assert_eq(
		fake_peer_sh("timeout 7 gpspipe -w -P 127.0.0.1:%d > %s 2>&1 &",
			     port, path),
		0);
	end = time_ns_now(CLOCK_MONOTONIC) + 6 * NS;
	while (time_ns_now(CLOCK_MONOTONIC) < end && nmsg < 64) {
		int r = gpsd_client_read(c, &msgs[nmsg]);

		cr_assert_neq(r, -ECONNRESET);
		if (r == 0) {
			nmsg++;
		} else {
			usleep(10000);
		}
	}
	gpsd_client_free(c);
	sleep(2); /* gpspipe's timeout */
	f = fopen(path, "r");
	cr_assert(f);
	for (char *l = NULL; n < 64;) {
		size_t cap = 0;

		if (getline(&l, &cap, f) < 0) {
			free(l);
			break;
		}
		lines[n++] = l;
		l = NULL;
	}
	fclose(f);
	cr_assert_geq(n, 4, "gpspipe printed %d lines", n);
	for (int i = 0; i < nmsg; i++) {
		const struct gpsd_msg *m = &msgs[i];
		const char *l;

		if (m->kind == GPSD_MSG_TPV && m->fix_time.tv_sec) {
			struct tm tm;

			gmtime_r(&m->fix_time.tv_sec, &tm);
			strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
			snprintf(want + strlen(want),
				 sizeof(want) - strlen(want), ".%03ldZ",
				 m->fix_time.tv_nsec / 1000000);
			if (!find_line(lines, n, "\"TPV\"", "time", want)) {
				continue; /* gpspipe joined later */
			}
			/* a cycle's TPVs share the time; one has our mode */
			snprintf(v, sizeof(v), "%d", m->mode);
			l = NULL;
			for (int k = 0; k < n && !l; k++) {
				char tv[64];

				if (strstr(lines[k], "\"TPV\"") &&
				    field(lines[k], "time", tv, sizeof(tv)) &&
				    strcmp(tv, want) == 0 &&
				    strstr(lines[k], "\"mode\":") &&
				    field(lines[k], "mode", tv, sizeof(tv)) &&
				    strcmp(tv, v) == 0) {
					l = lines[k];
				}
			}
			cr_assert(l, "no TPV at %s with mode %d", want,
				  m->mode);
			cr_assert(field(l, "device", v, sizeof(v)));
			cr_assert_str_eq(v, m->device);
			tpv++;
		} else if (m->kind == GPSD_MSG_TOFF) {
			snprintf(want, sizeof(want), "%lld",
				 (long long)m->real.tv_sec);
			l = find_line(lines, n, "\"TOFF\"", "real_sec", want);
			if (!l) {
				continue;
			}
			cr_assert(field(l, "clock_sec", v, sizeof(v)));
			cr_assert_eq(atoll(v), (long long)m->clock.tv_sec);
			cr_assert(field(l, "clock_nsec", v, sizeof(v)));
			cr_assert_eq(atol(v), m->clock.tv_nsec);
			cr_assert(field(l, "device", v, sizeof(v)));
			cr_assert_str_eq(v, m->device);
			cr_assert_str_eq(m->device, ptsname_buf);
			toff++;
		}
	}
	for (int i = 0; i < n; i++) {
		free(lines[i]);
	}
	if (tpv < 3 || toff < 3) {
		dump_gpsd_log();
		fake_peer_sh("head -c 3000 %s >&2", path);
	}
	cr_assert_geq(tpv, 3, "TPV matched: %d of %d messages", tpv, nmsg);
	cr_assert_geq(toff, 3, "TOFF matched: %d of %d messages", toff, nmsg);
}

/* Poll every 200 ms until @want or @timeout_s; returns the last result. */
static int poll_until(struct source *s, enum source_state want,
		      double timeout_s, struct time_sample *t,
		      struct source_health *h)
{
	int64_t end = time_ns_now(CLOCK_MONOTONIC) + (int64_t)(timeout_s * 1e9);
	int r;

	do {
		memset(h, 0, sizeof(*h));
		r = source_poll(s, t, h);
		if (h->state == want) {
			return r;
		}
		usleep(200000);
	} while (time_ns_now(CLOCK_MONOTONIC) < end);
	return r;
}

/* A DEGRADED TOFF sample: the bound is the documented one and holds. */
static void check_toff_sample(const struct time_sample *t,
			      const struct source_health *h)
{
	int64_t raw = time_ns_now(CLOCK_MONOTONIC_RAW);
	int64_t rt = time_ns_now(CLOCK_REALTIME);
	int64_t host_tai = rt - (raw - (int64_t)t->counter) + 37 * NS;
	int64_t diff = t->tai_ns - host_tai;

	cr_assert_eq(h->state, SOURCE_DEGRADED, "%s", h->text);
	cr_assert(strstr(h->text, "no PPS: NMEA timing only, bound 500 ms"),
		  "%s", h->text);
	cr_assert_geq(t->err_ns, 500000000ULL);
	cr_assert_leq(t->err_ns, 500000000ULL + MAP_MAX_NS);
	/* the feed writes 50 ms after the second: inside the bound */
	cr_assert_lt(llabs(diff), (long long)t->err_ns, "TAI off by %lld ns",
		     (long long)diff);
}

Test(gpsd_peer, source_degraded_then_stale_error_and_recovery)
{
	struct source_gpsd_settings set = { 0 };
	struct source_conf conf = { .leaps = leaps, .settings = &set };
	struct source_health h;
	struct time_sample t;
	struct source *s = NULL;
	struct gpsd_client *c = connect_client(); /* gpsd is up */
	char server[32];
	GError *err = NULL;
	int r;

	gpsd_client_free(c);
	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	set.gpsd_server = server;
	cr_assert_eq(source_new(&source_gpsd_ops, &conf, &s, &err), 0, "%s",
		     err ? err->message : "");
	r = poll_until(s, SOURCE_DEGRADED, 6, &t, &h);
	cr_assert_eq(r, 0, "%s", h.text);
	check_toff_sample(&t, &h);

	/* the receiver goes quiet: no fix within 3 s (+ a cycle) */
	atomic_store(&feeding, false);
	r = poll_until(s, SOURCE_STALE, 6, &t, &h);
	cr_assert_eq(h.state, SOURCE_STALE, "%s", h.text);
	cr_assert_eq(r, -EAGAIN);
	cr_assert(strstr(h.text, "no fix"), "%s", h.text);
	cr_assert(strstr(h.text, server), "%s", h.text);
	atomic_store(&feeding, true);
	r = poll_until(s, SOURCE_DEGRADED, 6, &t, &h);
	cr_assert_eq(r, 0, "%s", h.text);
	check_toff_sample(&t, &h);

	/* the receiver loses its fix but keeps talking: STALE, no fix */
	atomic_store(&have_fix, false);
	r = poll_until(s, SOURCE_STALE, 6, &t, &h);
	cr_assert_eq(h.state, SOURCE_STALE, "%s", h.text);
	cr_assert_eq(r, -EAGAIN);
	cr_assert(strstr(h.text, "receiver has no fix"), "%s", h.text);
	atomic_store(&have_fix, true);
	r = poll_until(s, SOURCE_DEGRADED, 6, &t, &h);
	cr_assert_eq(r, 0, "%s", h.text);
	check_toff_sample(&t, &h);

	/* gpsd dies: ERROR, saying so */
	stop_gpsd();
	r = poll_until(s, SOURCE_ERROR, 3, &t, &h);
	cr_assert_eq(h.state, SOURCE_ERROR, "%s", h.text);
	cr_assert_lt(r, 0);
	cr_assert(strstr(h.text, "unreachable"), "%s", h.text);

	/* and comes back: the source recovers without being reopened */
	start_gpsd();
	r = poll_until(s, SOURCE_DEGRADED, 12, &t, &h);
	if (r != 0) {
		dump_gpsd_log();
	}
	cr_assert_eq(r, 0, "%s", h.text);
	check_toff_sample(&t, &h);
	source_free(s);
}

/*
 * The real daemon following gpsd, under its seccomp filter (on by
 * default): gpsd is killed and restarted, and the daemon must reconnect
 * by itself (numeric address, resolved before the filter) without being
 * killed by the filter, and follow gpsd again.
 */
Test(gpsd_peer, daemon_survives_gpsd_restart_under_seccomp)
{
	char server[32], log[32768];
	struct vdaemon *d;
	const char *p;
	bool back = false;

	itest_init();
	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	d = itest_startl("--gpsd", server, "--system-clock", "off",
			 "--sync-interval-ms", "200");
	for (int i = 0; i < 50; i++) {
		vdaemon_read_log(d, log, sizeof(log));
		if (strstr(log, "seccomp system-call filter installed") &&
		    strstr(log, "following gpsd")) {
			break;
		}
		itest_sleep_ms(100);
	}
	cr_assert(strstr(log, "following gpsd"), "log:\n%s", log);
	cr_assert(strstr(log, "seccomp system-call filter installed"),
		  "log:\n%s", log);
	stop_gpsd();
	itest_sleep_ms(1500);
	start_gpsd();
	for (int i = 0; i < 150 && !back; i++) {
		itest_sleep_ms(100);
		itest_alive(d);
		vdaemon_read_log(d, log, sizeof(log));
		/* after the ERROR, gpsd's TOFF reports are followed again */
		p = strstr(log, "gpsd error");
		back = p && strstr(p, "gpsd degraded");
	}
	cr_assert(back, "gpsd not followed again; log:\n%s", log);
	cr_assert(!strstr(log, "seccomp denied"), "log:\n%s", log);
	itest_stop(d);
	itest_fini();
}
