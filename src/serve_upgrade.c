/* SPDX-License-Identifier: MIT */
/*
 * The live upgrade, both ends: the hand-over image written and the next
 * process started (SIGUSR2, "upgrade" on the control socket), and the
 * image adopted by that next process (--adopt).
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "control.h"
#include "discipline.h"
#include "error.h"
#include "handover.h"
#include "listen.h"
#include "notify.h"
#include "persist.h"
#include "time_ns.h"
#include "upgrade.h"
#include "vm_sockets.h"
#include "vmclock_page.h"
#include "vu_server.h"

/* Live upgrade */

/*
 * The daemon's own records: everything but the VM connections (a live
 * upgrade adds those; crash recovery stores each apart, persist.h).
 */
static void save_daemon(struct app *a, struct ho_writer *w, bool conns, int *rc)
{
	struct estimator_state st;
	uint64_t t = htole64((uint64_t)time_ns_now(CLOCK_MONOTONIC));

	ho_put_u32(w, HO_GENERATION, a->upg.generation);
	ho_put(w, HO_SAVED_AT, &t, sizeof(t));
	/* the model first: the alarms are armed against it */
	if (discipline_save(a->disc, &st) == 0) {
		ho_put(w, HO_ESTIMATOR, &st, sizeof(st));
	}
	vm_sockets_save(a->vms, w);
	if (a->page) {
		uint64_t m = htole64(vmclock_page_marker_base(a->page));

		ho_put(w, HO_PAGE_MARKER, &m, sizeof(m));
		/* with its lock: one daemon per page, the next one now */
		ho_put_fd_as(w, HO_PAGE_FD, vmclock_page_fd(a->page));
	}
	ho_begin(w, HO_SERVER);
	if (conns) {
		*rc = vu_server_save(a->server, w);
	} else {
		vu_server_save_listeners(a->server, w);
	}
	ho_end(w);
	if (a->control) {
		control_save(a->control, w);
	}
}

void serve_persist_daemon(struct ho_writer *w, void *ctx)
{
	int rc = 0;

	save_daemon(ctx, w, false, &rc);
}

/* Everything the next process needs, handed to it; on success we end. */
static gboolean run_upgrade(gpointer data)
{
	struct app *a = data;
	struct ho_writer *w = ho_writer_new();
	GByteArray *img = NULL;
	const int *fds;
	unsigned int n = 0;
	char why[160] = "";
	pid_t pid = 0;
	int rc = 0;

	a->upgrade_id = 0;
	save_daemon(a, w, true, &rc);
	/* what the fd store holds: the next process replaces it */
	persist_save_names(a->persist, w);
	if (!rc) {
		rc = ho_writer_finish(w, &img);
	}
	if (rc) {
		snprintf(why, sizeof(why),
			 "cannot write the hand-over image: %s",
			 g_strerror(-rc));
	} else {
		fds = ho_writer_fds(w, &n);
		rc = upgrade_now(a->upgrade, img, fds, n, &pid, why,
				 sizeof(why));
	}
	if (!rc) {
		g_message("live upgrade: %u VM connection(s) and %u fds handed "
			  "to pid %d (generation %u); this process ends",
			  vu_server_num_connections(a->server), n, (int)pid,
			  a->upg.generation + 1);
		notify_mainpid(pid);
		/* Touch nothing: the sockets, the rings, the page and the
		 * socket files are the next process's now. */
		_exit(EXIT_OK);
	}
	a->upg.failed++;
	snprintf(a->upg.last_error, sizeof(a->upg.last_error), "%s", why);
	g_warning("live upgrade failed: %s; this process serves on", why);
	if (img) {
		g_byte_array_unref(img);
	}
	ho_writer_free(w);
	return G_SOURCE_REMOVE;
}

/* Schedule the hand-over: first thing in the next loop iteration, with
 * nothing else run between the image and the end. */
const char *serve_upgrade_schedule(struct app *a)
{
	if (!a->upgrade) {
		return a->upgrade_off;
	}
	if (!a->upgrade_id) {
		a->upgrade_id =
			g_idle_add_full(G_PRIORITY_HIGH, run_upgrade, a, NULL);
	}
	return NULL;
}

gboolean serve_upgrade_on_sigusr2(gpointer data)
{
	struct app *a = data;
	const char *off = serve_upgrade_schedule(a);

	if (off) {
		g_warning("SIGUSR2: no live upgrade: %s", off);
	} else {
		g_message("SIGUSR2: live upgrade to %s", a->argv[0]);
	}
	return G_SOURCE_CONTINUE;
}

static int adopt_control(struct app *a, struct ho_reader *r,
			 const struct ho_item *it)
{
	struct adopted_listener *l = g_new0(struct adopted_listener, 1);
	char name[300] = "";
	struct ho_reader in;
	struct ho_item x;
	int rc;

	l->fd = -1;
	g_ptr_array_add(a->adopted_ctl, l);
	if (ho_enter(r, it, &in)) {
		return -EBADMSG;
	}
	while ((rc = ho_next(&in, &x)) > 0) {
		if (x.tag == HO_NAME && !name[0]) {
			rc = ho_get_str(&in, &x, name, sizeof(name));
		} else if (x.tag == HO_FD && l->fd < 0) {
			rc = ho_take_fd(&in, &x, &l->fd);
		} else if (x.tag == HO_SEQ) {
			rc = ho_get_u32(&in, &x, &l->proto);
		} else {
			rc = ho_fail(&in, "control listener: record 0x%x",
				     x.tag);
		}
		if (rc < 0) {
			return -EBADMSG;
		}
	}
	if (rc < 0) {
		return -EBADMSG;
	}
	l->name = g_strdup(name);
	if (!name[0] || l->fd < 0 || l->proto > CONTROL_PROTO_HTTP) {
		return ho_fail(&in, "control listener without name or fd");
	}
	return 0;
}

