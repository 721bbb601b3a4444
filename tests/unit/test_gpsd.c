// SPDX-License-Identifier: MIT
/*
 * Unit tests of sync/sources/gpsd_msg.c: the JSON key reader, the reduction of
 * libgps's unpacked messages, and the conversion of TOFF/PPS reports to
 * time samples with every reject case and the exact bounds.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gpsd.h"
#include "leap.h"

#define NS 1000000000LL
/* 2026-11-21 11:07:14 UTC */
#define T0 1795259234LL

static struct leap_table *leaps;

static void setup(void)
{
	static const struct leap_entry e[] = {
		{ .utc_s = 1483228800LL, .dtai = 37 }, /* 2017-01-01 */
		{ .utc_s = T0 + 86400, .dtai = 38 },   /* a made-up leap */
	};

	leaps = leap_table_new(e, 2, 4200000000LL);
	cr_assert_not_null(leaps);
}

static void teardown(void)
{
	leap_table_free(leaps);
}

TestSuite(gpsd, .init = setup, .fini = teardown);

static int jint(const char *json, const char *key, int64_t *v)
{
	return gpsd_json_int(json, strlen(json), key, v);
}

Test(gpsd, json_int_reads_top_level_keys_only)
{
	int64_t v = 0;

	cr_assert_eq(jint("{\"a\":1,\"precision\":-20}", "precision", &v), 0);
	cr_assert_eq(v, -20);
	cr_assert_eq(jint(" { \"qErr\" : 12345 } ", "qErr", &v), 0);
	cr_assert_eq(v, 12345);
	/* inside a nested object, an array or a string value: not ours */
	cr_assert_eq(jint("{\"x\":{\"precision\":3}}", "precision", &v),
		     -ENOENT);
	cr_assert_eq(jint("{\"x\":[{\"precision\":3}]}", "precision", &v),
		     -ENOENT);
	cr_assert_eq(
		jint("{\"device\":\"\\\"precision\\\":3\"}", "precision", &v),
		-ENOENT);
	cr_assert_eq(jint("{\"device\":\"precision\"}", "precision", &v),
		     -ENOENT);
	cr_assert_eq(
		jint("{\"x\":{\"a\":1},\"precision\":-3}", "precision", &v), 0);
	cr_assert_eq(v, -3);
}

Test(gpsd, json_int_rejects_bad_values_and_text)
{
	int64_t v = 77;

	cr_assert_eq(jint("{\"precision\":1.5}", "precision", &v), -EINVAL);
	cr_assert_eq(jint("{\"precision\":1e3}", "precision", &v), -EINVAL);
	cr_assert_eq(jint("{\"precision\":\"1\"}", "precision", &v), -EINVAL);
	cr_assert_eq(jint("{\"precision\":-}", "precision", &v), -EINVAL);
	cr_assert_eq(
		jint("{\"precision\":9223372036854775808}", "precision", &v),
		-ERANGE);
	cr_assert_eq(jint("{\"p\":-9223372036854775808}", "p", &v), 0);
	cr_assert_eq(v, INT64_MIN);
	cr_assert_eq(jint("[\"precision\",1]", "precision", &v), -EINVAL);
	cr_assert_eq(jint("", "precision", &v), -EINVAL);
	cr_assert_eq(jint("{\"precision", "precision", &v), -EINVAL);
	cr_assert_eq(jint("{\"precision\" 3}", "precision", &v), -EINVAL);
	cr_assert_eq(jint("{\"a\":{\"b\":1}", "precision", &v), -EINVAL);
	/* the length bounds the scan: the key past it is not seen */
	cr_assert_eq(gpsd_json_int("{\"a\":1,\"b\":2}", 7, "b", &v), -EINVAL);
}

static struct gpsd_msg parse_ok(const char *json)
{
	struct gpsd_msg m;

	cr_assert_eq(gpsd_msg_parse(json, strlen(json), &m), 0, "%s", json);
	return m;
}

