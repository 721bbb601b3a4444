// SPDX-License-Identifier: MIT
/*
 * Crash recovery through the file descriptor store (persist.h).
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib-unix.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "notify.h"
#include "persist.h"

#define NAME_MAX_LEN 48

/* One fd in the store, by its number in this process. */
struct stored_fd {
	int fd;
	char name[NAME_MAX_LEN];
	const void *owner; /* the struct owner whose image names it */
};

/* A connection, or the daemon itself: one image and the fds it names. */
struct owner {
	char *conn_id;		  /* NULL: the daemon's image */
	char image[NAME_MAX_LEN]; /* stored name of the image, or "" */
	GArray *fds;		  /* int: the fds its image names */
};

struct persist {
	struct vu_server *server;
	unsigned int gen;
	uint64_t seq;
	GHashTable *byfd;  /* fd -> struct stored_fd */
	GHashTable *conns; /* conn_id -> struct owner */
	struct owner global;
	persist_global_fn global_fn;
	void *ctx;
	guint timer;
	GPtrArray *old; /* names to remove once ours are stored */
	struct persist_stats st;
	int sock;     /* to $NOTIFY_SOCKET */
	GQueue out;   /* struct note, not sent yet */
	guint out_id; /* waiting for the socket to be writable */
	char last_error[160];
	gint64 last_warn_us;
};

static void owner_free(gpointer data)
{
	struct owner *o = data;

	g_free(o->conn_id);
	g_array_unref(o->fds);
	g_free(o);
}

static struct stored_fd *fd_lookup(const struct persist *p, int fd)
{
	return g_hash_table_lookup(p->byfd, &fd);
}

static void fail_once(struct persist *p, const char *what, int err)
{
	gint64 now = g_get_monotonic_time();

	p->st.failed++;
	snprintf(p->last_error, sizeof(p->last_error), "%s: %s", what,
		 g_strerror(err));
	/* a line a minute at most: the store may be full or gone */
	if (!p->last_warn_us ||
	    now - p->last_warn_us > (gint64)60 * G_USEC_PER_SEC) {
		p->last_warn_us = now;
		g_warning("crash recovery: %s (the state a restarted daemon "
			  "needs may be incomplete; is FileDescriptorStoreMax= "
			  "set?)",
			  p->last_error);
	}
}

static void next_name(struct persist *p, char kind, char *buf)
{
	snprintf(buf, NAME_MAX_LEN, PERSIST_PREFIX "%u-%c%" PRIu64, p->gen,
		 kind, ++p->seq);
}

/*
 * The messages to the service manager go out in order through one
 * non-blocking socket: a manager slow to read (its queue is full) never
 * stalls the daemon; what waits is sent when the socket is writable
 * again, in the same order, so the store only lags.
 */
struct note {
	char text[NAME_MAX_LEN + 32];
	int fd; /* a dup of the fd to store, or -1 */
};

static void flush(struct persist *p);

static gboolean on_writable(gint fd, GIOCondition cond, gpointer data)
{
	struct persist *p = data;

	p->out_id = 0;
	flush(p);
	return G_SOURCE_REMOVE;
}

static void flush(struct persist *p)
{
	struct note *n;

	while ((n = g_queue_peek_head(&p->out))) {
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec iov = { .iov_base = n->text,
				     .iov_len = strlen(n->text) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t k;

		if (n->fd >= 0) {
			struct cmsghdr *cm;

			mh.msg_control = cbuf;
			mh.msg_controllen = sizeof(cbuf);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &n->fd, sizeof(int));
		}
		do {
			k = sendmsg(p->sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		} while (k < 0 && errno == EINTR);
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!p->out_id) {
				p->out_id = g_unix_fd_add(p->sock, G_IO_OUT,
							  on_writable, p);
			}
			return;
		}
		if (k < 0) {
			fail_once(p, "telling the service manager", errno);
		} else if (n->fd < 0) {
			p->st.removed++;
		}
		g_queue_pop_head(&p->out);
		if (n->fd >= 0) {
			close(n->fd);
		}
		g_free(n);
	}
}

