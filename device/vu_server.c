/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user server: listeners, connections and their event sources.
 *
 * Socket I/O: each connection's socket is non-blocking; a message may
 * arrive in pieces and is assembled in a bounded per-connection buffer,
 * fds collected from SCM_RIGHTS on the way. At most VU_MSGS_PER_DISPATCH
 * messages are handled per wake-up so one chatty front-end cannot starve
 * the others. Replies are tiny: one that cannot be sent at once closes
 * the connection.
 *
 * Queues: a kick processes the queue at once (at most VU_PROCESS_BUDGET
 * chains). With poll_ns > 0 the queue then joins the server's "active"
 * list with guest kicks turned off, and one poller GSource keeps the main
 * loop spinning (timeout 0) while any active queue saw work within the
 * last poll_ns, like QEMU's iothread poll-max-ns. A queue idle for
 * poll_ns turns kicks back on and leaves the list (after one last check
 * for work that raced in). With poll_ns == 0 a queue stays listed only
 * while it has more work than one batch. Rings started without a kick fd
 * (poll mode) stay listed and are checked every VU_POLL_MODE_MS when idle.
 *
 * Why no request can wait for a kick that never comes (a polled queue
 * with a kick fd; "asks" = used->flags without NO_NOTIFY, or avail_event
 * at last_avail with EVENT_IDX). The kick fd is watched in both states.
 *
 *   state     listed  guest asked to kick   how new work is seen
 *   SLEEPING  no      yes                   its kick (kick_cb)
 *   POLLING   yes     no (it may anyway)    poller_scan(), every loop
 *                                           iteration (timeout 0), or
 *                                           its kick if it sends one
 *
 *   event                     SLEEPING                 POLLING
 *   kick (eventfd written)    drain, list, run: ->P    drain, run: stays
 *   avail->idx moves, no      cannot happen: the       seen by the next
 *     kick                    guest was asked (see     poller_scan()
 *                             the fence below)
 *   idle for poll_ns          -                        ask for kicks, full
 *                                                      fence, re-read
 *                                                      avail->idx: moved
 *                                                      -> stay P, else ->S
 *
 * The P->S step is the Dekker pair of VIRTIO 2.7.13: we store the ask,
 * fence, load avail->idx; the driver stores avail->idx, fences, loads the
 * ask. One of the two sees the other's store: we keep polling, or it
 * kicks. A kick is read only by kick_cb(), which always runs the queue
 * afterwards, and eventfd write/read order the driver's avail->idx
 * before our load of it. The kick source is never removed while the
 * ring runs (only when its fd changes or the ring stops).
 *
 * Belt and braces: while connections exist, a sweep every VU_SWEEP_MS
 * looks for SLEEPING request queues with work; one still so at the next
 * sweep (no kick came in a whole period) is served and counted as a
 * missed kick: a front-end that did not kick when asked, or a bug of
 * ours. No request waits longer than 2 x VU_SWEEP_MS, whatever went
 * wrong, and the counter (status, metrics) says it happened.
 */
#define G_LOG_DOMAIN "vrtc-device"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alarm_timer.h"
#include "handover.h"
#include "ratelimit.h"
#include "rtc_backend.h"
#include "time_ns.h"
#include "vhost_user.h"
#include "vu_peer.h"
#include "vu_server.h"

#define VU_MSGS_PER_DISPATCH 32
#define VU_ACCEPTS_PER_DISPATCH 16
#define VU_ACCEPT_PAUSE_MS 100
#define VU_POLL_MODE_MS 1
#define VU_SWEEP_MS 50

#define VU_HDR_SIZE sizeof(struct vhost_user_header)

struct vu_sconn;

struct vu_listener;

struct vu_queue_io {
	struct vu_sconn *conn;
	unsigned int idx;
	int kick_fd;	  /* the fd kick_id watches, -1 */
	guint kick_id;	  /* GSource of the kick fd, 0 */
	bool listed;	  /* in the server's active list */
	GList link;	  /* data = this */
	uint64_t last_ns; /* last kick or work seen */
	bool swept;	  /* the sweep saw it sleep with work */
};

struct vu_sconn {
	struct vu_server *s;
	struct vu_listener *from; /* accepted on; outlives its connections */
	GList link;		  /* in s->conns; data = this */
	int fd;
	guint sock_id;
	char *name;    /* the label: the peer's QEMU -name, else conn_id */
	char *conn_id; /* "LISTENER#N" */
	struct vu_peer peer;
	struct vu_conn *proto;
	struct rtcdev_dev *dev;
	uint64_t connected_ns; /* CLOCK_MONOTONIC at accept */
	struct vu_queue_io q[VU_NUM_QUEUES];
	guint alarm_id;	   /* idle source: send waiting alarm notifications */
	uint64_t told_seq; /* the device's state_seq the watch last saw */

	/* The message being received. */
	size_t have; /* bytes of header + payload so far */
	unsigned int nfds;
	int fds[VHOST_USER_MAX_FDS];
	union {
		struct vhost_user_header h;
		uint8_t bytes[VU_HDR_SIZE + VHOST_USER_PAYLOAD_MAX];
	} rx;
};

struct vu_listener {
	struct vu_server *s;
	int fd;
	guint src_id;	/* accept watch, 0 while paused */
	guint pause_id; /* resume timer after EMFILE and the like */
	unsigned int seq;
	unsigned int nconns; /* open connections accepted here */
	char *name;
};

struct vu_poller {
	GSource source;
	struct vu_server *s;
};

struct vu_server {
	struct vu_server_config cfg;
	GPtrArray *listeners;
	GQueue conns;
	GQueue active; /* struct vu_queue_io being polled / with work */
	GSource *poller;
	struct alarm_timer *alarms; /* every device's alarms; NULL: none */
	guint sweep_id;		    /* missed-kick sweep, while conns exist */
	struct ratelimit rl;	    /* connection-level lines */
	/* of the closed connections, for vu_server_get_stats() */
	struct vu_server_stats gone;
	struct vu_server_watch watch; /* crash recovery; changed NULL: none */
};

