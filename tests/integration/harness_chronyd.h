// SPDX-License-Identifier: MIT
/*
 * A pair of real chronyd -x on loopback for the integration tests
 * (harness_chronyd.c). Use chronyd_pair_start/stop as a suite's
 * .init/.fini; failures are Criterion assertions.
 */
#ifndef TEST_HARNESS_CHRONYD_H
#define TEST_HARNESS_CHRONYD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chrony.h"

/* The client chronyd's command socket and UDP command port. */
extern char chronyd_client_sock[128];
extern uint16_t chronyd_client_cmdport;

/* @name in the usual sbin/bin directories, into @buf; NULL if absent. */
const char *chronyd_find_prog(const char *name, char *buf, size_t len);

/*
 * Start chronyd @exe -n -x (never touching the host clock) with
 * @conf_text written to @dir/@name.conf, its output in @dir/@name.log,
 * killed if the test dies. Returns its pid.
 */
pid_t chronyd_spawn(const char *exe, const char *dir, const char *name,
		    const char *conf_text);

/* Start both chronyd and wait for their command sockets. */
void chronyd_pair_start(void);

/* Kill both, check none is left, remove the temp dir. */
void chronyd_pair_stop(void);

/* The pair's temp dir (sockets, configs, logs). */
const char *chronyd_pair_dir(void);

/* Stop the client chronyd (SIGTERM, SIGKILL after 2 s) and wait for it. */
void chronyd_client_stop(void);

/* Start it again with the same config and socket; waits (bounded) for
 * its command socket. */
void chronyd_client_start(void);

/* Our client on the client chronyd's Unix command socket. */
struct chrony_client *chronyd_pair_open_unix(void);

/* Wait (bounded) until the client chronyd is synchronised; @t is its
 * last TRACKING. */
void chronyd_pair_wait_synced(struct chrony_client *c,
			      struct chrony_tracking *t);

#endif /* TEST_HARNESS_CHRONYD_H */
