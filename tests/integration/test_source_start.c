// SPDX-License-Identifier: MIT
/*
 * Start-up order (source-start): the real daemon started while its
 * chronyd (a real chronyd -x, harness_chronyd.c) or its gpsd (the fake
 * gpsd on a real TCP port, harness_fakegpsd.c) is down.
 *
 * retry (the default): the daemon starts and serves VMs at once; the
 * control socket's status shows the source down (chronyd "stale", "not
 * reached yet"; gpsd "error", "unreachable") and the log warns about it
 * exactly once; once the peer is started the daemon follows it, without
 * a restart. strict: the daemon refuses to start, exit 1, with one line
 * naming the socket or address.
 */
#include <json-glib/json-glib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness_chronyd.h"
#include "harness_fakegpsd.h"
#include "itest.h"

/* How long the peer may take, once up, to be followed, ms. */
#define FOLLOW_WAIT_MS 30000

static char *tmpdir;

static void ss_init(void)
{
	itest_init();
	tmpdir = g_dir_make_tmp("vrtc-srcstart-XXXXXX", NULL);
	cr_assert(tmpdir);
}

static void ss_fini(void)
{
	itest_fini();
	if (tmpdir) {
		char *ctl = g_build_filename(tmpdir, "ctl.sock", NULL);

		unlink(ctl);
		g_free(ctl);
		rmdir(tmpdir);
		g_free(tmpdir);
		tmpdir = NULL;
	}
}

static void ss_chrony_init(void)
{
	ss_init();
	chronyd_pair_start();
}

static void ss_chrony_fini(void)
{
	ss_fini();
	chronyd_pair_stop();
}

/* "status json" from the control socket at @ctl (g_free). */
static char *status_text(const char *ctl)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	static const char req[] = "status json\n";
	GString *out = g_string_new(NULL);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[4096];
	ssize_t n;

	g_strlcpy(sa.sun_path, ctl, sizeof(sa.sun_path));
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
		     "connect %s: %s", ctl, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(send(fd, req, strlen(req), MSG_NOSIGNAL),
		     (ssize_t)strlen(req));
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		g_string_append_len(out, buf, n);
	}
	cr_assert_eq(n, 0, "status not ended: %s", strerror(errno));
	close(fd);
	return g_string_free(out, FALSE);
}

struct src_view {
	char state[32], role[32], health[200];
	char selected[64]; /* the selection's, "" for none */
	bool published;	   /* the model */
};

/* Source @name's view in the daemon's status. */
static void source_view(const char *ctl, const char *name, struct src_view *v)
{
	JsonParser *p = json_parser_new();
	char *text = status_text(ctl);
	GError *e = NULL;
	JsonObject *root, *sel, *model;
	JsonArray *a;
	bool found = false;

	cr_assert(json_parser_load_from_data(p, text, -1, &e), "%s: %s",
		  e ? e->message : "", text);
	root = json_node_get_object(json_parser_get_root(p));
	sel = json_object_get_object_member(root, "selection");
	model = json_object_get_object_member(root, "model");
	cr_assert(sel && model, "%s", text);
	memset(v, 0, sizeof(*v));
	if (!json_object_get_null_member(sel, "selected")) {
		g_strlcpy(v->selected,
			  json_object_get_string_member(sel, "selected"),
			  sizeof(v->selected));
	}
	v->published = json_object_get_boolean_member(model, "published");
	a = json_object_get_array_member(root, "sources");
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		JsonObject *s = json_array_get_object_element(a, i);

		if (strcmp(json_object_get_string_member(s, "name"), name)) {
			continue;
		}
		g_strlcpy(v->state, json_object_get_string_member(s, "state"),
			  sizeof(v->state));
		g_strlcpy(v->role, json_object_get_string_member(s, "role"),
			  sizeof(v->role));
		g_strlcpy(v->health, json_object_get_string_member(s, "health"),
			  sizeof(v->health));
		found = true;
	}
	cr_assert(found, "no source \"%s\" in the status:\n%s", name, text);
	g_free(text);
	g_object_unref(p);
}

/* Wait (bounded) until the daemon follows @name; its last view. */
static void wait_following(struct vdaemon *d, const char *ctl, const char *name,
			   struct src_view *v)
{
	for (int ms = 0; ms < FOLLOW_WAIT_MS; ms += 100) {
		source_view(ctl, name, v);
		if (!strcmp(v->selected, name)) {
			return;
		}
		itest_alive(d);
		itest_sleep_ms(100);
	}
	cr_assert_fail("%s not followed within %d ms: state %s, role %s, "
		       "\"%s\"; following \"%s\"",
		       name, FOLLOW_WAIT_MS, v->state, v->role, v->health,
		       v->selected);
}

/* Occurrences of @needle in @hay. */
static unsigned int count(const char *hay, const char *needle)
{
	unsigned int n = 0;

	for (const char *p = strstr(hay, needle); p;
	     p = strstr(p + 1, needle)) {
		n++;
	}
	return n;
}

/*
 * A READ of every clock the daemon serves must answer: the system clock
 * (the fallback) gives a model while the peer is down.
 */
static void serves(struct vdaemon *d)
{
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);

	for (uint16_t c = 0; c < 4; c++) {
		(void)itest_read(v, c);
	}
	vuf_free(v);
}