static int queue_note(struct persist *p, const char *text, int fd)
{
	struct note *n;

	if (p->sock < 0) {
		fail_once(p, "no service manager socket", ENOTCONN);
		return -ENOTCONN;
	}
	if (g_queue_get_length(&p->out) >= PERSIST_QUEUE_MAX) {
		fail_once(p, "the service manager does not read", ENOBUFS);
		return -ENOBUFS;
	}
	n = g_new0(struct note, 1);
	snprintf(n->text, sizeof(n->text), "%s", text);
	n->fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
	if (fd >= 0 && n->fd < 0) {
		int e = errno;

		g_free(n);
		fail_once(p, "storing an fd", e);
		return -e;
	}
	g_queue_push_tail(&p->out, n);
	if (!p->out_id) {
		flush(p);
	}
	return 0;
}

static int put(struct persist *p, int fd, const char *name)
{
	char msg[NAME_MAX_LEN + 32];

	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	return queue_note(p, msg, fd);
}

static void drop(struct persist *p, const char *name)
{
	char msg[NAME_MAX_LEN + 32];

	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	(void)queue_note(p, msg, -1);
}

static bool in(const int *set, unsigned int n, int fd)
{
	for (unsigned int i = 0; i < n; i++) {
		if (set[i] == fd) {
			return true;
		}
	}
	return false;
}

/*
 * Store @o's image from @w (its fds numbered as in this process; @fresh
 * are new files whatever their number), then remove what it replaces.
 */
static void write_image(struct persist *p, struct owner *o, struct ho_writer *w,
			const int *fresh, unsigned int nfresh)
{
	GPtrArray *later = g_ptr_array_new_with_free_func(g_free);
	GString *names = g_string_new(NULL);
	GByteArray *img = NULL;
	char iname[NAME_MAX_LEN];
	unsigned int n, i;
	const int *fds = ho_writer_fds(w, &n);
	int mfd, r;

	/* a number this message reused: the file stored under it is gone */
	for (i = 0; i < nfresh; i++) {
		struct stored_fd *s = fd_lookup(p, fresh[i]);

		if (s) {
			g_ptr_array_add(later, g_strdup(s->name));
			g_hash_table_remove(p->byfd, &(fresh[i]));
		}
	}
	for (i = 0; i < n; i++) {
		struct stored_fd *s = fd_lookup(p, fds[i]);

		if (s && s->owner != o) {
			/* another owner's old number: stale, a new file */
			g_ptr_array_add(later, g_strdup(s->name));
			g_hash_table_remove(p->byfd, &(fds[i]));
			s = NULL;
		}
		if (!s) {
			s = g_new0(struct stored_fd, 1);
			s->fd = fds[i];
			s->owner = o;
			next_name(p, 'f', s->name);
			if (put(p, fds[i], s->name) < 0) {
				g_free(s);
				goto out;
			}
			p->st.fds++;
			g_hash_table_insert(p->byfd, &s->fd, s);
		}
		g_string_append_len(names, s->name,
				    (gssize)strlen(s->name) + 1);
	}
	ho_put(w, HO_STORE_NAMES, names->str, (uint32_t)names->len);
	if (o->conn_id) {
		ho_put_str(w, HO_STORE_CONN, o->conn_id);
	}
	r = ho_writer_finish(w, &img);
	mfd = r ? r : ho_image_memfd(img);
	if (mfd < 0) {
		fail_once(p, "writing the state image", -mfd);
		goto out;
	}
	next_name(p, o->conn_id ? 'c' : 'g', iname);
	r = put(p, mfd, iname);
	close(mfd);
	if (r < 0) {
		goto out;
	}
	p->st.images++;
	/* ours is complete in the store: what it replaces can go */
	if (o->image[0]) {
		drop(p, o->image);
	}
	memcpy(o->image, iname, sizeof(iname));
	for (i = 0; i < o->fds->len; i++) {
		int fd = g_array_index(o->fds, int, i);
		struct stored_fd *s = fd_lookup(p, fd);

		if (s && s->owner == o && !in(fds, n, fd)) {
			drop(p, s->name);
			g_hash_table_remove(p->byfd, &(fd));
		}
	}
	g_array_set_size(o->fds, 0);
	g_array_append_vals(o->fds, fds, n);
out:
	for (i = 0; i < later->len; i++) {
		drop(p, g_ptr_array_index(later, i));
	}
	g_ptr_array_unref(later);
	g_string_free(names, TRUE);
	if (img) {
		g_byte_array_unref(img);
	}
}

