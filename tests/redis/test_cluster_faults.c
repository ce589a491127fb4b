/*
 * tests/redis/test_cluster_faults.c: the cluster client through the
 * faults that disturb a whole cluster, each on a cluster of its own, made
 * for real:
 *   - a master killed while its connection is held mid-pipeline (a BLPOP
 *     gate), its replica promoted, the call completing on it;
 *   - a master that stays down, then comes back;
 *   - a node removed from the cluster that still answers (stale maps);
 * and the cluster harness itself (tests/common/redis_cluster.{h,c}): a
 * cluster that starts ready, routes a key to its owner, and leaves no
 * process or folder behind (its kill, restart, failover, add and remove
 * are checked by the tests above, which look at the cluster after each).
 * Faults local to one slot (migrations, masters that disagree about a
 * slot) run on the shared cluster of test_cluster.c. Every test checks
 * what the masters really hold afterwards.
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

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct fx {
	struct mt_test_cluster c;
	mt_pool *pool;
	mt_redis *r;
};

static void fx_client(struct fx *f, const mt_redis_options *o)
{
	mt_redis_options opts = o ? *o : (mt_redis_options){0};
	f->pool = mt_test_pool(3);
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

/* --------------------------------------------------------- failover */

struct exec_call {
	mt_redis *r;
	const mt_redis_item *items;
	size_t n;
	mt_redis_batch *b;
	int rc;
};

static void *exec_run(void *arg)
{
	struct exec_call *e = arg;
	e->rc = mt_redis_exec(e->r, e->items, e->n, &e->b);
	return NULL;
}

/* Polls node i until `field` of INFO reaches `want` (bounded by the
 * test's timeout). */
static void wait_info(struct mt_test_cluster *c, int i, const char *field,
		      long long want)
{
	const struct timespec pause = {0, 2000000};
	redisContext *a = mt_test_cluster_admin(c, i);
	while (mt_test_redis_info(a, field) < want)
		nanosleep(&pause, NULL);
	redisFree(a);
}

Test(cluster_faults, master_killed_mid_pipeline_fails_over_and_the_call_ends,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	enum {
		N = 40
	};
	struct fx f;
	struct mt_test_tagged on_m, elsewhere;
	mt_redis_options o = {.command_timeout_ms = 20000};
	mt_redis_bytes blpop[] = {B("BLPOP"), B("{gate}q"), B("0")};
	mt_redis_bytes incr[] = {B("INCR"), B("{gate}ctr")};
	mt_redis_bytes set[2 * N][3];
	mt_redis_cmd cb = {3, blpop}, ci = {2, incr}, cs[2 * N];
	mt_redis_item items[2 + 2 * N];

	mt_test_cluster_start(&f.c, 3, 0);
	int m = mt_test_cluster_owner(&f.c, mt_redis_key_slot(B("gate")));
	/* One replica, for the master that will die: a cluster created with
	 * a replica for every master takes three times as long to start. */
	mt_test_cluster_add_replica(&f.c, m);
	fx_client(&f, &o);
	mt_test_tagged_make(&on_m, "gate", "k", N);
	/* A tag that another master serves. */
	char tag[16];
	for (int i = 0;; i++) {
		snprintf(tag, sizeof tag, "else%d", i);
		if (mt_test_cluster_owner(&f.c, mt_redis_key_slot(B(tag))) != m)
			break;
	}
	mt_test_tagged_make(&elsewhere, tag, "k", N);
	/* The BLPOP holds m's connection: everything behind it in the
	 * pipeline is sent but not run when m dies. */
	items[0] = (mt_redis_item){&cb, 1, 0, {0}};
	items[1] = (mt_redis_item){&ci, 1, 0, {0}};
	for (size_t i = 0; i < 2 * N; i++) {
		const struct mt_test_tagged *t = i < N ? &on_m : &elsewhere;
		set[i][0] = B("SET");
		set[i][1] = t->keys[i % N];
		set[i][2] = t->vals[i % N];
		cs[i] = (mt_redis_cmd){3, set[i]};
		items[2 + i] =
			(mt_redis_item){&cs[i], 1, MT_REDIS_IDEMPOTENT, {0}};
	}
	struct exec_call e = {f.r, items, 2 + 2 * N, NULL, -1};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, exec_run, &e), 0);
	wait_info(&f.c, m, "blocked_clients", 1);
	mt_test_cluster_kill(&f.c, m);
	int r = mt_test_cluster_wait_failover(&f.c, m);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(e.rc, 0);

	/* Sent to the dead master, not idempotent: UNKNOWN, never replayed.
	 * Idempotent ones were replayed on the promoted replica. */
	cr_assert_eq(e.b->results[0].status, MT_REDIS_UNKNOWN);
	cr_assert_eq(e.b->results[1].status, MT_REDIS_UNKNOWN);
	for (size_t i = 2; i < e.b->n; i++)
		cr_assert_eq(e.b->results[i].status, MT_REDIS_DONE,
			     "item %zu: %s", i, e.b->results[i].error);
	mt_redis_batch_free(e.b);
	cr_assert_eq(mt_test_cluster_owner(&f.c, mt_redis_key_slot(B("gate"))),
		     r);
	cr_assert_eq(mt_test_held_by(&f.c, r, &on_m), N);
	mt_redis_batch *b = mt_test_get_each(f.r, &on_m);
	mt_test_assert_tagged_values(b, &on_m);
	mt_redis_batch_free(b);
	mt_test_tagged_free(&on_m);
	mt_test_tagged_free(&elsewhere);
	fx_close(&f);
}

