// SPDX-License-Identifier: MIT
/* Unit tests: the status page writer (src/vmclock_page.c). */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock_model_writer.h"
#include "leap.h"
#include "test_seed.h"
#include "vmclock_page.h"
#include "vrtc_page.h"

#define NS 1000000000LL
#define Q1 ((uint64_t)1 << CLOCK_PERIOD_SHIFT)
/* 2015-07-01 (36) and 2017-01-01 (37) */
#define M2015 1435708800LL
#define M2017 1483228800LL

static struct leap_table *tab;

static void setup(void)
{
	static const struct leap_entry e[] = {
		{ 63072000, 10 },
		{ M2015, 36 },
		{ M2017, 37 },
	};

	tab = leap_table_new(e, 3, 4200000000LL);
	cr_assert_not_null(tab);
}

static void teardown(void)
{
	leap_table_free(tab);
}

TestSuite(vmclock_page, .init = setup, .fini = teardown);

static struct clock_snapshot snap(void)
{
	struct clock_snapshot s = {
		.generation = 7,
		.steps = 3,
		.counter = CLOCK_COUNTER_MONOTONIC_RAW,
		.status = CLOCK_STATUS_SYNCHRONIZED,
		.c0 = 5000000000ULL,
		.tai0_ns = 1800000000LL * NS + 123456789,
		.period_q = Q1,
		.time_esterr_ns = 10,
		.time_maxerr_ns = 1000,
		.rate_esterr_ppb = 100,
		.rate_maxerr_ppb = 1000,
		.leaps = tab,
	};
	return s;
}

Test(vmclock_page, every_field)
{
	struct clock_snapshot s = snap();
	struct vmclock_abi f;
	unsigned __int128 want;

	vmclock_page_encode(&s, VMCLOCK_SMEARING_NOON_LINEAR, 1000, &f);
	cr_expect_eq(f.magic, VMCLOCK_MAGIC);
	cr_expect_eq(f.size, 4096);
	cr_expect_eq(f.version, 1);
	cr_expect_eq(f.counter_id, VMCLOCK_COUNTER_INVALID);
	cr_expect_eq(f.time_type, VMCLOCK_TIME_TAI);
	cr_expect_eq(f.seq_count, 0);
	cr_expect_eq(f.disruption_marker, 1003, "base + steps");
	cr_expect_eq(f.flags, VMCLOCK_FLAG_TAI_OFFSET_VALID |
				      VMCLOCK_FLAG_PERIOD_ESTERROR_VALID |
				      VMCLOCK_FLAG_PERIOD_MAXERROR_VALID |
				      VMCLOCK_FLAG_TIME_ESTERROR_VALID |
				      VMCLOCK_FLAG_TIME_MAXERROR_VALID);
	cr_expect_eq(f.pad[0] | f.pad[1], 0);
	cr_expect_eq(f.clock_status, VMCLOCK_STATUS_SYNCHRONIZED);
	cr_expect_eq(f.leap_second_smearing_hint, VMCLOCK_SMEARING_NOON_LINEAR);
	cr_expect_eq((int16_t)f.tai_offset_sec, -37, "UTC - TAI");
	cr_expect_eq(f.leap_indicator, VMCLOCK_LEAP_NONE);
	cr_expect_eq(f.counter_period_shift, VMCLOCK_PAGE_PERIOD_SHIFT);
	cr_expect_eq(f.counter_value, 5000000000ULL);
	/* 1 ns = 2^88 / 1e9 units of 2^-88 s, to nearest */
	want = (((unsigned __int128)1 << 88) + NS / 2) / NS;
	cr_expect_eq(f.counter_period_frac_sec, (uint64_t)want);
	/* 1000 ppb: 1e-15 s per tick, rounded up, + 1 */
	want = (((unsigned __int128)1000 << 88) + (unsigned __int128)NS * NS -
		1) /
	       ((unsigned __int128)NS * NS);
	cr_expect_eq(f.counter_period_maxerror_rate_frac_sec,
		     (uint64_t)want + 1);
	cr_expect_eq(f.time_sec, 1800000000ULL);
	cr_expect_eq(
		(uint64_t)(((unsigned __int128)f.time_frac_sec * NS) >> 64),
		123456789);
	cr_expect_eq(f.time_esterror_nanosec, 10);
	cr_expect_eq(f.time_maxerror_nanosec, 1000);
	cr_expect_eq(f.vm_generation_counter, 0);
}

