// SPDX-License-Identifier: MIT
/*
 * The status page: encoding the model as vmclock fields, the seqlock
 * store, and the page file.
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "leap.h"
#include "time_ns.h"
#include "timescale.h"
#include "vmclock_page.h"

struct vmclock_page {
	struct vmclock_abi *map; /* VMCLOCK_PAGE_SIZE bytes, MAP_SHARED */
	int fd;			 /* holds the flock() for our life */
	uint8_t hint;
	uint64_t marker_base;
};

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

uint8_t vmclock_page_leap_indicator(const struct leap_table *t, int64_t tai_ns)
{
	int64_t tai_s = floor_div(tai_ns, NS_PER_S);
	int64_t utc_s;

	if (!t) {
		return VMCLOCK_LEAP_NONE;
	}
	utc_s = tai_s - timescale_dtai_at_tai(t, tai_ns);
	for (size_t i = 1; i < t->n; i++) {
		int32_t k = t->e[i].dtai - t->e[i - 1].dtai;
		int64_t at = timescale_leap_tai_s(t, i);
		int64_t m = t->e[i].utc_s;

		if (k == 0) {
			continue;
		}
		if (tai_s < at) {
			/* the next leap: announced for the month it ends */
			if (vmclock_month_end_s(utc_s) == m) {
				return k > 0 ? VMCLOCK_LEAP_PRE_POS
					     : VMCLOCK_LEAP_PRE_NEG;
			}
			return VMCLOCK_LEAP_NONE;
		}
		if (k > 0 && tai_s < at + k) {
			return VMCLOCK_LEAP_POS; /* 23:59:60 */
		}
		if (utc_s < m + 86400 &&
		    (i + 1 == t->n || tai_s < timescale_leap_tai_s(t, i + 1))) {
			return k > 0 ? VMCLOCK_LEAP_POST_POS
				     : VMCLOCK_LEAP_POST_NEG;
		}
	}
	return VMCLOCK_LEAP_NONE;
}

/* ceil(a * 2^sh / d), saturating at UINT64_MAX; a * 2^sh < 2^128. */
static uint64_t frac_ceil(unsigned __int128 a, unsigned int sh,
			  unsigned __int128 d)
{
	unsigned __int128 r = ((a << sh) + d - 1) / d;

	return r > UINT64_MAX ? UINT64_MAX : (uint64_t)r;
}

/* The rate bound (ns of error per s of counter, ticks being ns) as a
 * period error in 2^-(64 + shift) s per tick, rounded up. */
static uint64_t rate_frac(uint64_t ppb, unsigned int shift)
{
	/* beyond 1 s/s the bound means nothing anyway */
	if (ppb > NS_PER_S) {
		return UINT64_MAX;
	}
	return frac_ceil(ppb, 64 + shift,
			 (unsigned __int128)NS_PER_S * NS_PER_S);
}

static void encode_period(const struct clock_snapshot *s, struct vmclock_abi *f)
{
	unsigned int shift = VMCLOCK_PAGE_PERIOD_SHIFT;
	unsigned __int128 p;

	/* period_q / 2^40 ns = period_q * 2^(64 + shift - 40) / 1e9 units,
	 * rounded to nearest (1 ns per tick stays exact over 1e9 ticks); a
	 * smaller shift for the (absurd) period that would not fit */
	for (;;) {
		p = (((unsigned __int128)s->period_q
		      << (64 + shift - CLOCK_PERIOD_SHIFT)) +
		     NS_PER_S / 2) /
		    NS_PER_S;
		if (p <= UINT64_MAX || shift == 0) {
			break;
		}
		shift--;
	}
	f->counter_period_shift = (uint8_t)shift;
	f->counter_period_frac_sec = p > UINT64_MAX ? UINT64_MAX : (uint64_t)p;
	/* + 1 unit in the maxerror rate: the rounding of the period */
	f->counter_period_esterror_rate_frac_sec =
		rate_frac(s->rate_esterr_ppb, shift);
	f->counter_period_maxerror_rate_frac_sec =
		rate_frac(s->rate_maxerr_ppb, shift);
	if (f->counter_period_maxerror_rate_frac_sec < UINT64_MAX) {
		f->counter_period_maxerror_rate_frac_sec++;
	}
}

