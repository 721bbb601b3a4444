// SPDX-License-Identifier: MIT
/*
 * One libvrtc handle, four threads calling vrtc_now() and the helpers
 * for SECONDS (default 3), while a child process republishes the page
 * every millisecond with the daemon's encoder and twice replaces the
 * file. For ThreadSanitizer (make tsan-libvrtc), which cannot run under
 * Criterion; tests/unit/test_vrtc_api.c has the same test in the suite.
 *   vrtc-threads DIR [SECONDS]
 * Exit 0 if every thread saw earliest_ns never go back between
 * disruptions and each disruption was reported once.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "leap.h"
#include "vmclock_page.h"
#include "vrtc.h"

#define NS 1000000000LL
#define MS 1000000LL
#define THREADS 4

static const char *path;
static struct leap_table *tab;
static int stop;

struct worker {
	struct vrtc *v;
	long ok, refused, disrupted, backwards;
};

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static struct clock_snapshot live(uint64_t maxerr)
{
	struct clock_snapshot s = {
		.generation = 1,
		.status = CLOCK_STATUS_SYNCHRONIZED,
		.c0 = clock_counter_now(CLOCK_COUNTER_MONOTONIC_RAW),
		.period_q = (uint64_t)1 << CLOCK_PERIOD_SHIFT,
		.time_maxerr_ns = maxerr,
		.rate_maxerr_ppb = 10000,
		.leaps = tab,
	};
	s.tai0_ns = 1800000000LL * NS + (int64_t)s.c0;
	return s;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	int64_t last = INT64_MIN;
	uint32_t epoch = 0;

	for (long i = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED); i++) {
		struct vrtc_time t;
		int r = i % 64 ? vrtc_now(w->v, &t)
			       : vrtc_time_at(w->v, CLOCK_REALTIME,
					      clock_ns(CLOCK_REALTIME), &t);

		if (r) {
			w->refused++;
			continue;
		}
		w->ok++;
		w->disrupted += (t.flags & VRTC_TIME_DISRUPTED) != 0;
		if (i % 64 == 0) {
			continue; /* a past instant */
		}
		if (t.disruptions != epoch) {
			epoch = t.disruptions;
			last = INT64_MIN;
		}
		w->backwards +=
			(t.flags & VRTC_TIME_TRUSTED) && t.earliest_ns < last;
		last = t.earliest_ns;
	}
	return NULL;
}

static void publisher(void)
{
	struct vmclock_page *pg = vmclock_page_open(path, 0, NULL);
	int64_t start = clock_ns(CLOCK_MONOTONIC);
	int replaced = 0;

	for (int i = 0; pg; i++) {
		struct clock_snapshot s = live(1000 + (i % 7) * 300);
		int64_t el = clock_ns(CLOCK_MONOTONIC) - start;

		vmclock_page_publish(pg, &s);
		if ((replaced == 0 && el > 500 * MS) ||
		    (replaced == 1 && el > 1200 * MS)) {
			replaced++;
			vmclock_page_free(pg);
			unlink(path);
			pg = vmclock_page_open(path, 0, NULL);
		}
		usleep(1000);
	}
	_exit(1);
}

int main(int argc, char **argv)
{
	static const struct leap_entry e[] = { { 1483228800, 37 } };
	struct vrtc_options o = { .mode = VRTC_MODE_HOST };
	struct worker w[THREADS];
	pthread_t th[THREADS];
	long ok = 0, refused = 0, disrupted = 0, backwards = 0;
	struct timespec run = { 0 };
	struct vmclock_page *pg;
	struct vrtc *v;
	pid_t pid;
	int st;

	if (argc < 2) {
		fprintf(stderr, "usage: vrtc-threads DIR [SECONDS]\n");
		return 2;
	}
	run.tv_sec = argc > 2 ? atoi(argv[2]) : 3;
	tab = leap_table_new(e, 1, 4200000000LL);
	path = g_build_filename(argv[1], "vmclock", NULL);
	pg = vmclock_page_open(path, 0, NULL);
	if (!pg) {
		return 1;
	}
	vmclock_page_free(pg); /* a page there; the child takes it over */
	o.page_path = path;
	pid = fork();
	if (pid == 0) {
		publisher();
	}
	usleep(100000);
	if (vrtc_open(&o, &v)) {
		kill(pid, SIGKILL);
		return 1;
	}
	/* until the child publishes (its takeover of the file, a
	 * disruption, is reported here, not to the threads) */
	for (int i = 0; i < 5000; i++) {
		struct vrtc_time t;

		if (vrtc_now(v, &t) == 0) {
			break;
		}
		usleep(1000);
	}
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .v = v };
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	nanosleep(&run, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		ok += w[i].ok;
		refused += w[i].refused;
		disrupted += w[i].disrupted;
		backwards += w[i].backwards;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	vrtc_close(v);
	printf("vrtc-threads: %d threads, one handle, %ld s: %ld readings, %ld "
	       "refused, %ld disrupted, %ld backwards\n",
	       THREADS, (long)run.tv_sec, ok, refused, disrupted, backwards);
	return backwards || disrupted != 2 || ok == 0; /* two new files */
}
