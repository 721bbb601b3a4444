// SPDX-License-Identifier: MIT
/* Unit tests: leap-seconds.list parser and leap table (sync/model/leap.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leap.h"
#include "test_seed.h"

#define HDR "#\tsynthetic\n#$\t3900000000\n#@\t4000000000\n"
#define DATA3                                                                  \
	"2272060800\t10\t# 1 Jan 1972\n"                                       \
	"2287785600\t11\t# 1 Jul 1972\n"                                       \
	"2303683200\t12\t# 1 Jan 1973\n"
/* SHA-1 of "3900000000" "4000000000" and the data digits, computed
 * independently of the code under test. */
#define HASH3 "#h\tb87663c0 f0e84e09 b5c27797 8e46f74a d5555f02\n"

static struct leap_table *parse_str(const char *s, GError **err)
{
	return leap_table_parse(s, strlen(s), err);
}

/* Parse must fail with @code in LEAP_ERROR. */
static void expect_fail(const char *text, size_t len, int code)
{
	GError *err = NULL;
	struct leap_table *t = leap_table_parse(text, len, &err);

	cr_assert_null(t, "accepted: %.60s", text);
	cr_assert_not_null(err);
	cr_assert_eq(err->domain, LEAP_ERROR);
	cr_assert_eq(err->code, code, "code %d (%s), want %d", err->code,
		     err->message, code);
	g_error_free(err);
}

static void expect_fail_str(const char *text, int code)
{
	expect_fail(text, strlen(text), code);
}

Test(leap, real_file)
{
	GError *err = NULL;
	struct leap_table *t = leap_table_load(LEAP_DEFAULT_PATH, &err);

	cr_assert_not_null(t, "%s", err ? err->message : "");
	cr_assert(t->hash_ok);
	cr_assert_geq(t->n, 28);
	cr_assert_eq(t->e[0].utc_s, 63072000); /* 1 Jan 1972 */
	cr_assert_eq(t->e[0].dtai, 10);
	cr_assert_eq(t->e[27].utc_s, 1483228800); /* 1 Jan 2017 */
	cr_assert_eq(t->e[27].dtai, 37);
	cr_assert_gt(t->expires_utc_s, t->updated_utc_s);
	cr_assert_gt(t->updated_utc_s, 1483228800);
	cr_assert_eq(leap_dtai_at_utc(t, 1483228799), 36);
	cr_assert_eq(leap_dtai_at_utc(t, 1483228800), 37);
	cr_assert_eq(leap_dtai_at_utc(t, 0), 10);
	for (size_t i = 1; i < t->n; i++) {
		cr_assert_gt(t->e[i].utc_s, t->e[i - 1].utc_s);
		cr_assert_eq(t->e[i].utc_s % 86400, 0);
	}
	leap_table_free(t);
}

Test(leap, synthetic_hash)
{
	GError *err = NULL;
	struct leap_table *t = parse_str(HDR DATA3 HASH3, &err);

	cr_assert_not_null(t, "%s", err ? err->message : "");
	cr_assert(t->hash_ok);
	cr_assert_eq(t->n, 3);
	cr_assert_eq(t->updated_utc_s, 3900000000LL - LEAP_NTP_UNIX_OFFSET);
	cr_assert_eq(t->expires_utc_s, 4000000000LL - LEAP_NTP_UNIX_OFFSET);
	cr_assert_eq(t->e[1].utc_s, 2287785600LL - LEAP_NTP_UNIX_OFFSET);
	cr_assert_eq(t->e[2].dtai, 12);
	leap_table_free(t);
}

Test(leap, hash_first_and_leading_zero_dropped)
{
	/* word 1 is 068054d8; NIST files have printed it as 68054d8 */
	const char *s = "#h 68054d8 f31f22d8 6d78af0e 4b0b4ff6 b638afc4\n"
			"#$ 3900000001\n#@ 4000000000\n" DATA3;
	GError *err = NULL;
	struct leap_table *t = parse_str(s, &err);

	cr_assert_not_null(t, "%s", err ? err->message : "");
	cr_assert(t->hash_ok);
	leap_table_free(t);
}

Test(leap, crlf_and_no_final_newline)
{
	const char *s = "#$\t3900000000\r\n#@\t4000000000\r\n"
			"2272060800\t10\t# a\r\n2287785600\t11\r\n"
			"   # indented comment\r\n\r\n"
			"2303683200 12\r\n"
			"#h\tb87663c0 f0e84e09 b5c27797 8e46f74a d5555f02";
	GError *err = NULL;
	struct leap_table *t = parse_str(s, &err);

	cr_assert_not_null(t, "%s", err ? err->message : "");
	cr_assert(t->hash_ok);
	cr_assert_eq(t->n, 3);
	leap_table_free(t);
}

