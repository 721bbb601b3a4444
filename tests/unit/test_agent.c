// SPDX-License-Identifier: MIT
/*
 * Unit tests: the guest agent's model and poll (src/tools/agent/model.c,
 * agent.c), driven through the agent's ops by a simulated guest: a
 * counter with up to +-500 ppm of frequency error, wander, a 100 ppm
 * rate step, a forward and a backward counter jump (migrations); a host
 * whose served time wanders inside its page's bound, steps (with a new
 * disruption marker), holds over and restarts. Every reading goes
 * through libvrtc's host-mode arithmetic (vrtc_page_host) on the page
 * the agent published, as a guest's vrtc_now() does.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "model.h"
#include "test_seed.h"
#include "vrtc_page.h"

#define NS 1000000000LL
#define BASE_TAI (1800000000LL * NS)
#define PPB 1000000000.0

TestSuite(agent);

/* --- the simulated world ---------------------------------------------- */

struct sim {
	unsigned int seed;
	int64_t t_ns; /* true time since the start (TAI - BASE_TAI) */
	double c;     /* the guest's CLOCK_MONOTONIC_RAW, ns */
	double f0;    /* the counter's frequency error */
	double fstep; /* a rate step */
	/* the host */
	uint64_t marker;
	double off_ns; /* the served time's error beyond the wander */
	bool holdover;
	int64_t hold_t0_ns;
	double hold_m0_ns;
	uint32_t seq;
	int fail_every; /* a PHC read fails every this many polls */
	int reads;
	/* what the agent published */
	struct vmclock_abi page;
	int published;
};

static double urand(struct sim *s)
{
	return (double)rand_r(&s->seed) / ((double)RAND_MAX + 1.0);
}

#define WANDER_A_NS 15000.0 /* the served time's wander, amplitude */
#define WANDER_P_S 600.0
#define HOST_RATE_PPB 200
#define HOLD_RATE_PPB 2000
#define HOLD_DRIFT 1.5e-6

/* The counter's frequency error at true time @t_ns: f0, a 0.3 ppm
 * wander over 900 s, and the rate step. */
static double freq(const struct sim *s, int64_t t_ns)
{
	return s->f0 + 0.3e-6 * sin(2 * M_PI * (double)t_ns / (900.0 * NS)) +
	       s->fstep;
}

/* The served time's error at @t_ns. */
static double host_err(const struct sim *s, int64_t t_ns)
{
	double e =
		WANDER_A_NS * sin(2 * M_PI * (double)t_ns / (WANDER_P_S * NS)) +
		s->off_ns;

	if (s->holdover) {
		e += HOLD_DRIFT * (double)(t_ns - s->hold_t0_ns);
	}
	return e;
}

static int64_t served(const struct sim *s, int64_t t_ns)
{
	return BASE_TAI + t_ns + (int64_t)floor(host_err(s, t_ns));
}

/* The page the host published last before @t_ns (once a second). */
static void host_page(struct sim *s, int64_t t_ns, struct vmclock_abi *f)
{
	int64_t tp = t_ns / NS * NS, tai = served(s, tp);
	uint64_t rate = s->holdover ? HOLD_RATE_PPB : HOST_RATE_PPB;
	unsigned __int128 unit = ((unsigned __int128)1 << 88) / NS;
	double m = WANDER_A_NS + fabs(s->off_ns) + 5000;

	if (s->holdover) {
		m = s->hold_m0_ns +
		    (double)HOLD_RATE_PPB * (double)(tp - s->hold_t0_ns) / PPB;
	}
	memset(f, 0, sizeof(*f));
	f->magic = VMCLOCK_MAGIC;
	f->size = VMCLOCK_PAGE_SIZE;
	f->version = VMCLOCK_VERSION;
	f->counter_id = VMCLOCK_COUNTER_INVALID;
	f->time_type = VMCLOCK_TIME_TAI;
	f->seq_count = s->seq;
	f->disruption_marker = s->marker;
	f->flags = VMCLOCK_FLAG_TAI_OFFSET_VALID |
		   VMCLOCK_FLAG_TIME_MAXERROR_VALID |
		   VMCLOCK_FLAG_PERIOD_MAXERROR_VALID;
	f->clock_status = s->holdover ? VMCLOCK_STATUS_FREERUNNING
				      : VMCLOCK_STATUS_SYNCHRONIZED;
	f->tai_offset_sec = (uint16_t)-37;
	f->counter_period_shift = 24;
	f->counter_period_frac_sec = (uint64_t)unit;
	f->counter_period_maxerror_rate_frac_sec =
		(uint64_t)(((unsigned __int128)rate << 88) / NS / NS + 1);
	f->time_sec = (uint64_t)(tai / NS);
	f->time_frac_sec =
		(uint64_t)((((unsigned __int128)(tai % NS)) << 64) / NS + 1);
	f->time_maxerror_nanosec = (uint64_t)ceil(m);
}

