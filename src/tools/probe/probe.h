/* SPDX-License-Identifier: MIT */
/*
 * vhost-user-rtc-probe: a tool that connects to a virtio-rtc vhost-user
 * back-end exactly as a VMM does (src/tools/frontend/frontend.c plays QEMU
 * and the guest driver) and evaluates, benchmarks or checks it.
 *
 * Each subcommand is a main() of its own: it gets the arguments after the
 * program name (argv[0] is the subcommand's name), parses them with
 * getopt_long(), prints progress to stderr and results to stdout, and
 * returns the process exit status. Single-threaded.
 */
#ifndef PROBE_H
#define PROBE_H

/*
 * probe_eval_main() - "eval": compare every served clock with a reference
 * (a PHC or a system clock), print statistics, write CSV and plots.
 * Returns 0 when every clock was read and, if a bound was given, every
 * sample lay within it; 1 otherwise; 2 on a usage error.
 */
int probe_eval_main(int argc, char **argv);

/*
 * probe_bench_main() - "bench": READ latency, aggregate throughput with N
 * VMs, daemon RSS and alarm costs; starts the daemon itself.
 * Returns 0 when every part ran, 1 otherwise, 2 on a usage error.
 */
int probe_bench_main(int argc, char **argv);

/*
 * probe_check_main() - "check": one line per normative requirement of
 * VIRTIO 1.4 section 5.23 tested against a back-end socket.
 * Returns 0 if every requirement passed, 1 if any failed, 2 on a usage
 * error or when the back-end cannot be set up at all.
 */
int probe_check_main(int argc, char **argv);

#endif /* PROBE_H */
