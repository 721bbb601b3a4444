// SPDX-License-Identifier: MIT
/*
 * VM sockets added and removed at run time (vm_sockets.h).
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ratelimit.h"
#include "handover.h"
#include "vm_sockets.h"

struct vm_socket {
	char *name; /* the path, or "fd N" */
	bool is_path;
	bool added; /* at run time */
};

struct vm_sockets {
	struct vu_server *server;
	struct listen_set *ls;
	char *dir; /* without a trailing '/'; NULL: no vm add */
	char *reserved;
	gid_t gid;
	unsigned int max;
	GPtrArray *socks; /* struct vm_socket */
	struct ratelimit rl;
};

static void socket_free(gpointer data)
{
	struct vm_socket *s = data;

	g_free(s->name);
	g_free(s);
}

struct vm_sockets *vm_sockets_new(struct vu_server *server,
				  struct listen_set *ls,
				  const struct vm_sockets_conf *conf)
{
	struct vm_sockets *v = g_new0(struct vm_sockets, 1);

	v->server = server;
	v->ls = ls;
	if (conf->dir) {
		size_t n = strlen(conf->dir);

		while (n > 1 && conf->dir[n - 1] == '/') {
			n--;
		}
		v->dir = g_strndup(conf->dir, n);
	}
	v->reserved = g_strdup(conf->reserved);
	v->gid = conf->gid;
	v->max = conf->max ? conf->max : VM_SOCKETS_MAX;
	v->socks = g_ptr_array_new_with_free_func(socket_free);
	/* an operator's commands, but a control-group member may loop */
	ratelimit_init(&v->rl, 10, 50);
	return v;
}

void vm_sockets_free(struct vm_sockets *v)
{
	if (!v) {
		return;
	}
	g_ptr_array_unref(v->socks);
	g_free(v->dir);
	g_free(v->reserved);
	g_free(v);
}

static void note(struct vm_sockets *v, const char *name, bool is_path,
		 bool added)
{
	struct vm_socket *s = g_new0(struct vm_socket, 1);

	s->name = g_strdup(name);
	s->is_path = is_path;
	s->added = added;
	g_ptr_array_add(v->socks, s);
}

void vm_sockets_note(struct vm_sockets *v, const char *name, bool is_path)
{
	note(v, name, is_path, false);
}

void vm_sockets_note_added(struct vm_sockets *v, const char *path)
{
	note(v, path, true, true);
}

void vm_sockets_save(const struct vm_sockets *v, struct ho_writer *w)
{
	for (guint i = 0; i < v->socks->len; i++) {
		const struct vm_socket *s = g_ptr_array_index(v->socks, i);

		if (s->added) {
			ho_put_str(w, HO_VM_ADDED, s->name);
		}
	}
}

static struct vm_socket *find(const struct vm_sockets *v, const char *name,
			      guint *at)
{
	for (guint i = 0; i < v->socks->len; i++) {
		struct vm_socket *s = g_ptr_array_index(v->socks, i);

		if (!strcmp(s->name, name)) {
			*at = i;
			return s;
		}
	}
	return NULL;
}

