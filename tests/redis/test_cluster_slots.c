/*
 * tests/redis/test_cluster_slots.c: the cluster client through faults
 * local to one hash slot, on one shared 3-master cluster whose tests each
 * own a slot (a hash tag) that no other test here writes to:
 *   - the library's parsers against what a live cluster says (CLUSTER
 *     KEYSLOT, CLUSTER SLOTS, and the MOVED, ASK, TRYAGAIN and CROSSSLOT
 *     replies of a slot migrated step by step);
 *   - a slot migrated step by step between bulk calls, so that ASK and
 *     then MOVED really happen, and no item is lost;
 *   - a migration under a stream of bulk calls (MOVED leaking out of
 *     pipelines during resharding, elsewhere a known failure);
 *   - two masters that disagree about a slot (MOVED ping-pong) and the
 *     redirect bound.
 * Separate from test_cluster.c, whose tests put a key in every slot.
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

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

MT_TEST_CLUSTER_SHARED(3, 0)

struct fx {
	struct mt_test_cluster c;
	mt_pool *pool;
	mt_redis *r;
};

static void fx_open(struct fx *f, const mt_redis_options *o)
{
	mt_test_cluster_shared(&f->c);
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

static mt_redis_bytes B(const char *s)
{
	return mt_test_str(s);
}

/* ------------------------------------------------------- migration */

Test(cluster_slot_faults, slot_migration_gives_ask_then_moved_and_loses_nothing,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_tagged old, fresh;
	struct mt_test_migration g;
	mt_redis_batch *b;
	unsigned slot = mt_redis_key_slot(B("mig"));

	fx_open(&f, NULL);
	mt_test_tagged_make(&old, "mig", "old", 60);
	mt_test_tagged_make(&fresh, "mig", "new", 20);
	int from = mt_test_cluster_owner(&f.c, slot);
	int to = mt_test_other_master(&f.c, from);
	mt_test_set_each(f.r, &old);

	/* Half the keys on the target: the source answers ASK for them. */
	mt_test_cluster_migrate_begin(&f.c, slot, to, &g);
	cr_assert_eq(mt_test_cluster_migrate_keys(&f.c, &g, 30), 30);
	uint64_t r0 = mt_test_redirects(f.r);
	b = mt_test_get_each(f.r, &old);
	mt_test_assert_tagged_values(b, &old);
	mt_redis_batch_free(b);
	cr_assert_geq(mt_test_redirects(f.r) - r0, 30, "ASKs followed: %llu",
		      (unsigned long long)(mt_test_redirects(f.r) - r0));
	/* New keys of a migrating slot are created on the target. */
	mt_test_set_each(f.r, &fresh);
	cr_assert_eq(mt_test_held_by(&f.c, to, &fresh), fresh.n);
	cr_assert_eq(mt_test_held_by(&f.c, from, &fresh), 0);

	/* The slot handed over: the client's map is stale, MOVED follows. */
	while (mt_test_cluster_migrate_keys(&f.c, &g, 7) > 0)
		;
	mt_test_cluster_migrate_end(&f.c, &g);
	uint64_t r1 = mt_test_redirects(f.r);
	cr_assert_eq(mt_redis_get(f.r, old.keys, old.n, &b), 0);
	mt_test_assert_tagged_values(b, &old);
	mt_redis_batch_free(b);
	cr_assert_gt(mt_test_redirects(f.r), r1, "no MOVED was followed");
	/* Refreshed once: the next call goes straight to the new owner. */
	uint64_t r2 = mt_test_redirects(f.r);
	cr_assert_eq(mt_redis_get(f.r, fresh.keys, fresh.n, &b), 0);
	mt_test_assert_tagged_values(b, &fresh);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_test_redirects(f.r), r2);
	cr_assert_eq(mt_test_held_by(&f.c, to, &old), old.n);
	mt_test_tagged_free(&old);
	mt_test_tagged_free(&fresh);
	fx_close(&f);
}

/* A stream of bulk calls on a slot while it moves. */
struct stream {
	mt_redis *r;
	const struct mt_test_tagged *t;
	_Atomic int stop;
	_Atomic unsigned rounds;
	char bad[MT_REDIS_ERRLEN]; /* the first item not DONE, if any */
};

