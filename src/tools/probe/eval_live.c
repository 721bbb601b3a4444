// SPDX-License-Identifier: MIT
/*
 * The probe's eval, live bound: `status json` over the daemon's control
 * socket, parsed with json-glib into a struct clock_snapshot.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_client.h"
#include "eval_live.h"

static const char query[] = "status json\n";

GQuark eval_live_error_quark(void)
{
	return g_quark_from_static_string("vrtc-eval-live-error");
}

/* Set @err (code -@e) and give -errno @e. */
#define live_error(err, e, ...)                                                \
	(g_set_error(err, eval_live_error_quark(), -(e), __VA_ARGS__), (e))

/* Member @name of @o as a JSON integer; NULL node, double, string: no. */
static int get_int(JsonObject *o, const char *name, int64_t *v, GError **err)
{
	JsonNode *n = json_object_get_member(o, name);

	if (!n) {
		return live_error(err, -EINVAL, "model.%s: missing", name);
	}
	if (!JSON_NODE_HOLDS_VALUE(n) ||
	    json_node_get_value_type(n) != G_TYPE_INT64) {
		return live_error(err, -EINVAL, "model.%s: not an integer",
				  name);
	}
	*v = json_node_get_int(n);
	return 0;
}

static int get_uint(JsonObject *o, const char *name, uint64_t *v, GError **err)
{
	int64_t x = 0;
	int ret = get_int(o, name, &x, err);

	if (ret) {
		return ret;
	}
	if (x < 0) {
		return live_error(err, -EINVAL,
				  "model.%s: negative (%" PRId64 ")", name, x);
	}
	*v = (uint64_t)x;
	return 0;
}

static int get_string(JsonObject *o, const char *name, const char **v,
		      GError **err)
{
	JsonNode *n = json_object_get_member(o, name);

	if (!n) {
		return live_error(err, -EINVAL, "model.%s: missing", name);
	}
	if (!JSON_NODE_HOLDS_VALUE(n) ||
	    json_node_get_value_type(n) != G_TYPE_STRING) {
		return live_error(err, -EINVAL, "model.%s: not a string", name);
	}
	*v = json_node_get_string(n);
	return 0;
}

