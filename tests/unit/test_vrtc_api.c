// SPDX-License-Identifier: MIT
/*
 * Unit tests: libvrtc's handle and helpers (src/libvrtc/vrtc_handle.c,
 * vrtc_api.c, vrtc.c): recovery from each way the page file can go and
 * come back, the flags and promises of a reading, the helpers, input
 * checks, the struct layouts, and one handle shared by four threads.
 * Pages are written with the daemon's own encoder (src/vmclock_page.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "leap.h"
#include "vmclock_page.h"
#include "vrtc.h"

#define NS 1000000000LL
#define MS 1000000LL
#define Q1 ((uint64_t)1 << CLOCK_PERIOD_SHIFT)

static struct leap_table *tab;
static char dir[] = "/tmp/vrtc-api-XXXXXX";
static char *path;

static void setup(void)
{
	static const struct leap_entry e[] = {
		{ 63072000, 10 },
		{ 1483228800, 37 },
	};

	tab = leap_table_new(e, 2, 4200000000LL);
	cr_assert_not_null(tab);
	strcpy(dir, "/tmp/vrtc-api-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	path = g_build_filename(dir, "vmclock", NULL);
}

static void teardown(void)
{
	char *cmd = g_strdup_printf("rm -rf '%s'", dir);

	leap_table_free(tab);
	cr_expect_eq(system(cmd), 0);
	g_free(cmd);
	g_free(path);
}

TestSuite(vrtc_api, .init = setup, .fini = teardown);

/* A live model: reference point now, @maxerr ns then, 10 us/s. */
static struct clock_snapshot live(enum clock_status st, uint64_t maxerr)
{
	struct clock_snapshot s = {
		.generation = 1,
		.status = st,
		.c0 = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW),
		.period_q = Q1,
		.time_maxerr_ns = maxerr,
		.rate_maxerr_ppb = 10000,
		.leaps = tab,
	};
	s.tai0_ns = 1800000000LL * NS + (int64_t)s.c0; /* one line */
	return s;
}

/* A page file written whole and renamed over @path (a new file, as a
 * package or another daemon would put there), with marker @marker. */
static void replace_page(const struct clock_snapshot *s, uint64_t marker,
			 int junk)
{
	_Alignas(8) unsigned char p[VMCLOCK_PAGE_SIZE];
	char *tmp = g_strdup_printf("%s.new", path);
	struct vmclock_abi f;
	int fd;

	memset(p, 0, sizeof(p));
	vmclock_page_encode(s, 0, marker, &f);
	vmclock_page_store((struct vmclock_abi *)p, &f);
	if (junk) {
		memset(p, 0x5a, 64);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0444);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, p, sizeof(p)), (ssize_t)sizeof(p));
	close(fd);
	cr_assert_eq(rename(tmp, path), 0);
	g_free(tmp);
}

static struct vrtc *open_host(uint32_t flags)
{
	struct vrtc_options o = { .mode = VRTC_MODE_HOST, .flags = flags };
	struct vrtc *v = NULL;

	o.page_path = path;
	cr_assert_eq(vrtc_open(&o, &v), 0);
	return v;
}

/* vrtc_now() until it returns 0 with all of @flags, for up to @ms. */
static int poll_for(struct vrtc *v, uint32_t flags, int ms, struct vrtc_time *t)
{
	int r = -1;

	for (int i = 0; i < ms; i++) {
		r = vrtc_now(v, t);
		if (r == 0 && (t->flags & flags) == flags) {
			return 0;
		}
		usleep(1000);
	}
	return r ? r : -EAGAIN;
}

/* 1. Recovery, one test per way the page goes and comes back. */

