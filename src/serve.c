/* SPDX-License-Identifier: MIT */
/*
 * Serving: start-up in dependency order (model, status page, time
 * sources, vhost-user server, listeners, control socket, privilege drop,
 * signals, seccomp), the main loop, and its signal handlers.
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "clock_model_writer.h"
#include "control.h"
#include "discipline.h"
#include "error.h"
#include "estimator.h"
#include "listen.h"
#include "notify.h"
#include "persist.h"
#include "privdrop.h"
#include "control_status.h"
#include "syscall_filter.h"
#include "time_ns.h"
#include "upgrade.h"
#include "vm_sockets.h"
#include "vmclock_page.h"
#include "vu_server.h"

static int start_listeners(struct app *a, GString *where, GError **err)
{
	char **p;
	guint i;
	int fd, r;

	for (p = a->cfg->socket_paths; *p; p++) {
		if (vu_server_listener_connections(a->server, *p) >= 0) {
			/* handed over by the process before us */
			listen_own(a->listeners, *p);
			vm_sockets_note(a->vms, *p, true);
			g_string_append_printf(where, "%s%s",
					       where->len ? ", " : "", *p);
			continue;
		}
		fd = listen_unix(a->listeners, *p, a->socket_gid, err);
		if (fd < 0) {
			return fd;
		}
		/* On failure the server may or may not own @fd: leave it. */
		r = vu_server_add_listener(a->server, fd, *p);
		if (r < 0) {
			return error_set(err, -r, "cannot serve %s: %s", *p,
					 g_strerror(-r));
		}
		vm_sockets_note(a->vms, *p, true);
		g_string_append_printf(where, "%s%s", where->len ? ", " : "",
				       *p);
	}
	for (i = 0; i < a->fds->len; i++) {
		char name[32];

		fd = g_array_index(a->fds, int, i);
		snprintf(name, sizeof(name), "fd %d", fd);
		if (!g_unix_set_fd_nonblocking(fd, TRUE, NULL) ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			r = -errno;
			return error_set(err, -r, "--fd %d: %s", fd,
					 g_strerror(-r));
		}
		r = vu_server_add_listener(a->server, fd, name);
		if (r < 0) {
			return error_set(err, -r, "cannot serve %s: %s", name,
					 g_strerror(-r));
		}
		vm_sockets_note(a->vms, name, false);
		g_string_append_printf(where, "%s%s", where->len ? ", " : "",
				       name);
	}
	return 0;
}

/* The control socket and the metrics endpoint */

static void control_answer(enum control_cmd cmd, const char *arg, GString *out,
			   void *ctx)
{
	struct app *a = ctx;
	struct control_status_report r;

	if (cmd == CONTROL_CMD_VM_LIST || cmd == CONTROL_CMD_VM_ADD ||
	    cmd == CONTROL_CMD_VM_REMOVE) {
		(void)vm_sockets_answer(a->vms, cmd, arg, out);
		if (cmd != CONTROL_CMD_VM_LIST) {
			persist_global_changed(a->persist);
		}
		return;
	}
	if (cmd == CONTROL_CMD_UPGRADE) {
		const char *off = serve_upgrade_schedule(a);

		if (off) {
			g_string_printf(out, "error: no live upgrade: %s\n",
					off);
		} else {
			g_string_printf(out,
					"upgrading: pid %d, generation %u, "
					"hands over to %s\n",
					(int)getpid(), a->upg.generation,
					a->argv[0]);
		}
		return;
	}
	control_status_collect(&r, a->disc, a->server, a->start_ns,
			       a->start_utc_s);
	r.upgrade = a->upg;
	if (a->persist) {
		struct persist_stats ps;

		persist_get_stats(a->persist, &ps);
		r.upgrade.store = true;
		r.upgrade.store_images = ps.images;
		r.upgrade.store_failed = ps.failed;
		snprintf(r.upgrade.store_error, sizeof(r.upgrade.store_error),
			 "%s", ps.last_error ? ps.last_error : "");
	}
	if (cmd == CONTROL_CMD_STATUS_JSON) {
		control_status_render_json(&r, out);
	} else if (cmd == CONTROL_CMD_METRICS) {
		control_status_render_metrics(&r, out);
	} else {
		control_status_render_text(&r, out);
	}
	control_status_report_clear(&r);
}

