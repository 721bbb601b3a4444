// SPDX-License-Identifier: MIT
/*
 * vrtc-guest: the daemon's own PHC reader (sync/sources/phc.c, linked in) with
 * real ioctls on a real PHC driver: QEMU's built-in virtio-rtc (the
 * reference) and the daemon's UTC clock.  Which method the probe chose
 * and why, and the offset it measures between the two, compared with the
 * utc_vs_ref check's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phc.h"
#include "vrtc-guest.h"

static int64_t raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* "PRECISE=Operation not supported EXTENDED(MONOTONIC_RAW)=ok" */
static void probe_report(const struct phc *p, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int m = PHC_METHOD_PRECISE; m < PHC_METHOD_COUNT && n < len; m++) {
		int e = phc_method_error(p, (enum phc_method)m);

		if (e == 1) {
			continue;
		}
		n += (size_t)snprintf(buf + n, len - n, "%s%s=%s", n ? "," : "",
				      phc_method_name((enum phc_method)m),
				      e ? strerror(-e) : "ok");
	}
}

static struct phc *open_reader(const char *what, const struct guest_phc *g)
{
	char path[32], msg[160], probes[256];
	struct time_sample s;
	struct phc *p;
	int64_t lo, hi;
	int ret;

	snprintf(path, sizeof(path), "/dev/ptp%d", g->index);
	ret = phc_open(path, NULL, &p, msg, sizeof(msg));
	if (ret < 0) {
		result("phc_reader", false, "%s: %s", what, msg);
		return NULL;
	}
	lo = raw_ns();
	ret = phc_read(p, 0, &s);
	hi = raw_ns();
	probe_report(p, probes, sizeof(probes));
	info("phc_reader", "%s %s cross_timestamping=%d method=%s probe=%s",
	     what, path, phc_cross_timestamping(p),
	     phc_method_name(phc_method(p)), probes);
	if (ret < 0) {
		result("phc_reader", false, "%s: phc_read: %s", what,
		       strerror(-ret));
		phc_free(p);
		return NULL;
	}
	/* the counter is CLOCK_MONOTONIC_RAW, inside our own reads */
	if ((int64_t)s.counter < lo || (int64_t)s.counter > hi) {
		result("phc_reader", false,
		       "%s: counter %" PRIu64 " outside MONOTONIC_RAW "
		       "[%" PRId64 ", %" PRId64 "]",
		       what, s.counter, lo, hi);
		phc_free(p);
		return NULL;
	}
	return p;
}

void check_phc_reader(const struct guest_phc *ours, const struct guest_phc *ref,
		      const struct pair *uvr)
{
	struct phc *po = open_reader("ours", ours);
	struct phc *pr = open_reader("ref", ref);
	int64_t ds[ROUNDS], d = 0, limit, agree;
	uint64_t eo = 0, er = 0, wo = 0, wr = 0, best = UINT64_MAX;
	enum phc_method mref;
	bool ok;

	if (!po || !pr) {
		goto out;
	}
	for (int i = 0; i < ROUNDS; i++) {
		struct time_sample so, sr;
		int ret = phc_read(pr, 0, &sr);

		if (!ret) {
			ret = phc_read(po, 0, &so);
		}
		if (ret < 0) {
			result("phc_reader", false, "phc_read: %s",
			       strerror(-ret));
			goto out;
		}
		/* both at their own counter; the counters are microseconds
		 * apart, where the clocks' rates do not matter */
		ds[i] = (so.tai_ns - (int64_t)so.counter) -
			(sr.tai_ns - (int64_t)sr.counter);
		if (so.err_ns + sr.err_ns < best) {
			best = so.err_ns + sr.err_ns;
			d = ds[i];
			eo = so.err_ns;
			er = sr.err_ns;
			wo = so.window_ns;
			wr = sr.window_ns;
		}
	}
	qsort(ds, ROUNDS, sizeof(ds[0]), cmp_i64);
	mref = phc_method(pr);
	/* the limits of utc_vs_ref: the full windows of the two reads */
	limit = 2 * (int64_t)(eo + er);
	agree = limit + uvr->wa + uvr->wb;
	ok = (mref == PHC_METHOD_EXTENDED_RAW ||
	      mref == PHC_METHOD_EXTENDED_RT) &&
	     phc_method_error(pr, PHC_METHOD_PRECISE) != 0 &&
	     abs64(d) <= limit && !uvr->err && abs64(d - uvr->d) <= agree;
	result("phc_reader", ok,
	       "method_ours=%s method_ref=%s offset_ns=%" PRId64
	       " err_ours_ns=%" PRIu64 " err_ref_ns=%" PRIu64
	       " window_ours_ns=%" PRIu64 " window_ref_ns=%" PRIu64
	       " limit_ns=%" PRId64 " median_offset_ns=%" PRId64
	       " utc_vs_ref_offset_ns=%" PRId64 " agree_limit_ns=%" PRId64
	       " rounds=%d",
	       phc_method_name(phc_method(po)), phc_method_name(mref), d, eo,
	       er, wo, wr, limit, ds[ROUNDS / 2], uvr->d, agree, ROUNDS);
out:
	phc_free(po);
	phc_free(pr);
}
