// SPDX-License-Identifier: MIT
/*
 * vhost-user-rtc-ctl: asks a running daemon over its control socket
 * (control-socket=) and prints the answer: status as text or JSON, the
 * Prometheus metrics; the VM sockets (vm list), and adding or removing
 * one at run time (vm add PATH, vm remove PATH). One request per run,
 * with a timeout; the daemon bounds every client, and only `vm remove`
 * touches VMs: those connected on the socket removed.
 *
 * Exit status, as a monitoring plugin's (Nagios/Icinga): 0 OK, 1
 * WARNING, 2 CRITICAL, 3 UNKNOWN. `status` compares the model's status
 * with --ok (the worst status still OK; synchronized by default) and,
 * as the monitoring-plugins guidelines ask, puts the verdict first on
 * stdout: one line "STATE: reason | perfdata", the full status after
 * it; an UNKNOWN says why on that line too (stdout is all NRPE keeps).
 * --json keeps stdout for the JSON alone.
 */
#include <errno.h>
#include <glib.h>
#include <stdarg.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_client.h"
#include "migrate.h"

#ifndef VRTC_VERSION
#define VRTC_VERSION "unknown"
#endif

#define RUN_DIR "/run/vhost-user-rtc"
#define REPLY_MAX (16u << 20)

enum {
	EXIT_OK = 0,
	EXIT_WARNING = 1,
	EXIT_CRITICAL = 2,
	EXIT_UNKNOWN = 3, /* no answer, bad answer, bad command line */
};

/* Model statuses, best first: the order --ok cuts. */
static const char *const ranked[] = {
	"synchronized", "initializing", "freerunning", "unreliable", "unknown",
};

/* `status` as a plugin (not --json): every outcome first on stdout. */
static bool plugin;

/*
 * Why the request failed: as a plugin, "UNKNOWN: why" on stdout (the
 * plugin's first line); otherwise the bare line on stderr.
 */
static void __attribute__((format(printf, 1, 2))) complain(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (plugin) {
		fputs("UNKNOWN: ", stdout);
		vprintf(fmt, ap);
	} else {
		vfprintf(stderr, fmt, ap);
	}
	va_end(ap);
}

static gchar *opt_socket, *opt_ok;
static gboolean opt_json, opt_pretty, opt_version;
static gint opt_timeout_ms = 3000;

static const GOptionEntry entries[] = {
	{ "socket", 's', 0, G_OPTION_ARG_FILENAME, &opt_socket,
	  "The daemon's control socket (default: the only *.ctl in " RUN_DIR
	  ")",
	  "PATH" },
	{ "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
	  "status: as one JSON object", NULL },
	{ "pretty", 'p', 0, G_OPTION_ARG_NONE, &opt_pretty,
	  "status --json: indented", NULL },
	{ "timeout", 't', 0, G_OPTION_ARG_INT, &opt_timeout_ms,
	  "Give up after MS milliseconds (default 3000)", "MS" },
	{ "ok", 0, 0, G_OPTION_ARG_STRING, &opt_ok,
	  "status: the worst model status that exits 0 (default "
	  "synchronized)",
	  "STATUS" },
	{ "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version,
	  "Print the version and exit", NULL },
	{ NULL },
};

