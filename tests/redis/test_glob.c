/*
 * tests/redis/test_glob.c: Redis glob matching (redis/glob.h and
 * mt_redis_glob_match), hand-picked cases, no server.
 *
 * Each case is one rule of glob.h; the expected answers are the server's
 * (checked against redis-server 7.0.15's SCAN MATCH by
 * test_glob_server.c, which also covers random patterns). Order: literals,
 * '*', '?', classes, escapes, binary bytes, the "*" and empty-string
 * special cases, then the pathological-pattern protections.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include <mtpool/redis.h>

#include "glob.h"

/* Patterns and strings as byte ranges: sizeof - 1 keeps embedded NULs. */
#define M(p, s) mt__redis_stringmatch(p, sizeof(p) - 1, s, sizeof(s) - 1)
#define YES(p, s) cr_assert_eq(M(p, s), 1, "\"%s\" should match \"%s\"", p, s)
#define NO(p, s) \
	cr_assert_eq(M(p, s), 0, "\"%s\" should not match \"%s\"", p, s)

static mt_redis_bytes b(const char *s, size_t n)
{
	return (mt_redis_bytes){s, n};
}

Test(glob, literals_match_whole_strings_only)
{
	YES("hello", "hello");
	NO("hello", "hell");
	NO("hell", "hello");
	NO("hello", "Hello"); /* SCAN is case-sensitive */
	YES("", "");
	NO("", "a");
	NO("a", "");
}

Test(glob, star_matches_any_run_including_none)
{
	YES("h*o", "hello");
	YES("h*o", "ho");
	NO("h*o", "hellox");
	YES("*o", "o");
	YES("a*", "a");
	YES("a**", "a");
	YES("user:*:name", "user:42:name");
	NO("user:*:name", "user:42:names");
	YES("*:*:*", "a:b:c");
	YES("*a*b*", "xxaxxbxx");
	NO("*a*b*", "xxbxxaxx");
}

Test(glob, star_does_not_match_the_empty_string_in_stringmatch)
{
	/* The server's loop runs only while both remain. */
	NO("*", "");
	NO("**", "");
	NO("*?", "");
	/* mt_redis_glob_match answers as SCAN does: "*" alone is every key. */
	cr_assert_eq(mt_redis_glob_match(b("*", 1), b("", 0)), 1);
	cr_assert_eq(mt_redis_glob_match(b("**", 2), b("", 0)), 0);
	cr_assert_eq(mt_redis_glob_match(b("*", 1), b(NULL, 0)), 1);
	cr_assert_eq(mt_redis_glob_match(b("*", 1), b("any", 3)), 1);
}

Test(glob, question_mark_is_exactly_one_byte)
{
	YES("h?llo", "hallo");
	NO("h?llo", "hllo");
	NO("h?llo", "haallo");
	NO("?", "");
	YES("??", "ab");
	NO("a?", "a"); /* a '?' left after the string ends fails */
}

Test(glob, classes_sets_negation_and_ranges)
{
	YES("h[ae]llo", "hello");
	YES("h[ae]llo", "hallo");
	NO("h[ae]llo", "hillo");
	YES("h[^e]llo", "hallo");
	NO("h[^e]llo", "hello");
	YES("h[a-c]llo", "hbllo");
	NO("h[a-c]llo", "hdllo");
	YES("[0-9][0-9]", "42");
	YES("[a-cx-z]", "y");
	NO("[a-cx-z]", "m");
}

Test(glob, empty_class_matches_nothing)
{
	/* Unlike a shell glob, "[]" is an empty class, not one holding ']'. */
	NO("[]", "]");
	NO("[]a]", "a");
	NO("[]a]", "]");
	YES("[^]", "x");
}

Test(glob, reversed_ranges_are_swapped)
{
	YES("[z-a]", "m");
	YES("[9-0]", "5");
	NO("[z-a]", "A");
}

Test(glob, dash_before_the_closing_bracket_makes_it_the_range_end)
{
	/* "[a-]": the range ']'..'a' (0x5d..0x61), and the class goes on. */
	YES("[a-]", "_");
	YES("[a-]", "a");
	NO("[a-]", "b");
	NO("[a-]", "-");
	/* The 'x' after it is a member of the still-open class, so nothing
	 * is left to match the second byte. */
	NO("[a-]x", "_x");
	YES("[a-]x", "x");
	YES("[-a]", "-"); /* no range: fewer than 3 bytes after '-' start */
}

Test(glob, pattern_ending_inside_a_class_ends_the_class)
{
	YES("[abc", "b");
	NO("[abc", "d");
	NO("[", "[");
	NO("[", "a");
	YES("[^", "z");
	NO("[^", "");
	NO("a[", "a");
	YES("[a-", "a"); /* no range: only 2 bytes left; {a, -} */
	YES("[a-", "-");
}

Test(glob, backslash_escapes_outside_and_inside_classes)
{
	YES("\\*", "*");
	NO("\\*", "a");
	YES("\\?", "?");
	NO("\\?", "x");
	YES("\\[a]", "[a]");
	YES("a\\", "a\\"); /* a '\' at the end is a literal '\' */
	NO("a\\", "a");
	YES("[\\]]", "]");
	YES("[\\^a]", "^");
	YES("[\\-]", "-");
	/* "[\\]": the '\' escapes ']', so the class stays open to the end. */
	YES("[\\]", "]");
	NO("[\\]", "\\");
	YES("[\\", "\\"); /* a '\' at the end of an open class is literal */
}

