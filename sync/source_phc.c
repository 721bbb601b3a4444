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
 * into the health. When a set is older than PTP4L_STALE_POLLS polls, or
 * ptp4l cannot be reached, the PHC keeps being served, degraded: its
 * samples then carry only the read error, since nothing says how well
 * ptp4l disciplines it. A currentUtcOffset outside 0..1000 s makes
 * ptp4l's answers unusable in the same way (DEGRADED, nothing passed on).
 * ptp4l restarting: the send to its old socket fails, the client is
 * dropped and opened again at the next poll (DEGRADED meanwhile).
 * A failing read (the device erring, or gone: ENODEV) is SOURCE_ERROR
 * naming the device; phc_read() probes the methods again each time, so
 * the source recovers by itself when reads work again.
 */
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

#include "ptp4l.h"
#include "source.h"

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
	unsigned int next; /* index of the next set to ask for */
	int outstanding;   /* index asked and not answered, or -1 */
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
	p->outstanding = -1;
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
	} else if (pr == -ERANGE) {
		h->state = SOURCE_DEGRADED;
		snprintf(h->text, sizeof(h->text),
			 "PHC %s (%s): ptp4l's currentUtcOffset %d s is absurd",
			 p->dev, phc_method_name(phc_method(p->phc)),
			 p->cache[3].tp.current_utc_offset_s);
	} else if (pr == -ETIMEDOUT) {
		h->state = SOURCE_DEGRADED;
		snprintf(h->text, sizeof(h->text),
			 "PHC %s (%s): no recent answer from ptp4l at %s",
			 p->dev, phc_method_name(phc_method(p->phc)),
			 p->ptp4l_path);
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
