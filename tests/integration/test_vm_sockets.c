// SPDX-License-Identifier: MIT
/*
 * VM sockets added and removed at run time (vm add, vm remove, vm list)
 * on the real daemon, started as root and dropped to TEST_USER under its
 * seccomp filter, as deployed: an added socket serves a front-end that
 * reads the time; removing another socket closes only that socket's
 * VMs while bystander VMs on the added one keep reading without a
 * single error; the socket can be added again; every refusal says why;
 * vhost-user-rtc-ctl ($VRTC_CTL) drives the same commands.
 * Needs root (CI runs as root); creates the user TEST_USER if missing.
 */
#include <fcntl.h>
#include <glib.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest_faults.h"

#define TEST_USER ITEST_USER

/* A directory for the control socket and the vm-socket-dir. */
struct vm_env {
	char *dir, *ctl, *vms;
	char path[4][128]; /* vms/vm<N>.sock */
};

static void env_init(struct vm_env *e)
{
	e->dir = g_dir_make_tmp("vrtc-vms-XXXXXX", NULL);
	cr_assert(e->dir);
	/* the dropped daemon must reach the vm-socket-dir inside */
	cr_assert_eq(chmod(e->dir, 0755), 0);
	e->ctl = g_build_filename(e->dir, "ctl.sock", NULL);
	e->vms = g_build_filename(e->dir, "vms", NULL);
	for (int i = 0; i < 4; i++) {
		snprintf(e->path[i], sizeof(e->path[i]), "%s/vm%d.sock", e->vms,
			 i);
	}
}

static void env_free(struct vm_env *e)
{
	char *cmd = g_strdup_printf("rm -rf '%s'", e->dir);

	cr_assert_eq(system(cmd), 0);
	g_free(cmd);
	g_free(e->dir);
	g_free(e->ctl);
	g_free(e->vms);
}

/* The socket accepts before the drop; "serving" is logged after it. */
static void wait_serving(struct vdaemon *d)
{
	for (int i = 0; i < 500; i++) {
		if (itest_log_has(d, "serving ")) {
			return;
		}
		itest_sleep_ms(10);
	}
	cr_assert_fail("the daemon never logged \"serving\"");
}

/* As deployed: dropped to TEST_USER, seccomp on (the default). */
static struct vdaemon *start(struct vm_env *e, const char *max_conn)
{
	const char *args[] = { "--user",
			       TEST_USER,
			       "--control-socket",
			       e->ctl,
			       "--vm-socket-dir",
			       e->vms,
			       "--socket-group",
			       "nogroup",
			       "--max-connections",
			       max_conn,
			       NULL };
	struct vdaemon_opts o;
	struct vdaemon *d;

