// SPDX-License-Identifier: MIT
/*
 * vrtc-guest: the guest agent (vrtc-agent) and libvrtc on its page.
 *
 * agent_auto: with the agent running, vrtc_open() in guest mode takes
 * the agent's page (host-mode reading, no PHC).
 * agent_cost: 100 000 vrtc_now() calls on it, each timed; the same
 * guest's PHC mode (2000 calls) for the ratio.
 * agent_bound: 10 000 readings, each with the reference PHC (QEMU's
 * virtio-rtc-pci) carried to its instant, all inside [earliest,
 * latest]; the width next to PHC mode's (1000 readings).
 * agent_clockbound: the ClockBound segment the agent writes, read
 * 10 000 times through ClockBound's protocol (generation seqlock,
 * causality, void_after); its bound on CLOCK_REALTIME must contain the
 * reference.
 * agent_exit: after SIGTERM the page says UNKNOWN and vrtc_open() falls
 * back to PHC mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vrtc-guest.h"
#include "vrtc_agent.h"
#include "vrtc_internal.h"

#define AGENT_CB "/tmp/vrtc-cb/shm0"
#define COST_N 100000
#define PHC_COST_N 2000
#define BOUND_N 10000
#define CB_N 10000

static pid_t start_agent(void)
{
	pid_t p;

	mkdir("/tmp/vrtc-cb", 0755);
	p = fork();
	if (p == 0) {
		int fd = open("/tmp/vrtc-agent.log",
			      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl("/bin/vrtc-agent", "vrtc-agent", "--clockbound", AGENT_CB,
		      "--verbose", (char *)NULL);
		_exit(127);
	}
	return p;
}

static void stop_agent(pid_t p)
{
	int st;

	if (p > 0) {
		kill(p, SIGTERM);
		waitpid(p, &st, 0);
	}
}

/* The agent's page says SYNCHRONIZED (limit @limit_ms); its handle. */
static struct vrtc *wait_agent(int64_t limit_ms, int64_t *waited_ms)
{
	struct vrtc_options o = { .mode = VRTC_MODE_HOST,
				  .page_path = VRTC_AGENT_DEFAULT_PAGE };
	int64_t t0 = mono_ns();
	struct vrtc *v = NULL;
	struct vrtc_time t;

	for (;;) {
		if (!v && vrtc_open(&o, &v)) {
			v = NULL;
		}
		if (v && !vrtc_now(v, &t) &&
		    t.status == VRTC_STATUS_SYNCHRONIZED) {
			break;
		}
		if (mono_ns() - t0 > limit_ms * 1000000) {
			vrtc_close(v);
			v = NULL;
			break;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 100000000 }, NULL);
	}
	*waited_ms = (mono_ns() - t0) / 1000000;
	return v;
}

static void show_log(void)
{
	char line[256];
	FILE *f = fopen("/tmp/vrtc-agent.log", "re");
	int n = 0;

	if (!f) {
		return;
	}
	while (fgets(line, sizeof(line), f) && n++ < 40) {
		line[strcspn(line, "\n")] = '\0';
		info("agent_log", "%s", line);
	}
	fclose(f);
}

/* PHC mode in the same guest: the agent's page ignored. */
static struct vrtc *open_phc_mode(void)
{
	struct vrtc_options o = { .mode = VRTC_MODE_GUEST };
	struct vrtc *v;
	int r;

	setenv("VRTC_AGENT_PAGE", "", 1);
	r = vrtc_open(&o, &v);
	unsetenv("VRTC_AGENT_PAGE");
	return r ? NULL : v;
}

static int64_t pct(int64_t *a, int n, int p)
{
	qsort(a, (size_t)n, sizeof(*a), cmp_i64);
	return a[(int64_t)n * p / 100 < n ? (int64_t)n * p / 100 : n - 1];
}

static void check_cost(struct vrtc *va, struct vrtc *vp, int64_t *buf)
{
	struct vrtc_time t;
	int64_t p50, p99, timer, pp50 = 0, pp99 = 0;
	int refused = 0, prefused = 0;

	for (int i = 0; i < 1000; i++) {
		int64_t a = mono_ns();

		buf[i] = mono_ns() - a;
	}
	timer = pct(buf, 1000, 50);
	for (int i = 0; i < COST_N; i++) {
		int64_t a = mono_ns();

		refused += vrtc_now(va, &t) != 0;
		buf[i] = mono_ns() - a;
	}
	p50 = pct(buf, COST_N, 50);
	p99 = pct(buf, COST_N, 99);
	if (vp) {
		for (int i = 0; i < PHC_COST_N; i++) {
			int64_t a = mono_ns();

			prefused += vrtc_now(vp, &t) != 0;
			buf[i] = mono_ns() - a;
		}
		pp50 = pct(buf, PHC_COST_N, 50);
		pp99 = pct(buf, PHC_COST_N, 99);
	}
	/* The check: no VM exit per reading, i.e. >= 100x cheaper than PHC
	 * mode in the same guest. The 1 us under TCG is reported:
	 * x86_64 meets it, arm64 TCG (an emulated counter read costs a
	 * good part of it: timer_p50) does not. */
	result("agent_cost", refused == 0 && vp && pp50 >= 100 * p50,
	       "target_1us=%s n=%d refused=%d call_p50_ns=%" PRId64
	       " call_p99_ns=%" PRId64
	       " phc_mode_n=%d phc_refused=%d phc_call_p50_ns=%" PRId64
	       " phc_call_p99_ns=%" PRId64 " ratio_p50=%" PRId64
	       " timer_p50_ns=%" PRId64
	       " (each call timed with CLOCK_MONOTONIC around it; the timer "
	       "pair alone costs timer_p50)",
	       p50 < 1000 ? "met" : "missed", COST_N, refused, p50, p99,
	       PHC_COST_N, prefused, pp50, pp99, p50 ? pp50 / p50 : 0, timer);
}

