// SPDX-License-Identifier: MIT
/*
 * Live migration over the real socket, the test front-end playing a
 * migrating QEMU (frontend.h, "live migration"):
 *  - dirty logging while READs and alarm events flow: guest memory
 *    before and after, compared page by page with the log: every page
 *    the device wrote has its bit, and no page only the guest writes;
 *  - a VM moved from one daemon process to another with requests in
 *    flight at the stop, its device pages copied only as the log says:
 *    each request answered exactly once, on one side or the other; an
 *    alarm armed on the source fires on the destination;
 *  - a state the destination cannot take fails the migration, and only
 *    that VM's.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend_internal.h"
#include "itest_alarm.h"

#define CLK_UTC 0
#define NS_PER_MS 1000000ull

static uint8_t set_alarm_flag(struct vuf *v, uint16_t clock, uint64_t t,
			      bool enabled)
{
	struct virtio_rtc_req_set_alarm q = { 0 };
	struct vuf_rtc_reply r;

	q.head.msg_type = htole16(VIRTIO_RTC_REQ_SET_ALARM);
	q.alarm_time = htole64(t);
	q.clock_id = htole16(clock);
	q.flags = enabled ? VIRTIO_RTC_FLAG_ALARM_ENABLED : 0;
	cr_assert_eq(vuf_rtc_call(v, &q, sizeof(q), 8, NULL, &r), 0, "%s",
		     vuf_error(v));
	cr_assert_eq(r.used_len, 8);
	return r.status;
}

static uint8_t set_alarm(struct vuf *v, uint16_t clock, uint64_t t)
{
	return set_alarm_flag(v, clock, t, true);
}

static struct vuf_opts alarm_opts(bool split)
{
	struct vuf_opts o;

	vuf_opts_init(&o);
	o.device_features = ITEST_F_ALARM;
	o.started_queues = 2;
	o.split_high = split;
	o.queue_size = 256;
	return o;
}

/* Submit READs of every clock in varied layouts; not kicked. */
static void submit_reads(struct vuf *v, unsigned int n, uint64_t cookie0)
{
	static const struct vuf_layout lays[] = {
		{ 1, 1, false, false }, { 1, 1, true, false },
		{ 2, 3, false, false }, { 1, 4, true, false },
		{ 1, 2, false, true },
	};
	struct virtio_rtc_req_read req;

	for (unsigned int i = 0; i < n; i++) {
		const struct vuf_layout *l = &lays[i % 5];

		/* One cross-region request at a time (the front-end's),
		 * and only in split guest memory. */
		if (l->cross_region &&
		    ((i % 10) != 4 || !vuf_boundary_gpa(v, 1))) {
			l = &lays[0];
		}
		vuf_rtc_req_read(&req, (uint16_t)(i % 4));
		cr_assert_eq(
			vuf_submit(v, 0, &req, sizeof(req), 16, l, cookie0 + i),
			0, "%s", vuf_error(v));
	}
}

/* Wait for @n READ completions on the requestq; checks each. */
static void wait_reads(struct vuf *v, unsigned int n)
{
	struct vuf_completion c;

	for (unsigned int i = 0; i < n; i++) {
		cr_assert_eq(vuf_wait(v, 0, &c, 2000), 0, "%s", vuf_error(v));
		cr_assert_eq(c.len, 16);
		cr_assert_eq(c.resp[0], VIRTIO_RTC_S_OK);
	}
}

static uint8_t *snapshot(struct vuf *v)
{
	struct vhost_user_mem_region r[4];
	unsigned int n = vuf_mem_regions(v, r, 4);
	uint8_t *s = malloc(vuf_mem_size(v));

	cr_assert_not_null(s);
	for (unsigned int i = 0; i < n; i++) {
		memcpy(s + r[i].mmap_offset,
		       vuf_gpa_ptr(v, r[i].guest_phys_addr, r[i].memory_size),
		       r[i].memory_size);
	}
	return s;
}

