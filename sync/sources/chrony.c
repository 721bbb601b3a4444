// SPDX-License-Identifier: MIT
/*
 * chronyd command protocol client: TRACKING over the Unix command socket
 * or the UDP command port.
 *
 * Replies are hostile: the parser checks every header field against the
 * request, the exact length, and every value's range before anything is
 * used. No GLib here, so the parser can be fuzzed and reused alone.
 */
#include <endian.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "chrony.h"
#include "chrony_wire.h"
#include "time_ns.h"

#define FLOAT_EXP_BITS 7
#define FLOAT_COEF_BITS 25
#define FLOAT_EXP_MIN (-64)
#define FLOAT_EXP_MAX 62 /* 63 is chronyd's overflow/infinity marker */

/* Limits beyond which a value is absurd rather than merely bad. */
#define MAX_STRATUM 16
#define MAX_OFFSET_S 1e9   /* ~32 years */
#define MAX_FREQ_PPM 1e6   /* chronyd itself caps at 500 ppm */
#define MAX_DELAY_S 1e6	   /* unsynchronised chronyd reports 1 s */
#define MAX_INTERVAL_S 1e9 /* since the last update */
#define MAX_SEC_HI 3	   /* ref_time before year ~2514 */
#define MAX_BOUND_NS 1e15  /* ~11.6 days */

#define RESEND_MS 250

struct chrony_client {
	int fd;
	uint32_t seq;
	uint16_t attempt;
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

int chrony_float_decode(uint32_t word, double *out)
{
	int32_t exp = (int32_t)(word >> FLOAT_COEF_BITS);
	int32_t coef = (int32_t)(word & ((1u << FLOAT_COEF_BITS) - 1));

	if (exp >= 1 << (FLOAT_EXP_BITS - 1)) {
		exp -= 1 << FLOAT_EXP_BITS;
	}
	if (exp > FLOAT_EXP_MAX) {
		return -ERANGE;
	}
	if (coef >= 1 << (FLOAT_COEF_BITS - 1)) {
		coef -= 1 << FLOAT_COEF_BITS;
	}
	*out = ldexp((double)coef, exp - FLOAT_COEF_BITS);
	return 0;
}

int chrony_float_encode(double x, uint32_t *word)
{
	int64_t coef;
	int e, exp;

	if (!isfinite(x)) {
		return -EINVAL;
	}
	if (x == 0.0) {
		*word = 0;
		return 0;
	}
	/* x = m * 2^e, 0.5 <= |m| < 1; coef = m * 2^24 fills 25 signed bits */
	coef = llround(ldexp(frexp(fabs(x), &e), FLOAT_COEF_BITS - 1));
	exp = e + 1;
	if (coef >= 1LL << (FLOAT_COEF_BITS - 1)) {
		coef >>= 1;
		exp++;
	}
	if (exp > FLOAT_EXP_MAX) {
		return -ERANGE;
	}
	if (exp < FLOAT_EXP_MIN) {
		int shift = FLOAT_EXP_MIN - exp;

		coef = shift > FLOAT_COEF_BITS
			       ? 0
			       : (coef + (1LL << (shift - 1))) >> shift;
		exp = FLOAT_EXP_MIN;
		if (!coef) {
			*word = 0;
			return 0;
		}
	}
	if (x < 0) {
		coef = -coef;
	}
	*word = ((uint32_t)exp << FLOAT_COEF_BITS) |
		((uint32_t)coef & ((1u << FLOAT_COEF_BITS) - 1));
	return 0;
}

size_t chrony_tracking_request(uint8_t buf[CHRONY_TRACKING_LEN], uint32_t seq,
			       uint16_t attempt)
{
	struct chrony_wire_req_hdr h = {
		.version = CHRONY_PROTO_VERSION,
		.pkt_type = CHRONY_PKT_REQUEST,
		.command = htobe16(CHRONY_REQ_TRACKING),
		.attempt = htobe16(attempt),
		.sequence = htobe32(seq),
	};

	/* the rest is padding, as long as the reply */
	memset(buf, 0, CHRONY_TRACKING_LEN);
	memcpy(buf, &h, sizeof(h));
	return CHRONY_TRACKING_LEN;
}

static int get_float(uint32_t be, double lo, double hi, double *out)
{
	double v;

	if (chrony_float_decode(be32toh(be), &v) || v < lo || v > hi) {
		return -ERANGE;
	}
	*out = v;
	return 0;
}

static int get_timespec(const struct chrony_wire_timespec *w,
			struct timespec *ts)
{
	uint32_t hi = be32toh(w->sec_hi), ns = be32toh(w->nsec);

