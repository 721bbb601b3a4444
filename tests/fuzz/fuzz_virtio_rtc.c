/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: virtio-rtc request decoding (rtcdev_handle) with
 * arbitrary request bytes, request lengths and response capacities.
 * Input: byte 0-1 response capacity, byte 2 declared extra length,
 * rest = request bytes.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "clock_model_writer.h"
#include "clock_list.h"
#include "leap.h"
#include "virtio_rtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rtcdev_config cfg;
static struct clock_model *model;
static struct rtcdev_dev *dev;

static void setup(void)
{
	static const struct leap_entry e[] = {
		{ 63072000, 10 },
		{ 1483228800, 37 },
		{ 4102444800LL, 38 },
	};
	struct leap_table *t = leap_table_new(e, 3, 4200000000LL);
	struct clock_snapshot s = {
		.status = CLOCK_STATUS_SYNCHRONIZED,
		.c0 = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW),
		.tai0_ns = 1800000000LL * 1000000000LL,
		.period_q = 1ull << CLOCK_PERIOD_SHIFT,
		.time_maxerr_ns = 1000,
		.rate_maxerr_ppb = 1000,
		.leaps = t,
	};

	rtcdev_config_default(&cfg, VIRTIO_RTC_SMEAR_NOON_LINEAR);
	model = clock_model_new();
	clock_model_publish(model, &s);
	dev = rtcdev_dev_new(&cfg, model);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t req[VIRTIO_RTC_REQ_MAX] = { 0 };
	uint8_t resp[VIRTIO_RTC_RESP_MAX];
	size_t cap, req_len, n;

	if (!dev) {
		setup();
	}
	if (size < 3) {
		return 0;
	}
	cap = (size_t)(data[0] | data[1] << 8);
	req_len = size - 3 + data[2];
	n = size - 3 < sizeof(req) ? size - 3 : sizeof(req);
	memcpy(req, data + 3, n);
	memset(resp, 0x5a, sizeof(resp));
	n = rtcdev_handle(dev, req, req_len, resp, cap);
	assert(n <= cap && n <= sizeof(resp));
	if (n >= 8 && resp[0] != VIRTIO_RTC_S_OK) {
		assert(n == 8);
	}
	if (data[2] == 0xff) {
		rtcdev_dev_reset(dev);
	}
	return 0;
}
