/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: libvrtc's page reader (src/libvrtc/vrtc_page.c).
 * The input is a page as some process might have written it, followed
 * by nothing (the first 0x70 bytes are the page, zero-padded to 4096;
 * the next 16 bytes, if any, a counter and a PHC reading).
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "vrtc_page.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_Alignas(8) static uint8_t page[VMCLOCK_PAGE_SIZE];
	struct vmclock_abi f;
	struct vrtc_time t;
	uint64_t c = 0, len;
	int64_t phc = 0;
	size_t n = size < sizeof(f) ? size : sizeof(f);

	memset(page, 0, sizeof(page));
	memcpy(page, data, n);
	if (size >= sizeof(f) + 16) {
		memcpy(&c, data + sizeof(f), 8);
		memcpy(&phc, data + sizeof(f) + 8, 8);
	}
	/* a mapping of any length up to the page */
	len = size > sizeof(f) + 16 ? (data[size - 1] * 16ull) % 4097 : 4096;
	if (vrtc_page_copy(page, len, &f)) {
		return 0;
	}
	for (int ts = 0; ts < 2; ts++) {
		if (vrtc_page_host(&f, c, UINT64_MAX, ts, &t) == 0) {
			assert(t.earliest_ns <= t.latest_ns);
			assert(t.status != VRTC_STATUS_UNKNOWN);
		} else {
			assert(t.status == VRTC_STATUS_UNKNOWN);
		}
		if (vrtc_page_guest(&f, phc, c, UINT64_MAX, ts, &t) == 0) {
			assert(t.earliest_ns <= t.latest_ns);
		} else {
			assert(t.status == VRTC_STATUS_UNKNOWN);
		}
	}
	return 0;
}