static void close_fd(int fd)
{
	if (fd >= 0) {
		close(fd);
	}
}

static void remove_source(guint *id)
{
	if (*id) {
		g_source_remove(*id);
		*id = 0;
	}
}

/* ---- active queues and polling ------------------------------------- */

static void queue_list(struct vu_queue_io *q, uint64_t now)
{
	struct vu_server *s = q->conn->s;

	q->last_ns = now;
	q->swept = false;
	if (q->listed) {
		return;
	}
	g_queue_push_tail_link(&s->active, &q->link);
	q->listed = true;
	if (s->cfg.poll_ns) {
		vu_conn_notify_disable(q->conn->proto, q->idx);
	}
}

static void queue_unlist(struct vu_queue_io *q)
{
	if (q->listed) {
		g_queue_unlink(&q->conn->s->active, &q->link);
		q->listed = false;
	}
}

static bool queue_ready(const struct vu_queue_io *q)
{
	return virtq_ready(vu_conn_queue(q->conn->proto, q->idx));
}

/* Idle for the poll window: kicks back on, unless work raced in. */
static void queue_maybe_sleep(struct vu_queue_io *q, uint64_t now)
{
	struct vu_server *s = q->conn->s;

	if (q->kick_fd < 0 || now - q->last_ns < s->cfg.poll_ns) {
		return;
	}
	if (vu_conn_notify_enable(q->conn->proto, q->idx)) {
		q->last_ns = now;
		if (s->cfg.poll_ns) {
			vu_conn_notify_disable(q->conn->proto, q->idx);
		}
		return;
	}
	queue_unlist(q);
}

/* Tell the watch when the device's saved state moved (alarms). */
static void sconn_check_state(struct vu_sconn *sc)
{
	const struct vu_server *s = sc->s;

	if (s->watch.changed && sc->dev &&
	    rtcdev_dev_state_seq(sc->dev) != sc->told_seq) {
		sc->told_seq = rtcdev_dev_state_seq(sc->dev);
		s->watch.changed(s->watch.ctx, sc, NULL, 0);
	}
}

static void queue_run(struct vu_queue_io *q, uint64_t now)
{
	int n;

	n = vu_conn_process(q->conn->proto, q->idx, VU_PROCESS_BUDGET);
	sconn_check_state(q->conn);
	if (n < 0 || !queue_ready(q)) {
		queue_unlist(q);
		return;
	}
	if (n > 0) {
		q->last_ns = now;
	}
	if (n < VU_PROCESS_BUDGET) {
		queue_maybe_sleep(q, now);
	}
}

/*
 * Whether the poller must dispatch now; *@timeout is what it allows the
 * main loop to sleep otherwise (0 while inside a poll window).
 */
static gboolean poller_scan(struct vu_server *s, gint *timeout)
{
	uint64_t now;
	GList *l;

	*timeout = -1;
	if (g_queue_is_empty(&s->active)) {
		return FALSE;
	}
	now = (uint64_t)time_ns_now(CLOCK_MONOTONIC);
	for (l = s->active.head; l; l = l->next) {
		struct vu_queue_io *q = l->data;
		bool in_window = now - q->last_ns < s->cfg.poll_ns;

		if (!queue_ready(q) ||
		    vu_conn_has_work(q->conn->proto, q->idx)) {
			*timeout = 0;
			return TRUE;
		}
		if (in_window) {
			*timeout = 0;
		} else if (q->kick_fd >= 0) {
			*timeout = 0;
			return TRUE; /* window over: put it to sleep */
		} else if (*timeout != 0) {
			*timeout = VU_POLL_MODE_MS;
		}
	}
	return FALSE;
}

static gboolean poller_prepare(GSource *src, gint *timeout)
{
	return poller_scan(((struct vu_poller *)src)->s, timeout);
}

static gboolean poller_check(GSource *src)
{
	gint timeout;

	return poller_scan(((struct vu_poller *)src)->s, &timeout);
}

static gboolean poller_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
	struct vu_server *s = ((struct vu_poller *)src)->s;
	uint64_t now = (uint64_t)time_ns_now(CLOCK_MONOTONIC);
	GList *l, *next;

	/* queue_run() may unlink its own entry, never another one. */
	for (l = s->active.head; l; l = next) {
		struct vu_queue_io *q = l->data;

		next = l->next;
		if (!queue_ready(q)) {
			queue_unlist(q);
		} else if (vu_conn_has_work(q->conn->proto, q->idx)) {
			queue_run(q, now);
		} else {
			queue_maybe_sleep(q, now);
		}
	}
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs poller_funcs = {
	.prepare = poller_prepare,
	.check = poller_check,
	.dispatch = poller_dispatch,
};

/*
 * Serve request queues that slept with work for a whole sweep period: a
 * kick that never came. Every VU_SWEEP_MS while connections exist (see
 * the top); queue_list() clears the mark, so a kick in time never counts.
 */
static gboolean server_sweep(gpointer data)
{
	struct vu_server *s = data;
	GList *l, *next;
	unsigned int i;

	if (g_queue_is_empty(&s->conns)) {
		s->sweep_id = 0;
		return G_SOURCE_REMOVE;
	}
	for (l = s->conns.head; l; l = next) {
		struct vu_sconn *sc = l->data;

		next = l->next; /* queue_run() never closes a connection */
		for (i = 0; i < VU_NUM_QUEUES; i++) {
			struct vu_queue_io *q = &sc->q[i];

			if (q->listed || !sc->proto ||
			    !vu_conn_queue_polled(sc->proto, i) ||
			    !vu_conn_has_work(sc->proto, i)) {
				q->swept = false;
				continue;
			}
			if (!q->swept) {
				q->swept =
					true; /* its kick may be on the way */
				continue;
			}
			s->gone.kicks_missed++;
			g_log_ratelimited(&s->rl, G_LOG_LEVEL_WARNING,
					  "%s: queue %u had requests and no "
					  "kick; serving them",
					  sc->name, i);
			queue_list(q, (uint64_t)time_ns_now(CLOCK_MONOTONIC));
			queue_run(q, (uint64_t)time_ns_now(CLOCK_MONOTONIC));
		}
	}
	return G_SOURCE_CONTINUE;
}

