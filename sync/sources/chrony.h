/* SPDX-License-Identifier: MIT */
/*
 * Client of chronyd's command protocol (version 6): the TRACKING request,
 * over chronyd's Unix command socket or its UDP command port, and the
 * system clock's error bound computed from the reply (ClockBound's
 * formula). Layouts: chrony's candm.h.
 *
 * The codec and the parser are pure functions over byte buffers (no
 * GLib, no I/O). The client is non-blocking: a GLib main loop watches
 * chrony_client_fd(), calls chrony_client_send() and, when readable,
 * chrony_client_receive(). chrony_client_query() is a blocking helper
 * with a timeout for tests and tools. Nothing here logs.
 */
#ifndef SYNC_CHRONY_H
#define SYNC_CHRONY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CHRONY_DEFAULT_SOCKET "/run/chrony/chronyd.sock"
#define CHRONY_DEFAULT_RUN_DIR "/run/chrony"
#define CHRONY_DEFAULT_PORT 323

#define CHRONY_PROTO_VERSION 6
#define CHRONY_REQ_TRACKING 33
#define CHRONY_RPY_TRACKING 5
/* A TRACKING reply, and the request padded to its length (no amplification). */
#define CHRONY_TRACKING_LEN 104

/* leap_status values (NTP leap indicator) */
enum chrony_leap {
	CHRONY_LEAP_NORMAL = 0,
	CHRONY_LEAP_INSERT = 1,
	CHRONY_LEAP_DELETE = 2,
	CHRONY_LEAP_UNSYNC = 3,
};

/* ip_family values */
enum chrony_addr_family {
	CHRONY_AF_UNSPEC = 0,
	CHRONY_AF_INET4 = 1,
	CHRONY_AF_INET6 = 2,
	CHRONY_AF_ID = 3, /* a reference ID, not an address (refclocks) */
};

/* One parsed TRACKING reply; every float finite and range-checked. */
struct chrony_tracking {
	uint32_t ref_id;	   /* reference ID, host order */
	uint16_t ip_family;	   /* enum chrony_addr_family */
	uint8_t ip_addr[16];	   /* INET4: 4 bytes network order; INET6: 16;
				    * ID: 4 bytes network order */
	uint16_t stratum;	   /* 0..16 */
	uint16_t leap_status;	   /* enum chrony_leap */
	struct timespec ref_time;  /* CLOCK_REALTIME of the last update;
				    * 0 if never synchronised */
	double current_correction; /* s; > 0: system clock slow of NTP time */
	double last_offset;	   /* s */
	double rms_offset;	   /* s, >= 0 */
	double freq_ppm;	   /* > 0: system clock fast */
	double resid_freq_ppm;
	double skew_ppm;	     /* >= 0 */
	double root_delay;	     /* s, >= 0 */
	double root_dispersion;	     /* s, >= 0, aged by chronyd to the reply */
	double last_update_interval; /* s, >= 0 */
};

/*
 * chrony_float_decode() - chrony's 32-bit float (host-order word: 7-bit
 * signed exponent, 25-bit two's-complement coefficient without hidden
 * bit, value = coef * 2^(exp - 25)) into *@out.
 * Returns 0, or -ERANGE for the largest exponent, which chronyd writes
 * for values over 1e100 and infinities (never for a sane quantity).
 */
int chrony_float_decode(uint32_t word, double *out);

/*
 * chrony_float_encode() - the inverse, rounding to nearest; values below
 * the smallest representable magnitude become 0.
 * Returns 0, -EINVAL for NaN or infinity, -ERANGE if |x| >= 2^61.
 */
int chrony_float_encode(double x, uint32_t *word);

/*
 * chrony_tracking_request() - the TRACKING request with @seq and
 * @attempt (0 first, then retransmissions) into @buf.
 * Returns its length, CHRONY_TRACKING_LEN.
 */
size_t chrony_tracking_request(uint8_t buf[CHRONY_TRACKING_LEN], uint32_t seq,
			       uint16_t attempt);

/*
 * chrony_tracking_parse() - check and decode the reply in @buf (@len
 * bytes) to the TRACKING request with sequence number @seq.
 * Returns 0 with *@t filled, or (with *@t unspecified):
 *   -EMSGSIZE  shorter than a reply header, or not exactly
 *              CHRONY_TRACKING_LEN for a successful reply
 *   -EPROTO    wrong protocol version, packet type or reserved bytes
 *   -ESTALE    a reply to another sequence number (e.g. an earlier try)
 *   -EBADMSG   not a reply to TRACKING, or not a TRACKING reply
 *   -EACCES    chronyd refused the request (unauthorised, access denied)
 *   -EREMOTEIO any other error status from chronyd
 *   -ERANGE    a field out of its range: NaN/overflow float, stratum,
 *              leap status, address family, nanoseconds >= 1e9,
 *              absurd offsets, negative dispersion and the like
 */