static const char description[] =
	"Commands:\n"
	"  status     the source followed and every source's health, the "
	"model\n"
	"             (status, bound, frequency, leap state) and the "
	"connected VMs\n"
	"             with their request and error counts\n"
	"  metrics    the same as Prometheus text (the daemon can also "
	"serve it\n"
	"             over HTTP: metrics-address=127.0.0.1:PORT)\n"
	"  help       the commands the daemon knows\n"
	"  vm list    the VM sockets served, with their connections\n"
	"  vm add PATH\n"
	"             serve VMs on a new socket, without a restart: a "
	"name (vm3.sock)\n"
	"             or an absolute path in the daemon's vm-socket-dir\n"
	"  vm remove PATH\n"
	"             close that socket and the VMs connected on it "
	"(only those)\n"
	"             and remove its file\n"
	"  upgrade    hand every VM connection, socket and state to the "
	"daemon\n"
	"             binary now on disk (live upgrade), and wait until it "
	"serves:\n"
	"             exit 0 with the new pid and the pause, or 1 with the "
	"reason\n"
	"             (the running daemon then serves on)\n"
	"  migrate --qmp PATH --dest-qmp PATH --uri URI\n"
	"             live-migrate a VM whose QEMU refuses to (QEMU 11.1 "
	"marks\n"
	"             vhost-user-rtc unmigratable): unplug the device, "
	"migrate,\n"
	"             plug it on the destination (migrate --help)\n"
	"\n"
	"Exit status (like a Nagios/Icinga plugin): 0 OK, 1 WARNING, 2 "
	"CRITICAL,\n"
	"3 UNKNOWN (no daemon answering, a reply that is not understood, "
	"a bad\n"
	"command line, a vm command the daemon refused). For status, the "
	"model's status, best first:\n"
	"synchronized, initializing, freerunning, unreliable, unknown (no "
	"model).\n"
	"Those up to --ok (default synchronized) exit 0; a worse "
	"initializing or\n"
	"freerunning exits 1, a worse unreliable or unknown exits 2. The "
	"first line\n"
	"of status is the verdict (\"CRITICAL: model unreliable, ... | "
	"bound=...\"),\n"
	"as monitoring plugins print it. "
	"Example for\n"
	"a check that tolerates start-up: status --ok initializing.\n"
	"\n"
	"The daemon answers only with control-socket=PATH set (the systemd "
	"unit\n"
	"sets " RUN_DIR "/VM.ctl). Examples:\n"
	"  vhost-user-rtc-ctl status\n"
	"  vhost-user-rtc-ctl --socket " RUN_DIR "/vm1.ctl status --json "
	"--pretty\n"
	"  vhost-user-rtc-ctl vm add vm3.sock\n";

static int ask(const char *path, const char *cmd, char **reply, size_t *len);

/* The daemon's pid and live-upgrade counters from `status json`. */
static bool upgrade_state(const char *json, size_t len, gint64 *pid,
			  gint64 *gen, gint64 *failed, double *pause_ms,
			  char **error)
{
	JsonParser *p = json_parser_new();
	JsonObject *root, *u;
	bool ok = false;

	if (json_parser_load_from_data(p, json, (gssize)len, NULL) &&
	    JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
		root = json_node_get_object(json_parser_get_root(p));
		u = json_object_has_member(root, "upgrade")
			    ? json_object_get_object_member(root, "upgrade")
			    : NULL;
		if (u && json_object_has_member(root, "pid")) {
			*pid = json_object_get_int_member(root, "pid");
			*gen = json_object_get_int_member(u, "generation");
			*failed = json_object_get_int_member(u, "failed_total");
			*pause_ms = json_object_get_double_member(
				u, "last_pause_ms");
			g_free(*error);
			*error = g_strdup(
				json_object_get_string_member(u, "last_error"));
			ok = true;
		}
	}
	g_object_unref(p);
	return ok;
}

/*
 * upgrade: ask for it, then follow it in `status json` until another
 * process answers (done) or the same one counts a failure (its reason).
 */