/* ---- connections ---------------------------------------------------- */

static void sconn_free(struct vu_sconn *sc)
{
	struct vu_server *s = sc->s;
	const struct rtcdev_stats *st =
		sc->dev ? rtcdev_dev_stats(sc->dev) : NULL;
	unsigned int i;

	if (st && st->requests) {
		char p50[32], p99[32];

		g_log_ratelimited(
			&s->rl, G_LOG_LEVEL_MESSAGE,
			"%s: served %" PRIu64 " requests (%" PRIu64
			" errors); device time per request: p50 %s, "
			"p99 %s, mean %.2f us",
			sc->name, st->requests, st->errors,
			rtcdev_stats_busy_text(st, 0.5, p50, sizeof(p50)),
			rtcdev_stats_busy_text(st, 0.99, p99, sizeof(p99)),
			(double)st->busy_ns / 1e3 / (double)st->requests);
	}
	if (st && (st->cross_cap[0] || st->cross_cap[1])) {
		g_log_ratelimited(
			&s->rl, G_LOG_LEVEL_MESSAGE,
			"%s: CROSS_CAP asked %" PRIu64
			" times for ARM_VCT, %" PRIu64
			" for X86_TSC; answered OK without the flag (no guest "
			"counter mapping, READ_CROSS is EOPNOTSUPP)",
			sc->name, st->cross_cap[0], st->cross_cap[1]);
	}
	if (st) {
		s->gone.requests += st->requests;
		s->gone.errors += st->errors;
		s->gone.alarm_events += rtcdev_dev_alarm_events(sc->dev);
	}
	s->gone.closed++;
	sc->from->nconns--;
	if (s->watch.gone) {
		s->watch.gone(s->watch.ctx, sc->conn_id);
	}
	remove_source(&sc->sock_id);
	remove_source(&sc->alarm_id);
	for (i = 0; i < VU_NUM_QUEUES; i++) {
		queue_unlist(&sc->q[i]);
		remove_source(&sc->q[i].kick_id);
	}
	vu_conn_free(sc->proto);
	rtcdev_dev_free(sc->dev);
	for (i = 0; i < sc->nfds; i++) {
		close_fd(sc->fds[i]);
	}
	close_fd(sc->fd);
	g_queue_unlink(&s->conns, &sc->link);
	g_free(sc->name);
	g_free(sc->conn_id);
	g_free(sc);
}

/* Close and free the connection with one log line; evaluates to -1. */
#define sconn_close(sc, level, fmt, ...)                                       \
	({                                                                     \
		g_log_ratelimited(&(sc)->s->rl, (level),                       \
				  "%s: closing connection: " fmt, (sc)->name,  \
				  ##__VA_ARGS__);                              \
		sconn_free(sc);                                                \
		-1;                                                            \
	})

static gboolean kick_cb(gint fd, GIOCondition cond, gpointer data);
static void sconn_alarm_pending(void *opaque);

/* vu_conn hook: follow the queue's kick fd and readiness. */
static void sconn_queue_changed(void *opaque, unsigned int idx)
{
	struct vu_sconn *sc = opaque;
	struct vu_queue_io *q = &sc->q[idx];
	const struct virtq *vq = vu_conn_queue(sc->proto, idx);
	int want = vq->started ? vq->kick_fd : -1;

	if (q->kick_id && q->kick_fd != want) {
		remove_source(&q->kick_id);
	}
	q->kick_fd = want;
	if (want >= 0 && !q->kick_id) {
		q->kick_id = g_unix_fd_add(want, G_IO_IN, kick_cb, q);
	}
	if (virtq_ready(vq) && vu_conn_queue_polled(sc->proto, idx)) {
		/* Buffers may be waiting since before the start. */
		queue_list(q, (uint64_t)time_ns_now(CLOCK_MONOTONIC));
	} else {
		queue_unlist(q);
	}
	/* Notifications may be waiting for this alarmq since a reset. */
	if (idx == VIRTIO_RTC_ALARMQ && virtq_ready(vq) &&
	    rtcdev_dev_alarm_pending(sc->dev)) {
		sconn_alarm_pending(sc);
	}
}

/* Send waiting alarm notifications (if the alarmq has buffers). */
static gboolean sconn_alarm_idle(gpointer data)
{
	struct vu_sconn *sc = data;
	int n;

	sc->alarm_id = 0;
	do {
		n = vu_conn_process(sc->proto, VIRTIO_RTC_ALARMQ,
				    VU_PROCESS_BUDGET);
	} while (n == VU_PROCESS_BUDGET);
	sconn_check_state(sc);
	return G_SOURCE_REMOVE;
}

/* Device hook: a notification is ready; send it from the loop. */
static void sconn_alarm_pending(void *opaque)
{
	struct vu_sconn *sc = opaque;

	if (!sc->alarm_id && sc->proto) {
		sc->alarm_id = g_idle_add(sconn_alarm_idle, sc);
	}
	sconn_check_state(sc);
}

static const struct vu_conn_hooks sconn_hooks = {
	.queue_changed = sconn_queue_changed,
};

static gboolean kick_cb(gint fd, GIOCondition cond, gpointer data)
{
	struct vu_queue_io *q = data;
	struct vu_sconn *sc = q->conn;
	uint64_t v;
	ssize_t n;

	do {
		n = read(fd, &v, sizeof(v));
	} while (n < 0 && errno == EINTR);
	if (n == 0 || (n < 0 && errno != EAGAIN) ||
	    (cond & (G_IO_HUP | G_IO_ERR | G_IO_NVAL))) {
		sconn_close(sc, G_LOG_LEVEL_WARNING,
			    "kick fd of queue %u failed", q->idx);
		return G_SOURCE_REMOVE;
	}
	if (!vu_conn_queue_polled(sc->proto, q->idx)) {
		(void)vu_conn_process(sc->proto, q->idx, VU_PROCESS_BUDGET);
		sconn_check_state(sc);
		return G_SOURCE_CONTINUE;
	}
	if (queue_ready(q)) {
		uint64_t now = (uint64_t)time_ns_now(CLOCK_MONOTONIC);

		queue_list(q, now);
		queue_run(q, now);
	}
	return G_SOURCE_CONTINUE;
}

/*
 * Receive up to @want bytes of the current message, collecting fds.
 * Returns bytes received, 0 on EOF, -EAGAIN, -EMSGSIZE for too many fds,
 * or -errno.
 */
static ssize_t sconn_recv(struct vu_sconn *sc, size_t want)
{
	char cbuf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
	struct iovec iov = {
		.iov_base = sc->rx.bytes + sc->have,
		.iov_len = want,
	};
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	bool overflow = false;
	ssize_t n;

	do {
		n = recvmsg(sc->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t i, count;

		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS) {
			continue;
		}
		count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(fd));
			if (sc->nfds < VHOST_USER_MAX_FDS) {
				sc->fds[sc->nfds++] = fd;
			} else {
				close_fd(fd);
				overflow = true;
			}
		}
	}
	if (overflow || (mh.msg_flags & MSG_CTRUNC)) {
		return -EMSGSIZE;
	}
	sc->have += (size_t)n;
	return n;
}