ITEST(migration, dirty_log_has_every_page_the_device_wrote)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf_opts o = alarm_opts(true);
	struct vuf *v = itest_vm(vdaemon_socket(d, 0), &o);
	struct vhost_user_mem_region r[4];
	unsigned int nr, changed = 0, logged = 0;
	uint8_t *before, *after, *bits, *bits2;
	size_t lb;

	itest_post_alarm_buffers(v, 4);
	/* An alarm that fires while logging is on. */
	cr_assert_eq(
		set_alarm(v, CLK_UTC, itest_read(v, CLK_UTC) + 300 * NS_PER_MS),
		VIRTIO_RTC_S_OK);
	/* Logging starts with requests in flight. */
	submit_reads(v, 8, 1);
	cr_assert_geq(vuf_kick(v, 0), 0);
	cr_assert_eq(vuf_log_start(v), 0, "%s", vuf_error(v));
	before = snapshot(v);
	lb = vuf_log_bytes(v);
	bits = calloc(1, lb);
	bits2 = calloc(1, lb);
	cr_assert(bits && bits2);
	wait_reads(v, 8);
	for (unsigned int round = 0; round < 20; round++) {
		submit_reads(v, 10, 100 + 10 * round);
		cr_assert_geq(vuf_kick(v, 0), 0);
		wait_reads(v, 10);
		/* QEMU collects the log during every iteration. */
		vuf_log_sync(v, bits);
	}
	cr_assert_eq(itest_wait_notif(v, 2000, false), CLK_UTC);
	/* A reached alarm: one more event at once. */
	cr_assert_eq(set_alarm(v, CLK_UTC, 1), VIRTIO_RTC_S_OK);
	cr_assert_eq(itest_wait_notif(v, 2000, false), CLK_UTC);
	vuf_log_sync(v, bits);
	after = snapshot(v);

	nr = vuf_mem_regions(v, r, 4);
	for (unsigned int i = 0; i < nr; i++) {
		for (uint64_t off = 0; off < r[i].memory_size; off += 4096) {
			uint64_t gpa = r[i].guest_phys_addr + off;
			uint64_t f = r[i].mmap_offset + off;
			bool dirty = memcmp(before + f, after + f, 4096) != 0;
			bool bit = vuf_log_page(bits, gpa);

			if (dirty && vuf_device_area(v, gpa)) {
				changed++;
				cr_assert(bit,
					  "page 0x%llx written, not logged",
					  (unsigned long long)gpa);
			}
			cr_assert(!bit || vuf_device_area(v, gpa),
				  "page 0x%llx only the guest writes logged",
				  (unsigned long long)gpa);
			logged += bit;
		}
	}
	/* Used rings of both queues, responses in both halves of the
	 * cross-region room, alarm notifications. */
	cr_assert_geq(changed, 5, "only %u device pages changed", changed);
	printf("migration dirty log: %u device-written pages changed, %u "
	       "logged, all changed ones among them\n",
	       changed, logged);
	/* Log stopped: traffic marks nothing more. */
	cr_assert_eq(vuf_log_stop(v), 0, "%s", vuf_error(v));
	submit_reads(v, 10, 1000);
	cr_assert_geq(vuf_kick(v, 0), 0);
	wait_reads(v, 10);
	vuf_log_sync(v, bits2);
	for (size_t i = 0; i < lb; i++) {
		cr_assert_eq(bits2[i], 0, "logged after the stop");
	}
	free(before);
	free(after);
	free(bits);
	free(bits2);
	vuf_free(v);
	itest_stop(d);
}

/* Completions on the requestq until @ms of silence: cookies seen. */
static unsigned int drain(struct vuf *v, bool *seen, unsigned int n,
			  uint64_t cookie0, int ms)
{
	struct vuf_completion c;
	unsigned int got = 0;
	int ret;

	for (;;) {
		ret = vuf_wait(v, 0, &c, ms);
		if (ret == -ETIMEDOUT) {
			return got;
		}
		cr_assert_eq(ret, 0, "%s", vuf_error(v));
		cr_assert_geq(c.cookie, cookie0);
		cr_assert_lt(c.cookie, cookie0 + n);
		cr_assert(!seen[c.cookie - cookie0],
			  "request %llu answered twice",
			  (unsigned long long)c.cookie);
		cr_assert_eq(c.len, 16);
		cr_assert_eq(c.resp[0], VIRTIO_RTC_S_OK);
		seen[c.cookie - cookie0] = true;
		got++;
	}
}

