/* SPDX-License-Identifier: MIT */
/*
 * One seed for each randomized unit test, printed, so that a failure
 * seen once can be run again: VRTC_TEST_SEED=N repeats it.
 * tests/seed-sweep.sh runs the randomized suites over many seeds.
 */
#ifndef VRTC_TEST_SEED_H
#define VRTC_TEST_SEED_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline unsigned int test_seed(const char *who)
{
	const char *env = getenv("VRTC_TEST_SEED");
	unsigned int seed;

	if (env && *env) {
		seed = (unsigned int)strtoul(env, NULL, 0);
	} else {
		seed = (unsigned int)time(NULL) ^
		       ((unsigned int)getpid() << 16);
	}
	fprintf(stderr, "%s: seed %u (VRTC_TEST_SEED=%u repeats it)\n", who,
		seed, seed);
	return seed;
}

#endif
