/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of live migration on one vhost-user connection with the
 * real virtio-rtc backend (device/vhost_user.c, rtc_backend.c,
 * rtc_migrate.c, vu_xfer.c): SET_LOG_BASE and its reply, every device
 * write marked in the log by guest-physical address, and the device
 * state saved and loaded through SET_DEVICE_STATE_FD and
 * CHECK_DEVICE_STATE, with hostile transfers refused.
 */
#include "clock_list.h"
#include "clock_model_writer.h"
#include "handover.h"
#include "rtc_backend.h"
#include "rtc_migrate.h"
#include "rtc_migration_wire.h"
#include "vu_test.h"
#include "vu_xfer.h"

#define LOG_BYTES 64 /* 512 pages: 2 MiB of guest memory */

static struct clock_model *model;
static struct rtcdev_config rtc_cfg;
static struct rtcdev_dev *rtc_dev;

static void mig_setup(void)
{
	/* Its wake-up fd is made once, at the first watch: not a leak. */
	(void)g_main_context_default();
	setup();
	vu_conn_free(conn);
	model = clock_model_new();
	cr_assert_not_null(model);
	rtcdev_config_default(&rtc_cfg, VIRTIO_RTC_SMEAR_NOON_LINEAR);
	rtc_dev = rtcdev_dev_new(&rtc_cfg, model);
	cr_assert_not_null(rtc_dev);
	conn = vu_conn_new("mig#1", &rtc_backend_ops, rtc_dev, NULL, NULL);
	cr_assert_not_null(conn);
}

static void mig_teardown(void)
{
	teardown();
	rtcdev_dev_free(rtc_dev);
	clock_model_free(model);
}

TestSuite(migration, .init = mig_setup, .fini = mig_teardown);

