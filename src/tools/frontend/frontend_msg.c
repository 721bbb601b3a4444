// SPDX-License-Identifier: MIT
/*
 * vhost-user front-end: the control socket. Messages with their fds,
 * bounded waits for replies, and the reply checks QEMU makes (flags
 * exactly VERSION|REPLY, same request, exact size).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frontend_internal.h"

#define VUF_REPLY_FLAGS (VHOST_USER_VERSION | VHOST_USER_REPLY_MASK)

/* Prefix the current error text with "@what @n: ". */
static int vuf_fail_ctx(struct vuf *v, int ret, const char *what,
			unsigned int n)
{
	char old[sizeof(v->err)];

	memcpy(old, v->err, sizeof(old));
	return vuf_fail(v, ret, "%s %u: %s", what, n, old);
}

static int vuf_remaining_ms(int64_t deadline)
{
	int64_t left = deadline - time_ns_now(CLOCK_MONOTONIC);

	return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

static int vuf_write_all(struct vuf *v, const void *buf, size_t len,
			 const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS * 2)];
		struct cmsghdr align;
	} ctl;
	int64_t deadline = time_ns_now(CLOCK_MONOTONIC) +
			   (int64_t)v->opts.timeout_ms * 1000000;
	const uint8_t *p = buf;

	if (v->sock < 0) {
		return vuf_fail(v, -ENOTCONN, "not connected");
	}
	if (nfds > VHOST_USER_MAX_FDS * 2) {
		return vuf_fail(v, -EINVAL, "too many fds");
	}
	while (len > 0 || nfds > 0) {
		struct iovec iov = { (void *)p, len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (nfds > 0) {
			struct cmsghdr *cm;

			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
		}
		n = sendmsg(v->sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { v->sock, POLLOUT, 0 };
			int ms = vuf_remaining_ms(deadline);

			if (ms == 0 || poll(&pfd, 1, ms) == 0) {
				return vuf_fail(v, -ETIMEDOUT,
						"send: back-end not reading");
			}
			continue;
		}
		if (n < 0) {
			return vuf_fail(v, -errno, "send: %s", strerror(errno));
		}
		nfds = 0; /* the fds went with the first byte */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Read exactly @len bytes. Any fd the back-end sends is closed and makes
 * the read fail (no reply we expect carries fds).
 */
static int vuf_read_all(struct vuf *v, void *buf, size_t len, int64_t deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	uint8_t *p = buf;
	bool got_fds = false;

	if (v->sock < 0) {
		return vuf_fail(v, -ENOTCONN, "not connected");
	}
	while (len > 0) {
		struct pollfd pfd = { v->sock, POLLIN, 0 };
		struct iovec iov = { p, len };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		struct cmsghdr *cm;
		ssize_t n;
		int r = poll(&pfd, 1, vuf_remaining_ms(deadline));

		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r == 0) {
			return vuf_fail(v, -ETIMEDOUT,
					"no reply from back-end");
		}
		n = recvmsg(v->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			continue;
		}
		if (n < 0) {
			return vuf_fail(
				v, errno == ECONNRESET ? -ECONNRESET : -errno,
				"recv: %s", strerror(errno));
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_RIGHTS) {
				size_t k, nf = (cm->cmsg_len - CMSG_LEN(0)) /
					       sizeof(int);
				int fd;

				for (k = 0; k < nf; k++) {
					memcpy(&fd,
					       CMSG_DATA(cm) + k * sizeof(int),
					       sizeof(int));
					close(fd);
				}
				got_fds = true;
			}
		}
		if (n == 0) {
			return vuf_fail(v, -ECONNRESET,
					"back-end closed the connection");
		}
		p += n;
		len -= (size_t)n;
	}
	if (got_fds) {
		return vuf_fail(v, -EPROTO, "reply carried file descriptors");
	}
	return 0;
}

int vuf_send_raw(struct vuf *v, const void *buf, size_t len, const int *fds,
		 unsigned int nfds)
{
	return vuf_write_all(v, buf, len, fds, nfds);
}

int vuf_msg_send(struct vuf *v, uint32_t request, uint32_t flags,
		 const void *payload, uint32_t size, const int *fds,
		 unsigned int nfds)
{
	uint8_t buf[sizeof(struct vhost_user_header) + VHOST_USER_PAYLOAD_MAX];
	struct vhost_user_header h = { request, VHOST_USER_VERSION | flags,
				       size };

	if (size > VHOST_USER_PAYLOAD_MAX) {
		return vuf_fail(v, -EINVAL, "payload too big for vuf_msg_send");
	}
	memcpy(buf, &h, sizeof(h));
	if (size) {
		memcpy(buf + sizeof(h), payload, size);
	}
	return vuf_write_all(v, buf, sizeof(h) + size, fds, nfds);
}

