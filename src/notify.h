/* SPDX-License-Identifier: MIT */
/*
 * Telling systemd how the daemon is (sd_notify(3), libsystemd): READY=1
 * once every socket listens, STATUS= a one-line summary of the model
 * whenever it changes (checked every NOTIFY_CHECK_MS), and WATCHDOG=1
 * from the main loop at half of WATCHDOG_USEC when the unit sets
 * WatchdogSec= (a stalled loop then gets the daemon restarted).
 * Without $NOTIFY_SOCKET (not started by systemd) nothing is sent and no
 * timer is added.
 *
 * Thread/loop: the default GLib main context.
 */
#ifndef SRC_NOTIFY_H
#define SRC_NOTIFY_H

#include <glib.h>
#include <sys/types.h>

#define NOTIFY_CHECK_MS 1000

/* Append the STATUS= text (one line, no "STATUS=") to @out. */
typedef void (*notify_status_fn)(GString *out, void *ctx);

struct notify;

/*
 * notify_start() - send READY=1 and the first STATUS=, then keep the
 * status and the watchdog up to date on the main loop. Returns NULL
 * (nothing to do) when the daemon was not started with a notify socket.
 */
struct notify *notify_start(notify_status_fn status, void *ctx);

/* Send STOPPING=1 and remove the timers; NULL is a no-op. */
void notify_stop(struct notify *n);

/* A non-blocking datagram socket connected to $NOTIFY_SOCKET (a path or
 * @abstract), or -errno. */
int notify_socket_open(void);

/* Live upgrade: tell systemd that @pid is the service's main process now
 * (a no-op outside systemd). */
void notify_mainpid(pid_t pid);

#endif /* SRC_NOTIFY_H */
