// SPDX-License-Identifier: MIT
/*
 * Hostile vhost-user messages: the daemon must close the offending
 * connection (we see EOF) while it stays alive and every other VM keeps
 * being served; fds that came with bad messages are not leaked.
 */
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "itest.h"

struct ctx {
	struct vdaemon *d;
	const char *sock;
	struct vuf *by; /* a bystander VM, always running */
};

enum stage { CONNECTED, INITIALISED, RUNNING };

static void setup(struct ctx *c)
{
	c->d = itest_start(NULL);
	c->sock = vdaemon_socket(c->d, 0);
	c->by = itest_vm(c->sock, NULL);
	itest_read(c->by, 0);
}

static void finish(struct ctx *c)
{
	struct vuf *v = itest_vm(c->sock, NULL);

	itest_read(v, 1);
	itest_read(c->by, 2);
	vuf_free(v);
	vuf_free(c->by);
	itest_stop(c->d);
}

static struct vuf *victim(struct ctx *c, enum stage st)
{
	struct vuf *v = vuf_new(NULL);
	int ret;

	cr_assert(v);
	ret = vuf_connect(v, c->sock);
	if (!ret && st >= INITIALISED) {
		ret = vuf_init(v);
	}
	if (!ret && st >= RUNNING) {
		ret = vuf_driver_ok(v);
	}
	cr_assert_eq(ret, 0, "victim setup: %s", vuf_error(v));
	return v;
}

/* The daemon closed @v's connection; it and the bystander are fine. */
static void expect_closed(struct ctx *c, struct vuf *v, const char *what)
{
	int ret = vuf_wait_closed(v, 2000);

	cr_assert_eq(ret, 0, "%s: the daemon kept the connection open", what);
	vuf_free(v);
	itest_alive(c->d);
	itest_read(c->by, 0);
}

/* Either closed, or still answering: the daemon must survive. */
static void expect_survived(struct ctx *c, struct vuf *v, const char *what)
{
	itest_sleep_ms(20);
	itest_alive(c->d);
	itest_read(c->by, 0);
	if (vuf_ping(v) != 0) {
		cr_log_info("%s: connection closed", what);
	} else {
		cr_log_info("%s: connection kept", what);
	}
	vuf_free(v);
}

static void send_hdr(struct vuf *v, uint32_t req, uint32_t flags, uint32_t size)
{
	struct vhost_user_header h = { req, VHOST_USER_VERSION | flags, size };

	cr_assert_eq(vuf_send_raw(v, &h, sizeof(h), NULL, 0), 0, "%s",
		     vuf_error(v));
}

static void send_msg(struct vuf *v, uint32_t req, const void *p, uint32_t size,
		     const int *fds, unsigned int nfds)
{
	int ret = vuf_msg_send(v, req, 0, p, size, fds, nfds);

	cr_assert(ret == 0 || ret == -EPIPE || ret == -ECONNRESET, "%s",
		  vuf_error(v));
}

