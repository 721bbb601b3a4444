// SPDX-License-Identifier: MIT
/*
 * vrtc-now: the time now as [earliest, latest] and a status, from
 * vhost-user-rtc's status page through libvrtc (include/vrtc.h); on the
 * host or in a guest. Optionally keeps ClockBound's shared-memory
 * segment up to date from the same view.
 *
 * Exit status: 0 when the last reading had a bound, 1 when it was
 * refused (status unknown) or a file could not be used, 2 usage.
 * Every refusal and error goes to stderr, naming the file concerned;
 * stdout carries only readings (and --json's records, refusals
 * included, so that a consumer sees each reading).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "time_ns.h"
#include "vrtc.h"

#ifndef VRTC_VERSION
#define VRTC_VERSION "unknown"
#endif

#define NS_PER_MS 1000000.0

static void usage(FILE *o)
{
	fprintf(o,
		"usage: vrtc-now [options]\n"
		"  --host | --guest       where we are (default: host if the "
		"page file exists)\n"
		"  --page PATH            the page file (host default %s,\n"
		"                         or $VRTC_PAGE; guest: the "
		"ivshmem-plain BAR)\n"
		"  --phc DEV              guest: the served PHC (default: by "
		"name)\n"
		"  --tai                  TAI instead of UTC\n"
		"  --max-age-s S          refuse a page older than this "
		"(default 10)\n"
		"  --count N              N readings (default 1; 0: forever)\n"
		"  --interval-ms MS       between readings (default 1000)\n"
		"  --json                 one JSON object per reading\n"
		"  --clockbound PATH      write ClockBound's segment there at "
		"every reading\n"
		"                         (e.g. /var/run/clockbound/shm0)\n"
		"  --max-drift-ppb N      ClockBound: CLOCK_REALTIME's drift "
		"allowance (default 0:\n"
		"                         the page's rate bound + the "
		"kernel's REALTIME correction)\n"
		"  --bench N              time N calls of vrtc_now() (batches "
		"of 1000) and print\n"
		"                         ns per call: p50, p99 of the batch "
		"means\n"
		"  --version              print the version and exit\n"
		"  --help                 this text\n"
		"Times take fractions (--max-age-s 0.5, --interval-ms 0.25); "
		"counts are\n"
		"whole numbers.\n",
		VRTC_DEFAULT_PAGE);
}

/*
 * Numbers from the command line, as the probe reads them: the whole
 * argument or nothing, with one line naming the option and its value.
 */
static int bad(const char *flag, const char *value, const char *why)
{
	fprintf(stderr, "vrtc-now: %s \"%s\": %s (see --help)\n", flag, value,
		why);
	return -1;
}

/*
 * A time: a finite decimal number, fractions allowed, above @min (or
 * from it, with @from_min) and at most @max; @unit for the message.
 */
static int parse_time(const char *flag, const char *s, double min,
		      bool from_min, double max, const char *unit, double *out)
{
	char why[96];
	char *e;
	double v;

	errno = 0;
	v = strtod(s, &e);
	if (e == s || *e || errno || !isfinite(v)) {
		return bad(flag, s, "not a number");
	}
	if (!(from_min ? v >= min : v > min) || !(v <= max)) {
		snprintf(why, sizeof(why),
			 from_min ? "must be from %g to %g %s"
				  : "must be more than %g and at most %g %s",
			 min, max, unit);
		return bad(flag, s, why);
	}
	*out = v;
	return 0;
}

/* A count: decimal digits only (no sign, no blank), in [@min, @max]. */
static int parse_count(const char *flag, const char *s, unsigned long min,
		       unsigned long max, unsigned long *out)
{
	bool digit = s[0] >= '0' && s[0] <= '9';
	unsigned long long v = 0;
	char why[96];
	char *e = NULL;

	errno = 0;
	if (digit) {
		v = strtoull(s, &e, 10);
	}
	if (!digit || *e || errno || v < min || v > max) {
		snprintf(why, sizeof(why), "not a whole number from %lu to %lu",
			 min, max);
		return bad(flag, s, why);
	}
	*out = (unsigned long)v;
	return 0;
}

/* @ns (>= 0, < 2^63) rounded up; no libm: the guest build is static. */
static uint64_t ns_up(double ns)
{
	uint64_t u = (uint64_t)ns;

	return (double)u < ns ? u + 1 : u;
}

