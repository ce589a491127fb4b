/*
 * tests/redis/test_faults.c: faults made for real against a real server,
 * during bulk calls: connections killed (CLIENT KILL TYPE normal), the
 * server stalled past the command timeout (CLIENT PAUSE, DEBUG SLEEP),
 * the server killed mid-bulk and restarted, a dead server.
 *
 * Determinism: "mid-bulk" is made by the bulk itself. One item of the
 * call is a BLPOP on a key nobody pushes to, so the share that reaches it
 * blocks there with the items behind it already written (two windows in
 * flight); the test thread polls INFO's blocked_clients until it is 1
 * and only then injects the fault. So the fault always lands with that
 * share's connection mid-pipeline, whatever the machine's load, and the
 * assertions are invariants that hold wherever exactly the others were:
 *   - every item has exactly one outcome (done + failed + unknown = n);
 *   - every DONE item's write is really in Redis;
 *   - every FAILED "not sent" item's write is really not in Redis;
 *   - the BLPOP item, in flight when the connection died and not
 *     idempotent, is UNKNOWN (never replayed);
 *   - with retries on, the idempotent items written behind it were
 *     replayed (stats.retries > 0); with retries off, none was.
 * A stall is made by the call too: its first item is DEBUG SLEEP (or the
 * server is paused before the call), and that the call returned within
 * the stall is shown by the server still stalling when it returned (a
 * PING with a short timeout times out), not by reading a clock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <mtpool/redis.h>

#include "../common/mt_test.h"
#include "../common/redis_server.h"
#include "../common/redis_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N (MT_TEST_SANITIZED ? 4000u : 20000u)
#define WINDOW 64u

/* n items "SET fk:<i> v<i>" (idempotent), except item `gate`, which is
 * "BLPOP gate 0" (not idempotent: it blocks until the fault). */
struct items {
	size_t n, gate;
	char (*key)[24], (*val)[24];
	mt_redis_bytes (*argv)[3];
	mt_redis_cmd *cmds;
	mt_redis_item *items;
};

static void items_make(struct items *it, size_t n, size_t gate)
{
	it->n = n;
	it->gate = gate;
	it->key = calloc(n, sizeof *it->key);
	it->val = calloc(n, sizeof *it->val);
	it->argv = calloc(n, sizeof *it->argv);
	it->cmds = calloc(n, sizeof *it->cmds);
	it->items = calloc(n, sizeof *it->items);
	cr_assert(it->key && it->val && it->argv && it->cmds && it->items);
	for (size_t i = 0; i < n; i++) {
		snprintf(it->key[i], sizeof it->key[i], "fk:%zu", i);
		snprintf(it->val[i], sizeof it->val[i], "v%zu", i);
		int blpop = i == gate;
		it->argv[i][0] = mt_test_str(blpop ? "BLPOP" : "SET");
		it->argv[i][1] = mt_test_str(blpop ? "gate" : it->key[i]);
		it->argv[i][2] = mt_test_str(blpop ? "0" : it->val[i]);
		it->cmds[i] = (mt_redis_cmd){3, it->argv[i]};
		it->items[i] = (mt_redis_item){
			&it->cmds[i], 1, blpop ? 0 : MT_REDIS_IDEMPOTENT, {0}};
	}
}

static void items_free(struct items *it)
{
	free(it->key);
	free(it->val);
	free(it->argv);
	free(it->cmds);
	free(it->items);
}

/* A bulk call on its own thread, so the test thread can inject. */
struct call {
	pthread_t tid;
	mt_redis *r;
	const struct items *it;
	int rc;
	mt_redis_batch *b;
};

static void *call_main(void *arg)
{
	struct call *c = arg;
	c->rc = mt_redis_exec(c->r, c->it->items, c->it->n, &c->b);
	return NULL;
}

static void call_start(struct call *c, mt_redis *r, const struct items *it)
{
	*c = (struct call){.r = r, .it = it};
	cr_assert_eq(pthread_create(&c->tid, NULL, call_main, c), 0);
}