ITEST(hostile_msg, truncated)
{
	struct ctx c;
	struct vuf *v;
	struct vhost_user_header h = { VHOST_USER_GET_FEATURES,
				       VHOST_USER_VERSION, 0 };
	uint32_t half = 4;

	setup(&c);
	/* Half a header, then EOF. */
	v = victim(&c, INITIALISED);
	vuf_send_raw(v, &h, 6, NULL, 0);
	shutdown(vuf_socket(v), SHUT_WR);
	expect_closed(&c, v, "half a header");

	/* Header promising 8 bytes, 4 sent, then EOF. */
	v = victim(&c, INITIALISED);
	send_hdr(v, VHOST_USER_SET_VRING_NUM, 0, 8);
	vuf_send_raw(v, &half, sizeof(half), NULL, 0);
	shutdown(vuf_socket(v), SHUT_WR);
	expect_closed(&c, v, "truncated payload");

	/* A complete message whose payload is too short for its type. */
	{
		static const struct {
			uint32_t req, size;
		} shorts[] = {
			{ VHOST_USER_SET_VRING_NUM, 4 },
			{ VHOST_USER_SET_VRING_BASE, 0 },
			{ VHOST_USER_GET_VRING_BASE, 4 },
			{ VHOST_USER_SET_FEATURES, 4 },
			{ VHOST_USER_SET_PROTOCOL_FEATURES, 2 },
			{ VHOST_USER_SET_VRING_ADDR, 32 },
			{ VHOST_USER_SET_VRING_ENABLE, 4 },
			{ VHOST_USER_SET_MEM_TABLE, 8 + 16 },
			{ VHOST_USER_SET_MEM_TABLE, 4 },
		};
		uint8_t zero[64] = { 0 };
		unsigned int i;

		for (i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++) {
			char what[64];

			v = victim(&c, INITIALISED);
			snprintf(what, sizeof(what),
				 "request %u with %u payload bytes",
				 shorts[i].req, shorts[i].size);
			send_msg(v, shorts[i].req, zero, shorts[i].size, NULL,
				 0);
			expect_closed(&c, v, what);
		}
	}
	/* A ring fd message without its fd. */
	v = victim(&c, INITIALISED);
	{
		uint64_t idx = 0;

		send_msg(v, VHOST_USER_SET_VRING_KICK, &idx, 8, NULL, 0);
	}
	expect_closed(&c, v, "SET_VRING_KICK without an fd");
	finish(&c);
}

/* A partial message must not stall the single-threaded daemon. */
ITEST(hostile_msg, partial_message_does_not_block)
{
	struct vhost_user_header h = { VHOST_USER_GET_FEATURES,
				       VHOST_USER_VERSION, 0 };
	struct ctx c;
	struct vuf *v;
	uint64_t f;
	int i, ret;

	setup(&c);
	v = victim(&c, INITIALISED);
	vuf_send_raw(v, &h, 5, NULL, 0);
	for (i = 0; i < 20; i++) {
		itest_read(c.by, (uint16_t)(i % 4));
	}
	/* The rest of the header: a reply, or a closed connection. */
	vuf_send_raw(v, (uint8_t *)&h + 5, sizeof(h) - 5, NULL, 0);
	ret = vuf_msg_recv(v, VHOST_USER_GET_FEATURES, &f, sizeof(f), 2000);
	cr_assert(ret == 0 || ret == -ECONNRESET, "after the rest: %s",
		  vuf_error(v));
	vuf_free(v);

	/* Same with a payload cut in the middle. */
	v = victim(&c, INITIALISED);
	{
		struct vhost_user_header s = { VHOST_USER_SET_VRING_NUM,
					       VHOST_USER_VERSION, 8 };
		struct vhost_user_vring_state st = { 0, 256 };

		vuf_send_raw(v, &s, sizeof(s), NULL, 0);
		vuf_send_raw(v, &st, 3, NULL, 0);
		for (i = 0; i < 20; i++) {
			itest_read(c.by, (uint16_t)(i % 4));
		}
		vuf_send_raw(v, (uint8_t *)&st + 3, 5, NULL, 0);
	}
	ret = vuf_ping(v);
	cr_assert(ret == 0 || ret == -ECONNRESET, "%s", vuf_error(v));
	vuf_free(v);
	finish(&c);
}

ITEST(hostile_msg, oversized_size_field)
{
	static const uint32_t sizes[] = { VHOST_USER_PAYLOAD_MAX + 1, 0x10000,
					  0x7fffffff, 0xffffffff };
	struct ctx c;
	unsigned int i;

	setup(&c);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct vuf *v = victim(&c, INITIALISED);

		send_hdr(v, VHOST_USER_SET_MEM_TABLE, 0, sizes[i]);
		expect_closed(&c, v, "oversized size field");
	}
	/* A big size on a message that has no payload at all. */
	{
		struct vuf *v = victim(&c, CONNECTED);

		send_hdr(v, VHOST_USER_GET_FEATURES, 0, 0x100000);
		expect_closed(&c, v, "GET_FEATURES with a 1 MiB payload");
	}
	finish(&c);
}

