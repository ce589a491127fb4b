/*
 * tests/cli/test_line.c: the load/dump line format (redis/cli/line.h),
 * linked directly: decoding, every way a line is rejected, and the
 * format/parse round trip on random binary keys and values.
 */
#define _GNU_SOURCE
#include "line.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Parses a copy of the NUL-terminated `text` (its length by strlen), so
 * the literal stays intact; the record points into *buf (free it). */
static int parse(const char *text, struct line_rec *rec, char **buf, char *why)
{
	size_t len = strlen(text);
	*buf = malloc(len + 1);
	cr_assert_not_null(*buf);
	memcpy(*buf, text, len + 1);
	return line_parse(*buf, len, rec, why, LINE_WHYLEN);
}

static void expect_ok(const char *text, const void *key, size_t klen,
		      const void *val, size_t vlen, int64_t px,
		      enum line_kind kind)
{
	struct line_rec rec;
	char *buf, why[LINE_WHYLEN] = "";
	cr_assert_eq(parse(text, &rec, &buf, why), 0, "%s: %s", text, why);
	cr_assert_eq(rec.klen, klen, "%s", text);
	cr_assert_eq(memcmp(rec.key, key, klen), 0, "%s", text);
	cr_assert_eq(rec.vlen, vlen, "%s", text);
	cr_assert_eq(memcmp(rec.val, val, vlen), 0, "%s", text);
	cr_assert_eq(rec.px, px, "%s", text);
	cr_assert_eq(rec.kind, kind, "%s", text);
	free(buf);
}

static void expect_bad(const char *text, const char *reason)
{
	struct line_rec rec;
	char *buf, why[LINE_WHYLEN] = "";
	cr_assert_eq(parse(text, &rec, &buf, why), EINVAL, "%s", text);
	cr_assert_str_eq(why, reason, "%s", text);
	free(buf);
}

Test(line, plain_line_is_key_and_string_value)
{
	expect_ok("user:1\tAda Lovelace", "user:1", 6, "Ada Lovelace", 12, 0,
		  LINE_STRING);
}

Test(line, empty_key_and_empty_value_are_allowed)
{
	expect_ok("\tv", "", 0, "v", 1, 0, LINE_STRING);
	expect_ok("k\t", "k", 1, "", 0, 0, LINE_STRING);
	expect_ok("\t", "", 0, "", 0, 0, LINE_STRING);
}

Test(line, named_escapes_decode_in_key_and_value)
{
	expect_ok("a\\tb\\\\c\tx\\ny\\rz", "a\tb\\c", 5, "x\ny\rz", 5, 0,
		  LINE_STRING);
}

Test(line, hex_escapes_give_any_byte_in_either_case)
{
	expect_ok("\\x00\\xff\\xAb\t\\x7F", "\0\xff\xab", 3, "\x7f", 1, 0,
		  LINE_STRING);
}

Test(line, raw_bytes_other_than_tab_and_lf_stand_for_themselves)
{
	const char text[] = "caf\xc3\xa9\tx\ry\x01 \xff";
	expect_ok(text, "caf\xc3\xa9", 5, "x\ry\x01 \xff", 6, 0, LINE_STRING);
}

Test(line, raw_nul_byte_is_data)
{
	char buf[] = {'a', 0, 'b', '\t', 0};
	struct line_rec rec;
	char why[LINE_WHYLEN];
	cr_assert_eq(line_parse(buf, sizeof buf, &rec, why, sizeof why), 0);
	cr_assert_eq(rec.klen, 3);
	cr_assert_eq(memcmp(rec.key, "a\0b", 3), 0);
	cr_assert_eq(rec.vlen, 1);
	cr_assert_eq(rec.val[0], 0);
}

Test(line, bad_escapes_are_rejected_with_their_column)
{
	expect_bad("a\\qb\tv", "bad escape in the key at column 2");
	expect_bad("k\tvv\\", "bad escape in the value at column 5");
	expect_bad("k\t\\x1", "bad escape in the value at column 3");
	expect_bad("k\t\\xg0", "bad escape in the value at column 3");
	expect_bad("k\t\\X41", "bad escape in the value at column 3");
	expect_bad("k\\0\tv", "bad escape in the key at column 2");
}

