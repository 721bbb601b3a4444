// SPDX-License-Identifier: MIT
/*
 * Bad configuration and command lines, table-driven: the real daemon
 * binary with each bad input must print exactly one line (stdout and
 * stderr together) naming the problem, file:line for config-file errors,
 * exit 1 (2 when the command line cannot be parsed), leave no socket file
 * behind and never crash (under ASan too: check-asan runs this suite
 * against the sanitized daemon).
 *
 * Every case is run twice: with --check-config, which must refuse it
 * with the same line and status (everything start-up refuses, the
 * unit's ExecStartPre= refuses), then as a real start.
 *
 * In the table, "@/name" is a file in the case's own temporary directory,
 * "@DIR" that directory (holding the config file, when there is one)
 * and "@CONF" the config file holding the case's .conf text.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define MAX_ARGS 12 /* with --check-config */

struct bad_case {
	const char *name;
	const char *args[MAX_ARGS]; /* NULL-terminated */
	const char *conf;	    /* NULL: no config file written */
	int status;		    /* expected exit status */
	const char *needle;	    /* must appear in the one line */
};

#define SOCK "--socket-path", "@/vm.sock"
#define CONF_HEAD "# a comment\n[vhost-user-rtc]\n"

static const char long_path[] =
	"@/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock";

