/* SPDX-License-Identifier: MIT */
/*
 * vhost-user-rtc: the daemon. Options and config, start-up in dependency
 * order, the main loop, and a clean exit on SIGTERM/SIGINT. Follows the
 * vhost-user "backend program conventions" (QEMU docs/interop/
 * vhost-user.rst): --socket-path/--fd, --print-capabilities, no
 * self-daemonizing.
 *
 * Exit status: 0 success; 1 invalid configuration or start-up failure;
 * 2 the command line could not be parsed; 3 a system call outside the
 * seccomp allow-list (syscall_filter.h).
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <limits.h>
#include <locale.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock_model_writer.h"
#include "config.h"
#include "control.h"
#include "discipline.h"
#include "estimator.h"
#include "handover.h"
#include "persist.h"
#include "error.h"
#include "leap.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "privdrop.h"
#include "status.h"
#include "syscall_filter.h"
#include "upgrade.h"
#include "virtio_rtc.h"
#include "vm_sockets.h"
#include "vmclock_page.h"
#include "vu_server.h"

#ifndef VRTC_VERSION
#define VRTC_VERSION "unknown"
#endif

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,	/* bad configuration, start-up failure */
	EXIT_USAGE = 2, /* command line not parsable */
};

struct app {
	/* options */
	GPtrArray *cli; /* key, value, key, value... of table options */
	char *config_path;
	char **fd_args;
	gboolean print_caps, version, check_config, verbose;
	gboolean seccomp_selftest; /* hidden, for the tests */

	struct config *cfg;
	struct privdrop_target priv;
	GArray *fds; /* int: validated --fd listeners */
	struct leap_table *leaps;
	GPtrArray *old_leaps; /* replaced by SIGHUP; snapshots may use them */
	struct clock_model *model;
	struct vmclock_page *page; /* NULL: no status page */
	guint page_timer;	   /* its refresh while nothing is published */
	struct discipline *disc;
	struct vu_server *server;
	struct control *control;       /* NULL: no control socket nor metrics */
	struct notify *notify;	       /* NULL: not started by systemd */
	uint64_t start_ns;	       /* CLOCK_MONOTONIC at start */
	double start_utc_s;	       /* CLOCK_REALTIME at start, POSIX s */
	struct listen_set *listeners;  /* the socket files we made */
	struct vm_sockets *vms;	       /* the VM sockets, vm add/remove */
	gid_t socket_gid, control_gid; /* LISTEN_NO_GROUP: unset */
	GMainLoop *loop;
	guint sig_term, sig_int, sig_hup, sig_usr2;

	/* live upgrade (upgrade.h) */
	char **argv;	 /* as started, for the next process */
	char *adopt_arg; /* --adopt: we are that next process */
	struct upgrade_adopt adopt;
	GPtrArray *adopted_ctl;	 /* struct adopted_listener */
	struct upgrade *upgrade; /* NULL: not possible (why below) */
	char upgrade_off[160];
	guint upgrade_id;	   /* the scheduled hand-over */
	struct status_upgrade upg; /* for status and metrics */

	/* crash recovery (persist.h) */
	struct persist *persist;	   /* NULL: no fd store */
	struct persist_recovery *recovery; /* started after a crash */
	char **store_old; /* names stored by the process before a live
			     upgrade, removed once ours are */
};

/* A control or metrics listener handed over by the process before. */
struct adopted_listener {
	char *name;
	int fd;
	uint32_t proto;
};

static const char summary[] =
	"Serves the host's disciplined time to virtual machines as a "
	"virtio-rtc device\n"
	"(VIRTIO 1.4 section 5.23) over vhost-user. Start it before QEMU: "
	"QEMU connects\n"
	"to the socket as a client. One daemon serves many VMs: one "
	"socket per VM,\n"
	"or any number of VMs on one socket.";