	vdaemon_opts_init(&o);
	o.args = args;
	d = itest_start(&o);
	wait_serving(d);
	return d;
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

/* One control request; the reply (g_free). */
static char *ask(const struct vm_env *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static char *ask(const struct vm_env *e, const char *fmt, ...)
{
	struct timeval tv = { .tv_sec = 10 };
	GString *out = g_string_new(NULL);
	int fd = connect_unix(e->ctl);
	char buf[4096], *req;
	va_list ap;
	ssize_t n;

	va_start(ap, fmt);
	req = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(send(fd, req, strlen(req), MSG_NOSIGNAL),
		     (ssize_t)strlen(req));
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		g_string_append_len(out, buf, n);
	}
	cr_assert_eq(n, 0, "reply not ended: %s", strerror(errno));
	close(fd);
	g_free(req);
	return g_string_free(out, FALSE);
}

/* The reply to a request must contain @want. */
#define expect_reply(e, want, ...)                                             \
	do {                                                                   \
		char *r_ = ask((e), __VA_ARGS__);                              \
		cr_assert(strstr(r_, (want)), "reply: %s (want \"%s\")", r_,   \
			  (want));                                             \
		g_free(r_);                                                    \
	} while (0)

static void expect_file(const char *path, mode_t type, uid_t uid, gid_t gid,
			mode_t mode)
{
	struct stat st;

	cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(st.st_mode & S_IFMT, type, "%s: type %o", path,
		     (unsigned int)(st.st_mode & S_IFMT));
	cr_assert_eq(st.st_uid, uid, "%s: owner %u", path,
		     (unsigned int)st.st_uid);
	cr_assert_eq(st.st_gid, gid, "%s: group %u", path,
		     (unsigned int)st.st_gid);
	cr_assert_eq(st.st_mode & 07777, mode, "%s: mode %o", path,
		     (unsigned int)(st.st_mode & 07777));
}

/* `vm list`'s connection count of @path; -1 if not listed. */
static int listed(const struct vm_env *e, const char *path)
{
	char *r = ask(e, "vm list\n");
	char **lines = g_strsplit(r, "\n", -1);
	int n = -1;

	for (char **l = lines; *l; l++) {
		const char *end = strrchr(*l, ' ');

		if (end && !strcmp(end + 1, path)) {
			n = atoi(*l);
		}
	}
	g_strfreev(lines);
	g_free(r);
	return n;
}

/* Wait until @path has @n connections (accept and close are async). */
static void wait_listed(const struct vm_env *e, const char *path, int n)
{
	int have = -2;

	for (int i = 0; i < 300 && have != n; i++) {
		have = listed(e, path);
		if (have != n) {
			itest_sleep_ms(10);
		}
	}
	cr_assert_eq(have, n, "%s: %d connections listed, want %d", path, have,
		     n);
}

/* status json lists @path with @n connections (-1: not listed). */
static void json_socket(const char *json, const char *path, int n)
{
	char *want = g_strdup_printf("{\"socket\":\"%s\",\"connected\":%d}",
				     path, n < 0 ? 0 : n);
	char *name = g_strdup_printf("{\"socket\":\"%s\"", path);

	if (n < 0) {
		cr_assert(!strstr(json, name), "%s still listed: %s", path,
			  json);
	} else {
		cr_assert(strstr(json, want), "no %s in %s", want, json);
	}
	g_free(want);
	g_free(name);
}

ITEST(vm_sockets, add_serve_remove_another_readd)
{
	struct passwd pw = itest_user();
	struct group *ng = getgrnam("nogroup");
	struct bystanders_opts bo;
	struct bystanders *b;
	struct bystanders_totals t0, t1;
	struct vm_env e;
	struct vdaemon *d;
	struct vuf *v1, *v2, *v0;
	uint64_t ns;
	char *r;

	cr_assert_not_null(ng, "no group nogroup");
	env_init(&e);
	d = start(&e, "256");
	/* made before the drop, given to the daemon's user and the
	 * sockets' group, set-group-ID */
	expect_file(e.vms, S_IFDIR, pw.pw_uid, ng->gr_gid, 02750);

	expect_reply(&e, "added ", "vm add vm1.sock\n");
	expect_reply(&e, "added ", "vm add %s\n", e.path[2]);
	/* made by the dropped daemon, with socket-group's group and mode */
	expect_file(e.path[1], S_IFSOCK, pw.pw_uid, ng->gr_gid, 0660);
	expect_file(e.path[2], S_IFSOCK, pw.pw_uid, ng->gr_gid, 0660);

	/* bystanders read on vm1 all along; a VM on vm2 and one on the
	 * start-up socket read too */
	bystanders_opts_init(&bo);
	bo.sock = e.path[1];
	bo.vms = 2;
	bo.inflight = 2;
	b = itest_bystanders_start(&bo);
	v2 = itest_vm(e.path[2], NULL);
	v0 = itest_vm(vdaemon_socket(d, 0), NULL);
	itest_read(v2, 0);
	itest_read(v0, 1);
	wait_listed(&e, e.path[1], 2);
	wait_listed(&e, e.path[2], 1);
	wait_listed(&e, vdaemon_socket(d, 0), 1);
	bystanders_totals(b, &t0);

	/* remove vm2 with its VM, while vm1's keep reading */
	r = ask(&e, "vm remove vm2.sock\n");
	cr_assert(strstr(r, "removed ") && strstr(r, "(1 connection closed)"),
		  "%s", r);
	g_free(r);
	cr_assert_neq(vuf_rtc_read(v2, 0, &ns), 0,
		      "the removed socket's VM is still served");
	cr_assert(access(e.path[2], F_OK) != 0, "vm2.sock left behind");
	cr_assert_eq(listed(&e, e.path[2]), -1);
	itest_read(v0, 0);
	itest_sleep_ms(300);
	bystanders_totals(b, &t1);
	cr_assert_gt(t1.requests, t0.requests + 10,
		     "vm1's VMs stopped reading: %llu -> %llu",
		     (unsigned long long)t0.requests,
		     (unsigned long long)t1.requests);
	cr_assert_eq(t1.errors, 0, "%s", t1.first_error);

	/* the status follows: vm2 gone, vm1 and the start-up socket kept */
	r = ask(&e, "status json\n");
	json_socket(r, e.path[1], 2);
	json_socket(r, vdaemon_socket(d, 0), 1);
	json_socket(r, e.path[2], -1);
	g_free(r);
	r = ask(&e, "metrics\n");
	cr_assert(strstr(r, "vhost_user_rtc_socket_connections{socket=\""),
		  "%s", r);
	g_free(r);

	/* again, and a new VM there */
	expect_reply(&e, "added ", "vm add vm2.sock\n");
	v1 = itest_vm(e.path[2], NULL);
	itest_read(v1, 2);
	wait_listed(&e, e.path[2], 1);

	/* the start-up socket can go too; its file stays (root's dir) */
	expect_reply(&e, "(1 connection closed)", "vm remove %s\n",
		     vdaemon_socket(d, 0));
	cr_assert_neq(vuf_rtc_read(v0, 0, &ns), 0);
	itest_read(v1, 0);
	itest_bystanders_stop(b);
	vuf_free(v0);
	vuf_free(v1);
	vuf_free(v2);
	itest_alive(d);
	cr_assert(!itest_log_has(d, "seccomp denied"));
	itest_stop(d);
	/* the daemon's own directory: it removed what it added */
	cr_assert(access(e.path[1], F_OK) != 0, "vm1.sock left at exit");
	cr_assert(access(e.path[2], F_OK) != 0, "vm2.sock left at exit");
	env_free(&e);
}

/* A socket at @path with someone listening (0) or nobody (stale). */
static int make_socket(const char *path, bool listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
		     "bind %s: %s", path, strerror(errno));
	/* reachable by the dropped daemon, which checks it by connect() */
	cr_assert_eq(chmod(path, 0666), 0);
	if (listening) {
		cr_assert_eq(listen(fd, 1), 0);
		return fd;
	}
	close(fd);
	return -1;
}

