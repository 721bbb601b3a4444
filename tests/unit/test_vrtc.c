// SPDX-License-Identifier: MIT
/* Unit tests: libvrtc's page reader (src/libvrtc/vrtc_page.c, vrtc.c). */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "leap.h"
#include "vmclock_page.h"
#include "vrtc_page.h"

#define NS 1000000000LL
#define Q1 ((uint64_t)1 << CLOCK_PERIOD_SHIFT)
#define M2017 1483228800LL

static struct leap_table *tab;
static char dir[] = "/tmp/vrtc-test-XXXXXX";

static void setup(void)
{
	static const struct leap_entry e[] = {
		{ 63072000, 10 },
		{ 1435708800, 36 },
		{ M2017, 37 },
	};

	tab = leap_table_new(e, 3, 4200000000LL);
	cr_assert_not_null(tab);
	strcpy(dir, "/tmp/vrtc-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char *cmd = g_strdup_printf("rm -rf '%s'", dir);

	leap_table_free(tab);
	cr_expect_eq(system(cmd), 0);
	g_free(cmd);
}

TestSuite(vrtc, .init = setup, .fini = teardown);

static struct clock_snapshot snap(void)
{
	struct clock_snapshot s = {
		.generation = 1,
		.status = CLOCK_STATUS_SYNCHRONIZED,
		.c0 = 5000 * NS,
		.tai0_ns = 1800000000LL * NS,
		.period_q = Q1,
		.time_maxerr_ns = 1000,
		.rate_maxerr_ppb = 10000, /* 10 us/s */
		.leaps = tab,
	};
	return s;
}

/* A page image as the daemon stores it. */
static void image(const struct clock_snapshot *s, void *page)
{
	struct vmclock_abi f;

	memset(page, 0, VMCLOCK_PAGE_SIZE);
	vmclock_page_encode(s, 0, 0, &f);
	vmclock_page_store(page, &f);
}

Test(vrtc, reads_a_good_page)
{
	_Alignas(8) unsigned char p[VMCLOCK_PAGE_SIZE];
	struct clock_snapshot s = snap();
	struct vmclock_abi f;
	struct vrtc_time t;

	image(&s, p);
	cr_assert_eq(vrtc_page_copy(p, sizeof(p), &f), 0);
	cr_assert_eq(
		vrtc_page_host(&f, s.c0 + NS, 10 * NS, VRTC_TIMESCALE_TAI, &t),
		0);
	cr_expect_eq(t.now_ns, s.tai0_ns + NS);
	/* 1000 + 10 us growth (rounded up) + 1 */
	cr_expect(t.bound_ns >= 1000 + 10000 + 1 && t.bound_ns <= 1000 + 10003,
		  "%llu", (unsigned long long)t.bound_ns);
	cr_expect_eq(t.earliest_ns, t.now_ns - (int64_t)t.bound_ns);
	cr_expect_eq(t.latest_ns, t.now_ns + (int64_t)t.bound_ns);
	cr_expect_eq(t.status, VRTC_STATUS_SYNCHRONIZED);
	cr_expect_eq(t.age_ns, NS);
	cr_assert_eq(
		vrtc_page_host(&f, s.c0 + NS, 10 * NS, VRTC_TIMESCALE_UTC, &t),
		0);
	cr_expect_eq(t.now_ns, s.tai0_ns + NS - 37 * NS, "UTC = TAI - 37 s");
}

Test(vrtc, refuses_bad_magic_version_size)
{
	_Alignas(8) unsigned char p[VMCLOCK_PAGE_SIZE];
	struct clock_snapshot s = snap();
	struct vmclock_abi *w = (struct vmclock_abi *)p, f;

	image(&s, p);
	p[0] ^= 1;
	cr_expect_eq(vrtc_page_copy(p, sizeof(p), &f), -EPROTO, "magic");
	image(&s, p);
	w->version = htole16(2);
	cr_expect_eq(vrtc_page_copy(p, sizeof(p), &f), -EPROTO, "version");
	image(&s, p);
	w->size = htole32(0x6f);
	cr_expect_eq(vrtc_page_copy(p, sizeof(p), &f), -EPROTO, "size small");
	w->size = htole32(8192);
	cr_expect_eq(vrtc_page_copy(p, sizeof(p), &f), -EPROTO, "size big");
	w->size = htole32(4096);
	cr_expect_eq(vrtc_page_copy(p, 0x6f, &f), -EMSGSIZE, "short map");
	cr_expect_eq(vrtc_page_copy(p, sizeof(p), &f), 0);
	/* big-endian writer: not ours */
	w->magic = htobe32(VMCLOCK_MAGIC);
	cr_expect_eq(vrtc_page_copy(p, sizeof(p), &f), -EPROTO, "endian");
}

Test(vrtc, refuses_torn)
{
	_Alignas(8) unsigned char p[VMCLOCK_PAGE_SIZE];
	struct clock_snapshot s = snap();
	struct vmclock_abi *w = (struct vmclock_abi *)p, f;

	image(&s, p);
	w->seq_count = htole32(le32toh(w->seq_count) + 1); /* mid-update */
	cr_expect_eq(vrtc_page_copy(p, sizeof(p), &f), -EAGAIN);
}

Test(vrtc, refuses_stale_or_foreign_counter)
{
	_Alignas(8) unsigned char p[VMCLOCK_PAGE_SIZE];
	struct clock_snapshot s = snap();
	struct vmclock_abi f;
	struct vrtc_time t;

	image(&s, p);
	cr_assert_eq(vrtc_page_copy(p, sizeof(p), &f), 0);
	cr_expect_eq(vrtc_page_host(&f, s.c0 + 10 * NS, 10 * NS,
				    VRTC_TIMESCALE_TAI, &t),
		     0, "at the limit");
	cr_expect_eq(vrtc_page_host(&f, s.c0 + 10 * NS + 2, 10 * NS,
				    VRTC_TIMESCALE_TAI, &t),
		     -ESTALE);
	cr_expect_eq(t.status, VRTC_STATUS_UNKNOWN);
	cr_expect_eq(t.earliest_ns | t.latest_ns, 0);
	cr_expect_eq(
		vrtc_page_host(&f, s.c0 - 500, 10 * NS, VRTC_TIMESCALE_TAI, &t),
		0, "1 us of slack");
	cr_expect_eq(vrtc_page_host(&f, s.c0 - 5000, 10 * NS,
				    VRTC_TIMESCALE_TAI, &t),
		     -ESTALE, "a counter before the page's");
	/* guest: the PHC far from the page's time */
	cr_expect_eq(vrtc_page_guest(&f, s.tai0_ns + 11 * NS, 0, 10 * NS,
				     VRTC_TIMESCALE_TAI, &t),
		     -ESTALE);
	cr_expect_eq(vrtc_page_guest(&f, s.tai0_ns - 11 * NS, 0, 10 * NS,
				     VRTC_TIMESCALE_TAI, &t),
		     -ESTALE);
}

Test(vrtc, refuses_unknown_status_or_no_bound)
{
	_Alignas(8) unsigned char p[VMCLOCK_PAGE_SIZE];
	struct clock_snapshot s = snap();
	struct vmclock_abi f;
	struct vrtc_time t;

	s.status = CLOCK_STATUS_UNKNOWN;
	image(&s, p);
	cr_assert_eq(vrtc_page_copy(p, sizeof(p), &f), 0);
	cr_expect_eq(vrtc_page_host(&f, s.c0, 10 * NS, VRTC_TIMESCALE_TAI, &t),
		     -ENODATA);
	s = snap();
	image(&s, p);
	cr_assert_eq(vrtc_page_copy(p, sizeof(p), &f), 0);
	f.flags &= ~VMCLOCK_FLAG_TIME_MAXERROR_VALID;
	cr_expect_eq(vrtc_page_host(&f, s.c0, 10 * NS, VRTC_TIMESCALE_TAI, &t),
		     -ENODATA);
	cr_assert_eq(vrtc_page_copy(p, sizeof(p), &f), 0);
	f.flags &= ~VMCLOCK_FLAG_TAI_OFFSET_VALID;
	cr_expect_eq(vrtc_page_host(&f, s.c0, 10 * NS, VRTC_TIMESCALE_TAI, &t),
		     0, "TAI needs no offset");
	cr_expect_eq(vrtc_page_host(&f, s.c0, 10 * NS, VRTC_TIMESCALE_UTC, &t),
		     -ENODATA, "UTC does");
	cr_assert_eq(vrtc_page_copy(p, sizeof(p), &f), 0);
	f.counter_period_frac_sec = 0;
	cr_expect_eq(vrtc_page_guest(&f, s.tai0_ns, 0, 10 * NS,
				     VRTC_TIMESCALE_TAI, &t),
		     -ENODATA, "no division by a zero period");
}

Test(vrtc, guest_bound)
{
	_Alignas(8) unsigned char p[VMCLOCK_PAGE_SIZE];
	struct clock_snapshot s = snap();
	struct vmclock_abi f;
	struct vrtc_time t;

	image(&s, p);
	cr_assert_eq(vrtc_page_copy(p, sizeof(p), &f), 0);
	/* at the page's instant: maxerror + window/2 + 1 */
	cr_assert_eq(vrtc_page_guest(&f, s.tai0_ns, 10000, 10 * NS,
				     VRTC_TIMESCALE_TAI, &t),
		     0);
	cr_expect_eq(t.bound_ns, 1000 + 5000 + 1);
	/* 2 s later (UTC PHC): + 20 us */
	cr_assert_eq(vrtc_page_guest(&f, s.tai0_ns - 37 * NS + 2 * NS, 0,
				     10 * NS, VRTC_TIMESCALE_UTC, &t),
		     0);
	cr_expect_eq(t.age_ns, 2 * NS);
	cr_expect(t.bound_ns >= 1000 + 20000 && t.bound_ns <= 1000 + 20003,
		  "%llu", (unsigned long long)t.bound_ns);
	cr_expect_eq(t.now_ns, s.tai0_ns - 37 * NS + 2 * NS);
}

/* Host mode across a positive leap: UTC steps back at 24:00:00 and the
 * interval covers both occurrences of the repeated second. */
Test(vrtc, host_utc_across_a_leap)
{
	_Alignas(8) unsigned char p[VMCLOCK_PAGE_SIZE];
	struct clock_snapshot s = snap();
	struct vmclock_abi f;
	struct vrtc_time t;

	s.tai0_ns = (M2017 - 2 + 36) * NS; /* 23:59:58 UTC */
	image(&s, p);
	cr_assert_eq(vrtc_page_copy(p, sizeof(p), &f), 0);
	cr_assert_eq(f.leap_indicator, VMCLOCK_LEAP_PRE_POS);
	cr_assert_eq(vrtc_page_host(&f, s.c0 + NS / 2, 10 * NS,
				    VRTC_TIMESCALE_UTC, &t),
		     0);
	cr_expect_eq(t.now_ns, (M2017 - 2) * NS + NS / 2);
	/* 2.5 s later: the inserted second, UTC reads 23:59:59.5 again */
	cr_assert_eq(vrtc_page_host(&f, s.c0 + 5 * NS / 2, 10 * NS,
				    VRTC_TIMESCALE_UTC, &t),
		     0);
	cr_expect_eq(t.now_ns, (M2017 - 1) * NS + NS / 2);
	cr_expect_leq(t.earliest_ns, (M2017 - 1) * NS);
	cr_expect_geq(t.latest_ns, M2017 * NS);
	/* 3.5 s later: 00:00:00.5 */
	cr_assert_eq(vrtc_page_host(&f, s.c0 + 7 * NS / 2, 10 * NS,
				    VRTC_TIMESCALE_UTC, &t),
		     0);
	cr_expect_eq(t.now_ns, M2017 * NS + NS / 2);
	/* TAI never steps */
	cr_assert_eq(vrtc_page_host(&f, s.c0 + 7 * NS / 2, 10 * NS,
				    VRTC_TIMESCALE_TAI, &t),
		     0);
	cr_expect_eq(t.now_ns, s.tai0_ns + 7 * NS / 2);
}

static char *write_file(const char *name, const void *data, size_t len,
			mode_t mode)
{
	char *path = g_build_filename(dir, name, NULL);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

Test(vrtc, files_that_must_be_refused)
{
	_Alignas(8) unsigned char p[VMCLOCK_PAGE_SIZE];
	struct clock_snapshot s = snap();
	struct vrtc_options o = { .mode = VRTC_MODE_HOST };
	struct vrtc_time t;
	struct vrtc *v = NULL;
	char *path;

	image(&s, p);
	o.page_path = path = write_file("short", p, 200, 0444);
	cr_expect_eq(vrtc_open(&o, &v), -EMSGSIZE, "truncated");
	g_free(path);
	o.page_path = path = write_file("empty", p, 0, 0444);
	cr_expect_eq(vrtc_open(&o, &v), -EMSGSIZE, "empty");
	g_free(path);
	o.page_path = path = write_file("writable", p, sizeof(p), 0666);
	cr_expect_eq(vrtc_open(&o, &v), -EPERM, "others may write it");
	g_free(path);
	o.page_path = "/nonexistent/vmclock";
	cr_expect_eq(vrtc_open(&o, &v), -ENOENT);
	o.page_path = dir;
	cr_expect_eq(vrtc_open(&o, &v), -EISDIR, "a directory");

	/* another process's content: refused at open */
	memset(p, 0xa4, sizeof(p));
	o.page_path = path = write_file("garbage", p, sizeof(p), 0444);
	cr_expect_eq(vrtc_open(&o, &v), -EPROTO);
	g_free(path);
	memset(p, 0xa5, sizeof(p)); /* an odd seq_count: torn forever */
	o.page_path = path = write_file("garbage2", p, sizeof(p), 0444);
	cr_expect_eq(vrtc_open(&o, &v), -EAGAIN);
	g_free(path);

	/* a good page from a snapshot long ago: stale */
	image(&s, p);
	o.page_path = path = write_file("old", p, sizeof(p), 0444);
	cr_assert_eq(vrtc_open(&o, &v), 0);
	cr_expect_eq(vrtc_now(v, &t), -ESTALE);
	vrtc_close(v);
	g_free(path);
	vrtc_close(NULL);
}

/* The daemon's writer and the library, end to end through a file. */
Test(vrtc, live_page_through_a_file)
{
	struct clock_snapshot s = snap();
	struct vrtc_options o = { .mode = VRTC_MODE_HOST };
	struct vmclock_page *pg;
	struct clock_reading r;
	struct vrtc_time t;
	struct vrtc *v;
	GError *err = NULL;
	char *path = g_build_filename(dir, "vmclock", NULL);

	pg = vmclock_page_open(path, 0, &err);
	cr_assert_not_null(pg);
	o.page_path = path;
	cr_assert_eq(vrtc_open(&o, &v), 0);
	cr_expect_eq(vrtc_now(v, &t), -ENODATA, "nothing published yet");
	s.c0 = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
	s.status = CLOCK_STATUS_FREERUNNING;
	vmclock_page_publish(pg, &s);
	cr_assert_eq(vrtc_now(v, &t), 0);
	clock_snapshot_tai(&s, clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW),
			   &r);
	cr_expect_eq(t.status, VRTC_STATUS_FREERUNNING);
	cr_expect_leq(t.now_ns + 37 * NS, r.ns);
	cr_expect_leq(t.earliest_ns + 37 * NS, r.ns);
	vmclock_page_free(pg); /* the daemon exits: UNKNOWN at once */
	cr_expect_eq(vrtc_now(v, &t), -ENODATA);
	vrtc_close(v);
	g_free(path);
}

/* ClockBound's segment, read back byte by byte as its PROTOCOL.md and
 * reader lay it out (native endian). */
Test(vrtc, clockbound_segment)
{
	struct clock_snapshot s = snap();
	struct vrtc_options o = { .mode = VRTC_MODE_HOST };
	struct vmclock_page *pg;
	struct vrtc *v;
	GError *err = NULL;
	char *path = g_build_filename(dir, "vmclock", NULL);
	char *shm = g_build_filename(dir, "shm0", NULL);
	char *shm2 = g_build_filename(dir, "shm1", NULL);
	unsigned char b[80], good[40];
	int64_t t64[4];
	uint32_t u32[3];
	uint16_t version, gen, gen2;
	int64_t bound;
	int32_t status;
	uint32_t drift;
	FILE *fp;

	pg = vmclock_page_open(path, 0, &err);
	cr_assert_not_null(pg);
	o.page_path = path;
	cr_assert_eq(vrtc_open(&o, &v), 0);
	s.c0 = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
	vmclock_page_publish(pg, &s);
	cr_assert_eq(vrtc_clockbound_write(v, shm, 1234, 10), 0);

	fp = fopen(shm, "rb");
	cr_assert_not_null(fp);
	cr_assert_eq(fread(b, 1, sizeof(b), fp), sizeof(b));
	fclose(fp);
	memcpy(u32, b, 12);
	cr_expect_eq(u32[0], 0x414D5A4E);
	cr_expect_eq(u32[1], 0x43420200);
	cr_expect_eq(u32[2], 80, "segment size");
	memcpy(&version, b + 12, 2);
	memcpy(&gen, b + 14, 2);
	cr_expect_eq(version, 2);
	cr_expect(gen > 0 && gen % 2 == 0, "generation %u", gen);
	memcpy(&bound, b + 48, 8);
	memcpy(&drift, b + 64, 4);
	memcpy(&status, b + 68, 4);
	cr_expect_eq(drift, 1234);
	cr_expect_eq(status, 1, "Synchronized");
	/* our bound plus REALTIME's distance from our UTC: at least ours */
	cr_expect_geq(bound, 1000);

	/* FREERUNNING -> FreeRunning; a model step -> Disrupted once */
	s.status = CLOCK_STATUS_FREERUNNING;
	s.steps = 1;
	s.c0 = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW);
	vmclock_page_publish(pg, &s);
	cr_assert_eq(vrtc_clockbound_write(v, shm, 1234, 10), 0);
	fp = fopen(shm, "rb");
	cr_assert_eq(fread(b, 1, sizeof(b), fp), sizeof(b));
	fclose(fp);
	memcpy(&status, b + 68, 4);
	memcpy(&gen2, b + 14, 2);
	cr_expect_eq(status, 3, "Disrupted");
	cr_expect_eq(gen2, gen + 2);
	cr_assert_eq(vrtc_clockbound_write(v, shm, 1234, 10), 0);
	fp = fopen(shm, "rb");
	cr_assert_eq(fread(b, 1, sizeof(b), fp), sizeof(b));
	fclose(fp);
	memcpy(&status, b + 68, 4);
	cr_expect_eq(status, 2, "FreeRunning");

	memcpy(good, b + 16, 40); /* as_of, void_after, bound */

	/* the daemon gone: Unknown, and the error; the last bound stays,
	 * growing from its own as_of, void at the same instant */
	vmclock_page_free(pg);
	cr_expect_eq(vrtc_clockbound_write(v, shm, 1234, 10), -ENODATA);
	fp = fopen(shm, "rb");
	cr_assert_eq(fread(b, 1, sizeof(b), fp), sizeof(b));
	fclose(fp);
	memcpy(&status, b + 68, 4);
	cr_expect_eq(status, 0, "Unknown");
	cr_expect_arr_eq(b + 16, good, sizeof(good),
			 "as_of, void_after and bound of the last good write");
	vrtc_close(v);

	/* never a bound: Unknown, a bound that claims nothing, void at
	 * once (as_of == void_after) */
	pg = vmclock_page_open(path, 0, &err);
	cr_assert_not_null(pg);
	cr_assert_eq(vrtc_open(&o, &v), 0);
	vmclock_page_free(pg);
	cr_expect_lt(vrtc_clockbound_write(v, shm2, 1234, 10), 0);
	fp = fopen(shm2, "rb");
	cr_assert_not_null(fp);
	cr_assert_eq(fread(b, 1, sizeof(b), fp), sizeof(b));
	fclose(fp);
	memcpy(&status, b + 68, 4);
	memcpy(&bound, b + 48, 8);
	memcpy(t64, b + 16, sizeof(t64));
	cr_expect_eq(status, 0, "Unknown");
	cr_expect_eq(bound, INT64_MAX / 4);
	cr_expect(t64[0] == t64[2] && t64[1] == t64[3],
		  "void_after %" PRId64 ".%09" PRId64 " != as_of %" PRId64
		  ".%09" PRId64,
		  t64[2], t64[3], t64[0], t64[1]);
	vrtc_close(v);
	g_free(path);
	g_free(shm);
	g_free(shm2);
}
