/* SPDX-License-Identifier: MIT */
/*
 * Where the daemon's log lines go: stderr, one line per message (no
 * blank lines, no GLib "**" decoration), each with its priority for
 * journald when stderr is a journal stream ($JOURNAL_STREAM, as systemd
 * sets it): a "<N>" syslog prefix, which journald strips and stores as
 * PRIORITY (3 err for start-up failures and criticals, 4 warning,
 * 5 notice for messages, 6 info, 7 debug).
 * Thread/loop: any (one write(2) per line).
 */
#ifndef SRC_LOG_H
#define SRC_LOG_H

#include <glib.h>

/* "<3>" when stderr is journald's stream, else "" (for fail()). */
const char *log_err_prefix(void);

/* GLib structured-log writer implementing the above. */
GLogWriterOutput log_write(GLogLevelFlags level, const GLogField *fields,
			   gsize n, gpointer data);

#endif /* SRC_LOG_H */