ITEST(migration, vm_moves_between_daemons)
{
	struct vdaemon *d1 = itest_start(NULL), *d2 = itest_start(NULL);
	struct vuf_opts o = alarm_opts(false);
	struct vuf *src = itest_vm(vdaemon_socket(d1, 0), &o), *dst;
	enum { N = 40, EARLY = 16, LATE = 12 };
	bool seen[N] = { false };
	unsigned int on_src, got;
	uint16_t used0;
	uint16_t base[VUF_MAX_QUEUES];
	uint64_t t_src, t_dst, alarm;
	uint8_t *state, *bits, *pre;
	size_t len;

	itest_post_alarm_buffers(src, 2);
	t_src = itest_read(src, CLK_UTC);
	alarm = t_src + 1500 * NS_PER_MS;
	cr_assert_eq(set_alarm(src, CLK_UTC, alarm), VIRTIO_RTC_S_OK);
	cr_assert_eq(vuf_log_start(src), 0, "%s", vuf_error(src));
	/* The guest scribbles over the requestq's response room (nothing
	 * in flight): a stale copy of it can never pass for an answer. */
	memset(vuf_gpa_ptr(src, VUF_HIGH_RESP(0), 256 * VUF_SLOT_SIZE), 0x5c,
	       256 * VUF_SLOT_SIZE);
	/* Pre-copy: guest memory as the first pass copies it. */
	pre = snapshot(src);
	bits = calloc(1, vuf_log_bytes(src));
	cr_assert_not_null(bits);
	/* Requests in flight when the VM stops: kicked, most answered;
	 * the last ones made available after the rings were disabled, so
	 * that only the destination can answer them. */
	used0 = vuf_used_idx(src, 0);
	submit_reads(src, EARLY, 1);
	cr_assert_geq(vuf_kick(src, 0), 0);
	/* Answered on the source; the paused guest sees them only after
	 * the move, in the destination's copy of its memory. */
	for (int ms = 0; (uint16_t)(vuf_used_idx(src, 0) - used0) < EARLY;
	     ms++) {
		cr_assert_lt(ms, 2000, "source did not answer");
		itest_sleep_ms(1);
	}
	/* These race with the stop: answered on one side or the other. */
	submit_reads(src, N - EARLY - LATE, 1 + EARLY);
	cr_assert_geq(vuf_kick(src, 0), 0);
	cr_assert_eq(vuf_disable(src), 0, "%s", vuf_error(src));
	submit_reads(src, LATE, 1 + N - LATE);
	(void)vuf_kick_force(src, 0);
	cr_assert_eq(vuf_reset(src, base), 0, "%s", vuf_error(src));
	on_src = (uint16_t)(vuf_used_idx(src, 0) - used0);
	vuf_log_sync(src, bits);
	cr_assert_eq(vuf_state_save(src, &state, &len), 0, "%s",
		     vuf_error(src));
	cr_assert_gt(len, 0);

	/* The destination: a new QEMU on another daemon process. */
	dst = vuf_new(&o);
	cr_assert_not_null(dst);
	cr_assert_eq(vuf_connect(dst, vdaemon_socket(d2, 0)), 0);
	cr_assert_eq(vuf_init(dst), 0, "%s", vuf_error(dst));
	cr_assert_eq(vuf_migrate_guest(dst, src), 0, "%s", vuf_error(dst));
	/* Of the pages the device writes, only the logged ones were copied
	 * again after the first pass (the guest's own writes are KVM's to
	 * track): a write missing from the log leaves a stale page. */
	{
		struct vhost_user_mem_region r[4];
		unsigned int nr = vuf_mem_regions(dst, r, 4), stale = 0;

		for (unsigned int i = 0; i < nr; i++) {
			for (uint64_t off = 0; off < r[i].memory_size;
			     off += 4096) {
				uint64_t gpa = r[i].guest_phys_addr + off;

				if (vuf_device_area(dst, gpa) &&
				    !vuf_log_page(bits, gpa)) {
					memcpy(vuf_gpa_ptr(dst, gpa, 4096),
					       pre + r[i].mmap_offset + off,
					       4096);
					stale++;
				}
			}
		}
		cr_assert_gt(stale, 0);
	}
	cr_assert_eq(vuf_state_load(dst, state, len), 0, "%s", vuf_error(dst));
	cr_assert_eq(vuf_resume(dst), 0, "%s", vuf_error(dst));
	/* The source QEMU goes away. */
	vuf_free(src);
	cr_assert_geq(vuf_kick_force(dst, 0), 0);
	got = drain(dst, seen, N, 1, 500);
	printf("migration: %u requests answered by the source, %u by the "
	       "destination (last_avail %u at the stop), all %u seen once "
	       "by the guest after the move\n",
	       on_src, got - on_src, base[0], got);
	cr_assert_eq(got, N, "lost requests: %u of %d", got, N);
	cr_assert_eq(base[0] - used0, on_src, "source answered what it took");
	cr_assert_geq(on_src, EARLY);
	cr_assert_leq(on_src, N - LATE);
	/* The guest goes on: readings continue, the alarm fires here. */
	t_dst = itest_read(dst, CLK_UTC);
	cr_assert_gt(t_dst, t_src);
	cr_assert_eq(itest_wait_notif(dst, 5000, false), CLK_UTC,
		     "the alarm armed on the source did not fire");
	cr_assert_geq(itest_read(dst, CLK_UTC), alarm);
	free(state);
	free(pre);
	free(bits);
	vuf_free(dst);
	itest_stop(d1);
	itest_stop(d2);
}

