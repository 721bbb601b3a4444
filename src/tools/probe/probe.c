// SPDX-License-Identifier: MIT
/*
 * vhost-user-rtc-probe: subcommand dispatch.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "probe.h"

#ifndef VRTC_VERSION
#define VRTC_VERSION "unknown"
#endif

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *what;
} cmds[] = {
	{ "eval", probe_eval_main,
	  "served clocks against a reference: offsets, bound coverage, plot" },
	{ "bench", probe_bench_main,
	  "READ latency and throughput, RSS and alarm costs (starts the "
	  "daemon)" },
	{ "check", probe_check_main,
	  "conformance with VIRTIO 1.4 5.23, one line per requirement" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vhost-user-rtc-probe COMMAND [OPTIONS]\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		fprintf(f, "  %-6s %s\n", cmds[i].name, cmds[i].what);
	}
	fprintf(f, "vhost-user-rtc-probe COMMAND --help lists its options; "
		   "--version prints the version.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("vhost-user-rtc-probe %s\n", VRTC_VERSION);
		return 0;
	}
	/* a back-end that closes its socket must not kill us */
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[1], cmds[i].name)) {
			return cmds[i].main(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "vhost-user-rtc-probe: unknown command '%s'\n",
		argv[1]);
	usage(stderr);
	return 2;
}