int chrony_tracking_parse(const void *buf, size_t len, uint32_t seq,
			  struct chrony_tracking *t);

/*
 * chrony_tracking_encode() - a successful reply carrying *@t for @seq,
 * as chronyd would send it (for tests, fakes and fuzz seeds).
 * Returns CHRONY_TRACKING_LEN, or -EINVAL/-ERANGE from the float codec.
 */
int chrony_tracking_encode(const struct chrony_tracking *t, uint32_t seq,
			   uint8_t buf[CHRONY_TRACKING_LEN]);

/*
 * chrony_bound_ns() - worst-case error of CLOCK_REALTIME at @at (a
 * CLOCK_REALTIME time at or after the reply), in ns, rounded up:
 *
 *   |current_correction| + root_delay/2 + root_dispersion + @read_err_ns
 *     + max_drift_ppb * (at - ref_time)
 *
 * The first three terms are chronyd's documented bound and ClockBound's
 * (root_dispersion is already aged by chronyd to the reply, with its
 * statistical skew plus maxclockerror); the last term ages the bound at
 * @max_drift_ppb (ns of error per s; 1000 = 1 ppm, chrony's default
 * maxclockerror) over the whole time since the last update, which covers
 * the holdover after the reply and chrony's skew being a 99.95% estimate,
 * not a bound. @read_err_ns is the caller's error in reading the system
 * clock against its counter.
 * Returns 0 with *@bound_ns, -ENODATA if chronyd is unsynchronised (leap
 * status 3), -ERANGE if ref_time is over 1 s after @at or the bound
 * exceeds 1e15 ns.
 */
int chrony_bound_ns(const struct chrony_tracking *t, const struct timespec *at,
		    uint32_t max_drift_ppb, uint64_t read_err_ns,
		    uint64_t *bound_ns);

/* Where the client reaches chronyd. */
struct chrony_client_conf {
	/*
	 * UDP when @host is set: a numeric IPv4/IPv6 address (chronyd binds
	 * its command port to loopback by default) and @port (0: 323).
	 * Otherwise the Unix socket @socket_path (NULL: the default), our
	 * end bound in a fresh private directory under @run_dir (NULL:
	 * CHRONY_DEFAULT_RUN_DIR; chronyd must be able to reach it there),
	 * removed by chrony_client_free().
	 */
	const char *host;
	uint16_t port;
	const char *socket_path;
	const char *run_dir;
};

struct chrony_client;

/*
 * chrony_client_new() - open a non-blocking socket to chronyd.
 * Returns 0 with *@out, or -errno (-ENAMETOOLONG for a socket path over
 * 107 bytes, -EINVAL for a host that is not a numeric address).
 */
int chrony_client_new(const struct chrony_client_conf *conf,
		      struct chrony_client **out);

/* Closes the socket, removes our bound path; NULL is a no-op. */
void chrony_client_free(struct chrony_client *c);

/* The socket to watch for input (G_IO_IN) from a main loop. */
int chrony_client_fd(const struct chrony_client *c);

/*
 * chrony_client_send() - send a TRACKING request: a new sequence number
 * if @retry is 0, else the last one again with the attempt counted.
 * Never blocks. Returns 0, or -errno (-EAGAIN: socket buffer full;
 * -ECONNREFUSED/-ENOENT: chronyd not there).
 */
int chrony_client_send(struct chrony_client *c, int retry);

/*
 * chrony_client_receive() - read one datagram, if any, and parse it as
 * the reply to the last request. Never blocks.
 * Returns 0 with *@t, -EAGAIN if nothing is waiting, or -errno from
 * recv() or chrony_tracking_parse() (-ESTALE for a late reply to an
 * earlier request: read on).
 */
int chrony_client_receive(struct chrony_client *c, struct chrony_tracking *t);

/*
 * chrony_reply_skippable() - whether @err, a chrony_client_receive()
 * result, was about that one datagram only (stale, malformed, out of
 * range: read on for the good reply) rather than chronyd's answer
 * (-EACCES, -EREMOTEIO) or the socket (-ECONNREFUSED, ...).
 */
bool chrony_reply_skippable(int err);

/*
 * chrony_client_query() - blocking helper: send, wait up to @timeout_ms
 * in all for the reply, retransmitting every 250 ms like chronyc, skip
 * stale and malformed datagrams (chrony_reply_skippable()). Never
 * blocks longer than @timeout_ms (plus scheduling).
 * Returns 0 with *@t; at the deadline the last skipped datagram's error
 * if one came, else -ETIMEDOUT; or another -errno at once.
 */
int chrony_client_query(struct chrony_client *c, int timeout_ms,
			struct chrony_tracking *t);

#endif /* SYNC_CHRONY_H */