ITEST(migration, bad_state_fails_only_that_migration)
{
	struct vdaemon *d = itest_start(NULL);
	struct vuf_opts o = alarm_opts(false);
	struct vuf *a = itest_vm(vdaemon_socket(d, 0), &o), *b;
	uint8_t junk[256];
	uint8_t *state;
	size_t len;

	b = itest_vm_init(vdaemon_socket(d, 0), &o);
	memset(junk, 0x5a, sizeof(junk));
	cr_assert_eq(vuf_state_load(b, junk, sizeof(junk)), -EREMOTEIO);
	/* Corrupt a real image: refused too, the connection stays. */
	cr_assert_eq(vuf_reset(a, NULL), 0, "%s", vuf_error(a));
	cr_assert_eq(vuf_state_save(a, &state, &len), 0, "%s", vuf_error(a));
	state[len - 1] ^= 0x40;
	cr_assert_eq(vuf_state_load(b, state, len), -EREMOTEIO);
	state[len - 1] ^= 0x40;
	cr_assert_eq(vuf_state_load(b, state, len), 0, "%s", vuf_error(b));
	cr_assert_eq(vuf_ping(b), 0);
	/* A running device refuses a transfer. */
	cr_assert_eq(vuf_resume(a), 0, "%s", vuf_error(a));
	cr_assert_eq(vuf_state_save(a, &(uint8_t *){ NULL }, &len), -EREMOTEIO);
	itest_read(a, CLK_UTC);
	free(state);
	vuf_free(a);
	vuf_free(b);
	itest_stop(d);
}

/* The whole move of a running VM (no dirty logging), as above. */
static struct vuf *move_vm(struct vuf *src, struct vdaemon *to,
			   const struct vuf_opts *o)
{
	struct vuf *dst;
	uint8_t *state;
	size_t len;

	cr_assert_eq(vuf_reset(src, NULL), 0, "%s", vuf_error(src));
	cr_assert_eq(vuf_state_save(src, &state, &len), 0, "%s",
		     vuf_error(src));
	dst = vuf_new(o);
	cr_assert_not_null(dst);
	cr_assert_eq(vuf_connect(dst, vdaemon_socket(to, 0)), 0);
	cr_assert_eq(vuf_init(dst), 0, "%s", vuf_error(dst));
	cr_assert_eq(vuf_migrate_guest(dst, src), 0, "%s", vuf_error(dst));
	cr_assert_eq(vuf_state_load(dst, state, len), 0, "%s", vuf_error(dst));
	cr_assert_eq(vuf_resume(dst), 0, "%s", vuf_error(dst));
	free(state);
	vuf_free(src);
	return dst;
}

/* A notification owed when the VM stops (no alarmq buffer) is sent by
 * the destination, once; the VM then moves back and forth. */
ITEST(migration, owed_notification_moves_once)
{
	struct vdaemon *d1 = itest_start(NULL), *d2 = itest_start(NULL);
	struct vuf_opts o = alarm_opts(false);
	struct vuf *v = itest_vm(vdaemon_socket(d1, 0), &o);
	uint64_t t0 = itest_read(v, CLK_UTC);

	/* Reached at once, but no buffer to tell the guest in. */
	cr_assert_eq(set_alarm(v, CLK_UTC, 1), VIRTIO_RTC_S_OK);
	cr_assert_eq(set_alarm(v, 3, itest_read(v, 3) + 800 * NS_PER_MS),
		     VIRTIO_RTC_S_OK);
	itest_sleep_ms(50);
	v = move_vm(v, d2, &o);
	itest_post_alarm_buffers(v, 4);
	cr_assert_eq(itest_wait_notif(v, 2000, false), CLK_UTC);
	/* As Linux does once its one alarm fired: disable it (a reached,
	 * enabled alarm expires again whenever the device restarts). */
	cr_assert_eq(set_alarm_flag(v, CLK_UTC, 1, false), VIRTIO_RTC_S_OK);
	/* Back to the first daemon before the second alarm is due. */
	v = move_vm(v, d1, &o);
	cr_assert_eq(itest_wait_notif(v, 3000, false), 3,
		     "the alarm armed two moves ago did not fire");
	cr_assert_eq(itest_wait_notif(v, 300, false), -1, "a duplicate");
	cr_assert_geq(itest_read(v, CLK_UTC), t0);
	vuf_free(v);
	itest_stop(d1);
	itest_stop(d2);
}
