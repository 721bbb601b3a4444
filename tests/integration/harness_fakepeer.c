// SPDX-License-Identifier: MIT
/* Fake peer daemons on real Unix datagram sockets; see harness_fakepeer.h. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/ptp_clock.h>

#include "harness_fakepeer.h"

void fake_peer_open(struct fake_peer *f, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	cr_assert_lt(strlen(path), sizeof(a.sun_path));
	strcpy(f->path, path);
	strcpy(a.sun_path, path);
	unlink(path);
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(f->fd, 0);
	cr_assert_eq(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0,
		     "bind %s: %s", path, strerror(errno));
}

void fake_peer_close(struct fake_peer *f)
{
	if (f->fd > 0) {
		close(f->fd);
		unlink(f->path);
	}
	f->fd = -1;
}

ssize_t fake_peer_take(struct fake_peer *f, void *buf, size_t len,
		       int timeout_ms)
{
	struct pollfd p = { .fd = f->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0) {
		return -ETIMEDOUT;
	}
	f->from_len = sizeof(f->from);
	n = recvfrom(f->fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&f->from,
		     &f->from_len);
	cr_assert_gt(n, 0, "recvfrom: %s", strerror(errno));
	return n;
}

int fake_peer_drain(struct fake_peer *f)
{
	char buf[2048];
	int n = 0;

	while (recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0) {
		n++;
	}
	return n;
}

int fake_peer_send(struct fake_peer *f, const void *buf, size_t len,
		   int nonblock)
{
	ssize_t n;

	cr_assert_gt(f->from_len, sizeof(sa_family_t),
		     "no request to answer yet");
	n = sendto(f->fd, buf, len, nonblock ? MSG_DONTWAIT : 0,
		   (struct sockaddr *)&f->from, f->from_len);
	if (n < 0) {
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

int fake_peer_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert(d);
	while ((e = readdir(d))) {
		n += e->d_name[0] != '.';
	}
	closedir(d);
	return n - 1; /* the directory's own fd */
}

int fake_peer_sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int64_t fake_peer_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void put_ptp(struct ptp_clock_time *t, int64_t ns)
{
	t->sec = ns / 1000000000LL;
	t->nsec = (uint32_t)(ns % 1000000000LL);
}

static int fphc_open(void *ctx, const char *path)
{
	return strcmp(path, FAKE_PHC_PATH) ? -ENOENT : 1000;
}

static int fphc_socket(void *ctx)
{
	return -EAFNOSUPPORT;
}

static int fphc_close(void *ctx, int fd)
{
	return 0;
}

static int fphc_gettime(void *ctx, clockid_t clk, struct timespec *ts)
{
	return clock_gettime(clk, ts) < 0 ? -errno : 0;
}

static int fphc_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	const struct fake_phc *f = ctx;

	if (f->fail_err) {
		return -f->fail_err;
	}
	if (req == PTP_CLOCK_GETCAPS) {
		memset(arg, 0, sizeof(struct ptp_clock_caps));
		return 0;
	}
	if (req == PTP_SYS_OFFSET_EXTENDED) {
		struct ptp_sys_offset_extended *x = arg;

		if (x->rsv[0] != CLOCK_MONOTONIC_RAW) {
			return -EINVAL;
		}
		for (unsigned int i = 0; i < x->n_samples; i++) {
			int64_t a = raw_ns();

			while (raw_ns() < a + FAKE_PHC_WINDOW_NS) {
				; /* the window really passes */
			}
			put_ptp(&x->ts[i][0], a);
			put_ptp(&x->ts[i][1],
				a + FAKE_PHC_WINDOW_NS / 2 + f->offset_ns);
			put_ptp(&x->ts[i][2], a + FAKE_PHC_WINDOW_NS);
		}
		return 0;
	}
	return -EOPNOTSUPP;
}

const struct phc_ops fake_phc_ops = {
	.open = fphc_open,
	.socket = fphc_socket,
	.ioctl = fphc_ioctl,
	.close = fphc_close,
	.gettime = fphc_gettime,
};
