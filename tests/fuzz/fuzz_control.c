/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: what control-socket and metrics clients send
 * (src/control_parse.c), the vm add/remove path rules, and the
 * metrics-address text. Checks the
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
	char why[160], text[128], arg[CONTROL_ARG_MAX], path[CONTROL_ARG_MAX];
	socklen_t len;
	bool head;
	int r, eof;

	for (eof = 0; eof < 2; eof++) {
		why[0] = '\0';
		r = control_parse_request((const char *)data, size, eof, &cmd,
					  arg, why, sizeof(why));
		assert(r == 0 || r == -EAGAIN || r == -EINVAL ||
		       r == -EMSGSIZE || r == -EILSEQ);
		assert(r != -EAGAIN || (!eof && size < CONTROL_LINE_MAX));
		assert(r >= 0 || r == -EAGAIN || why[0]);
		assert(r != 0 || cmd <= CONTROL_CMD_UPGRADE);
		if (r != 0) {
			continue;
		}
		assert(strlen(arg) < CONTROL_ARG_MAX);
		assert((cmd == CONTROL_CMD_VM_ADD ||
			cmd == CONTROL_CMD_VM_REMOVE) == (arg[0] != '\0'));
		if (!arg[0]) {
			continue;
		}
		why[0] = '\0';
		r = control_vm_path(eof ? "/run/vhost-user-rtc/vms" : NULL, arg,
				    path, sizeof(path), why, sizeof(why));
		assert(r == 0 ||
		       ((r == -EINVAL || r == -ENAMETOOLONG) && why[0]));
		/* an accepted path is absolute, with plain components */
		assert(r != 0 || (path[0] == '/' && strlen(path) < 108 &&
				  !strstr(path, "/.") && !strstr(path, "//")));
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
