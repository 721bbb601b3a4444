// SPDX-License-Identifier: MIT
/*
 * The daemon's log writer (log.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int journal_stream = -1; /* unknown yet */

/*
 * systemd.exec(5): $JOURNAL_STREAM is "DEV:INODE" of the stream it
 * connected stdout/stderr to; stderr is the journal if it is that one.
 */
static bool to_journal(void)
{
	const char *env = g_getenv("JOURNAL_STREAM");
	unsigned long long dev = 0, ino = 0;
	struct stat st;
	char *e = NULL;

	if (journal_stream < 0) {
		if (env) {
			dev = strtoull(env, &e, 10);
			ino = *e == ':' ? strtoull(e + 1, &e, 10) : 0;
		}
		journal_stream = env && e && !*e && ino &&
				 fstat(STDERR_FILENO, &st) == 0 &&
				 (unsigned long long)st.st_dev == dev &&
				 (unsigned long long)st.st_ino == ino;
	}
	return journal_stream;
}

const char *log_err_prefix(void)
{
	return to_journal() ? "<3>" : "";
}

static int priority(GLogLevelFlags level)
{
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
		return 3;
	}
	if (level & G_LOG_LEVEL_WARNING) {
		return 4;
	}
	if (level & G_LOG_LEVEL_MESSAGE) {
		return 5;
	}
	return level & G_LOG_LEVEL_INFO ? 6 : 7;
}

static const char *level_name(GLogLevelFlags level)
{
	switch (priority(level)) {
	case 3:
		return level & G_LOG_LEVEL_ERROR ? "ERROR" : "CRITICAL";
	case 4:
		return "WARNING";
	case 5:
		return "Message";
	case 6:
		return "INFO";
	default:
		return "DEBUG";
	}
}

GLogWriterOutput log_write(GLogLevelFlags level, const GLogField *fields,
			   gsize n, gpointer data)
{
	const char *domain = NULL, *msg = NULL;
	GString *line;
	gsize i;
	ssize_t w;

	for (i = 0; i < n; i++) {
		if (!strcmp(fields[i].key, "GLIB_DOMAIN")) {
			domain = fields[i].value;
		} else if (!strcmp(fields[i].key, "MESSAGE")) {
			msg = fields[i].value;
		}
	}
	line = g_string_new(NULL);
	if (to_journal()) {
		/* journald adds the time and the unit */
		g_string_printf(line, "<%d>%s%s%s", priority(level),
				domain ? domain : "", domain ? ": " : "",
				msg ? msg : "");
	} else {
		/* UTC, computed: no time zone file to read under seccomp */
		gint64 ms = g_get_real_time() / 1000;
		gint64 day_ms = ms % ((gint64)24 * 3600 * 1000);

		g_string_printf(line, "%s-%s: %02d:%02d:%02d.%03dZ: %s",
				domain ? domain : g_get_prgname(),
				level_name(level), (int)(day_ms / 3600000),
				(int)(day_ms / 60000 % 60),
				(int)(day_ms / 1000 % 60), (int)(day_ms % 1000),
				msg ? msg : "");
	}
	/* one line per message: no trailing blank line */
	while (line->len && line->str[line->len - 1] == '\n') {
		g_string_truncate(line, line->len - 1);
	}
	g_string_append_c(line, '\n');
	w = write(STDERR_FILENO, line->str, line->len);
	g_string_free(line, TRUE);
	return w < 0 ? G_LOG_WRITER_UNHANDLED : G_LOG_WRITER_HANDLED;
}