static int sealed_log(size_t size)
{
	int fd = memfd_create("test-log", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	cr_assert_eq(fcntl(fd, F_ADD_SEALS,
			   F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL),
		     0);
	return fd;
}

static int set_log_base(int fd, uint64_t size, uint64_t off, uint32_t flags)
{
	struct vhost_user_log l = { .mmap_size = size, .mmap_offset = off };
	int fds[1] = { fd };

	return msg(VHOST_USER_SET_LOG_BASE, flags, &l, sizeof(l), fds, 1);
}

/* SET_VRING_ADDR of queue 0 as QEMU sends it when logging starts. */
static int set_addr_logged(bool log)
{
	struct vhost_user_vring_addr a = {
		.index = 0,
		.flags = log ? VHOST_VRING_F_LOG : 0,
		.desc_user_addr = QVA0 + DESC_GPA,
		.used_user_addr = QVA0 + USED_GPA,
		.avail_user_addr = QVA0 + AVAIL_GPA,
		.log_guest_addr = USED_GPA,
	};

	return msg(VHOST_USER_SET_VRING_ADDR, NEED_REPLY, &a, sizeof(a), NULL,
		   0);
}

static bool page_bit(const uint8_t *bits, uint64_t gpa)
{
	uint8_t mask;
	uint64_t byte = dirty_log_page_byte(gpa, &mask);

	return bits[byte] & mask;
}

LTest(migration, log_base_reply_and_checks)
{
	int fd = sealed_log(4096), unsealed;

	/* Before LOG_SHMFD is negotiated: a protocol violation. */
	rejected(set_log_base(fd, LOG_BYTES, 0, 0));
	qemu_init();
	cr_assert(vu_conn_protocol_offered(conn) &
		  (1ull << VHOST_USER_PROTOCOL_F_LOG_SHMFD));
	cr_assert(vu_conn_protocol_offered(conn) &
		  (1ull << VHOST_USER_PROTOCOL_F_DEVICE_STATE));
	cr_assert(get_u64(VHOST_USER_GET_FEATURES) & (1ull << VHOST_F_LOG_ALL));
	/* QEMU reads one reply of request SET_LOG_BASE, ack asked or not. */
	ok(set_log_base(sealed_log(4096), LOG_BYTES, 0, 0));
	cr_assert_eq(reply_u64(VHOST_USER_SET_LOG_BASE), 0);
	ok(set_log_base(sealed_log(4096), LOG_BYTES, 8, NEED_REPLY));
	cr_assert_eq(reply_u64(VHOST_USER_SET_LOG_BASE), 0);
	/* Hostile logs: unsealed, beyond the file, no fd, two fds. */
	unsealed = memfd_create("unsealed", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(unsealed, 4096), 0);
	rejected(set_log_base(unsealed, LOG_BYTES, 0, 0));
	rejected(set_log_base(fd, 4096, 1, 0));
	rejected(msg(VHOST_USER_SET_LOG_BASE, 0,
		     &(struct vhost_user_log){ 64, 0 },
		     sizeof(struct vhost_user_log), NULL, 0));
	{
		int two[2] = { sealed_log(4096), efd() };

		rejected(msg(VHOST_USER_SET_LOG_BASE, 0,
			     &(struct vhost_user_log){ 64, 0 },
			     sizeof(struct vhost_user_log), two, 2));
	}
	/* SET_LOG_FD: exactly one fd, kept; the old one closed. */
	{
		int a = efd(), b = efd(), fds[1] = { a };

		ok_no_reply(msg(VHOST_USER_SET_LOG_FD, 0, NULL, 0, fds, 1));
		fds[0] = b;
		ok_ack(msg(VHOST_USER_SET_LOG_FD, NEED_REPLY, NULL, 0, fds, 1),
		       VHOST_USER_SET_LOG_FD);
		cr_assert(!fd_open(a));
		rejected(msg(VHOST_USER_SET_LOG_FD, 0, NULL, 0, NULL, 0));
	}
}

/* Requests and the rings with logging on: the right pages, no others. */
LTest(migration, device_writes_are_logged)
{
	int fd = sealed_log(4096), call = efd(), fds[1] = { call };
	uint8_t *bits;
	uint64_t n;

	bits = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(bits, MAP_FAILED);
	qemu_init();
	qemu_start(QEMU_FEATURES, 0);
	ok(set_log_base(fd, LOG_BYTES, 0, 0));
	ok(msg(VHOST_USER_SET_LOG_FD, 0, NULL, 0, fds, 1));
	/* Logging off: a request dirties nothing. */
	submit(0, &cfg_req, sizeof(cfg_req), 64);
	cr_assert_eq(vu_conn_process(conn, 0, VU_PROCESS_BUDGET), 1);
	for (unsigned int i = 0; i < LOG_BYTES; i++) {
		cr_assert_eq(bits[i], 0, "byte %u logged while off", i);
	}
	/* QEMU's log start: features with LOG_ALL, then the ring addresses
	 * with VHOST_VRING_F_LOG. */
	ok_ack(msg_u64(VHOST_USER_SET_FEATURES, NEED_REPLY,
		       QEMU_FEATURES | (1ull << VHOST_F_LOG_ALL), NULL, 0),
	       VHOST_USER_SET_FEATURES);
	ok_ack(set_addr_logged(true), VHOST_USER_SET_VRING_ADDR);
	cr_assert(vu_conn_logging(conn));
	submit(2, &cfg_req, sizeof(cfg_req), 64);
	cr_assert_eq(vu_conn_process(conn, 0, VU_PROCESS_BUDGET), 1);
	cr_assert(page_bit(bits, USED_GPA), "used ring not logged");
	cr_assert(page_bit(bits, BUF_GPA + 0x200 + 0x80), "response");
	cr_assert(!page_bit(bits, DESC_GPA), "the guest's page logged");
	cr_assert(!page_bit(bits, AVAIL_GPA), "the guest's page logged");
	cr_assert_eq(read(call, &n, sizeof(n)), sizeof(n), "no log kick");
	cr_assert_eq(vu_conn_log_missed(conn), 0);
	/* Log stop: nothing more is logged. */
	ok_ack(msg_u64(VHOST_USER_SET_FEATURES, NEED_REPLY, QEMU_FEATURES, NULL,
		       0),
	       VHOST_USER_SET_FEATURES);
	ok_ack(set_addr_logged(false), VHOST_USER_SET_VRING_ADDR);
	cr_assert(!vu_conn_logging(conn));
	memset(bits, 0, LOG_BYTES); /* what the front-end collected */
	submit(4, &cfg_req, sizeof(cfg_req), 64);
	cr_assert_eq(vu_conn_process(conn, 0, VU_PROCESS_BUDGET), 1);
	for (unsigned int i = 0; i < LOG_BYTES; i++) {
		cr_assert_eq(bits[i], 0, "byte %u logged after the stop", i);
	}
	cr_assert_eq(qemu_stop(), 3);
	munmap((void *)bits, 4096);
}

/* A response in a page past the end of a too-small log: counted. */
LTest(migration, pages_beyond_the_log_are_counted)
{
	qemu_init();
	qemu_start(QEMU_FEATURES | (1ull << VHOST_F_LOG_ALL), 0);
	ok(set_log_base(sealed_log(4096), 1, 0, 0)); /* pages 0..7 only */
	ok_ack(set_addr_logged(true), VHOST_USER_SET_VRING_ADDR);
	submit(0, &cfg_req, sizeof(cfg_req), 64);
	cr_assert_eq(vu_conn_process(conn, 0, VU_PROCESS_BUDGET), 1);
	cr_assert_eq(vu_conn_log_missed(conn), 1, "the response at page 16");
}

/* ---- device state ---------------------------------------------------- */

static uint64_t set_state_fd(uint32_t direction, uint32_t phase, int fd)
{
	struct vhost_user_transfer_state t = { direction, phase };
	int fds[1] = { fd };

	ok(msg(VHOST_USER_SET_DEVICE_STATE_FD, 0, &t, sizeof(t), fds, 1));
	return reply_u64(VHOST_USER_SET_DEVICE_STATE_FD);
}

static uint64_t check_state(void)
{
	return get_u64(VHOST_USER_CHECK_DEVICE_STATE);
}

/* Save, as QEMU does after stopping the device; returns the image. */
static GByteArray *save_state(void)
{
	GByteArray *img = g_byte_array_new();
	uint8_t buf[4096];
	int p[2];
	ssize_t n;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(set_state_fd(VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE,
				  VHOST_USER_TRANSFER_STATE_PHASE_STOPPED,
				  p[1]),
		     VHOST_USER_VRING_NOFD_MASK);
	while ((n = read(p[0], buf, sizeof(buf))) > 0) {
		g_byte_array_append(img, buf, (guint)n);
	}
	cr_assert_eq(n, 0, "no EOF after the state");
	close(p[0]);
	cr_assert_eq(check_state(), 0);
	return img;
}

/* Load @len bytes; returns CHECK_DEVICE_STATE's answer. */
static uint64_t load_state(const void *data, size_t len, bool close_pipe)
{
	int p[2];
	uint64_t r;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(set_state_fd(VHOST_USER_TRANSFER_STATE_DIRECTION_LOAD,
				  VHOST_USER_TRANSFER_STATE_PHASE_STOPPED,
				  p[0]),
		     VHOST_USER_VRING_NOFD_MASK);
	cr_assert_eq(write(p[1], data, len), (ssize_t)len);
	if (close_pipe) {
		close(p[1]);
	}
	r = check_state();
	if (!close_pipe) {
		close(p[1]);
	}
	return r;
}

static void negotiate(void)
{
	uint64_t pf;

	qemu_init();
	pf = get_u64(VHOST_USER_GET_PROTOCOL_FEATURES);
	cr_assert(pf & (1ull << VHOST_USER_PROTOCOL_F_DEVICE_STATE));
}

LTest(migration, state_round_trip)
{
	GByteArray *img;

	negotiate();
	qemu_start(QEMU_FEATURES, 0);
	/* Refused while the device runs (phase STOPPED only). */
	cr_assert_eq(set_state_fd(VHOST_USER_TRANSFER_STATE_DIRECTION_SAVE,
				  VHOST_USER_TRANSFER_STATE_PHASE_STOPPED,
				  efd()),
		     VHOST_USER_VRING_NOFD_MASK | 1);
	cr_assert_neq(check_state(), 0);
	(void)qemu_stop();
	img = save_state();
	cr_assert_gt(img->len, sizeof(struct ho_header));
	/* The same daemon's device takes its own state back. */
	cr_assert_eq(load_state(img->data, img->len, true), 0);
	g_byte_array_unref(img);
}

LTest(migration, hostile_transfers_refused)
{
	GByteArray *img;
	uint8_t junk[64] = { 0 };

	/* Not negotiated: a protocol violation. */
	{
		struct vhost_user_transfer_state t = { 0, 0 };
		int fds[1] = { efd() };

		rejected(msg(VHOST_USER_SET_DEVICE_STATE_FD, 0, &t, sizeof(t),
			     fds, 1));
		rejected(msg(VHOST_USER_CHECK_DEVICE_STATE, 0, NULL, 0, NULL,
			     0));
	}
	negotiate();
	/* CHECK with no transfer; bad direction and phase. */
	cr_assert_neq(check_state(), 0);
	cr_assert_eq(set_state_fd(2, 0, efd()), VHOST_USER_VRING_NOFD_MASK | 1);
	cr_assert_eq(set_state_fd(0, 1, efd()), VHOST_USER_VRING_NOFD_MASK | 1);
	/* Garbage, a truncated and a corrupted image, a pipe left open. */
	cr_assert_neq(load_state(junk, sizeof(junk), true), 0);
	img = save_state();
	cr_assert_neq(load_state(img->data, img->len - 1, true), 0);
	img->data[img->len - 3] ^= 1;
	cr_assert_neq(load_state(img->data, img->len, true), 0);
	img->data[img->len - 3] ^= 1;
	cr_assert_neq(load_state(img->data, img->len, false), 0);
	/* And the good one still loads afterwards. */
	cr_assert_eq(load_state(img->data, img->len, true), 0);
	g_byte_array_unref(img);
	/* More than VU_XFER_MAX: refused, never buffered without end. */
	{
		static uint8_t big[VU_XFER_MAX + 4096];
		int p[2];
		ssize_t n, total = 0;

		cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
		cr_assert_eq(set_state_fd(1, 0, p[0]),
			     VHOST_USER_VRING_NOFD_MASK);
		while (total < (ssize_t)sizeof(big)) {
			n = write(p[1], big + total, sizeof(big) - total);
			if (n <= 0) {
				/* Pipe full: what the main loop would read. */
				while (g_main_context_iteration(NULL, FALSE)) {
				}
				continue;
			}
			total += n;
		}
		close(p[1]);
		cr_assert_neq(check_state(), 0);
	}
}

/* The loader, directly: images a hostile source could send. */
static GByteArray *image_of(void (*body)(struct ho_writer *w))
{
	struct ho_writer *w = ho_writer_new();
	GByteArray *img = NULL;

	body(w);
	cr_assert_eq(ho_writer_finish(w, &img), 0);
	ho_writer_free(w);
	return img;
}

static void clocks(struct ho_writer *w, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct ho_mig_clock c = {
			.clock_id = (uint16_t)i,
			.type = rtc_cfg.clocks[i].type,
			.smearing = rtc_cfg.clocks[i].smearing,
			.alarm_cap = rtc_cfg.clocks[i].alarm_cap,
		};

		ho_put(w, HO_MIG_CLOCK, &c, sizeof(c));
	}
}

