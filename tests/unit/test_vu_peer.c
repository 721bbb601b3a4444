// SPDX-License-Identifier: MIT
/*
 * Unit tests: device/vu_peer.c, who the front-end is. The QEMU command
 * line parser is fed hostile input (cut short, unterminated, absurdly
 * long, escaped, control bytes, random bytes); the credentials come
 * from a real connection, and the name from a real process whose
 * argv[0] is QEMU's.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_seed.h"
#include "vu_peer.h"

/* A command line from a string with '|' for the NULs between args. */
static size_t cmdline(const char *spec, char *buf, size_t len)
{
	size_t n = strlen(spec);

	cr_assert_lt(n, len);
	memcpy(buf, spec, n);
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '|') {
			buf[i] = '\0';
		}
	}
	return n;
}

static int name_of(const char *spec, char *out, size_t outlen)
{
	char buf[512];
	size_t n = cmdline(spec, buf, sizeof(buf));

	return vu_peer_qemu_name(buf, n, out, outlen);
}

static bool label_charset(const char *s)
{
	for (; *s; s++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
			    "YZ"
			    "0123456789._-",
			    *s)) {
			return false;
		}
	}
	return true;
}

Test(vu_peer, qemu_name_forms)
{
	static const struct {
		const char *cmd, *name;
	} ok[] = {
		/* libvirt's */
		{ "/usr/bin/qemu-system-x86_64|-name|guest=web-1,debug-threads="
		  "on|-S|",
		  "web-1" },
		{ "qemu-system-x86_64|-name|vm1|", "vm1" },
		{ "qemu-kvm|--name|vm2|", "vm2" },
		{ "q|-name|vm3,process=qemu-vm3,debug-threads=on|", "vm3" },
		{ "q|-name|process=p,guest=vm4|", "vm4" },
		{ "q|-name|guest=a,guest=b|", "b" },
		/* the last -name wins, as QEMU merges them */
		{ "q|-name|first|-m|1G|-name|guest=second|", "second" },
		/* ",," is a comma in QEMU's syntax: not allowed in a label */
		{ "q|-name|guest=a,,b,debug-threads=on|", "a_b" },
		{ "q|-name|a,,,,b|", "a__b" },
		/* hostile characters: quotes, braces, newline, spaces */
		{ "q|-name|vm\"1\" {x:'y'}\n|", "vm_1___x__y___" },
		{ "q|-name|guest=../../etc/passwd|", ".._.._etc_passwd" },
		{ "q|-name|guest=\xc3\xa9t\xc3\xa9|", "__t__" },
		/* a later empty -name does not erase an earlier one */
		{ "q|-name|guest=kept|-name|guest=|", "kept" },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char out[VU_PEER_NAME_MAX];

		cr_expect_eq(name_of(ok[i].cmd, out, sizeof(out)), 0,
			     "case %zu", i);
		cr_expect_str_eq(out, ok[i].name, "case %zu", i);
	}
}

Test(vu_peer, no_name_is_refused)
{
	static const char *const none[] = {
		"",
		"qemu-system-x86_64|-m|1G|",
		"q|-name|",	     /* no value */
		"q|-name",	     /* cut short: not even the option */
		"q|-name|guest=vm1", /* value without its NUL: cut short */
		"q|-name||",	     /* empty */
		"q|-name|guest=|",
		"q|-name|process=p,debug-threads=on|",
		"q|-name|,guest|",
		"q|x-name|vm|",
		"q|-names|vm|",
		"q|-NAME|vm|",
	};
	char out[VU_PEER_NAME_MAX];

	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		strcpy(out, "stale");
		cr_expect_eq(name_of(none[i], out, sizeof(out)), -ENOENT,
			     "case %zu: %s", i, out);
		cr_expect_str_empty(out, "case %zu", i);
	}
	cr_expect_eq(vu_peer_qemu_name("q", 1, out, 1), -EINVAL);
}

/* Lengths: the name is cut to the buffer; a huge value is read only so
 * far (a guest= beyond 4 KiB of one value is not found). */
Test(vu_peer, lengths_are_bounded)
{
	size_t big = 100000;
	char *buf = malloc(big + 64), out[VU_PEER_NAME_MAX], small[4];
	size_t n;

	cr_assert(buf);
	n = (size_t)sprintf(buf, "q%c-name%cguest=", 0, 0);
	memset(buf + n, 'a', big);
	n += big;
	buf[n++] = '\0';
	cr_expect_eq(vu_peer_qemu_name(buf, n, out, sizeof(out)), 0);
	cr_expect_eq(strlen(out), VU_PEER_NAME_MAX - 1);
	cr_expect_eq(vu_peer_qemu_name(buf, n, small, sizeof(small)), 0);
	cr_expect_str_eq(small, "aaa");

	n = (size_t)sprintf(buf, "q%c-name%cprocess=", 0, 0);
	memset(buf + n, 'p', 8000);
	n += 8000;
	n += (size_t)sprintf(buf + n, ",guest=late");
	buf[n++] = '\0';
	cr_expect_eq(vu_peer_qemu_name(buf, n, out, sizeof(out)), -ENOENT);
	free(buf);
}

