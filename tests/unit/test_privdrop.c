// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/privdrop.c: deciding who to become from the user and
 * group values (privdrop_resolve()). The drop itself is irreversible and
 * is tested on the running daemon (tests/integration/test_privdrop.c).
 */
#include <criterion/criterion.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "privdrop.h"

static void expect_error(const char *user, const char *group,
			 const char *needle)
{
	struct privdrop_target t;
	GError *err = NULL;

	cr_assert_eq(
		privdrop_resolve(user, "--user", group, "--group", &t, &err),
		-EINVAL);
	cr_assert(err);
	cr_assert(strstr(err->message, needle), "\"%s\" not in \"%s\"", needle,
		  err->message);
	g_error_free(err);
}

Test(privdrop, unknown_user_is_named_with_its_origin)
{
	expect_error("no-such-user-vrtc", NULL,
		     "--user: no such user \"no-such-user-vrtc\"");
}

Test(privdrop, unknown_group_is_named_with_its_origin)
{
	expect_error(NULL, "no-such-group-vrtc",
		     "--group: no such group \"no-such-group-vrtc\"");
}

Test(privdrop, named_user_gives_its_ids_and_primary_group)
{
	struct passwd *pw = getpwnam("daemon");
	struct privdrop_target t;
	GError *err = NULL;

	cr_assert(pw, "Debian has a user \"daemon\"");
	if (geteuid() != 0) {
		expect_error("daemon", NULL,
			     "needs the daemon to start as root");
		return;
	}
	cr_assert_eq(
		privdrop_resolve("daemon", "--user", NULL, "--group", &t, &err),
		0);
	cr_assert(t.switch_ids);
	cr_assert_eq(t.uid, pw->pw_uid);
	cr_assert_eq(t.gid, pw->pw_gid);
	cr_assert_str_eq(t.name, "daemon");
}

Test(privdrop, group_overrides_the_primary_group)
{
	struct group *gr = getgrnam("nogroup");
	struct privdrop_target t;
	GError *err = NULL;

	cr_assert(gr, "Debian has a group \"nogroup\"");
	if (geteuid() != 0) {
		expect_error("daemon", "nogroup", "needs the daemon");
		return;
	}
	cr_assert_eq(privdrop_resolve("daemon", "--user", "nogroup", "--group",
				      &t, &err),
		     0);
	cr_assert_eq(t.gid, gr->gr_gid);
}

Test(privdrop, unset_user_as_root_is_the_default_user_or_a_refusal)
{
	struct passwd *pw = getpwnam(PRIVDROP_DEFAULT_USER);
	struct privdrop_target t;
	GError *err = NULL;
	int r = privdrop_resolve(NULL, "user", NULL, "group", &t, &err);

	if (geteuid() != 0) {
		cr_assert_eq(r, 0);
		cr_assert(!t.switch_ids);
		return;
	}
	if (pw) {
		cr_assert_eq(r, 0);
		cr_assert(t.switch_ids);
		cr_assert_eq(t.uid, pw->pw_uid);
		return;
	}
	cr_assert_eq(r, -EINVAL, "root never stays root by default");
	cr_assert_not_null(err);
	cr_assert(strstr(err->message, "user=root"), "%s", err->message);
	g_error_free(err);
	err = NULL;
	/* asked for: root, with the switch (groups reset by initgroups) */
	cr_assert_eq(privdrop_resolve("root", "user", NULL, "group", &t, &err),
		     0);
	cr_assert(t.switch_ids);
	cr_assert_eq(t.uid, 0);
}
