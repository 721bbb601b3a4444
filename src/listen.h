/* SPDX-License-Identifier: MIT */
/*
 * The daemon's listening sockets. Unix socket paths are checked before
 * anything starts (length, directory, not something else already, not
 * given twice); at start-up a stale socket nobody listens on is removed,
 * one in use is refused; a new socket can be given to a group with mode
 * 0660 (so a VMM, or the operators, in that group can connect while the
 * daemon runs as its own user), and every socket file made here is
 * removed at exit if it is still the one we made. Also: the checks of
 * an inherited --fd listener, and the loopback TCP listener of the
 * metrics endpoint.
 *
 * Errors are one line in @err (G_FILE_ERROR) naming the path; functions
 * return 0 or the fd, or -errno.
 *
 * Thread/loop: start-up and exit, on the main thread.
 */
#ifndef SRC_LISTEN_H
#define SRC_LISTEN_H

#include <glib.h>
#include <sys/socket.h>
#include <sys/types.h>

#define LISTEN_BACKLOG 16
/* listen_unix(): keep the group (and the umask's mode) */
#define LISTEN_NO_GROUP ((gid_t)-1)

struct listen_set;

struct listen_set *listen_set_new(void);

/* Remove the socket files made here that are still ours; free. NULL ok. */
void listen_set_free(struct listen_set *ls);

/*
 * listen_forget() - the socket at @path is no longer served: remove its
 * file if it is still the one made here, and forget it. Returns 0,
 * -ENOENT if it was not made here (or is gone), -ESTALE if someone
 * replaced it, or unlink()'s -errno (e.g. -EACCES: the dropped daemon
 * may not write to the directory).
 */
int listen_forget(struct listen_set *ls, const char *path);

/*
 * The vm-socket-dir (vm add at run time): made before the privilege drop
 * and given to the daemon's user, so that the dropped daemon can create
 * and remove sockets in it. Set-group-ID with the sockets' group, so a
 * socket made there has that group without chown().
 */
#define LISTEN_DIR_MODE 02750

/*
 * listen_check_dir() - what listen_prepare_dir() would refuse, without
 * changing anything (--check-config): @dir is absolute, short enough,
 * and a directory or creatable (its parent is one); an existing one
 * that is not already @uid:@gid with LISTEN_DIR_MODE holds nothing but
 * sockets. Returns 0 or -errno.
 */
int listen_check_dir(const char *dir, uid_t uid, gid_t gid, GError **err);

/*
 * listen_prepare_dir() - create @dir if missing and give it to @uid:@gid
 * with LISTEN_DIR_MODE. An existing directory is changed (owner, group,
 * mode) only if it holds nothing but sockets; one that needs no change
 * is taken as it is. Returns 0 or -errno.
 */
int listen_prepare_dir(const char *dir, uid_t uid, gid_t gid, GError **err);

/* NULL-terminated @paths: each usable as a socket path, none twice. */
int listen_check_paths(char **paths, GError **err);

/* @fd is an open, listening AF_UNIX stream socket (--fd). */
int listen_check_fd(int fd, GError **err);

/*
 * listen_unix() - clear a stale socket at @path, then bind, give to @gid
 * (LISTEN_NO_GROUP: leave) with mode 0660, and listen. Returns the
 * non-blocking, close-on-exec fd, or -errno.
 */
int listen_unix(struct listen_set *ls, const char *path, gid_t gid,
		GError **err);

/* The socket file @path (a listener handed over by the process before
 * us) is ours to remove at the end, as if listen_unix() had made it. */
void listen_own(struct listen_set *ls, const char *path);

/* A non-blocking TCP listener on @sa; @what names it in errors. */
int listen_tcp(const struct sockaddr *sa, socklen_t len, const char *what,
	       const char *addr, GError **err);

#endif
