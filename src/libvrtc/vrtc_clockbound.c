// SPDX-License-Identifier: MIT
/*
 * ClockBound compatibility: its shared-memory segment, version 2
 * (aws/clock-bound docs/PROTOCOL.md; the magic as its reader compares
 * it, two native u32 0x414D5A4E 0x43420200), written from libvrtc's
 * view so that unmodified ClockBound clients read our bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "time_ns.h"
#include "vrtc_internal.h"
#include "vrtc_page.h"

#define CB_MAGIC0 0x414D5A4Eu
#define CB_MAGIC1 0x43420200u
#define CB_VERSION 2
/*
 * The bound written when none is known (~73 years): wide enough to
 * claim nothing, small enough that a reader's growth by max_drift_ppb
 * cannot overflow its signed 64-bit nanoseconds.
 */
#define CB_BOUND_NONE (INT64_MAX / 4)

/* ClockBound's status values. */
enum {
	CB_UNKNOWN = 0,
	CB_SYNCHRONIZED = 1,
	CB_FREE_RUNNING = 2,
	CB_DISRUPTED = 3,
};

/* Native endian, as ClockBound's. */
struct cb_segment {
	uint32_t magic[2];
	uint32_t segsize;
	uint16_t version;
	uint16_t generation; /* odd while written; never 0 once written */
	int64_t as_of_sec, as_of_nsec; /* CLOCK_MONOTONIC_COARSE */
	int64_t void_after_sec, void_after_nsec;
	int64_t bound_nsec; /* on CLOCK_REALTIME at as_of */
	uint64_t disruption_marker;
	uint32_t max_drift_ppb;
	int32_t clock_status;
	uint8_t clock_disruption_support;
	uint8_t pad[7];
};

_Static_assert(sizeof(struct cb_segment) == 80, "cb_segment");
_Static_assert(offsetof(struct cb_segment, as_of_sec) == 16, "as_of");
_Static_assert(offsetof(struct cb_segment, bound_nsec) == 48, "bound");
_Static_assert(offsetof(struct cb_segment, clock_status) == 68, "status");

void vrtc_cb_close(struct vrtc *v)
{
	if (v->cb_map) {
		munmap(v->cb_map, sizeof(struct cb_segment));
		v->cb_map = NULL;
	}
	free(v->cb_path);
	v->cb_path = NULL;
}

static int cb_map(struct vrtc *v, const char *path)
{
	struct cb_segment *s;
	struct stat st;
	int fd, r = 0;

	if (v->cb_map && v->cb_path && !strcmp(v->cb_path, path)) {
		return 0;
	}
	vrtc_cb_close(v);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		r = errno ? -errno : -EINVAL;
		goto out;
	}
	if (st.st_size != sizeof(*s) && ftruncate(fd, sizeof(*s))) {
		r = -errno;
		goto out;
	}
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	if (s->magic[0] != CB_MAGIC0 || s->magic[1] != CB_MAGIC1 ||
	    s->segsize != sizeof(*s) || s->version != CB_VERSION) {
		/* someone else's or nothing: a fresh, not yet valid segment */
		memset(s, 0, sizeof(*s));
		s->magic[0] = CB_MAGIC0;
		s->magic[1] = CB_MAGIC1;
		s->segsize = sizeof(*s);
	}
	v->cb_map = s;
	v->cb_path = strdup(path);
out:
	close(fd);
	return r;
}

/*
 * max_drift_ppb 0: how fast CLOCK_REALTIME's error can grow between two
 * writes. REALTIME runs at (1 + f) per counter ns, f the kernel's
 * frequency correction now (adjtimex freq and tick, which chronyd or ntpd
 * change only at their updates; + 500 ppm while the kernel's PLL may be
 * slewing an offset); true time at the page's period p, within its rate
 * bound. So |1 + f - p| + the rate bound + 1 ppb of rounding. The
 * period is in the counter libvrtc reads (ns of CLOCK_MONOTONIC_RAW) on a
 * host and on the agent's page in a guest; in PHC mode it is the host's
 * counter, and the guest's REALTIME rate is unknown: 50 000 ppb then.
 */
static uint32_t cb_auto_drift(const struct vrtc *v)
{
	struct vmclock_abi f;
	struct timex tx = { 0 };
	int64_t ppb = 0, p_ppb = 0;
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t rate = 0;

	if (v->map && !vrtc_page_copy(v->map, v->len, &f) &&
	    f.counter_period_frac_sec && f.counter_period_shift <= 32) {
		unsigned int sh = 64 + f.counter_period_shift;
		unsigned __int128 q =
			((unsigned __int128)f
					 .counter_period_maxerror_rate_frac_sec *
				 NS_PER_S +
			 f.counter_period_frac_sec - 1) /
			f.counter_period_frac_sec;
		/* ns of true time per 1e9 counter ticks (< 2^64 * 1e18) */
		unsigned __int128 per =
			((unsigned __int128)f.counter_period_frac_sec *
			 NS_PER_S * NS_PER_S) >>
			sh;

		rate = q > UINT32_MAX ? UINT32_MAX : (uint64_t)q;
		p_ppb = per > (unsigned __int128)INT64_MAX
				? INT64_MAX / 2
				: (int64_t)per - NS_PER_S;
	}
	if (adjtimex(&tx) >= 0) {
		/* freq: ppm << 16; tick: us per clock tick, nominally
		 * 1e6 / USER_HZ */
		ppb = (int64_t)tx.freq * 1000 / 65536;
		if (hz > 0) {
			int64_t tick_us = 1000000 / hz;

			ppb += ((int64_t)tx.tick - tick_us) * NS_PER_S /
			       tick_us;
		}
		if ((tx.status & STA_PLL) && tx.offset) {
			ppb = ppb < 0 ? ppb - 500000 : ppb + 500000;
		}
	} else {
		ppb = 1000000; /* the kernel's limits on freq and slew */
	}
	if (v->mode == VRTC_MODE_GUEST) {
		ppb = (ppb < 0 ? -ppb : ppb) + 50000;
	} else {
		ppb -= p_ppb;
		ppb = ppb < 0 ? -ppb : ppb;
	}
	ppb += (int64_t)rate + 1;
	return ppb > UINT32_MAX ? UINT32_MAX : (uint32_t)ppb;
}

