// SPDX-License-Identifier: MIT
/*
 * vhost-user-rtc-probe bench: latency, throughput and memory of the
 * daemon, driven by the test front-end over real sockets.
 *
 *  1. READ round trip (made available + kick -> used entry seen), one VM,
 *     the front-end spinning on the used ring, with the daemon purely
 *     event-driven (--poll-ns 0) and with its default adaptive polling;
 *     daemon CPU time from /proc/PID/stat for each.
 *  2. Aggregate READ throughput: N VMs (default 64) each keeping M
 *     requests (default 16) in flight, one front-end thread polling all
 *     used rings.
 *  3. Daemon RSS with 256 VMs connected and set up.
 *  4. Alarms (bench_alarms.c): per-alarm arm and fire cost at 1k, 10k and
 *     100k alarms, and the daemon's idle CPU with 100,000 armed alarms.
 *
 * On a machine with 2 or more CPUs the daemon is pinned to CPU 0 and the
 * front-end to CPU 1 (--no-pin to let the scheduler place them), so the
 * two never time-share a core. Progress goes to stderr, the results
 * table to stdout and to --out.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_alarms.h"
#include "frontend.h"
#include "frontend_daemon.h"
#include "probe.h"

/* Targets from the project's performance goals. */
#define TARGET_P50_NS 6000
#define TARGET_P99_NS 20000
#define TARGET_RPS 200000.0
#define TARGET_RSS_KB (32L * 1024)

struct bench_opts {
	unsigned long samples, warmup;
	double duration_s;
	unsigned int vms, inflight, rss_vms;
	const char *out;
	bool latency, throughput, rss, alarms;
	bool pin; /* daemon on CPU 0, front-end on CPU 1 */
	char loadavg[64];
};

static bool pin_cpus;

struct lat_result {
	const char *mode;
	bool ok;
	unsigned long n;
	double p50, p99, p999, max, mean; /* ns */
	double cpu_s, wall_s;
	double kicks_per_req, calls_per_req;
};

struct tput_result {
	const char *mode;
	bool ok;
	uint64_t requests, errors;
	double wall_s, cpu_s;
	double kicks_per_req;
};

struct rss_result {
	bool ok;
	unsigned int vms;
	long base_kb, kb;
	int fds;
};