/* The daemon exits cleanly (UNKNOWN), a new one creates a new file. */
Test(vrtc_api, recovers_clean_restart_with_new_file)
{
	struct clock_snapshot s = live(CLOCK_STATUS_SYNCHRONIZED, 1000);
	struct vmclock_page *pg = vmclock_page_open(path, 0, NULL);
	struct vrtc_time t;
	struct vrtc *v;

	cr_assert_not_null(pg);
	vmclock_page_publish(pg, &s);
	v = open_host(0);
	cr_assert_eq(vrtc_now(v, &t), 0);
	cr_expect_eq(t.flags, VRTC_TIME_TRUSTED, "no disruption at first");
	vmclock_page_free(pg);
	cr_assert_eq(unlink(path), 0);
	cr_expect_eq(vrtc_now(v, &t), -ENODATA, "the old page says UNKNOWN");
	pg = vmclock_page_open(path, 0, NULL);
	cr_assert_not_null(pg);
	s = live(CLOCK_STATUS_SYNCHRONIZED, 1000);
	vmclock_page_publish(pg, &s);
	cr_assert_eq(poll_for(v, VRTC_TIME_REOPENED, 100, &t), 0);
	cr_expect(t.flags & VRTC_TIME_DISRUPTED);
	cr_expect(t.flags & VRTC_TIME_TRUSTED);
	cr_assert_eq(vrtc_now(v, &t), 0);
	cr_expect_eq(t.flags, VRTC_TIME_TRUSTED, "reported once");
	vrtc_close(v);
	vmclock_page_free(pg);
}

/* The file is replaced by another renamed over it while the old page
 * still looks valid (a crash, then an upgrade): the once-a-second check
 * finds it without any error. */
Test(vrtc_api, recovers_file_replaced_while_valid)
{
	struct clock_snapshot s = live(CLOCK_STATUS_SYNCHRONIZED, 1000);
	struct vrtc_time t;
	struct vrtc *v;
	int r;

	replace_page(&s, 100, 0);
	v = open_host(0);
	cr_assert_eq(vrtc_now(v, &t), 0);
	cr_expect_eq(t.disruption_marker, 100);
	s = live(CLOCK_STATUS_FREERUNNING, 2000);
	replace_page(&s, 200, 0);
	r = poll_for(v, VRTC_TIME_REOPENED, 2500, &t);
	cr_assert_eq(r, 0, "%d", r);
	cr_expect_eq(t.disruption_marker, 200);
	cr_expect_eq(t.status, VRTC_STATUS_FREERUNNING);
	vrtc_close(v);
}

/* Deleted, absent for a while (readings fail), then back. */
Test(vrtc_api, recovers_after_absence)
{
	struct clock_snapshot s = live(CLOCK_STATUS_SYNCHRONIZED, 1000);
	struct vmclock_page *pg = vmclock_page_open(path, 0, NULL);
	struct vrtc_time t;
	struct vrtc *v;

	cr_assert_not_null(pg);
	vmclock_page_publish(pg, &s);
	v = open_host(0);
	vmclock_page_free(pg);
	cr_assert_eq(unlink(path), 0);
	for (int i = 0; i < 30; i++) {
		cr_expect_eq(vrtc_now(v, &t), -ENODATA);
		cr_expect_eq(t.status, VRTC_STATUS_UNKNOWN);
		usleep(2000);
	}
	pg = vmclock_page_open(path, 0, NULL);
	cr_assert_not_null(pg);
	s = live(CLOCK_STATUS_SYNCHRONIZED, 1000);
	vmclock_page_publish(pg, &s);
	cr_assert_eq(poll_for(v, VRTC_TIME_REOPENED, 100, &t), 0);
	vrtc_close(v);
	vmclock_page_free(pg);
}

/* A daemon restart that reuses its file in place: no reopen, but the
 * new marker is a disruption, reported once. */
