/* SPDX-License-Identifier: MIT */
/*
 * The error rule, for the whole tree (the exceptions are listed, and
 * are the only ones):
 *
 * 1. A function that can fail returns int: 0 (or a count) on success, a
 *    negative errno on failure. Exceptions: a constructor that can fail
 *    only on a caller's bug or out of memory returns the object or NULL,
 *    like g_new() (clock_model_new(), vu_server_new()); one that can
 *    fail for a reason worth telling returns int and gives the object
 *    through an out-parameter (estimator_new(), source_new()).
 *
 * 2. Low-level code (sync/, device/, the protocol readers) does not log.
 *    Where the reason is read by a person (configuration, start-up,
 *    opening a time source, the listeners, the privilege drop, the
 *    probe's calls) the failing function also sets a GError whose
 *    message is that one line, naming what failed (file:line, device,
 *    socket). Its code is the errno, in the module's domain:
 *    error_set() below (ERROR_DOMAIN), source_error_quark(),
 *    LEAP_ERROR, discipline_error_quark(), eval_live_error_quark().
 *    One exception: a value the operator gave (a key, an option) that
 *    is not valid is in
 *    G_OPTION_ERROR with code G_OPTION_ERROR_BAD_VALUE, as GLib's own
 *    option parser reports it, and the function returns -EINVAL:
 *    error_bad_value() below. The caller prints or logs the message
 *    once and adds nothing but context (g_prefix_error()).
 *
 * 3. Code built without GLib (sync/sources/phc.c, linked into the e2e
 *    guest tool; the test front-end in src/tools/frontend: vdaemon_*()
 *    with a @why buffer) and the pure parsers under the config
 *    (control_parse_*()) write their reason into the caller's char
 *    buffer instead of a GError; the caller wraps it with the origin.
 *
 * Not errors: text kept on an object is state (a source's health line,
 * the discipline's selection reason, the probe's reason its live bound
 * stopped, the test front-end's vuf_error(): the detail of a
 * connection's last -errno, read like strerror()).
 *
 * Header-only so every layer that uses GLib shares the two helpers.
 */
#ifndef ERROR_H
#define ERROR_H

#include <errno.h>
#include <glib.h>
#include <stdarg.h>

/* The domain of error_set(); the code is the errno. */
#define ERROR_DOMAIN (g_quark_from_static_string("vhost-user-rtc-error"))

/* Sets @err (if not NULL) to the formatted message, code @e; returns -@e. */
static inline int error_set(GError **err, int e, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);
static inline int error_set(GError **err, int e, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		*err = g_error_new_valist(ERROR_DOMAIN, e, fmt, ap);
		va_end(ap);
	}
	return -e;
}

/* An operator's value refused: G_OPTION_ERROR_BAD_VALUE; returns -EINVAL. */
static inline int error_bad_value(GError **err, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);
static inline int error_bad_value(GError **err, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		*err = g_error_new_valist(G_OPTION_ERROR,
					  G_OPTION_ERROR_BAD_VALUE, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

#endif /* ERROR_H */
