// SPDX-License-Identifier: MIT
/*
 * The operator's view in the Prometheus text exposition format 0.0.4:
 * base units (seconds), _total for counters, one HELP and TYPE per
 * family, label values escaped. Per-VM series carry the connection's
 * label (vm=, the front-end's QEMU -name where it has one, so a VM that
 * reconnects keeps its series); they vanish when the VM disconnects,
 * while the vhost_user_rtc_* totals keep counting. vm_info says which
 * connection and front-end (pid, uid) are behind a label. Every name
 * has our prefix but the client libraries' standard
 * process_start_time_seconds, which alerts and dashboards made for any
 * exporter know.
 */
#include <inttypes.h>
#include <math.h>

#include "control_status.h"

#define P "vhost_user_rtc_"

static void family(GString *o, const char *name, const char *type,
		   const char *help)
{
	g_string_append_printf(o, "# HELP " P "%s %s\n# TYPE " P "%s %s\n",
			       name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(GString *o, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"') {
			g_string_append_c(o, '\\');
			g_string_append_c(o, *v);
		} else if (*v == '\n') {
			g_string_append(o, "\\n");
		} else {
			g_string_append_c(o, *v);
		}
	}
}

/* A sample's value and the line's end. */
static void value(GString *o, double v)
{
	if (isnan(v)) {
		g_string_append(o, " NaN\n");
	} else if (isinf(v)) {
		g_string_append(o, v > 0 ? " +Inf\n" : " -Inf\n");
	} else if (v == floor(v) && fabs(v) < 9e15) {
		g_string_append_printf(o, " %.0f\n", v); /* counts: exact */
	} else {
		g_string_append_printf(o, " %.12g\n", v);
	}
}

/* One sample; @lname NULL for none, else one label (and a second). */
static void sample(GString *o, const char *name, const char *lname,
		   const char *lval, const char *l2name, const char *l2val,
		   double v)
{
	g_string_append_printf(o, P "%s", name);
	if (lname) {
		g_string_append_printf(o, "{%s=\"", lname);
		label_value(o, lval);
		if (l2name) {
			g_string_append_printf(o, "\",%s=\"", l2name);
			label_value(o, l2val);
		}
		g_string_append(o, "\"}");
	}
	value(o, v);
}

static void metric(GString *o, const char *name, const char *type,
		   const char *help, double v)
{
	family(o, name, type, help);
	sample(o, name, NULL, NULL, NULL, NULL, v);
}

static void model_metrics(const struct control_status_report *r, GString *o)
{
	const struct discipline_status *d = &r->disc;
	const struct clock_snapshot *m = &d->served;
	enum clock_status st =
		d->have_served ? m->status : CLOCK_STATUS_UNKNOWN;
	unsigned int i;

	family(o, "model_status", "gauge",
	       "1 for the served model's status, 0 for the others");
	for (i = CLOCK_STATUS_UNKNOWN; i <= CLOCK_STATUS_UNRELIABLE; i++) {
		sample(o, "model_status", "status", clock_status_name(i), NULL,
		       NULL, st == i);
	}
	metric(o, "model_bound_seconds", "gauge",
	       "Worst-case error of the served TAI now (NaN: no model)",
	       d->have_served ? (double)r->bound_ns / 1e9 : NAN);
	metric(o, "model_bound_growth_ratio", "gauge",
	       "Growth of the worst-case error, seconds per second",
	       d->have_served ? (double)m->rate_maxerr_ppb / 1e9 : NAN);
	metric(o, "model_frequency_offset_ratio", "gauge",
	       "Estimated frequency of TAI against the host counter, minus 1",
	       d->stats.freq_ppb / 1e9);
	metric(o, "model_last_offset_seconds", "gauge",
	       "Last sample of the followed source minus the model",
	       d->stats.last_resid_ns / 1e9);
	metric(o, "model_generation", "gauge", "Models published since start",
	       (double)m->generation);
	metric(o, "model_steps_total", "counter",
	       "Steps of the served time (discontinuities)", (double)m->steps);
	metric(o, "model_samples_accepted_total", "counter",
	       "Samples of the followed source used",
	       (double)d->stats.accepted);
	metric(o, "model_outliers_total", "counter",
	       "Samples rejected as contradicting the model",
	       (double)d->stats.outliers);
	metric(o, "tai_utc_offset_seconds", "gauge",
	       "TAI - UTC now, from the effective leap table",
	       d->leap.tai_utc_s);
	metric(o, "leap_pending", "gauge",
	       "Leap second at the end of this UTC day: 1 insert, -1 delete, "
	       "0 none",
	       d->leap.pending == SOURCE_LEAP_INSERT   ? 1
	       : d->leap.pending == SOURCE_LEAP_DELETE ? -1
						       : 0);
	metric(o, "leap_file_expiry_timestamp_seconds", "gauge",
	       "Expiry of the leap-seconds.list in use (its #@ line), "
	       "seconds since the epoch",
	       (double)d->leap.file_expires_utc_s);
	metric(o, "sources_contradiction", "gauge",
	       "1 while sources disagree without a majority", d->contradiction);
}