ITEST(hostile_msg, bad_vring_index)
{
	static const uint32_t idxs[] = { 2, 3, 255 };
	struct ctx c;
	unsigned int i, k;

	setup(&c);
	for (i = 0; i < sizeof(idxs) / sizeof(idxs[0]); i++) {
		for (k = 0; k < 8; k++) {
			struct vuf *v = victim(&c, RUNNING);
			struct vhost_user_vring_state st = { idxs[i], 1 };
			struct vhost_user_vring_addr a = { .index = idxs[i] };
			uint64_t u = idxs[i];
			int fd = eventfd(0, EFD_CLOEXEC);
			char what[64];

			snprintf(what, sizeof(what), "case %u, index %u", k,
				 idxs[i]);
			switch (k) {
			case 0:
				st.num = 256;
				send_msg(v, VHOST_USER_SET_VRING_NUM, &st, 8,
					 NULL, 0);
				break;
			case 1:
				send_msg(v, VHOST_USER_SET_VRING_BASE, &st, 8,
					 NULL, 0);
				break;
			case 2:
				send_msg(v, VHOST_USER_GET_VRING_BASE, &st, 8,
					 NULL, 0);
				break;
			case 3:
				send_msg(v, VHOST_USER_SET_VRING_ENABLE, &st, 8,
					 NULL, 0);
				break;
			case 4:
				send_msg(v, VHOST_USER_SET_VRING_ADDR, &a,
					 sizeof(a), NULL, 0);
				break;
			case 5:
				send_msg(v, VHOST_USER_SET_VRING_KICK, &u, 8,
					 &fd, 1);
				break;
			case 6:
				send_msg(v, VHOST_USER_SET_VRING_CALL, &u, 8,
					 &fd, 1);
				break;
			default:
				send_msg(v, VHOST_USER_SET_VRING_ERR, &u, 8,
					 &fd, 1);
				break;
			}
			close(fd);
			expect_closed(&c, v, what);
		}
	}
	finish(&c);
}

ITEST(hostile_msg, bad_vring_num)
{
	static const uint32_t nums[] = {
		0, 3, 2048, 1025, 1000, 0xffff, 0x10000
	};
	struct ctx c;
	unsigned int i;

	setup(&c);
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		struct vuf *v = victim(&c, INITIALISED);
		struct vhost_user_vring_state st = { 0, nums[i] };
		char what[48];

		snprintf(what, sizeof(what), "SET_VRING_NUM %u", nums[i]);
		send_msg(v, VHOST_USER_SET_VRING_NUM, &st, 8, NULL, 0);
		expect_closed(&c, v, what);
	}
	finish(&c);
}

/* SET_MEM_TABLE built from @r (n regions) with @nfds copies of the fd. */
static void send_table(struct vuf *v, const struct vhost_user_mem_region *r,
		       unsigned int n, int fd, unsigned int nfds)
{
	struct vhost_user_mem_table t = { 0 };
	int fds[VHOST_USER_MAX_FDS];
	unsigned int i;

	t.nregions = n;
	for (i = 0; i < n && i < VHOST_USER_MAX_RAM_SLOTS; i++) {
		t.regions[i] = r[i];
	}
	for (i = 0; i < nfds; i++) {
		fds[i] = fd;
	}
	send_msg(v, VHOST_USER_SET_MEM_TABLE, &t,
		 8 + (n < 8 ? n : 8) * sizeof(r[0]), fds, nfds);
}

