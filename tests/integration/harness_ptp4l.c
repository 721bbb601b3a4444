// SPDX-License-Identifier: MIT
/* A real ptp4l master and slave in network namespaces; see harness_ptp4l.h. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness_fakepeer.h"
#include "harness_ptp4l.h"

char ptp4l_tmpdir[64];
static char ns_m[32], ns_s[32], if_m[16], if_s[16];
static pid_t pid_m, pid_s;
static bool ns_made[2];

static void stop(pid_t *pid)
{
	int i;

	if (*pid <= 0) {
		return;
	}
	kill(*pid, SIGTERM);
	for (i = 0; i < 100; i++) {
		if (waitpid(*pid, NULL, WNOHANG) == *pid) {
			*pid = 0;
			return;
		}
		usleep(20000);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

void ptp4l_dump_log(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s.log", ptp4l_tmpdir, name);
	fprintf(stderr, "---- %s\n", path);
	fake_peer_sh("tail -n 20 %s >&2", path);
}

void ptp4l_pair_stop(void)
{
	stop(&pid_s);
	stop(&pid_m);
	if (ns_made[0]) {
		fake_peer_sh("ip netns del %s", ns_m);
	}
	if (ns_made[1]) {
		fake_peer_sh("ip netns del %s", ns_s);
	}
	if (ptp4l_tmpdir[0]) {
		fake_peer_sh("rm -rf %s", ptp4l_tmpdir);
	}
}

static void need(const char *tool)
{
	cr_assert_eq(fake_peer_sh("command -v %s >/dev/null 2>&1", tool), 0,
		     "%s not found: install linuxptp and iproute2", tool);
}

static void write_cfg(const char *name, bool master)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.cfg", ptp4l_tmpdir, name);
	f = fopen(path, "w");
	cr_assert(f);
	fprintf(f,
		"[global]\n"
		"free_running 1\n"
		"domainNumber 0\n"
		"uds_address %s/%s.sock\n"
		"logAnnounceInterval -2\n"
		"announceReceiptTimeout 3\n"
		"logSyncInterval -3\n"
		"logMinDelayReqInterval -3\n"
		"utc_offset 36\n"
		"timeSource 0x50\n"
		"%s\n",
		ptp4l_tmpdir, name,
		master ? "priority1 10\nclockClass 6\nclockAccuracy 0x21"
		       : "priority1 200\nslaveOnly 1");
	fclose(f);
}

static pid_t spawn_ptp4l(const char *name, const char *ns, const char *ifc)
{
	char cfg[128], log[128];
	pid_t pid;

	snprintf(cfg, sizeof(cfg), "%s/%s.cfg", ptp4l_tmpdir, name);
	snprintf(log, sizeof(log), "%s/%s.log", ptp4l_tmpdir, name);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		/* ip netns exec execs ptp4l in this same process */
		execlp("ip", "ip", "netns", "exec", ns, "ptp4l", "-f", cfg,
		       "-i", ifc, "-S", "-2", "-m", (char *)NULL);
		_exit(127);
	}
	return pid;
}

void ptp4l_pair_start(void)
{
	int p = (int)getpid();

	need("ip");
	need("ptp4l");
	need("pmc");
	cr_assert_eq(geteuid(), 0, "needs root (network namespaces)");
	strcpy(ptp4l_tmpdir, "/tmp/vrtc-ptp4l-it.XXXXXX");
	cr_assert(mkdtemp(ptp4l_tmpdir));
	snprintf(ns_m, sizeof(ns_m), "vrtc-ptpm-%d", p);
	snprintf(ns_s, sizeof(ns_s), "vrtc-ptps-%d", p);
	snprintf(if_m, sizeof(if_m), "vpm%d", p);
	snprintf(if_s, sizeof(if_s), "vps%d", p);
	cr_assert_eq(fake_peer_sh("ip netns add %s", ns_m), 0);
	ns_made[0] = true;
	cr_assert_eq(fake_peer_sh("ip netns add %s", ns_s), 0);
	ns_made[1] = true;
	/* create the pair inside the master's namespace: never in ours */
	cr_assert_eq(
		fake_peer_sh(
			"ip -n %s link add %s type veth peer name %s netns %s",
			ns_m, if_m, if_s, ns_s),
		0);
	cr_assert_eq(
		fake_peer_sh(
			"ip -n %s link set %s up && ip -n %s link set %s up",
			ns_m, if_m, ns_s, if_s),
		0);
	write_cfg("master", true);
	write_cfg("slave", false);
	pid_m = spawn_ptp4l("master", ns_m, if_m);
	pid_s = spawn_ptp4l("slave", ns_s, if_s);
}