void vmclock_page_encode(const struct clock_snapshot *s, uint8_t hint,
			 uint64_t marker_base, struct vmclock_abi *out)
{
	struct vmclock_abi f = {
		.magic = VMCLOCK_MAGIC,
		.size = VMCLOCK_PAGE_SIZE,
		.version = VMCLOCK_VERSION,
		.counter_id = VMCLOCK_COUNTER_INVALID,
		.time_type = VMCLOCK_TIME_TAI,
		.clock_status = VMCLOCK_STATUS_UNKNOWN,
		.leap_second_smearing_hint = hint,
		.disruption_marker = marker_base,
	};
	int64_t sec;

	if (!s || s->generation == 0) {
		*out = f;
		return;
	}
	f.disruption_marker = marker_base + s->steps;
	f.clock_status = (uint8_t)s->status;
	f.counter_value = s->c0;
	encode_period(s, &f);
	sec = floor_div(s->tai0_ns, NS_PER_S);
	f.time_sec = (uint64_t)sec;
	/* rounded up, so that floor(frac * 1e9 / 2^64) gives the ns back */
	f.time_frac_sec = frac_ceil((uint64_t)(s->tai0_ns - sec * NS_PER_S), 64,
				    NS_PER_S);
	f.time_esterror_nanosec = s->time_esterr_ns;
	f.time_maxerror_nanosec = s->time_maxerr_ns;
	if (s->leaps) {
		f.tai_offset_sec = (uint16_t)(int16_t)-timescale_dtai_at_tai(
			s->leaps, s->tai0_ns);
		f.leap_indicator =
			vmclock_page_leap_indicator(s->leaps, s->tai0_ns);
		f.flags |= VMCLOCK_FLAG_TAI_OFFSET_VALID;
	}
	if (s->status != CLOCK_STATUS_UNKNOWN) {
		f.flags |= VMCLOCK_FLAG_PERIOD_ESTERROR_VALID |
			   VMCLOCK_FLAG_PERIOD_MAXERROR_VALID |
			   VMCLOCK_FLAG_TIME_ESTERROR_VALID |
			   VMCLOCK_FLAG_TIME_MAXERROR_VALID;
	}
	*out = f;
}

static void to_le(const struct vmclock_abi *f, struct vmclock_abi *le)
{
	*le = *f;
	le->magic = htole32(f->magic);
	le->size = htole32(f->size);
	le->version = htole16(f->version);
	le->disruption_marker = htole64(f->disruption_marker);
	le->flags = htole64(f->flags);
	le->tai_offset_sec = htole16(f->tai_offset_sec);
	le->counter_value = htole64(f->counter_value);
	le->counter_period_frac_sec = htole64(f->counter_period_frac_sec);
	le->counter_period_esterror_rate_frac_sec =
		htole64(f->counter_period_esterror_rate_frac_sec);
	le->counter_period_maxerror_rate_frac_sec =
		htole64(f->counter_period_maxerror_rate_frac_sec);
	le->time_sec = htole64(f->time_sec);
	le->time_frac_sec = htole64(f->time_frac_sec);
	le->time_esterror_nanosec = htole64(f->time_esterror_nanosec);
	le->time_maxerror_nanosec = htole64(f->time_maxerror_nanosec);
	le->vm_generation_counter = htole64(f->vm_generation_counter);
}

void vmclock_page_store(struct vmclock_abi *page, const struct vmclock_abi *f)
{
	char *base = (char *)page;
	struct vmclock_abi le;
	uint32_t seq;

	to_le(f, &le);
	seq = le32toh(__atomic_load_n(&page->seq_count, __ATOMIC_RELAXED));
	/* odd; from an odd count too (a writer that died mid-update) */
	seq += 1 + (seq & 1);
	__atomic_store_n(&page->seq_count, htole32(seq), __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (size_t off = 0; off < offsetof(struct vmclock_abi, seq_count);
	     off += 4) {
		uint32_t w;

		memcpy(&w, (const char *)&le + off, 4);
		__atomic_store_n((uint32_t *)(base + off), w, __ATOMIC_RELAXED);
	}
	for (size_t off = offsetof(struct vmclock_abi, disruption_marker);
	     off < sizeof(le); off += 8) {
		uint64_t w;

		memcpy(&w, (const char *)&le + off, 8);
		__atomic_store_n((uint64_t *)(base + off), w, __ATOMIC_RELAXED);
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&page->seq_count, htole32(seq + 1), __ATOMIC_RELEASE);
}

/*
 * The pid of /proc/locks line @line ("1: FLOCK  ADVISORY  WRITE PID
 * MAJ:MIN:INODE 0 EOF", device numbers in hex) if it is a flock() on
 * the inode of @st; else 0. Waiters ("1: -> FLOCK ...") are not.
 */
static long lock_line_pid(char *line, const struct stat *st)
{
	char *f[6], *save = NULL, *e;
	unsigned long maj, min;
	unsigned long long ino;
	long pid;
	int n;

	for (n = 0; n < 6; n++) {
		f[n] = strtok_r(n ? NULL : line, " \t\n", &save);
		if (!f[n]) {
			return 0;
		}
	}
	if (strcmp(f[1], "FLOCK") != 0) {
		return 0;
	}
	pid = strtol(f[4], &e, 10);
	if (*e || pid <= 0) {
		return 0;
	}
	maj = strtoul(f[5], &e, 16);
	if (*e != ':') {
		return 0;
	}
	min = strtoul(e + 1, &e, 16);
	if (*e != ':') {
		return 0;
	}
	ino = strtoull(e + 1, &e, 10);
	if (*e || maj != major(st->st_dev) || min != minor(st->st_dev) ||
	    ino != (unsigned long long)st->st_ino) {
		return 0;
	}
	return pid;
}

/* The pid holding a flock() on the inode of @st; 0 if unknown. */
static long lock_holder(const struct stat *st)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256];
	long pid = 0;

	if (!f) {
		return 0;
	}
	while (!pid && fgets(line, sizeof(line), f)) {
		pid = lock_line_pid(line, st);
	}
	fclose(f);
	return pid;
}

