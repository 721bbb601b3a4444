/* SPDX-License-Identifier: MIT */
/*
 * Daemon configuration: one table of keys (name, type, default, min, max,
 * help; include/config_key.h) drives the config file parser, the
 * command-line options of the same names and the defaults;
 * conf/vhost-user-rtc.conf lists them all. Each time-source kind brings
 * its own keys and settings struct (source.h, struct source_kind); the
 * table takes them in, in registry order. Values are parsed once: on/off
 * keys to bool, choices to their enum.
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

#include "config_key.h"
#include "source.h"
#include "virtio_rtc.h"

#define CONFIG_GROUP "vhost-user-rtc"

/* The smear key's choices, in order. */
enum config_smear {
	CONFIG_SMEAR_NOON_LINEAR = 0,
	CONFIG_SMEAR_UTC_SLS,
};

/* The log-level key's choices, in order. */
enum config_log_level {
	CONFIG_LOG_ERROR = 0,
	CONFIG_LOG_WARNING,
	CONFIG_LOG_INFO,
	CONFIG_LOG_DEBUG,
};

/* The source-start key's choices, in order. */
enum config_source_start {
	CONFIG_SOURCE_START_RETRY = 0, /* a daemon not up yet: source down */
	CONFIG_SOURCE_START_STRICT,    /* ... refuses to start */
};

/* Values after parsing; read them directly. */
struct config {
	char **socket_paths; /* NULL-terminated, never NULL, may be empty */
	char *clocks;	     /* comma-separated clock names */
	enum config_smear smear;
	bool alarm;	    /* offer VIRTIO_RTC_F_ALARM */
	char *alarm_clocks; /* see rtcdev_config_set_alarm_clocks() */
	char *leap_file;
	uint64_t poll_ns;
	uint64_t sync_interval_ms;
	/* the time sources' keys: see config_source() */
	enum config_source_start source_start;
	uint64_t min_samples, stale_intervals, max_drift_ppb, wander_ppt;
	uint64_t slew_ms, step_ns, unreliable_ns; /* estimator tunables */
	uint64_t max_connections;		  /* 0 = unlimited */
	char *control_socket;			  /* NULL: no control socket */
	char *vm_socket_dir;   /* NULL: no vm add at run time */
	char *vmclock_page;    /* NULL: no status page */
	char *metrics_address; /* NULL: no metrics endpoint */
	enum config_log_level log_level;
	char *user;	     /* NULL: see privdrop.h */
	char *group;	     /* NULL: the user's primary group */
	char *socket_group;  /* NULL: the sockets keep root's group */
	char *control_group; /* NULL: the control socket likewise */
	bool seccomp;	     /* confine the serving loop */

	/* Derived by config_finish(). */
	struct rtcdev_config vrtc;	    /* the clock set served to guests */
	uint8_t smear_id;		    /* VIRTIO_RTC_SMEAR_* */
	struct sockaddr_storage metrics_sa; /* from metrics_address */
	socklen_t metrics_sa_len;	    /* 0: no metrics endpoint */

	/* Private: each source kind's settings, in registry order. */
	void **source;
	/* Private: where each key's value came from, for error messages. */
	char *origin[40];
	uint64_t cli_set; /* bit per key: given on the command line */
};

/*
 * The key table, @n receives its length: the daemon's own keys with
 * every source kind's (source.h, struct source_kind) in their place.
 */
const struct config_key *config_keys(size_t *n);

/*
 * The settings @kind's keys filled (a struct source_*_settings), valid
 * while @c is; NULL if @kind is not in the registry.
 */
const void *config_source(const struct config *c,
			  const struct source_kind *kind);

/*
 * config_check_sources_host() - each source kind's check of its settings
 * against this host (source_kind.check_host: a --phc device that does
 * not exist, ...), for --check-config and start-up; not part of
 * config_finish(), so a reload or a test config need no such device.
 * Returns 0, or -errno with @err set (source_error_quark()).
 */
int config_check_sources_host(const struct config *c, GError **err);

/*
 * config_sources() - the time sources @c asks for, kind by kind in
 * registry order (so in order of preference among equals): for the Nth,
 * @conf[N] is @base with the kind's settings and index, @ops[N] its ops.
 * At most @max (DISCIPLINE_MAX_SOURCES: config_finish() keeps within it).
 * Returns the count, or -E2BIG with @err set.
 */
int config_sources(const struct config *c, const struct source_conf *base,
		   unsigned int max, struct source_conf *conf,
		   const struct source_ops **ops, GError **err);

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
 * config_changed_keys() - the names of the keys whose values differ
 * between @a and @b, in table order, separated by ", ", leaving out
 * those in the NULL-terminated @skip (NULL: none); NULL when none
 * differs. g_free() it. For SIGHUP, to name what a reload does not
 * apply.
 */
char *config_changed_keys(const struct config *a, const struct config *b,
			  const char *const *skip);

/*
 * config_finish() - check the combination of values and fill the derived
 * fields (the clock set). Returns 0, or -EINVAL with @err set.
 */
int config_finish(struct config *c, GError **err);

#endif /* SRC_CONFIG_H */