static void stream_check(struct stream *s, const mt_redis_batch *b)
{
	size_t i = mt_test_first_not_done(b);
	if (i < b->n && !s->bad[0])
		snprintf(s->bad, sizeof s->bad, "item %zu: %s", i,
			 b->results[i].error);
}

static void *stream_run(void *arg)
{
	struct stream *s = arg;
	mt_redis_set_options ttl = {.ttl_ms = 600000};
	mt_redis_batch *b;

	while (!atomic_load(&s->stop)) {
		if (mt_redis_set(s->r, s->t->keys, s->t->vals, s->t->n, &ttl,
				 &b) == 0) {
			stream_check(s, b);
			mt_redis_batch_free(b);
		}
		b = mt_test_get_each(s->r, s->t);
		stream_check(s, b);
		mt_redis_batch_free(b);
		atomic_fetch_add(&s->rounds, 1);
	}
	return NULL;
}

/* Waits until the stream has run `more` further rounds. */
static void stream_wait(struct stream *s, unsigned more)
{
	const struct timespec pause = {0, 1000000};
	unsigned want = atomic_load(&s->rounds) + more;
	while (atomic_load(&s->rounds) < want)
		nanosleep(&pause, NULL);
}

Test(cluster_slot_faults, resharding_under_a_stream_of_calls_leaks_no_redirect,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_tagged t;
	struct mt_test_migration g;
	struct stream s = {0};
	pthread_t th;
	unsigned slot = mt_redis_key_slot(B("stream"));

	fx_open(&f, NULL);
	mt_test_tagged_make(&t, "stream", "k", 40);
	s.r = f.r;
	s.t = &t;
	int from = mt_test_cluster_owner(&f.c, slot);
	int to = mt_test_other_master(&f.c, from);
	cr_assert_eq(pthread_create(&th, NULL, stream_run, &s), 0);
	stream_wait(&s, 1);
	/* Every step of the migration lands between two calls at least. */
	mt_test_cluster_migrate_begin(&f.c, slot, to, &g);
	stream_wait(&s, 1);
	while (mt_test_cluster_migrate_keys(&f.c, &g, 4) > 0)
		stream_wait(&s, 1);
	mt_test_cluster_migrate_end(&f.c, &g);
	stream_wait(&s, 2);
	atomic_store(&s.stop, 1);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_str_eq(s.bad, "", "%s", s.bad);
	cr_assert_gt(mt_test_redirects(f.r), 0);
	cr_assert_eq(mt_test_held_by(&f.c, to, &t), t.n);
	mt_test_tagged_free(&t);
	fx_close(&f);
}

/* ------------------------------------------------------------ ping-pong */

Test(cluster_slot_faults, masters_that_disagree_end_in_the_redirect_bound,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_tagged t, other;
	unsigned slot = mt_redis_key_slot(B("pp"));

	fx_open(&f, NULL);
	mt_test_tagged_make(&t, "pp", "k", 10);
	mt_test_tagged_make(&other, "calm", "k", 10);
	int a = mt_test_cluster_owner(&f.c, slot),
	    z = mt_test_other_master(&f.c, a);
	/* a now says the slot is z's; z still says it is a's. */
	mt_test_cluster_setslot_node(&f.c, a, slot, z);
	mt_redis_batch *b = mt_test_get_each(f.r, &t);
	cr_assert_eq(b->failed, t.n);
	for (size_t i = 0; i < t.n; i++)
		cr_assert(strstr(b->results[i].error, "gave up after 5 "
						      "redirects"),
			  "%s", b->results[i].error);
	mt_redis_batch_free(b);
	cr_assert_geq(mt_test_redirects(f.r), 5 * t.n);
	/* The rest of the cluster is untouched. */
	mt_test_set_each(f.r, &other);

	/* Agreement again: the same keys go through. */
	mt_test_cluster_setslot_node(&f.c, a, slot, a);
	mt_test_set_each(f.r, &t);
	b = mt_test_get_each(f.r, &t);
	mt_test_assert_tagged_values(b, &t);
	mt_redis_batch_free(b);
	mt_test_tagged_free(&t);
	mt_test_tagged_free(&other);
	fx_close(&f);
}

/* ------------------------------------------- the parsers, live */

