/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the probe's reading of the control socket's
 * `status json` (src/tools/probe/eval_live.c). */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "probe/eval_live.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eval_live_snap s, zero;
	GError *err = NULL;
	uint64_t b;
	int ret = eval_live_parse((const char *)data, size, &s, &err);

	memset(&zero, 0, sizeof(zero));
	if (ret) {
		assert(ret == -EINVAL && err && err->message[0]);
		g_error_free(err);
		assert(!memcmp(&s, &zero, sizeof(s)));
		return 0;
	}
	if (!s.published) {
		assert(eval_live_bound(&s, NULL, 0, 1, &b) == -ENODATA);
		return 0;
	}
	assert(s.model.generation > 0 && s.model.status <= 4);
	assert(eval_live_bound(&s, NULL, s.counter_now, s.counter_now, &b) ==
	       0);
	assert(b >= s.model.time_maxerr_ns);
	return 0;
}
