/* SPDX-License-Identifier: MIT */
/*
 * The error convention, one for the whole tree:
 *
 * Inside (sync/, device/, the readers in sync/sources/) a function that
 * can fail returns 0 or a negative errno and does not log; a constructor
 * that can fail for a reason worth telling returns int and gives the
 * object through an out-parameter (estimator_new()). One that can fail
 * only on a caller's bug or out of memory returns the object or NULL,
 * like g_new() (clock_model_new(), leap_merge_new(), vu_server_new()).
 *
 * At the boundaries that report to people (configuration, start-up,
 * opening a time source, the listeners, the privilege drop, the probe's
 * calls) a failing function also sets a GError whose message is the one
 * line the operator reads, naming what failed (file:line, device,
 * socket); its code is the errno. error_set() below does both; layers
 * below src/ use their own domain (source_error_quark()). The caller
 * prints or logs the message once and adds nothing but context.
 *
 * Two exceptions, on purpose. Code built without GLib
 * (sync/sources/phc.c, linked into the e2e guest tool; the test
 * front-end in src/tools/frontend, whose vdaemon_start() and
 * vdaemon_stop() say why in a @why buffer) and the pure parsers under
 * the config (control_parse_*()) write their reason into the caller's
 * char buffer, which the caller wraps into its GError with the origin. And text
 * kept on an object is state, not an error return: a source's health line, the
 * discipline's selection reason, the probe's reason its live bound stopped (for
 * the report), and the test front-end's vuf_error() (the detail of a
 * connection's last -errno, read like strerror()).
 *
 * error_set(): a GError in G_FILE_ERROR with the errno's code, and
 * -errno for the caller to return.
 */
#ifndef SRC_ERROR_H
#define SRC_ERROR_H

#include <glib.h>

/* Sets @err to the formatted message; returns -@e. */
int error_set(GError **err, int e, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

#endif
