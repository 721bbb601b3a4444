/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/config.c: the key-file and command-line parser, with
 * hostile files (bad syntax, bad values, garbage bytes) and the shipped
 * conf/vhost-user-rtc.conf, which must list every key at its default.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "discipline.h"
#include "source_chrony.h"
#include "source_gpsd.h"
#include "source_phc.h"
#include "source_sysclock.h"
#include "test_seed.h"

static char path[64];

static const char *write_file(const void *text, size_t len)
{
	int fd;

	strcpy(path, "/tmp/vrtc-config-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void cleanup(void)
{
	if (path[0]) {
		unlink(path);
		path[0] = '\0';
	}
}

TestSuite(config, .fini = cleanup);

/* Loads @text; returns the error message (g_free it) or NULL. */
static char *load(struct config *c, const char *text)
{
	GError *err = NULL;
	char *msg = NULL;
	int rc = config_load_file(c, write_file(text, strlen(text)), &err);

	if (rc < 0) {
		cr_assert(err, "error without a message");
		msg = g_strdup(err->message);
		g_error_free(err);
	} else {
		cr_assert_null(err);
	}
	return msg;
}

static void expect_error_at(const char *text, int line, const char *what)
{
	struct config *c = config_new();
	char *msg = load(c, text);
	char where[96];

	cr_assert(msg, "accepted: %s", text);
	snprintf(where, sizeof(where), "%s:%d", path, line);
	cr_expect(strstr(msg, where), "\"%s\" does not name %s", msg, where);
	if (what) {
		cr_expect(strstr(msg, what), "\"%s\" does not mention %s", msg,
			  what);
	}
	g_free(msg);
	config_free(c);
}

Test(config, defaults)
{
	struct config *c = config_new();
	GError *err = NULL;

	cr_assert_eq(config_finish(c, &err), 0);
	cr_expect_eq(c->vrtc.num_clocks, 4);
	cr_expect_eq(c->poll_ns, 50000);
	cr_expect_eq(c->sync_interval_ms, 1000);
	cr_expect_eq(c->smear, CONFIG_SMEAR_NOON_LINEAR);
	cr_expect(c->alarm);
	cr_expect(c->seccomp);
	cr_expect_null(c->socket_paths[0]);
	config_free(c);
}

Test(config, full_file)
{
	struct config *c = config_new();
	GError *err = NULL;
	char *msg = load(c, "# comment\n\n[vhost-user-rtc]\n"
			    "socket-path=/a.sock;/b.sock\n"
			    "clocks=utc,tai\n"
			    "smear=utc-sls\n"
			    "poll-ns=0\n"
			    "sync-interval-ms=250\n"
			    "max-connections=0\n"
			    "log-level=debug\n");

	cr_assert_null(msg, "%s", msg);
	cr_assert_eq(config_finish(c, &err), 0);
	cr_expect_str_eq(c->socket_paths[0], "/a.sock");
	cr_expect_str_eq(c->socket_paths[1], "/b.sock");
	cr_expect_null(c->socket_paths[2]);
	cr_expect_eq(c->vrtc.num_clocks, 2);
	cr_expect_eq(c->poll_ns, 0);
	cr_expect_eq(c->sync_interval_ms, 250);
	cr_expect_eq(c->max_connections, 0);
	cr_expect_eq(c->log_level, CONFIG_LOG_DEBUG);
	cr_expect_eq(c->smear, CONFIG_SMEAR_UTC_SLS);
	config_free(c);
}

Test(config, command_line_overrides_file)
{
	struct config *c = config_new();
	GError *err = NULL;
	char *msg = load(c, "[vhost-user-rtc]\npoll-ns=7\n"
			    "socket-path=/file.sock\n");

	cr_assert_null(msg, "%s", msg);
	cr_assert_eq(config_set(c, "poll-ns", "9", &err), 0);
	cr_assert_eq(config_set(c, "socket-path", "/x.sock", &err), 0);
	cr_assert_eq(config_set(c, "socket-path", "/y.sock", &err), 0);
	cr_expect_eq(c->poll_ns, 9);
	cr_expect_str_eq(c->socket_paths[0], "/x.sock");
	cr_expect_str_eq(c->socket_paths[1], "/y.sock");
	cr_expect_null(c->socket_paths[2]);
	cr_expect(config_from_cli(c, "poll-ns"));
	cr_expect_not(config_from_cli(c, "smear"));
	config_free(c);
}

Test(config, bad_command_line_values)
{
	static const char *const bad[][2] = {
		{ "poll-ns", "-1" },
		{ "poll-ns", "10000001" },
		{ "poll-ns", "12abc" },
		{ "poll-ns", "" },
		{ "poll-ns", "99999999999999999999999" },
		{ "sync-interval-ms", "9" },
		{ "smear", "cosine" },
		{ "log-level", "loud" },
		{ "no-such-key", "1" },
	};
	struct config *c = config_new();

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		GError *err = NULL;

		cr_expect_lt(config_set(c, bad[i][0], bad[i][1], &err), 0,
			     "--%s=%s accepted", bad[i][0], bad[i][1]);
		cr_expect(err && strstr(err->message, "--"),
			  "--%s=%s: message does not name the option",
			  bad[i][0], bad[i][1]);
		g_clear_error(&err);
	}
	config_free(c);
}

Test(config, errors_name_file_and_line)
{
	expect_error_at("[vhost-user-rtc]\n\npoll-ns=abc\n", 3, "poll-ns");
	expect_error_at("[vhost-user-rtc]\npoll-ns=20000000\n", 2, "poll-ns");
	expect_error_at("[vhost-user-rtc]\nsmear=cosine\n", 2, "smear");
	expect_error_at("[vhost-user-rtc]\n# x\nno-such-key=1\n", 3,
			"no-such-key");
	expect_error_at("[vhost-user-rtc]\npoll-ns=1\npoll-ns=2\n", 3,
			"poll-ns");
	expect_error_at("[other]\npoll-ns=1\n", 1, "other");
	expect_error_at("[vhost-user-rtc]\nthis is not a key value line\n", 2,
			NULL);
	expect_error_at("poll-ns=1\n", 1, NULL);
	expect_error_at("[vhost-user-rtc\n", 1, NULL);
}

Test(config, bad_clock_list_fails_at_finish)
{
	struct config *c = config_new();
	GError *err = NULL;
	char *msg = load(c, "[vhost-user-rtc]\nclocks=utc,bogus\n");

	if (!msg) {
		cr_expect_lt(config_finish(c, &err), 0);
		cr_expect(err && strstr(err->message, "bogus"));
		g_clear_error(&err);
	} else {
		cr_expect(strstr(msg, "bogus"), "%s", msg);
		g_free(msg);
	}
	config_free(c);
}

Test(config, missing_file)
{
	struct config *c = config_new();
	GError *err = NULL;

	cr_expect_eq(config_load_file(c, "/nonexistent/vrtc.conf", &err),
		     -ENOENT);
	cr_expect(err && strstr(err->message, "/nonexistent/vrtc.conf"));
	g_clear_error(&err);
	config_free(c);
}

Test(config, hostile_bytes)
{
	static const char nul[] = "[vhost-user-rtc]\npoll-ns=1\0\nsmear=x\n";
	unsigned int seed = test_seed("config hostile_bytes");
	char buf[512];
	struct config *c;
	GError *err = NULL;

	c = config_new();
	(void)config_load_file(c, write_file(nul, sizeof(nul)), &err);
	g_clear_error(&err);
	config_free(c);

	srand(seed);
	for (int round = 0; round < 300; round++) {
		size_t n = (size_t)rand() % sizeof(buf);

		memcpy(buf, "[vhost-user-rtc]\n", 17);
		for (size_t i = 17; i < n; i++) {
			buf[i] = (char)(rand() % 4 ? "=;\n[]#a1-"[rand() % 9]
						   : rand());
		}
		c = config_new();
		if (config_load_file(c, write_file(buf, n > 17 ? n : 17),
				     &err) < 0) {
			cr_assert(err, "seed %u: error without message", seed);
		}
		g_clear_error(&err);
		cleanup();
		config_free(c);
	}
}

Test(config, shipped_file_lists_every_key_at_its_default)
{
	size_t n, i;
	const struct config_key *k = config_keys(&n);
	GError *err = NULL;
	char *text = NULL, *uncommented;
	struct config *c = config_new();
	GRegex *re;

	cr_assert(g_file_get_contents("conf/vhost-user-rtc.conf", &text, NULL,
				      &err),
		  "run from the source tree");
	for (i = 0; i < n; i++) {
		char *line = k[i].def ? g_strdup_printf("#%s=%s\n", k[i].name,
							k[i].def)
				      : g_strdup_printf("#%s=", k[i].name);

		cr_expect(strstr(text, line), "conf/ lacks \"%s\"", line);
		g_free(line);
	}
	/* Uncommented, it is a valid config giving the defaults. */
	re = g_regex_new("^#([a-z-]+=)", G_REGEX_MULTILINE, 0, NULL);
	uncommented = g_regex_replace(re, text, -1, 0, "\\1", 0, NULL);
	g_regex_unref(re);
	cr_assert_null(load(c, uncommented));
	cr_assert_eq(config_finish(c, &err), 0);
	cr_expect_eq(c->vrtc.num_clocks, 4);
	cr_expect_eq(c->poll_ns, 50000);
	g_free(uncommented);
	g_free(text);
	config_free(c);
}

Test(config, time_sources_and_estimator_keys)
{
	const struct source_phc_settings *phc;
	struct config *c = config_new();
	GError *err = NULL;
	char *msg = load(c, "[vhost-user-rtc]\nphc=/dev/ptp0;eth1\n"
			    "chrony=on\nmin-samples=4\nmax-drift-ppb=50\n"
			    "wander-ppt=20\nslew-ms=2000\nstep-ns=5000\n"
			    "unreliable-ns=1000000\nstale-intervals=3\n");

	cr_assert_null(msg, "%s", msg);
	cr_assert_eq(config_finish(c, &err), 0, "%s", err ? err->message : "");
	phc = config_source(c, &source_phc_kind);
	cr_assert_not_null(phc);
	cr_expect_str_eq(phc->phc[0], "/dev/ptp0");
	cr_expect_str_eq(phc->phc[1], "eth1");
	cr_expect_null(phc->phc[2]);
	cr_expect_eq(phc->phc_timescale, PHC_TIMESCALE_TAI);
	cr_expect(((const struct source_chrony_settings *)config_source(
			   c, &source_chrony_kind))
			  ->on);
	cr_expect(((const struct source_sysclock_settings *)config_source(
			   c, &source_sysclock_kind))
			  ->on);
	cr_expect_eq(c->min_samples, 4);
	cr_expect_eq(c->max_drift_ppb, 50);
	cr_expect_eq(c->wander_ppt, 20);
	cr_expect_eq(c->slew_ms, 2000);
	cr_expect_eq(c->step_ns, 5000);
	cr_expect_eq(c->unreliable_ns, 1000000);
	cr_expect_eq(c->stale_intervals, 3);
	/* the last key of the table still has its command-line bit */
	cr_assert_eq(config_set(c, "log-level", "debug", &err), 0);
	cr_expect(config_from_cli(c, "log-level"));
	cr_expect_not(config_from_cli(c, "unreliable-ns"));
	config_free(c);

	/* no source at all */
	c = config_new();
	cr_assert_eq(config_set(c, "system-clock", "off", &err), 0);
	cr_assert_lt(config_finish(c, &err), 0);
	cr_expect(strstr(err->message, "--system-clock"), "%s", err->message);
	g_clear_error(&err);
	config_free(c);

	/* gpsd-device without gpsd */
	c = config_new();
	cr_assert_eq(config_set(c, "gpsd-device", "/dev/ttyS0", &err), 0);
	cr_assert_lt(config_finish(c, &err), 0);
	cr_expect(strstr(err->message, "only used with gpsd"), "%s",
		  err->message);
	g_clear_error(&err);
	config_free(c);

	/* out of range */
	c = config_new();
	cr_expect_lt(config_set(c, "min-samples", "1", &err), 0);
	g_clear_error(&err);
	cr_expect_lt(config_set(c, "system-clock", "maybe", &err), 0);
	g_clear_error(&err);
	config_free(c);
}

/*
 * The registry: every kind within the one limit (DISCIPLINE_MAX_SOURCES),
 * the sources in registry order, and config_sources() refusing to go
 * past the bound it is given whatever the kind (gpsd included).
 */
Test(config, source_registry_and_limit)
{
	const struct source_ops *ops[DISCIPLINE_MAX_SOURCES];
	struct source_conf conf[DISCIPLINE_MAX_SOURCES];
	const struct source_conf base = { .drift_ppb = 7 };
	struct config *c = config_new();
	GError *err = NULL;
	int n;

	/* as many PHCs as the singletons leave: 8 - 3 */
	cr_assert_null(load(c, "[vhost-user-rtc]\n"
			       "phc=/dev/ptp0;/dev/ptp1;/dev/ptp2;/dev/ptp3;"
			       "/dev/ptp4\nptp4l-socket=/a;/b\nchrony=on\n"
			       "gpsd=localhost:2947\n"));
	cr_assert_eq(config_finish(c, &err), 0, "%s", err ? err->message : "");
	n = config_sources(c, &base, DISCIPLINE_MAX_SOURCES, conf, ops, &err);
	cr_assert_eq(n, DISCIPLINE_MAX_SOURCES, "%s", err ? err->message : "");
	for (int i = 0; i < 5; i++) {
		cr_expect_eq(ops[i], &source_phc_ops);
		cr_expect_eq(conf[i].index, (unsigned int)i);
		cr_expect_eq(conf[i].settings,
			     config_source(c, &source_phc_kind));
		cr_expect_eq(conf[i].drift_ppb, 7);
	}
	cr_expect_eq(ops[5], &source_chrony_ops);
	cr_expect_eq(ops[6], &source_gpsd_ops);
	cr_expect_eq(ops[7], &source_sysclock_ops);
	cr_expect_eq(conf[6].settings, config_source(c, &source_gpsd_kind));

	/* the guard, whichever kind would overflow */
	cr_expect_eq(config_sources(c, &base, 6, conf, ops, &err), -E2BIG);
	cr_assert_not_null(err);
	cr_expect(strstr(err->message, "gpsd"), "%s", err->message);
	g_clear_error(&err);
	cr_expect_eq(config_sources(c, &base, 7, conf, ops, &err), -E2BIG);
	cr_expect(strstr(err->message, "system-clock"), "%s", err->message);
	g_clear_error(&err);
	config_free(c);

	/* one PHC more than the room left */
	c = config_new();
	cr_assert_null(load(c, "[vhost-user-rtc]\n"
			       "phc=/dev/ptp0;/dev/ptp1;/dev/ptp2;/dev/ptp3;"
			       "/dev/ptp4;/dev/ptp5\n"));
	cr_assert_lt(config_finish(c, &err), 0);
	cr_expect(strstr(err->message, ": phc: at most 5 PHCs"), "%s",
		  err->message);
	g_clear_error(&err);
	config_free(c);

	/* every kind but the fallback, named when none is configured */
	c = config_new();
	cr_assert_eq(config_set(c, "system-clock", "off", &err), 0);
	cr_assert_lt(config_finish(c, &err), 0);
	cr_expect_str_eq(err->message,
			 "--system-clock: off, and no other time source (phc, "
			 "chrony, gpsd) is configured");
	g_clear_error(&err);
	config_free(c);
}

/* What a SIGHUP names as not applied: exactly the keys whose values
 * differ, of every type, less those it applies. */
Test(config, changed_keys_named)
{
	const char *const skip[] = { "leap-file", "log-level", NULL };
	struct config *a = config_new(), *b = config_new();
	GError *err = NULL;
	char *d;

	cr_expect_null(config_changed_keys(a, b, NULL), "defaults differ");
	/* the same values given another way are no change */
	cr_assert_eq(config_set(b, "poll-ns", "50000", &err), 0);
	cr_assert_eq(config_set(a, "poll-ns", "50000", &err), 0);
	cr_expect_null(config_changed_keys(a, b, NULL));

	cr_assert_eq(config_set(b, "poll-ns", "0", &err), 0);
	cr_assert_eq(config_set(b, "smear", "utc-sls", &err), 0);
	cr_assert_eq(config_set(b, "seccomp", "off", &err), 0);
	cr_assert_eq(config_set(b, "socket-path", "/run/x.sock", &err), 0);
	cr_assert_eq(config_set(b, "vmclock-page", "/run/p", &err), 0);
	cr_assert_eq(config_set(b, "log-level", "debug", &err), 0);
	cr_assert_eq(config_set(b, "leap-file", "/tmp/l", &err), 0);
	cr_assert_eq(config_set(b, "chrony", "on", &err), 0);
	d = config_changed_keys(a, b, skip);
	cr_assert_not_null(d);
	cr_expect_str_eq(d,
			 "socket-path, smear, poll-ns, chrony, "
			 "vmclock-page, seccomp",
			 "%s", d);
	g_free(d);
	d = config_changed_keys(a, b, NULL);
	cr_expect(strstr(d, "log-level") && strstr(d, "leap-file"), "%s", d);
	g_free(d);
	/* a list that grew by one */
	cr_assert_eq(config_set(a, "socket-path", "/run/x.sock", &err), 0);
	cr_assert_eq(config_set(b, "socket-path", "/run/y.sock", &err), 0);
	d = config_changed_keys(a, b, skip);
	cr_expect(d && !strncmp(d, "socket-path, ", 13), "%s", d);
	g_free(d);
	config_free(a);
	config_free(b);
}
