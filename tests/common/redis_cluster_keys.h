/*
 * tests/common/redis_cluster_keys.h: keys and checks the cluster tests
 * share (test_cluster.c, test_cluster_faults.c).
 *
 * Keys of one slot ("{tag}:<prefix><i>", value "v<i>"), one key per slot
 * of all 16,384, per-key GET and SET calls (a half-migrated slot answers
 * each key with its data or an ASK, where a multi-key command would get
 * TRYAGAIN), and what a node really holds. Every helper asserts, so call
 * them on the test's own thread, except where one says otherwise.
 */
#ifndef MTPOOL_TESTS_COMMON_REDIS_CLUSTER_KEYS_H
#define MTPOOL_TESTS_COMMON_REDIS_CLUSTER_KEYS_H

#include <mtpool/redis.h>

#include <stddef.h>
#include <stdint.h>

#include "redis_cluster.h"

/* n keys "{tag}:<prefix><i>" (one slot) with values "v<i>". */
struct mt_test_tagged {
	size_t n;
	char (*mem)[2][40];
	mt_redis_bytes *keys, *vals;
};

void mt_test_tagged_make(struct mt_test_tagged *t, const char *tag,
			 const char *prefix, size_t n);
void mt_test_tagged_free(struct mt_test_tagged *t);

/* One key per hash slot, "<prefix>:<n>" with n the first number that
 * lands in the slot: keys[s] is in slot s. */
struct mt_test_slot_keys {
	mt_redis_bytes keys[16384];
	char mem[16384][32];
};
void mt_test_slot_keys_make(struct mt_test_slot_keys *k, const char *prefix);

/* The first result that is not DONE, or b->n. Any thread. */
size_t mt_test_first_not_done(const mt_redis_batch *b);

/* Asserts b has n results, all DONE (the first other one is named). */
void mt_test_assert_all_done(const mt_redis_batch *b, size_t n);

/* Asserts every result is DONE with t's value. */
void mt_test_assert_tagged_values(const mt_redis_batch *b,
				  const struct mt_test_tagged *t);

/* GET items, one per key, idempotent; the batch, or NULL if the call
 * failed. Asserts nothing, so helper threads may call it. */
mt_redis_batch *mt_test_get_each(mt_redis *r, const struct mt_test_tagged *t);

/* SET with a TTL (one SET per key); asserts every item DONE. */
void mt_test_set_each(mt_redis *r, const struct mt_test_tagged *t);

/* How many of t's keys node i holds, from its own CLUSTER GETKEYSINSLOT
 * (no redirect gets in the way mid-migration). */
size_t mt_test_held_by(struct mt_test_cluster *c, int i,
		       const struct mt_test_tagged *t);

/* The client's redirects counter. */
uint64_t mt_test_redirects(mt_redis *r);

/* A master other than `not` (and not removed). */
int mt_test_other_master(const struct mt_test_cluster *c, int not );

#endif /* MTPOOL_TESTS_COMMON_REDIS_CLUSTER_KEYS_H */
