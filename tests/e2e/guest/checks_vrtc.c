// SPDX-License-Identifier: MIT
/*
 * vrtc-guest: libvrtc in the guest. The status page comes through QEMU's
 * ivshmem-plain device, the time from our UTC PHC; the reference PHC
 * (QEMU's built-in virtio-rtc-pci, host CLOCK_REALTIME) must lie inside
 * [earliest, latest] at every sample.
 *
 * vrtc_bound: >= 1000 samples while the daemon is SYNCHRONIZED (it
 * follows run.sh's fake gpsd, which reports the host's CLOCK_REALTIME).
 * vrtc_status_seen: the guest polls libvrtc while the host stops that
 * gpsd (on the console marker "VRTC-E2E-MARK source-loss"); it reports the
 * reference's UTC (= host CLOCK_REALTIME) of its last read before and its
 * first read of FREERUNNING, and the page's seq_count of both, so that
 * run.sh can compare them with the time the daemon logged the change.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmclock_wire.h"
#include "vrtc-guest.h"
#include "vrtc_internal.h"

/* The page's seqlock counter (even: a complete publish; +2 per publish). */
static uint32_t page_seq(const struct vrtc *v)
{
	const struct vmclock_abi *p = v->map;

	return le32toh(__atomic_load_n(&p->seq_count, __ATOMIC_ACQUIRE));
}

int vread(struct vrtc *v, const struct guest_phc *ref, struct vreading *r)
{
	int64_t c0 = mono_ns(), sys;
	struct sample s;
	uint64_t win;
	int e;

	e = vrtc_now_sys(v, &r->t, &sys, &win);
	r->cost_ns = mono_ns() - c0;
	r->seq = page_seq(v);
	if (r->seq & 1) {
		r->seq = 0; /* a publish under way just now */
	}
	if (e) {
		return e;
	}
	if (phc_ext(ref, 3, &s, NULL)) {
		return 1;
	}
	/* the reference at our instant (the guest realtime midpoint of our
	 * read), within half its own read window */
	r->ref_ns = sys + (s.phc - s.pre - window(&s) / 2);
	r->margin = r->ref_ns - r->t.earliest_ns < r->t.latest_ns - r->ref_ns
			    ? r->ref_ns - r->t.earliest_ns
			    : r->t.latest_ns - r->ref_ns;
	r->margin += window(&s) / 2;
	/* host mode (the agent's page): our counter was read somewhere in
	 * the REALTIME bracket, not at its middle; in PHC mode the bound
	 * already holds that half window */
	r->sys_window_ns = win;
	if (v->mode == VRTC_MODE_HOST) {
		r->margin += (int64_t)((win + 1) / 2);
	}
	return 0;
}

/* Poll until the page says SYNCHRONIZED, at most @limit_ms; returns the
 * last status seen and *@waited_ms. */
static enum vrtc_status wait_synchronized(struct vrtc *v, int64_t limit_ms,
					  int64_t *waited_ms)
{
	int64_t t0 = mono_ns();
	struct vrtc_time t;

	for (;;) {
		if (vrtc_now(v, &t) == 0 &&
		    t.status == VRTC_STATUS_SYNCHRONIZED) {
			break;
		}
		if (mono_ns() - t0 > limit_ms * 1000000) {
			break;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 100000000 }, NULL);
	}
	*waited_ms = (mono_ns() - t0) / 1000000;
	return t.status;
}

