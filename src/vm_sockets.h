/* SPDX-License-Identifier: MIT */
/*
 * The VM sockets of a running daemon, and adding and removing them at
 * run time over the control socket (vm list, vm add PATH, vm remove
 * PATH), so that a VM can be added without restarting the daemon and
 * cutting every other VM's device.
 *
 * A socket added at run time gets what a start-up one gets (listen.h:
 * a stale socket cleared, one in use or another file refused, the
 * group and mode of socket-group=, the umask), but it is made by the
 * dropped, confined daemon: only in the vm-socket-dir, which start-up
 * gave to the daemon's user (listen_prepare_dir()). Removing one closes
 * its listener and only the connections accepted on it, and removes its
 * file. Any socket-path may be removed; an --fd listener may not.
 *
 * Thread/loop: the default GLib main context.
 */
#ifndef SRC_VM_SOCKETS_H
#define SRC_VM_SOCKETS_H

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "control_parse.h"
#include "listen.h"
#include "vu_server.h"

/* At most this many VM sockets when max-connections is 0 (no limit). */
#define VM_SOCKETS_MAX 1024

struct vm_sockets_conf {
	const char *dir;      /* vm-socket-dir; NULL: vm add is refused */
	const char *reserved; /* the control socket's path, or NULL */
	gid_t gid;	      /* socket-group, or LISTEN_NO_GROUP */
	unsigned int max;     /* most VM sockets at once; 0: VM_SOCKETS_MAX */
};

struct vm_sockets;

/* @server and @ls must outlive the result. */
struct vm_sockets *vm_sockets_new(struct vu_server *server,
				  struct listen_set *ls,
				  const struct vm_sockets_conf *conf);

/* Forget the list (the listeners belong to the server). NULL ok. */
void vm_sockets_free(struct vm_sockets *v);

/*
 * vm_sockets_note() - a listener served since start-up, added to the
 * server as @name: a socket path (@is_path), or an --fd ("fd N").
 */
void vm_sockets_note(struct vm_sockets *v, const char *name, bool is_path);

/* Live upgrade: the sockets vm add made (HO_VM_ADDED), and noting one
 * such socket adopted from the process before. */
struct ho_writer;
void vm_sockets_save(const struct vm_sockets *v, struct ho_writer *w);
void vm_sockets_note_added(struct vm_sockets *v, const char *path);

/*
 * vm_sockets_answer() - carry out @cmd (CONTROL_CMD_VM_*) with its
 * argument @arg and append the reply to @out: what was done, or one
 * line "error: WHY". Returns 0 or -errno (the reply says why).
 */
int vm_sockets_answer(struct vm_sockets *v, enum control_cmd cmd,
		      const char *arg, GString *out);

#endif /* SRC_VM_SOCKETS_H */
