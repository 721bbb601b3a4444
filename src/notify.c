// SPDX-License-Identifier: MIT
/*
 * sd_notify for the daemon (notify.h).
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "notify.h"

struct notify {
	notify_status_fn status;
	void *ctx;
	GString *last; /* the last STATUS= sent */
	guint status_id, watchdog_id;
	int sock; /* non-blocking, to $NOTIFY_SOCKET; -1: sd_notify() */
	bool warned;
};

int notify_socket_open(void)
{
	const char *e = g_getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = e ? strlen(e) : 0;
	socklen_t sl;
	int fd;

	if (!e || (e[0] != '/' && e[0] != '@') || len >= sizeof(sa.sun_path)) {
		return -EINVAL;
	}
	memcpy(sa.sun_path, e, len);
	if (e[0] == '@') {
		sa.sun_path[0] = '\0';
	}
	sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
			 (e[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&sa, sl) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/*
 * STATUS=, WATCHDOG=1, STOPPING=1: never blocking. When the manager's
 * queue is full (it reads slowly, or the fd store filled it) the message
 * is not sent: false, and the next one tries again.
 */
static bool send_state(struct notify *n, const char *state)
{
	ssize_t k;
	int r;

	if (n->sock < 0) {
		r = sd_notify(0, state);
	} else {
		do {
			k = send(n->sock, state, strlen(state),
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		} while (k < 0 && errno == EINTR);
		r = k < 0 ? -errno : 1;
	}
	if (r == -EAGAIN || r == -EWOULDBLOCK) {
		return false;
	}
	if (r < 0 && !n->warned) {
		g_warning("sd_notify: %s (logged once)", g_strerror(-r));
		n->warned = true;
	}
	return r >= 0;
}

static gboolean on_status(gpointer data)
{
	struct notify *n = data;
	GString *s = g_string_new("STATUS=");

	n->status(s, n->ctx);
	if (!g_string_equal(s, n->last) && send_state(n, s->str)) {
		g_string_assign(n->last, s->str);
	}
	g_string_free(s, TRUE);
	return G_SOURCE_CONTINUE;
}

static gboolean on_watchdog(gpointer data)
{
	(void)send_state(data, "WATCHDOG=1");
	return G_SOURCE_CONTINUE;
}

struct notify *notify_start(notify_status_fn status, void *ctx)
{
	struct notify *n;
	uint64_t usec = 0;
	int r;

	if (!g_getenv("NOTIFY_SOCKET")) {
		return NULL;
	}
	n = g_new0(struct notify, 1);
	n->status = status;
	n->ctx = ctx;
	n->last = g_string_new(NULL);
	n->sock = -1;
	on_status(n);
	/* READY=1 must arrive: blocking, as the first message */
	r = sd_notify(0, "READY=1");
	if (r < 0) {
		g_warning("sd_notify READY=1: %s", g_strerror(-r));
	}
	n->sock = notify_socket_open();
	n->status_id = g_timeout_add(NOTIFY_CHECK_MS, on_status, n);
	r = sd_watchdog_enabled(0, &usec);
	if (r > 0 && usec >= 2000) {
		/* half the period, as sd_watchdog_enabled(3) advises */
		n->watchdog_id = g_timeout_add(
			(guint)MIN(usec / 2000, (uint64_t)G_MAXUINT),
			on_watchdog, n);
		on_watchdog(n);
		g_message("systemd watchdog: WATCHDOG=1 every %llu ms",
			  (unsigned long long)(usec / 2000));
	} else if (r < 0) {
		g_warning("systemd watchdog not used: %s", g_strerror(-r));
	}
	return n;
}

void notify_stop(struct notify *n)
{
	if (!n) {
		return;
	}
	/* worth a short wait for room: the manager then knows we stop */
	if (n->sock >= 0) {
		struct pollfd p = { .fd = n->sock, .events = POLLOUT };

		(void)poll(&p, 1, 500);
	}
	(void)send_state(n, "STOPPING=1");
	if (n->status_id) {
		g_source_remove(n->status_id);
	}
	if (n->watchdog_id) {
		g_source_remove(n->watchdog_id);
	}
	g_string_free(n->last, TRUE);
	if (n->sock >= 0) {
		close(n->sock);
	}
	g_free(n);
}

void notify_mainpid(pid_t pid)
{
	(void)sd_notifyf(0, "MAINPID=%d", (int)pid);
}