/* Refusal of a page another process holds: one line, with its pid. */
static int busy(const char *path, int fd, GError **err)
{
	struct stat st;
	long pid = fstat(fd, &st) == 0 ? lock_holder(&st) : 0;

	if (pid) {
		g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_EXIST,
			    "vmclock page %s is held by another daemon (pid "
			    "%ld): two daemons cannot share one page",
			    path, pid);
	} else {
		g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_EXIST,
			    "vmclock page %s is held by another daemon: two "
			    "daemons cannot share one page",
			    path);
	}
	return -EBUSY;
}

/*
 * Take the page's lock on @fd: flock(), so that it belongs to the open
 * file description and stays held across an execve() that inherits the
 * fd (a re-exec'd daemon keeps its page). Returns 0, or -EBUSY with
 * @err set when another holds it.
 */
static int lock_page(const char *path, int fd, GError **err)
{
	int e;

	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		return 0;
	}
	e = errno;
	if (e == EWOULDBLOCK) {
		return busy(path, fd, err);
	}
	g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(e),
		    "vmclock page %s: cannot lock it: %s", path, g_strerror(e));
	return -e;
}

/*
 * Whether the regular file at @path, one we will not reuse, is locked by
 * a running daemon all the same (it runs as another user, say): then it
 * is refused rather than replaced under that daemon. 0 or -EBUSY.
 */
static int check_foreign(const char *path, GError **err)
{
	struct stat st;
	int r = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		return 0;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
			r = busy(path, fd, err);
		}
	}
	close(fd); /* drops our shared lock, if taken */
	return r;
}

/*
 * An existing page file we may write in place: ours, regular, one link,
 * writable by nobody else, and locked by us before anything is written.
 * Returns an fd, -ENOENT (none: make one), or -EBUSY with @err set.
 */
static int reuse_file(const char *path, GError **err)
{
	struct stat st;
	int r, fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		return -ENOENT;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		close(fd);
		return -ENOENT;
	}
	r = lock_page(path, fd, err);
	if (r < 0) {
		close(fd);
		return r;
	}
	if (st.st_size != VMCLOCK_PAGE_SIZE &&
	    ftruncate(fd, VMCLOCK_PAGE_SIZE)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/*
 * A new page file, locked, renamed over @path. Returns an fd or -errno
 * (with @err set).
 */
static int create_file(const char *path, GError **err)
{
	char *tmp = g_strdup_printf("%s.XXXXXX", path);
	int fd = g_mkstemp_full(tmp, O_RDWR | O_CLOEXEC, 0600);
	struct stat mine, there;
	int r = 0;

	if (fd < 0) {
		r = -errno;
	} else if (ftruncate(fd, VMCLOCK_PAGE_SIZE) || fchmod(fd, 0444) ||
		   /* a fresh inode: nobody else can hold its lock */
		   flock(fd, LOCK_EX | LOCK_NB) || rename(tmp, path)) {
		r = -errno;
		unlink(tmp);
		close(fd);
	}
	g_free(tmp);
	if (r) {
		g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(-r),
			    "vmclock page %s: %s", path, g_strerror(-r));
		return r;
	}
	/* another daemon renaming its own over ours at the same instant */
	if (fstat(fd, &mine) || stat(path, &there) ||
	    mine.st_dev != there.st_dev || mine.st_ino != there.st_ino) {
		close(fd);
		g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_EXIST,
			    "vmclock page %s was replaced while being "
			    "created: another daemon starting with it?",
			    path);
		return -EBUSY;
	}
	return fd;
}

