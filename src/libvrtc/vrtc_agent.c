// SPDX-License-Identifier: MIT
/*
 * libvrtc's side of the guest agent: find and open its page (see
 * vrtc_agent.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "vrtc_agent.h"
#include "vrtc_internal.h"

const char *vrtc_agent_page(void)
{
	const char *p = getenv("VRTC_AGENT_PAGE");

	if (!p) {
		return VRTC_AGENT_DEFAULT_PAGE;
	}
	return *p ? p : NULL;
}

int vrtc_agent_open(const struct vrtc_options *o, struct vrtc **out)
{
	struct vrtc_options h = *o;
	struct vrtc_time t;
	struct vrtc *v;
	int r;

	h.mode = VRTC_MODE_HOST;
	h.page_path = vrtc_agent_page();
	h.phc_path = NULL;
	if (!h.page_path) {
		return -ENOENT;
	}
	r = vrtc_open(&h, &v);
	if (r) {
		return r;
	}
	/* an agent that is gone or has no bound yet: PHC mode instead */
	r = vrtc_now(v, &t);
	if (r) {
		vrtc_close(v);
		return r;
	}
	*out = v;
	return 0;
}

int vrtc_guest_handles(const struct vrtc *v, const void **map, size_t *len,
		       int *phc_fd)
{
	if (v->mode != VRTC_MODE_GUEST || v->phc_fd < 0) {
		return -EINVAL;
	}
	*map = v->map;
	*len = v->len;
	*phc_fd = v->phc_fd;
	return 0;
}
