/* SPDX-License-Identifier: MIT */
/*
 * Configuration: options and config file combined and checked (everything
 * --check-config does), logging set up, the leap-second file loaded; and
 * SIGHUP's reload of what can change without dropping a VM.
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "config.h"
#include "discipline.h"
#include "error.h"
#include "leap.h"
#include "listen.h"
#include "log.h"
#include "privdrop.h"
#include "virtio_rtc.h"
#include "vmclock_page.h"

/* Logging: GLib's default handler, to stderr, filtered by log-level. */

static GLogLevelFlags log_hidden;
static bool log_writer_set; /* GLib allows setting it once */

static void log_handler(const gchar *domain, GLogLevelFlags level,
			const gchar *msg, gpointer data)
{
	if (level & log_hidden) {
		return;
	}
	g_log_default_handler(domain, level, msg, data);
}

static void log_setup(enum config_log_level level, gboolean verbose)
{
	const GLogLevelFlags quiet = G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG;

	if (verbose || level == CONFIG_LOG_DEBUG ||
	    (g_getenv("G_MESSAGES_DEBUG") && *g_getenv("G_MESSAGES_DEBUG"))) {
		log_hidden = 0;
	} else if (level == CONFIG_LOG_INFO) {
		log_hidden = G_LOG_LEVEL_DEBUG;
	} else if (level == CONFIG_LOG_WARNING) {
		log_hidden = quiet | G_LOG_LEVEL_MESSAGE;
	} else {
		log_hidden = quiet | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_WARNING;
	}
	/* INFO and DEBUG pass GLib's own filter; ours decides. */
	g_log_set_debug_enabled(TRUE);
	g_log_set_default_handler(log_handler, NULL);
	if (!log_writer_set) {
		/* one line each, with journald's priority (log.h) */
		g_log_set_writer_func(log_write, NULL, NULL);
		log_writer_set = true;
	}
}

/* Listeners */

static int parse_fds(struct app *a, GError **err)
{
	char **p;

	for (p = a->fd_args; p && *p; p++) {
		gint64 v;
		guint i;

		if (!g_ascii_string_to_signed(*p, 10, 0, INT_MAX, &v, NULL)) {
			return error_set(
				err, EINVAL,
				"--fd: \"%s\" is not a file descriptor number",
				*p);
		}
		for (i = 0; i < a->fds->len; i++) {
			if (g_array_index(a->fds, int, i) == (int)v) {
				return error_set(err, EINVAL,
						 "--fd %d given twice", (int)v);
			}
		}
		if (listen_check_fd((int)v, err)) {
			return -EINVAL;
		}
		{
			int fd = (int)v;

			g_array_append_val(a->fds, fd);
		}
	}
	return 0;
}

/* Start-up */

static const char *clock_label(const struct rtcdev_clock *c)
{
	switch (c->type) {
	case VIRTIO_RTC_CLOCK_UTC:
		return "utc";
	case VIRTIO_RTC_CLOCK_TAI:
		return "tai";
	case VIRTIO_RTC_CLOCK_MONOTONIC:
		return "monotonic";
	case VIRTIO_RTC_CLOCK_UTC_SMEARED:
		return c->smearing == VIRTIO_RTC_SMEAR_UTC_SLS
			       ? "utc-smeared/utc-sls"
			       : "utc-smeared/noon-linear";
	}
	return "unknown";
}

char *configure_clock_list(const struct rtcdev_config *v)
{
	GString *s = g_string_new(NULL);
	unsigned int i;

	for (i = 0; i < v->num_clocks; i++) {
		g_string_append_printf(s, "%s%u %s", i ? ", " : "", i,
				       clock_label(&v->clocks[i]));
	}
	return g_string_free(s, FALSE);
}

static char *utc_date(int64_t utc_s)
{
	GDateTime *dt = g_date_time_new_from_unix_utc(utc_s);
	char *s;

	if (!dt) {
		return g_strdup_printf("%lld", (long long)utc_s);
	}
	s = g_date_time_format(dt, "%Y-%m-%d");
	g_date_time_unref(dt);
	return s;
}

