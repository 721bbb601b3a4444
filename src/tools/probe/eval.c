// SPDX-License-Identifier: MIT
/*
 * vhost-user-rtc-probe eval: every served clock against a reference.
 *
 * Each round reads every clock once with READ, bracketed by two reads of
 * the reference (READ_CROSS is used by nobody here: no device offers a
 * counter this host can read, and the probe says so). The offset of a
 * sample is the served reading minus the reference converted to the
 * clock's timescale (UTC, TAI, smeared UTC from the leap table); for
 * MONOTONIC, whose epoch is unspecified, it is relative to the first
 * sample. virtio-rtc carries no error bound, so coverage is computed
 * against the daemon's live model from its control socket (--control),
 * or a bound the operator supplies (--bound-ns, or --bound-log with the
 * daemon's log), and the report says which.
 *
 * With --control, `status json` is asked at the start and then at most
 * every 250 ms, between rounds. A sample's bound is computed when the
 * next answer is in: from the snapshot before it, or the larger of the
 * two if a publish came in between. CSV rows are written then.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eval.h"
#include "frontend.h"
#include "phc.h"
#include "plot.h"
#include "probe.h"
#include "timescale.h"
#include "time_ns.h"

#define MAX_CLOCKS EVAL_MAX_CLOCKS
#define LIVE_PERIOD_NS 250000000LL
#define LIVE_TIMEOUT_MS 1000

static int grow(void *pp, size_t size, size_t cap)
{
	void **p = pp;
	void *q = realloc(*p, cap * size);

	if (!q) {
		return -ENOMEM;
	}
	*p = q;
	return 0;
}

static int push(struct eval_clock *c, double t, const struct eval_sample *s)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1024;

		if (grow(&c->t_s, sizeof(double), cap) ||
		    grow(&c->off_ns, sizeof(double), cap) ||
		    grow(&c->bound_ns, sizeof(double), cap) ||
		    grow(&c->cover_ns, sizeof(double), cap) ||
		    grow(&c->s, sizeof(*s), cap)) {
			return -ENOMEM;
		}
		c->cap = cap;
	}
	c->t_s[c->n] = t;
	c->off_ns[c->n] = eval_offset(c, s);
	c->bound_ns[c->n] = NAN;
	c->cover_ns[c->n] = NAN;
	c->s[c->n] = *s;
	c->n++;
	eval_settle_origin(c, false);
	return 0;
}

/* Clocks from CFG and CLOCK_CAP; timescale of each type. */
static int discover(struct vuf *v, struct eval_clock *c, size_t *n)
{
	uint16_t num;
	int ret = vuf_rtc_cfg(v, &num, NULL);

	if (ret) {
		fprintf(stderr, "eval: CFG: %s\n", vuf_error(v));
		return ret;
	}
	*n = 0;
	for (uint16_t id = 0; id < num && *n < MAX_CLOCKS; id++) {
		struct virtio_rtc_resp_clock_cap cap;
		struct eval_clock *r = &c[*n];

		ret = vuf_rtc_clock_cap(v, id, &cap, NULL);
		if (ret) {
			fprintf(stderr, "eval: CLOCK_CAP %u: %s\n", id,
				vuf_error(v));
			return ret;
		}
		memset(r, 0, sizeof(*r));
		r->id = id;
		r->type = cap.type;
		r->smear = cap.leap_second_smearing;
		switch (cap.type) {
		case VIRTIO_RTC_CLOCK_TAI:
			r->ts = TIMESCALE_TAI;
			break;
		case VIRTIO_RTC_CLOCK_MONOTONIC:
			r->ts = TIMESCALE_TAI;
			r->relative = true;
			break;
		case VIRTIO_RTC_CLOCK_UTC_SMEARED:
			r->ts = cap.leap_second_smearing ==
						VIRTIO_RTC_SMEAR_UTC_SLS
					? TIMESCALE_UTC_SLS
					: TIMESCALE_UTC_NOON_LINEAR;
			break;
		default: /* UTC, and UTC_MAYBE_SMEARED away from leaps */
			r->ts = TIMESCALE_UTC;
			break;
		}
		snprintf(r->label, sizeof(r->label), "clock %u %s%s", id,
			 eval_type_name(cap.type),
			 r->relative ? " (relative)" : "");
		(*n)++;
	}
	if (num > MAX_CLOCKS) {
		fprintf(stderr, "eval: %u clocks, evaluating the first %d\n",
			num, MAX_CLOCKS);
	}
	return *n ? 0 : -ENODEV;
}

