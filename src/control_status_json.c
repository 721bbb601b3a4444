// SPDX-License-Identifier: MIT
/*
 * The operator's view as one JSON object (json-glib), the schema the
 * README documents under "Status and metrics". Absent values are null;
 * integers stay integers (ns, counts), so a reader loses nothing.
 */
#include <json-glib/json-glib.h>
#include <math.h>

#include "control_status.h"

static void set_int(JsonBuilder *b, const char *k, int64_t v)
{
	json_builder_set_member_name(b, k);
	json_builder_add_int_value(b, v);
}

/* Counters beyond INT64_MAX do not happen; clamp rather than wrap. */
static void set_u64(JsonBuilder *b, const char *k, uint64_t v)
{
	set_int(b, k, v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* JSON has no NaN or infinity: those become null. */
static void set_dbl(JsonBuilder *b, const char *k, double v)
{
	json_builder_set_member_name(b, k);
	if (isfinite(v)) {
		json_builder_add_double_value(b, v);
	} else {
		json_builder_add_null_value(b);
	}
}

static void set_str(JsonBuilder *b, const char *k, const char *v)
{
	json_builder_set_member_name(b, k);
	if (v) {
		json_builder_add_string_value(b, v);
	} else {
		json_builder_add_null_value(b);
	}
}

static void set_bool(JsonBuilder *b, const char *k, bool v)
{
	json_builder_set_member_name(b, k);
	json_builder_add_boolean_value(b, v);
}

static void set_null(JsonBuilder *b, const char *k)
{
	json_builder_set_member_name(b, k);
	json_builder_add_null_value(b);
}

static void json_model(const struct control_status_report *r, JsonBuilder *b)
{
	static const char *const absent[] = {
		"generation",
		"steps",
		"counter",
		"counter_now",
		"c0",
		"tai0_ns",
		"mono0_ns",
		"period_q",
		"time_maxerr_ns",
		"rate_maxerr_ppb",
		"time_esterr_ns",
		"rate_esterr_ppb",
		"bound_ns",
		"tai_ns",
	};
	const struct discipline_status *d = &r->disc;
	const struct clock_snapshot *m = &d->served;
	unsigned int i;

	json_builder_set_member_name(b, "model");
	json_builder_begin_object(b);
	set_bool(b, "published", d->have_served);
	if (!d->have_served) {
		set_str(b, "status", clock_status_name(CLOCK_STATUS_UNKNOWN));
		for (i = 0; i < G_N_ELEMENTS(absent); i++) {
			set_null(b, absent[i]);
		}
	} else {
		set_str(b, "status", clock_status_name(m->status));
		set_u64(b, "generation", m->generation);
		set_u64(b, "steps", m->steps);
		set_str(b, "counter", "monotonic-raw");
		set_u64(b, "counter_now", r->counter_now);
		set_u64(b, "c0", m->c0);
		set_int(b, "tai0_ns", m->tai0_ns);
		set_int(b, "mono0_ns", m->mono0_ns);
		set_u64(b, "period_q", m->period_q);
		set_u64(b, "time_maxerr_ns", m->time_maxerr_ns);
		set_u64(b, "rate_maxerr_ppb", m->rate_maxerr_ppb);
		set_u64(b, "time_esterr_ns", m->time_esterr_ns);
		set_u64(b, "rate_esterr_ppb", m->rate_esterr_ppb);
		set_u64(b, "bound_ns", r->bound_ns);
		set_int(b, "tai_ns", r->tai_ns);
	}
	set_dbl(b, "freq_ppb", d->stats.freq_ppb);
	set_dbl(b, "last_offset_ns", d->stats.last_resid_ns);
	set_dbl(b, "phase_sd_ns", d->stats.phase_sd_ns);
	set_u64(b, "samples_accepted", d->stats.accepted);
	set_u64(b, "outliers", d->stats.outliers);
	set_u64(b, "reinits", d->stats.reinits);
	json_builder_end_object(b);

	json_builder_set_member_name(b, "leap");
	json_builder_begin_object(b);
	set_int(b, "tai_utc_s", d->leap.tai_utc_s);
	set_str(b, "pending", source_leap_name(d->leap.pending));
	set_str(b, "from", d->leap.from);
	set_bool(b, "derived", d->leap.derived);
	json_builder_end_object(b);
}

static void json_sources(const struct control_status_report *r, JsonBuilder *b)
{
	const struct discipline_status *d = &r->disc;
	unsigned int i;

	json_builder_set_member_name(b, "selection");
	json_builder_begin_object(b);
	set_str(b, "selected",
		d->selected >= 0 ? d->src[d->selected].name : NULL);
	set_str(b, "reason", d->reason);
	set_bool(b, "contradiction", d->contradiction);
	json_builder_end_object(b);

	json_builder_set_member_name(b, "sources");
	json_builder_begin_array(b);
	for (i = 0; i < d->n_sources; i++) {
		const struct discipline_source_status *s = &d->src[i];

		json_builder_begin_object(b);
		set_str(b, "name", s->name);
		set_str(b, "state", source_state_name(s->state));
		set_str(b, "health", s->health);
		set_str(b, "role", discipline_role_name(s->role));
		set_str(b, "status", clock_status_name(s->status));
		if (s->bound_ns) {
			set_u64(b, "bound_ns", s->bound_ns);
		} else {
			set_null(b, "bound_ns");
		}
		if (s->have_offset) {
			set_int(b, "offset_ns", s->offset_ns);
		} else {
			set_null(b, "offset_ns");
		}
		set_u64(b, "accepted", s->accepted);
		set_u64(b, "rejected", s->rejected);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

static void json_vm(const struct control_status_vm *m, JsonBuilder *b)
{
	unsigned int i;

	json_builder_begin_object(b);
	set_str(b, "name", m->name);
	set_str(b, "connection", m->conn);
	if (m->cred && m->pid > 0) {
		set_int(b, "pid", m->pid);
	} else {
		set_null(b, "pid");
	}
	if (m->cred) {
		set_u64(b, "uid", m->uid);
	} else {
		set_null(b, "uid");
	}
	if (m->qemu_name[0]) {
		set_str(b, "qemu_name", m->qemu_name);
	} else {
		set_null(b, "qemu_name");
	}
	set_dbl(b, "connected_s", m->connected_s);
	set_u64(b, "requests", m->requests);
	set_u64(b, "errors", m->errors);
	set_u64(b, "alarm_events", m->alarm_events);
	json_builder_set_member_name(b, "errors_by_status");
	json_builder_begin_object(b);
	for (i = 1; i < G_N_ELEMENTS(m->by_status); i++) {
		if (control_status_code_name(i)) {
			set_u64(b, control_status_code_name(i),
				m->by_status[i]);
		}
	}
	json_builder_end_object(b);
	if (m->busy_p50_ns == UINT64_MAX) {
		set_null(b, "busy_p50_ns");
	} else {
		set_u64(b, "busy_p50_ns", m->busy_p50_ns);
	}
	if (m->busy_p99_ns == UINT64_MAX) {
		set_null(b, "busy_p99_ns");
	} else {
		set_u64(b, "busy_p99_ns", m->busy_p99_ns);
	}
	json_builder_set_member_name(b, "queues");
	json_builder_begin_array(b);
	for (i = 0; i < VU_NUM_QUEUES; i++) {
		json_builder_add_string_value(b, m->queue[i]);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
}

static void json_vms(const struct control_status_report *r, JsonBuilder *b)
{
	const struct vu_server_stats *v = &r->vms;
	unsigned int i;

	json_builder_set_member_name(b, "vms");
	json_builder_begin_object(b);
	set_u64(b, "connected", v->connected);
	set_u64(b, "accepted_total", v->accepted);
	set_u64(b, "refused_total", v->refused);
	set_u64(b, "closed_total", v->closed);
	set_u64(b, "requests_total", v->requests);
	set_u64(b, "errors_total", v->errors);
	set_u64(b, "alarm_events_total", v->alarm_events);
	set_u64(b, "kicks_missed_total", v->kicks_missed);
	json_builder_set_member_name(b, "sockets");
	json_builder_begin_array(b);
	for (i = 0; i < r->n_sock; i++) {
		json_builder_begin_object(b);
		set_str(b, "socket", r->sock[i].name);
		set_u64(b, "connected", r->sock[i].connections);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "list");
	json_builder_begin_array(b);
	for (i = 0; i < r->n_vm; i++) {
		json_vm(&r->vm[i], b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
}

void control_status_render_json(const struct control_status_report *r,
				GString *out)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g;
	JsonNode *root;
	char *text;

	json_builder_begin_object(b);
	set_str(b, "version", r->version);
	set_int(b, "pid", r->pid);
	set_dbl(b, "uptime_s", r->uptime_s);
	json_builder_set_member_name(b, "upgrade");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "available");
	json_builder_add_boolean_value(b, r->upgrade.available);
	set_u64(b, "generation", r->upgrade.generation);
	set_u64(b, "adoptions_total", r->upgrade.adoptions);
	set_dbl(b, "last_pause_ms", r->upgrade.last_pause_ms);
	set_u64(b, "failed_total", r->upgrade.failed);
	set_str(b, "last_error", r->upgrade.last_error);
	json_builder_set_member_name(b, "recovered");
	json_builder_add_boolean_value(b, r->upgrade.recovered);
	json_builder_set_member_name(b, "fd_store");
	json_builder_add_boolean_value(b, r->upgrade.store);
	set_u64(b, "fd_store_images_total", r->upgrade.store_images);
	set_u64(b, "fd_store_failed_total", r->upgrade.store_failed);
	set_str(b, "fd_store_last_error", r->upgrade.store_error);
	json_builder_end_object(b);
	if (r->have_disc) {
		json_model(r, b);
		json_sources(r, b);
	}
	json_vms(r, b);
	json_builder_end_object(b);

	root = json_builder_get_root(b);
	g = json_generator_new();
	json_generator_set_root(g, root);
	text = json_generator_to_data(g, NULL);
	g_string_append(out, text);
	g_string_append_c(out, '\n');
	g_free(text);
	g_object_unref(g);
	json_node_unref(root);
	g_object_unref(b);
}
