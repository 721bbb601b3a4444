// SPDX-License-Identifier: MIT
/*
 * The daemon's listening sockets (listen.h): checked paths, stale ones
 * cleared, group and mode, removal at exit.
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "error.h"
#include "listen.h"

/* A socket file we created, removed at exit if it is still ours. */
struct owned_socket {
	char *path;
	dev_t dev;
	ino_t ino;
};

struct listen_set {
	GArray *owned; /* struct owned_socket */
};

/* Check that @fd is a listening AF_UNIX stream socket; no changes. */
int listen_check_fd(int fd, GError **err)
{
	int acc = 0, type = 0, domain = 0;
	socklen_t len = sizeof(int);

	if (fcntl(fd, F_GETFD) < 0) {
		return error_set(err, EBADF,
				 "--fd %d: not an open file descriptor", fd);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0) {
		return error_set(err, EINVAL, "--fd %d: not a socket (%s)", fd,
				 g_strerror(errno));
	}
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
	if (domain != AF_UNIX || type != SOCK_STREAM) {
		return error_set(err, EINVAL,
				 "--fd %d: not an AF_UNIX stream socket", fd);
	}
	if (!acc) {
		return error_set(err, EINVAL,
				 "--fd %d: socket is not listening (call "
				 "listen() before passing it)",
				 fd);
	}
	return 0;
}

/*
 * Before anything starts: the directory of socket @path must exist, and
 * @path must not be something other than a socket.
 */
static int check_socket_dir(const char *path, GError **err)
{
	char *dir = g_path_get_dirname(path);
	struct stat st;
	int r = 0;

	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		r = error_set(
			err, EEXIST,
			"refusing to replace %s: it exists and is not a socket",
			path);
	} else if (stat(dir, &st) < 0) {
		r = error_set(err, errno, "socket path %s: directory %s: %s",
			      path, dir, g_strerror(errno));
	} else if (!S_ISDIR(st.st_mode)) {
		r = error_set(err, ENOTDIR,
			      "socket path %s: %s is not a directory", path,
			      dir);
	}
	g_free(dir);
	return r;
}

int listen_check_paths(char **paths, GError **err)
{
	struct sockaddr_un sa;
	size_t i, j;

	for (i = 0; paths[i]; i++) {
		if (strlen(paths[i]) >= sizeof(sa.sun_path)) {
			return error_set(
				err, ENAMETOOLONG,
				"socket path %s: longer than %zu bytes",
				paths[i], sizeof(sa.sun_path) - 1);
		}
		if (check_socket_dir(paths[i], err)) {
			return -ENOENT;
		}
		for (j = 0; j < i; j++) {
			if (!strcmp(paths[i], paths[j])) {
				return error_set(err, EINVAL,
						 "socket path %s given twice",
						 paths[i]);
			}
		}
	}
	return 0;
}

/*
 * An existing file at @path: refuse anything but a socket, refuse a
 * socket somebody listens on, remove a stale one (nobody listening).
 */
static int clear_stale_socket(const struct sockaddr_un *sa, GError **err)
{
	const char *path = sa->sun_path;
	struct stat st;
	int fd, r, e;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT) {
			return 0;
		}
		e = errno;
		return error_set(err, e, "socket path %s: %s", path,
				 g_strerror(e));
	}
	if (!S_ISSOCK(st.st_mode)) {
		return error_set(
			err, EEXIST,
			"refusing to replace %s: it exists and is not a socket",
			path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		e = errno;
		return error_set(err, e, "socket: %s", g_strerror(e));
	}
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	e = errno;
	close(fd);
	if (r == 0 || e == EAGAIN || e == EINPROGRESS) {
		return error_set(err, EADDRINUSE,
				 "socket %s is in use by a running process",
				 path);
	}
	if (e != ECONNREFUSED) {
		return error_set(err, e, "cannot check existing socket %s: %s",
				 path, g_strerror(e));
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		e = errno;
		return error_set(err, e, "cannot remove stale socket %s: %s",
				 path, g_strerror(e));
	}
	g_message("removed stale socket %s", path);
	return 0;
}

