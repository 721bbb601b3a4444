// SPDX-License-Identifier: MIT
/*
 * The control socket and the metrics endpoint: accept, read one request,
 * answer, close; every step non-blocking and bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "handover.h"

#define ACCEPTS_PER_DISPATCH 8
#define ACCEPT_PAUSE_MS 100

struct control_listener {
	struct control *c;
	int fd;
	enum control_proto proto;
	guint src_id;	/* accept watch; 0 while paused */
	guint pause_id; /* resume after EMFILE and the like */
	char *name;
};

struct control_client {
	struct control *c;
	GList link; /* in c->clients; data = this */
	enum control_proto proto;
	int fd;
	guint io_id;	  /* readable, then writable watch */
	guint timeout_id; /* the whole exchange's deadline */
	size_t have;
	char buf[CONTROL_HTTP_MAX];
	GString *out; /* the reply, once known */
	size_t sent;
};

struct control {
	control_answer_fn answer;
	void *ctx;
	GPtrArray *listeners;
	GQueue clients;
};

static void remove_source(guint *id)
{
	if (*id) {
		g_source_remove(*id);
		*id = 0;
	}
}

static void client_free(struct control_client *cl)
{
	remove_source(&cl->io_id);
	remove_source(&cl->timeout_id);
	close(cl->fd);
	if (cl->out) {
		g_string_free(cl->out, TRUE);
	}
	g_queue_unlink(&cl->c->clients, &cl->link);
	g_free(cl);
}

static gboolean client_timeout(gpointer data)
{
	struct control_client *cl = data;

	cl->timeout_id = 0;
	g_debug("control: client too slow, closed after %d ms",
		CONTROL_TIMEOUT_MS);
	client_free(cl);
	return G_SOURCE_REMOVE;
}

/* Send what the socket takes; true when the reply is all out. */
static bool client_flush(struct control_client *cl, bool *failed)
{
	*failed = false;
	while (cl->sent < cl->out->len) {
		ssize_t n = send(cl->fd, cl->out->str + cl->sent,
				 cl->out->len - cl->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			*failed = errno != EAGAIN && errno != EWOULDBLOCK;
			return false;
		}
		cl->sent += (size_t)n;
	}
	return true;
}

/*
 * The reply is out: half-close, and read until the client closes (or the
 * deadline), since closing with unread bytes would reset the connection
 * and could destroy the reply before the client read it.
 */
static gboolean client_drain(gint fd, GIOCondition cond, gpointer data)
{
	struct control_client *cl = data;
	char scratch[512];
	ssize_t n = recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT);

	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) {
		return G_SOURCE_CONTINUE;
	}
	cl->io_id = 0;
	client_free(cl);
	return G_SOURCE_REMOVE;
}

static void client_linger(struct control_client *cl)
{
	shutdown(cl->fd, SHUT_WR);
	cl->io_id = g_unix_fd_add(cl->fd, G_IO_IN, client_drain, cl);
}

static gboolean client_writable(gint fd, GIOCondition cond, gpointer data)
{
	struct control_client *cl = data;
	bool failed;

	if (client_flush(cl, &failed)) {
		client_linger(cl);
		return G_SOURCE_REMOVE;
	}
	if (failed) {
		cl->io_id = 0;
		client_free(cl);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static const char *http_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Bad Request";
	}
}

static void http_reply(struct control_client *cl, int code, bool head_only)
{
	struct control *c = cl->c;
	GString *body = g_string_new(NULL);
	const char *type = "text/plain; charset=utf-8";

	if (code == 200) {
		c->answer(CONTROL_CMD_METRICS, "", body, c->ctx);
		type = "text/plain; version=0.0.4; charset=utf-8";
	} else {
		g_string_printf(body, "%d %s%s\n", code, http_reason(code),
				code == 404 ? ": the metrics are at /metrics"
					    : "");
	}
	g_string_printf(cl->out,
			"HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			"Content-Length: %zu\r\n%s"
			"Cache-Control: no-store\r\nConnection: close\r\n\r\n",
			code, http_reason(code), type, body->len,
			code == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!head_only) {
		g_string_append_len(cl->out, body->str, (gssize)body->len);
	}
	g_string_free(body, TRUE);
}

static void line_reply(struct control_client *cl, int r, enum control_cmd cmd,
		       const char *arg, const char *why)
{
	struct control *c = cl->c;

	if (r < 0) {
		g_string_printf(cl->out, "error: %s\n", why);
	} else if (cmd == CONTROL_CMD_HELP) {
		g_string_assign(
			cl->out,
			"commands:\n"
			"  status        the daemon, its sources, the "
			"model and the VMs, as text\n"
			"  status json   the same as one JSON object\n"
			"  metrics       the Prometheus text format\n"
			"  vm list       the VM sockets served and their "
			"connections\n"
			"  vm add PATH   serve VMs on a new socket (a "
			"name in vm-socket-dir)\n"
			"  vm remove PATH  close that socket and only "
			"its VMs' connections\n"
			"  upgrade       hand every VM to the binary now on "
			"disk (live upgrade)\n"
			"  help          this list\n");
	} else {
		c->answer(cmd, arg, cl->out, c->ctx);
	}
}

