// SPDX-License-Identifier: MIT
/*
 * The PHC reader (see phc.h): opening a PHC, probing the read method,
 * bursts of comparisons with the host counter and their error bounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/ptp_clock.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "phc.h"
#include "time_ns.h"

/* Seconds beyond this would overflow int64 ns (with room to add). */
#define PHC_MAX_SEC 9000000000LL
/* Tries of a method that answers EBUSY/EAGAIN/EINTR. */
#define PHC_BUSY_TRIES 3
/* REALTIME - MONOTONIC_RAW moving more than this in one read: a step. */
#define PHC_MAX_CONV_JUMP_NS 1000000

/*
 * PTP_SYS_OFFSET_EXTENDED as Linux >= 6.12 lays it out: the clockid of
 * the system timestamps lives in what older headers (Debian bookworm's
 * 6.1) call rsv[0].  Same size, so the same ioctl number; older kernels
 * reject a non-zero rsv[0] with EINVAL.
 */
struct phc_sys_offset_extended {
	unsigned int n_samples;
	int clockid;
	unsigned int rsv[2];
	struct ptp_clock_time ts[PTP_MAX_SAMPLES][3];
};

_Static_assert(sizeof(struct phc_sys_offset_extended) ==
		       sizeof(struct ptp_sys_offset_extended),
	       "extended offset layout");
_Static_assert(offsetof(struct phc_sys_offset_extended, ts) ==
		       offsetof(struct ptp_sys_offset_extended, ts),
	       "extended offset layout");
_Static_assert(PHC_MAX_SAMPLES == PTP_MAX_SAMPLES, "PTP_MAX_SAMPLES");

struct phc {
	const struct phc_ops *ops;
	void *ctx;
	int fd;
	int index;
	enum phc_timescale timescale;
	int64_t tai_utc_ns;
	uint32_t precise_err_ns;
	bool cross;
	enum phc_method method;
	int probe_err[PHC_METHOD_COUNT];
};

/* --- the real system calls ---------------------------------------------- */

static int sys_open(void *ctx, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	(void)ctx;
	return fd < 0 ? -errno : fd;
}

static int sys_socket(void *ctx)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	(void)ctx;
	return fd < 0 ? -errno : fd;
}

static int sys_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	(void)ctx;
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

static int sys_close(void *ctx, int fd)
{
	(void)ctx;
	return close(fd) < 0 ? -errno : 0;
}

static int sys_gettime(void *ctx, clockid_t clk, struct timespec *ts)
{
	return time_ns_sys_gettime(ctx, clk, ts) < 0 ? -errno : 0;
}

static const struct phc_ops sys_ops = {
	.open = sys_open,
	.socket = sys_socket,
	.ioctl = sys_ioctl,
	.close = sys_close,
	.gettime = sys_gettime,
};

/* --- opening ------------------------------------------------------------ */

/* "<what>: <why>: <strerror(err)>" into msg (if any); returns err. */
static int phc_why(char *msg, size_t len, int err, const char *what,
		   const char *why)
{
	if (msg && len) {
		snprintf(msg, len, "%s: %s: %s", what, why, strerror(-err));
	}
	return err;
}

/* N of ".../ptpN", or -1. */
static int path_index(const char *path)
{
	const char *base = strrchr(path, '/');
	char *end;
	long n;

	base = base ? base + 1 : path;
	if (strncmp(base, "ptp", 3) != 0 || base[3] < '0' || base[3] > '9') {
		return -1;
	}
	errno = 0;
	n = strtol(base + 3, &end, 10);
	if (errno || *end || n > INT32_MAX) {
		return -1;
	}
	return (int)n;
}

