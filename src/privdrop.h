/* SPDX-License-Identifier: MIT */
/*
 * Least privilege: once everything that needs root is open (PHC devices,
 * listening sockets, the chronyd and ptp4l clients' sockets), the daemon
 * switches to an unprivileged user and group, empties every capability
 * set (libcap), sets PR_SET_NO_NEW_PRIVS and installs a seccomp allow-list
 * of the system calls the serving loop needs (syscall_filter.h).
 *
 * Who to become (config keys "user" and "group"):
 *   - not started as root: no switch; "user"/"group", if given, must name
 *     the current ones;
 *   - root, "user" given: that user; "group" given: that group, else the
 *     user's primary group; the user's supplementary groups from the group
 *     database are kept (initgroups), so an administrator can grant access
 *     to a peer's socket directory (e.g. ptp4l's) by group membership;
 *   - root, "user" unset: PRIVDROP_DEFAULT_USER if it exists, else a
 *     refusal (as chronyd refuses when its user is missing): staying uid 0
 *     must be asked for, with "user=root" (capabilities still emptied).
 *
 * Thread/loop: start-up only, on the main thread, before any other thread
 * exists (capability sets are per thread).
 */
#ifndef SRC_PRIVDROP_H
#define SRC_PRIVDROP_H

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#define PRIVDROP_DEFAULT_USER "vhost-user-rtc"

struct privdrop_target {
	bool switch_ids; /* false: keep the current uid and gids */
	uid_t uid;
	gid_t gid;
	char name[64]; /* user name, for initgroups() and messages */
};

/*
 * privdrop_resolve() - decide who to become from the "user" and "group"
 * values (NULL: unset), looking them up in the user and group databases.
 * Fills @t. Returns 0, or -EINVAL (unknown user or group, a switch that
 * needs root) with @err set to one line naming the problem; @user_origin
 * and @group_origin say where the values came from ("FILE:LINE: user",
 * "--user") for that line.
 */
int privdrop_resolve(const char *user, const char *user_origin,
		     const char *group, const char *group_origin,
		     struct privdrop_target *t, GError **err);

/*
 * privdrop_group_id() - the id of group @name, or -EINVAL with @err set
 * to one line naming it and @origin ("FILE:LINE: socket-group").
 */
int privdrop_group_id(const char *name, const char *origin, gid_t *gid,
		      GError **err);

/*
 * privdrop_apply() - drop privileges as @t says: bounding and ambient
 * capability sets emptied (when allowed), PR_SET_KEEPCAPS off,
 * setgroups/setresgid/setresuid, then every capability set emptied and
 * PR_SET_NO_NEW_PRIVS set. Checks the result (ids, capabilities). Must
 * run while the process has one thread (-EBUSY otherwise): threads
 * started later inherit the dropped state. Returns 0, or -errno with @err
 * set; on failure the process must exit, its privileges are in an
 * unknown state.
 */
int privdrop_apply(const struct privdrop_target *t, GError **err);

/*
 * privdrop_confine() - install the seccomp allow-list (syscall_filter.h)
 * on every thread; after privdrop_apply(), once the threads the serving
 * loop needs (GLib's worker, started by g_unix_signal_add()) exist.
 * Returns 0, or -errno with @err set.
 */
int privdrop_confine(GError **err);

#endif /* SRC_PRIVDROP_H */