/* Hand the complete message to the protocol; send its reply. */
static int sconn_dispatch(struct vu_sconn *sc)
{
	uint8_t reply[VU_REPLY_MAX];
	struct vhost_user_header h = sc->rx.h;
	unsigned int nfds = sc->nfds;
	int fresh[VHOST_USER_MAX_FDS];
	size_t len;
	ssize_t n;
	int rc;

	sc->have = 0;
	sc->nfds = 0;
	memcpy(fresh, sc->fds, nfds * sizeof(int));
	rc = vu_conn_handle(sc->proto, &h, sc->rx.bytes + VU_HDR_SIZE, sc->fds,
			    nfds, reply, &len);
	if (rc < 0) {
		return sconn_close(sc, G_LOG_LEVEL_WARNING, "%s",
				   vu_conn_error(sc->proto));
	}
	/* saved before the front-end hears back: a crash after the reply
	 * never loses what it was told */
	if (sc->s->watch.changed) {
		sc->told_seq = rtcdev_dev_state_seq(sc->dev);
		sc->s->watch.changed(sc->s->watch.ctx, sc, fresh, nfds);
	}
	if (len == 0) {
		return 1;
	}
	do {
		n = send(sc->fd, reply, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len) {
		return sconn_close(sc, G_LOG_LEVEL_WARNING,
				   "reply to %s not sent: %s",
				   vu_request_name(h.request),
				   n < 0 ? g_strerror(errno) : "short write");
	}
	return 1;
}

/*
 * Read and handle one message. Returns 1 if one was handled, 0 if more
 * bytes are needed, -1 if the connection was closed (and freed).
 */
static int sconn_read_msg(struct vu_sconn *sc)
{
	size_t want;
	ssize_t n;

	for (;;) {
		if (sc->have < VU_HDR_SIZE) {
			want = VU_HDR_SIZE - sc->have;
		} else if (sc->rx.h.size > VHOST_USER_PAYLOAD_MAX) {
			return sconn_close(sc, G_LOG_LEVEL_WARNING,
					   "%s: payload of %u bytes",
					   vu_request_name(sc->rx.h.request),
					   sc->rx.h.size);
		} else {
			want = VU_HDR_SIZE + sc->rx.h.size - sc->have;
			if (want == 0) {
				return sconn_dispatch(sc);
			}
		}
		n = sconn_recv(sc, want);
		if (n == -EAGAIN) {
			return 0;
		}
		if (n == 0 && sc->have == 0) {
			return sconn_close(sc, G_LOG_LEVEL_MESSAGE,
					   "front-end hung up");
		}
		if (n == 0) {
			return sconn_close(sc, G_LOG_LEVEL_WARNING,
					   "truncated message (%zu bytes)",
					   sc->have);
		}
		if (n == -EMSGSIZE) {
			return sconn_close(sc, G_LOG_LEVEL_WARNING,
					   "more than %d fds in one message",
					   VHOST_USER_MAX_FDS);
		}
		if (n < 0) {
			return sconn_close(sc, G_LOG_LEVEL_WARNING,
					   "receive failed: %s",
					   g_strerror((int)-n));
		}
	}
}

static gboolean sconn_readable(gint fd, GIOCondition cond, gpointer data)
{
	struct vu_sconn *sc = data;
	unsigned int i;
	int rc;

	for (i = 0; i < VU_MSGS_PER_DISPATCH; i++) {
		rc = sconn_read_msg(sc);
		if (rc < 0) {
			return G_SOURCE_REMOVE; /* sc is gone */
		}
		if (rc == 0) {
			break;
		}
	}
	return G_SOURCE_CONTINUE;
}

/*
 * The connection's label in logs, status and metrics: the peer's QEMU
 * -name, stable across reconnects, unless an open connection has it
 * already; else "LISTENER#N".
 */
static char *sconn_label(const struct vu_server *s, const struct vu_sconn *sc)
{
	if (!sc->peer.name[0]) {
		return g_strdup(sc->conn_id);
	}
	for (const GList *c = s->conns.head; c; c = c->next) {
		const struct vu_sconn *o = c->data;

		if (!strcmp(o->name, sc->peer.name)) {
			return g_strdup(sc->conn_id);
		}
	}
	return g_strdup(sc->peer.name);
}

/*
 * A connection on @fd from listener @l, @conn_id "LISTENER#N" (NULL: the
 * listener's next; else the one the process before us gave it). Returns
 * it, or NULL when out of memory (@fd closed).
 */
static struct vu_sconn *sconn_create(struct vu_server *s, struct vu_listener *l,
				     int fd, const char *conn_id)
{
	struct vu_sconn *sc;
	unsigned int i;

	sc = g_new0(struct vu_sconn, 1);
	sc->s = s;
	sc->from = l;
	l->nconns++;
	sc->fd = fd;
	sc->link.data = sc;
	sc->conn_id = conn_id ? g_strdup(conn_id)
			      : g_strdup_printf("%s#%u", l->name, ++l->seq);
	vu_peer_identify(fd, &sc->peer);
	sc->name = sconn_label(s, sc);
	sc->connected_ns = (uint64_t)time_ns_now(CLOCK_MONOTONIC);
	if (!conn_id) {
		s->gone.accepted++; /* an adopted one was counted before */
	}
	for (i = 0; i < VU_NUM_QUEUES; i++) {
		sc->q[i].conn = sc;
		sc->q[i].idx = i;
		sc->q[i].kick_fd = -1;
		sc->q[i].link.data = &sc->q[i];
	}
	g_queue_push_tail_link(&s->conns, &sc->link);
	sc->dev = rtcdev_dev_new(s->cfg.clocks, s->cfg.model);
	if (sc->dev && s->alarms &&
	    rtcdev_dev_attach_alarms(sc->dev, s->alarms, sconn_alarm_pending,
				     sc) < 0) {
		rtcdev_dev_free(sc->dev);
		sc->dev = NULL;
	}
	sc->proto = sc->dev ? vu_conn_new(sc->name,
					  s->alarms ? &rtc_backend_alarm_ops
						    : &rtc_backend_ops,
					  sc->dev, &sconn_hooks, sc)
			    : NULL;
	if (!sc->proto) {
		sconn_close(sc, G_LOG_LEVEL_WARNING, "out of memory");
		return NULL;
	}
	sc->sock_id = g_unix_fd_add(fd, G_IO_IN, sconn_readable, sc);
	if (!s->sweep_id) {
		s->sweep_id = g_timeout_add(VU_SWEEP_MS, server_sweep, s);
	}
	return sc;
}

static int sconn_new(struct vu_server *s, struct vu_listener *l, int fd)
{
	struct vu_sconn *sc = sconn_create(s, l, fd, NULL);
	char who[160];

	if (!sc) {
		return -ENOMEM;
	}
	vu_peer_describe(&sc->peer, who, sizeof(who));
	g_log_ratelimited(&s->rl, G_LOG_LEVEL_MESSAGE,
			  "%s: front-end connected on %s: %s", sc->name,
			  sc->conn_id, who);
	return 0;
}

/* ---- listeners ------------------------------------------------------ */

static gboolean listener_accept(gint fd, GIOCondition cond, gpointer data);

static gboolean listener_resume(gpointer data)
{
	struct vu_listener *l = data;

	l->pause_id = 0;
	l->src_id = g_unix_fd_add(l->fd, G_IO_IN, listener_accept, l);
	return G_SOURCE_REMOVE;
}

static gboolean listener_accept(gint fd, GIOCondition cond, gpointer data)
{
	struct vu_listener *l = data;
	struct vu_server *s = l->s;
	unsigned int i;
	int c;

	for (i = 0; i < VU_ACCEPTS_PER_DISPATCH; i++) {
		c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				break;
			}
			if (errno == EINTR || errno == ECONNABORTED) {
				continue;
			}
			/* EMFILE and friends: the socket stays readable. */
			g_warning_ratelimited(&s->rl, "%s: accept: %s; pausing",
					      l->name, g_strerror(errno));
			l->src_id = 0;
			l->pause_id = g_timeout_add(VU_ACCEPT_PAUSE_MS,
						    listener_resume, l);
			return G_SOURCE_REMOVE;
		}
		if (s->cfg.max_connections &&
		    s->conns.length >= s->cfg.max_connections) {
			g_warning_ratelimited(
				&s->rl, "%s: refusing a connection: %u open",
				l->name, s->conns.length);
			s->gone.refused++;
			close(c);
			continue;
		}
		(void)sconn_new(s, l, c);
	}
	return G_SOURCE_CONTINUE;
}

