// SPDX-License-Identifier: MIT
/*
 * vrtc-guest test: the clock checks (names, agreement with the reference,
 * TAI - UTC, smeared UTC, MONOTONIC, read windows), in order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vrtc-guest.h"

/* The clocksource the read windows are measured with. */
#if defined(__aarch64__)
#define WANT_CLOCKSOURCE "arch_sys_counter"
#else
#define WANT_CLOCKSOURCE "tsc"
#endif

const int want_type[4] = { VT_UTC, VT_TAI, VT_MONOTONIC, VT_UTC_SMEARED };
const int want_variant[4] = { 0, 0, 0, 1 };

static void check_phcs(const char *ours, const char *ref, bool ref_only)
{
	int n_ours = 0, n_ref = 0, n_other = 0;
	int seen[4] = { 0 };
	bool ok = true;
	char names[256] = "";

	for (int i = 0; i < n_phcs; i++) {
		struct guest_phc *p = &phcs[i];

		printf("VRTC-E2E: phc INFO dev=/dev/ptp%d name=\"%s\" pci=%s "
		       "virtio=%s\n",
		       p->index, p->name, p->pci, p->virtio);
		if (!strcmp(p->pci, ours)) {
			n_ours++;
			for (int k = 0; k < 4; k++) {
				if (p->type == want_type[k] &&
				    p->variant == want_variant[k]) {
					seen[k]++;
				}
			}
		} else if (!strcmp(p->pci, ref)) {
			n_ref++;
			if (p->type != VT_UTC || p->variant != 0) {
				ok = false;
			}
		} else {
			n_other++;
		}
		if (p->fd < 0) {
			ok = false;
		}
	}
	if (!ref_only) {
		for (int k = 0; k < 4; k++) {
			if (seen[k] != 1) {
				ok = false;
			}
			snprintf(names + strlen(names),
				 sizeof(names) - strlen(names),
				 "%s\"Virtio PTP type %d/variant %d\"=%d",
				 k ? "," : "", want_type[k], want_variant[k],
				 seen[k]);
		}
		if (n_ours != 4) {
			ok = false;
		}
	} else if (n_ours != 0) {
		ok = false;
	}
	if (n_ref != 1 || n_other != 0) {
		ok = false;
	}
	result("phcs", ok, "ours=%d ref=%d other=%d expected=%s %s", n_ours,
	       n_ref, n_other, ref_only ? "0+1+0" : "4+1+0", names);
}

static struct pair check_utc_vs_ref(const struct guest_phc *utc,
				    const struct guest_phc *ref)
{
	struct pair r = compare(utc, ref);

	if (r.err) {
		result("utc_vs_ref", false, "ioctl_error=%s", strerror(-r.err));
		return r;
	}
	result("utc_vs_ref", abs64(r.d) <= r.wa + r.wb,
	       "offset_ns=%" PRId64 " window_ours_ns=%" PRId64
	       " window_ref_ns=%" PRId64 " limit_ns=%" PRId64
	       " median_offset_ns=%" PRId64 " rounds=%d",
	       r.d, r.wa, r.wb, r.wa + r.wb, r.d_median, ROUNDS);
	return r;
}

static void check_tai_utc(const struct guest_phc *tai,
			  const struct guest_phc *utc, long expect_s)
{
	struct pair r = compare(tai, utc);
	int64_t dev;

	if (r.err) {
		result("tai_minus_utc", false, "ioctl_error=%s",
		       strerror(-r.err));
		return;
	}
	dev = r.d - expect_s * NSEC_PER_SEC;
	result("tai_minus_utc", abs64(dev) <= r.wa + r.wb,
	       "measured_ns=%" PRId64 " expected_s=%ld error_ns=%" PRId64
	       " window_tai_ns=%" PRId64 " window_utc_ns=%" PRId64
	       " limit_ns=%" PRId64,
	       r.d, expect_s, dev, r.wa, r.wb, r.wa + r.wb);
}

