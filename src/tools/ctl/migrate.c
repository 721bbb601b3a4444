// SPDX-License-Identifier: MIT
/*
 * Unplug, migrate, plug. QEMU 11.1's vhost-user-rtc device carries an
 * unmigratable VMState, so a VM that has it cannot migrate. Without it,
 * it can: this takes the device (and the ivshmem-plain device that maps
 * the daemon's status page, whose memory backend would otherwise travel
 * as guest RAM into a read-only file) out of the running guest over the
 * source QEMU's QMP socket, migrates, and adds them on the destination
 * with the same id, bus and address, the chardev pointing at the
 * destination daemon's socket. The guest sees a PCIe hot-unplug and a
 * hot-plug: its clocks vanish for the time of the migration and come
 * back under the same names (the guest driver registers them again).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "migrate.h"
#include "migrate_devices.h"
#include "qmp.h"

enum {
	MIG_OK = 0,
	MIG_FAILED = 1,
	MIG_NOT_PLUGGED = 2,
	MIG_USAGE = 3,
};

static gchar *opt_src, *opt_dst, *opt_uri, *opt_incoming, *opt_socket;
static gchar *opt_page, **opt_devices;
static gint opt_unplug_s = 30, opt_migrate_s = 600, opt_qmp_ms = 5000;

static const GOptionEntry migrate_entries[] = {
	{ "qmp", 0, 0, G_OPTION_ARG_FILENAME, &opt_src,
	  "The source QEMU's QMP socket (-qmp unix:PATH,server=on,wait=off)",
	  "PATH" },
	{ "dest-qmp", 0, 0, G_OPTION_ARG_FILENAME, &opt_dst,
	  "The destination QEMU's QMP socket (that QEMU started with "
	  "-incoming)",
	  "PATH" },
	{ "uri", 0, 0, G_OPTION_ARG_STRING, &opt_uri,
	  "Where the source sends the migration stream (tcp:HOST:PORT, "
	  "unix:PATH): the destination's -incoming",
	  "URI" },
	{ "incoming", 0, 0, G_OPTION_ARG_STRING, &opt_incoming,
	  "With a destination started with -incoming defer: have it listen "
	  "on URI first (migrate-incoming)",
	  "URI" },
	{ "dest-socket", 0, 0, G_OPTION_ARG_FILENAME, &opt_socket,
	  "The destination daemon's vhost-user socket, as the destination "
	  "QEMU sees it (default: the source's path, as with the per-VM "
	  "unit on both hosts)",
	  "PATH" },
	{ "dest-page", 0, 0, G_OPTION_ARG_FILENAME, &opt_page,
	  "The destination daemon's status page (default: the source's "
	  "path)",
	  "PATH" },
	{ "device", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_devices,
	  "Only this device id (repeat; default: every vhost-user-rtc "
	  "device and every ivshmem-plain mapping a *vmclock page)",
	  "ID" },
	{ "unplug-timeout", 0, 0, G_OPTION_ARG_INT, &opt_unplug_s,
	  "Seconds to wait for the guest to release a device (default 30; "
	  "PCIe hotplug takes 5 s)",
	  "S" },
	{ "migrate-timeout", 0, 0, G_OPTION_ARG_INT, &opt_migrate_s,
	  "Seconds to wait for the migration (default 600; then it is "
	  "cancelled and the devices go back to the source)",
	  "S" },
	{ "qmp-timeout", 0, 0, G_OPTION_ARG_INT, &opt_qmp_ms,
	  "Milliseconds for one QMP command (default 5000)", "MS" },
	{ NULL },
};

static const char migrate_description[] =
	"QEMU 11.1 refuses to migrate a VM with a vhost-user-rtc device\n"
	"(\"non-migratable device\": QEMU marks it so). This takes the "
	"device out\n"
	"of the running guest, migrates, and puts it back on the "
	"destination:\n"
	"  1. source: device_del each vhost-user-rtc device and each "
	"ivshmem-plain device\n"
	"     of the daemon's status page; wait until the guest released "
	"them\n"
	"     (DEVICE_DELETED; PCIe hotplug: about 5 s), chardev-remove and "
	"object-del\n"
	"     of the page's memory backend\n"
	"  2. source: migrate to --uri, progress every second, until "
	"completed\n"
	"  3. destination: chardev-add to --dest-socket, device_add with "
	"the same\n"
	"     id, bus and addr (the guest's names stay); object-add and "
	"device_add\n"
	"     of the status page with --dest-page\n"
	"If the migration fails, the devices go back on the source. The "
	"guest has\n"
	"no virtio-rtc clocks from step 1 to step 3 (its PHCs return "
	"ENODEV); the\n"
	"guest's clients must reopen /dev/ptp_virtio_* (udev: "
	"99-virtio-ptp.rules).\n"
	"\n"
	"Needs: the devices on a hotplug-capable bus (a pcie-root-port on "
	"q35:\n"
	"-device pcie-root-port,id=rp1,chassis=1 -device "
	"vhost-user-rtc-pci,bus=rp1,...),\n"
	"each with an id=; the destination QEMU started with the same "
	"command line\n"
	"minus those devices (and their -chardev and memory backend), plus "
	"-incoming;\n"
	"the destination daemon listening. Both QMP sockets reachable from "
	"here\n"
	"(for two hosts: ssh -L /tmp/dst.qmp:/run/.../vm1.qmp desthost). "
	"Under\n"
	"libvirt, QMP is libvirt's: see contrib/libvirt/qemu-hook.sh.\n"
	"\n"
	"Example:\n"
	"  vhost-user-rtc-ctl migrate --qmp /run/vm1.qmp --dest-qmp "
	"/tmp/dst.qmp \\\n"
	"      --uri tcp:desthost:4444\n"
	"Exit status: 0 done; 1 failed (devices back on the source); 2 "
	"migrated but\n"
	"a device could not be plugged on the destination (the message says "
	"which);\n"
	"3 bad command line or no QMP connection (nothing changed).\n";

static gint64 t0_us;

static void __attribute__((format(printf, 1, 2))) step(const char *fmt, ...)
{
	va_list ap;

	printf("[%6.2f s] ",
	       (double)(g_get_monotonic_time() - t0_us) / G_USEC_PER_SEC);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static gboolean call_ok(struct qmp *q, const char *cmd, JsonNode *args,
			GError **err)
{
	JsonNode *r = qmp_call(q, cmd, args, err);

	if (r) {
		json_node_unref(r);
	}
	return r != NULL;
}

/*
 * Ask the guest to release @u (device_del). The guest's PCIe hotplug
 * waits 5 s after the button press before it powers the slot off, so
 * every device is asked first and waited for after (unplug_finish()).
 */