/* The redirect an error reply carries (asserting it parses). */
static struct mt_redis_redirect redirect_of(redisReply *r)
{
	struct mt_redis_redirect rd;

	cr_assert_eq(r->type, REDIS_REPLY_ERROR, "not an error: type %d",
		     r->type);
	cr_assert_eq(mt__redis_redirect_parse(r->str, r->len, &rd), 0, "%s",
		     r->str);
	freeReplyObject(r);
	return rd;
}

/* The map that node i's CLUSTER SLOTS gives, parsed by the library. */
static void install_from(struct mt_test_cluster *c, int i,
			 struct mt_redis_slotmap *m)
{
	struct mt_redis_slots s;
	char why[256];
	redisReply *r = mt_test_cluster_cmd(c, i, "CLUSTER SLOTS");

	cr_assert_eq(mt__redis_slots_parse(r, &s, why, sizeof why), 0, "%s",
		     why);
	cr_assert_eq(s.covered, 16384);
	cr_assert_eq(mt__redis_slotmap_install(m, &s, "127.0.0.1"), 0);
	mt__redis_slots_free(&s);
	freeReplyObject(r);
}

static int map_port(struct mt_redis_slotmap *m, unsigned slot)
{
	const struct mt_redis_node *n =
		mt__redis_slotmap_node(m, mt__redis_slotmap_owner(m, slot));
	cr_assert_not_null(n, "slot %u has no owner", slot);
	return n->port;
}

/* Slots that the other tests here migrate or make disagree while this
 * one runs: their owners may differ between nodes for a moment. */
static int busy_slot(unsigned s)
{
	const char *tags[] = {"mig", "stream", "pp", "askx", "tryx"};
	for (size_t i = 0; i < sizeof tags / sizeof *tags; i++)
		if (s == mt_redis_key_slot(B(tags[i])))
			return 1;
	return 0;
}

static void
slot_maps_of_every_node_agree_with_the_cluster(struct mt_test_cluster *c)
{
	struct mt_redis_slotmap *first, *m;
	const unsigned probes[] = {0, 5460, 5461, 10922, 10923, 16383};

	cr_assert_eq(mt__redis_slotmap_create(&first), 0);
	install_from(c, 0, first);
	for (size_t p = 0; p < sizeof probes / sizeof *probes; p++)
		cr_assert_eq(
			map_port(first, probes[p]),
			c->node[mt_test_cluster_owner(c, probes[p])].srv.port);
	for (int i = 1; i < c->n; i++) {
		cr_assert_eq(mt__redis_slotmap_create(&m), 0);
		install_from(c, i, m);
		for (unsigned s = 0; s < 16384; s++)
			cr_assert(busy_slot(s) ||
					  map_port(m, s) == map_port(first, s),
				  "slot %u", s);
		mt__redis_slotmap_destroy(m);
	}
	mt__redis_slotmap_destroy(first);
}

/* CLUSTER KEYSLOT of random binary keys (braces made likely) against
 * mt_redis_key_slot, pipelined on one connection. */
static void key_slots_agree_with_the_server(struct mt_test_cluster *c)
{
	enum {
		N = 3000,
		MAXLEN = 24
	};
	static unsigned char keys[N][MAXLEN];
	static size_t lens[N];
	redisContext *a = mt_test_cluster_admin(c, 0);
	unsigned seed = 77;

	for (int i = 0; i < N; i++) {
		lens[i] = (size_t)rand_r(&seed) % MAXLEN;
		for (size_t k = 0; k < lens[i]; k++) {
			int pick = rand_r(&seed) % 8;
			keys[i][k] = pick == 0 ? '{' :
				     pick == 1 ? '}' :
						 (unsigned char)rand_r(&seed);
		}
		const char *argv[] = {"CLUSTER", "KEYSLOT", (char *)keys[i]};
		size_t argl[] = {7, 7, lens[i]};
		redisAppendCommandArgv(a, 3, argv, argl);
	}
	for (int i = 0; i < N; i++) {
		redisReply *r;
		cr_assert_eq(redisGetReply(a, (void **)&r), REDIS_OK);
		cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
		mt_redis_bytes k = {keys[i], lens[i]};
		cr_assert_eq((long long)mt_redis_key_slot(k), r->integer,
			     "key %d", i);
		freeReplyObject(r);
	}
	redisFree(a);
}

