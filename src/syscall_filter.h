/* SPDX-License-Identifier: MIT */
/*
 * The seccomp allow-list of the serving loop (libseccomp): the GLib main
 * loop, vhost-user sockets with SCM_RIGHTS, guest-memory mappings, timers
 * and eventfds, the PTP read ioctls, and re-opening the ptp4l client's
 * AF_UNIX socket. Everything else is denied with SCMP_ACT_TRAP: a SIGSYS
 * handler writes, async-signal-safe,
 *   "vhost-user-rtc: seccomp denied system call NAME (NR)"
 * to stderr and ends the process with SYSCALL_FILTER_EXIT_STATUS. A trap
 * rather than an EPERM return: an unexpected call is a bug to fix, and
 * code that does not expect the failure would otherwise misbehave
 * silently far from the cause.
 *
 * Thread/loop: start-up only, main thread; the filter is synchronised to
 * every thread of the process (SCMP_FLTATR_CTL_TSYNC).
 */
#ifndef SRC_SYSCALL_FILTER_H
#define SRC_SYSCALL_FILTER_H

/* Exit status after a denied system call. */
#define SYSCALL_FILTER_EXIT_STATUS 3

/*
 * syscall_filter_install() - install the SIGSYS handler and load the
 * filter. Needs PR_SET_NO_NEW_PRIVS (or CAP_SYS_ADMIN). Irreversible.
 * Returns 0 or -errno.
 */
int syscall_filter_install(void);

/*
 * syscall_filter_selftest() - make one system call the filter denies
 * (syslog(SYSLOG_ACTION_SIZE_BUFFER), harmless when allowed); with the
 * filter installed, the process reports it and exits. For the tests,
 * through the daemon's hidden --debug-seccomp-selftest. Returns the call's
 * result when no filter is installed.
 */
long syscall_filter_selftest(void);

#endif /* SRC_SYSCALL_FILTER_H */
