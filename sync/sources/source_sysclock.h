/* SPDX-License-Identifier: MIT */
/*
 * The sysclock source kind: the system clock itself, the fallback (sysclock.c).
 * Its settings, for the tests that build one without the config; the
 * daemon reaches the kind only through the registry (source_kinds()).
 */
#ifndef SYNC_SOURCES_SOURCE_SYSCLOCK_H
#define SYNC_SOURCES_SOURCE_SYSCLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "source.h"

struct timex;

/* The system clock: the key system-clock. Reads through clock_ops. */
struct source_sysclock_settings {
	bool on; /* the fallback source */
	/* not a key (tests); NULL: ntp_adjtime read-only */
	int (*sysclock_adjtime)(void *ctx, struct timex *tx);
};

extern const struct source_ops source_sysclock_ops;
extern const struct source_kind source_sysclock_kind;

#endif /* SYNC_SOURCES_SOURCE_SYSCLOCK_H */