static void listener_free(gpointer data)
{
	struct vu_listener *l = data;

	remove_source(&l->src_id);
	remove_source(&l->pause_id);
	close_fd(l->fd);
	g_free(l->name);
	g_free(l);
}

int vu_server_add_listener(struct vu_server *s, int listen_fd, const char *name)
{
	struct vu_listener *l;
	int flags;

	flags = fcntl(listen_fd, F_GETFL);
	if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		return -errno;
	}
	l = g_new0(struct vu_listener, 1);
	l->s = s;
	l->fd = listen_fd;
	l->name = g_strdup(name ? name : "vhost-user");
	l->src_id = g_unix_fd_add(listen_fd, G_IO_IN, listener_accept, l);
	g_ptr_array_add(s->listeners, l);
	return 0;
}

static struct vu_listener *find_listener(const struct vu_server *s,
					 const char *name, guint *at)
{
	for (guint i = 0; i < s->listeners->len; i++) {
		struct vu_listener *l = g_ptr_array_index(s->listeners, i);

		if (!strcmp(l->name, name)) {
			*at = i;
			return l;
		}
	}
	return NULL;
}

int vu_server_remove_listener(struct vu_server *s, const char *name)
{
	struct vu_listener *l;
	GList *it, *next;
	int closed = 0;
	guint at;

	l = find_listener(s, name, &at);
	if (!l) {
		return -ENOENT;
	}
	/* sconn_free() unlinks only its own entry */
	for (it = s->conns.head; it; it = next) {
		struct vu_sconn *sc = it->data;

		next = it->next;
		if (sc->from == l) {
			g_log_ratelimited(&s->rl, G_LOG_LEVEL_MESSAGE,
					  "%s: closing connection: its socket "
					  "is removed",
					  sc->name);
			sconn_free(sc);
			closed++;
		}
	}
	g_assert(l->nconns == 0);
	g_ptr_array_remove_index(s->listeners, at); /* closes the fd */
	return closed;
}

int vu_server_listener_connections(const struct vu_server *s, const char *name)
{
	guint at;
	const struct vu_listener *l = find_listener(s, name, &at);

	return l ? (int)l->nconns : -ENOENT;
}

