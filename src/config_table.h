/* SPDX-License-Identifier: MIT */
/*
 * Private to config.c and config_keys.c: the key table itself (the
 * public view is config_keys() in config.h).
 */
#ifndef SRC_CONFIG_TABLE_H
#define SRC_CONFIG_TABLE_H

#include <stddef.h>

#include "config.h"

/* Keys at most (struct config origin[] and cli_set bits). */
#define CONFIG_MAX_KEYS 40

extern const struct config_key config_table_[];
extern const size_t config_n_keys_; /* entries in config_table_ */

#endif /* SRC_CONFIG_TABLE_H */