static const struct bad_case cases[] = {
	{ "unknown socket group",
	  { SOCK, "--socket-group", "no-such-group-x" },
	  NULL,
	  1,
	  "--socket-group: no such group \"no-such-group-x\"" },
	{ "unknown control group in the file",
	  { SOCK, "--control-socket", "@/ctl.sock", "--config", "@CONF" },
	  CONF_HEAD "control-group=no-such-group-y\n",
	  1,
	  "bad.conf:3: control-group: no such group \"no-such-group-y\"" },
	{ "metrics on a public address",
	  { SOCK, "--metrics-address", "0.0.0.0:9688" },
	  NULL,
	  1,
	  "--metrics-address: '0.0.0.0:9688': not a loopback address" },
	{ "metrics address in the file without a port",
	  { SOCK, "--config", "@CONF" },
	  CONF_HEAD "metrics-address=127.0.0.1\n",
	  1,
	  "bad.conf:3: metrics-address: '127.0.0.1': expected HOST:PORT" },
	{ "control socket is a vhost-user socket",
	  { SOCK, "--control-socket", "@/vm.sock" },
	  NULL,
	  1,
	  "is also a socket-path" },
	{ "control socket in a missing directory",
	  { SOCK, "--control-socket", "@/nodir/ctl.sock" },
	  NULL,
	  1,
	  "nodir: No such file or directory" },
	{ "unknown option", { SOCK, "--bogus" }, NULL, 2, "--bogus" },
	{ "missing value", { SOCK, "--poll-ns" }, NULL, 2, "--poll-ns" },
	{ "number too big",
	  { SOCK, "--poll-ns", "99999999999" },
	  NULL,
	  1,
	  "--poll-ns: \"99999999999\" is not a whole number from 0" },
	{ "negative number",
	  { SOCK, "--max-connections", "-1" },
	  NULL,
	  1,
	  "--max-connections: \"-1\"" },
	{ "number with junk",
	  { SOCK, "--sync-interval-ms", "100ms" },
	  NULL,
	  1,
	  "--sync-interval-ms: \"100ms\"" },
	{ "number too small",
	  { SOCK, "--sync-interval-ms", "1" },
	  NULL,
	  1,
	  "--sync-interval-ms: \"1\" is not a whole number from 10" },
	{ "bad enum",
	  { SOCK, "--smear", "sideways" },
	  NULL,
	  1,
	  "--smear: \"sideways\" is not one of noon-linear, utc-sls" },
	{ "bad log level",
	  { SOCK, "--log-level", "loud" },
	  NULL,
	  1,
	  "--log-level: \"loud\"" },
	{ "bad source-start",
	  { SOCK, "--source-start", "later" },
	  NULL,
	  1,
	  "--source-start: \"later\" is not one of retry, strict" },
	{ "bad seccomp",
	  { SOCK, "--seccomp", "maybe" },
	  NULL,
	  1,
	  "--seccomp: \"maybe\"" },
	{ "empty value",
	  { SOCK, "--clocks", "" },
	  NULL,
	  1,
	  "--clocks: empty value" },
	{ "positional argument",
	  { SOCK, "extra" },
	  NULL,
	  2,
	  "unexpected argument \"extra\"" },
	{ "missing config file",
	  { SOCK, "--config", "@/none.conf" },
	  NULL,
	  1,
	  "none.conf: No such file or directory" },
	{ "config file is a directory",
	  { SOCK, "--config", "@/" },
	  NULL,
	  1,
	  "Is a directory" },
	{ "bad config line",
	  { SOCK, "--config", "@CONF" },
	  CONF_HEAD "poll-ns=0\nthis is not a key\n",
	  1,
	  "bad.conf:4: expected key=value" },
	{ "unknown key",
	  { SOCK, "--config", "@CONF" },
	  CONF_HEAD "colour=red\n",
	  1,
	  "bad.conf:3: unknown key \"colour\"" },
	{ "duplicate key",
	  { SOCK, "--config", "@CONF" },
	  CONF_HEAD "smear=utc-sls\n\nsmear=noon-linear\n",
	  1,
	  "bad.conf:5: smear: already set on line 3" },
	{ "key before section",
	  { SOCK, "--config", "@CONF" },
	  "poll-ns=0\n[vhost-user-rtc]\n",
	  1,
	  "bad.conf:1: key \"poll-ns\" before the [vhost-user-rtc]" },
	{ "unknown section",
	  { SOCK, "--config", "@CONF" },
	  CONF_HEAD "[other]\n",
	  1,
	  "bad.conf:3: unknown section [other]" },
	{ "bad value in file",
	  { SOCK, "--config", "@CONF" },
	  CONF_HEAD "\nmax-connections=lots\n",
	  1,
	  "bad.conf:4: max-connections: \"lots\"" },
	{ "bad user in file",
	  { SOCK, "--config", "@CONF" },
	  CONF_HEAD "user=no-such-user-vrtc\n",
	  1,
	  "bad.conf:3: user: no such user \"no-such-user-vrtc\"" },
	{ "not UTF-8",
	  { SOCK, "--config", "@CONF" },
	  CONF_HEAD "clocks=\xff\n",
	  1,
	  "bad.conf: not a UTF-8 text file" },
	{ "fd not a number",
	  { "--fd", "three" },
	  NULL,
	  1,
	  "--fd: \"three\" is not a file descriptor number" },
	{ "fd not open",
	  { "--fd", "77" },
	  NULL,
	  1,
	  "--fd 77: not an open file descriptor" },
	{ "fd not a socket", { "--fd", "1" }, NULL, 1, "--fd 1: not a socket" },
	{ "no socket", { "--poll-ns", "0" }, NULL, 1, "no socket to serve" },
	{ "socket in a missing directory",
	  { "--socket-path", "@/nodir/vm.sock" },
	  NULL,
	  1,
	  "nodir: No such file or directory" },
	{ "second socket in a missing directory",
	  { SOCK, "--socket-path", "@/nodir/vm2.sock" },
	  NULL,
	  1,
	  "nodir: No such file or directory" },
	{ "socket path too long",
	  { "--socket-path", long_path },
	  NULL,
	  1,
	  "longer than 107 bytes" },
	{ "socket path twice", { SOCK, SOCK }, NULL, 1, "given twice" },
	{ "socket path is a file",
	  { "--socket-path", "@/bad.conf" },
	  "not a socket\n",
	  1,
	  "it exists and is not a socket" },
	{ "missing PHC",
	  { SOCK, "--phc", "/dev/vrtc-no-such-ptp" },
	  NULL,
	  1,
	  "/dev/vrtc-no-such-ptp" },
	{ "missing leap file",
	  { SOCK, "--leap-file", "@/none.list" },
	  NULL,
	  1,
	  "none.list: No such file or directory" },
	{ "bad leap file",
	  { SOCK, "--leap-file", "@CONF" },
	  "3692217600\t37\n",
	  1,
	  "cannot use leap-second file" },
	{ "clocks garbage",
	  { SOCK, "--clocks", "utc,,sundial" },
	  NULL,
	  1,
	  "--clocks:" },
	{ "alarm on a monotonic clock",
	  { SOCK, "--alarm-clocks", "monotonic" },
	  NULL,
	  1,
	  "--alarm-clocks: alarm clock \"monotonic\"" },
	{ "unknown user",
	  { SOCK, "--user", "no-such-user-vrtc" },
	  NULL,
	  1,
	  "--user: no such user \"no-such-user-vrtc\"" },
	{ "unknown group",
	  { SOCK, "--group", "no-such-group-vrtc" },
	  NULL,
	  1,
	  "--group: no such group \"no-such-group-vrtc\"" },
	{ "vm-socket-dir holding other files",
	  { SOCK, "--vm-socket-dir", "@DIR" },
	  "a file that must stay root's\n",
	  1,
	  "it holds files other than sockets" },
	{ "vm-socket-dir is a file",
	  { SOCK, "--vm-socket-dir", "@CONF" },
	  "not a directory\n",
	  1,
	  "--vm-socket-dir: " },
	{ "vmclock page in a missing directory",
	  { SOCK, "--vmclock-page", "@/nodir/vmclock" },
	  NULL,
	  1,
	  "--vmclock-page: vmclock page " },
	{ "vmclock page is a directory",
	  { SOCK, "--vmclock-page", "@DIR" },
	  NULL,
	  1,
	  ": is a directory" },
	{ "ptp4l without phc",
	  { SOCK, "--ptp4l-socket", "@/ptp4l" },
	  NULL,
	  1,
	  "--ptp4l-socket: 1 given for 0 phc" },
	{ "more ptp4l sockets than PHCs",
	  { SOCK, "--phc", "/dev/ptp-none", "--ptp4l-socket", "@/a",
	    "--ptp4l-socket", "@/b" },
	  NULL,
	  1,
	  "--ptp4l-socket: 2 given for 1 phc" },
};