/* Parse what came so far; true once the reply is decided. */
static bool client_parse(struct control_client *cl, bool eof)
{
	enum control_cmd cmd = CONTROL_CMD_HELP;
	char why[160] = "", arg[CONTROL_ARG_MAX] = "";
	bool head_only;
	int r;

	if (cl->proto == CONTROL_PROTO_HTTP) {
		r = control_parse_http(cl->buf, cl->have, &head_only);
		if (r == -EAGAIN && eof) {
			r = 400;
		}
		if (r == -EAGAIN) {
			return false;
		}
		cl->out = g_string_new(NULL);
		http_reply(cl, r, head_only);
		return true;
	}
	r = control_parse_request(cl->buf, cl->have, eof, &cmd, arg, why,
				  sizeof(why));
	if (r == -EAGAIN) {
		return false;
	}
	cl->out = g_string_new(NULL);
	line_reply(cl, r, cmd, arg, why);
	return true;
}

static gboolean client_readable(gint fd, GIOCondition cond, gpointer data)
{
	struct control_client *cl = data;
	size_t room = sizeof(cl->buf) - cl->have;
	bool eof = false, failed;
	ssize_t n;

	n = recv(fd, cl->buf + cl->have, room, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			return G_SOURCE_CONTINUE;
		}
		goto close;
	}
	if (n == 0) {
		eof = true;
	}
	cl->have += (size_t)n;
	if (!client_parse(cl, eof)) {
		if (eof) {
			goto close;
		}
		return G_SOURCE_CONTINUE;
	}
	/* Anything more the client sends is ignored. */
	if (client_flush(cl, &failed)) {
		client_linger(cl);
		return G_SOURCE_REMOVE;
	}
	if (failed) {
		goto close;
	}
	cl->io_id = g_unix_fd_add(fd, G_IO_OUT, client_writable, cl);
	return G_SOURCE_REMOVE;
close:
	cl->io_id = 0;
	client_free(cl);
	return G_SOURCE_REMOVE;
}

static gboolean listener_accept(gint fd, GIOCondition cond, gpointer data);

static gboolean listener_resume(gpointer data)
{
	struct control_listener *l = data;

	l->pause_id = 0;
	l->src_id = g_unix_fd_add(l->fd, G_IO_IN, listener_accept, l);
	return G_SOURCE_REMOVE;
}

static gboolean listener_accept(gint fd, GIOCondition cond, gpointer data)
{
	struct control_listener *l = data;
	struct control *c = l->c;
	struct control_client *cl;
	unsigned int i;
	int s;

	for (i = 0; i < ACCEPTS_PER_DISPATCH; i++) {
		s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				break;
			}
			if (errno == EINTR || errno == ECONNABORTED) {
				continue;
			}
			g_warning("%s: accept: %s; pausing", l->name,
				  g_strerror(errno));
			l->src_id = 0;
			l->pause_id = g_timeout_add(ACCEPT_PAUSE_MS,
						    listener_resume, l);
			return G_SOURCE_REMOVE;
		}
		if (c->clients.length >= CONTROL_MAX_CLIENTS) {
			g_debug("%s: %u clients already, one refused", l->name,
				c->clients.length);
			close(s);
			continue;
		}
		cl = g_new0(struct control_client, 1);
		cl->c = c;
		cl->fd = s;
		cl->proto = l->proto;
		cl->link.data = cl;
		g_queue_push_tail_link(&c->clients, &cl->link);
		cl->io_id = g_unix_fd_add(s, G_IO_IN, client_readable, cl);
		cl->timeout_id =
			g_timeout_add(CONTROL_TIMEOUT_MS, client_timeout, cl);
	}
	return G_SOURCE_CONTINUE;
}

static void listener_free(gpointer data)
{
	struct control_listener *l = data;

	remove_source(&l->src_id);
	remove_source(&l->pause_id);
	close(l->fd);
	g_free(l->name);
	g_free(l);
}

struct control *control_new(control_answer_fn answer, void *ctx)
{
	struct control *c = g_new0(struct control, 1);

	c->answer = answer;
	c->ctx = ctx;
	c->listeners = g_ptr_array_new_with_free_func(listener_free);
	g_queue_init(&c->clients);
	return c;
}

void control_free(struct control *c)
{
	if (!c) {
		return;
	}
	while (!g_queue_is_empty(&c->clients)) {
		client_free(c->clients.head->data);
	}
	g_ptr_array_free(c->listeners, TRUE);
	g_free(c);
}

int control_add_listener(struct control *c, int listen_fd,
			 enum control_proto proto, const char *name)
{
	struct control_listener *l;
	int flags;

	flags = fcntl(listen_fd, F_GETFL);
	if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		int e = errno;

		close(listen_fd);
		return -e;
	}
	l = g_new0(struct control_listener, 1);
	l->c = c;
	l->fd = listen_fd;
	l->proto = proto;
	l->name = g_strdup(name);
	l->src_id = g_unix_fd_add(listen_fd, G_IO_IN, listener_accept, l);
	g_ptr_array_add(c->listeners, l);
	return 0;
}

unsigned int control_num_clients(const struct control *c)
{
	return c->clients.length;
}

void control_save(const struct control *c, struct ho_writer *w)
{
	guint i;

	for (i = 0; i < c->listeners->len; i++) {
		const struct control_listener *l =
			g_ptr_array_index(c->listeners, i);

		ho_begin(w, HO_CONTROL_LISTENER);
		ho_put_str(w, HO_NAME, l->name);
		ho_put_fd(w, l->fd);
		ho_put_u32(w, HO_SEQ, (uint32_t)l->proto);
		ho_end(w);
	}
}
