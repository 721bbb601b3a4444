/* SPDX-License-Identifier: MIT */
/*
 * What a control-socket or metrics client sends, parsed: pure functions
 * over bytes received so far, so the fuzzer and the unit tests drive
 * them without sockets.
 *
 * Control socket: one command line, ASCII, at most CONTROL_LINE_MAX bytes
 * with its "\n" (or ended by the client shutting down its side). Words
 * are separated by blanks; a trailing "\r" is ignored.
 *   status | status text   the text view
 *   status json            the JSON view
 *   metrics                the Prometheus text format
 *   help                   the list of commands
 *   vm list                the VM sockets served, with their connections
 *   vm add PATH            serve VMs on a new socket (control_vm_path())
 *   vm remove PATH         close that socket and its VMs' connections
 * Metrics endpoint: an HTTP/1.x request head of at most CONTROL_HTTP_MAX
 * bytes; GET or HEAD of /metrics (a query string is ignored) is served.
 * Thread/loop: none (pure).
 */
#ifndef SRC_CONTROL_PARSE_H
#define SRC_CONTROL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define CONTROL_LINE_MAX 256
#define CONTROL_HTTP_MAX 8192

enum control_cmd {
	CONTROL_CMD_STATUS_TEXT = 0,
	CONTROL_CMD_STATUS_JSON,
	CONTROL_CMD_METRICS,
	CONTROL_CMD_HELP,
	CONTROL_CMD_VM_LIST,
	CONTROL_CMD_VM_ADD,    /* argument: the socket */
	CONTROL_CMD_VM_REMOVE, /* argument: the socket */
	CONTROL_CMD_UPGRADE,   /* hand everything to the binary on disk */
};

/* Longest command argument with its NUL: a socket path (sun_path). */
#define CONTROL_ARG_MAX 108

/*
 * control_parse_line() - the command in the first @len bytes received.
 * @eof: the client has shut down its side (no more bytes will come).
 * Returns 0 with @cmd set; -EAGAIN if the line is not complete yet;
 * -EINVAL for an unknown command, -EMSGSIZE for a line that is too long,
 * -EILSEQ for a byte that is not printable ASCII; then @why says what
 * (one line, no newline).
 */
int control_parse_line(const char *buf, size_t len, bool eof,
		       enum control_cmd *cmd, char *why, size_t why_len);

/*
 * control_parse_request() - as control_parse_line(), and the command's
 * argument (vm add, vm remove: one word, shorter than CONTROL_ARG_MAX)
 * in @arg, "" for the others. A longer word is -EINVAL with @why.
 */
int control_parse_request(const char *buf, size_t len, bool eof,
			  enum control_cmd *cmd, char arg[CONTROL_ARG_MAX],
			  char *why, size_t why_len);

/*
 * control_vm_path() - the socket path that `vm add/remove ARG` names:
 * a bare name (letters, digits, ._@+-, not starting with '.') is taken
 * in @dir (the vm-socket-dir; NULL: none, then refused); anything else
 * must be an absolute path whose every component is such a name (no
 * ".", "..", "//" or trailing "/"). The result, shorter than
 * CONTROL_ARG_MAX (sun_path), goes to @path. Returns 0, or -EINVAL /
 * -ENAMETOOLONG with @why set.
 */
int control_vm_path(const char *dir, const char *arg, char *path,
		    size_t path_len, char *why, size_t why_len);

/*
 * control_parse_http() - the HTTP request head in the first @len bytes.
 * Returns -EAGAIN if the head is not complete yet (and @len is below
 * CONTROL_HTTP_MAX), else the HTTP status to answer: 200 (/metrics), 404
 * (another path), 405 (a method other than GET or HEAD), 400 (malformed),
 * 431 (head too long), 505 (not HTTP/1.x). @head_only is set for HEAD.
 */
int control_parse_http(const char *buf, size_t len, bool *head_only);

/*
 * control_parse_address() - "HOST:PORT" for the metrics endpoint, HOST a
 * numeric loopback address (127.0.0.0/8, or ::1 in brackets: "[::1]:N")
 * or "localhost" (127.0.0.1), PORT 1..65535. The endpoint has no
 * authentication, so other addresses are refused.
 * Returns 0 with @sa/@sa_len set, or -EINVAL with @why set.
 */
int control_parse_address(const char *text, struct sockaddr_storage *sa,
			  socklen_t *sa_len, char *why, size_t why_len);

#endif /* SRC_CONTROL_PARSE_H */