/*
 * Give the socket file @path to @gid, mode 0660 (before listen()). In
 * the vm-socket-dir (set-group-ID, of that group) the file has the group
 * already: the dropped daemon need not be a member to get it.
 */
static int give_to_group(const char *path, gid_t gid, GError **err)
{
	struct stat st;
	int e;

	if ((lstat(path, &st) < 0 || st.st_gid != gid) &&
	    chown(path, (uid_t)-1, gid) < 0) {
		e = errno;
		return error_set(err, e, "cannot give %s to group %u: %s", path,
				 (unsigned int)gid, g_strerror(e));
	}
	if (chmod(path, 0660) < 0) {
		e = errno;
		return error_set(err, e, "cannot give %s to group %u: %s", path,
				 (unsigned int)gid, g_strerror(e));
	}
	return 0;
}

int listen_unix(struct listen_set *ls, const char *path, gid_t gid,
		GError **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct owned_socket o;
	struct stat st;
	int fd, e, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		return error_set(err, ENAMETOOLONG,
				 "socket path %s: longer than %zu bytes", path,
				 sizeof(sa.sun_path) - 1);
	}
	strcpy(sa.sun_path, path);
	r = clear_stale_socket(&sa, err);
	if (r) {
		return r;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		e = errno;
		return error_set(err, e, "socket: %s", g_strerror(e));
	}
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		close(fd);
		return error_set(err, e, "cannot bind %s: %s", path,
				 g_strerror(e));
	}
	if (lstat(path, &st) == 0) {
		o.path = g_strdup(path);
		o.dev = st.st_dev;
		o.ino = st.st_ino;
		g_array_append_val(ls->owned, o);
	}
	if (gid != LISTEN_NO_GROUP && give_to_group(path, gid, err)) {
		close(fd);
		return -EPERM;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		e = errno;
		close(fd);
		return error_set(err, e, "cannot listen on %s: %s", path,
				 g_strerror(e));
	}
	return fd;
}

struct listen_set *listen_set_new(void)
{
	struct listen_set *ls = g_new0(struct listen_set, 1);

	ls->owned = g_array_new(FALSE, FALSE, sizeof(struct owned_socket));
	return ls;
}

void listen_own(struct listen_set *ls, const char *path)
{
	struct owned_socket o;
	struct stat st;

	if (path[0] == '/' && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		o.path = g_strdup(path);
		o.dev = st.st_dev;
		o.ino = st.st_ino;
		g_array_append_val(ls->owned, o);
	}
}

/* Remove @o's file unless someone replaced it: 0 or -errno. */
static int remove_owned(const struct owned_socket *o)
{
	struct stat st;

	if (lstat(o->path, &st) < 0) {
		return -errno;
	}
	if (st.st_dev != o->dev || st.st_ino != o->ino) {
		return -ESTALE;
	}
	return unlink(o->path) < 0 ? -errno : 0;
}

int listen_forget(struct listen_set *ls, const char *path)
{
	for (guint i = 0; i < ls->owned->len; i++) {
		struct owned_socket *o =
			&g_array_index(ls->owned, struct owned_socket, i);

		if (!strcmp(o->path, path)) {
			int r = remove_owned(o);

			g_free(o->path);
			g_array_remove_index(ls->owned, i);
			return r;
		}
	}
	return -ENOENT;
}

void listen_set_free(struct listen_set *ls)
{
	if (!ls) {
		return;
	}
	for (guint i = 0; i < ls->owned->len; i++) {
		struct owned_socket *o =
			&g_array_index(ls->owned, struct owned_socket, i);

		(void)remove_owned(o);
		g_free(o->path);
	}
	g_array_unref(ls->owned);
	g_free(ls);
}

int listen_tcp(const struct sockaddr *sa, socklen_t len, const char *what,
	       const char *addr, GError **err)
{
	int fd, e, one = 1;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0) {
		e = errno;
		return error_set(err, e, "%s: socket: %s", what, g_strerror(e));
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		e = errno;
		close(fd);
		return error_set(err, e, "%s: cannot listen on %s: %s", what,
				 addr, g_strerror(e));
	}
	return fd;
}

