// SPDX-License-Identifier: MIT
/*
 * The control socket and the metrics endpoint of the real daemon (under
 * its seccomp filter, as deployed): status counts what a VM really sent,
 * vhost-user-rtc-ctl ($VRTC_CTL) prints it, Prometheus scrapes it over
 * HTTP, and hostile local clients (idle, flooding, too many) neither
 * stall the VMs nor leak.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest_faults.h"

struct ctl_env {
	char *dir, *ctl, *port_s;
	int port;
};

/* A port nobody listens on now (bound and released). */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static struct vdaemon *start(struct ctl_env *e)
{
	struct vdaemon *d;

	e->dir = g_dir_make_tmp("vrtc-ctl-XXXXXX", NULL);
	cr_assert(e->dir);
	e->ctl = g_build_filename(e->dir, "ctl.sock", NULL);
	e->port = free_port();
	e->port_s = g_strdup_printf("127.0.0.1:%d", e->port);
	d = itest_startl("--control-socket", e->ctl, "--metrics-address",
			 e->port_s);
	return d;
}

static void env_free(struct ctl_env *e)
{
	rmdir(e->dir);
	g_free(e->dir);
	g_free(e->ctl);
	g_free(e->port_s);
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
		     "connect %s: %s", path, strerror(errno));
	return fd;
}

static int connect_tcp(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
		     "connect port %d: %s", port, strerror(errno));
	return fd;
}

/* Send @req on @fd, read until the daemon closes; the reply (g_free). */
static char *exchange(int fd, const char *req)
{
	struct timeval tv = { .tv_sec = 10 };
	GString *out = g_string_new(NULL);
	char buf[4096];
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(send(fd, req, strlen(req), MSG_NOSIGNAL),
		     (ssize_t)strlen(req));
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		g_string_append_len(out, buf, n);
	}
	cr_assert_eq(n, 0, "reply not ended by the daemon: %s",
		     strerror(errno));
	close(fd);
	return g_string_free(out, FALSE);
}

static JsonObject *status_json(JsonParser *p, const char *ctl)
{
	char *text = exchange(connect_unix(ctl), "status json\n");
	GError *e = NULL;

	cr_assert(json_parser_load_from_data(p, text, -1, &e), "%s: %s",
		  e ? e->message : "", text);
	g_free(text);
	return json_node_get_object(json_parser_get_root(p));
}

static int64_t member(JsonObject *o, const char *path)
{
	char **parts = g_strsplit(path, ".", -1);
	int64_t v;
	guint i;

	for (i = 0; parts[i + 1]; i++) {
		o = json_object_get_object_member(o, parts[i]);
		cr_assert(o, "no %s in the status", path);
	}
	cr_assert(json_object_has_member(o, parts[i]), "no %s", path);
	v = json_object_get_int_member(o, parts[i]);
	g_strfreev(parts);
	return v;
}

ITEST(control, status_counts_what_a_vm_sent)
{
	struct ctl_env e;
	struct vdaemon *d = start(&e);
	JsonParser *p = json_parser_new();
	JsonObject *root, *m, *vm;
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	int64_t req0, err0, closed0;
	uint64_t ns;
	char *text;
	int i;

	root = status_json(p, e.ctl);
	cr_assert_eq(member(root, "vms.connected"), 1);
	/* the harness's readiness probe connected and hung up before */
	closed0 = member(root, "vms.closed_total");
	vm = json_array_get_object_element(
		json_object_get_array_member(
			json_object_get_object_member(root, "vms"), "list"),
		0);
	req0 = json_object_get_int_member(vm, "requests");
	err0 = json_object_get_int_member(vm, "errors");
	for (i = 0; i < 50; i++) {
		itest_read(v, (uint16_t)(i % 4));
	}
	cr_assert_neq(vuf_rtc_read(v, 99, &ns), 0, "clock 99 must not exist");

	root = status_json(p, e.ctl);
	vm = json_array_get_object_element(
		json_object_get_array_member(
			json_object_get_object_member(root, "vms"), "list"),
		0);
	cr_assert_eq(json_object_get_int_member(vm, "requests"), req0 + 51);
	cr_assert_eq(json_object_get_int_member(vm, "errors"), err0 + 1);
	cr_assert_eq(json_object_get_int_member(json_object_get_object_member(
							vm, "errors_by_status"),
						"ENODEV"),
		     1);
	cr_assert_str_eq(json_array_get_string_element(
				 json_object_get_array_member(vm, "queues"), 0),
			 "running");
	m = json_object_get_object_member(root, "model");
	cr_assert(json_object_get_boolean_member(m, "published"));
	cr_assert_gt(member(root, "model.bound_ns"), 0);
	cr_assert_geq(member(root, "model.generation"), 1);
	cr_assert_str_eq(
		json_object_get_string_member(
			json_object_get_object_member(root, "selection"),
			"selected"),
		"system clock");
	cr_assert_eq(member(root, "leap.tai_utc_s"), 37);

	text = exchange(connect_unix(e.ctl), "status\n");
	cr_assert(strstr(text, "VMs        1 connected"), "%s", text);
	cr_assert(strstr(text, "following  system clock"), "%s", text);
	g_free(text);

	vuf_free(v);
	for (i = 0; i < 250; i++) {
		root = status_json(p, e.ctl);
		if (member(root, "vms.connected") == 0) {
			break;
		}
		itest_sleep_ms(20);
	}
	cr_assert_eq(member(root, "vms.connected"), 0);
	cr_assert_eq(member(root, "vms.closed_total"), closed0 + 1);
	cr_assert_geq(member(root, "vms.requests_total"), req0 + 51,
		      "a closed VM's requests stay counted");
	cr_assert_eq(member(root, "vms.errors_total"), err0 + 1);
	g_object_unref(p);
	itest_stop(d);
	cr_assert(access(e.ctl, F_OK) != 0, "control socket left behind");
	env_free(&e);
}

