// SPDX-License-Identifier: MIT
/*
 * libvrtc.so's ABI as programs see it: a program linked against 0.1
 * (symbol version VRTC_0: 32-byte options, 64-byte readings) still
 * works and gets no byte written past its 64; one linked against 0.2
 * gets the new layout. Called through dlvsym() as the dynamic linker
 * would bind each. tests/libvrtc/check-abi.sh runs it on a live page:
 *   abi_compat LIBVRTC_SO PAGE
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vrtc.h"

struct opts_v0 {
	int mode, timescale;
	const char *page_path, *phc_path;
	uint64_t max_age_ns;
};

static int fails;

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "abi_compat: %s:%d: %s\n", __FILE__,   \
				__LINE__, #c);                                 \
			fails++;                                               \
		}                                                              \
	} while (0)

int main(int argc, char **argv)
{
	int (*open0)(const struct opts_v0 *, struct vrtc **);
	int (*now0)(struct vrtc *, void *);
	int (*open2)(const struct vrtc_options *, struct vrtc **);
	int (*now2)(struct vrtc *, struct vrtc_time *);
	void (*close0)(struct vrtc *);
	uint32_t (*version)(void);
	unsigned char buf[64 + 64];
	struct opts_v0 o0 = { .mode = VRTC_MODE_HOST };
	struct vrtc_options o2 = { .mode = VRTC_MODE_HOST };
	struct vrtc_time t2;
	struct vrtc *v;
	void *h;

	if (argc != 3) {
		fprintf(stderr, "usage: abi_compat LIBVRTC_SO PAGE\n");
		return 2;
	}
	h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "abi_compat: %s\n", dlerror());
		return 1;
	}
	open0 = (int (*)(const struct opts_v0 *, struct vrtc **))dlvsym(
		h, "vrtc_open", "VRTC_0");
	now0 = (int (*)(struct vrtc *, void *))dlvsym(h, "vrtc_now", "VRTC_0");
	close0 = (void (*)(struct vrtc *))dlvsym(h, "vrtc_close", "VRTC_0");
	open2 = (int (*)(const struct vrtc_options *, struct vrtc **))dlvsym(
		h, "vrtc_open", "VRTC_0.2");
	now2 = (int (*)(struct vrtc *, struct vrtc_time *))dlvsym(h, "vrtc_now",
								  "VRTC_0.2");
	version = (uint32_t(*)(void))dlvsym(h, "vrtc_version", "VRTC_0.2");
	CHECK(open0 && now0 && close0 && open2 && now2 && version);
	if (fails) {
		return 1;
	}
	CHECK(version() == VRTC_VERSION_NUMBER);

	/* 0.1: its 32-byte options (what follows them is not read) */
	o0.page_path = argv[2];
	CHECK(open0(&o0, &v) == 0);
	memset(buf, 0xa5, sizeof(buf));
	CHECK(now0(v, buf) == 0);
	for (size_t i = 64; i < sizeof(buf); i++) {
		CHECK(buf[i] == 0xa5);
	}
	CHECK(((struct vrtc_time *)buf)->status == VRTC_STATUS_SYNCHRONIZED);
	close0(v);
	CHECK(now0(NULL, buf) == -EINVAL);

	/* 0.2 */
	o2.page_path = argv[2];
	o2.timescale = VRTC_TIMESCALE_TAI;
	CHECK(open2(&o2, &v) == 0);
	memset(&t2, 0xa5, sizeof(t2));
	CHECK(now2(v, &t2) == 0);
	CHECK(t2.timescale == VRTC_TIMESCALE_TAI);
	CHECK(t2.flags == VRTC_TIME_TRUSTED);
	for (size_t i = 0; i < sizeof(t2.reserved) / sizeof(t2.reserved[0]);
	     i++) {
		CHECK(t2.reserved[i] == 0);
	}
	close0(v);
	o2.reserved[0] = 1;
	CHECK(open2(&o2, &v) == -EINVAL);
	dlclose(h);
	if (!fails) {
		printf("abi_compat: VRTC_0 and VRTC_0.2 callers both served\n");
	}
	return fails != 0;
}
