// SPDX-License-Identifier: MIT
/* The generic half of the source ops table. */
#include <errno.h>
#include <stdio.h>

#include "source.h"

GQuark source_error_quark(void)
{
	return g_quark_from_static_string("vrtc-source-error");
}

int source_new(const struct source_ops *ops, const struct source_conf *conf,
	       struct source **out, GError **err)
{
	int r;

	if (!ops || !conf || !out || !conf->leaps) {
		g_set_error(err, source_error_quark(), EINVAL,
			    "bad source arguments");
		return -EINVAL;
	}
	r = ops->new (conf, out, err);
	if (r == 0) {
		(*out)->ops = ops;
		if (!(*out)->name[0]) {
			snprintf((*out)->name, sizeof((*out)->name), "%s",
				 ops->name);
		}
	}
	return r;
}

void source_free(struct source *s)
{
	if (s) {
		s->ops->free(s);
	}
}

int source_poll(struct source *s, struct time_sample *out,
		struct source_health *h)
{
	*h = (struct source_health){ .state = SOURCE_ERROR };
	return s->ops->poll(s, out, h);
}

void source_set_leaps(struct source *s, const struct leap_table *t)
{
	if (s && t && s->ops->set_leaps) {
		s->ops->set_leaps(s, t);
	}
}

const char *source_name(const struct source *s)
{
	return s->name;
}

const char *source_state_name(enum source_state st)
{
	switch (st) {
	case SOURCE_OK:
		return "ok";
	case SOURCE_DEGRADED:
		return "degraded";
	case SOURCE_STALE:
		return "stale";
	case SOURCE_ERROR:
		return "error";
	}
	return "?";
}

const char *source_leap_name(enum source_leap l)
{
	switch (l) {
	case SOURCE_LEAP_INSERT:
		return "insert";
	case SOURCE_LEAP_DELETE:
		return "delete";
	case SOURCE_LEAP_NONE:
		break;
	}
	return "none";
}

/*
 * The registry: one entry per kind, in order of preference among equals,
 * the fallback last. A kind X is source_X.c defining source_X_kind: its
 * ops, its settings struct, the config keys that fill it (which are its
 * command-line options too) and its checks (check, check_host); adding
 * one is that file and X(name) here. A header source_X.h is needed only
 * by a unit test that builds the settings by hand.
 *
 * Most kinds come in two files: X.c speaks the device or the peer's
 * protocol (phc.c: the PTP ioctls; chrony.c: cmdmon; ptp4l.c: pmc
 * management messages; gpsd.c + gpsd_msg.c: gpsd's JSON; sysclock.c:
 * adjtimex) and knows nothing of sources, samples or GLib's loop, so it
 * is unit-tested against fake peers, fuzzed alone (tests/fuzz/) and, for
 * phc.c, linked into the GLib-free guest tool. source_X.c is the
 * adapter: settings and keys, turning readings into samples with their
 * bounds, health, retries. A kind without a protocol of its own can be
 * the one file.
 */
#define SOURCE_KINDS(X) X(phc) X(chrony) X(gpsd) X(sysclock)

#define SOURCE_KIND_DECLARE(name)                                              \
	extern const struct source_kind source_##name##_kind;
#define SOURCE_KIND_ENTRY(name) &source_##name##_kind,
SOURCE_KINDS(SOURCE_KIND_DECLARE)

static const struct source_kind *const kinds[] = { SOURCE_KINDS(
	SOURCE_KIND_ENTRY) };

const struct source_kind *const *source_kinds(size_t *n)
{
	*n = G_N_ELEMENTS(kinds);
	return kinds;
}
