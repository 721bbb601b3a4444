/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: bytes as one gpsd JSON message, through libgps's
 * gps_unpack() and our reduction (gpsd_msg_parse()), then the TOFF/PPS
 * conversion against a host "now" placed just after the message's own
 * clock time (so the accept path is reached), and the top-level key
 * reader over the raw, unterminated bytes.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpsd.h"
#include "leap.h"

#define NS 1000000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct leap_table *leaps;

static void convert(const struct gpsd_msg *m, uint8_t knob)
{
	struct gpsd_conv cv = { .leaps = leaps };
	struct gpsd_now now;
	struct time_sample s;
	int64_t clock_ns;

	if (m->clock.tv_sec < 0 || m->clock.tv_sec > 8000000000LL ||
	    m->clock.tv_nsec < 0 || m->clock.tv_nsec >= NS) {
		clock_ns = 0;
	} else {
		clock_ns = (int64_t)m->clock.tv_sec * NS + m->clock.tv_nsec;
	}
	now.rt_ns = clock_ns + (int64_t)knob * 10000000; /* 0..2.55 s */
	now.raw_ns = (uint64_t)knob * 1000000000ULL;
	now.half_ns = knob;
	if (gpsd_msg_to_sample(m, 2 + (knob & 1), &now, &cv, &s) != 0) {
		return;
	}
	assert(m->kind == GPSD_MSG_TOFF || m->kind == GPSD_MSG_PPS);
	assert(s.counter <= now.raw_ns);
	assert(now.raw_ns - s.counter <= 2 * (uint64_t)NS);
	assert(s.err_ns > now.half_ns);
	assert(s.window_ns == 2 * now.half_ns);
	assert(s.tai_ns ==
	       (int64_t)m->real.tv_sec * NS + m->real.tv_nsec + 37 * NS);
	if (m->kind == GPSD_MSG_TOFF) {
		assert(s.err_ns >= GPSD_TOFF_ERR_NS);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct leap_entry e[] = {
		{ .utc_s = 1483228800LL, .dtai = 37 },
	};
	struct gpsd_msg m;
	int64_t v;
	char *copy;

	if (!leaps) {
		leaps = leap_table_new(e, 1, 4200000000LL);
		assert(leaps);
	}
	/* an exact-size heap copy: any read past it is an ASan report */
	copy = malloc(size ? size : 1);
	assert(copy);
	memcpy(copy, data, size);
	(void)gpsd_json_int(copy, size, "precision", &v);
	(void)gpsd_json_int(copy, size, "qErr", &v);
	if (gpsd_msg_parse(copy, size, &m) == 0) {
		assert(m.kind <= GPSD_MSG_ERROR);
		assert(memchr(m.device, '\0', sizeof(m.device)));
		assert(!m.has_leap || (m.leap_s >= 0 && m.leap_s <= 100));
		convert(&m, size ? data[size - 1] : 0);
	}
	free(copy);
	return 0;
}
