/*
 * tests/redis/test_cluster.c: the bulk operations on a real 3-master Redis
 * Cluster, checked against what each master really holds (read on admin
 * connections to the key's owner, not only through the library).
 *
 * One cluster serves every test here (MT_TEST_CLUSTER_SHARED): each
 * test writes keys of its own prefix or hash tag, and the few that
 * disturb the cluster do it to a slot of their own (a migration, two
 * masters that disagree about a slot) and leave it served. Faults that
 * disturb a whole cluster (failover, a dead master, a removed node) are
 * in test_cluster_faults.c, each on a cluster of its own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <mtpool/redis.h>

#include "../common/mt_test.h"
#include "../common/redis_cluster.h"
#include "../common/redis_cluster_keys.h"
#include "../common/redis_util.h"
#include "redirect.h"
#include "slotmap.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/redis_server.h"

MT_TEST_CLUSTER_SHARED(3, 0)

struct fx {
	struct mt_test_cluster c;
	mt_pool *pool;
	mt_redis *r;
};

/* Small chunks and windows: many MSET/MGET commands and windows even
 * for the modest sizes the sanitizer builds can afford. */
static void fx_open(struct fx *f, const mt_redis_options *o)
{
	mt_test_cluster_shared(&f->c);
	f->pool = mt_test_pool(3);
	mt_redis_options opts = o ? *o : (mt_redis_options){0};
	opts.pool = f->pool;
	if (!o) {
		opts.window = 64;
		opts.chunk_keys = 7;
	}
	f->r = mt_test_client(f->c.uri, &opts);
}

static void fx_close(struct fx *f)
{
	cr_assert_eq(mt_redis_close(f->r), 0);
	cr_assert_eq(mt_pool_destroy(f->pool, MT_DRAIN), 0);
	mt_test_cluster_stop(&f->c);
}

/* A command on the master that owns `key`, over an admin connection
 * (format as redisCommand, the key passed as %b first). */
static redisReply *on_owner(struct mt_test_cluster *c, mt_redis_bytes key,
			    const char *fmt, ...)
{
	int o = mt_test_cluster_owner(c, mt_redis_key_slot(key));
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = mt_test_cluster_vcmd(c, o, fmt, ap);
	va_end(ap);
	return r;
}

static redisReply *owner_get(struct mt_test_cluster *c, mt_redis_bytes key)
{
	return on_owner(c, key, "GET %b", key.data, key.len);
}

static long long owner_int(struct mt_test_cluster *c, mt_redis_bytes key,
			   const char *fmt, ...)
{
	int o = mt_test_cluster_owner(c, mt_redis_key_slot(key));
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = mt_test_cluster_vcmd(c, o, fmt, ap);
	va_end(ap);
	cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s",
		     r->type == REDIS_REPLY_ERROR ? r->str : "?");
	long long v = r->integer;
	freeReplyObject(r);
	return v;
}

static mt_redis_bytes B(const char *s)
{
	return mt_test_str(s);
}

Test(cluster, set_and_get_reach_every_slot_through_its_owner,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	static struct mt_test_slot_keys k;
	struct fx f;
	mt_redis_batch *b;
	mt_redis_bytes *vals = calloc(16384, sizeof *vals);

	fx_open(&f, NULL);
	mt_test_slot_keys_make(&k, "every");
	for (unsigned s = 0; s < 16384; s++)
		vals[s] = k.keys[(s + 1) % 16384]; /* a value naming another */
	cr_assert_eq(mt_redis_set(f.r, k.keys, vals, 16384, NULL, &b), 0);
	mt_test_assert_all_done(b, 16384);
	mt_redis_batch_free(b);

	for (unsigned s = 0; s < 16384; s += 1021) {
		redisReply *r = owner_get(&f.c, k.keys[s]);
		cr_assert_eq(r->type, REDIS_REPLY_STRING, "slot %u", s);
		cr_assert_eq(r->len, vals[s].len);
		cr_assert(memcmp(r->str, vals[s].data, r->len) == 0);
		freeReplyObject(r);
	}
	cr_assert_eq(mt_redis_get(f.r, k.keys, 16384, &b), 0);
	mt_test_assert_all_done(b, 16384);
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

Test(cluster, del_removes_keys_of_every_slot, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	static struct mt_test_slot_keys k;
	struct fx f;
	mt_redis_batch *b;

	fx_open(&f, NULL);
	mt_test_slot_keys_make(&k, "gone");
	cr_assert_eq(mt_redis_set(f.r, k.keys, k.keys, 16384, NULL, &b), 0);
	mt_test_assert_all_done(b, 16384);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_redis_del(f.r, k.keys, 16384, &b), 0);
	mt_test_assert_all_done(b, 16384);
	cr_assert_eq(b->results[0].reply->type, REDIS_REPLY_INTEGER);
	mt_redis_batch_free(b);
	for (unsigned s = 0; s < 16384; s += 1013)
		cr_assert_eq(owner_int(&f.c, k.keys[s], "EXISTS %b",
				       k.keys[s].data, k.keys[s].len),
			     0, "slot %u", s);
	fx_close(&f);
}

