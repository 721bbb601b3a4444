// SPDX-License-Identifier: MIT
/*
 * vrtc-agent: one poll (see agent.h). No system call of its own: all
 * I/O goes through the ops.
 */
#include <errno.h>
#include <string.h>

#include "agent.h"
#include "vrtc_page.h"

void agent_init(struct agent *a, const struct agent_ops *ops, void *ctx,
		const struct gm_config *c)
{
	memset(a, 0, sizeof(*a));
	a->ops = ops;
	a->ctx = ctx;
	a->samples = AGENT_DEFAULT_SAMPLES;
	a->max_age_ns = VRTC_DEFAULT_MAX_AGE_NS;
	gm_init(&a->model, c);
}

/* UNKNOWN, and a model that starts over. */
static int publish_unknown(struct agent *a)
{
	struct vmclock_abi f;
	struct gm_config c = a->model.cfg;
	uint64_t epoch = a->model.epoch;

	gm_init(&a->model, &c);
	a->model.epoch = epoch + 1;
	gm_page(&a->model, &f);
	return a->ops->publish(a->ctx, &f);
}

int agent_step(struct agent *a)
{
	struct agent_sample s;
	struct vrtc_time t;
	struct gm_cal k;
	struct vmclock_abi f;
	int r;

	a->polls++;
	memset(&s, 0, sizeof(s));
	r = a->ops->read(a->ctx, a->samples, &s);
	if (!r && s.post_ns < s.pre_ns) {
		r = -EIO;
	}
	if (r) {
		a->read_errors++;
		a->last_err = r;
		return r;
	}
	/* the host page's bound at the PHC reading, as PHC mode has it */
	if (s.host.time_type != VMCLOCK_TIME_TAI ||
	    vrtc_page_guest(&s.host, s.phc_ns, 0, a->max_age_ns,
			    VRTC_TIMESCALE_TAI, &t)) {
		a->host_unusable++;
		a->last_err = -ENODATA;
		r = publish_unknown(a);
		if (r) {
			a->publish_errors++;
			return r;
		}
		return -ENODATA;
	}
	memset(&k, 0, sizeof(k));
	k.half_ns = (s.post_ns - s.pre_ns + 1) / 2;
	k.c_ns = s.pre_ns + (s.post_ns - s.pre_ns) / 2;
	k.tai_ns = s.phc_ns;
	k.host_bound_ns = t.bound_ns;
	k.host_rate_ppb = gm_host_rate_ppb(&s.host);
	k.host = s.host;
	a->last_event = gm_calibrate(&a->model, &k);
	a->events[a->last_event]++;
	gm_page(&a->model, &f);
	r = a->ops->publish(a->ctx, &f);
	if (r) {
		a->publish_errors++;
	}
	a->last_err = r;
	return r;
}

int agent_retire(struct agent *a)
{
	return publish_unknown(a);
}
