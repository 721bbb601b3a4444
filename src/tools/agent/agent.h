/* SPDX-License-Identifier: MIT */
/*
 * vrtc-agent: one poll of the guest agent (calibrate, check, publish),
 * behind an ops table so that the unit tests drive it with a fake PHC
 * and page (tests/unit/test_agent.c); agent_io.c has the real ones
 * (PTP_SYS_OFFSET_EXTENDED, the ivshmem page, the page file).
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stdint.h>

#include "model.h"
#include "vmclock_wire.h"

/* PHC samples per calibration: the narrowest is used. */
#define AGENT_DEFAULT_SAMPLES 8
#define AGENT_MAX_SAMPLES 25 /* PTP_MAX_SAMPLES */

/* One calibration reading. */
struct agent_sample {
	struct vmclock_abi host;  /* the host page (host byte order), the
				     same before and after the PHC read */
	int64_t phc_ns;		  /* the served TAI PHC */
	uint64_t pre_ns, post_ns; /* CLOCK_MONOTONIC_RAW around it */
};

struct agent_ops {
	/* The host page and the narrowest of @n PHC samples. 0, or
	 * -errno (nothing read). */
	int (*read)(void *ctx, unsigned int n, struct agent_sample *s);
	/* Publish @f (host byte order, seq_count ignored). 0 or -errno. */
	int (*publish)(void *ctx, const struct vmclock_abi *f);
};

struct agent {
	const struct agent_ops *ops;
	void *ctx;
	struct gm model;
	unsigned int samples;
	uint64_t max_age_ns; /* host page older than this: unusable */
	/* counts */
	uint64_t polls, read_errors, host_unusable, publish_errors;
	uint64_t events[GM_BACKWARDS + 1];
	int last_err;
	enum gm_event last_event;
};

/* @a with the model's config @c (NULL: defaults). */
void agent_init(struct agent *a, const struct agent_ops *ops, void *ctx,
		const struct gm_config *c);

/*
 * agent_step() - one poll: read, calibrate, publish. Returns 0 when a
 * model was published; -errno of the read (nothing published, the last
 * page stays and its bound keeps growing); -ENODATA when the host page
 * has no usable bound (the agent's page then says UNKNOWN, and the
 * model starts over when the host page is back); -errno of publish.
 */
int agent_step(struct agent *a);

/* The page saying UNKNOWN, for an agent that exits. */
int agent_retire(struct agent *a);

#endif /* AGENT_AGENT_H */