Test(leap, missing_hash_is_not_ok_but_parses)
{
	GError *err = NULL;
	struct leap_table *t = parse_str(HDR DATA3, &err);

	cr_assert_not_null(t);
	cr_assert_not(t->hash_ok);
	leap_table_free(t);
}

Test(leap, bad_hash)
{
	expect_fail_str(HDR DATA3
			"#h\tb87663c0 f0e84e09 b5c27797 8e46f74a d5555f03\n",
			EBADMSG);
	/* data changed under a good hash */
	expect_fail_str(HDR "2272147200\t10\n2287785600\t11\n"
			    "2303683200\t12\n" HASH3,
			EBADMSG);
	expect_fail_str("#$\t3900000000\n#@\t4000000001\n" DATA3 HASH3,
			EBADMSG);
}

Test(leap, malformed_hash_line)
{
	expect_fail_str(HDR DATA3 "#h b87663c0 f0e84e09 b5c27797 8e46f74a\n",
			EINVAL);
	expect_fail_str(HDR DATA3 "#h b87663c0 f0e84e09 b5c27797 8e46f74a "
				  "d5555f02 00000000\n",
			EINVAL);
	expect_fail_str(HDR DATA3 "#h 0b87663c0 f0e84e09 b5c27797 8e46f74a "
				  "d5555f02\n",
			EINVAL);
	expect_fail_str(HDR DATA3 "#h b87663cg f0e84e09 b5c27797 8e46f74a "
				  "d5555f02\n",
			EINVAL);
	expect_fail_str(HDR DATA3 HASH3 HASH3, EINVAL);
}

Test(leap, empty_and_comment_only)
{
	expect_fail("", 0, ENODATA);
	expect_fail_str("\n\n\n", ENODATA);
	expect_fail_str("# nothing\n#\n", ENODATA);
	expect_fail_str(HDR, ENODATA);
	expect_fail(NULL, 0, ENODATA);
}

Test(leap, missing_stamps)
{
	expect_fail_str("#$\t3900000000\n" DATA3, ENODATA);
	expect_fail_str("#@\t4000000000\n" DATA3, ENODATA);
	expect_fail_str("#$\t3900000000\n#$\t3900000000\n#@\t1\n" DATA3,
			EINVAL);
	expect_fail_str("#$\n#@\t4000000000\n" DATA3, EINVAL);
	expect_fail_str("#$ 39x\n#@\t4000000000\n" DATA3, EINVAL);
	expect_fail_str("#$ 39 40\n#@\t4000000000\n" DATA3, EINVAL);
}

Test(leap, huge_numbers)
{
	expect_fail_str(HDR "99999999999999999999999999 10\n", ERANGE);
	expect_fail_str(HDR "9223372036854775807 10\n", ERANGE);
	expect_fail_str(HDR "9223372036854775808 10\n", ERANGE);
	expect_fail_str(HDR "18446744073709551616 10\n", ERANGE);
	expect_fail_str(HDR "17179869185 10\n", ERANGE); /* 2^34 + 1 */
	expect_fail_str(HDR "2272060800 201\n", ERANGE);
	expect_fail_str(HDR "2272060800 4294967306\n", ERANGE);
	expect_fail_str("#$ 99999999999999999999\n#@ 4000000000\n" DATA3,
			ERANGE);
	expect_fail_str(
		"#$ 3900000000\n#@ 00000000000000000000000000001\n" DATA3,
		ERANGE);
}

Test(leap, number_limits_accepted)
{
	GError *err = NULL;
	struct leap_table *t =
		parse_str(HDR "17179869184 200\n", &err); /* 2^34 */

	cr_assert_not_null(t, "%s", err ? err->message : "");
	cr_assert_eq(t->e[0].utc_s, (1LL << 34) - LEAP_NTP_UNIX_OFFSET);
	cr_assert_eq(t->e[0].dtai, 200);
	leap_table_free(t);
	t = parse_str("#$ 0\n#@ 0\n0 0\n", &err);
	cr_assert_not_null(t);
	cr_assert_eq(t->e[0].utc_s, -LEAP_NTP_UNIX_OFFSET);
	leap_table_free(t);
}

