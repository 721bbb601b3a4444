// SPDX-License-Identifier: MIT
/*
 * "Bystander" VMs for the fault and soak suites (harness_bystander.c):
 * a few front-ends, each fully set up on the daemon's socket, keeping
 * READ requests in flight from their own threads while a test does
 * something nasty to the daemon through another connection. Every
 * completion is checked: status OK, used length 16, UTC and UTC_SMEARED
 * near CLOCK_REALTIME, TAI near CLOCK_REALTIME + 37 s, every clock
 * non-decreasing per VM, and no VM silent for longer than the stall
 * limit (or, around a source that steps, near REALTIME plus one of the
 * offsets the test names, MONOTONIC alone non-decreasing). Round-trip
 * latencies (made available -> used entry seen, in ns) go into a
 * log-linear histogram read in "laps".
 *
 * Not Criterion-specific: errors come back as text. All functions are
 * called from one controlling thread; the workers are internal.
 */
#ifndef TEST_HARNESS_BYSTANDER_H
#define TEST_HARNESS_BYSTANDER_H

#include <stddef.h>
#include <stdint.h>

/* Step offsets a bystander may accept, at most. */
#define BYSTANDERS_MAX_OFFSETS 4

struct bystanders_opts {
	const char *sock;	 /* the daemon's vhost-user socket */
	unsigned int vms;	 /* front-ends; default 4 */
	unsigned int threads;	 /* worker threads sharing them; default 1 */
	unsigned int inflight;	 /* READs kept in flight per VM; default 1 */
	unsigned int queue_size; /* default 64 */
	/* A VM without a completion for this long is an error; default
	 * 5000 ms. */
	unsigned int stall_ms;
	/* Pause between polling passes, in us; 0 (default) spins. */
	unsigned int pause_us;
	/*
	 * For a daemon whose time source steps: the offsets (ns) the served
	 * UTC may have from CLOCK_REALTIME, besides 0. With any set, a UTC,
	 * TAI or smeared reading must be near REALTIME plus one of them
	 * (or 0), and only MONOTONIC is checked for going back.
	 */
	int64_t step_offsets_ns[BYSTANDERS_MAX_OFFSETS];
	unsigned int n_step_offsets;
};

void bystanders_opts_init(struct bystanders_opts *o);

/* Latency summary of one lap, in ns (0 when no samples). */
struct bystanders_lap {
	uint64_t n;
	double p50, p99, p999, max, mean;
	double wall_s; /* length of the lap */
};

/* Totals since bystanders_start(). */
struct bystanders_totals {
	uint64_t requests; /* completions checked */
	uint64_t errors;   /* bad completions, stalls, ring or setup errors */
	char first_error[256];
};

struct bystanders;

/*
 * bystanders_start() - set up every VM (sequences A and B), start the
 * workers, and return once each VM has had one READ answered. Returns
 * NULL with the reason in @err on failure (nothing left running).
 */
struct bystanders *bystanders_start(const struct bystanders_opts *o, char *err,
				    size_t len);

/*
 * bystanders_lap() - latency of the requests completed since the last
 * lap (or the start), into @out; starts a new lap.
 */
void bystanders_lap(struct bystanders *b, struct bystanders_lap *out);

/* Totals so far (the workers keep running). */
void bystanders_totals(struct bystanders *b, struct bystanders_totals *t);

/*
 * bystanders_stop() - stop the workers, take a last READ of each VM,
 * close every VM and free @b; @t (may be NULL) receives the totals.
 * Returns 0 if no error was ever seen, -1 otherwise. NULL is a no-op.
 */
int bystanders_stop(struct bystanders *b, struct bystanders_totals *t);

/* Raise RLIMIT_NOFILE to its hard limit (inherited by the daemon). */
void bystanders_raise_nofile(void);

#endif /* TEST_HARNESS_BYSTANDER_H */
