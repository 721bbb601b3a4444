// SPDX-License-Identifier: MIT
/*
 * vrtc-guest test: what the driver made of cross-timestamping.
 *
 * On arm64 (CONFIG_VIRTIO_RTC_ARM) the Linux driver asks CROSS_CAP for
 * every clock with hw_counter ARM_VCT while it probes, and a non-OK status
 * fails the whole probe.  The daemon answers OK with flags 0 (it does not
 * know the guest's counter mapping, so READ_CROSS would be EOPNOTSUPP):
 * the driver must then register the PHCs without getcrosststamp, i.e.
 * PTP_CLOCK_GETCAPS says cross_timestamping=0 and PTP_SYS_OFFSET_PRECISE
 * fails with EOPNOTSUPP.  On x86_64 the driver has no cross-timestamping
 * and never asks; the same must hold.
 */
#include <sys/ioctl.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vrtc-guest.h"

#if defined(__aarch64__)
#define ASKS_CROSS_CAP "yes (hw_counter ARM_VCT, CONFIG_VIRTIO_RTC_ARM)"
#else
#define ASKS_CROSS_CAP                                                         \
	"no (no cross-timestamping in this architecture's driver)"
#endif

/* cross_timestamping of PTP_CLOCK_GETCAPS (or -errno), and the errno of
 * one PTP_SYS_OFFSET_PRECISE (0 if it worked). */
static int caps_and_precise(const struct guest_phc *p, int *precise_err)
{
	struct ptp_clock_caps caps;
	struct ptp_sys_offset_precise pr;

	memset(&caps, 0, sizeof(caps));
	memset(&pr, 0, sizeof(pr));
	*precise_err =
		ioctl(p->fd, PTP_SYS_OFFSET_PRECISE, &pr) < 0 ? errno : 0;
	if (ioctl(p->fd, PTP_CLOCK_GETCAPS, &caps) < 0) {
		return -errno;
	}
	return caps.cross_timestamping;
}

void check_cross(const char *ours, const char *ref)
{
	int n = 0, bad = 0, ref_cross = -1, ref_err = 0;
	char list[256] = "";

	for (int i = 0; i < n_phcs; i++) {
		const struct guest_phc *p = &phcs[i];
		int err, cross;

		if (p->fd < 0) {
			continue;
		}
		cross = caps_and_precise(p, &err);
		if (!strcmp(p->pci, ref)) {
			ref_cross = cross;
			ref_err = err;
			continue;
		}
		if (strcmp(p->pci, ours)) {
			continue;
		}
		n++;
		if (cross != 0 || err != EOPNOTSUPP) {
			bad++;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%sptp%d:cross_timestamping=%d,precise=%s",
			 list[0] ? " " : "", p->index, cross,
			 err ? strerrorname_np(err) : "ok");
	}
	result("cross_cap", n == 4 && bad == 0,
	       "driver_asks_cross_cap=\"%s\" ours=%d not_cross=%d %s "
	       "ref:cross_timestamping=%d,precise=%s",
	       ASKS_CROSS_CAP, n, n - bad, list, ref_cross,
	       ref_err ? strerrorname_np(ref_err) : "ok");
}
