// SPDX-License-Identifier: MIT
/*
 * gpsd as a time source: the receiver's PPS edges (OK) or, without PPS,
 * its NMEA time of day (TOFF, DEGRADED, with the configured bound).
 *
 * Each poll drains the messages gpsd sent since the last poll (never
 * waiting), keeps the newest TOFF, PPS and fix mode, reads the host's
 * REALTIME bracketed by MONOTONIC_RAW and converts the newest usable
 * report with gpsd_msg_to_sample(): PPS when one is fresh, else TOFF.
 * A report is used again at the next poll if no newer one came; its
 * bound then includes the longer age.
 *
 * When gpsd closes the connection (or cannot be reached), the source is
 * in ERROR and reconnects at its polls with a back-off doubling from
 * 0.5 s to 4 s. A gpsd that cannot be reached in new() (not up yet)
 * fails it, or with conf->retry_at_start starts the source that way.
 * Only gpsd's JSON stream is read (gpsd.h).
 */
#include <errno.h>
#include <glib.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "gpsd.h"
#include "source_gpsd.h"
#include "sysclock.h"
#include "time_ns.h"

#define GPSD_READS 5
/* messages taken per poll at most: gpsd sends a handful per second */
#define GPSD_MAX_MSGS 256
/* no fix report for this long: stale, ns */
#define GPSD_FIX_TIMEOUT_NS (3 * NS_PER_S)
#define BACKOFF_MIN_NS (NS_PER_S / 2)
#define BACKOFF_MAX_NS (4 * NS_PER_S)

struct source_gpsd {
	struct source base;
	struct gpsd_client *client; /* NULL while disconnected */
	struct gpsd_conv cv;
	const struct source_clock_ops *ops;
	void *ctx;
	char host[64], port[16];
	char num_host[64], num_port[16]; /* resolved once, in new() */
	char *device;			 /* NULL: every device */
	int last_err;			 /* why we are disconnected */
	uint64_t retry_at, backoff;
	struct gpsd_msg toff, pps;
	bool have_toff, have_pps;
	int mode;	  /* latest TPV's */
	uint64_t mode_at; /* counter when it came */
	bool have_mode;
	bool have_leap;
	int leap_s;
};

static const struct source_clock_ops sys_clock_ops = {
	.gettime = time_ns_sys_gettime,
};

/* Bracketed REALTIME read: the narrowest of GPSD_READS. */
static int read_now(struct source_gpsd *g, struct gpsd_now *now)
{
	struct timespec rt = { 0 };
	uint64_t width = 0;
	int r = sysclock_bracket(g->ops->gettime, g->ctx, CLOCK_REALTIME,
				 GPSD_READS, &now->raw_ns, &rt, &width);

	if (r == 0) {
		now->rt_ns = time_ns_from_ts(&rt);
		now->half_ns = width - width / 2;
	}
	return r;
}

/* "host:port", "host", "[v6]:port" or NULL into host and port. */
static int split_server(const char *server, char *host, size_t hlen, char *port,
			size_t plen)
{
	const char *colon;
	size_t n;

	snprintf(host, hlen, "%s", GPSD_DEFAULT_HOST);
	snprintf(port, plen, "%s", GPSD_DEFAULT_PORT);
	if (!server || !*server) {
		return 0;
	}
	if (server[0] == '[') {
		colon = strchr(server, ']');
		if (!colon) {
			return -EINVAL;
		}
		n = (size_t)(colon - server - 1);
		server++;
		colon = colon[1] == ':' ? colon + 1 : NULL;
	} else {
		colon = strrchr(server, ':');
		n = colon ? (size_t)(colon - server) : strlen(server);
	}
	if (n == 0 || n >= hlen ||
	    (colon && (!colon[1] || strlen(colon + 1) >= plen))) {
		return -EINVAL;
	}
	snprintf(host, hlen, "%.*s", (int)n, server);
	if (colon) {
		snprintf(port, plen, "%s", colon + 1);
	}
	return 0;
}

static void gpsd_free_src(struct source *s)
{
	struct source_gpsd *g = (struct source_gpsd *)s;

	if (!g) {
		return;
	}
	gpsd_client_free(g->client);
	g_free(g->device);
	g_free(g);
}

