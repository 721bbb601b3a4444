/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: adopting a hand-over image (ho_reader_open() and
 * vu_server_adopt()), what a new daemon reads from the old one. The
 * input is the image's body (the harness adds a valid header, or the
 * checksum would stop nearly every input at the door); the fds beside
 * it are made anew for each input, of the kinds a real image carries at
 * these indexes (seed: tests/fuzz/corpus/handover, written by
 * test_handover with HO_SEED_DIR): listening and connected sockets,
 * memfds of "guest memory", eventfds. Afterwards every one of them must
 * be closed again: none leaked, none closed twice.
 */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock_list.h"
#include "clock_model_writer.h"
#include "handover.h"
#include "leap.h"
#include "vu_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NFDS 18

static struct rtcdev_config cfg;
static struct clock_model *model;

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
}

/* The kinds a real image has at each index (see the seed). */
static void make_fds(int *fd)
{
	struct sockaddr sa = { .sa_family = AF_UNIX };
	int pair[2], mem, i;

	fd[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* autobind: an abstract name, nothing on disk */
	assert(fd[0] >= 0 && !bind(fd[0], &sa, sizeof(sa_family_t)) &&
	       !listen(fd[0], 4));
	assert(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
	fd[1] = pair[0];
	fd[9] = pair[1];
	mem = memfd_create("fuzz-guest", MFD_CLOEXEC);
	assert(mem >= 0 && !ftruncate(mem, 4 << 20));
	fd[2] = mem;
	fd[3] = dup(mem);
	fd[10] = dup(mem);
	fd[11] = dup(mem);
	for (i = 4; i < NFDS; i++) {
		if (i != 9 && i != 10 && i != 11) {
			fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		}
	}
	for (i = 0; i < NFDS; i++) {
		assert(fd[i] >= 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct vu_server_config sc = { .clocks = &cfg, .poll_ns = 50000 };
	int fd[NFDS], made[NFDS], i;
	struct ho_header h = { .version = htole32(HO_VERSION) };
	struct ho_fds fds = { .fd = fd, .n = NFDS };
	struct vu_server *s;
	struct ho_reader r;
	GChecksum *sum;
	GByteArray *img;
	gsize dl = sizeof(h.sha256);
	char why[256];

	if (!ready) {
		setup();
		ready = true;
	}
	if (size > HO_MAX_BODY) {
		return 0;
	}
	memcpy(h.magic, HO_MAGIC, sizeof(HO_MAGIC));
	h.body_len = htole64(size);
	sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(sum, data, size);
	g_checksum_get_digest(sum, h.sha256, &dl);
	g_checksum_free(sum);
	img = g_byte_array_new();
	g_byte_array_append(img, (const guint8 *)&h, sizeof(h));
	g_byte_array_append(img, data, (guint)size);

	make_fds(fd);
	memcpy(made, fd, sizeof(made));
	sc.model = model;
	s = vu_server_new(&sc);
	assert(s);
	if (!ho_reader_open(&r, img->data, img->len, &fds, why, sizeof(why))) {
		int rc = vu_server_adopt(s, &r);

		assert(rc == 0 || (rc == -EBADMSG && why[0]));
	}
	vu_server_free(s);
	ho_fds_close_rest(&fds);
	/* nothing of ours is still open (the server closed what it took) */
	for (i = 0; i < NFDS; i++) {
		assert(fcntl(made[i], F_GETFD) < 0 && errno == EBADF);
	}
	g_byte_array_unref(img);
	return 0;
}
