// SPDX-License-Identifier: MIT
/*
 * What `vhost-user-rtc-ctl migrate` takes out of the source QEMU, found
 * over QMP: the vhost-user-rtc devices and the status page's
 * ivshmem-plain devices in /machine/peripheral (those with an id=),
 * with their bus, address, chardev path or memory backend, so that they
 * can be added again, as they were, on either QEMU.
 */
#include <string.h>

#include "migrate_devices.h"

void unplugged_free(struct unplugged *u)
{
	if (!u) {
		return;
	}
	g_free(u->id);
	g_free(u->driver);
	g_free(u->bus);
	g_free(u->addr);
	g_free(u->chardev);
	g_free(u->socket);
	g_free(u->memdev);
	g_free(u->mem_path);
	g_free(u);
}

/* qom-get @path @prop; NULL with @err set. */
static JsonNode *qom_get(struct qmp *q, const char *path, const char *prop,
			 GError **err)
{
	return qmp_call(q, "qom-get",
			qmp_args("path", path, "property", prop, NULL), err);
}

static char *qom_get_string(struct qmp *q, const char *path, const char *prop,
			    GError **err)
{
	JsonNode *n = qom_get(q, path, prop, err);
	char *s = NULL;

	if (n && json_node_get_value_type(n) == G_TYPE_STRING) {
		s = g_strdup(json_node_get_string(n));
	} else if (n) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			    "%s.%s is not a string", path, prop);
	}
	if (n) {
		json_node_unref(n);
	}
	return s;
}

/*
 * Where the device at QOM @path sits: its bus name (the last part of its
 * parent_bus path) and its PCI address as "SS.F".
 */
static gboolean device_place(struct qmp *q, const char *path,
			     struct unplugged *u, GError **err)
{
	char *bus = qom_get_string(q, path, "parent_bus", err);
	JsonNode *addr;
	gint64 devfn;

	if (!bus) {
		return FALSE;
	}
	u->bus = g_path_get_basename(bus);
	g_free(bus);
	addr = qom_get(q, path, "addr", err);
	if (!addr) {
		return FALSE;
	}
	if (json_node_get_value_type(addr) == G_TYPE_STRING) {
		u->addr = g_strdup(json_node_get_string(addr));
	} else {
		devfn = json_node_get_int(addr);
		u->addr = g_strdup_printf("%02" G_GINT64_MODIFIER
					  "x.%" G_GINT64_MODIFIER "x",
					  devfn >> 3, devfn & 7);
	}
	json_node_unref(addr);
	return TRUE;
}

/*
 * The UNIX socket path chardev @label was given: its QOM "addr". Not
 * query-chardev's filename, which is the address the listening daemon
 * bound, another path when QEMU runs in a chroot or mount namespace.
 */
static char *chardev_addr(struct qmp *q, const char *label)
{
	char *obj = g_strdup_printf("/chardevs/%s", label);
	JsonNode *n = qom_get(q, obj, "addr", NULL);
	JsonObject *o;
	char *path = NULL;

	g_free(obj);
	if (!n) {
		return NULL;
	}
	o = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
	if (o && !g_strcmp0(json_object_get_string_member_with_default(
				    o, "type", NULL),
			    "unix")) {
		path = g_strdup(json_object_get_string_member_with_default(
			o, "path", NULL));
	}
	json_node_unref(n);
	return path;
}

/* The UNIX socket path of chardev @label (else query-chardev's filename). */
static char *chardev_socket(struct qmp *q, const char *label, GError **err)
{
	JsonNode *list;
	char *path = chardev_addr(q, label);

	if (path) {
		return path;
	}
	list = qmp_call(q, "query-chardev", NULL, err);

	if (!list) {
		return NULL;
	}
	for (guint i = 0; i < json_array_get_length(json_node_get_array(list));
	     i++) {
		JsonObject *c = json_array_get_object_element(
			json_node_get_array(list), i);
		const char *f, *u;

		if (g_strcmp0(json_object_get_string_member(c, "label"),
			      label)) {
			continue;
		}
		f = json_object_get_string_member(c, "filename");
		if (f && g_str_has_prefix(f, "disconnected:")) {
			f += strlen("disconnected:");
		}
		u = f && g_str_has_prefix(f, "unix:") ? f + strlen("unix:")
						      : NULL;
		if (u) {
			path = g_strndup(u, strcspn(u, ","));
		} else {
			g_set_error(err, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
				    "chardev %s is not a UNIX socket (%s)",
				    label, f ? f : "?");
		}
		break;
	}
	if (!path && err && !*err) {
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
			    "no chardev %s in query-chardev", label);
	}
	json_node_unref(list);
	return path;
}

