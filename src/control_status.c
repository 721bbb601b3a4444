// SPDX-License-Identifier: MIT
/*
 * The operator's view: collecting it, and the text rendering.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control_status.h"
#include "time_ns.h"

#ifndef VRTC_VERSION
#define VRTC_VERSION "unknown"
#endif

const char *control_status_code_name(unsigned int code)
{
	switch (code) {
	case 0:
		return "OK";
	case 2:
		return "EOPNOTSUPP";
	case 3:
		return "ENODEV";
	case 4:
		return "EINVAL";
	case 5:
		return "EIO";
	default:
		return NULL;
	}
}

struct collect_ctx {
	struct control_status_report *r;
	uint64_t now;
};

static void collect_vm(const struct vu_conn_status *cs, void *data)
{
	struct collect_ctx *c = data;
	struct control_status_report *r = c->r;
	struct control_status_vm *v;
	unsigned int i;

	if (r->n_vm >= r->vms.connected) {
		return;
	}
	v = &r->vm[r->n_vm++];
	g_strlcpy(v->name, cs->name, sizeof(v->name));
	g_strlcpy(v->conn, cs->conn_id, sizeof(v->conn));
	v->cred = cs->peer->cred;
	v->pid = (long)cs->peer->pid;
	v->uid = (unsigned long)cs->peer->uid;
	g_strlcpy(v->qemu_name, cs->peer->name, sizeof(v->qemu_name));
	v->connected_s = c->now > cs->connected_ns
				 ? (double)(c->now - cs->connected_ns) / 1e9
				 : 0;
	v->requests = cs->stats->requests;
	v->errors = cs->stats->errors;
	memcpy(v->by_status, cs->stats->by_status, sizeof(v->by_status));
	v->alarm_events = cs->alarm_events;
	v->busy_p50_ns = cs->busy_p50_ns;
	v->busy_p99_ns = cs->busy_p99_ns;
	for (i = 0; i < VU_NUM_QUEUES; i++) {
		g_strlcpy(v->queue[i], cs->queue_state[i], sizeof(v->queue[i]));
	}
}

static void collect_socket(const char *name, unsigned int connections,
			   void *data)
{
	GArray *a = data;
	struct control_status_socket s = { .connections = connections };

	g_strlcpy(s.name, name, sizeof(s.name));
	g_array_append_val(a, s);
}

void control_status_collect(struct control_status_report *r,
			    const struct discipline *d,
			    const struct vu_server *s, uint64_t start_ns,
			    double start_utc_s)
{
	uint64_t now = (uint64_t)time_ns_now(CLOCK_MONOTONIC);

	memset(r, 0, sizeof(*r));
	r->version = VRTC_VERSION;
	r->pid = (long)getpid();
	r->uptime_s = now > start_ns ? (double)(now - start_ns) / 1e9 : 0;
	r->start_utc_s = start_utc_s;
	if (d) {
		r->have_disc = true;
		discipline_get_status(d, &r->disc);
		if (r->disc.have_served) {
			struct clock_reading tai;

			r->counter_now =
				clock_counter_now(r->disc.served.counter);
			clock_snapshot_tai(&r->disc.served, r->counter_now,
					   &tai);
			r->bound_ns = tai.maxerr_ns;
			r->tai_ns = tai.ns;
		}
	}
	if (s) {
		struct collect_ctx c = { .r = r, .now = now };

		vu_server_get_stats(s, &r->vms);
		r->vm = g_new0(struct control_status_vm, r->vms.connected + 1);
		vu_server_foreach_conn(s, collect_vm, &c);
		GArray *socks = g_array_new(
			FALSE, TRUE, sizeof(struct control_status_socket));

		vu_server_foreach_listener(s, collect_socket, socks);
		r->n_sock = socks->len;
		r->sock = (struct control_status_socket *)(void *)g_array_free(
			socks, FALSE);
	}
}

void control_status_report_clear(struct control_status_report *r)
{
	g_free(r->vm);
	r->vm = NULL;
	r->n_vm = 0;
	g_free(r->sock);
	r->sock = NULL;
	r->n_sock = 0;
}

/* ---- text ----------------------------------------------------------- */

