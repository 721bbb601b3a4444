// SPDX-License-Identifier: MIT
/*
 * fdstore-supervisor: runs a service the way systemd runs a Type=notify
 * unit with Restart=on-failure and FileDescriptorStoreMax=, for the
 * crash-recovery tests (and for hosts without systemd).
 *
 *   fdstore-supervisor [--pid-file F] [--max N] [--restart-ms MS]
 *                      [--log F] -- PROGRAM ARGS...
 *
 * The protocol is systemd's (sd_notify(3), sd_listen_fds(3)):
 *  - $NOTIFY_SOCKET: a datagram socket; messages are NAME=VALUE lines,
 *    accepted only from the main process (NotifyAccess=main), whose pid
 *    the kernel gives with SO_PASSCRED.
 *  - FDSTORE=1 with FDNAME=NAME (default "stored") keeps the fds sent
 *    with the message (SCM_RIGHTS), up to --max in all (the rest are
 *    closed, as systemd does); FDSTOREREMOVE=1 with FDNAME=NAME closes
 *    every stored fd of that name; FDPOLL=0 keeps an fd whose peer hung
 *    up, which is otherwise dropped (POLLHUP or POLLERR on it).
 *  - MAINPID=PID: PID is the main process from now on (a live upgrade).
 *  - When the main process exits with status 0, the supervisor ends with
 *    0 and the store is gone. When it dies of a signal or fails, it is
 *    started again after --restart-ms with the store in
 *    LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES, fds from 3 in store order.
 *  - SIGTERM and SIGINT are passed to the main process.
 *  - For the tests: after SIGUSR1, the next restart hands over the first
 *    stored fd whose name holds "-c" (a connection's state image) with
 *    one byte flipped in its middle, as a copy.
 * The main pid is written to --pid-file at each change.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG_MAX 4096
#define FDS_PER_MSG 253
#define NAME_LEN 256
#define DRAIN_MAX 100000

struct stored {
	int fd;
	bool poll;
	char name[NAME_LEN];
};

static struct stored *store;
static unsigned int nstore, max_store = 16384;
static pid_t main_pid;
static pid_t former[64]; /* mains replaced by MAINPID=, not yet reaped */
static const char *pid_file;
static bool damage_next;
static FILE *log_file; /* --log: ours only; the service keeps our stderr */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;

	FILE *f = log_file ? log_file : stderr;

	fputs("fdstore-supervisor: ", f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fflush(f);
}

static void write_pid(void)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (!pid_file) {
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", pid_file);
	f = fopen(tmp, "w");
	if (!f) {
		return;
	}
	fprintf(f, "%d\n", (int)main_pid);
	fclose(f);
	(void)rename(tmp, pid_file);
}

static void store_remove_at(unsigned int i)
{
	close(store[i].fd);
	memmove(&store[i], &store[i + 1], (nstore - i - 1) * sizeof(*store));
	nstore--;
}

/* FDNAME= must be printable ASCII without ':', at most 255 bytes. */
static bool name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len >= NAME_LEN) {
		return false;
	}
	for (const char *p = n; *p; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == ':') {
			return false;
		}
	}
	return true;
}

