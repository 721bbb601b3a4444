/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: vhost-user message handling (vu_conn_handle) with
 * file descriptors. The input is a sequence of messages for one
 * connection: a 12-byte header (request, flags, size; size is clamped to
 * what is left of the input), one byte choosing which fds ride along
 * (none, a 64 KiB memfd of "guest memory", eventfds), then the payload.
 * Replies must carry flags 0x5; every fd must be consumed.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock_model_writer.h"
#include "clock_list.h"
#include "leap.h"
#include "rtc_backend.h"
#include "vhost_user.h"
#include "virtio_rtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rtcdev_config cfg;
static struct clock_model *model;
static int memfd = -1;

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
}

static unsigned int make_fds(uint8_t sel, int *fds)
{
	unsigned int n = sel % 4, i;

	for (i = 0; i < n; i++) {
		fds[i] = (sel & (0x10 << i)) ? dup(memfd)
					     : eventfd(0, EFD_CLOEXEC);
		assert(fds[i] >= 0);
	}
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
	return 0;
}
