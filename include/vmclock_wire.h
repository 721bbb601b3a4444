/* SPDX-License-Identifier: MIT */
/*
 * The vmclock page, as Linux defines it in include/uapi/linux/vmclock-abi.h
 * (struct vmclock_abi, version 1, with vm_generation_counter at 0x68).
 * Written here from that documented layout: every field little-endian,
 * offsets fixed and checked below. The daemon writes one such page per
 * process (src/vmclock_page.h); libvrtc (include/vrtc.h) reads it.
 *
 * Concurrency: the fields after seq_count are written under a seqlock:
 * seq_count is odd while an update is in progress; a reader copies the
 * fields between two reads of an equal, even seq_count.
 */
#ifndef VMCLOCK_WIRE_H
#define VMCLOCK_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define VMCLOCK_MAGIC 0x4b4c4356u /* "VCLK" */
#define VMCLOCK_VERSION 1
/* The region a page lives in: one page, as QEMU's vmclock has it. */
#define VMCLOCK_PAGE_SIZE 4096u

/* counter_id; the same values as VIRTIO_RTC_COUNTER_*. */
#define VMCLOCK_COUNTER_ARM_VCNT 0
#define VMCLOCK_COUNTER_X86_TSC 1
#define VMCLOCK_COUNTER_INVALID 0xff

/* time_type; the same values as VIRTIO_RTC_CLOCK_*. */
#define VMCLOCK_TIME_UTC 0
#define VMCLOCK_TIME_TAI 1
#define VMCLOCK_TIME_MONOTONIC 2
#define VMCLOCK_TIME_INVALID_SMEARED 3
#define VMCLOCK_TIME_INVALID_MAYBE_SMEARED 4

/* flags */
#define VMCLOCK_FLAG_TAI_OFFSET_VALID (1ull << 0)
#define VMCLOCK_FLAG_DISRUPTION_SOON (1ull << 1)
#define VMCLOCK_FLAG_DISRUPTION_IMMINENT (1ull << 2)
#define VMCLOCK_FLAG_PERIOD_ESTERROR_VALID (1ull << 3)
#define VMCLOCK_FLAG_PERIOD_MAXERROR_VALID (1ull << 4)
#define VMCLOCK_FLAG_TIME_ESTERROR_VALID (1ull << 5)
#define VMCLOCK_FLAG_TIME_MAXERROR_VALID (1ull << 6)
#define VMCLOCK_FLAG_TIME_MONOTONIC (1ull << 7)
#define VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT (1ull << 8)

/* clock_status; == enum clock_status (include/clock_model.h). */
#define VMCLOCK_STATUS_UNKNOWN 0
#define VMCLOCK_STATUS_INITIALIZING 1
#define VMCLOCK_STATUS_SYNCHRONIZED 2
#define VMCLOCK_STATUS_FREERUNNING 3
#define VMCLOCK_STATUS_UNRELIABLE 4

/* leap_second_smearing_hint; the same values as VIRTIO_RTC_SUBTYPE_*. */
#define VMCLOCK_SMEARING_STRICT 0
#define VMCLOCK_SMEARING_NOON_LINEAR 1
#define VMCLOCK_SMEARING_UTC_SLS 2

/* leap_indicator */
#define VMCLOCK_LEAP_NONE 0	/* no leap second near */
#define VMCLOCK_LEAP_PRE_POS 1	/* a positive one at the end of the day */
#define VMCLOCK_LEAP_PRE_NEG 2	/* a negative one at the end of the day */
#define VMCLOCK_LEAP_POS 3	/* during the inserted 23:59:60 */
#define VMCLOCK_LEAP_POST_POS 4 /* the day after a positive one */
#define VMCLOCK_LEAP_POST_NEG 5 /* the day after a negative one */

