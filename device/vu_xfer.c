/* SPDX-License-Identifier: MIT */
/*
 * Device-state transfer over a front-end's pipe, never blocking.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "vu_xfer.h"

struct vu_xfer {
	int fd;
	bool save;
	int result; /* 0 running, 1 done, -errno failed */
	GByteArray *data;
	size_t done; /* save: bytes written */
	guint src_id;
};

static struct vu_xfer *xfer_new(int fd, bool save, GByteArray *data)
{
	struct vu_xfer *x;
	int flags;

	flags = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		goto fail;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		goto fail;
	}
	x->fd = fd;
	x->save = save;
	x->data = data ? data : g_byte_array_new();
	return x;
fail:
	if (fd >= 0) {
		close(fd);
	}
	if (data) {
		g_byte_array_unref(data);
	}
	return NULL;
}

struct vu_xfer *vu_xfer_new_save(int fd, GByteArray *data)
{
	return xfer_new(fd, true, data);
}

struct vu_xfer *vu_xfer_new_load(int fd)
{
	return xfer_new(fd, false, NULL);
}

static void close_fd(struct vu_xfer *x)
{
	if (x->src_id) {
		g_source_remove(x->src_id);
		x->src_id = 0;
	}
	if (x->fd >= 0) {
		close(x->fd);
		x->fd = -1;
	}
}

void vu_xfer_free(struct vu_xfer *x)
{
	if (!x) {
		return;
	}
	close_fd(x);
	g_byte_array_unref(x->data);
	free(x);
}

static int finish(struct vu_xfer *x, int result)
{
	x->result = result;
	close_fd(x);
	return result;
}

static int pump_save(struct vu_xfer *x)
{
	ssize_t n;

	while (x->done < x->data->len) {
		n = write(x->fd, x->data->data + x->done,
			  x->data->len - x->done);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			return 0;
		}
		if (n <= 0) {
			return finish(x, n < 0 ? -errno : -EIO);
		}
		x->done += (size_t)n;
	}
	return finish(x, 1);
}

static int pump_load(struct vu_xfer *x)
{
	uint8_t buf[4096];
	ssize_t n;

	for (;;) {
		n = read(x->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			return 0;
		}
		if (n < 0) {
			return finish(x, -errno);
		}
		if (n == 0) {
			return finish(x, 1);
		}
		if (x->data->len + (size_t)n > VU_XFER_MAX) {
			return finish(x, -EFBIG);
		}
		g_byte_array_append(x->data, buf, (guint)n);
	}
}

int vu_xfer_pump(struct vu_xfer *x)
{
	if (x->result != 0) {
		return x->result;
	}
	return x->save ? pump_save(x) : pump_load(x);
}

static gboolean xfer_ready(gint fd, GIOCondition cond, gpointer data)
{
	struct vu_xfer *x = data;
	guint id = x->src_id;
	int rc;

	/* Returning G_SOURCE_REMOVE removes it: finish() must not. */
	x->src_id = 0;
	rc = vu_xfer_pump(x);
	if (rc == 0 && (cond & (G_IO_ERR | G_IO_NVAL))) {
		/* Nothing can move any more: give up. */
		rc = finish(x, -EPIPE);
	}
	if (rc != 0) {
		return G_SOURCE_REMOVE;
	}
	x->src_id = id;
	return G_SOURCE_CONTINUE;
}

void vu_xfer_watch(struct vu_xfer *x)
{
	if (x->result != 0 || x->fd < 0 || x->src_id) {
		return;
	}
	x->src_id = g_unix_fd_add(x->fd, x->save ? G_IO_OUT : G_IO_IN,
				  xfer_ready, x);
}

bool vu_xfer_is_save(const struct vu_xfer *x)
{
	return x->save;
}

const GByteArray *vu_xfer_data(const struct vu_xfer *x)
{
	return x->data;
}
