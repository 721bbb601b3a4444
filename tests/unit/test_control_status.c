// SPDX-License-Identifier: MIT
/*
 * The operator's view rendered (src/control_status*.c) from made-up reports:
 * the text names what matters, the JSON parses back to the same values,
 * the Prometheus text follows the exposition format.
 */
#include <criterion/criterion.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <regex.h>
#include <string.h>

#include "control_status.h"

static const struct leap_table *no_leaps;

static struct control_status_socket socks[] = {
	{ .name = "/run/vm\"1\".sock", .connections = 1 },
	{ .name = "fd 3", .connections = 0 },
};

static void fill(struct control_status_report *r, struct control_status_vm *vm)
{
	struct discipline_status *d = &r->disc;

	memset(r, 0, sizeof(*r));
	r->version = "9.9.9";
	r->pid = 42;
	r->uptime_s = 3723.5;
	r->start_utc_s = 1795000000.25;
	r->have_disc = true;
	d->n_sources = 2;
	d->src[0] = (struct discipline_source_status){
		.name = "phc /dev/ptp0",
		.state = SOURCE_OK,
		.role = DISCIPLINE_ROLE_SELECTED,
		.status = CLOCK_STATUS_SYNCHRONIZED,
		.bound_ns = 1500,
		.have_offset = true,
		.offset_ns = -12,
		.accepted = 100,
	};
	strcpy(d->src[0].health, "ptp4l: slave, \"gm\" 0.1 us");
	d->src[1] = (struct discipline_source_status){
		.name = "system clock",
		.state = SOURCE_DEGRADED,
		.role = DISCIPLINE_ROLE_CANDIDATE,
		.status = CLOCK_STATUS_UNRELIABLE,
		.bound_ns = 0,
		.accepted = 90,
		.rejected = 3,
	};
	d->selected = 0;
	strcpy(d->reason, "best bound");
	d->have_served = true;
	d->served = (struct clock_snapshot){
		.generation = 77,
		.steps = 1,
		.status = CLOCK_STATUS_SYNCHRONIZED,
		.c0 = 5000000000ull,
		.tai0_ns = 1795000000000000000ll,
		.period_q = 1ull << CLOCK_PERIOD_SHIFT,
		.time_maxerr_ns = 1500,
		.rate_maxerr_ppb = 1000,
		.leaps = no_leaps,
	};
	d->stats.freq_ppb = 12345.0;
	d->stats.last_resid_ns = -3.5;
	d->stats.accepted = 100;
	d->leap.tai_utc_s = 37;
	d->leap.pending = SOURCE_LEAP_INSERT;
	d->leap.from = "leap-seconds.list";
	d->leap.file_expires_utc_s = 1798761600; /* 2027-01-01 */
	r->counter_now = 6000000000ull;
	r->bound_ns = 2500;
	r->tai_ns = 1795000001000000000ll;
	r->vms = (struct vu_server_stats){ .connected = 1,
					   .accepted = 3,
					   .closed = 2,
					   .requests = 1000,
					   .errors = 2 };
	memset(vm, 0, sizeof(*vm));
	strcpy(vm->name, "/run/vm\"1\".sock#3");
	vm->connected_s = 4.5;
	vm->requests = 900;
	vm->errors = 2;
	vm->by_status[0] = 898;
	vm->by_status[4] = 2;
	vm->busy_p50_ns = 250;
	vm->busy_p99_ns = UINT64_MAX;
	strcpy(vm->queue[0], "running");
	strcpy(vm->queue[1], "broken: bad index");
	r->vm = vm;
	r->n_vm = 1;
	r->sock = socks;
	r->n_sock = G_N_ELEMENTS(socks);
}

/* The start time given is the one reported, whatever the clocks now. */
Test(status, collect_keeps_the_start_time)
{
	struct control_status_report r;
	uint64_t start_ns = (uint64_t)g_get_monotonic_time() * 1000u;

	control_status_collect(&r, NULL, NULL, start_ns - 2000000000u,
			       1795000000.25);
	cr_assert_eq(r.start_utc_s, 1795000000.25);
	cr_assert(r.uptime_s >= 2.0 && r.uptime_s < 60.0, "%f", r.uptime_s);
	cr_assert_not(r.have_disc);
	control_status_report_clear(&r);
}

