/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the config file parser (src/config.c), fed through
 * a memfd so the real file-reading path runs. Every rejection must carry
 * a message; an accepted file must also pass or fail config_finish()
 * cleanly.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = config_new();
	GError *err = NULL;
	char path[64];
	int fd = memfd_create("fuzz-config", MFD_CLOEXEC);

	assert(fd >= 0);
	assert(write(fd, data, size) == (ssize_t)size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (config_load_file(c, path, &err) < 0) {
		assert(err && err->message[0]);
	} else if (config_finish(c, &err) < 0) {
		assert(err && err->message[0]);
	}
	g_clear_error(&err);
	config_free(c);
	close(fd);
	return 0;
}
