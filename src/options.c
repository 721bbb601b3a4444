/* SPDX-License-Identifier: MIT */
/*
 * The daemon's command line: the fixed options, one option per config key
 * (config_keys()), and --help's texts.
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "config.h"

static const char summary[] =
	"Serves the host's disciplined time to virtual machines as a "
	"virtio-rtc device\n"
	"(VIRTIO 1.4 section 5.23) over vhost-user. Start it before QEMU: "
	"QEMU connects\n"
	"to the socket as a client. One daemon serves many VMs: one "
	"socket per VM,\n"
	"or any number of VMs on one socket.";

static const char description[] =
	"Clocks (default --clocks utc,tai,monotonic,utc-smeared) and what a "
	"Linux >= 6.16\n"
	"guest with CONFIG_VIRTIO_RTC, _PTP and _CLASS sees:\n"
	"  id 0 utc          /dev/ptpN \"Virtio PTP type 0/variant 0\"; steps "
	"back 1 s at\n"
	"                    a leap second, like CLOCK_REALTIME\n"
	"  id 1 tai          /dev/ptpN \"Virtio PTP type 1/variant 0\"; "
	"TAI = UTC + the leap\n"
	"                    table's offset (37 s since 2017), even when "
	"the host\n"
	"                    kernel's TAI offset is unset\n"
	"  id 2 monotonic    /dev/ptpN \"Virtio PTP type 2/variant 0\"; never "
	"goes back\n"
	"  id 3 utc-smeared  /dev/ptpN \"Virtio PTP type 3/variant 1\" and a "
	"read-only\n"
	"                    /dev/rtcN: UTC with leap seconds smeared from "
	"noon to noon\n"
	"                    (--smear utc-sls: variant 2, the last "
	"1000 s of the day)\n"
	"More names: utc-noon-linear, utc-sls (smeared UTC, fixed variant). "
	"Linux makes\n"
	"/dev/rtc only from the first smeared clock. contrib/ has a guest "
	"udev rule\n"
	"(/dev/ptp_virtio_utc, ...) and a chrony refclock snippet.\n"
	"\n"
	"Example with QEMU 11.1 (guest RAM must be shared with this "
	"daemon):\n"
	"  vhost-user-rtc --socket-path /run/vhost-user-rtc/vm1.sock &\n"
	"  qemu-system-x86_64 -machine q35,memory-backend=mem -m 4G \\\n"
	"    -object memory-backend-memfd,id=mem,size=4G,share=on \\\n"
	"    -chardev socket,id=vrtc,path=/run/vhost-user-rtc/vm1.sock \\\n"
	"    -device vhost-user-rtc-pci,chardev=vrtc ...\n"
	"QEMU 10.2 and later, without vhost-user-rtc-pci:\n"
	"    -device vhost-user-test-device-pci,chardev=vrtc,virtio-id=17,"
	"num_vqs=2,vq_size=1024\n"
	"virtio-mmio machines (-M virt, -M microvm): "
	"-device vhost-user-rtc,chardev=vrtc\n"
	"Do not add reconnect-ms= to the chardev: QEMU cannot reconnect "
	"this device.\n"
	"\n"
	"Time sources (several at once; the best healthy one is followed, "
	"the log says\n"
	"which and why): --phc /dev/ptp0 (repeatable; with ptp4l, add "
	"--ptp4l-socket,\n"
	"the Nth for the Nth PHC), --chrony (the system clock as chronyd "
	"disciplines it),\n"
	"--gpsd localhost:2947, and the system clock itself, always last as "
	"the fallback\n"
	"(--system-clock off to leave it out). Sources that disagree beyond "
	"their bounds\n"
	"are outvoted (falsetickers) or, without a majority, make the status "
	"UNRELIABLE.\n"
	"Example:\n"
	"  vhost-user-rtc --phc /dev/ptp0 --ptp4l-socket /var/run/ptp4l "
	"--chrony \\\n"
	"    --socket-path /run/vhost-user-rtc/vm1.sock\n"
	"The estimator keys (min-samples, max-drift-ppb, ...) rarely need "
	"changing.\n"
	"\n"
	"Config file: --config FILE, section [" CONFIG_GROUP "], keys named "
	"like the\n"
	"long options above (socket-path=a.sock;b.sock); the command line "
	"wins.\n"
	"Privileges: started as root, it opens devices and sockets, then "
	"runs as --user\n"
	"(default: vhost-user-rtc, which must exist; --user root stays "
	"root) with\n"
	"no capabilities, no_new_privs and a seccomp system-call "
	"allow-list.\n"
	"Exit status: 0 success, 1 invalid configuration or start-up "
	"failure,\n"
	"2 command line not parsable, 3 a system call the seccomp filter "
	"denied.";

/* Options */

