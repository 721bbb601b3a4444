// SPDX-License-Identifier: MIT
/*
 * A status page for libvrtc's binding tests and benchmarks, written with
 * the daemon's own encoder (src/vmclock_page.c): a SYNCHRONIZED model on
 * this host's CLOCK_REALTIME (TAI = REALTIME + 37 s), 50 us of bound and
 * 10 ppm of rate bound, republished every 100 ms.
 *   vrtc-pagewriter PATH [SECONDS]   (default 60; SIGTERM ends it early,
 *                                     the page then says UNKNOWN)
 * Prints "ready" once the first model is on the page.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "leap.h"
#include "vmclock_page.h"

#define NS 1000000000LL

static volatile sig_atomic_t done;

static void on_term(int sig)
{
	(void)sig;
	done = 1;
}

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static const struct leap_entry e[] = {
		{ 63072000, 10 },
		{ 1483228800, 37 },
	};
	struct leap_table *tab = leap_table_new(e, 2, 4200000000LL);
	struct vmclock_page *pg;
	GError *err = NULL;
	int64_t end;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: vrtc-pagewriter PATH [SECONDS]\n");
		return 2;
	}
	end = clock_ns(CLOCK_MONOTONIC) +
	      (argc == 3 ? atoll(argv[2]) : 60) * NS;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	pg = vmclock_page_open(argv[1], 0, &err);
	if (!pg) {
		fprintf(stderr, "vrtc-pagewriter: %s\n", err->message);
		return 1;
	}
	for (int i = 0; !done && clock_ns(CLOCK_MONOTONIC) < end; i++) {
		struct clock_snapshot s = {
			.generation = (uint64_t)i + 1,
			.status = CLOCK_STATUS_SYNCHRONIZED,
			.c0 = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW),
			.tai0_ns = clock_ns(CLOCK_REALTIME) + 37 * NS,
			.period_q = (uint64_t)1 << CLOCK_PERIOD_SHIFT,
			.time_maxerr_ns = 50000,
			.rate_maxerr_ppb = 10000,
			.leaps = tab,
		};

		vmclock_page_publish(pg, &s);
		if (i == 0) {
			printf("ready\n");
			fflush(stdout);
		}
		usleep(100000);
	}
	vmclock_page_free(pg);
	leap_table_free(tab);
	return 0;
}