/* Random bytes, and random command lines around -name: never a crash,
 * an overrun (ASan), or a name outside the label charset. */
Test(vu_peer, random_input_gives_a_safe_label_or_none)
{
	unsigned int seed = test_seed("vu_peer random");
	static const char *const words[] = { "-name", "--name", "guest=",
					     ",",     ",,",	"=",
					     "vm",    "\n\"",	"\xff" };
	char buf[600], out[VU_PEER_NAME_MAX];

	srand(seed);
	for (int round = 0; round < 20000; round++) {
		size_t n = 0, len;
		int r;

		if (round % 2) {
			len = (size_t)rand() % sizeof(buf);
			for (size_t i = 0; i < len; i++) {
				buf[i] = (char)(rand() % 7 ? rand() : 0);
			}
			n = len;
		} else {
			while (n + 16 < sizeof(buf) && rand() % 12) {
				const char *w = words[(size_t)rand() % 9];

				memcpy(buf + n, w, strlen(w));
				n += strlen(w);
				if (rand() % 3 == 0) {
					buf[n++] = '\0';
				}
			}
		}
		r = vu_peer_qemu_name(buf, n, out, sizeof(out));
		cr_assert(r == 0 || r == -ENOENT, "seed %u round %d: %d", seed,
			  round, r);
		cr_assert_lt(strlen(out), sizeof(out));
		cr_assert(label_charset(out), "seed %u round %d: '%s'", seed,
			  round, out);
		cr_assert_eq(r == 0, out[0] != '\0', "seed %u round %d", seed,
			     round);
	}
}

Test(vu_peer, which_peers_are_qemu)
{
	cr_expect(vu_peer_is_qemu("/usr/bin/qemu-system-x86_64"));
	cr_expect(vu_peer_is_qemu("qemu-system-aarch64"));
	cr_expect(vu_peer_is_qemu("/usr/libexec/qemu-kvm"));
	cr_expect(vu_peer_is_qemu("kvm"));
	cr_expect(!vu_peer_is_qemu("/usr/bin/qemu-img"));
	cr_expect(!vu_peer_is_qemu("/home/x/qemu-system-x86_64/evil/sh"));
	cr_expect(!vu_peer_is_qemu("/usr/bin/python3"));
	cr_expect(!vu_peer_is_qemu(""));
}

/* A listening socket in a fresh directory; its path in @path. */
static int listener(char *path, size_t len)
{
	char dir[] = "/tmp/vu-peer-XXXXXX";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	cr_assert(mkdtemp(dir));
	snprintf(path, len, "%s/s", dir);
	strcpy(sa.sun_path, path);
	/* non-blocking: a missing connection fails the test, not hangs it */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	return fd;
}

static void drop_listener(int fd, char *path)
{
	close(fd);
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
}

/* Ourselves: the kernel's pid and uid, not QEMU, no name. */
Test(vu_peer, credentials_of_a_real_peer)
{
	char path[64], who[160];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vu_peer p;
	int l = listener(path, sizeof(path)), c, a;

	strcpy(sa.sun_path, path);
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(a, 0);
	vu_peer_identify(a, &p);
	cr_expect(p.cred);
	cr_expect_eq(p.pid, getpid());
	cr_expect_eq(p.uid, geteuid());
	cr_expect(!p.qemu);
	cr_expect_str_empty(p.name);
	vu_peer_describe(&p, who, sizeof(who));
	cr_expect(strstr(who, "not QEMU"), "%s", who);

	/* not a socket: nothing known, no crash */
	vu_peer_identify(l + 1000, &p);
	cr_expect(!p.cred);
	vu_peer_describe(&p, who, sizeof(who));
	cr_expect_str_eq(who, "credentials unknown");
	close(a);
	close(c);
	drop_listener(l, path);
}

/*
 * A process that connected, then exec'd with QEMU's argv[0] and a
 * libvirt -name, keeping the connection (SO_PEERCRED's pid is the one
 * that connected, which exec keeps): its name is read from /proc.
 */
Test(vu_peer, name_of_a_qemu_peer)
{
	char path[64], who[160], c;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vu_peer p;
	int l = listener(path, sizeof(path)), a, fds[2], st;
	pid_t child;

	strcpy(sa.sun_path, path);
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		setpgid(0, 0); /* killed with its sleep */
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			_exit(1);
		}
		/* "; exit" keeps the shell itself alive: no exec of sleep */
		execl("/bin/sh", "qemu-system-x86_64", "-c", "sleep 30; exit 0",
		      "-name", "guest=vm \"7\",debug-threads=on", (char *)NULL);
		_exit(1);
	}
	close(fds[1]);
	cr_assert_eq(read(fds[0], &c, 1), 0); /* EOF at the exec */
	close(fds[0]);
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(a, 0);
	vu_peer_identify(a, &p);
	kill(-child, SIGKILL);
	waitpid(child, &st, 0);
	cr_expect(p.cred);
	cr_expect_eq(p.pid, child);
	cr_expect(p.qemu);
	cr_expect_str_eq(p.name, "vm__7_");
	vu_peer_describe(&p, who, sizeof(who));
	cr_expect(strstr(who, "QEMU -name vm__7_"), "%s", who);
	close(a);
	drop_listener(l, path);
}
