/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for device/vu_server.c over real sockets, the main loop
 * pumped by hand: replies, messages in pieces, hostile connections that
 * close alone, fd overflow, hang-ups, the connection limit, event-driven
 * and adaptive-polling request processing.
 */
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "clock_model_writer.h"
#include "clock_list.h"
#include "vu_test.h"

static struct clock_model *srv_model;
static struct rtcdev_config srv_clocks;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void srv_start(uint64_t poll_ns, unsigned int max_conns)
{
	struct vu_server_config cfg = {
		.clocks = &srv_clocks,
		.poll_ns = poll_ns,
		.max_connections = max_conns,
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd;

	srv_model = clock_model_new();
	cr_assert_not_null(srv_model);
	cfg.model = srv_model;
	rtcdev_config_default(&srv_clocks, VIRTIO_RTC_SMEAR_NOON_LINEAR);
	srv = vu_server_new(&cfg);
	cr_assert_not_null(srv);
	snprintf(sock_path, sizeof(sock_path), "/tmp/vrtc-test-%d.sock",
		 getpid());
	unlink(sock_path);
	strcpy(sa.sun_path, sock_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(lfd, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 16), 0);
	cr_assert_eq(vu_server_add_listener(srv, lfd, "test"), 0);
}

/* The default main context owns an eventfd: create it before counting. */
static void srv_setup(void)
{
	(void)g_main_context_default();
	setup();
	srv_start(0, 0);
}

static void srv_setup_polling(void)
{
	(void)g_main_context_default();
	setup();
	srv_start(200 * 1000 * 1000, 0); /* 200 ms window */
}

static void srv_setup_one_conn(void)
{
	(void)g_main_context_default();
	setup();
	srv_start(0, 1);
}

static void srv_teardown(void)
{
	vu_server_free(srv);
	srv = NULL;
	unlink(sock_path);
	while (g_main_context_iteration(NULL, FALSE)) {
	}
	clock_model_free(srv_model);
	teardown();
}

static void pump(void)
{
	for (int i = 0; i < 16; i++) {
		g_main_context_iteration(NULL, FALSE);
	}
}

static int cl_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	strcpy(sa.sun_path, sock_path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	pump();
	return fd;
}

static void cl_send_raw(int fd, const void *buf, size_t len, const int *fds,
			unsigned int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 16)] = { 0 };
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

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
	cr_assert_eq(sendmsg(fd, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

static void cl_send(int fd, uint32_t req, uint32_t flags, const void *p,
		    uint32_t size, const int *fds, unsigned int nfds)
{
	uint8_t buf[sizeof(struct vhost_user_header) + 512];
	struct vhost_user_header h = { req, VHOST_USER_VERSION | flags, size };

	cr_assert_leq(size, 512);
	memcpy(buf, &h, sizeof(h));
	if (size) {
		memcpy(buf + sizeof(h), p, size);
	}
	cl_send_raw(fd, buf, sizeof(h) + size, fds, nfds);
}

/* Run the loop until @len bytes came back; 0 on EOF, -1 on timeout. */
static ssize_t cl_recv(int fd, void *buf, size_t len)
{
	size_t got = 0;

	for (int i = 0; i < 2000 && got < len; i++) {
		ssize_t n;

		g_main_context_iteration(NULL, FALSE);
		n = recv(fd, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);
		if (n == 0) {
			return 0;
		}
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 1);
	}
	return got == len ? (ssize_t)len : -1;
}

static bool cl_closed(int fd)
{
	uint8_t b[64];

	for (;;) {
		ssize_t n = cl_recv(fd, b, sizeof(b));

		if (n <= 0) {
			return n == 0;
		}
	}
}

static uint64_t cl_u64(int fd, uint32_t req, uint32_t flags, const void *p,
		       uint32_t size, const int *fds, unsigned int nfds)
{
	uint8_t r[VU_REPLY_MAX];
	struct vhost_user_header h;
	uint64_t v;

	cl_send(fd, req, flags, p, size, fds, nfds);
	cr_assert_eq(cl_recv(fd, r, sizeof(r)), (ssize_t)sizeof(r));
	memcpy(&h, r, sizeof(h));
	cr_assert_eq(h.request, req);
	cr_assert_eq(h.flags, 0x5);
	cr_assert_eq(h.size, 8);
	memcpy(&v, r + sizeof(h), sizeof(v));
	return v;
}

static void cl_state(int fd, uint32_t req, uint32_t idx, uint32_t num)
{
	struct vhost_user_vring_state s = { idx, num };

	cl_send(fd, req, 0, &s, sizeof(s), NULL, 0);
}

static void cl_vring_fd(int fd, uint32_t req, uint64_t idx, int efd_)
{
	cl_send(fd, req, 0, &idx, sizeof(idx), &efd_, 1);
	close(efd_);
}

/*
 * QEMU's sequences A and B over the socket; queue 0 started. Returns
 * our ends of the kick and call eventfds.
 */
static void cl_start(int fd, int *kick, int *call)
{
	struct vhost_user_mem_table t = { .nregions = 1 };
	struct vhost_user_vring_addr a = {
		.desc_user_addr = QVA0 + DESC_GPA,
		.used_user_addr = QVA0 + USED_GPA,
		.avail_user_addr = QVA0 + AVAIL_GPA,
	};
	uint64_t v = QEMU_FEATURES;
	int m = memfd;

	cr_assert_eq(cl_u64(fd, VHOST_USER_GET_FEATURES, 0, NULL, 0, NULL, 0),
		     VU_TRANSPORT_FEATURES | (1ull << VIRTIO_RTC_F_ALARM));
	v = 0x9;
	cl_send(fd, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &v, 8, NULL, 0);
	cl_send(fd, VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
	v = QEMU_FEATURES;
	cl_send(fd, VHOST_USER_SET_FEATURES, 0, &v, 8, NULL, 0);
	t.regions[0] = region0;
	cr_assert_eq(cl_u64(fd, VHOST_USER_SET_MEM_TABLE, NEED_REPLY, &t,
			    8 + 32, &m, 1),
		     0);
	cl_state(fd, VHOST_USER_SET_VRING_NUM, 0, QSIZE);
	cl_state(fd, VHOST_USER_SET_VRING_BASE, 0, 0);
	cl_send(fd, VHOST_USER_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
	*kick = efd();
	*call = efd();
	cl_vring_fd(fd, VHOST_USER_SET_VRING_KICK, 0, dup(*kick));
	cl_vring_fd(fd, VHOST_USER_SET_VRING_CALL, 0, dup(*call));
	for (uint32_t i = 0; i < VU_NUM_QUEUES; i++) {
		struct vhost_user_vring_state s = { i, 1 };

		cr_assert_eq(cl_u64(fd, VHOST_USER_SET_VRING_ENABLE, NEED_REPLY,
				    &s, sizeof(s), NULL, 0),
			     0);
	}
}

/* Run the loop until the device used @n entries in all. */
static bool used_reaches(uint16_t n)
{
	for (int i = 0; i < 2000; i++) {
		if (__atomic_load_n(&ring_used()->idx, __ATOMIC_ACQUIRE) == n) {
			return true;
		}
		g_main_context_iteration(NULL, FALSE);
		usleep(100);
	}
	return false;
}

static void kick(int fd)
{
	cr_assert_eq(eventfd_write(fd, 1), 0);
}

TestSuite(vu_server, .init = srv_setup, .fini = srv_teardown);

LTest(vu_server, replies_and_hangup)
{
	int fd = cl_connect();

	cr_assert_eq(vu_server_num_connections(srv), 1);
	cr_assert_eq(cl_u64(fd, VHOST_USER_GET_QUEUE_NUM, 0, NULL, 0, NULL, 0),
		     2);
	close(fd);
	pump();
	cr_assert_eq(vu_server_num_connections(srv), 0);
}

LTest(vu_server, message_in_pieces)
{
	struct vhost_user_header h = { VHOST_USER_GET_PROTOCOL_FEATURES,
				       VHOST_USER_VERSION, 0 };
	uint8_t buf[sizeof(h)], r[VU_REPLY_MAX];
	struct vhost_user_vring_state s = { 1, 1 };
	int fd = cl_connect();

	memcpy(buf, &h, sizeof(h));
	for (size_t i = 0; i < sizeof(buf); i++) {
		cl_send_raw(fd, buf + i, 1, NULL, 0);
		pump();
	}
	cr_assert_eq(cl_recv(fd, r, sizeof(r)), (ssize_t)sizeof(r));
	/* A payload split from its header. */
	h.request = VHOST_USER_SET_VRING_ENABLE;
	h.size = sizeof(s);
	cl_send_raw(fd, &h, sizeof(h), NULL, 0);
	pump();
	cl_send_raw(fd, &s, 3, NULL, 0);
	pump();
	cl_send_raw(fd, (uint8_t *)&s + 3, sizeof(s) - 3, NULL, 0);
	cr_assert_eq(cl_u64(fd, VHOST_USER_GET_FEATURES, 0, NULL, 0, NULL, 0),
		     VU_TRANSPORT_FEATURES | (1ull << VIRTIO_RTC_F_ALARM));
	close(fd);
}

LTest(vu_server, hostile_connection_closes_alone)
{
	int good = cl_connect(), bad = cl_connect();
	struct vhost_user_header h = { VHOST_USER_SET_FEATURES,
				       VHOST_USER_VERSION,
				       VHOST_USER_PAYLOAD_MAX + 1 };

	cr_assert_eq(vu_server_num_connections(srv), 2);
	cl_send_raw(bad, &h, sizeof(h), NULL, 0);
	cr_assert(cl_closed(bad));
	cr_assert_eq(vu_server_num_connections(srv), 1);
	cr_assert_eq(
		cl_u64(good, VHOST_USER_GET_QUEUE_NUM, 0, NULL, 0, NULL, 0), 2);
	close(bad);
	close(good);
}

LTest(vu_server, too_many_fds)
{
	int fd = cl_connect(), fds[12];
	uint64_t v = 0;

	for (int i = 0; i < 12; i++) {
		fds[i] = efd();
	}
	cl_send(fd, VHOST_USER_SET_VRING_CALL, 0, &v, 8, fds, 12);
	for (int i = 0; i < 12; i++) {
		close(fds[i]);
	}
	cr_assert(cl_closed(fd));
	cr_assert_eq(vu_server_num_connections(srv), 0);
	close(fd);
}

LTest(vu_server, eof_mid_message)
{
	struct vhost_user_header h = { VHOST_USER_SET_FEATURES,
				       VHOST_USER_VERSION, 8 };
	int fd = cl_connect();

	cl_send_raw(fd, &h, sizeof(h), NULL, 0);
	pump();
	close(fd);
	pump();
	cr_assert_eq(vu_server_num_connections(srv), 0);
}

LTest(vu_server, requests_event_driven)
{
	int fd = cl_connect(), k, c;

	cl_start(fd, &k, &c);
	submit(0, &cfg_req, sizeof(cfg_req), 16);
	kick(k);
	cr_assert(used_reaches(1));
	cr_assert_eq(ring_used()->ring[0].len, 16);
	cr_assert_eq(resp_of(0)[0], VIRTIO_RTC_S_OK);
	/* No polling: without a kick nothing happens. */
	submit(2, &cfg_req, sizeof(cfg_req), 16);
	pump();
	usleep(2000);
	pump();
	cr_assert_eq(ring_used()->idx, 1);
	kick(k);
	cr_assert(used_reaches(2));
	close(k);
	close(c);
	close(fd);
}

LTest(vu_server, hup_on_kick_fd_closes)
{
	int fd = cl_connect(), k, c, sp[2];
	uint64_t idx = 0;

	cl_start(fd, &k, &c);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	cl_send(fd, VHOST_USER_SET_VRING_KICK, 0, &idx, 8, &sp[0], 1);
	close(sp[0]);
	close(sp[1]); /* the kick "fd" hangs up */
	cr_assert(cl_closed(fd));
	close(k);
	close(c);
	close(fd);
}

TestSuite(vu_server_limit, .init = srv_setup_one_conn, .fini = srv_teardown);

LTest(vu_server_limit, max_connections)
{
	int a = cl_connect(), b = cl_connect();

	cr_assert(cl_closed(b));
	cr_assert_eq(vu_server_num_connections(srv), 1);
	close(a);
	close(b);
}

TestSuite(vu_server_polling, .init = srv_setup_polling, .fini = srv_teardown);

LTest(vu_server_polling, adaptive_polling)
{
	int fd = cl_connect(), k, c;
	uint16_t *avail_event = (uint16_t *)&ring_used()->ring[QSIZE];

	cl_start(fd, &k, &c);
	submit(0, &cfg_req, sizeof(cfg_req), 16);
	kick(k);
	cr_assert(used_reaches(1));
	/* Inside the poll window: picked up without a kick. */
	submit(2, &cfg_req, sizeof(cfg_req), 16);
	cr_assert(used_reaches(2));
	/* After the window: asleep, kicks asked for again. */
	for (int i = 0; i < 300; i++) {
		g_main_context_iteration(NULL, FALSE);
		usleep(1000);
	}
	cr_assert_eq(*avail_event, 2, "notifications not re-enabled");
	submit(4, &cfg_req, sizeof(cfg_req), 16);
	pump();
	cr_assert_eq(ring_used()->idx, 2, "polled after the window");
	kick(k);
	cr_assert(used_reaches(3));
	close(k);
	close(c);
	close(fd);
}