Test(vmclock_page, nothing_published_is_unknown)
{
	struct clock_snapshot s = snap();
	struct vmclock_abi f;

	vmclock_page_encode(NULL, 0, 5, &f);
	cr_expect_eq(f.clock_status, VMCLOCK_STATUS_UNKNOWN);
	cr_expect_eq(f.flags, 0);
	cr_expect_eq(f.magic, VMCLOCK_MAGIC);
	s.generation = 0;
	vmclock_page_encode(&s, 0, 5, &f);
	cr_expect_eq(f.flags, 0);
	cr_expect_eq(f.time_sec, 0);
}

Test(vmclock_page, status_transitions)
{
	static const enum clock_status all[] = {
		CLOCK_STATUS_INITIALIZING, CLOCK_STATUS_SYNCHRONIZED,
		CLOCK_STATUS_FREERUNNING,  CLOCK_STATUS_UNRELIABLE,
		CLOCK_STATUS_UNKNOWN,	   CLOCK_STATUS_SYNCHRONIZED,
	};
	struct clock_snapshot s = snap();
	struct vmclock_abi f;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		s.status = all[i];
		vmclock_page_encode(&s, 0, 0, &f);
		cr_expect_eq(f.clock_status, (uint8_t)all[i]);
		cr_expect_eq(!!(f.flags & VMCLOCK_FLAG_TIME_MAXERROR_VALID),
			     all[i] != CLOCK_STATUS_UNKNOWN, "status %d",
			     all[i]);
		cr_expect_eq(vrtc_page_usable(&f) == 0,
			     all[i] != CLOCK_STATUS_UNKNOWN);
	}
}

Test(vmclock_page, time_frac_round_trips)
{
	unsigned int seed = test_seed("vmclock_page.time_frac_round_trips");
	struct clock_snapshot s = snap();
	struct vmclock_abi f;

	srand(seed);
	for (int i = 0; i < 100000; i++) {
		int64_t ns = (int64_t)rand() % NS;

		if (i < 3) {
			ns = i == 0 ? 0 : i == 1 ? 1 : NS - 1;
		}
		s.tai0_ns = 1700000000LL * NS + ns;
		vmclock_page_encode(&s, 0, 0, &f);
		cr_assert_eq(vrtc_page_time_ns(&f), s.tai0_ns, "ns %lld",
			     (long long)ns);
	}
}

/* The library's extrapolation of the page agrees with the model's. */
Test(vmclock_page, period_and_bound_agree_with_the_model)
{
	struct clock_snapshot s = snap();
	struct clock_reading r;
	struct vmclock_abi f;
	struct vrtc_time t;
	const uint64_t ds[] = { 0, 1, 999, 1000000, 5 * NS };

	s.period_q = Q1 + (Q1 / 1000000) * 37; /* +37 ppm */
	vmclock_page_encode(&s, 0, 0, &f);
	for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
		clock_snapshot_tai(&s, s.c0 + ds[i], &r);
		cr_assert_eq(vrtc_page_host(&f, s.c0 + ds[i], 10 * NS,
					    VRTC_TIMESCALE_TAI, &t),
			     0);
		cr_expect(llabs(t.now_ns - r.ns) <= 1, "d %llu: %lld vs %lld",
			  (unsigned long long)ds[i], (long long)t.now_ns,
			  (long long)r.ns);
		cr_expect(t.bound_ns >= r.maxerr_ns, "bound %llu < model %llu",
			  (unsigned long long)t.bound_ns,
			  (unsigned long long)r.maxerr_ns);
		cr_expect(t.bound_ns <= r.maxerr_ns + 3, "bound %llu >> %llu",
			  (unsigned long long)t.bound_ns,
			  (unsigned long long)r.maxerr_ns);
	}
}