int vmclock_page_check(const char *path, GError **err)
{
	char *dir = g_path_get_dirname(path);
	struct stat st;
	int e = 0;

	if (path[0] == '\0') {
		e = EINVAL;
		g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "empty page path");
	} else if (stat(dir, &st) < 0) {
		e = errno;
		g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(e),
			    "vmclock page %s: directory %s: %s", path, dir,
			    g_strerror(e));
	} else if (!S_ISDIR(st.st_mode)) {
		e = ENOTDIR;
		g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_NOTDIR,
			    "vmclock page %s: %s is not a directory", path,
			    dir);
	} else if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		e = EISDIR;
		g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_ISDIR,
			    "vmclock page %s: is a directory", path);
	}
	g_free(dir);
	return -e;
}

struct vmclock_page *vmclock_page_open(const char *path, uint8_t hint,
				       GError **err)
{
	return vmclock_page_open_as(path, hint, NULL, -1, err);
}

uint64_t vmclock_page_marker_base(const struct vmclock_page *p)
{
	return p->marker_base;
}

/* The page the process before us held (and locked) at @path, as @fd. */
static int adopt_file(const char *path, int fd, GError **err)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0 || stat(path, &b) < 0 || !S_ISREG(a.st_mode) ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino ||
	    a.st_size < VMCLOCK_PAGE_SIZE) {
		close(fd);
		g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "vmclock page %s: the page handed over is not "
			    "that file",
			    path);
		return -EINVAL;
	}
	return fd;
}

struct vmclock_page *vmclock_page_open_as(const char *path, uint8_t hint,
					  const uint64_t *marker_base,
					  int adopt_fd, GError **err)
{
	struct vmclock_page *p;
	struct vmclock_abi f;
	void *map;
	int fd = adopt_fd >= 0 ? adopt_file(path, adopt_fd, err)
			       : reuse_file(path, err);

	if (fd == -ENOENT && adopt_fd < 0) {
		fd = check_foreign(path, err);
		if (fd == 0) {
			fd = create_file(path, err);
		}
	}
	if (fd < 0) {
		return NULL;
	}
	map = mmap(NULL, VMCLOCK_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	if (map == MAP_FAILED) {
		int e = errno;

		close(fd);
		g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(e),
			    "vmclock page %s: mmap: %s", path, g_strerror(e));
		return NULL;
	}
	p = g_new0(struct vmclock_page, 1);
	p->map = map;
	p->fd = fd;
	p->hint = hint;
	if (marker_base) {
		/* a live upgrade: the same clock goes on, no disruption */
		p->marker_base = *marker_base;
		return p;
	}
	/* non-repeating across runs: readers see a restart as a disruption */
	if (getrandom(&p->marker_base, sizeof(p->marker_base), 0) !=
	    sizeof(p->marker_base)) {
		p->marker_base = (uint64_t)g_get_real_time() << 16;
	}
	vmclock_page_encode(NULL, hint, p->marker_base, &f);
	vmclock_page_store(p->map, &f);
	return p;
}

int vmclock_page_fd(const struct vmclock_page *p)
{
	return p->fd;
}

void vmclock_page_publish(struct vmclock_page *p,
			  const struct clock_snapshot *s)
{
	struct vmclock_abi f;

	vmclock_page_encode(s, p->hint, p->marker_base, &f);
	vmclock_page_store(p->map, &f);
}

void vmclock_page_refresh(struct vmclock_page *p, const struct clock_model *m)
{
	struct clock_snapshot s, now;
	uint64_t c;

	if (clock_model_get(m, &s)) {
		return;
	}
	c = clock_counter_now(s.counter);
	if (c <= s.c0 || c - s.c0 < VMCLOCK_PAGE_REFRESH_NS) {
		return;
	}
	clock_snapshot_rebase(&s, c, &now);
	vmclock_page_publish(p, &now);
}

void vmclock_page_observer(void *ctx, const struct clock_snapshot *s)
{
	vmclock_page_publish(ctx, s);
}

void vmclock_page_free(struct vmclock_page *p)
{
	struct vmclock_abi f;

	if (!p) {
		return;
	}
	vmclock_page_encode(NULL, p->hint, p->marker_base, &f);
	vmclock_page_store(p->map, &f);
	munmap(p->map, VMCLOCK_PAGE_SIZE);
	close(p->fd); /* and so the lock: the next daemon may take the page */
	g_free(p);
}
