/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user server: listening sockets, and one independent
 * virtio-rtc device per accepted front-end connection. Any number of
 * connections per listening socket; a bad or dead front-end closes only
 * its own connection.
 * Thread/loop: everything on the default GLib main context.
 */
#ifndef DEVICE_VU_SERVER_H
#define DEVICE_VU_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "clock_model.h"
#include "vhost_user.h"
#include "virtio_rtc.h"
#include "vu_peer.h"

struct vu_server_config {
	const struct rtcdev_config *clocks; /* must outlive the server */
	const struct clock_model *model;    /* must outlive the server */
	uint64_t poll_ns; /* adaptive polling budget, 0 = never spin */
	unsigned int max_connections; /* 0 = unlimited */
};

struct vu_server;

struct vu_server *vu_server_new(const struct vu_server_config *cfg);

/* Closes every connection and listener; NULL is a no-op. */
void vu_server_free(struct vu_server *s);

/*
 * vu_server_add_listener() - accept front-ends on @listen_fd (a listening
 * AF_UNIX stream socket; ownership passes to the server). @name is used
 * in log lines. Returns 0 or -errno.
 */
int vu_server_add_listener(struct vu_server *s, int listen_fd,
			   const char *name);

/*
 * vu_server_remove_listener() - stop accepting on the listener added as
 * @name, close it and every connection accepted on it (only those: the
 * other listeners' connections go on being served). Returns the number
 * of connections closed, or -ENOENT if no listener has that name.
 */
int vu_server_remove_listener(struct vu_server *s, const char *name);

/* Open connections accepted on listener @name, or -ENOENT. */
int vu_server_listener_connections(const struct vu_server *s, const char *name);

/*
 * vu_server_foreach_listener() - call @fn with each listener's name and
 * open connections, in the order they were added. @fn must not add or
 * remove listeners.
 */
void vu_server_foreach_listener(const struct vu_server *s,
				void (*fn)(const char *name,
					   unsigned int connections, void *ctx),
				void *ctx);

/* Connections open now. */
unsigned int vu_server_num_connections(const struct vu_server *s);

/* Totals since the server started (closed connections included). */
struct vu_server_stats {
	unsigned int connected;	    /* open now */
	uint64_t accepted, refused; /* refused: over max_connections */
	uint64_t closed;
	uint64_t requests, errors; /* virtio-rtc requests, non-OK answers */
	uint64_t alarm_events;
	/* requests found waiting on a queue that was owed a kick */
	uint64_t kicks_missed;
};

void vu_server_get_stats(const struct vu_server *s,
			 struct vu_server_stats *out);

/* One open connection, as the operator sees it; pointers valid during
 * the callback. */
struct vu_conn_status {
	/* the label: the peer's QEMU -name (vu_peer.h) when it has one and
	 * no other open connection has it, else conn_id */
	const char *name;
	const char *conn_id;		  /* "LISTENER#N", N counting accepts */
	const struct vu_peer *peer;	  /* credentials and name at accept */
	uint64_t connected_ns;		  /* CLOCK_MONOTONIC at accept */
	const struct rtcdev_stats *stats; /* valid during the callback */
	uint64_t alarm_events;
	uint64_t busy_p50_ns, busy_p99_ns; /* UINT64_MAX: off scale */
	/* per queue: "running", "stopped" or "broken: WHY" */
	const char *queue_state[VU_NUM_QUEUES];
};

/*
 * vu_server_foreach_conn() - call @fn for every open connection, oldest
 * first. @fn must not close connections or re-enter the server.
 */
void vu_server_foreach_conn(const struct vu_server *s,
			    void (*fn)(const struct vu_conn_status *st,
				       void *ctx),
			    void *ctx);

struct ho_writer;
struct ho_reader;

/*
 * Live upgrade. vu_server_save() writes every listener (name, fd, how
 * many it accepted) and every connection (its socket, a message received
 * in part, its vhost-user state as messages to replay, broken queues,
 * the device's alarms and counters) into @w; the fds stay ours. Call it
 * from the main loop: nothing may run between it and the hand-over.
 *
 * vu_server_adopt() rebuilds them in a new server from an image read by
 * @r (include/handover_wire.h), checking everything as input from a
 * front-end; the fds it takes are then the server's. On -EBADMSG (the
 * reason in @r) the server may hold part of the image: free it.
 */
int vu_server_save(const struct vu_server *s, struct ho_writer *w);
/* The totals and listeners only (what vu_server_save() writes first). */
void vu_server_save_listeners(const struct vu_server *s, struct ho_writer *w);
int vu_server_adopt(struct vu_server *s, struct ho_reader *r);

/*
 * Crash recovery. The server tells @changed, after every change of a
 * connection's state that a daemon restarted after a crash would need
 * (a vhost-user message handled, before its reply; an alarm set,
 * reached or notified), and @gone when a connection closes. @fresh are
 * the fds the message brought: new files even where a number is reused.
 * vu_server_save_conn() then writes that connection alone as an HO_CONN
 * record (the fds stay ours). vu_server_recover() is for a server that
 * adopted the images of a crashed process: every queue restarts at its
 * used index (vu_conn_recover()). Returns the queues recovered.
 */
struct vu_sconn;

struct vu_server_watch {
	void (*changed)(void *ctx, const struct vu_sconn *sc, const int *fresh,
			unsigned int nfresh);
	void (*gone)(void *ctx, const char *conn_id);
	void *ctx;
};

/* NULL: stop telling (before freeing what @w points to). */
void vu_server_set_watch(struct vu_server *s, const struct vu_server_watch *w);
int vu_server_save_conn(const struct vu_sconn *sc, struct ho_writer *w);
const char *vu_server_conn_id(const struct vu_sconn *sc);
void vu_server_foreach_sconn(const struct vu_server *s,
			     void (*fn)(const struct vu_sconn *sc, void *ctx),
			     void *ctx);
unsigned int vu_server_recover(struct vu_server *s);

#endif /* DEVICE_VU_SERVER_H */
