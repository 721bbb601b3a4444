// SPDX-License-Identifier: MIT
/*
 * vrtc-guest migrate: the guest's side of tests/e2e/migrate.sh. It reads
 * our UTC PHC and libvrtc (the page over ivshmem-plain) against the
 * reference PHC (QEMU's built-in virtio-rtc-pci, host CLOCK_REALTIME,
 * which stays plugged and migrates) in a loop, about 50 times a second,
 * while the host unplugs our device, migrates the VM to another QEMU
 * and plugs the device there (vhost-user-rtc-ctl migrate).
 *
 * "Ours" is found as the udev rule contrib/99-virtio-ptp.rules names it
 * (/dev/ptp_virtio_utc): the PHC whose clock_name is "Virtio PTP type
 * 0/variant 0", the reference's excepted; the initramfs has no udev,
 * so the rule's match is applied here, at every (re)open. The N of
 * /dev/ptpN and /dev/rtcN may differ after the plug (an index is reused
 * only once every file of the old clock is closed, and a second libvrtc
 * handle, kept open across the move as a careless client would, holds
 * one): the check is that the rule's match is one clock, on our device,
 * before and after, with the same set of clocks and an RTC.
 *
 * A reading is good when both our PHC and libvrtc answer; the gap is
 * the reference time from the last good reading before the device went
 * to the first good one after it came back. Every good reading must be
 * valid (libvrtc SYNCHRONIZED) and contained: the reference inside
 * libvrtc's [earliest, latest] (with half its read window), and our PHC
 * within 1 ms plus half the two read windows of the reference (the
 * phc_compare bound).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vrtc-guest.h"
#include "vrtc_internal.h"

#define PHC_TOL_NS 1000000 /* as phc_compare */

/* Our clocks as the rule would name them: "ptpN=T/V ..." and the UTC. */
struct role {
	int utc_index; /* -1: none */
	int n_utc;     /* clocks matching the UTC rule (must be 1) */
	char pci[32];  /* our device */
	char all[160];
	char rtc[16]; /* the RTC class device on our device, "" if none */
};

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

/* The page's BAR may vanish under a mapping (hot-unplug): SIGBUS. */
static void on_sigbus(int sig)
{
	(void)sig;
	if (bus_armed) {
		siglongjmp(bus_jmp, 1);
	}
	_exit(3);
}

/* Any ivshmem-plain (1af4:1110) in the guest. */
static bool has_ivshmem(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	bool found = false;

	while (d && (e = readdir(d)) && !found) {
		char path[300], id[32];

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device",
			 e->d_name);
		found = read_line(path, id, sizeof(id)) == 0 &&
			!strcmp(id, "0x1110");
	}
	if (d) {
		closedir(d);
	}
	return found;
}

static void close_phcs(void)
{
	for (int i = 0; i < n_phcs; i++) {
		if (phcs[i].fd >= 0) {
			close(phcs[i].fd);
		}
	}
	n_phcs = 0;
}

/* Rescan; the reference and our UTC PHC by the rule. */
static void find_roles(const char *ref_pci, struct guest_phc **ref,
		       struct guest_phc **ours, struct role *r)
{
	size_t n = 0;

	close_phcs();
	scan_phcs();
	*ref = find_phc(ref_pci, VT_UTC);
	*ours = NULL;
	memset(r, 0, sizeof(*r));
	r->utc_index = -1;
	for (int i = 0; i < n_phcs; i++) {
		struct guest_phc *p = &phcs[i];

		if (!strcmp(p->pci, ref_pci) || p->type < 0) {
			continue;
		}
		if (n < sizeof(r->all)) {
			n += (size_t)snprintf(r->all + n, sizeof(r->all) - n,
					      "%sptp%d=%d/%d", n ? "," : "",
					      p->index, p->type, p->variant);
		}
		copy(r->pci, sizeof(r->pci), p->pci);
		if (p->type == VT_UTC && p->variant == 0) {
			r->n_utc++;
			r->utc_index = p->index;
			*ours = p;
		}
	}
	if (r->n_utc != 1) {
		*ours = NULL;
	}
	for (int i = 0; i < MAX_RTCS && !r->rtc[0]; i++) {
		char name[16], pci[32], virtio[32];

		snprintf(name, sizeof(name), "rtc%d", i);
		if (device_path("rtc", name, pci, sizeof(pci), virtio,
				sizeof(virtio)) == 0 &&
		    r->pci[0] && !strcmp(pci, r->pci)) {
			copy(r->rtc, sizeof(r->rtc), name);
		}
	}
}