int vuf_msg_recv(struct vuf *v, uint32_t request, void *payload, uint32_t size,
		 int timeout_ms)
{
	int64_t deadline =
		time_ns_now(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000;
	struct vhost_user_header h = { 0 };
	int ret;

	ret = vuf_read_all(v, &h, sizeof(h), deadline);
	if (ret) {
		return vuf_fail_ctx(v, ret, "reply to request", request);
	}
	if (h.request != request) {
		return vuf_fail(v, -EPROTO, "reply to request %u names %u",
				request, h.request);
	}
	if (h.flags != VUF_REPLY_FLAGS) {
		return vuf_fail(v, -EPROTO,
				"reply to request %u: flags 0x%x, not 0x%x",
				request, h.flags, VUF_REPLY_FLAGS);
	}
	if (h.size != size) {
		return vuf_fail(v, -EPROTO,
				"reply to request %u: size %u, expected %u",
				request, h.size, size);
	}
	ret = vuf_read_all(v, payload, size, deadline);
	if (ret) {
		return vuf_fail_ctx(v, ret, "reply payload to request",
				    request);
	}
	return 0;
}

int vuf_get_u64(struct vuf *v, uint32_t request, uint64_t *val)
{
	int ret = vuf_msg_send(v, request, 0, NULL, 0, NULL, 0);

	if (ret) {
		return ret;
	}
	return vuf_msg_recv(v, request, val, sizeof(*val), v->opts.timeout_ms);
}

static bool vuf_reply_ack(const struct vuf *v)
{
	return v->protocol_acked & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK);
}

/*
 * Send a message that QEMU sends with NEED_REPLY when REPLY_ACK is
 * negotiated (and otherwise follows with a GET_FEATURES barrier).
 */
int vuf_request(struct vuf *v, uint32_t request, const void *payload,
		uint32_t size, const int *fds, unsigned int nfds,
		bool need_reply)
{
	bool ack = need_reply && vuf_reply_ack(v);
	uint64_t val = 0;
	int ret;

	ret = vuf_msg_send(v, request, ack ? VHOST_USER_NEED_REPLY_MASK : 0,
			   payload, size, fds, nfds);
	if (ret || !need_reply) {
		return ret;
	}
	if (!ack) {
		return vuf_get_u64(v, VHOST_USER_GET_FEATURES, &val);
	}
	ret = vuf_msg_recv(v, request, &val, sizeof(val), v->opts.timeout_ms);
	if (ret) {
		return ret;
	}
	if (val != 0) {
		return vuf_fail(v, -EREMOTEIO, "request %u failed: ack %llu",
				request, (unsigned long long)val);
	}
	return 0;
}

int vuf_set_u64(struct vuf *v, uint32_t request, uint64_t val, bool need_reply)
{
	return vuf_request(v, request, &val, sizeof(val), NULL, 0, need_reply);
}

int vuf_vring_fd(struct vuf *v, uint32_t request, unsigned int q, int fd)
{
	uint64_t val = q;

	return vuf_request(v, request, &val, sizeof(val), &fd, 1, false);
}

int vuf_vring_state(struct vuf *v, uint32_t request, unsigned int q,
		    unsigned int num, bool need_reply)
{
	struct vhost_user_vring_state s = { q, num };

	return vuf_request(v, request, &s, sizeof(s), NULL, 0, need_reply);
}

int vuf_ping(struct vuf *v)
{
	uint64_t f;

	return vuf_get_u64(v, VHOST_USER_GET_FEATURES, &f);
}

int vuf_wait_closed(struct vuf *v, int timeout_ms)
{
	int64_t deadline =
		time_ns_now(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000;
	uint8_t buf[4096];

	if (v->sock < 0) {
		return vuf_fail(v, -ENOTCONN, "not connected");
	}
	for (;;) {
		struct pollfd pfd = { v->sock, POLLIN, 0 };
		int ms = vuf_remaining_ms(deadline);
		ssize_t n;

		if (poll(&pfd, 1, ms) == 0) {
			return vuf_fail(v, -ETIMEDOUT,
					"connection still open after %d ms",
					timeout_ms);
		}
		n = recv(v->sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			return 0;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return vuf_fail(v, -errno, "recv: %s", strerror(errno));
		}
	}
}
