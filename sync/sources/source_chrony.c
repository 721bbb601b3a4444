// SPDX-License-Identifier: MIT
/*
 * The system clock disciplined by chronyd as a source.
 *
 * Each poll reads CLOCK_REALTIME bracketed by two CLOCK_MONOTONIC_RAW
 * reads, CHRONY_READS times, keeping the narrowest bracket; REALTIME is
 * turned into TAI with the leap table. The sample's err_ns is
 * chrony_bound_ns() of the latest TRACKING reply, aged to the read, with
 * half the bracket as the read error.
 *
 * chronyd is asked without blocking: each poll first takes the replies
 * that came since the last poll, then sends the next request. The reply
 * used is therefore up to one interval old; chrony_bound_ns() ages it
 * (max drift times the time since chronyd's last update), so the bound
 * still holds. Only the very first request (in new()) waits, up to
 * CHRONY_FIRST_TIMEOUT_MS, so the first samples can be taken at once.
 * If chronyd does not answer it (not up yet), new() fails, or with
 * conf->retry_at_start the source starts without a reply (STALE, "not
 * reached yet") and opens its client at every poll, as after a socket
 * error, until chronyd answers.
 *
 * Each poll drains at most CHRONY_DRAIN_MAX queued datagrams: a flood of
 * bad ones cannot starve the good reply for more than a poll or two, nor
 * keep the main loop reading. Stale and malformed datagrams are dropped
 * (the poll says DEGRADED with the reason); a socket error (chronyd
 * gone: its socket closed, or restarted on a new socket at the same
 * path) drops our client, which is opened again at the next poll, so a
 * restarted chronyd is found again without restarting the daemon. After
 * the privilege drop our end can no longer be bound in chronyd's run
 * directory; the client is then opened on chronyd's loopback UDP
 * command port (the chrony-port key) instead (TRACKING is a monitoring
 * command, answered there to any user).
 *
 * Health, as time passes without a fresh TRACKING reply:
 *   OK        the last request was answered (or only one went unanswered)
 *   DEGRADED  CHRONY_DEGRADED_MISSES polls in a row sent a request that
 *             got no good reply, or the last datagram was rejected, or
 *             chronyd is unreachable; the sample still comes from the
 *             last good reply, its bound aged by chrony_bound_ns()
 *   STALE     the last good reply arrived over CHRONY_STALE_NS ago: no
 *             sample (-EAGAIN)
 * Before, a silent chronyd stayed OK for the whole 16 s; two missed
 * answers are enough to say something is wrong, and the aged bound
 * keeps the samples honest until the reply is too old to use.
 */
#include <errno.h>
#include <glib.h>
#include <stddef.h>
#include <stdio.h>

#include "chrony.h"
#include "source_chrony.h"
#include "sysclock.h"
#include "time_ns.h"

#define CHRONY_READS 5
#define CHRONY_FIRST_TIMEOUT_MS 1000
#define CHRONY_DEFAULT_DRIFT_PPB 1000
/* a TRACKING reply older than this is stale, ns */
#define CHRONY_STALE_NS (16 * NS_PER_S)
/* datagrams read per poll, at most */
#define CHRONY_DRAIN_MAX 64
/* polls in a row whose request went unanswered before DEGRADED */
#define CHRONY_DEGRADED_MISSES 2

struct source_chrony {
	struct source base;
	struct chrony_client *client;
	const struct leap_table *leaps;
	const struct source_clock_ops *ops;
	void *ctx;
	uint32_t drift_ppb;
	char path[108];
	char *run_dir;	     /* for opening the client again */
	bool outstanding;    /* a request was sent and not answered yet */
	unsigned int misses; /* polls in a row without a good reply */
	bool have_tracking;
	struct chrony_tracking t;
	uint64_t t_counter; /* counter when @t arrived */
	int last_err;	    /* last client error, 0 if none */
	uint16_t udp_port;  /* reopen over UDP if the Unix socket fails */
	bool via_udp;	    /* the client is the UDP fallback */
	bool answered;	    /* this client has had a good reply */
	int unix_err;	    /* why the socket did not open last time, or 0 */
};