static struct owner *owner_new(const char *conn_id)
{
	struct owner *o = g_new0(struct owner, 1);

	o->conn_id = g_strdup(conn_id);
	o->fds = g_array_new(FALSE, FALSE, sizeof(int));
	return o;
}

static struct owner *conn_owner(struct persist *p, const char *conn_id)
{
	struct owner *o = g_hash_table_lookup(p->conns, conn_id);

	if (!o) {
		o = owner_new(conn_id);
		g_hash_table_insert(p->conns, o->conn_id, o);
	}
	return o;
}

static void conn_changed(void *ctx, const struct vu_sconn *sc, const int *fresh,
			 unsigned int nfresh)
{
	struct persist *p = ctx;
	struct ho_writer *w = ho_writer_new();
	const char *id = vu_server_conn_id(sc);
	bool known = g_hash_table_contains(p->conns, id);
	struct owner *o = conn_owner(p, id);

	ho_begin(w, HO_SERVER);
	if (vu_server_save_conn(sc, w) == 0) {
		ho_end(w);
		if (!known) {
			/* its socket came from accept(): new whatever its
			 * number */
			unsigned int n;
			const int *fds = ho_writer_fds(w, &n);

			write_image(p, o, w, fds, n);
		} else {
			write_image(p, o, w, fresh, nfresh);
		}
	}
	ho_writer_free(w);
}

static void conn_gone(void *ctx, const char *conn_id)
{
	struct persist *p = ctx;
	struct owner *o = g_hash_table_lookup(p->conns, conn_id);

	if (!o) {
		return;
	}
	/* the image first: a crash now must not find it without its fds */
	if (o->image[0]) {
		drop(p, o->image);
	}
	for (guint i = 0; i < o->fds->len; i++) {
		int fd = g_array_index(o->fds, int, i);
		struct stored_fd *s = fd_lookup(p, fd);

		if (s && s->owner == o) {
			drop(p, s->name);
			g_hash_table_remove(p->byfd, &(fd));
		}
	}
	g_hash_table_remove(p->conns, conn_id);
}

static void write_global(struct persist *p)
{
	struct ho_writer *w = ho_writer_new();

	p->global_fn(w, p->ctx);
	write_image(p, &p->global, w, NULL, 0);
	ho_writer_free(w);
}

static gboolean on_timer(gpointer data)
{
	write_global(data);
	return G_SOURCE_CONTINUE;
}

struct persist *persist_new(struct vu_server *s, unsigned int gen,
			    persist_global_fn global, void *ctx)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct persist *p;

	if (!e || !*e) {
		return NULL;
	}
	p = g_new0(struct persist, 1);
	p->sock = notify_socket_open();
	if (p->sock < 0) {
		g_warning("crash recovery off: $NOTIFY_SOCKET %s: %s", e,
			  g_strerror(-p->sock));
		g_free(p);
		return NULL;
	}
	g_queue_init(&p->out);
	p->server = s;
	p->gen = gen;
	p->byfd = g_hash_table_new_full(g_int_hash, g_int_equal, NULL, g_free);
	p->conns = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					 owner_free);
	p->global.fds = g_array_new(FALSE, FALSE, sizeof(int));
	p->global_fn = global;
	p->ctx = ctx;
	p->old = g_ptr_array_new_with_free_func(g_free);
	return p;
}

static void save_conn_cb(const struct vu_sconn *sc, void *ctx)
{
	conn_changed(ctx, sc, NULL, 0);
}

void persist_start(struct persist *p, char **old_names)
{
	struct vu_server_watch w = {
		.changed = conn_changed,
		.gone = conn_gone,
		.ctx = p,
	};

	if (!p) {
		return;
	}
	write_global(p);
	vu_server_foreach_sconn(p->server, save_conn_cb, p);
	vu_server_set_watch(p->server, &w);
	for (char **n = old_names; n && *n; n++) {
		drop(p, *n);
	}
	for (guint i = 0; i < p->old->len; i++) {
		drop(p, g_ptr_array_index(p->old, i));
	}
	g_ptr_array_set_size(p->old, 0);
	p->timer = g_timeout_add(PERSIST_GLOBAL_MS, on_timer, p);
}