static void handle(char *msg, const int *fds, unsigned int nfds, pid_t from)
{
	bool fdstore = false, remove = false, poll_fd = true;
	char name[NAME_LEN] = "stored";
	char *save = NULL;
	unsigned int i;

	for (char *l = strtok_r(msg, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (!strcmp(l, "FDSTORE=1")) {
			fdstore = true;
		} else if (!strcmp(l, "FDSTOREREMOVE=1")) {
			remove = true;
		} else if (!strcmp(l, "FDPOLL=0")) {
			poll_fd = false;
		} else if (!strncmp(l, "FDNAME=", 7)) {
			snprintf(name, sizeof(name), "%s", l + 7);
		} else if (!strncmp(l, "MAINPID=", 8)) {
			long v = strtol(l + 8, NULL, 10);

			if (v > 0 && v < INT_MAX) {
				say("main pid %d -> %ld", (int)main_pid, v);
				for (unsigned int k = 0; k < 64; k++) {
					if (!former[k]) {
						former[k] = main_pid;
						break;
					}
				}
				main_pid = (pid_t)v;
				write_pid();
			}
		}
	}
	if ((fdstore || remove) && !name_ok(name)) {
		say("pid %d: invalid FDNAME \"%s\": ignored", (int)from, name);
		fdstore = remove = false;
	}
	if (remove) {
		for (i = nstore; i-- > 0;) {
			if (!strcmp(store[i].name, name)) {
				store_remove_at(i);
			}
		}
	}
	for (i = 0; i < nfds; i++) {
		if (!fdstore || nstore >= max_store) {
			if (fdstore) {
				say("store full (%u): fd %s dropped", max_store,
				    name);
			}
			close(fds[i]);
			continue;
		}
		store[nstore].fd = fds[i];
		store[nstore].poll = poll_fd;
		snprintf(store[nstore].name, NAME_LEN, "%s", name);
		nstore++;
	}
}

static void receive(int sock)
{
	char buf[MSG_MAX + 1];
	char cbuf[CMSG_SPACE(sizeof(int) * FDS_PER_MSG) +
		  CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = { .iov_base = buf, .iov_len = MSG_MAX };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	int fds[FDS_PER_MSG];
	unsigned int nfds = 0, i;
	struct cmsghdr *cm;
	pid_t from = 0;
	ssize_t n;

	n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0) {
		return;
	}
	buf[n] = '\0';
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET) {
			continue;
		}
		if (cm->cmsg_type == SCM_RIGHTS) {
			unsigned int k =
				(unsigned int)((cm->cmsg_len - CMSG_LEN(0)) /
					       sizeof(int));

			for (i = 0; i < k && nfds < FDS_PER_MSG; i++) {
				memcpy(&fds[nfds++],
				       CMSG_DATA(cm) + i * sizeof(int),
				       sizeof(int));
			}
		} else if (cm->cmsg_type == SCM_CREDENTIALS) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
			from = uc.pid;
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC) || from != main_pid) {
		/* NotifyAccess=main: the others are refused */
		if (from != main_pid) {
			say("message from pid %d (main is %d) refused",
			    (int)from, (int)main_pid);
		}
		for (i = 0; i < nfds; i++) {
			close(fds[i]);
		}
		return;
	}
	handle(buf, fds, nfds, from);
}

/* A damaged copy of the first connection image in the store. */
static void damage_one(void)
{
	for (unsigned int i = 0; i < nstore; i++) {
		char buf[1 << 16];
		ssize_t n;
		int m;

		if (!strstr(store[i].name, "-c")) {
			continue;
		}
		n = pread(store[i].fd, buf, sizeof(buf), 0);
		m = memfd_create("damaged", MFD_CLOEXEC);
		if (n <= 0 || m < 0 || write(m, buf, (size_t)n) != n) {
			say("cannot damage %s", store[i].name);
			return;
		}
		buf[n / 2] ^= 0x40;
		(void)pwrite(m, &buf[n / 2], 1, n / 2);
		close(store[i].fd);
		store[i].fd = m;
		say("%s damaged (byte %zd of %zd flipped)", store[i].name,
		    n / 2, n);
		return;
	}
}

/* Every message waiting now (at most DRAIN_MAX, not to starve the rest). */
static void drain(int sock)
{
	for (unsigned int k = 0; k < DRAIN_MAX; k++) {
		struct pollfd q = { .fd = sock, .events = POLLIN };

		if (poll(&q, 1, 0) <= 0) {
			break;
		}
		receive(sock);
	}
}