ITEST(hostile_msg, bad_memory_tables)
{
	struct vhost_user_mem_region r[VHOST_USER_MAX_RAM_SLOTS];
	struct ctx c;
	struct vuf *v;
	unsigned int n;

	setup(&c);
	/* Wrong fd counts. */
	v = victim(&c, INITIALISED);
	n = vuf_mem_regions(v, r, 8);
	send_table(v, r, n, vuf_mem_fd(v), n - 1);
	expect_closed(&c, v, "2 regions, 1 fd");

	v = victim(&c, INITIALISED);
	send_table(v, r, 1, vuf_mem_fd(v), 2);
	expect_closed(&c, v, "1 region, 2 fds");

	v = victim(&c, INITIALISED);
	send_table(v, r, 2, -1, 0);
	expect_closed(&c, v, "2 regions, no fd");

	/* No region; nine regions. */
	v = victim(&c, INITIALISED);
	send_table(v, r, 0, -1, 0);
	expect_closed(&c, v, "0 regions");

	v = victim(&c, INITIALISED);
	{
		struct {
			struct vhost_user_mem_table t;
			struct vhost_user_mem_region extra;
		} big = { 0 };
		int fds[8];
		unsigned int i;

		big.t.nregions = 9;
		for (i = 0; i < 8; i++) {
			big.t.regions[i] = r[0];
			big.t.regions[i].guest_phys_addr = (uint64_t)i << 32;
			big.t.regions[i].userspace_addr += (uint64_t)i << 36;
			fds[i] = vuf_mem_fd(v);
		}
		big.extra = big.t.regions[7];
		send_msg(v, VHOST_USER_SET_MEM_TABLE, &big, sizeof(big), fds,
			 8);
	}
	expect_closed(&c, v, "9 regions");

	/* Overlapping in guest-physical space. */
	v = victim(&c, INITIALISED);
	n = vuf_mem_regions(v, r, 8);
	r[1].guest_phys_addr = r[0].guest_phys_addr + r[0].memory_size / 2;
	send_table(v, r, 2, vuf_mem_fd(v), 2);
	expect_closed(&c, v, "GPA overlap");

	/* Overlapping in user address space. */
	v = victim(&c, INITIALISED);
	n = vuf_mem_regions(v, r, 8);
	r[1].userspace_addr = r[0].userspace_addr + 4096;
	send_table(v, r, 2, vuf_mem_fd(v), 2);
	expect_closed(&c, v, "user-address overlap");

	/* Zero-sized region; GPA range that wraps. */
	v = victim(&c, INITIALISED);
	n = vuf_mem_regions(v, r, 8);
	r[1].memory_size = 0;
	send_table(v, r, 2, vuf_mem_fd(v), 2);
	expect_closed(&c, v, "zero-sized region");

	v = victim(&c, INITIALISED);
	n = vuf_mem_regions(v, r, 8);
	r[1].guest_phys_addr = 0xfffffffffff00000ull;
	send_table(v, r, 2, vuf_mem_fd(v), 2);
	expect_closed(&c, v, "wrapping GPA range");
	finish(&c);
}

/* Rings whose user addresses are not (entirely, or aligned) inside a
 * region: set up queue 1 by hand on a running device. */