static const char description[] =
	"Clocks (default --clocks utc,tai,monotonic,utc-smeared) and what a "
	"Linux >= 6.16\n"
	"guest with CONFIG_VIRTIO_RTC, _PTP and _CLASS sees:\n"
	"  id 0 utc          /dev/ptpN \"Virtio PTP type 0/variant 0\"; steps "
	"back 1 s at\n"
	"                    a leap second, like CLOCK_REALTIME\n"
	"  id 1 tai          /dev/ptpN \"Virtio PTP type 1/variant 0\"; "
	"TAI = UTC + the leap\n"
	"                    table's offset (37 s since 2017), even when "
	"the host\n"
	"                    kernel's TAI offset is unset\n"
	"  id 2 monotonic    /dev/ptpN \"Virtio PTP type 2/variant 0\"; never "
	"goes back\n"
	"  id 3 utc-smeared  /dev/ptpN \"Virtio PTP type 3/variant 1\" and a "
	"read-only\n"
	"                    /dev/rtcN: UTC with leap seconds smeared from "
	"noon to noon\n"
	"                    (--smear utc-sls: variant 2, the last "
	"1000 s of the day)\n"
	"More names: utc-noon-linear, utc-sls (smeared UTC, fixed variant). "
	"Linux makes\n"
	"/dev/rtc only from the first smeared clock. contrib/ has a guest "
	"udev rule\n"
	"(/dev/ptp_virtio_utc, ...) and a chrony refclock snippet.\n"
	"\n"
	"Example with QEMU 11.1 (guest RAM must be shared with this "
	"daemon):\n"
	"  vhost-user-rtc --socket-path /run/vhost-user-rtc/vm1.sock &\n"
	"  qemu-system-x86_64 -machine q35,memory-backend=mem -m 4G \\\n"
	"    -object memory-backend-memfd,id=mem,size=4G,share=on \\\n"
	"    -chardev socket,id=vrtc,path=/run/vhost-user-rtc/vm1.sock \\\n"
	"    -device vhost-user-rtc-pci,chardev=vrtc ...\n"
	"QEMU 10.2 and later, without vhost-user-rtc-pci:\n"
	"    -device vhost-user-test-device-pci,chardev=vrtc,virtio-id=17,"
	"num_vqs=2,vq_size=1024\n"
	"virtio-mmio machines (-M virt, -M microvm): "
	"-device vhost-user-rtc,chardev=vrtc\n"
	"Do not add reconnect-ms= to the chardev: QEMU cannot reconnect "
	"this device.\n"
	"\n"
	"Time sources (several at once; the best healthy one is followed, "
	"the log says\n"
	"which and why): --phc /dev/ptp0 (repeatable; with ptp4l, add "
	"--ptp4l-socket,\n"
	"the Nth for the Nth PHC), --chrony (the system clock as chronyd "
	"disciplines it),\n"
	"--gpsd localhost:2947, and the system clock itself, always last as "
	"the fallback\n"
	"(--system-clock off to leave it out). Sources that disagree beyond "
	"their bounds\n"
	"are outvoted (falsetickers) or, without a majority, make the status "
	"UNRELIABLE.\n"
	"Example:\n"
	"  vhost-user-rtc --phc /dev/ptp0 --ptp4l-socket /var/run/ptp4l "
	"--chrony \\\n"
	"    --socket-path /run/vhost-user-rtc/vm1.sock\n"
	"The estimator keys (min-samples, max-drift-ppb, ...) rarely need "
	"changing.\n"
	"\n"
	"Config file: --config FILE, section [" CONFIG_GROUP "], keys named "
	"like the\n"
	"long options above (socket-path=a.sock;b.sock); the command line "
	"wins.\n"
	"Privileges: started as root, it opens devices and sockets, then "
	"runs as --user\n"
	"(default: vhost-user-rtc if that user exists, else root with a "
	"warning) with\n"
	"no capabilities, no_new_privs and a seccomp system-call "
	"allow-list.\n"
	"Exit status: 0 success, 1 invalid configuration or start-up "
	"failure,\n"
	"2 command line not parsable, 3 a system call the seccomp filter "
	"denied.";

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

