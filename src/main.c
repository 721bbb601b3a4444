/* SPDX-License-Identifier: MIT */
/*
 * vhost-user-rtc: the daemon's main() and its exit path; options.c,
 * configure.c, serve.c and serve_upgrade.c do the rest (app.h). Follows the
 * vhost-user "backend program conventions" (QEMU docs/interop/
 * vhost-user.rst): --socket-path/--fd, --print-capabilities, no
 * self-daemonizing.
 *
 * Exit status: 0 success; 1 invalid configuration or start-up failure;
 * 2 the command line could not be parsed; 3 a system call outside the
 * seccomp allow-list (syscall_filter.h).
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <glib.h>
#include <locale.h>
#include <stdio.h>
#include <unistd.h>

#include "app.h"
#include "persist.h"
#include "clock_model_writer.h"
#include "control.h"
#include "discipline.h"
#include "leap.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "vm_sockets.h"
#include "vmclock_page.h"
#include "vu_server.h"

#ifndef VRTC_VERSION
#define VRTC_VERSION "unknown"
#endif

/* One error line on stderr, before logging is set up or instead of it. */
/* The last start-up failure, for a live upgrade's launcher. */
char app_last_fail[160];

void app_fail(const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	/* at error priority in the journal (log.h) */
	g_printerr("%s%s: %s\n", log_err_prefix(), g_get_prgname(), msg);
	g_strlcpy(app_last_fail, msg, sizeof(app_last_fail));
	g_free(msg);
}

/* Everything in reverse order of creation; copes with a partial start. */
static void cleanup(struct app *a)
{
	if (a->sig_hup) {
		g_source_remove(a->sig_hup);
	}
	if (a->sig_usr2) {
		g_source_remove(a->sig_usr2);
	}
	if (a->upgrade_id) {
		g_source_remove(a->upgrade_id);
	}
	upgrade_free(a->upgrade);
	upgrade_adopt_clear(&a->adopt);
	persist_free(a->persist);
	persist_recovery_free(a->recovery);
	g_strfreev(a->store_old);
	if (a->adopted_ctl) {
		for (guint i = 0; i < a->adopted_ctl->len; i++) {
			struct adopted_listener *l =
				g_ptr_array_index(a->adopted_ctl, i);

			if (l->fd >= 0) {
				close(l->fd);
			}
			g_free(l->name);
			g_free(l);
		}
		g_ptr_array_free(a->adopted_ctl, TRUE);
	}
	g_strfreev(a->argv);
	g_free(a->adopt_arg);
	if (a->sig_int) {
		g_source_remove(a->sig_int);
	}
	if (a->sig_term) {
		g_source_remove(a->sig_term);
	}
	notify_stop(a->notify);
	control_free(a->control);
	vm_sockets_free(a->vms);
	vu_server_free(a->server);
	listen_set_free(a->listeners);
	discipline_free(a->disc);
	if (a->page_timer) {
		g_source_remove(a->page_timer);
	}
	vmclock_page_free(a->page);
	clock_model_free(a->model);
	leap_table_free(a->leaps);
	if (a->old_leaps) {
		g_ptr_array_unref(a->old_leaps);
	}
	if (a->loop) {
		g_main_loop_unref(a->loop);
	}
	if (a->fds) {
		g_array_unref(a->fds);
	}
	config_free(a->cfg);
	g_strfreev(a->fd_args);
	g_free(a->config_path);
	if (a->cli) {
		g_ptr_array_unref(a->cli);
	}
}

int main(int argc, char **argv)
{
	struct app a = { 0 };
	int status;

	/* Character set only: GLib's messages in the user's encoding. */
	setlocale(LC_CTYPE, "");
	g_set_prgname("vhost-user-rtc");
	g_log_writer_default_set_use_stderr(TRUE);
	a.start_ns = (uint64_t)g_get_monotonic_time() * 1000u;
	a.start_utc_s = (double)g_get_real_time() / 1e6;
	a.cli = g_ptr_array_new_with_free_func(g_free);
	a.fds = g_array_new(FALSE, FALSE, sizeof(int));
	a.listeners = listen_set_new();
	a.old_leaps =
		g_ptr_array_new_with_free_func((GDestroyNotify)leap_table_free);
	a.socket_gid = LISTEN_NO_GROUP;
	a.control_gid = LISTEN_NO_GROUP;

	a.argv = g_strdupv(argv);
	a.adopt.ready_fd = -1;
	status = options_parse(&a, &argc, &argv);
	if (status != EXIT_OK) {
		goto out;
	}
	if (a.print_caps) {
		options_print_capabilities();
		goto out;
	}
	if (a.version) {
		printf("vhost-user-rtc %s\n", VRTC_VERSION);
		goto out;
	}
	if (a.adopt_arg) {
		GError *err = NULL;

		a.adopted_ctl = g_ptr_array_new();
		if (upgrade_adopt_open(&a.adopt, a.adopt_arg, &err)) {
			app_fail("%s", err->message);
			upgrade_adopt_failed(&a.adopt, err->message);
			g_error_free(err);
			status = EXIT_FAIL;
			goto out;
		}
	}
	/* started again after a crash: the fd store hands back its state */
	if (!a.adopt_arg && !a.check_config) {
		a.recovery = persist_recovery_open();
		if (a.recovery) {
			a.adopted_ctl = g_ptr_array_new();
		}
	}
	if (configure_start(&a)) {
		upgrade_adopt_failed(&a.adopt, "the configuration was refused "
					       "(the new process's log says "
					       "why)");
		status = EXIT_FAIL;
		goto out;
	}
	if (a.check_config) {
		char *clocks = configure_clock_list(&a.cfg->vrtc);

		printf("configuration valid: %u clocks (%s)\n",
		       a.cfg->vrtc.num_clocks, clocks);
		g_free(clocks);
		goto out;
	}
	if (serve_run(&a)) {
		status = EXIT_FAIL;
		/* a new process of a live upgrade: say why to the launcher */
		upgrade_adopt_failed(&a.adopt, app_last_fail);
	}
out:
	cleanup(&a);
	return status;
}
