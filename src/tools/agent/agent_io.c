// SPDX-License-Identifier: MIT
/*
 * vrtc-agent's I/O: the PHC and host page (through libvrtc's guest
 * mode) and the agent's page file (see agent_io.h).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/ptp_clock.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent_io.h"
#include "vrtc_agent.h"
#include "vrtc_page.h"

#define NS_PER_S 1000000000LL
/* the host page changed under a PHC read: read both again this often */
#define READ_TRIES 4
#define CLOCKFD 3
#define FD_TO_CLOCKID(fd) ((clockid_t)((((unsigned int)~(fd)) << 3) | CLOCKFD))

enum method { M_UNKNOWN, M_EXTENDED, M_BRACKETS };

struct agent_io {
	struct vrtc *v; /* PHC mode, TAI */
	const void *host;
	size_t host_len;
	int phc_fd;
	enum method method;
	struct vmclock_abi *page; /* the agent's page, mapped read-write */
};

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * NS_PER_S + (uint64_t)t->tv_nsec;
}

static int64_t pct_ns(const struct ptp_clock_time *t)
{
	return (int64_t)t->sec * NS_PER_S + t->nsec;
}

static uint64_t raw_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_RAW, &t);
	return ts_ns(&t);
}

/*
 * PTP_SYS_OFFSET_EXTENDED on CLOCK_MONOTONIC_RAW: -EINVAL before the
 * kernels that read a clockid (the word after n_samples: clockid in new
 * headers, rsv[0] in old ones; written by offset so that either
 * compiles the same). Timestamps outside our own reads of the counter
 * around the ioctl mean the clockid was not honoured: -EINVAL too.
 */
static int read_extended(int fd, unsigned int n, int64_t *phc, uint64_t *pre,
			 uint64_t *post)
{
	struct ptp_sys_offset_extended req;
	int64_t best = INT64_MAX;
	int32_t clockid = CLOCK_MONOTONIC_RAW;
	uint64_t before, after;

	memset(&req, 0, sizeof(req));
	req.n_samples = n;
	memcpy((char *)&req + sizeof(req.n_samples), &clockid, sizeof(clockid));
	before = raw_now();
	if (ioctl(fd, PTP_SYS_OFFSET_EXTENDED, &req)) {
		return -errno;
	}
	after = raw_now();
	for (unsigned int i = 0; i < req.n_samples && i < n; i++) {
		int64_t a = pct_ns(&req.ts[i][0]), b = pct_ns(&req.ts[i][2]);

		if (b >= a && b - a < best) {
			best = b - a;
			*phc = pct_ns(&req.ts[i][1]);
			*pre = (uint64_t)a;
			*post = (uint64_t)b;
		}
	}
	if (best == INT64_MAX) {
		return -EIO;
	}
	return *pre >= before && *post <= after ? 0 : -EINVAL;
}

/* The fallback: clock_gettime() on the PHC between two of the counter. */
static int read_brackets(int fd, unsigned int n, int64_t *phc, uint64_t *pre,
			 uint64_t *post)
{
	uint64_t best = UINT64_MAX;

	for (unsigned int i = 0; i < n; i++) {
		struct timespec a, p, b;

		clock_gettime(CLOCK_MONOTONIC_RAW, &a);
		if (clock_gettime(FD_TO_CLOCKID(fd), &p)) {
			return -errno;
		}
		clock_gettime(CLOCK_MONOTONIC_RAW, &b);
		if (ts_ns(&b) >= ts_ns(&a) && ts_ns(&b) - ts_ns(&a) < best) {
			best = ts_ns(&b) - ts_ns(&a);
			*phc = (int64_t)p.tv_sec * NS_PER_S + p.tv_nsec;
			*pre = ts_ns(&a);
			*post = ts_ns(&b);
		}
	}
	return best == UINT64_MAX ? -EIO : 0;
}

static int read_phc(struct agent_io *io, unsigned int n, int64_t *phc,
		    uint64_t *pre, uint64_t *post)
{
	int r;

	if (io->method != M_BRACKETS) {
		r = read_extended(io->phc_fd, n, phc, pre, post);
		if (r != -EINVAL && r != -EOPNOTSUPP) {
			if (!r) {
				io->method = M_EXTENDED;
			}
			return r;
		}
		io->method = M_BRACKETS;
	}
	return read_brackets(io->phc_fd, n, phc, pre, post);
}