Test(cluster, binary_keys_with_a_ttl_round_trip,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_kv kv;
	mt_redis_batch *b;
	mt_redis_set_options ttl = {.ttl_ms = 600000};
	size_t n = MT_TEST_SANITIZED ? 600 : 3000;

	fx_open(&f, NULL);
	mt_test_kv_make(&kv, "bin", n, 100);
	cr_assert_eq(mt_redis_set(f.r, kv.keys, kv.values, n, &ttl, &b), 0);
	mt_test_assert_all_done(b, n);
	mt_redis_batch_free(b);
	for (size_t i = 0; i < n; i += 97) {
		long long pttl = owner_int(&f.c, kv.keys[i], "PTTL %b",
					   kv.keys[i].data, kv.keys[i].len);
		cr_assert(pttl > 0 && pttl <= 600000, "key %zu: %lld", i, pttl);
	}
	cr_assert_eq(mt_redis_get(f.r, kv.keys, n, &b), 0);
	mt_test_assert_all_done(b, n);
	for (size_t i = 0; i < n; i++)
		mt_test_assert_bytes(b->results[i].reply, kv.values[i], i);
	mt_redis_batch_free(b);
	mt_test_kv_free(&kv);
	fx_close(&f);
}

Test(cluster, steady_state_needs_no_redirect, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_kv kv;
	mt_redis_batch *b;
	mt_redis_stats st;

	fx_open(&f, NULL);
	mt_test_kv_make(&kv, "steady", 500, 8);
	cr_assert_eq(mt_redis_set(f.r, kv.keys, kv.values, 500, NULL, &b), 0);
	mt_test_assert_all_done(b, 500);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_redis_get(f.r, kv.keys, 500, &b), 0);
	mt_test_assert_all_done(b, 500);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_redis_stats_get(f.r, &st), 0);
	cr_assert_eq(st.redirects, 0, "%llu redirects",
		     (unsigned long long)st.redirects);
	cr_assert_gt(st.items_done, 0);
	cr_assert_eq(st.items_failed + st.items_unknown, 0);
	mt_test_kv_free(&kv);
	fx_close(&f);
}

static mt_redis_cmd cmd(int argc, const mt_redis_bytes *argv)
{
	return (mt_redis_cmd){argc, argv};
}

