// SPDX-License-Identifier: MIT
/*
 * sync/sources/chrony.c against real chronyd (Debian package "chrony"): a
 * server chronyd serving "local stratum 8" on a loopback port and a client
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
#include "harness_chronyd.h"

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

	cr_assert(chronyd_find_prog("chronyc", exe, sizeof(exe)),
		  "chronyc is not installed (Debian package \"chrony\")");
	snprintf(cmd, sizeof(cmd), "%s -h %s -c tracking", exe,
		 chronyd_client_sock);
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

TestSuite(chrony, .init = chronyd_pair_start, .fini = chronyd_pair_stop,
	  .timeout = 60);

Test(chrony, tracking_matches_chronyc_over_unix_socket)
{
	struct chrony_client *c = chronyd_pair_open_unix();
	struct chrony_tracking a, b;
	struct timespec now;
	struct csv v;
	uint64_t bound;

	int tries;

	chronyd_pair_wait_synced(c, &a);
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
	struct chrony_client *u = chronyd_pair_open_unix(), *c = NULL;
	struct chrony_tracking ref, t;
	struct pollfd p;
	int rc, tries;

	chronyd_pair_wait_synced(u, &ref);
	chrony_client_free(u);
	rc = chrony_client_new(
		&(struct chrony_client_conf){ .host = "127.0.0.1",
					      .port = chronyd_client_cmdport },
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
