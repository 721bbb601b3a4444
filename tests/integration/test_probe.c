// SPDX-License-Identifier: MIT
/*
 * vhost-user-rtc-probe against the real daemon: `check` passes (and is
 * how CI runs the conformance check), `eval` writes a CSV with data rows
 * and PNG/SVG plots of the expected size (read back with cairo), and
 * with --control a live bound and status per sample.
 * The probe is $VRTC_PROBE, default build/vhost-user-rtc-probe.
 */
#include <cairo.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define PLOT_W 1200
#define PLOT_H 700

static const char *probe_path(void)
{
	const char *p = getenv("VRTC_PROBE");

	return p && *p ? p : "build/vhost-user-rtc-probe";
}

/* Run the probe with @args (NULL-terminated, after the program name),
 * stdout into @out_path; returns its exit status or -1. */
static int run_probe(const char *const *args, const char *out_path)
{
	const char *argv[24] = { probe_path() };
	int status, i;
	pid_t pid;

	for (i = 0; args[i] && i < 22; i++) {
		argv[i + 1] = args[i];
	}
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0) {
			_exit(126);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		return -1;
	}
	return WEXITSTATUS(status);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	cr_assert(f && buf, "%s", path);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static unsigned int count(const char *text, const char *needle)
{
	unsigned int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++) {
		n++;
	}
	return n;
}

TestSuite(probe, .init = itest_init, .fini = itest_fini,
	  .timeout = ITEST_TIMEOUT);

Test(probe, check_passes_against_the_daemon)
{
	struct vdaemon *d = itest_start(NULL);
	char out[512];
	char *text;
	int rc;

	snprintf(out, sizeof(out), "%s/check.out", vdaemon_dir(d));
	rc = run_probe((const char *const[]){ "check", "--socket",
					      vdaemon_socket(d, 0), NULL },
		       out);
	text = slurp(out);
	cr_expect_eq(rc, 0, "probe check exit %d:\n%s", rc, text);
	cr_expect_eq(count(text, "FAIL "), 0, "%s", text);
	/* every area: CFG, caps, reads, status rules and the alarm feature */
	cr_expect_geq(count(text, "PASS "), 30, "%s", text);
	cr_expect(strstr(text, "CROSS_CAP") && strstr(text, "READ_CROSS") &&
			  strstr(text, "NOTIF_ALARM") &&
			  strstr(text, "EOPNOTSUPP"),
		  "%s", text);
	cr_expect(strstr(text, " 0 failed\n"), "%s", text);
	free(text);
	itest_stop(d);
}

Test(probe, check_fails_without_a_backend)
{
	char out[] = "/tmp/vrtc-probe-check-XXXXXX";
	int fd = mkstemp(out);
	int rc;

	cr_assert_geq(fd, 0);
	close(fd);
	rc = run_probe((const char *const[]){ "check", "--socket",
					      "/nonexistent/vrtc.sock", NULL },
		       out);
	/* a connection error (3), not a usage error (2) nor a FAIL (1) */
	cr_expect_eq(rc, 3);
	unlink(out);
}

Test(probe, eval_writes_csv_and_plots)
{
	struct vdaemon *d = itest_start(NULL);
	char csv[512], png[512], svg[512], out[512];
	cairo_surface_t *s;
	struct stat st;
	char *text;
	unsigned int rows;
	int rc;

	snprintf(csv, sizeof(csv), "%s/e.csv", vdaemon_dir(d));
	snprintf(png, sizeof(png), "%s/e.png", vdaemon_dir(d));
	snprintf(svg, sizeof(svg), "%s/e.svg", vdaemon_dir(d));
	snprintf(out, sizeof(out), "%s/eval.out", vdaemon_dir(d));
	rc = run_probe(
		(const char *const[]){ "eval", "--socket", vdaemon_socket(d, 0),
				       "--ref-clock", "tai", "--duration", "3",
				       "--rate", "20", "--csv", csv, "--plot",
				       png, "--svg", svg, NULL },
		out);
	text = slurp(out);
	cr_expect_eq(rc, 0, "probe eval exit %d:\n%s", rc, text);
	cr_expect(strstr(text, "clock 0 UTC") && strstr(text, "clock 1 TAI"),
		  "%s", text);
	free(text);

	text = slurp(csv);
	cr_assert(!strncmp(text, "t_s,clock_id,", 13), "%.80s", text);
	rows = count(text, "\n") - 1;
	/* 3 s at 20 Hz, 4 clocks: about 240 rows, allow a loaded machine */
	cr_expect_geq(rows, 40, "%u data rows", rows);
	cr_expect_geq(count(text, ",UTC,"), 10);
	free(text);

	s = cairo_image_surface_create_from_png(png);
	cr_assert_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS, "%s: %s",
		     png, cairo_status_to_string(cairo_surface_status(s)));
	cr_expect_eq(cairo_image_surface_get_width(s), PLOT_W);
	cr_expect_eq(cairo_image_surface_get_height(s), PLOT_H);
	cairo_surface_destroy(s);
	cr_assert_eq(stat(svg, &st), 0);
	text = slurp(svg);
	cr_expect(strstr(text, "<svg"), "not an SVG");
	free(text);
	itest_stop(d);
}

/*
 * eval --control against the daemon's control socket: every sample gets
 * a live bound (> 0) and the daemon's status, and all are covered.
 * Needs the daemon's --control-socket (status json, built on main).
 */
