/* SPDX-License-Identifier: MIT */
/*
 * The control socket and the metrics endpoint: listening sockets opened
 * at start-up (before the privilege drop), served on the main loop.
 *
 * Each client sends one request (control_parse.h), gets one reply, and
 * is closed. A client is never waited for: at most CONTROL_MAX_CLIENTS
 * at once (more are closed at accept), CONTROL_TIMEOUT_MS from accept to
 * the last byte of the reply, and every read and write non-blocking, so
 * a slow or hostile local client cannot stall the VMs served on the same
 * loop.
 * Thread/loop: the default GLib main context.
 */
#ifndef SRC_CONTROL_H
#define SRC_CONTROL_H

#include <glib.h>

#include "control_parse.h"

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_TIMEOUT_MS 2000

enum control_proto {
	CONTROL_PROTO_LINE, /* the control socket: one command line */
	CONTROL_PROTO_HTTP, /* the metrics endpoint: HTTP/1.x GET /metrics */
};

/*
 * Append the answer to @cmd, with its argument @arg ("" if none), to
 * @out (called once per request). A refusal is one line starting
 * "error: ".
 */
typedef void (*control_answer_fn)(enum control_cmd cmd, const char *arg,
				  GString *out, void *ctx);

struct control;

struct control *control_new(control_answer_fn answer, void *ctx);

/* Close every client and listener; NULL is a no-op. */
void control_free(struct control *c);

/*
 * control_add_listener() - serve clients accepted on @listen_fd (a
 * listening stream socket; ownership passes to @c, even on failure)
 * with @proto. @name is for log lines. Returns 0 or -errno.
 */
int control_add_listener(struct control *c, int listen_fd,
			 enum control_proto proto, const char *name);

struct ho_writer;

/* Live upgrade: every listener as HO_CONTROL_LISTENER (name, fd, and
 * its protocol in HO_SEQ); the fds stay ours. */
void control_save(const struct control *c, struct ho_writer *w);

/* Clients being served now (tests). */
unsigned int control_num_clients(const struct control *c);

#endif /* SRC_CONTROL_H */