/* The page libvrtc reads in host mode for @o (NULL in guest mode). */
static const char *host_page(const struct vrtc_options *o)
{
	const char *page = o->page_path;

	if (!page && o->mode != VRTC_MODE_GUEST) {
		page = getenv("VRTC_PAGE");
		if (!page || !*page) {
			page = VRTC_DEFAULT_PAGE;
		}
	}
	return page;
}

/* vrtc_open() refused with @r: one line naming what it could not use. */
static void open_failed(const struct vrtc_options *o, int r)
{
	const char *page = host_page(o);
	const char *err = vrtc_strerror(r);
	bool exists = page && access(page, F_OK) == 0;

	if (page && !exists && o->mode == VRTC_MODE_AUTO && !o->page_path) {
		fprintf(stderr,
			"vrtc-now: no status page: %s does not exist (host) "
			"and no ivshmem-plain device holds one (guest): %s\n",
			page, err);
	} else if (page && (!exists || o->mode == VRTC_MODE_HOST ||
			    (o->mode == VRTC_MODE_AUTO &&
			     strncmp(page, "/sys/", 5) != 0))) {
		fprintf(stderr, "vrtc-now: page %s: %s\n", page, err);
	} else if (!page) {
		fprintf(stderr,
			"vrtc-now: guest: the ivshmem-plain page or the "
			"served PHC%s%s: %s\n",
			o->phc_path ? " " : "", o->phc_path ? o->phc_path : "",
			err);
	} else {
		fprintf(stderr, "vrtc-now: guest page %s or PHC %s: %s\n", page,
			o->phc_path ? o->phc_path : "(found by name)", err);
	}
}

