// SPDX-License-Identifier: MIT
/* A program linked with libvrtc.a (-static): reads PAGE once. */
#include <stdio.h>

#include "vrtc.h"

int main(int argc, char **argv)
{
	struct vrtc_options o = { .mode = VRTC_MODE_HOST };
	struct vrtc_time t = { 0 };
	struct vrtc *v;
	int r;

	if (argc != 2) {
		return 2;
	}
	o.page_path = argv[1];
	r = vrtc_open(&o, &v);
	if (!r) {
		r = vrtc_now(v, &t);
		vrtc_close(v);
	}
	printf("static_now: %s, %s\n", vrtc_strerror(r),
	       vrtc_status_name(t.status));
	return r != 0;
}
