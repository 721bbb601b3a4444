/* SPDX-License-Identifier: MIT */
/*
 * The format of a settings table: one row per key (name, type, default,
 * range, help, where the value goes). The daemon's configuration
 * (src/config.h) is such a table, and so is each time-source kind's
 * (sync/sources/source.h, struct source_kind): the one parser in
 * src/config.c reads them all, for the key file and the command line.
 *
 * A plain declaration, no code: every layer may include it.
 */
#ifndef CONFIG_KEY_H
#define CONFIG_KEY_H

#include <stddef.h>
#include <stdint.h>

/* What the parser stores at the key's offset. */
enum config_type {
	CONFIG_STRING,	  /* char *: free text, not empty; NULL: unset */
	CONFIG_PATH,	  /* char *: a file name, not empty */
	CONFIG_PATH_LIST, /* char **, NULL-terminated, never NULL;
			   * key file: a;b;c  command line: repeat it */
	CONFIG_UINT,	  /* uint64_t: decimal, within [min, max] */
	CONFIG_ENUM,	  /* int: the index of the value among the '|'-
			   * separated choices ("tai|utc": tai 0, utc 1) */
	CONFIG_ONOFF,	  /* bool: "on" true, "off" false; choices gives
			   * the order the error message lists them in */
	CONFIG_SOURCES,	  /* daemon table only, no value: the source
			   * kinds' keys go here, in registry order */
};

struct config_key {
	const char *name; /* key name, and --name on the command line */
	enum config_type type;
	const char *def;     /* default as written in the file; NULL: none */
	uint64_t min, max;   /* CONFIG_UINT only */
	const char *choices; /* CONFIG_ENUM, CONFIG_ONOFF: "a|b|c" */
	/* command line: the value of --name given alone (NULL: required) */
	const char *flag_value;
	const char *arg;  /* placeholder shown by --help */
	const char *help; /* one line for --help */
	size_t offset;	  /* of the value in its table's settings struct */
};

#endif /* CONFIG_KEY_H */
