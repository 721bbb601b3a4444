// SPDX-License-Identifier: MIT
/*
 * sync/chrony.c against real chronyd (Debian package "chrony"): a server
 * chronyd serving "local stratum 8" on a loopback port and a client
 * chronyd synchronised to it, both with -x (never touching the host
 * clock), each with its own command socket and port in a temp dir. Our
 * client reads TRACKING from the client chronyd and is checked against
 * `chronyc -c tracking` read between two of our reads. Without chronyd
 * installed the tests fail, on purpose.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chrony.h"

#define SYNC_WAIT_S 30

static char dir[64];
static pid_t pids[2];
static uint16_t client_cmdport;
static char client_sock[128];

static const char *find_prog(const char *name, char *buf, size_t len)
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin",
					    "/usr/local/sbin", "/sbin" };
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(buf, len, "%s/%s", dirs[i], name);
		if (!access(buf, X_OK)) {
			return buf;
		}
	}
	return NULL;
}

static uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static pid_t spawn_chronyd(const char *exe, const char *name,
			   const char *conf_text)
{
	char conf[128], log[128];
	FILE *f;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/%s.conf", dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", dir, name);
	f = fopen(conf, "w");
	cr_assert(f);
	fputs(conf_text, f);
	fclose(f);
	pid = fork();
	cr_assert(pid >= 0);
	if (!pid) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		if (geteuid() == 0) {
			execl(exe, exe, "-n", "-x", "-u", "root", "-f", conf,
			      (char *)NULL);
		} else {
			execl(exe, exe, "-n", "-x", "-U", "-f", conf,
			      (char *)NULL);
		}
		_exit(127);
	}
	return pid;
}

static void dump_logs(void);

/* Both command sockets there, or a clear failure with the logs. */
static void wait_sockets(void)
{
	char path[128];
	int i;

	snprintf(path, sizeof(path), "%s/server.sock", dir);
	for (i = 0; i < 100; i++) {
		if (!access(path, F_OK) && !access(client_sock, F_OK)) {
			return;
		}
		if (waitpid(pids[0], NULL, WNOHANG) == pids[0] ||
		    waitpid(pids[1], NULL, WNOHANG) == pids[1]) {
			break;
		}
		usleep(50000);
	}
	dump_logs();
	cr_assert_fail("chronyd did not open its command sockets");
}

static void start_pair(void)
{
	char exe[64], text[1024];
	uint16_t ntp = free_port(), srv_cmd = free_port();

	cr_assert(find_prog("chronyd", exe, sizeof(exe)),
		  "chronyd is not installed: the chrony integration test "
		  "needs the Debian package \"chrony\" (apt-get install "
		  "chrony)");
	snprintf(dir, sizeof(dir), "/tmp/vrtc-chrony-it.XXXXXX");
	cr_assert(mkdtemp(dir));
	client_cmdport = free_port();
	snprintf(client_sock, sizeof(client_sock), "%s/client.sock", dir);

	snprintf(text, sizeof(text),
		 "port %u\nbindaddress 127.0.0.1\nlocal stratum 8\n"
		 "allow 127.0.0.1\ncmdport %u\nbindcmdaddress 127.0.0.1\n"
		 "bindcmdaddress %s/server.sock\npidfile %s/server.pid\n",
		 ntp, srv_cmd, dir, dir);
	pids[0] = spawn_chronyd(exe, "server", text);
	snprintf(text, sizeof(text),
		 "server 127.0.0.1 port %u iburst minpoll -4 maxpoll -4\n"
		 "port 0\ncmdport %u\nbindcmdaddress 127.0.0.1\n"
		 "bindcmdaddress %s\npidfile %s/client.pid\n",
		 ntp, client_cmdport, client_sock, dir);
	pids[1] = spawn_chronyd(exe, "client", text);
	wait_sockets();
}

static void dump_logs(void)
{
	static const char *const names[] = { "server", "client" };
	char path[128], line[256];
	size_t i;

	for (i = 0; i < 2; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s.log", dir, names[i]);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f)) {
			fprintf(stderr, "chronyd %s: %s", names[i], line);
		}
		if (f) {
			fclose(f);
		}
	}
}