Test(gpsd, parses_toff_as_gpsd_3_22_sends_it)
{
	struct gpsd_msg m = parse_ok(
		"{\"class\":\"TOFF\",\"device\":\"/dev/pts/0\",\"real_sec\":"
		"1795259234, \"real_nsec\":0,\"clock_sec\":1795259234,"
		"\"clock_nsec\":50695735}");

	cr_assert_eq(m.kind, GPSD_MSG_TOFF);
	cr_assert_str_eq(m.device, "/dev/pts/0");
	cr_assert_eq(m.real.tv_sec, T0);
	cr_assert_eq(m.real.tv_nsec, 0);
	cr_assert_eq(m.clock.tv_sec, T0);
	cr_assert_eq(m.clock.tv_nsec, 50695735);
	cr_assert(!m.has_leap);
}

Test(gpsd, parses_pps_with_precision_and_qerr)
{
	struct gpsd_msg m = parse_ok(
		"{\"class\":\"PPS\",\"device\":\"/dev/pps0\",\"real_sec\":"
		"1795259235,\"real_nsec\":0,\"clock_sec\":1795259234,"
		"\"clock_nsec\":999998000,\"precision\":-20,\"shm\":\"NTP2\","
		"\"qErr\":-4321}");

	cr_assert_eq(m.kind, GPSD_MSG_PPS);
	cr_assert_str_eq(m.device, "/dev/pps0");
	cr_assert_eq(m.real.tv_sec, T0 + 1);
	cr_assert_eq(m.clock.tv_nsec, 999998000);
	cr_assert(m.has_precision);
	cr_assert_eq(m.precision, -20);
	cr_assert(m.has_qerr);
	cr_assert_eq(m.qerr_ps, -4321);

	m = parse_ok("{\"class\":\"PPS\",\"device\":\"/dev/pps0\","
		     "\"real_sec\":1795259235,\"real_nsec\":0,"
		     "\"clock_sec\":1795259234,\"clock_nsec\":1}");
	cr_assert(!m.has_precision);
	cr_assert(!m.has_qerr);
}

Test(gpsd, parses_tpv_version_devices)
{
	struct gpsd_msg m = parse_ok(
		"{\"class\":\"TPV\",\"device\":\"/dev/pts/0\",\"mode\":3,"
		"\"time\":\"2026-11-21T11:07:14.000Z\",\"leapseconds\":18,"
		"\"lat\":48.1,\"lon\":11.5}");

	cr_assert_eq(m.kind, GPSD_MSG_TPV);
	cr_assert_eq(m.mode, 3);
	cr_assert_eq(m.fix_time.tv_sec, T0);
	cr_assert(m.has_leap);
	cr_assert_eq(m.leap_s, 18);

	m = parse_ok("{\"class\":\"TPV\",\"device\":\"/dev/pts/0\",\"mode\":1,"
		     "\"leapseconds\":1000}");
	cr_assert_eq(m.mode, 1);
	cr_assert(!m.has_leap, "an absurd leap count is ignored");

	m = parse_ok("{\"class\":\"VERSION\",\"release\":\"3.22\",\"rev\":"
		     "\"3.22\",\"proto_major\":3,\"proto_minor\":14}");
	cr_assert_eq(m.kind, GPSD_MSG_VERSION);
	cr_assert_str_eq(m.release, "3.22");

	m = parse_ok("{\"class\":\"DEVICES\",\"devices\":[{\"class\":"
		     "\"DEVICE\",\"path\":\"/dev/pts/0\",\"native\":0,"
		     "\"bps\":38400,\"parity\":\"N\",\"stopbits\":1,"
		     "\"cycle\":1.00}]}");
	cr_assert_eq(m.kind, GPSD_MSG_DEVICES);

	m = parse_ok("{\"class\":\"SKY\",\"device\":\"/dev/pts/0\"}");
	cr_assert_eq(m.kind, GPSD_MSG_OTHER);
}