	if (hi == CHRONY_NO_HIGH_SEC) {
		hi = 0;
	}
	if (hi > MAX_SEC_HI || ns >= 1000000000u) {
		return -ERANGE;
	}
	ts->tv_sec = (time_t)((uint64_t)hi << 32 | be32toh(w->sec_lo));
	ts->tv_nsec = (long)ns;
	return 0;
}

static int check_header(const struct chrony_wire_rpy_hdr *h, uint32_t seq)
{
	uint16_t status = be16toh(h->status);

	if (h->version != CHRONY_PROTO_VERSION ||
	    h->pkt_type != CHRONY_PKT_REPLY || h->res1 || h->res2) {
		return -EPROTO;
	}
	if (be16toh(h->command) != CHRONY_REQ_TRACKING) {
		return -EBADMSG;
	}
	if (be32toh(h->sequence) != seq) {
		return -ESTALE;
	}
	if (status == CHRONY_STT_UNAUTH || status == CHRONY_STT_ACCESSDENIED) {
		return -EACCES;
	}
	if (status != CHRONY_STT_SUCCESS) {
		return -EREMOTEIO;
	}
	if (be16toh(h->reply) != CHRONY_RPY_TRACKING) {
		return -EBADMSG;
	}
	return 0;
}

int chrony_tracking_parse(const void *buf, size_t len, uint32_t seq,
			  struct chrony_tracking *t)
{
	struct chrony_wire_tracking w;
	int rc;

	if (len < sizeof(w.hdr)) {
		return -EMSGSIZE;
	}
	memcpy(&w.hdr, buf, sizeof(w.hdr));
	rc = check_header(&w.hdr, seq);
	if (rc) {
		return rc;
	}
	if (len != sizeof(w)) {
		return -EMSGSIZE;
	}
	memcpy(&w, buf, sizeof(w));

