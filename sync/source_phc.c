// SPDX-License-Identifier: MIT
/*
 * The PHC source: phc_read() bursts, TAI by default. With a ptp4l
 * socket configured, every poll also asks ptp4l (blocking, at most
 * PTP4L_TIMEOUT_MS per request; it answers in microseconds on loopback)
 * for TIME_STATUS_NP, CURRENT_DATA_SET, PARENT_DATA_SET and
 * TIME_PROPERTIES_DATA_SET: ptp4l_error_budget_ns() is added to each
 * sample's err_ns and the UTC offset and leap flags go into the health.
 * Without an answer from ptp4l the PHC keeps being served, degraded:
 * its samples then carry only the read error, since nothing says how
 * well ptp4l disciplines it.
 */
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

#include "ptp4l.h"
#include "source.h"

#define PTP4L_TIMEOUT_MS 50
/* Grandmaster accuracy assumed when it says "unknown", ns. */
#define PTP4L_UNKNOWN_ACCURACY_NS 1000000ULL

struct source_phc {
	struct source base;
	struct phc *phc;
	enum phc_timescale timescale;
	const struct leap_table *leaps;
	char *ptp4l_path; /* NULL: no companion */
	char *ptp4l_bind_dir;
	struct ptp4l_client *ptp4l;
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
		       char *msg, size_t msg_len)
{
	struct phc_options opt = {
		.timescale = c->phc_timescale,
		.ops = c->phc_ops,
		.ctx = c->phc_ctx,
	};
	struct source_phc *p;
	char why[128] = "";
	int r;

	if (!c->phc || !*c->phc) {
		snprintf(msg, msg_len, "no PHC device given");
		return -EINVAL;
	}
	p = g_new0(struct source_phc, 1);
	p->timescale = c->phc_timescale;
	p->leaps = c->leaps;
	snprintf(p->dev, sizeof(p->dev), "%s", c->phc);
	r = phc_open(c->phc, &opt, &p->phc, why, sizeof(why));
	if (r < 0) {
		if (*why) {
			snprintf(msg, msg_len, "PHC %s", why);
		} else {
			snprintf(msg, msg_len, "PHC %s: %s", c->phc,
				 g_strerror(-r));
		}
		phc_free_src(&p->base);
		return r;
	}
	if (p->timescale == PHC_TIMESCALE_UTC) {
		/* until ptp4l says otherwise: the table's latest offset */
		phc_set_tai_utc(p->phc, c->leaps->e[c->leaps->n - 1].dtai);
	}
	p->ptp4l_path = g_strdup(c->ptp4l_socket);
	p->ptp4l_bind_dir = g_strdup(c->ptp4l_bind_dir);
	*out = &p->base;
	return 0;
}

/* Ask ptp4l for the budget and time properties; 0 or -errno. */
static int ask_ptp4l(struct source_phc *p, uint64_t *budget_ns,
		     struct source_health *h)
{
	struct ptp4l_reply ts = { 0 }, cur = { 0 }, parent = { 0 }, tp = { 0 };
	int r;

	if (!p->ptp4l) {
		struct ptp4l_client_opts o = {
			.server_path = p->ptp4l_path,
			.bind_dir = p->ptp4l_bind_dir,
		};

		r = ptp4l_client_new(&o, &p->ptp4l);
		if (r < 0) {
			return r;
		}
	}
	r = ptp4l_client_get(p->ptp4l, PTP4L_MID_TIME_STATUS_NP,
			     PTP4L_TIMEOUT_MS, &ts);
	if (!r) {
		r = ptp4l_client_get(p->ptp4l, PTP4L_MID_CURRENT_DATA_SET,
				     PTP4L_TIMEOUT_MS, &cur);
	}
	if (!r) {
		r = ptp4l_client_get(p->ptp4l, PTP4L_MID_PARENT_DATA_SET,
				     PTP4L_TIMEOUT_MS, &parent);
	}
	if (!r) {
		r = ptp4l_client_get(p->ptp4l,
				     PTP4L_MID_TIME_PROPERTIES_DATA_SET,
				     PTP4L_TIMEOUT_MS, &tp);
	}
	if (r < 0) {
		/* reconnect next time: ptp4l may have restarted */
		ptp4l_client_free(p->ptp4l);
		p->ptp4l = NULL;
		return r;
	}
	if (tp.tp.flags & PTP4L_TP_UTC_OFF_VALID) {
		h->tai_utc_known = true;
		h->tai_utc_s = tp.tp.current_utc_offset_s;
		if (p->timescale == PHC_TIMESCALE_UTC) {
			phc_set_tai_utc(p->phc, h->tai_utc_s);
		}
	}
	h->leap_known = true;
	h->leap = (tp.tp.flags & PTP4L_TP_LEAP_61)   ? SOURCE_LEAP_INSERT
		  : (tp.tp.flags & PTP4L_TP_LEAP_59) ? SOURCE_LEAP_DELETE
						     : SOURCE_LEAP_NONE;
	return ptp4l_error_budget_ns(&ts.ts, &cur.cur, &parent.parent,
				     PTP4L_UNKNOWN_ACCURACY_NS, budget_ns);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int phc_poll_src(struct source *s, struct time_sample *out,
			struct source_health *h)
{
	struct source_phc *p = (struct source_phc *)s;
	uint64_t budget = 0;
	int r, pr = 0;

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
	if (pr == -ENOLINK) {
		h->state = SOURCE_DEGRADED;
		snprintf(h->text, sizeof(h->text),
			 "PHC %s (%s): ptp4l has no grandmaster", p->dev,
			 phc_method_name(phc_method(p->phc)));
	} else if (pr < 0) {
		h->state = SOURCE_DEGRADED;
		snprintf(h->text, sizeof(h->text),
			 "PHC %s (%s): ptp4l at %s unreachable: %s", p->dev,
			 phc_method_name(phc_method(p->phc)), p->ptp4l_path,
			 g_strerror(-pr));
	} else {
		out->err_ns = sat_add(out->err_ns, budget);
		h->state = SOURCE_OK;
		snprintf(h->text, sizeof(h->text), "PHC %s (%s)%s", p->dev,
			 phc_method_name(phc_method(p->phc)),
			 p->ptp4l_path ? ", ptp4l budget added" : "");
	}
	return 0;
}

const struct source_ops source_phc_ops = {
	.name = "PHC",
	.new = phc_new_src,
	.free = phc_free_src,
	.poll = phc_poll_src,
};