Test(cluster, exec_routes_by_key_first_argument_or_any_master,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	mt_redis_batch *b;
	/* Slots 12182 ("foo"), 5061 ("bar"), 866 ("hello"): three masters. */
	mt_redis_bytes set_foo[] = {B("SET"), B("{foo}ex"), B("1")};
	mt_redis_bytes set_bar[] = {B("SET"), B("{bar}ex"), B("2")};
	mt_redis_bytes get_bar[] = {B("GET"), B("{bar}ex")};
	mt_redis_bytes ping[] = {B("PING")};
	mt_redis_bytes incr[] = {B("INCR"), B("{hello}ex")};
	mt_redis_bytes get_hello[] = {B("GET"), B("{hello}ex")};
	/* An EVAL names its key after the script: `key` routes it. */
	mt_redis_bytes eval[] = {B("EVAL"),
				 B("return redis.call('GET', KEYS[1])"), B("1"),
				 B("{foo}ex")};
	mt_redis_cmd c_set_foo = cmd(3, set_foo), c_set_bar = cmd(3, set_bar),
		     c_get_bar = cmd(2, get_bar), c_ping = cmd(1, ping),
		     c_eval = cmd(4, eval);
	mt_redis_cmd c_hello[] = {cmd(2, incr), cmd(2, incr),
				  cmd(2, get_hello)};
	mt_redis_item items[] = {{&c_set_foo, 1, 0, {0}},
				 {&c_set_bar, 1, 0, {0}},
				 {c_hello, 3, 0, {0}},
				 {&c_ping, 1, 0, {0}},
				 {&c_get_bar, 1, MT_REDIS_IDEMPOTENT, {0}},
				 {&c_eval, 1, 0, B("{foo}ex")}};

	fx_open(&f, NULL);
	cr_assert_eq(mt_redis_exec(f.r, items, 6, &b), 0);
	mt_test_assert_all_done(b, 6);
	cr_assert_eq(b->results[2].nreplies, 3);
	cr_assert_eq(b->results[2].replies[0]->integer, 1);
	cr_assert_eq(b->results[2].replies[1]->integer, 2);
	mt_test_assert_bytes(b->results[2].reply, B("2"), 2);
	cr_assert_str_eq(b->results[3].reply->str, "PONG");
	mt_test_assert_bytes(b->results[4].reply, B("2"), 4);
	mt_test_assert_bytes(b->results[5].reply, B("1"), 5);
	mt_redis_batch_free(b);
	fx_close(&f);
}

Test(cluster, exec_item_spanning_slots_fails_with_a_text_that_says_why,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	mt_redis_batch *b;
	/* "{foo}" and "{bar}" live on different masters. */
	mt_redis_bytes a[] = {B("SET"), B("{foo}span"), B("1")};
	mt_redis_bytes z[] = {B("SET"), B("{bar}span"), B("1")};
	mt_redis_cmd two[] = {cmd(3, a), cmd(3, z)};
	mt_redis_item item = {two, 2, 0, {0}};
	mt_redis_item atomic = {two, 2, MT_REDIS_ATOMIC, B("{foo}span2")};
	mt_redis_bytes a2[] = {B("SET"), B("{foo}span2"), B("1")};
	mt_redis_cmd two2[] = {cmd(3, a2), cmd(3, z)};
	atomic.cmds = two2;
	mt_redis_item items[] = {item, atomic};

	fx_open(&f, NULL);
	cr_assert(f.c.node[mt_test_cluster_owner(&f.c, 12182)].srv.port !=
		  f.c.node[mt_test_cluster_owner(&f.c, 5061)].srv.port);
	cr_assert_eq(mt_redis_exec(f.r, items, 2, &b), 0);
	cr_assert_eq(b->results[0].status, MT_REDIS_FAILED);
	cr_assert(strstr(b->results[0].error, "must share a hash slot"), "%s",
		  b->results[0].error);
	cr_assert_eq(b->results[0].nreplies, 2);
	cr_assert_eq(b->results[1].status, MT_REDIS_FAILED);
	cr_assert(strstr(b->results[1].error, "atomic item"), "%s",
		  b->results[1].error);
	mt_redis_batch_free(b);
	/* The plain item's first command ran; the atomic one ran nothing. */
	cr_assert_eq(owner_int(&f.c, B("{foo}span"), "EXISTS {foo}span"), 1);
	cr_assert_eq(owner_int(&f.c, B("{foo}span2"), "EXISTS {foo}span2"), 0);
	fx_close(&f);
}