static int io_read(void *ctx, unsigned int n, struct agent_sample *s)
{
	struct agent_io *io = ctx;
	struct vmclock_abi again;
	int r = -EAGAIN;

	if (n < 1) {
		n = 1;
	}
	if (n > AGENT_MAX_SAMPLES) {
		n = AGENT_MAX_SAMPLES;
	}
	for (int i = 0; i < READ_TRIES; i++) {
		r = vrtc_page_copy(io->host, io->host_len, &s->host);
		if (r) {
			return r;
		}
		r = read_phc(io, n, &s->phc_ns, &s->pre_ns, &s->post_ns);
		if (r) {
			return r;
		}
		r = vrtc_page_copy(io->host, io->host_len, &again);
		if (r) {
			return r;
		}
		if (again.seq_count == s->host.seq_count) {
			return 0;
		}
		r = -EAGAIN;
	}
	return r;
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

/* The vmclock seqlock: seq_count odd while the fields change. */
static int io_publish(void *ctx, const struct vmclock_abi *f)
{
	struct agent_io *io = ctx;
	char *base = (char *)io->page;
	struct vmclock_abi le;
	uint32_t seq;

	to_le(f, &le);
	seq = le32toh(__atomic_load_n(&io->page->seq_count, __ATOMIC_RELAXED));
	seq += 1 + (seq & 1);
	__atomic_store_n(&io->page->seq_count, htole32(seq), __ATOMIC_RELAXED);
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
	__atomic_store_n(&io->page->seq_count, htole32(seq + 1),
			 __ATOMIC_RELEASE);
	return 0;
}

const struct agent_ops agent_io_ops = {
	.read = io_read,
	.publish = io_publish,
};

/* mkdir -p of @path's directory, 0755. */
static int make_dir(const char *path)
{
	char d[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(d)) {
		return -ENAMETOOLONG;
	}
	memcpy(d, path, len + 1);
	for (char *p = d + 1; *p; p++) {
		if (*p != '/') {
			continue;
		}
		*p = '\0';
		if (mkdir(d, 0755) && errno != EEXIST) {
			return -errno;
		}
		*p = '/';
	}
	return 0;
}

/*
 * The page file: our own regular file (one link, our uid) is reused in
 * place, so that readers that mapped it keep seeing updates across an
 * agent restart; anything else at the path is removed first.
 */
static int open_page(struct agent_io *io, const char *path)
{
	struct stat st;
	void *m;
	int fd, r = make_dir(path);

	if (r) {
		return r;
	}
	if (!lstat(path, &st) &&
	    (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	     st.st_uid != geteuid()) &&
	    unlink(path)) {
		return -errno;
	}
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd < 0) {
		return -errno;
	}
	if (fchmod(fd, 0444) || fstat(fd, &st)) {
		r = -errno;
		goto out;
	}
	if (st.st_size != VMCLOCK_PAGE_SIZE && ftruncate(fd, 0)) {
		r = -errno;
		goto out;
	}
	if (ftruncate(fd, VMCLOCK_PAGE_SIZE)) {
		r = -errno;
		goto out;
	}
	m = mmap(NULL, VMCLOCK_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	if (m == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	io->page = m;
out:
	close(fd);
	return r;
}

int agent_io_open(const char *page, const char *host_page, const char *phc,
		  struct agent_io **out, const char **what)
{
	struct vrtc_options o = {
		.mode = VRTC_MODE_GUEST,
		.timescale = VRTC_TIMESCALE_TAI,
		.page_path = host_page,
		.phc_path = phc,
	};
	struct agent_io *io = calloc(1, sizeof(*io));
	int r;

	if (!io) {
		return -ENOMEM;
	}
	/* the agent reads the PHC, never its own page */
	setenv("VRTC_AGENT_PAGE", "", 1);
	*what = "the host page or the served TAI PHC";
	r = vrtc_open(&o, &io->v);
	if (!r) {
		r = vrtc_guest_handles(io->v, &io->host, &io->host_len,
				       &io->phc_fd);
	}
	if (!r) {
		*what = page;
		r = open_page(io, page);
	}
	if (r) {
		agent_io_free(io);
		return r;
	}
	*out = io;
	return 0;
}

void agent_io_free(struct agent_io *io)
{
	if (!io) {
		return;
	}
	if (io->page) {
		munmap(io->page, VMCLOCK_PAGE_SIZE);
	}
	vrtc_close(io->v);
	free(io);
}

const char *agent_io_method(const struct agent_io *io)
{
	switch (io->method) {
	case M_EXTENDED:
		return "extended";
	case M_BRACKETS:
		return "brackets";
	default:
		return "none";
	}
}
