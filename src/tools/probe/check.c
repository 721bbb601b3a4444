// SPDX-License-Identifier: MIT
/*
 * vhost-user-rtc-probe check: conformance of a virtio-rtc vhost-user
 * back-end with the device requirements of VIRTIO 1.4 section 5.23
 * (requirement text from VIRTIO 1.4 §5.23, device-types/rtc/ of the spec),
 * one line per requirement, "PASS" or "FAIL", then a summary.
 *
 * It sets up one device as QEMU and a Linux guest would (without
 * VIRTIO_RTC_F_ALARM), and, if the back-end offers F_ALARM, a second one
 * with it negotiated for the alarm requirements (check_alarm.c).
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "probe.h"

static unsigned int n_pass, n_fail;

void check_req(bool ok, const char *section, const char *quote, const char *fmt,
	       ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("%s %s \"%s\"", ok ? "PASS" : "FAIL", section, quote);
	if (fmt) {
		printf(": ");
		/* analyzer false positive: ap is started above */
		vprintf(fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	}
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (ok) {
		n_pass++;
	} else {
		n_fail++;
	}
}

void check_build(uint8_t *buf, uint16_t msg_type, uint16_t clock_id,
		 uint8_t counter)
{
	memset(buf, 0, CHECK_REQ_LEN);
	buf[0] = (uint8_t)msg_type;
	buf[1] = (uint8_t)(msg_type >> 8);
	buf[8] = (uint8_t)clock_id;
	buf[9] = (uint8_t)(clock_id >> 8);
	buf[10] = counter;
}

int check_call(struct vuf *v, const uint8_t *req, size_t req_len,
	       size_t resp_cap, struct vuf_rtc_reply *r)
{
	struct vuf_layout lay = { .out_segs = 1, .in_segs = resp_cap ? 1 : 0 };
	int ret = vuf_rtc_call(v, req, req_len, resp_cap, &lay, r);

	if (ret) {
		fprintf(stderr, "check: request failed: %s\n", vuf_error(v));
	}
	return ret;
}

bool check_zero(const uint8_t *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		if (p[i]) {
			return false;
		}
	}
	return true;
}

/* Status of a @len-byte request of @type for @clock, or -1. */
static int status_of(struct vuf *v, uint16_t type, uint16_t clock,
		     uint8_t counter, size_t len, size_t cap)
{
	uint8_t b[CHECK_REQ_LEN];
	struct vuf_rtc_reply r;

	check_build(b, type, clock, counter);
	if (check_call(v, b, len, cap, &r) || r.used_len < 1) {
		return -1;
	}
	return r.status;
}

static void check_cfg(struct vuf *v, uint16_t *num)
{
	uint8_t b[CHECK_REQ_LEN];
	struct vuf_rtc_reply r1, r2;
	bool ok;

	check_build(b, VIRTIO_RTC_REQ_CFG, 0, 0);
	ok = !check_call(v, b, 8, 16, &r1) && !check_call(v, b, 8, 16, &r2);
	*num = ok ? (uint16_t)(r1.resp[8] | r1.resp[9] << 8) : 0;
	check_req(ok && r1.status == VIRTIO_RTC_S_OK && r1.used_len == 16,
		  "5.23.6 CFG",
		  "status MUST be OK iff the request was "
		  "executed successfully",
		  "CFG status %u, used length %u, num_clocks %u", r1.status,
		  r1.used_len, *num);
	check_req(ok && check_zero(r1.resp, 1, 8) &&
			  check_zero(r1.resp, 10, 16),
		  "5.23.6 CFG",
		  "The device MUST write all reserved fields "
		  "in device-writable buffers as zero",
		  NULL);
	check_req(ok && !memcmp(r1.resp, r2.resp, 16), "5.23.6 CFG",
		  "While DRIVER_OK stays set, the device MUST "
		  "emit identical responses for repeated CFG requests",
		  NULL);
}