void vu_server_foreach_listener(const struct vu_server *s,
				void (*fn)(const char *name,
					   unsigned int connections, void *ctx),
				void *ctx)
{
	for (guint i = 0; i < s->listeners->len; i++) {
		const struct vu_listener *l =
			g_ptr_array_index(s->listeners, i);

		fn(l->name, l->nconns, ctx);
	}
}

/* ---- server --------------------------------------------------------- */

struct vu_server *vu_server_new(const struct vu_server_config *cfg)
{
	struct vu_server *s;

	if (!cfg || !cfg->clocks || !cfg->model) {
		return NULL;
	}
	s = g_new0(struct vu_server, 1);
	s->cfg = *cfg;
	if (cfg->clocks->alarm) {
		s->alarms = alarm_timer_new(cfg->model);
		if (!s->alarms) {
			g_free(s);
			return NULL;
		}
	}
	s->listeners = g_ptr_array_new_with_free_func(listener_free);
	g_queue_init(&s->conns);
	g_queue_init(&s->active);
	ratelimit_init(&s->rl, 10, 100);
	s->poller = g_source_new(&poller_funcs, sizeof(struct vu_poller));
	((struct vu_poller *)s->poller)->s = s;
	g_source_set_name(s->poller, "vhost-user poller");
	g_source_attach(s->poller, NULL);
	return s;
}

void vu_server_free(struct vu_server *s)
{
	if (!s) {
		return;
	}
	while (!g_queue_is_empty(&s->conns)) {
		sconn_free(s->conns.head->data);
	}
	g_ptr_array_free(s->listeners, TRUE);
	remove_source(&s->sweep_id);
	g_source_destroy(s->poller);
	g_source_unref(s->poller);
	alarm_timer_free(s->alarms);
	g_free(s);
}

unsigned int vu_server_num_connections(const struct vu_server *s)
{
	return s->conns.length;
}

void vu_server_get_stats(const struct vu_server *s, struct vu_server_stats *out)
{
	const GList *l;

	*out = s->gone;
	out->connected = s->conns.length;
	for (l = s->conns.head; l; l = l->next) {
		const struct vu_sconn *sc = l->data;
		const struct rtcdev_stats *st;

		if (!sc->dev) {
			continue;
		}
		st = rtcdev_dev_stats(sc->dev);
		out->requests += st->requests;
		out->errors += st->errors;
		out->alarm_events += rtcdev_dev_alarm_events(sc->dev);
	}
}

static const char *queue_state(const struct vu_sconn *sc, unsigned int idx,
			       char *buf, size_t len)
{
	const struct virtq *q =
		sc->proto ? vu_conn_queue(sc->proto, idx) : NULL;

	if (!q) {
		return "stopped";
	}
	if (q->broken) {
		snprintf(buf, len, "broken: %s",
			 q->error ? q->error : "hostile ring");
		return buf;
	}
	return virtq_ready(q) ? "running" : "stopped";
}

void vu_server_foreach_conn(const struct vu_server *s,
			    void (*fn)(const struct vu_conn_status *st,
				       void *ctx),
			    void *ctx)
{
	char why[VU_NUM_QUEUES][96];
	const GList *l;
	unsigned int i;

	for (l = s->conns.head; l; l = l->next) {
		const struct vu_sconn *sc = l->data;
		struct vu_conn_status cs = {
			.name = sc->name,
			.conn_id = sc->conn_id,
			.peer = &sc->peer,
			.connected_ns = sc->connected_ns,
		};

		if (!sc->dev) {
			continue;
		}
		cs.stats = rtcdev_dev_stats(sc->dev);
		cs.alarm_events = rtcdev_dev_alarm_events(sc->dev);
		cs.busy_p50_ns = rtcdev_stats_busy_quantile(cs.stats, 0.5);
		cs.busy_p99_ns = rtcdev_stats_busy_quantile(cs.stats, 0.99);
		for (i = 0; i < VU_NUM_QUEUES; i++) {
			cs.queue_state[i] =
				queue_state(sc, i, why[i], sizeof(why[i]));
		}
		fn(&cs, ctx);
	}
}

/* ---- live upgrade ------------------------------------------------------ */

static int save_msg(void *ctx, uint32_t request, const void *payload,
		    uint32_t size, const int *fds, unsigned int nfds)
{
	struct ho_writer *w = ctx;
	unsigned int i;

	ho_begin(w, HO_MSG);
	ho_put_u32(w, HO_MSG_REQUEST, request);
	ho_put(w, HO_MSG_PAYLOAD, payload, size);
	for (i = 0; i < nfds; i++) {
		ho_put_fd(w, fds[i]);
	}
	ho_end(w);
	return 0;
}

static int save_conn(const struct vu_sconn *sc, struct ho_writer *w)
{
	unsigned int i;
	int rc;

	ho_begin(w, HO_CONN);
	ho_put_str(w, HO_CONN_LISTENER, sc->from->name);
	ho_put_str(w, HO_NAME, sc->conn_id); /* the label is found again */
	ho_put_fd(w, sc->fd);
	if (sc->have || sc->nfds) {
		ho_begin(w, HO_RX);
		ho_put(w, HO_RX_BYTES, sc->rx.bytes, (uint32_t)sc->have);
		for (i = 0; i < sc->nfds; i++) {
			ho_put_fd(w, sc->fds[i]);
		}
		ho_end(w);
	}
	rc = vu_conn_save(sc->proto, save_msg, w);
	for (i = 0; i < VU_NUM_QUEUES; i++) {
		if (vu_conn_queue(sc->proto, i)->broken) {
			ho_put_u32(w, HO_QUEUE_BROKEN, i);
		}
	}
	rtcdev_dev_save(sc->dev, w);
	ho_end(w);
	return rc;
}