static void progress(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void progress(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "probe bench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint32_t *s, unsigned long n, double p)
{
	unsigned long i = (unsigned long)(p * (double)(n - 1) + 0.5);

	return s[i < n ? i : n - 1];
}

/* Keep @pid on CPU @cpu (0 = ourselves), so the daemon and the
 * front-end never share a core on a small machine. */
static void pin(pid_t pid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(pid, sizeof(set), &set)) {
		progress("cannot pin pid %d to CPU %d: %s", (int)pid, cpu,
			 strerror(errno));
	}
}

static struct vdaemon *start_daemon(const char *poll_ns)
{
	const char *args[3] = { "--poll-ns", poll_ns, NULL };
	struct vdaemon_opts o;
	struct vdaemon *d;
	char why[8192];

	vdaemon_opts_init(&o);
	if (poll_ns) {
		o.args = args;
	}
	d = vdaemon_start(&o, why, sizeof(why));
	if (!d) {
		progress("daemon did not start: %s", why);
	} else if (pin_cpus) {
		pin(vdaemon_pid(d), 0);
	}
	return d;
}

static void stop_daemon(struct vdaemon *d)
{
	char why[256];

	if (vdaemon_stop(d, 2000, why, sizeof(why))) {
		progress("daemon did not stop cleanly: %s", why);
	}
}

/* One READ, spinning; returns 0 and checks the answer. */
static int one_read(struct vuf *v, const struct virtio_rtc_req_read *rd)
{
	struct vuf_completion c;
	int ret;

	ret = vuf_submit(v, 0, rd, sizeof(*rd), 16, NULL, 0);
	if (!ret) {
		ret = vuf_kick(v, 0) < 0 ? -EIO : 0;
	}
	if (!ret) {
		ret = vuf_spin(v, 0, &c, 5000);
	}
	if (!ret && (c.len != 16 || c.resp[0] != VIRTIO_RTC_S_OK)) {
		ret = -EPROTO;
	}
	return ret;
}

static void run_latency(const struct bench_opts *bo, const char *poll_ns,
			bool sleep_wait, struct lat_result *r)
{
	struct virtio_rtc_req_read rd;
	struct vdaemon *d = start_daemon(poll_ns);
	struct vuf_stats st0, st1;
	struct vuf *v = NULL;
	uint32_t *s = NULL;
	int64_t cpu0, w0;
	unsigned long i;
	double sum = 0;

	r->ok = false;
	if (!d) {
		return;
	}
	if (vuf_open(&v, vdaemon_socket(d, 0), NULL)) {
		progress("VM setup failed: %s", v ? vuf_error(v) : "");
		goto out;
	}
	s = malloc(sizeof(*s) * bo->samples);
	if (!s) {
		goto out;
	}
	vuf_set_interrupts(v, 0, sleep_wait);
	vuf_rtc_req_read(&rd, 0);
	progress("latency [%s]: %lu warm-up reads", r->mode, bo->warmup);
	for (i = 0; i < bo->warmup; i++) {
		if (one_read(v, &rd)) {
			progress("warm-up read %lu failed: %s", i,
				 vuf_error(v));
			goto out;
		}
	}
	progress("latency [%s]: %lu samples", r->mode, bo->samples);
	vuf_get_stats(v, 0, &st0);
	vuf_drain_calls(v, 0);
	cpu0 = vdaemon_cpu_ns(d);
	w0 = time_ns_now(CLOCK_MONOTONIC);
	for (i = 0; i < bo->samples; i++) {
		struct vuf_completion c;
		int64_t t0, t1;

		if (vuf_submit(v, 0, &rd, sizeof(rd), 16, NULL, i)) {
			progress("submit failed: %s", vuf_error(v));
			goto out;
		}
		t0 = time_ns_now(CLOCK_MONOTONIC);
		if (vuf_kick(v, 0) < 0 ||
		    (sleep_wait ? vuf_wait(v, 0, &c, 5000)
				: vuf_spin(v, 0, &c, 5000))) {
			progress("sample %lu failed: %s", i, vuf_error(v));
			goto out;
		}
		t1 = time_ns_now(CLOCK_MONOTONIC);
		if (c.len != 16 || c.resp[0] != VIRTIO_RTC_S_OK) {
			progress("sample %lu: status %u len %u", i, c.resp[0],
				 c.len);
			goto out;
		}
		s[i] = (uint32_t)(t1 - t0 > UINT32_MAX ? UINT32_MAX : t1 - t0);
		sum += (double)(t1 - t0);
	}
	r->wall_s = (double)(time_ns_now(CLOCK_MONOTONIC) - w0) / 1e9;
	r->cpu_s = (double)(vdaemon_cpu_ns(d) - cpu0) / 1e9;
	vuf_drain_calls(v, 0);
	vuf_get_stats(v, 0, &st1);
	qsort(s, bo->samples, sizeof(*s), cmp_u32);
	r->n = bo->samples;
	r->p50 = pct(s, r->n, 0.50);
	r->p99 = pct(s, r->n, 0.99);
	r->p999 = pct(s, r->n, 0.999);
	r->max = s[r->n - 1];
	r->mean = sum / (double)r->n;
	r->kicks_per_req = (double)(st1.kicks - st0.kicks) / (double)r->n;
	r->calls_per_req = (double)(st1.calls - st0.calls) / (double)r->n;
	r->ok = true;
out:
	free(s);
	vuf_free(v);
	stop_daemon(d);
}

static int submit_read(struct vuf *v, unsigned int *seed)
{
	struct virtio_rtc_req_read rd;

	vuf_rtc_req_read(&rd, (uint16_t)(rand_r(seed) % 4));
	return vuf_submit(v, 0, &rd, sizeof(rd), 16, NULL, 0);
}

static void run_throughput(const struct bench_opts *bo, const char *poll_ns,
			   struct tput_result *r)
{
	struct vdaemon *d = start_daemon(poll_ns);
	struct vuf **v = calloc(bo->vms, sizeof(struct vuf *));
	uint64_t kicks = 0, done = 0, measured_from = 0;
	int64_t start, measure_start = 0, cpu0 = 0, end, next_report;
	bool measuring = false;
	unsigned int i, seed = 1;
	struct vuf_opts o;

	r->ok = false;
	if (!d || !v) {
		goto out;
	}
	vuf_opts_init(&o);
	o.queue_size = 64;
	o.timeout_ms = 10000;
	progress("throughput [%s]: connecting %u VMs", r->mode, bo->vms);
	for (i = 0; i < bo->vms; i++) {
		if (vuf_open(&v[i], vdaemon_socket(d, 0), &o)) {
			progress("VM %u setup failed: %s", i,
				 v[i] ? vuf_error(v[i]) : "");
			goto out;
		}
		vuf_set_interrupts(v[i], 0, false);
	}
	progress("throughput [%s]: %u VMs x %u in flight for %.1f s", r->mode,
		 bo->vms, bo->inflight, bo->duration_s);
	start = time_ns_now(CLOCK_MONOTONIC);
	end = start + (int64_t)((bo->duration_s + 0.5) * 1e9);
	next_report = start + 1000000000;
	for (;;) {
		int64_t now = time_ns_now(CLOCK_MONOTONIC);

		if (now >= next_report) {
			progress("throughput [%s]: %.0f s of %.1f, %" PRIu64
				 " READs",
				 r->mode, (double)(now - start) / 1e9,
				 bo->duration_s + 0.5, done);
			next_report += 1000000000;
		}

		if (!measuring && now - start > 500000000) {
			/* half a second of warm-up */
			measuring = true;
			measure_start = now;
			measured_from = done;
			cpu0 = vdaemon_cpu_ns(d);
			for (i = 0; i < bo->vms; i++) {
				struct vuf_stats st;

				vuf_get_stats(v[i], 0, &st);
				kicks -= st.kicks;
			}
		}
		if (now > end) {
			break;
		}
		for (i = 0; i < bo->vms; i++) {
			struct vuf_completion c;
			bool added = false;
			int got;

			while ((got = vuf_poll(v[i], 0, &c)) > 0) {
				if (c.len != 16 ||
				    c.resp[0] != VIRTIO_RTC_S_OK) {
					r->errors++;
				}
				done++;
			}
			if (got < 0) {
				progress("VM %u: %s", i, vuf_error(v[i]));
				goto out;
			}
			while (vuf_inflight(v[i], 0) < bo->inflight) {
				if (submit_read(v[i], &seed)) {
					progress("VM %u: %s", i,
						 vuf_error(v[i]));
					goto out;
				}
				added = true;
			}
			if (added && vuf_kick(v[i], 0) < 0) {
				goto out;
			}
		}
	}
	r->wall_s =
		(double)(time_ns_now(CLOCK_MONOTONIC) - measure_start) / 1e9;
	r->cpu_s = (double)(vdaemon_cpu_ns(d) - cpu0) / 1e9;
	r->requests = done - measured_from;
	for (i = 0; i < bo->vms; i++) {
		struct vuf_stats st;

		vuf_get_stats(v[i], 0, &st);
		kicks += st.kicks;
	}
	r->kicks_per_req =
		r->requests ? (double)kicks / (double)r->requests : 0;
	r->ok = r->errors == 0;
out:
	for (i = 0; v && i < bo->vms; i++) {
		vuf_free(v[i]);
	}
	free(v);
	if (d) {
		stop_daemon(d);
	}
}

static void run_rss(const struct bench_opts *bo, struct rss_result *r)
{
	struct vdaemon *d = start_daemon(NULL);
	struct vuf **v = calloc(bo->rss_vms, sizeof(struct vuf *));
	unsigned int i;
	uint64_t ns;

	r->ok = false;
	r->vms = 0;
	if (!d || !v) {
		goto out;
	}
	usleep(100000);
	r->base_kb = vdaemon_rss_kb(d);
	progress("rss: baseline %ld KiB; connecting %u VMs", r->base_kb,
		 bo->rss_vms);
	for (i = 0; i < bo->rss_vms; i++) {
		/* What a Linux guest gets from QEMU's vhost-user-rtc: one
		 * started requestq of 1024 entries. */
		if (vuf_open(&v[i], vdaemon_socket(d, 0), NULL) ||
		    vuf_rtc_read(v[i], 0, &ns)) {
			progress("VM %u failed: %s", i,
				 v[i] ? vuf_error(v[i]) : "");
			goto out;
		}
		r->vms++;
	}
	usleep(100000);
	r->kb = vdaemon_rss_kb(d);
	r->fds = vdaemon_fd_count(d);
	r->ok = true;
out:
	for (i = 0; v && i < bo->rss_vms; i++) {
		vuf_free(v[i]);
	}
	free(v);
	if (d) {
		stop_daemon(d);
	}
}

static const char *verdict(bool ok)
{
	return ok ? "met" : "MISSED";
}

static void report(FILE *f, const struct bench_opts *bo,
		   const struct lat_result *lat, unsigned int nlat,
		   const struct tput_result *tp, unsigned int ntp,
		   const struct rss_result *rss)
{
	char host[64] = "?";
	time_t now = time(NULL);
	unsigned int i;

	gethostname(host, sizeof(host) - 1);
	fprintf(f, "vhost-user-rtc benchmark: %s, %ld CPUs, %s", host,
		sysconf(_SC_NPROCESSORS_ONLN), ctime(&now));
	fprintf(f, "daemon: %s\nload average at start: %s\n%s\n",
		vdaemon_path(), bo->loadavg,
		pin_cpus ? "daemon pinned to CPU 0, front-end to CPU 1"
			 : "not pinned");
	if (nlat) {
		fprintf(f,
			"1. READ round trip (made available + kick -> used), "
			"1 VM, front-end spinning on the used ring\n"
			"   (%lu samples after %lu warm-up; \"irq wait\": "
			"sleeping in poll() on the call eventfd instead)\n",
			bo->samples, bo->warmup);
		fprintf(f, "  %-22s %8s %8s %8s %9s %8s %15s %9s\n", "mode",
			"p50", "p99", "p99.9", "max", "mean", "daemon CPU",
			"kicks/req");
		for (i = 0; i < nlat; i++) {
			const struct lat_result *r = &lat[i];

			if (!r->ok) {
				fprintf(f, "  %-22s FAILED\n", r->mode);
				continue;
			}
			fprintf(f,
				"  %-22s %6.2fus %6.2fus %6.2fus %7.1fus "
				"%6.2fus %6.2fs/%5.1fs %9.3f\n",
				r->mode, r->p50 / 1e3, r->p99 / 1e3,
				r->p999 / 1e3, r->max / 1e3, r->mean / 1e3,
				r->cpu_s, r->wall_s, r->kicks_per_req);
		}
		for (i = 0; i < nlat; i++) {
			if (lat[i].ok &&
			    !strcmp(lat[i].mode, "adaptive (default)")) {
				fprintf(f,
					"  target (polling): p50 <= %.0f us: "
					"%s; p99 <= %.0f us: %s\n",
					TARGET_P50_NS / 1e3,
					verdict(lat[i].p50 <= TARGET_P50_NS),
					TARGET_P99_NS / 1e3,
					verdict(lat[i].p99 <= TARGET_P99_NS));
			}
		}
		fprintf(f, "\n");
	}
	if (ntp) {
		fprintf(f,
			"2. Aggregate READ throughput, %u VMs x %u in flight, "
			"1 polling front-end thread, %.1f s\n",
			bo->vms, bo->inflight, bo->duration_s);
		fprintf(f, "  %-22s %12s %16s %10s %8s\n", "mode", "READ/s",
			"daemon CPU s/s", "kicks/req", "errors");
		for (i = 0; i < ntp; i++) {
			const struct tput_result *r = &tp[i];

			if (!r->wall_s) {
				fprintf(f, "  %-22s FAILED\n", r->mode);
				continue;
			}
			fprintf(f, "  %-22s %12.0f %16.2f %10.3f %8llu\n",
				r->mode, (double)r->requests / r->wall_s,
				r->cpu_s / r->wall_s, r->kicks_per_req,
				(unsigned long long)r->errors);
		}
		for (i = 0; i < ntp; i++) {
			if (tp[i].wall_s &&
			    !strcmp(tp[i].mode, "adaptive (default)")) {
				fprintf(f, "  target: >= %.0f READ/s: %s\n",
					TARGET_RPS,
					verdict((double)tp[i].requests /
							tp[i].wall_s >=
						TARGET_RPS));
			}
		}
		fprintf(f, "\n");
	}
	if (rss) {
		fprintf(f, "3. Daemon memory\n");
		if (!rss->ok) {
			fprintf(f, "  FAILED after %u VMs\n", rss->vms);
		} else {
			fprintf(f,
				"  VmRSS idle: %.1f MiB; with %u VMs set up: "
				"%.1f MiB (%.1f KiB per VM, %d fds)\n",
				rss->base_kb / 1024.0, rss->vms,
				rss->kb / 1024.0,
				(double)(rss->kb - rss->base_kb) / rss->vms,
				rss->fds);
			fprintf(f, "  target: <= %ld MiB with 256 VMs: %s\n",
				TARGET_RSS_KB / 1024,
				verdict(rss->vms >= 256 &&
					rss->kb <= TARGET_RSS_KB));
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vhost-user-rtc-probe bench [--daemon PATH] [--out "
		   "FILE] [--samples N]\n"
		   "             [--warmup N] [--duration S] [--vms N]\n"
		   "             [--inflight N] [--rss-vms N]\n"
		   "             [--only latency|throughput|rss|alarms] "
		   "[--no-pin]\n"
		   "The daemon path may also come from $VRTC_DAEMON.\n");
}

static void read_loadavg(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "re");

	snprintf(buf, len, "?");
	if (f) {
		if (fgets(buf, (int)len, f)) {
			buf[strcspn(buf, "\n")] = '\0';
		}
		fclose(f);
	}
	if (strtod(buf, NULL) > 0.5) {
		progress("load average %s: other work on this machine will "
			 "skew the results",
			 buf);
	}
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int probe_bench_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "daemon", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "samples", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "duration", required_argument, NULL, 't' },
		{ "vms", required_argument, NULL, 'n' },
		{ "inflight", required_argument, NULL, 'i' },
		{ "rss-vms", required_argument, NULL, 'r' },
		{ "only", required_argument, NULL, 'O' },
		{ "no-pin", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_opts bo = {
		.samples = 200000,
		.warmup = 20000,
		.duration_s = 5.0,
		.vms = 64,
		.inflight = 16,
		.rss_vms = 256,
		.latency = true,
		.throughput = true,
		.rss = true,
		.alarms = true,
		.pin = true,
	};
	struct lat_result lat[3] = {
		{ .mode = "event (--poll-ns 0)" },
		{ .mode = "adaptive (default)" },
		{ .mode = "adaptive, irq wait" },
	};
	struct tput_result tp[2] = { { .mode = "event (--poll-ns 0)" },
				     { .mode = "adaptive (default)" } };
	struct rss_result rss = { 0 };
	struct alarm_cost acost[3] = { { 0 } };
	struct alarm_idle aidle = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			setenv("VRTC_DAEMON", optarg, 1);
			break;
		case 'o':
			bo.out = optarg;
			break;
		case 's':
			bo.samples = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			bo.warmup = strtoul(optarg, NULL, 0);
			break;
		case 't':
			bo.duration_s = strtod(optarg, NULL);
			break;
		case 'n':
			bo.vms = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'i':
			bo.inflight = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			bo.rss_vms = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'O':
			bo.latency = !strcmp(optarg, "latency");
			bo.throughput = !strcmp(optarg, "throughput");
			bo.rss = !strcmp(optarg, "rss");
			bo.alarms = !strcmp(optarg, "alarms");
			break;
		case 'P':
			bo.pin = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!bo.samples || !bo.vms || !bo.inflight || bo.inflight > 64 ||
	    bo.duration_s <= 0 || !bo.rss_vms) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	read_loadavg(bo.loadavg, sizeof(bo.loadavg));
	pin_cpus = bo.pin && sysconf(_SC_NPROCESSORS_ONLN) >= 2;
	if (pin_cpus) {
		pin(0, 1);
	}

	if (bo.latency) {
		run_latency(&bo, "0", false, &lat[0]);
		run_latency(&bo, NULL, false, &lat[1]);
		run_latency(&bo, NULL, true, &lat[2]);
	}
	if (bo.throughput) {
		run_throughput(&bo, "0", &tp[0]);
		run_throughput(&bo, NULL, &tp[1]);
	}
	if (bo.rss) {
		run_rss(&bo, &rss);
	}
	if (bo.alarms) {
		bench_alarm_costs(acost);
		bench_alarm_idle(bo.duration_s, &aidle);
	}
	report(stdout, &bo, lat, bo.latency ? 3 : 0, tp, bo.throughput ? 2 : 0,
	       bo.rss ? &rss : NULL);
	if (bo.alarms) {
		bench_alarm_report(stdout, acost, &aidle);
	}
	if (bo.out) {
		FILE *f = fopen(bo.out, "w");

		if (!f) {
			progress("%s: %s", bo.out, strerror(errno));
			return 1;
		}
		report(f, &bo, lat, bo.latency ? 3 : 0, tp,
		       bo.throughput ? 2 : 0, bo.rss ? &rss : NULL);
		if (bo.alarms) {
			bench_alarm_report(f, acost, &aidle);
		}
		fclose(f);
		progress("results written to %s", bo.out);
	}
	if ((bo.latency && (!lat[0].ok || !lat[1].ok || !lat[2].ok)) ||
	    (bo.throughput && (!tp[0].ok || !tp[1].ok)) ||
	    (bo.rss && !rss.ok) ||
	    (bo.alarms &&
	     (!acost[0].ok || !acost[1].ok || !acost[2].ok || !aidle.ok))) {
		return 1;
	}
	return 0;
}
