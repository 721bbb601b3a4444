/* SPDX-License-Identifier: MIT */
/*
 * Crash recovery: the daemon's state kept in the service manager's file
 * descriptor store, so that a daemon started again after SIGKILL, a
 * segfault or the watchdog adopts every VM connection (sd_notify(3)
 * FDSTORE=1, sd_listen_fds_with_names(3); systemd's
 * FileDescriptorStoreMax=, or any supervisor that speaks the same
 * protocol on $NOTIFY_SOCKET).
 *
 * What is stored, each under a name of its own:
 *   vrtc-G-fN  an fd the state needs: a VM socket, a memory region, a
 *              kick/call/err eventfd, a listening socket, the page
 *   vrtc-G-cN  a connection's image (include/handover_wire.h: the same
 *              records a live upgrade hands over, HO_STORE_CONN naming
 *              the connection, HO_STORE_NAMES its fds' names)
 *   vrtc-G-gN  the daemon's image: generation, clock model, listeners,
 *              control listeners, status page, vm add sockets
 * G is the process's generation and N counts up, so a name is never
 * reused. Each image is a sealed memfd, written whole and stored before
 * the one it replaces is removed; the fds it names are stored before it
 * and removed after it is replaced. A crash at any point therefore
 * leaves, per connection and for the daemon, at least one complete image
 * whose fds are all in the store; the newest is used.
 *
 * When: a connection's image after each vhost-user message it sent
 * (before the reply) and after each change of its alarms; the daemon's
 * at start, on listener changes, and every PERSIST_GLOBAL_MS (the clock
 * model moves). A crash loses no message a front-end was answered.
 *
 * Recovery: the requests a guest made while no daemon ran wait in its
 * rings; each queue restarts at its used index (vu_server_recover()).
 *
 * Thread/loop: the default GLib main context.
 */
#ifndef SRC_PERSIST_H
#define SRC_PERSIST_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "handover.h"
#include "vu_server.h"

#define PERSIST_GLOBAL_MS 1000
#define PERSIST_PREFIX "vrtc-"
/* Messages to the service manager waiting to be sent, at most. */
#define PERSIST_QUEUE_MAX 65536

struct persist;

/* Writes the daemon's own records (everything but the connections). */
typedef void (*persist_global_fn)(struct ho_writer *w, void *ctx);

/*
 * persist_new() - keep @s's connections and what @global writes in the
 * store, names prefixed with generation @gen. NULL (nothing kept) when
 * there is no $NOTIFY_SOCKET. Call persist_start() once serving.
 */
struct persist *persist_new(struct vu_server *s, unsigned int gen,
			    persist_global_fn global, void *ctx);

/* Store everything now (the first time, or after a live upgrade, with
 * the names the process before us stored, which are then removed). */
void persist_start(struct persist *p, char **old_names);

/* The daemon's records changed (a listener came or went): store now. */
void persist_global_changed(struct persist *p);

/* The names stored now (HO_STORE_OLD of a live upgrade's image). */
void persist_save_names(const struct persist *p, struct ho_writer *w);

/* Stores and removals so far, failures, the last failure's reason. */
struct persist_stats {
	uint64_t images, fds, removed, failed;
	const char *last_error;
};
void persist_get_stats(const struct persist *p, struct persist_stats *st);

/* Stop (nothing removed from the store); NULL is a no-op. */
void persist_free(struct persist *p);

/* ---- recovery ---------------------------------------------------------- */

/* What the store handed back ($LISTEN_FDS), sorted out. */
struct persist_recovery;

/*
 * persist_recovery_open() - the fds of $LISTEN_FDS, if any is ours
 * (named PERSIST_PREFIX...): NULL when none is (a first start). The
 * environment is cleared either way.
 */
struct persist_recovery *persist_recovery_open(void);

/*
 * The daemon's newest image and its fd table (fds taken by the reader
 * are the caller's), or false if the store held none that reads.
 */
bool persist_recovery_global(struct persist_recovery *r, const void **img,
			     gsize *len, struct ho_fds **fds);

/*
 * persist_recovery_adopt() - adopt every connection's newest image into
 * @s (a connection whose image does not read, or whose fds are missing,
 * is dropped with a line why). Then everything not taken is closed and
 * removed from the store, and @p (which may be NULL) knows the names of
 * what was. Returns the connections adopted.
 */
unsigned int persist_recovery_adopt(struct persist_recovery *r,
				    struct vu_server *s, struct persist *p);

/* The generation the crashed process had (0: unknown). */
unsigned int persist_recovery_generation(const struct persist_recovery *r);

void persist_recovery_free(struct persist_recovery *r);

#endif /* SRC_PERSIST_H */
