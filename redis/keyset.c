/*
 * redis/keyset.c: the insertion-ordered key set of keyset.h.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "keyset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Large enough that a scan's keys take few blocks, small enough that a
 * scan of a handful of keys does not hold much. */
#define BLOCK_BYTES (64 * 1024)

struct mt_redis_keyset_block {
	struct mt_redis_keyset_block *next;
	size_t used, cap;
	unsigned char data[];
};

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static uint64_t hash_key(uint64_t seed, const unsigned char *p, size_t n)
{
	uint64_t h = mix(seed ^ n);
	uint64_t w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = mix(h ^ w);
	}
	w = 0;
	if (n > 0)
		memcpy(&w, p, n);
	return mix(h ^ w ^ 0x9e3779b97f4a7c15ull);
}

static uint64_t new_seed(const struct mt_redis_keyset *s)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return mix((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^
		   (uint64_t)(uintptr_t)s);
}

/* A slot: 0 when empty, else the key's number + 1 in the low 32 bits
 * and the top 32 bits of its hash above them, so a probe that meets
 * another key rejects it without loading keys[] or hashes[] (each a
 * cache miss once the set outgrows the cache). */
static uint64_t slot_of(uint64_t h, size_t k)
{
	return (h & 0xffffffff00000000ull) | (uint64_t)(k + 1);
}

/* The slot holding an equal key, or the empty slot where it would go. */
static size_t find_slot(const struct mt_redis_keyset *s, uint64_t h,
			const void *key, size_t len)
{
	size_t mask = s->nslots - 1;
	uint64_t tag = h & 0xffffffff00000000ull;

	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		uint64_t v = s->slots[i];
		if (v == 0)
			return i;
		if ((v & 0xffffffff00000000ull) != tag)
			continue;
		size_t k = (size_t)(v & 0xffffffffu) - 1;
		if (s->hashes[k] == h && s->keys[k].len == len &&
		    (len == 0 || memcmp(s->keys[k].data, key, len) == 0))
			return i;
	}
}

/* Makes the index n slots (a power of two, at least 16) and reinserts
 * every key by its stored hash. */
static int resize_slots(struct mt_redis_keyset *s, size_t n)
{
	uint64_t *slots = calloc(n, sizeof *slots);

	if (!slots)
		return ENOMEM;
	for (size_t k = 0; k < s->n; k++) {
		size_t i = (size_t)s->hashes[k] & (n - 1);
		while (slots[i] != 0)
			i = (i + 1) & (n - 1);
		slots[i] = slot_of(s->hashes[k], k);
	}
	free(s->slots);
	s->slots = slots;
	s->nslots = n;
	return 0;
}

static int grow_keys(struct mt_redis_keyset *s, size_t want)
{
	size_t cap = s->cap ? 2 * s->cap : 64;
	while (cap < want)
		cap *= 2;
	mt_redis_bytes *keys = realloc(s->keys, cap * sizeof *keys);

	if (!keys)
		return ENOMEM;
	s->keys = keys;
	uint64_t *hashes = realloc(s->hashes, cap * sizeof *hashes);
	if (!hashes)
		return ENOMEM; /* keys[] is larger, which is harmless */
	s->hashes = hashes;
	s->cap = cap;
	return 0;
}

/* Room for len bytes in the arena; NULL when out of memory. */
static unsigned char *arena_take(struct mt_redis_keyset *s, size_t len)
{
	struct mt_redis_keyset_block *b = s->blocks;

	if (!b || b->cap - b->used < len) {
		size_t cap = len > BLOCK_BYTES ? len : BLOCK_BYTES;
		b = malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = s->blocks;
		s->blocks = b;
	}
	b->used += len;
	return b->data + b->used - len;
}

int mt__redis_keyset_has(const struct mt_redis_keyset *s, const void *key,
			 size_t len)
{
	if (s->n == 0)
		return 0;
	return s->slots[find_slot(s, hash_key(s->seed, key, len), key, len)] !=
	       0;
}

int mt__redis_keyset_reserve(struct mt_redis_keyset *s, size_t more)
{
	size_t want = s->n + more, n = s->nslots ? s->nslots : 16;

	if (want < s->n || want > 0x7fffffffu)
		return ENOMEM; /* the slots hold 32-bit key numbers */
	if (s->nslots == 0)
		s->seed = new_seed(s);
	while (2 * want > n)
		n *= 2;
	if (n != s->nslots && resize_slots(s, n) != 0)
		return ENOMEM;
	if (want > s->cap && grow_keys(s, want) != 0)
		return ENOMEM;
	return 0;
}

uint64_t mt__redis_keyset_hash(const struct mt_redis_keyset *s, const void *key,
			       size_t len)
{
	uint64_t h = hash_key(s->seed, key, len);

	if (s->nslots > 0) /* a hint: no harm if the slot is far off */
		__builtin_prefetch(&s->slots[(size_t)h & (s->nslots - 1)]);
	return h;
}

int mt__redis_keyset_add_hashed(struct mt_redis_keyset *s, uint64_t h,
				const void *key, size_t len, int *added)
{
	size_t slot;
	unsigned char *copy;

	if (added)
		*added = 0;
	slot = find_slot(s, h, key, len);
	if (s->slots[slot] != 0)
		return 0;
	copy = arena_take(s, len);
	if (!copy)
		return ENOMEM;
	if (len > 0)
		memcpy(copy, key, len);
	s->keys[s->n] = (mt_redis_bytes){copy, len};
	s->hashes[s->n] = h;
	s->slots[slot] = slot_of(h, s->n);
	s->n++;
	if (added)
		*added = 1;
	return 0;
}

int mt__redis_keyset_add(struct mt_redis_keyset *s, const void *key, size_t len,
			 int *added)
{
	if (added)
		*added = 0;
	if (mt__redis_keyset_reserve(s, 1) != 0)
		return ENOMEM;
	return mt__redis_keyset_add_hashed(
		s, mt__redis_keyset_hash(s, key, len), key, len, added);
}

void mt__redis_keyset_free(struct mt_redis_keyset *s)
{
	if (!s)
		return;
	while (s->blocks) {
		struct mt_redis_keyset_block *next = s->blocks->next;
		free(s->blocks);
		s->blocks = next;
	}
	free(s->keys);
	free(s->hashes);
	free(s->slots);
	memset(s, 0, sizeof *s);
}