static void check_clock_cap(struct vuf *v, uint16_t num, uint8_t *types)
{
	bool ok_status = true, ok_zero = true, ok_same = true, ok_smear = true;
	bool ok_alarm = true;
	char seen[160] = "";
	size_t sl = 0;

	for (uint16_t id = 0; id < num; id++) {
		uint8_t b[CHECK_REQ_LEN];
		struct vuf_rtc_reply r1, r2;

		check_build(b, VIRTIO_RTC_REQ_CLOCK_CAP, id, 0);
		if (check_call(v, b, 16, 16, &r1) ||
		    check_call(v, b, 16, 16, &r2)) {
			ok_status = false;
			break;
		}
		ok_status &= r1.status == 0 && r1.used_len == 16;
		ok_zero &= check_zero(r1.resp, 1, 8) &&
			   check_zero(r1.resp, 11, 16);
		ok_same &= !memcmp(r1.resp, r2.resp, 16);
		types[id] = r1.resp[8];
		if (r1.resp[8] == VIRTIO_RTC_CLOCK_UTC_SMEARED) {
			ok_smear &= r1.resp[9] <= 2 || r1.resp[9] >= 0xf0;
		} else {
			ok_smear &= r1.resp[9] == 0;
		}
		ok_alarm &= !(r1.resp[10] & VIRTIO_RTC_FLAG_ALARM_CAP) &&
			    !(r1.resp[10] & ~VIRTIO_RTC_FLAG_ALARM_CAP);
		if (sl < sizeof(seen)) {
			sl += (size_t)snprintf(seen + sl, sizeof(seen) - sl,
					       "%s%u:type %u smear %u",
					       id ? ", " : "", id, r1.resp[8],
					       r1.resp[9]);
		}
	}
	check_req(ok_status, "5.23.6.2 CLOCK_CAP",
		  "status MUST be OK iff the request was executed "
		  "successfully",
		  "clocks %s", seen);
	check_req(ok_zero, "5.23.6.2 CLOCK_CAP",
		  "The device MUST write all "
		  "reserved fields in device-writable buffers as zero",
		  NULL);
	check_req(ok_same, "5.23.6.2 CLOCK_CAP",
		  "the device MUST emit "
		  "identical responses for repeated CLOCK_CAP requests",
		  NULL);
	check_req(ok_smear, "5.23.6.2 CLOCK_CAP",
		  "leap_second_smearing MUST "
		  "be SMEAR_UNSPECIFIED for every type except UTC_SMEARED "
		  "(which MUST use 0, 1, 2 or >= 0xF0)",
		  NULL);
	check_req(ok_alarm, "5.23.6.2 CLOCK_CAP",
		  "If F_ALARM is not "
		  "negotiated, no clock supports [alarms]; the device MUST NOT "
		  "set flags bits that the negotiated features do not allow",
		  NULL);
	check_req(status_of(v, VIRTIO_RTC_REQ_CLOCK_CAP, num, 0, 16, 16) ==
			  VIRTIO_RTC_S_ENODEV,
		  "5.23.6 CLOCK_CAP",
		  "status MUST be ENODEV if clock_id does "
		  "not identify a clock",
		  "clock_id %u", num);
}