static int parse_status(const char *name, enum clock_status *st)
{
	for (int i = CLOCK_STATUS_UNKNOWN; i <= CLOCK_STATUS_UNRELIABLE; i++) {
		if (!strcmp(name, clock_status_name((enum clock_status)i))) {
			*st = (enum clock_status)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_model(JsonObject *m, struct eval_live_snap *out, GError **err)
{
	struct clock_snapshot *s = &out->model;
	JsonNode *pub = json_object_get_member(m, "published");
	const char *str = NULL;
	int ret;

	if (!pub || !JSON_NODE_HOLDS_VALUE(pub) ||
	    json_node_get_value_type(pub) != G_TYPE_BOOLEAN) {
		return live_error(err, -EINVAL,
				  "model.published: missing or not a boolean");
	}
	out->published = json_node_get_boolean(pub);
	if (!out->published) {
		return 0;
	}
	if ((ret = get_string(m, "status", &str, err))) {
		return ret;
	}
	if (parse_status(str, &s->status)) {
		return live_error(err, -EINVAL, "model.status: unknown '%.40s'",
				  str);
	}
	if ((ret = get_string(m, "counter", &str, err))) {
		return ret;
	}
	if (strcmp(str, "monotonic-raw") != 0) {
		return live_error(
			err, -EINVAL,
			"model.counter: '%.40s', only monotonic-raw is "
			"known",
			str);
	}
	s->counter = CLOCK_COUNTER_MONOTONIC_RAW;
	if ((ret = get_uint(m, "generation", &s->generation, err)) ||
	    (ret = get_uint(m, "steps", &s->steps, err)) ||
	    (ret = get_uint(m, "c0", &s->c0, err)) ||
	    (ret = get_int(m, "tai0_ns", &s->tai0_ns, err)) ||
	    (ret = get_int(m, "mono0_ns", &s->mono0_ns, err)) ||
	    (ret = get_uint(m, "period_q", &s->period_q, err)) ||
	    (ret = get_uint(m, "time_maxerr_ns", &s->time_maxerr_ns, err)) ||
	    (ret = get_uint(m, "rate_maxerr_ppb", &s->rate_maxerr_ppb, err)) ||
	    (ret = get_uint(m, "time_esterr_ns", &s->time_esterr_ns, err)) ||
	    (ret = get_uint(m, "rate_esterr_ppb", &s->rate_esterr_ppb, err)) ||
	    (ret = get_uint(m, "counter_now", &out->counter_now, err)) ||
	    (ret = get_uint(m, "bound_ns", &out->bound_ns, err))) {
		return ret;
	}
	if (!s->generation) {
		return live_error(err, -EINVAL,
				  "model.generation: 0 for a published model");
	}
	return 0;
}

int eval_live_parse(const char *json, size_t len, struct eval_live_snap *out,
		    GError **err)
{
	JsonParser *p = json_parser_new();
	GError *jerr = NULL;
	JsonNode *root, *model;
	int ret;

	memset(out, 0, sizeof(*out));
	if (len > EVAL_LIVE_MAX_REPLY || len > G_MAXSSIZE) {
		ret = live_error(err, -EINVAL, "reply too long");
		goto out;
	}
	if (!json_parser_load_from_data(p, json, (gssize)len, &jerr)) {
		/* the daemon's "error: ..." line is not JSON: show it */
		ret = live_error(err, -EINVAL, "not JSON (%s): %.*s",
				 jerr->message, (int)(len < 60 ? len : 60),
				 json);
		g_error_free(jerr);
		goto out;
	}
	root = json_parser_get_root(p);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
		ret = live_error(err, -EINVAL, "not a JSON object");
		goto out;
	}
	model = json_object_get_member(json_node_get_object(root), "model");
	if (!model || !JSON_NODE_HOLDS_OBJECT(model)) {
		ret = live_error(err, -EINVAL,
				 "model: missing or not an object");
		goto out;
	}
	ret = parse_model(json_node_get_object(model), out, err);
out:
	if (ret) {
		memset(out, 0, sizeof(*out));
	}
	g_object_unref(p);
	return ret;
}

int eval_live_query(const char *path, int timeout_ms,
		    struct eval_live_snap *out, GError **err)
{
	char *reply;
	size_t n;
	bool connected;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = control_ask(path, query, timeout_ms, EVAL_LIVE_MAX_REPLY, &reply,
			  &n, &connected);
	if (ret && !connected) {
		return live_error(err, ret, "connect: %s", strerror(-ret));
	}
	if (ret) {
		return live_error(err, ret, "status json: %s",
				  ret == -ETIMEDOUT
					  ? "no whole reply within the timeout"
					  : strerror(-ret));
	}
	ret = eval_live_parse(reply, n, out, err);
	free(reply);
	return ret;
}

static void widen(const struct eval_live_snap *s, uint64_t c_lo, uint64_t c_hi,
		  uint64_t *max)
{
	struct clock_reading lo, hi;

	clock_snapshot_tai(&s->model, c_lo, &lo);
	clock_snapshot_tai(&s->model, c_hi, &hi);
	if (lo.maxerr_ns > *max) {
		*max = lo.maxerr_ns;
	}
	if (hi.maxerr_ns > *max) {
		*max = hi.maxerr_ns;
	}
}

int eval_live_bound(const struct eval_live_snap *a,
		    const struct eval_live_snap *b, uint64_t c_lo,
		    uint64_t c_hi, uint64_t *bound_ns)
{
	bool any = false;
	uint64_t max = 0;

	if (a->published) {
		widen(a, c_lo, c_hi, &max);
		any = true;
	}
	if (b && b->published &&
	    (!a->published || b->model.generation != a->model.generation)) {
		widen(b, c_lo, c_hi, &max);
		any = true;
	}
	if (!any) {
		return -ENODATA;
	}
	*bound_ns = max;
	return 0;
}

const char *eval_live_status(const struct eval_live_snap *s)
{
	return s->published ? clock_status_name(s->model.status)
			    : "unpublished";
}