/* Warn about an expired or unhashed leap table (start-up and SIGHUP). */
static void leap_report(struct app *a)
{
	const char *path = a->cfg->leap_file;
	char *exp;

	exp = utc_date(a->leaps->expires_utc_s);
	if (leap_table_expired(a->leaps, (int64_t)time(NULL))) {
		g_warning("leap-second file %s expired on %s: leap seconds "
			  "announced since are unknown and TAI-UTC may be "
			  "wrong; install a current tzdata",
			  path, exp);
	}
	if (!a->leaps->hash_ok) {
		g_warning("leap-second file %s has no #h hash line: its "
			  "integrity cannot be checked",
			  path);
	}
	g_debug("leap-second file %s: TAI-UTC %d s, valid until %s", path,
		a->leaps->e[a->leaps->n - 1].dtai, exp);
	g_free(exp);
}

static int load_leaps(struct app *a)
{
	const char *path = a->cfg->leap_file;
	GError *err = NULL;

	a->leaps = leap_table_load(path, &err);
	if (!a->leaps) {
		app_fail("cannot use leap-second file %s: %s", path,
			 err ? err->message : "unknown error");
		g_clear_error(&err);
		return -EINVAL;
	}
	leap_report(a);
	return 0;
}

/* Options, config file, their combination: everything --check-config does. */
/* The control socket: a socket path like the others, but not one of them. */
static int check_control_path(const struct config *c, GError **err)
{
	char *one[] = { c->control_socket, NULL };
	char **p;

	for (p = c->socket_paths; *p; p++) {
		if (!strcmp(*p, c->control_socket)) {
			return error_set(err, EINVAL,
					 "%s: %s is also a socket-path",
					 config_origin(c, "control-socket"),
					 c->control_socket);
		}
	}
	return listen_check_paths(one, err);
}

int configure_start(struct app *a)
{
	GError *err = NULL;
	guint i;

	a->cfg = config_new();
	if (a->config_path && config_load_file(a->cfg, a->config_path, &err)) {
		goto bad;
	}
	for (i = 0; i + 1 < a->cli->len; i += 2) {
		if (config_set(a->cfg, g_ptr_array_index(a->cli, i),
			       g_ptr_array_index(a->cli, i + 1), &err)) {
			goto bad;
		}
	}
	if (config_finish(a->cfg, &err)) {
		goto bad;
	}
	log_setup(a->cfg->log_level, a->verbose);
	if (parse_fds(a, &err)) {
		goto bad;
	}
	/* Listeners named on the command line replace the file's. */
	if (a->fds->len && !config_from_cli(a->cfg, "socket-path")) {
		g_strfreev(a->cfg->socket_paths);
		a->cfg->socket_paths = g_new0(char *, 1);
	}
	if (!a->cfg->socket_paths[0] && !a->fds->len) {
		app_fail(
			"no socket to serve: give --socket-path PATH or --fd N "
			"(or socket-path= in the config file)");
		return -EINVAL;
	}
	/* Adopting: the process before us holds them, and hands them on. */
	if (!a->adopt_arg && !a->recovery &&
	    listen_check_paths(a->cfg->socket_paths, &err)) {
		goto bad;
	}
	if (!a->adopt_arg && !a->recovery && a->cfg->control_socket &&
	    check_control_path(a->cfg, &err)) {
		goto bad;
	}
	if (a->cfg->vmclock_page &&
	    vmclock_page_check(a->cfg->vmclock_page, &err)) {
		g_prefix_error(&err,
			       "%s: ", config_origin(a->cfg, "vmclock-page"));
		goto bad;
	}
	if (config_check_sources_host(a->cfg, &err)) {
		goto bad;
	}
	if ((a->cfg->socket_group &&
	     privdrop_group_id(a->cfg->socket_group,
			       config_origin(a->cfg, "socket-group"),
			       &a->socket_gid, &err)) ||
	    (a->cfg->control_group &&
	     privdrop_group_id(a->cfg->control_group,
			       config_origin(a->cfg, "control-group"),
			       &a->control_gid, &err))) {
		goto bad;
	}
	/* last: its refusal of root by default is about the host */
	if (privdrop_resolve(a->cfg->user, config_origin(a->cfg, "user"),
			     a->cfg->group, config_origin(a->cfg, "group"),
			     &a->priv, &err)) {
		goto bad;
	}
	/* once the user is known: the directory is to be given to it */
	if (a->cfg->vm_socket_dir &&
	    listen_check_dir(a->cfg->vm_socket_dir, a->priv.uid,
			     a->socket_gid != LISTEN_NO_GROUP ? a->socket_gid
							      : a->priv.gid,
			     &err)) {
		g_prefix_error(&err,
			       "%s: ", config_origin(a->cfg, "vm-socket-dir"));
		goto bad;
	}
	return load_leaps(a);
bad:
	app_fail("%s", err->message);
	g_error_free(err);
	return -EINVAL;
}