/* The PHC index of a network interface (ETHTOOL_GET_TS_INFO). */
static int if_phc_index(struct phc *p, const char *ifname, int *index,
			char *msg, size_t len)
{
	struct ethtool_ts_info info = { .cmd = ETHTOOL_GET_TS_INFO };
	struct ifreq ifr;
	int sock, ret;

	if (strlen(ifname) >= sizeof(ifr.ifr_name)) {
		return phc_why(msg, len, -EINVAL, ifname,
			       "not a device path, and too long for an "
			       "interface name");
	}
	sock = p->ops->socket(p->ctx);
	if (sock < 0) {
		return phc_why(msg, len, sock, ifname, "socket for ethtool");
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	ifr.ifr_data = (char *)&info;
	ret = p->ops->ioctl(p->ctx, sock, SIOCETHTOOL, &ifr);
	p->ops->close(p->ctx, sock);
	if (ret == -ENODEV) {
		return phc_why(msg, len, -ENOENT, ifname,
			       "no such network interface");
	}
	if (ret == -EOPNOTSUPP) {
		return phc_why(msg, len, -ENODEV, ifname,
			       "the interface reports no timestamping "
			       "capabilities, so no PHC");
	}
	if (ret < 0) {
		return phc_why(msg, len, ret, ifname, "ETHTOOL_GET_TS_INFO");
	}
	if (info.phc_index < 0) {
		return phc_why(msg, len, -ENODEV, ifname,
			       "the interface has no PHC");
	}
	*index = info.phc_index;
	return 0;
}

int phc_open(const char *dev_or_ifname, const struct phc_options *opt,
	     struct phc **out, char *msg, size_t msg_len)
{
	struct ptp_clock_caps caps;
	char path[64];
	const char *dev;
	struct phc *p;
	int ret;

	if (msg && msg_len) {
		msg[0] = '\0';
	}
	if (!out) {
		return -EINVAL;
	}
	*out = NULL;
	if (!dev_or_ifname || !*dev_or_ifname) {
		return phc_why(msg, msg_len, -EINVAL, "phc", "no PHC named");
	}
	if (opt && opt->timescale != PHC_TIMESCALE_TAI &&
	    opt->timescale != PHC_TIMESCALE_UTC) {
		return phc_why(msg, msg_len, -EINVAL, dev_or_ifname,
			       "bad timescale");
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		return phc_why(msg, msg_len, -ENOMEM, dev_or_ifname,
			       "allocating");
	}
	p->fd = -1;
	p->ops = opt && opt->ops ? opt->ops : &sys_ops;
	p->ctx = opt ? opt->ctx : NULL;
	p->timescale = opt ? opt->timescale : PHC_TIMESCALE_TAI;
	p->precise_err_ns = opt && opt->precise_err_ns
				    ? opt->precise_err_ns
				    : PHC_DEFAULT_PRECISE_ERR_NS;
	for (int m = 0; m < PHC_METHOD_COUNT; m++) {
		p->probe_err[m] = 1;
	}

	dev = dev_or_ifname;
	if (strchr(dev_or_ifname, '/')) {
		p->index = path_index(dev_or_ifname);
	} else {
		ret = if_phc_index(p, dev_or_ifname, &p->index, msg, msg_len);
		if (ret < 0) {
			goto err;
		}
		snprintf(path, sizeof(path), "/dev/ptp%d", p->index);
		dev = path;
	}

	ret = p->ops->open(p->ctx, dev);
	if (ret < 0) {
		phc_why(msg, msg_len, ret, dev,
			ret == -ENOENT ? "no such device" : "cannot open");
		goto err;
	}
	p->fd = ret;

	memset(&caps, 0, sizeof(caps));
	ret = p->ops->ioctl(p->ctx, p->fd, PTP_CLOCK_GETCAPS, &caps);
	if (ret == -ENOTTY || ret == -EINVAL) {
		ret = -ENOTTY;
		phc_why(msg, msg_len, ret, dev, "not a PHC: PTP_CLOCK_GETCAPS");
		goto err;
	}
	if (ret < 0) {
		phc_why(msg, msg_len, ret, dev, "PTP_CLOCK_GETCAPS");
		goto err;
	}
	p->cross = caps.cross_timestamping != 0;
	*out = p;
	return 0;
err:
	phc_free(p);
	return ret;
}

void phc_free(struct phc *p)
{
	if (!p) {
		return;
	}
	if (p->fd >= 0) {
		p->ops->close(p->ctx, p->fd);
	}
	free(p);
}

int phc_set_tai_utc(struct phc *p, int tai_utc_s)
{
	if (!p || tai_utc_s > PHC_MAX_TAI_UTC_S ||
	    tai_utc_s < -PHC_MAX_TAI_UTC_S) {
		return -EINVAL;
	}
	p->tai_utc_ns = (int64_t)tai_utc_s * NS_PER_S;
	return 0;
}

/* --- reading ------------------------------------------------------------ */

/* A kernel timestamp in ns; false if it is not a sane time. */
static bool pct_ns(const struct ptp_clock_time *t, int64_t *ns)
{
	if (t->nsec >= NS_PER_S || t->sec > PHC_MAX_SEC ||
	    t->sec < -PHC_MAX_SEC) {
		return false;
	}
	*ns = t->sec * NS_PER_S + t->nsec;
	return true;
}

static int gettime_ns(struct phc *p, clockid_t clk, int64_t *ns)
{
	struct timespec ts;
	int ret = p->ops->gettime(p->ctx, clk, &ts);

	if (ret < 0) {
		return ret;
	}
	if (ts.tv_nsec < 0 || ts.tv_nsec >= NS_PER_S || ts.tv_sec < 0 ||
	    ts.tv_sec > PHC_MAX_SEC) {
		return -EPROTO;
	}
	*ns = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
	return 0;
}

/*
 * Our own reads of the system clocks around one ioctl: MONOTONIC_RAW,
 * REALTIME, MONOTONIC_RAW, which also give REALTIME - MONOTONIC_RAW.
 */
struct bracket {
	int64_t raw_lo, rt, raw_hi;
};

static int read_bracket(struct phc *p, struct bracket *b)
{
	int ret = gettime_ns(p, CLOCK_MONOTONIC_RAW, &b->raw_lo);

	if (!ret) {
		ret = gettime_ns(p, CLOCK_REALTIME, &b->rt);
	}
	if (!ret) {
		ret = gettime_ns(p, CLOCK_MONOTONIC_RAW, &b->raw_hi);
	}
	if (!ret && b->raw_hi < b->raw_lo) {
		ret = -EPROTO;
	}
	return ret;
}

/* ceil(w / 2) + 1: the error of the middle of a window w >= 0 wide */
static uint64_t half_window_err(int64_t w)
{
	return (uint64_t)w / 2 + ((uint64_t)w & 1) + 1;
}

/*
 * REALTIME - MONOTONIC_RAW over one read (before and after), and the
 * error of using it for any instant in between.
 */
struct conversion {
	int64_t rt_minus_raw;
	uint64_t err_ns;
};

static int conversion(const struct bracket *b, const struct bracket *a,
		      struct conversion *c)
{
	int64_t wb = b->raw_hi - b->raw_lo, wa = a->raw_hi - a->raw_lo;
	int64_t ob = b->rt - (b->raw_lo + wb / 2);
	int64_t oa = a->rt - (a->raw_lo + wa / 2);
	int64_t d = oa - ob;
	uint64_t eb = half_window_err(wb), ea = half_window_err(wa);

	if (d > PHC_MAX_CONV_JUMP_NS || d < -PHC_MAX_CONV_JUMP_NS ||
	    wb > PHC_MAX_WINDOW_NS || wa > PHC_MAX_WINDOW_NS) {
		return -EAGAIN; /* REALTIME stepped, or we were preempted */
	}
	c->rt_minus_raw = ob + d / 2;
	c->err_ns = (ea > eb ? ea : eb) + half_window_err(d < 0 ? -d : d);
	return 0;
}

/* The best (narrowest) acceptable sample of a burst so far. */
struct best {
	bool found;
	struct time_sample s;
};

/*
 * One [pre, phc, post] triple: pre and post in REALTIME or MONOTONIC_RAW
 * (@conv NULL), which must lie inside our own reads of that clock
 * [@lo, @hi].  Kept in @best if it is sane and the narrowest yet.
 */
static void consider(const struct phc *p, const struct ptp_clock_time *pre,
		     const struct ptp_clock_time *dev,
		     const struct ptp_clock_time *post, int64_t lo, int64_t hi,
		     const struct conversion *conv, struct best *best)
{
	int64_t t1, t2, tp, w, mid;
	struct time_sample s;

	if (!pct_ns(pre, &t1) || !pct_ns(dev, &tp) || !pct_ns(post, &t2)) {
		return;
	}
	if (t1 < lo || t2 > hi || t2 < t1) {
		return;
	}
	w = t2 - t1;
	if (w > PHC_MAX_WINDOW_NS) {
		return;
	}
	mid = t1 + w / 2;
	s.window_ns = (uint64_t)w;
	s.err_ns = half_window_err(w);
	if (conv) {
		mid -= conv->rt_minus_raw;
		s.err_ns += conv->err_ns;
	}
	if (mid < 0) {
		return;
	}
	s.counter = (uint64_t)mid;
	s.tai_ns = tp;
	if (p->timescale == PHC_TIMESCALE_UTC) {
		s.tai_ns += p->tai_utc_ns;
	}
	if (!best->found || s.window_ns < best->s.window_ns) {
		best->s = s;
		best->found = true;
	}
}

static int read_precise(struct phc *p, const struct bracket *b,
			const struct bracket *a,
			const struct ptp_sys_offset_precise *req,
			struct best *best)
{
	struct conversion conv;
	int64_t raw, rt, dev;

	if (!pct_ns(&req->device, &dev)) {
		return -EPROTO;
	}
	best->s.window_ns = 0;
	best->s.tai_ns = dev;
	if (p->timescale == PHC_TIMESCALE_UTC) {
		best->s.tai_ns += p->tai_utc_ns;
	}
	if (req->sys_monoraw.sec || req->sys_monoraw.nsec) {
		/* the kernel gave the cross-timestamp in our counter */
		if (!pct_ns(&req->sys_monoraw, &raw) || raw < b->raw_lo ||
		    raw > a->raw_hi) {
			return -EPROTO;
		}
		best->s.counter = (uint64_t)raw;
		best->s.err_ns = p->precise_err_ns;
	} else {
		int ret = conversion(b, a, &conv);

		if (ret < 0) {
			return ret;
		}
		if (!pct_ns(&req->sys_realtime, &rt) || rt < b->rt ||
		    rt > a->rt || rt - conv.rt_minus_raw < 0) {
			return -EPROTO;
		}
		best->s.counter = (uint64_t)(rt - conv.rt_minus_raw);
		best->s.err_ns = p->precise_err_ns + conv.err_ns;
	}
	best->found = true;
	return 0;
}

/* One burst by method @m; 0, or -errno (of the ioctl, or -EPROTO). */
static int read_method(struct phc *p, enum phc_method m, unsigned int n,
		       struct time_sample *out)
{
	union {
		struct ptp_sys_offset_precise precise;
		struct phc_sys_offset_extended ext;
		struct ptp_sys_offset basic;
	} req;
	struct bracket b, a;
	struct conversion conv;
	struct best best = { .found = false };
	unsigned long nr;
	int ret;

	memset(&req, 0, sizeof(req));
	switch (m) {
	case PHC_METHOD_PRECISE:
		nr = PTP_SYS_OFFSET_PRECISE;
		break;
	case PHC_METHOD_EXTENDED_RAW:
		req.ext.clockid = CLOCK_MONOTONIC_RAW;
		/* fall through */
	case PHC_METHOD_EXTENDED_RT:
		req.ext.n_samples = n;
		nr = PTP_SYS_OFFSET_EXTENDED;
		break;
	case PHC_METHOD_BASIC:
		req.basic.n_samples = n;
		nr = PTP_SYS_OFFSET;
		break;
	default:
		return -EINVAL;
	}

	ret = read_bracket(p, &b);
	if (ret < 0) {
		return ret;
	}
	ret = p->ops->ioctl(p->ctx, p->fd, nr, &req);
	if (ret < 0) {
		return ret;
	}
	ret = read_bracket(p, &a);
	if (ret < 0) {
		return ret;
	}
	if (b.raw_hi > a.raw_lo) {
		return -EPROTO; /* our own counter went backwards */
	}
	if (m == PHC_METHOD_PRECISE) {
		ret = read_precise(p, &b, &a, &req.precise, &best);
		if (ret < 0) {
			return ret;
		}
		*out = best.s;
		return 0;
	}
	/* the kernel leaves n_samples alone; anything else is not a PHC
	 * answer we understand */
	if (req.ext.n_samples != n) {
		return -EPROTO;
	}
	if (m != PHC_METHOD_EXTENDED_RAW) {
		ret = conversion(&b, &a, &conv);
		if (ret < 0) {
			return ret;
		}
	}
	for (unsigned int i = 0; i < n; i++) {
		if (m == PHC_METHOD_EXTENDED_RAW) {
			consider(p, &req.ext.ts[i][0], &req.ext.ts[i][1],
				 &req.ext.ts[i][2], b.raw_lo, a.raw_hi, NULL,
				 &best);
		} else if (m == PHC_METHOD_EXTENDED_RT) {
			consider(p, &req.ext.ts[i][0], &req.ext.ts[i][1],
				 &req.ext.ts[i][2], b.rt, a.rt, &conv, &best);
		} else {
			const struct ptp_clock_time *t =
				&req.basic.ts[(size_t)2 * i];

			consider(p, &t[0], &t[1], &t[2], b.rt, a.rt, &conv,
				 &best);
		}
	}
	if (!best.found) {
		return -EPROTO;
	}
	*out = best.s;
	return 0;
}

static bool transient(int err)
{
	return err == -EBUSY || err == -EAGAIN || err == -EINTR;
}

/* read_method(), again while the device is busy */
static int read_retry(struct phc *p, enum phc_method m, unsigned int n,
		      struct time_sample *out)
{
	int ret = -EAGAIN;

	for (int i = 0; i < PHC_BUSY_TRIES; i++) {
		ret = read_method(p, m, n, out);
		if (!transient(ret)) {
			break;
		}
	}
	return ret;
}

/* Try the methods in order; the first that reads becomes the method. */
static int probe(struct phc *p, unsigned int n, struct time_sample *out)
{
	int ret = -EOPNOTSUPP;

	p->method = PHC_METHOD_NONE;
	for (int m = 0; m < PHC_METHOD_COUNT; m++) {
		p->probe_err[m] = 1;
	}
	for (int m = PHC_METHOD_PRECISE; m < PHC_METHOD_COUNT; m++) {
		ret = read_retry(p, (enum phc_method)m, n, out);
		p->probe_err[m] = ret;
		if (!ret) {
			p->method = (enum phc_method)m;
			return 0;
		}
		if (transient(ret)) {
			return ret; /* busy: no verdict on this method */
		}
	}
	return ret;
}

int phc_read(struct phc *p, unsigned int nsamples, struct time_sample *out)
{
	int ret;

	if (!p || !out || nsamples > PHC_MAX_SAMPLES) {
		return -EINVAL;
	}
	if (!nsamples) {
		nsamples = PHC_DEFAULT_SAMPLES;
	}
	if (p->method == PHC_METHOD_NONE) {
		ret = probe(p, nsamples, out);
	} else {
		ret = read_method(p, p->method, nsamples, out);
		if (ret < 0 && !transient(ret)) {
			ret = probe(p, nsamples, out);
		}
	}
	return transient(ret) ? -EAGAIN : ret;
}

enum phc_method phc_method(const struct phc *p)
{
	return p ? p->method : PHC_METHOD_NONE;
}

const char *phc_method_name(enum phc_method m)
{
	switch (m) {
	case PHC_METHOD_PRECISE:
		return "PRECISE";
	case PHC_METHOD_EXTENDED_RAW:
		return "EXTENDED(MONOTONIC_RAW)";
	case PHC_METHOD_EXTENDED_RT:
		return "EXTENDED(REALTIME)";
	case PHC_METHOD_BASIC:
		return "BASIC";
	default:
		return "none";
	}
}

int phc_method_error(const struct phc *p, enum phc_method m)
{
	if (!p || m <= PHC_METHOD_NONE || m >= PHC_METHOD_COUNT) {
		return 1;
	}
	return p->probe_err[m];
}

int phc_cross_timestamping(const struct phc *p)
{
	return p && p->cross;
}

int phc_dev_index(const struct phc *p)
{
	return p ? p->index : -1;
}