static int run_upgrade(const char *path)
{
	gint64 pid0, gen0, failed0, pid, gen, failed;
	double pause_ms;
	char *json = NULL, *reply = NULL, *error = NULL;
	gint64 end;
	size_t len;
	int status = EXIT_UNKNOWN;

	if (ask(path, "status json\n", &json, &len)) {
		goto out;
	}
	if (!upgrade_state(json, len, &pid0, &gen0, &failed0, &pause_ms,
			   &error)) {
		fprintf(stderr, "%s: this daemon does not know live upgrades\n",
			path);
		goto out;
	}
	if (ask(path, "upgrade\n", &reply, &len)) {
		status = EXIT_WARNING;
		goto out;
	}
	end = g_get_monotonic_time() + (gint64)20 * G_USEC_PER_SEC;
	while (g_get_monotonic_time() < end) {
		bool connected;

		g_usleep((gulong)50 * 1000);
		free(json);
		json = NULL;
		/* quietly: the hand-over may hold the socket a moment */
		if (control_ask(path, "status json\n", opt_timeout_ms,
				REPLY_MAX, &json, &len, &connected) ||
		    !upgrade_state(json, len, &pid, &gen, &failed, &pause_ms,
				   &error)) {
			continue;
		}
		if (pid != pid0 && gen > gen0) {
			printf("upgraded: pid %" G_GINT64_FORMAT
			       " -> %" G_GINT64_FORMAT
			       ", generation %" G_GINT64_FORMAT
			       ", pause of service %.1f ms\n",
			       pid0, pid, gen, pause_ms);
			status = EXIT_OK;
			goto out;
		}
		if (pid == pid0 && failed > failed0) {
			printf("upgrade failed, pid %" G_GINT64_FORMAT
			       " serves on: %s\n",
			       pid0, error ? error : "?");
			status = EXIT_WARNING;
			goto out;
		}
	}
	printf("upgrade: no outcome within 20 s (pid %" G_GINT64_FORMAT
	       " asked)\n",
	       pid0);
out:
	free(json);
	free(reply);
	g_free(error);
	return status;
}

/* The only *.ctl in RUN_DIR; NULL with a message otherwise. */
static char *find_socket(void)
{
	GPtrArray *found = g_ptr_array_new_with_free_func(g_free);
	GDir *d = g_dir_open(RUN_DIR, 0, NULL);
	const char *n;
	char *path = NULL;
	guint i;

	while (d && (n = g_dir_read_name(d))) {
		if (g_str_has_suffix(n, ".ctl")) {
			g_ptr_array_add(found,
					g_build_filename(RUN_DIR, n, NULL));
		}
	}
	if (d) {
		g_dir_close(d);
	}
	if (found->len == 1) {
		path = g_strdup(g_ptr_array_index(found, 0));
	} else if (found->len > 1) {
		complain("several control sockets in " RUN_DIR
			 " (below): choose one with --socket\n");
		for (i = 0; i < found->len; i++) {
			fprintf(plugin ? stdout : stderr, "%s\n",
				(char *)g_ptr_array_index(found, i));
		}
	} else {
		complain("no control socket in " RUN_DIR
			 ": give --socket PATH (the daemon listens only with "
			 "control-socket=PATH)\n");
	}
	g_ptr_array_unref(found);
	return path;
}

static int print_pretty(const char *reply, size_t len)
{
	JsonParser *p = json_parser_new();
	JsonGenerator *g;
	GError *e = NULL;
	char *text;

	if (!json_parser_load_from_data(p, reply, (gssize)len, &e)) {
		fprintf(stderr, "the daemon's JSON does not parse: %s\n",
			e->message);
		g_error_free(e);
		g_object_unref(p);
		return 1;
	}
	g = json_generator_new();
	json_generator_set_pretty(g, TRUE);
	json_generator_set_root(g, json_parser_get_root(p));
	text = json_generator_to_data(g, NULL);
	printf("%s\n", text);
	g_free(text);
	g_object_unref(g);
	g_object_unref(p);
	return 0;
}

static int rank_of(const char *status)
{
	for (unsigned int i = 0; i < G_N_ELEMENTS(ranked); i++) {
		if (!strcmp(ranked[i], status)) {
			return (int)i;
		}
	}
	return -1;
}

/*
 * The exit status for the model status in the daemon's `status json`
 * @reply against --ok rank @ok; EXIT_UNKNOWN if it cannot be read. The
 * status in *@what (g_free), the bound in *@bound_s (-1: none).
 */