Test(cluster, atomic_item_with_one_hash_tag_runs_as_a_transaction,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	mt_redis_batch *b;
	mt_redis_bytes s1[] = {B("SET"), B("{acct}:a"), B("10")};
	mt_redis_bytes s2[] = {B("INCRBY"), B("{acct}:b"), B("5")};
	mt_redis_cmd two[] = {cmd(3, s1), cmd(3, s2)};
	mt_redis_item item = {two, 2, MT_REDIS_ATOMIC, {0}};

	fx_open(&f, NULL);
	cr_assert_eq(mt_redis_exec(f.r, &item, 1, &b), 0);
	mt_test_assert_all_done(b, 1);
	cr_assert_eq(b->results[0].reply->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(b->results[0].nreplies, 2);
	cr_assert_eq(b->results[0].replies[1]->integer, 5);
	mt_redis_batch_free(b);
	fx_close(&f);
}

Test(cluster, caller_multi_key_command_across_slots_gets_crossslot,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	mt_redis_batch *b;
	mt_redis_bytes mget[] = {B("MGET"), B("{foo}x"), B("{bar}x")};
	mt_redis_cmd c = cmd(3, mget);
	mt_redis_item item = {&c, 1, MT_REDIS_IDEMPOTENT, {0}};

	fx_open(&f, NULL);
	cr_assert_eq(mt_redis_exec(f.r, &item, 1, &b), 0);
	cr_assert_eq(b->results[0].status, MT_REDIS_FAILED);
	cr_assert(strncmp(b->results[0].error, "CROSSSLOT", 9) == 0, "%s",
		  b->results[0].error);
	mt_redis_batch_free(b);
	fx_close(&f);
}

/* ------------------------------------------------------------- models */

enum {
	NMODELS = 40
};

struct models {
	char keys[NMODELS][16];
	mt_redis_field fields[NMODELS][2], kidx[NMODELS][1];
	mt_redis_sorted sidx[NMODELS][1];
	mt_redis_model m[NMODELS];
	mt_redis_bytes mkeys[NMODELS];
};

/* Popoto's layout: "<model>:<key>", "$Class:<model>", "$KeyF:...",
 * "$SortedF:..." hash to different slots unless the model name is a
 * hash tag. */
static void models_make(struct models *s, const char *model, const char *pfx)
{
	for (size_t i = 0; i < NMODELS; i++) {
		snprintf(s->keys[i], sizeof s->keys[i], "%s%zu", pfx, i);
		s->fields[i][0] = (mt_redis_field){B("name"), B(s->keys[i])};
		s->fields[i][1] = (mt_redis_field){B("bin"), {"\0\r\n\xff", 4}};
		s->kidx[i][0] =
			(mt_redis_field){B("city"), B(i % 2 ? "Oslo" : "Rome")};
		s->sidx[i][0] = (mt_redis_sorted){B("age"), (double)i + 0.5};
		s->m[i] = (mt_redis_model){.model = B(model),
					   .key = B(s->keys[i]),
					   .fields = s->fields[i],
					   .nfields = 2,
					   .key_indexes = s->kidx[i],
					   .nkey_indexes = 1,
					   .sorted_indexes = s->sidx[i],
					   .nsorted_indexes = 1,
					   .ttl_ms = 600000};
		s->mkeys[i] = B(s->keys[i]);
	}
}

/* What model i left on the masters: its hash with a TTL, its class set
 * entry, its key index and sorted index entries. */
static void assert_saved(struct mt_test_cluster *c, const char *model,
			 const char *key, size_t i, int present)
{
	char h[64], cls[64], kf[64], sf[64];
	snprintf(h, sizeof h, "%s:%s", model, key);
	snprintf(cls, sizeof cls, "$Class:%s", model);
	snprintf(kf, sizeof kf, "$KeyF:%s:city:%s", model,
		 i % 2 ? "Oslo" : "Rome");
	snprintf(sf, sizeof sf, "$SortedF:%s:age", model);
	cr_assert_eq(owner_int(c, B(h), "HLEN %s", h), present ? 2 : 0, "%s",
		     h);
	if (present)
		cr_assert_gt(owner_int(c, B(h), "PTTL %s", h), 0);
	cr_assert_eq(owner_int(c, B(cls), "SISMEMBER %s %s", cls, h), present);
	cr_assert_eq(owner_int(c, B(kf), "SISMEMBER %s %s", kf, h), present);
	redisReply *z = on_owner(c, B(sf), "ZSCORE %s %s", sf, h);
	cr_assert_eq(z->type, present ? REDIS_REPLY_STRING : REDIS_REPLY_NIL);
	freeReplyObject(z);
}

Test(cluster, model_saves_split_across_slots_then_load_and_delete,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	static struct models s;
	struct fx f;
	mt_redis_batch *b;

	fx_open(&f, NULL);
	models_make(&s, "CUser", "k");
	cr_assert_eq(mt_redis_model_save(f.r, s.m, NMODELS, 0, &b), 0);
	mt_test_assert_all_done(b, NMODELS);
	/* Every command's reply, in command order, though they ran on
	 * different masters: HSET, SADD class, SADD index, ZADD, PEXPIRE. */
	cr_assert_eq(b->results[3].nreplies, 5);
	cr_assert_eq(b->results[3].replies[0]->integer, 2);
	cr_assert_eq(b->results[3].reply->integer, 1);
	mt_redis_batch_free(b);
	for (size_t i = 0; i < NMODELS; i += 7)
		assert_saved(&f.c, "CUser", s.keys[i], i, 1);

	cr_assert_eq(mt_redis_model_load(f.r, B("CUser"), s.mkeys, NMODELS, &b),
		     0);
	mt_test_assert_all_done(b, NMODELS);
	for (size_t i = 0; i < NMODELS; i++) {
		const redisReply *h = b->results[i].reply;
		cr_assert_eq(h->type, REDIS_REPLY_ARRAY);
		cr_assert_eq(h->elements, 4);
	}
	mt_redis_batch_free(b);

	cr_assert_eq(mt_redis_model_delete(f.r, s.m, NMODELS, 0, &b), 0);
	mt_test_assert_all_done(b, NMODELS);
	mt_redis_batch_free(b);
	for (size_t i = 0; i < NMODELS; i += 7)
		assert_saved(&f.c, "CUser", s.keys[i], i, 0);
	fx_close(&f);
}

Test(cluster, atomic_model_save_needs_a_hash_tag_model_name,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	static struct models s, t;
	struct fx f;
	mt_redis_batch *b;

	fx_open(&f, NULL);
	models_make(&s, "AUser", "a");
	cr_assert_eq(
		mt_redis_model_save(f.r, s.m, NMODELS, MT_REDIS_ATOMIC, &b), 0);
	cr_assert_eq(b->failed, NMODELS);
	cr_assert(strstr(b->results[0].error, "hash tag"), "%s",
		  b->results[0].error);
	mt_redis_batch_free(b);
	assert_saved(&f.c, "AUser", s.keys[0], 0, 0);

	/* "{TUser}": every key of every model in one slot, one node. */
	models_make(&t, "{TUser}", "t");
	cr_assert_eq(
		mt_redis_model_save(f.r, t.m, NMODELS, MT_REDIS_ATOMIC, &b), 0);
	mt_test_assert_all_done(b, NMODELS);
	cr_assert_eq(b->results[0].reply->type, REDIS_REPLY_ARRAY);
	mt_redis_batch_free(b);
	for (size_t i = 0; i < NMODELS; i += 9)
		assert_saved(&f.c, "{TUser}", t.keys[i], i, 1);
	fx_close(&f);
}

/* ----------------------------------------------------------- publish */

Test(cluster, publish_reaches_a_subscriber_on_another_master,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	mt_redis_batch *b;
	enum {
		N = 100
	};
	mt_redis_bytes chans[N], msgs[N];
	char text[N][8];

	fx_open(&f, NULL);
	/* "{bar}news" is routed to slot 5061's master; listen elsewhere. */
	int pub = mt_test_cluster_owner(&f.c, 5061);
	int lis = (pub + 1) % 3;
	redisContext *sub = mt_test_cluster_admin(&f.c, lis);
	freeReplyObject(mt_test_redis_cmd(sub, "SUBSCRIBE {bar}news"));
	for (int i = 0; i < N; i++) {
		chans[i] = B("{bar}news");
		snprintf(text[i], sizeof text[i], "m%d", i);
		msgs[i] = B(text[i]);
	}
	cr_assert_eq(mt_redis_publish(f.r, chans, msgs, N, &b), 0);
	mt_test_assert_all_done(b, N);
	mt_redis_batch_free(b);
	unsigned char seen[N] = {0};
	for (int k = 0; k < N; k++) {
		redisReply *m;
		cr_assert_eq(redisGetReply(sub, (void **)&m), REDIS_OK);
		cr_assert_eq(m->elements, 3);
		int i = atoi(m->element[2]->str + 1);
		cr_assert(i >= 0 && i < N && !seen[i]++, "message %d", i);
		freeReplyObject(m);
	}
	redisFree(sub);
	fx_close(&f);
}

/* -------------------------------------------------------- background */

Test(cluster, background_saves_and_commands_land_on_their_owners,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	static struct models s;
	struct fx f;
	mt_redis_flush_report rep;
	enum {
		N = 300
	};
	char keys[N][24];

	fx_open(&f, NULL);
	models_make(&s, "BUser", "b");
	for (size_t i = 0; i < NMODELS; i++)
		cr_assert_eq(mt_redis_save_async(f.r, &s.m[i], 0), 0);
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof keys[i], "bgcmd:%d", i);
		mt_redis_bytes a[] = {B("SET"), B(keys[i]), B(keys[i])};
		mt_redis_cmd c = cmd(3, a);
		cr_assert_eq(mt_redis_command_async(f.r, &c,
						    MT_REDIS_IDEMPOTENT),
			     0);
	}
	cr_assert_eq(mt_redis_publish_async(f.r, B("bgnews"), B("x")), 0);
	cr_assert_eq(mt_redis_flush(f.r, &rep), 0, "%s", rep.last_error);
	cr_assert_eq(rep.done, NMODELS + N + 1);
	cr_assert_eq(rep.failed + rep.unknown, 0);
	for (size_t i = 0; i < NMODELS; i += 5)
		assert_saved(&f.c, "BUser", s.keys[i], i, 1);
	for (int i = 0; i < N; i += 17) {
		redisReply *r = owner_get(&f.c, B(keys[i]));
		mt_test_assert_bytes(r, B(keys[i]), (size_t)i);
		freeReplyObject(r);
	}
	fx_close(&f);
}

