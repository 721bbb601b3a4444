/* SPDX-License-Identifier: MIT */
/*
 * Live-migration state of the virtio-rtc device: the clock set and the
 * alarms, in a hand-over image (rtc_migration_wire.h).
 *
 * Loading reads the image twice: a first pass checks every record
 * without touching the device, the second applies them, so a bad image
 * leaves the device as it was. (The one fault the first pass cannot
 * see is a clock with no time to arm an alarm by at this moment; the
 * alarms applied before it then stay.)
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "handover.h"
#include "rtc_migrate.h"
#include "rtc_migration_wire.h"
#include "virtio_rtc_priv.h"

int rtc_migrate_save(const struct rtcdev_dev *d, GByteArray **out)
{
	struct ho_writer *w = ho_writer_new();
	unsigned int i;
	int rc;

	ho_begin(w, HO_MIG);
	ho_put_u32(w, HO_MIG_VERSION, RTC_MIG_VERSION);
	for (i = 0; i < d->cfg->num_clocks; i++) {
		const struct rtcdev_clock *k = &d->cfg->clocks[i];
		struct ho_mig_clock c = {
			.clock_id = htole16((uint16_t)i),
			.type = k->type,
			.smearing = k->smearing,
			.alarm_cap = k->alarm_cap,
		};

		ho_put(w, HO_MIG_CLOCK, &c, sizeof(c));
	}
	rtcdev_alarm_save(d, w);
	ho_end(w);
	rc = ho_writer_finish(w, out);
	ho_writer_free(w);
	return rc;
}

/* What rtcdev_alarm_load() refuses, checked before anything is applied. */
static bool alarm_flags_valid(const struct ho_alarm *a)
{
	const uint8_t known =
		HO_ALARM_ENABLED | HO_ALARM_PENDING | HO_ALARM_ARMED;

	if ((a->flags & ~known) ||
	    memcmp(a->reserved, (const uint8_t[5]){ 0 }, 5) != 0) {
		return false;
	}
	if ((a->flags & (HO_ALARM_PENDING | HO_ALARM_ARMED)) &&
	    !(a->flags & HO_ALARM_ENABLED)) {
		return false;
	}
	return (a->flags & (HO_ALARM_PENDING | HO_ALARM_ARMED)) !=
	       (HO_ALARM_PENDING | HO_ALARM_ARMED);
}

/* The first pass: everything but what only arming can tell. */
static int check_body(const struct rtcdev_dev *d, struct ho_reader *mig)
{
	bool seen[RTCDEV_MAX_CLOCKS] = { false };
	unsigned int nclocks = 0, id;
	struct ho_mig_clock c;
	struct ho_alarm a;
	struct ho_item it;
	uint32_t version;
	int rc;

	rc = ho_next(mig, &it);
	if (rc <= 0 || it.tag != HO_MIG_VERSION) {
		return rc < 0 ? rc : ho_fail(mig, "no version first");
	}
	if (ho_get_u32(mig, &it, &version)) {
		return -EBADMSG;
	}
	if (version != RTC_MIG_VERSION) {
		return ho_fail(mig, "state version %u; this program reads %u",
			       version, RTC_MIG_VERSION);
	}
	while ((rc = ho_next(mig, &it)) > 0) {
		switch (it.tag) {
		case HO_MIG_CLOCK:
			if (ho_get(mig, &it, &c, sizeof(c))) {
				return -EBADMSG;
			}
			id = le16toh(c.clock_id);
			if (id != nclocks || id >= d->cfg->num_clocks ||
			    c.type != d->cfg->clocks[id].type ||
			    c.smearing != d->cfg->clocks[id].smearing ||
			    c.alarm_cap != d->cfg->clocks[id].alarm_cap ||
			    memcmp(c.reserved, (const uint8_t[3]){ 0 }, 3) !=
				    0) {
				return ho_fail(mig,
					       "clock %u is not this daemon's "
					       "clock %u",
					       id, nclocks);
			}
			nclocks++;
			break;
		case HO_ALARM:
			if (nclocks != d->cfg->num_clocks) {
				return ho_fail(mig, "alarm before the clocks");
			}
			if (ho_get(mig, &it, &a, sizeof(a))) {
				return -EBADMSG;
			}
			id = le16toh(a.clock_id);
			if (id >= d->cfg->num_clocks || seen[id] ||
			    !d->alarms || !d->cfg->clocks[id].alarm_cap) {
				return ho_fail(mig,
					       "alarm of clock %u: none here, "
					       "or twice",
					       id);
			}
			seen[id] = true;
			if (!alarm_flags_valid(&a)) {
				return ho_fail(mig,
					       "alarm of clock %u: flags 0x%x",
					       id, a.flags);
			}
			break;
		default:
			return ho_fail(mig, "unknown record 0x%x", it.tag);
		}
	}
	if (rc < 0) {
		return rc;
	}
	if (nclocks != d->cfg->num_clocks) {
		return ho_fail(mig, "%u clocks; this daemon serves %u", nclocks,
			       d->cfg->num_clocks);
	}
	return 0;
}

/* Position @mig on the records of the image's one HO_MIG. */
static int open_image(struct ho_reader *r, struct ho_reader *mig,
		      const void *img, size_t len, char *why, size_t why_len)
{
	static struct ho_fds nofds;
	struct ho_item it;
	int rc;

	rc = ho_reader_open(r, img, len, &nofds, why, why_len);
	if (rc < 0) {
		return rc;
	}
	rc = ho_next(r, &it);
	if (rc <= 0 || it.tag != HO_MIG) {
		return rc < 0 ? rc : ho_fail(r, "no device state record");
	}
	if (ho_enter(r, &it, mig) < 0) {
		return -EBADMSG;
	}
	rc = ho_next(r, &it);
	if (rc != 0) {
		return rc < 0 ? rc : ho_fail(r, "records after the state");
	}
	return 0;
}

static bool device_fresh(const struct rtcdev_dev *d)
{
	unsigned int i;

	for (i = 0; d->alarms && i < d->cfg->num_clocks; i++) {
		const struct rtcdev_alarm *a = &d->alarms[i];

		if (a->enabled || a->pending || a->time_ns) {
			return false;
		}
	}
	return true;
}

int rtc_migrate_load(struct rtcdev_dev *d, const void *img, size_t len,
		     char *why, size_t why_len)
{
	struct ho_reader r, mig;
	struct ho_item it;
	uint64_t features;
	int rc;

	rc = open_image(&r, &mig, img, len, why, why_len);
	if (rc == 0) {
		rc = check_body(d, &mig);
	}
	if (rc == 0 && !device_fresh(d)) {
		rc = ho_fail(&r, "the device already has alarms");
	}
	if (rc < 0) {
		return -EBADMSG;
	}
	/*
	 * The destination loads before the front-end sets the features
	 * (they come with the device start): the guest negotiated the
	 * alarm feature on the source if it has alarms, so load as if so.
	 */
	features = d->features;
	d->features |= 1ull << VIRTIO_RTC_F_ALARM;
	(void)open_image(&r, &mig, img, len, why, why_len);
	while (rc == 0 && ho_next(&mig, &it) > 0) {
		if (it.tag == HO_ALARM && rtcdev_alarm_load(d, &mig, &it) < 0) {
			rc = -EBADMSG;
		}
	}
	d->features = features;
	return rc;
}
