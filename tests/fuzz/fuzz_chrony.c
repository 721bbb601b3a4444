/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: chronyd TRACKING reply parser and the bound on it. */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "chrony.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, uint32_t seq)
{
	struct chrony_tracking t, u;
	uint8_t again[CHRONY_TRACKING_LEN];
	struct timespec at;
	uint64_t b;

	if (chrony_tracking_parse(data, size, seq, &t)) {
		return;
	}
	assert(size == CHRONY_TRACKING_LEN);
	assert(t.stratum <= 16 && t.leap_status <= 3 && t.ip_family <= 3);
	assert(t.ref_time.tv_nsec >= 0 && t.ref_time.tv_nsec < 1000000000);
	assert(isfinite(t.current_correction) && t.root_delay >= 0 &&
	       t.root_dispersion >= 0 && t.skew_ppm >= 0);
	/* what parses re-encodes, and parses to the same values */
	assert(chrony_tracking_encode(&t, seq, again) == CHRONY_TRACKING_LEN);
	assert(!chrony_tracking_parse(again, sizeof(again), seq, &u));
	assert(u.ref_id == t.ref_id && u.stratum == t.stratum &&
	       u.ref_time.tv_sec == t.ref_time.tv_sec &&
	       u.ref_time.tv_nsec == t.ref_time.tv_nsec &&
	       u.current_correction == t.current_correction &&
	       u.root_delay == t.root_delay &&
	       u.root_dispersion == t.root_dispersion &&
	       u.last_update_interval == t.last_update_interval);
	at = t.ref_time;
	at.tv_sec += (time_t)(data[size - 1]) << 20;
	if (!chrony_bound_ns(&t, &at, 1000, 100, &b)) {
		assert(b >= 100);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, 0x12345678);
	if (size >= 20) {
		/* the packet's own sequence, to reach past that check */
		uint32_t seq = (uint32_t)data[16] << 24 |
			       (uint32_t)data[17] << 16 |
			       (uint32_t)data[18] << 8 | data[19];

		check(data, size, seq);
	}
	return 0;
}
