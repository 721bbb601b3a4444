// SPDX-License-Identifier: MIT
/*
 * The control socket's and metrics endpoint's request parsing
 * (src/control_parse.c): commands, HTTP request heads, the loopback-only
 * address of the metrics endpoint.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "control_parse.h"

static int line(const char *s, bool eof, enum control_cmd *cmd)
{
	char why[160];

	return control_parse_line(s, strlen(s), eof, cmd, why, sizeof(why));
}

Test(control_line, commands)
{
	enum control_cmd c;

	cr_assert_eq(line("status\n", false, &c), 0);
	cr_assert_eq(c, CONTROL_CMD_STATUS_TEXT);
	cr_assert_eq(line("  status   text \r\n", false, &c), 0);
	cr_assert_eq(c, CONTROL_CMD_STATUS_TEXT);
	cr_assert_eq(line("status json\n", false, &c), 0);
	cr_assert_eq(c, CONTROL_CMD_STATUS_JSON);
	cr_assert_eq(line("status\tjson\n", false, &c), 0);
	cr_assert_eq(c, CONTROL_CMD_STATUS_JSON);
	cr_assert_eq(line("metrics\nmore ignored", false, &c), 0);
	cr_assert_eq(c, CONTROL_CMD_METRICS);
	cr_assert_eq(line("help", true, &c), 0, "EOF ends the line");
	cr_assert_eq(c, CONTROL_CMD_HELP);
}

Test(control_line, incomplete_and_bad)
{
	enum control_cmd c;
	char why[160], big[CONTROL_LINE_MAX + 10];

	cr_assert_eq(line("stat", false, &c), -EAGAIN);
	cr_assert_eq(line("", false, &c), -EAGAIN);
	cr_assert_eq(line("", true, &c), -EINVAL);
	cr_assert_eq(line("\n", false, &c), -EINVAL);
	cr_assert_eq(line("Status\n", false, &c), -EINVAL);
	cr_assert_eq(line("status json extra\n", false, &c), -EINVAL);
	cr_assert_eq(line("status xml\n", false, &c), -EINVAL);
	cr_assert_eq(line("a b c d e f\n", false, &c), -EINVAL);
	cr_assert_eq(line("sta\x01tus\n", false, &c), -EILSEQ);
	cr_assert_eq(line("st\xc3\xa4tus\n", false, &c), -EILSEQ);
	cr_assert_eq(control_parse_line("status\0\n", 8, false, &c, why,
					sizeof(why)),
		     -EILSEQ, "NUL inside the line");
	memset(big, 'x', sizeof(big));
	cr_assert_eq(control_parse_line(big, CONTROL_LINE_MAX, false, &c, why,
					sizeof(why)),
		     -EMSGSIZE, "a full buffer without newline");
	cr_assert_eq(control_parse_line(big, CONTROL_LINE_MAX - 1, false, &c,
					why, sizeof(why)),
		     -EAGAIN);
	big[CONTROL_LINE_MAX + 2] = '\n';
	cr_assert_eq(control_parse_line(big, sizeof(big), false, &c, why,
					sizeof(why)),
		     -EMSGSIZE, "a newline past the limit");
	cr_assert_eq(
		control_parse_line("bogus\n", 6, false, &c, why, sizeof(why)),
		-EINVAL);
	cr_assert(strstr(why, "unknown command 'bogus'"), "%s", why);
	cr_assert(strstr(why, "status json"), "the message teaches: %s", why);
}

static int request(const char *s, enum control_cmd *cmd, char *arg)
{
	char why[160];

	/* at EOF: a line need not end with a newline */
	return control_parse_request(s, strlen(s), true, cmd, arg, why,
				     sizeof(why));
}