struct vmclock_abi {
	/* constant */
	uint32_t magic;	    /* 0x00 VMCLOCK_MAGIC */
	uint32_t size;	    /* 0x04 bytes of the region */
	uint16_t version;   /* 0x08 1 */
	uint8_t counter_id; /* 0x0a VMCLOCK_COUNTER_* */
	uint8_t time_type;  /* 0x0b VMCLOCK_TIME_* */
	/* under the seqlock */
	uint32_t seq_count;		   /* 0x0c odd: update in progress */
	uint64_t disruption_marker;	   /* 0x10 changes on a disruption */
	uint64_t flags;			   /* 0x18 VMCLOCK_FLAG_* */
	uint8_t pad[2];			   /* 0x20 zero */
	uint8_t clock_status;		   /* 0x22 VMCLOCK_STATUS_* */
	uint8_t leap_second_smearing_hint; /* 0x23 */
	uint16_t tai_offset_sec;	   /* 0x24 int16: UTC - TAI, s */
	uint8_t leap_indicator;		   /* 0x26 VMCLOCK_LEAP_* */
	uint8_t counter_period_shift;	   /* 0x27 */
	uint64_t counter_value;		   /* 0x28 counter at time_* */
	/* units of 2^-(64 + counter_period_shift) s per tick */
	uint64_t counter_period_frac_sec;		/* 0x30 */
	uint64_t counter_period_esterror_rate_frac_sec; /* 0x38 */
	uint64_t counter_period_maxerror_rate_frac_sec; /* 0x40 */
	uint64_t time_sec;		/* 0x48 s since the time_type epoch */
	uint64_t time_frac_sec;		/* 0x50 units of 2^-64 s */
	uint64_t time_esterror_nanosec; /* 0x58 */
	uint64_t time_maxerror_nanosec; /* 0x60 */
	uint64_t vm_generation_counter; /* 0x68 */
};

_Static_assert(sizeof(struct vmclock_abi) == 0x70, "vmclock_abi size");
_Static_assert(offsetof(struct vmclock_abi, seq_count) == 0x0c, "seq_count");
_Static_assert(offsetof(struct vmclock_abi, flags) == 0x18, "flags");
_Static_assert(offsetof(struct vmclock_abi, clock_status) == 0x22,
	       "clock_status");
_Static_assert(offsetof(struct vmclock_abi, tai_offset_sec) == 0x24,
	       "tai_offset_sec");
_Static_assert(offsetof(struct vmclock_abi, counter_value) == 0x28,
	       "counter_value");
_Static_assert(offsetof(struct vmclock_abi, time_sec) == 0x48, "time_sec");
_Static_assert(offsetof(struct vmclock_abi, time_maxerror_nanosec) == 0x60,
	       "time_maxerror_nanosec");
_Static_assert(offsetof(struct vmclock_abi, vm_generation_counter) == 0x68,
	       "vm_generation_counter");

/*
 * vmclock_month_end_s() - the first second (POSIX s) of the UTC month
 * after the one holding @utc_s: where a leap second announced by
 * VMCLOCK_LEAP_PRE_POS/_PRE_NEG ("at the end of the month") takes
 * effect. Proleptic Gregorian calendar; @utc_s beyond +-2^55 s (a
 * billion years: only a hostile page) is clamped there, so that no step
 * overflows.
 */
static inline int64_t vmclock_month_end_s(int64_t utc_s)
{
	const int64_t lim = (int64_t)1 << 55;
	int64_t z, era, doe, yoe, doy, mp;

	utc_s = utc_s > lim ? lim : utc_s < -lim ? -lim : utc_s;
	z = (utc_s >= 0 ? utc_s : utc_s - 86399) / 86400 + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153; /* month from March = 0 */
	int64_t doy1;

	/* The next month, still counted from March: mp + 1, which for
	 * mp = 11 (February) is March of the next era-year. */
	if (mp == 11) {
		yoe++;
		mp = 0;
		if (yoe == 400) {
			yoe = 0;
			era++;
		}
	} else {
		mp++;
	}
	doy1 = (153 * mp + 2) / 5;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy1;
	return (era * 146097 + doe - 719468) * 86400;
}

#endif /* VMCLOCK_WIRE_H */