/* -------------------------------------------------------------- open */

Test(cluster, lazy_open_reads_the_slot_map_on_the_first_call,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	mt_redis_batch *b;
	mt_redis_options o = {.flags = MT_REDIS_LAZY};
	mt_redis_bytes k = B("{lazy}k");

	fx_open(&f, &o);
	mt_redis_stats st;
	mt_redis_stats_get(f.r, &st);
	cr_assert_eq(st.connects, 0);
	cr_assert_eq(mt_redis_set(f.r, &k, &k, 1, NULL, &b), 0);
	mt_test_assert_all_done(b, 1);
	mt_redis_batch_free(b);
	mt_redis_stats_get(f.r, &st);
	cr_assert_eq(st.redirects, 0);
	fx_close(&f);
}

Test(cluster, open_skips_seeds_that_do_not_answer,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_cluster c;
	struct mt_test_redis plain;
	char uri[256], why[MT_REDIS_ERRLEN];
	mt_redis *r;

	mt_test_cluster_shared(&c);
	/* A port nothing listens on: a stopped server's. */
	mt_test_redis_start(&plain, NULL);
	int dead = plain.port;
	snprintf(uri, sizeof uri, "redis-cluster://127.0.0.1:%d,127.0.0.1:%d",
		 dead, c.node[1].srv.port);
	/* A plain server is not a cluster: EIO, and the reason says so. */
	char plain_uri[128];
	snprintf(plain_uri, sizeof plain_uri, "redis-cluster://127.0.0.1:%d",
		 plain.port);
	cr_assert_eq(mt_redis_open(&r, plain_uri, NULL, why, sizeof why), EIO);
	cr_assert(strstr(why, "cluster"), "%s", why);
	mt_test_redis_stop(&plain);

	r = mt_test_client(uri, NULL);
	mt_redis_batch *b;
	mt_redis_bytes k = B("{seeds}k");
	cr_assert_eq(mt_redis_set(r, &k, &k, 1, NULL, &b), 0);
	mt_test_assert_all_done(b, 1);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_redis_close(r), 0);

	snprintf(uri, sizeof uri, "redis-cluster://127.0.0.1:%d", dead);
	cr_assert_eq(mt_redis_open(&r, uri, NULL, why, sizeof why),
		     ECONNREFUSED, "%s", why);
	cr_assert_null(r);
	mt_test_cluster_stop(&c);
}

