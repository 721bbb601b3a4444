// SPDX-License-Identifier: MIT
/*
 * The front-end at the other end of a connection (vu_peer.h): its
 * credentials, and QEMU's -name from its command line, read as hostile
 * input.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu_peer.h"

/* Bytes of one option value looked at ("guest=NAME,debug-threads=on"). */
#define VALUE_MAX 4096

static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* @v (@n bytes, any) into @out in the label charset; false, and @out
 * untouched, if empty. */
static bool sanitize(const char *v, size_t n, char *out, size_t outlen)
{
	size_t i;

	if (n == 0) {
		return false;
	}
	for (i = 0; i < n && i + 1 < outlen; i++) {
		out[i] = label_char(v[i]) ? v[i] : '_';
	}
	out[i] = '\0';
	return true;
}

/*
 * The guest name in -name's value @v (NUL-terminated, bounded by the
 * caller): QEMU's option syntax, "NAME" implied as guest= when the
 * first parameter has no '=', ",," a literal comma. Last guest= wins.
 */
static bool parse_name_value(const char *v, char *out, size_t outlen)
{
	char tok[VALUE_MAX];
	bool found = false, first = true;
	const char *p = v;

	while (*p || first) {
		size_t n = 0;

		/* one parameter, up to an unescaped comma */
		while (*p) {
			if (p[0] == ',' && p[1] == ',') {
				p += 2;
				if (n + 1 < sizeof(tok)) {
					tok[n++] = ',';
				}
				continue;
			}
			if (*p == ',') {
				break;
			}
			if (n + 1 < sizeof(tok)) {
				tok[n++] = *p;
			}
			p++;
		}
		tok[n] = '\0';
		if (first && !memchr(tok, '=', n)) {
			found = sanitize(tok, n, out, outlen) || found;
		} else if (n > 6 && !strncmp(tok, "guest=", 6)) {
			found = sanitize(tok + 6, n - 6, out, outlen) || found;
		}
		first = false;
		if (*p == ',') {
			p++;
		} else {
			break;
		}
	}
	return found;
}

int vu_peer_qemu_name(const char *cmd, size_t len, char *out, size_t outlen)
{
	char value[VALUE_MAX];
	bool found = false;
	size_t at = 0;

	if (outlen < 2) {
		return -EINVAL;
	}
	out[0] = '\0';
	while (at < len) {
		const char *arg = cmd + at;
		const char *end = memchr(arg, '\0', len - at);
		const char *next, *next_end;

		if (!end) {
			break; /* cut short: not an argument */
		}
		at = (size_t)(end - cmd) + 1;
		if (strcmp(arg, "-name") != 0 && strcmp(arg, "--name") != 0) {
			continue;
		}
		next = cmd + at;
		next_end = at < len ? memchr(next, '\0', len - at) : NULL;
		if (!next_end) {
			break;
		}
		at = (size_t)(next_end - cmd) + 1;
		/* a value longer than VALUE_MAX is cut (the name is shorter) */
		g_strlcpy(value, next, sizeof(value));
		if (parse_name_value(value, out, outlen)) {
			found = true;
		}
	}
	if (!found) {
		out[0] = '\0';
		return -ENOENT;
	}
	return 0;
}

bool vu_peer_is_qemu(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	base = base ? base + 1 : argv0;
	return !strncmp(base, "qemu-system-", 12) ||
	       !strcmp(base, "qemu-kvm") || !strcmp(base, "kvm");
}

/* Up to VU_PEER_CMDLINE_MAX bytes of @pid's command line; -1 if none. */
static ssize_t read_cmdline(pid_t pid, char *buf)
{
	char path[32];
	size_t got = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		return -1;
	}
	while (got < VU_PEER_CMDLINE_MAX) {
		ssize_t r = read(fd, buf + got, VU_PEER_CMDLINE_MAX - got);

		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	return (ssize_t)got;
}

void vu_peer_identify(int fd, struct vu_peer *p)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	char *buf;
	ssize_t n;

	memset(p, 0, sizeof(*p));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    len != sizeof(cr)) {
		return;
	}
	p->cred = true;
	p->pid = cr.pid;
	p->uid = cr.uid;
	p->gid = cr.gid;
	if (p->pid <= 0) {
		return;
	}
	buf = g_malloc(VU_PEER_CMDLINE_MAX);
	n = read_cmdline(p->pid, buf);
	/* argv[0] must be whole to say what the peer is */
	if (n > 0 && memchr(buf, '\0', (size_t)n)) {
		p->qemu = vu_peer_is_qemu(buf);
		if (p->qemu) {
			(void)vu_peer_qemu_name(buf, (size_t)n, p->name,
						sizeof(p->name));
		}
	}
	g_free(buf);
}

void vu_peer_describe(const struct vu_peer *p, char *buf, size_t len)
{
	char pid[32];

	if (!p->cred) {
		snprintf(buf, len, "credentials unknown");
		return;
	}
	if (p->pid > 0) {
		snprintf(pid, sizeof(pid), "pid %ld", (long)p->pid);
	} else {
		snprintf(pid, sizeof(pid), "pid unknown (other namespace)");
	}
	snprintf(buf, len, "%s, uid %lu, %s%s", pid, (unsigned long)p->uid,
		 p->name[0] ? "QEMU -name "
		 : p->qemu  ? "QEMU without -name"
			    : "not QEMU (or /proc "
			      "unreadable)",
		 p->name);
}