Test(status, text_names_what_matters)
{
	struct control_status_report r;
	struct control_status_vm vm;
	GString *o = g_string_new(NULL);

	fill(&r, &vm);
	control_status_render_text(&r, o);
	cr_assert(strstr(o->str, "vhost-user-rtc 9.9.9, pid 42, up 1h02m"),
		  "%s", o->str);
	cr_assert(strstr(o->str, "model      synchronized, bound +-2.5 us"),
		  "%s", o->str);
	cr_assert(strstr(o->str, "frequency +12.345 ppm"), "%s", o->str);
	cr_assert(strstr(o->str, "leap tonight: insert"), "%s", o->str);
	cr_assert(strstr(o->str, "following  phc /dev/ptp0: best bound"), "%s",
		  o->str);
	cr_assert(strstr(o->str, "degraded"), "%s", o->str);
	cr_assert(strstr(o->str, "90/3"), "%s", o->str);
	cr_assert(strstr(o->str, "1 connected (3 accepted, 0 refused, 2 "
				 "closed); 1000 requests, 2 errors"),
		  "%s", o->str);
	cr_assert(strstr(o->str,
			 "\nsockets    /run/vm\"1\".sock (1 connected)\n"
			 "           fd 3 (0 connected)\n"),
		  "%s", o->str);
	cr_assert(strstr(o->str, "off scale"), "%s", o->str);
	cr_assert(strstr(o->str, "running, broken: bad index"), "%s", o->str);
	g_string_free(o, TRUE);
}

Test(status, text_before_any_model)
{
	struct control_status_report r;
	struct control_status_vm vm;
	GString *o = g_string_new(NULL);

	fill(&r, &vm);
	r.disc.have_served = false;
	r.disc.selected = -1;
	r.disc.reason[0] = '\0';
	control_status_render_text(&r, o);
	cr_assert(strstr(o->str, "model      unknown: nothing published"), "%s",
		  o->str);
	cr_assert(strstr(o->str, "following  nothing\n"), "%s", o->str);
	g_string_free(o, TRUE);
}

static JsonObject *parse(JsonParser *p, const GString *o)
{
	GError *e = NULL;

	cr_assert(json_parser_load_from_data(p, o->str, (gssize)o->len, &e),
		  "%s: %s", e ? e->message : "", o->str);
	return json_node_get_object(json_parser_get_root(p));
}

Test(status, json_round_trip)
{
	struct control_status_report r;
	struct control_status_vm vm;
	GString *o = g_string_new(NULL);
	JsonParser *p = json_parser_new();
	JsonObject *root, *m, *s0, *vms, *v0;

	fill(&r, &vm);
	control_status_render_json(&r, o);
	cr_assert_eq(o->str[o->len - 1], '\n');
	root = parse(p, o);
	cr_assert_str_eq(json_object_get_string_member(root, "version"),
			 "9.9.9");
	m = json_object_get_object_member(root, "model");
	cr_assert(json_object_get_boolean_member(m, "published"));
	cr_assert_str_eq(json_object_get_string_member(m, "status"),
			 "synchronized");
	cr_assert_eq(json_object_get_int_member(m, "generation"), 77);
	cr_assert_eq(json_object_get_int_member(m, "c0"), 5000000000ll);
	cr_assert_eq(json_object_get_int_member(m, "tai0_ns"),
		     1795000000000000000ll);
	cr_assert_eq(json_object_get_int_member(m, "time_maxerr_ns"), 1500);
	cr_assert_eq(json_object_get_int_member(m, "rate_maxerr_ppb"), 1000);
	cr_assert_eq(json_object_get_int_member(m, "bound_ns"), 2500);
	cr_assert_str_eq(json_object_get_string_member(m, "counter"),
			 "monotonic-raw");
	cr_assert_str_eq(
		json_object_get_string_member(
			json_object_get_object_member(root, "leap"), "pending"),
		"insert");
	s0 = json_array_get_object_element(
		json_object_get_array_member(root, "sources"), 0);
	cr_assert_str_eq(json_object_get_string_member(s0, "health"),
			 "ptp4l: slave, \"gm\" 0.1 us");
	cr_assert_eq(json_object_get_int_member(s0, "offset_ns"), -12);
	s0 = json_array_get_object_element(
		json_object_get_array_member(root, "sources"), 1);
	cr_assert(json_object_get_null_member(s0, "bound_ns"));
	cr_assert(json_object_get_null_member(s0, "offset_ns"));
	vms = json_object_get_object_member(root, "vms");
	cr_assert_eq(json_object_get_int_member(vms, "requests_total"), 1000);
	{
		JsonArray *sa = json_object_get_array_member(vms, "sockets");
		JsonObject *s1;

		cr_assert_eq(json_array_get_length(sa), 2);
		s1 = json_array_get_object_element(sa, 0);
		cr_assert_str_eq(json_object_get_string_member(s1, "socket"),
				 "/run/vm\"1\".sock");
		cr_assert_eq(json_object_get_int_member(s1, "connected"), 1);
	}
	v0 = json_array_get_object_element(
		json_object_get_array_member(vms, "list"), 0);
	cr_assert_str_eq(json_object_get_string_member(v0, "name"),
			 "/run/vm\"1\".sock#3");
	cr_assert_eq(json_object_get_int_member(v0, "requests"), 900);
	cr_assert_eq(json_object_get_int_member(json_object_get_object_member(
							v0, "errors_by_status"),
						"EINVAL"),
		     2);
	cr_assert(json_object_get_null_member(v0, "busy_p99_ns"));
	g_object_unref(p);
	g_string_free(o, TRUE);
}