/* @ns in the unit a person reads best: "812 ns", "1.52 us", "16.0 s". */
static const char *human_ns(char *buf, size_t len, double ns)
{
	double a = fabs(ns);

	if (a < 1e3) {
		snprintf(buf, len, "%.0f ns", ns);
	} else if (a < 1e6) {
		snprintf(buf, len, "%.3g us", ns / 1e3);
	} else if (a < 1e9) {
		snprintf(buf, len, "%.3g ms", ns / 1e6);
	} else {
		snprintf(buf, len, "%.4g s", ns / 1e9);
	}
	return buf;
}

static const char *human_age(char *buf, size_t len, double s)
{
	uint64_t t = (uint64_t)s;

	if (t < 60) {
		snprintf(buf, len, "%.1fs", s);
	} else if (t < 3600) {
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", t / 60,
			 t % 60);
	} else if (t < 86400) {
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", t / 3600,
			 t / 60 % 60);
	} else {
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", t / 86400,
			 t / 3600 % 24);
	}
	return buf;
}

static void text_model(const struct control_status_report *r, GString *o)
{
	const struct discipline_status *d = &r->disc;
	const struct clock_snapshot *m = &d->served;
	char b1[32], b2[32], b3[32];

	if (!d->have_served) {
		g_string_append(o, "model      unknown: nothing published yet "
				   "(no source gave a usable sample)\n");
		return;
	}
	g_string_append_printf(
		o,
		"model      %s, bound +-%s now, generation %" PRIu64
		", %" PRIu64 " step%s\n",
		clock_status_name(m->status),
		human_ns(b1, sizeof(b1), (double)r->bound_ns), m->generation,
		m->steps, m->steps == 1 ? "" : "s");
	g_string_append_printf(
		o,
		"           frequency %+.3f ppm, last offset %s, "
		"phase sd %s, bound grows %s/s\n",
		d->stats.freq_ppb / 1e3,
		human_ns(b1, sizeof(b1), d->stats.last_resid_ns),
		human_ns(b2, sizeof(b2), d->stats.phase_sd_ns),
		human_ns(b3, sizeof(b3), (double)m->rate_maxerr_ppb));
	g_string_append_printf(
		o,
		"           samples %" PRIu64 " accepted, %" PRIu64
		" outliers, %" PRIu64 " restarts\n",
		d->stats.accepted, d->stats.outliers, d->stats.reinits);
}

static void text_sources(const struct control_status_report *r, GString *o)
{
	const struct discipline_status *d = &r->disc;
	char b1[32], b2[32];
	unsigned int i;

	g_string_append_printf(
		o, "leap       TAI-UTC %" PRId32 " s, %s%s (from %s%s)\n",
		d->leap.tai_utc_s,
		d->leap.pending == SOURCE_LEAP_NONE ? "no leap pending"
						    : "leap tonight: ",
		d->leap.pending == SOURCE_LEAP_NONE
			? ""
			: source_leap_name(d->leap.pending),
		d->leap.from ? d->leap.from : "?",
		d->leap.derived ? ", a derived table" : "");
	if (d->selected >= 0) {
		g_string_append_printf(o, "following  %s: %s\n",
				       d->src[d->selected].name, d->reason);
	} else {
		g_string_append_printf(o, "following  nothing%s%s\n",
				       d->reason[0] ? ": " : "", d->reason);
	}
	if (d->contradiction) {
		g_string_append(o, "           sources disagree without a "
				   "majority: status unreliable\n");
	}
	g_string_append_printf(o,
			       "sources    %-14s %-9s %-12s %-13s %-10s "
			       "%-10s %s\n",
			       "NAME", "STATE", "ROLE", "STATUS", "BOUND",
			       "OFFSET", "SAMPLES OK/REJ");
	for (i = 0; i < d->n_sources; i++) {
		const struct discipline_source_status *s = &d->src[i];

		g_string_append_printf(
			o,
			"           %-14s %-9s %-12s %-13s %-10s %-10s "
			"%" PRIu64 "/%" PRIu64 "\n",
			s->name, source_state_name(s->state),
			discipline_role_name(s->role),
			clock_status_name(s->status),
			s->bound_ns
				? human_ns(b1, sizeof(b1), (double)s->bound_ns)
				: "-",
			s->have_offset
				? human_ns(b2, sizeof(b2), (double)s->offset_ns)
				: "-",
			s->accepted, s->rejected);
		if (s->health[0]) {
			g_string_append_printf(o, "             %s: %s\n",
					       s->name, s->health);
		}
	}
}