static const struct source_clock_ops sys_clock_ops = {
	.gettime = time_ns_sys_gettime,
};

static void chrony_free_src(struct source *s)
{
	struct source_chrony *c = (struct source_chrony *)s;

	if (!c) {
		return;
	}
	chrony_client_free(c->client);
	g_free(c->run_dir);
	g_free(c);
}

static int read_counter(struct source_chrony *c, uint64_t *now)
{
	struct timespec ts;

	if (c->ops->gettime(c->ctx, CLOCK_MONOTONIC_RAW, &ts) < 0) {
		return errno > 0 ? -errno : -EIO;
	}
	*now = (uint64_t)time_ns_from_ts(&ts);
	return 0;
}

/* The socket failed: drop the client, open it again at the next poll. */
static void drop_client(struct source_chrony *c, int err)
{
	chrony_client_free(c->client);
	c->client = NULL;
	c->outstanding = false;
	c->last_err = err;
}

static int open_client(struct source_chrony *c)
{
	struct chrony_client_conf cc = {
		.socket_path = c->path,
		.run_dir = c->run_dir,
	};
	struct chrony_client_conf udp = {
		.host = "127.0.0.1",
		.port = c->udp_port,
	};
	int r;

	c->outstanding = false;
	c->answered = false;
	r = chrony_client_new(&cc, &c->client);
	c->unix_err = r;
	if (r < 0 && c->udp_port) {
		/*
		 * Reopening after the privilege drop: our end can no longer
		 * be bound where chronyd replies (its run directory is
		 * root's and chronyd's). TRACKING is a monitoring command,
		 * which chronyd also answers on its loopback UDP port.
		 */
		r = chrony_client_new(&udp, &c->client);
		c->via_udp = r == 0;
	} else {
		c->via_udp = false;
	}
	return r;
}

static int chrony_new_src(const struct source_conf *conf, struct source **out,
			  GError **err)
{
	static const struct source_chrony_settings none;
	const struct source_chrony_settings *set =
		conf->settings ? conf->settings : &none;
	struct source_chrony *c = g_new0(struct source_chrony, 1);
	int r;

	c->leaps = conf->leaps;
	c->ops = conf->clock_ops ? conf->clock_ops : &sys_clock_ops;
	c->ctx = conf->clock_ctx;
	c->drift_ppb =
		conf->drift_ppb ? conf->drift_ppb : CHRONY_DEFAULT_DRIFT_PPB;
	snprintf(c->path, sizeof(c->path), "%s",
		 set->chrony_socket ? set->chrony_socket
				    : CHRONY_DEFAULT_SOCKET);
	if (set->chrony_run_dir) {
		c->run_dir = g_strdup(set->chrony_run_dir);
	} else if (set->chrony_socket) {
		/* chronyd reaches its own socket's directory */
		c->run_dir = g_path_get_dirname(set->chrony_socket);
	}
	r = open_client(c);
	if (r == 0) {
		r = chrony_client_query(c->client, CHRONY_FIRST_TIMEOUT_MS,
					&c->t);
		c->answered = r == 0;
		if (r < 0 && !conf->retry_at_start) {
			g_set_error(err, source_error_quark(), -r,
				    "chronyd at %s: TRACKING: %s", c->path,
				    g_strerror(-r));
		}
	} else if (!conf->retry_at_start) {
		g_set_error(err, source_error_quark(), -r,
			    "chronyd socket %s: %s", c->path, g_strerror(-r));
	}
	c->udp_port = (uint16_t)set->chrony_port;
	if (r < 0 && conf->retry_at_start) {
		/* chronyd not up (yet): down, asked again at every poll */
		drop_client(c, r);
		*out = &c->base;
		return 0;
	}
	if (r < 0) {
		chrony_free_src(&c->base);
		return r;
	}
	c->have_tracking = true;
	r = read_counter(c, &c->t_counter);
	if (r < 0) {
		g_set_error(err, source_error_quark(), -r, "reading clocks: %s",
			    g_strerror(-r));
		chrony_free_src(&c->base);
		return r;
	}
	*out = &c->base;
	return 0;
}

