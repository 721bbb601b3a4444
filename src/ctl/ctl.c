// SPDX-License-Identifier: MIT
/*
 * vhost-user-rtc-ctl: asks a running daemon over its control socket
 * (control-socket=) and prints the answer: status as text or JSON, the
 * Prometheus metrics. One request per run, with a timeout; nothing here
 * can disturb the daemon's VMs (the daemon bounds every client).
 */
#include <errno.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_client.h"

#define RUN_DIR "/run/vhost-user-rtc"
#define REPLY_MAX (16u << 20)

static gchar *opt_socket;
static gboolean opt_json, opt_pretty;
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
	"\n"
	"The daemon answers only with control-socket=PATH set (the systemd "
	"unit\n"
	"sets " RUN_DIR "/VM.ctl). Examples:\n"
	"  vhost-user-rtc-ctl status\n"
	"  vhost-user-rtc-ctl --socket " RUN_DIR "/vm1.ctl status --json "
	"--pretty\n";

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
		for (i = 0; i < found->len; i++) {
			fprintf(stderr, "%s\n",
				(char *)g_ptr_array_index(found, i));
		}
		fprintf(stderr, "several control sockets (above): choose one "
				"with --socket\n");
	} else {
		fprintf(stderr, "no control socket in " RUN_DIR
				": give --socket PATH (the daemon listens "
				"only with control-socket=PATH)\n");
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

int main(int argc, char **argv)
{
	GOptionContext *ctx = g_option_context_new(
		"status|metrics|help - ask a running vhost-user-rtc");
	char *reply = NULL;
	size_t len = 0;
	GError *e = NULL;
	const char *cmd;
	char *path = NULL;
	int r, status = 1;

	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx, description);
	if (!g_option_context_parse(ctx, &argc, &argv, &e)) {
		fprintf(stderr, "%s (see --help)\n", e->message);
		g_error_free(e);
		status = 2;
		goto out;
	}
	if (argc != 2 ||
	    (strcmp(argv[1], "status") != 0 &&
	     strcmp(argv[1], "metrics") != 0 && strcmp(argv[1], "help") != 0)) {
		fprintf(stderr, "give one command: status, metrics or help "
				"(see --help)\n");
		status = 2;
		goto out;
	}
	if (opt_timeout_ms <= 0) {
		fprintf(stderr, "--timeout must be positive\n");
		status = 2;
		goto out;
	}
	if ((opt_json || opt_pretty) && strcmp(argv[1], "status") != 0) {
		fprintf(stderr, "--json and --pretty go with status\n");
		status = 2;
		goto out;
	}
	path = opt_socket ? g_strdup(opt_socket) : find_socket();
	if (!path) {
		goto out;
	}
	cmd = !strcmp(argv[1], "status")
		      ? (opt_json || opt_pretty ? "status json\n" : "status\n")
	      : !strcmp(argv[1], "metrics") ? "metrics\n"
					    : "help\n";
	r = control_ask(path, cmd, opt_timeout_ms, REPLY_MAX, &reply, &len,
			NULL);
	if (r) {
		fprintf(stderr, "%s: %s\n", path,
			r == -ETIMEDOUT ? "no answer in time" : strerror(-r));
		goto out;
	}
	if (g_str_has_prefix(reply, "error: ")) {
		fputs(reply, stderr);
		goto out;
	}
	if (opt_pretty) {
		status = print_pretty(reply, len);
	} else {
		fwrite(reply, 1, len, stdout);
		status = 0;
	}
out:
	g_free(path);
	g_free(opt_socket);
	free(reply);
	g_option_context_free(ctx);
	return status;
}