static void body_ok(struct ho_writer *w)
{
	ho_begin(w, HO_MIG);
	ho_put_u32(w, HO_MIG_VERSION, RTC_MIG_VERSION);
	clocks(w, rtc_cfg.num_clocks);
	ho_end(w);
}

static void body_v2(struct ho_writer *w)
{
	ho_begin(w, HO_MIG);
	ho_put_u32(w, HO_MIG_VERSION, RTC_MIG_VERSION + 1);
	clocks(w, rtc_cfg.num_clocks);
	ho_end(w);
}

static void body_few_clocks(struct ho_writer *w)
{
	ho_begin(w, HO_MIG);
	ho_put_u32(w, HO_MIG_VERSION, RTC_MIG_VERSION);
	clocks(w, rtc_cfg.num_clocks - 1);
	ho_end(w);
}

static void body_alarm_without_alarms(struct ho_writer *w)
{
	struct ho_alarm a = { .clock_id = 3, .flags = HO_ALARM_ENABLED };

	ho_begin(w, HO_MIG);
	ho_put_u32(w, HO_MIG_VERSION, RTC_MIG_VERSION);
	clocks(w, rtc_cfg.num_clocks);
	ho_put(w, HO_ALARM, &a, sizeof(a));
	ho_end(w);
}

static void body_unknown_tag(struct ho_writer *w)
{
	ho_begin(w, HO_MIG);
	ho_put_u32(w, HO_MIG_VERSION, RTC_MIG_VERSION);
	clocks(w, rtc_cfg.num_clocks);
	ho_put_u32(w, 99, 0);
	ho_end(w);
}

