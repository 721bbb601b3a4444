// SPDX-License-Identifier: MIT
/*
 * vrtc-now, the real binary ($VRTC_NOW, else build/vrtc-now), against a
 * status page this test writes with the daemon's own encoder
 * (src/vmclock_page.c) at a chosen age: numbers are parsed strictly
 * (fractions where a time is meant), --version, and refusals go to
 * stderr naming the file, never to stdout.
 */
#include <criterion/criterion.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "leap.h"
#include "vmclock_page.h"

#define NS 1000000000LL

static char *dir, *page, *errfile;

static void setup(void)
{
	itest_init();
	dir = g_dir_make_tmp("vrtc-now-XXXXXX", NULL);
	cr_assert(dir);
	page = g_build_filename(dir, "vmclock", NULL);
	errfile = g_build_filename(dir, "stderr", NULL);
}

static void teardown(void)
{
	char *cmd = g_strdup_printf("rm -rf '%s'", dir);

	(void)system(cmd);
	g_free(cmd);
	g_free(dir);
	g_free(page);
	g_free(errfile);
}

TestSuite(now, .init = setup, .fini = teardown, .timeout = ITEST_TIMEOUT);

/* A synchronized page whose reference point is @age_ns old. */
static void write_page(int64_t age_ns)
{
	static _Alignas(4096) unsigned char buf[VMCLOCK_PAGE_SIZE];
	struct leap_table *t =
		leap_table_load("/usr/share/zoneinfo/leap-seconds.list", NULL);
	uint64_t now = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
	struct clock_snapshot s = {
		.generation = 1,
		.counter = CLOCK_COUNTER_MONOTONIC_RAW,
		.status = CLOCK_STATUS_SYNCHRONIZED,
		.c0 = now - (uint64_t)age_ns,
		.tai0_ns = time_ns_now(CLOCK_REALTIME) + 37 * NS - age_ns,
		.period_q = (uint64_t)1 << CLOCK_PERIOD_SHIFT,
		.time_maxerr_ns = 1000,
		.rate_maxerr_ppb = 1000,
		.leaps = t,
	};
	struct vmclock_abi f;
	FILE *fp;

	cr_assert(t, "no system leap table");
	vmclock_page_encode(&s, 0, 1, &f);
	memset(buf, 0, sizeof(buf));
	vmclock_page_store((struct vmclock_abi *)buf, &f);
	fp = fopen(page, "wb");
	cr_assert(fp);
	cr_assert_eq(fwrite(buf, 1, sizeof(buf), fp), sizeof(buf));
	fclose(fp);
	leap_table_free(t);
}

/*
 * Run vrtc-now with @args (NULL-terminated, at most 10): its exit
 * status, its stdout in @out and its stderr in @err.
 */
