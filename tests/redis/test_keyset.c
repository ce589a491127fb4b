/*
 * tests/redis/test_keyset.c: the insertion-ordered key set of
 * redis/keyset.h (no server): distinct keys in first-added order,
 * binary-safe, stable key pointers while it grows, big keys.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyset.h"

static int add(struct mt_redis_keyset *s, const void *k, size_t n)
{
	int added = -1;
	cr_assert_eq(mt__redis_keyset_add(s, k, n, &added), 0);
	cr_assert(added == 0 || added == 1);
	return added;
}

Test(keyset, duplicates_are_dropped_and_order_kept)
{
	struct mt_redis_keyset s = {0};
	cr_assert_eq(add(&s, "b", 1), 1);
	cr_assert_eq(add(&s, "a", 1), 1);
	cr_assert_eq(add(&s, "b", 1), 0);
	cr_assert_eq(add(&s, "c", 1), 1);
	cr_assert_eq(add(&s, "a", 1), 0);
	cr_assert_eq(s.n, 3);
	cr_assert_eq(memcmp(s.keys[0].data, "b", 1), 0);
	cr_assert_eq(memcmp(s.keys[1].data, "a", 1), 0);
	cr_assert_eq(memcmp(s.keys[2].data, "c", 1), 0);
	mt__redis_keyset_free(&s);
	cr_assert_eq(s.n, 0);
	cr_assert_null(s.keys);
}

Test(keyset, keys_are_binary_safe_and_length_counts)
{
	struct mt_redis_keyset s = {0};
	cr_assert_eq(add(&s, "", 0), 1);
	cr_assert_eq(add(&s, NULL, 0), 0); /* the same empty key */
	cr_assert_eq(add(&s, "a\0b", 3), 1);
	cr_assert_eq(add(&s, "a\0c", 3), 1);
	cr_assert_eq(add(&s, "a", 1), 1); /* a prefix is another key */
	cr_assert_eq(add(&s, "a\0b", 3), 0);
	cr_assert_eq(add(&s, "\xff\r\n", 3), 1);
	cr_assert_eq(s.n, 5);
	cr_assert_eq(s.keys[0].len, 0);
	cr_assert(mt__redis_keyset_has(&s, "a\0c", 3));
	cr_assert_not(mt__redis_keyset_has(&s, "a\0d", 3));
	mt__redis_keyset_free(&s);
}

Test(keyset, has_on_an_empty_set_is_false)
{
	struct mt_redis_keyset s = {0};
	cr_assert_not(mt__redis_keyset_has(&s, "x", 1));
	cr_assert_not(mt__redis_keyset_has(&s, NULL, 0));
	mt__redis_keyset_free(&s);
	mt__redis_keyset_free(NULL);
}

/* Growth rehashes the index and reallocates keys[], but the bytes a key
 * points at never move: pointers taken early stay valid. */
Test(keyset, growth_keeps_every_key_and_its_bytes, .timeout = 30)
{
	struct mt_redis_keyset s = {0};
	const size_t n = 200000;
	char buf[32];
	const void *first = NULL;
	for (size_t i = 0; i < n; i++) {
		int len = snprintf(buf, sizeof buf, "key:%zu", i);
		cr_assert_eq(add(&s, buf, (size_t)len), 1);
		if (i == 0)
			first = s.keys[0].data;
	}
	for (size_t i = 0; i < n; i += 7) {
		int len = snprintf(buf, sizeof buf, "key:%zu", i);
		cr_assert_eq(add(&s, buf, (size_t)len), 0);
	}
	cr_assert_eq(s.n, n);
	cr_assert_eq(s.keys[0].data, first);
	cr_assert_eq(memcmp(first, "key:0", 5), 0);
	for (size_t i = 0; i < n; i++) {
		int len = snprintf(buf, sizeof buf, "key:%zu", i);
		cr_assert_eq(s.keys[i].len, (size_t)len);
		cr_assert_eq(memcmp(s.keys[i].data, buf, (size_t)len), 0);
	}
	mt__redis_keyset_free(&s);
}

Test(keyset, keys_larger_than_a_block_get_their_own)
{
	struct mt_redis_keyset s = {0};
	size_t big = 200 * 1024;
	char *k = malloc(big);
	cr_assert_not_null(k);
	memset(k, 'k', big);
	cr_assert_eq(add(&s, "small", 5), 1);
	cr_assert_eq(add(&s, k, big), 1);
	k[big - 1] = 'z';
	cr_assert_eq(add(&s, k, big), 1);
	cr_assert_eq(add(&s, k, big), 0);
	cr_assert_eq(add(&s, "small2", 6), 1);
	cr_assert_eq(s.n, 4);
	cr_assert_eq(memcmp(s.keys[2].data, k, big), 0);
	cr_assert_eq(memcmp(s.keys[0].data, "small", 5), 0);
	free(k);
	mt__redis_keyset_free(&s);
}

/* The page-at-a-time path scan uses: reserve, hash every key, add them.
 * A page that repeats keys (its own and earlier pages') adds each once,
 * and the reserve leaves room so that the index does not move under the
 * hashes taken before the adds. */
Test(keyset, batch_adds_dedupe_within_and_across_pages, .timeout = 30)
{
	struct mt_redis_keyset s = {0};
	enum {
		PAGE = 1000,
		PAGES = 50
	};
	char key[PAGE][16];
	uint64_t h[PAGE];
	for (int p = 0; p < PAGES; p++) {
		/* Page p holds keys p*500 .. p*500+999: half of them were
		 * on the previous page. Key i appears twice in a page too. */
		cr_assert_eq(mt__redis_keyset_reserve(&s, PAGE), 0);
		size_t nslots = s.nslots;
		for (int i = 0; i < PAGE; i++) {
			int id = p * 500 + (i < PAGE - 1 ? i : 0);
			snprintf(key[i], sizeof key[i], "k%d", id);
			h[i] = mt__redis_keyset_hash(&s, key[i],
						     strlen(key[i]));
		}
		for (int i = 0; i < PAGE; i++)
			cr_assert_eq(mt__redis_keyset_add_hashed(
					     &s, h[i], key[i], strlen(key[i]),
					     NULL),
				     0);
		cr_assert_eq(s.nslots, nslots, "the index moved on page %d", p);
	}
	cr_assert_eq(s.n, (size_t)((PAGES - 1) * 500 + PAGE - 1));
	for (size_t i = 0; i < s.n; i++) {
		char want[32];
		snprintf(want, sizeof want, "k%zu", i);
		cr_assert_eq(s.keys[i].len, strlen(want));
		cr_assert_eq(memcmp(s.keys[i].data, want, s.keys[i].len), 0);
		cr_assert(mt__redis_keyset_has(&s, want, strlen(want)));
	}
	mt__redis_keyset_free(&s);
}
