// SPDX-License-Identifier: MIT
/*
 * vrtc-guest: our UTC PHC against the reference PHC (QEMU's built-in
 * virtio-rtc) in the same guest, for N seconds, both read with the
 * daemon's PHC reader (sync/sources/phc.c): offset statistics (mean, p50, p99
 * and max of |offset|) and read windows, as the host-side
 * `vhost-user-rtc-probe eval` prints them.
 *
 * Both devices serve the host's CLOCK_REALTIME (ours through the
 * daemon's clock model, which slews and steps only beyond 1 ms), so the
 * check passes when every offset is within 1 ms plus half the two read
 * windows of its pair (a pair is only known that well: under TCG on a
 * loaded host a read now and then takes milliseconds) and at least 5
 * pairs a second were read.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phc.h"
#include "vrtc-guest.h"

#define COMPARE_HZ 10
#define COMPARE_LIMIT_NS 1000000

static int64_t pct(const int64_t *sorted, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);

	return sorted[i < n ? i : n - 1];
}

static struct phc *open_phc(const struct guest_phc *g)
{
	char path[32], msg[160];
	struct phc *p = NULL;

	snprintf(path, sizeof(path), "/dev/ptp%d", g->index);
	if (phc_open(path, NULL, &p, msg, sizeof(msg)) < 0) {
		result("phc_compare", false, "%s: %s", path, msg);
		return NULL;
	}
	return p;
}

void check_phc_compare(const struct guest_phc *ours,
		       const struct guest_phc *ref, int seconds)
{
	int cap = seconds * COMPARE_HZ + 16, n = 0;
	int64_t *d = calloc((size_t)cap, sizeof(int64_t));
	int64_t *a = calloc((size_t)cap, sizeof(int64_t));
	int64_t *wo = calloc((size_t)cap, sizeof(int64_t));
	int64_t *wr = calloc((size_t)cap, sizeof(int64_t));
	struct phc *po = open_phc(ours), *pr = open_phc(ref);
	int64_t end = mono_ns() + seconds * NSEC_PER_SEC, next = mono_ns();
	int64_t sum = 0, last_report = mono_ns();
	/* the largest |offset| and its pair's windows; the largest excess of
	 * |offset| over half the pair's two windows */
	int64_t max_a = -1, max_wo = 0, max_wr = 0, beyond = INT64_MIN;

	if (!po || !pr) {
		goto out; /* reported by open_phc() */
	}
	if (!d || !a || !wo || !wr) {
		result("phc_compare", false, "out of memory");
		goto out;
	}
	while (mono_ns() < end && n < cap) {
		struct time_sample so, sr;
		struct timespec ts;

		if (phc_read(pr, 0, &sr) < 0 || phc_read(po, 0, &so) < 0) {
			continue;
		}
		/* each at its own counter, microseconds apart */
		d[n] = (so.tai_ns - (int64_t)so.counter) -
		       (sr.tai_ns - (int64_t)sr.counter);
		a[n] = abs64(d[n]);
		wo[n] = (int64_t)so.window_ns;
		wr[n] = (int64_t)sr.window_ns;
		if (a[n] > max_a) {
			max_a = a[n];
			max_wo = wo[n];
			max_wr = wr[n];
		}
		if (a[n] - (wo[n] + wr[n]) / 2 > beyond) {
			beyond = a[n] - (wo[n] + wr[n]) / 2;
		}
		sum += d[n];
		n++;
		if (mono_ns() - last_report >= 10 * NSEC_PER_SEC) {
			last_report = mono_ns();
			printf("VRTC-E2E: phc_compare INFO progress n=%d "
			       "last_offset_ns=%" PRId64 "\n",
			       n, d[n - 1]);
			fflush(stdout);
		}
		next += NSEC_PER_SEC / COMPARE_HZ;
		ts.tv_sec = next / NSEC_PER_SEC;
		ts.tv_nsec = next % NSEC_PER_SEC;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	if (!n) {
		result("phc_compare", false, "no pair read");
		goto out;
	}
	qsort(a, (size_t)n, sizeof(*a), cmp_i64);
	qsort(wo, (size_t)n, sizeof(*wo), cmp_i64);
	qsort(wr, (size_t)n, sizeof(*wr), cmp_i64);
	qsort(d, (size_t)n, sizeof(*d), cmp_i64);
	result("phc_compare",
	       n >= seconds * COMPARE_HZ / 2 && beyond <= COMPARE_LIMIT_NS,
	       "seconds=%d n=%d mean_ns=%" PRId64 " p50_ns=%" PRId64
	       " p99_abs_ns=%" PRId64 " max_abs_ns=%" PRId64
	       " win_ours_p50_ns=%" PRId64 " win_ours_p99_ns=%" PRId64
	       " win_ref_p50_ns=%" PRId64 " win_ref_p99_ns=%" PRId64
	       " method_ours=%s method_ref=%s limit_ns=%d"
	       " max_pair_win_ours_ns=%" PRId64 " max_pair_win_ref_ns=%" PRId64
	       " worst_beyond_half_windows_ns=%" PRId64,
	       seconds, n, sum / n, pct(d, n, 0.5), pct(a, n, 0.99), a[n - 1],
	       pct(wo, n, 0.5), pct(wo, n, 0.99), pct(wr, n, 0.5),
	       pct(wr, n, 0.99), phc_method_name(phc_method(po)),
	       phc_method_name(phc_method(pr)), COMPARE_LIMIT_NS, max_wo,
	       max_wr, beyond);
out:
	phc_free(po);
	phc_free(pr);
	free(d);
	free(a);
	free(wo);
	free(wr);
}
