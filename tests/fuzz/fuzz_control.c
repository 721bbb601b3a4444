/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: what control-socket and metrics clients send
 * (src/control_parse.c), and the metrics-address text. Checks the
 * contract too: a complete answer comes with a message when refused,
 * HTTP answers are known status codes, and a parse never needs more
 * bytes once the limits are reached.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "control_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage sa;
	enum control_cmd cmd;
	char why[160], text[128];
	socklen_t len;
	bool head;
	int r, eof;

	for (eof = 0; eof < 2; eof++) {
		why[0] = '\0';
		r = control_parse_line((const char *)data, size, eof, &cmd, why,
				       sizeof(why));
		assert(r == 0 || r == -EAGAIN || r == -EINVAL ||
		       r == -EMSGSIZE || r == -EILSEQ);
		assert(r != -EAGAIN || (!eof && size < CONTROL_LINE_MAX));
		assert(r >= 0 || r == -EAGAIN || why[0]);
		assert(r != 0 || cmd <= CONTROL_CMD_HELP);
	}
	r = control_parse_http((const char *)data, size, &head);
	assert(r == -EAGAIN || r == 200 || r == 400 || r == 404 || r == 405 ||
	       r == 431 || r == 505);
	assert(r != -EAGAIN || size < CONTROL_HTTP_MAX);

	len = size < sizeof(text) ? (socklen_t)size : sizeof(text) - 1;
	memcpy(text, data, len);
	text[len] = '\0';
	len = 0;
	why[0] = '\0';
	r = control_parse_address(text, &sa, &len, why, sizeof(why));
	assert(r == 0 || (r == -EINVAL && why[0]));
	assert(r != 0 ||
	       (len && (sa.ss_family == AF_INET || sa.ss_family == AF_INET6)));
	return 0;
}