Test(control_line, vm_commands)
{
	char arg[CONTROL_ARG_MAX], why[160], w[CONTROL_ARG_MAX + 8];
	enum control_cmd c;

	cr_assert_eq(request("vm list\n", &c, arg), 0);
	cr_assert_eq(c, CONTROL_CMD_VM_LIST);
	cr_assert_str_empty(arg);
	cr_assert_eq(request(" vm  add\tvm3.sock\r\n", &c, arg), 0);
	cr_assert_eq(c, CONTROL_CMD_VM_ADD);
	cr_assert_str_eq(arg, "vm3.sock");
	cr_assert_eq(request("vm remove /run/x/vm3.sock\n", &c, arg), 0);
	cr_assert_eq(c, CONTROL_CMD_VM_REMOVE);
	cr_assert_str_eq(arg, "/run/x/vm3.sock");
	cr_assert_eq(request("vm list extra\n", &c, arg), -EINVAL);
	cr_assert_eq(request("vm add\n", &c, arg), -EINVAL);
	cr_assert_eq(request("vm add a b\n", &c, arg), -EINVAL);
	cr_assert_eq(request("vm\n", &c, arg), -EINVAL);
	cr_assert_eq(request("VM list\n", &c, arg), -EINVAL);
	cr_assert_eq(control_parse_request("vm delete x\n", 12, false, &c, arg,
					   why, sizeof(why)),
		     -EINVAL);
	cr_assert(strstr(why, "usage: vm list | vm add PATH"), "%s", why);
	/* the longest argument a socket path can be, and one byte more */
	memcpy(w, "vm add ", 7);
	memset(w + 7, 'a', CONTROL_ARG_MAX - 1);
	w[7 + CONTROL_ARG_MAX - 1] = '\0';
	cr_assert_eq(request(w, &c, arg), 0, "%zu bytes", strlen(w));
	cr_assert_eq(strlen(arg), CONTROL_ARG_MAX - 1);
	strcat(w, "a");
	cr_assert_eq(control_parse_request(w, strlen(w), true, &c, arg, why,
					   sizeof(why)),
		     -EINVAL);
	cr_assert(strstr(why, "longer than 107 bytes"), "%s", why);
}

static int vm_path(const char *dir, const char *arg, char *path)
{
	char why[160];

	return control_vm_path(dir, arg, path, CONTROL_ARG_MAX, why,
			       sizeof(why));
}

Test(control_line, vm_paths)
{
	char path[CONTROL_ARG_MAX], why[160], big[200];

	cr_assert_eq(vm_path("/run/v/vms", "vm3.sock", path), 0);
	cr_assert_str_eq(path, "/run/v/vms/vm3.sock");
	cr_assert_eq(vm_path("/run/v/vms", "a-b_c@d+e.F9", path), 0);
	cr_assert_eq(vm_path(NULL, "/run/v/vms/x.sock", path), 0);
	cr_assert_str_eq(path, "/run/v/vms/x.sock");
	cr_assert_eq(vm_path("/d", "/x", path), 0);
	/* no directory for a bare name */
	cr_assert_eq(control_vm_path(NULL, "vm3.sock", path, sizeof(path), why,
				     sizeof(why)),
		     -EINVAL);
	cr_assert(strstr(why, "vm-socket-dir"), "%s", why);
	/* names: no dot first, no odd characters */
	cr_assert_eq(vm_path("/d", ".hidden", path), -EINVAL);
	cr_assert_eq(vm_path("/d", "..", path), -EINVAL);
	cr_assert_eq(vm_path("/d", "a*b", path), -EINVAL);
	cr_assert_eq(vm_path("/d", "a:b", path), -EINVAL);
	cr_assert_eq(vm_path("/d", "", path), -EINVAL);
	/* paths: absolute, plain components */
	cr_assert_eq(vm_path("/d", "d/x.sock", path), -EINVAL);
	cr_assert_eq(vm_path("/d", "./x.sock", path), -EINVAL);
	cr_assert_eq(vm_path("/d", "/d/../x.sock", path), -EINVAL);
	cr_assert_eq(vm_path("/d", "/d/./x.sock", path), -EINVAL);
	cr_assert_eq(vm_path("/d", "/d//x.sock", path), -EINVAL);
	cr_assert_eq(vm_path("/d", "/d/x.sock/", path), -EINVAL);
	cr_assert_eq(vm_path("/d", "/", path), -EINVAL);
	cr_assert_eq(vm_path("/d", "/d/.x", path), -EINVAL);
	/* sun_path: 107 bytes at most, whichever way it is named */
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	big[CONTROL_ARG_MAX - 1] = '\0';
	cr_assert_eq(vm_path("/d", big, path), 0);
	big[CONTROL_ARG_MAX - 1] = 'a';
	big[CONTROL_ARG_MAX] = '\0';
	cr_assert_eq(control_vm_path("/d", big, path, sizeof(path), why,
				     sizeof(why)),
		     -ENAMETOOLONG);
	cr_assert(strstr(why, "at most 107 bytes"), "%s", why);
	memset(big, 'b', CONTROL_ARG_MAX - 3);
	big[CONTROL_ARG_MAX - 3] = '\0';
	cr_assert_eq(vm_path("/d", big, path), -ENAMETOOLONG,
		     "/d/ + name is one byte too long");
	big[CONTROL_ARG_MAX - 4] = '\0';
	cr_assert_eq(vm_path("/d", big, path), 0);
	cr_assert_eq(strlen(path), CONTROL_ARG_MAX - 1);
}