static int sim_read(void *ctx, unsigned int n, struct agent_sample *out)
{
	struct sim *s = ctx;
	double w = 6000 + 34000 * urand(s), u = urand(s);
	double f = 1 + freq(s, s->t_ns);

	s->reads++;
	if (s->fail_every && s->reads % s->fail_every == 0) {
		return -EIO;
	}
	/* read just before now (the reading that follows is later) */
	host_page(s, s->t_ns, &out->host);
	out->pre_ns = (uint64_t)floor(s->c - (w + 1000) * f);
	out->phc_ns = served(s, s->t_ns - 1000 - (int64_t)((1 - u) * w));
	out->post_ns = (uint64_t)ceil(s->c - 1000 * f);
	return 0;
}

static int sim_publish(void *ctx, const struct vmclock_abi *f)
{
	struct sim *s = ctx;

	s->page = *f;
	s->published++;
	return 0;
}

static const struct agent_ops sim_ops = {
	.read = sim_read,
	.publish = sim_publish,
};

/* --- the long run -------------------------------------------------------- */

enum {
	EV_RATE,
	EV_JUMP_FWD,
	EV_HOST_STEP,
	EV_JUMP_BACK,
	EV_HOLD,
	EV_HOLD_END,
	EV_RESTART,
	EV_N
};

