// SPDX-License-Identifier: MIT
/*
 * The connection to gpsd: libgps connects and sends ?WATCH; the socket
 * is then non-blocking and read here, line by line, each line checked
 * and unpacked by gpsd_msg_parse() (gpsd.h says why not gps_read()).
 */
#include <errno.h>
#include <fcntl.h>
#include <gps.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gpsd.h"

/* gpsd's longest message (GPS_JSON_RESPONSE_MAX), and then some */
#define MSG_MAX 4096

struct gpsd_client {
	struct gps_data_t gd;
	bool open;
	bool skipping; /* dropping the rest of an overlong line */
	size_t len;    /* bytes in buf */
	char buf[2 * MSG_MAX];
};

/* libgps's gps_open() errors are its own negative codes, or errno. */
static int open_error(int saved_errno)
{
	return saved_errno > 0 ? -saved_errno : -ECONNREFUSED;
}

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

int gpsd_client_new(const char *host, const char *port, const char *device,
		    struct gpsd_client **out)
{
	unsigned int flags = WATCH_ENABLE | WATCH_JSON | WATCH_PPS;
	struct gpsd_client *c;
	char path[GPS_PATH_MAX];
	int fl, r;

	if (device && !device_ok(device)) {
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	errno = 0;
	if (gps_open(host ? host : GPSD_DEFAULT_HOST,
		     port ? port : GPSD_DEFAULT_PORT, &c->gd) != 0) {
		r = open_error(errno);
		free(c);
		return r;
	}
	c->open = true;
	if (device) {
		flags |= WATCH_DEVICE;
	}
	/* gps_stream() takes a non-const path */
	snprintf(path, sizeof(path), "%s", device ? device : "");
	if (gps_stream(&c->gd, flags, path) < 0) {
		r = errno > 0 ? -errno : -ECONNRESET;
		gpsd_client_free(c);
		return r;
	}
	fl = fcntl(c->gd.gps_fd, F_GETFL);
	if (fl < 0 || fcntl(c->gd.gps_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		r = -errno;
		gpsd_client_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void gpsd_client_free(struct gpsd_client *c)
{
	if (!c) {
		return;
	}
	if (c->open) {
		gps_close(&c->gd);
	}
	free(c);
}

int gpsd_client_fd(const struct gpsd_client *c)
{
	return c->gd.gps_fd;
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
		n = recv(c->gd.gps_fd, c->buf + c->len, sizeof(c->buf) - c->len,
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