static gboolean on_table_option(const gchar *name, const gchar *value,
				gpointer data, GError **err)
{
	struct app *a = data;

	/* Table options are long-only: @name is "--key". */
	if (!value) {
		/* a flag-style key given alone: its flag value */
		size_t n, i;
		const struct config_key *k = config_keys(&n);

		for (i = 0; i < n && strcmp(k[i].name, name + 2) != 0; i++) {
		}
		value = i < n ? k[i].flag_value : NULL;
		if (!value) {
			g_set_error(err, G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    "%s needs a value", name);
			return FALSE;
		}
	}
	g_ptr_array_add(a->cli, g_strdup(name + 2));
	g_ptr_array_add(a->cli, g_strdup(value));
	return TRUE;
}

/* --no-alarm: the same as --alarm off. */
static gboolean on_no_alarm(const gchar *name, const gchar *value,
			    gpointer data, GError **err)
{
	struct app *a = data;

	g_ptr_array_add(a->cli, g_strdup("alarm"));
	g_ptr_array_add(a->cli, g_strdup("off"));
	return TRUE;
}

int options_parse(struct app *a, int *argc, char ***argv)
{
	GOptionEntry fixed[] = {
		{ "fd", 0, 0, G_OPTION_ARG_STRING_ARRAY, &a->fd_args,
		  "Serve VMs on this inherited listening socket (repeatable)",
		  "N" },
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &a->config_path,
		  "Read settings from this key file", "FILE" },
		{ "check-config", 0, 0, G_OPTION_ARG_NONE, &a->check_config,
		  "Validate configuration and options, exit 0 or 1", NULL },
		{ "print-capabilities", 0, 0, G_OPTION_ARG_NONE, &a->print_caps,
		  "Print the back-end capabilities (JSON) and exit", NULL },
		{ "no-alarm", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
		  (gpointer)on_no_alarm,
		  "Do not offer alarms (same as --alarm off)", NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &a->verbose,
		  "Log debug messages (same as --log-level debug)", NULL },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &a->version,
		  "Print the version and exit", NULL },
		{ "adopt", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING,
		  &a->adopt_arg,
		  "Adopt the VMs of the process before (set by the live "
		  "upgrade)",
		  "IMAGE,READY,FIRST,N" },
		{ "debug-seccomp-selftest", 0, G_OPTION_FLAG_HIDDEN,
		  G_OPTION_ARG_NONE, &a->seccomp_selftest,
		  "Make a denied system call once serving (tests)", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	size_t nkeys, i, n = 0;
	const struct config_key *keys = config_keys(&nkeys);
	GOptionEntry *entries =
		g_new0(GOptionEntry, nkeys + G_N_ELEMENTS(fixed));
	GPtrArray *texts = g_ptr_array_new_with_free_func(g_free);
	GOptionContext *ctx;
	GOptionGroup *group;
	GError *err = NULL;
	int r = EXIT_OK;

	for (i = 0; i < nkeys; i++) {
		const struct config_key *k = &keys[i];
		char *help = k->def ? g_strdup_printf("%s (default: %s)",
						      k->help, k->def)
				    : g_strdup(k->help);

		g_ptr_array_add(texts, help);
		entries[n++] = (GOptionEntry){
			.long_name = k->name,
			.flags = k->flag_value ? G_OPTION_FLAG_OPTIONAL_ARG : 0,
			.arg = G_OPTION_ARG_CALLBACK,
			.arg_data = (gpointer)on_table_option,
			.description = help,
			.arg_description = k->arg,
		};
		if (i == 0) {
			/* --fd right after --socket-path in --help */
			entries[n++] = fixed[0];
		}
	}
	for (i = 1; i < G_N_ELEMENTS(fixed); i++) {
		entries[n++] = fixed[i];
	}

	ctx = g_option_context_new(NULL);
	group = g_option_group_new(CONFIG_GROUP, "Options", "Show options", a,
				   NULL);
	g_option_group_add_entries(group, entries);
	g_option_context_set_main_group(ctx, group);
	g_option_context_set_summary(ctx, summary);
	g_option_context_set_description(ctx, description);
	if (!g_option_context_parse(ctx, argc, argv, &err)) {
		app_fail("%s (see --help)", err->message);
		g_error_free(err);
		r = EXIT_USAGE;
	} else if (*argc > 1) {
		app_fail("unexpected argument \"%s\" (see --help)", (*argv)[1]);
		r = EXIT_USAGE;
	}
	g_option_context_free(ctx);
	g_ptr_array_unref(texts);
	g_free(entries);
	return r;
}

void options_print_capabilities(void)
{
	/* No rtc-specific capability names are defined by QEMU yet. */
	printf("{\n  \"type\": \"rtc\",\n  \"features\": []\n}\n");
}
