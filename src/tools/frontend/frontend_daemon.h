/* SPDX-License-Identifier: MIT */
/*
 * Running the daemon under test: fork/exec of $VRTC_DAEMON (default
 * build/vhost-user-rtc) listening on sockets in a fresh temporary
 * directory, readiness wait, clean stop with SIGTERM, and what /proc says
 * about it (fds, mappings, CPU time, RSS).
 *
 * The daemon's stdout and stderr go to <dir>/daemon.log; the log is
 * printed to our stderr when the daemon fails to stop cleanly, or always
 * when VRTC_TEST_VERBOSE is set. The daemon is killed if we die
 * (PR_SET_PDEATHSIG), so a crashing test never leaves it behind.
 */
#ifndef FRONTEND_DAEMON_H
#define FRONTEND_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VDAEMON_MAX_SOCKETS 8

struct vdaemon_opts {
	unsigned int nsockets;	 /* --socket-path options, 0..8; default 1 */
	const char *const *args; /* more arguments, NULL-terminated, or NULL */
	int listen_fd;		 /* >= 0: passed as "--fd 3"; default -1 */
	int start_timeout_ms;	 /* wait for the sockets; default 10000 */
	/* run under this program (its argv, NULL-terminated; the daemon's
	 * path and arguments follow), e.g. a supervisor; NULL: none */
	const char *const *wrapper;
};

void vdaemon_opts_init(struct vdaemon_opts *o);

struct vdaemon;

/*
 * vdaemon_start() - start the daemon and wait until every socket
 * (the VM sockets, then a --control-socket among the arguments) accepts
 * connections. Returns NULL on failure with the reason, and the
 * daemon's log, in @why.
 */
struct vdaemon *vdaemon_start(const struct vdaemon_opts *o, char *why,
			      size_t len);

/* Path of the daemon binary ($VRTC_DAEMON or build/vhost-user-rtc). */
const char *vdaemon_path(void);

const char *vdaemon_socket(const struct vdaemon *d, unsigned int i);
const char *vdaemon_dir(const struct vdaemon *d);
pid_t vdaemon_pid(const struct vdaemon *d);

/*
 * vdaemon_follow() - the daemon handed over to process @pid (a live
 * upgrade): wait up to @timeout_ms for the old process to end, then
 * follow @pid. The caller must be a child subreaper
 * (PR_SET_CHILD_SUBREAPER) so @pid becomes its child. Returns 0 if the
 * old one exited with status 0; -ETIMEDOUT if it did not end in time,
 * -ECHILD if it failed.
 */
int vdaemon_follow(struct vdaemon *d, pid_t pid, int timeout_ms);

/* True while the process has not exited. */
bool vdaemon_alive(struct vdaemon *d);

/*
 * vdaemon_stop() - SIGTERM, then wait up to @timeout_ms for the exit.
 * Returns 0 if it exited with status 0 in time; otherwise -ESRCH (dead
 * before), -ETIMEDOUT or -ECHILD (failed), with the reason in @why (it is then
 * SIGKILLed). Frees @d and its directory.
 */
int vdaemon_stop(struct vdaemon *d, int timeout_ms, char *why, size_t len);

/* SIGKILL and free, for cleanup paths; NULL is a no-op. */
void vdaemon_kill(struct vdaemon *d);

/* The last @len - 1 bytes of the daemon's log, NUL-terminated. */
size_t vdaemon_read_log(const struct vdaemon *d, char *buf, size_t len);

/* Print the daemon's log to stderr. */
void vdaemon_dump_log(const struct vdaemon *d);

/* Open fds, mappings (lines of /proc/PID/maps); -errno on error. */
int vdaemon_fd_count(const struct vdaemon *d);
int vdaemon_map_count(const struct vdaemon *d);

/* utime + stime in ns; -errno on error. */
int64_t vdaemon_cpu_ns(const struct vdaemon *d);

/* VmRSS in KiB; -errno on error. */
long vdaemon_rss_kb(const struct vdaemon *d);

/*
 * vdaemon_run() - run the daemon with @argv (after the program name,
 * NULL-terminated) to completion, capturing stdout+stderr into @out
 * (NUL-terminated). Returns the wait status, or -errno (-ETIMEDOUT: timeout).
 */
int vdaemon_run(const char *const *argv, int timeout_ms, char *out,
		size_t outlen);

/* The same for any program: @argv[0] is its path. */
int vdaemon_exec(const char *const *argv, int timeout_ms, char *out,
		 size_t outlen);

#endif /* FRONTEND_DAEMON_H */
