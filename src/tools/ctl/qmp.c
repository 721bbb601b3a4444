// SPDX-License-Identifier: MIT
/*
 * QMP client: QEMU sends one JSON object per line (greeting, replies to
 * our commands, asynchronous events); we send one command at a time and
 * sort what comes back into the reply and the events kept for later.
 */
#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp.h"

/* A QEMU line longer than this is not an answer we can use. */
#define QMP_LINE_MAX (4u << 20)
/* Events kept while nobody waits for them (oldest dropped first). */
#define QMP_EVENTS_MAX 256

struct qmp {
	int fd;
	char *name;
	int timeout_ms;
	GString *buf;  /* received, not yet split into lines */
	GQueue events; /* JsonNode * of the events not yet consumed */
};

static GQuark qmp_quark(void)
{
	return g_quark_from_static_string("vrtc-qmp");
}

const char *qmp_name(const struct qmp *q)
{
	return q->name;
}

void qmp_free(struct qmp *q)
{
	if (!q) {
		return;
	}
	if (q->fd >= 0) {
		close(q->fd);
	}
	g_queue_clear_full(&q->events, (GDestroyNotify)json_node_unref);
	if (q->buf) {
		g_string_free(q->buf, TRUE);
	}
	g_free(q->name);
	g_free(q);
}

/*
 * The next JSON object QEMU sent, waiting until @deadline_us (monotonic);
 * NULL with @err set on timeout, end of stream or a line that is no JSON
 * object.
 */
static JsonNode *read_object(struct qmp *q, gint64 deadline_us, GError **err)
{
	for (;;) {
		char *nl = memchr(q->buf->str, '\n', q->buf->len);
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		gint64 left_ms;
		char chunk[4096];
		ssize_t r;

		if (nl) {
			size_t n = (size_t)(nl - q->buf->str);
			JsonParser *p = json_parser_new();
			JsonNode *node = NULL;
			GError *e = NULL;

			if (json_parser_load_from_data(p, q->buf->str,
						       (gssize)n, &e) &&
			    JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
				node = json_node_copy(json_parser_get_root(p));
			}
			g_object_unref(p);
			g_string_erase(q->buf, 0, (gssize)n + 1);
			if (!node) {
				g_set_error(err, qmp_quark(), EPROTO,
					    "%s QEMU sent a line that is not a "
					    "JSON object: %s",
					    q->name, e ? e->message : "?");
				g_clear_error(&e);
				return NULL;
			}
			return node;
		}
		if (q->buf->len > QMP_LINE_MAX) {
			g_set_error(err, qmp_quark(), EMSGSIZE,
				    "%s QEMU sent a line over %u bytes",
				    q->name, QMP_LINE_MAX);
			return NULL;
		}
		left_ms = (deadline_us - g_get_monotonic_time()) / 1000;
		if (left_ms <= 0) {
			g_set_error(err, qmp_quark(), ETIMEDOUT,
				    "%s QEMU did not answer in time", q->name);
			return NULL;
		}
		r = poll(&pfd, 1, (int)MIN(left_ms, G_MAXINT));
		if (r < 0 && errno != EINTR) {
			g_set_error(err, qmp_quark(), errno, "%s QMP: %s",
				    q->name, g_strerror(errno));
			return NULL;
		}
		if (r <= 0) {
			continue;
		}
		r = read(q->fd, chunk, sizeof(chunk));
		if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
			continue;
		}
		if (r <= 0) {
			g_set_error(err, qmp_quark(), ECONNRESET,
				    "%s QEMU closed its QMP connection%s%s",
				    q->name, r ? ": " : "",
				    r ? g_strerror(errno) : "");
			return NULL;
		}
		g_string_append_len(q->buf, chunk, r);
	}
}

static void keep_event(struct qmp *q, JsonNode *ev)
{
	g_queue_push_tail(&q->events, ev);
	while (q->events.length > QMP_EVENTS_MAX) {
		json_node_unref(g_queue_pop_head(&q->events));
	}
}

static gboolean send_line(struct qmp *q, const char *text, GError **err)
{
	size_t len = strlen(text), sent = 0;

	while (sent < len) {
		ssize_t w = send(q->fd, text + sent, len - sent, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w < 0) {
			g_set_error(err, qmp_quark(), errno,
				    "%s QMP: sending: %s", q->name,
				    g_strerror(errno));
			return FALSE;
		}
		sent += (size_t)w;
	}
	return TRUE;
}