/* The image to adopt (a live upgrade's, or a crashed process's) and its
 * fd table; false if there is none. */
static bool adoption(struct app *a, const void **img, gsize *len,
		     struct ho_fds **fds)
{
	static struct ho_fds live;

	if (a->adopt_arg) {
		if (!live.fd) {
			live.n = a->adopt.nfds;
			live.fd = g_new(int, live.n ? live.n : 1);
			for (unsigned int i = 0; i < live.n; i++) {
				live.fd[i] = a->adopt.first_fd + (int)i;
			}
		}
		*img = g_bytes_get_data(a->adopt.image, len);
		*fds = &live;
		return true;
	}
	return a->recovery &&
	       persist_recovery_global(a->recovery, img, len, fds);
}

/* The status page's disruption base and fd in the image, or false. */
bool serve_adopt_page(struct app *a, uint64_t *marker, int *fd)
{
	struct ho_reader r;
	struct ho_item it;
	struct ho_fds *fds;
	const void *img;
	bool have = false;
	uint32_t i;
	gsize len;

	*fd = -1;
	if (!adoption(a, &img, &len, &fds) ||
	    ho_reader_open(&r, img, len, NULL, NULL, 0)) {
		return false;
	}
	while (ho_next(&r, &it) > 0) {
		if (it.tag == HO_PAGE_MARKER &&
		    !ho_get(&r, &it, marker, sizeof(*marker))) {
			*marker = le64toh(*marker);
			have = true;
		} else if (it.tag == HO_PAGE_FD && !ho_get_u32(&r, &it, &i) &&
			   i < fds->n) {
			*fd = fds->fd[i];
		}
	}
	return have && *fd >= 0;
}

/* HO_STORE_OLD: NUL-ended names (bad ones are skipped). */
static char **split_store_names(const uint8_t *v, uint32_t len)
{
	GPtrArray *n = g_ptr_array_new();
	uint32_t at = 0;

	while (at < len) {
		const uint8_t *z = memchr(v + at, 0, len - at);
		uint32_t end = z ? (uint32_t)(z - v) : len;

		if (end > at && end - at < 64) {
			g_ptr_array_add(
				n, g_strndup((const char *)v + at, end - at));
		}
		at = end + 1;
	}
	g_ptr_array_add(n, NULL);
	return (char **)g_ptr_array_free(n, FALSE);
}

/* --adopt: rebuild what the process before us served, serving nothing
 * yet. The image is input from another program: checked throughout. */
int serve_adopt_image(struct app *a, uint64_t *saved_at, GError **err)
{
	struct ho_fds *fds;
	struct estimator_state st;
	struct ho_reader r, sub;
	struct ho_item it;
	const void *img;
	char why[256] = "", path[256];
	uint32_t gen;
	gsize len;
	int rc;

	if (!adoption(a, &img, &len, &fds)) {
		return 0; /* recovery without the daemon's image: afresh */
	}
	rc = ho_reader_open(&r, img, len, fds, why, sizeof(why));
	while (rc == 0 && (rc = ho_next(&r, &it)) > 0) {
		rc = 0;
		switch (it.tag) {
		case HO_GENERATION:
			rc = ho_get_u32(&r, &it, &gen);
			a->upg.generation = gen + 1;
			a->upg.adoptions = gen;
			break;
		case HO_SAVED_AT:
			rc = ho_get(&r, &it, saved_at, sizeof(*saved_at));
			*saved_at = le64toh(*saved_at);
			break;
		case HO_ESTIMATOR:
			rc = ho_get(&r, &it, &st, sizeof(st));
			if (!rc && discipline_resume(a->disc, &st) < 0) {
				rc = ho_fail(&r,
					     "the clock model's state is not "
					     "one an estimator could hold");
			}
			break;
		case HO_PAGE_MARKER:
			break; /* read before the page was opened */
		case HO_PAGE_FD: {
			int fd;

			/* taken then; it must be the one the page holds */
			rc = ho_take_fd(&r, &it, &fd);
			if (!rc &&
			    (!a->page || fd != vmclock_page_fd(a->page))) {
				rc = ho_fail(&r, "a status page fd not in use");
			}
			break;
		}
		case HO_VM_ADDED:
			rc = ho_get_str(&r, &it, path, sizeof(path));
			if (!rc) {
				vm_sockets_note_added(a->vms, path);
				listen_own(a->listeners, path);
			}
			break;
		case HO_SERVER:
			rc = ho_enter(&r, &it, &sub);
			if (!rc) {
				rc = vu_server_adopt(a->server, &sub);
			}
			break;
		case HO_CONTROL_LISTENER:
			rc = adopt_control(a, &r, &it);
			break;
		case HO_STORE_OLD:
			if (!a->store_old) {
				a->store_old = split_store_names(it.v, it.len);
			}
			break;
		case HO_STORE_NAMES:
			break; /* the recovery's fd table: read already */
		default:
			rc = ho_fail(&r, "unknown record 0x%x", it.tag);
		}
	}
	/* a live upgrade's fds not taken are ours to close; a recovery's
	 * are the store's (persist_recovery_adopt()) */
	if (a->adopt_arg) {
		ho_fds_close_rest(fds);
	}
	if (rc < 0) {
		return error_set(err, EBADMSG, "hand-over image refused: %s",
				 why[0] ? why : g_strerror(-rc));
	}
	return 0;
}