/*
 * SIGHUP: read the configuration again (file and command line, as at
 * start) and apply what can change without dropping a VM: the leap
 * file (re-read even when its path is the same: tzdata updates it in
 * place) and log-level. Anything wrong keeps what is running.
 */
static struct config *reread_config(struct app *a, GError **err)
{
	struct config *c = config_new();
	guint i;

	if (a->config_path && config_load_file(c, a->config_path, err)) {
		goto bad;
	}
	for (i = 0; i + 1 < a->cli->len; i += 2) {
		if (config_set(c, g_ptr_array_index(a->cli, i),
			       g_ptr_array_index(a->cli, i + 1), err)) {
			goto bad;
		}
	}
	if (config_finish(c, err)) {
		goto bad;
	}
	/* as at start: listeners given by --fd replace the file's */
	if (a->fds->len && !config_from_cli(c, "socket-path")) {
		g_strfreev(c->socket_paths);
		c->socket_paths = g_new0(char *, 1);
	}
	return c;
bad:
	config_free(c);
	return NULL;
}

void configure_reload(struct app *a)
{
	GError *err = NULL;
	struct config *c = reread_config(a, &err);
	struct leap_table *t;
	bool loaded = false;

	if (!c) {
		g_warning("SIGHUP: configuration not reloaded, keeping the "
			  "running one: %s",
			  err->message);
		g_error_free(err);
		return;
	}
	log_setup(c->log_level, a->verbose);
	t = leap_table_load(c->leap_file, &err);
	if (!t) {
		g_warning("SIGHUP: cannot use leap-second file %s, keeping "
			  "%s: %s",
			  c->leap_file, a->cfg->leap_file,
			  err ? err->message : "unknown error");
		g_clear_error(&err);
	} else {
		discipline_set_leap_file(a->disc, t);
		g_ptr_array_add(a->old_leaps, a->leaps);
		a->leaps = t;
		g_free(a->cfg->leap_file);
		a->cfg->leap_file = g_strdup(c->leap_file);
		leap_report(a);
		loaded = true;
	}
	static const char *const level_names[] = {
		[CONFIG_LOG_ERROR] = "error",
		[CONFIG_LOG_WARNING] = "warning",
		[CONFIG_LOG_INFO] = "info",
		[CONFIG_LOG_DEBUG] = "debug",
	};

	static const char *const applied[] = { "leap-file", "log-level", NULL };
	char *ignored;

	a->cfg->log_level = c->log_level;
	ignored = config_changed_keys(a->cfg, c, applied);
	config_free(c);
	/* a warning when an edit is left unapplied: it needs the operator */
	g_log(G_LOG_DOMAIN, ignored ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE,
	      "SIGHUP: %s leap-file %s (TAI-UTC %d s, %u entries), "
	      "reloaded log-level %s; %s%s",
	      loaded ? "reloaded" : "kept the running", a->cfg->leap_file,
	      a->leaps->e[a->leaps->n - 1].dtai, (unsigned int)a->leaps->n,
	      level_names[a->cfg->log_level],
	      ignored ? "changed but not applied until a restart: "
		      : "no other setting changed",
	      ignored ? ignored : "");
	g_free(ignored);
}