Test(status, json_unpublished_has_nulls)
{
	struct control_status_report r;
	struct control_status_vm vm;
	GString *o = g_string_new(NULL);
	JsonParser *p = json_parser_new();
	JsonObject *m;

	fill(&r, &vm);
	r.disc.have_served = false;
	r.disc.stats.freq_ppb = NAN;
	control_status_render_json(&r, o);
	m = json_object_get_object_member(parse(p, o), "model");
	cr_assert_not(json_object_get_boolean_member(m, "published"));
	cr_assert_str_eq(json_object_get_string_member(m, "status"), "unknown");
	cr_assert(json_object_get_null_member(m, "c0"));
	cr_assert(json_object_get_null_member(m, "bound_ns"));
	cr_assert(json_object_get_null_member(m, "freq_ppb"));
	g_object_unref(p);
	g_string_free(o, TRUE);
}

Test(status, prometheus_format)
{
	struct control_status_report r;
	struct control_status_vm vm;
	GString *o = g_string_new(NULL);
	GHashTable *typed =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	regex_t sample, comment;
	char **lines, **l;

	fill(&r, &vm);
	control_status_render_metrics(&r, o);
	/* metric{label="v",...} value: the exposition format's grammar */
	cr_assert_eq(regcomp(&sample,
			     "^(vhost_user_rtc_[a-z_]+|process_start_time_"
			     "seconds)(\\{[a-z_]+=\"([^\"\\\\]|"
			     "\\\\.)*\"(,[a-z_]+=\"([^\"\\\\]|\\\\.)*\")*\\})? "
			     "(-?[0-9.e+-]+|NaN|\\+Inf|-Inf)$",
			     REG_EXTENDED | REG_NOSUB),
		     0);
	cr_assert_eq(
		regcomp(&comment,
			"^# (HELP (vhost_user_rtc|process)_[a-z_]+ .+|TYPE "
			"(vhost_user_rtc|process)_[a-z_]+ (gauge|counter))$",
			REG_EXTENDED | REG_NOSUB),
		0);
	cr_assert_eq(o->str[o->len - 1], '\n');
	lines = g_strsplit(o->str, "\n", -1);
	for (l = lines; *l && **l; l++) {
		if (**l == '#') {
			cr_assert_eq(regexec(&comment, *l, 0, NULL, 0), 0,
				     "bad comment line: %s", *l);
			if (!strncmp(*l, "# TYPE ", 7)) {
				char *name =
					g_strndup(*l + 7, strcspn(*l + 7, " "));

				cr_assert_not(
					g_hash_table_contains(typed, name),
					"TYPE twice: %s", name);
				g_hash_table_add(typed, name);
			}
		} else {
			cr_assert_eq(regexec(&sample, *l, 0, NULL, 0), 0,
				     "bad sample line: %s", *l);
		}
	}
	cr_assert(strstr(o->str, "vhost_user_rtc_model_status{status="
				 "\"synchronized\"} 1\n"));
	cr_assert(strstr(o->str, "vhost_user_rtc_model_bound_seconds "
				 "2.5e-06\n"),
		  "%s", o->str);
	cr_assert(strstr(o->str, "vhost_user_rtc_source_selected{source="
				 "\"phc /dev/ptp0\"} 1\n"));
	cr_assert(strstr(o->str, "vhost_user_rtc_source_bound_seconds{source="
				 "\"system clock\"} NaN\n"));
	cr_assert(strstr(o->str, "vhost_user_rtc_vm_requests_total{vm="
				 "\"/run/vm\\\"1\\\".sock#3\",status="
				 "\"EINVAL\"} 2\n"),
		  "label escaped: %s", o->str);
	cr_assert(strstr(o->str, "vhost_user_rtc_requests_total 1000\n"));
	cr_assert(strstr(o->str, "vhost_user_rtc_socket_connections{socket="
				 "\"/run/vm\\\"1\\\".sock\"} 1\n"
				 "vhost_user_rtc_socket_connections{socket="
				 "\"fd 3\"} 0\n"),
		  "%s", o->str);
	cr_assert(strstr(o->str, "vhost_user_rtc_leap_pending 1\n"));
	cr_assert(strstr(o->str, "vhost_user_rtc_leap_file_expiry_timestamp_"
				 "seconds 1798761600\n"),
		  "%s", o->str);
	/* the client libraries' standard name, without our prefix */
	cr_assert(strstr(o->str, "\n# TYPE process_start_time_seconds gauge\n"
				 "process_start_time_seconds 1795000000.25\n"),
		  "%s", o->str);
	g_strfreev(lines);
	regfree(&sample);
	regfree(&comment);
	g_hash_table_unref(typed);
	g_string_free(o, TRUE);
}