static pid_t start(char **argv, const char *notify)
{
	pid_t pid = fork();

	if (pid != 0) {
		return pid;
	}
	{
		unsigned int hi = 3 + nstore + 16, i;
		sigset_t none;
		char v[32];

		/* out of the way, then into place from 3 */
		for (i = 0; i < nstore; i++) {
			store[i].fd = fcntl(store[i].fd, F_DUPFD, (int)hi);
		}
		for (i = 0; i < nstore; i++) {
			if (store[i].fd < 0 ||
			    dup2(store[i].fd, 3 + (int)i) < 0) {
				_exit(127);
			}
		}
		(void)close_range(3 + nstore, ~0u, 0);
		setenv("NOTIFY_SOCKET", notify, 1);
		if (nstore) {
			size_t len = 1;
			char *names;

			for (i = 0; i < nstore; i++) {
				len += strlen(store[i].name) + 1;
			}
			names = calloc(1, len);
			for (i = 0; names && i < nstore; i++) {
				if (i) {
					strcat(names, ":");
				}
				strcat(names, store[i].name);
			}
			snprintf(v, sizeof(v), "%u", nstore);
			setenv("LISTEN_FDS", v, 1);
			snprintf(v, sizeof(v), "%d", (int)getpid());
			setenv("LISTEN_PID", v, 1);
			setenv("LISTEN_FDNAMES", names ? names : "", 1);
		} else {
			unsetenv("LISTEN_FDS");
			unsetenv("LISTEN_PID");
			unsetenv("LISTEN_FDNAMES");
		}
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* not left behind if we are killed */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], argv);
		say("cannot run %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: fdstore-supervisor [--pid-file F] [--max N] "
			"[--restart-ms MS] [--log F] -- PROGRAM ARGS...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned int restart_ms = 0, restarts = 0;
	int sock, sfd, one = 1, i;
	bool stopping = false;
	sigset_t sigs;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--") && i + 1 < argc) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--pid-file") && i + 1 < argc) {
			pid_file = argv[++i];
		} else if (!strcmp(argv[i], "--max") && i + 1 < argc) {
			max_store = (unsigned int)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--restart-ms") && i + 1 < argc) {
			restart_ms = (unsigned int)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--log") && i + 1 < argc) {
			log_file = fopen(argv[++i], "ae");
			if (!log_file) {
				return 2;
			}
		} else {
			usage();
		}
	}
	if (i >= argc || argv[i - 1][0] != '-' || strcmp(argv[i - 1], "--")) {
		usage();
	}
	store = calloc(max_store ? max_store : 1, sizeof(*store));
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* the test that runs us may die: so do we, and our service */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path),
		 "/tmp/fdstore-supervisor-%d.notify", (int)getpid());
	unlink(sa.sun_path);
	if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		say("notify socket: %s", strerror(errno));
		return 1;
	}
	/* room for a burst of stores (systemd raises it too) */
	{
		int sz = 8 << 20;

		(void)setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &sz,
				 sizeof(sz));
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGCHLD);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	main_pid = start(argv + i, sa.sun_path);
	write_pid();
	for (;;) {
		struct pollfd *p = calloc(nstore + 2, sizeof(*p));
		unsigned int k;
		int st;
		pid_t w;

		p[0] = (struct pollfd){ .fd = sock, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (k = 0; k < nstore; k++) {
			/* events 0: only POLLHUP/POLLERR come back */
			p[2 + k] = (struct pollfd){ .fd = store[k].poll
								  ? store[k].fd
								  : -1 };
		}
		(void)poll(p, nstore + 2, -1);
		for (k = nstore; k-- > 0;) {
			if (p[2 + k].revents & (POLLHUP | POLLERR)) {
				store_remove_at(k);
			}
		}
		free(p);
		/* all the messages first: a MAINPID= before its sender's
		 * exit is seen in order */
		drain(sock);
		{
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGUSR1) {
					damage_next = true;
				} else if (si.ssi_signo == SIGTERM ||
					   si.ssi_signo == SIGINT) {
					stopping = true;
					kill(main_pid, SIGTERM);
				}
			}
		}
		while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
			if (w != main_pid) {
				unsigned int f;

				for (f = 0; f < 64 && former[f] != w; f++) {
				}
				if (f == 64) {
					continue; /* one of its children */
				}
				/* a main process before a MAINPID= */
				former[f] = 0;
				say("pid %d (main before) exited with status "
				    "%d",
				    (int)w,
				    WIFEXITED(st) ? WEXITSTATUS(st)
						  : 128 + WTERMSIG(st));
				continue;
			}
			if (stopping || (WIFEXITED(st) && !WEXITSTATUS(st))) {
				say("main pid %d exited with status %d; %u "
				    "fds in the store released",
				    (int)w,
				    WIFEXITED(st) ? WEXITSTATUS(st) : 128,
				    nstore);
				unlink(sa.sun_path);
				if (pid_file) {
					unlink(pid_file);
				}
				return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
			}
			/* messages it sent before dying still count */
			drain(sock);
			say("main pid %d %s %d; restart %u with %u stored fds",
			    (int)w,
			    WIFSIGNALED(st) ? "killed by signal"
					    : "exited with status",
			    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
			    ++restarts, nstore);
			if (restart_ms) {
				struct timespec ts = {
					.tv_sec = restart_ms / 1000,
					.tv_nsec = (long)(restart_ms % 1000) *
						   1000000,
				};

				nanosleep(&ts, NULL);
			}
			if (damage_next) {
				damage_one();
				damage_next = false;
			}
			main_pid = start(argv + i, sa.sun_path);
			write_pid();
		}
	}
}