static gboolean unplug_start(struct qmp *q, struct unplugged *u, GError **err)
{
	u->del_us = g_get_monotonic_time();
	if (!call_ok(q, "device_del", qmp_args("id", u->id, NULL), err)) {
		return FALSE;
	}
	step("%s: device_del %s (%s on bus %s addr %s)", qmp_name(q), u->id,
	     u->driver, u->bus, u->addr);
	return TRUE;
}

/* Wait for DEVICE_DELETED of @u, then remove its chardev or backend. */
static gboolean unplug_finish(struct qmp *q, struct unplugged *u, GError **err)
{
	gint64 left_ms = (gint64)opt_unplug_s * 1000 -
			 (g_get_monotonic_time() - u->del_us) / 1000;

	if (!qmp_wait_event(q, "DEVICE_DELETED", "device", u->id,
			    (int)MAX(left_ms, 1), err)) {
		return FALSE;
	}
	u->removed = TRUE;
	step("%s: %s released by the guest %.1f s after device_del",
	     qmp_name(q), u->id,
	     (double)(g_get_monotonic_time() - u->del_us) / G_USEC_PER_SEC);
	if (u->chardev) {
		return call_ok(q, "chardev-remove",
			       qmp_args("id", u->chardev, NULL), err);
	}
	return call_ok(q, "object-del", qmp_args("id", u->memdev, NULL), err);
}