static void check_cross(struct vuf *v, uint16_t num)
{
	static const uint8_t counters[] = { VIRTIO_RTC_COUNTER_ARM_VCT,
					    VIRTIO_RTC_COUNTER_X86_TSC };
	bool ok_zero = true, ok_same = true, ok_iff = true, ok_flags = true;
	unsigned int caps = 0;

	for (uint16_t id = 0; id < num; id++) {
		for (size_t k = 0; k < sizeof(counters); k++) {
			uint8_t b[CHECK_REQ_LEN];
			struct vuf_rtc_reply r1, r2;
			int rs;

			check_build(b, VIRTIO_RTC_REQ_CROSS_CAP, id,
				    counters[k]);
			if (check_call(v, b, 16, 16, &r1) ||
			    check_call(v, b, 16, 16, &r2)) {
				return;
			}
			ok_same &= r1.used_len == r2.used_len &&
				   !memcmp(r1.resp, r2.resp, r1.used_len);
			if (r1.status != VIRTIO_RTC_S_OK) {
				continue;
			}
			ok_zero &= check_zero(r1.resp, 1, 8) &&
				   check_zero(r1.resp, 9, 16);
			ok_flags &= !(r1.resp[8] & ~VIRTIO_RTC_FLAG_CROSS_CAP);
			rs = status_of(v, VIRTIO_RTC_REQ_READ_CROSS, id,
				       counters[k], 16, 24);
			caps += r1.resp[8] & 1;
			ok_iff &= (r1.resp[8] & 1) == (rs == VIRTIO_RTC_S_OK);
		}
	}
	check_req(ok_zero && ok_flags, "5.23.6.2 CROSS_CAP",
		  "The device MUST "
		  "write all reserved fields as zero [and] MUST NOT set flags "
		  "bits that the negotiated features do not allow",
		  NULL);
	check_req(ok_same, "5.23.6.2 CROSS_CAP",
		  "the device MUST emit "
		  "identical responses for repeated CROSS_CAP requests",
		  NULL);
	check_req(ok_iff, "5.23.6.2 CROSS_CAP / READ_CROSS",
		  "The device "
		  "SHOULD set CROSS_CAP iff a READ_CROSS with the same "
		  "clock_id and hw_counter would return OK; [otherwise it] "
		  "MUST answer non-OK if it cannot determine [counter_cycles]",
		  "%u (clock, counter) pairs with CROSS_CAP", caps);
	check_req(status_of(v, VIRTIO_RTC_REQ_CROSS_CAP, num, 1, 16, 16) ==
			  VIRTIO_RTC_S_ENODEV,
		  "5.23.6 CROSS_CAP",
		  "status MUST be ENODEV if clock_id does "
		  "not identify a clock",
		  NULL);
	check_req(status_of(v, VIRTIO_RTC_REQ_READ_CROSS, 0, 0x7f, 16, 24) ==
			  VIRTIO_RTC_S_EOPNOTSUPP,
		  "5.23.6 READ_CROSS",
		  "status MUST be EOPNOTSUPP for a "
		  "hw_counter neither described in this specification nor "
		  "otherwise known",
		  "hw_counter 0x7f");
}

static void check_read(struct vuf *v, uint16_t num, const uint8_t *types)
{
	bool ok = true, mono = true, order = true;
	char why[96] = "";

	for (uint16_t id = 0; id < num; id++) {
		uint64_t prev = 0, ns;

		for (int i = 0; i < 200; i++) {
			if (vuf_rtc_read(v, id, &ns)) {
				ok = false;
				snprintf(why, sizeof(why), "clock %u: %s", id,
					 vuf_error(v));
				break;
			}
			if (ns < prev) {
				if (types[id] == VIRTIO_RTC_CLOCK_MONOTONIC) {
					mono = false;
				} else {
					order = false;
				}
			}
			prev = ns;
		}
	}
	check_req(ok, "5.23.6.1 READ",
		  "Every clock MUST support READ "
		  "[status OK, response of exactly 16 bytes]",
		  "%s", why);
	check_req(mono, "5.23.6.1 READ",
		  "MONOTONIC clocks MUST return "
		  "non-decreasing readings in avail order",
		  "200 reads each");
	check_req(order, "5.23.6.1 READ",
		  "For two reads of the same clock, "
		  "the device MUST obtain the value for the earlier-available "
		  "request first",
		  "no reading went back in 200 sequential "
		  "reads (a step would also show here)");
	check_req(status_of(v, VIRTIO_RTC_REQ_READ, num, 0, 16, 16) ==
			  VIRTIO_RTC_S_ENODEV,
		  "5.23.6 READ",
		  "status MUST be ENODEV if clock_id does not "
		  "identify a clock",
		  "clock_id %u", num);
}