static int status_exit(const char *reply, size_t len, int ok, char **what,
		       double *bound_s)
{
	JsonParser *p = json_parser_new();
	JsonObject *root, *model;
	const char *st = NULL;
	int rank, code = EXIT_UNKNOWN;

	*what = NULL;
	*bound_s = -1;
	if (json_parser_load_from_data(p, reply, (gssize)len, NULL) &&
	    JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
		root = json_node_get_object(json_parser_get_root(p));
		model = json_object_has_member(root, "model")
				? json_object_get_object_member(root, "model")
				: NULL;
		if (model && json_object_has_member(model, "status")) {
			st = json_object_get_string_member(model, "status");
		}
		/* null before the first model */
		if (model && json_object_has_member(model, "bound_ns") &&
		    json_node_get_value_type(json_object_get_member(
			    model, "bound_ns")) == G_TYPE_INT64) {
			*bound_s = (double)json_object_get_int_member(
					   model, "bound_ns") /
				   1e9;
		}
	}
	rank = st ? rank_of(st) : -1;
	if (rank >= 0) {
		*what = g_strdup(st);
		code = rank <= ok		      ? EXIT_OK
		       : rank < rank_of("unreliable") ? EXIT_WARNING
						      : EXIT_CRITICAL;
	}
	g_object_unref(p);
	return code;
}

/*
 * The plugin's first line: "STATE: model STATUS, bound B | bound=Bs",
 * with why it is not OK (the --ok it is worse than).
 */
static void print_verdict(int code, const char *model, int ok, double bound_s)
{
	static const char *const state[] = {
		[EXIT_OK] = "OK",
		[EXIT_WARNING] = "WARNING",
		[EXIT_CRITICAL] = "CRITICAL",
		[EXIT_UNKNOWN] = "UNKNOWN",
	};

	printf("%s: model %s", state[code], model);
	if (code != EXIT_OK) {
		printf(", worse than --ok %s", ranked[ok]);
	}
	if (bound_s >= 0) {
		printf(", bound %.3g s | bound=%.9fs;;;0", bound_s, bound_s);
	}
	putchar('\n');
}

/* One exchange; prints why it failed. 0 or EXIT_UNKNOWN. */
static int ask(const char *path, const char *cmd, char **reply, size_t *len)
{
	bool connected;
	int r = control_ask(path, cmd, opt_timeout_ms, REPLY_MAX, reply, len,
			    &connected);

	if (r == -ECONNRESET || (!r && *len == 0)) {
		complain("%s closed the connection without answering: is it "
			 "a VM's vhost-user socket (socket-path=)? "
			 "vhost-user-rtc-ctl talks to the control socket "
			 "(control-socket=, e.g. " RUN_DIR "/VM.ctl)\n",
			 path);
		return EXIT_UNKNOWN;
	}
	if (r) {
		complain("%s: %s\n", path,
			 r == -ETIMEDOUT ? "no answer in time" : strerror(-r));
		return EXIT_UNKNOWN;
	}
	if (g_str_has_prefix(*reply, "error: ")) {
		complain("%s", *reply);
		return EXIT_UNKNOWN;
	}
	return 0;
}

/*
 * The request for `vm list | vm add PATH | vm remove PATH` in @argv
 * (after the program name), or NULL with a message.
 */
static char *vm_request(int argc, char **argv)
{
	bool list = argc == 2 && !strcmp(argv[1], "list");
	bool change = argc == 3 &&
		      (!strcmp(argv[1], "add") || !strcmp(argv[1], "remove"));

	if (!list && !change) {
		fprintf(stderr, "give vm list, vm add PATH or vm remove PATH "
				"(see --help)\n");
		return NULL;
	}
	if (list) {
		return g_strdup("vm list\n");
	}
	/* one line, one word: the daemon's protocol */
	if (!argv[2][0] || strpbrk(argv[2], " \t\r\n")) {
		fprintf(stderr,
			"vm %s: PATH must be one word, without blanks\n",
			argv[1]);
		return NULL;
	}
	return g_strdup_printf("vm %s %s\n", argv[1], argv[2]);
}

