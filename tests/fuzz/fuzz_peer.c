/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: a peer's /proc/PID/cmdline, QEMU's -name. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "vu_peer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[VU_PEER_NAME_MAX];
	int r = vu_peer_qemu_name((const char *)data, size, out, sizeof(out));

	assert(r == 0 || r == -ENOENT);
	assert(strlen(out) < sizeof(out));
	assert((r == 0) == (out[0] != '\0'));
	for (const char *p = out; *p; p++) {
		assert(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
			      "WXYZ0123456789._-",
			      *p));
	}
	return 0;
}
