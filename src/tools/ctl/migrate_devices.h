/* SPDX-License-Identifier: MIT */
/*
 * The devices `vhost-user-rtc-ctl migrate` unplugs and plugs again
 * (migrate.c), and finding them in a running QEMU (migrate_devices.c).
 * Thread/loop: none (blocking QMP calls).
 */
#ifndef SRC_CTL_MIGRATE_DEVICES_H
#define SRC_CTL_MIGRATE_DEVICES_H

#include <glib.h>

#include "qmp.h"

/* One device taken out, and what it takes to put it back. */
struct unplugged {
	char *id;
	char *driver;
	char *bus;  /* bus name for device_add (a pcie-root-port's id) */
	char *addr; /* "SS.F" on that bus */
	/* vhost-user-rtc: its chardev */
	char *chardev;
	char *socket; /* the chardev's UNIX socket path */
	/* ivshmem-plain: its memory backend */
	char *memdev; /* object id */
	char *mem_path;
	gint64 size;
	gboolean share, readonly;
	gboolean removed; /* gone from the source QEMU */
	gint64 del_us;	  /* when device_del was asked (monotonic) */
};

/* unplugged_free() - free @u and its strings; NULL is a no-op. */
void unplugged_free(struct unplugged *u);

/*
 * migrate_find_devices() - add to @out (struct unplugged *, vhost-user-rtc
 * devices first) every vhost-user-rtc device of @q with an id=, and every
 * ivshmem-plain whose memory backend maps a file ending in "vmclock"; with
 * @only (NULL-terminated ids), those devices only, whatever they map.
 * Returns TRUE, or FALSE with @err set when a device cannot be described
 * (its chardev is no UNIX socket, a QOM property is missing).
 */
gboolean migrate_find_devices(struct qmp *q, char **only, GPtrArray *out,
			      GError **err);

#endif /* SRC_CTL_MIGRATE_DEVICES_H */
