// SPDX-License-Identifier: MIT
/*
 * The daemon's configuration keys: name, type, default, range, help.
 * The time sources' keys are the source kinds' own (source.h); they go
 * where CONFIG_SOURCES stands. The one parser (config.c) and --help read
 * them; conf/vhost-user-rtc.conf lists them all.
 */
#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "config_table.h"
#include "leap.h"
#include "source.h"

#define CFG_OFF(f) offsetof(struct config, f)

const struct config_key config_table_[] = {
	{
		.name = "socket-path",
		.type = CONFIG_PATH_LIST,
		.arg = "PATH",
		.help = "Serve VMs on this AF_UNIX socket (repeatable)",
		.offset = CFG_OFF(socket_paths),
	},
	{
		.name = "clocks",
		.type = CONFIG_STRING,
		.def = "utc,tai,monotonic,utc-smeared",
		.arg = "LIST",
		.help = "Clocks served, in clock-id order",
		.offset = CFG_OFF(clocks),
	},
	{
		.name = "smear",
		.type = CONFIG_ENUM,
		.def = "noon-linear",
		.choices = "noon-linear|utc-sls",
		.arg = "VARIANT",
		.help = "Smear of utc-smeared: noon-linear or utc-sls",
		.offset = CFG_OFF(smear),
	},
	{
		.name = "alarm",
		.type = CONFIG_ONOFF,
		.def = "on",
		.choices = "on|off",
		.arg = "on|off",
		.help = "Offer VIRTIO_RTC_F_ALARM (--no-alarm: off)",
		.offset = CFG_OFF(alarm),
	},
	{
		.name = "alarm-clocks",
		.type = CONFIG_STRING,
		.def = "default",
		.arg = "LIST",
		.help = "Clocks with an alarm: ids or utc, tai, utc-smeared; "
			"default (utc and utc-smeared) or none",
		.offset = CFG_OFF(alarm_clocks),
	},
	{
		.name = "leap-file",
		.type = CONFIG_PATH,
		.def = LEAP_DEFAULT_PATH,
		.arg = "PATH",
		.help = "The IERS leap-seconds.list to use",
		.offset = CFG_OFF(leap_file),
	},
	{
		.name = "poll-ns",
		.type = CONFIG_UINT,
		.def = "50000",
		.min = 0,
		.max = 10000000,
		.arg = "NS",
		.help = "Busy-poll this long before sleeping (0: never)",
		.offset = CFG_OFF(poll_ns),
	},
	{
		.name = "sync-interval-ms",
		.type = CONFIG_UINT,
		.def = "1000",
		.min = 10,
		.max = 600000,
		.arg = "MS",
		.help = "Resample the host clock this often",
		.offset = CFG_OFF(sync_interval_ms),
	},
	{
		/* phc, phc-timescale, ptp4l-socket, chrony, chrony-socket,
		 * chrony-port, gpsd, gpsd-device, system-clock */
		.type = CONFIG_SOURCES,
	},
	{
		.name = "source-start",
		.type = CONFIG_ENUM,
		.def = "retry",
		.choices = "retry|strict",
		.arg = "retry|strict",
		.help = "A chronyd or gpsd not reachable at start: a source "
			"that is down and retried (retry), or refuse to start "
			"(strict)",
		.offset = CFG_OFF(source_start),
	},
	{
		.name = "min-samples",
		.type = CONFIG_UINT,
		.def = "8",
		.min = 2,
		.max = 1000,
		.arg = "N",
		.help = "Good samples before a source (and the model) is "
			"SYNCHRONIZED",
		.offset = CFG_OFF(min_samples),
	},
	{
		.name = "stale-intervals",
		.type = CONFIG_UINT,
		.def = "8",
		.min = 1,
		.max = 1000,
		.arg = "N",
		.help = "Intervals without a sample before FREERUNNING",
		.offset = CFG_OFF(stale_intervals),
	},
	{
		.name = "max-drift-ppb",
		.type = CONFIG_UINT,
		.def = "1000",
		.min = 1,
		.max = 500000,
		.arg = "PPB",
		.help = "Assumed worst frequency change of the host counter, "
			"or of a PHC ptp4l no longer steers (the bound's "
			"growth in holdover)",
		.offset = CFG_OFF(max_drift_ppb),
	},
	{
		.name = "wander-ppt",
		.type = CONFIG_UINT,
		.def = "100",
		.min = 1,
		.max = 1000000,
		.arg = "PPT",
		.help = "Frequency random walk of the counter, parts per "
			"trillion per sqrt(s) (the estimator's tuning)",
		.offset = CFG_OFF(wander_ppt),
	},
	{
		.name = "slew-ms",
		.type = CONFIG_UINT,
		.def = "4000",
		.min = 1,
		.max = 3600000,
		.arg = "MS",
		.help = "Steer a phase error out over this long",
		.offset = CFG_OFF(slew_ms),
	},
	{
		.name = "step-ns",
		.type = CONFIG_UINT,
		.def = "1000000",
		.min = 1000,
		.max = 1000000000000ULL,
		.arg = "NS",
		.help = "Step (logged, counted) rather than slew above this "
			"phase error",
		.offset = CFG_OFF(step_ns),
	},
	{
		.name = "unreliable-ns",
		.type = CONFIG_UINT,
		.def = "1000000000",
		.min = 1000,
		.max = 100000000000ULL,
		.arg = "NS",
		.help = "A bound above this makes the status UNRELIABLE",
		.offset = CFG_OFF(unreliable_ns),
	},
	{
		.name = "max-connections",
		.type = CONFIG_UINT,
		.def = "256",
		.min = 0,
		.max = 65536,
		.arg = "N",
		.help = "Most front-end connections at once (0: no limit)",
		.offset = CFG_OFF(max_connections),
	},
	{
		.name = "control-socket",
		.type = CONFIG_PATH,
		.arg = "PATH",
		.help = "Answer status and metrics requests on this AF_UNIX "
			"socket (vhost-user-rtc-ctl; default: off)",
		.offset = CFG_OFF(control_socket),
	},
	{
		.name = "vm-socket-dir",
		.type = CONFIG_PATH,
		.arg = "DIR",
		.help = "Let the control socket add and remove VM sockets "
			"(vm add NAME) in this directory, made before the "
			"privilege drop and given to the daemon's user "
			"(default: off)",
		.offset = CFG_OFF(vm_socket_dir),
	},
	{
		.name = "vmclock-page",
		.type = CONFIG_PATH,
		.arg = "PATH",
		.help = "Keep the served model's status page (vmclock ABI, "
			"4096 bytes, world-readable) in this file, for libvrtc "
			"and guests via ivshmem-plain (default: off)",
		.offset = CFG_OFF(vmclock_page),
	},
	{
		.name = "metrics-address",
		.type = CONFIG_STRING,
		.arg = "HOST:PORT",
		.help = "Serve Prometheus metrics over HTTP on this loopback "
			"address (e.g. 127.0.0.1:9688; default: off)",
		.offset = CFG_OFF(metrics_address),
	},
	{
		.name = "log-level",
		.type = CONFIG_ENUM,
		.def = "info",
		.choices = "error|warning|info|debug",
		.arg = "LEVEL",
		.help = "Least severe messages logged: error, warning, info, "
			"debug",
		.offset = CFG_OFF(log_level),
	},
	{
		.name = "user",
		.type = CONFIG_STRING,
		.arg = "NAME",
		.help = "Run as this user once the sockets and devices are "
			"open (default when started as root: vhost-user-rtc, "
			"which must exist; user=root stays root, without "
			"capabilities)",
		.offset = CFG_OFF(user),
	},
	{
		.name = "group",
		.type = CONFIG_STRING,
		.arg = "NAME",
		.help = "Run as this group (default: the user's primary group)",
		.offset = CFG_OFF(group),
	},
	{
		.name = "socket-group",
		.type = CONFIG_STRING,
		.arg = "NAME",
		.help = "Give the vhost-user sockets to this group, mode 0660, "
			"so a VMM running in it (kvm, libvirt-qemu) can "
			"connect (default: the creator's group and umask)",
		.offset = CFG_OFF(socket_group),
	},
	{
		.name = "control-group",
		.type = CONFIG_STRING,
		.arg = "NAME",
		.help = "Give the control socket to this group, mode 0660, so "
			"its members can run vhost-user-rtc-ctl without root",
		.offset = CFG_OFF(control_group),
	},
	{
		.name = "seccomp",
		.type = CONFIG_ONOFF,
		.def = "on",
		.choices = "on|off",
		.arg = "on|off",
		.help = "Confine the serving loop to a system-call allow-list",
		.offset = CFG_OFF(seccomp),
	},
};

