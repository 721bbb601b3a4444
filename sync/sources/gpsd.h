/* SPDX-License-Identifier: MIT */
/*
 * Client of gpsd's JSON watch (libgps) and the conversion of its time
 * reports into struct time_sample. Background: gpsd's
 * gpsd_json(5) and libgps(3).
 *
 * Only the JSON watch is read (?WATCH enable, json, pps): TOFF (the
 * receiver's time of the serial-data cycle against the host's
 * CLOCK_REALTIME when its first byte arrived) and PPS (the receiver's time
 * of the pulse against CLOCK_REALTIME at the kernel's PPS edge), plus TPV
 * for the fix mode and the GPS-UTC leap count. The NTP shared-memory
 * segments and chronyd's SOCK refclock sockets are never opened, so
 * chronyd's samples are never consumed or stolen.
 *
 * libgps 3.22 (API 11) quirks handled here: it unpacks a TOFF message
 * into gps_data_t.pps (with TOFF_SET), does not store the PPS precision,
 * and keeps qErr and leap_seconds from earlier messages; those three
 * fields are therefore read from the message text itself.
 *
 * The message and conversion functions are pure (no I/O, no clocks, no
 * GLib main loop). We connect and send ?WATCH ourselves; the
 * client then reads the socket itself, line by line, so that no text
 * reaches libgps's unpacker before gpsd_json_valid() has passed it. The
 * client is non-blocking once connected; only
 * gpsd_client_new() blocks, in connect(), which is immediate for a gpsd
 * on loopback (the normal case) and up to the kernel's TCP connect
 * timeout for a remote host. Nothing here logs.
 */
#ifndef SYNC_GPSD_H
#define SYNC_GPSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "leap.h"
#include "sample.h"

#define GPSD_DEFAULT_HOST "localhost"
#define GPSD_DEFAULT_PORT "2947"
/* TOFF error budget when the configuration gives none, ns */
#define GPSD_TOFF_ERR_NS 500000000ULL
/* PPS error budget when the message has no precision: 2^-10 s (USB) */
#define GPSD_PPS_DEFAULT_PRECISION (-10)
/* samples whose host timestamp is older than this are stale, ns */
#define GPSD_MAX_AGE_NS 2000000000LL
/* receiver time and host time further apart than this are absurd, s */
#define GPSD_MAX_REAL_CLOCK_S 1000000LL
/* REALTIME slews by at most this against MONOTONIC_RAW: the kernel's
 * frequency limit (MAXFREQ) plus a single-shot adjtime() slew, ppb */
#define GPSD_SLEW_PPB 1000000U
/* TAI - GPS time, s: TAI - UTC = (GPS - UTC) + 19 */
#define GPSD_TAI_GPS_S 19

enum gpsd_msg_kind {
	GPSD_MSG_OTHER = 0, /* a class we do not use (SKY, WATCH, ...) */
	GPSD_MSG_TOFF,
	GPSD_MSG_PPS,
	GPSD_MSG_TPV,
	GPSD_MSG_VERSION,
	GPSD_MSG_DEVICES,
	GPSD_MSG_ERROR, /* gpsd's ERROR class: a refused request */
};

/* One gpsd message, reduced to what a time source needs. */
struct gpsd_msg {
	enum gpsd_msg_kind kind;
	char device[128];	  /* TOFF/PPS/TPV: the device path, or "" */
	struct timespec real;	  /* TOFF/PPS: receiver's UTC (POSIX) */
	struct timespec clock;	  /* TOFF/PPS: host CLOCK_REALTIME */
	int mode;		  /* TPV: 0 not seen, 1 no fix, 2 2D, 3 3D */
	struct timespec fix_time; /* TPV: time of the fix, 0 if none */
	bool has_precision;	  /* PPS: "precision" present */
	int precision;		  /* log2 s, e.g. -20 for ~1 us */
	bool has_qerr;		  /* PPS: "qErr" present */
	int64_t qerr_ps;	  /* sawtooth correction, ps */
	bool has_leap;		  /* TPV/TOFF: "leapseconds" present */
	int leap_s;		  /* GPS - UTC, s, 0..100 */
	char release[64];	  /* VERSION: gpsd's release */
};

struct gps_data_t;

/* nesting of objects and arrays a gpsd message may have (DEVICES: 2) */
#define GPSD_JSON_MAX_DEPTH 8

/*
 * gpsd_json_valid() - true if @json (@len bytes) is exactly one JSON
 * object (RFC 8259 syntax, nesting up to GPSD_JSON_MAX_DEPTH, no NUL
 * bytes, surrounding whitespace allowed).
 */
bool gpsd_json_valid(const char *json, size_t len);

/*
 * gpsd_json_int() - the integer value of top-level key @key in the JSON
 * object @json (@len bytes, need not be NUL-terminated); keys inside
 * nested objects, arrays or strings do not count.
 * Returns 0 with *@out, -ENOENT if the key is absent, -EINVAL if the text
 * is not an object or the value is not an integer, -ERANGE if it does
 * not fit in int64_t.
 */
int gpsd_json_int(const char *json, size_t len, const char *key, int64_t *out);

/*
 * gpsd_msg_from() - reduce @gd, as gps_unpack() left it for
 * the message whose text is @json (@len bytes), to *@m.
 * Returns 0, or -EINVAL if the text is not a gpsd message (no class).
 * Range checks of times are left to gpsd_msg_to_sample().
 */