Test(probe, eval_with_the_live_bound_from_the_control_socket)
{
	char ctl_dir[] = "/tmp/vrtc-probe-ctl-XXXXXX";
	char ctl[128], csv[512], out[512];
	struct vdaemon *d;
	unsigned int rows = 0, bounded = 0, with_status = 0;
	char *text, *line, *save = NULL;
	int rc;

	cr_assert(mkdtemp(ctl_dir));
	snprintf(ctl, sizeof(ctl), "%s/ctl.sock", ctl_dir);
	d = itest_startl("--control-socket", ctl);
	snprintf(csv, sizeof(csv), "%s/live.csv", vdaemon_dir(d));
	snprintf(out, sizeof(out), "%s/live.out", vdaemon_dir(d));
	rc = run_probe((const char *const[]){ "eval", "--socket",
					      vdaemon_socket(d, 0), "--control",
					      ctl, "--ref-clock", "tai",
					      "--duration", "3", "--rate", "20",
					      "--csv", csv, NULL },
		       out);
	text = slurp(out);
	cr_expect_eq(rc, 0, "probe eval exit %d:\n%s", rc, text);
	cr_expect(strstr(text, "bound: live, from the daemon's control socket"),
		  "%s", text);
	cr_expect(!strstr(text, "WARNING"), "%s", text);
	/* UTC, TAI and UTC_SMEARED covered; MONOTONIC (relative) n/a */
	cr_expect_eq(count(text, "100.000%\n"), 3, "%s", text);
	free(text);

	text = slurp(csv);
	line = strtok_r(text, "\n", &save);
	cr_assert(line && strstr(line, ",bound_ns,status") ==
				  line + strlen(line) - 16,
		  "header %s", line ? line : "(none)");
	while ((line = strtok_r(NULL, "\n", &save))) {
		/* ...,bound_ns,status: the last two fields */
		char *st = strrchr(line, ',');
		char *b;

		cr_assert(st, "%s", line);
		*st++ = '\0';
		b = strrchr(line, ',');
		cr_assert(b, "%s", line);
		rows++;
		bounded += strtoll(b + 1, NULL, 10) > 0;
		with_status += *st != '\0';
	}
	cr_expect_geq(rows, 40, "%u data rows", rows);
	cr_expect_eq(bounded, rows, "%u of %u rows with a bound", bounded,
		     rows);
	cr_expect_eq(with_status, rows, "%u of %u rows with a status",
		     with_status, rows);
	free(text);
	itest_stop(d);
	unlink(ctl);
	rmdir(ctl_dir);
}

/* As run_probe(), with stderr in @out_path too. */
static int run_probe_all(const char *const *args, const char *out_path)
{
	const char *argv[24] = { probe_path() };
	int status, i;
	pid_t pid;

	for (i = 0; args[i] && i < 22; i++) {
		argv[i + 1] = args[i];
	}
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
			_exit(126);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		return -1;
	}
	return WEXITSTATUS(status);
}

/* Issue 12: the probe's own errors say what is wrong, at once. */
ITEST(probe, errors_name_the_problem)
{
	char dir[] = "/tmp/vrtc-perr-XXXXXX", out[64], csv[64], missing[64];
	char *text;

	cr_assert(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(csv, sizeof(csv), "%s/eval.csv", dir);
	snprintf(missing, sizeof(missing), "%s/no.sock", dir);

	cr_assert_eq(
		run_probe_all((const char *const[]){ "--version", NULL }, out),
		0);
	text = slurp(out);
	cr_assert(strstr(text, "vhost-user-rtc-probe "), "%s", text);
	free(text);

	/* nothing listening: a connection error (3), not a spec failure */
	cr_assert_eq(run_probe_all((const char *const[]){ "check", "--socket",
							  missing, NULL },
				   out),
		     3);
	text = slurp(out);
	cr_assert(strstr(text, "cannot connect to"), "%s", text);
	cr_assert_null(strstr(text, "FAIL"), "%s", text);
	free(text);

	/* a bad value names its option */
	cr_assert_eq(run_probe_all((const char *const[]){ "eval", "--socket",
							  missing, "--rate",
							  "fast", NULL },
				   out),
		     2);
	text = slurp(out);
	cr_assert(strstr(text, "eval: --rate fast: not a number"), "%s", text);
	free(text);

	/* an output that cannot be written: said before any run */
	cr_assert_eq(run_probe_all(
			     (const char *const[]){
				     "eval", "--socket", missing, "--plot",
				     "/nonexistent-dir/p.png", "--duration",
				     "3600", NULL },
			     out),
		     2);
	text = slurp(out);
	cr_assert(strstr(text, "--plot /nonexistent-dir/p.png: cannot write"),
		  "%s", text);
	free(text);
	unlink(out);
	rmdir(dir);
}

/* Without --csv, eval writes no ./eval.csv and says so. */
ITEST(probe, eval_no_silent_csv)
{
	struct vdaemon *d = itest_start(NULL);
	char dir[] = "/tmp/vrtc-pcsv-XXXXXX", out[64], cwd[512];
	char *text;

	cr_assert(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/out", dir);
	cr_assert(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(dir), 0);
	cr_assert_eq(run_probe_all(
			     (const char *const[]){
				     "eval", "--socket", vdaemon_socket(d, 0),
				     "--duration", "0.3", "--bound-ns",
				     "100000000000", NULL },
			     out),
		     0);
	cr_assert_eq(chdir(cwd), 0);
	text = slurp(out);
	cr_assert(strstr(text, "no CSV written"), "%s", text);
	free(text);
	snprintf(cwd, sizeof(cwd), "%s/eval.csv", dir);
	cr_assert(access(cwd, F_OK) != 0, "%s written without --csv", cwd);
	unlink(out);
	rmdir(dir);
	itest_stop(d);
}