/* Whether @fd (a directory) holds nothing but sockets. */
static bool only_sockets(int fd)
{
	int dup_fd = dup(fd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	const struct dirent *e;
	bool ok = d != NULL;

	if (!d && dup_fd >= 0) {
		close(dup_fd);
	}
	while (ok && (e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
			continue;
		}
		ok = fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		     S_ISSOCK(st.st_mode);
	}
	if (d) {
		closedir(d);
	}
	return ok;
}

/*
 * An existing directory @dir (open as @fd, @st) is taken only as it is,
 * or, when its owner, group or mode must change, if it holds nothing
 * but sockets: a typo such as vm-socket-dir=/run is refused, whoever
 * the daemon's user is (root too), never chmod'ed or given away.
 */
static int check_existing_dir(const char *dir, int fd, const struct stat *st,
			      uid_t uid, gid_t gid, GError **err)
{
	bool change = st->st_uid != uid || st->st_gid != gid ||
		      (st->st_mode & 07777) != LISTEN_DIR_MODE;

	if (change && !only_sockets(fd)) {
		return error_set(
			err, EPERM,
			"refusing to give %s (uid %u gid %u mode "
			"%04o) to uid %u gid %u mode %04o: it holds "
			"files other than sockets",
			dir, (unsigned int)st->st_uid, (unsigned int)st->st_gid,
			(unsigned int)(st->st_mode & 07777), (unsigned int)uid,
			(unsigned int)gid, (unsigned int)LISTEN_DIR_MODE);
	}
	return 0;
}

int listen_check_dir(const char *dir, uid_t uid, gid_t gid, GError **err)
{
	struct sockaddr_un sa;
	char *parent;
	struct stat st;
	int fd, r = 0;

	if (dir[0] != '/') {
		return error_set(err, EINVAL, "%s: not an absolute path", dir);
	}
	/* room for "/" and a name of a few bytes */
	if (strlen(dir) + 8 >= sizeof(sa.sun_path)) {
		return error_set(err, ENAMETOOLONG,
				 "%s: too long for socket paths in it (%zu "
				 "bytes at most with the name)",
				 dir, sizeof(sa.sun_path) - 1);
	}
	if (lstat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			return error_set(err, ENOTDIR,
					 "%s: exists and is not a directory "
					 "(symbolic links are refused)",
					 dir);
		}
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			return error_set(err, errno, "%s: %s", dir,
					 g_strerror(errno));
		}
		r = check_existing_dir(dir, fd, &st, uid, gid, err);
		close(fd);
		return r;
	}
	if (errno != ENOENT) {
		return error_set(err, errno, "%s: %s", dir, g_strerror(errno));
	}
	parent = g_path_get_dirname(dir);
	if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = error_set(err, ENOENT,
			      "%s: its parent %s is not a directory", dir,
			      parent);
	}
	g_free(parent);
	return r;
}

int listen_prepare_dir(const char *dir, uid_t uid, gid_t gid, GError **err)
{
	struct stat st;
	int fd, e, r = 0;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		e = errno;
		return error_set(err, e, "cannot create %s: %s", dir,
				 g_strerror(e));
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		e = errno;
		if (fd >= 0) {
			close(fd);
		}
		return error_set(err, e, "%s: %s", dir, g_strerror(e));
	}
	r = check_existing_dir(dir, fd, &st, uid, gid, err);
	if (r == 0 && (st.st_mode & 07777) != LISTEN_DIR_MODE &&
	    fchmod(fd, LISTEN_DIR_MODE) < 0) {
		/* before fchown(): as its owner, root needs no CAP_FOWNER
		 * (the unit's bounding set has none); a directory keeps its
		 * set-group-ID bit through chown */
		e = errno;
		r = error_set(err, e, "cannot set the mode of %s: %s", dir,
			      g_strerror(e));
	} else if (r == 0 && (st.st_uid != uid || st.st_gid != gid) &&
		   fchown(fd, uid, gid) < 0) {
		e = errno;
		r = error_set(err, e, "cannot give %s to uid %u gid %u: %s",
			      dir, (unsigned int)uid, (unsigned int)gid,
			      g_strerror(e));
	}
	close(fd);
	return r;
}
