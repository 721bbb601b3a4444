// SPDX-License-Identifier: MIT
/*
 * The probe's eval: the reference clock, and the bound from a daemon log.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include "eval.h"
#include "phc.h"
#include "time_ns.h"

int eval_ref_open(struct eval_ref *r, GError **err)
{
	struct timex tx = { 0 };
	char msg[160] = "";
	int ret;

	r->kernel_tai = adjtimex(&tx) >= 0 && tx.tai > 0;
	if (!r->dev) {
		const char *name = r->realtime ? "CLOCK_REALTIME" : "CLOCK_TAI";

		if (!r->realtime && r->kernel_tai) {
			snprintf(r->desc, sizeof(r->desc),
				 "%s (kernel TAI offset %d s)", name, tx.tai);
		} else {
			snprintf(r->desc, sizeof(r->desc),
				 "%s%s + TAI-UTC from the leap table", name,
				 r->realtime ? ""
					     : " (kernel TAI offset unset: "
					       "= CLOCK_REALTIME)");
		}
		return 0;
	}
	struct phc_options o = {
		.timescale = r->phc_utc ? PHC_TIMESCALE_UTC : PHC_TIMESCALE_TAI,
	};
	/* phc.c is GLib-free (the guest tool uses it): its reason is text */
	ret = phc_open(r->dev, &o, &r->phc, msg, sizeof(msg));
	if (ret < 0) {
		g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(-ret),
			    "%s", msg);
		return ret;
	}
	if (r->phc_utc) {
		time_t now = time(NULL);

		phc_set_tai_utc(r->phc, leap_dtai_at_utc(r->leap, now));
	}
	snprintf(r->desc, sizeof(r->desc), "PHC %s (%s%s)", r->dev,
		 r->phc_utc ? "UTC, TAI-UTC from the leap table" : "TAI",
		 ", read with sync/sources/phc.c");
	return 0;
}

void eval_ref_close(struct eval_ref *r)
{
	phc_free(r->phc);
	r->phc = NULL;
}

static clockid_t sys_clock(const struct eval_ref *r)
{
	return !r->realtime && r->kernel_tai ? CLOCK_TAI : CLOCK_REALTIME;
}

int64_t eval_ref_begin(const struct eval_ref *r)
{
	return time_ns_now(r->dev ? CLOCK_MONOTONIC_RAW : sys_clock(r));
}

int eval_ref_end(struct eval_ref *r, int64_t begin, int64_t *tai_ns,
		 uint64_t *window_ns, uint64_t *err_ns)
{
	struct time_sample s;
	int64_t mid, end;
	int ret;

	if (!r->dev) {
		end = time_ns_now(sys_clock(r));
		mid = begin + (end - begin) / 2;
		*window_ns = (uint64_t)(end - begin);
		*err_ns = 0;
		if (sys_clock(r) == CLOCK_REALTIME) {
			/* POSIX UTC -> TAI; ambiguous only inside a leap
			 * second */
			mid += (int64_t)leap_dtai_at_utc(r->leap,
							 mid / NS_PER_S) *
			       NS_PER_S;
		}
		*tai_ns = mid;
		return 0;
	}
	end = time_ns_now(CLOCK_MONOTONIC_RAW);
	ret = phc_read(r->phc, 0, &s);
	if (ret < 0) {
		return ret;
	}
	mid = begin + (end - begin) / 2;
	/* the PHC read is microseconds later: its rate does not matter */
	*tai_ns = s.tai_ns + (mid - (int64_t)s.counter);
	*window_ns = (uint64_t)(end - begin);
	*err_ns = s.err_ns;
	return 0;
}

int eval_bound_from_log(const char *path, uint64_t *bound_ns)
{
	static const char *const keys[] = { "bound ", "maxerr " };
	FILE *f = fopen(path, "re");
	char line[1024];
	bool found = false;

	if (!f) {
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		for (size_t k = 0; k < 2; k++) {
			const char *p = strstr(line, keys[k]);
			char *e;
			unsigned long long v;

			if (!p) {
				continue;
			}
			p += strlen(keys[k]);
			errno = 0;
			v = strtoull(p, &e, 10);
			if (e != p && !errno && !strncmp(e, " ns", 3)) {
				*bound_ns = v;
				found = true;
			}
		}
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}