static void iso(int64_t ns, char *buf, size_t len)
{
	time_t s = (time_t)(ns >= 0 ? ns / 1000000000
				    : (ns - 999999999) / 1000000000);
	long frac = (long)(ns - (int64_t)s * 1000000000);
	struct tm tm;
	char d[40];

	gmtime_r(&s, &tm);
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09ldZ", d, frac);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* vrtc_now() cost: batches of 1000 calls, each batch's mean. */
static int bench(struct vrtc *v, unsigned long n)
{
	unsigned long batches = n / 1000 ? n / 1000 : 1;
	double *mean = calloc(batches, sizeof(*mean));
	unsigned long refused = 0;
	struct vrtc_time t;

	if (!mean) {
		return 1;
	}
	for (unsigned long b = 0; b < batches; b++) {
		double t0 = mono_ns();

		for (int i = 0; i < 1000; i++) {
			refused += vrtc_now(v, &t) != 0;
		}
		mean[b] = (mono_ns() - t0) / 1000;
	}
	qsort(mean, batches, sizeof(*mean), cmp_dbl);
	printf("vrtc_now: %lu calls, ns per call p50 %.1f p99 %.1f max %.1f "
	       "(means of 1000-call batches), %lu refused, last status %s\n",
	       batches * 1000, mean[batches / 2], mean[(batches * 99) / 100],
	       mean[batches - 1], refused, vrtc_status_name(t.status));
	free(mean);
	return refused ? 1 : 0;
}

/* One reading: on stdout, but a refusal in text goes to stderr, naming
 * @from (the page). */
static void print(const struct vrtc_time *t, int r, int json, int tai,
		  const char *from)
{
	char e[64], l[64];

	if (json) {
		printf("{\"status\":\"%s\",\"error\":%s%s%s,\"earliest_ns\":"
		       "%" PRId64 ",\"latest_ns\":%" PRId64
		       ",\"now_ns\":%" PRId64 ",\"bound_ns\":%" PRIu64
		       ",\"age_ns\":%" PRIu64 ",\"window_ns\":%" PRIu64
		       ",\"disruption_marker\":%" PRIu64
		       ",\"timescale\":\"%s\"}\n",
		       vrtc_status_name(t->status), r ? "\"" : "",
		       r ? vrtc_strerror(r) : "null", r ? "\"" : "",
		       t->earliest_ns, t->latest_ns, t->now_ns, t->bound_ns,
		       t->age_ns, t->window_ns, t->disruption_marker,
		       tai ? "tai" : "utc");
	} else if (r) {
		fprintf(stderr, "vrtc-now: %s: status unknown: %s\n", from,
			vrtc_strerror(r));
	} else {
		iso(t->earliest_ns, e, sizeof(e));
		iso(t->latest_ns, l, sizeof(l));
		printf("earliest %s latest %s %s status %s bound %" PRIu64
		       " ns age %.3f s\n",
		       e, l, tai ? "(TAI)" : "(UTC)",
		       vrtc_status_name(t->status), t->bound_ns,
		       (double)t->age_ns / 1e9);
	}
	fflush(stdout);
}

/* The options, parsed strictly; 0, 1 (--help, --version done) or -1. */
struct now_opts {
	struct vrtc_options o;
	unsigned long count, drift, nbench;
	double interval_ms;
	const char *cb;
	int json;
};

static int parse(int argc, char **argv, struct now_opts *n)
{
	static const struct option opts[] = {
		{ "host", no_argument, NULL, 'H' },
		{ "guest", no_argument, NULL, 'G' },
		{ "page", required_argument, NULL, 'p' },
		{ "phc", required_argument, NULL, 'P' },
		{ "tai", no_argument, NULL, 't' },
		{ "max-age-s", required_argument, NULL, 'a' },
		{ "count", required_argument, NULL, 'n' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "clockbound", required_argument, NULL, 'c' },
		{ "max-drift-ppb", required_argument, NULL, 'd' },
		{ "bench", required_argument, NULL, 'b' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	double age_s = 0;
	int c, r = 0;

	while (r == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			n->o.mode = VRTC_MODE_HOST;
			break;
		case 'G':
			n->o.mode = VRTC_MODE_GUEST;
			break;
		case 'p':
			n->o.page_path = optarg;
			break;
		case 'P':
			n->o.phc_path = optarg;
			break;
		case 't':
			n->o.timescale = VRTC_TIMESCALE_TAI;
			break;
		case 'a':
			/* 0 would be libvrtc's default (10 s): refused */
			r = parse_time("--max-age-s", optarg, 0, false, 1e9,
				       "s", &age_s);
			if (r == 0) {
				n->o.max_age_ns = ns_up(age_s * NS_PER_S);
			}
			break;
		case 'n':
			r = parse_count("--count", optarg, 0, UINT32_MAX,
					&n->count);
			break;
		case 'i':
			r = parse_time("--interval-ms", optarg, 0, true,
				       86400e3, "ms", &n->interval_ms);
			break;
		case 'j':
			n->json = 1;
			break;
		case 'c':
			n->cb = optarg;
			break;
		case 'd':
			r = parse_count("--max-drift-ppb", optarg, 0,
					UINT32_MAX, &n->drift);
			break;
		case 'b':
			r = parse_count("--bench", optarg, 1, 1000000000,
					&n->nbench);
			break;
		case 'V':
			printf("vrtc-now %s\n", VRTC_VERSION);
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			/* getopt said which */
			usage(stderr);
			r = -1;
			break;
		}
	}
	if (r == 0 && optind != argc) {
		r = bad("argument", argv[optind], "unexpected");
	}
	return r;
}

int main(int argc, char **argv)
{
	struct now_opts n = {
		.count = 1,
		.interval_ms = 1000,
		.drift = 0, /* from the page's rate bound */
	};
	const char *from;
	struct vrtc *v;
	int r;

	r = parse(argc, argv, &n);
	if (r) {
		return r > 0 ? 0 : 2;
	}
	r = vrtc_open(&n.o, &v);
	if (r) {
		open_failed(&n.o, r);
		return 1;
	}
	from = host_page(&n.o);
	if (!from || (n.o.mode == VRTC_MODE_AUTO && access(from, F_OK) != 0)) {
		from = n.o.page_path ? n.o.page_path : "the ivshmem-plain page";
	}
	if (n.nbench) {
		r = bench(v, n.nbench);
		vrtc_close(v);
		return r;
	}
	for (unsigned long i = 0; n.count == 0 || i < n.count; i++) {
		struct vrtc_time t;

		if (i) {
			uint64_t ns = ns_up(n.interval_ms * NS_PER_MS);
			struct timespec ts = {
				.tv_sec = (time_t)(ns / 1000000000u),
				.tv_nsec = (long)(ns % 1000000000u),
			};

			nanosleep(&ts, NULL);
		}
		r = vrtc_now(v, &t);
		print(&t, r, n.json, n.o.timescale == VRTC_TIMESCALE_TAI, from);
		if (n.cb) {
			int w = vrtc_clockbound_write(v, n.cb,
						      (uint32_t)n.drift, 10);

			if (w && w != r) {
				fprintf(stderr, "vrtc-now: clockbound %s: %s\n",
					n.cb, vrtc_strerror(w));
				vrtc_close(v);
				return 1;
			}
		}
	}
	vrtc_close(v);
	return r ? 1 : 0;
}
