// SPDX-License-Identifier: MIT
/*
 * Live upgrade: the launcher, the daemon's side and the new process's
 * side of the hand-over (upgrade.h).
 *
 * Launcher <-> daemon messages (SOCK_SEQPACKET, one per datagram):
 *   U <u32 n>   the image follows as the one fd; then the n fds of its
 *               table in F messages of at most UPGRADE_FDS_PER_MSG
 *   O <pid>     the new process adopted everything; exit now
 *   F <reason>  it failed and is gone; serve on
 * Launcher <-> new process: R (ready), E <reason> (failed), G (serve).
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "handover.h"
#include "upgrade.h"

#define UPGRADE_FDS_PER_MSG 250
#define MSG_MAX 512

struct upgrade {
	int sock;  /* to the launcher */
	pid_t pid; /* the launcher */
};

/* Send @len bytes with @nfds fds as one datagram. */
static int send_fds(int sock, const void *buf, size_t len, const int *fds,
		    unsigned int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * UPGRADE_FDS_PER_MSG)] = { 0 };
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds) {
		struct cmsghdr *cm;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

/*
 * Receive one datagram (NUL-terminated in @buf) and up to @max fds
 * (each CLOEXEC) within @timeout_ms (-1: forever). Returns its length,
 * 0 at EOF, -ETIMEDOUT or -errno.
 */
static ssize_t recv_fds(int sock, char *buf, size_t cap, int *fds,
			unsigned int max, unsigned int *nfds, int timeout_ms)
{
	char cbuf[CMSG_SPACE(sizeof(int) * UPGRADE_FDS_PER_MSG)];
	struct iovec iov = { .iov_base = buf, .iov_len = cap - 1 };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct pollfd p = { .fd = sock, .events = POLLIN };
	struct cmsghdr *cm;
	ssize_t n;
	int r;

	*nfds = 0;
	do {
		r = poll(&p, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r == 0) {
		return -ETIMEDOUT;
	}
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return -errno;
	}
	buf[n] = '\0';
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		unsigned int k, i;
		const int *in = (const int *)(void *)CMSG_DATA(cm);

		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS) {
			continue;
		}
		k = (unsigned int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < k; i++) {
			if (*nfds < max) {
				fds[(*nfds)++] = in[i];
			} else {
				close(in[i]);
			}
		}
	}
	if (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
		for (unsigned int i = 0; i < *nfds; i++) {
			close(fds[i]);
		}
		*nfds = 0;
		return -EMSGSIZE;
	}
	return n;
}

/* A whole decimal number up to UINT_MAX, nothing around it. */
static bool parse_uint(const char *s, unsigned int *v)
{
	unsigned long x;
	char *end;

	if (*s < '0' || *s > '9') {
		return false;
	}
	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || *end || x > UINT_MAX) {
		return false;
	}
	*v = (unsigned int)x;
	return true;
}

/* ---- the launcher ---------------------------------------------------- */

static void close_from(int lowest, int keep)
{
	if (keep > lowest) {
		(void)syscall(SYS_close_range, lowest, keep - 1, 0);
	}
	(void)syscall(SYS_close_range, keep + 1, ~0u, 0);
}

