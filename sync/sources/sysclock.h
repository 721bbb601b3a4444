/* SPDX-License-Identifier: MIT */
/*
 * Reading the system clock against the host counter: a bracketed
 * CLOCK_REALTIME (or CLOCK_TAI) read between two CLOCK_MONOTONIC_RAW
 * reads, with the kernel's adjtimex view (status, maxerror, TAI offset).
 * The system-clock source (source_sysclock.c) is built on it.
 *
 * Thread/loop: any; no state, nothing logged.
 */
#ifndef SYNC_SYSCLOCK_H
#define SYNC_SYSCLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/timex.h>
#include <time.h>

#include "leap.h"

/* Bracketed reads per sysclock_read(); the narrowest is kept. */
#define SYSCLOCK_READS 5
/* The kernel's cap on maxerror (STA_UNSYNC is set beyond it), ns. */
#define SYSCLOCK_UNSYNC_MAXERR_NS (16ULL * 1000000000ULL)

/*
 * Where the clocks are read: by default clock_gettime() and a read-only
 * ntp_adjtime(); tests substitute a simulated host.
 */
struct sysclock_ops {
	/* as clock_gettime(): 0, or -1 with errno set */
	int (*gettime)(void *ctx, clockid_t clk, struct timespec *ts);
	/* as ntp_adjtime() with modes 0: the clock state, or -1 (errno) */
	int (*adjtime)(void *ctx, struct timex *tx);
};

/* The real system calls. */
extern const struct sysclock_ops sysclock_sys_ops;

struct sysclock_reading {
	uint64_t counter; /* MONOTONIC_RAW ns at the bracket midpoint */
	int64_t tai_ns;	  /* the system clock's TAI at @counter */
	uint64_t half_ns; /* half the bracket, rounded up, + 1 ns */
	int64_t utc_s;	  /* POSIX s at @counter */
	int32_t dtai;	  /* TAI - UTC used, s */
	bool dtai_kernel; /* @dtai is the kernel's (else the table's) */
	int state;	  /* ntp_adjtime() return; -1 if it failed */
	int adj_errno;	  /* its errno then */
	struct timex tx;  /* the kernel's view (zero if it failed) */
};

/*
 * sysclock_bracket() - @reads reads of @clk, each between two
 * CLOCK_MONOTONIC_RAW reads, through @gettime (as clock_gettime(): 0, or
 * -1 with errno); the narrowest bracket wins: *@counter is its midpoint
 * (MONOTONIC_RAW ns), *@at the @clk reading inside it, *@width_ns its
 * width. Brackets where the counter ran backwards are skipped.
 * Returns 0, -errno when a clock cannot be read, or -EPROTO when every
 * bracket ran backwards.
 */
int sysclock_bracket(int (*gettime)(void *ctx, clockid_t clk,
				    struct timespec *ts),
		     void *ctx, clockid_t clk, unsigned int reads,
		     uint64_t *counter, struct timespec *at,
		     uint64_t *width_ns);

/*
 * sysclock_read() - one reading of the system clock.
 * @ops, @ctx: the clocks (&sysclock_sys_ops, NULL for the real ones)
 * @leaps:     TAI - UTC when the kernel has no TAI offset
 * TAI is CLOCK_TAI when the kernel's TAI offset is set, else
 * CLOCK_REALTIME plus the table's offset (inside an inserted leap second,
 * TIME_OOP, the table's offset after it). A failing adjtimex is not an
 * error (state -1, the table is used).
 * Returns 0, or -errno when a clock cannot be read.
 */
int sysclock_read(const struct sysclock_ops *ops, void *ctx,
		  const struct leap_table *leaps, struct sysclock_reading *out);

/*
 * sysclock_maxerr_ns() - the kernel's own bound for the reading, ns:
 * adjtimex maxerror, or SYSCLOCK_UNSYNC_MAXERR_NS when adjtimex failed
 * or says STA_UNSYNC.
 */
uint64_t sysclock_maxerr_ns(const struct sysclock_reading *r);

/* True when the kernel says its clock is synchronised. */
bool sysclock_synced(const struct sysclock_reading *r);

#endif /* SYNC_SYSCLOCK_H */
