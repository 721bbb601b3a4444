/* SPDX-License-Identifier: MIT */
/*
 * The privilege drop: users and groups, capabilities, no_new_privs, then
 * the seccomp allow-list (syscall_filter.c).
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "privdrop.h"
#include "syscall_filter.h"

/* getpwnam_r()/getgrnam_r() buffers; entries larger than this are odd. */
#define PRIVDROP_DB_BUF 16384

static int lookup_user(const char *name, struct passwd *pw, char *buf,
		       size_t len)
{
	struct passwd *res = NULL;
	int r = getpwnam_r(name, pw, buf, len, &res);

	if (r) {
		return -r;
	}
	return res ? 0 : -ENOENT;
}

static int lookup_group(const char *name, gid_t *gid)
{
	char *buf = g_malloc(PRIVDROP_DB_BUF);
	struct group gr, *res = NULL;
	int r = getgrnam_r(name, &gr, buf, PRIVDROP_DB_BUF, &res);

	if (!r && res) {
		*gid = gr.gr_gid;
	}
	g_free(buf);
	if (r) {
		return -r;
	}
	return res ? 0 : -ENOENT;
}

static int user_from_config(const char *user, const char *origin,
			    struct privdrop_target *t, GError **err)
{
	char *buf = g_malloc(PRIVDROP_DB_BUF);
	struct passwd pw;
	int r = lookup_user(user, &pw, buf, PRIVDROP_DB_BUF);

	if (r == 0 && strlen(user) >= sizeof(t->name)) {
		r = -ENAMETOOLONG;
	}
	if (r == 0) {
		t->uid = pw.pw_uid;
		t->gid = pw.pw_gid;
		snprintf(t->name, sizeof(t->name), "%s", user);
	}
	g_free(buf);
	if (r == -ENOENT) {
		g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "%s: no such user \"%s\"", origin, user);
	} else if (r) {
		g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "%s: cannot look up user \"%s\": %s", origin, user,
			    g_strerror(-r));
	}
	return r ? -EINVAL : 0;
}

int privdrop_group_id(const char *name, const char *origin, gid_t *gid,
		      GError **err)
{
	int r = lookup_group(name, gid);

	if (r) {
		g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "%s: %s \"%s\"", origin,
			    r == -ENOENT ? "no such group"
					 : "cannot look up group",
			    name);
		return -EINVAL;
	}
	return 0;
}

int privdrop_resolve(const char *user, const char *user_origin,
		     const char *group, const char *group_origin,
		     struct privdrop_target *t, GError **err)
{
	bool root = geteuid() == 0;
	gid_t gid = 0;

	memset(t, 0, sizeof(*t));
	t->uid = geteuid();
	t->gid = getegid();
	/* the group first: its error names a value given, the default
	 * user's refusal below is about the host */
	if (group && privdrop_group_id(group, group_origin, &gid, err)) {
		return -EINVAL;
	}
	if (user) {
		if (user_from_config(user, user_origin, t, err)) {
			return -EINVAL;
		}
	} else if (root) {
		char *buf = g_malloc(PRIVDROP_DB_BUF);
		struct passwd pw;

		if (lookup_user(PRIVDROP_DEFAULT_USER, &pw, buf,
				PRIVDROP_DB_BUF) == 0) {
			t->uid = pw.pw_uid;
			t->gid = pw.pw_gid;
			snprintf(t->name, sizeof(t->name), "%s",
				 PRIVDROP_DEFAULT_USER);
		} else {
			g_set_error(err, G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    "started as root with user unset, and the "
				    "default user \"%s\" does not exist: "
				    "create it (the package's sysusers.d file "
				    "does), or set user=NAME, or user=root to "
				    "stay root deliberately (without "
				    "capabilities)",
				    PRIVDROP_DEFAULT_USER);
			g_free(buf);
			return -EINVAL;
		}
		g_free(buf);
	}
	if (group) {
		t->gid = gid;
	}
	if (!root) {
		if (t->uid != geteuid() || t->gid != getegid()) {
			g_set_error(err, G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    "%s: switching user or group needs the "
				    "daemon to start as root",
				    user ? user_origin : group_origin);
			return -EINVAL;
		}
		return 0;
	}
	/* root staying root with only "group": change the group alone */
	t->switch_ids = t->name[0] || group;
	if (!t->name[0]) {
		snprintf(t->name, sizeof(t->name), "root");
	}
	return 0;
}