int main(int argc, char **argv)
{
	GOptionContext *ctx = g_option_context_new(
		"status|metrics|help - ask a running vhost-user-rtc");
	char *reply = NULL, *json = NULL, *model = NULL;
	size_t len = 0, jlen = 0;
	GError *e = NULL;
	const char *cmd;
	char *path = NULL, *vm = NULL;
	double bound_s = -1;
	int ok = 0, code = EXIT_OK, status = EXIT_UNKNOWN;

	/* its own options, and QMP sockets instead of the control socket */
	if (argc >= 2 && !strcmp(argv[1], "migrate")) {
		g_option_context_free(ctx);
		return migrate_main(argc - 1, argv + 1);
	}
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx, description);
	if (!g_option_context_parse(ctx, &argc, &argv, &e)) {
		fprintf(stderr, "%s (see --help)\n", e->message);
		g_error_free(e);
		goto out;
	}
	if (opt_version) {
		printf("vhost-user-rtc-ctl %s\n", VRTC_VERSION);
		status = EXIT_OK;
		goto out;
	}
	if (argc >= 2 && !strcmp(argv[1], "vm")) {
		vm = vm_request(argc - 1, argv + 1);
		if (!vm) {
			goto out;
		}
	} else if (argc != 2 || (strcmp(argv[1], "status") != 0 &&
				 strcmp(argv[1], "metrics") != 0 &&
				 strcmp(argv[1], "upgrade") != 0 &&
				 strcmp(argv[1], "help") != 0)) {
		fprintf(stderr, "give one command: status, metrics, upgrade, "
				"help or vm (see --help)\n");
		goto out;
	}
	if (opt_timeout_ms <= 0) {
		fprintf(stderr, "--timeout must be positive\n");
		goto out;
	}
	if ((opt_json || opt_pretty || opt_ok) &&
	    strcmp(argv[1], "status") != 0) {
		fprintf(stderr, "--json, --pretty and --ok go with status\n");
		goto out;
	}
	plugin = !strcmp(argv[1], "status") && !opt_json && !opt_pretty;
	if (opt_ok && (ok = rank_of(opt_ok)) < 0) {
		complain("--ok %s: not a model status (synchronized, "
			 "initializing, freerunning, unreliable, unknown)\n",
			 opt_ok);
		goto out;
	}
	path = opt_socket ? g_strdup(opt_socket) : find_socket();
	if (!path) {
		goto out;
	}
	if (!strcmp(argv[1], "upgrade")) {
		status = run_upgrade(path);
		goto out;
	}
	if (!strcmp(argv[1], "status")) {
		/* the exit status comes from the model in the JSON view */
		if (ask(path, "status json\n", &json, &jlen)) {
			goto out;
		}
		code = status_exit(json, jlen, ok, &model, &bound_s);
		if (code == EXIT_UNKNOWN) {
			complain("%s: no model status in the reply\n", path);
			goto out;
		}
	}
	if (opt_json || opt_pretty) {
		reply = json;
		len = jlen;
		json = NULL;
	} else {
		cmd = vm			    ? vm
		      : !strcmp(argv[1], "status")  ? "status\n"
		      : !strcmp(argv[1], "metrics") ? "metrics\n"
						    : "help\n";
		if (ask(path, cmd, &reply, &len)) {
			goto out;
		}
	}
	/* the verdict first (JSON output stays JSON alone) */
	if (plugin) {
		print_verdict(code, model, ok, bound_s);
	}
	if (opt_pretty) {
		status = print_pretty(reply, len) ? EXIT_UNKNOWN : code;
	} else {
		fwrite(reply, 1, len, stdout);
		status = code;
	}
out:
	g_free(path);
	g_free(vm);
	g_free(model);
	g_free(opt_socket);
	g_free(opt_ok);
	free(json);
	free(reply);
	g_option_context_free(ctx);
	return status;
}