Test(vmclock_page, little_endian_bytes)
{
	struct clock_snapshot s = snap();
	struct vmclock_abi f;
	_Alignas(8) unsigned char page[VMCLOCK_PAGE_SIZE] = { 0 };

	vmclock_page_encode(&s, 0, 0x0102030405060708ULL, &f);
	vmclock_page_store((struct vmclock_abi *)page, &f);
	cr_expect_eq(memcmp(page, "VCLK", 4), 0);
	cr_expect_eq(page[4], 0x00);
	cr_expect_eq(page[5], 0x10, "size 4096 LE");
	cr_expect_eq(page[8], 1);
	cr_expect_eq(page[9], 0);
	cr_expect_eq(page[0x0a], 0xff);
	cr_expect_eq(page[0x0b], VMCLOCK_TIME_TAI);
	cr_expect_eq(page[0x0c], 2, "seq_count after one store");
	cr_expect_eq(page[0x10], 0x0b, "marker LE (+3 steps)");
	cr_expect_eq(page[0x17], 0x01);
	cr_expect_eq(page[0x22], VMCLOCK_STATUS_SYNCHRONIZED);
	cr_expect_eq(page[0x24], 0xdb, "-37 LE");
	cr_expect_eq(page[0x25], 0xff);
	cr_expect_eq(page[0x27], VMCLOCK_PAGE_PERIOD_SHIFT);
	/* time_maxerror_nanosec 1000 = 0x3e8 at 0x60 */
	cr_expect_eq(page[0x60], 0xe8);
	cr_expect_eq(page[0x61], 0x03);
	cr_expect_eq(page[0x48], (uint8_t)(1800000000ULL & 0xff));
	/* nothing past the struct */
	for (size_t i = sizeof(f); i < sizeof(page); i++) {
		cr_assert_eq(page[i], 0, "byte %zu", i);
	}
}

Test(vmclock_page, seqlock_counts)
{
	struct vmclock_abi f;
	_Alignas(8) unsigned char page[VMCLOCK_PAGE_SIZE] = { 0 };
	struct vmclock_abi *p = (struct vmclock_abi *)page;
	struct vmclock_abi back;

	vmclock_page_encode(NULL, 0, 0, &f);
	vmclock_page_store(p, &f);
	cr_expect_eq(le32toh(p->seq_count), 2);
	vmclock_page_store(p, &f);
	cr_expect_eq(le32toh(p->seq_count), 4);
	/* a writer that died mid-update left it odd: still ends even */
	p->seq_count = htole32(7);
	cr_expect_eq(vrtc_page_copy(p, sizeof(page), &back), -EAGAIN);
	vmclock_page_store(p, &f);
	cr_expect_eq(le32toh(p->seq_count), 10);
	cr_expect_eq(vrtc_page_copy(p, sizeof(page), &back), 0);
	/* wraps */
	p->seq_count = htole32(UINT32_MAX - 1);
	vmclock_page_store(p, &f);
	cr_expect_eq(le32toh(p->seq_count), 0);
}

/* A writer storing pages whose fields all say the same n, a reader that
 * must never see two different n in one copy. */
struct race {
	struct vmclock_abi *p;
	volatile int stop;
	unsigned long writes;
};

static void *writer(void *arg)
{
	struct race *r = arg;
	struct vmclock_abi f;

	vmclock_page_encode(NULL, 0, 0, &f);
	while (!r->stop) {
		uint64_t n = ++r->writes;

		f.disruption_marker = n;
		f.counter_value = n;
		f.time_sec = n;
		f.time_frac_sec = n;
		f.time_maxerror_nanosec = n;
		f.vm_generation_counter = n;
		vmclock_page_store(r->p, &f);
	}
	return NULL;
}