/* Put @u into the guest on @q, its backend at @path (NULL: as before). */
static gboolean plug(struct qmp *q, struct unplugged *u, const char *path,
		     GError **err)
{
	JsonNode *args;
	JsonObject *o;

	if (u->chardev) {
		/* {"id", "backend": {"type": "socket", "data": {"addr":
		 * {"type": "unix", "data": {"path"}}, "server": false}}} */
		JsonNode *addr =
			qmp_args("path", path ? path : u->socket, NULL);
		JsonObject *ua = json_object_new(), *sd = json_object_new(),
			   *be = json_object_new();

		json_object_set_string_member(ua, "type", "unix");
		json_object_set_member(ua, "data", addr);
		json_object_set_object_member(sd, "addr", ua);
		json_object_set_boolean_member(sd, "server", FALSE);
		json_object_set_string_member(be, "type", "socket");
		json_object_set_object_member(be, "data", sd);
		args = qmp_args("id", u->chardev, NULL);
		json_object_set_object_member(json_node_get_object(args),
					      "backend", be);
		if (!call_ok(q, "chardev-add", args, err)) {
			return FALSE;
		}
		args = qmp_args("driver", u->driver, "id", u->id, "chardev",
				u->chardev, "bus", u->bus, "addr", u->addr,
				NULL);
	} else {
		args = qmp_args("qom-type", "memory-backend-file", "id",
				u->memdev, "mem-path",
				path ? path : u->mem_path, NULL);
		o = json_node_get_object(args);
		json_object_set_int_member(o, "size", u->size);
		json_object_set_boolean_member(o, "share", u->share);
		json_object_set_boolean_member(o, "readonly", u->readonly);
		if (!call_ok(q, "object-add", args, err)) {
			return FALSE;
		}
		args = qmp_args("driver", u->driver, "id", u->id, "memdev",
				u->memdev, "bus", u->bus, "addr", u->addr,
				NULL);
	}
	if (!call_ok(q, "device_add", args, err)) {
		return FALSE;
	}
	step("%s: %s plugged (%s on bus %s addr %s, %s %s)", qmp_name(q), u->id,
	     u->driver, u->bus, u->addr, u->chardev ? "socket" : "page",
	     path ? path : (u->chardev ? u->socket : u->mem_path));
	return TRUE;
}

/* Plug every removed device of @devs back on @q; FALSE if one failed. */
static gboolean plug_all(struct qmp *q, GPtrArray *devs, gboolean dest)
{
	gboolean ok = TRUE;

	for (guint i = 0; i < devs->len; i++) {
		struct unplugged *u = devs->pdata[i];
		GError *e = NULL;

		if (!u->removed) {
			continue;
		}
		if (!plug(q, u,
			  dest ? (u->chardev ? opt_socket : opt_page) : NULL,
			  &e)) {
			fprintf(stderr, "%s: %s could not be plugged: %s\n",
				qmp_name(q), u->id, e->message);
			g_error_free(e);
			ok = FALSE;
		}
	}
	return ok;
}

/* query-migrate's blocked-reasons as one line ("" when none). */
static char *blocked_reasons(struct qmp *q, GError **err)
{
	JsonNode *r = qmp_call(q, "query-migrate", NULL, err);
	JsonObject *o;
	JsonArray *a;
	GString *s;

	if (!r) {
		return NULL;
	}
	o = json_node_get_object(r);
	s = g_string_new(NULL);
	a = json_object_has_member(o, "blocked-reasons")
		    ? json_object_get_array_member(o, "blocked-reasons")
		    : NULL;
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		g_string_append_printf(s, "%s\"%s\"", i ? ", " : "",
				       json_array_get_string_element(a, i));
	}
	json_node_unref(r);
	return g_string_free(s, FALSE);
}

static const char *status_of(struct qmp *q, GError **err)
{
	static char st[32];
	JsonNode *r = qmp_call(q, "query-status", NULL, err);

	if (!r) {
		return NULL;
	}
	g_strlcpy(st,
		  json_object_get_string_member(json_node_get_object(r),
						"status"),
		  sizeof(st));
	json_node_unref(r);
	return st;
}