static gboolean wanted(char **only, const char *id)
{
	if (!only) {
		return TRUE;
	}
	for (char **d = only; *d; d++) {
		if (!strcmp(*d, id)) {
			return TRUE;
		}
	}
	return FALSE;
}

/* What a vhost-user-rtc device at @path needs to come back. */
static struct unplugged *describe_rtc(struct qmp *q, const char *id,
				      const char *driver, GError **err)
{
	struct unplugged *u = g_new0(struct unplugged, 1);
	char *path = g_strdup_printf("/machine/peripheral/%s", id);

	u->id = g_strdup(id);
	u->driver = g_strdup(driver);
	if (!device_place(q, path, u, err) ||
	    !(u->chardev = qom_get_string(q, path, "chardev", err)) ||
	    !(u->socket = chardev_socket(q, u->chardev, err))) {
		unplugged_free(u);
		u = NULL;
	}
	g_free(path);
	return u;
}

/*
 * An ivshmem-plain device mapping the daemon's page (its backend's
 * mem-path ends in "vmclock"), or NULL without error if it maps
 * something else.
 */
static struct unplugged *describe_page(struct qmp *q, const char *id,
				       char **only, GError **err)
{
	struct unplugged *u = g_new0(struct unplugged, 1);
	char *path = g_strdup_printf("/machine/peripheral/%s", id);
	char *mem = NULL;
	JsonNode *n;

	u->id = g_strdup(id);
	u->driver = g_strdup("ivshmem-plain");
	mem = qom_get_string(q, path, "memdev", err);
	if (!mem || !(u->mem_path = qom_get_string(q, mem, "mem-path", err))) {
		goto fail;
	}
	if (!only && !g_str_has_suffix(u->mem_path, "vmclock")) {
		g_free(mem);
		g_free(path);
		unplugged_free(u);
		return NULL;
	}
	u->memdev = g_path_get_basename(mem);
	if (!(n = qom_get(q, mem, "size", err))) {
		goto fail;
	}
	u->size = json_node_get_int(n);
	json_node_unref(n);
	if (!(n = qom_get(q, mem, "share", err))) {
		goto fail;
	}
	u->share = json_node_get_boolean(n);
	json_node_unref(n);
	if (!(n = qom_get(q, mem, "readonly", err))) {
		goto fail;
	}
	u->readonly = json_node_get_boolean(n);
	json_node_unref(n);
	if (!device_place(q, path, u, err)) {
		goto fail;
	}
	g_free(mem);
	g_free(path);
	return u;
fail:
	g_free(mem);
	g_free(path);
	unplugged_free(u);
	return NULL;
}

/*
 * The devices to take out, vhost-user-rtc first: every one in
 * /machine/peripheral (devices with an id=) that is ours, or those of
 * --device. FALSE with @err set on a device that cannot be described.
 */
gboolean migrate_find_devices(struct qmp *q, char **only, GPtrArray *out,
			      GError **err)
{
	JsonNode *list =
		qmp_call(q, "qom-list",
			 qmp_args("path", "/machine/peripheral", NULL), err);
	JsonArray *a;
	GPtrArray *pages = g_ptr_array_new();
	gboolean ok = FALSE;

	if (!list) {
		g_ptr_array_free(pages, TRUE);
		return FALSE;
	}
	a = json_node_get_array(list);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *e = json_array_get_object_element(a, i);
		const char *name = json_object_get_string_member(e, "name");
		const char *type = json_object_get_string_member(e, "type");
		struct unplugged *u = NULL;

		if (!name || !type || !wanted(only, name)) {
			continue;
		}
		if (!strcmp(type, "child<vhost-user-rtc-pci>") ||
		    !strcmp(type, "child<vhost-user-rtc>")) {
			u = describe_rtc(q, name, type + strlen("child<"), err);
			if (u) {
				u->driver[strlen(u->driver) - 1] = '\0';
				g_ptr_array_add(out, u);
			}
		} else if (!strcmp(type, "child<ivshmem-plain>")) {
			u = describe_page(q, name, only, err);
			if (u) {
				g_ptr_array_add(pages, u);
			}
		} else {
			continue;
		}
		if (!u && *err) {
			goto out;
		}
	}
	ok = TRUE;
out:
	for (guint i = 0; i < pages->len; i++) {
		if (ok) {
			g_ptr_array_add(out, pages->pdata[i]);
		} else {
			unplugged_free(pages->pdata[i]);
		}
	}
	g_ptr_array_free(pages, TRUE);
	json_node_unref(list);
	return ok;
}
