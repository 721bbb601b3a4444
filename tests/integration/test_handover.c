// SPDX-License-Identifier: MIT
/*
 * The hand-over between two servers (vu_server_save() and
 * vu_server_adopt()), in one process: server A serves front-ends over a
 * real socket; its image and copies of its fds (as an exec would pass
 * them) go to server B; A is freed; the same front-end connections go on
 * being served by B with nothing said to them. Then damaged images: each
 * is refused with a reason and B serves nothing from it.
 *
 * The servers run on the default main context in a thread of their own
 * (the front-end's calls block); every step on them is made there.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock_list.h"
#include "clock_model_writer.h"
#include "frontend/frontend.h"
#include "handover.h"
#include "leap.h"
#include "vu_server.h"

#define F_ALARM (1ull << VIRTIO_RTC_F_ALARM)

static struct rtcdev_config cfg;
static struct clock_model *model;
static GMainLoop *loop;
static pthread_t loop_th;
static struct vu_server *srv;
static char sock_path[108];
static char tmpdir[64];

static void *run_loop(void *arg)
{
	g_main_loop_run(loop);
	return NULL;
}

/* Run @fn(@arg) on the loop's thread and wait for it. */
struct call {
	void (*fn)(void *);
	void *arg;
	GMutex m;
	GCond c;
	bool done;
};

static gboolean call_cb(gpointer data)
{
	struct call *k = data;

	k->fn(k->arg);
	g_mutex_lock(&k->m);
	k->done = true;
	g_cond_signal(&k->c);
	g_mutex_unlock(&k->m);
	return G_SOURCE_REMOVE;
}

static void on_loop(void (*fn)(void *), void *arg)
{
	struct call k = { .fn = fn, .arg = arg };

	g_mutex_init(&k.m);
	g_cond_init(&k.c);
	g_idle_add(call_cb, &k);
	g_mutex_lock(&k.m);
	while (!k.done) {
		g_cond_wait(&k.c, &k.m);
	}
	g_mutex_unlock(&k.m);
	g_mutex_clear(&k.m);
	g_cond_clear(&k.c);
}

static struct vu_server *new_server(void)
{
	struct vu_server_config sc = {
		.clocks = &cfg,
		.model = model,
		.poll_ns = 50000,
	};

	return vu_server_new(&sc);
}

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
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	rtcdev_config_default(&cfg, VIRTIO_RTC_SMEAR_NOON_LINEAR);
	model = clock_model_new();
	clock_model_publish(model, &s);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vrtc-ho-XXXXXX");
	cr_assert(mkdtemp(tmpdir));
	snprintf(sock_path, sizeof(sock_path), "%s/s.sock", tmpdir);
	srv = new_server();
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, sock_path);
	cr_assert(fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
		  !listen(fd, 16));
	cr_assert_eq(vu_server_add_listener(srv, fd, sock_path), 0);
	loop = g_main_loop_new(NULL, FALSE);
	pthread_create(&loop_th, NULL, run_loop, NULL);
}

static void stop_loop(void *arg)
{
	g_main_loop_quit(loop);
}

static void free_server(void *arg)
{
	vu_server_free(*(struct vu_server **)arg);
	*(struct vu_server **)arg = NULL;
}

static void teardown(void)
{
	on_loop(free_server, &srv);
	on_loop(stop_loop, NULL);
	pthread_join(loop_th, NULL);
	g_main_loop_unref(loop);
	unlink(sock_path);
	rmdir(tmpdir);
}

/* ---- the hand-over, as the upgrade does it (on the loop) -------------- */

struct handover {
	/* how to damage the image before the next server reads it */
	void (*damage)(GByteArray *img);
	unsigned int pause_ms; /* between the image and the adoption */
	int adopt_rc;
	char why[256];
	unsigned int nfds;
};

/*
 * HO_SEED_DIR=dir: write the image's body there as a fuzzer seed
 * (tests/fuzz/corpus/handover) and the kinds of its fds beside it.
 */
static void dump_seed(const GByteArray *img, const int *fds, unsigned int n)
{
	const char *dir = getenv("HO_SEED_DIR");
	char path[512], link[64], what[128];
	unsigned int i;
	FILE *f;

	if (!dir) {
		return;
	}
	snprintf(path, sizeof(path), "%s/seed-%u", dir, n);
	f = fopen(path, "w");
	cr_assert(f);
	fwrite(img->data + sizeof(struct ho_header), 1,
	       img->len - sizeof(struct ho_header), f);
	fclose(f);
	for (i = 0; i < n; i++) {
		ssize_t k;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fds[i]);
		k = readlink(link, what, sizeof(what) - 1);
		what[k > 0 ? k : 0] = '\0';
		fprintf(stderr, "seed fd %u: %s\n", i, what);
	}
}

static void do_handover(void *arg)
{
	struct handover *h = arg;
	struct ho_writer *w = ho_writer_new();
	struct vu_server *next;
	struct ho_reader r;
	struct ho_fds fds;
	GByteArray *img;
	const int *ours;
	unsigned int i;

	cr_assert_eq(vu_server_save(srv, w), 0);
	cr_assert_eq(ho_writer_finish(w, &img), 0);
	ours = ho_writer_fds(w, &fds.n);
	h->nfds = fds.n;
	/* what an exec leaves the next process: copies of every fd */
	fds.fd = g_new(int, fds.n);
	for (i = 0; i < fds.n; i++) {
		fds.fd[i] = dup(ours[i]);
		cr_assert_geq(fds.fd[i], 0);
	}
	if (h->damage) {
		h->damage(img);
	}
	if (h->pause_ms) {
		g_usleep((gulong)h->pause_ms * 1000);
	}
	dump_seed(img, ours, fds.n);
	next = new_server();
	h->adopt_rc = ho_reader_open(&r, img->data, img->len, &fds, h->why,
				     sizeof(h->why));
	if (!h->adopt_rc) {
		h->adopt_rc = vu_server_adopt(next, &r);
	}
	ho_fds_close_rest(&fds);
	g_free(fds.fd);
	g_byte_array_unref(img);
	ho_writer_free(w);
	if (h->adopt_rc) {
		/* refused: the old server goes on serving */
		vu_server_free(next);
		return;
	}
	vu_server_free(srv);
	srv = next;
}