Test(source_start, chronyd_down_at_start_is_followed_once_up,
     .init = ss_chrony_init, .fini = ss_chrony_fini, .timeout = ITEST_TIMEOUT)
{
	char *ctl = g_build_filename(tmpdir, "ctl.sock", NULL);
	char port[16], log[65536];
	struct src_view v;
	struct vdaemon *d;

	chronyd_client_stop(); /* chronyd not up yet */
	snprintf(port, sizeof(port), "%u", chronyd_client_cmdport);
	d = itest_startl("--chrony", "--chrony-socket", chronyd_client_sock,
			 "--chrony-port", port, "--control-socket", ctl,
			 "--sync-interval-ms", "100");
	serves(d);
	source_view(ctl, "chronyd", &v);
	cr_assert_str_eq(v.state, "stale", "%s", v.health);
	cr_assert_str_eq(v.role, "unusable");
	cr_assert(strstr(v.health, "not reached yet"), "%s", v.health);
	cr_assert(strstr(v.health, chronyd_client_sock), "%s", v.health);
	cr_assert(v.published, "no model from the system clock");
	cr_assert_str_neq(v.selected, "chronyd");

	/* a while down: still serving, asked again, warned about once */
	itest_sleep_ms(1000);
	serves(d);
	source_view(ctl, "chronyd", &v);
	cr_assert_str_eq(v.state, "stale", "%s", v.health);

	chronyd_client_start();
	wait_following(d, ctl, "chronyd", &v);
	cr_assert(strstr(v.health, "stratum"), "%s", v.health);
	serves(d);
	vdaemon_read_log(d, log, sizeof(log));
	cr_assert_eq(count(log, "chronyd stale: chronyd at"), 1,
		     "not one warning for chronyd down:\n%s", log);
	cr_assert(strstr(log, "following chronyd"), "%s", log);
	itest_stop(d);
	g_free(ctl);
}

Test(source_start, gpsd_down_at_start_is_followed_once_up, .init = ss_init,
     .fini = ss_fini, .timeout = ITEST_TIMEOUT)
{
	char *ctl = g_build_filename(tmpdir, "ctl.sock", NULL);
	char server[32], err[128], log[65536];
	struct fake_gpsd *g = fake_gpsd_start(100, err, sizeof(err));
	struct src_view v;
	struct vdaemon *d;
	int port;

	/* a free port: where gpsd will listen, once up */
	cr_assert(g, "%s", err);
	port = fake_gpsd_port(g);
	fake_gpsd_stop(g);
	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	d = itest_startl("--gpsd", server, "--control-socket", ctl,
			 "--sync-interval-ms", "100");
	serves(d);
	source_view(ctl, "gpsd", &v);
	cr_assert_str_eq(v.state, "error", "%s", v.health);
	cr_assert_str_eq(v.role, "unusable");
	cr_assert(strstr(v.health, "unreachable"), "%s", v.health);
	cr_assert(strstr(v.health, server), "%s", v.health);
	cr_assert(v.published, "no model from the system clock");

	itest_sleep_ms(1000);
	serves(d);

	g = fake_gpsd_start_on(100, port, err, sizeof(err));
	cr_assert(g, "%s", err);
	wait_following(d, ctl, "gpsd", &v);
	cr_assert(strstr(v.health, "PPS"), "%s", v.health);
	serves(d);
	vdaemon_read_log(d, log, sizeof(log));
	cr_assert_eq(count(log, "gpsd error: gpsd at"), 1,
		     "not one warning for gpsd down:\n%s", log);
	itest_stop(d);
	fake_gpsd_stop(g);
	g_free(ctl);
}

/* Run the daemon to its end; it must fail with exactly one line. */
static void refuses(const char *const *argv, const char *needle)
{
	char out[4096];
	int st = vdaemon_run(argv, 10000, out, sizeof(out));

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1,
		  "status 0x%x, output:\n%s", st, out);
	cr_assert(strstr(out, needle), "no \"%s\" in:\n%s", needle, out);
	cr_assert(strchr(out, '\n') == out + strlen(out) - 1,
		  "not one line:\n%s", out);
}

Test(source_start, strict_refuses_without_chronyd_or_gpsd, .init = ss_init,
     .fini = ss_fini, .timeout = ITEST_TIMEOUT)
{
	char *sock = g_build_filename(tmpdir, "vm.sock", NULL);
	char *chr = g_build_filename(tmpdir, "no-chronyd.sock", NULL);
	char server[32], err[128];
	struct fake_gpsd *g = fake_gpsd_start(100, err, sizeof(err));

	cr_assert(g, "%s", err);
	snprintf(server, sizeof(server), "127.0.0.1:%d", fake_gpsd_port(g));
	fake_gpsd_stop(g);
	refuses((const char *const[]){ "--socket-path", sock, "--chrony",
				       "--chrony-socket", chr, "--source-start",
				       "strict", NULL },
		chr);
	refuses((const char *const[]){ "--socket-path", sock, "--gpsd", server,
				       "--source-start=strict", NULL },
		server);
	cr_assert(access(sock, F_OK) != 0, "socket file left behind");
	g_free(chr);
	g_free(sock);
}