/* Under a VM's line: its socket and who the front-end is. */
static void text_peer(const struct control_status_vm *m, GString *o)
{
	g_string_append_printf(o, "             on %s", m->conn);
	if (!m->cred) {
		g_string_append(o, ", front-end credentials unknown\n");
		return;
	}
	if (m->pid > 0) {
		g_string_append_printf(o, ", pid %ld", m->pid);
	}
	g_string_append_printf(o, ", uid %lu", m->uid);
	if (m->qemu_name[0]) {
		g_string_append_printf(o, ", QEMU -name %s", m->qemu_name);
	}
	g_string_append_c(o, '\n');
}

static void text_vms(const struct control_status_report *r, GString *o)
{
	const struct vu_server_stats *v = &r->vms;
	char b1[32], b2[32];
	unsigned int i;

	g_string_append_printf(o,
			       "VMs        %u connected (%" PRIu64
			       " accepted, %" PRIu64 " refused, %" PRIu64
			       " closed); %" PRIu64 " requests, %" PRIu64
			       " errors, %" PRIu64 " alarm events in all\n",
			       v->connected, v->accepted, v->refused, v->closed,
			       v->requests, v->errors, v->alarm_events);
	if (v->kicks_missed) {
		g_string_append_printf(o,
				       "           %" PRIu64
				       " requests waited for a kick that "
				       "never came (served by the sweep)\n",
				       v->kicks_missed);
	}
	for (i = 0; i < r->n_sock; i++) {
		g_string_append_printf(o, "%s %s (%u connected)\n",
				       i ? "          " : "sockets   ",
				       r->sock[i].name, r->sock[i].connections);
	}
	if (!r->n_vm) {
		return;
	}
	g_string_append_printf(o,
			       "           %-28s %-8s %12s %8s %7s %-10s %s\n",
			       "NAME", "UP", "REQUESTS", "ERRORS", "ALARMS",
			       "P99", "QUEUES (requests, alarms)");
	for (i = 0; i < r->n_vm; i++) {
		const struct control_status_vm *m = &r->vm[i];

		g_string_append_printf(
			o,
			"           %-28s %-8s %12" PRIu64 " %8" PRIu64
			" %7" PRIu64 " %-10s %s, %s\n",
			m->name, human_age(b1, sizeof(b1), m->connected_s),
			m->requests, m->errors, m->alarm_events,
			m->busy_p99_ns == UINT64_MAX
				? "off scale"
				: human_ns(b2, sizeof(b2),
					   (double)m->busy_p99_ns),
			m->queue[0], m->queue[1]);
		text_peer(m, o);
	}
}

void control_status_render_text(const struct control_status_report *r,
				GString *out)
{
	char age[32];

	g_string_append_printf(out, "vhost-user-rtc %s, pid %ld, up %s\n",
			       r->version, r->pid,
			       human_age(age, sizeof(age), r->uptime_s));
	if (r->have_disc) {
		text_model(r, out);
		text_sources(r, out);
	}
	text_vms(r, out);
}
