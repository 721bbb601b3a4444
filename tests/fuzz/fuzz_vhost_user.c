/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: vhost-user message handling (vu_conn_handle) with
 * file descriptors. The input is a sequence of messages for one
 * connection: a 12-byte header (request, flags, size; size is clamped to
 * what is left of the input), one byte choosing which fds ride along
 * (none, a 64 KiB memfd of "guest memory", eventfds; bit 2 makes the
 * first a sealed dirty-log memfd, bit 3 a pipe: its write end with bit
 * 7, else its read end with a valid device state in it), then the
 * payload. Replies must carry flags 0x5; every fd must be consumed.
 * Seeds: tests/fuzz/vhost_user_seeds.py (FUZZ_VERBOSE=1 shows each
 * message's outcome).
 */
#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock_model_writer.h"
#include "clock_list.h"
#include "leap.h"
#include "rtc_backend.h"
#include "rtc_migrate.h"
#include "vhost_user.h"
#include "virtio_rtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rtcdev_config cfg;
static struct clock_model *model;
static int memfd = -1, logfd = -1;
static bool verbose;	  /* FUZZ_VERBOSE=1: each message and its outcome */
static GByteArray *state; /* a valid device state, for LOAD pipes */
/* Our ends of the pipes handed over in one input (closed after it). */
static int pipe_ends[64];
static unsigned int npipe_ends;

static void setup(void)
{
	static const struct leap_entry e[] = { { 1483228800, 37 } };
	struct clock_snapshot s = {
		.status = CLOCK_STATUS_SYNCHRONIZED,
		.c0 = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW),
		.tai0_ns = 1800000000LL * 1000000000LL,
		.period_q = 1ull << CLOCK_PERIOD_SHIFT,
		.leaps = leap_table_new(e, 1, 4200000000LL),
	};

	rtcdev_config_default(&cfg, VIRTIO_RTC_SMEAR_NOON_LINEAR);
	model = clock_model_new();
	clock_model_publish(model, &s);
	memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
	assert(memfd >= 0 && ftruncate(memfd, 0x10000) == 0);
	logfd = memfd_create("fuzz-log", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert(logfd >= 0 && ftruncate(logfd, 4096) == 0);
	assert(fcntl(logfd, F_ADD_SEALS,
		     F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) == 0);
	{
		struct rtcdev_dev *d = rtcdev_dev_new(&cfg, model);

		assert(d && rtc_migrate_save(d, &state) == 0);
		rtcdev_dev_free(d);
	}
	/* A transfer's pipe whose reader is gone: EPIPE, not death (the
	 * daemon ignores SIGPIPE too). */
	signal(SIGPIPE, SIG_IGN);
}

/* One end of a new pipe for the connection; we keep the other. */
static int pipe_end(bool write_end)
{
	int p[2];

	assert(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	if (!write_end) {
		assert(write(p[1], state->data, state->len) ==
		       (ssize_t)state->len);
		close(p[1]);
		return p[0];
	}
	if (npipe_ends < sizeof(pipe_ends) / sizeof(pipe_ends[0])) {
		pipe_ends[npipe_ends++] = p[0];
	} else {
		close(p[0]);
	}
	return p[1];
}

static unsigned int make_fds(uint8_t sel, int *fds)
{
	unsigned int n = sel % 4, i;

	for (i = 0; i < n; i++) {
		fds[i] = (sel & (0x10 << i)) ? dup(memfd)
					     : eventfd(0, EFD_CLOEXEC);
		assert(fds[i] >= 0);
	}
	if (n && (sel & 0x04)) {
		close(fds[0]);
		fds[0] = dup(logfd);
	} else if (n && (sel & 0x08)) {
		close(fds[0]);
		fds[0] = pipe_end(sel & 0x80);
	}
	assert(n == 0 || fds[0] >= 0);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t reply[VU_REPLY_MAX];
	struct vhost_user_header h;
	struct rtcdev_dev *dev;
	struct vu_conn *c;
	int fds[VHOST_USER_MAX_FDS];
	size_t off = 0, reply_len;
	unsigned int nfds, i;

	if (!model) {
		setup();
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	}
	dev = rtcdev_dev_new(&cfg, model);
	c = vu_conn_new("fuzz", &rtc_backend_ops, dev, NULL, NULL);
	assert(dev && c);
	while (size - off >= sizeof(h) + 1) {
		memcpy(&h, data + off, sizeof(h));
		off += sizeof(h);
		nfds = make_fds(data[off++], fds);
		if (h.size > size - off) {
			h.size = (uint32_t)(size - off);
		}
		reply_len = 0;
		int rc = vu_conn_handle(c, &h, data + off, fds, nfds, reply,
					&reply_len);
		off += h.size;
		if (verbose) {
			uint64_t r = 0;

			if (reply_len == sizeof(h) + sizeof(r)) {
				memcpy(&r, reply + sizeof(h), sizeof(r));
			}
			fprintf(stderr, "%s: %d %s reply %zu 0x%llx\n",
				vu_request_name(h.request), rc,
				vu_conn_error(c), reply_len,
				(unsigned long long)r);
		}
		for (i = 0; i < nfds; i++) {
			assert(fds[i] == -1);
		}
		if (rc < 0) {
			break;
		}
		if (reply_len) {
			struct vhost_user_header r;

			assert(reply_len >= sizeof(r) &&
			       reply_len <= sizeof(reply));
			memcpy(&r, reply, sizeof(r));
			assert(r.flags == 0x5);
			assert(r.size == reply_len - sizeof(r));
		}
		/* Let the device run its rings as a kick would. */
		(void)vu_conn_process(c, 0, 64);
	}
	vu_conn_free(c);
	rtcdev_dev_free(dev);
	while (npipe_ends) {
		close(pipe_ends[--npipe_ends]);
	}
	return 0;
}