/* In the child: image at 3, ready at 4, the table from 5; exec. */
static void launch_exec(const char *exe, char **argv, int image, int ready,
			const int *fds, unsigned int n)
{
	int hi = 5 + (int)n + 16, *tmp = calloc(n + 2, sizeof(int));
	GPtrArray *args = g_ptr_array_new();
	char adopt[64];
	unsigned int i;

	if (!tmp) {
		_exit(127);
	}
	/* out of the way first, then into place (dup2 clears CLOEXEC) */
	tmp[0] = fcntl(image, F_DUPFD, hi);
	tmp[1] = fcntl(ready, F_DUPFD, hi);
	for (i = 0; i < n; i++) {
		tmp[i + 2] = fcntl(fds[i], F_DUPFD, hi);
	}
	for (i = 0; i < n + 2; i++) {
		if (tmp[i] < 0 || dup2(tmp[i], 3 + (int)i) < 0) {
			_exit(127);
		}
	}
	(void)syscall(SYS_close_range, 5 + n, ~0u, 0);
	snprintf(adopt, sizeof(adopt), "--adopt=3,4,5,%u", n);
	for (i = 0; argv[i]; i++) {
		g_ptr_array_add(args, argv[i]);
	}
	g_ptr_array_add(args, adopt);
	g_ptr_array_add(args, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(exe, (char **)args->pdata);
	{
		char msg[300];
		int k = snprintf(msg, sizeof(msg), "E cannot run %s: %s", exe,
				 strerror(errno));

		(void)!write(4, msg, (size_t)k);
	}
	_exit(127);
}

static void reply(int sock, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reply(int sock, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)send_fds(
		sock, msg,
		(size_t)(k < (int)sizeof(msg) ? k : (int)sizeof(msg) - 1), NULL,
		0);
}

/* One upgrade; returns true when the daemon has handed over and exited. */
static bool launch(int sock, const char *exe, char **argv, int image, int *fds,
		   unsigned int n)
{
	int rs[2] = { -1, -1 };
	char msg[MSG_MAX];
	unsigned int got;
	pid_t child;
	ssize_t k;
	int st;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rs) < 0) {
		reply(sock, "F launcher: socketpair: %s", strerror(errno));
		return false;
	}
	child = fork();
	if (child == 0) {
		close(sock);
		close(rs[0]);
		launch_exec(exe, argv, image, rs[1], fds, n);
	}
	close(rs[1]);
	if (child < 0) {
		reply(sock, "F launcher: fork: %s", strerror(errno));
		close(rs[0]);
		return false;
	}
	k = recv_fds(rs[0], msg, sizeof(msg), NULL, 0, &got,
		     UPGRADE_TIMEOUT_MS);
	if (k > 0 && msg[0] == 'R') {
		/* we must outlive the daemon now, to say G */
		prctl(PR_SET_PDEATHSIG, 0);
		reply(sock, "O %d", (int)child);
		/* the daemon exits now: its end of our socket closes */
		(void)recv_fds(sock, msg, sizeof(msg), NULL, 0, &got,
			       UPGRADE_TIMEOUT_MS);
		(void)send_fds(rs[0], "G", 1, NULL, 0);
		close(rs[0]);
		return true;
	}
	kill(child, SIGKILL);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
	}
	if (k > 1 && msg[0] == 'E') {
		reply(sock, "F the new process refused: %s", msg + 2);
	} else if (k == -ETIMEDOUT) {
		reply(sock, "F the new process was not ready within %d ms",
		      UPGRADE_TIMEOUT_MS);
	} else if (WIFEXITED(st)) {
		reply(sock, "F the new process exited with status %d",
		      WEXITSTATUS(st));
	} else {
		reply(sock, "F the new process died (signal %d)",
		      WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	}
	close(rs[0]);
	return false;
}

static void __attribute__((noreturn))
launcher_main(int sock, pid_t parent, const char *exe, char **argv)
{
	char msg[MSG_MAX];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) {
		_exit(0);
	}
	prctl(PR_SET_NAME, "vhost-user-rtc-launcher");
	close_from(3, sock);
	for (;;) {
		int image = -1, *fds = NULL;
		unsigned int n = 0, have = 0, got;
		ssize_t k;

		k = recv_fds(sock, msg, sizeof(msg), &image, 1, &got, -1);
		if (k <= 0) {
			_exit(0); /* the daemon is gone */
		}
		if (msg[0] != 'U' || got != 1 || !parse_uint(msg + 2, &n) ||
		    n > HO_MAX_FDS) {
			if (got) {
				close(image);
			}
			reply(sock, "F launcher: bad request");
			continue;
		}
		fds = calloc(n ? n : 1, sizeof(int));
		while (fds && have < n) {
			k = recv_fds(sock, msg, sizeof(msg), fds + have,
				     n - have, &got, UPGRADE_TIMEOUT_MS);
			if (k <= 0 || msg[0] != 'F' || got == 0) {
				break;
			}
			have += got;
		}
		if (fds && have == n &&
		    launch(sock, exe, argv, image, fds, n)) {
			_exit(0);
		}
		if (!fds || have != n) {
			reply(sock, "F launcher: received %u of %u fds", have,
			      n);
		}
		for (unsigned int i = 0; i < have; i++) {
			close(fds[i]);
		}
		free(fds);
		close(image);
	}
}

struct upgrade *upgrade_launcher_start(char **argv, GError **err)
{
	char exe[PATH_MAX];
	struct upgrade *u;
	GPtrArray *args;
	ssize_t k;
	int sv[2];
	pid_t parent = getpid(), pid;

	k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (k <= 0) {
		error_set(err, errno, "live upgrade: /proc/self/exe: %s",
			  g_strerror(errno));
		return NULL;
	}
	exe[k] = '\0';
	/* the new process gets our arguments, less an earlier --adopt */
	args = g_ptr_array_new();
	for (int i = 0; argv[i]; i++) {
		if (strncmp(argv[i], "--adopt=", 8) != 0) {
			g_ptr_array_add(args, argv[i]);
		}
	}
	g_ptr_array_add(args, NULL);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		error_set(err, errno, "live upgrade: socketpair: %s",
			  g_strerror(errno));
		g_ptr_array_free(args, TRUE);
		return NULL;
	}
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		launcher_main(sv[1], parent, exe, (char **)args->pdata);
	}
	g_ptr_array_free(args, TRUE);
	close(sv[1]);
	if (pid < 0) {
		error_set(err, errno, "live upgrade: fork: %s",
			  g_strerror(errno));
		close(sv[0]);
		return NULL;
	}
	u = g_new0(struct upgrade, 1);
	u->sock = sv[0];
	u->pid = pid;
	return u;
}

void upgrade_free(struct upgrade *u)
{
	if (!u) {
		return;
	}
	close(u->sock);
	g_free(u);
}

