// SPDX-License-Identifier: MIT
/*
 * The daemon with --chrony against a chronyd that is NOT synchronised:
 * one chronyd -x on loopback whose only server is a port nobody answers
 * on, so it stays unsynchronised for the whole test (deterministic, no
 * race with a server). The daemon must start (no fatal error), serve
 * READ, and log the sources and the one it follows: the system clock,
 * with chronyd's health logged as not synchronised.
 */
#include "itest.h"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness_chronyd.h"

static char dir[64];
static char sock[128];
static pid_t pid;

static void lone_chronyd_start(void)
{
	char exe[64], text[512];

	itest_init();
	cr_assert(chronyd_find_prog("chronyd", exe, sizeof(exe)),
		  "chronyd is not installed (Debian package \"chrony\")");
	snprintf(dir, sizeof(dir), "/tmp/vrtc-unsync-it.XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/chronyd.sock", dir);
	/* port 9 (discard): nothing answers NTP there */
	snprintf(text, sizeof(text),
		 "server 127.0.0.1 port 9 iburst minpoll -4 maxpoll -4\n"
		 "port 0\ncmdport 0\nbindcmdaddress %s\npidfile %s/c.pid\n",
		 sock, dir);
	pid = chronyd_spawn(exe, dir, "chronyd", text);
	for (int i = 0; i < 100 && access(sock, F_OK); i++) {
		cr_assert_neq(waitpid(pid, NULL, WNOHANG), pid,
			      "chronyd exited; see %s/chronyd.log", dir);
		usleep(50000);
	}
	cr_assert_eq(access(sock, F_OK), 0, "no chronyd command socket");
}

static void lone_chronyd_stop(void)
{
	char cmd[160];

	itest_fini();
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		pid = 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (dir[0] && system(cmd)) {
		fprintf(stderr, "could not remove %s\n", dir);
	}
}

Test(daemon_unsynced, starts_serves_and_says_what_it_follows,
     .init = lone_chronyd_start, .fini = lone_chronyd_stop,
     .timeout = ITEST_TIMEOUT)
{
	struct chrony_client *c = NULL;
	struct chrony_tracking t;
	struct vdaemon *d;
	struct vuf *v;
	char log[16384];
	uint64_t u1, u2;

	/* the premise: chronyd answers, unsynchronised */
	cr_assert_eq(chrony_client_new(
			     &(struct chrony_client_conf){ .socket_path = sock,
							   .run_dir = dir },
			     &c),
		     0);
	cr_assert_eq(chrony_client_query(c, 1000, &t), 0);
	cr_assert_eq(t.leap_status, CHRONY_LEAP_UNSYNC);
	chrony_client_free(c);

	d = itest_startl("--chrony", "--chrony-socket", sock);
	v = itest_vm(vdaemon_socket(d, 0), NULL);
	u1 = itest_read(v, 0);
	usleep(100000);
	u2 = itest_read(v, 0);
	cr_assert_gt(u2, u1, "served UTC does not advance");
	vdaemon_read_log(d, log, sizeof(log));
	cr_assert(strstr(log, "time sources, in order of preference: "
			      "chronyd, system clock"),
		  "log:\n%s", log);
	cr_assert(strstr(log, "not synchronised"), "log:\n%s", log);
	cr_assert(strstr(log, "following system clock: only source with "
			      "samples"),
		  "log:\n%s", log);
	vuf_free(v);
	itest_stop(d);
}
