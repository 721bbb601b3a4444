// SPDX-License-Identifier: MIT
/*
 * libvrtc 0.1's vrtc_open() and vrtc_now() (symbol version VRTC_0), for
 * programs linked before struct vrtc_options (32 bytes then) and struct
 * vrtc_time (64 bytes) grew spare room: the 0.1 layouts are the first
 * bytes of the 0.2 ones, so these copy in and out and call the 0.2 ones.
 */
#include <stddef.h>
#include <string.h>

#include "vrtc_internal.h"

struct vrtc_options_v0 {
	enum vrtc_mode mode;
	enum vrtc_timescale timescale;
	const char *page_path;
	const char *phc_path;
	uint64_t max_age_ns;
};

struct vrtc_time_v0 {
	int64_t earliest_ns, latest_ns, now_ns;
	uint64_t bound_ns;
	enum vrtc_status status;
	uint64_t age_ns, window_ns, disruption_marker;
};

_Static_assert(sizeof(struct vrtc_options_v0) == 32, "0.1 options");
_Static_assert(sizeof(struct vrtc_time_v0) == 64, "0.1 time");
_Static_assert(offsetof(struct vrtc_options, max_age_ns) ==
		       offsetof(struct vrtc_options_v0, max_age_ns),
	       "0.1 options are a prefix");
_Static_assert(offsetof(struct vrtc_time, disruption_marker) ==
		       offsetof(struct vrtc_time_v0, disruption_marker),
	       "0.1 time is a prefix");

/* exported (under their 0.1 names only, by the .symver below) */
#define COMPAT __attribute__((visibility("default")))

COMPAT int vrtc_open_v0(const struct vrtc_options_v0 *o, struct vrtc **out);
COMPAT int vrtc_now_v0(struct vrtc *v, struct vrtc_time_v0 *t);

__asm__(".symver vrtc_open_v0, vrtc_open@VRTC_0");
__asm__(".symver vrtc_now_v0, vrtc_now@VRTC_0");

int vrtc_open_v0(const struct vrtc_options_v0 *o, struct vrtc **out)
{
	struct vrtc_options n;

	if (!o) {
		return vrtc_open(NULL, out);
	}
	memset(&n, 0, sizeof(n));
	memcpy(&n, o, sizeof(*o));
	return vrtc_open(&n, out);
}

int vrtc_now_v0(struct vrtc *v, struct vrtc_time_v0 *t)
{
	struct vrtc_time n;
	int r = vrtc_now(v, t ? &n : NULL);

	if (t) {
		memcpy(t, &n, sizeof(*t));
	}
	return r;
}