ITEST(vm_sockets, refusals_say_why)
{
	char big[200];
	struct vm_env e;
	struct vdaemon *d;
	int busy, fd;

	itest_user();
	env_init(&e);
	/* one start-up socket: room for two more */
	d = start(&e, "3");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	expect_reply(&e, "error: bad path '../vm1.sock'",
		     "vm add ../vm1.sock\n");
	expect_reply(&e, "error: bad path", "vm add %s/../x.sock\n", e.vms);
	expect_reply(&e, "error: bad path", "vm add .hidden\n");
	expect_reply(&e, "error: a word longer than 107 bytes", "vm add %s\n",
		     big);
	expect_reply(&e, "not in vm-socket-dir", "vm add /tmp/vm1.sock\n");
	expect_reply(&e, "usage: vm list | vm add PATH", "vm add\n");
	expect_reply(&e, "error: ", "vm frob x\n");
	/* not a socket; a socket in use by someone else */
	fd = creat(e.path[1], 0600);
	close(fd);
	expect_reply(&e, "it exists and is not a socket", "vm add vm1.sock\n");
	busy = make_socket(e.path[2], true);
	expect_reply(&e, "is in use by a running process", "vm add vm2.sock\n");
	close(busy);
	/* ... which, once stale, is replaced */
	expect_reply(&e, "added ", "vm add vm2.sock\n");
	cr_assert(itest_log_has(d, "removed stale socket"));
	expect_reply(&e, "already served", "vm add vm2.sock\n");
	expect_reply(&e, "not in vm-socket-dir", "vm add %s\n", e.ctl);
	expect_reply(&e, "added ", "vm add vm3.sock\n");
	expect_reply(&e, "too many VM sockets (3, the most is 3",
		     "vm add vm0.sock\n");
	cr_assert(access(e.path[0], F_OK) != 0);
	expect_reply(&e, "not a socket of this daemon", "vm remove vm0.sock\n");
	expect_reply(&e, "not a socket of this daemon", "vm remove %s\n",
		     e.ctl);
	expect_reply(&e, "removed ", "vm remove vm3.sock\n");
	expect_reply(&e, "added ", "vm add vm0.sock\n");
	expect_reply(&e, "vm list", "help\n");
	itest_alive(d);
	itest_stop(d);
	unlink(e.path[1]);
	env_free(&e);
}

