// SPDX-License-Identifier: MIT
/*
 * Integration: who a VM is. The daemon, dropped to an unprivileged user
 * under its seccomp filter, records each front-end's pid and uid at
 * accept and, for QEMU, its -name from /proc/PID/cmdline, and uses the
 * name as the VM's label in the log, `status` (text and JSON) and the
 * metrics: the same label after a reconnect. A fake QEMU is a process
 * that connects while the daemon is stopped (SIGSTOP), then execs with
 * QEMU's argv[0] and -name, keeping the connection, and the daemon is
 * resumed: it accepts, and reads the command line, after the exec.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest_alarm.h"

static pid_t qemus[4];
static char *tmp;

static void fini(void)
{
	for (unsigned int i = 0; i < 4; i++) {
		if (qemus[i] > 0) {
			kill(-qemus[i], SIGKILL);
			waitpid(qemus[i], NULL, 0);
			qemus[i] = 0;
		}
	}
	itest_fini();
	if (tmp) {
		char *cmd = g_strdup_printf("rm -rf '%s'", tmp);

		(void)system(cmd);
		g_free(cmd);
		g_free(tmp);
		tmp = NULL;
	}
}

/* A fake QEMU on @sock with "-name @name_arg"; its pid. */
static pid_t fake_qemu(struct vdaemon *d, const char *sock,
		       const char *name_arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fds[2];
	pid_t child;
	char c;

	g_strlcpy(sa.sun_path, sock, sizeof(sa.sun_path));
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	cr_assert_eq(kill(vdaemon_pid(d), SIGSTOP), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		/* its own group: killed with the sleep that shares the fd */
		setpgid(0, 0);
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			_exit(1);
		}
		/* "; exit" keeps the shell, and its argv, alive */
		execl("/bin/sh", "qemu-system-x86_64", "-c", "sleep 60; exit 0",
		      "-name", name_arg, (char *)NULL);
		_exit(1);
	}
	close(fds[1]);
	cr_assert_eq(read(fds[0], &c, 1), 0); /* EOF: exec'd (or died) */
	close(fds[0]);
	cr_assert_eq(kill(vdaemon_pid(d), SIGCONT), 0);
	for (unsigned int i = 0; i < 4; i++) {
		if (!qemus[i]) {
			qemus[i] = child;
			break;
		}
	}
	return child;
}

static void end_qemu(pid_t pid)
{
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (unsigned int i = 0; i < 4; i++) {
		if (qemus[i] == pid) {
			qemus[i] = 0;
		}
	}
}

/* `ctl @cmd...` on @ctl: its stdout (and stderr), in a static buffer. */
static const char *ctl(const char *sock, const char *a, const char *b)
{
	static char out[1 << 16];

	(void)itest_run_ctl((const char *[]){ "--socket", sock, a, b, NULL },
			    out, sizeof(out));
	return out;
}

/* The VM whose front-end is @pid in `status json`; NULL if none. */
static JsonObject *vm_json(JsonParser *p, const char *sock, pid_t pid)
{
	const char *text = ctl(sock, "status", "--json");
	JsonArray *list;

	cr_assert(json_parser_load_from_data(p, text, -1, NULL), "%s", text);
	list = json_object_get_array_member(
		json_object_get_object_member(
			json_node_get_object(json_parser_get_root(p)), "vms"),
		"list");
	for (guint i = 0; i < json_array_get_length(list); i++) {
		JsonObject *o = json_array_get_object_element(list, i);

		if (!json_object_get_null_member(o, "pid") &&
		    json_object_get_int_member(o, "pid") == pid) {
			return o;
		}
	}
	return NULL;
}

static const char *str(JsonObject *o, const char *k)
{
	return json_object_get_string_member(o, k);
}