/*
 * Run the migration on @src and follow it: a line a second, until
 * completed (TRUE) or failed, cancelled or timed out (FALSE, cancelled).
 */
static gboolean run_migration(struct qmp *src, GError **err)
{
	gint64 t = g_get_monotonic_time(), next = 0;
	gint64 end = t + (gint64)opt_migrate_s * G_USEC_PER_SEC;

	if (!call_ok(src, "migrate", qmp_args("uri", opt_uri, NULL), err)) {
		return FALSE;
	}
	step("source: migrate to %s started", opt_uri);
	for (;;) {
		JsonNode *r = qmp_call(src, "query-migrate", NULL, err);
		JsonObject *o, *ram;
		const char *st;
		gboolean done, failed;

		if (!r) {
			return FALSE;
		}
		o = json_node_get_object(r);
		st = json_object_has_member(o, "status")
			     ? json_object_get_string_member(o, "status")
			     : "none";
		ram = json_object_has_member(o, "ram")
			      ? json_object_get_object_member(o, "ram")
			      : NULL;
		done = !strcmp(st, "completed");
		failed = !strcmp(st, "failed") || !strcmp(st, "cancelled");
		if (done) {
			step("source: migration completed in %.1f s, "
			     "downtime %" G_GINT64_FORMAT
			     " ms, %.1f MiB transferred",
			     (double)(g_get_monotonic_time() - t) /
				     G_USEC_PER_SEC,
			     json_object_has_member(o, "downtime")
				     ? json_object_get_int_member(o, "downtime")
				     : -1,
			     ram ? (double)json_object_get_int_member(
					   ram, "transferred") /
					     (1 << 20)
				 : 0.0);
		} else if (failed) {
			g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED,
				    "the migration %s: %s", st,
				    json_object_has_member(o, "error-desc")
					    ? json_object_get_string_member(
						      o, "error-desc")
					    : "(no reason given)");
		} else if (g_get_monotonic_time() >= next) {
			next = g_get_monotonic_time() + G_USEC_PER_SEC;
			step("source: migration %s, %.1f MiB sent, %.1f MiB "
			     "remaining",
			     st,
			     ram ? (double)json_object_get_int_member(
					   ram, "transferred") /
					     (1 << 20)
				 : 0.0,
			     ram ? (double)json_object_get_int_member(
					   ram, "remaining") /
					     (1 << 20)
				 : 0.0);
		}
		json_node_unref(r);
		if (done || failed) {
			return done;
		}
		if (g_get_monotonic_time() > end) {
			call_ok(src, "migrate_cancel", NULL, NULL);
			g_set_error(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
				    "the migration did not complete within "
				    "%d s (cancelled)",
				    opt_migrate_s);
			return FALSE;
		}
		g_usleep((gulong)200 * 1000);
	}
}

/* The destination is done loading: running, or paused if told so. */
static gboolean wait_destination(struct qmp *dst, GError **err)
{
	gint64 end = g_get_monotonic_time() + (gint64)60 * G_USEC_PER_SEC;
	const char *st;

	while ((st = status_of(dst, err)) && !strcmp(st, "inmigrate")) {
		if (g_get_monotonic_time() > end) {
			g_set_error(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
				    "the destination is still in migrate "
				    "60 s after the source completed");
			return FALSE;
		}
		g_usleep((gulong)100 * 1000);
	}
	if (st) {
		step("destination: %s", st);
	}
	return st != NULL;
}