/* One error line on stderr, before logging is set up or instead of it. */
/* The last start-up failure, for a live upgrade's launcher. */
static char last_fail[160];

static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	/* at error priority in the journal (log.h) */
	g_printerr("%s%s: %s\n", log_err_prefix(), g_get_prgname(), msg);
	g_strlcpy(last_fail, msg, sizeof(last_fail));
	g_free(msg);
}

/* Options */

static gboolean on_table_option(const gchar *name, const gchar *value,
				gpointer data, GError **err)
{
	struct app *a = data;

	/* Table options are long-only: @name is "--key". */
	if (!value) {
		/* a flag-style key given alone: its flag value */
		size_t n, i;
		const struct config_key *k = config_keys(&n);

		for (i = 0; i < n && strcmp(k[i].name, name + 2) != 0; i++) {
		}
		value = i < n ? k[i].flag_value : NULL;
		if (!value) {
			g_set_error(err, G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    "%s needs a value", name);
			return FALSE;
		}
	}
	g_ptr_array_add(a->cli, g_strdup(name + 2));
	g_ptr_array_add(a->cli, g_strdup(value));
	return TRUE;
}

/* --no-alarm: the same as --alarm off. */
static gboolean on_no_alarm(const gchar *name, const gchar *value,
			    gpointer data, GError **err)
{
	struct app *a = data;

	g_ptr_array_add(a->cli, g_strdup("alarm"));
	g_ptr_array_add(a->cli, g_strdup("off"));
	return TRUE;
}

static int parse_options(struct app *a, int *argc, char ***argv)
{
	GOptionEntry fixed[] = {
		{ "fd", 0, 0, G_OPTION_ARG_STRING_ARRAY, &a->fd_args,
		  "Serve VMs on this inherited listening socket (repeatable)",
		  "N" },
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &a->config_path,
		  "Read settings from this key file", "FILE" },
		{ "check-config", 0, 0, G_OPTION_ARG_NONE, &a->check_config,
		  "Validate configuration and options, exit 0 or 1", NULL },
		{ "print-capabilities", 0, 0, G_OPTION_ARG_NONE, &a->print_caps,
		  "Print the back-end capabilities (JSON) and exit", NULL },
		{ "no-alarm", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
		  (gpointer)on_no_alarm,
		  "Do not offer alarms (same as --alarm off)", NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &a->verbose,
		  "Log debug messages (same as --log-level debug)", NULL },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &a->version,
		  "Print the version and exit", NULL },
		{ "adopt", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING,
		  &a->adopt_arg,
		  "Adopt the VMs of the process before (set by the live "
		  "upgrade)",
		  "IMAGE,READY,FIRST,N" },
		{ "debug-seccomp-selftest", 0, G_OPTION_FLAG_HIDDEN,
		  G_OPTION_ARG_NONE, &a->seccomp_selftest,
		  "Make a denied system call once serving (tests)", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	size_t nkeys, i, n = 0;
	const struct config_key *keys = config_keys(&nkeys);
	GOptionEntry *entries =
		g_new0(GOptionEntry, nkeys + G_N_ELEMENTS(fixed));
	GPtrArray *texts = g_ptr_array_new_with_free_func(g_free);
	GOptionContext *ctx;
	GOptionGroup *group;
	GError *err = NULL;
	int r = EXIT_OK;

	for (i = 0; i < nkeys; i++) {
		const struct config_key *k = &keys[i];
		char *help = k->def ? g_strdup_printf("%s (default: %s)",
						      k->help, k->def)
				    : g_strdup(k->help);

		g_ptr_array_add(texts, help);
		entries[n++] = (GOptionEntry){
			.long_name = k->name,
			.flags = k->flag_value ? G_OPTION_FLAG_OPTIONAL_ARG : 0,
			.arg = G_OPTION_ARG_CALLBACK,
			.arg_data = (gpointer)on_table_option,
			.description = help,
			.arg_description = k->arg,
		};
		if (i == 0) {
			/* --fd right after --socket-path in --help */
			entries[n++] = fixed[0];
		}
	}
	for (i = 1; i < G_N_ELEMENTS(fixed); i++) {
		entries[n++] = fixed[i];
	}

	ctx = g_option_context_new(NULL);
	group = g_option_group_new(CONFIG_GROUP, "Options", "Show options", a,
				   NULL);
	g_option_group_add_entries(group, entries);
	g_option_context_set_main_group(ctx, group);
	g_option_context_set_summary(ctx, summary);
	g_option_context_set_description(ctx, description);
	if (!g_option_context_parse(ctx, argc, argv, &err)) {
		fail("%s (see --help)", err->message);
		g_error_free(err);
		r = EXIT_USAGE;
	} else if (*argc > 1) {
		fail("unexpected argument \"%s\" (see --help)", (*argv)[1]);
		r = EXIT_USAGE;
	}
	g_option_context_free(ctx);
	g_ptr_array_unref(texts);
	g_free(entries);
	return r;
}