static void *never(redisContext *c, void *param, void *ctx)
{
	(void)c;
	(void)ctx;
	return param;
}

Test(cluster, map_with_a_connection_is_einval_on_a_cluster,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	void *params[1] = {NULL}, *results[1] = {params};

	fx_open(&f, NULL);
	cr_assert_eq(mt_redis_map(f.r, never, params, results, 1, NULL, NULL),
		     EINVAL);
	cr_assert_eq(results[0], params, "fn ran");
	fx_close(&f);
}

/* A bulk call from a task of the client's own pool helps while it waits. */
static _Atomic int nested_ok;

static void nested(void *arg)
{
	struct fx *f = arg;
	static struct mt_test_slot_keys k;
	mt_redis_batch *b;

	mt_test_slot_keys_make(&k, "nested");
	if (mt_redis_set(f->r, k.keys, k.keys, 16384, NULL, &b) == 0 &&
	    b->done == 16384)
		atomic_fetch_add(&nested_ok, 1);
	mt_redis_batch_free(b);
}

Test(cluster, bulk_call_from_a_pool_task_routes_like_any_other,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	mt_group g;

	fx_open(&f, NULL);
	cr_assert_eq(mt_group_init(&g, f.pool), 0);
	cr_assert_eq(mt_group_spawn(&g, nested, &f), 0);
	cr_assert_eq(mt_group_wait(&g), 0);
	cr_assert_eq(atomic_load(&nested_ok), 1);
	fx_close(&f);
}