/* Empty the bounding set (needs CAP_SETPCAP) and the ambient set. */
static int drop_bounding(GError **err)
{
	cap_value_t v;
	int last = (int)cap_max_bits();

	for (v = 0; v < last; v++) {
		if (cap_get_bound(v) == 1 && cap_drop_bound(v)) {
			if (errno == EPERM) {
				/* not privileged: nothing to hand on */
				return 0;
			}
			return error_set(err, errno,
					 "cannot drop capability %d from the "
					 "bounding set: %s",
					 (int)v, g_strerror(errno));
		}
	}
	if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient()) {
		return error_set(err, errno,
				 "cannot clear the ambient capabilities: %s",
				 g_strerror(errno));
	}
	return 0;
}

static int switch_ids(const struct privdrop_target *t, GError **err)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	const char *what;

	what = "setgroups";
	if (t->uid == 0 ? setgroups(1, &t->gid) : initgroups(t->name, t->gid)) {
		goto bad;
	}
	what = "setresgid";
	if (setresgid(t->gid, t->gid, t->gid)) {
		goto bad;
	}
	what = "setresuid";
	if (setresuid(t->uid, t->uid, t->uid)) {
		goto bad;
	}
	if (getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg) ||
	    ru != t->uid || eu != t->uid || su != t->uid || rg != t->gid ||
	    eg != t->gid || sg != t->gid) {
		return error_set(err, EPERM,
				 "user %s: the ids did not change as asked",
				 t->name);
	}
	return 0;
bad:
	return error_set(err, errno,
			 "cannot switch to user %s (uid %u, gid %u): %s: %s",
			 t->name, (unsigned int)t->uid, (unsigned int)t->gid,
			 what, g_strerror(errno));
}

/* Empty permitted, effective and inheritable; check they are. */
static int clear_caps(GError **err)
{
	cap_t empty = cap_init(), now = NULL;
	int r = 0;

	if (!empty || cap_clear(empty) || cap_set_proc(empty)) {
		r = error_set(err, errno,
			      "cannot clear the capability sets: %s",
			      g_strerror(errno));
		goto out;
	}
	now = cap_get_proc();
	if (!now || cap_compare(now, empty) != 0) {
		r = error_set(err, EPERM,
			      "capabilities remain after clearing them");
	}
out:
	cap_free(now);
	cap_free(empty);
	return r;
}

/* Threads of this process; capability sets are per thread. */
static int count_threads(void)
{
	GDir *d = g_dir_open("/proc/self/task", 0, NULL);
	int n = 0;

	if (!d) {
		return -1;
	}
	while (g_dir_read_name(d)) {
		n++;
	}
	g_dir_close(d);
	return n;
}

int privdrop_apply(const struct privdrop_target *t, GError **err)
{
	int r, n = count_threads();

	if (n != 1) {
		return error_set(err, EBUSY,
				 "cannot drop privileges with %d threads "
				 "running (capabilities are per thread)",
				 n);
	}
	r = drop_bounding(err);
	if (r) {
		return r;
	}
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)) {
		return error_set(err, errno, "PR_SET_KEEPCAPS: %s",
				 g_strerror(errno));
	}
	if (t->switch_ids) {
		r = switch_ids(t, err);
		if (r) {
			return r;
		}
	}
	r = clear_caps(err);
	if (r) {
		return r;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		return error_set(err, errno, "PR_SET_NO_NEW_PRIVS: %s",
				 g_strerror(errno));
	}
	g_message("running as user %s (uid %u, gid %u), no capabilities",
		  t->switch_ids ? t->name : "unchanged", (unsigned int)getuid(),
		  (unsigned int)getgid());
	return 0;
}

/*
 * With TZ unset and no /etc/localtime (a minimal root: an initramfs, many
 * containers), glibc tries to open /etc/localtime again at every
 * localtime() (each log line's timestamp): under the filter that open is
 * fatal. Pin the zone glibc falls back to anyway, UTC, so that it reads
 * its zone once, now.
 */
static void pin_timezone(void)
{
	if (!getenv("TZ") && access("/etc/localtime", R_OK) != 0) {
		setenv("TZ", "UTC", 1);
		tzset();
	}
}

int privdrop_confine(GError **err)
{
	int r;

	pin_timezone();
	r = syscall_filter_install();

	if (r) {
		return error_set(err, -r,
				 "cannot install the seccomp filter: %s",
				 g_strerror(-r));
	}
	g_message("seccomp system-call filter installed");
	return 0;
}
