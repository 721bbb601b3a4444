/* SPDX-License-Identifier: MIT */
/*
 * The phc source kind: a PTP hardware clock (phc.c reads it), with ptp4l as its
 * companion (ptp4l.c).
 * Its settings, for the tests that build one without the config; the
 * daemon reaches the kind only through the registry (source_kinds()).
 */
#ifndef SYNC_SOURCES_SOURCE_PHC_H
#define SYNC_SOURCES_SOURCE_PHC_H

#include <stdbool.h>
#include <stdint.h>

#include "phc.h"
#include "source.h"

/* PHC: settings of the keys phc, phc-timescale, ptp4l-socket. */
struct source_phc_settings {
	char **phc;			  /* /dev/ptpN or interface names */
	enum phc_timescale phc_timescale; /* default TAI */
	char **ptp4l_socket; /* the Nth for the Nth phc; may be shorter;
			      * NULL or too short: no ptp4l companion */
	/* not keys (tests) */
	const char *ptp4l_bind_dir;    /* NULL: g_get_tmp_dir() */
	const struct phc_ops *phc_ops; /* NULL: real system calls */
	void *phc_ctx;
};

extern const struct source_ops source_phc_ops;
extern const struct source_kind source_phc_kind;

#endif /* SYNC_SOURCES_SOURCE_PHC_H */
