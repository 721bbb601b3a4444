// SPDX-License-Identifier: MIT
#include <stdarg.h>

#include "error.h"

int error_set(GError **err, int e, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(err, G_FILE_ERROR, g_file_error_from_errno(e), msg);
	g_free(msg);
	return -e;
}