JsonNode *qmp_call(struct qmp *q, const char *command, JsonNode *args,
		   GError **err)
{
	JsonObject *cmd = json_object_new();
	JsonNode *root = json_node_new(JSON_NODE_OBJECT);
	gint64 deadline = g_get_monotonic_time() +
			  (gint64)q->timeout_ms * G_TIME_SPAN_MILLISECOND;
	char *text, *line;
	gboolean sent;

	json_object_set_string_member(cmd, "execute", command);
	if (args) {
		json_object_set_member(cmd, "arguments", args);
	}
	json_node_take_object(root, cmd);
	text = json_to_string(root, FALSE);
	json_node_unref(root);
	line = g_strconcat(text, "\n", NULL);
	g_free(text);
	sent = send_line(q, line, err);
	g_free(line);
	if (!sent) {
		return NULL;
	}
	for (;;) {
		JsonNode *node = read_object(q, deadline, err);
		JsonObject *o, *e;
		JsonNode *ret;

		if (!node) {
			return NULL;
		}
		o = json_node_get_object(node);
		if (json_object_has_member(o, "event")) {
			keep_event(q, node);
			continue;
		}
		if (json_object_has_member(o, "return")) {
			ret = json_node_copy(
				json_object_get_member(o, "return"));
			json_node_unref(node);
			return ret;
		}
		e = json_object_has_member(o, "error")
			    ? json_object_get_object_member(o, "error")
			    : NULL;
		g_set_error(err, qmp_quark(), EIO, "%s QEMU refused %s: %s",
			    q->name, command,
			    e && json_object_has_member(e, "desc")
				    ? json_object_get_string_member(e, "desc")
				    : "(an answer with neither return nor "
				      "error)");
		json_node_unref(node);
		return NULL;
	}
}

/* Whether @ev is the event @name with data.@key == @value. */
static gboolean event_matches(JsonNode *ev, const char *name, const char *key,
			      const char *value)
{
	JsonObject *o = json_node_get_object(ev), *data;
	const char *v;

	if (g_strcmp0(json_object_get_string_member(o, "event"), name)) {
		return FALSE;
	}
	if (!key) {
		return TRUE;
	}
	data = json_object_has_member(o, "data")
		       ? json_object_get_object_member(o, "data")
		       : NULL;
	v = data && json_object_has_member(data, key)
		    ? json_object_get_string_member(data, key)
		    : NULL;
	return v && !strcmp(v, value);
}

gboolean qmp_wait_event(struct qmp *q, const char *event, const char *key,
			const char *value, int timeout_ms, GError **err)
{
	gint64 deadline = g_get_monotonic_time() +
			  (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
	GError *e = NULL;

	for (GList *l = q->events.head; l; l = l->next) {
		if (event_matches(l->data, event, key, value)) {
			json_node_unref(l->data);
			g_queue_delete_link(&q->events, l);
			return TRUE;
		}
	}
	for (;;) {
		JsonNode *node = read_object(q, deadline, &e);

		if (!node) {
			g_set_error(
				err, qmp_quark(), e->code,
				"no %s%s%s from the %s QEMU within %d s%s%s",
				event, key ? " for " : "", key ? value : "",
				q->name, timeout_ms / 1000,
				e->code == ETIMEDOUT ? "" : ": ",
				e->code == ETIMEDOUT ? "" : e->message);
			g_error_free(e);
			return FALSE;
		}
		if (event_matches(node, event, key, value)) {
			json_node_unref(node);
			return TRUE;
		}
		if (json_object_has_member(json_node_get_object(node),
					   "event")) {
			keep_event(q, node);
		} else {
			json_node_unref(node);
		}
	}
}

/* A JSON object node with string members from NULL-terminated pairs. */
JsonNode *qmp_args(const char *key, ...)
{
	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	va_list ap;

	va_start(ap, key);
	for (const char *k = key; k; k = va_arg(ap, const char *)) {
		json_object_set_string_member(o, k, va_arg(ap, const char *));
	}
	va_end(ap);
	json_node_take_object(n, o);
	return n;
}

struct qmp *qmp_open(const char *path, const char *name, int timeout_ms,
		     GError **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct qmp *q = g_new0(struct qmp, 1);
	JsonNode *greeting, *ret;
	gint64 deadline = g_get_monotonic_time() +
			  (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;

	q->name = g_strdup(name);
	q->timeout_ms = timeout_ms;
	q->buf = g_string_new(NULL);
	g_queue_init(&q->events);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		g_set_error(err, qmp_quark(), ENAMETOOLONG,
			    "%s QMP socket %s: path too long", name, path);
		goto fail;
	}
	strcpy(sa.sun_path, path);
	if (q->fd < 0 || connect(q->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		g_set_error(err, qmp_quark(), errno,
			    "%s QMP socket %s: %s (is QEMU running with -qmp "
			    "unix:%s,server=on,wait=off?)",
			    name, path, g_strerror(errno), path);
		goto fail;
	}
	greeting = read_object(q, deadline, err);
	if (!greeting) {
		goto fail;
	}
	if (!json_object_has_member(json_node_get_object(greeting), "QMP")) {
		json_node_unref(greeting);
		g_set_error(err, qmp_quark(), EPROTO,
			    "%s: no QMP greeting: is this QEMU's QMP socket "
			    "(not its HMP monitor or a chardev)?",
			    path);
		goto fail;
	}
	json_node_unref(greeting);
	ret = qmp_call(q, "qmp_capabilities", NULL, err);
	if (!ret) {
		goto fail;
	}
	json_node_unref(ret);
	return q;
fail:
	qmp_free(q);
	return NULL;
}
