/*
 * tests/redis/test_slot.c: CRC16 and hash slots (redis/slot.h) against the
 * cluster specification's vectors and values read from a real
 * redis-server 7.0.15 (`CLUSTER KEYSLOT`, recorded here once).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <mtpool/redis.h>

#include <stdlib.h>
#include <string.h>

#include "slot.h"

static unsigned slot_of(const char *key)
{
	return mt__redis_slot(key, strlen(key));
}

/* xorshift32: the TSan build's rand_r() goes through a shim that looks
 * up its caller (cmake/criterion_tsan_shim.c), far too slow for a
 * million draws. */
static unsigned next(unsigned *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* The definition, one bit at a time: what the table must reproduce. */
static uint16_t crc16_bitwise(const unsigned char *p, size_t len)
{
	uint16_t crc = 0;

	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int bit = 0; bit < 8; bit++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) :
					       (uint16_t)(crc << 1);
	}
	return crc;
}

/* The specification's keyHashSlot, loop for loop. */
static unsigned spec_slot(const unsigned char *key, size_t keylen)
{
	size_t s, e;

	for (s = 0; s < keylen; s++)
		if (key[s] == '{')
			break;
	if (s == keylen)
		return crc16_bitwise(key, keylen) & 0x3FFF;
	for (e = s + 1; e < keylen; e++)
		if (key[e] == '}')
			break;
	if (e == keylen || e == s + 1)
		return crc16_bitwise(key, keylen) & 0x3FFF;
	return crc16_bitwise(key + s + 1, e - s - 1) & 0x3FFF;
}

Test(crc16, gives_the_specifications_check_value_0x31c3)
{
	cr_assert_eq(mt__redis_crc16("123456789", 9), 0x31C3);
	cr_assert_eq(slot_of("123456789"), 0x31C3 % 16384);
}

Test(crc16, of_nothing_is_zero)
{
	cr_assert_eq(mt__redis_crc16(NULL, 0), 0);
	cr_assert_eq(mt__redis_slot(NULL, 0), 0);
}

Test(crc16, table_matches_the_bitwise_definition_on_every_byte_and_random_data)
{
	unsigned char b[4096];
	unsigned seed = 9;

	for (unsigned v = 0; v < 256; v++) {
		unsigned char one = (unsigned char)v;
		cr_assert_eq(mt__redis_crc16(&one, 1), crc16_bitwise(&one, 1),
			     "byte %u", v);
	}
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = (unsigned char)next(&seed);
	for (size_t len = 0; len <= sizeof b; len += 97)
		cr_assert_eq(mt__redis_crc16(b, len), crc16_bitwise(b, len),
			     "len %zu", len);
}

Test(slot, of_plain_keys_matches_the_server)
{
	/* redis-cli CLUSTER KEYSLOT on redis-server 7.0.15. */
	cr_assert_eq(slot_of("foo"), 12182);
	cr_assert_eq(slot_of("bar"), 5061);
	cr_assert_eq(slot_of("hello"), 866);
	cr_assert_eq(slot_of("bar}"), 6624);
}

Test(slot, of_keys_with_one_tag_is_the_tags_slot)
{
	cr_assert_eq(slot_of("{user1000}.following"), 3443);
	cr_assert_eq(slot_of("{user1000}.followers"), 3443);
	cr_assert_eq(slot_of("{user1000}.following"), slot_of("user1000"));
	cr_assert_eq(slot_of("{a}"), slot_of("a"));
	cr_assert_eq(slot_of("{a}"), 15495);
}

Test(slot, hashes_the_whole_key_when_the_first_tag_is_empty)
{
	cr_assert_eq(slot_of("foo{}{bar}"), 8363);
	cr_assert_eq(slot_of("foo{}{bar}"),
		     mt__redis_crc16("foo{}{bar}", 10) % 16384);
	cr_assert_eq(slot_of("{}"), 15257);
}

Test(slot, takes_the_bytes_up_to_the_first_closing_brace)
{
	/* The tag is "{bar": from after the first '{' to the first '}'. */
	cr_assert_eq(slot_of("foo{{bar}}zap"), 4015);
	cr_assert_eq(slot_of("foo{{bar}}zap"), slot_of("{bar"));
	cr_assert_eq(slot_of("{bar"), mt__redis_crc16("{bar", 4) % 16384);
}

Test(slot, uses_only_the_first_tag)
{
	cr_assert_eq(slot_of("foo{bar}{zap}"), 5061);
	cr_assert_eq(slot_of("foo{bar}{zap}"), slot_of("bar"));
	cr_assert_eq(slot_of("a{b}c{d}e"), 3300);
	cr_assert_eq(slot_of("a{b}c{d}e"), slot_of("b"));
}

Test(slot, ignores_a_closing_brace_before_the_first_opening_one)
{
	cr_assert_eq(slot_of("}{x}"), 16287);
	cr_assert_eq(slot_of("}{x}"), slot_of("x"));
}

Test(slot, is_binary_safe)
{
	const char key[] = {'a', '\0', '{', 'z', '\0', '}', '\r', '\n'};
	const char tag[] = {'z', '\0'};

	cr_assert_eq(mt__redis_slot(key, sizeof key),
		     mt__redis_slot(tag, sizeof tag));
	cr_assert_neq(mt__redis_slot(key, sizeof key), slot_of("a"));
}

Test(slot, public_function_is_the_same_function)
{
	mt_redis_bytes k = {"{user1000}.following", 20};
	mt_redis_bytes none = {NULL, 0};

	cr_assert_eq(mt_redis_key_slot(k), 3443);
	cr_assert_eq(mt_redis_key_slot(none), 0);
}

Test(slot, matches_the_specifications_code_on_random_keys_with_braces)
{
	unsigned char b[32];
	unsigned seed = 5;
	int bad = -1;

	/* One assertion at the end: Criterion's are slow under TSan. */
	for (int i = 0; i < 100000 && bad < 0; i++) {
		size_t len = (size_t)next(&seed) % sizeof b;
		for (size_t j = 0; j < len; j++)
			b[j] = (unsigned char)"{}ab\0"[next(&seed) % 5];
		unsigned got = mt__redis_slot(b, len);
		if (got >= MT_REDIS_SLOTS || got != spec_slot(b, len))
			bad = i;
	}
	cr_assert_eq(bad, -1, "case %d differs from the specification", bad);
}
