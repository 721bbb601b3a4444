/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: leap-seconds.list parser. */
#include <assert.h>
#include <stdint.h>

#include "leap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GError *err = NULL;
	struct leap_table *t = leap_table_parse((const char *)data, size, &err);

	if (t) {
		assert(t->n >= 1);
		for (size_t i = 1; i < t->n; i++) {
			assert(t->e[i].utc_s > t->e[i - 1].utc_s);
		}
		(void)leap_dtai_at_utc(t, (int64_t)size * 1000003);
		leap_table_free(t);
	} else {
		assert(err);
		g_error_free(err);
	}
	return 0;
}
