// SPDX-License-Identifier: MIT
/*
 * Running the daemon under test (see frontend_daemon.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frontend.h"
#include "frontend_daemon.h"

#define VDAEMON_MAX_ARGS 64

struct vdaemon {
	pid_t pid;
	bool reaped;
	int status;
	char dir[64];
	char log[96];
	unsigned int nsockets;
	char sockets[VDAEMON_MAX_SOCKETS][96];
};

const char *vdaemon_path(void)
{
	const char *p = getenv("VRTC_DAEMON");

	return p && *p ? p : "build/vhost-user-rtc";
}

void vdaemon_opts_init(struct vdaemon_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->nsockets = 1;
	o->listen_fd = -1;
	o->start_timeout_ms = 10000;
}

static void vdaemon_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

bool vdaemon_alive(struct vdaemon *d)
{
	if (!d->reaped && waitpid(d->pid, &d->status, WNOHANG) == d->pid) {
		d->reaped = true;
	}
	return !d->reaped;
}

size_t vdaemon_read_log(const struct vdaemon *d, char *buf, size_t len)
{
	ssize_t n = -1;
	off_t size;
	int fd;

	buf[0] = '\0';
	fd = open(d->log, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return 0;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)len - 1) {
		lseek(fd, size - (off_t)len + 1, SEEK_SET);
	} else {
		lseek(fd, 0, SEEK_SET);
	}
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

void vdaemon_dump_log(const struct vdaemon *d)
{
	char buf[8192];

	vdaemon_read_log(d, buf, sizeof(buf));
	fprintf(stderr, "---- daemon log (%s, tail) ----\n%s---- end ----\n",
		d->log, buf);
}

static void vdaemon_cleanup_dir(struct vdaemon *d)
{
	struct dirent *de;
	DIR *dir;

	dir = opendir(d->dir);
	if (!dir) {
		return;
	}
	while ((de = readdir(dir))) {
		char p[512];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			continue;
		}
		snprintf(p, sizeof(p), "%s/%s", d->dir, de->d_name);
		unlink(p);
	}
	closedir(dir);
	rmdir(d->dir);
}

static void vdaemon_free(struct vdaemon *d)
{
	vdaemon_cleanup_dir(d);
	free(d);
}

void vdaemon_kill(struct vdaemon *d)
{
	if (!d) {
		return;
	}
	if (vdaemon_alive(d)) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &d->status, 0);
		d->reaped = true;
	}
	vdaemon_free(d);
}

static void vdaemon_describe(int status, char *why, size_t len)
{
	if (WIFEXITED(status)) {
		snprintf(why, len, "exited with status %d",
			 WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		snprintf(why, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	} else {
		snprintf(why, len, "wait status 0x%x", status);
	}
}

int vdaemon_stop(struct vdaemon *d, int timeout_ms, char *why, size_t len)
{
	int64_t deadline =
		time_ns_now(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000;
	char tmp[160];
	int ret = 0;

	if (!why) {
		why = tmp;
		len = sizeof(tmp);
	}
	why[0] = '\0';
	if (!vdaemon_alive(d)) {
		vdaemon_describe(d->status, tmp, sizeof(tmp));
		snprintf(why, len, "daemon died before SIGTERM: %s", tmp);
		ret = -ESRCH;
		goto out;
	}
	kill(d->pid, SIGTERM);
	while (vdaemon_alive(d)) {
		if (time_ns_now(CLOCK_MONOTONIC) > deadline) {
			snprintf(why, len, "still running %d ms after SIGTERM",
				 timeout_ms);
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &d->status, 0);
			d->reaped = true;
			ret = -ETIMEDOUT;
			goto out;
		}
		vdaemon_sleep_ms(2);
	}
	if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0) {
		vdaemon_describe(d->status, tmp, sizeof(tmp));
		snprintf(why, len, "after SIGTERM: %s", tmp);
		ret = -ECHILD;
	}
out:
	if (ret || getenv("VRTC_TEST_VERBOSE")) {
		vdaemon_dump_log(d);
	}
	vdaemon_free(d);
	return ret;
}

static int vdaemon_try_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	close(fd);
	return ret;
}

static void vdaemon_child(const struct vdaemon *d, const char **argv,
			  int listen_fd, pid_t parent)
{
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) {
		_exit(127);
	}
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, 0);
	}
	fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (listen_fd >= 0) {
		if (listen_fd != 3) {
			dup2(listen_fd, 3);
		}
		fcntl(3, F_SETFD, 0);
		close_range(4, ~0u, 0);
	} else {
		close_range(3, ~0u, 0);
	}
	signal(SIGPIPE, SIG_DFL);
	execv(argv[0], (char *const *)argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/*
 * Started as root where the daemon's default user does not exist (a
 * build machine), the daemon refuses unless told user=root; the tests
 * ask for that, unless they choose the user (--user) or read it from a
 * configuration file (--config), to keep their own error cases.
 */