static void source_metrics(const struct control_status_report *r, GString *o)
{
	const struct discipline_status *d = &r->disc;
	unsigned int i, k;

	family(o, "source_selected", "gauge", "1 for the source followed");
	for (i = 0; i < d->n_sources; i++) {
		sample(o, "source_selected", "source", d->src[i].name, NULL,
		       NULL, (int)i == d->selected);
	}
	family(o, "source_state", "gauge",
	       "1 for each source's health state, 0 for the others");
	for (i = 0; i < d->n_sources; i++) {
		for (k = SOURCE_OK; k <= SOURCE_ERROR; k++) {
			sample(o, "source_state", "source", d->src[i].name,
			       "state", source_state_name(k),
			       d->src[i].state == k);
		}
	}
	family(o, "source_bound_seconds", "gauge",
	       "Worst-case error of the source's own model now");
	for (i = 0; i < d->n_sources; i++) {
		sample(o, "source_bound_seconds", "source", d->src[i].name,
		       NULL, NULL,
		       d->src[i].bound_ns ? (double)d->src[i].bound_ns / 1e9
					  : NAN);
	}
	family(o, "source_offset_seconds", "gauge",
	       "The source's TAI now minus the served TAI now");
	for (i = 0; i < d->n_sources; i++) {
		sample(o, "source_offset_seconds", "source", d->src[i].name,
		       NULL, NULL,
		       d->src[i].have_offset ? (double)d->src[i].offset_ns / 1e9
					     : NAN);
	}
	family(o, "source_samples_total", "counter",
	       "Samples by the source's own estimator's verdict");
	for (i = 0; i < d->n_sources; i++) {
		sample(o, "source_samples_total", "source", d->src[i].name,
		       "verdict", "accepted", (double)d->src[i].accepted);
		sample(o, "source_samples_total", "source", d->src[i].name,
		       "verdict", "rejected", (double)d->src[i].rejected);
	}
}

/* vm_info{vm,connection,pid,uid,qemu_name} 1: who is behind a label. */
static void vm_info(GString *o, const struct control_status_vm *m)
{
	g_string_append(o, P "vm_info{vm=\"");
	label_value(o, m->name);
	g_string_append(o, "\",connection=\"");
	label_value(o, m->conn);
	g_string_append(o, "\",pid=\"");
	if (m->cred && m->pid > 0) {
		g_string_append_printf(o, "%ld", m->pid);
	}
	g_string_append(o, "\",uid=\"");
	if (m->cred) {
		g_string_append_printf(o, "%lu", m->uid);
	}
	g_string_append(o, "\",qemu_name=\"");
	label_value(o, m->qemu_name);
	g_string_append(o, "\"} 1\n");
}