static void body_two_states(struct ho_writer *w)
{
	body_ok(w);
	body_ok(w);
}

Test(migration_image, loader_checks, .init = mig_setup, .fini = mig_teardown)
{
	void (*bad[])(struct ho_writer *) = {
		body_v2,	  body_few_clocks, body_alarm_without_alarms,
		body_unknown_tag, body_two_states,
	};
	GByteArray *img;
	char why[160];

	img = image_of(body_ok);
	cr_assert_eq(rtc_migrate_load(rtc_dev, img->data, img->len, why,
				      sizeof(why)),
		     0, "%s", why);
	g_byte_array_unref(img);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		img = image_of(bad[i]);
		cr_assert_eq(rtc_migrate_load(rtc_dev, img->data, img->len, why,
					      sizeof(why)),
			     -EBADMSG, "image %zu accepted", i);
		cr_assert_neq(why[0], '\0');
		g_byte_array_unref(img);
	}
}

/* A live upgrade in the middle of a migration: logging goes on. */
struct replay_ctx {
	struct vu_conn *to;
	unsigned int msgs;
	bool saw_log_base;
};

static int replay_one(void *opaque, uint32_t request, const void *payload,
		      uint32_t size, const int *fds, unsigned int nfds)
{
	struct replay_ctx *r = opaque;
	int copies[VHOST_USER_MAX_FDS];

	cr_assert_leq(nfds, VHOST_USER_MAX_FDS);
	for (unsigned int i = 0; i < nfds; i++) {
		copies[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
		cr_assert_geq(copies[i], 0);
	}
	r->msgs++;
	r->saw_log_base |= request == VHOST_USER_SET_LOG_BASE;
	cr_assert_eq(
		vu_conn_replay(r->to, request, payload, size, copies, nfds), 0,
		"%s", vu_conn_error(r->to));
	return 0;
}

LTest(migration, upgrade_keeps_logging)
{
	struct rtcdev_dev *dev2 = rtcdev_dev_new(&rtc_cfg, model);
	struct replay_ctx r = { 0 };

	qemu_init();
	qemu_start(QEMU_FEATURES | (1ull << VHOST_F_LOG_ALL), 0);
	ok(set_log_base(sealed_log(4096), LOG_BYTES, 0, 0));
	ok_ack(set_addr_logged(true), VHOST_USER_SET_VRING_ADDR);
	cr_assert(vu_conn_logging(conn));
	r.to = vu_conn_new("mig#2", &rtc_backend_ops, dev2, NULL, NULL);
	cr_assert_not_null(r.to);
	cr_assert_eq(vu_conn_save(conn, replay_one, &r), 0);
	cr_assert(r.saw_log_base);
	cr_assert(vu_conn_logging(r.to));
	cr_assert(vu_conn_queue(r.to, 0)->log_used);
	cr_assert_eq(vu_conn_queue(r.to, 0)->log_guest_addr, USED_GPA);
	vu_conn_free(r.to);
	rtcdev_dev_free(dev2);
}