void persist_global_changed(struct persist *p)
{
	if (p && p->timer) {
		write_global(p);
	}
}

void persist_save_names(const struct persist *p, struct ho_writer *w)
{
	GString *names = g_string_new(NULL);
	GHashTableIter it;
	gpointer k, v;

	if (p) {
		g_hash_table_iter_init(&it, p->byfd);
		while (g_hash_table_iter_next(&it, &k, &v)) {
			const struct stored_fd *s = v;

			g_string_append_len(names, s->name,
					    (gssize)strlen(s->name) + 1);
		}
		g_hash_table_iter_init(&it, p->conns);
		while (g_hash_table_iter_next(&it, &k, &v)) {
			const struct owner *o = v;

			if (o->image[0]) {
				g_string_append_len(names, o->image,
						    (gssize)strlen(o->image) +
							    1);
			}
		}
		if (p->global.image[0]) {
			g_string_append_len(names, p->global.image,
					    (gssize)strlen(p->global.image) +
						    1);
		}
	}
	if (names->len) {
		ho_put(w, HO_STORE_OLD, names->str, (uint32_t)names->len);
	}
	g_string_free(names, TRUE);
}

void persist_get_stats(const struct persist *p, struct persist_stats *st)
{
	if (!p) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = p->st;
	st->last_error = p->last_error[0] ? p->last_error : NULL;
}

void persist_free(struct persist *p)
{
	if (!p) {
		return;
	}
	vu_server_set_watch(p->server, NULL);
	if (p->timer) {
		g_source_remove(p->timer);
	}
	if (p->out_id) {
		g_source_remove(p->out_id);
	}
	/* what is not sent by now is not: the process ends */
	for (struct note *n; (n = g_queue_pop_head(&p->out));) {
		if (n->fd >= 0) {
			close(n->fd);
		}
		g_free(n);
	}
	close(p->sock);
	g_hash_table_destroy(p->byfd);
	g_hash_table_destroy(p->conns);
	g_array_unref(p->global.fds);
	g_ptr_array_unref(p->old);
	g_free(p);
}

/* ---- recovery ---------------------------------------------------------- */

struct rimage {
	char name[NAME_MAX_LEN];
	unsigned int gen;
	uint64_t seq;
	GBytes *bytes;
	char *conn_id;		 /* NULL: the daemon's */
	char **names;		 /* HO_STORE_NAMES */
	unsigned int generation; /* HO_GENERATION of a daemon's image */
};

struct persist_recovery {
	GHashTable *fds;   /* name -> fd + 1 (not taken yet) */
	GPtrArray *images; /* struct rimage: the newest of each owner */
	GPtrArray *stale;  /* names of images that are not */
	struct rimage *global;
	struct ho_fds gfds;
	int *gbefore; /* gfds as taken from the store */
};

static void rimage_free(gpointer data)
{
	struct rimage *m = data;

	if (m->bytes) {
		g_bytes_unref(m->bytes);
	}
	g_free(m->conn_id);
	g_strfreev(m->names);
	g_free(m);
}

/* "vrtc-G-kN": its kind k, G and N; false if not ours. */
static bool parse_name(const char *name, char *kind, unsigned int *gen,
		       uint64_t *seq)
{
	unsigned long g;
	unsigned long long n;
	char *end;

	if (strncmp(name, PERSIST_PREFIX, strlen(PERSIST_PREFIX)) != 0 ||
	    strlen(name) >= NAME_MAX_LEN) {
		return false;
	}
	name += strlen(PERSIST_PREFIX);
	if (*name < '0' || *name > '9') {
		return false;
	}
	errno = 0;
	g = strtoul(name, &end, 10);
	if (errno || g > UINT32_MAX || *end != '-' ||
	    (end[1] != 'f' && end[1] != 'c' && end[1] != 'g') || end[2] < '0' ||
	    end[2] > '9') {
		return false;
	}
	*kind = end[1];
	n = strtoull(end + 2, &end, 10);
	if (errno || *end) {
		return false;
	}
	*gen = (unsigned int)g;
	*seq = n;
	return true;
}