ITEST(vm_sockets, off_without_vm_socket_dir)
{
	char ctl[128], *r;
	struct vm_env e = { 0 };
	struct vdaemon *d;

	snprintf(ctl, sizeof(ctl), "/tmp/vrtc-vm-off-%d.ctl", (int)getpid());
	d = itest_startl("--control-socket", ctl);
	e.ctl = ctl;
	r = ask(&e, "vm add vm1.sock\n");
	cr_assert(strstr(r, "error: vm add is off"), "%s", r);
	g_free(r);
	/* an absolute path is refused the same way */
	r = ask(&e, "vm add /tmp/vrtc-vm-off.sock\n");
	cr_assert(strstr(r, "error: vm add is off"), "%s", r);
	g_free(r);
	wait_listed(&e, vdaemon_socket(d, 0), 0);
	itest_stop(d);
	unlink(ctl);
}

#define ctl(out, ...)                                                          \
	itest_run_ctl((const char *[]){ "-s", e.ctl, __VA_ARGS__, NULL },      \
		      (out), sizeof(out))

ITEST(vm_sockets, ctl_subcommands)
{
	static char out[1 << 14];
	struct vm_env e;
	struct vdaemon *d;
	struct vuf *v;

	itest_user();
	env_init(&e);
	d = start(&e, "256");
	cr_assert_eq(ctl(out, "vm", "add", "vm1.sock"), 0, "%s", out);
	cr_assert(strstr(out, "added "), "%s", out);
	v = itest_vm(e.path[1], NULL);
	itest_read(v, 0);
	cr_assert_eq(ctl(out, "vm", "list"), 0, "%s", out);
	cr_assert(strstr(out, "connections  origin    socket\n"), "%s", out);
	cr_assert(strstr(out, "added     "), "%s", out);
	cr_assert(strstr(out, "start-up  "), "%s", out);
	/* a refusal: the daemon's reason, exit 3 */
	cr_assert_eq(ctl(out, "vm", "add", "vm1.sock"), 3, "%s", out);
	cr_assert(strstr(out, "error: ") && strstr(out, "already served"), "%s",
		  out);
	cr_assert_eq(ctl(out, "vm", "add", "a b"), 3, "%s", out);
	cr_assert(strstr(out, "without blanks"), "%s", out);
	cr_assert_eq(ctl(out, "vm", "add"), 3, "%s", out);
	cr_assert(strstr(out, "vm add PATH"), "%s", out);
	cr_assert_eq(ctl(out, "vm"), 3, "%s", out);
	cr_assert_eq(ctl(out, "vm", "list", "--json"), 3, "%s", out);
	cr_assert_eq(ctl(out, "vm", "remove", e.path[1]), 0, "%s", out);
	cr_assert(strstr(out, "(1 connection closed)"), "%s", out);
	cr_assert_eq(ctl(out, "vm", "remove", e.path[1]), 3, "%s", out);
	cr_assert(strstr(out, "not a socket of this daemon"), "%s", out);
	vuf_free(v);
	itest_stop(d);
	env_free(&e);
}

/*
 * Start-up: a vm-socket-dir that is a file fails --check-config; one
 * that holds other files is not given to the daemon's user.
 */
ITEST(vm_sockets, bad_vm_socket_dir_refused)
{
	const char *check[] = { "--socket-path",  NULL, "--vm-socket-dir", NULL,
				"--check-config", NULL };
	const char *run[] = {
		"--socket-path", NULL, "--vm-socket-dir", NULL, "--user",
		TEST_USER,	 NULL
	};
	char out[8192], *sock, *file;
	struct vm_env e;
	struct stat st;
	int fd, status;

	itest_user();
	env_init(&e);
	sock = g_build_filename(e.dir, "a.sock", NULL);
	file = g_build_filename(e.vms, "precious", NULL);
	check[1] = run[1] = sock;
	check[3] = run[3] = e.ctl; /* not there yet: may be created */
	status = vdaemon_run(check, 5000, out, sizeof(out));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
	fd = creat(e.ctl, 0600);
	close(fd);
	status = vdaemon_run(check, 5000, out, sizeof(out));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "%s", out);
	cr_assert(strstr(out, "vm-socket-dir") &&
			  strstr(out, "is not a directory"),
		  "%s", out);
	/* a root directory with a file in it stays root's */
	cr_assert_eq(mkdir(e.vms, 0755), 0);
	fd = creat(file, 0600);
	close(fd);
	run[3] = e.vms;
	status = vdaemon_run(run, 5000, out, sizeof(out));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "%s", out);
	cr_assert(strstr(out, "refusing to give"), "%s", out);
	cr_assert_eq(stat(e.vms, &st), 0);
	cr_assert_eq(st.st_uid, 0, "given away");
	cr_assert_eq(st.st_mode & 07777, 0755, "mode changed");
	unlink(sock);
	g_free(sock);
	g_free(file);
	env_free(&e);
}