static void check_smeared(const struct guest_phc *sm,
			  const struct guest_phc *utc, bool leap_near)
{
	struct pair r = compare(sm, utc);

	if (r.err) {
		result("smeared_vs_utc", false, "ioctl_error=%s",
		       strerror(-r.err));
		return;
	}
	if (leap_near) {
		info("smeared_vs_utc",
		     "offset_ns=%" PRId64
		     " (a leap second is within a day: not checked)",
		     r.d);
		return;
	}
	result("smeared_vs_utc", abs64(r.d) <= r.wa + r.wb,
	       "offset_ns=%" PRId64 " window_smeared_ns=%" PRId64
	       " window_utc_ns=%" PRId64 " limit_ns=%" PRId64
	       " (no leap second within a day: smeared == UTC)",
	       r.d, r.wa, r.wb, r.wa + r.wb);
}

#define MONO_READS 5000

static void check_monotonic(const struct guest_phc *mono)
{
	int64_t prev = 0, first = 0, now = 0, max_step = 0;
	int err = 0, backwards = 0, equal = 0;
	int64_t worst = 0;

	for (int i = 0; i < MONO_READS; i++) {
		struct sample s;

		/* Alternate the two read paths (clock_gettime, EXTENDED). */
		if (i % 2) {
			err = phc_ext(mono, 1, &s, NULL);
			now = s.phc;
		} else {
			err = phc_gettime(mono, &now);
		}
		if (err) {
			break;
		}
		if (i == 0) {
			first = now;
		} else if (now < prev) {
			backwards++;
			if (prev - now > worst) {
				worst = prev - now;
			}
		} else if (now == prev) {
			equal++;
		} else if (now - prev > max_step) {
			max_step = now - prev;
		}
		prev = now;
	}
	if (err) {
		result("monotonic", false, "ioctl_error=%s", strerror(-err));
		return;
	}
	result("monotonic", backwards == 0 && now > first,
	       "reads=%d backwards=%d worst_backwards_ns=%" PRId64
	       " equal=%d max_step_ns=%" PRId64 " span_ns=%" PRId64,
	       MONO_READS, backwards, worst, equal, max_step, now - first);
}

static int cmp_sample_window(const void *a, const void *b)
{
	return cmp_i64(a, b);
}

static int64_t pctl(const int64_t *v, int n, int pct)
{
	return v[(n - 1) * pct / 100];
}

/* Read windows of our UTC PHC and the reference, side by side. */
static void check_windows(const struct guest_phc *utc,
			  const struct guest_phc *ref, int n)
{
	int64_t *wo = calloc((size_t)n, sizeof(*wo));
	int64_t *wr = calloc((size_t)n, sizeof(*wr));
	int err = 0;

	if (!wo || !wr) {
		result("windows", false, "out of memory");
		free(wo);
		free(wr);
		return;
	}
	for (int i = 0; i < n && !err; i++) {
		struct sample s;

		if (utc) {
			err = phc_ext(utc, 1, &s, NULL);
			wo[i] = window(&s);
		}
		if (!err) {
			err = phc_ext(ref, 1, &s, NULL);
			wr[i] = window(&s);
		}
	}
	if (err) {
		result("windows", false, "ioctl_error=%s", strerror(-err));
	} else {
		qsort(wo, (size_t)n, sizeof(*wo), cmp_sample_window);
		qsort(wr, (size_t)n, sizeof(*wr), cmp_sample_window);
		if (utc) {
			result("windows", true,
			       "n=%d ours_p50_ns=%" PRId64
			       " ref_p50_ns=%" PRId64
			       " ratio_p50=%.2f ours_min_ns=%" PRId64
			       " ours_p90_ns=%" PRId64 " ours_p99_ns=%" PRId64
			       " ref_min_ns=%" PRId64 " ref_p90_ns=%" PRId64
			       " ref_p99_ns=%" PRId64,
			       n, pctl(wo, n, 50), pctl(wr, n, 50),
			       (double)pctl(wo, n, 50) /
				       (double)pctl(wr, n, 50),
			       wo[0], pctl(wo, n, 90), pctl(wo, n, 99), wr[0],
			       pctl(wr, n, 90), pctl(wr, n, 99));
		} else {
			result("windows", true,
			       "n=%d ref_p50_ns=%" PRId64 " ref_min_ns=%" PRId64
			       " ref_p90_ns=%" PRId64 " ref_p99_ns=%" PRId64,
			       n, pctl(wr, n, 50), wr[0], pctl(wr, n, 90),
			       pctl(wr, n, 99));
		}
	}
	free(wo);
	free(wr);
}

