// SPDX-License-Identifier: MIT
/*
 * Parsing what control-socket and metrics clients send. Everything here
 * reads bytes from an untrusted local peer: bounded, no allocation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_parse.h"

#define MAX_WORDS 4
#define WORD_MAX CONTROL_ARG_MAX

/*
 * Split @s (NUL-terminated, printable) into at most MAX_WORDS words;
 * -1 for more words, -2 for a word of WORD_MAX bytes or more.
 */
static int split_words(const char *s, char w[MAX_WORDS][WORD_MAX])
{
	int n = 0;

	for (;;) {
		size_t k = 0;

		while (*s == ' ' || *s == '\t') {
			s++;
		}
		if (!*s) {
			return n;
		}
		if (n == MAX_WORDS) {
			return -1;
		}
		while (*s && *s != ' ' && *s != '\t') {
			if (k + 1 >= WORD_MAX) {
				return -2;
			}
			w[n][k++] = *s++;
		}
		w[n++][k] = '\0';
	}
}

int control_parse_line(const char *buf, size_t len, bool eof,
		       enum control_cmd *cmd, char *why, size_t why_len)
{
	char arg[CONTROL_ARG_MAX];

	return control_parse_request(buf, len, eof, cmd, arg, why, why_len);
}

int control_parse_request(const char *buf, size_t len, bool eof,
			  enum control_cmd *cmd, char arg[CONTROL_ARG_MAX],
			  char *why, size_t why_len)
{
	const char *nl = memchr(buf, '\n', len);
	char line[CONTROL_LINE_MAX + 1];
	char w[MAX_WORDS][WORD_MAX];
	size_t n, i;
	int nw;

	if (!nl && !eof) {
		if (len >= CONTROL_LINE_MAX) {
			snprintf(why, why_len,
				 "command line longer than %d bytes",
				 CONTROL_LINE_MAX);
			return -EMSGSIZE;
		}
		return -EAGAIN;
	}
	n = nl ? (size_t)(nl - buf) : len;
	if (n >= CONTROL_LINE_MAX) {
		snprintf(why, why_len, "command line longer than %d bytes",
			 CONTROL_LINE_MAX);
		return -EMSGSIZE;
	}
	if (n && buf[n - 1] == '\r') {
		n--;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if ((ch < 0x20 && ch != '\t') || ch > 0x7e) {
			snprintf(why, why_len,
				 "byte 0x%02x at offset %zu is not printable "
				 "ASCII",
				 ch, i);
			return -EILSEQ;
		}
		line[i] = (char)ch;
	}
	line[n] = '\0';
	arg[0] = '\0';
	nw = split_words(line, w);
	if (nw == -2) {
		snprintf(why, why_len, "a word longer than %d bytes",
			 CONTROL_ARG_MAX - 1);
		return -EINVAL;
	}
	if ((nw == 1 && !strcmp(w[0], "status")) ||
	    (nw == 2 && !strcmp(w[0], "status") && !strcmp(w[1], "text"))) {
		*cmd = CONTROL_CMD_STATUS_TEXT;
	} else if (nw == 2 && !strcmp(w[0], "status") &&
		   !strcmp(w[1], "json")) {
		*cmd = CONTROL_CMD_STATUS_JSON;
	} else if (nw == 1 && !strcmp(w[0], "metrics")) {
		*cmd = CONTROL_CMD_METRICS;
	} else if (nw == 1 && !strcmp(w[0], "upgrade")) {
		*cmd = CONTROL_CMD_UPGRADE;
	} else if (nw == 1 && !strcmp(w[0], "help")) {
		*cmd = CONTROL_CMD_HELP;
	} else if (nw == 2 && !strcmp(w[0], "vm") && !strcmp(w[1], "list")) {
		*cmd = CONTROL_CMD_VM_LIST;
	} else if (nw == 3 && !strcmp(w[0], "vm") &&
		   (!strcmp(w[1], "add") || !strcmp(w[1], "remove"))) {
		*cmd = !strcmp(w[1], "add") ? CONTROL_CMD_VM_ADD
					    : CONTROL_CMD_VM_REMOVE;
		memcpy(arg, w[2], strlen(w[2]) + 1);
	} else if (nw >= 1 && !strcmp(w[0], "vm")) {
		snprintf(why, why_len,
			 "usage: vm list | vm add PATH | vm remove PATH");
		return -EINVAL;
	} else {
		snprintf(why, why_len,
			 "unknown command '%.40s%s' (try: status, status "
			 "json, metrics, vm list, vm add PATH, vm remove "
			 "PATH, upgrade, help)",
			 line, n > 40 ? "..." : "");
		return -EINVAL;
	}
	return 0;
}

/* A file name the daemon makes a socket under: [A-Za-z0-9._@+-]. */
static bool good_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.') {
		return false;
	}
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-' || ch == '@' || ch == '+')) {
			return false;
		}
	}
	return true;
}