static bool valid(const char *json)
{
	return gpsd_json_valid(json, strlen(json));
}

Test(gpsd, json_valid_accepts_gpsd_messages_only)
{
	cr_assert(valid("{\"class\":\"TPV\",\"mode\":3,\"lat\":-1.5e-3,"
			"\"x\":[1,{\"a\":null},true,false,\"s\\\"\"]}\r"));
	cr_assert(valid(" {} "));
	/* what made libgps 3.22 loop forever (fuzz_gpsd) */
	cr_assert(!valid("{a\"class\":\"PPS\""));
	cr_assert(!valid("{a\"class\":\"PPS\"}"));
	cr_assert(!valid("{\"class\":\"PPS\"_}"));
	cr_assert(!valid("{\"class\":\"PPS\"}{\"class\":\"PPS\"}"));
	cr_assert(!valid("{\"a\":1,}"));
	cr_assert(!valid("{\"a\":01x}"));
	cr_assert(!valid("{\"a\":1.}"));
	cr_assert(!valid("{\"a\":1e}"));
	cr_assert(!valid("{\"a\":tru}"));
	cr_assert(!valid("{\"a\":\"x\ty\"}"), "raw control character");
	cr_assert(!valid("{\"a\":[1,2}"));
	cr_assert(!valid("[1]"));
	cr_assert(!valid(""));
	cr_assert(!valid("{\"a\":[[[[[[[[[1]]]]]]]]]}"), "nested 9 deep");
	cr_assert(valid("{\"a\":[[[[[[[1]]]]]]]}"), "nested 8 deep");
	cr_assert(!gpsd_json_valid("{\"a\":1}\0", 9), "NUL byte");
	cr_assert(!gpsd_json_valid("{\"a\":1}", 6), "cut short");
}

Test(gpsd, parse_rejects_non_messages)
{
	static char big[5000];
	struct gpsd_msg m;

	cr_assert_eq(gpsd_msg_parse("{\"mode\":3}", 10, &m), -EINVAL);
	cr_assert_eq(gpsd_msg_parse("hello", 5, &m), -EINVAL);
	cr_assert_eq(gpsd_msg_parse("", 0, &m), -EINVAL);
	cr_assert_eq(gpsd_msg_parse("{a\"class\":\"PPS\"", 16, &m), -EINVAL);
	/* valid JSON that also made libgps 3.22 loop forever (fuzz_gpsd) */
	m.kind = GPSD_MSG_TPV;
	cr_assert_eq(gpsd_msg_parse("{\"\":\"\",\"\":[{\"class\":\"DEVICE\","
				    "\"\":0,\"\":1}]}",
				    41, &m),
		     -EINVAL, "class is not the first key");
	cr_assert_eq(gpsd_msg_parse("{\"class\":\"TPV\",\"x\":[{\"class\":"
				    "\"DEVICE\"}]}",
				    40, &m),
		     -EINVAL, "nesting in a class we unpack");
	cr_assert_eq(gpsd_msg_parse("{\"class\":\"TPV\",\"mode\":3,\"class\":"
				    "\"VERSION\"}",
				    42, &m),
		     -EINVAL, "a second class key");
	cr_assert_eq(
		gpsd_msg_parse("{\"class\":\"TPV\",\"device\":\"\\\"class\"}",
			       34, &m),
		-EINVAL, "class inside a string");
	cr_assert_eq(gpsd_msg_parse("{\"class\":\"SKY\",\"x\":[{\"class\":"
				    "\"DEVICE\"}]}",
				    40, &m),
		     0);
	cr_assert_eq(m.kind, GPSD_MSG_OTHER, "SKY is not unpacked");
	memset(big, ' ', sizeof(big));
	cr_assert_eq(gpsd_msg_parse(big, sizeof(big), &m), -EMSGSIZE);
}

/* ---- conversion ---- */