/* Take the replies that came (bounded), then ask again. */
static void refresh_tracking(struct source_chrony *c)
{
	struct chrony_tracking t;
	bool fresh = false;
	int r, bad = 0;

	if (!c->client) {
		r = open_client(c);
		if (r < 0) {
			c->client = NULL;
			c->last_err = r;
			c->misses++;
			return;
		}
	}
	for (int n = 0; n < CHRONY_DRAIN_MAX; n++) {
		r = chrony_client_receive(c->client, &t);
		if (r == 0) {
			c->t = t;
			c->have_tracking = true;
			c->answered = true;
			fresh = true;
			bad = 0;
			read_counter(c, &c->t_counter);
		} else if (r == -EAGAIN) {
			break;
		} else if (r == -ESTALE) {
			continue; /* a late answer to an earlier request */
		} else if (chrony_reply_skippable(r) || r == -EACCES ||
			   r == -EREMOTEIO) {
			bad = r; /* rejected; the good reply may follow */
		} else {
			drop_client(c, r);
			c->misses++;
			return;
		}
	}
	if (fresh) {
		c->misses = 0;
		c->outstanding = false;
	} else if (c->outstanding) {
		c->misses++;
	}
	c->last_err = bad;
	r = chrony_client_send(c->client, 0);
	if (r == 0) {
		c->outstanding = true;
	} else if (r == -EAGAIN) {
		c->last_err = r;
	} else {
		drop_client(c, r);
	}
}

/* Bracketed REALTIME read: counter midpoint, REALTIME, half-window. */
static int read_realtime(struct source_chrony *c, uint64_t *counter,
			 struct timespec *rt, uint64_t *half_ns)
{
	uint64_t width = 0;
	int r = sysclock_bracket(c->ops->gettime, c->ctx, CLOCK_REALTIME,
				 CHRONY_READS, counter, rt, &width);

	if (r == 0) {
		*half_ns = width - width / 2 + 1;
	}
	return r;
}

static int chrony_poll_src(struct source *s, struct time_sample *out,
			   struct source_health *h)
{
	struct source_chrony *c = (struct source_chrony *)s;
	struct timespec rt = { 0 };
	uint64_t counter = 0, half = 0, bound = 0;
	int64_t utc_s;
	int32_t dtai;
	int r;

