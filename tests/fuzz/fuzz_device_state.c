/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: loading a live migration's device state
 * (rtc_migrate_load()), what a destination daemon reads from a source it
 * cannot trust. The input is the image's body (the harness adds a valid
 * header, or the checksum would stop nearly every input at the door);
 * the device is fresh, with alarms, as on a destination. Whatever the
 * input, the load succeeds or is refused with a reason, and a state
 * that loaded saves again to an image that loads again (seeds:
 * tests/fuzz/corpus/device_state, made by tests/fuzz/device_state_seeds.py;
 * FUZZ_VERBOSE=1 prints each load's outcome).
 */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "alarm_timer.h"
#include "clock_list.h"
#include "clock_model_writer.h"
#include "handover.h"
#include "leap.h"
#include "rtc_migrate.h"
#include "virtio_rtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rtcdev_config cfg;
static struct clock_model *model;
static struct alarm_timer *timer;

static void setup(void)
{
	static const struct leap_entry e[] = { { 1483228800, 37 } };
	struct clock_snapshot s = {
		.status = CLOCK_STATUS_SYNCHRONIZED,
		.c0 = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW),
		.tai0_ns = 1800000000LL * 1000000000LL,
		.period_q = 1ull << CLOCK_PERIOD_SHIFT,
		.leaps = leap_table_new(e, 1, 4200000000LL),
	};

	rtcdev_config_default(&cfg, VIRTIO_RTC_SMEAR_NOON_LINEAR);
	model = clock_model_new();
	clock_model_publish(model, &s);
	timer = alarm_timer_new(model);
	assert(timer);
}

static void pending(void *opaque)
{
}

static struct rtcdev_dev *device(void)
{
	struct rtcdev_dev *d = rtcdev_dev_new(&cfg, model);

	assert(d && rtcdev_dev_attach_alarms(d, timer, pending, NULL) == 0);
	return d;
}

static GByteArray *with_header(const uint8_t *body, size_t size)
{
	struct ho_header h = { .version = htole32(HO_VERSION) };
	gsize dl = sizeof(h.sha256);
	GChecksum *sum;
	GByteArray *img;

	memcpy(h.magic, HO_MAGIC, sizeof(HO_MAGIC));
	h.body_len = htole64(size);
	sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(sum, body, size);
	g_checksum_get_digest(sum, h.sha256, &dl);
	g_checksum_free(sum);
	img = g_byte_array_new();
	g_byte_array_append(img, (const guint8 *)&h, sizeof(h));
	g_byte_array_append(img, body, (guint)size);
	return img;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtcdev_dev *d, *d2;
	GByteArray *img, *again;
	char why[256];
	int rc;

	if (!model) {
		setup();
	}
	if (size > HO_MAX_BODY) {
		return 0;
	}
	img = with_header(data, size);
	d = device();
	why[0] = '\0';
	rc = rtc_migrate_load(d, img->data, img->len, why, sizeof(why));
	if (getenv("FUZZ_VERBOSE")) {
		fprintf(stderr, "load: %d %s\n", rc, why);
	}
	assert(rc == 0 || rc == -EBADMSG);
	assert(rc == 0 || why[0] != '\0');
	if (rc == 0) {
		/* What was loaded saves and loads again. */
		assert(rtc_migrate_save(d, &again) == 0);
		d2 = device();
		rc = rtc_migrate_load(d2, again->data, again->len, why,
				      sizeof(why));
		assert(rc == 0);
		rtcdev_dev_free(d2);
		g_byte_array_unref(again);
	}
	rtcdev_dev_free(d);
	g_byte_array_unref(img);
	return 0;
}
