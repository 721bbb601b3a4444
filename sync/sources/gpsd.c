// SPDX-License-Identifier: MIT
/*
 * The connection to gpsd: we connect (to an address resolved once, at
 * start-up, before the privilege drop) and send the ?WATCH libgps would;
 * the socket is then non-blocking and read here, line by line, each line
 * checked and unpacked by gpsd_msg_parse() (gpsd.h says why not
 * gps_read()). libgps's gps_open() is not used: it resolves names on
 * every reconnect, which after the drop the seccomp filter forbids.
 */
#include <errno.h>
#include <fcntl.h>
#include <gps.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "gpsd.h"

/* gpsd's longest message (GPS_JSON_RESPONSE_MAX), and then some */
#define MSG_MAX 4096

struct gpsd_client {
	int fd;
	bool skipping; /* dropping the rest of an overlong line */
	size_t len;    /* bytes in buf */
	char buf[2 * MSG_MAX];
};

/* libgps writes the path into ?WATCH's JSON without escaping it. */
static bool device_ok(const char *device)
{
	size_t n = strlen(device);

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)device[i] < 0x20 || device[i] == '"' ||
		    device[i] == '\\') {
			return false;
		}
	}
	return n > 0 && n < GPS_PATH_MAX;
}

int gpsd_resolve(const char *host, const char *port, char *num_host,
		 size_t host_len, char *num_port, size_t port_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	int r;

	r = getaddrinfo(host ? host : GPSD_DEFAULT_HOST,
			port ? port : GPSD_DEFAULT_PORT, &hints, &ai);
	if (r != 0) {
		return r == EAI_SYSTEM && errno ? -errno : -EHOSTUNREACH;
	}
	r = getnameinfo(ai->ai_addr, ai->ai_addrlen, num_host,
			(socklen_t)host_len, num_port, (socklen_t)port_len,
			NI_NUMERICHOST | NI_NUMERICSERV);
	freeaddrinfo(ai);
	return r == 0 ? 0 : -EHOSTUNREACH;
}

/* Blocking connect (bounded by SO_SNDTIMEO), then non-blocking. */
static int connect_to(const char *host, const char *port)
{
	/* numeric only: no name service, no files, no netlink (the
	 * seccomp filter allows none of them after the privilege drop) */
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	};
	struct timeval tv = { .tv_sec = GPSD_CONNECT_TIMEOUT_S };
	struct addrinfo *ai = NULL;
	int fd, r;

	if (getaddrinfo(host, port, &hints, &ai) != 0) {
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		freeaddrinfo(ai);
		return r;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	r = connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -errno : 0;
	freeaddrinfo(ai);
	if (r == 0) {
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
			r = -errno;
		}
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int gpsd_client_new(const char *host, const char *port, const char *device,
		    struct gpsd_client **out)
{
	char watch[GPS_PATH_MAX + 96];
	struct gpsd_client *c;
	size_t len;
	ssize_t n;
	int fd;

	if (!host || !port || (device && !device_ok(device))) {
		return -EINVAL;
	}
	fd = connect_to(host, port);
	if (fd < 0) {
		return fd;
	}
	/* the watch libgps's gps_stream(WATCH_ENABLE | WATCH_JSON |
	 * WATCH_PPS [| WATCH_DEVICE]) sends */
	if (device) {
		snprintf(watch, sizeof(watch),
			 "?WATCH={\"enable\":true,\"json\":true,"
			 "\"pps\":true,\"device\":\"%s\"};\n",
			 device);
	} else {
		snprintf(watch, sizeof(watch),
			 "?WATCH={\"enable\":true,\"json\":true,"
			 "\"pps\":true};\n");
	}
	len = strlen(watch);
	n = send(fd, watch, len, MSG_NOSIGNAL);
	if (n != (ssize_t)len) {
		/* a fresh socket takes a few dozen bytes at once, or failed */
		int r = n < 0 ? -errno : -ECONNRESET;

		close(fd);
		return r;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	*out = c;
	return 0;
}

void gpsd_client_free(struct gpsd_client *c)
{
	if (!c) {
		return;
	}
	close(c->fd);
	free(c);
}

int gpsd_client_fd(const struct gpsd_client *c)
{
	return c->fd;
}

/* The first complete line in the buffer: its length, or -1 if none. */
static ssize_t line_len(const struct gpsd_client *c)
{
	const char *nl = memchr(c->buf, '\n', c->len);

	return nl ? nl - c->buf : -1;
}

static void consume(struct gpsd_client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

int gpsd_client_read(struct gpsd_client *c, struct gpsd_msg *m)
{
	ssize_t n, l;
	bool skip;

	while ((l = line_len(c)) < 0) {
		if (c->len == sizeof(c->buf)) {
			/* no newline in a full buffer: drop to the next */
			c->len = 0;
			c->skipping = true;
		}
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len,
			 MSG_DONTWAIT);
		if (n == 0) {
			return -ECONNRESET;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR) {
				return -EAGAIN;
			}
			return -ECONNRESET;
		}
		c->len += (size_t)n;
	}
	skip = c->skipping;
	c->skipping = false;
	if (skip || l >= MSG_MAX) {
		consume(c, (size_t)l + 1);
		return -EBADMSG;
	}
	n = gpsd_msg_parse(c->buf, (size_t)l, m);
	consume(c, (size_t)l + 1);
	if (n == -ENOMEM) {
		return -ENOMEM;
	}
	return n < 0 ? -EBADMSG : 0;
}