Test(glob, bytes_are_binary_safe)
{
	YES("a\0b", "a\0b");
	NO("a\0b", "a\0c");
	YES("a?b", "a\0b");
	YES("*\r\n", "x\r\n");
	YES("[\x01-\x03]", "\x02");
	YES("\xff*", "\xff\xfe");
	NO("\xff*", "\xfe\xff");
}

Test(glob, range_bounds_compare_as_signed_char)
{
	/* [a-\xff] is -1..'a' as the x86-64 server compares it. */
	YES("[a-\xff]", "\xff");
	YES("[a-\xff]", "\0");
	YES("[a-\xff]", "a");
	NO("[a-\xff]", "b");
	NO("[a-\xff]", "\x80");
	/* [\x80-\xff] is -128..-1: every high byte, no ASCII. */
	YES("[\x80-\xff]", "\xc3");
	NO("[\x80-\xff]", "a");
}

Test(glob, null_pointers_with_zero_length_are_empty)
{
	cr_assert_eq(mt__redis_stringmatch(NULL, 0, NULL, 0), 1);
	cr_assert_eq(mt__redis_stringmatch(NULL, 0, "a", 1), 0);
	cr_assert_eq(mt__redis_stringmatch(NULL, 3, "a", 1), 0);
	cr_assert_eq(mt__redis_stringmatch("a", 1, NULL, 1), 0);
	cr_assert_eq(mt_redis_glob_match(b(NULL, 0), b(NULL, 0)), 1);
}

/* Without the server's "skip longer matches" rule this takes about
 * C(60, 20) steps: the timeout is the check. */
Test(glob, many_stars_fail_fast, .timeout = 10)
{
	char p[64], s[200];
	size_t n = 0;
	for (int i = 0; i < 20; i++) {
		p[n++] = 'a';
		p[n++] = '*';
	}
	p[n++] = 'b';
	memset(s, 'a', sizeof s);
	cr_assert_eq(mt__redis_stringmatch(p, n, s, sizeof s), 0);
	s[sizeof s - 1] = 'b';
	cr_assert_eq(mt__redis_stringmatch(p, n, s, sizeof s), 1);
}

/* "*x" repeated k times against k 'x's needs k nested stars. */
static int nested_stars(size_t k)
{
	char *p = malloc(2 * k), *s = malloc(k);
	cr_assert(p && s);
	for (size_t i = 0; i < k; i++) {
		p[2 * i] = '*';
		p[2 * i + 1] = 'x';
		s[i] = 'x';
	}
	int m = mt__redis_stringmatch(p, 2 * k, s, k);
	free(p);
	free(s);
	return m;
}

Test(glob, more_than_1000_nested_stars_never_match, .timeout = 10)
{
	cr_assert_eq(nested_stars(MT_REDIS_GLOB_MAX_NESTING), 1);
	cr_assert_eq(nested_stars(MT_REDIS_GLOB_MAX_NESTING + 1), 0);
	cr_assert_eq(nested_stars(5000), 0);
}

Test(glob, long_keys_and_patterns_are_fine, .timeout = 10)
{
	size_t n = 1 << 20;
	char *s = malloc(n);
	cr_assert_not_null(s);
	memset(s, 'k', n);
	s[n - 1] = 'z';
	cr_assert_eq(mt__redis_stringmatch("*z", 2, s, n), 1);
	cr_assert_eq(mt__redis_stringmatch("k*k", 3, s, n), 0);
	cr_assert_eq(mt__redis_stringmatch(s, n, s, n), 1);
	free(s);
}

/* Literal patterns: what the pattern matches, and only that. */
static void literal(const char *p, size_t plen, const char *want,
		    size_t wantlen)
{
	char out[64];
	size_t n = 99;
	cr_assert_eq(mt__redis_glob_literal(p, plen, out, &n), 1, "%s", p);
	cr_assert_eq(n, wantlen, "%s", p);
	cr_assert_eq(memcmp(out, want, n), 0, "%s", p);
	cr_assert_eq(mt__redis_stringmatch(p, plen, want, wantlen), 1, "%s", p);
}

#define LIT(p, w) literal(p, sizeof(p) - 1, w, sizeof(w) - 1)

Test(glob, patterns_without_glob_bytes_are_literals)
{
	LIT("user:42", "user:42");
	LIT("", "");
	LIT("a\\*b", "a*b");
	LIT("\\?\\[", "?[");
	LIT("a\\\\b", "a\\b");
	LIT("end\\", "end\\"); /* a final backslash is itself */
	LIT("]^-", "]^-");     /* special only inside a class */
	LIT("a\0b", "a\0b");
}

Test(glob, patterns_with_glob_bytes_are_not_literals)
{
	char out[16];
	size_t n = 7;
	cr_assert_eq(mt__redis_glob_literal("a*", 2, out, &n), 0);
	cr_assert_eq(mt__redis_glob_literal("?", 1, out, &n), 0);
	cr_assert_eq(mt__redis_glob_literal("x[ab]", 5, out, &n), 0);
	cr_assert_eq(mt__redis_glob_literal("\\**", 3, out, &n), 0);
	cr_assert_eq(n, 7, "out length written for a non-literal");
}