static void check_status_rules(struct vuf *v)
{
	uint8_t b[CHECK_REQ_LEN];
	struct vuf_rtc_reply r;
	bool ok;
	int st;

	st = status_of(v, 0x0003, 0, 0, 16, 16);
	check_req(st == VIRTIO_RTC_S_EOPNOTSUPP &&
			  status_of(v, 0x1fff, 0, 0, 16, 16) ==
				  VIRTIO_RTC_S_EOPNOTSUPP,
		  "5.23.6",
		  "status MUST be EOPNOTSUPP for a msg_type not "
		  "described in the specification",
		  "0x0003, 0x1fff");
	check_req(status_of(v, VIRTIO_RTC_REQ_READ, 0, 0, 10, 16) ==
			  VIRTIO_RTC_S_EINVAL,
		  "5.23.6",
		  "status MUST be EINVAL if the request named by "
		  "msg_type does not fit in the device read-only buffer",
		  "READ in 10 bytes");
	check_req(status_of(v, VIRTIO_RTC_REQ_READ, 0, 0, 16, 12) ==
			  VIRTIO_RTC_S_EINVAL,
		  "5.23.6",
		  "status MUST be EINVAL if the response does not "
		  "fit in the device write-only buffer",
		  "READ, 12 bytes of "
		  "room");
	check_build(b, VIRTIO_RTC_REQ_READ, 0, 0);
	ok = !check_call(v, b, 16, 0, &r) && r.used_len == 0;
	check_req(ok, "5.23.6",
		  "The device MUST NOT set status at all if "
		  "status itself does not fit in the write-only buffer",
		  "no write-only buffer: used length %u", r.used_len);
	ok = !check_call(v, b, 40, 64, &r) && r.status == 0 && r.used_len == 16;
	check_req(ok, "5.23.6",
		  "If the read-only buffer is bigger than the "
		  "request, the device MUST ignore the extra space; likewise "
		  "for the write-only buffer",
		  "READ in 40 bytes, 64 of "
		  "room: status %u, used length %u",
		  r.status, r.used_len);
	b[12] = 1;
	ok = !check_call(v, b, 16, 16, &r) && r.status == VIRTIO_RTC_S_EINVAL &&
	     check_zero(r.resp, 1, r.used_len < 8 ? r.used_len : 8);
	check_req(ok, "5.23.6",
		  "status MUST be EINVAL if the request values "
		  "are inconsistent with the spec [non-zero reserved bytes]; "
		  "reserved response fields MUST be zero",
		  "status %u", r.status);
	check_req(status_of(v, VIRTIO_RTC_REQ_READ_ALARM, 0, 0, 16, 24) ==
			  VIRTIO_RTC_S_ENODEV,
		  "5.23.6.3 alarms",
		  "[alarm requests are valid only if "
		  "F_ALARM was negotiated]; otherwise the device MUST answer "
		  "ENODEV",
		  "READ_ALARM without F_ALARM");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vhost-user-rtc-probe check --socket PATH\n"
		   "Exit status: 0 every requirement passed, 1 one failed, "
		   "2 bad command line,\n3 nothing there to test (cannot "
		   "connect to PATH).\n");
}

int probe_check_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	uint8_t types[CHECK_MAX_CLOCKS] = { 0 };
	struct vuf *v = NULL;
	uint64_t offered;
	uint16_t num = 0;
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 's') {
			sock = optarg;
		} else {
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (!sock || optind != argc) {
		usage(stderr);
		return 2;
	}
	/* no back-end there is not a conformance failure: exit 3 */
	v = vuf_new(NULL);
	if (!v || vuf_connect(v, sock)) {
		fprintf(stderr,
			"check: cannot connect to %s: %s (no requirement "
			"tested)\n",
			sock, v ? vuf_error(v) : strerror(errno));
		vuf_free(v);
		return 3;
	}
	vuf_free(v);
	v = NULL;
	if (vuf_open(&v, sock, NULL)) {
		check_req(false, "5.23.3",
			  "the device MUST offer "
			  "VIRTIO_F_VERSION_1 [set-up as QEMU does]",
			  "%s", v ? vuf_error(v) : strerror(errno));
		vuf_free(v);
		return 2;
	}
	check_req(true, "5.23.3 / 6.1",
		  "the device MUST offer "
		  "VIRTIO_F_VERSION_1 [and vhost-user PROTOCOL_FEATURES]",
		  "features 0x%llx offered, 0x%llx acked",
		  (unsigned long long)vuf_features_offered(v),
		  (unsigned long long)vuf_features_acked(v));
	check_cfg(v, &num);
	if (num > CHECK_MAX_CLOCKS) {
		num = CHECK_MAX_CLOCKS;
	}
	check_clock_cap(v, num, types);
	check_cross(v, num);
	check_read(v, num, types);
	check_status_rules(v);
	offered = vuf_features_offered(v);
	vuf_free(v);
	if (offered & (1ull << VIRTIO_RTC_F_ALARM)) {
		check_alarms(sock, num);
	} else {
		printf("INFO 5.23.3 VIRTIO_RTC_F_ALARM not offered: alarm "
		       "requirements not tested\n");
	}
	printf("summary: %u requirements tested, %u passed, %u failed\n",
	       n_pass + n_fail, n_pass, n_fail);
	return n_fail ? 1 : 0;
}
