// SPDX-License-Identifier: MIT
/*
 * Integration: our ptp4l management client against a real ptp4l.
 *
 * Two network namespaces joined by a veth pair, a ptp4l master in one and
 * a slaveOnly ptp4l in the other, layer-2 transport, software
 * timestamping, free_running 1 on both (neither touches any clock). The
 * slave's management socket is read by sync/ptp4l.c and by linuxptp's
 * own pmc, and the values must agree. Needs root, ip(8), ptp4l and pmc:
 * without them the test fails, it does not skip.
 *
 * Note: with free_running 1 ptp4l's servo never reports "locked", so the
 * slave's port stays UNCALIBRATED (it does select the master, measure the
 * path delay and compute the offset); we accept UNCALIBRATED or SLAVE.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ptp4l.h"

#define SETTLE_TIMEOUT_MS 30000
#define GET_TIMEOUT_MS 1000
/* Both ptp4l run on the same CLOCK_REALTIME: offsets between two reads
 * a few Sync intervals apart differ by timestamping noise only. */
#define OFFSET_TOL_NS 1000000

static char tmpdir[64];
static char ns_m[32], ns_s[32], if_m[16], if_s[16];
static pid_t pid_m, pid_s;
static bool ns_made[2];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

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

static void dump_log(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s.log", tmpdir, name);
	fprintf(stderr, "---- %s\n", path);
	sh("tail -n 20 %s >&2", path);
}

static void teardown(void)
{
	stop(&pid_s);
	stop(&pid_m);
	if (ns_made[0]) {
		sh("ip netns del %s", ns_m);
	}
	if (ns_made[1]) {
		sh("ip netns del %s", ns_s);
	}
	if (tmpdir[0]) {
		sh("rm -rf %s", tmpdir);
	}
}

static void need(const char *tool)
{
	cr_assert_eq(sh("command -v %s >/dev/null 2>&1", tool), 0,
		     "%s not found: install linuxptp and iproute2", tool);
}

static void write_cfg(const char *name, bool master)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.cfg", tmpdir, name);
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
		tmpdir, name,
		master ? "priority1 10\nclockClass 6\nclockAccuracy 0x21"
		       : "priority1 200\nslaveOnly 1");
	fclose(f);
}

static pid_t spawn_ptp4l(const char *name, const char *ns, const char *ifc)
{
	char cfg[128], log[128];
	pid_t pid;

	snprintf(cfg, sizeof(cfg), "%s/%s.cfg", tmpdir, name);
	snprintf(log, sizeof(log), "%s/%s.log", tmpdir, name);
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

static void setup_peers(void)
{
	int p = (int)getpid();

	need("ip");
	need("ptp4l");
	need("pmc");
	cr_assert_eq(geteuid(), 0, "needs root (network namespaces)");
	strcpy(tmpdir, "/tmp/vrtc-ptp4l-it.XXXXXX");
	cr_assert(mkdtemp(tmpdir));
	snprintf(ns_m, sizeof(ns_m), "vrtc-ptpm-%d", p);
	snprintf(ns_s, sizeof(ns_s), "vrtc-ptps-%d", p);
	snprintf(if_m, sizeof(if_m), "vpm%d", p);
	snprintf(if_s, sizeof(if_s), "vps%d", p);
	cr_assert_eq(sh("ip netns add %s", ns_m), 0);
	ns_made[0] = true;
	cr_assert_eq(sh("ip netns add %s", ns_s), 0);
	ns_made[1] = true;
	/* create the pair inside the master's namespace: never in ours */
	cr_assert_eq(sh("ip -n %s link add %s type veth peer name %s netns %s",
			ns_m, if_m, if_s, ns_s),
		     0);
	cr_assert_eq(sh("ip -n %s link set %s up && ip -n %s link set %s up",
			ns_m, if_m, ns_s, if_s),
		     0);
	write_cfg("master", true);
	write_cfg("slave", false);
	pid_m = spawn_ptp4l("master", ns_m, if_m);
	pid_s = spawn_ptp4l("slave", ns_s, if_s);
}

static struct ptp4l_client *client_for(const char *name)
{
	struct ptp4l_client_opts o = { .bind_dir = tmpdir };
	struct ptp4l_client *c = NULL;
	char path[128];
	struct stat st;
	int i;

	snprintf(path, sizeof(path), "%s/%s.sock", tmpdir, name);
	for (i = 0; i < 100 && stat(path, &st) < 0; i++) {
		usleep(50000);
	}
	o.server_path = path;
	cr_assert_eq(ptp4l_client_new(&o, &c), 0, "no %s socket", name);
	return c;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* pmc's text output for one GET on the slave. */
static void pmc_get(const char *what, char *out, size_t len)
{
	char cmd[512];
	size_t n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "pmc -u -b 0 -s %s/slave.sock -i %s/pmc.%d 'GET %s' 2>&1",
		 tmpdir, tmpdir, (int)getpid(), what);
	p = popen(cmd, "r");
	cr_assert(p);
	n = fread(out, 1, len - 1, p);
	out[n] = 0;
	pclose(p);
	cr_assert(strstr(out, "RESPONSE MANAGEMENT"), "pmc: %s", out);
}

/* The value after @key at the start of a line of pmc output. */
static const char *pmc_val(const char *out, const char *key)
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

static long long pmc_num(const char *out, const char *key)
{
	return strtoll(pmc_val(out, key), NULL, 0);
}

static const char *id_str(const uint8_t id[8])
{
	static char s[2][32];
	static int i;

	i ^= 1;
	snprintf(s[i], sizeof(s[i]), "%02x%02x%02x.%02x%02x.%02x%02x%02x",
		 id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]);
	return s[i];
}