static const struct gpsd_now now0 = {
	.rt_ns = T0 * NS + 300000000, /* 0.3 s into the second */
	.raw_ns = 5000 * NS,
	.half_ns = 400,
};

static struct gpsd_msg toff(int64_t real_s, long real_ns, int64_t clock_s,
			    long clock_ns)
{
	struct gpsd_msg m = { .kind = GPSD_MSG_TOFF };

	m.real.tv_sec = (time_t)real_s;
	m.real.tv_nsec = real_ns;
	m.clock.tv_sec = (time_t)clock_s;
	m.clock.tv_nsec = clock_ns;
	return m;
}

static struct gpsd_msg pps(int precision, int64_t qerr_ps)
{
	struct gpsd_msg m = toff(T0, 0, T0, 2000);

	m.kind = GPSD_MSG_PPS;
	m.has_precision = true;
	m.precision = precision;
	m.has_qerr = qerr_ps != 0;
	m.qerr_ps = qerr_ps;
	return m;
}

static int conv(const struct gpsd_msg *m, int mode, struct time_sample *s)
{
	struct gpsd_conv cv = { .leaps = leaps };

	return gpsd_msg_to_sample(m, mode, &now0, &cv, s);
}

Test(gpsd, toff_maps_clock_time_to_counter_with_500ms_bound)
{
	struct gpsd_msg m = toff(T0, 0, T0, 50000000);
	struct time_sample s;
	int64_t age = 250000000; /* 0.3 s - 0.05 s */

	cr_assert_eq(conv(&m, 3, &s), 0);
	cr_assert_eq(s.counter, (uint64_t)(5000 * NS - age));
	cr_assert_eq(s.tai_ns, (T0 + 37) * NS);
	cr_assert_eq(s.window_ns, 800);
	/* 500 ms + half window + 1 ppm*1000 of 0.25 s + 1 */
	cr_assert_eq(s.err_ns, 500000000ULL + 400 + 250000 + 1);

	struct gpsd_conv cv = { .leaps = leaps,
				.toff_err_ns = 20000000,
				.slew_ppb = 500 };
	cr_assert_eq(gpsd_msg_to_sample(&m, 2, &now0, &cv, &s), 0);
	cr_assert_eq(s.err_ns, 20000000ULL + 400 + 125 + 1);
}

Test(gpsd, pps_bound_is_precision_plus_qerr_plus_mapping)
{
	struct gpsd_msg m = pps(-20, -4321);
	struct time_sample s;
	int64_t age = 300000000 - 2000;
	uint64_t slew = (uint64_t)((age * 1000000 + NS - 1) / NS);

	cr_assert_eq(conv(&m, 3, &s), 0);
	cr_assert_eq(s.counter, (uint64_t)(5000 * NS - age));
	cr_assert_eq(s.tai_ns, (T0 + 37) * NS);
	/* 2^-20 s = 953.67 ns -> 954; 4321 ps -> 5 ns */
	cr_assert_eq(s.err_ns, 954 + 5 + 400 + slew + 1);

	m = pps(0, 0);
	cr_assert_eq(conv(&m, 3, &s), 0);
	cr_assert_eq(s.err_ns, (uint64_t)NS + 400 + slew + 1);
	m = pps(-30, 0);
	cr_assert_eq(conv(&m, 3, &s), 0);
	cr_assert_eq(s.err_ns, 1 + 400 + slew + 1);
	/* no precision in the message: 2^-10 s */
	m = pps(-20, 0);
	m.has_precision = false;
	cr_assert_eq(conv(&m, 3, &s), 0);
	cr_assert_eq(s.err_ns, 976563 + 400 + slew + 1);
}