ITEST(control, ctl_tool)
{
	struct ctl_env e;
	struct vdaemon *d = start(&e);
	static char out[1 << 16];

	/* this host's clock is unsynchronised: the model is unreliable,
	 * CRITICAL (2) unless --ok accepts it */
	cr_assert_eq(itest_run_ctl((const char *[]){ "--socket", e.ctl,
						     "status", NULL },
				   out, sizeof(out)),
		     2, "%s", out);
	cr_assert(strstr(out, "model      "), "%s", out);
	cr_assert(strstr(out, "CRITICAL: model unreliable"), "%s", out);
	cr_assert_eq(
		itest_run_ctl((const char *[]){ "-s", e.ctl, "status", "--ok",
						"initializing", NULL },
			      out, sizeof(out)),
		2, "%s", out);
	cr_assert_eq(
		itest_run_ctl((const char *[]){ "-s", e.ctl, "status", "--ok",
						"unreliable", NULL },
			      out, sizeof(out)),
		0, "%s", out);
	cr_assert_eq(itest_run_ctl((const char *[]){ "-s", e.ctl, "status",
						     "--ok", "bogus", NULL },
				   out, sizeof(out)),
		     3, "%s", out);
	cr_assert_eq(itest_run_ctl((const char *[]){ "--version", NULL }, out,
				   sizeof(out)),
		     0, "%s", out);
	cr_assert(strstr(out, "vhost-user-rtc-ctl "), "%s", out);
	/* a VM's socket is not a control socket: said so, at once */
	cr_assert_eq(itest_run_ctl((const char *[]){ "-s", vdaemon_socket(d, 0),
						     "--timeout", "1500",
						     "status", NULL },
				   out, sizeof(out)),
		     3, "%s", out);
	cr_assert(strstr(out, "vhost-user socket"), "%s", out);
	cr_assert_eq(itest_run_ctl((const char *[]){ "-s", vdaemon_socket(d, 0),
						     "--timeout", "1500",
						     "metrics", NULL },
				   out, sizeof(out)),
		     3, "%s", out);
	cr_assert(strstr(out, "vhost-user socket"), "%s", out);
	cr_assert_eq(
		itest_run_ctl((const char *[]){ "-s", e.ctl, "status", "--json",
						"--pretty", "--ok",
						"unreliable", NULL },
			      out, sizeof(out)),
		0, "%s", out);
	cr_assert(strstr(out, "\n  \"model\" : {"), "indented: %s", out);
	cr_assert_eq(
		itest_run_ctl((const char *[]){ "-s", e.ctl, "metrics", NULL },
			      out, sizeof(out)),
		0, "%s", out);
	cr_assert(strstr(out, "\nvhost_user_rtc_vms_connected 0\n"), "%s", out);
	cr_assert_eq(itest_run_ctl((const char *[]){ "-s", e.ctl, "frobnicate",
						     NULL },
				   out, sizeof(out)),
		     3, "%s", out);
	cr_assert(strstr(out, "status, metrics, upgrade, help or vm"), "%s",
		  out);
	cr_assert_eq(itest_run_ctl((const char *[]){ "-s", "/nonexistent/x.ctl",
						     "status", NULL },
				   out, sizeof(out)),
		     3, "%s", out);
	cr_assert(strstr(out, "/nonexistent/x.ctl: No such file"), "%s", out);
	itest_stop(d);
	env_free(&e);
}