Test(vmclock_page, reader_never_sees_a_torn_page, .timeout = 60)
{
	_Alignas(64) static unsigned char page[VMCLOCK_PAGE_SIZE];
	struct race r = { .p = (struct vmclock_abi *)page };
	unsigned long reads = 0, torn = 0, busy = 0;
	pthread_t th;
	struct vmclock_abi f;

	vmclock_page_encode(NULL, 0, 0, &f);
	vmclock_page_store(r.p, &f);
	cr_assert_eq(pthread_create(&th, NULL, writer, &r), 0);
	while (reads < 5000000 || r.writes < 1000) {
		int e = vrtc_page_copy(page, sizeof(page), &f);

		if (e == -EAGAIN) {
			busy++;
			continue;
		}
		cr_assert_eq(e, 0);
		reads++;
		if (f.counter_value != f.disruption_marker ||
		    f.time_sec != f.disruption_marker ||
		    f.time_frac_sec != f.disruption_marker ||
		    f.time_maxerror_nanosec != f.disruption_marker ||
		    f.vm_generation_counter != f.disruption_marker) {
			torn++;
		}
	}
	r.stop = 1;
	pthread_join(th, NULL);
	cr_log_info("%lu reads, %lu writes, %lu gave up (-EAGAIN)", reads,
		    r.writes, busy);
	cr_expect_eq(torn, 0, "%lu of %lu reads torn", torn, reads);
}

static uint8_t li(int64_t utc_s, int64_t dtai)
{
	return vmclock_page_leap_indicator(tab, (utc_s + dtai) * NS);
}

Test(vmclock_page, leap_indicator_around_a_positive_leap)
{
	/* December 2016: the leap is at the end of this month */
	cr_expect_eq(li(M2017 - 40 * 86400, 36), VMCLOCK_LEAP_NONE, "Nov");
	cr_expect_eq(li(M2017 - 31 * 86400, 36), VMCLOCK_LEAP_PRE_POS, "Dec 1");
	cr_expect_eq(li(M2017 - 1, 36), VMCLOCK_LEAP_PRE_POS, "23:59:59");
	/* TAI M + 36: the inserted 23:59:60 */
	cr_expect_eq(vmclock_page_leap_indicator(tab, (M2017 + 36) * NS),
		     VMCLOCK_LEAP_POS);
	cr_expect_eq(
		vmclock_page_leap_indicator(tab, (M2017 + 36) * NS + NS - 1),
		VMCLOCK_LEAP_POS);
	cr_expect_eq(li(M2017, 37), VMCLOCK_LEAP_POST_POS, "00:00:00");
	cr_expect_eq(li(M2017 + 86399, 37), VMCLOCK_LEAP_POST_POS);
	cr_expect_eq(li(M2017 + 86400, 37), VMCLOCK_LEAP_NONE, "Jan 2");
	cr_expect_eq(vmclock_page_leap_indicator(NULL, 0), VMCLOCK_LEAP_NONE);
}

Test(vmclock_page, leap_indicator_negative)
{
	static const struct leap_entry e[] = {
		{ 63072000, 10 },
		{ M2017, 37 },
		{ 4107542400LL, 36 }, /* 2100-03-01 */
	};
	struct leap_table *t = leap_table_new(e, 3, 4200000000LL);
	int64_t m = 4107542400LL;

	cr_assert_not_null(t);
	cr_expect_eq(vmclock_page_leap_indicator(t, (m - 86400 + 37) * NS),
		     VMCLOCK_LEAP_PRE_NEG, "Feb 28");
	/* 23:59:59 is skipped: at UTC m - 1 (old offset) it is m */
	cr_expect_eq(vmclock_page_leap_indicator(t, (m - 2 + 37) * NS),
		     VMCLOCK_LEAP_PRE_NEG);
	cr_expect_eq(vmclock_page_leap_indicator(t, (m - 1 + 37) * NS),
		     VMCLOCK_LEAP_POST_NEG);
	cr_expect_eq(vmclock_page_leap_indicator(t, (m + 86400 + 36) * NS),
		     VMCLOCK_LEAP_NONE);
	leap_table_free(t);
}

