// SPDX-License-Identifier: MIT
/*
 * The PHC source: phc_read() bursts, TAI by default. With a ptp4l
 * socket configured, ptp4l's TIME_STATUS_NP, CURRENT_DATA_SET,
 * PARENT_DATA_SET and TIME_PROPERTIES_DATA_SET are kept in a cache that
 * never blocks the main loop: each poll first collects, without
 * waiting, the reply to the request the previous poll sent, then sends
 * the next GET in turn (one outstanding at a time), so each data set is
 * refreshed every four polls. ptp4l_error_budget_ns() of the cached sets
 * is added to each sample's err_ns and the UTC offset and leap flags go
 * into the health. A currentUtcOffset outside 0..1000 s makes ptp4l's
 * answers unusable (nothing passed on).
 *
 * The PHC's time is only worth what ptp4l says of it: when a set is
 * older than PTP4L_STALE_POLLS polls, ptp4l cannot be reached, has no
 * grandmaster or answers absurdly, nothing vouches for the PHC any more;
 * it runs on at ptp4l's last frequency. Its samples are then DEGRADED,
 * their err_ns the read error plus ptp4l's last good budget aged by
 * drift_ppb times the time since the last answer that came with it (so
 * the samples taken while staleness was being detected are covered
 * too), until that is PHC_UNVOUCHED_NS old: STALE, no sample, and the
 * discipline holds over or follows another source. Before ptp4l has
 * vouched once, STALE too: an unsteered PHC may be anywhere (at boot it
 * counts from 1970). ptp4l restarting: the send to its old socket fails,
 * the client is dropped and opened again at the next poll. Without a
 * ptp4l socket the operator vouches for the PHC: read error only.
 * A failing read (the device erring, or gone: ENODEV) is SOURCE_ERROR
 * naming the device; phc_read() probes the methods again each time, so
 * the source recovers by itself when reads work again.
 */
#include <errno.h>
#include <glib.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/stat.h>

#include "ptp4l.h"
#include "source_phc.h"

/* The four data sets asked in turn. */
static const uint16_t ptp4l_ids[] = {
	PTP4L_MID_TIME_STATUS_NP,
	PTP4L_MID_CURRENT_DATA_SET,
	PTP4L_MID_PARENT_DATA_SET,
	PTP4L_MID_TIME_PROPERTIES_DATA_SET,
};
#define PTP4L_SETS 4
/* A cached data set older than this many polls is not used. */
#define PTP4L_STALE_POLLS 10
/* Grandmaster accuracy assumed when it says "unknown", ns. */
#define PTP4L_UNKNOWN_ACCURACY_NS 1000000ULL
/*
 * A currentUtcOffset outside this range is absurd (TAI - UTC was 10 s
 * in 1972, 37 s since 2017, and moves by at most a second a year): it is
 * not passed on, whatever the valid flag says.
 */
#define PTP4L_MIN_UTC_OFFSET_S 0
#define PTP4L_MAX_UTC_OFFSET_S 1000
/* An unvouched PHC's aged budget is used for this long, ns. */
#define PHC_UNVOUCHED_NS (16 * 1000000000ULL)
#define PHC_DEFAULT_DRIFT_PPB 1000

struct source_phc {
	struct source base;
	struct phc *phc;
	enum phc_timescale timescale;
	const struct leap_table *leaps;
	char *ptp4l_path; /* NULL: no companion */
	char *ptp4l_bind_dir;
	struct ptp4l_client *ptp4l;
	struct ptp4l_reply cache[PTP4L_SETS];
	uint64_t cache_poll[PTP4L_SETS]; /* poll that filled it; 0 = never */
	uint64_t polls;
	unsigned int next;  /* index of the next set to ask for */
	int outstanding;    /* index asked and not answered, or -1 */
	bool answered;	    /* a reply came in this poll */
	uint64_t prev_c;    /* the previous poll's sample counter */
	uint64_t answer_c;  /* a reply's counter, at the latest (prev_c) */
	bool vouched;	    /* ptp4l's budget was good once */
	uint64_t budget_ns; /* its last good budget ... */
	uint64_t budget_c;  /* ... and the newest answer it came with */
	uint32_t drift_ppb;
	char dev[64];
};

static void phc_free_src(struct source *s)
{
	struct source_phc *p = (struct source_phc *)s;

	if (!p) {
		return;
	}
	ptp4l_client_free(p->ptp4l);
	phc_free(p->phc);
	g_free(p->ptp4l_path);
	g_free(p->ptp4l_bind_dir);
	g_free(p);
}

