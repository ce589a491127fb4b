/*
 * redis/keyset.h: an insertion-ordered set of byte strings, the keys one
 * mt_redis_scan collects (SCAN may return a key twice; patterns overlap).
 *
 * Overview
 * ========
 * mt__redis_keyset_add() copies a key into the set unless an equal key
 * (same bytes, same length) is already there; keys[] lists the distinct
 * keys in the order they were first added. Keys are binary-safe (NUL and
 * any byte), "" included. One thread at a time: the set has no lock.
 *
 * Usage
 * =====
 *   struct mt_redis_keyset s = {0};
 *   int added;
 *   if (mt__redis_keyset_add(&s, key, len, &added) != 0) ... ENOMEM
 *   for (size_t i = 0; i < s.n; i++) use s.keys[i]
 *   mt__redis_keyset_free(&s);
 *
 * Implementation notes
 * ====================
 * Key bytes live in an arena of blocks that never move (64 KiB, or one
 * block of its own for a larger key), so keys[i].data stays valid while
 * the set grows and one scan of a million keys costs a few dozen
 * allocations, not a million. The index is open addressing with linear
 * probing over a power-of-two table of key numbers, kept at most half
 * full, each key's 64-bit hash stored beside it so that growing the table
 * never rereads key bytes. A slot also carries the top half of its key's
 * hash, so a probe rejects a different key from the slot alone. A walk
 * adds a page of keys at a time: reserve room, hash every key (which
 * prefetches its slot), then add them, so the slots' cache misses of a
 * page overlap instead of costing one after the other (perf: the
 * one-at-a-time insert was half the client's time in a 1M-key walk).
 * The hash is seeded per set from the clock and the set's address, so a
 * key set built to collide for one seed does not collide for the next
 * (keys come from a server that others may write).
 */
#ifndef MTPOOL_REDIS_KEYSET_H
#define MTPOOL_REDIS_KEYSET_H

#include <stddef.h>
#include <stdint.h>

#include <mtpool/redis.h>

struct mt_redis_keyset_block;

struct mt_redis_keyset {
	mt_redis_bytes *keys; /* n distinct keys, first-added order */
	size_t n;
	/* private */
	uint64_t *hashes; /* hashes[i]: hash of keys[i] */
	size_t cap;	  /* entries of keys[] and hashes[] */
	uint64_t *slots;  /* 0 = empty, else key number + 1 | hash tag */
	size_t nslots;	  /* 0 or a power of two */
	uint64_t seed;
	struct mt_redis_keyset_block *blocks; /* the arena, newest first */
};

/*
 * Adds a copy of key[0, len) unless an equal key is in the set; *added
 * (may be NULL) is 1 when it was added, 0 when it was there. `key` may be
 * NULL when len is 0. s must be zeroed before the first call.
 * Returns 0, or ENOMEM (the set is unchanged).
 */
int mt__redis_keyset_add(struct mt_redis_keyset *s, const void *key, size_t len,
			 int *added /* OUT */);

/* Batch insertion, for a page of keys:
 *   if (mt__redis_keyset_reserve(&s, n) != 0) ... ENOMEM
 *   for each key: h[i] = mt__redis_keyset_hash(&s, key, len);
 *   for each key: mt__redis_keyset_add_hashed(&s, h[i], key, len, NULL);
 * reserve makes room for `more` additions (slots, entries) so that
 * add_hashed never grows the index (which would stale the prefetches, not
 * the hashes); hash computes a key's hash and prefetches its slot. At most
 * 2^31 - 1 keys (ENOMEM beyond). add_hashed, after enough reserve, fails
 * only when the arena cannot take the key's bytes (ENOMEM). */
int mt__redis_keyset_reserve(struct mt_redis_keyset *s, size_t more);
uint64_t mt__redis_keyset_hash(const struct mt_redis_keyset *s, const void *key,
			       size_t len);
int mt__redis_keyset_add_hashed(struct mt_redis_keyset *s, uint64_t h,
				const void *key, size_t len,
				int *added /* OUT */);

/* 1 if an equal key is in the set, else 0. */
int mt__redis_keyset_has(const struct mt_redis_keyset *s, const void *key,
			 size_t len);

/* Frees everything, the key bytes included; leaves *s zeroed. */
void mt__redis_keyset_free(struct mt_redis_keyset *s);

#endif /* MTPOOL_REDIS_KEYSET_H */
