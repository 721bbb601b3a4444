// SPDX-License-Identifier: MIT
/*
 * vrtc-guest: the guest side of the end-to-end test and of the demo.
 * This file: the command line, the demo and the host-side helpers;
 * phc.c finds and reads the PHCs, checks.c and checks_dev.c hold the test.
 *
 * Built static with the host gcc and put in the guest's initramfs. It finds
 * the virtio PHCs and the RTC, tells the device under test (vhost-user-rtc-pci)
 * from QEMU's built-in virtio-rtc-pci (the reference) by their PCI address in
 * sysfs, and measures them with PTP_SYS_OFFSET_EXTENDED.
 *
 *   vrtc-guest test --ours PCI --ref PCI --tai-utc S [--leap-near 0|1]
 *                   [--samples N] [--compare S] [--status-change S]
 *                   [--holdover S] [--ref-only]
 *       run the checks; one machine-readable line per check on stdout:
 *       "VRTC-E2E: <check> PASS|FAIL|INFO key=value ...", then
 *       "VRTC-E2E: end passed=N failed=M".
 *   vrtc-guest demo --ours PCI --ref PCI
 *       print the guest's view for a human.
 *   vrtc-guest hosttai
 *       (on the host) print the kernel's TAI offset from adjtimex(2).
 *   vrtc-guest hosttsc
 *       (on the host) print the TSC frequency in kHz, measured against
 *       CLOCK_MONOTONIC_RAW.  Under TCG the guest's TSC is the host's, and
 *       the guest's own calibration against the emulated PIT sometimes
 *       fails ("could not calculate TSC khz"), leaving it on jiffies:
 *       run.sh passes this value as tsc_early_khz=.
 */
#include <sys/timex.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vrtc-guest.h"

static void usage(void)
{
	fprintf(stderr, "usage: vrtc-guest test --ours PCI --ref PCI --tai-utc "
			"S [--leap-near 0|1] [--samples N] [--compare S]\n"
			"                  [--status-change S] [--holdover S] "
			"[--stall S] [--upgrade-reads S] [--ref-only]\n"
			"       vrtc-guest demo --ours PCI --ref PCI\n"
			"       vrtc-guest migrate REF_PCI BEFORE_S AFTER_S "
			"LIMIT_S\n"
			"       vrtc-guest hosttai\n"
			"       vrtc-guest hosttsc\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--ref-only")) {
			o->ref_only = true;
			continue;
		}
		if (!v) {
			usage();
		}
		if (!strcmp(a, "--ours")) {
			o->ours = v;
		} else if (!strcmp(a, "--ref")) {
			o->ref = v;
		} else if (!strcmp(a, "--tai-utc")) {
			o->tai_utc = strtol(v, NULL, 10);
		} else if (!strcmp(a, "--leap-near")) {
			o->leap_near = atoi(v) != 0;
		} else if (!strcmp(a, "--samples")) {
			o->samples = atoi(v);
		} else if (!strcmp(a, "--compare")) {
			o->compare_s = atoi(v);
		} else if (!strcmp(a, "--status-change")) {
			o->status_change_s = atoi(v);
		} else if (!strcmp(a, "--upgrade-reads")) {
			o->upgrade_s = atoi(v);
		} else if (!strcmp(a, "--stall")) {
			o->stall_s = atoi(v);
		} else if (!strcmp(a, "--holdover")) {
			o->holdover_s = atoi(v);
		} else {
			usage();
		}
		i++;
	}
	if (!o->ours || !o->ref || o->samples < 1) {
		usage();
	}
}