/* Who the VM is: label, connection, pid, uid and QEMU -name in the text,
 * the JSON and vm_info; unknown credentials are said so, or null. */
Test(status, vm_identity_in_every_view)
{
	struct control_status_report r;
	struct control_status_vm vm;
	GString *o = g_string_new(NULL);
	JsonParser *p = json_parser_new();
	JsonObject *v0;

	fill(&r, &vm);
	strcpy(vm.name, "web-1");
	strcpy(vm.conn, "/run/vm\"1\".sock#3");
	vm.cred = true;
	vm.pid = 4242;
	vm.uid = 64055;
	strcpy(vm.qemu_name, "web-1");
	control_status_render_text(&r, o);
	cr_assert(strstr(o->str, "\n           web-1      "), "%s", o->str);
	cr_assert(strstr(o->str, "\n             on /run/vm\"1\".sock#3, pid "
				 "4242, uid 64055, QEMU -name web-1\n"),
		  "%s", o->str);
	g_string_truncate(o, 0);
	control_status_render_json(&r, o);
	v0 = json_array_get_object_element(
		json_object_get_array_member(
			json_object_get_object_member(parse(p, o), "vms"),
			"list"),
		0);
	cr_assert_str_eq(json_object_get_string_member(v0, "name"), "web-1");
	cr_assert_str_eq(json_object_get_string_member(v0, "connection"),
			 "/run/vm\"1\".sock#3");
	cr_assert_eq(json_object_get_int_member(v0, "pid"), 4242);
	cr_assert_eq(json_object_get_int_member(v0, "uid"), 64055);
	cr_assert_str_eq(json_object_get_string_member(v0, "qemu_name"),
			 "web-1");
	g_string_truncate(o, 0);
	control_status_render_metrics(&r, o);
	cr_assert(strstr(o->str, "vhost_user_rtc_vm_info{vm=\"web-1\","
				 "connection=\"/run/vm\\\"1\\\".sock#3\","
				 "pid=\"4242\",uid=\"64055\",qemu_name="
				 "\"web-1\"} 1\n"),
		  "%s", o->str);
	cr_assert(strstr(o->str, "vhost_user_rtc_vm_requests_total{vm="
				 "\"web-1\",status=\"EINVAL\"} 2\n"),
		  "%s", o->str);

	/* nothing known of the front-end */
	vm.cred = false;
	vm.qemu_name[0] = '\0';
	strcpy(vm.name, vm.conn);
	g_string_truncate(o, 0);
	control_status_render_text(&r, o);
	cr_assert(strstr(o->str, "front-end credentials unknown\n"), "%s",
		  o->str);
	g_string_truncate(o, 0);
	control_status_render_json(&r, o);
	v0 = json_array_get_object_element(
		json_object_get_array_member(
			json_object_get_object_member(parse(p, o), "vms"),
			"list"),
		0);
	cr_assert(json_object_get_null_member(v0, "pid"));
	cr_assert(json_object_get_null_member(v0, "uid"));
	cr_assert(json_object_get_null_member(v0, "qemu_name"));
	g_object_unref(p);
	g_string_free(o, TRUE);
}