static void get(struct ptp4l_client *c, uint16_t id, struct ptp4l_reply *r)
{
	int ret = ptp4l_client_get(c, id, GET_TIMEOUT_MS, r);

	cr_assert_eq(ret, 0, "GET 0x%04x: %s", id, strerror(-ret));
	cr_assert_eq(r->mgmt_id, id);
}

TestSuite(ptp4l_real, .fini = teardown, .timeout = 60.0);

Test(ptp4l_real, client_agrees_with_pmc)
{
	static const char *const states[] = {
		"",	    "INITIALIZING", "FAULTY",
		"DISABLED", "LISTENING",    "PRE_MASTER",
		"MASTER",   "PASSIVE",	    "UNCALIBRATED",
		"SLAVE",
	};
	struct ptp4l_reply port, ts, tp, parent, cur, mport;
	struct ptp4l_client *cs, *cm;
	static char out[4096];
	uint64_t budget_ns;
	int64_t deadline;
	int state = 0;

	setup_peers();
	cm = client_for("master");
	cs = client_for("slave");

	/* the slave follows the master, has measured the path, has offsets */
	deadline = now_ms() + SETTLE_TIMEOUT_MS;
	for (;;) {
		get(cs, PTP4L_MID_PORT_DATA_SET, &port);
		get(cs, PTP4L_MID_TIME_STATUS_NP, &ts);
		get(cs, PTP4L_MID_CURRENT_DATA_SET, &cur);
		state = port.port.port_state;
		if ((state == PTP4L_PS_SLAVE ||
		     state == PTP4L_PS_UNCALIBRATED) &&
		    ts.ts.gm_present && ts.ts.ingress_time_ns != 0 &&
		    cur.cur.mean_path_delay_tins != 0) {
			break;
		}
		if (now_ms() > deadline) {
			dump_log("master");
			dump_log("slave");
			cr_assert_fail("slave port state %d after %d ms", state,
				       SETTLE_TIMEOUT_MS);
		}
		usleep(200000);
	}
	get(cm, PTP4L_MID_PORT_DATA_SET, &mport);
	cr_assert_eq(mport.port.port_state, PTP4L_PS_MASTER);

	/* PORT_DATA_SET */
	get(cs, PTP4L_MID_PORT_DATA_SET, &port);
	pmc_get("PORT_DATA_SET", out, sizeof(out));
	cr_assert_str_eq(pmc_val(out, "portState"),
			 states[port.port.port_state]);
	cr_assert_eq(pmc_num(out, "logSyncInterval"),
		     port.port.log_sync_interval);
	cr_assert_eq(pmc_num(out, "versionNumber"), port.port.version_number);
	cr_assert_eq(pmc_num(out, "delayMechanism"), port.port.delay_mechanism);

	/* TIME_STATUS_NP */
	get(cs, PTP4L_MID_TIME_STATUS_NP, &ts);
	pmc_get("TIME_STATUS_NP", out, sizeof(out));
	cr_assert_str_eq(pmc_val(out, "gmPresent"),
			 ts.ts.gm_present ? "true" : "false");
	cr_assert_str_eq(pmc_val(out, "gmIdentity"), id_str(ts.ts.gm_identity));
	cr_assert_str_eq(id_str(ts.ts.gm_identity),
			 id_str(mport.port.port.clock_id),
			 "grandmaster is not the master");
	cr_assert_lt(
		llabs(pmc_num(out, "master_offset") - ts.ts.master_offset_ns),
		OFFSET_TOL_NS, "master_offset ours %" PRId64 " pmc %s",
		ts.ts.master_offset_ns, pmc_val(out, "master_offset"));
	cr_assert_lt(
		llabs(pmc_num(out, "ingress_time") - ts.ts.ingress_time_ns),
		5000000000LL, "ingress_time");

	/* TIME_PROPERTIES_DATA_SET: the master's announce, passed on */
	get(cs, PTP4L_MID_TIME_PROPERTIES_DATA_SET, &tp);
	pmc_get("TIME_PROPERTIES_DATA_SET", out, sizeof(out));
	cr_assert_eq(tp.tp.current_utc_offset_s, 36);
	cr_assert_eq(pmc_num(out, "currentUtcOffset"),
		     tp.tp.current_utc_offset_s);
	cr_assert_eq(pmc_num(out, "leap61"), !!(tp.tp.flags & 1));
	cr_assert_eq(pmc_num(out, "leap59"), !!(tp.tp.flags & 2));
	cr_assert_eq(pmc_num(out, "currentUtcOffsetValid"),
		     !!(tp.tp.flags & 4));
	cr_assert_eq(pmc_num(out, "ptpTimescale"), !!(tp.tp.flags & 8));
	cr_assert_eq(pmc_num(out, "timeTraceable"), !!(tp.tp.flags & 16));
	cr_assert_eq(pmc_num(out, "frequencyTraceable"), !!(tp.tp.flags & 32));
	cr_assert_eq(tp.tp.time_source, 0x50);
	cr_assert_eq(pmc_num(out, "timeSource"), tp.tp.time_source);

	/* PARENT_DATA_SET */
	get(cs, PTP4L_MID_PARENT_DATA_SET, &parent);
	pmc_get("PARENT_DATA_SET", out, sizeof(out));
	cr_assert_eq(parent.parent.gm_clock_class, 6);
	cr_assert_eq(parent.parent.gm_clock_accuracy, 0x21);
	cr_assert_eq(pmc_num(out, "gm.ClockClass"),
		     parent.parent.gm_clock_class);
	cr_assert_eq(pmc_num(out, "gm.ClockAccuracy"),
		     parent.parent.gm_clock_accuracy);
	cr_assert_eq(pmc_num(out, "gm.OffsetScaledLogVariance"),
		     parent.parent.gm_log_variance);
	cr_assert_eq(pmc_num(out, "grandmasterPriority1"),
		     parent.parent.gm_priority1);
	cr_assert_str_eq(pmc_val(out, "grandmasterIdentity"),
			 id_str(parent.parent.gm_identity));

	/* CURRENT_DATA_SET */
	get(cs, PTP4L_MID_CURRENT_DATA_SET, &cur);
	pmc_get("CURRENT_DATA_SET", out, sizeof(out));
	cr_assert_eq(pmc_num(out, "stepsRemoved"), cur.cur.steps_removed);
	cr_assert_lt(fabs(strtod(pmc_val(out, "offsetFromMaster"), NULL) -
			  cur.cur.offset_from_master_tins / 65536.0),
		     OFFSET_TOL_NS);
	cr_assert_lt(fabs(strtod(pmc_val(out, "meanPathDelay"), NULL) -
			  cur.cur.mean_path_delay_tins / 65536.0),
		     OFFSET_TOL_NS);

	/* the budget: offset + path delay + 100 ns (clockAccuracy 0x21) */
	cr_assert_eq(ptp4l_error_budget_ns(&ts.ts, &cur.cur, &parent.parent,
					   UINT64_MAX, &budget_ns),
		     0);
	cr_assert_geq(budget_ns, 100);
	cr_assert_lt(budget_ns, 100 + 2 * OFFSET_TOL_NS);
	fprintf(stderr,
		"ptp4l: state %s offset %" PRId64 " ns delay %" PRId64
		" ns budget %" PRIu64 " ns\n",
		states[port.port.port_state], ts.ts.master_offset_ns,
		ptp4l_tins_to_ns(cur.cur.mean_path_delay_tins), budget_ns);

	ptp4l_client_free(cs);
	ptp4l_client_free(cm);
}