static void disconnect(struct source_gpsd *g, int err, uint64_t now)
{
	gpsd_client_free(g->client);
	g->client = NULL;
	g->last_err = err;
	g->have_toff = g->have_pps = g->have_mode = false;
	g->backoff = g->backoff ? MIN(2 * g->backoff, (uint64_t)BACKOFF_MAX_NS)
				: BACKOFF_MIN_NS;
	g->retry_at = now + g->backoff;
}

static void take(struct source_gpsd *g, const struct gpsd_msg *m, uint64_t now)
{
	if (g->device && m->device[0] && strcmp(m->device, g->device) != 0) {
		return;
	}
	switch (m->kind) {
	case GPSD_MSG_TOFF:
		g->toff = *m;
		g->have_toff = true;
		break;
	case GPSD_MSG_PPS:
		g->pps = *m;
		g->have_pps = true;
		break;
	case GPSD_MSG_TPV:
		g->mode = m->mode;
		g->mode_at = now;
		g->have_mode = true;
		break;
	default:
		break;
	}
	if (m->has_leap) {
		g->have_leap = true;
		g->leap_s = m->leap_s;
	}
}

/* Connect if due, then drain what gpsd sent. */
static void pump(struct source_gpsd *g, uint64_t now)
{
	struct gpsd_msg m;
	int r;

	if (!g->client) {
		if (now < g->retry_at) {
			return;
		}
		r = gpsd_client_new(g->num_host, g->num_port, g->device,
				    &g->client);
		if (r < 0) {
			disconnect(g, r, now);
			return;
		}
		g->backoff = 0;
		g->last_err = 0;
	}
	for (int i = 0; i < GPSD_MAX_MSGS; i++) {
		r = gpsd_client_read(g->client, &m);
		if (r == -EAGAIN) {
			break;
		}
		if (r == -ECONNRESET) {
			disconnect(g, r, now);
			break;
		}
		if (r == 0) {
			take(g, &m, now);
		}
	}
}

static int gpsd_new_src(const struct source_conf *conf, struct source **out,
			GError **err)
{
	static const struct source_gpsd_settings none;
	const struct source_gpsd_settings *set =
		conf->settings ? conf->settings : &none;
	struct source_gpsd *g = g_new0(struct source_gpsd, 1);
	struct gpsd_now now = { 0 };
	int r;

	g->cv.leaps = conf->leaps;
	g->cv.toff_err_ns = set->gpsd_toff_err_ns ? set->gpsd_toff_err_ns
						  : GPSD_TOFF_ERR_NS;
	g->cv.slew_ppb = GPSD_SLEW_PPB;
	g->ops = conf->clock_ops ? conf->clock_ops : &sys_clock_ops;
	g->ctx = conf->clock_ctx;
	g->device = g_strdup(set->gpsd_device);
	if (split_server(set->gpsd_server, g->host, sizeof(g->host), g->port,
			 sizeof(g->port)) < 0) {
		g_set_error(err, source_error_quark(), EINVAL,
			    "gpsd server \"%s\": not host:port",
			    set->gpsd_server);
		gpsd_free_src(&g->base);
		return -EINVAL;
	}
	/* names are resolved here only, before the privilege drop */
	r = gpsd_resolve(g->host, g->port, g->num_host, sizeof(g->num_host),
			 g->num_port, sizeof(g->num_port));
	if (r == 0) {
		r = read_now(g, &now);
	}
	if (r == 0) {
		r = gpsd_client_new(g->num_host, g->num_port, g->device,
				    &g->client);
		if (r < 0 && r != -EINVAL && conf->retry_at_start) {
			/* gpsd not up (yet): down, retried at the polls;
			 * -EINVAL (a device name we cannot send) is ours */
			disconnect(g, r, now.raw_ns);
			*out = &g->base;
			return 0;
		}
	}
	if (r < 0) {
		g_set_error(err, source_error_quark(), -r, "gpsd at %s:%s: %s",
			    g->host, g->port, g_strerror(-r));
		gpsd_free_src(&g->base);
		return r;
	}
	*out = &g->base;
	return 0;
}

static int stale(struct source_gpsd *g, struct source_health *h,
		 const char *why)
{
	h->state = SOURCE_STALE;
	snprintf(h->text, sizeof(h->text), "gpsd at %s:%s: no fix (%s)",
		 g->host, g->port, why);
	return -EAGAIN;
}

