// SPDX-License-Identifier: MIT
/*
 * Integration: our ptp4l management client against a real ptp4l.
 *
 * The master/slave pair of harness_ptp4l.h; the slave's management
 * socket is read by sync/sources/ptp4l.c and by linuxptp's own pmc, and the
 * values must agree.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_ptp4l.h"
#include "ptp4l.h"

/* Both ptp4l run on the same CLOCK_REALTIME: offsets between two reads
 * a few Sync intervals apart differ by timestamping noise only. */
#define OFFSET_TOL_NS 1000000

static const char *id_str(const uint8_t id[8])
{
	static char s[2][32];
	static int i;

	i ^= 1;
	snprintf(s[i], sizeof(s[i]), "%02x%02x%02x.%02x%02x.%02x%02x%02x",
		 id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]);
	return s[i];
}

TestSuite(ptp4l_real, .fini = ptp4l_pair_stop, .timeout = 60.0);

Test(ptp4l_real, client_agrees_with_pmc)
{
	static const char *const states[] = {
		"",	    "INITIALIZING", "FAULTY",
		"DISABLED", "LISTENING",    "PRE_MASTER",
		"MASTER",   "PASSIVE",	    "UNCALIBRATED",
		"SLAVE",
	};
	struct ptp4l_reply port, ts, tp, parent, cur, mport;
	struct ptp4l_client *cs, *cm;
	static char out[4096];
	uint64_t budget_ns;

	ptp4l_pair_start();
	cm = ptp4l_pair_client("master");
	cs = ptp4l_pair_client("slave");

	/* the slave follows the master, has measured the path, has offsets */
	ptp4l_pair_wait_settled(cs);
	ptp4l_pair_get(cm, PTP4L_MID_PORT_DATA_SET, &mport);
	cr_assert_eq(mport.port.port_state, PTP4L_PS_MASTER);

	/* PORT_DATA_SET */
	ptp4l_pair_get(cs, PTP4L_MID_PORT_DATA_SET, &port);
	ptp4l_pmc_get("PORT_DATA_SET", out, sizeof(out));
	cr_assert_str_eq(ptp4l_pmc_val(out, "portState"),
			 states[port.port.port_state]);
	cr_assert_eq(ptp4l_pmc_num(out, "logSyncInterval"),
		     port.port.log_sync_interval);
	cr_assert_eq(ptp4l_pmc_num(out, "versionNumber"),
		     port.port.version_number);
	cr_assert_eq(ptp4l_pmc_num(out, "delayMechanism"),
		     port.port.delay_mechanism);

	/* TIME_STATUS_NP */
	ptp4l_pair_get(cs, PTP4L_MID_TIME_STATUS_NP, &ts);
	ptp4l_pmc_get("TIME_STATUS_NP", out, sizeof(out));
	cr_assert_str_eq(ptp4l_pmc_val(out, "gmPresent"),
			 ts.ts.gm_present ? "true" : "false");
	cr_assert_str_eq(ptp4l_pmc_val(out, "gmIdentity"),
			 id_str(ts.ts.gm_identity));
	cr_assert_str_eq(id_str(ts.ts.gm_identity),
			 id_str(mport.port.port.clock_id),
			 "grandmaster is not the master");
	cr_assert_lt(llabs(ptp4l_pmc_num(out, "master_offset") -
			   ts.ts.master_offset_ns),
		     OFFSET_TOL_NS, "master_offset ours %" PRId64 " pmc %s",
		     ts.ts.master_offset_ns,
		     ptp4l_pmc_val(out, "master_offset"));
	cr_assert_lt(llabs(ptp4l_pmc_num(out, "ingress_time") -
			   ts.ts.ingress_time_ns),
		     5000000000LL, "ingress_time");

	/* TIME_PROPERTIES_DATA_SET: the master's announce, passed on */
	ptp4l_pair_get(cs, PTP4L_MID_TIME_PROPERTIES_DATA_SET, &tp);
	ptp4l_pmc_get("TIME_PROPERTIES_DATA_SET", out, sizeof(out));
	cr_assert_eq(tp.tp.current_utc_offset_s, 36);
	cr_assert_eq(ptp4l_pmc_num(out, "currentUtcOffset"),
		     tp.tp.current_utc_offset_s);
	cr_assert_eq(ptp4l_pmc_num(out, "leap61"), !!(tp.tp.flags & 1));
	cr_assert_eq(ptp4l_pmc_num(out, "leap59"), !!(tp.tp.flags & 2));
	cr_assert_eq(ptp4l_pmc_num(out, "currentUtcOffsetValid"),
		     !!(tp.tp.flags & 4));
	cr_assert_eq(ptp4l_pmc_num(out, "ptpTimescale"), !!(tp.tp.flags & 8));
	cr_assert_eq(ptp4l_pmc_num(out, "timeTraceable"), !!(tp.tp.flags & 16));
	cr_assert_eq(ptp4l_pmc_num(out, "frequencyTraceable"),
		     !!(tp.tp.flags & 32));
	cr_assert_eq(tp.tp.time_source, 0x50);
	cr_assert_eq(ptp4l_pmc_num(out, "timeSource"), tp.tp.time_source);

	/* PARENT_DATA_SET */
	ptp4l_pair_get(cs, PTP4L_MID_PARENT_DATA_SET, &parent);
	ptp4l_pmc_get("PARENT_DATA_SET", out, sizeof(out));
	cr_assert_eq(parent.parent.gm_clock_class, 6);
	cr_assert_eq(parent.parent.gm_clock_accuracy, 0x21);
	cr_assert_eq(ptp4l_pmc_num(out, "gm.ClockClass"),
		     parent.parent.gm_clock_class);
	cr_assert_eq(ptp4l_pmc_num(out, "gm.ClockAccuracy"),
		     parent.parent.gm_clock_accuracy);
	cr_assert_eq(ptp4l_pmc_num(out, "gm.OffsetScaledLogVariance"),
		     parent.parent.gm_log_variance);
	cr_assert_eq(ptp4l_pmc_num(out, "grandmasterPriority1"),
		     parent.parent.gm_priority1);
	cr_assert_str_eq(ptp4l_pmc_val(out, "grandmasterIdentity"),
			 id_str(parent.parent.gm_identity));

	/* CURRENT_DATA_SET */
	ptp4l_pair_get(cs, PTP4L_MID_CURRENT_DATA_SET, &cur);
	ptp4l_pmc_get("CURRENT_DATA_SET", out, sizeof(out));
	cr_assert_eq(ptp4l_pmc_num(out, "stepsRemoved"), cur.cur.steps_removed);
	cr_assert_lt(fabs(strtod(ptp4l_pmc_val(out, "offsetFromMaster"), NULL) -
			  cur.cur.offset_from_master_tins / 65536.0),
		     OFFSET_TOL_NS);
	cr_assert_lt(fabs(strtod(ptp4l_pmc_val(out, "meanPathDelay"), NULL) -
			  cur.cur.mean_path_delay_tins / 65536.0),
		     OFFSET_TOL_NS);

	/* the budget: offset + path delay + 100 ns (clockAccuracy 0x21) */
	cr_assert_eq(ptp4l_error_budget_ns(&ts.ts, &cur.cur, &parent.parent,
					   UINT64_MAX, &budget_ns),
		     0);
	cr_assert_geq(budget_ns, 100);
	cr_assert_lt(budget_ns, 100 + 2 * OFFSET_TOL_NS);
	fprintf(stderr,
		"ptp4l: state %s offset %" PRId64 " ns delay %" PRId64
		" ns budget %" PRIu64 " ns\n",
		states[port.port.port_state], ts.ts.master_offset_ns,
		ptp4l_tins_to_ns(cur.cur.mean_path_delay_tins), budget_ns);

	ptp4l_client_free(cs);
	ptp4l_client_free(cm);
}