static mt_redis_batch *call_join(struct call *c)
{
	cr_assert_eq(pthread_join(c->tid, NULL), 0);
	cr_assert_eq(c->rc, 0);
	cr_assert_not_null(c->b);
	return c->b;
}

static void pause_ms(long ms)
{
	struct timespec t = {.tv_sec = ms / 1000,
			     .tv_nsec = (ms % 1000) * 1000000};
	nanosleep(&t, NULL);
}

/* The gate: the share that reached the BLPOP is blocked in the server. */
static void wait_blocked(redisContext *adm)
{
	while (mt_test_redis_info(adm, "blocked_clients") < 1)
		pause_ms(1);
}

/* The invariants of the file comment, against the server's contents
 * (read back with one pipelined GET per item on the admin connection). */
static void check_outcomes(redisContext *adm, const struct items *it,
			   const mt_redis_batch *b)
{
	cr_assert_eq(b->n, it->n);
	cr_assert_eq(b->done + b->failed + b->unknown, it->n);
	for (size_t i = 0; i < it->n; i++)
		redisAppendCommand(adm, "GET %s", it->key[i]);
	size_t done = 0, failed = 0, unknown = 0;
	for (size_t i = 0; i < it->n; i++) {
		redisReply *g;
		cr_assert_eq(redisGetReply(adm, (void **)&g), REDIS_OK);
		const mt_redis_result *res = &b->results[i];
		if (i == it->gate) {
			cr_assert_eq(res->status, MT_REDIS_UNKNOWN,
				     "the BLPOP item is %d", res->status);
		} else if (res->status == MT_REDIS_DONE) {
			cr_assert_eq(g->type, REDIS_REPLY_STRING,
				     "item %zu DONE but not in Redis", i);
			cr_assert_str_eq(g->str, it->val[i]);
		} else if (res->status == MT_REDIS_FAILED) {
			cr_assert_eq(strncmp(res->error, "not sent", 8), 0,
				     "item %zu: %s", i, res->error);
			cr_assert_eq(g->type, REDIS_REPLY_NIL,
				     "item %zu 'not sent' but in Redis", i);
		}
		if (res->status != MT_REDIS_DONE)
			cr_assert_not_null(res->error, "item %zu", i);
		done += res->status == MT_REDIS_DONE;
		failed += res->status == MT_REDIS_FAILED;
		unknown += res->status == MT_REDIS_UNKNOWN;
		freeReplyObject(g);
	}
	cr_assert_eq(done, b->done);
	cr_assert_eq(failed, b->failed);
	cr_assert_eq(unknown, b->unknown);
}

struct fx {
	struct mt_test_redis srv;
	mt_pool *pool;
	mt_redis *r;
	redisContext *adm;
};

static void fx_open(struct fx *f, unsigned flags, unsigned timeout_ms)
{
	mt_test_redis_start(&f->srv, NULL);
	f->pool = mt_test_pool(2);
	mt_redis_options o = {.pool = f->pool,
			      .window = WINDOW,
			      .command_timeout_ms = timeout_ms,
			      .connect_timeout_ms = 1000,
			      .flags = flags};
	f->r = mt_test_client(f->srv.tcp_uri, &o);
	f->adm = mt_test_redis_admin(&f->srv);
}

static void fx_close(struct fx *f)
{
	cr_assert_eq(mt_redis_close(f->r), 0);
	cr_assert_eq(mt_pool_destroy(f->pool, MT_DRAIN), 0);
	redisFree(f->adm);
	mt_test_redis_stop(&f->srv);
}

/* --------------------------------------------------- CLIENT KILL */