	refresh_tracking(c);
	r = read_realtime(c, &counter, &rt, &half);
	if (r < 0) {
		h->state = SOURCE_ERROR;
		snprintf(h->text, sizeof(h->text), "reading clocks: %s",
			 g_strerror(-r));
		return r;
	}
	if (!c->have_tracking) {
		/* not reached since start (source-start=retry) */
		int why = c->last_err ? c->last_err : c->unix_err;

		h->state = SOURCE_STALE;
		g_snprintf(h->text, sizeof(h->text),
			   "chronyd at %s: not reached yet%s%s; asking again "
			   "every poll",
			   c->path, why ? ": " : "",
			   why ? g_strerror(-why) : "");
		return -EAGAIN;
	}
	if (counter - c->t_counter > CHRONY_STALE_NS) {
		h->state = SOURCE_STALE;
		snprintf(h->text, sizeof(h->text),
			 "chronyd at %s: no recent TRACKING reply%s%s", c->path,
			 c->last_err ? ": " : "",
			 c->last_err ? g_strerror(-c->last_err) : "");
		return -EAGAIN;
	}
	h->leap_known = c->t.leap_status != CHRONY_LEAP_UNSYNC;
	h->leap_auth = h->leap_known ? LEAP_AUTH_NTP : LEAP_AUTH_NONE;
	h->leap = c->t.leap_status == CHRONY_LEAP_INSERT   ? SOURCE_LEAP_INSERT
		  : c->t.leap_status == CHRONY_LEAP_DELETE ? SOURCE_LEAP_DELETE
							   : SOURCE_LEAP_NONE;
	r = chrony_bound_ns(&c->t, &rt, c->drift_ppb, half, &bound);
	if (r < 0) {
		h->state = SOURCE_ERROR;
		snprintf(h->text, sizeof(h->text), "chronyd at %s: %s", c->path,
			 r == -ENODATA ? "not synchronised"
				       : "bound out of range");
		return r;
	}
	utc_s = rt.tv_sec;
	dtai = leap_dtai_at_utc(c->leaps, utc_s);
	out->counter = counter;
	out->tai_ns = time_ns_from_ts(&rt) + (int64_t)dtai * NS_PER_S;
	out->window_ns = 2 * half;
	out->err_ns = bound;
	/* a client that has not answered yet (reopened after the socket
	 * failed, perhaps to another address) vouches for nothing */
	h->state = c->last_err || c->misses >= CHRONY_DEGRADED_MISSES ||
				   !c->answered
			   ? SOURCE_DEGRADED
			   : SOURCE_OK;
	if (c->last_err) {
		snprintf(h->text, sizeof(h->text),
			 "chronyd at %s: stratum %u, bound %llu ns, last "
			 "query: %s",
			 c->path, c->t.stratum, (unsigned long long)bound,
			 g_strerror(-c->last_err));
	} else if (c->misses >= CHRONY_DEGRADED_MISSES) {
		g_snprintf(h->text, sizeof(h->text),
			   "chronyd at %s: stratum %u, bound %llu ns, no reply "
			   "to the last %u requests",
			   c->path, c->t.stratum, (unsigned long long)bound,
			   c->misses);
	} else if (!c->answered) {
		g_snprintf(h->text, sizeof(h->text),
			   "chronyd at %s: stratum %u, bound %llu ns, from its "
			   "last answer: no answer yet since reopening",
			   c->via_udp ? "127.0.0.1 (UDP)" : c->path,
			   c->t.stratum, (unsigned long long)bound);
	} else {
		snprintf(h->text, sizeof(h->text),
			 "chronyd at %s: stratum %u, bound %llu ns",
			 c->via_udp ? "127.0.0.1 (UDP)" : c->path, c->t.stratum,
			 (unsigned long long)bound);
	}
	return 0;
}

static void source_chrony_set_leaps(struct source *s,
				    const struct leap_table *t)
{
	((struct source_chrony *)s)->leaps = t;
}

const struct source_ops source_chrony_ops = {
	.name = "chronyd",
	.new = chrony_new_src,
	.free = chrony_free_src,
	.poll = chrony_poll_src,
	.set_leaps = source_chrony_set_leaps,
};

/* The keys, in the order --help and conf/ list them. */
#define CHRONY_KEY(f) offsetof(struct source_chrony_settings, f)
static const struct config_key chrony_keys[] = {
	{
		.name = "chrony",
		.type = CONFIG_ONOFF,
		.def = "off",
		.choices = "off|on",
		.flag_value = "on",
		.arg = "on|off",
		.help = "Use the system clock as chronyd disciplines it as a "
			"source (--chrony alone: on)",
		.offset = CHRONY_KEY(on),
	},
	{
		.name = "chrony-socket",
		.type = CONFIG_PATH,
		.def = CHRONY_DEFAULT_SOCKET,
		.arg = "PATH",
		.help = "chronyd's command socket",
		.offset = CHRONY_KEY(chrony_socket),
	},
	{
		.name = "chrony-port",
		.type = CONFIG_UINT,
		.def = "323",
		.min = 0,
		.max = 65535,
		.arg = "PORT",
		.help = "chronyd's loopback UDP command port, used when the "
			"command socket cannot be reopened after the "
			"privilege drop (0: never)",
		.offset = CHRONY_KEY(chrony_port),
	},
};

static unsigned int chrony_count(const void *settings)
{
	return ((const struct source_chrony_settings *)settings)->on ? 1 : 0;
}

const struct source_kind source_chrony_kind = {
	.name = "chrony",
	.plural = "chronyd sources",
	.ops = &source_chrony_ops,
	.keys = chrony_keys,
	.n_keys = G_N_ELEMENTS(chrony_keys),
	.settings_size = sizeof(struct source_chrony_settings),
	.max_sources = 1,
	.count = chrony_count,
};