static int phc_new_src(const struct source_conf *c, struct source **out,
		       GError **err)
{
	static const struct source_phc_settings none;
	const struct source_phc_settings *set =
		c->settings ? c->settings : &none;
	const char *dev = NULL;
	struct phc_options opt = {
		.timescale = set->phc_timescale,
		.ops = set->phc_ops,
		.ctx = set->phc_ctx,
	};
	struct source_phc *p;
	char why[128] = "";
	int r;

	if (set->phc && c->index < g_strv_length(set->phc)) {
		dev = set->phc[c->index];
	}
	if (!dev || !*dev) {
		g_set_error(err, source_error_quark(), EINVAL,
			    "no PHC device given");
		return -EINVAL;
	}
	p = g_new0(struct source_phc, 1);
	p->outstanding = -1;
	p->timescale = set->phc_timescale;
	p->leaps = c->leaps;
	snprintf(p->dev, sizeof(p->dev), "%s", dev);
	r = phc_open(dev, &opt, &p->phc, why, sizeof(why));
	if (r < 0) {
		if (*why) {
			g_set_error(err, source_error_quark(), -r, "PHC %s",
				    why);
		} else {
			g_set_error(err, source_error_quark(), -r, "PHC %s: %s",
				    dev, g_strerror(-r));
		}
		phc_free_src(&p->base);
		return r;
	}
	if (p->timescale == PHC_TIMESCALE_UTC) {
		/* until ptp4l says otherwise: the table's latest offset */
		phc_set_tai_utc(p->phc, c->leaps->e[c->leaps->n - 1].dtai);
	}
	p->drift_ppb = c->drift_ppb ? c->drift_ppb : PHC_DEFAULT_DRIFT_PPB;
	/* several PHCs are told apart in the log and the status */
	snprintf(p->base.name, sizeof(p->base.name), "PHC %s", dev);
	if (set->ptp4l_socket && c->index < g_strv_length(set->ptp4l_socket)) {
		p->ptp4l_path = g_strdup(set->ptp4l_socket[c->index]);
	}
	p->ptp4l_bind_dir = g_strdup(set->ptp4l_bind_dir);
	*out = &p->base;
	return 0;
}

/* Collect queued replies, then ask for the next set; never blocks. */
static int ptp4l_exchange(struct source_phc *p)
{
	struct ptp4l_reply r;
	uint16_t err_id;
	int rc;

	if (!p->ptp4l) {
		struct ptp4l_client_opts o = {
			.server_path = p->ptp4l_path,
			.bind_dir = p->ptp4l_bind_dir,
		};

		rc = ptp4l_client_new(&o, &p->ptp4l);
		if (rc < 0) {
			return rc;
		}
		p->outstanding = -1;
	}
	for (int n = 0; n < 64; n++) { /* bounded: never spin on a flood */
		rc = ptp4l_client_recv(p->ptp4l, &r, &err_id);
		if (rc == 0 && p->outstanding >= 0) {
			p->cache[p->outstanding] = r;
			p->cache_poll[p->outstanding] = p->polls;
			p->outstanding = -1;
			p->answered = true;
			continue;
		}
		if (rc == -EAGAIN || rc == -EALREADY) {
			break;
		}
		if (rc == -ESTALE || rc == -EBADMSG || rc == -EPROTO) {
			continue; /* a late or hostile datagram: read on */
		}
		if (rc < 0) {
			/* ptp4l answered with an error, or the socket broke:
			 * reconnect next time (ptp4l may have restarted). */
			ptp4l_client_free(p->ptp4l);
			p->ptp4l = NULL;
			return rc;
		}
	}
	/* An unanswered request is abandoned: ask for the next set. */
	rc = ptp4l_client_send_get(p->ptp4l, ptp4l_ids[p->next]);
	if (rc < 0) {
		ptp4l_client_free(p->ptp4l);
		p->ptp4l = NULL;
		return rc;
	}
	p->outstanding = (int)p->next;
	p->next = (p->next + 1) % PTP4L_SETS;
	return 0;
}

/* The budget and time properties from ptp4l's cached sets; 0 or -errno. */
static int ask_ptp4l(struct source_phc *p, uint64_t *budget_ns,
		     struct source_health *h)
{
	const struct ptp4l_reply *ts = &p->cache[0], *cur = &p->cache[1];
	const struct ptp4l_reply *parent = &p->cache[2], *tp = &p->cache[3];
	unsigned int i;
	int r;