	memset(t, 0, sizeof(*t));
	t->ref_id = be32toh(w.ref_id);
	t->ip_family = be16toh(w.ip.family);
	memcpy(t->ip_addr, w.ip.addr, sizeof(t->ip_addr));
	t->stratum = be16toh(w.stratum);
	t->leap_status = be16toh(w.leap_status);
	if (t->ip_family > CHRONY_AF_ID || t->stratum > MAX_STRATUM ||
	    t->leap_status > CHRONY_LEAP_UNSYNC) {
		return -ERANGE;
	}
	if (get_timespec(&w.ref_time, &t->ref_time) ||
	    get_float(w.current_correction, -MAX_OFFSET_S, MAX_OFFSET_S,
		      &t->current_correction) ||
	    get_float(w.last_offset, -MAX_OFFSET_S, MAX_OFFSET_S,
		      &t->last_offset) ||
	    get_float(w.rms_offset, 0, MAX_OFFSET_S, &t->rms_offset) ||
	    get_float(w.freq_ppm, -MAX_FREQ_PPM, MAX_FREQ_PPM, &t->freq_ppm) ||
	    get_float(w.resid_freq_ppm, -MAX_FREQ_PPM, MAX_FREQ_PPM,
		      &t->resid_freq_ppm) ||
	    get_float(w.skew_ppm, 0, MAX_FREQ_PPM, &t->skew_ppm) ||
	    get_float(w.root_delay, 0, MAX_DELAY_S, &t->root_delay) ||
	    get_float(w.root_dispersion, 0, MAX_DELAY_S, &t->root_dispersion) ||
	    get_float(w.last_update_interval, 0, MAX_INTERVAL_S,
		      &t->last_update_interval)) {
		return -ERANGE;
	}
	return 0;
}

static int put_float(double x, uint32_t *be)
{
	uint32_t w = 0;
	int rc = chrony_float_encode(x, &w);

	*be = htobe32(w);
	return rc;
}

int chrony_tracking_encode(const struct chrony_tracking *t, uint32_t seq,
			   uint8_t buf[CHRONY_TRACKING_LEN])
{
	struct chrony_wire_tracking w = {
		.hdr = {
			.version = CHRONY_PROTO_VERSION,
			.pkt_type = CHRONY_PKT_REPLY,
			.command = htobe16(CHRONY_REQ_TRACKING),
			.reply = htobe16(CHRONY_RPY_TRACKING),
			.status = htobe16(CHRONY_STT_SUCCESS),
			.sequence = htobe32(seq),
		},
		.ref_id = htobe32(t->ref_id),
		.ip.family = htobe16(t->ip_family),
		.stratum = htobe16(t->stratum),
		.leap_status = htobe16(t->leap_status),
		.ref_time = {
			.sec_hi = htobe32((uint32_t)((uint64_t)t->ref_time.tv_sec >> 32)),
			.sec_lo = htobe32((uint32_t)t->ref_time.tv_sec),
			.nsec = htobe32((uint32_t)t->ref_time.tv_nsec),
		},
	};
	int rc = 0;

	memcpy(w.ip.addr, t->ip_addr, sizeof(w.ip.addr));
	rc |= put_float(t->current_correction, &w.current_correction);
	rc |= put_float(t->last_offset, &w.last_offset);
	rc |= put_float(t->rms_offset, &w.rms_offset);
	rc |= put_float(t->freq_ppm, &w.freq_ppm);
	rc |= put_float(t->resid_freq_ppm, &w.resid_freq_ppm);
	rc |= put_float(t->skew_ppm, &w.skew_ppm);
	rc |= put_float(t->root_delay, &w.root_delay);
	rc |= put_float(t->root_dispersion, &w.root_dispersion);
	rc |= put_float(t->last_update_interval, &w.last_update_interval);
	if (rc) {
		return rc == -EINVAL ? -EINVAL : -ERANGE;
	}
	memcpy(buf, &w, sizeof(w));
	return (int)sizeof(w);
}

int chrony_bound_ns(const struct chrony_tracking *t, const struct timespec *at,
		    uint32_t max_drift_ppb, uint64_t read_err_ns,
		    uint64_t *bound_ns)
{
	double elapsed_s, ns;

	if (t->leap_status == CHRONY_LEAP_UNSYNC) {
		return -ENODATA;
	}
	elapsed_s = (double)(at->tv_sec - t->ref_time.tv_sec) +
		    (double)(at->tv_nsec - t->ref_time.tv_nsec) * 1e-9;
	if (elapsed_s < -1.0) {
		return -ERANGE;
	}
	if (elapsed_s < 0) {
		elapsed_s = 0;
	}
	ns = (fabs(t->current_correction) + t->root_delay / 2 +
	      t->root_dispersion) *
		     1e9 +
	     (double)read_err_ns + (double)max_drift_ppb * elapsed_s;
	if (!(ns <= MAX_BOUND_NS)) {
		return -ERANGE;
	}
	*bound_ns = (uint64_t)ceil(ns);
	return 0;
}

static int copy_path(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size) {
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

/*
 * Remove the private directories earlier runs left in @run: once the
 * daemon has dropped root it can no longer remove its own from
 * chronyd's directory at exit, so the next start (still root) does,
 * sparing those whose socket someone still has bound (another
 * instance). Best effort.
 */
/* Empty for a minute: not another instance between mkdtemp and bind. */
static bool old_dir(const char *run, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", run, name);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_mtime < time(NULL) - 60;
}

static void remove_stale_dirs(const char *run)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	DIR *d = opendir(run);
	struct dirent *e;
	int fd, r;

	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "vrtc-chrony.", 12) != 0 ||
		    (size_t)snprintf(sa.sun_path, sizeof(sa.sun_path),
				     "%s/%s/sock", run,
				     e->d_name) >= sizeof(sa.sun_path)) {
			continue;
		}
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		r = fd < 0 ? -1
			   : connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		if (fd >= 0) {
			close(fd);
		}
		if (r == 0 || (errno != ECONNREFUSED && errno != ENOENT) ||
		    (errno == ENOENT && !old_dir(run, e->d_name))) {
			continue; /* in use, being set up, or not ours */
		}
		unlink(sa.sun_path);
		*strrchr(sa.sun_path, '/') = '\0';
		rmdir(sa.sun_path);
	}
	if (d) {
		closedir(d);
	}
}

static int open_unix(struct chrony_client *c,
		     const struct chrony_client_conf *conf)
{
	const char *run =
		conf->run_dir ? conf->run_dir : CHRONY_DEFAULT_RUN_DIR;
	const char *srv =
		conf->socket_path ? conf->socket_path : CHRONY_DEFAULT_SOCKET;
	struct sockaddr_un me = { .sun_family = AF_UNIX };
	struct sockaddr_un peer = { .sun_family = AF_UNIX };
	int rc, n;

	n = snprintf(c->dir, sizeof(c->dir), "%s/vrtc-chrony.XXXXXX", run);
	if (copy_path(peer.sun_path, sizeof(peer.sun_path), srv) || n < 0 ||
	    (size_t)n + sizeof("/sock") > sizeof(me.sun_path)) {
		c->dir[0] = '\0';
		return -ENAMETOOLONG;
	}
	remove_stale_dirs(run);
	c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		return -errno;
	}
	if (!mkdtemp(c->dir)) {
		c->dir[0] = '\0';
		return -errno;
	}
	/* chronyd may have dropped root: let it reach our socket */
	if (chmod(c->dir, 0711)) {
		return -errno;
	}
	n = (int)strlen(c->dir);
	memcpy(c->path, c->dir, (size_t)n);
	memcpy(c->path + n, "/sock", sizeof("/sock"));
	memcpy(me.sun_path, c->path, sizeof(me.sun_path));
	if (bind(c->fd, (struct sockaddr *)&me, sizeof(me))) {
		c->path[0] = '\0';
		return -errno;
	}
	if (chmod(c->path, 0666)) {
		return -errno;
	}
	rc = connect(c->fd, (struct sockaddr *)&peer, sizeof(peer));
	return rc ? -errno : 0;
}