/* One READ of @c bracketed by the reference. */
static int bracket(struct vuf *v, struct eval_ref *ref, uint16_t id,
		   uint64_t *served, int64_t *tai, uint64_t *win, uint64_t *err)
{
	int64_t b = eval_ref_begin(ref);
	int ret;

	ret = vuf_rtc_read(v, id, served);
	if (ret) {
		fprintf(stderr, "eval: READ clock %u: %s\n", id, vuf_error(v));
		return ret;
	}
	ret = eval_ref_end(ref, b, tai, win, err);
	if (ret == -EAGAIN) {
		return 1; /* the reference read was preempted: read again */
	}
	if (ret) {
		fprintf(stderr, "eval: reference: %s\n", strerror(-ret));
	}
	return ret;
}

/* Reference reads redone (EAGAIN: preempted, or REALTIME stepped under a
 * PHC read against it), over the run. */
static unsigned long ref_retries;

/* A burst of bracketed READs of @c; the narrowest window is the sample
 * (like sync/sources/phc.c's bursts: a preempted read says little). Its bound
 * comes later, from resolve(). */
static int sample(struct vuf *v, struct eval_ref *ref, struct eval_clock *c,
		  int64_t t0, const struct eval_opts *o)
{
	struct eval_sample s = { .win_ns = UINT64_MAX };
	__int128 expect;
	int ret;

	s.c_lo = (uint64_t)time_ns_now(CLOCK_MONOTONIC_RAW);
	/* A READ that fails ends the run; a reference read that says
	 * EAGAIN (a busy host) is redone, up to 4 times the burst. */
	for (unsigned int got = 0, tries = 0; got < o->burst;) {
		uint64_t s1, w1, e1;
		int64_t t1;

		ret = bracket(v, ref, c->id, &s1, &t1, &w1, &e1);
		if (ret == 1) {
			ref_retries++;
			if (++tries > 4 * o->burst) {
				fprintf(stderr,
					"eval: reference: %s %u times "
					"in one sample\n",
					strerror(EAGAIN), tries);
				return -EAGAIN;
			}
			continue;
		}
		if (ret) {
			return ret;
		}
		got++;
		if (w1 + 2 * e1 < s.win_ns + 2 * s.err_ns) {
			s.served = s1, s.tai_ns = t1, s.win_ns = w1,
			s.err_ns = e1;
		}
	}
	s.c_hi = (uint64_t)time_ns_now(CLOCK_MONOTONIC_RAW);
	if (o->live.path) {
		s.status = eval_live_status(&o->live.last);
	}
	timescale_from_tai(ref->leap, c->ts, s.tai_ns, &expect);
	s.raw_off_ns = (int64_t)((__int128)s.served - expect);
	double t = (double)(time_ns_now(CLOCK_MONOTONIC) - t0) / 1e9;

	return push(c, t, &s);
}

/*
 * Give rounds [@from, c[0].n) their bound: from the snapshots @a (before)
 * and @b (after, or NULL), or without @a the constant one; count
 * coverage (eval_give_bound()).
 */
static void resolve(struct eval_clock *c, size_t n, size_t from,
		    const struct eval_opts *o, const struct eval_live_snap *a,
		    const struct eval_live_snap *b)
{
	for (size_t j = from; n && j < c[0].n; j++) {
		for (size_t i = 0; i < n; i++) {
			struct eval_clock *r = &c[i];
			const struct eval_sample *s = &r->s[j];
			uint64_t bound = 0;
			bool known;

			if (a) {
				known = !eval_live_bound(a, b, s->c_lo, s->c_hi,
							 &bound);
			} else {
				known = o->bound_ns >= 0;
				bound = (uint64_t)o->bound_ns;
			}
			eval_give_bound(r, j, known, bound);
		}
	}
}

/*
 * CSV rows for rounds [*@written, @upto) once they have their bound and
 * every relative clock its origin (or @final: all that are left).
 */