/* The whole of a sealed image memfd, or NULL. */
static GBytes *read_image(int fd)
{
	struct stat st;
	gsize done = 0;
	guint8 *buf;

	if (fstat(fd, &st) < 0 || st.st_size <= 0 ||
	    (uint64_t)st.st_size > HO_MAX_BODY + sizeof(struct ho_header)) {
		return NULL;
	}
	buf = g_malloc((gsize)st.st_size);
	while (done < (gsize)st.st_size) {
		ssize_t k = pread(fd, buf + done, (gsize)st.st_size - done,
				  (off_t)done);

		if (k <= 0) {
			g_free(buf);
			return NULL;
		}
		done += (gsize)k;
	}
	return g_bytes_new_take(buf, done);
}

/* NUL-ended strings of @len bytes at @v, or NULL if not. */
static char **split_names(const uint8_t *v, uint32_t len)
{
	GPtrArray *a = g_ptr_array_new();
	uint32_t at = 0;

	while (at < len) {
		const uint8_t *z = memchr(v + at, 0, len - at);

		if (!z || z == v + at) {
			g_ptr_array_add(a, NULL);
			g_strfreev((char **)g_ptr_array_free(a, FALSE));
			return NULL;
		}
		g_ptr_array_add(a, g_strdup((const char *)v + at));
		at = (uint32_t)(z - v) + 1;
	}
	g_ptr_array_add(a, NULL);
	return (char **)g_ptr_array_free(a, FALSE);
}

/* What the image says of itself (no fd taken); false if it does not read. */
static bool scan_image(struct rimage *m, char *why, size_t len)
{
	const void *img;
	struct ho_reader r;
	struct ho_item it;
	gsize n;
	int rc;

	img = g_bytes_get_data(m->bytes, &n);
	if (ho_reader_open(&r, img, n, NULL, why, len)) {
		return false;
	}
	while ((rc = ho_next(&r, &it)) > 0) {
		if (it.tag == HO_STORE_NAMES && !m->names) {
			m->names = split_names(it.v, it.len);
			if (!m->names) {
				snprintf(why, len, "a bad name table");
				return false;
			}
		} else if (it.tag == HO_STORE_CONN && !m->conn_id) {
			char id[300];

			if (ho_get_str(&r, &it, id, sizeof(id))) {
				return false;
			}
			m->conn_id = g_strdup(id);
		} else if (it.tag == HO_GENERATION) {
			uint32_t g;

			if (!ho_get_u32(&r, &it, &g)) {
				m->generation = g;
			}
		}
	}
	if (rc < 0) {
		return false;
	}
	if (!m->names) {
		m->names = g_new0(char *, 1);
	}
	return true;
}

static bool newer(const struct rimage *a, const struct rimage *b)
{
	return a->gen != b->gen ? a->gen > b->gen : a->seq > b->seq;
}

struct persist_recovery *persist_recovery_open(void)
{
	struct persist_recovery *r;
	GHashTable *newest; /* conn_id -> struct rimage */
	char **names = NULL;
	int n, i;
	bool ours = false;