struct event {
	int64_t at_ns;
	int kind;
	bool guest; /* the counter moved: readings may be off until the
		       model restarts */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

Test(agent, simulated_guest_1e6_readings, .timeout = 120)
{
	static const struct event ev[] = {
		{ 1200300LL * NS / 1000, EV_RATE,
		  true }, /* 70 ms before a poll */
		{ 2000300LL * NS / 1000, EV_JUMP_FWD, true },
		{ 2400700LL * NS / 1000, EV_HOST_STEP, false },
		{ 2600900LL * NS / 1000, EV_JUMP_BACK, true },
		{ 3000000LL * NS / 1000, EV_HOLD, false },
		{ 3600000LL * NS / 1000, EV_HOLD_END, false },
		{ 3900600LL * NS / 1000, EV_RESTART, false },
	};
	const int64_t dt = 4200000, end = 4200LL * NS;
	const int64_t poll_phase = 370000000;
	struct sim s = { 0 };
	struct agent a;
	size_t next_ev = 0, nb = 0;
	int64_t next_poll = poll_phase, exposed_since = -1;
	uint64_t readings = 0, inside = 0, outside = 0, exposed = 0;
	uint64_t refused = 0, restarts_seen = 0, polls_exposed = 0;
	uint64_t max_exposed_polls = 0;
	uint64_t *bounds = malloc(sizeof(*bounds) * 1100000);

	cr_assert_not_null(bounds);
	s.seed = test_seed("agent::simulated_guest_1e6_readings");
	s.f0 = (urand(&s) * 2 - 1) * 500e-6;
	s.c = 5e12;
	s.marker = 0x1234;
	s.seq = 2;
	s.fail_every = 499;
	agent_init(&a, &sim_ops, &s, NULL);
	cr_log_info("counter frequency error %.1f ppm", s.f0 * 1e6);
	while (s.t_ns < end) {
		struct vrtc_time t;
		int64_t truth;
		int r;

		s.t_ns += dt;
		s.c += (double)dt * (1 + freq(&s, s.t_ns));
		if (next_ev < sizeof(ev) / sizeof(ev[0]) &&
		    s.t_ns >= ev[next_ev].at_ns) {
			const struct event *e = &ev[next_ev++];

			switch (e->kind) {
			case EV_RATE:
				s.fstep = 100e-6;
				break;
			case EV_JUMP_FWD: /* to a host with another TSC */
				s.c += 37e6;
				s.f0 = (urand(&s) * 2 - 1) * 500e-6;
				break;
			case EV_JUMP_BACK:
				s.c -= 5e6;
				break;
			case EV_HOST_STEP:
				s.off_ns += 500000;
				s.marker++;
				break;
			case EV_HOLD:
				s.hold_m0_ns =
					WANDER_A_NS + fabs(s.off_ns) + 5000;
				s.hold_t0_ns = s.t_ns;
				s.holdover = true;
				break;
			case EV_HOLD_END:
				/* the served time stays continuous */
				s.off_ns += HOLD_DRIFT *
					    (double)(s.t_ns - s.hold_t0_ns);
				s.holdover = false;
				break;
			case EV_RESTART:
				s.marker += 0x100;
				break;
			}
			if (e->guest) {
				exposed_since = s.t_ns;
				polls_exposed = 0;
			}
		}
		if (s.t_ns >= next_poll) {
			uint64_t epoch = a.model.epoch;

			next_poll += NS;
			s.seq += 2;
			r = agent_step(&a);
			cr_assert(r == 0 || r == -EIO, "agent_step: %d", r);
			if (!r && a.model.epoch != epoch) {
				restarts_seen++;
				cr_expect(
					s.page.clock_status ==
							VMCLOCK_STATUS_INITIALIZING ||
						s.page.clock_status ==
							VMCLOCK_STATUS_FREERUNNING,
					"restart: status %u",
					s.page.clock_status);
			}
			if (!r) {
				/* never better than the host's */
				uint8_t hs =
					s.holdover
						? VMCLOCK_STATUS_FREERUNNING
						: VMCLOCK_STATUS_SYNCHRONIZED;

				cr_expect(hs == VMCLOCK_STATUS_SYNCHRONIZED ||
						  s.page.clock_status == hs,
					  "status %u, host %u",
					  s.page.clock_status, hs);
			}
			if (exposed_since >= 0) {
				polls_exposed++;
				if (!r && (a.last_event == GM_MISS ||
					   a.last_event == GM_BACKWARDS)) {
					if (polls_exposed > max_exposed_polls) {
						max_exposed_polls =
							polls_exposed;
					}
					exposed_since = -1;
				}
				cr_assert(polls_exposed <= 2,
					  "a counter disruption at %.3f s not "
					  "detected in 2 polls",
					  (double)exposed_since / NS);
			}
		}
		if (!s.published) {
			continue;
		}
		readings++;
		truth = BASE_TAI + s.t_ns;
		r = vrtc_page_host(&s.page, (uint64_t)s.c, 10 * NS,
				   VRTC_TIMESCALE_TAI, &t);
		if (r) {
			refused++;
			continue;
		}
		if (nb < 1100000) {
			bounds[nb++] = t.bound_ns;
		}
		if (t.earliest_ns <= truth && truth <= t.latest_ns) {
			inside++;
		} else if (exposed_since >= 0) {
			exposed++;
		} else {
			outside++;
			cr_log_error("t %.3f s: truth %+" PRId64
				     " ns from the estimate, bound %" PRIu64
				     ", status %d",
				     (double)s.t_ns / NS, truth - t.now_ns,
				     t.bound_ns, t.status);
			cr_assert(outside < 20);
		}
	}
	qsort(bounds, nb, sizeof(*bounds), cmp_u64);
	cr_log_info("%" PRIu64 " readings: %" PRIu64 " inside, %" PRIu64
		    " outside between a counter disruption and the "
		    "calibration that caught it (at most %" PRIu64
		    " polls), %" PRIu64 " outside otherwise, %" PRIu64
		    " refused; %" PRIu64 " restarts; bound p50 %" PRIu64
		    " ns p99 %" PRIu64 " ns",
		    readings, inside, exposed, max_exposed_polls, outside,
		    refused, restarts_seen, bounds[nb / 2],
		    bounds[nb * 99 / 100]);
	fprintf(stderr,
		"agent sim: %" PRIu64 " readings, %" PRIu64 " inside, %" PRIu64
		" exposed, %" PRIu64 " outside, %" PRIu64 " refused, %" PRIu64
		" restarts, bound p50 %" PRIu64 " ns\n",
		readings, inside, exposed, outside, refused, restarts_seen,
		bounds[nb / 2]);
	cr_expect_geq(readings, 999000);
	cr_expect_eq(outside, 0);
	/* the rate step, both jumps, the host step and the restart */
	cr_expect_geq(restarts_seen, 5);
	cr_expect_lt(exposed + refused, readings / 1000);
	free(bounds);
}

/* --- pieces ----------------------------------------------------------- */

static struct gm_cal cal(uint64_t c, int64_t tai, uint64_t half)
{
	struct gm_cal k = { 0 };

