/* SPDX-License-Identifier: MIT */
/*
 * One comparison of a time source with the model's host counter: what
 * the PHC reader, the peer-daemon clients and the system-clock feed hand
 * to the estimator.
 */
#ifndef SYNC_SAMPLE_H
#define SYNC_SAMPLE_H

#include <stdint.h>

struct time_sample {
	uint64_t counter;   /* host counter (clock_counter_now() units) at
			     * the instant the source was read */
	int64_t tai_ns;	    /* the source's TAI at that instant */
	uint64_t window_ns; /* host-side read window (0: cross-timestamp) */
	uint64_t err_ns;    /* this sample's own worst-case error: half the
			     * window, the device resolution, and the
			     * source's error budget, added */
};

#endif /* SYNC_SAMPLE_H */