/* -------------------------------------------------------------- scan */

/* n keys of prefix `p` in every slot, and decoys that no pattern of the
 * test matches. */
static void scan_keys_set(struct fx *f, struct mt_test_slot_keys *k,
			  const char *p)
{
	mt_redis_batch *b;
	mt_test_slot_keys_make(k, p);
	cr_assert_eq(mt_redis_set(f->r, k->keys, k->keys, 16384, NULL, &b), 0);
	mt_test_assert_all_done(b, 16384);
	mt_redis_batch_free(b);
}

/* Each key of k exactly once in found (keys are "<p>:<n>"). */
static void assert_found_all(const mt_redis_keys *found,
			     const struct mt_test_slot_keys *k)
{
	static unsigned char seen[16384];
	memset(seen, 0, sizeof seen);
	cr_assert_eq(found->n, 16384);
	for (size_t i = 0; i < found->n; i++) {
		unsigned s = mt_redis_key_slot(found->keys[i]);
		cr_assert(found->keys[i].len == k->keys[s].len &&
				  memcmp(found->keys[i].data, k->keys[s].data,
					 k->keys[s].len) == 0,
			  "key %zu is not the slot's key", i);
		cr_assert_eq(seen[s]++, 0, "slot %u found twice", s);
	}
}

Test(cluster, scan_walks_every_master_for_one_or_many_patterns,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	static struct mt_test_slot_keys k, decoy;
	struct fx f;
	mt_redis_keys *found;

	fx_open(&f, NULL);
	scan_keys_set(&f, &k, "scanA");
	scan_keys_set(&f, &decoy, "scanB");
	/* One glob pattern: SCAN MATCH on every master. */
	const char *one[] = {"scanA:*"};
	cr_assert_eq(mt_redis_scan(f.r, one, 1, NULL, &found), 0);
	assert_found_all(found, &k);
	mt_redis_keys_free(found);
	/* Several: one walk per master, matched here; overlap de-duplicated,
	 * a literal that exists found once. */
	const char *many[] = {"scanA:*[02468]", "scanA:*[13579]", "scanA:1*",
			      "scanA:0"};
	cr_assert_eq(mt_redis_scan(f.r, many, 4, NULL, &found), 0);
	assert_found_all(found, &k);
	mt_redis_keys_free(found);
	fx_close(&f);
}

