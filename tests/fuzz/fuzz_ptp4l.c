/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: ptp4l management reply parser. Each input is parsed
 * twice: against the request it claims to answer (its own sequenceId,
 * domain, target port and managementId, so the fuzzer reaches the data
 * sets), and against a fixed request. Seeds are real ptp4l 3.1.1
 * replies captured from a master/slave pair.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ptp4l.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, const struct ptp4l_req *r)
{
	struct ptp4l_reply out;
	uint16_t err_id = 0;
	uint64_t budget_ns, acc_ns;
	int ret = ptp4l_parse_reply(data, size, r, &out, &err_id);

	if (ret < 0) {
		assert(ret == -EBADMSG || ret == -EPROTO || ret == -ESTALE ||
		       ret == -EOPNOTSUPP || ret == -EREMOTEIO);
		return;
	}
	assert(out.mgmt_id == r->mgmt_id && out.seq == r->seq);
	assert(size == PTP4L_REQ_LEN + ptp4l_data_len(r->mgmt_id));
	if (out.mgmt_id == PTP4L_MID_PARENT_DATA_SET) {
		/* measured something (else -ENODATA: no vouching) */
		struct ptp4l_time_status ts = { .gm_present = true,
						.ingress_time_ns = 1,
						.master_offset_ns = 1 };
		struct ptp4l_current_ds cur = { 0 };

		(void)ptp4l_accuracy_ns(out.parent.gm_clock_accuracy, &acc_ns);
		assert(ptp4l_error_budget_ns(&ts, &cur, &out.parent, 1000,
					     &budget_ns) == 0);
	} else if (out.mgmt_id == PTP4L_MID_TIME_STATUS_NP) {
		struct ptp4l_parent_ds p = { .gm_clock_accuracy = 0xfe };
		struct ptp4l_current_ds cur = { 0 };

		(void)ptp4l_error_budget_ns(&out.ts, &cur, &p, UINT64_MAX,
					    &budget_ns);
	} else if (out.mgmt_id == PTP4L_MID_CURRENT_DATA_SET) {
		(void)ptp4l_tins_to_ns(out.cur.mean_path_delay_tins);
		(void)ptp4l_tins_to_ns(out.cur.offset_from_master_tins);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ptp4l_req r = {
		.mgmt_id = PTP4L_MID_TIME_STATUS_NP,
		.seq = 0,
		.source = { .clock_id = { 'v', 'r', 't', 'c', 0, 0, 0, 0x2a },
			    .port = 7 },
	};

	check(data, size, &r);
	if (size >= PTP4L_REQ_LEN) {
		r.domain = data[4];
		r.seq = (uint16_t)(data[30] << 8 | data[31]);
		memcpy(r.source.clock_id, data + 34, 8);
		r.source.port = (uint16_t)(data[42] << 8 | data[43]);
		/* the managementId: after the error status' header if any */
		if (size >= 56 && data[48] == 0 && data[49] == 2) {
			r.mgmt_id = (uint16_t)(data[54] << 8 | data[55]);
		} else {
			r.mgmt_id = (uint16_t)(data[52] << 8 | data[53]);
		}
		check(data, size, &r);
	}
	return 0;
}