static int cb_status(struct vrtc *v, int r, const struct vrtc_time *t)
{
	int st;

	if (r) {
		return CB_UNKNOWN;
	}
	switch (t->status) {
	case VRTC_STATUS_SYNCHRONIZED:
		st = CB_SYNCHRONIZED;
		break;
	case VRTC_STATUS_INITIALIZING:
	case VRTC_STATUS_FREERUNNING:
		st = CB_FREE_RUNNING; /* a bound, not freshly disciplined */
		break;
	default:
		st = CB_UNKNOWN;
	}
	if (v->cb_have_marker && v->cb_marker != t->disruption_marker) {
		st = CB_DISRUPTED;
	}
	v->cb_marker = t->disruption_marker;
	v->cb_have_marker = 1;
	return st;
}

int vrtc_clockbound_write(struct vrtc *v, const char *path,
			  uint32_t max_drift_ppb, unsigned int void_after_s)
{
	struct cb_segment n = { 0 }, *s;
	struct vrtc_time t;
	struct timespec asof, res;
	uint64_t win = 0, bound;
	int64_t sys = 0, d;
	uint16_t gen;
	int r;

	if (v->ts != VRTC_TIMESCALE_UTC) {
		return -EINVAL; /* ClockBound bounds CLOCK_REALTIME: UTC */
	}
	r = cb_map(v, path ? path : "/var/run/clockbound/shm0");
	if (r) {
		return r;
	}
	s = v->cb_map;
	if (!s) {
		return -EIO;
	}
	/*
	 * as_of on CLOCK_MONOTONIC_COARSE, the clock ClockBound's reader
	 * compares it with (PROTOCOL.md; clock-bound-shm common.rs): on
	 * CLOCK_MONOTONIC it was up to a tick ahead of the reader's clock
	 * just after each update, which the reader refuses as a causality
	 * breach (it allows 1 us). Taken before the reading and one tick
	 * (the coarse clock's resolution) earlier still, so that the
	 * reader's coarse "now" minus as_of never under-counts the time
	 * since the reading: the bound grows from a bit earlier.
	 */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &asof);
	if (!clock_getres(CLOCK_MONOTONIC_COARSE, &res) && !res.tv_sec) {
		asof.tv_nsec -= res.tv_nsec;
		if (asof.tv_nsec < 0) {
			asof.tv_nsec += NS_PER_S;
			asof.tv_sec--;
		}
	}
	r = vrtc_now_sys(v, &t, &sys, &win);
	n.max_drift_ppb = max_drift_ppb ? max_drift_ppb : cb_auto_drift(v);
	n.clock_status = cb_status(v, r, &t);
	if (!r) {
		/* REALTIME's error: its offset from our UTC, our bound, and
		 * the half window in which REALTIME was read */
		d = sys - t.now_ns;
		bound = (uint64_t)(d < 0 ? -d : d) + t.bound_ns + (win + 1) / 2;
		v->cb_good_bound =
			bound > CB_BOUND_NONE ? CB_BOUND_NONE : (int64_t)bound;
		v->cb_good_asof = asof;
		v->cb_good_void = asof;
		v->cb_good_void.tv_sec += void_after_s;
		v->cb_have_good = 1;
		n.disruption_marker = t.disruption_marker;
	} else {
		n.disruption_marker = v->cb_marker;
	}
	if (v->cb_have_good) {
		/*
		 * Unknown from here on, but a reader that ignores the status
		 * still gets the last bound, growing at max_drift_ppb from
		 * when it was true, and void after the same instant.
		 */
		n.as_of_sec = v->cb_good_asof.tv_sec;
		n.as_of_nsec = v->cb_good_asof.tv_nsec;
		n.void_after_sec = v->cb_good_void.tv_sec;
		n.void_after_nsec = v->cb_good_void.tv_nsec;
		n.bound_nsec = v->cb_good_bound;
	} else {
		/* never a bound: claim nothing, void at once */
		n.as_of_sec = n.void_after_sec = asof.tv_sec;
		n.as_of_nsec = n.void_after_nsec = asof.tv_nsec;
		n.bound_nsec = CB_BOUND_NONE;
	}

	gen = __atomic_load_n(&s->generation, __ATOMIC_ACQUIRE);
	gen = (gen & 1) ? gen : (uint16_t)(gen + 1);
	__atomic_store_n(&s->generation, gen, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy((char *)s + offsetof(struct cb_segment, as_of_sec),
	       (char *)&n + offsetof(struct cb_segment, as_of_sec),
	       sizeof(n) - offsetof(struct cb_segment, as_of_sec));
	__atomic_store_n(&s->version, (uint16_t)CB_VERSION, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	gen = (uint16_t)(gen + 1);
	__atomic_store_n(&s->generation, gen ? gen : 2, __ATOMIC_RELEASE);
	return r;
}
