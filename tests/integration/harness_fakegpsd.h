// SPDX-License-Identifier: MIT
/*
 * A fake gpsd on a real loopback TCP socket (harness_fakegpsd.c), whose
 * receiver time a test sets: the daemon's gpsd source (--gpsd
 * 127.0.0.1:PORT) connects to it as to gpsd, gets VERSION, sends its
 * ?WATCH, and from then on receives, every @period_ms, a TPV (3D fix,
 * "leapseconds" FAKE_GPSD_LEAP_S unless set) and a PPS whose host time
 * ("clock") is CLOCK_REALTIME when it is sent and whose receiver time
 * ("real") is that plus the offset the test set, precision 2^-20 s.
 * Setting the offset to +5 s therefore makes the source step by +5 s at once,
 * as a receiver that jumped (or a spoofed one) would.
 *
 * The server runs in its own thread and serves up to FAKE_GPSD_CLIENTS
 * connections at a time (the daemon reconnects on its own after an
 * error). Not Criterion-specific: errors come back as text or NULL.
 * The control functions are called from one thread.
 */
#ifndef TEST_HARNESS_FAKEGPSD_H
#define TEST_HARNESS_FAKEGPSD_H

#include <stddef.h>
#include <stdint.h>

#define FAKE_GPSD_CLIENTS 4
/* GPS - UTC reported by default, s: TAI - UTC 37 s (GPS = TAI - 19 s) */
#define FAKE_GPSD_LEAP_S 18

struct fake_gpsd;

/*
 * fake_gpsd_start() - listen on 127.0.0.1 (a free port) and start
 * sending reports every @period_ms (>= 1) with offset 0.
 * Returns NULL with the reason in @err (@len bytes) on failure.
 */
struct fake_gpsd *fake_gpsd_start(unsigned int period_ms, char *err,
				  size_t len);

/*
 * fake_gpsd_start_on() - the same on 127.0.0.1:@port (0: a free one),
 * e.g. where a stopped fake gpsd listened, for a gpsd that comes up
 * after the daemon.
 */
struct fake_gpsd *fake_gpsd_start_on(unsigned int period_ms, int port,
				     char *err, size_t len);

/* The TCP port it listens on. */
int fake_gpsd_port(const struct fake_gpsd *g);

/* Receiver time minus host REALTIME from the next report on, in ns. */
void fake_gpsd_set_offset(struct fake_gpsd *g, int64_t offset_ns);

/*
 * The TPV's "leapseconds" (GPS - UTC, s) from the next report on; the
 * daemon takes TAI - UTC = @leap_s + 19 from it (sync/sources/source_gpsd.c).
 */
void fake_gpsd_set_leapseconds(struct fake_gpsd *g, int leap_s);

/* PPS reports written to clients so far. */
uint64_t fake_gpsd_reports(const struct fake_gpsd *g);

/* Stop the thread, close every socket, free @g. NULL is a no-op. */
void fake_gpsd_stop(struct fake_gpsd *g);

#endif /* TEST_HARNESS_FAKEGPSD_H */