static bool vdaemon_wants_root_user(const char *const *args)
{
	if (geteuid() != 0 || getpwnam("vhost-user-rtc")) {
		return false;
	}
	for (; args && *args; args++) {
		if (!strcmp(*args, "--user") || !strcmp(*args, "--config")) {
			return false;
		}
	}
	return true;
}

/*
 * Wait until @path accepts a connection; false (the daemon killed, the
 * reason and its log in @why) if it exits first or @deadline passes.
 */
static bool vdaemon_wait_socket(struct vdaemon *d, const char *path,
				int64_t deadline, char *why, size_t len)
{
	while (vdaemon_try_connect(path) != 0) {
		char log[6000], st[96] = "still running";

		if (vdaemon_alive(d) &&
		    time_ns_now(CLOCK_MONOTONIC) <= deadline) {
			vdaemon_sleep_ms(2);
			continue;
		}
		if (d->reaped) {
			vdaemon_describe(d->status, st, sizeof(st));
		}
		vdaemon_read_log(d, log, sizeof(log));
		snprintf(why, len,
			 "daemon %s: socket %s not ready (%s); log:\n%s",
			 vdaemon_path(), path, st, log);
		vdaemon_kill(d);
		return false;
	}
	return true;
}

struct vdaemon *vdaemon_start(const struct vdaemon_opts *opts, char *why,
			      size_t len)
{
	const char *argv[VDAEMON_MAX_ARGS];
	struct vdaemon_opts def;
	unsigned int n = 0, i;
	struct vdaemon *d;
	int64_t deadline;
	pid_t parent = getpid();

	snprintf(why, len, "no error");
	if (!opts) {
		vdaemon_opts_init(&def);
		opts = &def;
	}
	if (opts->nsockets > VDAEMON_MAX_SOCKETS) {
		snprintf(why, len, "too many sockets");
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		return NULL;
	}
	snprintf(d->dir, sizeof(d->dir), "/tmp/vrtc-test-XXXXXX");
	if (!mkdtemp(d->dir)) {
		snprintf(why, len, "mkdtemp: %s", strerror(errno));
		free(d);
		return NULL;
	}
	snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
	for (i = 0; opts->wrapper && opts->wrapper[i] && n < 16; i++) {
		argv[n++] = opts->wrapper[i];
	}
	argv[n++] = vdaemon_path();
	if (vdaemon_wants_root_user(opts->args)) {
		argv[n++] = "--user";
		argv[n++] = "root";
	}
	d->nsockets = opts->nsockets;
	for (i = 0; i < d->nsockets; i++) {
		snprintf(d->sockets[i], sizeof(d->sockets[i]), "%s/vm%u.sock",
			 d->dir, i);
		argv[n++] = "--socket-path";
		argv[n++] = d->sockets[i];
	}
	if (opts->listen_fd >= 0) {
		argv[n++] = "--fd";
		argv[n++] = "3";
	}
	for (i = 0; opts->args && opts->args[i]; i++) {
		if (n >= VDAEMON_MAX_ARGS - 1) {
			break;
		}
		argv[n++] = opts->args[i];
	}
	argv[n] = NULL;

	d->pid = fork();
	if (d->pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		vdaemon_free(d);
		return NULL;
	}
	if (d->pid == 0) {
		vdaemon_child(d, argv, opts->listen_fd, parent);
	}

	deadline = time_ns_now(CLOCK_MONOTONIC) +
		   (int64_t)opts->start_timeout_ms * 1000000;
	for (i = 0; i < d->nsockets; i++) {
		if (!vdaemon_wait_socket(d, d->sockets[i], deadline, why,
					 len)) {
			return NULL;
		}
	}
	/* the control socket listens after the VM sockets */
	for (i = 0; opts->args && opts->args[i] && opts->args[i + 1]; i++) {
		if (!strcmp(opts->args[i], "--control-socket") &&
		    !vdaemon_wait_socket(d, opts->args[i + 1], deadline, why,
					 len)) {
			return NULL;
		}
	}
	return d;
}

const char *vdaemon_socket(const struct vdaemon *d, unsigned int i)
{
	return i < d->nsockets ? d->sockets[i] : NULL;
}

const char *vdaemon_dir(const struct vdaemon *d)
{
	return d->dir;
}