static void stop_pair(void)
{
	size_t i;
	int n;

	for (i = 0; i < 2; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGTERM);
		}
	}
	for (i = 0; i < 2; i++) {
		for (n = 0; pids[i] > 0 && n < 40; n++) {
			if (waitpid(pids[i], NULL, WNOHANG) == pids[i]) {
				pids[i] = 0;
				break;
			}
			usleep(50000);
		}
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
	}
	if (dir[0]) {
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd)) {
			fprintf(stderr, "could not remove %s\n", dir);
		}
	}
}

static struct chrony_client *open_unix(void)
{
	struct chrony_client *c = NULL;
	int rc = chrony_client_new(
		&(struct chrony_client_conf){ .socket_path = client_sock,
					      .run_dir = dir },
		&c);

	cr_assert_eq(rc, 0, "chrony_client_new: %s", strerror(-rc));
	return c;
}

/* Until the client chronyd follows the server (stratum 9). */
static void wait_synced(struct chrony_client *c, struct chrony_tracking *t)
{
	struct timespec t0, now;
	int rc = -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		rc = chrony_client_query(c, 1000, t);
		/* settled: past the first updates' huge dispersion */
		if (!rc && t->leap_status != CHRONY_LEAP_UNSYNC &&
		    t->stratum == 9 && t->root_dispersion < 1e-3) {
			return;
		}
		usleep(200000);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - t0.tv_sec < SYNC_WAIT_S);
	dump_logs();
	cr_assert_fail("client chronyd not synchronised in %d s (last %d, "
		       "leap %u stratum %u)",
		       SYNC_WAIT_S, rc, t->leap_status, t->stratum);
}

struct csv {
	uint32_t ref_id;
	unsigned int stratum;
	double ref_time, corr, last, rms, freq, resid, skew, delay, disp,
		interval;
	char leap[32];
};

static void chronyc_tracking(struct csv *v)
{
	char exe[64], cmd[256], line[512];
	FILE *p;
	int n;

	cr_assert(find_prog("chronyc", exe, sizeof(exe)),
		  "chronyc is not installed (Debian package \"chrony\")");
	snprintf(cmd, sizeof(cmd), "%s -h %s -c tracking", exe, client_sock);
	p = popen(cmd, "r");
	cr_assert(p);
	cr_assert(fgets(line, sizeof(line), p), "no output from chronyc");
	pclose(p);
	n = sscanf(line,
		   "%x,%*[^,],%u,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,"
		   "%31[^\n]",
		   &v->ref_id, &v->stratum, &v->ref_time, &v->corr, &v->last,
		   &v->rms, &v->freq, &v->resid, &v->skew, &v->delay, &v->disp,
		   &v->interval, v->leap);
	cr_assert_eq(n, 13, "unexpected chronyc output: %s", line);
}

static double ts(const struct timespec *t)
{
	return (double)t->tv_sec + (double)t->tv_nsec * 1e-9;
}

/* chronyc's value within our two reads' range, widened by @tol. */
static void between(const char *what, double c, double a, double b, double tol)
{
	double lo = fmin(a, b) - tol, hi = fmax(a, b) + tol;
	double d = c < lo ? lo - c : c > hi ? c - hi : 0;

	printf("%-16s chronyc %.9g ours %.9g .. %.9g (outside by %.3g)\n", what,
	       c, a, b, d);
	cr_assert(c >= lo && c <= hi, "%s: chronyc %.9g, ours %.9g .. %.9g",
		  what, c, a, b);
}

TestSuite(chrony, .init = start_pair, .fini = stop_pair, .timeout = 60);

