// SPDX-License-Identifier: MIT
/*
 * sd_notify for the daemon (notify.h).
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-daemon.h>

#include "notify.h"

struct notify {
	notify_status_fn status;
	void *ctx;
	GString *last; /* the last STATUS= sent */
	guint status_id, watchdog_id;
	bool warned;
};

static void send_state(struct notify *n, const char *state)
{
	int r = sd_notify(0, state);

	if (r < 0 && !n->warned) {
		g_warning("sd_notify: %s (logged once)", g_strerror(-r));
		n->warned = true;
	}
}

static gboolean on_status(gpointer data)
{
	struct notify *n = data;
	GString *s = g_string_new("STATUS=");

	n->status(s, n->ctx);
	if (!g_string_equal(s, n->last)) {
		send_state(n, s->str);
		g_string_assign(n->last, s->str);
	}
	g_string_free(s, TRUE);
	return G_SOURCE_CONTINUE;
}

static gboolean on_watchdog(gpointer data)
{
	send_state(data, "WATCHDOG=1");
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
	on_status(n);
	send_state(n, "READY=1");
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
	send_state(n, "STOPPING=1");
	if (n->status_id) {
		g_source_remove(n->status_id);
	}
	if (n->watchdog_id) {
		g_source_remove(n->watchdog_id);
	}
	g_string_free(n->last, TRUE);
	g_free(n);
}

void notify_mainpid(pid_t pid)
{
	(void)sd_notifyf(0, "MAINPID=%d", (int)pid);
}
