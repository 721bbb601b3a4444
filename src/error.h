/* SPDX-License-Identifier: MIT */
/*
 * One-line start-up errors: a GError in G_FILE_ERROR with the errno's
 * code, and -errno for the caller to return.
 */
#ifndef SRC_ERROR_H
#define SRC_ERROR_H

#include <glib.h>

/* Sets @err to the formatted message; returns -@e. */
int error_set(GError **err, int e, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

#endif
