// SPDX-License-Identifier: MIT
/*
 * vrtc-now: the time now as [earliest, latest] and a status, from
 * vhost-user-rtc's status page through libvrtc (include/vrtc.h); on the
 * host or in a guest. Optionally keeps ClockBound's shared-memory
 * segment up to date from the same view.
 *
 * Exit status: 0 when the last reading had a bound, 1 when it was
 * refused (status unknown) or a file could not be used, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vrtc.h"

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
		"allowance (default 50000)\n"
		"  --bench N              time N calls of vrtc_now() (batches "
		"of 1000) and print\n"
		"                         ns per call: p50, p99 of the batch "
		"means\n",
		VRTC_DEFAULT_PAGE);
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

static void print(const struct vrtc_time *t, int r, int json, int tai)
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
		printf("status unknown: %s\n", vrtc_strerror(r));
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

int main(int argc, char **argv)
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
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct vrtc_options o = { 0 };
	unsigned long count = 1, interval_ms = 1000, drift = 50000, nbench = 0;
	const char *cb = NULL;
	struct vrtc *v;
	int json = 0, c, r = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			o.mode = VRTC_MODE_HOST;
			break;
		case 'G':
			o.mode = VRTC_MODE_GUEST;
			break;
		case 'p':
			o.page_path = optarg;
			break;
		case 'P':
			o.phc_path = optarg;
			break;
		case 't':
			o.timescale = VRTC_TIMESCALE_TAI;
			break;
		case 'a':
			o.max_age_ns =
				strtoull(optarg, NULL, 10) * 1000000000ull;
			break;
		case 'n':
			count = strtoul(optarg, NULL, 10);
			break;
		case 'i':
			interval_ms = strtoul(optarg, NULL, 10);
			break;
		case 'j':
			json = 1;
			break;
		case 'c':
			cb = optarg;
			break;
		case 'd':
			drift = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			nbench = strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || drift > UINT32_MAX) {
		usage(stderr);
		return 2;
	}
	r = vrtc_open(&o, &v);
	if (r) {
		fprintf(stderr, "vrtc-now: %s\n", vrtc_strerror(r));
		return 1;
	}
	if (nbench) {
		r = bench(v, nbench);
		vrtc_close(v);
		return r;
	}
	for (unsigned long i = 0; count == 0 || i < count; i++) {
		struct vrtc_time t;

		if (i) {
			struct timespec ts = {
				.tv_sec = (time_t)(interval_ms / 1000),
				.tv_nsec = (long)(interval_ms % 1000) * 1000000,
			};

			nanosleep(&ts, NULL);
		}
		r = vrtc_now(v, &t);
		print(&t, r, json, o.timescale == VRTC_TIMESCALE_TAI);
		if (cb) {
			int w = vrtc_clockbound_write(v, cb, (uint32_t)drift,
						      10);

			if (w && w != r) {
				fprintf(stderr, "vrtc-now: clockbound %s: %s\n",
					cb, vrtc_strerror(w));
				vrtc_close(v);
				return 1;
			}
		}
	}
	vrtc_close(v);
	return r ? 1 : 0;
}