/* The page file: made 0444, reused in place, marked UNKNOWN at the end. */
Test(vmclock_page, file_life)
{
	char dir[] = "/tmp/vmclock-page-XXXXXX";
	char *path, *cmd;
	struct vmclock_page *p;
	struct clock_snapshot s = snap();
	struct vmclock_abi f;
	struct stat st, st2;
	GError *err = NULL;
	unsigned char buf[VMCLOCK_PAGE_SIZE];
	FILE *fp;

	cr_assert_not_null(mkdtemp(dir));
	path = g_build_filename(dir, "vmclock", NULL);
	p = vmclock_page_open(path, 0, &err);
	cr_assert_not_null(p, "%s", err ? err->message : "?");
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0444);
	cr_expect_eq(st.st_size, VMCLOCK_PAGE_SIZE);
	vmclock_page_publish(p, &s);
	fp = fopen(path, "rb");
	cr_assert_eq(fread(buf, 1, sizeof(buf), fp), sizeof(buf));
	fclose(fp);
	cr_assert_eq(vrtc_page_copy(buf, sizeof(buf), &f), 0);
	cr_expect_eq(f.clock_status, VMCLOCK_STATUS_SYNCHRONIZED);
	cr_expect_eq(f.counter_value, s.c0);
	vmclock_page_free(p);
	fp = fopen(path, "rb");
	cr_assert_eq(fread(buf, 1, sizeof(buf), fp), sizeof(buf));
	fclose(fp);
	cr_assert_eq(vrtc_page_copy(buf, sizeof(buf), &f), 0);
	cr_expect_eq(f.clock_status, VMCLOCK_STATUS_UNKNOWN, "closed");

	/* a restart reuses the same file (QEMU keeps its mapping) */
	p = vmclock_page_open(path, 0, &err);
	cr_assert_not_null(p);
	cr_assert_eq(stat(path, &st2), 0);
	cr_expect_eq(st.st_ino, st2.st_ino, "reused in place");
	vmclock_page_free(p);

	/* a file others could write is replaced, not trusted */
	cr_assert_eq(chmod(path, 0666), 0);
	p = vmclock_page_open(path, 0, &err);
	cr_assert_not_null(p);
	cr_assert_eq(stat(path, &st2), 0);
	cr_expect_neq(st.st_ino, st2.st_ino, "replaced");
	cr_expect_eq(st2.st_mode & 07777, 0444);
	vmclock_page_free(p);

	/* a symlink is replaced, its target untouched */
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(symlink("/etc/hostname", path), 0);
	p = vmclock_page_open(path, 0, &err);
	cr_assert_not_null(p);
	cr_assert_eq(lstat(path, &st2), 0);
	cr_expect(S_ISREG(st2.st_mode));
	vmclock_page_free(p);

	/* no directory: an error naming the path */
	p = vmclock_page_open("/nonexistent-dir/vmclock", 0, &err);
	cr_expect_null(p);
	cr_expect_not_null(err);
	cr_expect(err && strstr(err->message, "/nonexistent-dir/vmclock"));
	g_clear_error(&err);

	cmd = g_strdup_printf("rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
	g_free(cmd);
	g_free(path);
}

