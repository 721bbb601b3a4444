/* SPDX-License-Identifier: MIT */
/*
 * libvrtc and the guest agent (vrtc-agent, src/tools/agent/): the
 * agent's page, a guest-local vmclock page on the guest's own
 * CLOCK_MONOTONIC_RAW, which libvrtc reads as it reads the daemon's
 * page on a host (no system call per reading). Not installed.
 */
#ifndef LIBVRTC_VRTC_AGENT_H
#define LIBVRTC_VRTC_AGENT_H

#include <stddef.h>

#include "vrtc.h"

/* The agent's page when $VRTC_AGENT_PAGE is unset. */
#define VRTC_AGENT_DEFAULT_PAGE "/run/vrtc-agent/vmclock"

/* $VRTC_AGENT_PAGE, or the default when unset; NULL when set empty
 * (PHC mode only). */
const char *vrtc_agent_page(void);

/*
 * vrtc_agent_open() - guest mode through the agent's page: a handle in
 * host mode on that page, if it exists, passes host mode's checks and
 * gives a reading now. 0 with *@out set, or a negative errno (then use
 * PHC mode).
 */
int vrtc_agent_open(const struct vrtc_options *o, struct vrtc **out);

/*
 * vrtc_guest_handles() - the host page mapping and the PHC of a handle
 * in PHC (guest) mode, for the agent. 0, or -EINVAL for another mode.
 */
int vrtc_guest_handles(const struct vrtc *v, const void **map, size_t *len,
		       int *phc_fd);

#endif /* LIBVRTC_VRTC_AGENT_H */