	n = sd_listen_fds_with_names(1, &names);
	for (i = 0; i < n && names; i++) {
		char k;
		unsigned int g;
		uint64_t s;

		ours |= parse_name(names[i], &k, &g, &s);
	}
	if (n <= 0 || !ours) {
		g_strfreev(names);
		return NULL;
	}
	r = g_new0(struct persist_recovery, 1);
	r->fds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	r->images = g_ptr_array_new_with_free_func(rimage_free);
	r->stale = g_ptr_array_new_with_free_func(g_free);
	newest = g_hash_table_new(g_str_hash, g_str_equal);
	for (i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		struct rimage *m, *have;
		char why[200] = "";
		char k;

		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		m = g_new0(struct rimage, 1);
		if (!parse_name(names[i], &k, &m->gen, &m->seq)) {
			g_warning("crash recovery: fd %d named \"%s\" is not "
				  "ours; closed",
				  fd, names[i]);
			close(fd);
			g_free(m);
			continue;
		}
		if (k == 'f') {
			if (g_hash_table_contains(r->fds, names[i])) {
				close(fd); /* a name twice: keep the first */
			} else {
				g_hash_table_insert(r->fds, g_strdup(names[i]),
						    g_memdup2(&fd, sizeof(fd)));
			}
			g_free(m);
			continue;
		}
		snprintf(m->name, sizeof(m->name), "%s", names[i]);
		m->bytes = read_image(fd);
		close(fd);
		if (!m->bytes || !scan_image(m, why, sizeof(why)) ||
		    (k == 'c') != (m->conn_id != NULL)) {
			g_warning("crash recovery: state image %s refused: %s",
				  m->name, why[0] ? why : "does not read");
			g_ptr_array_add(r->stale, g_strdup(m->name));
			rimage_free(m);
			continue;
		}
		if (k == 'g') {
			if (r->global && !newer(m, r->global)) {
				g_ptr_array_add(r->stale, g_strdup(m->name));
				rimage_free(m);
				continue;
			}
			if (r->global) {
				g_ptr_array_add(r->stale,
						g_strdup(r->global->name));
				rimage_free(r->global);
			}
			r->global = m;
			continue;
		}
		have = g_hash_table_lookup(newest, m->conn_id);
		if (have && !newer(m, have)) {
			g_ptr_array_add(r->stale, g_strdup(m->name));
			rimage_free(m);
			continue;
		}
		if (have) {
			g_ptr_array_add(r->stale, g_strdup(have->name));
			g_ptr_array_remove_fast(r->images, have);
		}
		g_hash_table_replace(newest, m->conn_id, m);
		g_ptr_array_add(r->images, m);
	}
	g_hash_table_destroy(newest);
	g_strfreev(names);
	return r;
}

/* @names' fds from the store into a table, each taken from it; false with
 * the first missing name in @why. */
static bool take_table(struct persist_recovery *r, char **names,
		       struct ho_fds *t, char *why, size_t len)
{
	unsigned int n = g_strv_length(names), i;
	bool ok = true;

	t->n = n;
	t->fd = g_new(int, n ? n : 1);
	for (i = 0; i < n; i++) {
		gpointer k = NULL, v = NULL;

		t->fd[i] = -1;
		if (g_hash_table_steal_extended(r->fds, names[i], &k, &v)) {
			t->fd[i] = *(int *)v;
			g_free(k);
			g_free(v);
		} else if (ok) {
			snprintf(why, len,
				 "%s is not in the store (the service "
				 "manager drops a socket whose peer hung up)",
				 names[i]);
			ok = false;
		}
	}
	return ok;
}

bool persist_recovery_global(struct persist_recovery *r, const void **img,
			     gsize *len, struct ho_fds **fds)
{
	char why[200] = "";

	if (!r->global) {
		return false;
	}
	if (!r->gfds.fd &&
	    !take_table(r, r->global->names, &r->gfds, why, sizeof(why))) {
		g_warning("crash recovery: the daemon's state image %s: %s; "
			  "starting its listeners afresh",
			  r->global->name, why);
		ho_fds_close_rest(&r->gfds);
		return false;
	}
	if (!r->gbefore) {
		r->gbefore = g_memdup2(
			r->gfds.fd, sizeof(int) * (r->gfds.n ? r->gfds.n : 1));
	}
	*img = g_bytes_get_data(r->global->bytes, len);
	*fds = &r->gfds;
	return true;
}

/* @o now owns the fds of @t the adoption took (set to -1 in @t). */
static void keep_names(struct persist *p, struct owner *o, char **names,
		       const struct ho_fds *t, const int *before)
{
	for (unsigned int i = 0; p && i < t->n; i++) {
		struct stored_fd *s;

		if (before[i] < 0 || t->fd[i] >= 0) {
			continue; /* missing, or not taken */
		}
		s = g_new0(struct stored_fd, 1);
		s->fd = before[i];
		s->owner = o;
		snprintf(s->name, sizeof(s->name), "%s", names[i]);
		g_hash_table_replace(p->byfd, &s->fd, s);
		g_array_append_val(o->fds, s->fd);
	}
}

