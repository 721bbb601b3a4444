/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user server: listening sockets, and one independent
 * virtio-rtc device per accepted front-end connection. Any number of
 * connections per listening socket; a bad or dead front-end closes only
 * its own connection.
 * Thread/loop: everything on the default GLib main context.
 */
#ifndef DEVICE_VU_SERVER_H
#define DEVICE_VU_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "clock_model.h"
#include "virtio_rtc.h"

struct vu_server_config {
	const struct vrtc_config *clocks; /* must outlive the server */
	const struct clock_model *model;  /* must outlive the server */
	uint64_t poll_ns; /* adaptive polling budget, 0 = never spin */
	unsigned int max_connections; /* 0 = unlimited */
};

struct vu_server;

struct vu_server *vu_server_new(const struct vu_server_config *cfg);

/* Closes every connection and listener; NULL is a no-op. */
void vu_server_free(struct vu_server *s);

/*
 * vu_server_add_listener() - accept front-ends on @listen_fd (a listening
 * AF_UNIX stream socket; ownership passes to the server). @name is used
 * in log lines. Returns 0 or -errno.
 */
int vu_server_add_listener(struct vu_server *s, int listen_fd,
			   const char *name);

/* Connections open now. */
unsigned int vu_server_num_connections(const struct vu_server *s);

#endif /* DEVICE_VU_SERVER_H */