static void check_bound(struct vrtc *va, struct vrtc *vp,
			const struct guest_phc *ref, int64_t *buf)
{
	int n = 0, inside = 0, refused = 0, synced = 0, pn = 0;
	int64_t worst = INT64_MAX, w50, w99, pw50 = 0, age50;
	int64_t *age = calloc(BOUND_N, sizeof(*age));
	struct vreading rd, worst_rd = { 0 };

	if (!age) {
		result("agent_bound", false, "out of memory");
		return;
	}
	for (int i = 0; i < BOUND_N; i++) {
		int e = vread(va, ref, &rd);

		if (e < 0) {
			refused++;
			continue;
		}
		if (e) {
			continue;
		}
		inside += rd.margin >= 0;
		synced += rd.t.status == VRTC_STATUS_SYNCHRONIZED;
		if (rd.margin < worst) {
			worst = rd.margin;
			worst_rd = rd;
		}
		buf[n] = rd.t.latest_ns - rd.t.earliest_ns;
		age[n] = (int64_t)rd.t.age_ns;
		n++;
	}
	w50 = n ? pct(buf, n, 50) : 0;
	w99 = n ? pct(buf, n, 99) : 0;
	age50 = n ? pct(age, n, 50) : 0;
	for (int i = 0; vp && i < 1000; i++) {
		if (!vread(vp, ref, &rd)) {
			buf[pn++] = rd.t.latest_ns - rd.t.earliest_ns;
		}
	}
	pw50 = pn ? pct(buf, pn, 50) : 0;
	info("agent_bound",
	     "worst reading: margin_ns=%" PRId64 " bound_ns=%" PRIu64
	     " age_ns=%" PRIu64 " realtime_bracket_ns=%" PRIu64 " status=%s",
	     worst_rd.margin, worst_rd.t.bound_ns, worst_rd.t.age_ns,
	     worst_rd.sys_window_ns, vrtc_status_name(worst_rd.t.status));
	result("agent_bound",
	       n == BOUND_N && inside == n && refused == 0 && synced == n,
	       "n=%d contained=%d refused=%d synchronized=%d "
	       "width_p50_ns=%" PRId64 " width_p99_ns=%" PRId64
	       " age_p50_ms=%" PRId64 " worst_margin_ns=%" PRId64
	       " phc_mode_n=%d phc_width_p50_ns=%" PRId64
	       " (reference PHC inside [earliest, latest] of libvrtc on the "
	       "agent's page)",
	       n, inside, refused, synced, w50, w99, age50 / 1000000, worst, pn,
	       pw50);
	free(age);
}

/* ClockBound's segment (protocol version 2), native endian. */
struct cbseg {
	uint32_t magic[2];
	uint32_t segsize;
	uint16_t version, generation;
	int64_t as_of_sec, as_of_nsec, void_after_sec, void_after_nsec;
	int64_t bound_nsec;
	uint64_t disruption_marker;
	uint32_t max_drift_ppb;
	int32_t clock_status;
	uint8_t support, pad[7];
};

/* One read as ClockBound's client does it; 0 or a reason. */
static const char *cb_read(const struct cbseg *m, struct cbseg *c,
			   int64_t *bound_ns)
{
	struct timespec now;
	int64_t now_ns, asof, voidat;
	int tries;

	for (tries = 0; tries < 1000; tries++) {
		uint16_t g1 = __atomic_load_n(&m->generation, __ATOMIC_ACQUIRE);

		if (g1 == 0 || (g1 & 1)) {
			continue;
		}
		memcpy(c, (const void *)m, sizeof(*c));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&m->generation, __ATOMIC_RELAXED) == g1) {
			break;
		}
	}
	if (tries == 1000) {
		return "torn";
	}
	if (c->magic[0] != 0x414D5A4E || c->magic[1] != 0x43420200 ||
	    c->segsize != sizeof(*c) || c->version != 2) {
		return "bad header";
	}
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	now_ns = now.tv_sec * NSEC_PER_SEC + now.tv_nsec;
	asof = c->as_of_sec * NSEC_PER_SEC + c->as_of_nsec;
	voidat = c->void_after_sec * NSEC_PER_SEC + c->void_after_nsec;
	if (asof > now_ns + 1000) {
		return "causality breach";
	}
	if (now_ns > voidat) {
		return "void";
	}
	*bound_ns = c->bound_nsec +
		    (int64_t)((now_ns - asof) * (double)c->max_drift_ppb / 1e9);
	return NULL;
}