/*
 * The kernel log: no virtio_rtc line at level emerg..warning.  The info
 * "not creating RTC class device for clock 0, which may step on leap
 * seconds" is expected (the UTC clocks) and is level info anyway.
 */

static void need(const char *what, const struct guest_phc *p)
{
	if (!p) {
		result(what, false, "missing PHC (see the phcs check)");
	}
}

int cmd_test(struct opts *o)
{
	struct guest_phc *utc, *tai, *mono, *sm, *ref;
	char clocksource[64] = "?";

	read_line("/sys/devices/system/clocksource/clocksource0/"
		  "current_clocksource",
		  clocksource, sizeof(clocksource));
	info("guest", "clocksource=%s", clocksource);
	/* The read windows are measured with the guest's clock: on jiffies
	 * they would be 0 or a tick, and every bound below meaningless. */
	result("guest_clock",
	       !strncmp(clocksource, WANT_CLOCKSOURCE,
			strlen(WANT_CLOCKSOURCE)),
	       "clocksource=%s expected=" WANT_CLOCKSOURCE "*", clocksource);
	scan_phcs();
	check_phcs(o->ours, o->ref, o->ref_only);
	ref = find_phc(o->ref, VT_UTC);
	utc = find_phc(o->ours, VT_UTC);
	tai = find_phc(o->ours, VT_TAI);
	mono = find_phc(o->ours, VT_MONOTONIC);
	sm = find_phc(o->ours, VT_UTC_SMEARED);
	if (!ref) {
		result("reference", false, "no reference PHC on %s", o->ref);
	}
	if (!o->ref_only) {
		check_rtc(o->ours, o->ref, false, sm);
		need("utc_vs_ref", utc);
		if (utc && ref) {
			struct pair uvr = check_utc_vs_ref(utc, ref);

			check_phc_reader(utc, ref, &uvr);
			if (o->compare_s > 0) {
				check_phc_compare(utc, ref, o->compare_s);
			}
			if (o->stall_s > 0) {
				check_read_stall(o->ours, ref, o->stall_s,
						 o->upgrade_s);
			}
		} else {
			need("phc_reader", NULL);
		}
		need("tai_minus_utc", tai);
		if (tai && utc) {
			check_tai_utc(tai, utc, o->tai_utc);
		}
		need("smeared_vs_utc", sm);
		if (sm && utc) {
			check_smeared(sm, utc, o->leap_near);
		}
		need("monotonic", mono);
		if (mono) {
			check_monotonic(mono);
		}
	} else {
		check_rtc(o->ours, o->ref, true, NULL);
	}
	if (ref) {
		check_windows(o->ref_only ? NULL : utc, ref, o->samples);
	}
	if (!o->ref_only && ref) {
		check_vrtc_bound(ref, o->samples < 1000 ? 1000 : o->samples);
		check_agent(ref);
		if (o->status_change_s > 0) {
			check_vrtc_status_change(ref, o->status_change_s,
						 o->holdover_s);
		}
	}
	if (!o->ref_only) {
		check_cross(o->ours, o->ref);
		check_alarm();
		check_rebind(o->ours);
	}
	check_dmesg(o->ref_only);
	printf("VRTC-E2E: end passed=%d failed=%d\n", n_pass, n_fail);
	fflush(stdout);
	return n_fail ? 1 : 0;
}
