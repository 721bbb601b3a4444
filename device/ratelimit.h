/* SPDX-License-Identifier: MIT */
/*
 * A tiny log rate limiter for anything a guest or a front-end can
 * trigger: at most @burst lines per @interval, and a count of what was
 * dropped in between.
 * Thread/loop: not thread-safe; one limiter per object on the main loop.
 */
#ifndef DEVICE_RATELIMIT_H
#define DEVICE_RATELIMIT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	int64_t interval_us;
	unsigned int burst;
	int64_t begin_us;     /* start of the current window */
	unsigned int printed; /* lines in the current window */
	unsigned int missed;  /* lines dropped since the last printed one */
};

#define RATELIMIT_INIT(interval_s, burst_lines)                                \
	{                                                                      \
		.interval_us = (int64_t)(interval_s)*G_USEC_PER_SEC,           \
		.burst = (burst_lines),                                        \
	}

static inline void ratelimit_init(struct ratelimit *rl, unsigned int interval_s,
				  unsigned int burst)
{
	*rl = (struct ratelimit)RATELIMIT_INIT(interval_s, burst);
}

/*
 * ratelimit_ok() - true if one more line may be logged now. When it
 * returns true, *@missed receives the number of lines dropped since the
 * last allowed one (and the count restarts).
 */
static inline bool ratelimit_ok(struct ratelimit *rl, unsigned int *missed)
{
	int64_t now = g_get_monotonic_time();

	if (rl->begin_us == 0 || now - rl->begin_us >= rl->interval_us) {
		rl->begin_us = now;
		rl->printed = 0;
	}
	if (rl->printed >= rl->burst) {
		rl->missed++;
		return false;
	}
	rl->printed++;
	*missed = rl->missed;
	rl->missed = 0;
	return true;
}

/* g_log() at @level through a limiter; says how many lines were dropped. */
#define g_log_ratelimited(rl, level, ...)                                      \
	do {                                                                   \
		unsigned int rl_missed_;                                       \
		if (ratelimit_ok((rl), &rl_missed_)) {                         \
			if (rl_missed_) {                                      \
				g_log(G_LOG_DOMAIN, (level),                   \
				      "(%u similar messages suppressed)",      \
				      rl_missed_);                             \
			}                                                      \
			g_log(G_LOG_DOMAIN, (level), __VA_ARGS__);             \
		}                                                              \
	} while (0)

#define g_warning_ratelimited(rl, ...)                                         \
	g_log_ratelimited(rl, G_LOG_LEVEL_WARNING, __VA_ARGS__)
#define g_message_ratelimited(rl, ...)                                         \
	g_log_ratelimited(rl, G_LOG_LEVEL_MESSAGE, __VA_ARGS__)

#endif /* DEVICE_RATELIMIT_H */