/* "{live}", "{live}a" and "{live}b" share one slot, no other test's. */
static void migration_gives_ask_tryagain_then_moved(struct mt_test_cluster *c)
{
	unsigned slot = mt_redis_key_slot(mt_test_str("live"));
	int o = mt_test_cluster_owner(c, slot), x = mt_test_other_master(c, o);
	int oport = c->node[o].srv.port, xport = c->node[x].srv.port;
	struct mt_test_migration g;
	struct mt_redis_redirect rd;

	freeReplyObject(mt_test_cluster_cmd(c, o, "MSET {live} v {live}a va"));
	rd = redirect_of(mt_test_cluster_cmd(c, x, "GET {live}"));
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_MOVED);
	cr_assert_eq(rd.slot, slot);
	cr_assert_str_eq(rd.host, "127.0.0.1");
	cr_assert_eq(rd.port, oport);
	rd = redirect_of(mt_test_cluster_cmd(c, o, "MGET {live} bar"));
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_CROSSSLOT);

	mt_test_cluster_migrate_begin(c, slot, x, &g);
	cr_assert_eq(g.from, o);
	mt_test_assert_string_reply(mt_test_cluster_cmd(c, o, "GET {live}"),
				    "v"); /* still on the source */
	rd = redirect_of(mt_test_cluster_cmd(c, o, "GET {live}missing"));
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_ASK);
	cr_assert_eq(rd.slot, slot);
	cr_assert_eq(rd.port, xport);

	cr_assert_eq(mt_test_cluster_migrate_keys(c, &g, 1), 1);
	rd = redirect_of(mt_test_cluster_cmd(c, o, "MGET {live} {live}a"));
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_TRYAGAIN);
	while (mt_test_cluster_migrate_keys(c, &g, 1) > 0)
		;
	cr_assert_eq(g.moved, 2);
	rd = redirect_of(mt_test_cluster_cmd(c, o, "GET {live}"));
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_ASK);
	cr_assert_eq(rd.port, xport);
	/* Without ASKING the importing node sends the client back. */
	rd = redirect_of(mt_test_cluster_cmd(c, x, "GET {live}"));
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_MOVED);
	cr_assert_eq(rd.port, oport);
	redisContext *a = mt_test_cluster_admin(c, x);
	mt_test_redis_ok(a, "ASKING");
	mt_test_assert_string_reply(mt_test_redis_cmd(a, "GET {live}"), "v");
	redisFree(a);

	mt_test_cluster_migrate_end(c, &g);
	rd = redirect_of(mt_test_cluster_cmd(c, o, "GET {live}"));
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_MOVED);
	cr_assert_eq(rd.port, xport);
	mt_test_assert_string_reply(mt_test_cluster_cmd(c, x, "GET {live}a"),
				    "va");
	cr_assert_eq(mt_test_cluster_owner(c, slot), x);
}

Test(cluster_live, parsers_agree_with_a_real_cluster_through_a_migration,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_cluster c;

	mt_test_cluster_shared(&c);
	slot_maps_of_every_node_agree_with_the_cluster(&c);
	key_slots_agree_with_the_server(&c);
	migration_gives_ask_tryagain_then_moved(&c);
	/* The moved slot is in every node's map now. */
	slot_maps_of_every_node_agree_with_the_cluster(&c);
	mt_test_cluster_stop(&c);
}

/* ------------------------------------------- ASK for multi-command items */

static mt_redis_cmd cmd(int argc, const mt_redis_bytes *argv)
{
	return (mt_redis_cmd){argc, argv};
}