Test(leap, malformed_data)
{
	expect_fail_str(HDR "-2272060800 10\n", EINVAL);
	expect_fail_str(HDR "2272060800 -10\n", EINVAL);
	expect_fail_str(HDR "2272060800\n", EINVAL);
	expect_fail_str(HDR "2272060800 10 11\n", EINVAL);
	expect_fail_str(HDR "2272060800 10 x\n", EINVAL);
	expect_fail_str(HDR "2272060800x 10\n", EINVAL);
	expect_fail_str(HDR "0x1234 10\n", EINVAL);
	expect_fail_str(HDR "+2272060800 10\n", EINVAL);
	expect_fail_str(HDR "2272060800.5 10\n", EINVAL);
	expect_fail_str(HDR "garbage\n", EINVAL);
	expect_fail_str(HDR "\xff\xfe\x80\n", EINVAL);
}

Test(leap, unsorted_duplicate_close)
{
	expect_fail_str(HDR "2287785600 11\n2272060800 10\n", EINVAL);
	expect_fail_str(HDR "2272060800 10\n2272060800 11\n", EINVAL);
	expect_fail_str(HDR "2272060800 10\n2272147199 11\n", EINVAL);
	/* exactly one day apart is allowed */
	GError *err = NULL;
	struct leap_table *t =
		parse_str(HDR "2272060800 10\n2272147200 11\n", &err);

	cr_assert_not_null(t, "%s", err ? err->message : "");
	leap_table_free(t);
}

Test(leap, steps_other_than_one)
{
	expect_fail_str(HDR "2272060800 10\n2287785600 12\n", EINVAL);
	expect_fail_str(HDR "2272060800 10\n2287785600 10\n", EINVAL);
	expect_fail_str(HDR "2272060800 10\n2287785600 8\n", EINVAL);

	/* a negative leap (-1) is legal */
	GError *err = NULL;
	struct leap_table *t =
		parse_str(HDR "2272060800 10\n2287785600 9\n", &err);

	cr_assert_not_null(t, "%s", err ? err->message : "");
	cr_assert_eq(leap_dtai_at_utc(t, 2287785600LL - LEAP_NTP_UNIX_OFFSET),
		     9);
	leap_table_free(t);
}

Test(leap, embedded_nul)
{
	static const char s[] = HDR "2272060800 10\n\0"
				    "2287785600 11\n";

	expect_fail(s, sizeof(s) - 1, EINVAL);
	expect_fail(s, strlen(s) + 1, EINVAL);
	/* a length that stops before the NUL parses */
	GError *err = NULL;
	struct leap_table *t = leap_table_parse(s, strlen(s), &err);

	cr_assert_not_null(t);
	cr_assert_eq(t->n, 1);
	leap_table_free(t);
}

/* @n data lines a day apart with dtai alternating 10, 11. */
static GString *many_lines(unsigned int n, unsigned int comments)
{
	GString *s = g_string_new(HDR);

	for (unsigned int i = 0; i < comments; i++) {
		g_string_append_printf(s, "# comment line %u\n", i);
	}
	for (unsigned int i = 0; i < n; i++) {
		g_string_append_printf(s, "%lld %u\n",
				       2272060800LL + 86400LL * i, 10 + i % 2);
	}
	return s;
}

Test(leap, thousand_entries_ok_2000_rejected)
{
	GError *err = NULL;
	GString *s = many_lines(1000, 0);
	struct leap_table *t = leap_table_parse(s->str, s->len, &err);

	cr_assert_not_null(t, "%s", err ? err->message : "");
	cr_assert_eq(t->n, 1000);
	leap_table_free(t);
	g_string_free(s, TRUE);

	s = many_lines(1001, 0);
	expect_fail(s->str, s->len, E2BIG);
	g_string_free(s, TRUE);
	s = many_lines(2000, 0);
	expect_fail(s->str, s->len, E2BIG);
	g_string_free(s, TRUE);

	s = many_lines(3, 2000);
	t = leap_table_parse(s->str, s->len, &err);
	cr_assert_not_null(t);
	cr_assert_eq(t->n, 3);
	leap_table_free(t);
	g_string_free(s, TRUE);
}

Test(leap, over_one_mib)
{
	size_t len = 1024 * 1024 + 1;
	char *s = g_malloc(len);

	memset(s, '#', len);
	for (size_t i = 80; i < len; i += 81) {
		s[i] = '\n';
	}
	expect_fail(s, len, EFBIG);
	g_free(s);
}

