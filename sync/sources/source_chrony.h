/* SPDX-License-Identifier: MIT */
/*
 * The chrony source kind: chronyd's system clock, read over its command socket
 * (chrony.c). Its settings, for the tests that build one without the config;
 * the daemon reaches the kind only through the registry (source_kinds()).
 */
#ifndef SYNC_SOURCES_SOURCE_CHRONY_H
#define SYNC_SOURCES_SOURCE_CHRONY_H

#include <stdbool.h>
#include <stdint.h>

#include "source.h"

/* chronyd: settings of the keys chrony, chrony-socket, chrony-port. */
struct source_chrony_settings {
	bool on;		    /* follow chronyd's system clock */
	char *chrony_socket;	    /* NULL: CHRONY_DEFAULT_SOCKET */
	uint64_t chrony_port;	    /* loopback UDP command port for reopening
				     * when the socket cannot be (after the
				     * privilege drop); 0: never */
	const char *chrony_run_dir; /* not a key; NULL: the socket's dir */
};

extern const struct source_ops source_chrony_ops;
extern const struct source_kind source_chrony_kind;

#endif /* SYNC_SOURCES_SOURCE_CHRONY_H */