Test(vrtc_api, same_file_restart_is_a_disruption)
{
	struct clock_snapshot s = live(CLOCK_STATUS_SYNCHRONIZED, 1000);
	struct vmclock_page *pg = vmclock_page_open(path, 0, NULL);
	struct vrtc_time t;
	struct stat a, b;
	struct vrtc *v;

	cr_assert_not_null(pg);
	vmclock_page_publish(pg, &s);
	cr_assert_eq(stat(path, &a), 0);
	v = open_host(0);
	cr_assert_eq(vrtc_now(v, &t), 0);
	vmclock_page_free(pg);
	pg = vmclock_page_open(path, 0, NULL);
	cr_assert_not_null(pg);
	cr_assert_eq(stat(path, &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino, "reused in place");
	vmclock_page_publish(pg, &s);
	cr_assert_eq(vrtc_now(v, &t), 0);
	cr_expect_eq(t.flags, VRTC_TIME_TRUSTED | VRTC_TIME_DISRUPTED);
	cr_assert_eq(vrtc_now(v, &t), 0);
	cr_expect_eq(t.flags, VRTC_TIME_TRUSTED);
	vrtc_close(v);
	vmclock_page_free(pg);
}

/* Junk (or a file not yet written) at the path is not adopted; the good
 * page after it is. */
Test(vrtc_api, junk_is_not_adopted)
{
	struct clock_snapshot s = live(CLOCK_STATUS_SYNCHRONIZED, 1000);
	struct vmclock_page *pg = vmclock_page_open(path, 0, NULL);
	struct vrtc_time t;
	struct vrtc *v;

	cr_assert_not_null(pg);
	vmclock_page_publish(pg, &s);
	v = open_host(0);
	vmclock_page_free(pg);
	replace_page(&s, 7, 1);
	for (int i = 0; i < 30; i++) {
		cr_expect_eq(vrtc_now(v, &t), -ENODATA, "still the old page");
		usleep(2000);
	}
	replace_page(&s, 7, 0);
	cr_assert_eq(poll_for(v, VRTC_TIME_REOPENED, 100, &t), 0);
	cr_expect_eq(t.disruption_marker, 7);
	vrtc_close(v);
}

Test(vrtc_api, no_recover_keeps_the_first_page)
{
	struct clock_snapshot s = live(CLOCK_STATUS_SYNCHRONIZED, 1000);
	struct vmclock_page *pg = vmclock_page_open(path, 0, NULL);
	struct vrtc_time t;
	struct vrtc *v;

	cr_assert_not_null(pg);
	vmclock_page_publish(pg, &s);
	v = open_host(VRTC_OPEN_NO_RECOVER);
	vmclock_page_free(pg);
	replace_page(&s, 9, 0);
	cr_expect_eq(poll_for(v, 0, 50, &t), -ENODATA);
	vrtc_close(v);
}

/* 2. What a reading promises. */

Test(vrtc_api, trusted_statuses)
{
	static const struct {
		enum clock_status st;
		uint32_t flags;
	} c[] = {
		{ CLOCK_STATUS_INITIALIZING, VRTC_TIME_TRUSTED },
		{ CLOCK_STATUS_SYNCHRONIZED, VRTC_TIME_TRUSTED },
		{ CLOCK_STATUS_FREERUNNING, VRTC_TIME_TRUSTED },
		{ CLOCK_STATUS_UNRELIABLE, 0 },
	};
	struct vmclock_page *pg = vmclock_page_open(path, 0, NULL);
	struct vrtc *v;

	cr_assert_not_null(pg);
	v = open_host(0);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct clock_snapshot s = live(c[i].st, 1000);
		struct vrtc_time t;

		vmclock_page_publish(pg, &s);
		cr_assert_eq(vrtc_now(v, &t), 0);
		cr_expect_eq(t.flags, c[i].flags, "status %d", c[i].st);
		cr_expect_eq(t.timescale, VRTC_TIMESCALE_UTC);
		cr_expect_eq(vrtc_now_within(v, NS, &t),
			     c[i].flags ? 0 : -ENODATA);
	}
	vrtc_close(v);
	vmclock_page_free(pg);
}

/* A republish with a wider bound would move earliest back: it is held,
 * and a disruption (a step) starts it again. */