static char *write_tmp(const char *data, size_t len)
{
	GError *err = NULL;
	char *path = NULL;
	int fd = g_file_open_tmp("test_leap_XXXXXX", &path, &err);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

Test(leap, load_errors)
{
	GError *err = NULL;
	struct leap_table *t;
	char *big, *path;

	t = leap_table_load("/nonexistent/leap-seconds.list", &err);
	cr_assert_null(t);
	cr_assert_eq(err->code, ENOENT);
	g_clear_error(&err);

	t = leap_table_load("/", &err);
	cr_assert_null(t);
	cr_assert_eq(err->code, EINVAL);
	g_clear_error(&err);

	t = leap_table_load("/dev/zero", &err);
	cr_assert_null(t);
	g_clear_error(&err);

	big = g_malloc(2 * 1024 * 1024);
	memset(big, '\n', 2 * 1024 * 1024);
	path = write_tmp(big, 2 * 1024 * 1024);
	t = leap_table_load(path, &err);
	cr_assert_null(t);
	cr_assert_eq(err->code, EFBIG);
	g_clear_error(&err);
	unlink(path);
	g_free(path);
	g_free(big);

	path = write_tmp(HDR DATA3 HASH3, strlen(HDR DATA3 HASH3));
	t = leap_table_load(path, &err);
	cr_assert_not_null(t);
	cr_assert(t->hash_ok);
	leap_table_free(t);
	unlink(path);
	g_free(path);

	path = write_tmp(HDR "bad\n", strlen(HDR "bad\n"));
	t = leap_table_load(path, &err);
	cr_assert_null(t);
	cr_assert(strstr(err->message, path), "%s", err->message);
	cr_assert(strstr(err->message, "line 4"), "%s", err->message);
	g_clear_error(&err);
	unlink(path);
	g_free(path);
}

/* Random garbage: never crashes; a table is always well-formed. */
Test(leap, random_garbage)
{
	static const char alphabet[] = "0123456789 \t\n#$@habcdef-x\r";
	unsigned int seed = test_seed("leap random_garbage");
	char buf[512];

	srand(seed);
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = (size_t)rand() % sizeof(buf);
		GError *err = NULL;
		struct leap_table *t;

		for (size_t i = 0; i < len; i++) {
			buf[i] = iter % 2 ? alphabet[rand() %
						     (sizeof(alphabet) - 1)]
					  : (char)(1 + rand() % 255);
		}
		t = leap_table_parse(buf, len, &err);
		if (t) {
			cr_assert_geq(t->n, 1);
			for (size_t i = 1; i < t->n; i++) {
				cr_assert_geq(t->e[i].utc_s - t->e[i - 1].utc_s,
					      86400);
			}
			leap_table_free(t);
		} else {
			cr_assert_not_null(err);
			g_error_free(err);
		}
	}
}

Test(leap, table_new)
{
	static const struct leap_entry ok[] = {
		{ 63072000, 10 },
		{ 1483228800, 37 },
		{ 4102444800LL, 38 },
	};
	static const struct leap_entry unsorted[] = {
		{ 1483228800, 37 },
		{ 63072000, 10 },
	};
	static const struct leap_entry near[] = {
		{ 1483228800, 37 },
		{ 1483228800 + 86399, 38 },
	};
	static const struct leap_entry big[] = { { 0, 201 } };
	struct leap_table *t = leap_table_new(ok, 3, 4200000000LL);

	cr_assert_not_null(t);
	cr_assert_eq(t->n, 3);
	cr_assert_not(t->hash_ok);
	cr_assert_eq(t->expires_utc_s, 4200000000LL);
	cr_assert_eq(leap_dtai_at_utc(t, -1000000), 10);
	cr_assert_eq(leap_dtai_at_utc(t, 1483228799), 10);
	cr_assert_eq(leap_dtai_at_utc(t, 1483228800), 37);
	cr_assert_eq(leap_dtai_at_utc(t, 4102444799LL), 37);
	cr_assert_eq(leap_dtai_at_utc(t, 4102444800LL), 38);
	cr_assert_eq(leap_dtai_at_utc(t, INT64_MAX), 38);
	cr_assert_eq(leap_dtai_at_utc(t, INT64_MIN), 10);
	cr_assert_not(leap_table_expired(t, 4199999999LL));
	cr_assert(leap_table_expired(t, 4200000000LL));
	leap_table_free(t);

	cr_assert_null(leap_table_new(ok, 0, 0));
	cr_assert_null(leap_table_new(NULL, 3, 0));
	cr_assert_null(leap_table_new(unsorted, 2, 0));
	cr_assert_null(leap_table_new(near, 2, 0));
	cr_assert_null(leap_table_new(big, 1, 0));
	leap_table_free(NULL);
	cr_assert(leap_table_expired(NULL, 0));
	cr_assert_eq(leap_dtai_at_utc(NULL, 0), 0);
}