void check_vrtc_bound(const struct guest_phc *ref, int samples)
{
	struct vrtc_options o = { .mode = VRTC_MODE_GUEST };
	int n = 0, inside = 0, refused = 0, last_err = 0, synced = 0;
	enum vrtc_status st = VRTC_STATUS_UNKNOWN;
	int64_t worst_margin = INT64_MAX, waited_ms = 0;
	int64_t *width = calloc((size_t)samples, sizeof(*width));
	int64_t *age = calloc((size_t)samples, sizeof(*age));
	int64_t *cost = calloc((size_t)samples, sizeof(*cost));
	struct vrtc *v;
	int r;

	if (!width || !age || !cost) {
		result("vrtc_bound", false, "out of memory");
		goto out;
	}
	r = vrtc_open(&o, &v);
	if (r) {
		result("vrtc_bound", false, "vrtc_open: %s", vrtc_strerror(r));
		goto out;
	}
	/* the daemon needs a few samples of its source to say SYNCHRONIZED;
	 * usually long done by now */
	wait_synchronized(v, 60000, &waited_ms);
	for (int i = 0; i < samples; i++) {
		struct vreading rd;
		int e = vread(v, ref, &rd);

		if (e < 0) {
			refused++;
			last_err = e;
			continue;
		}
		if (e) {
			continue;
		}
		if (rd.margin >= 0) {
			inside++;
		}
		if (rd.margin < worst_margin) {
			worst_margin = rd.margin;
		}
		if (rd.t.status == VRTC_STATUS_SYNCHRONIZED) {
			synced++;
		}
		width[n] = rd.t.latest_ns - rd.t.earliest_ns;
		age[n] = (int64_t)rd.t.age_ns;
		cost[n] = rd.cost_ns;
		st = rd.t.status;
		n++;
	}
	vrtc_close(v);
	if (n == 0) {
		result("vrtc_bound", false, "every reading refused: %s",
		       vrtc_strerror(last_err));
		goto out;
	}
	qsort(width, (size_t)n, sizeof(*width), cmp_i64);
	qsort(age, (size_t)n, sizeof(*age), cmp_i64);
	qsort(cost, (size_t)n, sizeof(*cost), cmp_i64);
	result("vrtc_bound",
	       inside == n && n >= 1000 && refused == 0 && synced == n,
	       "n=%d contained=%d refused=%d synchronized=%d status=%s "
	       "waited_ms=%" PRId64 " width_p50_ns=%" PRId64
	       " width_p99_ns=%" PRId64 " age_p50_ms=%" PRId64
	       " worst_margin_ns=%" PRId64 " call_p50_ns=%" PRId64
	       " call_p99_ns=%" PRId64 " (reference PHC inside "
	       "[earliest, latest] of libvrtc over ivshmem-plain)",
	       n, inside, refused, synced, vrtc_status_name(st), waited_ms,
	       width[n / 2], width[(n * 99) / 100], age[n / 2] / 1000000,
	       worst_margin, cost[n / 2], cost[(n * 99) / 100]);
	/* the CLI, as a user in the guest would run it */
	r = system("vrtc-now --guest > /tmp/vrtc-now.txt 2>&1");
	{
		char line[256] = "";
		FILE *f = fopen("/tmp/vrtc-now.txt", "re");

		if (f) {
			if (!fgets(line, sizeof(line), f)) {
				line[0] = '\0';
			}
			fclose(f);
		}
		line[strcspn(line, "\n")] = '\0';
		result("vrtc_now_cli", r == 0 && strstr(line, "earliest "),
		       "exit=%d output: %s", r, line);
	}
out:
	free(width);
	free(age);
	free(cost);
}

/*
 * The host stops the daemon's source when it sees our marker; we poll
 * libvrtc every 10 ms until the page says FREERUNNING (at most @limit_s
 * after the marker), then @holdover_s more of holdover. Every reading
 * must contain the reference, as in vrtc_bound.
 */
