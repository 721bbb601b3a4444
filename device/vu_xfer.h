/* SPDX-License-Identifier: MIT */
/*
 * One device-state transfer of VHOST_USER_PROTOCOL_F_DEVICE_STATE: the
 * bytes of the back-end's state going out through (save), or coming in
 * from (load), the pipe SET_DEVICE_STATE_FD gave us.
 *
 * The pipe is the front-end's: it may be full, never closed, or not a
 * pipe at all. All I/O is non-blocking: vu_xfer_pump() moves what it can
 * at once, and the GLib watch of vu_xfer_watch() moves the rest from the
 * main loop as the pipe allows, so one VM's transfer never stalls the
 * daemon or another VM. A load accepts at most VU_XFER_MAX bytes.
 * Thread/loop: the daemon's main loop (the default GMainContext).
 */
#ifndef DEVICE_VU_XFER_H
#define DEVICE_VU_XFER_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

/* Largest state a load accepts (ours is a few hundred bytes). */
#define VU_XFER_MAX ((size_t)64 * 1024)

struct vu_xfer;

/*
 * vu_xfer_new_save() / vu_xfer_new_load() - a transfer over @fd, which
 * becomes the transfer's (made non-blocking; closed by vu_xfer_free(),
 * or as soon as a save has written everything: that EOF tells the
 * front-end the state is complete). A save takes @data (unref'd by
 * vu_xfer_free()). Returns NULL with @fd closed if @fd is unusable or
 * on allocation failure.
 */
struct vu_xfer *vu_xfer_new_save(int fd, GByteArray *data);
struct vu_xfer *vu_xfer_new_load(int fd);

/* Remove the watch, close the fd, free the data; NULL is a no-op. */
void vu_xfer_free(struct vu_xfer *x);

/*
 * vu_xfer_pump() - move what can be moved now without blocking.
 * Returns 1 when done (save: all written, fd closed; load: EOF seen),
 * 0 if the pipe must be waited for, or -errno on failure (a load over
 * VU_XFER_MAX is -EFBIG). Once done or failed it keeps that answer.
 */
int vu_xfer_pump(struct vu_xfer *x);

/* Keep pumping from the main loop until done or failed. */
void vu_xfer_watch(struct vu_xfer *x);

/* True for a save, false for a load. */
bool vu_xfer_is_save(const struct vu_xfer *x);

/* The bytes a load received (complete once vu_xfer_pump() returned 1). */
const GByteArray *vu_xfer_data(const struct vu_xfer *x);

#endif /* DEVICE_VU_XFER_H */