static struct vuf *vm(bool alarm)
{
	struct vuf_opts o;
	struct vuf *v = NULL;

	vuf_opts_init(&o);
	if (alarm) {
		o.device_features = F_ALARM;
		o.started_queues = 2;
	}
	cr_assert_eq(vuf_open(&v, sock_path, &o), 0, "%s",
		     v ? vuf_error(v) : "");
	return v;
}

static uint64_t read_ok(struct vuf *v, uint16_t clock)
{
	uint64_t ns = 0;

	cr_assert_eq(vuf_rtc_read(v, clock, &ns), 0, "READ: %s", vuf_error(v));
	return ns;
}

TestSuite(handover, .init = setup, .fini = teardown, .timeout = 60);

Test(handover, connections_survive_and_alarm_fires_once)
{
	struct vuf *a = vm(false), *b = vm(true);
	struct handover h = { 0 };
	struct vuf_completion c;
	uint64_t m0, m1, t0;
	uint8_t st;
	int i;

	(void)read_ok(a, 0);
	m0 = read_ok(b, 2); /* MONOTONIC */
	/* an alarm 400 ms ahead on the smeared clock, buffers posted */
	t0 = read_ok(b, 3);
	cr_assert_eq(vuf_rtc_set_alarm(b, 3, t0 + 400000000ull, true, &st), 0,
		     "%s", vuf_error(b));
	cr_assert_eq(st, VIRTIO_RTC_S_OK);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(vuf_submit(b, 1, NULL, 0, 16, NULL, 100 + i), 0);
	}
	(void)vuf_kick(b, 1);

	on_loop(do_handover, &h);
	cr_assert_eq(h.adopt_rc, 0, "adoption refused: %s", h.why);
	cr_log_info("image carried %u fds", h.nfds);

	/* the same connections, served by the new server */
	for (i = 0; i < 1000; i++) {
		(void)read_ok(a, 0);
	}
	m1 = read_ok(b, 2);
	cr_assert_geq(m1, m0, "MONOTONIC went back across the hand-over");
	/* the alarm armed before fires once, not early */
	cr_assert_eq(vuf_wait(b, 1, &c, 2000), 0, "no alarm: %s", vuf_error(b));
	cr_assert_geq(read_ok(b, 3), t0 + 400000000ull, "alarm early");
	cr_assert_eq(vuf_wait(b, 1, &c, 600), -ETIMEDOUT,
		     "a second notification for one alarm");
	/* and a new front-end is accepted on the adopted listener */
	vuf_free(vm(false));
	vuf_free(a);
	vuf_free(b);
}

static void flip_body_bit(GByteArray *img)
{
	img->data[sizeof(struct ho_header) + 13] ^= 0x10;
}

static void truncate_image(GByteArray *img)
{
	g_byte_array_set_size(img, img->len - 8);
}

static void next_version(GByteArray *img)
{
	struct ho_header *hd = (struct ho_header *)(void *)img->data;

	hd->version = htole32(HO_VERSION + 1);
}

static void damaged(void (*damage)(GByteArray *), const char *want)
{
	struct vuf *a = vm(true);
	struct handover h = { .damage = damage };

	(void)read_ok(a, 0);
	on_loop(do_handover, &h);
	cr_assert_eq(h.adopt_rc, -EBADMSG);
	cr_assert(strstr(h.why, want), "reason \"%s\", expected \"%s\"", h.why,
		  want);
	/* refused: the old server still serves the connection */
	(void)read_ok(a, 1);
	vuf_free(a);
}

Test(handover, bit_flip_refused)
{
	damaged(flip_body_bit, "checksum");
}

Test(handover, truncated_refused)
{
	damaged(truncate_image, "bytes");
}

Test(handover, other_version_refused)
{
	damaged(next_version, "version");
}

/* An alarm whose time comes during the hand-over's pause fires once on
 * the new server (it was armed, not reached, in the image). */
Test(handover, alarm_due_during_the_pause_fires)
{
	struct vuf *b = vm(true);
	struct handover h = { .pause_ms = 300 };
	struct vuf_completion c;
	uint64_t t0;
	uint8_t st;

	t0 = read_ok(b, 3);
	cr_assert_eq(vuf_rtc_set_alarm(b, 3, t0 + 100000000ull, true, &st), 0,
		     "%s", vuf_error(b));
	cr_assert_eq(st, VIRTIO_RTC_S_OK);
	cr_assert_eq(vuf_submit(b, 1, NULL, 0, 16, NULL, 100), 0);
	(void)vuf_kick(b, 1);
	on_loop(do_handover, &h);
	cr_assert_eq(h.adopt_rc, 0, "adoption refused: %s", h.why);
	cr_assert_eq(vuf_wait(b, 1, &c, 2000), 0,
		     "the alarm due during the pause was lost: %s",
		     vuf_error(b));
	cr_assert_geq(read_ok(b, 3), t0 + 100000000ull, "alarm early");
	vuf_free(b);
}