Test(vrtc_api, earliest_never_decreases)
{
	struct clock_snapshot s = live(CLOCK_STATUS_SYNCHRONIZED, 1000);
	struct vmclock_page *pg = vmclock_page_open(path, 0, NULL);
	struct vrtc_options o = { .mode = VRTC_MODE_HOST,
				  .timescale = VRTC_TIMESCALE_TAI };
	struct vrtc_time a, b;
	struct vrtc *v;

	cr_assert_not_null(pg);
	vmclock_page_publish(pg, &s);
	o.page_path = path;
	cr_assert_eq(vrtc_open(&o, &v), 0);
	cr_assert_eq(vrtc_now(v, &a), 0);
	s.time_maxerr_ns = 5 * MS; /* the same line, 5 ms wider */
	s.generation++;
	vmclock_page_publish(pg, &s);
	cr_assert_eq(vrtc_now(v, &b), 0);
	cr_expect_eq(b.earliest_ns, a.earliest_ns, "held");
	cr_expect_leq(b.earliest_ns, b.now_ns);
	cr_expect_eq(b.bound_ns, (uint64_t)(b.now_ns - b.earliest_ns));
	s.steps++; /* a step: the marker moves */
	vmclock_page_publish(pg, &s);
	cr_assert_eq(vrtc_now(v, &b), 0);
	cr_expect(b.flags & VRTC_TIME_DISRUPTED);
	cr_expect_lt(b.earliest_ns, a.earliest_ns, "not held past a step");
	vrtc_close(v);
	vmclock_page_free(pg);
}

/* 3. Helpers. */

Test(vrtc_api, before)
{
	struct vrtc_time a = { .earliest_ns = 10,
			       .latest_ns = 20,
			       .flags = VRTC_TIME_TRUSTED };
	struct vrtc_time b = a;

	b.earliest_ns = 21;
	b.latest_ns = 30;
	cr_expect_eq(vrtc_before(&a, &b), 1);
	cr_expect_eq(vrtc_before(&b, &a), 0);
	b.earliest_ns = 20; /* touching: not certain */
	cr_expect_eq(vrtc_before(&a, &b), 0);
	cr_expect_eq(vrtc_before(&a, &a), 0);
	b.timescale = VRTC_TIMESCALE_TAI;
	cr_expect_eq(vrtc_before(&a, &b), -EINVAL);
	cr_expect_eq(vrtc_before(NULL, &a), -EINVAL);
	cr_expect_eq(vrtc_before(&a, NULL), -EINVAL);
	b = a;
	b.flags = 0;
	cr_expect_eq(vrtc_before(&a, &b), -ENODATA);
}

Test(vrtc_api, now_within)
{
	struct clock_snapshot s = live(CLOCK_STATUS_SYNCHRONIZED, 1 * MS);
	struct vmclock_page *pg = vmclock_page_open(path, 0, NULL);
	struct vrtc_time t;
	struct vrtc *v;

	cr_assert_not_null(pg);
	vmclock_page_publish(pg, &s);
	v = open_host(0);
	cr_expect_eq(vrtc_now_within(v, 2 * MS, &t), 0);
	cr_expect_eq(vrtc_now_within(v, MS / 2, &t), -ERANGE);
	cr_expect_gt(t.bound_ns, MS / 2, "filled for a look");
	cr_expect_eq(vrtc_now_within(NULL, MS, &t), -EINVAL);
	vrtc_close(v);
	vmclock_page_free(pg);
}