Test(client_kill, mid_bulk_done_items_are_in_redis_and_idempotent_ones_retried,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, 5000);
	struct items it;
	items_make(&it, N, N / 3);
	struct call c;
	call_start(&c, f.r, &it);
	wait_blocked(f.adm);
	cr_assert_geq(mt_test_redis_int(f.adm, "CLIENT KILL TYPE normal"), 1);
	mt_redis_batch *b = call_join(&c);
	check_outcomes(f.adm, &it, b);
	/* The items written behind the BLPOP were in flight and are
	 * idempotent: replayed on a new connection, and DONE. */
	mt_redis_stats s = mt_test_client_stats(f.r);
	cr_assert_gt(s.retries, 0);
	cr_assert_geq(s.connection_errors, 1);
	cr_assert_eq(b->results[it.gate + 1].status, MT_REDIS_DONE);
	cr_assert_gt(b->done, 0);
	mt_redis_batch_free(b);
	items_free(&it);
	fx_close(&f);
}

Test(client_kill, with_retries_off_in_flight_items_are_unknown_never_replayed,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, MT_REDIS_NO_RETRY, 5000);
	struct items it;
	items_make(&it, N, N / 3);
	struct call c;
	call_start(&c, f.r, &it);
	wait_blocked(f.adm);
	cr_assert_geq(mt_test_redis_int(f.adm, "CLIENT KILL TYPE normal"), 1);
	mt_redis_batch *b = call_join(&c);
	check_outcomes(f.adm, &it, b);
	mt_redis_stats s = mt_test_client_stats(f.r);
	cr_assert_eq(s.retries, 0);
	/* The item written right behind the BLPOP was in flight too. */
	cr_assert_eq(b->results[it.gate + 1].status, MT_REDIS_UNKNOWN);
	cr_assert_gt(b->unknown, 1);
	/* Items of that share not yet written (at most two windows were
	 * in flight) went on, on a new connection. */
	cr_assert_eq(b->results[it.gate + 2 * WINDOW + 1].status,
		     MT_REDIS_DONE);
	mt_redis_batch_free(b);
	items_free(&it);
	fx_close(&f);
}

/* ------------------------------------------------------- stalls */

/* A PING that must time out: the server is still stalled. */
static void assert_still_stalled(const struct mt_test_redis *srv)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", srv->port, tv);
	cr_assert(c && !c->err);
	redisSetTimeout(c, tv);
	redisReply *r = redisCommand(c, "PING");
	cr_assert_null(r, "the server answered: the call outlived the stall");
	redisFree(c);
}

/* The next call works once the stall is over. */
static void assert_works_again(mt_redis *r)
{
	mt_redis_bytes k = mt_test_str("after"), v = mt_test_str("stall");
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_set(r, &k, &v, 1, NULL, &b), 0);
	cr_assert_eq(b->done, 1, "%s", b->results[0].error);
	mt_redis_batch_free(b);
}

Test(stall, client_pause_past_the_timeout_returns_with_items_unknown_or_failed,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, 200);
	struct items it;
	items_make(&it, N, (size_t)-1);
	/* Every command of every client waits 3 s from now. */
	mt_test_redis_ok(f.adm, "CLIENT PAUSE 3000 ALL");
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_exec(f.r, it.items, it.n, &b), 0);
	assert_still_stalled(&f.srv);
	cr_assert_eq(b->done, 0);
	cr_assert_eq(b->failed + b->unknown, it.n);
	cr_assert_gt(b->unknown, 0);
	for (size_t i = 0; i < it.n; i++)
		cr_assert(strstr(b->results[i].error, "timed out") ||
				  strstr(b->results[i].error, "not sent"),
			  "item %zu: %s", i, b->results[i].error);
	mt_redis_batch_free(b);
	/* The admin's PING is answered once the pause is over. */
	mt_test_redis_ok(f.adm, "PING");
	assert_works_again(f.r);
	items_free(&it);
	fx_close(&f);
}

