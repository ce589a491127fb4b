/*
 * tests/redis/test_cluster.c: the bulk operations on a real 3-master Redis
 * Cluster, checked against what each master really holds (read on admin
 * connections to the key's owner, not only through the library).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <mtpool/redis.h>

#include "../common/mt_test.h"
#include "../common/redis_cluster.h"
#include "../common/redis_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx {
	struct mt_test_cluster c;
	mt_pool *pool;
	mt_redis *r;
};

static void fx_open(struct fx *f, const mt_redis_options *o)
{
	mt_test_cluster_start(&f->c, 3, 0);
	f->pool = mt_test_pool(3);
	mt_redis_options opts = o ? *o : (mt_redis_options){0};
	opts.pool = f->pool;
	f->r = mt_test_client(f->c.uri, &opts);
}

static void fx_close(struct fx *f)
{
	cr_assert_eq(mt_redis_close(f->r), 0);
	cr_assert_eq(mt_pool_destroy(f->pool, MT_DRAIN), 0);
	mt_test_cluster_stop(&f->c);
}

/* One key per hash slot, "<prefix>:<n>" with n the first number that
 * lands in the slot; keys[s] is in slot s. */
struct slot_keys {
	mt_redis_bytes keys[16384];
	char mem[16384][32];
};

static void slot_keys_make(struct slot_keys *k, const char *prefix)
{
	int found = 0;
	static char have[16384];

	memset(have, 0, sizeof have);
	for (unsigned long n = 0; found < 16384; n++) {
		char buf[32];
		int len = snprintf(buf, sizeof buf, "%s:%lu", prefix, n);
		unsigned s = mt_redis_key_slot((mt_redis_bytes){buf, len});
		if (have[s])
			continue;
		have[s] = 1;
		found++;
		memcpy(k->mem[s], buf, (size_t)len + 1);
		k->keys[s] = (mt_redis_bytes){k->mem[s], (size_t)len};
	}
}

static void assert_all_done(const mt_redis_batch *b, size_t n)
{
	cr_assert_not_null(b);
	cr_assert_eq(b->n, n);
	size_t first = 0;
	while (first < n && b->results[first].status == MT_REDIS_DONE)
		first++;
	cr_assert_eq(b->done, n, "done %zu failed %zu unknown %zu of %zu: %s",
		     b->done, b->failed, b->unknown, n,
		     first < n ? b->results[first].error : "");
}

/* The value the owner of key holds, over an admin connection. */
static redisReply *owner_get(struct mt_test_cluster *c, mt_redis_bytes key)
{
	int o = mt_test_cluster_owner(c, mt_redis_key_slot(key));
	redisContext *a = mt_test_cluster_admin(c, o);
	redisReply *r = redisCommand(a, "GET %b", key.data, key.len);
	cr_assert_not_null(r);
	redisFree(a);
	return r;
}

Test(cluster, set_and_get_reach_every_slot_through_its_owner,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	static struct slot_keys k;
	struct fx f;
	mt_redis_batch *b;
	mt_redis_bytes *vals = calloc(16384, sizeof *vals);

	fx_open(&f, NULL);
	slot_keys_make(&k, "every");
	for (unsigned s = 0; s < 16384; s++)
		vals[s] = k.keys[(s + 1) % 16384]; /* a value naming another */
	cr_assert_eq(mt_redis_set(f.r, k.keys, vals, 16384, NULL, &b), 0);
	assert_all_done(b, 16384);
	mt_redis_batch_free(b);

	for (unsigned s = 0; s < 16384; s += 1021) {
		redisReply *r = owner_get(&f.c, k.keys[s]);
		cr_assert_eq(r->type, REDIS_REPLY_STRING, "slot %u", s);
		cr_assert_eq(r->len, vals[s].len);
		cr_assert(memcmp(r->str, vals[s].data, r->len) == 0);
		freeReplyObject(r);
	}
	cr_assert_eq(mt_redis_get(f.r, k.keys, 16384, &b), 0);
	assert_all_done(b, 16384);
	for (unsigned s = 0; s < 16384; s++) {
		const redisReply *r = b->results[s].reply;
		cr_assert_eq(r->type, REDIS_REPLY_STRING, "slot %u", s);
		cr_assert(r->len == vals[s].len &&
				  memcmp(r->str, vals[s].data, r->len) == 0,
			  "slot %u", s);
	}
	mt_redis_batch_free(b);
	free(vals);
	fx_close(&f);
}
