// SPDX-License-Identifier: MIT
/*
 * The connection to gpsd: libgps's socket transport, made non-blocking
 * after the (blocking) connect and ?WATCH, and read only when
 * gps_waiting() says data is there, so a poll never waits for gpsd.
 */
#include <errno.h>
#include <fcntl.h>
#include <gps.h>
#include <stdlib.h>
#include <string.h>

#include "gpsd.h"

#define MSG_MAX 4096

struct gpsd_client {
	struct gps_data_t gd;
	bool open;
	char buf[MSG_MAX];
};

/* libgps's gps_open() errors are its own negative codes, or errno. */
static int open_error(int saved_errno)
{
	return saved_errno > 0 ? -saved_errno : -ECONNREFUSED;
}

int gpsd_client_new(const char *host, const char *port, const char *device,
		    struct gpsd_client **out)
{
	unsigned int flags = WATCH_ENABLE | WATCH_JSON | WATCH_PPS;
	struct gpsd_client *c;
	int fl, r;

	if (device && strlen(device) >= GPS_PATH_MAX) {
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
	/* gps_stream() takes a non-const path it does not modify */
	if (gps_stream(&c->gd, flags, (void *)(uintptr_t)device) < 0) {
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

int gpsd_client_read(struct gpsd_client *c, struct gpsd_msg *m)
{
	int n;

	if (!gps_waiting(&c->gd, 0)) {
		return -EAGAIN;
	}
	c->gd.set = 0;
	errno = 0;
	n = gps_read(&c->gd, c->buf, (int)sizeof(c->buf));
	if (n < 0) {
		/* libgps returns -1 for EAGAIN too on a non-blocking socket */
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			return -EAGAIN;
		}
		return -ECONNRESET;
	}
	if (n == 0) {
		return -EAGAIN; /* only part of a message so far */
	}
	c->buf[sizeof(c->buf) - 1] = '\0';
	if (gpsd_msg_from(&c->gd, c->buf, strnlen(c->buf, sizeof(c->buf)), m) <
	    0) {
		return -EBADMSG;
	}
	return 0;
}