static int run(struct qmp *src, struct qmp *dst)
{
	GPtrArray *devs =
		g_ptr_array_new_with_free_func((GDestroyNotify)unplugged_free);
	GError *e = NULL;
	const char *st;
	char *why;
	int rc = MIG_FAILED;

	if (!(st = status_of(dst, &e))) {
		goto out;
	}
	if (strcmp(st, "inmigrate") != 0) {
		fprintf(stderr,
			"the destination QEMU is %s, not waiting for a "
			"migration: start it with -incoming %s (or -incoming "
			"defer and --incoming)\n",
			st, opt_uri);
		rc = MIG_USAGE;
		goto out;
	}
	if (opt_incoming && !call_ok(dst, "migrate-incoming",
				     qmp_args("uri", opt_incoming, NULL), &e)) {
		rc = MIG_USAGE;
		goto out;
	}
	if (!migrate_find_devices(src, opt_devices, devs, &e)) {
		rc = MIG_USAGE;
		goto out;
	}
	if ((why = blocked_reasons(src, NULL))) {
		step("source: query-migrate blocked-reasons before: [%s]", why);
		g_free(why);
	}
	if (!devs->len) {
		step("source: no vhost-user-rtc device with an id= (nothing "
		     "to unplug)");
	}
	for (guint i = 0; i < devs->len; i++) {
		if (!unplug_start(src, devs->pdata[i], &e)) {
			goto replug;
		}
	}
	step("source: waiting for the guest to release %u device(s)",
	     devs->len);
	for (guint i = 0; i < devs->len; i++) {
		if (!unplug_finish(src, devs->pdata[i], &e)) {
			goto replug;
		}
	}
	why = blocked_reasons(src, &e);
	if (!why) {
		goto replug;
	}
	step("source: query-migrate blocked-reasons now: [%s]", why);
	if (*why) {
		g_set_error(&e, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
			    "the VM is still not migratable: %s (a "
			    "vhost-user-rtc or ivshmem-plain device without "
			    "id=, or another device QEMU cannot migrate?)",
			    why);
		g_free(why);
		goto replug;
	}
	g_free(why);
	if (!run_migration(src, &e)) {
		goto replug;
	}
	if (!wait_destination(dst, &e)) {
		rc = MIG_NOT_PLUGGED;
		goto out;
	}
	rc = plug_all(dst, devs, TRUE) ? MIG_OK : MIG_NOT_PLUGGED;
	step("%s; the source QEMU stays paused (postmigrate): quit it once "
	     "the guest runs on the destination",
	     rc == MIG_OK ? "done" : "migrated, NOT every device plugged");
	goto out;
replug:
	fprintf(stderr, "migrate: %s\n", e->message);
	g_clear_error(&e);
	step("source: putting the devices back");
	rc = plug_all(src, devs, FALSE) ? MIG_FAILED : MIG_NOT_PLUGGED;
out:
	if (e) {
		fprintf(stderr, "migrate: %s\n", e->message);
		g_error_free(e);
	}
	g_ptr_array_unref(devs);
	return rc;
}

int migrate_main(int argc, char **argv)
{
	GOptionContext *ctx = g_option_context_new(
		"- move a VM with a vhost-user-rtc device to another QEMU");
	struct qmp *src = NULL, *dst = NULL;
	GError *e = NULL;
	int rc = MIG_USAGE;

	t0_us = g_get_monotonic_time();
	g_option_context_add_main_entries(ctx, migrate_entries, NULL);
	g_option_context_set_description(ctx, migrate_description);
	if (!g_option_context_parse(ctx, &argc, &argv, &e)) {
		fprintf(stderr, "migrate: %s (see migrate --help)\n",
			e->message);
		goto out;
	}
	if (argc != 1 || !opt_src || !opt_dst || !opt_uri) {
		fprintf(stderr, "migrate: give --qmp, --dest-qmp and --uri "
				"(see migrate --help)\n");
		goto out;
	}
	if (opt_unplug_s <= 0 || opt_migrate_s <= 0 || opt_qmp_ms <= 0) {
		fprintf(stderr, "migrate: timeouts must be positive\n");
		goto out;
	}
	if (!(src = qmp_open(opt_src, "source", opt_qmp_ms, &e)) ||
	    !(dst = qmp_open(opt_dst, "destination", opt_qmp_ms, &e))) {
		fprintf(stderr, "migrate: %s\n", e->message);
		goto out;
	}
	rc = run(src, dst);
out:
	g_clear_error(&e);
	qmp_free(src);
	qmp_free(dst);
	g_option_context_free(ctx);
	return rc;
}