Test(vrtc_api, commit_wait)
{
	struct clock_snapshot s = live(CLOCK_STATUS_SYNCHRONIZED, 2 * MS);
	struct vmclock_page *pg = vmclock_page_open(path, 0, NULL);
	struct vrtc_time stamp, t;
	struct timespec a, b;
	struct vrtc *v;
	int64_t waited;

	cr_assert_not_null(pg);
	vmclock_page_publish(pg, &s);
	v = open_host(0);
	cr_assert_eq(vrtc_now(v, &stamp), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	cr_assert_eq(vrtc_commit_wait(v, stamp.latest_ns, NS, &t), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	waited = (b.tv_sec - a.tv_sec) * NS + b.tv_nsec - a.tv_nsec;
	cr_expect_gt(t.earliest_ns, stamp.latest_ns);
	cr_expect_eq(vrtc_before(&stamp, &t), 1);
	cr_expect_geq(waited, 4 * MS, "about twice the bound: %lld",
		      (long long)waited);
	cr_expect_lt(waited, 500 * MS, "%lld", (long long)waited);
	cr_expect_eq(vrtc_commit_wait(v, t.latest_ns + NS, 3 * MS, &t),
		     -ETIMEDOUT);
	cr_expect_eq(vrtc_commit_wait(v, 0, 0, NULL), 0, "long past");
	cr_expect_eq(vrtc_commit_wait(NULL, 0, 0, NULL), -EINVAL);
	vrtc_close(v);
	vmclock_page_free(pg);
}

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* Stamps taken just before and just after a reading, dated later: true
 * time ordering makes each interval reach the reading's (whatever the
 * scheduler does meanwhile). */
Test(vrtc_api, time_at_a_past_stamp)
{
	struct clock_snapshot s = live(CLOCK_STATUS_SYNCHRONIZED, 1000);
	struct vmclock_page *pg = vmclock_page_open(path, 0, NULL);
	struct vrtc_time then, at, rt;
	int64_t raw, raw_after, real;
	struct vrtc *v;

	cr_assert_not_null(pg);
	vmclock_page_publish(pg, &s);
	v = open_host(0);
	raw = clock_ns(CLOCK_MONOTONIC_RAW);
	real = clock_ns(CLOCK_REALTIME);
	cr_assert_eq(vrtc_now(v, &then), 0);
	raw_after = clock_ns(CLOCK_MONOTONIC_RAW);
	usleep(20000);
	cr_assert_eq(vrtc_time_at(v, CLOCK_MONOTONIC_RAW, raw, &at), 0);
	cr_expect_leq(at.earliest_ns, then.latest_ns, "before the reading");
	cr_expect(at.flags & VRTC_TIME_TRUSTED);
	cr_expect_geq(at.age_ns, 20 * MS);
	cr_expect_lt(at.latest_ns - at.earliest_ns,
		     then.latest_ns - then.earliest_ns + 50 * MS);
	cr_assert_eq(vrtc_time_at(v, CLOCK_MONOTONIC_RAW, raw_after, &at), 0);
	cr_expect_geq(at.latest_ns, then.earliest_ns, "after the reading");
	cr_assert_eq(vrtc_time_at(v, CLOCK_REALTIME, real, &rt), 0);
	/* 500 ppm of 20 ms each side */
	cr_expect_geq(rt.latest_ns - rt.earliest_ns,
		      then.latest_ns - then.earliest_ns + 20000);
	cr_expect_eq(vrtc_time_at(v, CLOCK_MONOTONIC_RAW, raw + 10 * NS, &at),
		     -EINVAL, "future");
	cr_expect_eq(at.status, VRTC_STATUS_UNKNOWN);
	cr_expect_eq(vrtc_time_at(v, CLOCK_MONOTONIC, raw, &at), -EINVAL);
	cr_expect_eq(
		vrtc_time_at(v, CLOCK_REALTIME, real - 2 * 86400 * NS, &at),
		-ERANGE);
	cr_expect_eq(vrtc_time_at(NULL, CLOCK_REALTIME, real, &at), -EINVAL);
	vrtc_close(v);
	vmclock_page_free(pg);
}

/* 5. Input checks, each with its errno. */

Test(vrtc_api, invalid_input)
{
	struct clock_snapshot s = live(CLOCK_STATUS_SYNCHRONIZED, 1000);
	struct vrtc_options o = { .mode = VRTC_MODE_HOST };
	struct vrtc_time t;
	struct vrtc *v = NULL;

	replace_page(&s, 1, 0);
	o.page_path = path;
	o.mode = (enum vrtc_mode)7;
	cr_expect_eq(vrtc_open(&o, &v), -EINVAL, "mode");
	o.mode = VRTC_MODE_HOST;
	o.timescale = (enum vrtc_timescale)2;
	cr_expect_eq(vrtc_open(&o, &v), -EINVAL, "timescale");
	o.timescale = VRTC_TIMESCALE_UTC;
	o.flags = 0x80;
	cr_expect_eq(vrtc_open(&o, &v), -EINVAL, "unknown flag");
	o.flags = 0;
	o.reserved[2] = 1;
	cr_expect_eq(vrtc_open(&o, &v), -EINVAL, "reserved");
	o.reserved[2] = 0;
	o.reserved0 = 1;
	cr_expect_eq(vrtc_open(&o, &v), -EINVAL, "reserved0");
	o.reserved0 = 0;
	cr_expect_eq(vrtc_open(&o, NULL), -EINVAL, "NULL out");
	cr_expect_null(v);
	cr_expect_eq(vrtc_now(NULL, &t), -EINVAL);
	cr_expect_eq(t.status, VRTC_STATUS_UNKNOWN);
	cr_assert_eq(vrtc_open(&o, &v), 0);
	cr_expect_eq(vrtc_now(v, NULL), -EINVAL);
	vrtc_close(v);

	o.page_path = dir;
	cr_expect_eq(vrtc_open(&o, &v), -EISDIR);
	o.page_path = "/dev/null"; /* a character device */
	cr_expect_eq(vrtc_open(&o, &v), -ENODEV);
	replace_page(&s, 1, 1); /* bad magic: refused at open now */
	o.page_path = path;
	cr_expect_eq(vrtc_open(&o, &v), -EPROTO);
}

Test(vrtc_api, strerror_both_signs)
{
	static const int errs[] = { ENOENT, EPERM,   EMSGSIZE, EPROTO, EAGAIN,
				    ESTALE, ENODATA, EIO,      EINVAL, EISDIR,
				    ENODEV, ERANGE,  ETIMEDOUT };

	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		cr_expect_str_eq(vrtc_strerror(errs[i]),
				 vrtc_strerror(-errs[i]));
		cr_expect_null(strstr(vrtc_strerror(errs[i]), "Unknown"),
			       "%d: %s", errs[i], vrtc_strerror(errs[i]));
		cr_expect_str_neq(vrtc_strerror(-errs[i]), strerror(errs[i]),
				  "our own sentence for %d", errs[i]);
	}
	cr_expect_str_eq(vrtc_strerror(0), "ok");
	cr_expect_str_eq(vrtc_strerror(INT32_MIN), "unknown error");
	cr_expect_str_eq(vrtc_strerror(-4095), "unknown error");
	cr_expect_str_eq(vrtc_strerror(-EBADF), strerror(EBADF));
	cr_expect_str_eq(vrtc_status_name((enum vrtc_status)99), "invalid");
}

