// SPDX-License-Identifier: MIT
/*
 * A fake peer daemon on a real Unix datagram socket, as chronyd's
 * command socket and ptp4l's management socket are (harness_fakepeer.c):
 * it takes our clients' requests and answers whatever a test tells it
 * to, to the address the request came from. Plus the small measures the
 * hostile-peer and restart tests share (open fds, monotonic time).
 * Failures are Criterion assertions; single-threaded unless a test runs
 * a peer in its own thread (one thread per peer).
 */
#ifndef TEST_HARNESS_FAKEPEER_H
#define TEST_HARNESS_FAKEPEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "phc.h"

struct fake_peer {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un from; /* where the last request came from */
	socklen_t from_len;
};

/* Bind a datagram socket at @path (removed first if left over). */
void fake_peer_open(struct fake_peer *f, const char *path);

/* Close and unlink; a closed peer is a no-op. */
void fake_peer_close(struct fake_peer *f);

/*
 * fake_peer_take() - wait up to @timeout_ms for one request into @buf
 * (@len bytes) and remember its sender.
 * Returns its length, or -ETIMEDOUT.
 */
ssize_t fake_peer_take(struct fake_peer *f, void *buf, size_t len,
		       int timeout_ms);

/* Discard every queued request; returns how many there were. */
int fake_peer_drain(struct fake_peer *f);

/*
 * fake_peer_send() - one datagram of @len bytes to the last requester,
 * without blocking if @nonblock. Returns 0 or -errno (-EAGAIN: the
 * client's queue is full).
 */
int fake_peer_send(struct fake_peer *f, const void *buf, size_t len,
		   int nonblock);

/*
 * A fake PHC at the phc_ops seam (there is no PHC on the test host):
 * "/dev/ptp-fake" answers PTP_CLOCK_GETCAPS and PTP_SYS_OFFSET_EXTENDED
 * against CLOCK_MONOTONIC_RAW, each comparison exactly
 * FAKE_PHC_WINDOW_NS wide, the PHC reading MONOTONIC_RAW + @offset_ns;
 * every other request is refused, every request fails with @fail_err
 * (> 0) when set. phc_read()'s own error is then FAKE_PHC_ERR_NS.
 */
struct fake_phc {
	int64_t offset_ns;
	int fail_err;
};
#define FAKE_PHC_PATH "/dev/ptp-fake"
#define FAKE_PHC_WINDOW_NS 2000
#define FAKE_PHC_ERR_NS (FAKE_PHC_WINDOW_NS / 2 + 1)
extern const struct phc_ops fake_phc_ops; /* ctx: struct fake_phc */

/* Open file descriptors of this process (entries of /proc/self/fd). */
int fake_peer_fd_count(void);

/* CLOCK_MONOTONIC in ns. */
int64_t fake_peer_mono_ns(void);

/* Run a shell command (a peer daemon's set-up): its exit status, or -1. */
int fake_peer_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* TEST_HARNESS_FAKEPEER_H */