int control_vm_path(const char *dir, const char *arg, char *path,
		    size_t path_len, char *why, size_t why_len)
{
	const char *p;
	size_t n;
	int len;

	if (!strchr(arg, '/')) {
		if (!good_name(arg, strlen(arg))) {
			snprintf(why, why_len,
				 "'%.40s': a socket name is letters, digits "
				 "and ._@+- and does not start with '.'",
				 arg);
			return -EINVAL;
		}
		if (!dir) {
			snprintf(why, why_len,
				 "'%.40s': a bare name needs vm-socket-dir= "
				 "(or give the absolute path)",
				 arg);
			return -EINVAL;
		}
		len = snprintf(path, path_len, "%s/%s", dir, arg);
	} else {
		if (arg[0] != '/') {
			snprintf(why, why_len,
				 "'%.40s': give an absolute path or a bare "
				 "name",
				 arg);
			return -EINVAL;
		}
		/* every component a good name: no "//", ".", "..", "/" end */
		for (p = arg; *p == '/'; p += n) {
			p++;
			n = strcspn(p, "/");
			if (!good_name(p, n)) {
				snprintf(why, why_len,
					 "'%.40s': every part of the path must "
					 "be a plain name (letters, digits, "
					 "._@+-; no '.', '..' or '//')",
					 arg);
				return -EINVAL;
			}
		}
		len = snprintf(path, path_len, "%s", arg);
	}
	if (len < 0 || (size_t)len >= path_len ||
	    (size_t)len >= CONTROL_ARG_MAX) {
		snprintf(why, why_len,
			 "'%.40s...': a socket path has at most %d bytes", arg,
			 CONTROL_ARG_MAX - 1);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* The end of the request head: "\r\n\r\n" or a bare "\n\n". */
static const char *head_end(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (buf[i] == '\n' &&
		    (buf[i + 1] == '\n' || (i + 2 < len && buf[i + 1] == '\r' &&
					    buf[i + 2] == '\n'))) {
			return buf + i;
		}
	}
	return NULL;
}

int control_parse_http(const char *buf, size_t len, bool *head_only)
{
	const char *end = head_end(buf, len);
	const char *eol, *sp1, *sp2, *path, *ver;
	size_t mlen, plen, vlen;

	*head_only = false;
	if (!end) {
		return len >= CONTROL_HTTP_MAX ? 431 : -EAGAIN;
	}
	eol = memchr(buf, '\n', (size_t)(end - buf) + 1);
	if (!eol) {
		return 400;
	}
	if (eol > buf && eol[-1] == '\r') {
		eol--;
	}
	sp1 = memchr(buf, ' ', (size_t)(eol - buf));
	if (!sp1) {
		return 400;
	}
	path = sp1 + 1;
	sp2 = memchr(path, ' ', (size_t)(eol - path));
	if (!sp2) {
		return 400;
	}
	ver = sp2 + 1;
	mlen = (size_t)(sp1 - buf);
	plen = (size_t)(sp2 - path);
	vlen = (size_t)(eol - ver);
	if (!mlen || !plen || !vlen || memchr(ver, ' ', vlen)) {
		return 400;
	}
	if (vlen != 8 || memcmp(ver, "HTTP/1.", 7) != 0 || ver[7] < '0' ||
	    ver[7] > '9') {
		return vlen >= 5 && !memcmp(ver, "HTTP/", 5) ? 505 : 400;
	}
	if (mlen == 4 && !memcmp(buf, "HEAD", 4)) {
		*head_only = true;
	} else if (mlen != 3 || memcmp(buf, "GET", 3) != 0) {
		return 405;
	}
	if (plen >= 8 && !memcmp(path, "/metrics", 8) &&
	    (plen == 8 || path[8] == '?')) {
		return 200;
	}
	return 404;
}

static int bad_address(const char *text, const char *what, char *why,
		       size_t why_len)
{
	snprintf(why, why_len, "'%.80s': %s", text, what);
	return -EINVAL;
}

int control_parse_address(const char *text, struct sockaddr_storage *sa,
			  socklen_t *sa_len, char *why, size_t why_len)
{
	char host[64];
	const char *colon, *port_s;
	unsigned long port;
	size_t hlen;
	char *e;

	memset(sa, 0, sizeof(*sa));
	if (text[0] == '[') {
		const char *rb = strchr(text, ']');

		if (!rb || rb[1] != ':') {
			return bad_address(text, "expected [ADDRESS]:PORT", why,
					   why_len);
		}
		hlen = (size_t)(rb - text - 1);
		if (hlen >= sizeof(host)) {
			return bad_address(text, "address too long", why,
					   why_len);
		}
		memcpy(host, text + 1, hlen);
		port_s = rb + 2;
	} else {
		colon = strrchr(text, ':');
		if (!colon) {
			return bad_address(text, "expected HOST:PORT", why,
					   why_len);
		}
		hlen = (size_t)(colon - text);
		if (hlen >= sizeof(host)) {
			return bad_address(text, "address too long", why,
					   why_len);
		}
		memcpy(host, text, hlen);
		port_s = colon + 1;
	}
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(port_s, &e, 10);
	if (!*port_s || *e || errno || port < 1 || port > 65535 ||
	    port_s[0] == '+' || port_s[0] == '-' || port_s[0] == ' ') {
		return bad_address(text, "the port must be 1..65535", why,
				   why_len);
	}
	if (!strcmp(host, "localhost")) {
		strcpy(host, "127.0.0.1");
	}
	if (text[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
			return bad_address(text, "not an IPv6 address", why,
					   why_len);
		}
		if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)) {
			return bad_address(text,
					   "not a loopback address (the "
					   "metrics endpoint has no "
					   "authentication)",
					   why, why_len);
		}
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sa_len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
			return bad_address(text,
					   "not a numeric IPv4 address (IPv6: "
					   "[::1]:PORT)",
					   why, why_len);
		}
		if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127) {
			return bad_address(text,
					   "not a loopback address (the "
					   "metrics endpoint has no "
					   "authentication)",
					   why, why_len);
		}
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sa_len = sizeof(*s4);
	}
	return 0;
}