static void csv_rows(struct eval_clock *c, size_t n, size_t *written,
		     size_t upto, bool final, FILE *csv)
{
	for (size_t i = 0; i < n; i++) {
		if (!eval_settle_origin(&c[i], final)) {
			return;
		}
	}
	for (size_t j = *written; csv && j < upto; j++) {
		for (size_t i = 0; i < n; i++) {
			const struct eval_clock *r = &c[i];
			const struct eval_sample *s = &r->s[j];

			fprintf(csv,
				"%.6f,%u,%s,%" PRIu64 ",%" PRId64
				",%.0f,%" PRIu64 ",%" PRIu64 ",%.0f,%s\n",
				r->t_s[j], r->id, eval_type_name(r->type),
				s->served, s->tai_ns, r->off_ns[j], s->win_ns,
				s->err_ns,
				isfinite(r->bound_ns[j]) ? r->bound_ns[j] : -1,
				s->status ? s->status : "");
		}
	}
	*written = upto;
}

/*
 * Ask the control socket for the model if it is time (or @force), and
 * give the rounds since the last answer their bound. On the first
 * failure, say so once and keep the last snapshot for good.
 */
static void live_step(struct eval_clock *c, size_t n, size_t *resolved,
		      struct eval_opts *o, int64_t t0, bool force)
{
	struct eval_live_run *l = &o->live;
	int64_t now = time_ns_now(CLOCK_MONOTONIC);
	struct eval_live_snap snap;
	struct clock_reading chk;
	GError *err = NULL;

	if (l->failed) {
		resolve(c, n, *resolved, o, &l->last, NULL);
		*resolved = c[0].n;
		return;
	}
	if (!force && now < l->next_ns) {
		return;
	}
	l->next_ns = now + LIVE_PERIOD_NS;
	if (eval_live_query(l->path, LIVE_TIMEOUT_MS, &snap, &err)) {
		/* kept for the report's summary line */
		snprintf(l->why, sizeof(l->why), "%s", err->message);
		g_error_free(err);
		l->failed = true;
		l->failed_t_s = (double)(now - t0) / 1e9;
		fprintf(stderr,
			"eval: control socket %s: %s; keeping the last "
			"snapshot (generation %" PRIu64 ") from t=%.1f s\n",
			l->path, l->why, l->last.model.generation,
			l->failed_t_s);
		resolve(c, n, *resolved, o, &l->last, NULL);
		*resolved = c[0].n;
		return;
	}
	l->queries++;
	if (snap.model.generation != l->last.model.generation) {
		l->changes++;
		if (snap.model.generation > l->last.model.generation + 1) {
			l->unseen += snap.model.generation -
				     l->last.model.generation - 1;
		}
	}
	clock_snapshot_tai(&snap.model, snap.counter_now, &chk);
	if (snap.published && chk.maxerr_ns != snap.bound_ns && !l->warned) {
		fprintf(stderr,
			"eval: warning: the daemon's bound_ns %" PRIu64
			" differs from clock_snapshot_tai()'s %" PRIu64
			" at its counter_now\n",
			snap.bound_ns, chk.maxerr_ns);
		l->warned = true;
	}
	resolve(c, n, *resolved, o, &l->last, &snap);
	*resolved = c[0].n;
	l->last = snap;
}

#define FIRST_MODEL_WAIT_S 60

/*
 * A daemon without a model yet (its source has not synchronised) answers
 * READ with EIO: wait for its first model, up to FIRST_MODEL_WAIT_S,
 * rather than fail. Returns 0 once clock @id reads, else -1 (said why).
 */
static int wait_first_model(struct vuf *v, uint16_t id)
{
	int64_t t0 = time_ns_now(CLOCK_MONOTONIC);
	struct virtio_rtc_req_read rd;
	struct vuf_rtc_reply r;
	bool said = false;

	vuf_rtc_req_read(&rd, id);
	for (;;) {
		int ret = vuf_rtc_call(v, &rd, sizeof(rd),
				       sizeof(struct virtio_rtc_resp_read),
				       NULL, &r);

		if (ret) {
			fprintf(stderr, "eval: READ clock %u: %s\n", id,
				vuf_error(v));
			return -1;
		}
		if (r.status == VIRTIO_RTC_S_OK) {
			break;
		}
		if (r.status != VIRTIO_RTC_S_EIO) {
			fprintf(stderr, "eval: READ clock %u: status %u\n", id,
				r.status);
			return -1;
		}
		if (time_ns_now(CLOCK_MONOTONIC) - t0 >
		    FIRST_MODEL_WAIT_S * NS_PER_S) {
			fprintf(stderr,
				"eval: the daemon served no time for %d s "
				"(READ answers EIO: no model yet)\n",
				FIRST_MODEL_WAIT_S);
			return -1;
		}
		if (!said) {
			fprintf(stderr,
				"eval: the daemon has no time to serve yet "
				"(READ answers EIO: its source has given no "
				"model); waiting up to %d s\n",
				FIRST_MODEL_WAIT_S);
			said = true;
		}
		usleep(100000);
	}
	if (said) {
		fprintf(stderr, "eval: first model after %.1f s\n",
			(double)(time_ns_now(CLOCK_MONOTONIC) - t0) / 1e9);
	}
	return 0;
}