/*
 * What a client that keeps its libvrtc handle across the unplug gets:
 * "ok", "sigbus" (the BAR mapping went with the device) or the error.
 */
static const char *probe_stale(struct vrtc *stale, char *buf, size_t len)
{
	struct vrtc_time t;
	int e;

	if (!stale) {
		return "not-open";
	}
	bus_armed = 1;
	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		return "sigbus";
	}
	e = vrtc_now(stale, &t);
	bus_armed = 0;
	if (!e) {
		snprintf(buf, len, "ok(%s)", vrtc_status_name(t.status));
	} else {
		snprintf(buf, len, "error(%s)", vrtc_strerror(e));
	}
	return buf;
}

/*
 * Wait until libvrtc says SYNCHRONIZED, at most @limit_s; the ms it took
 * (-1: never).
 */
static int wait_synchronized(const char *ref_pci, int limit_s)
{
	int64_t start = mono_ns();

	while (mono_ns() - start < (int64_t)limit_s * NSEC_PER_SEC) {
		struct guest_phc *ref, *ours;
		struct vrtc_time t;
		struct vrtc *v;
		struct role r;
		char dev[32];
		struct vrtc_options o = { .mode = VRTC_MODE_GUEST,
					  .phc_path = dev };
		bool synced = false;

		find_roles(ref_pci, &ref, &ours, &r);
		if (ours) {
			snprintf(dev, sizeof(dev), "/dev/ptp%d", ours->index);
			if (vrtc_open(&o, &v) == 0) {
				synced = vrtc_now(v, &t) == 0 &&
					 t.status == VRTC_STATUS_SYNCHRONIZED;
				vrtc_close(v);
			}
		}
		if (synced) {
			return (int)((mono_ns() - start) / 1000000);
		}
		nanosleep(&(struct timespec){ .tv_nsec = 100000000 }, NULL);
	}
	return -1;
}

struct mstats {
	int good, phc_in, vrtc_in, synced, bad_printed;
	int64_t worst_phc_margin, worst_vrtc_margin;
};

/*
 * One reading of ours and libvrtc against the reference: 0 good
 * (counted in @st), < 0 our device did not answer, > 0 the reference
 * failed. *@ref_ns: the reference's UTC at the reading.
 */
static int read_once(struct vrtc *v, const struct guest_phc *ours,
		     const struct guest_phc *ref, struct mstats *st,
		     int64_t *ref_ns)
{
	struct sample so, sr, sv;
	struct vrtc_time t;
	int64_t sys, m_phc, m_v, at;
	uint64_t win;
	int e;

	if (phc_ext(ref, 3, &sr, NULL)) {
		return 1;
	}
	*ref_ns = sr.phc;
	if (phc_ext(ours, 3, &so, NULL)) {
		return -1;
	}
	bus_armed = 1;
	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		return -EFAULT;
	}
	e = vrtc_now_sys(v, &t, &sys, &win);
	bus_armed = 0;
	if (e) {
		return e;
	}
	if (phc_ext(ref, 3, &sv, NULL)) {
		return 1;
	}
	st->good++;
	m_phc = PHC_TOL_NS + (window(&so) + window(&sr)) / 2 -
		abs64(offset(&so) - offset(&sr));
	/* the reference at libvrtc's instant, within half its window */
	at = sys + offset(&sv);
	m_v = (at - t.earliest_ns < t.latest_ns - at ? at - t.earliest_ns
						     : t.latest_ns - at) +
	      window(&sv) / 2;
	if (m_phc >= 0) {
		st->phc_in++;
	}
	if (m_v >= 0) {
		st->vrtc_in++;
	}
	if (t.status == VRTC_STATUS_SYNCHRONIZED) {
		st->synced++;
	}
	if (m_phc < st->worst_phc_margin) {
		st->worst_phc_margin = m_phc;
	}
	if (m_v < st->worst_vrtc_margin) {
		st->worst_vrtc_margin = m_v;
	}
	if ((m_phc < 0 || m_v < 0 || t.status != VRTC_STATUS_SYNCHRONIZED) &&
	    st->bad_printed++ < 5) {
		info("migrate_bad",
		     "ref_ns=%" PRId64 " phc_margin_ns=%" PRId64
		     " vrtc_margin_ns=%" PRId64 " status=%s",
		     *ref_ns, m_phc, m_v, vrtc_status_name(t.status));
	}
	return 0;
}