void vu_server_save_listeners(const struct vu_server *s, struct ho_writer *w)
{
	struct ho_server_totals t = {
		.accepted = htole64(s->gone.accepted),
		.refused = htole64(s->gone.refused),
		.closed = htole64(s->gone.closed),
		.requests = htole64(s->gone.requests),
		.errors = htole64(s->gone.errors),
		.alarm_events = htole64(s->gone.alarm_events),
		.kicks_missed = htole64(s->gone.kicks_missed),
	};
	guint i;

	ho_put(w, HO_SERVER_TOTALS, &t, sizeof(t));
	for (i = 0; i < s->listeners->len; i++) {
		const struct vu_listener *li =
			g_ptr_array_index(s->listeners, i);

		ho_begin(w, HO_LISTENER);
		ho_put_str(w, HO_NAME, li->name);
		ho_put_fd(w, li->fd);
		ho_put_u32(w, HO_SEQ, li->seq);
		ho_end(w);
	}
}

int vu_server_save(const struct vu_server *s, struct ho_writer *w)
{
	const GList *l;
	int rc = 0;

	vu_server_save_listeners(s, w);
	for (l = s->conns.head; l && !rc; l = l->next) {
		const struct vu_sconn *sc = l->data;

		if (sc->proto && sc->dev) {
			rc = save_conn(sc, w);
		}
	}
	return rc;
}

void vu_server_set_watch(struct vu_server *s, const struct vu_server_watch *w)
{
	if (w) {
		s->watch = *w;
	} else {
		memset(&s->watch, 0, sizeof(s->watch));
	}
}

int vu_server_save_conn(const struct vu_sconn *sc, struct ho_writer *w)
{
	return sc->proto && sc->dev ? save_conn(sc, w) : -ENOENT;
}

const char *vu_server_conn_id(const struct vu_sconn *sc)
{
	return sc->conn_id;
}

void vu_server_foreach_sconn(const struct vu_server *s,
			     void (*fn)(const struct vu_sconn *sc, void *ctx),
			     void *ctx)
{
	for (const GList *l = s->conns.head; l; l = l->next) {
		fn(l->data, ctx);
	}
}

unsigned int vu_server_recover(struct vu_server *s)
{
	unsigned int n = 0, i;

	for (GList *l = s->conns.head; l; l = l->next) {
		struct vu_sconn *sc = l->data;

		n += vu_conn_recover(sc->proto);
		for (i = 0; i < VU_NUM_QUEUES; i++) {
			/* requests the guest made while no daemon ran */
			sconn_queue_changed(sc, i);
		}
	}
	return n;
}

/* @fd is an AF_UNIX stream socket, listening or not as @listening. */
static bool unix_stream(int fd, bool listening)
{
	int v = 0, t = 0, a = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) || v != AF_UNIX) {
		return false;
	}
	len = sizeof(t);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &len) || t != SOCK_STREAM) {
		return false;
	}
	len = sizeof(a);
	return !getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &a, &len) &&
	       !!a == listening;
}

static int adopt_listener(struct vu_server *s, struct ho_reader *r,
			  const struct ho_item *it)
{
	char name[256] = "";
	struct ho_reader in;
	struct ho_item x;
	uint32_t seq = 0;
	guint at;
	int fd = -1, rc;

	if (ho_enter(r, it, &in)) {
		return -EBADMSG;
	}
	while ((rc = ho_next(&in, &x)) > 0) {
		if (x.tag == HO_NAME && !name[0]) {
			rc = ho_get_str(&in, &x, name, sizeof(name));
		} else if (x.tag == HO_FD && fd < 0) {
			rc = ho_take_fd(&in, &x, &fd);
		} else if (x.tag == HO_SEQ) {
			rc = ho_get_u32(&in, &x, &seq);
		} else {
			rc = ho_fail(&in, "listener: unexpected record 0x%x",
				     x.tag);
		}
		if (rc < 0) {
			break;
		}
	}
	if (!rc && (!name[0] || fd < 0)) {
		rc = ho_fail(&in, "listener without a name or an fd");
	}
	if (!rc && find_listener(s, name, &at)) {
		rc = ho_fail(&in, "listener %s twice", name);
	}
	if (!rc && !unix_stream(fd, true)) {
		rc = ho_fail(&in,
			     "listener %s: fd is not a listening "
			     "AF_UNIX stream socket",
			     name);
	}
	if (!rc && vu_server_add_listener(s, fd, name) < 0) {
		rc = ho_fail(&in, "listener %s: %s", name, g_strerror(errno));
	}
	if (rc < 0) {
		if (fd >= 0) {
			close(fd);
		}
		return -EBADMSG;
	}
	find_listener(s, name, &at)->seq = seq;
	return 0;
}

static int adopt_msg(struct vu_sconn *sc, struct ho_reader *r,
		     const struct ho_item *it)
{
	uint8_t payload[VHOST_USER_PAYLOAD_MAX];
	int fds[VHOST_USER_MAX_FDS];
	uint32_t request = UINT32_MAX, size = 0;
	unsigned int nfds = 0, i;
	struct ho_reader in;
	struct ho_item x;
	bool have_payload = false;
	int rc;

	if (ho_enter(r, it, &in)) {
		return -EBADMSG;
	}
	while ((rc = ho_next(&in, &x)) > 0) {
		if (x.tag == HO_MSG_REQUEST && request == UINT32_MAX) {
			rc = ho_get_u32(&in, &x, &request);
		} else if (x.tag == HO_MSG_PAYLOAD && !have_payload &&
			   x.len <= sizeof(payload)) {
			memcpy(payload, x.v, x.len);
			size = x.len;
			have_payload = true;
		} else if (x.tag == HO_FD && nfds < VHOST_USER_MAX_FDS) {
			rc = ho_take_fd(&in, &x, &fds[nfds]);
			nfds += rc == 0;
		} else {
			rc = ho_fail(&in,
				     "%s: unexpected record 0x%x in a "
				     "message",
				     sc->name, x.tag);
		}
		if (rc < 0) {
			break;
		}
	}
	if (!rc && request == UINT32_MAX) {
		rc = ho_fail(&in, "%s: message without a request", sc->name);
	}
	if (rc < 0) {
		for (i = 0; i < nfds; i++) {
			close(fds[i]);
		}
		return -EBADMSG;
	}
	/* The same checks as a message from the socket; fds consumed. */
	if (vu_conn_replay(sc->proto, request, payload, size, fds, nfds) < 0) {
		return ho_fail(r, "%s: %s refused: %s", sc->name,
			       vu_request_name(request),
			       vu_conn_error(sc->proto));
	}
	return 0;
}

