/*
 * tests/common/redis_cluster_keys.c: see redis_cluster_keys.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "redis_cluster_keys.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_util.h"

void mt_test_tagged_make(struct mt_test_tagged *t, const char *tag,
			 const char *prefix, size_t n)
{
	t->n = n;
	t->mem = calloc(n ? n : 1, sizeof *t->mem);
	t->keys = calloc(n ? n : 1, sizeof *t->keys);
	t->vals = calloc(n ? n : 1, sizeof *t->vals);
	cr_assert(t->mem && t->keys && t->vals);
	for (size_t i = 0; i < n; i++) {
		snprintf(t->mem[i][0], 40, "{%s}:%s%zu", tag, prefix, i);
		snprintf(t->mem[i][1], 40, "v%zu", i);
		t->keys[i] = mt_test_str(t->mem[i][0]);
		t->vals[i] = mt_test_str(t->mem[i][1]);
	}
}

void mt_test_tagged_free(struct mt_test_tagged *t)
{
	free(t->mem);
	free(t->keys);
	free(t->vals);
	memset(t, 0, sizeof *t);
}

void mt_test_slot_keys_make(struct mt_test_slot_keys *k, const char *prefix)
{
	static char have[16384];
	int found = 0;

	memset(have, 0, sizeof have);
	for (unsigned long n = 0; found < 16384; n++) {
		char buf[32];
		int len = snprintf(buf, sizeof buf, "%s:%lu", prefix, n);
		unsigned s = mt_redis_key_slot((mt_redis_bytes){buf, len});
		if (have[s]++)
			continue;
		found++;
		memcpy(k->mem[s], buf, (size_t)len + 1);
		k->keys[s] = (mt_redis_bytes){k->mem[s], (size_t)len};
	}
}

size_t mt_test_first_not_done(const mt_redis_batch *b)
{
	size_t i = 0;
	while (i < b->n && b->results[i].status == MT_REDIS_DONE)
		i++;
	return i;
}

void mt_test_assert_all_done(const mt_redis_batch *b, size_t n)
{
	cr_assert_not_null(b);
	size_t i = mt_test_first_not_done(b);
	cr_assert_eq(b->n, n);
	cr_assert_eq(i, n, "item %zu of %zu: status %d: %s", i, n,
		     i < n ? (int)b->results[i].status : 0,
		     i < n ? b->results[i].error : "");
}

void mt_test_assert_tagged_values(const mt_redis_batch *b,
				  const struct mt_test_tagged *t)
{
	mt_test_assert_all_done(b, t->n);
	for (size_t i = 0; i < t->n; i++)
		mt_test_assert_bytes(b->results[i].reply, t->vals[i], i);
}

mt_redis_batch *mt_test_get_each(mt_redis *r, const struct mt_test_tagged *t)
{
	mt_redis_bytes(*argv)[2] = calloc(t->n, sizeof *argv);
	mt_redis_cmd *cmds = calloc(t->n, sizeof *cmds);
	mt_redis_item *items = calloc(t->n, sizeof *items);
	mt_redis_batch *b = NULL;

	for (size_t i = 0; argv && cmds && items && i < t->n; i++) {
		argv[i][0] = mt_test_str("GET");
		argv[i][1] = t->keys[i];
		cmds[i] = (mt_redis_cmd){2, argv[i]};
		items[i] =
			(mt_redis_item){&cmds[i], 1, MT_REDIS_IDEMPOTENT, {0}};
	}
	if (argv && cmds && items)
		mt_redis_exec(r, items, t->n, &b);
	free(argv);
	free(cmds);
	free(items);
	return b;
}

void mt_test_set_each(mt_redis *r, const struct mt_test_tagged *t)
{
	mt_redis_set_options ttl = {.ttl_ms = 600000};
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_set(r, t->keys, t->vals, t->n, &ttl, &b), 0);
	mt_test_assert_all_done(b, t->n);
	mt_redis_batch_free(b);
}

size_t mt_test_held_by(struct mt_test_cluster *c, int i,
		       const struct mt_test_tagged *t)
{
	redisContext *a = mt_test_cluster_admin(c, i);
	redisReply *r = mt_test_redis_cmd(a, "CLUSTER GETKEYSINSLOT %u 100000",
					  mt_redis_key_slot(t->keys[0]));
	size_t n = 0;
	for (size_t k = 0; k < t->n; k++)
		for (size_t j = 0; j < r->elements; j++)
			if (r->element[j]->len == t->keys[k].len &&
			    memcmp(r->element[j]->str, t->keys[k].data,
				   t->keys[k].len) == 0) {
				n++;
				break;
			}
	freeReplyObject(r);
	redisFree(a);
	return n;
}

uint64_t mt_test_redirects(mt_redis *r)
{
	mt_redis_stats st;
	cr_assert_eq(mt_redis_stats_get(r, &st), 0);
	return st.redirects;
}

int mt_test_other_master(const struct mt_test_cluster *c, int not )
{
	for (int i = 0; i < c->n; i++)
		if (i != not &&c->node[i].master == -1 && !c->node[i].removed &&
		    c->node[i].srv.pid > 0)
			return i;
	cr_assert_fail("no other master");
	return -1;
}