static void check_clockbound(struct vrtc *va, const struct guest_phc *ref,
			     int64_t *buf)
{
	struct cbseg *m = MAP_FAILED, c;
	struct vrtc_time t;
	struct timespec ts;
	const char *why = NULL, *first = NULL;
	int fd, failed = 0, contained = 0, synced = 0, n = 0;
	int64_t lv50 = 0;

	/* CLOCK_REALTIME from the agent's UTC, as chrony would keep it:
	 * ClockBound bounds REALTIME, which boot set to the second */
	if (!vrtc_now(va, &t)) {
		ts.tv_sec = t.now_ns / NSEC_PER_SEC;
		ts.tv_nsec = t.now_ns % NSEC_PER_SEC;
		clock_settime(CLOCK_REALTIME, &ts);
	}
	/* two agent polls: a segment written with the new REALTIME */
	nanosleep(&(struct timespec){ .tv_sec = 2, .tv_nsec = 200000000 },
		  NULL);
	fd = open(AGENT_CB, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		m = mmap(NULL, sizeof(*m), PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
	}
	if (m == MAP_FAILED) {
		result("agent_clockbound", false, "%s: %s", AGENT_CB,
		       strerror(errno));
		return;
	}
	for (int i = 0; i < CB_N; i++) {
		struct sample s;
		int64_t b = 0, off;

		why = cb_read(m, &c, &b);
		if (why) {
			failed++;
			first = first ? first : why;
			continue;
		}
		synced += c.clock_status == 1;
		buf[n++] = b;
		/* the reference against REALTIME at one instant */
		if (phc_ext(ref, 1, &s, NULL)) {
			continue;
		}
		off = s.phc - (s.pre + window(&s) / 2);
		contained += (off < 0 ? -off : off) <= b + window(&s) / 2;
	}
	munmap(m, sizeof(*m));
	for (int i = 0; i < 1000 && n; i++) {
		if (!vrtc_now(va, &t)) {
			buf[CB_N + i] = (int64_t)t.bound_ns;
			lv50++;
		}
	}
	if (lv50) {
		lv50 = pct(buf + CB_N, (int)lv50, 50);
	}
	result("agent_clockbound",
	       failed == 0 && n == CB_N && contained == n && synced == n,
	       "n=%d failed=%d%s%s contained=%d synchronized=%d "
	       "bound_p50_ns=%" PRId64 " bound_p99_ns=%" PRId64
	       " max_drift_ppb=%u libvrtc_bound_p50_ns=%" PRId64
	       " (ClockBound's protocol on the agent's segment; bound on "
	       "CLOCK_REALTIME)",
	       CB_N, failed, first ? " first=" : "", first ? first : "",
	       contained, synced, n ? pct(buf, n, 50) : 0,
	       n ? pct(buf, n, 99) : 0, c.max_drift_ppb, lv50);
}

void check_agent(const struct guest_phc *ref)
{
	struct vrtc_options o = { .mode = VRTC_MODE_GUEST };
	int64_t waited_ms = 0;
	int64_t *buf = calloc(COST_N + CB_N + 1000, sizeof(*buf));
	struct vrtc *vh, *va = NULL, *vp;
	struct vrtc_time t;
	pid_t pid = start_agent();
	int r;

	vh = wait_agent(30000, &waited_ms);
	if (!vh || !buf) {
		result("agent_auto", false,
		       "the agent's page never said synchronized in %" PRId64
		       " ms",
		       waited_ms);
		show_log();
		stop_agent(pid);
		free(buf);
		return;
	}
	/* a few polls more: a rate over more than the settling span */
	nanosleep(&(struct timespec){ .tv_sec = 4 }, NULL);
	r = vrtc_open(&o, &va);
	result("agent_auto", !r && va->mode == VRTC_MODE_HOST,
	       "vrtc_open(guest)=%d mode=%s waited_ms=%" PRId64
	       " (the agent's page, read as on a host)",
	       r, !r && va->mode == VRTC_MODE_HOST ? "agent-page" : "phc",
	       waited_ms);
	vp = open_phc_mode();
	if (!r) {
		check_cost(va, vp, buf);
		check_bound(va, vp, ref, buf);
		check_clockbound(va, ref, buf);
	}
	show_log();
	stop_agent(pid);
	/* the agent's page now says UNKNOWN: PHC mode again */
	r = vrtc_now(vh, &t);
	vrtc_close(va);
	va = NULL;
	{
		int r2 = vrtc_open(&o, &va);

		result("agent_exit",
		       r == -ENODATA && !r2 && va->mode == VRTC_MODE_GUEST,
		       "after SIGTERM: page reading %d (%s), "
		       "vrtc_open(guest)=%d "
		       "mode=%s",
		       r, vrtc_strerror(r), r2,
		       !r2 && va->mode == VRTC_MODE_GUEST ? "phc" : "?");
	}
	vrtc_close(va);
	vrtc_close(vp);
	vrtc_close(vh);
	free(buf);
}