void check_vrtc_status_change(const struct guest_phc *ref, int limit_s,
			      int holdover_s)
{
	struct vrtc_options o = { .mode = VRTC_MODE_GUEST };
	struct vreading rd, before = { 0 }, seen = { 0 };
	enum vrtc_status start, last = VRTC_STATUS_UNKNOWN;
	int n = 0, inside = 0, refused = 0, last_err = 0, others = 0;
	int64_t t0, waited_ms, worst_margin = INT64_MAX, seen_at = 0;
	int64_t max_gap = 0, prev_at = 0;
	uint32_t seq_lo = 0, seq_hi = 0, seq_prev = 0;
	int publishes = 0, have_before = 0, have_seen = 0;
	struct vrtc *v;
	int e;

	e = vrtc_open(&o, &v);
	if (e) {
		result("vrtc_status_seen", false, "vrtc_open: %s",
		       vrtc_strerror(e));
		return;
	}
	start = wait_synchronized(v, 60000, &waited_ms);
	printf("VRTC-E2E-MARK source-loss status=%s\n",
	       vrtc_status_name(start));
	fflush(stdout);
	t0 = mono_ns();
	while (have_seen ? mono_ns() - seen_at < holdover_s * NSEC_PER_SEC
			 : mono_ns() - t0 < (int64_t)limit_s * NSEC_PER_SEC) {
		int64_t now = mono_ns();

		if (prev_at && now - prev_at > max_gap) {
			max_gap = now - prev_at;
		}
		prev_at = now;
		e = vread(v, ref, &rd);
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
		if (e < 0) {
			refused++;
			last_err = e;
			last = VRTC_STATUS_UNKNOWN; /* what a caller gets */
			continue;
		}
		if (e) {
			continue;
		}
		n++;
		if (rd.margin >= 0) {
			inside++;
		}
		if (rd.margin < worst_margin) {
			worst_margin = rd.margin;
		}
		/* the publishes seen: distinct even seq_counts */
		if (rd.seq && rd.seq != seq_prev) {
			publishes++;
			seq_prev = rd.seq;
			if (!seq_lo) {
				seq_lo = rd.seq;
			}
			seq_hi = rd.seq;
		}
		last = rd.t.status;
		if (rd.t.status == VRTC_STATUS_FREERUNNING) {
			if (!have_seen) {
				seen = rd;
				seen_at = now;
				have_seen = 1;
			}
		} else if (!have_seen) {
			before = rd;
			have_before = 1;
			if (rd.t.status != VRTC_STATUS_SYNCHRONIZED) {
				others++; /* e.g. UNRELIABLE on the way */
			}
		}
	}
	vrtc_close(v);
	result("vrtc_status_seen",
	       start == VRTC_STATUS_SYNCHRONIZED && have_before && have_seen &&
		       others == 0 && refused == 0 && inside == n &&
		       last == VRTC_STATUS_FREERUNNING,
	       "from=%s to=%s status_end=%s after_marker_ms=%" PRId64
	       " before_utc_ns=%" PRId64 " seen_utc_ns=%" PRId64
	       " poll_gap_ms=%" PRId64 " max_poll_gap_ms=%" PRId64
	       " seq_before=%" PRIu32 " seq_seen=%" PRIu32
	       " publishes_seen=%d publishes_total=%" PRIu32
	       " bound_before_ns=%" PRIu64 " bound_seen_ns=%" PRIu64
	       " n=%d contained=%d refused=%d last_error=%d other_statuses=%d"
	       " worst_margin_ns=%" PRId64 " waited_ms=%" PRId64
	       " holdover_s=%d",
	       vrtc_status_name(start),
	       have_seen ? vrtc_status_name(seen.t.status) : "none",
	       vrtc_status_name(last),
	       have_seen ? (seen_at - t0) / 1000000 : -1,
	       have_before ? before.ref_ns : 0, have_seen ? seen.ref_ns : 0,
	       have_before && have_seen
		       ? (seen.ref_ns - before.ref_ns) / 1000000
		       : -1,
	       max_gap / 1000000, have_before ? before.seq : 0,
	       have_seen ? seen.seq : 0, publishes,
	       seq_hi >= seq_lo && seq_lo ? (seq_hi - seq_lo) / 2 + 1 : 0,
	       have_before ? before.t.bound_ns : 0,
	       have_seen ? seen.t.bound_ns : 0, n, inside, refused, last_err,
	       others, worst_margin, waited_ms, holdover_s);
}