int upgrade_now(struct upgrade *u, const GByteArray *image, const int *fds,
		unsigned int nfds, pid_t *pid, char *why, size_t len)
{
	char msg[MSG_MAX];
	unsigned int i, got;
	int memfd, rc, k;
	ssize_t n;

	memfd = ho_image_memfd(image);
	if (memfd < 0) {
		snprintf(why, len, "image: %s", g_strerror(-memfd));
		return memfd;
	}
	k = snprintf(msg, sizeof(msg), "U %u", nfds);
	rc = send_fds(u->sock, msg, (size_t)k, &memfd, 1);
	close(memfd);
	for (i = 0; !rc && i < nfds; i += UPGRADE_FDS_PER_MSG) {
		unsigned int m = nfds - i < UPGRADE_FDS_PER_MSG
					 ? nfds - i
					 : UPGRADE_FDS_PER_MSG;

		rc = send_fds(u->sock, "F", 1, fds + i, m);
	}
	if (rc) {
		snprintf(why, len, "cannot reach the launcher: %s",
			 g_strerror(-rc));
		return rc;
	}
	n = recv_fds(u->sock, msg, sizeof(msg), NULL, 0, &got,
		     UPGRADE_TIMEOUT_MS + 5000);
	if (n > 2 && msg[0] == 'O') {
		unsigned int v;

		if (!parse_uint(msg + 2, &v) || v == 0 || v > INT_MAX) {
			snprintf(why, len, "the launcher named no pid");
			return -EPROTO;
		}
		*pid = (pid_t)v;
		return 0;
	}
	if (n > 2 && msg[0] == 'F') {
		snprintf(why, len, "%s", msg + 2);
		return -EPROTO;
	}
	snprintf(why, len, "the launcher %s",
		 n == 0 ? "is gone" : "did not answer");
	return n == 0 ? -EPIPE : -ETIMEDOUT;
}

/* ---- the new process ---------------------------------------------------- */

int upgrade_adopt_open(struct upgrade_adopt *a, const char *arg, GError **err)
{
	struct stat st;
	void *p;
	unsigned int i;

	unsigned int v[4];
	char **w = g_strsplit(arg, ",", 0);
	bool ok = g_strv_length(w) == 4;

	for (i = 0; ok && i < 4; i++) {
		ok = parse_uint(w[i], &v[i]) && v[i] <= INT_MAX;
	}
	g_strfreev(w);
	*a = (struct upgrade_adopt){ -1, -1, -1, 0, NULL };
	if (ok) {
		a->image_fd = (int)v[0];
		a->ready_fd = (int)v[1];
		a->first_fd = (int)v[2];
		a->nfds = v[3];
	}
	if (!ok || a->nfds > HO_MAX_FDS) {
		return error_set(err, EINVAL,
				 "--adopt=%s: not IMAGE,READY,"
				 "FIRST,N",
				 arg);
	}
	for (i = 0; i < a->nfds; i++) {
		(void)fcntl(a->first_fd + (int)i, F_SETFD, FD_CLOEXEC);
	}
	(void)fcntl(a->ready_fd, F_SETFD, FD_CLOEXEC);
	if (fstat(a->image_fd, &st) < 0 || st.st_size <= 0 ||
	    (uint64_t)st.st_size > HO_MAX_BODY + sizeof(struct ho_header)) {
		return error_set(err, EINVAL, "--adopt: no image on fd %d",
				 a->image_fd);
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, a->image_fd,
		 0);
	if (p == MAP_FAILED) {
		return error_set(err, errno, "--adopt: image: %s",
				 g_strerror(errno));
	}
	a->image = g_bytes_new(p, (gsize)st.st_size);
	munmap(p, (size_t)st.st_size);
	close(a->image_fd);
	a->image_fd = -1;
	return 0;
}

int upgrade_adopt_ready(struct upgrade_adopt *a)
{
	char msg[16];
	unsigned int got;
	ssize_t n;

	if (send_fds(a->ready_fd, "R", 1, NULL, 0) < 0) {
		return -EPIPE;
	}
	n = recv_fds(a->ready_fd, msg, sizeof(msg), NULL, 0, &got,
		     UPGRADE_TIMEOUT_MS + 5000);
	close(a->ready_fd);
	a->ready_fd = -1;
	return n > 0 && msg[0] == 'G' ? 0 : -ETIMEDOUT;
}

void upgrade_adopt_failed(struct upgrade_adopt *a, const char *why)
{
	char msg[MSG_MAX];
	int k = snprintf(msg, sizeof(msg), "E %s", why);

	if (a->ready_fd >= 0) {
		(void)send_fds(a->ready_fd, msg,
			       (size_t)(k < (int)sizeof(msg)
						? k
						: (int)sizeof(msg) - 1),
			       NULL, 0);
	}
}

void upgrade_adopt_clear(struct upgrade_adopt *a)
{
	if (a->image) {
		g_bytes_unref(a->image);
		a->image = NULL;
	}
	if (a->ready_fd >= 0) {
		close(a->ready_fd);
		a->ready_fd = -1;
	}
}
