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

/* The slot holding an equal key, or the empty slot where it would go. */
static size_t find_slot(const struct mt_redis_keyset *s, uint64_t h,
			const void *key, size_t len)
{
	size_t mask = s->nslots - 1;

	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		size_t k = s->slots[i];
		if (k == 0)
			return i;
		k--;
		if (s->hashes[k] == h && s->keys[k].len == len &&
		    (len == 0 || memcmp(s->keys[k].data, key, len) == 0))
			return i;
	}
}

/* Doubles the index (at least 16 slots) and reinserts by stored hash. */
static int grow_slots(struct mt_redis_keyset *s)
{
	size_t n = s->nslots ? 2 * s->nslots : 16;
	size_t *slots = calloc(n, sizeof *slots);

	if (!slots)
		return ENOMEM;
	for (size_t k = 0; k < s->n; k++) {
		size_t i = (size_t)s->hashes[k] & (n - 1);
		while (slots[i] != 0)
			i = (i + 1) & (n - 1);
		slots[i] = k + 1;
	}
	free(s->slots);
	s->slots = slots;
	s->nslots = n;
	return 0;
}

static int grow_keys(struct mt_redis_keyset *s)
{
	size_t cap = s->cap ? 2 * s->cap : 64;
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

int mt__redis_keyset_add(struct mt_redis_keyset *s, const void *key, size_t len,
			 int *added)
{
	uint64_t h;
	size_t slot;
	unsigned char *copy;

	if (added)
		*added = 0;
	if (s->nslots == 0)
		s->seed = new_seed(s);
	if (2 * (s->n + 1) > s->nslots && grow_slots(s) != 0)
		return ENOMEM;
	h = hash_key(s->seed, key, len);
	slot = find_slot(s, h, key, len);
	if (s->slots[slot] != 0)
		return 0;
	if (s->n == s->cap && grow_keys(s) != 0)
		return ENOMEM;
	copy = arena_take(s, len);
	if (!copy)
		return ENOMEM;
	if (len > 0)
		memcpy(copy, key, len);
	s->keys[s->n] = (mt_redis_bytes){copy, len};
	s->hashes[s->n] = h;
	s->slots[slot] = ++s->n;
	if (added)
		*added = 1;
	return 0;
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