/* 4. The layouts callers compile in: 0.1's fields where they were. */
Test(vrtc_api, struct_layouts)
{
	cr_expect_eq(sizeof(struct vrtc_time), 128);
	cr_expect_eq(offsetof(struct vrtc_time, earliest_ns), 0);
	cr_expect_eq(offsetof(struct vrtc_time, latest_ns), 8);
	cr_expect_eq(offsetof(struct vrtc_time, now_ns), 16);
	cr_expect_eq(offsetof(struct vrtc_time, bound_ns), 24);
	cr_expect_eq(offsetof(struct vrtc_time, status), 32);
	cr_expect_eq(offsetof(struct vrtc_time, flags), 36);
	cr_expect_eq(offsetof(struct vrtc_time, age_ns), 40);
	cr_expect_eq(offsetof(struct vrtc_time, window_ns), 48);
	cr_expect_eq(offsetof(struct vrtc_time, disruption_marker), 56);
	cr_expect_eq(offsetof(struct vrtc_time, timescale), 64);
	cr_expect_eq(offsetof(struct vrtc_time, disruptions), 68);
	cr_expect_eq(offsetof(struct vrtc_time, reserved), 72);
	cr_expect_eq(sizeof(struct vrtc_options), 64);
	cr_expect_eq(offsetof(struct vrtc_options, mode), 0);
	cr_expect_eq(offsetof(struct vrtc_options, timescale), 4);
	cr_expect_eq(offsetof(struct vrtc_options, page_path), 8);
	cr_expect_eq(offsetof(struct vrtc_options, phc_path), 16);
	cr_expect_eq(offsetof(struct vrtc_options, max_age_ns), 24);
	cr_expect_eq(offsetof(struct vrtc_options, flags), 32);
	cr_expect_eq(offsetof(struct vrtc_options, reserved), 40);
	cr_expect_eq(vrtc_version(), VRTC_VERSION_NUMBER);
	cr_expect_eq(VRTC_VERSION_NUMBER, 0x000200);
}

