/* SPDX-License-Identifier: MIT */
/*
 * The guest agent's model (vrtc-agent): the guest's own counter
 * (CLOCK_MONOTONIC_RAW ns, read through the vDSO) calibrated against the
 * served TAI PHC, with a worst-case bound. Pure functions of their
 * arguments: no system call, no clock, no file (tests/unit/
 * test_agent_model.c drives it with a simulated guest).
 *
 * One calibration k gives the served TAI T_k, read somewhere in the
 * counter window c_k +- h_k (the narrowest of N PTP_SYS_OFFSET_EXTENDED
 * samples), and the host page's bound B_k at that instant. Then
 *
 *   TAI(c)  = T_k + p * (c - c_k)
 *   bound   = B_k + h_k (1 + a) + 2 ns + (rho_h + u + w) * (c - c_k)
 *
 * p: the served time's rate against the counter, from the oldest and the
 * newest calibration of the current epoch (at most cfg.span apart);
 * u: its uncertainty, (h_old + h_new) / span; rho_h: the largest host
 * page rate bound over the span (the served rate differs from the true
 * one by at most that, so their means over the span do too); w: the
 * configured wander allowance (how far the counter's rate may stray
 * from its mean over the span); a: the a-priori rate bound. With one
 * calibration p = 1 and u = a.
 *
 * Every calibration k is first checked against the line: from each
 * calibration j of the span, the served time may differ from the line's
 * prediction by h_j + h_k + (rate + w + rho_h) * (c_k - c_j) + 2 ns,
 * rate the line's rho_h + u + w. A miss means the counter jumped or
 * changed rate (a migration), or the served time moved; so does a
 * changed host disruption marker (a daemon restart, a model step) or a
 * counter that went backwards. Each restarts the model from this
 * calibration alone (a new epoch, status INITIALIZING). A miss against
 * a line of one calibration (the a-priori rate) only counts: the second
 * calibration is what measures the rate.
 */
#ifndef AGENT_MODEL_H
#define AGENT_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "vmclock_wire.h"

/* The counter_period_shift of the agent's page, as the daemon's. */
#define GM_PERIOD_SHIFT 24
/* Calibrations kept for the rate (the longest span). */
#define GM_MAX_SPAN 256

struct gm_config {
	uint64_t apriori_ppb; /* |counter rate - 1| before an estimate */
	uint64_t wander_ppb;  /* the counter's rate may stray this far */
	unsigned int settle;  /* calibrations of an epoch before its status
				 follows the host's (>= 2) */
	unsigned int span;    /* calibrations in the rate's span (2 to
				 GM_MAX_SPAN) */
};

/* The defaults: 1000 ppm a priori, 1 ppm wander, 4 to settle, 64. */
void gm_config_default(struct gm_config *c);

/* One calibration. */
struct gm_cal {
	uint64_t c_ns;		/* counter at the middle of the read window */
	uint64_t half_ns;	/* the PHC was read within c_ns +- half_ns */
	int64_t tai_ns;		/* the served TAI read */
	uint64_t host_bound_ns; /* the host page's bound at that reading */
	uint64_t host_rate_ppb; /* the host page's rate bound */
	/* the host page it was read against (status, marker, leap
	 * fields are carried over to the agent's page) */
	struct vmclock_abi host;
};

/* What a calibration did to the model. */
enum gm_event {
	GM_FIRST = 0,	/* the first of an epoch after a start */
	GM_OK,		/* agreed with the prediction */
	GM_MISS,	/* disagreed: counter jump or rate change */
	GM_HOST_MARKER, /* the host page's disruption marker changed */
	GM_BACKWARDS,	/* the counter went backwards */
};

struct gm {
	struct gm_config cfg;
	struct gm_cal cal[GM_MAX_SPAN]; /* ring of the current epoch */
	unsigned int head, n;		/* newest at head; n held */
	uint64_t epoch;			/* restarts, from 0 */
	uint64_t calibrations, misses;
	/* the line from the newest calibration */
	uint64_t period_frac;	 /* TAI per counter ns, 2^-(64+shift) s */
	uint64_t rate_ppb;	 /* rho_h + u + w */
	uint64_t host_max_ppb;	 /* rho_h: the span's largest host rate */
	uint64_t maxerr_ns;	 /* the bound at c_k */
	int64_t last_resid_ns;	 /* the newest calibration's prediction miss */
	uint64_t last_thresh_ns; /* and what it was allowed */
};

/* An empty model (no calibration yet). @c NULL: the defaults. */
void gm_init(struct gm *m, const struct gm_config *c);

/*
 * gm_host_rate_ppb() - the host page's rate bound in ppb (ns per s),
 * rounded up; UINT64_MAX beyond 1 s/s or for a page without a period.
 */
uint64_t gm_host_rate_ppb(const struct vmclock_abi *host);

/*
 * gm_calibrate() - take calibration @k into the model. Returns what it
 * did (enum gm_event); the model then holds the line from @k.
 */
enum gm_event gm_calibrate(struct gm *m, const struct gm_cal *k);

/*
 * gm_status() - the agent's status: the host's when it is not
 * SYNCHRONIZED, else INITIALIZING until the epoch has cfg.settle
 * calibrations, then SYNCHRONIZED. Never better than the host's.
 */
uint8_t gm_status(const struct gm *m);

/*
 * gm_page() - the agent's page of the model in host byte order (no
 * seq_count), in the vmclock-ABI layout libvrtc's host mode reads:
 * counter = the guest's CLOCK_MONOTONIC_RAW ns (counter_id INVALID),
 * time_type TAI, bound and rate as above, status gm_status(); leap and
 * TAI-offset fields from the host page; disruption_marker from the
 * host's and the epoch (so that it changes at every restart).
 * Before any calibration: a page with status UNKNOWN and no bound.
 */
void gm_page(const struct gm *m, struct vmclock_abi *f);

/* The newest calibration, NULL before any. */
const struct gm_cal *gm_newest(const struct gm *m);

#endif /* AGENT_MODEL_H */