	k.c_ns = c;
	k.tai_ns = tai;
	k.half_ns = half;
	k.host_bound_ns = 1000;
	k.host_rate_ppb = 100;
	k.host.clock_status = VMCLOCK_STATUS_SYNCHRONIZED;
	k.host.disruption_marker = 7;
	k.host.flags = VMCLOCK_FLAG_TAI_OFFSET_VALID;
	k.host.tai_offset_sec = (uint16_t)-37;
	return k;
}

Test(agent, empty_model_says_unknown)
{
	struct gm m;
	struct vmclock_abi f;
	struct vrtc_time t;

	gm_init(&m, NULL);
	gm_page(&m, &f);
	cr_expect_eq(f.clock_status, VMCLOCK_STATUS_UNKNOWN);
	cr_expect_eq(vrtc_page_host(&f, 100, NS, VRTC_TIMESCALE_TAI, &t),
		     -ENODATA);
}

Test(agent, first_calibration_reads_back_exactly)
{
	struct gm m;
	struct gm_cal k = cal(5 * NS, BASE_TAI + 123456789, 10000);
	struct vmclock_abi f;
	struct vrtc_time t;

	gm_init(&m, NULL);
	cr_expect_eq(gm_calibrate(&m, &k), GM_FIRST);
	gm_page(&m, &f);
	cr_expect_eq(f.clock_status, VMCLOCK_STATUS_INITIALIZING);
	cr_assert_eq(vrtc_page_host(&f, 5 * NS, NS, VRTC_TIMESCALE_TAI, &t), 0);
	cr_expect_eq(t.now_ns, BASE_TAI + 123456789);
	/* host bound + half window (+ its a-priori share) + rounding */
	cr_expect_geq(t.bound_ns, 1000 + 10000 + 2);
	cr_expect_leq(t.bound_ns, 1000 + 10000 + 10 + 4);
	/* a second on: at least 1000 ppm more (a priori) */
	cr_assert_eq(vrtc_page_host(&f, 6 * NS, 2 * NS, VRTC_TIMESCALE_TAI, &t),
		     0);
	cr_expect_geq(t.bound_ns, 1000000);
	/* UTC from the host's offset */
	cr_assert_eq(vrtc_page_host(&f, 5 * NS, NS, VRTC_TIMESCALE_UTC, &t), 0);
	cr_expect_eq(t.now_ns, BASE_TAI + 123456789 - 37 * NS);
}

Test(agent, rate_is_measured_and_status_settles)
{
	struct gm m;
	struct vmclock_abi f;
	struct vrtc_time t;
	/* a counter 200 ppm slow: 1 s of TAI is 0.9998 s of counter */
	const double rate = 1 / 0.9998;

	gm_init(&m, NULL);
	for (int i = 0; i < 10; i++) {
		uint64_t c = 5 * NS + (uint64_t)i * 999800000ull;
		struct gm_cal k = cal(c, BASE_TAI + (int64_t)i * NS, 5000);

		cr_expect_eq(gm_calibrate(&m, &k), i ? GM_OK : GM_FIRST);
		gm_page(&m, &f);
		cr_expect_eq(f.clock_status,
			     i + 1 < 4 ? VMCLOCK_STATUS_INITIALIZING
				       : VMCLOCK_STATUS_SYNCHRONIZED);
	}
	/* half a second of counter after the last one */
	cr_assert_eq(vrtc_page_host(&f, f.counter_value + 500000000, NS,
				    VRTC_TIMESCALE_TAI, &t),
		     0);
	cr_expect_leq(
		llabs(t.now_ns - (BASE_TAI + 9 * NS + (int64_t)(5e8 * rate))),
		2);
	/* rate bound: host 100 ppb + 1 ppm wander + 2 * 5 us / 9 s */
	cr_expect_lt(m.rate_ppb, 100 + 1000 + 1200);
	cr_expect_gt(m.rate_ppb, 100 + 1000 + 1100);
}

Test(agent, host_marker_and_counter_jumps_restart)
{
	struct gm m;
	struct gm_cal k;
	struct vmclock_abi f1, f2;
	uint64_t c = 5 * NS;

	gm_init(&m, NULL);
	for (int i = 0; i < 6; i++, c += NS) {
		k = cal(c, BASE_TAI + (int64_t)i * NS, 5000);
		gm_calibrate(&m, &k);
	}
	gm_page(&m, &f1);
	cr_expect_eq(f1.clock_status, VMCLOCK_STATUS_SYNCHRONIZED);
	/* the host restarted: a new marker */
	k = cal(c, BASE_TAI + 6 * NS, 5000);
	k.host.disruption_marker = 8;
	cr_expect_eq(gm_calibrate(&m, &k), GM_HOST_MARKER);
	gm_page(&m, &f2);
	cr_expect_eq(f2.clock_status, VMCLOCK_STATUS_INITIALIZING);
	cr_expect_neq(f1.disruption_marker, f2.disruption_marker);
	cr_expect_eq(m.n, 1);
	/* settle again, then the counter jumps 1 ms ahead (a migration) */
	for (int i = 7; i < 12; i++) {
		c += NS;
		k = cal(c, BASE_TAI + (int64_t)i * NS, 5000);
		k.host.disruption_marker = 8;
		gm_calibrate(&m, &k);
	}
	c += NS + 1000000;
	k = cal(c, BASE_TAI + 12 * NS, 5000);
	k.host.disruption_marker = 8;
	cr_expect_eq(gm_calibrate(&m, &k), GM_MISS);
	/* and backwards */
	k = cal(c - 10, BASE_TAI + 13 * NS, 5000);
	k.host.disruption_marker = 8;
	cr_expect_eq(gm_calibrate(&m, &k), GM_BACKWARDS);
	cr_expect_eq(m.epoch, 3);
}

Test(agent, host_rate_in_ppb)
{
	struct vmclock_abi f = { 0 };
	unsigned __int128 unit = ((unsigned __int128)1 << 88) / NS;

	f.counter_period_frac_sec = (uint64_t)unit;
	f.counter_period_maxerror_rate_frac_sec = (uint64_t)(unit / 1000000);
	cr_expect_eq(gm_host_rate_ppb(&f), 1000);
	f.counter_period_frac_sec = 0;
	cr_expect_eq(gm_host_rate_ppb(&f), UINT64_MAX);
}

/* --- the poll through fake ops ----------------------------------------- */

struct fake {
	int read_r;
	uint8_t host_status;
	struct vmclock_abi last;
	int publishes;
};

static int fake_read(void *ctx, unsigned int n, struct agent_sample *s)
{
	struct fake *f = ctx;
	struct sim w = { 0 };

	if (f->read_r) {
		return f->read_r;
	}
	w.t_ns = 10 * NS;
	host_page(&w, w.t_ns, &s->host);
	s->host.clock_status = f->host_status;
	if (f->host_status == VMCLOCK_STATUS_UNKNOWN) {
		s->host.flags = 0;
	}
	s->phc_ns = served(&w, w.t_ns + 1000);
	s->pre_ns = 100 * NS;
	s->post_ns = 100 * NS + 2000;
	return 0;
}

static int fake_publish(void *ctx, const struct vmclock_abi *p)
{
	struct fake *f = ctx;

	f->last = *p;
	f->publishes++;
	return 0;
}

static const struct agent_ops fake_ops = {
	.read = fake_read,
	.publish = fake_publish,
};

Test(agent, poll_publishes_refuses_and_retires)
{
	struct fake f = { .host_status = VMCLOCK_STATUS_SYNCHRONIZED };
	struct agent a;
	struct vrtc_time t;

	agent_init(&a, &fake_ops, &f, NULL);
	cr_expect_eq(agent_step(&a), 0);
	cr_expect_eq(f.publishes, 1);
	cr_expect_eq(f.last.counter_value, 100 * NS + 1000);
	cr_expect_eq(vrtc_page_host(&f.last, 100 * NS + 1000, NS,
				    VRTC_TIMESCALE_TAI, &t),
		     0);
	cr_expect_eq(t.status, VRTC_STATUS_INITIALIZING);
	/* a failed read publishes nothing: the last page stands */
	f.read_r = -EIO;
	cr_expect_eq(agent_step(&a), -EIO);
	cr_expect_eq(f.publishes, 1);
	cr_expect_eq(a.read_errors, 1);
	/* the host page without a bound: ours says UNKNOWN */
	f.read_r = 0;
	f.host_status = VMCLOCK_STATUS_UNKNOWN;
	cr_expect_eq(agent_step(&a), -ENODATA);
	cr_expect_eq(f.publishes, 2);
	cr_expect_eq(f.last.clock_status, VMCLOCK_STATUS_UNKNOWN);
	cr_expect_eq(vrtc_page_host(&f.last, 100 * NS + 1000, NS,
				    VRTC_TIMESCALE_TAI, &t),
		     -ENODATA);
	/* back: a new epoch */
	f.host_status = VMCLOCK_STATUS_SYNCHRONIZED;
	cr_expect_eq(agent_step(&a), 0);
	cr_expect_eq(a.last_event, GM_FIRST);
	cr_expect_eq(agent_retire(&a), 0);
	cr_expect_eq(f.last.clock_status, VMCLOCK_STATUS_UNKNOWN);
}

/* --- ClockBound from the agent's page ---------------------------------- */

Test(agent, clockbound_drift_from_the_page)
{
	char dir[] = "/tmp/vrtc-agent-XXXXXX", path[64], shm[64];
	struct vrtc_options o = { .mode = VRTC_MODE_HOST };
	struct timespec now;
	struct vmclock_abi f;
	struct gm m;
	struct gm_cal k;
	struct vrtc *v;
	unsigned char b[80];
	uint32_t drift;
	uint64_t c;
	FILE *fp;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vmclock", dir);
	snprintf(shm, sizeof(shm), "%s/shm0", dir);
	clock_gettime(CLOCK_MONOTONIC_RAW, &now);
	c = (uint64_t)now.tv_sec * NS + (uint64_t)now.tv_nsec;
	gm_init(&m, NULL);
	for (int i = 5; i >= 0; i--) {
		k = cal(c - (uint64_t)i * 100000000, BASE_TAI - i * 100000000LL,
			5000);
		gm_calibrate(&m, &k);
	}
	gm_page(&m, &f);
	f.seq_count = 2;
	/* the page as the agent writes it: little-endian on this host */
	fp = fopen(path, "wb");
	cr_assert_not_null(fp);
	cr_assert_eq(fwrite(&f, sizeof(f), 1, fp), 1);
	cr_assert_eq(fseek(fp, VMCLOCK_PAGE_SIZE - 1, SEEK_SET), 0);
	cr_assert_eq(fputc(0, fp), 0);
	fclose(fp);
	cr_assert_eq(chmod(path, 0444), 0);
	o.page_path = path;
	cr_assert_eq(vrtc_open(&o, &v), 0);
	cr_assert_eq(vrtc_clockbound_write(v, shm, 0, 10), 0);
	fp = fopen(shm, "rb");
	cr_assert_not_null(fp);
	cr_assert_eq(fread(b, 1, sizeof(b), fp), sizeof(b));
	fclose(fp);
	memcpy(&drift, b + 64, 4);
	/* the model's rate bound, + |1 + f - p| with p = 1 here: REALTIME's
	 * correction (the kernel's 500 ppm of freq at most, its tick, and
	 * 500 ppm while its PLL slews) */
	cr_expect_geq(drift, m.rate_ppb, "drift %u, model %" PRIu64, drift,
		      m.rate_ppb);
	cr_expect_lt(drift, m.rate_ppb + 1100000);
	cr_expect_neq(drift, 50000);
	vrtc_close(v);

	/* a counter 300 ppm slow against true time (p = 1.0003): an
	 * undisciplined REALTIME drifts 300 ppm, and the drift says so */
	gm_init(&m, NULL);
	for (int i = 5; i >= 0; i--) {
		k = cal(c - (uint64_t)i * 100000000, BASE_TAI - i * 100030000LL,
			5000);
		gm_calibrate(&m, &k);
	}
	gm_page(&m, &f);
	f.seq_count = 4;
	cr_assert_eq(chmod(path, 0644), 0);
	fp = fopen(path, "r+b");
	cr_assert_not_null(fp);
	cr_assert_eq(fwrite(&f, sizeof(f), 1, fp), 1);
	fclose(fp);
	cr_assert_eq(chmod(path, 0444), 0);
	cr_assert_eq(vrtc_open(&o, &v), 0);
	cr_assert_eq(vrtc_clockbound_write(v, shm, 0, 10), 0);
	fp = fopen(shm, "rb");
	cr_assert_not_null(fp);
	cr_assert_eq(fread(b, 1, sizeof(b), fp), sizeof(b));
	fclose(fp);
	memcpy(&drift, b + 64, 4);
	{
		struct timex tx = { 0 };
		int64_t f_ppb;

		cr_assert_geq(adjtimex(&tx), 0);
		f_ppb = (int64_t)tx.freq * 1000 / 65536;
		if (!((tx.status & STA_PLL) && tx.offset) && tx.tick == 10000) {
			/* |f - 300 ppm| + the rate bound, within rounding (the
			 * page's rate per true ns is 300 ppm below ours) */
			cr_expect_leq(
				llabs((int64_t)drift - llabs(f_ppb - 300000) -
				      (int64_t)m.rate_ppb),
				30,
				"drift %u, freq %" PRId64 " ppb, rate %" PRIu64,
				drift, f_ppb, m.rate_ppb);
		}
	}
	vrtc_close(v);
	unlink(shm);
	unlink(path);
	rmdir(dir);
}

/* --- libvrtc's guest mode picks the agent's page ------------------------ */

static void write_page(const char *path, const struct vmclock_abi *f)
{
	FILE *fp;

	chmod(path, 0644);
	fp = fopen(path, "wb");
	cr_assert_not_null(fp);
	cr_assert_eq(fwrite(f, sizeof(*f), 1, fp), 1);
	cr_assert_eq(fseek(fp, VMCLOCK_PAGE_SIZE - 1, SEEK_SET), 0);
	cr_assert_eq(fputc(0, fp), 0);
	fclose(fp);
	cr_assert_eq(chmod(path, 0444), 0);
}

Test(agent, guest_mode_opens_the_agents_page)
{
	char dir[] = "/tmp/vrtc-agent-XXXXXX", path[64];
	struct vrtc_options o = { .mode = VRTC_MODE_GUEST,
				  .timescale = VRTC_TIMESCALE_TAI };
	struct timespec now;
	struct vmclock_abi f;
	struct vrtc_time t;
	struct gm m;
	struct gm_cal k;
	struct vrtc *v = NULL;
	uint64_t c;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vmclock", dir);
	clock_gettime(CLOCK_MONOTONIC_RAW, &now);
	c = (uint64_t)now.tv_sec * NS + (uint64_t)now.tv_nsec;
	gm_init(&m, NULL);
	k = cal(c, BASE_TAI, 5000);
	gm_calibrate(&m, &k);
	gm_page(&m, &f);
	write_page(path, &f);
	setenv("VRTC_AGENT_PAGE", path, 1);
	cr_assert_eq(vrtc_open(&o, &v), 0);
	cr_expect_eq(vrtc_now(v, &t), 0);
	cr_expect_eq(t.status, VRTC_STATUS_INITIALIZING);
	cr_expect_geq(t.now_ns, BASE_TAI);
	vrtc_close(v);
	/* an agent that exited: its page says UNKNOWN, PHC mode (none on
	 * this host, so no handle at all) */
	gm_init(&m, NULL);
	gm_page(&m, &f);
	write_page(path, &f);
	cr_expect_neq(vrtc_open(&o, &v), 0);
	/* set empty: never the agent's page */
	gm_init(&m, NULL);
	gm_calibrate(&m, &k);
	gm_page(&m, &f);
	write_page(path, &f);
	setenv("VRTC_AGENT_PAGE", "", 1);
	cr_expect_neq(vrtc_open(&o, &v), 0);
	unsetenv("VRTC_AGENT_PAGE");
	unlink(path);
	rmdir(dir);
}