static int cmd_demo(struct opts *o)
{
	struct guest_phc *utc, *tai, *ref;

	scan_phcs();
	printf("\n==== PTP hardware clocks in the guest (/sys/class/ptp) "
	       "====\n");
	printf("%-10s %-30s %-14s %-9s %s\n", "device", "clock_name", "PCI",
	       "virtio", "served by");
	for (int i = 0; i < n_phcs; i++) {
		struct guest_phc *p = &phcs[i];
		char by[64];

		if (!strcmp(p->pci, o->ours)) {
			snprintf(by, sizeof(by), "vhost-user-rtc (%s)",
				 type_name(p->type));
		} else if (!strcmp(p->pci, o->ref)) {
			snprintf(by, sizeof(by), "QEMU built-in reference (%s)",
				 type_name(p->type));
		} else {
			snprintf(by, sizeof(by), "?");
		}
		printf("/dev/ptp%-2d %-30s %-14s %-9s %s\n", p->index, p->name,
		       p->pci, p->virtio, by);
	}

	ref = find_phc(o->ref, VT_UTC);
	printf("\n==== One reading of each PHC (PTP_SYS_OFFSET_EXTENDED, best "
	       "of 5) ====\n");
	printf("(vs reference = this PHC minus QEMU's built-in UTC PHC at the "
	       "same instant, through the guest clock;\n"
	       " window = how long the read took, as seen by the guest)\n");
	printf("%-10s %-12s %-40s %18s %10s\n", "device", "clock", "reading",
	       "vs reference", "window");
	struct sample rs;
	bool have_ref = ref && !phc_ext(ref, 5, &rs, NULL);

	for (int i = 0; i < n_phcs; i++) {
		struct guest_phc *p = &phcs[i];
		struct sample s;
		char r[64], label[32], vs[32];
		int err = phc_ext(p, 5, &s, NULL);

		if (err) {
			printf("/dev/ptp%-2d read failed: %s\n", p->index,
			       strerror(-err));
			continue;
		}
		if (p == ref) {
			rs = s;
		}
		fmt_reading(p, s.phc, r, sizeof(r));
		snprintf(label, sizeof(label), "%s%s",
			 !strcmp(p->pci, o->ref) ? "ref " : "",
			 type_name(p->type));
		if (p->type == VT_MONOTONIC || !have_ref) {
			snprintf(vs, sizeof(vs), "-");
		} else {
			snprintf(vs, sizeof(vs), "%+.6f s",
				 (double)(offset(&s) - offset(&rs)) / 1e9);
		}
		printf("/dev/ptp%-2d %-12s %-40s %18s %7.1f us\n", p->index,
		       label, r, vs, (double)window(&s) / 1e3);
	}

	utc = find_phc(o->ours, VT_UTC);
	tai = find_phc(o->ours, VT_TAI);
	printf("\n==== Our UTC next to the reference UTC (best of %d paired "
	       "reads) ====\n",
	       ROUNDS);
	if (utc && ref) {
		struct pair r = compare(utc, ref);

		if (!r.err) {
			printf("ours - reference = %+.3f us   (windows %.1f us "
			       "+ %.1f us; median over rounds %+.3f us)\n",
			       (double)r.d / 1e3, (double)r.wa / 1e3,
			       (double)r.wb / 1e3, (double)r.d_median / 1e3);
		}
	} else {
		printf("(missing: ours UTC %s, reference %s)\n",
		       utc ? "present" : "absent", ref ? "present" : "absent");
	}
	printf("\n==== TAI - UTC from our PHCs ====\n");
	if (utc && tai) {
		struct pair r = compare(tai, utc);

		if (!r.err) {
			printf("TAI - UTC = %.9f s   (windows %.1f us + %.1f "
			       "us)\n",
			       (double)r.d / 1e9, (double)r.wa / 1e3,
			       (double)r.wb / 1e3);
		}
	} else {
		printf("(missing: ours UTC or TAI)\n");
	}
	fflush(stdout);
	return 0;
}

static int cmd_hosttai(void)
{
	struct timex tx = { .modes = 0 };
	struct timespec rt, tai;

	if (adjtimex(&tx) < 0) {
		perror("adjtimex");
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_TAI, &tai);
	printf("%d %ld\n", tx.tai, (long)(tai.tv_sec - rt.tv_sec));
	return 0;
}

#if defined(__x86_64__) || defined(__i386__)
static int64_t mono_raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* One (time, tsc) pair, taking the tightest of a few brackets. */
static void tsc_pair(int64_t *t, uint64_t *c)
{
	int64_t best = INT64_MAX;

	for (int i = 0; i < 20; i++) {
		int64_t a = mono_raw_ns();
		uint64_t x = __rdtsc();
		int64_t b = mono_raw_ns();

		if (b - a < best) {
			best = b - a;
			*t = a + (b - a) / 2;
			*c = x;
		}
	}
}

static int cmd_hosttsc(void)
{
	int64_t t0, t1;
	uint64_t c0, c1;
	struct timespec d = { 0, 300 * 1000 * 1000 };

	tsc_pair(&t0, &c0);
	nanosleep(&d, NULL);
	tsc_pair(&t1, &c1);
	if (t1 <= t0 || c1 <= c0) {
		return 1;
	}
	printf("%.0f\n", (double)(c1 - c0) * 1e6 / (double)(t1 - t0));
	return 0;
}
#else
/* No TSC: an arm64 guest calibrates nothing (the Generic Timer states
 * its frequency in CNTFRQ_EL0). */
static int cmd_hosttsc(void)
{
	return 1;
}
#endif

int main(int argc, char **argv)
{
	struct opts o = { .tai_utc = 37, .samples = 1000 };

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		usage();
	}
	if (!strcmp(argv[1], "hosttai")) {
		return cmd_hosttai();
	}
	if (!strcmp(argv[1], "hosttsc")) {
		return cmd_hosttsc();
	}
	if (!strcmp(argv[1], "migrate")) {
		if (argc != 6) {
			usage();
		}
		return cmd_migrate(argv[2], atoi(argv[3]), atoi(argv[4]),
				   atoi(argv[5]));
	}
	parse(argc, argv, &o);
	if (!strcmp(argv[1], "test")) {
		return cmd_test(&o);
	}
	if (!strcmp(argv[1], "demo")) {
		return cmd_demo(&o);
	}
	usage();
	return 2;
}