static int adopt_one(struct persist_recovery *r, struct rimage *m,
		     struct vu_server *s, struct persist *p)
{
	struct ho_fds t = { 0 };
	struct ho_reader rd, sub;
	struct ho_item it;
	char why[256] = "";
	const void *img;
	int *before;
	gsize len;
	int rc = 0;
	bool server = false;

	if (!take_table(r, m->names, &t, why, sizeof(why))) {
		g_warning("crash recovery: %s dropped: %s", m->conn_id, why);
		ho_fds_close_rest(&t);
		g_free(t.fd);
		return -ENOENT;
	}
	before = g_memdup2(t.fd, sizeof(int) * (t.n ? t.n : 1));
	img = g_bytes_get_data(m->bytes, &len);
	rc = ho_reader_open(&rd, img, len, &t, why, sizeof(why));
	while (rc == 0 && (rc = ho_next(&rd, &it)) > 0) {
		rc = 0;
		if (it.tag == HO_SERVER && !server) {
			server = true;
			rc = ho_enter(&rd, &it, &sub);
			if (!rc) {
				rc = vu_server_adopt(s, &sub);
			}
		} else if (it.tag != HO_STORE_NAMES &&
			   it.tag != HO_STORE_CONN) {
			rc = ho_fail(&rd, "unexpected record 0x%x", it.tag);
		}
	}
	if (rc == 0 && !server) {
		rc = ho_fail(&rd, "no connection in it");
	}
	if (rc < 0) {
		g_warning("crash recovery: %s dropped: its state image %s "
			  "does not read: %s",
			  m->conn_id, m->name, why);
	} else if (p) {
		keep_names(p, conn_owner(p, m->conn_id), m->names, &t, before);
	}
	ho_fds_close_rest(&t);
	g_free(t.fd);
	g_free(before);
	return rc < 0 ? rc : 0;
}

unsigned int persist_recovery_adopt(struct persist_recovery *r,
				    struct vu_server *s, struct persist *p)
{
	unsigned int n = 0, i;
	GHashTableIter it;
	gpointer k, v;

	/* the daemon's image, adopted by the caller from r->gfds */
	if (r->global && r->gbefore) {
		for (i = 0; i < r->gfds.n; i++) {
			if (r->gfds.fd[i] >= 0 && p) {
				drop(p, r->global->names[i]);
			}
		}
		if (p) {
			keep_names(p, &p->global, r->global->names, &r->gfds,
				   r->gbefore);
		}
		ho_fds_close_rest(&r->gfds);
	}
	for (i = 0; i < r->images->len; i++) {
		n += adopt_one(r, g_ptr_array_index(r->images, i), s, p) == 0;
	}
	/* fds no image we used names: stale */
	g_hash_table_iter_init(&it, r->fds);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		close(*(int *)v);
		if (p) {
			drop(p, k);
		}
	}
	g_hash_table_remove_all(r->fds);
	for (i = 0; p && i < r->stale->len; i++) {
		g_ptr_array_add(p->old,
				g_strdup(g_ptr_array_index(r->stale, i)));
	}
	for (i = 0; p && i < r->images->len; i++) {
		const struct rimage *m = g_ptr_array_index(r->images, i);

		g_ptr_array_add(p->old, g_strdup(m->name));
	}
	if (p && r->global) {
		g_ptr_array_add(p->old, g_strdup(r->global->name));
	}
	return n;
}

unsigned int persist_recovery_generation(const struct persist_recovery *r)
{
	return r && r->global ? r->global->generation : 0;
}

void persist_recovery_free(struct persist_recovery *r)
{
	GHashTableIter it;
	gpointer k, v;

	if (!r) {
		return;
	}
	g_hash_table_iter_init(&it, r->fds);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		close(*(int *)v);
	}
	g_hash_table_destroy(r->fds);
	g_ptr_array_unref(r->images);
	g_ptr_array_unref(r->stale);
	if (r->global) {
		rimage_free(r->global);
	}
	ho_fds_close_rest(&r->gfds);
	g_free(r->gfds.fd);
	g_free(r->gbefore);
	g_free(r);
}
