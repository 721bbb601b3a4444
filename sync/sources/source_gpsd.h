/* SPDX-License-Identifier: MIT */
/*
 * The gpsd source kind: a GNSS receiver through gpsd (gpsd.c, gpsd_msg.c).
 * Its settings, for the tests that build one without the config; the
 * daemon reaches the kind only through the registry (source_kinds()).
 */
#ifndef SYNC_SOURCES_SOURCE_GPSD_H
#define SYNC_SOURCES_SOURCE_GPSD_H

#include <stdbool.h>
#include <stdint.h>

#include "source.h"

/* gpsd (JSON watch over TCP, libgps): the keys gpsd, gpsd-device. */
struct source_gpsd_settings {
	char *gpsd_server;	   /* "host:port"; NULL: no gpsd source (and
				    * localhost:2947 to new()) */
	char *gpsd_device;	   /* NULL: every device gpsd reports */
	uint64_t gpsd_toff_err_ns; /* not a key: NMEA timing; 0: 500 ms */
};

extern const struct source_ops source_gpsd_ops;
extern const struct source_kind source_gpsd_kind;

#endif /* SYNC_SOURCES_SOURCE_GPSD_H */
