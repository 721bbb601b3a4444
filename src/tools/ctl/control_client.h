/* SPDX-License-Identifier: MIT */
/*
 * The client side of the daemon's control socket (src/control.h): one
 * command, one reply, bounded in time and size. Shared by
 * vhost-user-rtc-ctl and the probe's `eval --control`.
 * Thread/loop: none (blocking the caller up to the timeout).
 */
#ifndef SRC_CTL_CONTROL_CLIENT_H
#define SRC_CTL_CONTROL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * control_ask() - connect to the control socket @path (non-blocking: a
 * daemon whose backlog is full is an error, not a wait), send @cmd (a
 * command line ending in "\n"), and read the reply until the daemon
 * closes, all within @timeout_ms.
 * @max:       longest reply accepted, bytes
 * @reply:     receives the reply (malloc'd, NUL-terminated) on success
 * @len:       receives its length
 * @connected: if not NULL, whether the connection was made (to tell
 *             a missing daemon from a failed exchange)
 * Returns 0, or -ETIMEDOUT, -EMSGSIZE (reply over @max), -ENAMETOOLONG,
 * -ENOMEM, or the -errno of socket/connect/send/recv/poll.
 */
int control_ask(const char *path, const char *cmd, int timeout_ms, size_t max,
		char **reply, size_t *len, bool *connected);

#endif /* SRC_CTL_CONTROL_CLIENT_H */