static void bad_ring(struct ctx *c, uint64_t desc, uint64_t avail,
		     uint64_t used, const char *what)
{
	struct vuf *v = victim(c, RUNNING);
	struct vhost_user_vring_state num = { 1, 256 }, base = { 1, 0 };
	struct vhost_user_vring_addr a = { .index = 1 };
	struct vhost_user_mem_region r[VHOST_USER_MAX_RAM_SLOTS];
	uint64_t u = 1;
	int fd = eventfd(0, EFD_CLOEXEC);

	vuf_mem_regions(v, r, 8);
	/* Defaults: valid places in the scratch area of region 0. */
	a.desc_user_addr = desc ? desc : r[0].userspace_addr + 0x180000;
	a.avail_user_addr = avail ? avail : r[0].userspace_addr + 0x190000;
	a.used_user_addr = used ? used : r[0].userspace_addr + 0x1a0000;
	a.log_guest_addr = 0x1a0000;
	send_msg(v, VHOST_USER_SET_VRING_NUM, &num, 8, NULL, 0);
	send_msg(v, VHOST_USER_SET_VRING_BASE, &base, 8, NULL, 0);
	send_msg(v, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	send_msg(v, VHOST_USER_SET_VRING_KICK, &u, 8, &fd, 1);
	close(fd);
	expect_closed(c, v, what);
}

ITEST(hostile_msg, ring_outside_memory)
{
	struct vhost_user_mem_region r[VHOST_USER_MAX_RAM_SLOTS];
	struct ctx c;
	struct vuf *probe;
	uint64_t end0;

	setup(&c);
	probe = vuf_new(NULL);
	vuf_mem_regions(probe, r, 8);
	vuf_free(probe);
	end0 = r[0].userspace_addr + r[0].memory_size;

	bad_ring(&c, 0x1000, 0, 0, "desc at an unmapped address");
	bad_ring(&c, 0, 0x1000, 0, "avail at an unmapped address");
	bad_ring(&c, 0, 0, 0x1000, "used at an unmapped address");
	/* A guest-physical address where a user address belongs. */
	bad_ring(&c, 0x180000, 0, 0, "desc given as a GPA");
	bad_ring(&c, end0 - 16 * 128, 0, 0, "desc running off the region");
	bad_ring(&c, 0, end0 - 64, 0, "avail running off the region");
	bad_ring(&c, 0, 0, end0 - 64, "used running off the region");
	bad_ring(&c, r[0].userspace_addr + 0x180008, 0, 0, "misaligned desc");
	bad_ring(&c, 0, 0, r[0].userspace_addr + 0x1a0002, "misaligned used");
	finish(&c);
}

/*
 * A region larger than the file behind it: touching it would SIGBUS a
 * daemon that trusted the table. Closing the connection and ignoring the
 * ring are both fine; dying is not.
 */
ITEST(hostile_msg, region_beyond_end_of_file)
{
	struct vhost_user_mem_region r[VHOST_USER_MAX_RAM_SLOTS];
	struct ctx c;
	unsigned int variant;

	setup(&c);
	for (variant = 0; variant < 2; variant++) {
		struct vuf *v = victim(&c, RUNNING);
		struct vhost_user_vring_state num = { 1, 64 }, base = { 1, 0 };
		struct vhost_user_vring_addr a = { .index = 1 };
		uint64_t u = 1, qva;
		int fd = eventfd(0, EFD_CLOEXEC);

		vuf_mem_regions(v, r, 8);
		if (variant == 0) {
			r[0].memory_size = 64ull << 20; /* file is 4 MiB */
		} else {
			r[1].mmap_offset = 1ull << 30;
		}
		send_table(v, r, 2, vuf_mem_fd(v), 2);
		qva = variant == 0 ? r[0].userspace_addr + (32ull << 20)
				   : r[1].userspace_addr + 0x40000;
		a.desc_user_addr = qva;
		a.avail_user_addr = qva + 0x1000;
		a.used_user_addr = qva + 0x2000;
		send_msg(v, VHOST_USER_SET_VRING_NUM, &num, 8, NULL, 0);
		send_msg(v, VHOST_USER_SET_VRING_BASE, &base, 8, NULL, 0);
		send_msg(v, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
		send_msg(v, VHOST_USER_SET_VRING_KICK, &u, 8, &fd, 1);
		u = 1;
		if (write(fd, &u, 8) != 8) {
			cr_log_warn("kick write failed");
		}
		close(fd);
		expect_survived(&c, v, "region beyond the end of its file");
	}
	finish(&c);
}

ITEST(hostile_msg, unmappable_region_fd)
{
	struct vhost_user_mem_region r[VHOST_USER_MAX_RAM_SLOTS];
	struct ctx c;
	struct vuf *v;
	int efd = eventfd(0, EFD_CLOEXEC);
	int fds[2] = { efd, efd };

	setup(&c);
	v = victim(&c, INITIALISED);
	vuf_mem_regions(v, r, 8);
	{
		struct vhost_user_mem_table t = { .nregions = 2 };

		t.regions[0] = r[0];
		t.regions[1] = r[1];
		send_msg(v, VHOST_USER_SET_MEM_TABLE, &t, 8 + 2 * 32, fds, 2);
	}
	expect_survived(&c, v, "eventfd as guest memory");
	close(efd);
	finish(&c);
}

/* Not in QEMU's vocabulary: surviving is what matters. */
ITEST(hostile_msg, odd_but_survivable)
{
	struct ctx c;
	struct vuf *v;
	uint64_t u;

	setup(&c);
	v = victim(&c, INITIALISED);
	send_msg(v, 999, NULL, 0, NULL, 0);
	expect_survived(&c, v, "unknown request 999");

	v = victim(&c, INITIALISED);
	vuf_msg_send(v, 0x7777, VHOST_USER_NEED_REPLY_MASK, NULL, 0, NULL, 0);
	{
		int ret = vuf_msg_recv(v, 0x7777, &u, sizeof(u), 2000);

		cr_assert(ret == 0 || ret == -ECONNRESET,
			  "unknown request with NEED_REPLY: %s", vuf_error(v));
		if (ret == 0) {
			cr_assert_neq(u, 0, "unknown request acked as done");
		}
	}
	expect_survived(&c, v, "unknown request with NEED_REPLY");

	v = victim(&c, INITIALISED);
	u = ~0ull;
	send_msg(v, VHOST_USER_SET_FEATURES, &u, 8, NULL, 0);
	expect_survived(&c, v, "SET_FEATURES with every bit");

	v = victim(&c, INITIALISED);
	u = 1ull << VHOST_USER_F_PROTOCOL_FEATURES; /* no VERSION_1 */
	send_msg(v, VHOST_USER_SET_FEATURES, &u, 8, NULL, 0);
	expect_survived(&c, v, "SET_FEATURES without VERSION_1");

	v = victim(&c, CONNECTED);
	{
		struct vhost_user_header h = { VHOST_USER_GET_FEATURES, 0x2,
					       0 };

		vuf_send_raw(v, &h, sizeof(h), NULL, 0);
	}
	expect_survived(&c, v, "header version 2");

	v = victim(&c, RUNNING);
	send_msg(v, VHOST_USER_RESET_OWNER, NULL, 0, NULL, 0);
	expect_survived(&c, v, "RESET_OWNER");

	v = victim(&c, CONNECTED);
	send_msg(v, VHOST_USER_GET_VRING_BASE,
		 &(struct vhost_user_vring_state){ 0, 0 }, 8, NULL, 0);
	expect_survived(&c, v, "GET_VRING_BASE on a queue never started");

	/* Ring messages out of QEMU's order. */
	{
		int efd = eventfd(0, EFD_CLOEXEC);
		uint64_t one = 1;

		v = victim(&c, INITIALISED);
		u = 0;
		send_msg(v, VHOST_USER_SET_VRING_KICK, &u, 8, &efd, 1);
		if (write(efd, &one, 8) != 8) {
			cr_log_warn("kick failed");
		}
		expect_survived(&c, v, "KICK before NUM/ADDR/memory");

		v = victim(&c, INITIALISED);
		send_msg(v, VHOST_USER_SET_VRING_NUM,
			 &(struct vhost_user_vring_state){ 0, 64 }, 8, NULL, 0);
		send_msg(v, VHOST_USER_SET_VRING_ADDR,
			 &(struct vhost_user_vring_addr){
				 .index = 0,
				 .desc_user_addr = 0x7f0000000000ull,
				 .avail_user_addr = 0x7f0000001000ull,
				 .used_user_addr = 0x7f0000002000ull },
			 40, NULL, 0);
		send_msg(v, VHOST_USER_SET_VRING_KICK, &u, 8, &efd, 1);
		if (write(efd, &one, 8) != 8) {
			cr_log_warn("kick failed");
		}
		expect_survived(&c, v, "ring started before any memory table");
		close(efd);
	}

	v = victim(&c, RUNNING);
	send_msg(v, VHOST_USER_SET_VRING_BASE,
		 &(struct vhost_user_vring_state){ 1, 0x12345 }, 8, NULL, 0);
	expect_survived(&c, v, "SET_VRING_BASE beyond 16 bits");

	v = victim(&c, RUNNING);
	send_msg(v, VHOST_USER_SET_VRING_ENABLE,
		 &(struct vhost_user_vring_state){ 0, 7 }, 8, NULL, 0);
	expect_survived(&c, v, "SET_VRING_ENABLE 7");

	v = victim(&c, RUNNING);
	u = 0 | VHOST_USER_VRING_NOFD_MASK;
	send_msg(v, VHOST_USER_SET_VRING_KICK, &u, 8, NULL, 0);
	{
		struct virtio_rtc_req_read rd;
		struct vuf_completion cpl;

		vuf_rtc_req_read(&rd, 0);
		vuf_submit(v, 0, &rd, sizeof(rd), 16, NULL, 1);
		if (vuf_spin(v, 0, &cpl, 500) == 0) {
			cr_log_info("KICK without fd: device polls the ring");
		} else {
			cr_log_info("KICK without fd: ring not polled (%s)",
				    vuf_error(v));
		}
	}
	expect_survived(&c, v, "SET_VRING_KICK without fd (polling mode)");
	finish(&c);
}

/* fds arriving with bad or unexpected messages are all closed. */
ITEST(hostile_msg, fds_not_leaked)
{
	struct ctx c;
	int base, now = -1, i, k;
	int64_t deadline;

	setup(&c);
	itest_sleep_ms(50);
	base = vdaemon_fd_count(c.d);
	cr_assert_gt(base, 0);
	for (i = 0; i < 10; i++) {
		for (k = 0; k < 5; k++) {
			struct vuf *v = victim(&c, INITIALISED);
			int fds[16], j;
			uint64_t u = 7;

			for (j = 0; j < 16; j++) {
				fds[j] = eventfd(0, EFD_CLOEXEC);
			}
			switch (k) {
			case 0: /* fds on a message that takes none */
				vuf_msg_send(v, VHOST_USER_SET_OWNER, 0, NULL,
					     0, fds, 3);
				break;
			case 1: /* a ring fd for a queue that does not exist */
				vuf_msg_send(v, VHOST_USER_SET_VRING_CALL, 0,
					     &u, 8, fds, 1);
				break;
			case 2: /* more fds than any message may carry */
				vuf_msg_send(v, VHOST_USER_SET_OWNER, 0, NULL,
					     0, fds, 16);
				break;
			case 3: /* two fds on a ring message */
				u = 0;
				vuf_msg_send(v, VHOST_USER_SET_VRING_KICK, 0,
					     &u, 8, fds, 2);
				break;
			default: /* unknown request with fds */
				vuf_msg_send(v, 555, 0, NULL, 0, fds, 4);
				break;
			}
			for (j = 0; j < 16; j++) {
				close(fds[j]);
			}
			itest_sleep_ms(2);
			vuf_free(v);
		}
	}
	deadline = time_ns_now(CLOCK_MONOTONIC) + 2000000000ll;
	while (time_ns_now(CLOCK_MONOTONIC) < deadline) {
		now = vdaemon_fd_count(c.d);
		if (now == base) {
			break;
		}
		itest_sleep_ms(10);
	}
	cr_assert_eq(now, base, "daemon fds: %d before, %d after", base, now);
	finish(&c);
}

/*
 * A front-end that sends requests but never reads the replies: once its
 * socket buffer is full the daemon must not block on it (one thread
 * serves every VM).
 */
ITEST(hostile_msg, deaf_frontend_does_not_stall)
{
	struct vhost_user_header h = { VHOST_USER_GET_FEATURES,
				       VHOST_USER_VERSION, 0 };
	struct vuf_opts o;
	struct ctx c;
	struct vuf *v;
	unsigned int sent = 0, i;

	setup(&c);
	vuf_opts_init(&o);
	o.timeout_ms = 300; /* give up writing once the daemon stops reading */
	v = vuf_new(&o);
	cr_assert_eq(vuf_connect(v, c.sock), 0);
	cr_assert_eq(vuf_init(v), 0, "%s", vuf_error(v));
	while (sent < 400000) {
		uint8_t batch[64 * sizeof(h)];

		for (i = 0; i < 64; i++) {
			memcpy(batch + i * sizeof(h), &h, sizeof(h));
		}
		if (vuf_send_raw(v, batch, sizeof(batch), NULL, 0)) {
			break;
		}
		sent += 64;
		if (sent % 8192 == 0) {
			/* the others are served meanwhile */
			itest_read(c.by, 0);
		}
	}
	cr_log_info("%u unread requests queued before the daemon stopped "
		    "reading (%s)",
		    sent, vuf_error(v));
	for (i = 0; i < 50; i++) {
		itest_read(c.by, (uint16_t)(i % 4));
	}
	itest_alive(c.d);
	vuf_free(v);
	finish(&c);
}

/* A running device whose memory table loses the region holding its
 * rings, or whose ring is reconfigured while started. */
ITEST(hostile_msg, running_ring_pulled_away)
{
	struct vhost_user_mem_region r[VHOST_USER_MAX_RAM_SLOTS];
	struct virtio_rtc_req_read rd;
	struct ctx c;
	struct vuf *v;
	unsigned int k;

	setup(&c);
	vuf_rtc_req_read(&rd, 0);
	for (k = 0; k < 4; k++) {
		struct vhost_user_vring_state st = { 0, 16 };
		struct vhost_user_vring_addr a = { .index = 0 };
		uint64_t ack = 0;
		int fd;

		v = victim(&c, RUNNING);
		itest_read(v, 0);
		fd = vuf_mem_fd(v);
		vuf_mem_regions(v, r, 8);
		switch (k) {
		case 0: /* only the low region: desc and used are gone */
			vuf_msg_send(
				v, VHOST_USER_SET_MEM_TABLE,
				VHOST_USER_NEED_REPLY_MASK,
				&(struct vhost_user_mem_table){
					.nregions = 1, .regions = { r[0] } },
				8 + 32, &fd, 1);
			vuf_msg_recv(v, VHOST_USER_SET_MEM_TABLE, &ack, 8,
				     1000);
			break;
		case 1: /* ring size changed under the running ring */
			send_msg(v, VHOST_USER_SET_VRING_NUM, &st, 8, NULL, 0);
			break;
		case 2: /* ring moved to the hole between the regions */
			a.desc_user_addr = 0x1000;
			a.avail_user_addr = 0x2000;
			a.used_user_addr = 0x3000;
			send_msg(v, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a),
				 NULL, 0);
			break;
		default: /* the high region moved in guest-physical space */
			r[1].guest_phys_addr += 1ull << 40;
			send_table(v, r, 2, fd, 2);
			break;
		}
		/* The guest keeps using the ring. */
		vuf_submit(v, 0, &rd, sizeof(rd), 16, NULL, 1);
		vuf_kick_force(v, 0);
		expect_survived(&c, v, "ring pulled away while running");
	}
	finish(&c);
}

/*
 * The guest-memory file shrinks after the daemon mapped it (a
 * compromised QEMU can ftruncate its memfd): touching the mapping would
 * raise SIGBUS. The daemon must survive it (e.g. by requiring
 * F_SEAL_SHRINK on the memfd, or by recovering from the fault) and keep
 * serving the other VMs.
 */
ITEST(hostile_msg, memory_file_shrunk_after_mapping)
{
	struct vuf_opts o;
	struct ctx c;
	struct vuf *v;
	int ret;

	setup(&c);
	vuf_opts_init(&o);
	o.unsealed = true;
	v = vuf_new(&o);
	cr_assert(v);
	ret = vuf_connect(v, c.sock);
	if (!ret) {
		ret = vuf_init(v);
	}
	cr_assert_eq(ret, 0, "%s", vuf_error(v));
	ret = vuf_driver_ok(v);
	if (ret) {
		/* Refusing memory that can shrink is a valid defence. */
		cr_log_info("unsealed guest memory refused: %s", vuf_error(v));
		vuf_free(v);
		finish(&c);
		return;
	}
	itest_read(v, 0);
	cr_assert_eq(ftruncate(vuf_mem_fd(v), 0), 0);
	vuf_kick_force(v, 0);
	itest_sleep_ms(100);
	cr_assert(vdaemon_alive(c.d),
		  "the daemon died when a front-end shrank its guest memory "
		  "file (SIGBUS on a mapped region); every VM lost its device");
	itest_read(c.by, 0);
	if (vuf_ping(v) == 0) {
		/* Memory back, new table (guest reset): served again. */
		cr_assert_eq(ftruncate(vuf_mem_fd(v), (off_t)o.mem_size), 0);
		cr_assert_eq(vuf_reset(v, NULL), 0, "%s", vuf_error(v));
		cr_assert_eq(vuf_driver_ok(v), 0, "%s", vuf_error(v));
		itest_read(v, 1);
		cr_log_info("guest memory shrunk: connection kept, recovered "
			    "after a new memory table");
	} else {
		cr_log_info("guest memory shrunk: connection closed");
	}
	vuf_free(v);
	finish(&c);
}