Test(stall, debug_sleep_in_the_call_returns_before_the_server_wakes,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, 200);
	struct items it;
	items_make(&it, N, (size_t)-1);
	/* Item 0 stalls the whole server for 3 s. */
	it.argv[0][0] = mt_test_str("DEBUG");
	it.argv[0][1] = mt_test_str("SLEEP");
	it.argv[0][2] = mt_test_str("3");
	it.items[0].flags = 0;
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_exec(f.r, it.items, it.n, &b), 0);
	assert_still_stalled(&f.srv);
	cr_assert_eq(b->results[0].status, MT_REDIS_UNKNOWN);
	cr_assert_lt(b->done, it.n);
	cr_assert_eq(b->done + b->failed + b->unknown, it.n);
	mt_redis_batch_free(b);
	mt_test_redis_ok(f.adm, "PING");
	assert_works_again(f.r);
	items_free(&it);
	fx_close(&f);
}

/* ------------------------------------------- killed and restarted */

Test(restart, server_killed_mid_bulk_then_restarted_next_call_works,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, 2000);
	struct items it;
	items_make(&it, N, N / 3);
	struct call c;
	call_start(&c, f.r, &it);
	wait_blocked(f.adm);
	redisFree(f.adm);
	mt_test_redis_kill(&f.srv);
	mt_redis_batch *b = call_join(&c);
	cr_assert_eq(b->done + b->failed + b->unknown, it.n);
	cr_assert_eq(b->results[it.gate].status, MT_REDIS_UNKNOWN);
	/* The items of that share not yet written at the kill (at most two
	 * windows were in flight) were never sent: the reconnect was
	 * refused. */
	const mt_redis_result *late = &b->results[it.gate + 2 * WINDOW + 1];
	cr_assert_eq(late->status, MT_REDIS_FAILED);
	cr_assert(strstr(late->error, "not sent"), "%s", late->error);
	mt_redis_batch_free(b);

	mt_test_redis_restart(&f.srv);
	f.adm = mt_test_redis_admin(&f.srv);
	/* Not even a non-idempotent call is harmed by the connections
	 * cached before the restart: they are found dead before use. */
	mt_redis_bytes ch = mt_test_str("ch"), msg = mt_test_str("m");
	cr_assert_eq(mt_redis_publish(f.r, &ch, &msg, 1, &b), 0);
	cr_assert_eq(b->done, 1, "%s", b->results[0].error);
	mt_redis_batch_free(b);
	it.items[it.gate] = it.items[0];
	cr_assert_eq(mt_redis_exec(f.r, it.items, it.n, &b), 0);
	cr_assert_eq(b->done, it.n);
	mt_redis_batch_free(b);
	items_free(&it);
	fx_close(&f);
}

static void *ping(redisContext *c, void *param, void *ctx)
{
	(void)param;
	(void)ctx;
	return redisCommand(c, "PING");
}

Test(dead, every_call_on_a_dead_server_returns_with_items_not_sent,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, 2000);
	redisFree(f.adm);
	mt_test_redis_kill(&f.srv);
	struct mt_test_kv kv;
	mt_test_kv_make(&kv, "dead", 3000, 8);
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_set(f.r, kv.keys, kv.values, kv.n, NULL, &b), 0);
	cr_assert_eq(b->failed, kv.n);
	for (size_t i = 0; i < kv.n; i++)
		cr_assert(strstr(b->results[i].error, "not sent") &&
				  strstr(b->results[i].error, "refused"),
			  "%s", b->results[i].error);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_redis_get(f.r, kv.keys, kv.n, &b), 0);
	cr_assert_eq(b->failed, kv.n);
	mt_redis_batch_free(b);
	void *p = NULL, *res = &p;
	size_t not_run = 0;
	cr_assert_eq(mt_redis_map(f.r, ping, &p, &res, 1, NULL, &not_run),
		     ECONNREFUSED);
	cr_assert_eq(not_run, 1);
	cr_assert_null(res);
	mt_test_kv_free(&kv);
	cr_assert_eq(mt_redis_close(f.r), 0);
	cr_assert_eq(mt_pool_destroy(f.pool, MT_DRAIN), 0);
	mt_test_redis_stop(&f.srv);
}