Test(line, line_without_tab_is_rejected)
{
	expect_bad("just a key", "no TAB after the key at column 11");
	expect_bad("", "no TAB after the key at column 1");
}

Test(line, attributes_set_ttl_and_type_in_any_order)
{
	expect_ok("k\tv\tpx=1500", "k", 1, "v", 1, 1500, LINE_STRING);
	expect_ok("k\tv\ttype=dump\tpx=7", "k", 1, "v", 1, 7, LINE_DUMP);
	expect_ok("k\tv\tpx=7\ttype=dump", "k", 1, "v", 1, 7, LINE_DUMP);
	expect_ok("k\tv\ttype=string", "k", 1, "v", 1, 0, LINE_STRING);
}

Test(line, bad_or_repeated_or_unknown_attributes_are_rejected)
{
	expect_bad("k\tv\tpx=0", "bad attribute at column 5");
	expect_bad("k\tv\tpx=-5", "bad attribute at column 5");
	expect_bad("k\tv\tpx=12a", "bad attribute at column 5");
	expect_bad("k\tv\tpx=", "bad attribute at column 5");
	expect_bad("k\tv\tpx=1234567890123456789", "bad attribute at column 5");
	expect_bad("k\tv\tpx=1\tpx=2", "bad attribute at column 10");
	expect_bad("k\tv\ttype=hash", "bad attribute at column 5");
	expect_bad("k\tv\tex=10", "bad attribute at column 5");
	expect_bad("k\tv\t", "bad attribute at column 5");
	expect_bad("k\tv\tpx=5\t", "bad attribute at column 10");
}

Test(line, format_writes_attributes_and_one_lf)
{
	char out[LINE_FORMAT_MAX(1, 3)];
	size_t n = line_format(out, "k", 1, "a\tb", 3, 250, LINE_DUMP);
	const char want[] = "k\ta\\tb\tpx=250\ttype=dump\n";
	cr_assert_eq(n, sizeof want - 1);
	cr_assert_eq(memcmp(out, want, n), 0);
	n = line_format(out, "k", 1, "v", 1, 0, LINE_STRING);
	cr_assert_eq(n, 4);
	cr_assert_eq(memcmp(out, "k\tv\n", 4), 0);
}

Test(line, escape_writes_plain_ascii_only)
{
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	char out[4 * 256];
	size_t n = line_escape(out, all, sizeof all);
	for (size_t i = 0; i < n; i++)
		cr_assert(out[i] >= 0x20 && out[i] < 0x7f, "byte %zu", i);
	/* 95 printable bytes, the backslash and three named escapes take
	 * two bytes, and the other 158 bytes four. */
	cr_assert_eq(n, 94 + 2 * 4 + 4 * 158);
}

/* xorshift64: a fixed seed keeps the test repeatable. */
static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void random_bytes(unsigned char *p, size_t n, uint64_t *s)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)next(s);
}

Test(line, format_then_parse_round_trips_random_binary_data)
{
	uint64_t seed = 0x9e3779b97f4a7c15u;
	unsigned char key[64], val[300];
	char line[LINE_FORMAT_MAX(sizeof key, sizeof val)];
	for (int round = 0; round < 2000; round++) {
		size_t klen = next(&seed) % sizeof key;
		size_t vlen = next(&seed) % sizeof val;
		int64_t px = (int64_t)(next(&seed) % 3 == 0 ? 1 + round : 0);
		enum line_kind kind = round % 2 ? LINE_DUMP : LINE_STRING;
		random_bytes(key, klen, &seed);
		random_bytes(val, vlen, &seed);
		size_t n = line_format(line, key, klen, val, vlen, px, kind);
		cr_assert_eq(line[n - 1], '\n');
		cr_assert_null(memchr(line, '\n', n - 1));
		struct line_rec rec;
		char why[LINE_WHYLEN];
		cr_assert_eq(line_parse(line, n - 1, &rec, why, sizeof why), 0,
			     "%s", why);
		cr_assert_eq(rec.klen, klen);
		cr_assert_eq(memcmp(rec.key, key, klen), 0);
		cr_assert_eq(rec.vlen, vlen);
		cr_assert_eq(memcmp(rec.val, val, vlen), 0);
		cr_assert_eq(rec.px, px);
		cr_assert_eq(rec.kind, kind);
	}
}