Test(chrony, tracking_matches_chronyc_over_unix_socket)
{
	struct chrony_client *c = open_unix();
	struct chrony_tracking a, b;
	struct timespec now;
	struct csv v;
	uint64_t bound;

	int tries;

	wait_synced(c, &a);
	/* chronyc between two reads of ours with no clock update between
	 * (the client updates every 1/16 s): then only the dispersion,
	 * aged at each read, may differ */
	for (tries = 0; tries < 50; tries++) {
		cr_assert_eq(chrony_client_query(c, 2000, &a), 0);
		chronyc_tracking(&v);
		cr_assert_eq(chrony_client_query(c, 2000, &b), 0);
		if (a.ref_time.tv_sec == b.ref_time.tv_sec &&
		    a.ref_time.tv_nsec == b.ref_time.tv_nsec) {
			break;
		}
	}
	printf("no update between reads after %d tries\n", tries + 1);
	cr_assert_lt(tries, 50, "chronyd updated during every comparison");

	cr_assert_eq(v.ref_id, a.ref_id);
	cr_assert_eq(a.ref_id, 0x7f000001); /* 127.0.0.1 */
	cr_assert_eq(a.ip_family, CHRONY_AF_INET4);
	cr_assert_eq(v.stratum, a.stratum);
	cr_assert_eq(a.stratum, 9);
	cr_assert_str_eq(v.leap, "Normal");
	cr_assert_eq(a.leap_status, CHRONY_LEAP_NORMAL);
	/* chronyc prints 9 decimals for seconds, 3 for ppm */
	between("ref_time", v.ref_time, ts(&a.ref_time), ts(&b.ref_time), 1e-9);
	between("system time", v.corr, a.current_correction,
		b.current_correction, 2e-9);
	between("last offset", v.last, a.last_offset, b.last_offset, 2e-9);
	between("rms offset", v.rms, a.rms_offset, b.rms_offset, 2e-9);
	between("freq ppm", v.freq, a.freq_ppm, b.freq_ppm, 2e-3);
	between("resid freq ppm", v.resid, a.resid_freq_ppm, b.resid_freq_ppm,
		2e-3);
	between("skew ppm", v.skew, a.skew_ppm, b.skew_ppm, 2e-3);
	between("root delay", v.delay, a.root_delay, b.root_delay, 2e-9);
	/* aged by chronyd at each read: grows between reads */
	between("root dispersion", v.disp, a.root_dispersion, b.root_dispersion,
		2e-9);
	between("update interval", v.interval, a.last_update_interval,
		b.last_update_interval, 0.06);

	clock_gettime(CLOCK_REALTIME, &now);
	cr_assert_eq(chrony_bound_ns(&b, &now, 1000, 100, &bound), 0);
	printf("bound %llu ns\n", (unsigned long long)bound);
	cr_assert_geq(bound, (uint64_t)(b.root_delay / 2 * 1e9));
	cr_assert_lt(bound, 1000000, "loopback bound under 1 ms");
	chrony_client_free(c);
}

Test(chrony, nonblocking_over_udp_port)
{
	struct chrony_client *u = open_unix(), *c = NULL;
	struct chrony_tracking ref, t;
	struct pollfd p;
	int rc, tries;

	wait_synced(u, &ref);
	chrony_client_free(u);
	rc = chrony_client_new(
		&(struct chrony_client_conf){ .host = "127.0.0.1",
					      .port = client_cmdport },
		&c);
	cr_assert_eq(rc, 0, "chrony_client_new udp: %s", strerror(-rc));
	cr_assert_eq(chrony_client_receive(c, &t), -EAGAIN);
	for (tries = 0; tries < 3; tries++) {
		cr_assert_eq(chrony_client_send(c, tries), 0);
		p = (struct pollfd){ .fd = chrony_client_fd(c),
				     .events = POLLIN };
		if (poll(&p, 1, 1000) == 1) {
			break;
		}
	}
	cr_assert_eq(chrony_client_receive(c, &t), 0);
	cr_assert_eq(t.ref_id, ref.ref_id);
	cr_assert_eq(t.stratum, ref.stratum);
	cr_assert_eq(t.leap_status, ref.leap_status);
	cr_assert_lt(fabs(ts(&t.ref_time) - ts(&ref.ref_time)), 5.0);
	/* a late duplicate to an old sequence number is stale, not taken */
	cr_assert_eq(chrony_client_send(c, 0), 0);
	cr_assert_eq(chrony_client_send(c, 0), 0);
	cr_assert_eq(poll(&p, 1, 1000), 1);
	cr_assert_eq(chrony_client_receive(c, &t), -ESTALE);
	cr_assert_eq(poll(&p, 1, 1000), 1);
	cr_assert_eq(chrony_client_receive(c, &t), 0);
	chrony_client_free(c);
}