/* Sample at @o->rate_hz rounds per second for @o->duration_s. */
static int run(struct vuf *v, struct eval_ref *ref, struct eval_clock *c,
	       size_t n, struct eval_opts *o, FILE *csv)
{
	int64_t t0 = time_ns_now(CLOCK_MONOTONIC), next = t0, report_at;
	int64_t period = (int64_t)(1e9 / o->rate_hz);
	int64_t end = t0 + (int64_t)(o->duration_s * 1e9);
	struct timespec ts;
	size_t resolved = 0, written = 0;

	report_at = t0 + NS_PER_S;
	o->live.next_ns = t0 + LIVE_PERIOD_NS;
	while (next < end) {
		for (size_t i = 0; i < n; i++) {
			int ret = sample(v, ref, &c[i], t0, o);

			if (ret) {
				return ret;
			}
		}
		if (o->live.path) {
			live_step(c, n, &resolved, o, t0, false);
		} else {
			resolve(c, n, resolved, o, NULL, NULL);
			resolved = c[0].n;
		}
		csv_rows(c, n, &written, resolved, false, csv);
		next += period;
		if (time_ns_now(CLOCK_MONOTONIC) >= report_at) {
			fprintf(stderr,
				"eval: %.0f/%.0f s, %zu rounds, clock %u last "
				"offset %.0f ns\n",
				(double)(report_at - t0) / 1e9, o->duration_s,
				c[0].n, c[0].id, c[0].off_ns[c[0].n - 1]);
			report_at += NS_PER_S;
		}
		ts.tv_sec = next / NS_PER_S;
		ts.tv_nsec = next % NS_PER_S;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	if (o->live.path) {
		live_step(c, n, &resolved, o, t0, true);
	}
	/* a run shorter than EVAL_ORIGIN_SAMPLES: the origin from all */
	csv_rows(c, n, &written, resolved, true, csv);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vhost-user-rtc-probe eval --socket PATH\n"
		"         [--ref /dev/ptpN [--ref-utc] | --ref-clock "
		"tai|realtime]\n"
		"         [--duration S] [--rate HZ] [--burst N] [--csv F]\n"
		"         [--plot F.png] [--svg F.svg]\n"
		"         [--control CTL.SOCK | --bound-ns N | --bound-log "
		"DAEMON.LOG]\n"
		"         [--leap-file PATH]\n"
		"Defaults: --ref-clock tai, --duration 10, --rate 10, --burst "
		"4;\n"
		"no CSV without --csv. Each sample is the narrowest-window "
		"READ of "
		"a burst.\n"
		"virtio-rtc READ carries no error bound. --control asks the "
		"daemon's control\nsocket for its clock model (at the start, "
		"then every 250 ms) and gives each\nsample the bound at its "
		"own "
		"CLOCK_MONOTONIC_RAW reading, and its status (CSV\ncolumns "
		"bound_ns, status; plot band and status marks). Otherwise "
		"coverage is\ncomputed only against --bound-ns or the last "
		"bound "
		"the daemon logged\n(--bound-log). Exit 1 if any sample with a "
		"known bound is outside it.\n");
}

/* A bad value: one line naming the option; the usage follows. */
static int bad(const char *flag, const char *value, const char *why)
{
	fprintf(stderr, "eval: %s %s: %s\n", flag, value ? value : "", why);
	return 2;
}

/* A number for @flag: the whole of @s, finite. */
static int number(const char *flag, const char *s, double *out)
{
	char *e;

	*out = strtod(s, &e);
	if (e == s || *e || !isfinite(*out)) {
		return bad(flag, s, "not a number");
	}
	return 0;
}