static void vm_metrics(const struct control_status_report *r, GString *o)
{
	const struct vu_server_stats *v = &r->vms;
	unsigned int i, k;

	metric(o, "vms_connected", "gauge", "Front-end connections open",
	       v->connected);
	metric(o, "vm_connections_accepted_total", "counter",
	       "Front-end connections accepted", (double)v->accepted);
	metric(o, "vm_connections_refused_total", "counter",
	       "Front-end connections refused (max-connections)",
	       (double)v->refused);
	metric(o, "vm_connections_closed_total", "counter",
	       "Front-end connections closed", (double)v->closed);
	metric(o, "requests_total", "counter",
	       "virtio-rtc requests from every VM, closed ones included",
	       (double)v->requests);
	metric(o, "request_errors_total", "counter",
	       "virtio-rtc requests answered with an error, every VM",
	       (double)v->errors);
	metric(o, "vm_kicks_missed_total", "counter",
	       "Requests found waiting on a sleeping queue without a kick "
	       "(served by the sweep)",
	       (double)v->kicks_missed);
	family(o, "socket_connections", "gauge",
	       "Front-end connections open on each VM socket served");
	for (i = 0; i < r->n_sock; i++) {
		sample(o, "socket_connections", "socket", r->sock[i].name, NULL,
		       NULL, r->sock[i].connections);
	}
	family(o, "vm_info", "gauge",
	       "A connected VM: its label (QEMU -name, else the socket's "
	       "connection), that connection and the front-end's pid and "
	       "uid");
	for (i = 0; i < r->n_vm; i++) {
		vm_info(o, &r->vm[i]);
	}
	family(o, "vm_requests_total", "counter",
	       "virtio-rtc requests of a connected VM, by answer");
	for (i = 0; i < r->n_vm; i++) {
		for (k = 0; k < G_N_ELEMENTS(r->vm[i].by_status); k++) {
			if (control_status_code_name(k)) {
				sample(o, "vm_requests_total", "vm",
				       r->vm[i].name, "status",
				       control_status_code_name(k),
				       (double)r->vm[i].by_status[k]);
			}
		}
	}
	family(o, "vm_alarm_events_total", "counter",
	       "Alarm expirations sent to a connected VM");
	for (i = 0; i < r->n_vm; i++) {
		sample(o, "vm_alarm_events_total", "vm", r->vm[i].name, NULL,
		       NULL, (double)r->vm[i].alarm_events);
	}
	family(o, "vm_connected_seconds", "gauge",
	       "Time since the VM's front-end connected");
	for (i = 0; i < r->n_vm; i++) {
		sample(o, "vm_connected_seconds", "vm", r->vm[i].name, NULL,
		       NULL, r->vm[i].connected_s);
	}
}

void control_status_render_metrics(const struct control_status_report *r,
				   GString *out)
{
	family(out, "info", "gauge", "Version of the daemon");
	sample(out, "info", "version", r->version, NULL, NULL, 1);
	metric(out, "uptime_seconds", "gauge", "Time since the daemon started",
	       r->uptime_s);
	g_string_append(out, "# HELP process_start_time_seconds Start time of "
			     "the process since unix epoch in seconds.\n"
			     "# TYPE process_start_time_seconds gauge\n"
			     "process_start_time_seconds");
	value(out, r->start_utc_s);
	metric(out, "generation", "gauge",
	       "Processes that served these VMs in a row (1: started afresh)",
	       r->upgrade.generation);
	metric(out, "upgrades_total", "counter",
	       "Live upgrades that brought the VMs to this process's line",
	       (double)r->upgrade.adoptions);
	metric(out, "upgrade_failures_total", "counter",
	       "Live upgrades that failed, this process serving on",
	       (double)r->upgrade.failed);
	metric(out, "upgrade_last_pause_seconds", "gauge",
	       "Pause of service of the last live upgrade",
	       r->upgrade.last_pause_ms / 1e3);
	metric(out, "recovered", "gauge",
	       "1 if this process adopted the VMs of a crashed one (fd store)",
	       r->upgrade.recovered);
	metric(out, "fd_store", "gauge",
	       "1 if the state is kept in the service manager's fd store",
	       r->upgrade.store);
	metric(out, "fd_store_failures_total", "counter",
	       "Stores in and removals from the fd store that failed",
	       (double)r->upgrade.store_failed);
	if (r->have_disc) {
		model_metrics(r, out);
		source_metrics(r, out);
	}
	vm_metrics(r, out);
}