Test(cluster_slot_faults, ask_precedes_every_command_and_a_transaction,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_migration g;
	mt_redis_batch *b;
	unsigned slot = mt_redis_key_slot(B("askx"));
	/* Keys new to the slot while it migrates: the source sends ASK. */
	mt_redis_bytes s1[] = {B("SET"), B("{askx}p1"), B("1")};
	mt_redis_bytes s2[] = {B("INCR"), B("{askx}p2")};
	mt_redis_bytes g1[] = {B("GET"), B("{askx}p1")};
	mt_redis_bytes t1[] = {B("SET"), B("{askx}t1"), B("a")};
	mt_redis_bytes t2[] = {B("APPEND"), B("{askx}t1"), B("b")};
	mt_redis_cmd plain[] = {cmd(3, s1), cmd(2, s2), cmd(2, g1)};
	mt_redis_cmd tx[] = {cmd(3, t1), cmd(3, t2)};
	mt_redis_item items[] = {{plain, 3, 0, {0}},
				 {tx, 2, MT_REDIS_ATOMIC, {0}}};

	fx_open(&f, NULL);
	int from = mt_test_cluster_owner(&f.c, slot);
	int to = mt_test_other_master(&f.c, from);
	mt_test_cluster_migrate_begin(&f.c, slot, to, &g);
	uint64_t r0 = mt_test_redirects(f.r);
	cr_assert_eq(mt_redis_exec(f.r, items, 2, &b), 0);
	mt_test_assert_all_done(b, 2);
	/* The plain item: its three replies, the ASKINGs' OKs left out. */
	cr_assert_eq(b->results[0].nreplies, 3);
	cr_assert_eq(b->results[0].replies[1]->integer, 1);
	mt_test_assert_bytes(b->results[0].reply, B("1"), 0);
	/* The transaction: EXEC's array, run on the importing node. */
	cr_assert_eq(b->results[1].reply->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(b->results[1].nreplies, 2);
	cr_assert_eq(b->results[1].replies[1]->integer, 2);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_test_redirects(f.r) - r0, 2);
	while (mt_test_cluster_migrate_keys(&f.c, &g, 100) > 0)
		;
	mt_test_cluster_migrate_end(&f.c, &g);
	redisContext *a = mt_test_cluster_admin(&f.c, to);
	redisReply *r = mt_test_redis_cmd(a, "GET {askx}t1");
	cr_assert_str_eq(r->str, "ab");
	freeReplyObject(r);
	redisFree(a);
	fx_close(&f);
}

/* ------------------------------------------------------- TRYAGAIN */

struct get_call {
	mt_redis *r;
	const mt_redis_bytes *keys;
	size_t n;
	mt_redis_batch *b;
	int rc;
};

/* TRYAGAIN errors node i has answered (INFO errorstats, Redis 7). */
static long tryagains(struct mt_test_cluster *c, int i)
{
	redisContext *a = mt_test_cluster_admin(c, i);
	redisReply *r = mt_test_redis_cmd(a, "INFO errorstats");
	const char *p = strstr(r->str, "errorstat_TRYAGAIN:count=");
	long n = p ? atol(p + strlen("errorstat_TRYAGAIN:count=")) : 0;
	freeReplyObject(r);
	redisFree(a);
	return n;
}

static void *get_run(void *arg)
{
	struct get_call *c = arg;
	c->rc = mt_redis_get(c->r, c->keys, c->n, &c->b);
	return NULL;
}

Test(cluster_slot_faults, tryagain_waits_until_the_slot_is_handed_over,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_tagged t;
	struct mt_test_migration g;
	mt_redis_options o = {.command_timeout_ms = 30000};
	unsigned slot = mt_redis_key_slot(B("tryx"));

	fx_open(&f, &o);
	mt_test_tagged_make(&t, "tryx", "k", 10);
	mt_test_set_each(f.r, &t);
	int from = mt_test_cluster_owner(&f.c, slot);
	int to = mt_test_other_master(&f.c, from);
	/* Half the keys moved: one MGET of the slot gets TRYAGAIN. */
	mt_test_cluster_migrate_begin(&f.c, slot, to, &g);
	cr_assert_eq(mt_test_cluster_migrate_keys(&f.c, &g, 5), 5);
	long before = tryagains(&f.c, from);
	struct get_call c = {f.r, t.keys, t.n, NULL, -1};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, get_run, &c), 0);
	/* Once the call has met the split slot, hand the slot over: the call
	 * must end DONE, not FAILED with TRYAGAIN. */
	const struct timespec pause = {0, 2000000};
	while (tryagains(&f.c, from) == before)
		nanosleep(&pause, NULL);
	while (mt_test_cluster_migrate_keys(&f.c, &g, 100) > 0)
		;
	mt_test_cluster_migrate_end(&f.c, &g);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(c.rc, 0);
	mt_test_assert_tagged_values(c.b, &t);
	mt_redis_batch_free(c.b);
	mt_test_tagged_free(&t);
	fx_close(&f);
}