Test(vm_identity, qemu_name_labels_the_vm_across_reconnects, .init = itest_init,
     .fini = fini, .timeout = ITEST_TIMEOUT)
{
	char *ctl_sock, line[256], *conn1;
	JsonParser *p = json_parser_new();
	const char *vm_sock, *text;
	struct vdaemon *d;
	JsonObject *o;
	struct vuf *v;
	pid_t q1, q2, q3;
	size_t from;

	itest_user();
	tmp = g_dir_make_tmp("vrtc-ident-XXXXXX", NULL);
	ctl_sock = g_build_filename(tmp, "ctl.sock", NULL);
	d = itest_startl("--user", ITEST_USER, "--control-socket", ctl_sock);
	vm_sock = vdaemon_socket(d, 0);

	/* libvirt's form of -name; the daemon runs as ITEST_USER */
	from = itest_log_len(d);
	q1 = fake_qemu(d, vm_sock, "guest=web-1,debug-threads=on");
	snprintf(line, sizeof(line), ": pid %ld, uid 0, QEMU -name web-1",
		 (long)q1);
	cr_assert(itest_wait_log(d, from, line, 5000), "no \"%s\" in:\n%s",
		  line, itest_log_from(d, from));
	snprintf(line, sizeof(line), "web-1: front-end connected on %s#",
		 vm_sock);
	cr_assert(strstr(itest_log_from(d, from), line), "%s",
		  itest_log_from(d, from));

	o = vm_json(p, ctl_sock, q1);
	cr_assert(o, "no VM of pid %ld in %s", (long)q1,
		  ctl(ctl_sock, "status", "--json"));
	cr_expect_str_eq(str(o, "name"), "web-1");
	cr_expect_eq(json_object_get_int_member(o, "uid"), 0);
	cr_expect_str_eq(str(o, "qemu_name"), "web-1");
	cr_expect(g_str_has_prefix(str(o, "connection"), vm_sock), "%s",
		  str(o, "connection"));
	conn1 = g_strdup(str(o, "connection"));
	text = ctl(ctl_sock, "status", NULL);
	snprintf(line, sizeof(line), "on %s, pid %ld, uid 0, QEMU -name web-1",
		 conn1, (long)q1);
	cr_expect(strstr(text, "\n           web-1 ") && strstr(text, line),
		  "%s", text);
	text = ctl(ctl_sock, "metrics", NULL);
	cr_expect(strstr(text, "vhost_user_rtc_vm_connected_seconds{vm=\"web-"
			       "1\"}"),
		  "%s", text);
	snprintf(line, sizeof(line),
		 "vm_info{vm=\"web-1\",connection=\"%s\",pid=\"%ld\",uid=\"0\","
		 "qemu_name=\"web-1\"} 1",
		 conn1, (long)q1);
	cr_expect(strstr(text, line), "no %s in\n%s", line, text);

	/* the VM reconnects (a new QEMU process, same domain): same label,
	 * another connection */
	from = itest_log_len(d);
	end_qemu(q1);
	cr_assert(itest_wait_log(d, from, "web-1: closing connection", 5000),
		  "%s", itest_log_from(d, from));
	q2 = fake_qemu(d, vm_sock, "guest=web-1,debug-threads=on");
	snprintf(line, sizeof(line), ": pid %ld, uid 0, QEMU -name web-1",
		 (long)q2);
	cr_assert(itest_wait_log(d, from, line, 5000), "%s",
		  itest_log_from(d, from));
	o = vm_json(p, ctl_sock, q2);
	cr_assert(o);
	cr_expect_str_eq(str(o, "name"), "web-1");
	cr_expect_str_neq(str(o, "connection"), conn1);
	text = ctl(ctl_sock, "metrics", NULL);
	cr_expect(strstr(text, "vhost_user_rtc_vm_connected_seconds{vm=\"web-"
			       "1\"}"),
		  "%s", text);

	/* a second VM claiming the same name: labelled by its connection */
	q3 = fake_qemu(d, vm_sock, "web-1");
	snprintf(line, sizeof(line), ": pid %ld, uid 0, QEMU -name web-1",
		 (long)q3);
	cr_assert(itest_wait_log(d, from, line, 5000), "%s",
		  itest_log_from(d, from));
	o = vm_json(p, ctl_sock, q3);
	cr_assert(o);
	cr_expect_str_eq(str(o, "name"), str(o, "connection"));
	cr_expect_str_eq(str(o, "qemu_name"), "web-1");

	/* not QEMU (this test's own front-end): the connection's name */
	v = itest_vm(vm_sock, NULL);
	o = vm_json(p, ctl_sock, getpid());
	cr_assert(o);
	cr_expect_str_eq(str(o, "name"), str(o, "connection"));
	cr_expect(json_object_get_null_member(o, "qemu_name"));
	vuf_free(v);

	end_qemu(q2);
	end_qemu(q3);
	itest_stop(d);
	g_object_unref(p);
	g_free(conn1);
	g_free(ctl_sock);
}
