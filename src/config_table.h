/* SPDX-License-Identifier: MIT */
/*
 * Private to config.c, config_keys.c and config_sources.c: the key
 * table itself (the public view is config_keys() in config.h).
 */
#ifndef SRC_CONFIG_TABLE_H
#define SRC_CONFIG_TABLE_H

#include <stddef.h>

#include "config.h"

/* Keys at most, the source kinds' included (struct config origin[] and
 * cli_set bits). */
#define CONFIG_MAX_KEYS 40

extern const struct config_key config_table_[];
/* The daemon's own keys, with one CONFIG_SOURCES entry where the source
 * kinds' go; config_keys() is the whole table. */
extern const size_t config_n_keys_; /* entries in config_table_ */

/*
 * The whole key table, built on first use (start-up, one thread): the
 * daemon's keys with the source kinds' spliced in where CONFIG_SOURCES
 * stands. A key's index here is its index in struct config's origin[]
 * and cli_set.
 */
struct key_table {
	struct config_key k[CONFIG_MAX_KEYS];
	int kind[CONFIG_MAX_KEYS];     /* -1: struct config; else registry */
	size_t first[CONFIG_MAX_KEYS]; /* per kind: its first key's index */
	size_t n;
	const struct source_kind *const *kinds;
	size_t n_kinds;
};

const struct key_table *config_key_table(void);

/* Where key @k's value came from, or its name for the default. */
const char *config_origin_of(const struct config *c,
			     const struct config_key *k);

/*
 * config_check_sources() - each kind within its limit (its own bound, or
 * what DISCIPLINE_MAX_SOURCES leaves the others), its own keys consistent
 * (its check op), and one source at least. Returns 0, or -EINVAL with
 * @err set.
 */
int config_check_sources(const struct config *c, GError **err);

#endif /* SRC_CONFIG_TABLE_H */
