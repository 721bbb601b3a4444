// SPDX-License-Identifier: MIT
/*
 * One exchange with the daemon's control socket, for its clients.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control_client.h"
#include "time_ns.h"

/* Wait for @ev on @fd until @deadline_ms; 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short ev, int64_t deadline_ms)
{
	struct pollfd pfd = { .fd = fd, .events = ev };
	int r;

	do {
		int64_t left = deadline_ms - time_ns_now_ms(CLOCK_MONOTONIC);

		if (left <= 0) {
			return -ETIMEDOUT;
		}
		r = poll(&pfd, 1, (int)left);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		return -errno;
	}
	return r ? 0 : -ETIMEDOUT;
}

static int send_all(int fd, const char *cmd, int64_t deadline_ms)
{
	size_t sent = 0, len = strlen(cmd);
	int ret;

	while (sent < len) {
		ssize_t w = send(fd, cmd + sent, len - sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			sent += (size_t)w;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			return -errno;
		} else if ((ret = wait_fd(fd, POLLOUT, deadline_ms))) {
			return ret;
		}
	}
	return 0;
}

/* The whole reply into @buf (malloc'd, NUL-terminated), @n bytes. */
static int recv_all(int fd, int64_t deadline_ms, size_t max, char **buf,
		    size_t *n)
{
	size_t cap = 4096;
	char *b = malloc(cap);
	int ret = 0;

	*n = 0;
	if (!b) {
		return -ENOMEM;
	}
	for (;;) {
		ssize_t r;

		if (*n + 1 >= cap) {
			char *nb;

			/* room for one byte more than allowed, to see it */
			if (*n > max) {
				ret = -EMSGSIZE;
				goto out;
			}
			cap = cap * 2 > max + 2 ? max + 2 : cap * 2;
			nb = realloc(b, cap);
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			b = nb;
		}
		r = recv(fd, b + *n, cap - 1 - *n, MSG_DONTWAIT);
		if (r == 0) {
			break;
		}
		if (r > 0) {
			*n += (size_t)r;
		} else if (errno != EAGAIN && errno != EINTR) {
			ret = -errno;
			goto out;
		} else if ((ret = wait_fd(fd, POLLIN, deadline_ms))) {
			goto out;
		}
	}
	if (*n > max) {
		ret = -EMSGSIZE;
	}
out:
	if (ret) {
		free(b);
		b = NULL;
	} else {
		b[*n] = '\0';
	}
	*buf = b;
	return ret;
}

int control_ask(const char *path, const char *cmd, int timeout_ms, size_t max,
		char **reply, size_t *len, bool *connected)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = time_ns_now_ms(CLOCK_MONOTONIC) + timeout_ms;
	int fd, ret;

	*reply = NULL;
	*len = 0;
	if (connected) {
		*connected = false;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (connected) {
		*connected = true;
	}
	ret = send_all(fd, cmd, deadline);
	/* The whole request is out: a peer that is not a control socket
	 * (a VM's vhost-user socket) then sees EOF instead of waiting. */
	if (!ret) {
		(void)shutdown(fd, SHUT_WR);
	}
	if (!ret) {
		ret = recv_all(fd, deadline, max, reply, len);
	}
	close(fd);
	return ret;
}