static int adopt_rx(struct vu_sconn *sc, struct ho_reader *r,
		    const struct ho_item *it)
{
	struct ho_reader in;
	struct ho_item x;
	int rc;

	if (ho_enter(r, it, &in)) {
		return -EBADMSG;
	}
	while ((rc = ho_next(&in, &x)) > 0) {
		if (x.tag == HO_RX_BYTES && !sc->have &&
		    x.len <= sizeof(sc->rx.bytes)) {
			memcpy(sc->rx.bytes, x.v, x.len);
			sc->have = x.len;
		} else if (x.tag == HO_FD && sc->nfds < VHOST_USER_MAX_FDS) {
			rc = ho_take_fd(&in, &x, &sc->fds[sc->nfds]);
			sc->nfds += rc == 0;
		} else {
			rc = ho_fail(&in,
				     "%s: unexpected record 0x%x in a "
				     "partial message",
				     sc->name, x.tag);
		}
		if (rc < 0) {
			return -EBADMSG;
		}
	}
	if (rc < 0) {
		return -EBADMSG;
	}
	/* What sconn_read_msg() could have left: never a whole message. */
	if (sc->have >= VU_HDR_SIZE &&
	    (sc->rx.h.size > VHOST_USER_PAYLOAD_MAX ||
	     sc->have >= VU_HDR_SIZE + sc->rx.h.size)) {
		return ho_fail(r, "%s: partial message of %zu bytes", sc->name,
			       sc->have);
	}
	return 0;
}

static int adopt_conn(struct vu_server *s, struct ho_reader *r,
		      const struct ho_item *it)
{
	char lname[256] = "", name[300] = "";
	struct vu_listener *l = NULL;
	struct vu_sconn *sc = NULL;
	struct ho_reader in;
	struct ho_item x;
	uint32_t q;
	guint at;
	int fd = -1, rc;

	if (ho_enter(r, it, &in)) {
		return -EBADMSG;
	}
	/* Listener, name and socket first: then the connection exists. */
	while (!sc && ho_next(&in, &x) > 0) {
		if (x.tag == HO_CONN_LISTENER && !lname[0]) {
			rc = ho_get_str(&in, &x, lname, sizeof(lname));
			l = rc ? NULL : find_listener(s, lname, &at);
			if (!rc && !l) {
				rc = ho_fail(&in,
					     "connection of an unknown "
					     "listener %s",
					     lname);
			}
		} else if (x.tag == HO_NAME && !name[0]) {
			rc = ho_get_str(&in, &x, name, sizeof(name));
		} else if (x.tag == HO_FD && fd < 0) {
			rc = ho_take_fd(&in, &x, &fd);
			if (!rc && !unix_stream(fd, false)) {
				rc = ho_fail(&in, "connection fd is not a "
						  "connected AF_UNIX stream "
						  "socket");
			}
		} else {
			rc = ho_fail(&in,
				     "connection: 0x%x before its "
				     "listener, name and socket",
				     x.tag);
		}
		if (rc < 0) {
			if (fd >= 0) {
				close(fd);
			}
			return -EBADMSG;
		}
		if (l && name[0] && fd >= 0) {
			sc = sconn_create(s, l, fd, name);
			if (!sc) {
				return ho_fail(&in, "out of memory");
			}
		}
	}
	if (!sc) {
		if (fd >= 0) {
			close(fd);
		}
		return ho_fail(&in, "connection without a listener, name or "
				    "socket");
	}
	while ((rc = ho_next(&in, &x)) > 0) {
		if (x.tag == HO_MSG) {
			rc = adopt_msg(sc, &in, &x);
		} else if (x.tag == HO_RX) {
			rc = adopt_rx(sc, &in, &x);
		} else if (x.tag == HO_QUEUE_BROKEN) {
			rc = ho_get_u32(&in, &x, &q);
			if (!rc && q >= VU_NUM_QUEUES) {
				rc = ho_fail(&in, "%s: broken queue %u",
					     sc->name, q);
			}
			if (!rc) {
				vu_conn_break_queue(
					sc->proto, q,
					"broken before the upgrade");
			}
		} else {
			rc = rtcdev_dev_load(sc->dev, &in, &x);
			if (rc == 0) {
				rc = ho_fail(&in, "%s: unexpected record 0x%x",
					     sc->name, x.tag);
			}
			rc = rc < 0 ? rc : 0;
		}
		if (rc < 0) {
			break;
		}
	}
	if (rc < 0) {
		sconn_free(sc);
		return -EBADMSG;
	}
	g_log_ratelimited(&s->rl, G_LOG_LEVEL_MESSAGE,
			  "%s: adopted (features 0x%" PRIx64 ")", sc->name,
			  vu_conn_features(sc->proto));
	return 0;
}

int vu_server_adopt(struct vu_server *s, struct ho_reader *r)
{
	struct ho_item it;
	int rc;

	while ((rc = ho_next(r, &it)) > 0) {
		if (it.tag == HO_SERVER_TOTALS) {
			struct ho_server_totals t;

			rc = ho_get(r, &it, &t, sizeof(t));
			if (rc < 0) {
				return -EBADMSG;
			}
			s->gone.accepted += le64toh(t.accepted);
			s->gone.refused += le64toh(t.refused);
			s->gone.closed += le64toh(t.closed);
			s->gone.requests += le64toh(t.requests);
			s->gone.errors += le64toh(t.errors);
			s->gone.alarm_events += le64toh(t.alarm_events);
			s->gone.kicks_missed += le64toh(t.kicks_missed);
		} else if (it.tag == HO_LISTENER) {
			rc = adopt_listener(s, r, &it);
		} else if (it.tag == HO_CONN) {
			rc = adopt_conn(s, r, &it);
		} else {
			rc = ho_fail(r, "server: unexpected record 0x%x",
				     it.tag);
		}
		if (rc < 0) {
			return -EBADMSG;
		}
	}
	return rc;
}
