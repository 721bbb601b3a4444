// SPDX-License-Identifier: MIT
/*
 * vrtc-guest: no clock read hangs. For S seconds the guest reads its
 * PHCs of the device under test in turn (PTP_SYS_OFFSET_EXTENDED with
 * one sample: one virtio-rtc READ on the requestq), pausing
 * before each read for a time drawn uniformly from 0 to 4 x the daemon's
 * default poll window (50 us): many reads arrive as the daemon's poll
 * window for the queue closes, where a lost request would leave the
 * driver waiting for its timeout. The check passes when every read
 * succeeded and none took longer than STALL_LIMIT_NS. Every fourth
 * round also reads the reference PHC (QEMU's in-process virtio-rtc) the
 * same way: its longest read says how much of a stall the host's
 * scheduling of TCG alone can make.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "vrtc-guest.h"

#define STALL_POLL_NS 50000
#define STALL_LIMIT_NS (100 * 1000 * 1000)

static int64_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

void check_read_stall(const char *ours, const struct guest_phc *ref,
		      int seconds)
{
	const struct guest_phc *p[4];
	int np = 0, fails = 0, slow = 0, first_err = 0;
	uint64_t reads = 0;
	int64_t worst = 0, end, sum = 0, ref_worst = 0;
	unsigned int seed = 12345;

	for (int i = 0; i < n_phcs && np < 4; i++) {
		if (!strcmp(phcs[i].pci, ours) && phcs[i].fd >= 0) {
			p[np++] = &phcs[i];
		}
	}
	if (np == 0) {
		result("read_stall", false, "no PHC of ours to read");
		return;
	}
	/* the host upgrades the daemon live while we read (run.sh) */
	printf("VRTC-E2E-MARK read-stall start\n");
	fflush(stdout);
	end = now_mono() + seconds * NSEC_PER_SEC;
	while (now_mono() < end) {
		struct ptp_sys_offset_extended x = { .n_samples = 1 };
		struct timespec pause = { 0, rand_r(&seed) %
						     (4 * STALL_POLL_NS + 1) };
		const struct guest_phc *g = p[reads % (uint64_t)np];
		int64_t t0, d;

		nanosleep(&pause, NULL);
		t0 = now_mono();
		if (ioctl(g->fd, PTP_SYS_OFFSET_EXTENDED, &x) < 0) {
			if (!fails++) {
				first_err = errno;
			}
		}
		d = now_mono() - t0;
		reads++;
		sum += d;
		if (d > worst) {
			worst = d;
		}
		if (d > STALL_LIMIT_NS) {
			slow++;
		}
		if (ref && reads % 4 == 0) {
			struct ptp_sys_offset_extended y = { .n_samples = 1 };

			t0 = now_mono();
			(void)ioctl(ref->fd, PTP_SYS_OFFSET_EXTENDED, &y);
			d = now_mono() - t0;
			if (d > ref_worst) {
				ref_worst = d;
			}
		}
	}
	result("read_stall", fails == 0 && slow == 0,
	       "%" PRIu64 " reads of %d PHCs in %d s with pauses of 0-%d us: "
	       "%d failed%s%s%s, %d over %d ms, longest %.3f ms, mean %.1f us; "
	       "reference PHC longest %.3f ms",
	       reads, np, seconds, 4 * STALL_POLL_NS / 1000, fails,
	       fails ? " (first: " : "", fails ? strerror(first_err) : "",
	       fails ? ")" : "", slow, STALL_LIMIT_NS / 1000000,
	       (double)worst / 1e6,
	       reads ? (double)sum / (double)reads / 1e3 : 0.0,
	       (double)ref_worst / 1e6);
}