Test(cluster, scan_literals_go_to_their_owners_and_values_are_read,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	static struct mt_test_slot_keys k;
	struct fx f;
	mt_redis_keys *found;
	mt_redis_scan_options o = {.fetch = "GET"};

	fx_open(&f, NULL);
	scan_keys_set(&f, &k, "scanC");
	const char *lits[] = {k.mem[0], k.mem[5000], k.mem[16383],
			      "scanC:no-such-key"};
	cr_assert_eq(mt_redis_scan(f.r, lits, 4, &o, &found), 0);
	cr_assert_eq(found->n, 3);
	for (size_t i = 0; i < 3; i++) {
		mt_test_assert_bytes(found->values[i].reply, found->keys[i], i);
		cr_assert(found->keys[i].len == strlen(lits[i]) &&
			  memcmp(found->keys[i].data, lits[i],
				 found->keys[i].len) == 0);
	}
	mt_redis_keys_free(found);
	const char *glob[] = {"scanC:*"};
	cr_assert_eq(mt_redis_scan(f.r, glob, 1, &o, &found), 0);
	assert_found_all(found, &k);
	cr_assert_eq(found->failed, 0);
	for (size_t i = 0; i < found->n; i++)
		mt_test_assert_bytes(found->values[i].reply, found->keys[i], i);
	mt_redis_keys_free(found);
	fx_close(&f);
}

/* ------------------------------------------------ map with a connection */

/* GET of the key in param, on the connection the map gave. */
static void *fetch_on(redisContext *c, void *param, void *ctx)
{
	(void)ctx;
	return redisCommand(c, "GET %s", (const char *)param);
}

Test(cluster, keyed_map_gives_each_item_its_owners_connection,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	static struct mt_test_slot_keys k;
	struct fx f;
	mt_redis_batch *b;
	enum {
		N = 600
	};
	void *params[N], *results[N];
	mt_redis_bytes keys[N];
	size_t not_run;

	fx_open(&f, NULL);
	mt_test_slot_keys_make(&k, "kmap");
	cr_assert_eq(mt_redis_set(f.r, k.keys, k.keys, 16384, NULL, &b), 0);
	mt_test_assert_all_done(b, 16384);
	mt_redis_batch_free(b);
	for (size_t i = 0; i < N; i++) {
		unsigned s = (unsigned)(i * 27) % 16384; /* every master */
		params[i] = k.mem[s];
		keys[i] = k.keys[s];
	}
	cr_assert_eq(mt_redis_map_keyed(f.r, fetch_on, params, keys, results, N,
					NULL, &not_run),
		     0);
	cr_assert_eq(not_run, 0);
	for (size_t i = 0; i < N; i++) {
		/* A wrong node would have answered MOVED. */
		mt_test_assert_bytes(results[i], keys[i], i);
		freeReplyObject(results[i]);
	}
	cr_assert_eq(mt_redis_map_keyed(f.r, fetch_on, params, NULL, results, 1,
					NULL, NULL),
		     EINVAL);
	fx_close(&f);
}

Test(cluster, keyed_map_on_one_server_is_the_plain_map,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_redis srv;
	void *params[2] = {"a", "b"}, *results[2];
	mt_redis_bytes keys[2] = {B("ignored"), B("also")};
	size_t not_run = 9;

	mt_test_redis_start(&srv, NULL);
	mt_redis *r = mt_test_client(srv.tcp_uri, NULL);
	cr_assert_eq(mt_redis_map_keyed(r, fetch_on, params, keys, results, 2,
					NULL, &not_run),
		     0);
	cr_assert_eq(not_run, 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(((redisReply *)results[i])->type, REDIS_REPLY_NIL);
		freeReplyObject(results[i]);
	}
	cr_assert_eq(mt_redis_close(r), 0);
	mt_test_redis_stop(&srv);
}