	p->polls++;
	r = ptp4l_exchange(p);
	if (r < 0) {
		return r;
	}
	for (i = 0; i < PTP4L_SETS; i++) {
		if (!p->cache_poll[i] ||
		    p->polls - p->cache_poll[i] > PTP4L_STALE_POLLS) {
			return -ETIMEDOUT; /* not (recently) answered */
		}
	}
	if (tp->tp.current_utc_offset_s < PTP4L_MIN_UTC_OFFSET_S ||
	    tp->tp.current_utc_offset_s > PTP4L_MAX_UTC_OFFSET_S) {
		return -ERANGE;
	}
	if (tp->tp.flags & PTP4L_TP_UTC_OFF_VALID) {
		h->tai_utc_known = true;
		h->tai_utc_s = tp->tp.current_utc_offset_s;
		if (p->timescale == PHC_TIMESCALE_UTC) {
			phc_set_tai_utc(p->phc, h->tai_utc_s);
		}
	}
	h->leap_known = true;
	h->leap_auth = !(tp->tp.flags & PTP4L_TP_UTC_OFF_VALID) ? LEAP_AUTH_NONE
		       : (tp->tp.flags & PTP4L_TP_TIME_TRACEABLE)
			       ? LEAP_AUTH_PTP_TRACEABLE
			       : LEAP_AUTH_PTP;
	h->leap = (tp->tp.flags & PTP4L_TP_LEAP_61)   ? SOURCE_LEAP_INSERT
		  : (tp->tp.flags & PTP4L_TP_LEAP_59) ? SOURCE_LEAP_DELETE
						      : SOURCE_LEAP_NONE;
	return ptp4l_error_budget_ns(&ts->ts, &cur->cur, &parent->parent,
				     PTP4L_UNKNOWN_ACCURACY_NS, budget_ns);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Why ptp4l does not vouch for the PHC now (ask_ptp4l() failed). */
static void unvouched_why(const struct source_phc *p, int pr, char *buf,
			  size_t len)
{
	if (pr == -ENOLINK) {
		snprintf(buf, len, "ptp4l has no grandmaster");
	} else if (pr == -ENODATA) {
		snprintf(buf, len,
			 "ptp4l has measured nothing yet (no timestamped Sync, "
			 "or no path delay: master offset and path delay 0)");
	} else if (pr == -ERANGE) {
		snprintf(buf, len, "ptp4l's currentUtcOffset %d s is absurd",
			 p->cache[3].tp.current_utc_offset_s);
	} else if (pr == -ETIMEDOUT) {
		snprintf(buf, len, "no recent answer from ptp4l at %s",
			 p->ptp4l_path);
	} else {
		snprintf(buf, len, "ptp4l at %s unreachable: %s", p->ptp4l_path,
			 g_strerror(-pr));
	}
}

/* @out's err_ns once ptp4l stopped vouching; 0, or -EAGAIN (STALE). */
static int unvouched(struct source_phc *p, int pr, struct time_sample *out,
		     struct source_health *h)
{
	const char *m = phc_method_name(phc_method(p->phc));
	uint64_t age, aged;
	char why[200];
	char *t;

	unvouched_why(p, pr, why, sizeof(why));
	age = out->counter > p->budget_c ? out->counter - p->budget_c : 0;
	if (!p->vouched || age > PHC_UNVOUCHED_NS) {
		h->state = SOURCE_STALE;
		t = g_strdup_printf("PHC %s (%s): no sample, %s: %s", p->dev, m,
				    p->vouched ? "ptp4l vouched too long ago"
					       : "ptp4l never vouched for it",
				    why);
		g_strlcpy(h->text, t, sizeof(h->text));
		g_free(t);
		return -EAGAIN;
	}
	/* ceil(drift * age / 1e9), age < 17 s: no overflow */
	aged = ((uint64_t)p->drift_ppb * age + 999999999) / 1000000000;
	out->err_ns = sat_add(out->err_ns, sat_add(p->budget_ns, aged));
	h->state = SOURCE_DEGRADED;
	t = g_strdup_printf("PHC %s (%s): ptp4l's budget aged %.1f s: %s",
			    p->dev, m, (double)age / 1e9, why);
	g_strlcpy(h->text, t, sizeof(h->text));
	g_free(t);
	return 0;
}

static int phc_poll_src(struct source *s, struct time_sample *out,
			struct source_health *h)
{
	struct source_phc *p = (struct source_phc *)s;
	uint64_t budget = 0;
	int r, pr = 0;