/* A second daemon on the same page is refused and writes nothing. */
Test(vmclock_page, one_daemon_per_page)
{
	char dir[] = "/tmp/vmclock-lock-XXXXXX";
	struct clock_snapshot s = snap();
	struct vmclock_page *p, *q;
	unsigned char buf[VMCLOCK_PAGE_SIZE];
	struct vmclock_abi f, g;
	char *path, *link2, *cmd, pid[32];
	GError *err = NULL;
	struct stat st, st2;
	FILE *fp;

	cr_assert_not_null(mkdtemp(dir));
	path = g_build_filename(dir, "vmclock", NULL);
	link2 = g_build_filename(dir, "vmclock.link", NULL);
	p = vmclock_page_open(path, 0, &err);
	cr_assert_not_null(p, "%s", err ? err->message : "?");
	vmclock_page_publish(p, &s);
	fp = fopen(path, "rb");
	cr_assert_eq(fread(buf, 1, sizeof(buf), fp), sizeof(buf));
	fclose(fp);
	cr_assert_eq(vrtc_page_copy(buf, sizeof(buf), &f), 0);

	/* the holder is named: this process */
	snprintf(pid, sizeof(pid), "(pid %ld)", (long)getpid());
	q = vmclock_page_open(path, 0, &err);
	cr_expect_null(q);
	cr_assert_not_null(err);
	cr_expect(strstr(err->message, path), "%s", err->message);
	cr_expect(strstr(err->message, pid), "%s", err->message);
	g_clear_error(&err);
	/* nothing written: not UNKNOWN, the same disruption marker */
	fp = fopen(path, "rb");
	cr_assert_eq(fread(buf, 1, sizeof(buf), fp), sizeof(buf));
	fclose(fp);
	cr_assert_eq(vrtc_page_copy(buf, sizeof(buf), &g), 0);
	cr_expect_eq(g.clock_status, VMCLOCK_STATUS_SYNCHRONIZED);
	cr_expect_eq(g.disruption_marker, f.disruption_marker);

	/* a page it would not reuse (two links) is not replaced either */
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(link(path, link2), 0);
	q = vmclock_page_open(path, 0, &err);
	cr_expect_null(q);
	cr_expect(err && strstr(err->message, pid));
	g_clear_error(&err);
	cr_assert_eq(stat(path, &st2), 0);
	cr_expect_eq(st.st_ino, st2.st_ino, "the held page was replaced");
	cr_assert_eq(unlink(link2), 0);

	/* once the holder is gone, the next one reuses it in place */
	vmclock_page_free(p);
	p = vmclock_page_open(path, 0, &err);
	cr_assert_not_null(p, "%s", err ? err->message : "?");
	cr_assert_eq(stat(path, &st2), 0);
	cr_expect_eq(st.st_ino, st2.st_ino, "not reused in place");
	vmclock_page_free(p);

	cmd = g_strdup_printf("rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
	g_free(cmd);
	g_free(link2);
	g_free(path);
}

/*
 * The lock goes with the open file, not the process image: a daemon
 * that took the page and exec'd itself with the page's fd inherited
 * (as a re-exec for an upgrade will) still holds it, and the page is
 * free again once that process is gone.
 */
Test(vmclock_page, lock_survives_exec_with_the_fd)
{
	char dir[] = "/tmp/vmclock-exec-XXXXXX";
	struct vmclock_page *p;
	GError *err = NULL;
	char *path, *cmd, pid[32], c;
	int fds[2], st;
	pid_t child;

	cr_assert_not_null(mkdtemp(dir));
	path = g_build_filename(dir, "vmclock", NULL);
	/* the write end closes at the child's exec: EOF says it happened */
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		close(fds[0]);
		p = vmclock_page_open(path, 0, NULL);
		if (!p || fcntl(vmclock_page_fd(p), F_SETFD, 0) < 0) {
			_exit(1);
		}
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(1);
	}
	close(fds[1]);
	cr_assert_eq(read(fds[0], &c, 1), 0);
	close(fds[0]);
	cr_assert_eq(waitpid(child, &st, WNOHANG), 0,
		     "the child did not get to exec");

	snprintf(pid, sizeof(pid), "(pid %ld)", (long)child);
	p = vmclock_page_open(path, 0, &err);
	cr_expect_null(p, "the page was free while its exec'd holder ran");
	cr_expect(err && strstr(err->message, pid), "%s",
		  err ? err->message : "");
	g_clear_error(&err);
	vmclock_page_free(p);

	kill(child, SIGKILL);
	cr_assert_eq(waitpid(child, &st, 0), child);
	p = vmclock_page_open(path, 0, &err);
	cr_expect_not_null(p, "%s", err ? err->message : "?");
	g_clear_error(&err);
	vmclock_page_free(p);

	cmd = g_strdup_printf("rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
	g_free(cmd);
	g_free(path);
}

/* The page file as a reader sees it. */
static void read_page(const char *path, struct vmclock_abi *f)
{
	unsigned char buf[VMCLOCK_PAGE_SIZE];
	FILE *fp = fopen(path, "rb");

	cr_assert_not_null(fp);
	cr_assert_eq(fread(buf, 1, sizeof(buf), fp), sizeof(buf));
	fclose(fp);
	cr_assert_eq(vrtc_page_copy(buf, sizeof(buf), f), 0);
}

/* Holdover: nothing is published, yet the page stays fresh (its age says
 * whether the daemon is alive), with the same line and a grown bound. */
Test(vmclock_page, refresh_keeps_a_held_over_page_fresh)
{
	char dir[] = "/tmp/vmclock-page-XXXXXX";
	struct clock_model *m = clock_model_new();
	struct clock_snapshot s = snap();
	struct clock_reading want;
	struct vmclock_page *p;
	struct vmclock_abi f;
	struct vrtc_time t;
	GError *err = NULL;
	uint32_t seq;
	uint64_t now;
	char *path;

	cr_assert_not_null(m);
	cr_assert_not_null(mkdtemp(dir));
	path = g_build_filename(dir, "vmclock", NULL);
	p = vmclock_page_open(path, 0, &err);
	cr_assert_not_null(p, "%s", err ? err->message : "?");
	clock_model_set_observer(m, vmclock_page_observer, p);

	/* nothing published: the refresh leaves the page UNKNOWN */
	vmclock_page_refresh(p, m);
	read_page(path, &f);
	cr_expect_eq(f.clock_status, VMCLOCK_STATUS_UNKNOWN);

	/* published 12 s ago, the last publish before holdover */
	s.status = CLOCK_STATUS_FREERUNNING;
	s.c0 = clock_counter_now(s.counter) - 12 * (uint64_t)NS;
	clock_model_publish(m, &s);
	cr_assert_eq(clock_model_get(m, &s), 0);
	read_page(path, &f);
	now = clock_counter_now(s.counter);
	cr_expect_eq(vrtc_page_host(&f, now, 10 * NS, VRTC_TIMESCALE_TAI, &t),
		     -ESTALE, "12 s old without a refresh: stale");

	vmclock_page_refresh(p, m);
	read_page(path, &f);
	now = clock_counter_now(s.counter);
	cr_assert_eq(vrtc_page_host(&f, now, 10 * NS, VRTC_TIMESCALE_TAI, &t),
		     0, "refreshed, yet refused");
	cr_expect_eq(t.status, VRTC_STATUS_FREERUNNING);
	cr_expect_lt(t.age_ns, NS);
	clock_snapshot_tai(&s, now, &want);
	cr_expect(llabs(t.now_ns - want.ns) <= 2, "%lld vs %lld",
		  (long long)t.now_ns, (long long)want.ns);
	cr_expect_geq(t.bound_ns, want.maxerr_ns, "narrower than the model");
	cr_expect_leq(t.bound_ns, want.maxerr_ns + 4);

	/* a fresh snapshot is left as published */
	s.c0 = clock_counter_now(s.counter);
	clock_model_publish(m, &s);
	read_page(path, &f);
	seq = f.seq_count;
	vmclock_page_refresh(p, m);
	read_page(path, &f);
	cr_expect_eq(f.seq_count, seq, "rewritten though fresh");

	vmclock_page_free(p);
	clock_model_free(m);
	unlink(path);
	rmdir(dir);
	g_free(path);
}