static int run_now(const char *const *args, char *out, size_t outlen, char *err,
		   size_t errlen)
{
	const char *bin = getenv("VRTC_NOW");
	const char *argv[16] = {
		"/bin/sh", "-c",    "f=$1; shift; exec \"$@\" 2>\"$f\"",
		"sh",	   errfile, bin ? bin : "build/vrtc-now"
	};
	unsigned int i, n = 6;
	size_t got;
	FILE *fp;
	int st;

	for (i = 0; args[i]; i++) {
		cr_assert_lt(n, 15);
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	st = vdaemon_exec(argv, 10000, out, outlen);
	cr_assert_neq(st, -1, "vrtc-now did not finish (runs forever?)");
	fp = fopen(errfile, "r");
	cr_assert(fp);
	got = fread(err, 1, errlen - 1, fp);
	err[got] = '\0';
	fclose(fp);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define RUN(out, err, ...)                                                     \
	({                                                                     \
		const char *a_[] = { __VA_ARGS__, NULL };                      \
		run_now(a_, out, sizeof(out), err, sizeof(err));               \
	})

Test(now, version)
{
	char out[256], err[1024];

	cr_assert_eq(RUN(out, err, "--version"), 0, "%s", err);
	cr_expect_str_eq(out, "vrtc-now " VRTC_VERSION "\n");
	cr_expect_str_empty(err);
}

/* Fractions of a second are kept: 0.5 s is tighter than a 2 s old page,
 * 2.5 s looser; 1.5 is not 1. */
Test(now, max_age_takes_fractions)
{
	char out[1024], err[1024];

	write_page(2 * NS);
	cr_expect_eq(RUN(out, err, "--page", page, "--max-age-s", "0.5"), 1,
		     "a 2 s old page passed --max-age-s 0.5: %s", out);
	cr_expect_str_empty(out, "a refusal on stdout: %s", out);
	cr_expect(strstr(err, page), "the page is not named: %s", err);
	cr_expect(strstr(err, "status unknown"), "%s", err);
	cr_expect_eq(RUN(out, err, "--page", page, "--max-age-s", "1.5"), 1,
		     "1.5 s read as 2 or more: %s", out);
	write_page(2 * NS);
	cr_expect_eq(RUN(out, err, "--page", page, "--max-age-s", "2.5"), 0,
		     "%s", err);
	cr_expect(strstr(out, "status synchronized"), "%s", out);
}

/* Every malformed or out-of-range number: exit 2, one line naming the
 * option and value, on stderr; nothing on stdout, no reading made. */
Test(now, numbers_parsed_strictly)
{
	static const char *const bad[][2] = {
		{ "--count", "abc" },
		{ "--count", "-1" },
		{ "--count", "1e3" },
		{ "--count", " 1" },
		{ "--count", "99999999999" },
		{ "--count", "" },
		{ "--interval-ms", "xyz" },
		{ "--interval-ms", "-1" },
		{ "--interval-ms", "nan" },
		{ "--interval-ms", "5ms" },
		{ "--max-age-s", "0" },
		{ "--max-age-s", "-0.5" },
		{ "--max-age-s", "inf" },
		{ "--max-age-s", "0.5s" },
		{ "--max-age-s", "1e400" },
		{ "--max-drift-ppb", "4294967296" },
		{ "--max-drift-ppb", "x" },
		{ "--bench", "0" },
		{ "--bench", "many" },
	};
	char out[1024], err[1024], want[64];

	write_page(0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = RUN(out, err, "--page", page, bad[i][0], bad[i][1]);

		cr_expect_eq(r, 2, "%s '%s': exit %d, out: %s err: %s",
			     bad[i][0], bad[i][1], r, out, err);
		cr_expect_str_empty(out, "%s '%s': %s", bad[i][0], bad[i][1],
				    out);
		snprintf(want, sizeof(want), "vrtc-now: %s \"%s\": ", bad[i][0],
			 bad[i][1]);
		cr_expect(!strncmp(err, want, strlen(want)) &&
				  strchr(err, '\n') == err + strlen(err) - 1,
			  "%s '%s': not one line naming it: %s", bad[i][0],
			  bad[i][1], err);
	}
}

/* Good numbers, fractions of a millisecond included. */
Test(now, count_and_interval)
{
	char out[4096], err[1024];
	int lines = 0;

	write_page(0);
	cr_assert_eq(RUN(out, err, "--page", page, "--count", "3",
			 "--interval-ms", "0.5"),
		     0, "%s", err);
	for (const char *p = out; (p = strstr(p, "status synchronized")); p++) {
		lines++;
	}
	cr_expect_eq(lines, 3, "%s", out);
	cr_assert_eq(RUN(out, err, "--page", page, "--count", "2",
			 "--interval-ms", "0", "--json", "--max-drift-ppb",
			 "4294967295"),
		     0, "%s", err);
	cr_expect(strstr(out, "\"status\":\"synchronized\""), "%s", out);
}

/* A page that cannot be opened: stderr names it, stdout stays empty. */
Test(now, refusals_name_the_path)
{
	char out[1024], err[1024];

	cr_expect_eq(RUN(out, err, "--page", "/nonexistent"), 1);
	cr_expect_str_empty(out, "%s", out);
	cr_expect(strstr(err, "/nonexistent"), "%s", err);
	cr_expect_eq(RUN(out, err, "--host", "--page", "/nonexistent"), 1);
	cr_expect(strstr(err, "page /nonexistent"), "%s", err);
	/* writable by others: refused, naming it */
	write_page(0);
	cr_assert_eq(chmod(page, 0666), 0);
	cr_expect_eq(RUN(out, err, "--page", page), 1);
	cr_expect_str_empty(out, "%s", out);
	cr_expect(strstr(err, page), "%s", err);
}