/* 6. One handle, four threads, for 2.5 s, while another process
 * republishes the page every millisecond and twice replaces the file:
 * per thread, earliest never goes back between disruptions, and each
 * disruption is reported once. */
#define THREADS 4
#define RUN_NS (2500 * MS)

static int stop;

struct worker {
	struct vrtc *v;
	long ok, refused, disrupted, backwards;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	int64_t last = INT64_MIN;
	uint32_t epoch = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct vrtc_time t;
		int r = vrtc_now(w->v, &t);

		if (r) {
			w->refused++;
			continue;
		}
		w->ok++;
		w->disrupted += (t.flags & VRTC_TIME_DISRUPTED) != 0;
		if (t.disruptions != epoch) {
			epoch = t.disruptions;
			last = INT64_MIN;
		}
		if ((t.flags & VRTC_TIME_TRUSTED) && t.earliest_ns < last) {
			w->backwards++;
		}
		last = t.earliest_ns;
	}
	return NULL;
}

static void publisher(void)
{
	struct vmclock_page *pg = vmclock_page_open(path, 0, NULL);
	int64_t start = clock_ns(CLOCK_MONOTONIC);
	int replaced = 0;

	for (int i = 0; pg; i++) {
		struct clock_snapshot s =
			live(CLOCK_STATUS_SYNCHRONIZED, 1000 + (i % 7) * 300);
		int64_t el = clock_ns(CLOCK_MONOTONIC) - start;

		vmclock_page_publish(pg, &s);
		if ((replaced == 0 && el > 500 * MS) ||
		    (replaced == 1 && el > 1200 * MS)) {
			replaced++;
			/* the daemon replaced: a new file, its own marker */
			vmclock_page_free(pg);
			unlink(path);
			pg = vmclock_page_open(path, 0, NULL);
		}
		usleep(1000);
	}
	_exit(1);
}

Test(vrtc_api, one_handle_four_threads, .timeout = 60)
{
	struct clock_snapshot s = live(CLOCK_STATUS_SYNCHRONIZED, 1000);
	struct worker w[THREADS];
	pthread_t th[THREADS];
	long ok = 0, refused = 0, disrupted = 0;
	struct timespec run = { .tv_sec = RUN_NS / NS, .tv_nsec = RUN_NS % NS };
	struct vrtc *v;
	pid_t pid;
	int st;

	replace_page(&s, 1, 0);
	v = open_host(0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		publisher();
	}
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .v = v };
		cr_assert_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	nanosleep(&run, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		ok += w[i].ok;
		refused += w[i].refused;
		disrupted += w[i].disrupted;
		cr_expect_eq(w[i].backwards, 0, "thread %d: earliest went back",
			     i);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	cr_log_info("4 threads, one handle: %ld readings, %ld refused, %ld "
		    "disrupted",
		    ok, refused, disrupted);
	fprintf(stderr,
		"4 threads, one handle: %ld readings, %ld refused, %ld "
		"disrupted\n",
		ok, refused, disrupted);
	cr_expect_gt(ok, 10000);
	/* the publisher's daemon takes the file over in place (its own
	 * marker), then twice makes a new file: each reported once */
	cr_expect_eq(disrupted, 3);
	cr_expect_lt(refused, ok / 10);
	vrtc_close(v);
}
