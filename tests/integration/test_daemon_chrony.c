// SPDX-License-Identifier: MIT
/*
 * The daemon following chronyd (--chrony): a server chronyd ("local
 * stratum 8") and a client chronyd synchronised to it on loopback, both
 * -x (never touching the host clock), as in test_chrony.c (harness_chronyd.c);
 * the daemon reads the client's command socket. Served UTC must match
 * CLOCK_REALTIME (which the -x client does not steer) within a few ms,
 * TAI - UTC must be 37, and the log must say chronyd is followed. Also:
 * --phc with a missing device fails with one clear line. A PHC-backed
 * daemon test is not possible on this host (no PHC); the PHC reader's
 * real ioctls are covered in the e2e guest.
 */
#include "itest.h"
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "chrony.h"
#include "harness_chronyd.h"

#define NS 1000000000LL

static void dc_fini(void)
{
	itest_fini();
	chronyd_pair_stop();
}

Test(daemon_chrony, serves_chronyd_time, .init = chronyd_pair_start,
     .fini = dc_fini, .timeout = ITEST_TIMEOUT)
{
	struct chrony_client *c = chronyd_pair_open_unix();
	struct chrony_tracking t;
	struct timespec rt0, rt1;
	struct vdaemon *d;
	struct vuf *v;
	char log[16384];
	int64_t u, tai, host;

	chronyd_pair_wait_synced(c, &t);
	chrony_client_free(c);
	d = itest_startl("--chrony", "--chrony-socket", chronyd_client_sock);
	v = itest_vm(vdaemon_socket(d, 0), NULL);
	clock_gettime(CLOCK_REALTIME, &rt0);
	u = (int64_t)itest_read(v, 0);
	clock_gettime(CLOCK_REALTIME, &rt1);
	tai = (int64_t)itest_read(v, 1);
	host = (int64_t)rt0.tv_sec * NS + rt0.tv_nsec;
	cr_assert(u > host - 5000000 &&
			  u < (int64_t)rt1.tv_sec * NS + rt1.tv_nsec + 5000000,
		  "served UTC %lld vs CLOCK_REALTIME %lld", (long long)u,
		  (long long)host);
	cr_assert(tai - u > 37 * NS - 5000000 && tai - u < 37 * NS + 5000000,
		  "TAI - UTC %lld ns", (long long)(tai - u));
	vdaemon_read_log(d, log, sizeof(log));
	cr_assert(strstr(log, "following chronyd"),
		  "log does not say chronyd is followed:\n%s", log);
	vuf_free(v);
	itest_stop(d);
}

Test(daemon_chrony, missing_phc_one_line, .init = itest_init,
     .fini = itest_fini, .timeout = ITEST_TIMEOUT)
{
	static const char *const argv[] = { "--socket-path",
					    "/tmp/vrtc-nophc.sock", "--phc",
					    "/dev/nonexistent", NULL };
	char out[4096];
	int st = vdaemon_run(argv, 5000, out, sizeof(out));

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1,
		  "status 0x%x, output:\n%s", st, out);
	cr_assert(strstr(out, "/dev/nonexistent"), "output:\n%s", out);
	cr_assert(strchr(out, '\n') == out + strlen(out) - 1,
		  "not one line:\n%s", out);
}
