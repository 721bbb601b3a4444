/* SPDX-License-Identifier: MIT */
/*
 * The daemon program's own state, shared by its files: main.c (main(),
 * the exit path), options.c (the command line and --help), configure.c
 * (options + config file -> a checked configuration, and SIGHUP's
 * reload), serve.c (start-up in dependency order, listeners, control
 * socket, main loop) and serve_upgrade.c (the live upgrade: the
 * hand-over image written, and adopted by the next process).
 *
 * Thread/loop: the main loop's only.
 */
#ifndef SRC_APP_H
#define SRC_APP_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "privdrop.h"
#include "control_status.h"
#include "upgrade.h"

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
	guint upgrade_id;		   /* the scheduled hand-over */
	struct control_status_upgrade upg; /* for status and metrics */

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

/* main.c */

/*
 * One error line on stderr, before logging is set up or instead of it.
 * The last one is kept for a live upgrade's launcher (app_last_fail).
 */
void app_fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
extern char app_last_fail[160];

/* options.c */

/* Parses the command line into @a: EXIT_OK, or EXIT_USAGE said why. */
int options_parse(struct app *a, int *argc, char ***argv);
/* --print-capabilities: the vhost-user back-end's JSON, on stdout. */
void options_print_capabilities(void);

/* configure.c */

/*
 * Options, config file, their combination: everything --check-config
 * does. 0, or -EINVAL once app_fail() said why.
 */
int configure_start(struct app *a);
/* SIGHUP: read it all again, apply what needs no restart, log the rest. */
void configure_reload(struct app *a);
/* "0 utc, 1 tai, ..." for the log; g_free() it. */
char *configure_clock_list(const struct rtcdev_config *v);

/* serve.c */

/* Starts everything and runs the main loop to SIGTERM/SIGINT: 0 or <0. */
int serve_run(struct app *a);

/* serve_upgrade.c */

/*
 * Schedules the hand-over to a new process, first thing in the next loop
 * iteration. NULL, or why no live upgrade is possible.
 */
const char *serve_upgrade_schedule(struct app *a);
/* SIGUSR2: serve_upgrade_schedule(), logged. @data: the app. */
gboolean serve_upgrade_on_sigusr2(gpointer data);
/* The status page's disruption base and fd in the image, or false. */
bool serve_adopt_page(struct app *a, uint64_t *marker, int *fd);
/*
 * --adopt: rebuild what the process before us served, serving nothing
 * yet; @saved_at gets the image's CLOCK_MONOTONIC ns. 0, or -EBADMSG
 * with @err set.
 */
int serve_adopt_image(struct app *a, uint64_t *saved_at, GError **err);

/* Crash recovery: the daemon's own records, as persist.h stores them. */
void serve_persist_daemon(struct ho_writer *w, void *ctx);

#endif