static int http(const char *s, bool *head)
{
	return control_parse_http(s, strlen(s), head);
}

Test(control_http, requests)
{
	bool head;

	cr_assert_eq(http("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &head),
		     200);
	cr_assert_not(head);
	cr_assert_eq(http("HEAD /metrics HTTP/1.0\r\n\r\n", &head), 200);
	cr_assert(head);
	cr_assert_eq(http("GET /metrics?name[]=x HTTP/1.1\n\n", &head), 200);
	cr_assert_eq(http("GET / HTTP/1.1\r\n\r\n", &head), 404);
	cr_assert_eq(http("GET /metricsx HTTP/1.1\r\n\r\n", &head), 404);
	cr_assert_eq(http("POST /metrics HTTP/1.1\r\n\r\n", &head), 405);
	cr_assert_eq(http("GET /metrics HTTP/2.0\r\n\r\n", &head), 505);
	cr_assert_eq(http("GET /metrics FTP/1.1\r\n\r\n", &head), 400);
	cr_assert_eq(http("GET  /metrics HTTP/1.1\r\n\r\n", &head), 400);
	cr_assert_eq(http("GET /metrics HTTP/1.1 x\r\n\r\n", &head), 400);
	cr_assert_eq(http("GET\r\n\r\n", &head), 400);
	cr_assert_eq(http("\r\n\r\n", &head), 400);
	cr_assert_eq(http("GET /metrics HTTP/1.1\r\nHost: x\r\n", &head),
		     -EAGAIN);
	cr_assert_eq(http("GET /metrics HTTP/1.1\r\n\r", &head), -EAGAIN);
}

Test(control_http, too_long)
{
	static char big[CONTROL_HTTP_MAX];
	bool head;

	memset(big, 'a', sizeof(big));
	cr_assert_eq(control_parse_http(big, sizeof(big), &head), 431);
	cr_assert_eq(control_parse_http(big, sizeof(big) - 1, &head), -EAGAIN);
}

static int addr(const char *s, struct sockaddr_storage *sa)
{
	socklen_t len = 0;
	char why[160];

	return control_parse_address(s, sa, &len, why, sizeof(why));
}

Test(control_address, loopback_only)
{
	struct sockaddr_storage sa;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&sa;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&sa;
	char why[160];
	socklen_t len;

	cr_assert_eq(addr("127.0.0.1:9688", &sa), 0);
	cr_assert_eq(s4->sin_family, AF_INET);
	cr_assert_eq(ntohs(s4->sin_port), 9688);
	cr_assert_eq(ntohl(s4->sin_addr.s_addr), 0x7f000001);
	cr_assert_eq(addr("127.1.2.3:1", &sa), 0);
	cr_assert_eq(addr("localhost:65535", &sa), 0);
	cr_assert_eq(ntohl(s4->sin_addr.s_addr), 0x7f000001);
	cr_assert_eq(addr("[::1]:9688", &sa), 0);
	cr_assert_eq(s6->sin6_family, AF_INET6);
	cr_assert_eq(ntohs(s6->sin6_port), 9688);

	cr_assert_eq(control_parse_address("0.0.0.0:9688", &sa, &len, why,
					   sizeof(why)),
		     -EINVAL);
	cr_assert(strstr(why, "not a loopback address"), "%s", why);
	cr_assert_eq(addr("10.0.0.1:9688", &sa), -EINVAL);
	cr_assert_eq(addr("[::]:9688", &sa), -EINVAL);
	cr_assert_eq(addr("[::ffff:127.0.0.1]:9688", &sa), -EINVAL);
	cr_assert_eq(addr("127.0.0.1", &sa), -EINVAL);
	cr_assert_eq(addr("127.0.0.1:", &sa), -EINVAL);
	cr_assert_eq(addr("127.0.0.1:0", &sa), -EINVAL);
	cr_assert_eq(addr("127.0.0.1:65536", &sa), -EINVAL);
	cr_assert_eq(addr("127.0.0.1:+80", &sa), -EINVAL);
	cr_assert_eq(addr("127.0.0.1:80x", &sa), -EINVAL);
	cr_assert_eq(addr("::1:9688", &sa), -EINVAL);
	cr_assert_eq(addr("[::1]9688", &sa), -EINVAL);
	cr_assert_eq(addr("example.com:80", &sa), -EINVAL);
	cr_assert_eq(addr(":80", &sa), -EINVAL);
}
