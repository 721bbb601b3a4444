// SPDX-License-Identifier: MIT
/*
 * The system clock as a source: the fallback when nothing better is
 * configured or answering, and the only source on hosts without a PHC.
 *
 * Each poll is one sysclock_read(): counter = the bracket midpoint, TAI =
 * REALTIME + the kernel's TAI offset when set, else the leap table's.
 * The sample's err_ns is half the bracket + the kernel's maxerror (its
 * own bound on the clock; 16 s when unsynchronised) + 1 ns for the
 * integer microseconds of maxerror. Health: OK while the kernel says
 * synchronised, DEGRADED with STA_UNSYNC; the leap view is the kernel's
 * (STA_INS, STA_DEL, the TAI offset when set), LEAP_AUTH_KERNEL.
 */
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <sys/timex.h>

#include "source_sysclock.h"
#include "sysclock.h"

struct source_sysclock {
	struct source base;
	const struct leap_table *leaps;
	const struct source_clock_ops *clock_ops; /* NULL: the real ones */
	int (*adjtime)(void *ctx, struct timex *tx);
	void *ctx;
	struct sysclock_ops ops; /* trampolines to the above */
};

static int tr_gettime(void *ctx, clockid_t clk, struct timespec *ts)
{
	struct source_sysclock *c = ctx;

	if (!c->clock_ops) {
		return sysclock_sys_ops.gettime(NULL, clk, ts);
	}
	return c->clock_ops->gettime(c->ctx, clk, ts);
}

static int tr_adjtime(void *ctx, struct timex *tx)
{
	struct source_sysclock *c = ctx;

	if (!c->adjtime) {
		return sysclock_sys_ops.adjtime(NULL, tx);
	}
	tx->modes = 0;
	return c->adjtime(c->ctx, tx);
}

static int sysclock_new_src(const struct source_conf *conf, struct source **out,
			    GError **err)
{
	const struct source_sysclock_settings *set = conf->settings;
	struct source_sysclock *c = g_new0(struct source_sysclock, 1);
	struct sysclock_reading r;
	int ret;

	c->leaps = conf->leaps;
	c->clock_ops = conf->clock_ops;
	c->adjtime = set ? set->sysclock_adjtime : NULL;
	c->ctx = conf->clock_ctx;
	c->ops.gettime = tr_gettime;
	c->ops.adjtime = tr_adjtime;
	ret = sysclock_read(&c->ops, c, c->leaps, &r);
	if (ret < 0) {
		g_set_error(err, source_error_quark(), -ret,
			    "system clock: reading clocks: %s",
			    g_strerror(-ret));
		g_free(c);
		return ret;
	}
	*out = &c->base;
	return 0;
}

static void sysclock_free_src(struct source *s)
{
	g_free(s);
}

static void leap_view(const struct sysclock_reading *r, struct source_health *h)
{
	if (r->state < 0) {
		return;
	}
	h->leap_auth = LEAP_AUTH_KERNEL;
	h->leap_known = true;
	h->leap = (r->tx.status & STA_INS)   ? SOURCE_LEAP_INSERT
		  : (r->tx.status & STA_DEL) ? SOURCE_LEAP_DELETE
					     : SOURCE_LEAP_NONE;
	if (r->tx.tai > 0) {
		h->tai_utc_known = true;
		h->tai_utc_s = r->tx.tai;
	}
}

static int sysclock_poll_src(struct source *s, struct time_sample *out,
			     struct source_health *h)
{
	struct source_sysclock *c = (struct source_sysclock *)s;
	struct sysclock_reading r;
	uint64_t maxerr;
	int ret;

	ret = sysclock_read(&c->ops, c, c->leaps, &r);
	if (ret < 0) {
		h->state = SOURCE_ERROR;
		snprintf(h->text, sizeof(h->text), "reading clocks: %s",
			 g_strerror(-ret));
		return ret;
	}
	maxerr = sysclock_maxerr_ns(&r);
	out->counter = r.counter;
	out->tai_ns = r.tai_ns;
	out->window_ns = 2 * r.half_ns;
	out->err_ns = r.half_ns + maxerr + 1;
	leap_view(&r, h);
	if (r.state < 0) {
		h->state = SOURCE_DEGRADED;
		snprintf(h->text, sizeof(h->text),
			 "adjtimex: %s; maxerror taken as 16 s",
			 g_strerror(r.adj_errno));
	} else if (!sysclock_synced(&r)) {
		h->state = SOURCE_DEGRADED;
		snprintf(h->text, sizeof(h->text),
			 "kernel clock unsynchronised, maxerror 16 s");
	} else {
		h->state = SOURCE_OK;
		snprintf(h->text, sizeof(h->text),
			 "kernel clock synchronised, maxerror %llu us, "
			 "TAI-UTC %d s (%s)",
			 (unsigned long long)(maxerr / 1000), r.dtai,
			 r.dtai_kernel ? "kernel" : "leap table");
	}
	return 0;
}

static void source_sysclock_set_leaps(struct source *s,
				      const struct leap_table *t)
{
	((struct source_sysclock *)s)->leaps = t;
}

const struct source_ops source_sysclock_ops = {
	.name = "system clock",
	.new = sysclock_new_src,
	.free = sysclock_free_src,
	.poll = sysclock_poll_src,
	.set_leaps = source_sysclock_set_leaps,
};

/* The key, as --help and conf/ list it. */
static const struct config_key sysclock_keys[] = {
	{
		.name = "system-clock",
		.type = CONFIG_ONOFF,
		.def = "on",
		.choices = "on|off",
		.arg = "on|off",
		.help = "Add the system clock (adjtimex) as the last, "
			"fallback source",
		.offset = offsetof(struct source_sysclock_settings, on),
	},
};

static unsigned int sysclock_count(const void *settings)
{
	return ((const struct source_sysclock_settings *)settings)->on ? 1 : 0;
}

const struct source_kind source_sysclock_kind = {
	.name = "system-clock",
	.plural = "system clocks",
	.ops = &source_sysclock_ops,
	.keys = sysclock_keys,
	.n_keys = G_N_ELEMENTS(sysclock_keys),
	.settings_size = sizeof(struct source_sysclock_settings),
	.max_sources = 1,
	.count = sysclock_count,
};
