/* SPDX-License-Identifier: MIT */
/*
 * The probe's eval, live bound: the daemon's clock model as its control
 * socket's `status json` reports it, and the worst-case error of a served
 * reading computed from it with clock_snapshot_tai() (the daemon's own
 * formula). virtio-rtc READ carries no bound; this is where eval gets one.
 * Single-threaded; the query blocks for at most its timeout.
 */
#ifndef PROBE_EVAL_LIVE_H
#define PROBE_EVAL_LIVE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock_model.h"

/* The longest `status json` reply accepted, bytes. */
#define EVAL_LIVE_MAX_REPLY (1u << 20)

/* The GError domain of eval_live_parse() and _query(); code: the errno. */
GQuark eval_live_error_quark(void);

/* One `status json` answer, the part eval uses. */
struct eval_live_snap {
	bool published; /* false: nothing published, the rest is zero */
	struct clock_snapshot model; /* .leaps is NULL: bounds only */
	uint64_t counter_now;	     /* the daemon's counter when it answered */
	uint64_t bound_ns;	     /* the daemon's bound at counter_now */
};

/*
 * eval_live_parse() - read the "model" object of a `status json` reply
 * (@json, @len bytes, need not be NUL-terminated) into @out. Every field
 * the bound needs must be there with its JSON type (integers as
 * integers, non-negative where the model's field is unsigned), the
 * counter must be "monotonic-raw" and the status one of
 * clock_status_name()'s. "published": false needs nothing else.
 * Returns 0, or -EINVAL with @err saying which field is wrong.
 */
int eval_live_parse(const char *json, size_t len, struct eval_live_snap *out,
		    GError **err);

/*
 * eval_live_query() - connect to the daemon's control socket @path, send
 * "status json" and parse the reply (at most EVAL_LIVE_MAX_REPLY bytes)
 * with eval_live_parse(). The whole exchange takes at most @timeout_ms.
 * Returns 0, or -errno (-ETIMEDOUT, -EMSGSIZE, -EINVAL for a reply that
 * does not parse, or the socket's) with @err set.
 */
int eval_live_query(const char *path, int timeout_ms,
		    struct eval_live_snap *out, GError **err);

/*
 * eval_live_bound() - the worst-case TAI error, in ns, of a reading the
 * daemon served while CLOCK_MONOTONIC_RAW went from @c_lo to @c_hi (ns),
 * @a being the last snapshot seen before and @b (may be NULL) the first
 * seen after. If the generation changed from @a to @b the publish may
 * have come before or after the read: the larger of the two bounds is
 * taken. Each bound is clock_snapshot_tai()'s at @c_lo and @c_hi, the
 * larger (it grows away from c0 either way). An unpublished snapshot
 * contributes nothing. Returns 0 with @bound_ns set, or -ENODATA if
 * neither snapshot is published.
 */
int eval_live_bound(const struct eval_live_snap *a,
		    const struct eval_live_snap *b, uint64_t c_lo,
		    uint64_t c_hi, uint64_t *bound_ns);

/* The snapshot's status name: clock_status_name(), or "unpublished". */
const char *eval_live_status(const struct eval_live_snap *s);

#endif /* PROBE_EVAL_LIVE_H */