/*
 * The ctl's stdout alone (stderr to @err_path), as NRPE sees a plugin:
 * its exit code, stdout in @out.
 */
static int ctl_stdout(const char *const *args, const char *err_path, char *out,
		      size_t len)
{
	const char *ctl = getenv("VRTC_CTL");
	const char *argv[16] = {
		"/bin/sh", "-c",     "f=$1; shift; exec \"$@\" 2>\"$f\"",
		"sh",	   err_path, ctl ? ctl : "build/vhost-user-rtc-ctl"
	};
	unsigned int n = 6;
	int st;

	for (unsigned int i = 0; args[i]; i++) {
		cr_assert_lt(n, 15);
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	st = vdaemon_exec(argv, 10000, out, len);
	cr_assert_neq(st, -1, "the ctl did not finish: %s", out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Bytes of the file at @path (NUL-terminated in @buf). */
static const char *slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = '\0';
	if (f) {
		fclose(f);
	}
	return buf;
}

/*
 * `status` as a monitoring plugin: the first line of stdout is the state
 * and why (monitoring-plugins guidelines: NRPE shows only stdout),
 * with the bound as performance data; the full status follows. An
 * UNKNOWN says why there too; --json stays JSON alone.
 */
ITEST(control, ctl_status_first_line_is_the_verdict)
{
	struct ctl_env e;
	struct vdaemon *d = start(&e);
	static char out[1 << 16], err[4096];
	char *err_path = g_build_filename(e.dir, "stderr", NULL);
	char *gone = g_build_filename(e.dir, "gone.ctl", NULL);

	/* this host's clock is unsynchronised: unreliable, CRITICAL */
	cr_assert_eq(ctl_stdout((const char *[]){ "--socket", e.ctl, "status",
						  NULL },
				err_path, out, sizeof(out)),
		     2, "%s", out);
	cr_expect(g_str_has_prefix(out, "CRITICAL: model unreliable, worse "
					"than --ok synchronized, bound "),
		  "first line: %s", out);
	cr_expect(strstr(out, " | bound=") &&
			  strstr(out, " | bound=") < strchr(out, '\n'),
		  "no perfdata on the first line: %s", out);
	cr_expect(strstr(out, "\nvhost-user-rtc " VRTC_VERSION ", pid "),
		  "the full status does not follow: %s", out);
	cr_expect_str_empty(slurp(err_path, err, sizeof(err)), "stderr: %s",
			    err);

	cr_assert_eq(ctl_stdout((const char *[]){ "-s", e.ctl, "status", "--ok",
						  "unreliable", NULL },
				err_path, out, sizeof(out)),
		     0, "%s", out);
	cr_expect(g_str_has_prefix(out, "OK: model unreliable, bound "), "%s",
		  out);

	/* UNKNOWN: no daemon there, a bad --ok */
	cr_assert_eq(ctl_stdout((const char *[]){ "-s", gone, "status", NULL },
				err_path, out, sizeof(out)),
		     3, "%s", out);
	cr_expect(g_str_has_prefix(out, "UNKNOWN: ") && strstr(out, gone), "%s",
		  out);
	cr_assert_eq(ctl_stdout((const char *[]){ "-s", e.ctl, "status", "--ok",
						  "bogus", NULL },
				err_path, out, sizeof(out)),
		     3, "%s", out);
	cr_expect(g_str_has_prefix(out, "UNKNOWN: --ok bogus"), "%s", out);

	/* --json: the JSON alone on stdout, the verdict only in the code */
	cr_assert_eq(ctl_stdout((const char *[]){ "-s", e.ctl, "status",
						  "--json", NULL },
				err_path, out, sizeof(out)),
		     2, "%s", out);
	cr_expect(out[0] == '{', "%s", out);
	cr_expect_str_empty(slurp(err_path, err, sizeof(err)), "%s", err);

	unlink(err_path);
	g_free(err_path);
	g_free(gone);
	itest_stop(d);
	env_free(&e);
}

ITEST(control, prometheus_over_http)
{
	struct ctl_env e;
	struct vdaemon *d = start(&e);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), NULL);
	char *r, *body;
	long clen;

	itest_read(v, 0);
	r = exchange(connect_tcp(e.port),
		     "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
	cr_assert(g_str_has_prefix(r, "HTTP/1.1 200 OK\r\n"), "%s", r);
	cr_assert(strstr(r, "Content-Type: text/plain; version=0.0.4"));
	body = strstr(r, "\r\n\r\n");
	cr_assert(body);
	body += 4;
	clen = strtol(strstr(r, "Content-Length: ") + 16, NULL, 10);
	cr_assert_eq(clen, (long)strlen(body));
	cr_assert(strstr(body, "\nvhost_user_rtc_vms_connected 1\n"), "%s",
		  body);
	cr_assert(strstr(body, "vhost_user_rtc_model_status{status="), "%s",
		  body);
	cr_assert(strstr(body, "vhost_user_rtc_vm_requests_total{vm=\""), "%s",
		  body);
	g_free(r);

	r = exchange(connect_tcp(e.port), "HEAD /metrics HTTP/1.0\r\n\r\n");
	cr_assert(g_str_has_prefix(r, "HTTP/1.1 200 OK\r\n"), "%s", r);
	cr_assert(g_str_has_suffix(r, "\r\n\r\n"), "HEAD has no body: %s", r);
	g_free(r);
	r = exchange(connect_tcp(e.port), "GET / HTTP/1.1\r\n\r\n");
	cr_assert(g_str_has_prefix(r, "HTTP/1.1 404 "), "%s", r);
	g_free(r);
	r = exchange(connect_tcp(e.port), "DELETE /metrics HTTP/1.1\r\n\r\n");
	cr_assert(g_str_has_prefix(r, "HTTP/1.1 405 "), "%s", r);
	cr_assert(strstr(r, "Allow: GET, HEAD\r\n"), "%s", r);
	g_free(r);
	vuf_free(v);
	itest_stop(d);
	env_free(&e);
}

#define IDLE_CLIENTS 40
/* The daemon cuts a client off 2 s after accept; wait that and more. */
#define CONTROL_TIMEOUT_MS_TEST 3000

ITEST(control, hostile_clients_disturb_nobody)
{
	struct ctl_env e;
	struct vdaemon *d = start(&e);
	struct bystanders *b = itest_bystanders(d);
	struct itest_usage before;
	int idle[2 * IDLE_CLIENTS], i, fd;
	static char junk[1 << 20];
	ssize_t sent = 0, n;
	char *r;

	itest_usage(d, &before);
	/* Slots filled by clients that never send, on both endpoints. */
	for (i = 0; i < IDLE_CLIENTS; i++) {
		idle[2 * i] = connect_unix(e.ctl);
		idle[2 * i + 1] = connect_tcp(e.port);
	}
	/* A flood: a megabyte with no newline, then one that never ends
	 * its HTTP head. Both are cut off, neither is answered as valid. */
	memset(junk, 'x', sizeof(junk));
	fd = connect_unix(e.ctl);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while ((n = send(fd, junk + sent, sizeof(junk) - (size_t)sent,
			 MSG_NOSIGNAL)) > 0) {
		sent += n;
	}
	close(fd);
	itest_sleep_ms(CONTROL_TIMEOUT_MS_TEST);
	itest_alive(d);

	/* Every slow client was cut off: the endpoints answer again. */
	r = exchange(connect_unix(e.ctl), "status\n");
	cr_assert(strstr(r, "VMs        4 connected"), "%s", r);
	g_free(r);
	r = exchange(connect_tcp(e.port), "GET /metrics HTTP/1.1\r\n\r\n");
	cr_assert(g_str_has_prefix(r, "HTTP/1.1 200 OK"), "%s", r);
	g_free(r);
	r = exchange(connect_unix(e.ctl), "status\x01\n");
	cr_assert(g_str_has_prefix(r, "error: byte 0x01"), "%s", r);
	g_free(r);
	for (i = 0; i < 2 * IDLE_CLIENTS; i++) {
		close(idle[i]);
	}
	itest_expect_no_leak(d, &before, "hostile control clients");
	itest_bystanders_stop(b);
	itest_stop(d);
	env_free(&e);
}