	p->answered = false;
	if (p->ptp4l_path) {
		pr = ask_ptp4l(p, &budget, h);
	}
	r = phc_read(p->phc, 0, out);
	if (r < 0) {
		h->state = r == -EAGAIN ? SOURCE_STALE : SOURCE_ERROR;
		snprintf(h->text, sizeof(h->text), "PHC %s: read: %s", p->dev,
			 g_strerror(-r));
		return r;
	}
	/* a reply read now was sent after the previous poll, at the latest */
	if (p->answered) {
		p->answer_c = p->prev_c ? p->prev_c : out->counter;
	}
	p->prev_c = out->counter;
	if (p->ptp4l_path && pr < 0) {
		return unvouched(p, pr, out, h);
	}
	if (p->ptp4l_path) {
		p->vouched = true;
		p->budget_ns = budget;
		p->budget_c = p->answer_c;
		out->err_ns = sat_add(out->err_ns, budget);
	}
	h->state = SOURCE_OK;
	snprintf(h->text, sizeof(h->text), "PHC %s (%s)%s", p->dev,
		 phc_method_name(phc_method(p->phc)),
		 p->ptp4l_path ? ", ptp4l budget added" : "");
	return 0;
}

static void source_phc_set_leaps(struct source *s, const struct leap_table *t)
{
	((struct source_phc *)s)->leaps = t;
}

const struct source_ops source_phc_ops = {
	.name = "PHC",
	.new = phc_new_src,
	.free = phc_free_src,
	.poll = phc_poll_src,
	.set_leaps = source_phc_set_leaps,
};

/* The keys, in the order --help and conf/ list them. */
#define PHC_KEY(f) offsetof(struct source_phc_settings, f)
static const struct config_key phc_keys[] = {
	{
		.name = "phc",
		.type = CONFIG_PATH_LIST,
		.arg = "DEV|IFACE",
		.help = "Follow this PTP hardware clock (/dev/ptpN, or a "
			"network interface's PHC; repeatable)",
		.offset = PHC_KEY(phc),
	},
	{
		.name = "phc-timescale",
		.type = CONFIG_ENUM,
		.def = "tai",
		.choices = "tai|utc", /* enum phc_timescale's order */
		.arg = "tai|utc",
		.help = "What the PHC counts (ptp4l keeps it on TAI)",
		.offset = PHC_KEY(phc_timescale),
	},
	{
		.name = "ptp4l-socket",
		.type = CONFIG_PATH_LIST,
		.arg = "PATH",
		.help = "ptp4l's management socket, for the error budget and "
			"UTC offset of the PHC it disciplines (repeatable: the "
			"Nth goes with the Nth phc)",
		.offset = PHC_KEY(ptp4l_socket),
	},
};
_Static_assert(PHC_TIMESCALE_TAI == 0 && PHC_TIMESCALE_UTC == 1,
	       "phc-timescale choices out of step with enum phc_timescale");
_Static_assert(sizeof(enum phc_timescale) == sizeof(int),
	       "CONFIG_ENUM stores an int");

static unsigned int phc_count(const void *settings)
{
	const struct source_phc_settings *s = settings;

	return s->phc ? g_strv_length(s->phc) : 0;
}

static int phc_check(const void *settings, const char *const *origin,
		     GError **err)
{
	const struct source_phc_settings *s = settings;
	unsigned int n_ptp4l =
		s->ptp4l_socket ? g_strv_length(s->ptp4l_socket) : 0;

	if (n_ptp4l > phc_count(s)) {
		g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "%s: %u given for %u phc (the Nth goes with the "
			    "Nth phc)",
			    origin[2], n_ptp4l, phc_count(s));
		return -EINVAL;
	}
	return 0;
}

/*
 * Each phc names an existing character device or network interface, so
 * --check-config catches a typo (opening it is new()'s job).
 */
static int phc_check_host(const void *settings, const char *const *origin,
			  GError **err)
{
	const struct source_phc_settings *s = settings;
	struct stat st;

	for (char **p = s->phc; p && *p; p++) {
		int e = 0;

		if (!strchr(*p, '/')) {
			if (!if_nametoindex(*p)) {
				g_set_error(err, source_error_quark(), ENODEV,
					    "%s: %s: no such device or network "
					    "interface",
					    origin[0], *p);
				return -ENODEV;
			}
		} else if (stat(*p, &st) < 0) {
			e = errno;
			g_set_error(err, source_error_quark(), e, "%s: %s: %s",
				    origin[0], *p, g_strerror(e));
			return -e;
		} else if (!S_ISCHR(st.st_mode)) {
			g_set_error(err, source_error_quark(), ENODEV,
				    "%s: %s: not a character device (a PTP "
				    "clock is /dev/ptpN)",
				    origin[0], *p);
			return -ENODEV;
		}
	}
	return 0;
}

const struct source_kind source_phc_kind = {
	.name = "phc",
	.plural = "PHCs",
	.ops = &source_phc_ops,
	.keys = phc_keys,
	.n_keys = G_N_ELEMENTS(phc_keys),
	.settings_size = sizeof(struct source_phc_settings),
	.max_sources = 0, /* the rest */
	.count = phc_count,
	.check = phc_check,
	.check_host = phc_check_host,
};