/* The fd of a control or metrics listener handed over as @name, or -1. */
static int adopted_listener(struct app *a, const char *name)
{
	for (guint i = 0; a->adopted_ctl && i < a->adopted_ctl->len; i++) {
		struct adopted_listener *l =
			g_ptr_array_index(a->adopted_ctl, i);

		if (l->fd >= 0 && !strcmp(l->name, name)) {
			int fd = l->fd;

			l->fd = -1;
			return fd;
		}
	}
	return -1;
}

static int start_control(struct app *a, GError **err)
{
	const struct config *c = a->cfg;
	int fd = -1, r;

	if (!c->control_socket && !c->metrics_sa_len) {
		return 0;
	}
	a->control = control_new(control_answer, a);
	if (c->control_socket &&
	    (fd = adopted_listener(a, c->control_socket)) >= 0) {
		listen_own(a->listeners, c->control_socket);
	} else if (c->control_socket) {
		fd = listen_unix(a->listeners, c->control_socket,
				 a->control_gid, err);
	}
	if (c->control_socket) {
		if (fd < 0) {
			return fd;
		}
		r = control_add_listener(a->control, fd, CONTROL_PROTO_LINE,
					 c->control_socket);
		if (r < 0) {
			return error_set(err, -r, "control socket %s: %s",
					 c->control_socket, g_strerror(-r));
		}
		g_message("control socket on %s (vhost-user-rtc-ctl --socket "
			  "%s status)",
			  c->control_socket, c->control_socket);
	}
	if (c->metrics_sa_len) {
		fd = adopted_listener(a, c->metrics_address);
		if (fd < 0) {
			fd = listen_tcp((const struct sockaddr *)&c->metrics_sa,
					c->metrics_sa_len,
					config_origin(c, "metrics-address"),
					c->metrics_address, err);
		}
		if (fd < 0) {
			return fd;
		}
		r = control_add_listener(a->control, fd, CONTROL_PROTO_HTTP,
					 c->metrics_address);
		if (r < 0) {
			return error_set(err, -r, "metrics on %s: %s",
					 c->metrics_address, g_strerror(-r));
		}
		g_message("Prometheus metrics on http://%s/metrics",
			  c->metrics_address);
	}
	return 0;
}

/* systemd's STATUS=: what changes rarely (no bound, no counters). */
static void notify_status(GString *out, void *ctx)
{
	struct app *a = ctx;
	struct discipline_status ds;
	struct vu_server_stats vs;

	discipline_get_status(a->disc, &ds);
	vu_server_get_stats(a->server, &vs);
	g_string_append_printf(
		out, "model %s",
		clock_status_name(ds.have_served ? ds.served.status
						 : CLOCK_STATUS_UNKNOWN));
	if (ds.selected >= 0) {
		g_string_append_printf(out, ", following %s",
				       ds.src[ds.selected].name);
	}
	g_string_append_printf(out, "; %u VM%s connected", vs.connected,
			       vs.connected == 1 ? "" : "s");
}

static gboolean on_page_refresh(gpointer data)
{
	struct app *a = data;

	vmclock_page_refresh(a->page, a->model);
	return G_SOURCE_CONTINUE;
}

static gboolean on_sighup(gpointer data)
{
	struct app *a = data;

	g_message("SIGHUP received, reloading; VMs keep being served");
	configure_reload(a);
	return G_SOURCE_CONTINUE;
}

static gboolean on_sigterm(gpointer data)
{
	struct app *a = data;

	g_message("SIGTERM received, exiting");
	g_main_loop_quit(a->loop);
	return G_SOURCE_CONTINUE;
}

static gboolean on_sigint(gpointer data)
{
	struct app *a = data;

	g_message("SIGINT received, exiting");
	g_main_loop_quit(a->loop);
	return G_SOURCE_CONTINUE;
}

static void estimator_conf(const struct config *c, struct estimator_config *e)
{
	estimator_config_default(e);
	e->interval_ns = c->sync_interval_ms * 1000000;
	e->min_samples = (unsigned int)c->min_samples;
	e->stale_intervals = (unsigned int)c->stale_intervals;
	e->max_drift_ppb = c->max_drift_ppb;
	e->wander_ppb = (double)c->wander_ppt / 1000.0;
	e->slew_ns = c->slew_ms * 1000000;
	e->step_ns = c->step_ns;
	e->unreliable_ns = c->unreliable_ns;
}

