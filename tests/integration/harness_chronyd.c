// SPDX-License-Identifier: MIT
/*
 * A pair of real chronyd (Debian package "chrony") for the integration
 * tests: a server chronyd serving "local stratum 8" on a loopback port
 * and a client chronyd synchronised to it, both with -x (never touching
 * the host clock), each with its own command socket and port in a temp
 * dir. Without chronyd installed the tests fail, on purpose.
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

#include "harness_chronyd.h"

#define SYNC_WAIT_S 30

static char dir[64];
static pid_t pids[2];
static char client_exe[64], client_conf[1024]; /* to start it again */
uint16_t chronyd_client_cmdport;
char chronyd_client_sock[128];

const char *chronyd_find_prog(const char *name, char *buf, size_t len)
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

pid_t chronyd_spawn(const char *exe, const char *in_dir, const char *name,
		    const char *conf_text)
{
	char conf[128], log[128];
	FILE *f;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/%s.conf", in_dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", in_dir, name);
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
		if (!access(path, F_OK) && !access(chronyd_client_sock, F_OK)) {
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

void chronyd_pair_start(void)
{
	char exe[64], text[1024];
	uint16_t ntp = free_port(), srv_cmd = free_port();

	cr_assert(chronyd_find_prog("chronyd", exe, sizeof(exe)),
		  "chronyd is not installed: the chrony integration test "
		  "needs the Debian package \"chrony\" (apt-get install "
		  "chrony)");
	snprintf(dir, sizeof(dir), "/tmp/vrtc-chrony-it.XXXXXX");
	cr_assert(mkdtemp(dir));
	chronyd_client_cmdport = free_port();
	snprintf(chronyd_client_sock, sizeof(chronyd_client_sock),
		 "%s/client.sock", dir);

	snprintf(text, sizeof(text),
		 "port %u\nbindaddress 127.0.0.1\nlocal stratum 8\n"
		 "allow 127.0.0.1\ncmdport %u\nbindcmdaddress 127.0.0.1\n"
		 "bindcmdaddress %s/server.sock\npidfile %s/server.pid\n",
		 ntp, srv_cmd, dir, dir);
	pids[0] = chronyd_spawn(exe, dir, "server", text);
	snprintf(text, sizeof(text),
		 "server 127.0.0.1 port %u iburst minpoll -4 maxpoll -4\n"
		 "port 0\ncmdport %u\nbindcmdaddress 127.0.0.1\n"
		 "bindcmdaddress %s\npidfile %s/client.pid\n",
		 ntp, chronyd_client_cmdport, chronyd_client_sock, dir);
	pids[1] = chronyd_spawn(exe, dir, "client", text);
	snprintf(client_exe, sizeof(client_exe), "%s", exe);
	snprintf(client_conf, sizeof(client_conf), "%s", text);
	wait_sockets();
}

const char *chronyd_pair_dir(void)
{
	return dir;
}

static void stop_pid(pid_t *pid)
{
	int n;

	if (*pid <= 0) {
		return;
	}
	kill(*pid, SIGTERM);
	for (n = 0; n < 40; n++) {
		if (waitpid(*pid, NULL, WNOHANG) == *pid) {
			*pid = 0;
			return;
		}
		usleep(50000);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

void chronyd_client_stop(void)
{
	stop_pid(&pids[1]);
}

void chronyd_client_start(void)
{
	cr_assert_eq(pids[1], 0, "the client chronyd is running");
	pids[1] = chronyd_spawn(client_exe, dir, "client", client_conf);
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

void chronyd_pair_stop(void)
{
	size_t i;

	for (i = 0; i < 2; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGTERM);
		}
	}
	for (i = 0; i < 2; i++) {
		stop_pid(&pids[i]);
	}
	if (dir[0]) {
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd)) {
			fprintf(stderr, "could not remove %s\n", dir);
		}
	}
}

struct chrony_client *chronyd_pair_open_unix(void)
{
	struct chrony_client *c = NULL;
	int rc = chrony_client_new(
		&(struct chrony_client_conf){
			.socket_path = chronyd_client_sock, .run_dir = dir },
		&c);

	cr_assert_eq(rc, 0, "chrony_client_new: %s", strerror(-rc));
	return c;
}

/* Until the client chronyd follows the server (stratum 9). */
void chronyd_pair_wait_synced(struct chrony_client *c,
			      struct chrony_tracking *t)
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
