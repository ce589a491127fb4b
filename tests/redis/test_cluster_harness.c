/*
 * tests/redis/test_cluster_harness.c: the cluster harness itself
 * (tests/common/redis_cluster.{h,c}), so the cluster tests can trust it,
 * and the library's cluster parsers (slot.h, slotmap.h, redirect.h)
 * against what a real cluster says: its own CLUSTER KEYSLOT, CLUSTER
 * SLOTS from every node, and the MOVED, ASK, TRYAGAIN and CROSSSLOT
 * replies of a slot migrated step by step.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <mtpool/redis.h>

#include "../common/redis_cluster.h"
#include "../common/redis_util.h"
#include "redirect.h"
#include "slotmap.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A command's reply on node i; the caller frees it. Errors are returned,
 * not asserted: the redirects are what these tests look at. */
static redisReply *on(struct mt_test_cluster *c, int i, const char *fmt, ...)
{
	redisContext *a = mt_test_cluster_admin(c, i);
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(a, fmt, ap);
	va_end(ap);
	cr_assert_not_null(r, "node %d: %s", i, a->errstr);
	redisFree(a);
	return r;
}

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

static void assert_string(redisReply *r, const char *want)
{
	cr_assert_eq(r->type, REDIS_REPLY_STRING, "type %d: %s", r->type,
		     r->type == REDIS_REPLY_ERROR ? r->str : "");
	cr_assert_str_eq(r->str, want);
	freeReplyObject(r);
}

static int other_master(const struct mt_test_cluster *c, int not )
{
	for (int i = 0; i < c->n; i++)
		if (i != not &&c->node[i].master == -1)
			return i;
	cr_assert_fail("no other master");
	return -1;
}

Test(cluster_harness, three_ready_masters_a_key_via_its_owner_and_no_trace,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_cluster c;
	char want[128];

	mt_test_cluster_start(&c, 3, 0);
	cr_assert_eq(c.n, 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(c.node[i].master, -1);
		cr_assert_eq(strlen(c.node[i].id), 40);
		cr_assert_neq(c.node[i].srv.bus_port, c.node[i].srv.port);
	}
	snprintf(want, sizeof want,
		 "redis-cluster://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d",
		 c.node[0].srv.port, c.node[1].srv.port, c.node[2].srv.port);
	cr_assert_str_eq(c.uri, want);
	/* redis-cli splits the slots evenly, in node order. */
	cr_assert_eq(mt_test_cluster_owner(&c, 0), 0);
	cr_assert_eq(mt_test_cluster_owner(&c, 16383), 2);

	/* "{user1000}.following" is in slot 3443. */
	int o = mt_test_cluster_owner(&c, 3443), x = other_master(&c, o);
	freeReplyObject(on(&c, o, "SET {user1000}.following v1"));
	assert_string(on(&c, o, "GET {user1000}.following"), "v1");
	redisReply *r = on(&c, x, "GET {user1000}.following");
	snprintf(want, sizeof want, "MOVED 3443 127.0.0.1:%d",
		 c.node[o].srv.port);
	cr_assert_eq(r->type, REDIS_REPLY_ERROR);
	cr_assert_str_eq(r->str, want);
	freeReplyObject(r);

	pid_t pids[3];
	char dirs[3][128];
	for (int i = 0; i < 3; i++) {
		pids[i] = c.node[i].srv.pid;
		snprintf(dirs[i], sizeof dirs[i], "%s", c.node[i].srv.dir);
	}
	mt_test_cluster_stop(&c);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(kill(pids[i], 0), -1, "node %d still runs", i);
		cr_assert_eq(errno, ESRCH);
		cr_assert_eq(access(dirs[i], F_OK), -1, "%s left", dirs[i]);
	}
}

