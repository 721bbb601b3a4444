/* SPDX-License-Identifier: MIT */
/*
 * A small blocking client of QEMU's QMP monitor (a UNIX socket given to
 * QEMU as -qmp unix:PATH,server=on,wait=off), for `vhost-user-rtc-ctl
 * migrate`: one command at a time, each within a timeout; the events
 * that arrive meanwhile are kept for qmp_wait_event().
 * Thread/loop: none (blocking the caller up to the timeout).
 */
#ifndef SRC_CTL_QMP_H
#define SRC_CTL_QMP_H

#include <glib.h>
#include <json-glib/json-glib.h>

struct qmp;

/*
 * qmp_open() - connect to QEMU's QMP socket @path, read its greeting and
 * leave capabilities negotiation (qmp_capabilities), within @timeout_ms.
 * @name: how messages call this QEMU ("source", "destination")
 * Returns the handle, or NULL with @err set.
 */
struct qmp *qmp_open(const char *path, const char *name, int timeout_ms,
		     GError **err);

/* qmp_free() - close the connection; NULL is a no-op. */
void qmp_free(struct qmp *q);

/* The name given to qmp_open(). */
const char *qmp_name(const struct qmp *q);

/*
 * qmp_call() - execute @command with @args (a JSON object, or NULL for
 * none; taken over) and wait up to the open timeout for its answer.
 * Returns QEMU's "return" value (json_node_unref() it), or NULL with @err
 * set to QEMU's error ("class: desc") or the transport's.
 */
JsonNode *qmp_call(struct qmp *q, const char *command, JsonNode *args,
		   GError **err);

/*
 * qmp_wait_event() - wait up to @timeout_ms for the event @event whose
 * data member @key is the string @value (@key NULL: any); events already
 * received count. Returns TRUE when it came, FALSE with @err set.
 */
gboolean qmp_wait_event(struct qmp *q, const char *event, const char *key,
			const char *value, int timeout_ms, GError **err);

/*
 * qmp_args() - a JSON object for qmp_call()'s @args with string members,
 * from NULL-terminated pairs of key and value (both copied).
 */
JsonNode *qmp_args(const char *key, ...) G_GNUC_NULL_TERMINATED;

#endif /* SRC_CTL_QMP_H */