static void print_capabilities(void)
{
	/* No rtc-specific capability names are defined by QEMU yet. */
	printf("{\n  \"type\": \"rtc\",\n  \"features\": []\n}\n");
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

static const char *upgrade_schedule(struct app *a);

static void control_answer(enum control_cmd cmd, const char *arg, GString *out,
			   void *ctx)
{
	struct app *a = ctx;
	struct status_report r;

	if (cmd == CONTROL_CMD_VM_LIST || cmd == CONTROL_CMD_VM_ADD ||
	    cmd == CONTROL_CMD_VM_REMOVE) {
		(void)vm_sockets_answer(a->vms, cmd, arg, out);
		if (cmd != CONTROL_CMD_VM_LIST) {
			persist_global_changed(a->persist);
		}
		return;
	}
	if (cmd == CONTROL_CMD_UPGRADE) {
		const char *off = upgrade_schedule(a);

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
	status_collect(&r, a->disc, a->server, a->start_ns, a->start_utc_s);
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
		status_render_json(&r, out);
	} else if (cmd == CONTROL_CMD_METRICS) {
		status_render_metrics(&r, out);
	} else {
		status_render_text(&r, out);
	}
	status_report_clear(&r);
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

/* Live upgrade */

static uint64_t mono_now_ns(void)
{
	return (uint64_t)g_get_monotonic_time() * 1000u;
}

/*
 * The daemon's own records: everything but the VM connections (a live
 * upgrade adds those; crash recovery stores each apart, persist.h).
 */
static void save_daemon(struct app *a, struct ho_writer *w, bool conns, int *rc)
{
	struct estimator_state st;
	uint64_t t = htole64(mono_now_ns());

	ho_put_u32(w, HO_GENERATION, a->upg.generation);
	ho_put(w, HO_SAVED_AT, &t, sizeof(t));
	/* the model first: the alarms are armed against it */
	if (discipline_save(a->disc, &st) == 0) {
		ho_put(w, HO_ESTIMATOR, &st, sizeof(st));
	}
	vm_sockets_save(a->vms, w);
	if (a->page) {
		uint64_t m = htole64(vmclock_page_marker_base(a->page));

		ho_put(w, HO_PAGE_MARKER, &m, sizeof(m));
		/* with its lock: one daemon per page, the next one now */
		ho_put_fd_as(w, HO_PAGE_FD, vmclock_page_fd(a->page));
	}
	ho_begin(w, HO_SERVER);
	if (conns) {
		*rc = vu_server_save(a->server, w);
	} else {
		vu_server_save_listeners(a->server, w);
	}
	ho_end(w);
	if (a->control) {
		control_save(a->control, w);
	}
}

static void persist_daemon(struct ho_writer *w, void *ctx)
{
	int rc = 0;

	save_daemon(ctx, w, false, &rc);
}

/* Everything the next process needs, handed to it; on success we end. */
static gboolean run_upgrade(gpointer data)
{
	struct app *a = data;
	struct ho_writer *w = ho_writer_new();
	GByteArray *img = NULL;
	const int *fds;
	unsigned int n = 0;
	char why[160] = "";
	pid_t pid = 0;
	int rc = 0;

	a->upgrade_id = 0;
	save_daemon(a, w, true, &rc);
	/* what the fd store holds: the next process replaces it */
	persist_save_names(a->persist, w);
	if (!rc) {
		rc = ho_writer_finish(w, &img);
	}
	if (rc) {
		snprintf(why, sizeof(why),
			 "cannot write the hand-over image: %s",
			 g_strerror(-rc));
	} else {
		fds = ho_writer_fds(w, &n);
		rc = upgrade_now(a->upgrade, img, fds, n, &pid, why,
				 sizeof(why));
	}
	if (!rc) {
		g_message("live upgrade: %u VM connection(s) and %u fds handed "
			  "to pid %d (generation %u); this process ends",
			  vu_server_num_connections(a->server), n, (int)pid,
			  a->upg.generation + 1);
		notify_mainpid(pid);
		/* Touch nothing: the sockets, the rings, the page and the
		 * socket files are the next process's now. */
		_exit(EXIT_OK);
	}
	a->upg.failed++;
	snprintf(a->upg.last_error, sizeof(a->upg.last_error), "%s", why);
	g_warning("live upgrade failed: %s; this process serves on", why);
	if (img) {
		g_byte_array_unref(img);
	}
	ho_writer_free(w);
	return G_SOURCE_REMOVE;
}

/* Schedule the hand-over: first thing in the next loop iteration, with
 * nothing else run between the image and the end. */
static const char *upgrade_schedule(struct app *a)
{
	if (!a->upgrade) {
		return a->upgrade_off;
	}
	if (!a->upgrade_id) {
		a->upgrade_id =
			g_idle_add_full(G_PRIORITY_HIGH, run_upgrade, a, NULL);
	}
	return NULL;
}

static gboolean on_sigusr2(gpointer data)
{
	struct app *a = data;
	const char *off = upgrade_schedule(a);

	if (off) {
		g_warning("SIGUSR2: no live upgrade: %s", off);
	} else {
		g_message("SIGUSR2: live upgrade to %s", a->argv[0]);
	}
	return G_SOURCE_CONTINUE;
}

static int adopt_control(struct app *a, struct ho_reader *r,
			 const struct ho_item *it)
{
	struct adopted_listener *l = g_new0(struct adopted_listener, 1);
	char name[300] = "";
	struct ho_reader in;
	struct ho_item x;
	int rc;

	l->fd = -1;
	g_ptr_array_add(a->adopted_ctl, l);
	if (ho_enter(r, it, &in)) {
		return -EBADMSG;
	}
	while ((rc = ho_next(&in, &x)) > 0) {
		if (x.tag == HO_NAME && !name[0]) {
			rc = ho_get_str(&in, &x, name, sizeof(name));
		} else if (x.tag == HO_FD && l->fd < 0) {
			rc = ho_take_fd(&in, &x, &l->fd);
		} else if (x.tag == HO_SEQ) {
			rc = ho_get_u32(&in, &x, &l->proto);
		} else {
			rc = ho_fail(&in, "control listener: record 0x%x",
				     x.tag);
		}
		if (rc < 0) {
			return -EBADMSG;
		}
	}
	if (rc < 0) {
		return -EBADMSG;
	}
	l->name = g_strdup(name);
	if (!name[0] || l->fd < 0 || l->proto > CONTROL_PROTO_HTTP) {
		return ho_fail(&in, "control listener without name or fd");
	}
	return 0;
}

/* The image to adopt (a live upgrade's, or a crashed process's) and its
 * fd table; false if there is none. */
static bool adoption(struct app *a, const void **img, gsize *len,
		     struct ho_fds **fds)
{
	static struct ho_fds live;

	if (a->adopt_arg) {
		if (!live.fd) {
			live.n = a->adopt.nfds;
			live.fd = g_new(int, live.n ? live.n : 1);
			for (unsigned int i = 0; i < live.n; i++) {
				live.fd[i] = a->adopt.first_fd + (int)i;
			}
		}
		*img = g_bytes_get_data(a->adopt.image, len);
		*fds = &live;
		return true;
	}
	return a->recovery &&
	       persist_recovery_global(a->recovery, img, len, fds);
}

/* The status page's disruption base and fd in the image, or false. */
static bool adopt_page(struct app *a, uint64_t *marker, int *fd)
{
	struct ho_reader r;
	struct ho_item it;
	struct ho_fds *fds;
	const void *img;
	bool have = false;
	uint32_t i;
	gsize len;

	*fd = -1;
	if (!adoption(a, &img, &len, &fds) ||
	    ho_reader_open(&r, img, len, NULL, NULL, 0)) {
		return false;
	}
	while (ho_next(&r, &it) > 0) {
		if (it.tag == HO_PAGE_MARKER &&
		    !ho_get(&r, &it, marker, sizeof(*marker))) {
			*marker = le64toh(*marker);
			have = true;
		} else if (it.tag == HO_PAGE_FD && !ho_get_u32(&r, &it, &i) &&
			   i < fds->n) {
			*fd = fds->fd[i];
		}
	}
	return have && *fd >= 0;
}

/* HO_STORE_OLD: NUL-ended names (bad ones are skipped). */
static char **split_store_names(const uint8_t *v, uint32_t len)
{
	GPtrArray *n = g_ptr_array_new();
	uint32_t at = 0;

	while (at < len) {
		const uint8_t *z = memchr(v + at, 0, len - at);
		uint32_t end = z ? (uint32_t)(z - v) : len;

		if (end > at && end - at < 64) {
			g_ptr_array_add(
				n, g_strndup((const char *)v + at, end - at));
		}
		at = end + 1;
	}
	g_ptr_array_add(n, NULL);
	return (char **)g_ptr_array_free(n, FALSE);
}

/* --adopt: rebuild what the process before us served, serving nothing
 * yet. The image is input from another program: checked throughout. */
static int adopt_image(struct app *a, uint64_t *saved_at, GError **err)
{
	struct ho_fds *fds;
	struct estimator_state st;
	struct ho_reader r, sub;
	struct ho_item it;
	const void *img;
	char why[256] = "", path[256];
	uint32_t gen;
	gsize len;
	int rc;

	if (!adoption(a, &img, &len, &fds)) {
		return 0; /* recovery without the daemon's image: afresh */
	}
	rc = ho_reader_open(&r, img, len, fds, why, sizeof(why));
	while (rc == 0 && (rc = ho_next(&r, &it)) > 0) {
		rc = 0;
		switch (it.tag) {
		case HO_GENERATION:
			rc = ho_get_u32(&r, &it, &gen);
			a->upg.generation = gen + 1;
			a->upg.adoptions = gen;
			break;
		case HO_SAVED_AT:
			rc = ho_get(&r, &it, saved_at, sizeof(*saved_at));
			*saved_at = le64toh(*saved_at);
			break;
		case HO_ESTIMATOR:
			rc = ho_get(&r, &it, &st, sizeof(st));
			if (!rc && discipline_resume(a->disc, &st) < 0) {
				rc = ho_fail(&r,
					     "the clock model's state is not "
					     "one an estimator could hold");
			}
			break;
		case HO_PAGE_MARKER:
			break; /* read before the page was opened */
		case HO_PAGE_FD: {
			int fd;

			/* taken then; it must be the one the page holds */
			rc = ho_take_fd(&r, &it, &fd);
			if (!rc &&
			    (!a->page || fd != vmclock_page_fd(a->page))) {
				rc = ho_fail(&r, "a status page fd not in use");
			}
			break;
		}
		case HO_VM_ADDED:
			rc = ho_get_str(&r, &it, path, sizeof(path));
			if (!rc) {
				vm_sockets_note_added(a->vms, path);
				listen_own(a->listeners, path);
			}
			break;
		case HO_SERVER:
			rc = ho_enter(&r, &it, &sub);
			if (!rc) {
				rc = vu_server_adopt(a->server, &sub);
			}
			break;
		case HO_CONTROL_LISTENER:
			rc = adopt_control(a, &r, &it);
			break;
		case HO_STORE_OLD:
			if (!a->store_old) {
				a->store_old = split_store_names(it.v, it.len);
			}
			break;
		case HO_STORE_NAMES:
			break; /* the recovery's fd table: read already */
		default:
			rc = ho_fail(&r, "unknown record 0x%x", it.tag);
		}
	}
	/* a live upgrade's fds not taken are ours to close; a recovery's
	 * are the store's (persist_recovery_adopt()) */
	if (a->adopt_arg) {
		ho_fds_close_rest(fds);
	}
	if (rc < 0) {
		return error_set(err, EBADMSG, "hand-over image refused: %s",
				 why[0] ? why : g_strerror(-rc));
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

/* Start-up */

static const char *clock_label(const struct vrtc_clock *c)
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

static char *clock_list(const struct vrtc_config *v)
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
		fail("cannot use leap-second file %s: %s", path,
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

/*
 * Each --phc names an existing character device or network interface,
 * so --check-config catches a typo (opening it is start-up's job).
 */
static int check_phcs(const struct config *c, GError **err)
{
	const struct source_phc_settings *phc =
		config_source(c, &source_phc_kind);
	struct stat st;

	for (char **p = phc ? phc->phc : NULL; p && *p; p++) {
		if (!strchr(*p, '/')) {
			if (!if_nametoindex(*p)) {
				return error_set(err, ENODEV,
						 "%s: %s: no such device or "
						 "network interface",
						 config_origin(c, "phc"), *p);
			}
		} else if (stat(*p, &st) < 0) {
			return error_set(err, errno, "%s: %s: %s",
					 config_origin(c, "phc"), *p,
					 g_strerror(errno));
		} else if (!S_ISCHR(st.st_mode)) {
			return error_set(err, ENODEV,
					 "%s: %s: not a character device (a "
					 "PTP clock is /dev/ptpN)",
					 config_origin(c, "phc"), *p);
		}
	}
	return 0;
}

static int configure(struct app *a)
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
		fail("no socket to serve: give --socket-path PATH or --fd N "
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
	if (check_phcs(a->cfg, &err)) {
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
	fail("%s", err->message);
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

static void reload(struct app *a)
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
	reload(a);
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

static int serve(struct app *a)
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
	uint64_t saved_at = 0;
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
		fail("cannot create the clock model");
		goto out;
	}
	/* Before the first publish, and the privilege drop. */
	if (a->cfg->vmclock_page) {
		uint64_t marker;
		int pfd = -1;
		bool same = (a->adopt_arg || a->recovery) &&
			    adopt_page(a, &marker, &pfd);

		a->page = vmclock_page_open_as(
			a->cfg->vmclock_page, a->cfg->smear_id,
			same ? &marker : NULL, same ? pfd : -1, &err);
		if (!a->page) {
			fail("%s", err->message);
			goto out;
		}
		clock_model_set_observer(a->model, vmclock_page_observer,
					 a->page);
		a->page_timer = g_timeout_add(VMCLOCK_PAGE_REFRESH_NS / 1000000,
					      on_page_refresh, a);
	}
	if (start_sync(a, &err)) {
		fail("%s", err ? err->message : "cannot start the time source");
		goto out;
	}
	scfg.model = a->model;
	a->server = vu_server_new(&scfg);
	if (!a->server) {
		fail("cannot start the vhost-user server");
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
		if (adopt_image(a, &saved_at, &err)) {
			fail("%s", err->message);
			upgrade_adopt_failed(&a->adopt, err->message);
			goto out;
		}
	} else if (a->recovery && adopt_image(a, &saved_at, &err)) {
		/* what it did adopt is kept; the rest starts afresh */
		g_warning("crash recovery: %s", err->message);
		g_clear_error(&err);
	}
	if (start_listeners(a, where, &err)) {
		fail("%s", err->message);
		goto out;
	}
	if (start_control(a, &err)) {
		fail("%s", err->message);
		goto out;
	}
	/* vm add runs after the drop: the directory must be the user's */
	if (a->cfg->vm_socket_dir &&
	    listen_prepare_dir(a->cfg->vm_socket_dir, a->priv.uid,
			       a->socket_gid != LISTEN_NO_GROUP ? a->socket_gid
								: a->priv.gid,
			       &err)) {
		fail("vm-socket-dir: %s", err->message);
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
		fail("%s", err->message);
		goto out;
	}
	a->sig_term = g_unix_signal_add(SIGTERM, on_sigterm, a);
	a->sig_int = g_unix_signal_add(SIGINT, on_sigint, a);
	a->sig_hup = g_unix_signal_add(SIGHUP, on_sighup, a);
	a->sig_usr2 = g_unix_signal_add(SIGUSR2, on_sigusr2, a);
	sigprocmask(SIG_UNBLOCK, &stop_sigs, NULL);
	if (a->cfg->seccomp && privdrop_confine(&err)) {
		fail("%s", err->message);
		goto out;
	}
	if (a->seccomp_selftest) {
		g_message("seccomp self-test: a denied system call follows");
		syscall_filter_selftest();
	}

	a->persist =
		persist_new(a->server, a->upg.generation, persist_daemon, a);
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
			  saved_at && mono_now_ns() > saved_at
				  ? ""
				  : "; its clock model was not stored");
		persist_recovery_free(a->recovery);
		a->recovery = NULL;
	}
	if (a->adopt_arg) {
		/* ready: the process before us ends, then we serve */
		if (upgrade_adopt_ready(&a->adopt) < 0) {
			fail("live upgrade: the process before did not hand "
			     "over; exiting without serving");
			goto out;
		}
		a->upg.last_pause_ms =
			saved_at && mono_now_ns() > saved_at
				? (double)(mono_now_ns() - saved_at) / 1e6
				: 0;
		g_message("live upgrade: generation %u serves %u adopted VM "
			  "connection(s); pause of service %.1f ms",
			  a->upg.generation,
			  vu_server_num_connections(a->server),
			  a->upg.last_pause_ms);
	}
	clocks = clock_list(&a->cfg->vrtc);
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
	status = parse_options(&a, &argc, &argv);
	if (status != EXIT_OK) {
		goto out;
	}
	if (a.print_caps) {
		print_capabilities();
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
			fail("%s", err->message);
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
	if (configure(&a)) {
		upgrade_adopt_failed(&a.adopt, "the configuration was refused "
					       "(the new process's log says "
					       "why)");
		status = EXIT_FAIL;
		goto out;
	}
	if (a.check_config) {
		char *clocks = clock_list(&a.cfg->vrtc);

		printf("configuration valid: %u clocks (%s)\n",
		       a.cfg->vrtc.num_clocks, clocks);
		g_free(clocks);
		goto out;
	}
	if (serve(&a)) {
		status = EXIT_FAIL;
		/* a new process of a live upgrade: say why to the launcher */
		upgrade_adopt_failed(&a.adopt, last_fail);
	}
out:
	cleanup(&a);
	return status;
}