static int parse(int argc, char **argv, struct eval_opts *o, struct eval_ref *r)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "ref", required_argument, NULL, 'r' },
		{ "ref-utc", no_argument, NULL, 'u' },
		{ "ref-clock", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'R' },
		{ "burst", required_argument, NULL, 'n' },
		{ "csv", required_argument, NULL, 'C' },
		{ "plot", required_argument, NULL, 'p' },
		{ "svg", required_argument, NULL, 'S' },
		{ "bound-ns", required_argument, NULL, 'b' },
		{ "bound-log", required_argument, NULL, 'B' },
		{ "control", required_argument, NULL, 'K' },
		{ "leap-file", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *e;
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'r':
			r->dev = optarg;
			break;
		case 'u':
			r->phc_utc = true;
			break;
		case 'c':
			if (strcmp(optarg, "tai") != 0 &&
			    strcmp(optarg, "realtime") != 0) {
				return bad("--ref-clock", optarg,
					   "give tai or realtime");
			}
			r->realtime = !strcmp(optarg, "realtime");
			break;
		case 'd':
			if (number("--duration", optarg, &o->duration_s)) {
				return 2;
			}
			if (!(o->duration_s > 0)) {
				return bad("--duration", optarg,
					   "must be more than 0 s");
			}
			break;
		case 'R':
			if (number("--rate", optarg, &o->rate_hz)) {
				return 2;
			}
			if (!(o->rate_hz > 0) || o->rate_hz > 10000) {
				return bad("--rate", optarg,
					   "must be in (0, 10000] Hz");
			}
			break;
		case 'n':
			o->burst = (unsigned int)strtoul(optarg, &e, 10);
			if (*e || e == optarg || !o->burst || o->burst > 100) {
				return bad("--burst", optarg,
					   "must be 1 to 100 READs");
			}
			break;
		case 'C':
			o->csv = optarg;
			break;
		case 'p':
			o->png = optarg;
			break;
		case 'S':
			o->svg = optarg;
			break;
		case 'b':
			o->bound_ns = strtoll(optarg, &e, 10);
			if (*e || e == optarg || o->bound_ns < 0) {
				return bad("--bound-ns", optarg,
					   "not a number of ns >= 0");
			}
			snprintf(o->bound_src, sizeof(o->bound_src),
				 "%" PRId64 " ns, given with --bound-ns",
				 o->bound_ns);
			break;
		case 'B':
			o->bound_log = optarg;
			break;
		case 'K':
			o->live.path = optarg;
			break;
		case 'l':
			o->leap_file = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return 2;
		}
	}
	if (optind != argc) {
		return bad(argv[optind], NULL, "unexpected argument");
	}
	if (!o->socket) {
		return bad("--socket", "PATH",
			   "is required (the daemon's VM "
			   "socket)");
	}
	return 0;
}

/*
 * Before a long run: @path (for @flag) can be written. A file that did
 * not exist is created and removed again.
 */
static int check_writable(const char *flag, const char *path)
{
	bool existed;
	int fd;

	if (!path) {
		return 0;
	}
	existed = access(path, F_OK) == 0;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "eval: %s %s: cannot write: %s\n", flag, path,
			strerror(errno));
		return 2;
	}
	close(fd);
	if (!existed) {
		unlink(path);
	}
	return 0;
}