int gpsd_msg_from(const struct gps_data_t *gd, const char *json, size_t len,
		  struct gpsd_msg *m);

/*
 * gpsd_msg_parse() - check one JSON message (@len bytes, at most
 * 4095: longer is -EMSGSIZE), unpack it with libgps's gps_unpack() into
 * a fresh gps_data_t and reduce it with gpsd_msg_from(). The client
 * reads every message through this.
 *
 * libgps 3.22's gps_unpack() loops forever on some text (found by
 * tests/fuzz/fuzz_gpsd.c): malformed JSON such as {a"class":"PPS", and
 * valid JSON whose nested objects carry a "class" it recognises by
 * substring search. So it only ever sees text that passes
 * gpsd_json_valid(), has "class" as its first key (as gpsd writes it)
 * and nowhere else (a TPV with a second "class":"VERSION" key hangs it
 * too), is of a class we use (TOFF, PPS, TPV, VERSION) and has no nested
 * object or array (gpsd sends none in those). Other classes are
 * reported by kind only, without being unpacked.
 * Returns 0, -EMSGSIZE, -ENOMEM, or -EINVAL (not valid JSON, "class" not
 * first or not alone, nesting in a class we unpack, or libgps refused it).
 */
int gpsd_msg_parse(const char *json, size_t len, struct gpsd_msg *m);

/* The host's clocks read together just now, by the caller. */
struct gpsd_now {
	int64_t rt_ns;	  /* CLOCK_REALTIME, ns since the epoch */
	uint64_t raw_ns;  /* CLOCK_MONOTONIC_RAW (the counter), ns, taken
			   * at the middle of the REALTIME read */
	uint64_t half_ns; /* half the width of that bracket, rounded up */
};

struct gpsd_conv {
	const struct leap_table *leaps; /* required */
	uint64_t toff_err_ns;		/* 0: GPSD_TOFF_ERR_NS */
	uint32_t slew_ppb;		/* 0: GPSD_SLEW_PPB */
};

/*
 * gpsd_msg_to_sample() - the sample a TOFF or PPS message gives, with
 * @mode the device's latest fix mode (TPV).
 *
 * The message's clock time c (host REALTIME) is mapped to the counter
 * through @now: age = now.rt - c, counter = now.raw - age. The mapping
 * error is now.half + slew_ppb * age (REALTIME may have been slewed
 * against the counter over the age) + 1 ns of rounding. tai_ns is the
 * receiver's UTC plus TAI - UTC from the leap table at that time. err_ns:
 *   PPS:  2^precision s + |qErr| + mapping error
 *   TOFF: toff_err_ns + mapping error (NMEA sentence timing depends on
 *         the receiver: the first byte of a cycle comes tens to hundreds
 *         of ms after the second it reports, so the default is 500 ms)
 * window_ns is 2 * now.half.
 *
 * Returns 0 with *@out, or (with *@out untouched):
 *   -EINVAL  not a TOFF/PPS message, nanoseconds outside 0..999999999,
 *            times before 2000 or after 2200, precision outside
 *            -30..0, |qErr| over 1 ms, bad @now
 *   -ENODATA no fix (@mode < 2)
 *   -ERANGE  clock time in the future of @now, or real and clock more
 *            than GPSD_MAX_REAL_CLOCK_S apart
 *   -ESTALE  clock time more than GPSD_MAX_AGE_NS before @now
 */
int gpsd_msg_to_sample(const struct gpsd_msg *m, int mode,
		       const struct gpsd_now *now, const struct gpsd_conv *cv,
		       struct time_sample *out);

struct gpsd_client;

/* connect() gives up after this long (a remote gpsd that is down) */
#define GPSD_CONNECT_TIMEOUT_S 1

/*
 * gpsd_resolve() - resolve @host and @port (NULL: the defaults) once,
 * into numeric strings for gpsd_client_new(): names are looked up only
 * here, at start-up, before the privilege drop.
 * Returns 0, or -errno (-EHOSTUNREACH for a name that does not resolve).
 */
int gpsd_resolve(const char *host, const char *port, char *num_host,
		 size_t host_len, char *num_port, size_t port_len);

/*
 * gpsd_client_new() - connect to gpsd at numeric @host:@port (from
 * gpsd_resolve()) and start the JSON watch with PPS, for @device only if
 * it is not NULL. The socket is then non-blocking.
 * Returns 0 with *@out, or -errno (-ECONNREFUSED and the like when gpsd
 * is not there, -EINVAL for a non-numeric address or a @device that is empty,
 * 128 bytes or more, or has a quote, backslash or control character).
 */
int gpsd_client_new(const char *host, const char *port, const char *device,
		    struct gpsd_client **out);

/* Closes the connection; NULL is a no-op. */
void gpsd_client_free(struct gpsd_client *c);

/* The socket to watch for input (G_IO_IN) from a main loop. */
int gpsd_client_fd(const struct gpsd_client *c);

/*
 * gpsd_client_read() - the next complete message, if one is waiting.
 * Never blocks. Returns 0 with *@m, -EAGAIN if no complete message is
 * waiting, -EBADMSG for a line that is not a gpsd JSON message or is
 * longer than 4095 bytes (read on), -ENOMEM, or -ECONNRESET once gpsd
 * has closed the connection or it failed (then free the client and
 * connect again).
 */
int gpsd_client_read(struct gpsd_client *c, struct gpsd_msg *m);

#endif /* SYNC_GPSD_H */
