/* SPDX-License-Identifier: MIT */
/*
 * Shared by the integration suites (test_*.c only: uses Criterion).
 * Every test starts its own daemon and stops it with SIGTERM, checking
 * it exits 0 within 2 s. A daemon left running by a failed assertion is
 * killed by itest_fini() (and, failing that, by PR_SET_PDEATHSIG).
 */
#ifndef ITEST_H
#define ITEST_H

#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "frontend/frontend.h"
#include "frontend/frontend_daemon.h"

/* Criterion per-test time limit: a hung daemon fails, never blocks. */
#define ITEST_TIMEOUT 60.0

/* How long a queue must stay silent to count as "not answering". */
#define ITEST_SILENCE_MS 200

#define ITEST_MAX_DAEMONS 4

static struct vdaemon *itest_daemons[ITEST_MAX_DAEMONS];

static inline void itest_init(void)
{
	signal(SIGPIPE, SIG_IGN);
}

static inline void itest_fini(void)
{
	unsigned int i;

	for (i = 0; i < ITEST_MAX_DAEMONS; i++) {
		if (itest_daemons[i]) {
			vdaemon_dump_log(itest_daemons[i]);
			vdaemon_kill(itest_daemons[i]);
			itest_daemons[i] = NULL;
		}
	}
}

static inline struct vdaemon *itest_start(const struct vdaemon_opts *o)
{
	static char why[8192];
	struct vdaemon *d = vdaemon_start(o, why, sizeof(why));
	unsigned int i;

	cr_assert(d, "daemon did not start: %s", why);
	for (i = 0; i < ITEST_MAX_DAEMONS; i++) {
		if (!itest_daemons[i]) {
			itest_daemons[i] = d;
			break;
		}
	}
	return d;
}

/* Default daemon (one socket) plus extra arguments. */
#define itest_startl(...)                                                      \
	({                                                                     \
		const char *itest_args_[] = { __VA_ARGS__, NULL };             \
		struct vdaemon_opts itest_o_;                                  \
		vdaemon_opts_init(&itest_o_);                                  \
		itest_o_.args = itest_args_;                                   \
		itest_start(&itest_o_);                                        \
	})

/* Polling variants of a test pass @poll_ns: NULL = the daemon's
 * default (adaptive polling), "0" = purely event-driven, "10000000" =
 * the longest busy-poll budget. */
static inline struct vdaemon *itest_start_poll(const char *poll_ns)
{
	if (!poll_ns) {
		return itest_start(NULL);
	}
	return itest_startl("--poll-ns", poll_ns);
}

static inline void itest_stop(struct vdaemon *d)
{
	char why[256];
	unsigned int i;
	int ret;

	for (i = 0; i < ITEST_MAX_DAEMONS; i++) {
		if (itest_daemons[i] == d) {
			itest_daemons[i] = NULL;
		}
	}
	ret = vdaemon_stop(d, 2000, why, sizeof(why));
	cr_assert_eq(ret, 0, "daemon did not stop cleanly: %s", why);
}

static inline void itest_alive(struct vdaemon *d)
{
	cr_assert(vdaemon_alive(d), "the daemon died");
}

/* A fully set-up VM (QEMU sequences A and B) on @sock. */
static inline struct vuf *itest_vm(const char *sock, const struct vuf_opts *o)
{
	struct vuf *v = NULL;
	int ret = vuf_open(&v, sock, o);

	cr_assert_eq(ret, 0, "VM setup on %s failed: %s (%s)", sock,
		     strerror(-ret), v ? vuf_error(v) : "");
	return v;
}

/* Connected and through sequence A only. */
static inline struct vuf *itest_vm_init(const char *sock,
					const struct vuf_opts *o)
{
	struct vuf *v = vuf_new(o);
	int ret;

	cr_assert(v, "vuf_new: %s", strerror(errno));
	ret = vuf_connect(v, sock);
	if (!ret) {
		ret = vuf_init(v);
	}
	cr_assert_eq(ret, 0, "VM init on %s failed: %s", sock, vuf_error(v));
	return v;
}

/* A READ of @clock that must succeed; returns the reading. */
static inline uint64_t itest_read(struct vuf *v, uint16_t clock)
{
	uint64_t ns = 0;
	int ret = vuf_rtc_read(v, clock, &ns);

	cr_assert_eq(ret, 0, "READ clock %u failed: %s", clock, vuf_error(v));
	return ns;
}

/*
 * A test's size from the environment: @name as a whole decimal number
 * in @min..@max (the test fails otherwise), or @def when unset or empty.
 */
static inline unsigned int itest_env_uint(const char *name, unsigned int def,
					  unsigned int min, unsigned int max)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s) {
		return def;
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	cr_assert(!errno && *end == '\0' && v >= min && v <= max,
		  "%s=%s: want %u..%u", name, s, min, max);
	return (unsigned int)v;
}

static inline void itest_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * Run vhost-user-rtc-ctl ($VRTC_CTL, or build/vhost-user-rtc-ctl) with
 * @args (NULL-terminated, at most 14); its exit code, with its stdout
 * and stderr in @out.
 */
static inline int itest_run_ctl(const char *const *args, char *out, size_t len)
{
	const char *ctl = getenv("VRTC_CTL");
	const char *argv[16] = { ctl ? ctl : "build/vhost-user-rtc-ctl" };
	unsigned int i;
	int st;

	for (i = 0; args[i]; i++) {
		cr_assert_lt(i, 14, "too many arguments for the ctl");
		argv[i + 1] = args[i];
	}
	st = vdaemon_exec(argv, 10000, out, len);
	cr_assert_neq(st, -1, "%s did not finish: %s", argv[0], out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The unprivileged user the privilege-drop tests run the daemon as. */
#define ITEST_USER "vrtc-test"

/* ITEST_USER, created (with its own group) when missing; needs root. */
static inline struct passwd itest_user(void)
{
	struct passwd *pw;

	cr_assert_eq(geteuid(), 0, "these tests start the daemon as root");
	pw = getpwnam(ITEST_USER);
	if (!pw) {
		int st =
			system("useradd --system --user-group --no-create-home "
			       "--shell /usr/sbin/nologin " ITEST_USER);

		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "useradd " ITEST_USER " failed (status 0x%x)", st);
		pw = getpwnam(ITEST_USER);
	}
	cr_assert(pw, "no user " ITEST_USER);
	return *pw;
}

#define ITEST(suite, name, ...)                                                \
	Test(suite, name, .init = itest_init, .fini = itest_fini,              \
	     .timeout = ITEST_TIMEOUT, ##__VA_ARGS__)

#endif /* ITEST_H */