pid_t vdaemon_pid(const struct vdaemon *d)
{
	return d->pid;
}

int vdaemon_follow(struct vdaemon *d, pid_t pid, int timeout_ms)
{
	int64_t end =
		time_ns_now(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000;
	pid_t old = d->pid;
	int st = 0;

	while (!d->reaped && waitpid(old, &st, WNOHANG) == 0) {
		if (time_ns_now(CLOCK_MONOTONIC) > end) {
			return -ETIMEDOUT;
		}
		usleep(1000);
	}
	d->pid = pid;
	d->reaped = false;
	d->status = 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ECHILD;
}

int vdaemon_fd_count(const struct vdaemon *d)
{
	struct dirent *de;
	char p[64];
	DIR *dir;
	int n = 0;

	snprintf(p, sizeof(p), "/proc/%d/fd", (int)d->pid);
	dir = opendir(p);
	if (!dir) {
		return -errno;
	}
	while ((de = readdir(dir))) {
		if (de->d_name[0] != '.') {
			n++;
		}
	}
	closedir(dir);
	return n;
}

int vdaemon_map_count(const struct vdaemon *d)
{
	char p[64];
	FILE *f;
	int c, n = 0;

	snprintf(p, sizeof(p), "/proc/%d/maps", (int)d->pid);
	f = fopen(p, "re");
	if (!f) {
		return -errno;
	}
	while ((c = getc(f)) != EOF) {
		n += c == '\n';
	}
	fclose(f);
	return n;
}

int64_t vdaemon_cpu_ns(const struct vdaemon *d)
{
	unsigned long long ut, st;
	char buf[1024], p[64], *s, *end;
	ssize_t n;
	int fd, i;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)d->pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		return -EBADMSG;
	}
	buf[n] = '\0';
	s = strrchr(buf, ')');
	/* after ") ": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime */
	if (!s) {
		return -EBADMSG;
	}
	/* skip ") " and the 11 fields before utime */
	s += 2;
	for (i = 0; i < 11 && s; i++) {
		s = strchr(s, ' ');
		s = s ? s + 1 : NULL;
	}
	if (!s) {
		return -EBADMSG;
	}
	errno = 0;
	ut = strtoull(s, &end, 10);
	if (errno || end == s || *end != ' ') {
		return -EBADMSG;
	}
	s = end + 1;
	st = strtoull(s, &end, 10);
	if (errno || end == s) {
		return -EBADMSG;
	}
	return (int64_t)(ut + st) * (1000000000 / sysconf(_SC_CLK_TCK));
}

long vdaemon_rss_kb(const struct vdaemon *d)
{
	char p[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/status", (int)d->pid);
	f = fopen(p, "re");
	if (!f) {
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6)) {
			char *end;

			errno = 0;
			kb = strtol(line + 6, &end, 10);
			if (errno || end == line + 6) {
				kb = -1;
			}
			break;
		}
	}
	fclose(f);
	return kb;
}

int vdaemon_run(const char *const *argv, int timeout_ms, char *out,
		size_t outlen)
{
	const char *args[VDAEMON_MAX_ARGS];
	unsigned int n = 0;

	args[n++] = vdaemon_path();
	if (vdaemon_wants_root_user(argv)) {
		args[n++] = "--user";
		args[n++] = "root";
	}
	while (argv && *argv && n < VDAEMON_MAX_ARGS - 1) {
		args[n++] = *argv++;
	}
	args[n] = NULL;
	return vdaemon_exec(args, timeout_ms, out, outlen);
}

int vdaemon_exec(const char *const *args, int timeout_ms, char *out,
		 size_t outlen)
{
	int64_t deadline =
		time_ns_now(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000;
	size_t got = 0;
	int pfd[2], status;
	pid_t pid;

	out[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(pfd[0]);
		close(pfd[1]);
		return -e;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close_range(3, ~0u, 0);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		int64_t left = deadline - time_ns_now(CLOCK_MONOTONIC);
		char sink[512];
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)(left / 1000000) + 1) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(pfd[0]);
			return -ETIMEDOUT;
		}
		if (got + 1 < outlen) {
			r = read(pfd[0], out + got, outlen - 1 - got);
		} else {
			r = read(pfd[0], sink, sizeof(sink));
		}
		if (r <= 0) {
			break;
		}
		if (got + 1 < outlen) {
			got += (size_t)r;
			out[got] = '\0';
		}
	}
	close(pfd[0]);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (time_ns_now(CLOCK_MONOTONIC) > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		vdaemon_sleep_ms(2);
	}
	return status;
}