/* The map that node i's CLUSTER SLOTS gives, parsed by the library. */
static void install_from(struct mt_test_cluster *c, int i,
			 struct mt_redis_slotmap *m)
{
	struct mt_redis_slots s;
	char why[256];
	redisReply *r = on(c, i, "CLUSTER SLOTS");

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
			cr_assert_eq(map_port(m, s), map_port(first, s));
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

/* "foo", "{foo}a" and "{foo}b" share slot 12182. */
static void migration_gives_ask_tryagain_then_moved(struct mt_test_cluster *c)
{
	int o = mt_test_cluster_owner(c, 12182), x = other_master(c, o);
	int oport = c->node[o].srv.port, xport = c->node[x].srv.port;
	struct mt_test_migration g;
	struct mt_redis_redirect rd;

	freeReplyObject(on(c, o, "MSET foo v {foo}a va"));
	rd = redirect_of(on(c, x, "GET foo"));
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_MOVED);
	cr_assert_eq(rd.slot, 12182);
	cr_assert_str_eq(rd.host, "127.0.0.1");
	cr_assert_eq(rd.port, oport);
	rd = redirect_of(on(c, o, "MGET foo bar"));
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_CROSSSLOT);

	mt_test_cluster_migrate_begin(c, 12182, x, &g);
	cr_assert_eq(g.from, o);
	assert_string(on(c, o, "GET foo"), "v"); /* still on the source */
	rd = redirect_of(on(c, o, "GET {foo}missing"));
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_ASK);
	cr_assert_eq(rd.slot, 12182);
	cr_assert_eq(rd.port, xport);

	cr_assert_eq(mt_test_cluster_migrate_keys(c, &g, 1), 1);
	rd = redirect_of(on(c, o, "MGET foo {foo}a"));
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_TRYAGAIN);
	while (mt_test_cluster_migrate_keys(c, &g, 1) > 0)
		;
	cr_assert_eq(g.moved, 2);
	rd = redirect_of(on(c, o, "GET foo"));
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_ASK);
	cr_assert_eq(rd.port, xport);
	/* Without ASKING the importing node sends the client back. */
	rd = redirect_of(on(c, x, "GET foo"));
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_MOVED);
	cr_assert_eq(rd.port, oport);
	redisContext *a = mt_test_cluster_admin(c, x);
	mt_test_redis_ok(a, "ASKING");
	assert_string(mt_test_redis_cmd(a, "GET foo"), "v");
	redisFree(a);

	mt_test_cluster_migrate_end(c, &g);
	rd = redirect_of(on(c, o, "GET foo"));
	cr_assert_eq(rd.kind, MT_REDIS_REDIRECT_MOVED);
	cr_assert_eq(rd.port, xport);
	assert_string(on(c, x, "GET {foo}a"), "va");
	mt_test_cluster_wait_ok(c);
	cr_assert_eq(mt_test_cluster_owner(c, 12182), x);
}

Test(cluster_live, parsers_agree_with_a_real_cluster_through_a_migration,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_cluster c;

	mt_test_cluster_start(&c, 3, 0);
	slot_maps_of_every_node_agree_with_the_cluster(&c);
	key_slots_agree_with_the_server(&c);
	migration_gives_ask_tryagain_then_moved(&c);
	/* The moved slot is in every node's map now. */
	slot_maps_of_every_node_agree_with_the_cluster(&c);
	mt_test_cluster_stop(&c);
}

Test(cluster_harness,
     replica_takes_over_a_killed_master_that_rejoins_as_replica,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct mt_test_cluster c;

	mt_test_cluster_start(&c, 3, 1);
	cr_assert_eq(c.n, 6);
	int replicas = 0;
	for (int i = 0; i < 6; i++)
		if (c.node[i].master >= 0) {
			cr_assert_eq(c.node[c.node[i].master].master, -1);
			replicas++;
		}
	cr_assert_eq(replicas, 3);
	/* Replicas are listed after their master in CLUSTER SLOTS. */
	slot_maps_of_every_node_agree_with_the_cluster(&c);

	int m = mt_test_cluster_owner(&c, 3443);
	redisContext *a = mt_test_cluster_admin(&c, m);
	mt_test_redis_ok(a, "SET {user1000}.following v1");
	cr_assert_eq(mt_test_redis_int(a, "WAIT 1 10000"), 1);
	redisFree(a);

	mt_test_cluster_kill(&c, m);
	int r = mt_test_cluster_wait_failover(&c, m);
	cr_assert_neq(r, m);
	cr_assert_eq(mt_test_cluster_owner(&c, 3443), r);
	assert_string(on(&c, r, "GET {user1000}.following"), "v1");

	mt_test_cluster_restart(&c, m);
	mt_test_cluster_wait_ok(&c);
	cr_assert_eq(c.node[m].master, r, "the old master follows %d",
		     c.node[m].master);
	mt_test_cluster_stop(&c);
}