int cmd_migrate(const char *ref_pci, int before_s, int after_s, int limit_s)
{
	struct mstats st = { .worst_phc_margin = INT64_MAX,
			     .worst_vrtc_margin = INT64_MAX };
	struct role r_before = { .utc_index = -1 }, r_after, r;
	struct guest_phc *ref = NULL, *ours = NULL;
	struct vrtc *v = NULL, *stale = NULL;
	char stale_gap[128] = "", stale_back[128] = "", sb[128];
	char stale_dev[32] = "";
	int64_t t0 = mono_ns(), last_good = 0, gap_start = 0, gap_end = 0;
	int64_t back_mono = 0, gone_mono = 0, ref_ns = 0;
	int phase = 0; /* 0 before, 1 marker printed, 2 gap, 3 back */
	int fails_in_gap = 0, opens = 0;
	struct sigaction sa = { .sa_handler = on_sigbus };
	bool ok;

	sigaction(SIGBUS, &sa, NULL);
	memset(&r_after, 0, sizeof(r_after));
	/* the daemon says SYNCHRONIZED about 8 s after its start: every
	 * reading from then on must be */
	info("migrate_wait", "synchronized after %d ms",
	     wait_synchronized(ref_pci, 60));
	t0 = mono_ns();
	for (;;) {
		int e = 0;

		if (!v) {
			find_roles(ref_pci, &ref, &ours, &r);
			if (!ref) {
				result("migrate", false,
				       "the reference PHC (%s) is gone",
				       ref_pci);
				return 1;
			}
			if (ours) {
				char dev[32];
				struct vrtc_options o = {
					.mode = VRTC_MODE_GUEST,
					.phc_path = dev,
				};

				snprintf(dev, sizeof(dev), "/dev/ptp%d",
					 ours->index);
				if (vrtc_open(&o, &v)) {
					v = NULL;
				} else {
					opens++;
				}
			}
		}
		if (v) {
			e = read_once(v, ours, ref, &st, &ref_ns);
			if (e > 0) {
				result("migrate", false,
				       "the reference PHC stopped answering");
				return 1;
			}
		}
		if (v && e == 0) {
			last_good = ref_ns;
			if (phase == 0 && r_before.utc_index < 0) {
				r_before = r;
			}
			if (phase == 2) {
				copy(stale_back, sizeof(stale_back),
				     probe_stale(stale, sb, sizeof(sb)));
				gap_end = ref_ns;
				r_after = r;
				phase = 3;
				back_mono = mono_ns();
				printf("VRTC-E2E-MARK migrate-back ptp%d\n",
				       r.utc_index);
			}
		} else {
			if (v) {
				bus_armed = 0;
				vrtc_close(v);
				v = NULL;
			}
			if (phase == 1 || (phase == 0 && last_good)) {
				phase = 2;
				gap_start = last_good;
				gone_mono = mono_ns();
				printf("VRTC-E2E-MARK migrate-gone\n");
			}
			if (phase == 2) {
				fails_in_gap++;
				/* the stale handle once the page is gone too */
				if (!stale_gap[0] && access(stale_dev, F_OK) &&
				    !has_ivshmem()) {
					copy(stale_gap, sizeof(stale_gap),
					     probe_stale(stale, sb,
							 sizeof(sb)));
				}
			}
		}
		if (phase == 0 && st.good > 0 &&
		    mono_ns() - t0 > (int64_t)before_s * NSEC_PER_SEC) {
			struct vrtc_options so = { .mode = VRTC_MODE_GUEST };

			snprintf(stale_dev, sizeof(stale_dev), "/dev/ptp%d",
				 r_before.utc_index);
			so.phc_path = stale_dev;
			if (vrtc_open(&so, &stale)) {
				stale = NULL;
			}
			phase = 1;
			printf("VRTC-E2E-MARK migrate-ready ptp%d\n",
			       r_before.utc_index);
		}
		if (phase == 3 &&
		    mono_ns() - back_mono > (int64_t)after_s * NSEC_PER_SEC) {
			break;
		}
		if (phase == 2 &&
		    mono_ns() - gone_mono > (int64_t)limit_s * NSEC_PER_SEC) {
			break;
		}
		if (phase < 2 &&
		    mono_ns() - t0 >
			    (int64_t)(before_s + limit_s) * NSEC_PER_SEC) {
			break;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
	}
	if (v) {
		vrtc_close(v);
	}
	ok = phase == 3 && st.good > 0 && st.phc_in == st.good &&
	     st.vrtc_in == st.good && st.synced == st.good;
	result("migrate", ok,
	       "gap_s=%.3f good=%d phc_contained=%d vrtc_contained=%d "
	       "synchronized=%d worst_phc_margin_ns=%" PRId64
	       " worst_vrtc_margin_ns=%" PRId64
	       " failed_reads_in_gap=%d opens=%d phase=%d",
	       phase == 3 ? (double)(gap_end - gap_start) / 1e9 : -1.0, st.good,
	       st.phc_in, st.vrtc_in, st.synced, st.worst_phc_margin,
	       st.worst_vrtc_margin, fails_in_gap, opens, phase);
	/* the names: the rule's match resolves to one clock before and
	 * after (at the end, when the driver is long done), and our device
	 * shows the same clocks */
	if (phase == 3) {
		find_roles(ref_pci, &ref, &ours, &r_after);
	}
	ok = phase == 3 && r_before.n_utc == 1 && r_after.n_utc == 1 &&
	     r_before.utc_index >= 0 && r_after.utc_index >= 0;
	{
		/* the set of types/variants, indexes aside */
		char a[160], b[160];
		const char *p;
		size_t n;

		a[0] = b[0] = '\0';
		for (int k = 0; k < 2; k++) {
			const char *src = k ? r_after.all : r_before.all;
			char *dst = k ? b : a;

			n = 0;
			for (p = src; (p = strchr(p, '=')); p++) {
				n += (size_t)snprintf(dst + n, 160 - n,
						      "%s%.3s", n ? "," : "",
						      p + 1);
			}
		}
		/* the N of ptpN and rtcN may change (an index is free only
		 * when the last file of the old clock is closed): the names
		 * that stay are the rule's, which resolve to one each */
		ok = ok && !strcmp(a, b) && a[0] && r_before.rtc[0] &&
		     r_after.rtc[0];
		result("migrate_names", ok,
		       "rule ptp_virtio_utc (clock_name \"Virtio PTP type "
		       "0/variant 0\", not the reference): before ptp%d "
		       "(%d match) on %s, after ptp%d (%d match) on %s; our "
		       "clocks before [%s] after [%s]; RTC (rule rtc_virtio) "
		       "before %s after %s",
		       r_before.utc_index, r_before.n_utc, r_before.pci,
		       r_after.utc_index, r_after.n_utc, r_after.pci,
		       r_before.all, r_after.all,
		       r_before.rtc[0] ? r_before.rtc : "none",
		       r_after.rtc[0] ? r_after.rtc : "none");
	}
	/* a client that never reopens: what its old handle does */
	info("migrate_stale_handle",
	     "a libvrtc handle opened before the unplug and kept: with the "
	     "device gone %s, with it back %s",
	     stale_gap[0] ? stale_gap : "(not tried)",
	     stale_back[0] ? stale_back : "(not tried)");
	close_phcs();
	return n_fail ? 1 : 0;
}