/*
 * The time sources, in the registry's order (source_kinds(): every --phc
 * with the Nth --ptp4l-socket for the Nth, chronyd, gpsd, then the
 * system clock as the fallback unless system-clock=off).
 */
static int start_sync(struct app *a, GError **err)
{
	const struct config *c = a->cfg;
	const struct source_conf base = {
		.leaps = a->leaps,
		/* the host counter drives the system clock chronyd steers;
		 * a PHC left unsteered is an oscillator of the same class */
		.drift_ppb = (uint32_t)c->max_drift_ppb,
		/* chronyd or gpsd not up yet: the source starts down */
		.retry_at_start = c->source_start == CONFIG_SOURCE_START_RETRY,
	};
	struct source_conf src[DISCIPLINE_MAX_SOURCES];
	struct estimator_config ec;
	struct discipline_conf dc = {
		.src = &base,
		.interval_ms = (unsigned int)c->sync_interval_ms,
		.est = &ec,
		.resume = a->adopt_arg != NULL ||
			  persist_recovery_generation(a->recovery) > 0,
	};
	int n;

	estimator_conf(c, &ec);
	n = config_sources(c, &base, DISCIPLINE_MAX_SOURCES, src, dc.ops, err);
	if (n < 0) {
		return n;
	}
	for (int i = 0; i < n; i++) {
		dc.src_of[i] = &src[i];
	}
	dc.n_sources = (unsigned int)n;
	a->disc = discipline_new(a->model, &dc, err);
	return a->disc ? 0 : -EINVAL;
}

