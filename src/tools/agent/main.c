// SPDX-License-Identifier: MIT
/*
 * vrtc-agent: the guest agent. Calibrates the guest's CLOCK_MONOTONIC_RAW
 * against the served TAI PHC every poll and publishes the model as a
 * guest-local vmclock page, which libvrtc in the guest then reads like
 * host mode: no system call, no VM exit per vrtc_now(). Optionally keeps
 * ClockBound's segment from the same model.
 *
 * Exit status: 0 after SIGTERM/SIGINT or --count polls, 1 when the PHC,
 * host page or page file cannot be opened, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "agent_io.h"
#include "vrtc_agent.h"

#ifndef VRTC_VERSION
#define VRTC_VERSION "unknown"
#endif

#define NS_PER_MS 1000000LL

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *o)
{
	fprintf(o,
		"usage: vrtc-agent [options]\n"
		"  --page PATH          the agent's page (default %s,\n"
		"                       or $VRTC_AGENT_PAGE)\n"
		"  --host-page PATH     the daemon's page (default: the "
		"ivshmem-plain BAR)\n"
		"  --phc DEV            the served TAI PHC (default: by name)\n"
		"  --poll-ms MS         between calibrations (default 1000, "
		"100 to 60000)\n"
		"  --samples N          PHC samples per calibration, the "
		"narrowest used\n"
		"                       (default %d, 1 to %d)\n"
		"  --wander-ppb N       the counter's rate may stray this far "
		"(default 1000)\n"
		"  --apriori-ppm N      |counter rate - 1| before the first "
		"estimate\n"
		"                       (default 1000)\n"
		"  --clockbound PATH    also keep ClockBound's segment there\n"
		"  --count N            N polls, then exit (default 0: "
		"forever)\n"
		"  --verbose            one line per poll on stdout\n"
		"  --version, --help\n",
		VRTC_AGENT_DEFAULT_PAGE, AGENT_DEFAULT_SAMPLES,
		AGENT_MAX_SAMPLES);
}

static int num(const char *flag, const char *s, unsigned long long min,
	       unsigned long long max, unsigned long long *out)
{
	char *e = NULL;
	unsigned long long v = 0;
	bool digit = s[0] >= '0' && s[0] <= '9';

	errno = 0;
	if (digit) {
		v = strtoull(s, &e, 10);
	}
	if (!digit || *e || errno || v < min || v > max) {
		fprintf(stderr,
			"vrtc-agent: %s \"%s\": not a whole number from %llu "
			"to %llu (see --help)\n",
			flag, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

struct opts {
	const char *page, *host_page, *phc, *clockbound;
	unsigned long long poll_ms, samples, count;
	struct gm_config gm;
	bool verbose;
};

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "page", required_argument, NULL, 'p' },
		{ "host-page", required_argument, NULL, 'H' },
		{ "phc", required_argument, NULL, 'P' },
		{ "poll-ms", required_argument, NULL, 'i' },
		{ "samples", required_argument, NULL, 'n' },
		{ "wander-ppb", required_argument, NULL, 'w' },
		{ "apriori-ppm", required_argument, NULL, 'a' },
		{ "clockbound", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned long long v;
	int c;

	o->page = vrtc_agent_page();
	o->poll_ms = 1000;
	o->samples = AGENT_DEFAULT_SAMPLES;
	gm_config_default(&o->gm);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->page = optarg;
			break;
		case 'H':
			o->host_page = optarg;
			break;
		case 'P':
			o->phc = optarg;
			break;
		case 'i':
			if (num("--poll-ms", optarg, 100, 60000, &o->poll_ms)) {
				return 2;
			}
			break;
		case 'n':
			if (num("--samples", optarg, 1, AGENT_MAX_SAMPLES,
				&o->samples)) {
				return 2;
			}
			break;
		case 'w':
			if (num("--wander-ppb", optarg, 0, 1000000000, &v)) {
				return 2;
			}
			o->gm.wander_ppb = v;
			break;
		case 'a':
			if (num("--apriori-ppm", optarg, 1, 100000, &v)) {
				return 2;
			}
			o->gm.apriori_ppb = v * 1000;
			break;
		case 'c':
			o->clockbound = optarg;
			break;
		case 'N':
			if (num("--count", optarg, 0, 1000000000, &o->count)) {
				return 2;
			}
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'V':
			printf("vrtc-agent %s\n", VRTC_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !o->page || !*o->page) {
		usage(stderr);
		return 2;
	}
	return 0;
}

static const char *event_name(enum gm_event e)
{
	static const char *const n[] = { "first", "ok", "miss",
					 "host-disruption", "backwards" };

	return (unsigned int)e < sizeof(n) / sizeof(n[0]) ? n[e] : "?";
}

static void report(const struct agent *a, const struct agent_io *io, int r)
{
	const struct gm *m = &a->model;
	const struct gm_cal *k = gm_newest(m);

	if (r) {
		printf("poll %" PRIu64 ": %s\n", a->polls, strerror(-r));
	} else if (k) {
		printf("poll %" PRIu64 ": %s, status %u, epoch %" PRIu64
		       ", maxerr %" PRIu64 " ns, rate %" PRIu64
		       " ppb, half window %" PRIu64
		       " ns (%s), residual %" PRId64 " of %" PRIu64 " ns\n",
		       a->polls, event_name(a->last_event), gm_status(m),
		       m->epoch, m->maxerr_ns, m->rate_ppb, k->half_ns,
		       agent_io_method(io), m->last_resid_ns,
		       m->last_thresh_ns);
	}
	fflush(stdout);
}

/* ClockBound's segment from our own page (host mode on it, UTC). */
static void write_clockbound(const struct opts *o, struct vrtc **cb)
{
	struct vrtc_options vo = {
		.mode = VRTC_MODE_HOST,
		.timescale = VRTC_TIMESCALE_UTC,
		.page_path = o->page,
	};
	int r;

	if (!*cb && vrtc_open(&vo, cb)) {
		*cb = NULL;
		return;
	}
	/* max_drift_ppb 0: from the model's rate bound */
	r = vrtc_clockbound_write(*cb, o->clockbound, 0, 10);
	if (r && r != -ENODATA && r != -ESTALE) {
		fprintf(stderr, "vrtc-agent: clockbound %s: %s\n",
			o->clockbound, vrtc_strerror(r));
	}
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct agent_io *io = NULL;
	struct vrtc *cb = NULL;
	struct agent a;
	struct vmclock_abi empty;
	struct timespec next;
	const char *what = "";
	int r = parse(argc, argv, &o);

	if (r) {
		return r;
	}
	r = agent_io_open(o.page, o.host_page, o.phc, &io, &what);
	if (r) {
		fprintf(stderr, "vrtc-agent: %s: %s\n", what,
			r == -ENOENT ? "not found" : strerror(-r));
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	agent_init(&a, &agent_io_ops, io, &o.gm);
	a.samples = (unsigned int)o.samples;
	gm_page(&a.model, &empty);
	agent_io_ops.publish(io, &empty);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop) {
		r = agent_step(&a);
		if (o.verbose) {
			report(&a, io, r);
		}
		if (o.clockbound) {
			write_clockbound(&o, &cb);
		}
		if (o.count && a.polls >= o.count) {
			break;
		}
		next.tv_nsec += (long)(o.poll_ms % 1000) * NS_PER_MS;
		next.tv_sec += (time_t)(o.poll_ms / 1000);
		if (next.tv_nsec >= 1000 * NS_PER_MS) {
			next.tv_nsec -= 1000 * NS_PER_MS;
			next.tv_sec++;
		}
		while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
						&next, NULL) == EINTR) {
		}
	}
	/* readers must not trust a model no one keeps */
	agent_retire(&a);
	vrtc_close(cb);
	agent_io_free(io);
	return 0;
}