static int gpsd_poll_src(struct source *s, struct time_sample *out,
			 struct source_health *h)
{
	struct source_gpsd *g = (struct source_gpsd *)s;
	struct gpsd_now now = { 0 };
	int r;

	r = read_now(g, &now);
	if (r < 0) {
		h->state = SOURCE_ERROR;
		snprintf(h->text, sizeof(h->text), "reading clocks: %s",
			 g_strerror(-r));
		return r;
	}
	pump(g, now.raw_ns);
	if (!g->client) {
		h->state = SOURCE_ERROR;
		snprintf(h->text, sizeof(h->text),
			 "gpsd at %s:%s: unreachable (%s), retrying", g->host,
			 g->port, g_strerror(-g->last_err));
		return g->last_err;
	}
	if (g->have_leap) {
		h->tai_utc_known = true;
		h->tai_utc_s = g->leap_s + GPSD_TAI_GPS_S;
		h->leap_auth = LEAP_AUTH_GNSS;
	}
	if (!g->have_mode || now.raw_ns - g->mode_at > GPSD_FIX_TIMEOUT_NS) {
		return stale(g, h, "no report for 3 s");
	}
	if (g->mode < 2) {
		return stale(g, h, "receiver has no fix");
	}
	if (g->have_pps &&
	    gpsd_msg_to_sample(&g->pps, g->mode, &now, &g->cv, out) == 0) {
		h->state = SOURCE_OK;
		snprintf(h->text, sizeof(h->text),
			 "gpsd at %s:%s: PPS %.48s, bound %llu ns", g->host,
			 g->port, g->pps.device,
			 (unsigned long long)out->err_ns);
		return 0;
	}
	if (g->have_toff &&
	    gpsd_msg_to_sample(&g->toff, g->mode, &now, &g->cv, out) == 0) {
		h->state = SOURCE_DEGRADED;
		snprintf(h->text, sizeof(h->text),
			 "gpsd at %s:%s: no PPS: NMEA timing only, bound %llu "
			 "ms",
			 g->host, g->port,
			 (unsigned long long)(g->cv.toff_err_ns / 1000000));
		return 0;
	}
	return stale(g, h, "no fresh TOFF or PPS report");
}

/* The receiver's UTC becomes TAI through the merged table, as the
 * discipline serves it: a TAI - UTC the merge took from gpsd itself (an
 * expired file) then applies to gpsd's own samples too. */
static void source_gpsd_set_leaps(struct source *s, const struct leap_table *t)
{
	((struct source_gpsd *)s)->cv.leaps = t;
}

const struct source_ops source_gpsd_ops = {
	.name = "gpsd",
	.new = gpsd_new_src,
	.free = gpsd_free_src,
	.poll = gpsd_poll_src,
	.set_leaps = source_gpsd_set_leaps,
};

/* The keys, in the order --help and conf/ list them. */
#define GPSD_KEY(f) offsetof(struct source_gpsd_settings, f)
static const struct config_key gpsd_keys[] = {
	{
		.name = "gpsd",
		.type = CONFIG_STRING,
		.arg = "HOST:PORT",
		.help = "Use gpsd's PPS and time reports as a source "
			"(e.g. localhost:2947; default: off)",
		.offset = GPSD_KEY(gpsd_server),
	},
	{
		.name = "gpsd-device",
		.type = CONFIG_PATH,
		.arg = "DEV",
		.help = "With gpsd: only this receiver (default: any)",
		.offset = GPSD_KEY(gpsd_device),
	},
};

static unsigned int gpsd_count(const void *settings)
{
	return ((const struct source_gpsd_settings *)settings)->gpsd_server ? 1
									    : 0;
}

static int gpsd_check(const void *settings, const char *const *origin,
		      GError **err)
{
	const struct source_gpsd_settings *s = settings;

	if (s->gpsd_device && !s->gpsd_server) {
		g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "%s: only used with gpsd", origin[1]);
		return -EINVAL;
	}
	return 0;
}

const struct source_kind source_gpsd_kind = {
	.name = "gpsd",
	.plural = "gpsd sources",
	.ops = &source_gpsd_ops,
	.keys = gpsd_keys,
	.n_keys = G_N_ELEMENTS(gpsd_keys),
	.settings_size = sizeof(struct source_gpsd_settings),
	.max_sources = 1,
	.count = gpsd_count,
	.check = gpsd_check,
};