static int open_udp(struct chrony_client *c,
		    const struct chrony_client_conf *conf)
{
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
		.ai_socktype = SOCK_DGRAM,
	};
	struct addrinfo *ai = NULL;
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u",
		 conf->port ? (unsigned int)conf->port
			    : (unsigned int)CHRONY_DEFAULT_PORT);
	if (getaddrinfo(conf->host, port, &hints, &ai) || !ai) {
		return -EINVAL;
	}
	c->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	rc = c->fd < 0 ? -errno : 0;
	if (!rc && connect(c->fd, ai->ai_addr, ai->ai_addrlen)) {
		rc = -errno;
	}
	freeaddrinfo(ai);
	return rc;
}

int chrony_client_new(const struct chrony_client_conf *conf,
		      struct chrony_client **out)
{
	struct chrony_client *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		return -ENOMEM;
	}
	c->fd = -1;
	/* an unpredictable start: replies meant for others never match */
	if (getrandom(&c->seq, sizeof(c->seq), GRND_NONBLOCK) !=
	    sizeof(c->seq)) {
		c->seq =
			(uint32_t)getpid() * 2654435761u ^ (uint32_t)time(NULL);
	}
	rc = conf->host ? open_udp(c, conf) : open_unix(c, conf);
	if (rc) {
		chrony_client_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void chrony_client_free(struct chrony_client *c)
{
	if (!c) {
		return;
	}
	if (c->fd >= 0) {
		close(c->fd);
	}
	if (c->path[0]) {
		unlink(c->path);
	}
	if (c->dir[0]) {
		rmdir(c->dir);
	}
	free(c);
}

int chrony_client_fd(const struct chrony_client *c)
{
	return c->fd;
}

int chrony_client_send(struct chrony_client *c, int retry)
{
	uint8_t buf[CHRONY_TRACKING_LEN];
	size_t len;
	ssize_t n;

	if (retry) {
		c->attempt++;
	} else {
		c->seq++;
		c->attempt = 0;
	}
	len = chrony_tracking_request(buf, c->seq, c->attempt);
	n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0) {
		return -errno;
	}
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

int chrony_client_receive(struct chrony_client *c, struct chrony_tracking *t)
{
	/* larger than any reply: an oversized one is seen, not truncated */
	uint8_t buf[2 * CHRONY_TRACKING_LEN];
	ssize_t n;

	n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0) {
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	if ((size_t)n > sizeof(buf)) {
		return -EMSGSIZE;
	}
	return chrony_tracking_parse(buf, (size_t)n, c->seq, t);
}

bool chrony_reply_skippable(int err)
{
	return err == -ESTALE || err == -EMSGSIZE || err == -EPROTO ||
	       err == -EBADMSG || err == -ERANGE;
}

int chrony_client_query(struct chrony_client *c, int timeout_ms,
			struct chrony_tracking *t)
{
	int64_t now = time_ns_now_ms(CLOCK_MONOTONIC),
		deadline = now + timeout_ms;
	int64_t resend = now + RESEND_MS;
	int rc = chrony_client_send(c, 0), rejected = 0;

	while (!rc || rc == -EAGAIN || chrony_reply_skippable(rc)) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int64_t wait;

		if (chrony_reply_skippable(rc) && rc != -ESTALE) {
			rejected = rc; /* a bad datagram: wait for a good one */
		}
		now = time_ns_now_ms(CLOCK_MONOTONIC);
		if (now >= deadline) {
			return rejected ? rejected : -ETIMEDOUT;
		}
		if (now >= resend) {
			resend = now + RESEND_MS;
			rc = chrony_client_send(c, 1);
			if (rc && rc != -EAGAIN) {
				return rc;
			}
		}
		wait = (resend < deadline ? resend : deadline) - now;
		rc = poll(&p, 1, (int)wait);
		if (rc < 0) {
			if (errno != EINTR) {
				return -errno;
			}
			rc = -EAGAIN;
			continue;
		}
		rc = rc ? chrony_client_receive(c, t) : -EAGAIN;
		if (!rc) {
			return 0;
		}
	}
	return rc;
}