int serve_run(struct app *a)
{
	struct vu_server_config scfg = {
		.clocks = &a->cfg->vrtc,
		.model = NULL,
		.poll_ns = a->cfg->poll_ns,
		.max_connections = (unsigned int)a->cfg->max_connections,
	};
	GString *where = g_string_new(NULL);
	GError *err = NULL;
	sigset_t stop_sigs;
	uint64_t saved_at = 0, now_ns;
	char *clocks;
	int r = -EINVAL;

	/* Writing to a vanished peer must be an error, not a death. */
	signal(SIGPIPE, SIG_IGN);
	/* Held until the handlers exist (after the privilege drop). */
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGHUP);
	sigaddset(&stop_sigs, SIGUSR2);
	sigprocmask(SIG_BLOCK, &stop_sigs, NULL);
	a->loop = g_main_loop_new(NULL, FALSE);

	a->model = clock_model_new();
	if (!a->model) {
		app_fail("cannot create the clock model");
		goto out;
	}
	/* Before the first publish, and the privilege drop. */
	if (a->cfg->vmclock_page) {
		uint64_t marker;
		int pfd = -1;
		bool same = (a->adopt_arg || a->recovery) &&
			    serve_adopt_page(a, &marker, &pfd);

		a->page = vmclock_page_open_as(
			a->cfg->vmclock_page, a->cfg->smear_id,
			same ? &marker : NULL, same ? pfd : -1, &err);
		if (!a->page) {
			app_fail("%s", err->message);
			goto out;
		}
		clock_model_set_observer(a->model, vmclock_page_observer,
					 a->page);
		a->page_timer = g_timeout_add(VMCLOCK_PAGE_REFRESH_NS / 1000000,
					      on_page_refresh, a);
	}
	if (start_sync(a, &err)) {
		app_fail("%s",
			 err ? err->message : "cannot start the time source");
		goto out;
	}
	scfg.model = a->model;
	a->server = vu_server_new(&scfg);
	if (!a->server) {
		app_fail("cannot start the vhost-user server");
		goto out;
	}
	a->vms = vm_sockets_new(
		a->server, a->listeners,
		&(struct vm_sockets_conf){
			.dir = a->cfg->vm_socket_dir,
			.reserved = a->cfg->control_socket,
			.gid = a->socket_gid,
			.max = (unsigned int)a->cfg->max_connections,
		});
	if (a->adopt_arg) {
		if (serve_adopt_image(a, &saved_at, &err)) {
			app_fail("%s", err->message);
			upgrade_adopt_failed(&a->adopt, err->message);
			goto out;
		}
	} else if (a->recovery && serve_adopt_image(a, &saved_at, &err)) {
		/* what it did adopt is kept; the rest starts afresh */
		g_warning("crash recovery: %s", err->message);
		g_clear_error(&err);
	}
	if (start_listeners(a, where, &err)) {
		app_fail("%s", err->message);
		goto out;
	}
	if (start_control(a, &err)) {
		app_fail("%s", err->message);
		goto out;
	}
	/* vm add runs after the drop: the directory must be the user's */
	if (a->cfg->vm_socket_dir &&
	    listen_prepare_dir(a->cfg->vm_socket_dir, a->priv.uid,
			       a->socket_gid != LISTEN_NO_GROUP ? a->socket_gid
								: a->priv.gid,
			       &err)) {
		app_fail("vm-socket-dir: %s", err->message);
		goto out;
	}
	/* The launcher keeps what privileges we have: before the drop. */
	if (!a->upg.generation) {
		a->upg.generation = 1;
	}
	a->upgrade = upgrade_launcher_start(a->argv, &err);
	if (!a->upgrade) {
		snprintf(a->upgrade_off, sizeof(a->upgrade_off), "%s",
			 err->message);
		g_warning("%s: this daemon cannot be upgraded live",
			  err->message);
		g_clear_error(&err);
	}
	a->upg.available = a->upgrade != NULL;
	/*
	 * Everything privileged is open: drop what is left while we have
	 * one thread, then start GLib's signal thread, then the filter.
	 */
	if (privdrop_apply(&a->priv, &err)) {
		app_fail("%s", err->message);
		goto out;
	}
	a->sig_term = g_unix_signal_add(SIGTERM, on_sigterm, a);
	a->sig_int = g_unix_signal_add(SIGINT, on_sigint, a);
	a->sig_hup = g_unix_signal_add(SIGHUP, on_sighup, a);
	a->sig_usr2 = g_unix_signal_add(SIGUSR2, serve_upgrade_on_sigusr2, a);
	sigprocmask(SIG_UNBLOCK, &stop_sigs, NULL);
	if (a->cfg->seccomp && privdrop_confine(&err)) {
		app_fail("%s", err->message);
		goto out;
	}
	if (a->seccomp_selftest) {
		g_message("seccomp self-test: a denied system call follows");
		syscall_filter_selftest();
	}

	a->persist = persist_new(a->server, a->upg.generation,
				 serve_persist_daemon, a);
	if (a->recovery) {
		unsigned int n, q;

		n = persist_recovery_adopt(a->recovery, a->server, a->persist);
		/* requests made while no daemon ran are served now */
		q = vu_server_recover(a->server);
		a->upg.recovered = true;
		g_message("crash recovery: generation %u adopted %u VM "
			  "connection(s) from the process before (%u queues "
			  "resumed at their used index)%s",
			  a->upg.generation, n, q,
			  saved_at ? "" : "; its clock model was not stored");
		persist_recovery_free(a->recovery);
		a->recovery = NULL;
	}
	if (a->adopt_arg) {
		/* ready: the process before us ends, then we serve */
		if (upgrade_adopt_ready(&a->adopt) < 0) {
			app_fail(
				"live upgrade: the process before did not hand "
				"over; exiting without serving");
			goto out;
		}
		now_ns = (uint64_t)time_ns_now(CLOCK_MONOTONIC);
		a->upg.last_pause_ms =
			saved_at && now_ns > saved_at
				? (double)(now_ns - saved_at) / 1e6
				: 0;
		g_message("live upgrade: generation %u serves %u adopted VM "
			  "connection(s); pause of service %.1f ms",
			  a->upg.generation,
			  vu_server_num_connections(a->server),
			  a->upg.last_pause_ms);
	}
	clocks = configure_clock_list(&a->cfg->vrtc);
	g_message("serving %u clocks (%s) on %s", a->cfg->vrtc.num_clocks,
		  clocks, where->str);
	g_free(clocks);
	a->notify = notify_start(notify_status, a);
	/* the fd store: ours now, then the names before us go */
	persist_start(a->persist, a->store_old);
	g_main_loop_run(a->loop);
	r = 0;
out:
	g_clear_error(&err);
	g_string_free(where, TRUE);
	return r;
}
