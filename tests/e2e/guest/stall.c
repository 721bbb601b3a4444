// SPDX-License-Identifier: MIT
/*
 * vrtc-guest: no clock read hangs. For S seconds the guest reads its
 * PHCs of the device under test in turn (PTP_SYS_OFFSET_EXTENDED with
 * one sample: one virtio-rtc READ on the requestq), pausing
 * before each read for a time drawn uniformly from 0 to 4 x the daemon's
 * default poll window (50 us): many reads arrive as the daemon's poll
 * window for the queue closes, where a lost request would leave the
 * driver waiting for its timeout. The check passes when every read
 * succeeded and none took longer than STALL_LIMIT_NS. Then, with
 * --upgrade-reads, the same again while the host upgrades the daemon
 * live (read_upgrade): no read may fail or wait UPGRADE_LIMIT_NS; the
 * longest is the pause of service the guest saw. Every fourth
 * round also reads the reference PHC (QEMU's in-process virtio-rtc) the
 * same way: its longest read says how much of a stall the host's
 * scheduling of TCG alone can make.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "vrtc-guest.h"

#define STALL_POLL_NS 50000
/* A read that waits this long hung: the driver's own timeout is
 * seconds. Under TCG on a loaded host a healthy read has been seen to
 * take 104 ms, so not less; a request the daemon was never kicked for
 * shows in the host's `kicks` check (the sweep serves it within 100 ms). */
#define STALL_LIMIT_NS (500 * 1000 * 1000)
/* A read that waits this long through a live upgrade: the device was
 * lost, not paused. */
#define UPGRADE_LIMIT_NS (2000LL * 1000 * 1000)

static int64_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

struct stall {
	uint64_t reads;
	int fails, slow, first_err;
	int64_t worst, sum, ref_worst;
};

/* Reads for @seconds, pauses of 0..4 x poll_ns before each. */
static void stall_phase(const struct guest_phc *const *p, int np,
			const struct guest_phc *ref, int seconds,
			unsigned int *seed, struct stall *st)
{
	int64_t end = now_mono() + seconds * NSEC_PER_SEC;

	memset(st, 0, sizeof(*st));
	while (now_mono() < end) {
		struct ptp_sys_offset_extended x = { .n_samples = 1 };
		struct timespec pause = { 0, rand_r(seed) %
						     (4 * STALL_POLL_NS + 1) };
		const struct guest_phc *g = p[st->reads % (uint64_t)np];
		int64_t t0, d;

		nanosleep(&pause, NULL);
		t0 = now_mono();
		if (ioctl(g->fd, PTP_SYS_OFFSET_EXTENDED, &x) < 0 &&
		    !st->fails++) {
			st->first_err = errno;
		}
		d = now_mono() - t0;
		st->reads++;
		st->sum += d;
		if (d > st->worst) {
			st->worst = d;
		}
		if (d > STALL_LIMIT_NS) {
			st->slow++;
		}
		if (ref && st->reads % 4 == 0) {
			struct ptp_sys_offset_extended y = { .n_samples = 1 };

			t0 = now_mono();
			(void)ioctl(ref->fd, PTP_SYS_OFFSET_EXTENDED, &y);
			d = now_mono() - t0;
			if (d > st->ref_worst) {
				st->ref_worst = d;
			}
		}
	}
}

static void stall_result(const char *check, bool ok, int np, int seconds,
			 const struct stall *st)
{
	result(check, ok,
	       "%" PRIu64 " reads of %d PHCs in %d s with pauses of 0-%d us: "
	       "%d failed%s%s%s, %d over %d ms, longest %.3f ms, mean %.1f us; "
	       "reference PHC longest %.3f ms",
	       st->reads, np, seconds, 4 * STALL_POLL_NS / 1000, st->fails,
	       st->fails ? " (first: " : "",
	       st->fails ? strerror(st->first_err) : "", st->fails ? ")" : "",
	       st->slow, STALL_LIMIT_NS / 1000000, (double)st->worst / 1e6,
	       st->reads ? (double)st->sum / (double)st->reads / 1e3 : 0.0,
	       (double)st->ref_worst / 1e6);
}

void check_read_stall(const char *ours, const struct guest_phc *ref,
		      int seconds, int upgrade_seconds)
{
	const struct guest_phc *p[4];
	unsigned int seed = 12345;
	struct stall st;
	int np = 0;

	for (int i = 0; i < n_phcs && np < 4; i++) {
		if (!strcmp(phcs[i].pci, ours) && phcs[i].fd >= 0) {
			p[np++] = &phcs[i];
		}
	}
	if (np == 0) {
		result("read_stall", false, "no PHC of ours to read");
		return;
	}
	stall_phase(p, np, ref, seconds, &seed, &st);
	stall_result("read_stall", st.fails == 0 && st.slow == 0, np, seconds,
		     &st);
	if (upgrade_seconds <= 0) {
		return;
	}
	/* The same while the host upgrades the daemon live (run.sh): no
	 * read may fail, and the longest is the pause the guest saw. */
	printf("VRTC-E2E-MARK read-stall upgrades\n");
	fflush(stdout);
	stall_phase(p, np, ref, upgrade_seconds, &seed, &st);
	stall_result("read_upgrade",
		     st.fails == 0 && st.worst < UPGRADE_LIMIT_NS, np,
		     upgrade_seconds, &st);
}