/* Files left in @dir other than the config file: none may be sockets. */
static void check_no_socket(const char *dir, const char *name)
{
	struct dirent *e;
	DIR *d = opendir(dir);

	cr_assert(d, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		char path[512];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		cr_assert(lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode),
			  "%s: socket %s left behind", name, path);
	}
	closedir(d);
}

static const char *expand(const char *arg, const char *dir, char *buf,
			  size_t len)
{
	if (!strcmp(arg, "@CONF")) {
		snprintf(buf, len, "%s/bad.conf", dir);
	} else if (!strcmp(arg, "@DIR")) {
		snprintf(buf, len, "%s", dir);
	} else if (!strncmp(arg, "@/", 2)) {
		snprintf(buf, len, "%s/%s", dir, arg + 2);
	} else {
		return arg;
	}
	return buf;
}

/* One run of @c, with --check-config or not; the checks of its output. */
static void run_once(const struct bad_case *c, bool check)
{
	char dir[] = "/tmp/vrtc-badcfg-XXXXXX";
	char bufs[MAX_ARGS][256], out[8192], cmd[300];
	const char *argv[MAX_ARGS + 2];
	const char *how = check ? "--check-config" : "start";
	struct stat st;
	const char *nl;
	unsigned int i, n;
	int r;

	cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	if (c->conf) {
		FILE *f;

		snprintf(bufs[0], sizeof(bufs[0]), "%s/bad.conf", dir);
		f = fopen(bufs[0], "w");
		cr_assert(f);
		fputs(c->conf, f);
		fclose(f);
	}
	/* first: a case's last option may lack its value */
	n = 0;
	if (check) {
		argv[n++] = "--check-config";
	}
	for (i = 0; i < MAX_ARGS && c->args[i]; i++) {
		argv[n++] = expand(c->args[i], dir, bufs[i], sizeof(bufs[i]));
	}
	argv[n] = NULL;
	r = vdaemon_run(argv, 10000, out, sizeof(out));
	check_no_socket(dir, c->name);
	/* nothing was given away or re-moded: a refusal changes nothing */
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700, "%s (%s): %s re-moded", c->name,
		     how, dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);

	cr_assert(r != -1, "%s (%s): timed out (a half-started daemon?)",
		  c->name, how);
	cr_assert(WIFEXITED(r), "%s (%s): crashed (status 0x%x):\n%s", c->name,
		  how, r, out);
	cr_assert_eq(WEXITSTATUS(r), c->status, "%s (%s): exit %d, output:\n%s",
		     c->name, how, WEXITSTATUS(r), out);
	nl = strchr(out, '\n');
	cr_assert(nl && nl[1] == '\0', "%s (%s): not exactly one line:\n%s",
		  c->name, how, out);
	cr_assert(!strncmp(out, "vhost-user-rtc: ", 16),
		  "%s (%s): not the daemon's error line:\n%s", c->name, how,
		  out);
	cr_assert(strstr(out, c->needle), "%s (%s): \"%s\" not in:\n%s",
		  c->name, how, c->needle, out);
}

static void run_case(const struct bad_case *c)
{
	run_once(c, true);
	run_once(c, false);
}

/*
 * --check-config on the very typo of the operator trial: /run as the
 * vm-socket-dir (only checked: a start would be refused too, but a
 * test must not risk the host's /run).
 */
ITEST(bad_config, check_config_refuses_run_as_vm_socket_dir)
{
	char dir[] = "/tmp/vrtc-badcfg-XXXXXX", sock[64], out[4096];
	const char *argv[] = { "--socket-path",	  sock,
			       "--vm-socket-dir", "/run",
			       "--check-config",  NULL };
	int r;

	cr_assert(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/vm.sock", dir);
	r = vdaemon_run(argv, 10000, out, sizeof(out));
	rmdir(dir);
	cr_assert(r != -1 && WIFEXITED(r), "%s", out);
	cr_expect_eq(WEXITSTATUS(r), 1, "%s", out);
	cr_expect(strstr(out, "--vm-socket-dir: refusing to give /run"), "%s",
		  out);
	cr_expect(!strstr(out, "configuration valid"), "%s", out);
}

/*
 * The parameter is an index into cases[]: Criterion's workers are fresh
 * processes, where pointers copied from the runner mean nothing.
 */
ParameterizedTestParameters(bad_config, each_input)
{
	static unsigned int idx[sizeof(cases) / sizeof(cases[0])];
	unsigned int i;

	_Static_assert(sizeof(cases) / sizeof(cases[0]) >= 25,
		       "the issue asks for at least 25 bad inputs");
	for (i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
		idx[i] = i;
	}
	return cr_make_param_array(unsigned int, idx,
				   sizeof(idx) / sizeof(idx[0]));
}

ParameterizedTest(unsigned int *i, bad_config, each_input, .init = itest_init,
		  .fini = itest_fini, .timeout = ITEST_TIMEOUT)
{
	run_case(&cases[*i]);
}