/* ------------------------------------------------- a master stays down */

Test(cluster_faults, master_that_stays_down_fails_only_its_own_items,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	static struct mt_test_slot_keys sk;
	static const char *const partial[] = {"--cluster-require-full-coverage",
					      "no", NULL};
	struct fx f;
	mt_redis_options o = {.command_timeout_ms = 1000,
			      .connect_timeout_ms = 1000};
	mt_redis_batch *b;

	mt_test_cluster_start_args(&f.c, 3, 0, partial);
	fx_client(&f, &o);
	mt_test_slot_keys_make(&sk, "down");
	mt_redis_bytes *k = sk.keys;
	int m = mt_test_cluster_owner(&f.c, 0);
	size_t mine = 0;
	for (unsigned s = 0; s < 16384; s++)
		mine += mt_test_cluster_owner(&f.c, s) == m ? 1 : 0;
	mt_test_cluster_kill(&f.c, m);

	cr_assert_eq(mt_redis_set(f.r, k, k, 16384, NULL, &b), 0);
	cr_assert_eq(b->failed + b->unknown, mine);
	cr_assert_eq(b->done, 16384 - mine);
	cr_assert_eq(b->results[0].status, MT_REDIS_FAILED);
	cr_assert(strncmp(b->results[0].error, "not sent: ", 10) == 0, "%s",
		  b->results[0].error);
	mt_redis_batch_free(b);

	/* Back on its port with its nodes.conf: the next call works. */
	mt_test_cluster_restart(&f.c, m);
	mt_test_cluster_wait_ok(&f.c);
	cr_assert_eq(mt_redis_set(f.r, k, k, 16384, NULL, &b), 0);
	mt_test_assert_all_done(b, 16384);
	mt_redis_batch_free(b);
	fx_close(&f);
}

/* ------------------------------------------------------ a removed node */

Test(cluster_faults, removed_node_that_still_answers_is_not_trusted,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_tagged t;
	unsigned slot = mt_redis_key_slot(B("rm"));

	mt_test_cluster_start(&f.c, 3, 0);
	int d = mt_test_cluster_add_master(&f.c);
	fx_client(&f, NULL);
	mt_test_tagged_make(&t, "rm", "k", 20);
	int a = mt_test_cluster_owner(&f.c, slot);
	mt_test_set_each(f.r, &t);

	/* The slot moves to d, and the client learns it (MOVED, refresh). */
	mt_test_cluster_migrate(&f.c, slot, d, NULL, NULL);
	mt_redis_batch *b = mt_test_get_each(f.r, &t);
	mt_test_assert_tagged_values(b, &t);
	mt_redis_batch_free(b);
	cr_assert_gt(mt_test_redirects(f.r), 0);

	/* Without the client knowing: the slot goes back, d is removed and
	 * reset, but keeps answering (CLUSTERDOWN, an empty CLUSTER SLOTS). */
	mt_test_cluster_migrate(&f.c, slot, a, NULL, NULL);
	mt_test_cluster_remove(&f.c, d);
	b = mt_test_get_each(f.r, &t);
	mt_test_assert_tagged_values(b, &t);
	mt_redis_batch_free(b);
	uint64_t r0 = mt_test_redirects(f.r);
	b = mt_test_get_each(f.r, &t);
	mt_test_assert_tagged_values(b, &t);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_test_redirects(f.r), r0,
		     "the map still sends items to d");
	mt_test_tagged_free(&t);
	fx_close(&f);
}

/* ------------------------------------------------- the harness itself */

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
	int o = mt_test_cluster_owner(&c, 3443),
	    x = mt_test_other_master(&c, o);
	freeReplyObject(
		mt_test_cluster_cmd(&c, o, "SET {user1000}.following v1"));
	mt_test_assert_string_reply(
		mt_test_cluster_cmd(&c, o, "GET {user1000}.following"), "v1");
	redisReply *r = mt_test_cluster_cmd(&c, x, "GET {user1000}.following");
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