static int refuse(GString *out, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(GString *out, int r, const char *fmt, ...)
{
	va_list ap;

	g_string_append(out, "error: ");
	va_start(ap, fmt);
	g_string_append_vprintf(out, fmt, ap);
	va_end(ap);
	g_string_append_c(out, '\n');
	return r;
}

static int vm_add(struct vm_sockets *v, const char *arg, GString *out)
{
	char path[CONTROL_ARG_MAX], why[160];
	GError *err = NULL;
	char *dir;
	guint at;
	int fd, r;

	if (!v->dir) {
		return refuse(out, -EPERM,
			      "vm add is off: the daemon needs vm-socket-dir= "
			      "(a directory it may create sockets in after "
			      "dropping privileges)");
	}
	r = control_vm_path(v->dir, arg, path, sizeof(path), why, sizeof(why));
	if (r) {
		return refuse(out, r, "bad path %s", why);
	}
	dir = g_path_get_dirname(path);
	r = strcmp(dir, v->dir) ? -EPERM : 0;
	g_free(dir);
	if (r) {
		return refuse(out, r,
			      "%s: not in vm-socket-dir %s (the only "
			      "directory sockets are added in)",
			      path, v->dir);
	}
	if (find(v, path, &at) || (v->reserved && !strcmp(path, v->reserved))) {
		return refuse(out, -EEXIST, "%s: already served by this daemon",
			      path);
	}
	if (v->socks->len >= v->max) {
		return refuse(out, -ENOSPC,
			      "%s: too many VM sockets (%u, the most is %u: "
			      "max-connections)",
			      path, v->socks->len, v->max);
	}
	fd = listen_unix(v->ls, path, v->gid, &err);
	if (fd < 0) {
		/* bound but not given to its group, or not listening */
		(void)listen_forget(v->ls, path);
		r = refuse(out, fd, "%s", err->message);
		g_log_ratelimited(&v->rl, G_LOG_LEVEL_WARNING,
				  "vm add %s refused: %s", path, err->message);
		g_error_free(err);
		return r;
	}
	r = vu_server_add_listener(v->server, fd, path);
	if (r < 0) {
		close(fd);
		(void)listen_forget(v->ls, path);
		return refuse(out, r, "cannot serve %s: %s", path,
			      g_strerror(-r));
	}
	note(v, path, true, true);
	g_log_ratelimited(&v->rl, G_LOG_LEVEL_MESSAGE,
			  "vm add: serving VMs on %s too (%u sockets)", path,
			  v->socks->len);
	g_string_append_printf(out, "added %s\n", path);
	return 0;
}

static int vm_remove(struct vm_sockets *v, const char *arg, GString *out)
{
	char path[CONTROL_ARG_MAX], why[160];
	struct vm_socket *s;
	guint at;
	int n, u, r;

	r = control_vm_path(v->dir, arg, path, sizeof(path), why, sizeof(why));
	if (r) {
		return refuse(out, r, "bad path %s", why);
	}
	s = find(v, path, &at);
	if (!s || !s->is_path) {
		return refuse(out, -ENOENT,
			      "%s: not a socket of this daemon (vm list "
			      "shows them)",
			      path);
	}
	n = vu_server_remove_listener(v->server, path);
	u = listen_forget(v->ls, path);
	g_ptr_array_remove_index(v->socks, at);
	g_log_ratelimited(&v->rl, G_LOG_LEVEL_MESSAGE,
			  "vm remove: %s closed with %d connection%s", path,
			  n < 0 ? 0 : n, n == 1 ? "" : "s");
	g_string_append_printf(out, "removed %s (%d connection%s closed)\n",
			       path, n < 0 ? 0 : n, n == 1 ? "" : "s");
	if (u && u != -ENOENT && u != -ESTALE) {
		/* a start-up socket in a directory we may no longer write */
		g_string_append_printf(out,
				       "its file stays (%s); the next start "
				       "removes it\n",
				       g_strerror(-u));
	}
	return 0;
}

static void vm_list(const struct vm_sockets *v, GString *out)
{
	g_string_append(out, "connections  origin    socket\n");
	for (guint i = 0; i < v->socks->len; i++) {
		const struct vm_socket *s = g_ptr_array_index(v->socks, i);
		int n = vu_server_listener_connections(v->server, s->name);

		g_string_append_printf(out, "%11d  %-8s  %s\n", n < 0 ? 0 : n,
				       s->added ? "added" : "start-up",
				       s->name);
	}
}

int vm_sockets_answer(struct vm_sockets *v, enum control_cmd cmd,
		      const char *arg, GString *out)
{
	switch (cmd) {
	case CONTROL_CMD_VM_ADD:
		return vm_add(v, arg, out);
	case CONTROL_CMD_VM_REMOVE:
		return vm_remove(v, arg, out);
	case CONTROL_CMD_VM_LIST:
		vm_list(v, out);
		return 0;
	default:
		return refuse(out, -EINVAL, "not a vm command");
	}
}
