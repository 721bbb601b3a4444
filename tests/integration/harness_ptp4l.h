// SPDX-License-Identifier: MIT
/*
 * A real ptp4l master and slave for the integration tests
 * (harness_ptp4l.c): two network namespaces joined by a veth pair,
 * layer-2 transport, software timestamping, free_running 1 on both
 * (neither touches any clock), each with its management socket in a temp
 * dir. The master announces utc_offset 36, clockClass 6, clockAccuracy
 * 0x21. Needs root, ip(8), ptp4l and pmc: without them the tests fail,
 * they do not skip. Failures are Criterion assertions; use
 * ptp4l_pair_stop() as the suite's .fini.
 *
 * With free_running 1 ptp4l's servo never reports "locked", so the
 * slave's port stays UNCALIBRATED (it does select the master, measure
 * the path delay and compute the offset): UNCALIBRATED or SLAVE is
 * "settled".
 */
#ifndef TEST_HARNESS_PTP4L_H
#define TEST_HARNESS_PTP4L_H

#include <stddef.h>
#include <stdint.h>

#include "ptp4l.h"

#define PTP4L_SETTLE_TIMEOUT_MS 30000
#define PTP4L_GET_TIMEOUT_MS 1000

/* The temp dir holding the configs, logs and sockets. */
extern char ptp4l_tmpdir[64];

/* Namespaces, veth pair, master and slave ptp4l. */
void ptp4l_pair_start(void);

/* Stop both, delete the namespaces and the temp dir. */
void ptp4l_pair_stop(void);

/* Stop the slave (SIGTERM, then SIGKILL after 2 s); waits for it. */
void ptp4l_slave_stop(void);

/* Start the slave again, same config, same socket path; waits (bounded)
 * for its socket. */
void ptp4l_slave_start(void);

/* The management socket of "master" or "slave", into @buf. */
const char *ptp4l_sock_path(const char *name, char *buf, size_t len);

/* Our client on @name's socket (waits, bounded, for the socket). */
struct ptp4l_client *ptp4l_pair_client(const char *name);

/* A blocking GET that must succeed. */
void ptp4l_pair_get(struct ptp4l_client *c, uint16_t id, struct ptp4l_reply *r);

/* Wait until the slave follows the master, has measured the path and
 * has an offset (bounded by PTP4L_SETTLE_TIMEOUT_MS); returns its port
 * state. */
int ptp4l_pair_wait_settled(struct ptp4l_client *slave);

/* Print the last lines of "master" or "slave"'s log to stderr. */
void ptp4l_dump_log(const char *name);

/* pmc's text output for "GET @what" on the slave, into @out. */
void ptp4l_pmc_get(const char *what, char *out, size_t len);

/* The word after @key at the start of a line of pmc output (static). */
const char *ptp4l_pmc_val(const char *out, const char *key);

/* ... as a number (strtoll base 0). */
long long ptp4l_pmc_num(const char *out, const char *key);

/* CLOCK_MONOTONIC in ms. */
int64_t ptp4l_now_ms(void);

#endif /* TEST_HARNESS_PTP4L_H */