struct ptp4l_client *ptp4l_pair_client(const char *name)
{
	struct ptp4l_client_opts o = { .bind_dir = ptp4l_tmpdir };
	struct ptp4l_client *c = NULL;
	char path[128];
	struct stat st;
	int i;

	snprintf(path, sizeof(path), "%s/%s.sock", ptp4l_tmpdir, name);
	for (i = 0; i < 100 && stat(path, &st) < 0; i++) {
		usleep(50000);
	}
	o.server_path = path;
	cr_assert_eq(ptp4l_client_new(&o, &c), 0, "no %s socket", name);
	return c;
}

int64_t ptp4l_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ptp4l_pmc_get(const char *what, char *out, size_t len)
{
	char cmd[512];
	size_t n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "pmc -u -b 0 -s %s/slave.sock -i %s/pmc.%d 'GET %s' 2>&1",
		 ptp4l_tmpdir, ptp4l_tmpdir, (int)getpid(), what);
	p = popen(cmd, "r");
	cr_assert(p);
	n = fread(out, 1, len - 1, p);
	out[n] = 0;
	pclose(p);
	cr_assert(strstr(out, "RESPONSE MANAGEMENT"), "pmc: %s", out);
}

const char *ptp4l_pmc_val(const char *out, const char *key)
{
	static char val[64];
	const char *l = out;
	size_t k = strlen(key);

	while (l && *l) {
		while (*l == ' ' || *l == '\t') {
			l++;
		}
		if (!strncmp(l, key, k) && (l[k] == ' ' || l[k] == '\t')) {
			cr_assert_eq(sscanf(l + k, "%63s", val), 1);
			return val;
		}
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	cr_assert_fail("pmc printed no %s in:\n%s", key, out);
	return NULL;
}

long long ptp4l_pmc_num(const char *out, const char *key)
{
	return strtoll(ptp4l_pmc_val(out, key), NULL, 0);
}

const char *ptp4l_sock_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.sock", ptp4l_tmpdir, name);
	return buf;
}

void ptp4l_slave_stop(void)
{
	stop(&pid_s);
}

void ptp4l_slave_start(void)
{
	char path[128];
	struct stat st;
	int i;

	cr_assert_eq(pid_s, 0, "the slave is running");
	pid_s = spawn_ptp4l("slave", ns_s, if_s);
	ptp4l_sock_path("slave", path, sizeof(path));
	for (i = 0; i < 100 && stat(path, &st) < 0; i++) {
		usleep(50000);
	}
	cr_assert_lt(i, 100, "no slave socket after restart");
}

void ptp4l_pair_get(struct ptp4l_client *c, uint16_t id, struct ptp4l_reply *r)
{
	int ret = ptp4l_client_get(c, id, PTP4L_GET_TIMEOUT_MS, r);

	cr_assert_eq(ret, 0, "GET 0x%04x: %s", id, strerror(-ret));
	cr_assert_eq(r->mgmt_id, id);
}

int ptp4l_pair_wait_settled(struct ptp4l_client *cs)
{
	int64_t deadline = ptp4l_now_ms() + PTP4L_SETTLE_TIMEOUT_MS;
	struct ptp4l_reply port, ts, cur;
	int state;

	for (;;) {
		ptp4l_pair_get(cs, PTP4L_MID_PORT_DATA_SET, &port);
		ptp4l_pair_get(cs, PTP4L_MID_TIME_STATUS_NP, &ts);
		ptp4l_pair_get(cs, PTP4L_MID_CURRENT_DATA_SET, &cur);
		state = port.port.port_state;
		if ((state == PTP4L_PS_SLAVE ||
		     state == PTP4L_PS_UNCALIBRATED) &&
		    ts.ts.gm_present && ts.ts.ingress_time_ns != 0 &&
		    cur.cur.mean_path_delay_tins != 0) {
			return state;
		}
		if (ptp4l_now_ms() > deadline) {
			ptp4l_dump_log("master");
			ptp4l_dump_log("slave");
			cr_assert_fail("slave port state %d after %d ms", state,
				       PTP4L_SETTLE_TIMEOUT_MS);
		}
		usleep(200000);
	}
}
