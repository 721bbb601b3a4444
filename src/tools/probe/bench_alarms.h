/* SPDX-License-Identifier: MIT */
/* vrtc-bench, alarm part: see bench_alarms.c. */
#ifndef BENCH_ALARMS_H
#define BENCH_ALARMS_H

#include <stdbool.h>
#include <stdio.h>

struct alarm_cost {
	bool ok;
	unsigned int n;
	double arm_ns, fire_ns; /* per alarm */
};

struct alarm_idle {
	bool ok;
	unsigned int armed;
	double arm_wall_s, idle_s, idle_cpu_pct;
	long rss_kb;
};

/* Arm and fire cost at 1k, 10k and 100k alarms, in process. */
void bench_alarm_costs(struct alarm_cost r[3]);

/* The daemon's CPU over @idle_s with ~100,000 alarms armed. */
void bench_alarm_idle(double idle_s, struct alarm_idle *r);

void bench_alarm_report(FILE *f, const struct alarm_cost c[3],
			const struct alarm_idle *idle);

#endif /* BENCH_ALARMS_H */