Test(gpsd, tai_follows_the_leap_table_at_the_receiver_time)
{
	struct gpsd_msg m = toff(T0 + 86400, 0, T0, 1);
	struct time_sample s;

	cr_assert_eq(conv(&m, 3, &s), 0);
	cr_assert_eq(s.tai_ns, (T0 + 86400 + 38) * NS);
	m = toff(T0 + 86399, 999999999, T0, 1);
	cr_assert_eq(conv(&m, 3, &s), 0);
	cr_assert_eq(s.tai_ns, (T0 + 86399 + 37) * NS + 999999999);
}

Test(gpsd, rejects_without_touching_the_sample)
{
	struct time_sample s = { .counter = 42 };
	struct gpsd_msg m;

	m = toff(T0, 0, T0, 1);
	m.kind = GPSD_MSG_TPV;
	cr_assert_eq(conv(&m, 3, &s), -EINVAL);
	m = toff(T0, NS, T0, 1);
	cr_assert_eq(conv(&m, 3, &s), -EINVAL);
	m = toff(T0, 0, T0, -1);
	cr_assert_eq(conv(&m, 3, &s), -EINVAL);
	m = toff(946684799LL, 0, T0, 1); /* 1999 */
	cr_assert_eq(conv(&m, 3, &s), -EINVAL);
	m = toff(T0, 0, 7258118400LL, 0); /* 2200 */
	cr_assert_eq(conv(&m, 3, &s), -EINVAL);
	m = pps(-31, 0);
	cr_assert_eq(conv(&m, 3, &s), -EINVAL);
	m = pps(1, 0);
	cr_assert_eq(conv(&m, 3, &s), -EINVAL);
	m = pps(-20, 1000000001LL);
	cr_assert_eq(conv(&m, 3, &s), -EINVAL);
	m = pps(-20, -1000000001LL);
	cr_assert_eq(conv(&m, 3, &s), -EINVAL);
	/* no fix */
	m = toff(T0, 0, T0, 1);
	cr_assert_eq(conv(&m, 1, &s), -ENODATA);
	cr_assert_eq(conv(&m, 0, &s), -ENODATA);
	/* host time after now */
	m = toff(T0, 0, T0, 300000001);
	cr_assert_eq(conv(&m, 3, &s), -ERANGE);
	/* receiver and host more than 1e6 s apart */
	m = toff(T0 - 1000001, 0, T0, 1);
	cr_assert_eq(conv(&m, 3, &s), -ERANGE);
	/* older than 2 s */
	m = toff(T0, 0, T0 - 2, 299999999);
	cr_assert_eq(conv(&m, 3, &s), -ESTALE);
	cr_assert_eq(s.counter, 42);
}

Test(gpsd, accepts_the_limits)
{
	struct time_sample s;
	struct gpsd_msg m;

	m = toff(T0, 0, T0, 300000000); /* clock == now */
	cr_assert_eq(conv(&m, 2, &s), 0);
	cr_assert_eq(s.counter, (uint64_t)(5000 * NS));
	m = toff(T0 - 1000000, 0, T0, 1); /* exactly 1e6 s apart */
	cr_assert_eq(conv(&m, 3, &s), 0);
	m = toff(T0, 0, T0 - 2, 300000000); /* exactly 2 s old */
	cr_assert_eq(conv(&m, 3, &s), 0);
	cr_assert_eq(s.counter, (uint64_t)(4998 * NS));
	m = pps(-20, 1000000000LL); /* qErr 1 ms */
	cr_assert_eq(conv(&m, 3, &s), 0);
}

Test(gpsd, rejects_an_age_beyond_the_counter)
{
	struct gpsd_now n = now0;
	struct gpsd_conv cv = { .leaps = leaps };
	struct gpsd_msg m = toff(T0, 0, T0, 1);
	struct time_sample s;

	n.raw_ns = 1000;
	cr_assert_eq(gpsd_msg_to_sample(&m, 3, &n, &cv, &s), -ERANGE);
	n = now0;
	n.half_ns = NS + 1;
	cr_assert_eq(gpsd_msg_to_sample(&m, 3, &n, &cv, &s), -EINVAL);
}
