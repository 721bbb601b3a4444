/* SPDX-License-Identifier: MIT */
/*
 * Daemon configuration: one table of keys (name, type, default, min, max,
 * help) drives the config file parser, the command-line options of the
 * same names and the defaults; conf/vhost-user-rtc.conf lists them all.
 *
 * Sources, later ones override: built-in defaults, the key file's
 * [vhost-user-rtc] section, the command line. Every error names where the
 * value came from ("FILE:LINE: key: ...", "--key: ...").
 *
 * Thread/loop: start-up only, before the main loop runs.
 */
#ifndef SRC_CONFIG_H
#define SRC_CONFIG_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "virtio_rtc.h"

#define CONFIG_GROUP "vhost-user-rtc"

/* Time sources at most: PHCs + chronyd + gpsd + the system clock. */
#define CONFIG_MAX_SOURCES 8

enum config_type {
	CONFIG_STRING,	  /* free text, not empty */
	CONFIG_PATH,	  /* a file name, not empty */
	CONFIG_PATH_LIST, /* key file: a;b;c  command line: repeat the option */
	CONFIG_UINT,	  /* decimal, within [min, max] */
	CONFIG_ENUM,	  /* one of the '|'-separated choices */
};

struct config_key {
	const char *name; /* key name, and --name on the command line */
	enum config_type type;
	const char *def;     /* default as written in the file; NULL: none */
	uint64_t min, max;   /* CONFIG_UINT only */
	const char *choices; /* CONFIG_ENUM only: "a|b|c" */
	/* command line: the value of --name given alone (NULL: required) */
	const char *flag_value;
	const char *arg;  /* placeholder shown by --help */
	const char *help; /* one line for --help */
	size_t offset;	  /* of the value in struct config */
};

/* Values after parsing; read them directly. */
struct config {
	char **socket_paths; /* NULL-terminated, never NULL, may be empty */
	char *clocks;	     /* comma-separated clock names */
	char *smear;	     /* noon-linear | utc-sls */
	char *alarm;	     /* on | off: offer VIRTIO_RTC_F_ALARM */
	char *alarm_clocks;  /* see vrtc_config_set_alarm_clocks() */
	char *leap_file;
	uint64_t poll_ns;
	uint64_t sync_interval_ms;
	char **phc;	     /* PHC sources; NULL-terminated, never NULL */
	char *phc_timescale; /* tai | utc */
	char **ptp4l_socket; /* the Nth for the Nth phc; may be shorter */
	char *chrony;	     /* on | off: follow chronyd's system clock */
	char *chrony_socket;
	uint64_t chrony_port; /* UDP fallback after the drop; 0: none */
	char *gpsd;	      /* host:port; NULL: no gpsd source */
	char *gpsd_device;    /* NULL: any receiver */
	char *system_clock;   /* on | off: the fallback source */
	uint64_t min_samples, stale_intervals, max_drift_ppb, wander_ppt;
	uint64_t slew_ms, step_ns, unreliable_ns; /* estimator tunables */
	uint64_t max_connections;		  /* 0 = unlimited */
	char *control_socket;			  /* NULL: no control socket */
	char *metrics_address; /* NULL: no metrics endpoint */
	char *log_level;       /* error | warning | info | debug */
	char *user;	       /* NULL: see privdrop.h */
	char *group;	       /* NULL: the user's primary group */
	char *socket_group;    /* NULL: the sockets keep root's group */
	char *control_group;   /* NULL: the control socket likewise */
	char *seccomp;	       /* on | off */

	/* Derived by config_finish(). */
	struct vrtc_config vrtc;	    /* the clock set served to guests */
	uint8_t smear_id;		    /* VIRTIO_RTC_SMEAR_* */
	struct sockaddr_storage metrics_sa; /* from metrics_address */
	socklen_t metrics_sa_len;	    /* 0: no metrics endpoint */

	/* Private: where each key's value came from, for error messages. */
	char *origin[40];
	uint64_t cli_set; /* bit per key: given on the command line */
};

/* The key table, @n receives its length. */
const struct config_key *config_keys(size_t *n);

/* All keys at their defaults. Never NULL. */
struct config *config_new(void);

/* NULL is a no-op. */
void config_free(struct config *c);

/*
 * config_load_file() - apply the [vhost-user-rtc] section of key file
 * @path. Unknown sections and keys, malformed lines and bad values are
 * errors naming "@path:LINE". Returns 0, or -errno with @err set.
 */
int config_load_file(struct config *c, const char *path, GError **err);

/*
 * config_set() - apply command-line option --@key=@value. The first
 * occurrence of a list key replaces the file's list, later ones append.
 * Returns 0, or -EINVAL (unknown key, bad value) with @err set.
 */
int config_set(struct config *c, const char *key, const char *value,
	       GError **err);

/*
 * Where @key's value came from, for error messages: "FILE:LINE: key",
 * "--key", or the key's name for a default. Valid until @c changes.
 */
const char *config_origin(const struct config *c, const char *key);

/* True if --@key was given on the command line. */
bool config_from_cli(const struct config *c, const char *key);

/*
 * config_finish() - check the combination of values and fill the derived
 * fields (the clock set). Returns 0, or -EINVAL with @err set.
 */
int config_finish(struct config *c, GError **err);

#endif /* SRC_CONFIG_H */