int probe_eval_main(int argc, char **argv)
{
	struct eval_opts o = {
		.duration_s = 10,
		.rate_hz = 10,
		.burst = 4,
		.csv = NULL, /* no silent ./eval.csv: only with --csv */
		.leap_file = "/usr/share/zoneinfo/leap-seconds.list",
		.bound_ns = -1,
	};
	struct eval_ref ref = { 0 };
	struct eval_clock c[MAX_CLOCKS];
	struct leap_table *leap = NULL;
	struct vuf *v = NULL;
	GError *err = NULL;
	size_t n = 0;
	FILE *csv = NULL;
	int ret = 1;

	snprintf(o.bound_src, sizeof(o.bound_src),
		 "none (virtio-rtc READ carries no bound; give --bound-ns or "
		 "--bound-log)");
	if (parse(argc, argv, &o, &ref)) {
		usage(stderr);
		return 2;
	}
	if (check_writable("--csv", o.csv) || check_writable("--plot", o.png) ||
	    check_writable("--svg", o.svg)) {
		return 2;
	}
	if (o.live.path && (o.bound_ns >= 0 || o.bound_log)) {
		fprintf(stderr, "eval: --control gives a live bound; it cannot "
				"be combined with --bound-ns or --bound-log\n");
		return 2;
	}
	if (o.bound_ns >= 0 && o.bound_log) {
		fprintf(stderr, "eval: give --bound-ns or --bound-log, not "
				"both\n");
		return 2;
	}
	if (o.live.path) {
		if (eval_live_query(o.live.path, LIVE_TIMEOUT_MS, &o.live.last,
				    &err)) {
			fprintf(stderr, "eval: control socket %s: %s\n",
				o.live.path, err->message);
			g_error_free(err);
			return 2;
		}
		o.live.queries = 1;
		snprintf(o.bound_src, sizeof(o.bound_src),
			 "live, from the daemon's control socket %s",
			 o.live.path);
	}
	if (o.bound_log) {
		uint64_t b;
		int r = eval_bound_from_log(o.bound_log, &b);

		if (r) {
			fprintf(stderr, "eval: %s: no bound found (%s)\n",
				o.bound_log, strerror(-r));
			return 2;
		}
		o.bound_ns = (int64_t)b;
		snprintf(o.bound_src, sizeof(o.bound_src),
			 "%" PRIu64 " ns, the last one logged in %s (logged "
			 "at a status change, not live)",
			 b, o.bound_log);
	}
	leap = leap_table_load(o.leap_file, &err);
	if (!leap) {
		fprintf(stderr, "eval: %s: %s\n", o.leap_file, err->message);
		g_error_free(err);
		return 2;
	}
	if (leap_table_expired(leap, time(NULL))) {
		fprintf(stderr, "eval: warning: leap table %s has expired\n",
			o.leap_file);
	}
	ref.leap = leap;
	if (eval_ref_open(&ref, &err)) {
		fprintf(stderr, "eval: reference: %s\n", err->message);
		g_clear_error(&err);
		goto out;
	}
	if (vuf_open(&v, o.socket, NULL)) {
		fprintf(stderr, "eval: %s: %s\n", o.socket,
			v ? vuf_error(v) : strerror(errno));
		goto out;
	}
	if (discover(v, c, &n) || wait_first_model(v, c[0].id)) {
		goto out;
	}
	csv = o.csv ? fopen(o.csv, "we") : NULL;
	if (o.csv && !csv) {
		fprintf(stderr, "eval: --csv %s: %s\n", o.csv, strerror(errno));
		goto out;
	}
	if (csv) {
		fprintf(csv, "t_s,clock_id,clock_type,served_ns,ref_tai_ns,"
			     "offset_ns,window_ns,ref_err_ns,bound_ns,"
			     "status\n");
	} else {
		fprintf(stderr, "eval: no CSV written (--csv F writes one row "
				"per sample)\n");
	}
	fprintf(stderr, "eval: %zu clocks, %.0f s at %.0f Hz, reference %s\n",
		n, o.duration_s, o.rate_hz, ref.desc);
	if (run(v, &ref, c, n, &o, csv)) {
		goto out;
	}
	if (ref_retries) {
		fprintf(stderr,
			"eval: %lu reference reads redone (EAGAIN: preempted, "
			"or REALTIME stepped under the PHC read)\n",
			ref_retries);
	}
	if (csv && fclose(csv)) {
		csv = NULL;
		fprintf(stderr, "eval: --csv %s: write error\n", o.csv);
		goto out;
	}
	csv = NULL;
	eval_report(c, n, &ref, &o);
	ret = eval_plots(c, n, &ref, &o);
	plot_exit();
	if (ret) {
		ret = 1;
		goto out;
	}
	ret = 0;
	for (size_t i = 0; i < n; i++) {
		if (c[i].covered != c[i].counted) {
			ret = 1;
		}
	}
out:
	if (csv) {
		fclose(csv);
	}
	for (size_t i = 0; i < n; i++) {
		free(c[i].t_s);
		free(c[i].off_ns);
		free(c[i].bound_ns);
		free(c[i].cover_ns);
		free(c[i].s);
	}
	vuf_free(v);
	eval_ref_close(&ref);
	leap_table_free(leap);
	return ret;
}