#define N_KEYS (sizeof(config_table_) / sizeof(config_table_[0]))

_Static_assert(CONFIG_MAX_KEYS <=
		       sizeof(((struct config *)0)->origin) / sizeof(char *),
	       "struct config origin[] too small");
_Static_assert(CONFIG_MAX_KEYS <= 64, "struct config cli_set too small");
_Static_assert(sizeof(enum config_smear) == sizeof(int) &&
		       sizeof(enum config_log_level) == sizeof(int) &&
		       sizeof(enum config_source_start) == sizeof(int),
	       "CONFIG_ENUM stores an int");

const size_t config_n_keys_ = N_KEYS;

static void table_add(struct key_table *t, const struct config_key *k, int kind)
{
	/* our own table's size, not an input: a build mistake */
	g_assert(t->n < CONFIG_MAX_KEYS);
	t->k[t->n] = *k;
	t->kind[t->n] = kind;
	t->n++;
}

const struct key_table *config_key_table(void)
{
	static struct key_table t;
	static bool built; /* start-up only, one thread (config.h) */

	if (!built) {
		t.kinds = source_kinds(&t.n_kinds);
		g_assert(t.n_kinds <= CONFIG_MAX_KEYS);
		for (size_t i = 0; i < config_n_keys_; i++) {
			if (config_table_[i].type != CONFIG_SOURCES) {
				table_add(&t, &config_table_[i], -1);
				continue;
			}
			for (size_t j = 0; j < t.n_kinds; j++) {
				t.first[j] = t.n;
				for (size_t m = 0; m < t.kinds[j]->n_keys;
				     m++) {
					table_add(&t, &t.kinds[j]->keys[m],
						  (int)j);
				}
			}
		}
		built = true;
	}
	return &t;
}

const struct config_key *config_keys(size_t *n)
{
	*n = config_key_table()->n;
	return config_key_table()->k;
}
