/*
 * tests/redis/test_ops.c: every bulk operation against a real server,
 * checked against what the server really holds (read back on a separate
 * admin connection, not only through the library).
 *
 * Order: each operation simple -> ordering at window boundaries -> binary
 * and large values -> server errors (WRONGTYPE, MULTI/EXEC) -> bad input
 * (NULL, empty) -> the map and calls from inside the pool.
 *
 * Windows and chunks are made small (window 8 commands, 3 keys a chunk)
 * so that sizes around a window and across many shares stay small enough
 * for the sanitizer builds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <mtpool/redis.h>

#include "../common/mt_test.h"
#include "../common/redis_server.h"
#include "../common/redis_util.h"

#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 8u
#define CHUNK 3u
#define LARGE (MT_TEST_SANITIZED ? 3000u : 20000u)

struct fx {
	struct mt_test_redis srv;
	mt_pool *pool;
	mt_redis *r;
	redisContext *adm;
};

static void fx_open(struct fx *f, int use_unix, const mt_redis_options *o)
{
	mt_test_redis_start(&f->srv, NULL);
	f->pool = mt_test_pool(3);
	mt_redis_options opts = o ? *o : (mt_redis_options){0};
	opts.pool = f->pool;
	if (!o) {
		opts.window = WINDOW;
		opts.chunk_keys = CHUNK;
	}
	f->r = mt_test_client(use_unix ? f->srv.unix_uri : f->srv.tcp_uri,
			      &opts);
	f->adm = mt_test_redis_admin(&f->srv);
}

static void fx_close(struct fx *f)
{
	cr_assert_eq(mt_redis_close(f->r), 0);
	cr_assert_eq(mt_pool_destroy(f->pool, MT_DRAIN), 0);
	redisFree(f->adm);
	mt_test_redis_stop(&f->srv);
}

/* GET of one binary key over the admin connection. */
static redisReply *adm_get(redisContext *adm, mt_redis_bytes key)
{
	redisReply *r = redisCommand(adm, "GET %b", key.data, key.len);
	cr_assert_not_null(r);
	return r;
}

/* ---------------------------------------------------------- SET / GET */

/* SET n keys, then check them on the server and through GET, in order. */
static void round_trip(struct fx *f, size_t n, size_t vlen)
{
	struct mt_test_kv kv;
	mt_test_kv_make(&kv, "rt", n, vlen);
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_set(f->r, kv.keys, kv.values, n, NULL, &b), 0);
	mt_test_assert_counts_all_done(b, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(b->results[i].reply->type, REDIS_REPLY_STATUS);
		cr_assert_eq(b->results[i].nreplies, 1);
	}
	mt_redis_batch_free(b);
	/* The server holds exactly these values (a sample when large). */
	for (size_t i = 0; i<n; i += n> 100 ? 37 : 1) {
		redisReply *g = adm_get(f->adm, kv.keys[i]);
		mt_test_assert_bytes(g, kv.values[i], i);
		freeReplyObject(g);
	}
	cr_assert_eq(mt_redis_get(f->r, kv.keys, n, &b), 0);
	mt_test_assert_counts_all_done(b, n);
	for (size_t i = 0; i < n; i++)
		mt_test_assert_bytes(b->results[i].reply, kv.values[i], i);
	mt_redis_batch_free(b);
	mt_test_kv_free(&kv);
}

Test(set_get, round_trip_binary_keys_in_input_order_around_the_window,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	/* Items are chunks of CHUNK keys, and a window holds WINDOW keys:
	 * sizes around one and two windows (two are in flight), one key,
	 * none, and many shares. */
	const size_t sizes[] = {0,	    1,
				WINDOW - 1, WINDOW,
				WINDOW + 1, 2 * WINDOW - 1,
				2 * WINDOW, 2 * WINDOW + 1,
				LARGE};
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		mt_test_redis_ok(f.adm, "FLUSHALL");
		round_trip(&f, sizes[s], 40);
		cr_assert_eq(mt_test_redis_int(f.adm, "DBSIZE"),
			     (long long)sizes[s]);
	}
	fx_close(&f);
}

Test(set_get, round_trip_over_the_unix_socket_with_default_options,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	mt_redis_options o = {0};
	fx_open(&f, 1, &o);
	round_trip(&f, LARGE, 64);
	fx_close(&f);
}

Test(set_get, value_larger_than_the_window_round_trips,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	mt_redis_options o = {.window = 2, .chunk_keys = 1};
	fx_open(&f, 0, &o);
	/* 4 MiB values, two windows of them in flight, and small ones
	 * around them so the stream must stay in step after each. */
	round_trip(&f, 5, 4u << 20);
	round_trip(&f, 50, 10);
	fx_close(&f);
}

Test(set_get, get_of_missing_or_non_string_key_is_nil,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	mt_test_redis_ok(f.adm, "HSET h f v");
	mt_test_redis_ok(f.adm, "SET s v");
	mt_redis_bytes keys[] = {mt_test_str("missing"), mt_test_str("h"),
				 mt_test_str("s")};
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_get(f.r, keys, 3, &b), 0);
	mt_test_assert_counts_all_done(b, 3);
	cr_assert_eq(b->results[0].reply->type, REDIS_REPLY_NIL);
	cr_assert_eq(b->results[1].reply->type, REDIS_REPLY_NIL);
	mt_test_assert_bytes(b->results[2].reply, mt_test_str("v"), 2);
	mt_redis_batch_free(b);
	fx_close(&f);
}

Test(set_get, set_with_ttl_nx_and_xx, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	mt_test_redis_ok(f.adm, "SET old before");
	mt_redis_bytes keys[] = {mt_test_str("old"), mt_test_str("new")};
	mt_redis_bytes vals[] = {mt_test_str("x"), mt_test_str("y")};
	mt_redis_batch *b;

	mt_redis_set_options nx = {.mode = MT_REDIS_SET_NX};
	cr_assert_eq(mt_redis_set(f.r, keys, vals, 2, &nx, &b), 0);
	mt_test_assert_counts_all_done(b, 2);
	cr_assert_eq(b->results[0].reply->type, REDIS_REPLY_NIL);
	cr_assert_eq(b->results[1].reply->type, REDIS_REPLY_STATUS);
	mt_redis_batch_free(b);
	redisReply *g = adm_get(f.adm, keys[0]);
	mt_test_assert_bytes(g, mt_test_str("before"), 0);
	freeReplyObject(g);

	mt_redis_bytes gone[] = {mt_test_str("absent")};
	mt_redis_set_options xx = {.mode = MT_REDIS_SET_XX};
	cr_assert_eq(mt_redis_set(f.r, gone, vals, 1, &xx, &b), 0);
	mt_test_assert_counts_all_done(b, 1);
	cr_assert_eq(b->results[0].reply->type, REDIS_REPLY_NIL);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_test_redis_int(f.adm, "EXISTS absent"), 0);

	mt_redis_set_options ttl = {.ttl_ms = 100000};
	cr_assert_eq(mt_redis_set(f.r, keys, vals, 2, &ttl, &b), 0);
	mt_test_assert_counts_all_done(b, 2);
	mt_redis_batch_free(b);
	for (int i = 0; i < 2; i++) {
		long long pttl = mt_test_redis_int(f.adm, "PTTL %b",
						   keys[i].data, keys[i].len);
		cr_assert(pttl > 0 && pttl <= 100000, "PTTL %lld", pttl);
	}
	fx_close(&f);
}

Test(del, removes_keys_and_reports_the_chunk_count,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	struct mt_test_kv kv;
	mt_test_kv_make(&kv, "del", 10, 5);
	mt_redis_batch *b;
	/* Only the even keys exist. */
	for (size_t i = 0; i < 10; i += 2)
		mt_test_redis_ok(f.adm, "SET %b v", kv.keys[i].data,
				 kv.keys[i].len);
	cr_assert_eq(mt_redis_del(f.r, kv.keys, 10, &b), 0);
	mt_test_assert_counts_all_done(b, 10);
	long long total = 0;
	for (size_t i = 0; i < 10; i++) {
		cr_assert_eq(b->results[i].reply->type, REDIS_REPLY_INTEGER);
		/* Count each chunk's reply once, at its first key. */
		if (i % CHUNK == 0)
			total += b->results[i].reply->integer;
		else
			cr_assert_eq(b->results[i].reply,
				     b->results[i - 1].reply);
	}
	cr_assert_eq(total, 5);
	cr_assert_eq(mt_test_redis_int(f.adm, "DBSIZE"), 0);
	mt_redis_batch_free(b);
	mt_test_kv_free(&kv);
	fx_close(&f);
}

/* ------------------------------------------------------------ PUBLISH */

Test(publish, messages_arrive_in_order_with_binary_payloads,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	redisContext *sub = mt_test_redis_admin(&f.srv);
	redisReply *s = mt_test_redis_cmd(sub, "SUBSCRIBE ch\r\n");
	freeReplyObject(s);
	size_t n = 200;
	struct mt_test_kv kv;
	mt_test_kv_make(&kv, "msg", n, 30);
	mt_redis_bytes *chans = calloc(n, sizeof *chans);
	for (size_t i = 0; i < n; i++)
		chans[i] = mt_test_str("ch\r\n");
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_publish(f.r, chans, kv.values, n, &b), 0);
	mt_test_assert_counts_all_done(b, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(b->results[i].reply->integer, 1);
	mt_redis_batch_free(b);
	/* Shares run in parallel, so arrival order across shares is not
	 * promised; each message must arrive exactly once. */
	unsigned char *seen = calloc(n, 1);
	for (size_t k = 0; k < n; k++) {
		redisReply *m;
		cr_assert_eq(redisGetReply(sub, (void **)&m), REDIS_OK);
		cr_assert_eq(m->elements, 3);
		const redisReply *p = m->element[2];
		size_t i = 0;
		while (i < n && !(p->len == kv.values[i].len &&
				  !memcmp(p->str, kv.values[i].data, p->len)))
			i++;
		cr_assert_lt(i, n, "message %zu matches no value", k);
		cr_assert_eq(seen[i]++, 0, "message %zu arrived twice", i);
		freeReplyObject(m);
	}
	free(seen);
	free(chans);
	mt_test_kv_free(&kv);
	redisFree(sub);
	fx_close(&f);
}

/* --------------------------------------------------------------- exec */

Test(exec, multi_command_items_keep_every_reply_in_order,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	size_t n = 3 * WINDOW + 1;
	char(*keys)[16] = calloc(n, sizeof *keys);
	mt_redis_bytes(*incr)[3] = calloc(n, sizeof *incr);
	mt_redis_bytes(*get)[2] = calloc(n, sizeof *get);
	mt_redis_cmd(*cmds)[2] = calloc(n, sizeof *cmds);
	mt_redis_item *items = calloc(n, sizeof *items);
	for (size_t i = 0; i < n; i++) {
		/* INCRBY ctr:<i> <i>; GET ctr:<i> */
		snprintf(keys[i], sizeof keys[i], "ctr:%zu", i);
		incr[i][0] = mt_test_str("INCRBY");
		incr[i][1] = mt_test_str(keys[i]);
		incr[i][2] = mt_test_str(keys[i] + 4);
		get[i][0] = mt_test_str("GET");
		get[i][1] = mt_test_str(keys[i]);
		cmds[i][0] = (mt_redis_cmd){3, incr[i]};
		cmds[i][1] = (mt_redis_cmd){2, get[i]};
		items[i] = (mt_redis_item){cmds[i], 2, 0, {0}};
	}
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_exec(f.r, items, n, &b), 0);
	mt_test_assert_counts_all_done(b, n);
	for (size_t i = 0; i < n; i++) {
		const mt_redis_result *res = &b->results[i];
		cr_assert_eq(res->nreplies, 2);
		cr_assert_eq(res->replies[0]->type, REDIS_REPLY_INTEGER);
		cr_assert_eq(res->replies[0]->integer, (long long)i);
		cr_assert_eq(res->reply, res->replies[1]);
		mt_test_assert_bytes(res->reply, mt_test_str(keys[i] + 4), i);
	}
	mt_redis_batch_free(b);
	free(items);
	free(cmds);
	free(get);
	free(incr);
	free(keys);
	fx_close(&f);
}

/* One-command items "GET k<i>" for i < n, input order checked. */
Test(exec, single_command_results_in_input_order_around_the_window,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	const size_t sizes[] = {1, WINDOW - 1, WINDOW, WINDOW + 1, LARGE};
	struct mt_test_kv kv;
	mt_test_kv_make(&kv, "ex", LARGE, 12);
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_set(f.r, kv.keys, kv.values, LARGE, NULL, &b), 0);
	mt_test_assert_counts_all_done(b, LARGE);
	mt_redis_batch_free(b);
	mt_redis_bytes(*argv)[2] = calloc(LARGE, sizeof *argv);
	mt_redis_cmd *cmds = calloc(LARGE, sizeof *cmds);
	mt_redis_item *items = calloc(LARGE, sizeof *items);
	for (size_t i = 0; i < LARGE; i++) {
		argv[i][0] = mt_test_str("GET");
		argv[i][1] = kv.keys[i];
		cmds[i] = (mt_redis_cmd){2, argv[i]};
		items[i] =
			(mt_redis_item){&cmds[i], 1, MT_REDIS_IDEMPOTENT, {0}};
	}
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		cr_assert_eq(mt_redis_exec(f.r, items, sizes[s], &b), 0);
		mt_test_assert_counts_all_done(b, sizes[s]);
		for (size_t i = 0; i < sizes[s]; i++) {
			mt_test_assert_bytes(b->results[i].reply, kv.values[i],
					     i);
			cr_assert_eq(b->results[i].replies[0],
				     b->results[i].reply);
		}
		mt_redis_batch_free(b);
	}
	free(items);
	free(cmds);
	free(argv);
	mt_test_kv_free(&kv);
	fx_close(&f);
}

static mt_redis_cmd cmd3(mt_redis_bytes *argv, const char *a, const char *b,
			 const char *c)
{
	argv[0] = mt_test_str(a);
	argv[1] = mt_test_str(b);
	int argc = 2;
	if (c)
		argv[argc++] = mt_test_str(c);
	return (mt_redis_cmd){argc, argv};
}

Test(exec, wrongtype_fails_the_item_with_the_server_text,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	mt_test_redis_ok(f.adm, "HSET h f v");
	mt_redis_bytes a[4][3];
	mt_redis_cmd c[4];
	c[0] = cmd3(a[0], "SET", "before", "1");
	c[1] = cmd3(a[1], "GET", "h", NULL); /* WRONGTYPE */
	c[2] = cmd3(a[2], "SET", "after", "1");
	c[3] = cmd3(a[3], "GET", "after", NULL);
	/* Item 1: the failing GET between two SETs, non-atomic. */
	mt_redis_item items[3] = {
		{&c[0], 1, 0, {0}}, {&c[0], 3, 0, {0}}, {&c[3], 1, 0, {0}}};
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_exec(f.r, items, 3, &b), 0);
	cr_assert_eq(b->done, 2);
	cr_assert_eq(b->failed, 1);
	const mt_redis_result *bad = &b->results[1];
	cr_assert_eq(bad->status, MT_REDIS_FAILED);
	cr_assert_null(bad->reply);
	cr_assert_not_null(bad->error);
	cr_assert_eq(strncmp(bad->error, "WRONGTYPE", 9), 0, "error: %s",
		     bad->error);
	/* Its other commands ran, and every reply is there. */
	cr_assert_eq(bad->nreplies, 3);
	cr_assert_eq(bad->replies[1]->type, REDIS_REPLY_ERROR);
	cr_assert_eq(bad->replies[2]->type, REDIS_REPLY_STATUS);
	cr_assert_eq(mt_test_redis_int(f.adm, "EXISTS after"), 1);
	mt_test_assert_bytes(b->results[2].reply, mt_test_str("1"), 2);
	cr_assert_null(b->results[2].error);
	mt_redis_batch_free(b);
	fx_close(&f);
}

Test(exec, atomic_item_runs_in_multi_exec, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	mt_redis_bytes a[2][3];
	mt_redis_cmd c[2];
	c[0] = cmd3(a[0], "SET", "t", "10");
	c[1] = cmd3(a[1], "INCR", "t", NULL);
	mt_redis_item it = {c, 2, MT_REDIS_ATOMIC, {0}};
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_exec(f.r, &it, 1, &b), 0);
	mt_test_assert_counts_all_done(b, 1);
	const mt_redis_result *res = &b->results[0];
	cr_assert_eq(res->reply->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(res->reply->elements, 2);
	cr_assert_eq(res->nreplies, 2);
	cr_assert_eq(res->replies[0]->type, REDIS_REPLY_STATUS);
	cr_assert_eq(res->replies[1]->integer, 11);
	mt_redis_batch_free(b);
	fx_close(&f);
}

Test(exec, execabort_fails_the_item_and_runs_none_of_it,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	mt_redis_bytes a[3][3];
	mt_redis_cmd c[3];
	c[0] = cmd3(a[0], "SET", "x", "1");
	c[1] = cmd3(a[1], "NOSUCHCOMMAND", "x", NULL);
	c[2] = cmd3(a[2], "SET", "y", "1");
	mt_redis_item items[2] = {{c, 2, MT_REDIS_ATOMIC, {0}},
				  {&c[2], 1, 0, {0}}};
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_exec(f.r, items, 2, &b), 0);
	cr_assert_eq(b->failed, 1);
	cr_assert_eq(b->done, 1);
	const char *e = b->results[0].error;
	cr_assert_not_null(e);
	cr_assert(strstr(e, "EXECABORT") && strstr(e, "unknown command"),
		  "error: %s", e);
	cr_assert_eq(mt_test_redis_int(f.adm, "EXISTS x"), 0);
	cr_assert_eq(mt_test_redis_int(f.adm, "EXISTS y"), 1);
	mt_redis_batch_free(b);
	fx_close(&f);
}

Test(exec, runtime_error_inside_exec_fails_the_item_without_rollback,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	mt_test_redis_ok(f.adm, "SET s str");
	mt_redis_bytes a[2][3];
	mt_redis_cmd c[2];
	c[0] = cmd3(a[0], "LPUSH", "s", "v"); /* WRONGTYPE at EXEC */
	c[1] = cmd3(a[1], "SET", "ran", "1");
	mt_redis_item it = {c, 2, MT_REDIS_ATOMIC, {0}};
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_exec(f.r, &it, 1, &b), 0);
	cr_assert_eq(b->failed, 1);
	cr_assert_eq(strncmp(b->results[0].error, "WRONGTYPE", 9), 0);
	cr_assert_eq(b->results[0].nreplies, 2);
	cr_assert_eq(mt_test_redis_int(f.adm, "EXISTS ran"), 1);
	mt_redis_batch_free(b);
	fx_close(&f);
}

/* ------------------------------------------------------------- models */

static mt_redis_model user_model(size_t i, char *key, mt_redis_field *fields,
				 mt_redis_field *kidx, mt_redis_sorted *sidx)
{
	sprintf(key, "u%zu", i);
	fields[0] = (mt_redis_field){mt_test_str("name"), mt_test_str(key)};
	fields[1] = (mt_redis_field){mt_test_str("bin"), {"\0\r\n\xff", 4}};
	kidx[0] = (mt_redis_field){mt_test_str("city"),
				   mt_test_str(i % 2 ? "Oslo" : "Rome")};
	sidx[0] = (mt_redis_sorted){mt_test_str("age"), (double)i + 0.5};
	return (mt_redis_model){.model = mt_test_str("User"),
				.key = mt_test_str(key),
				.fields = fields,
				.nfields = 2,
				.key_indexes = kidx,
				.nkey_indexes = 1,
				.sorted_indexes = sidx,
				.nsorted_indexes = 1,
				.ttl_ms = 600000};
}

static void models_round_trip(unsigned flags)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	enum {
		N = 50
	};
	char keys[N][16];
	mt_redis_field fields[N][2], kidx[N][1];
	mt_redis_sorted sidx[N][1];
	mt_redis_model m[N];
	mt_redis_bytes mkeys[N + 1];
	for (size_t i = 0; i < N; i++) {
		m[i] = user_model(i, keys[i], fields[i], kidx[i], sidx[i]);
		mkeys[i] = m[i].key;
	}
	mkeys[N] = mt_test_str("nobody");
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_model_save(f.r, m, N, flags, &b), 0);
	mt_test_assert_counts_all_done(b, N);
	if (flags & MT_REDIS_ATOMIC)
		cr_assert_eq(b->results[0].reply->type, REDIS_REPLY_ARRAY);
	mt_redis_batch_free(b);

	/* Popoto's layout, read back on the server. */
	cr_assert_eq(mt_test_redis_int(f.adm, "SCARD $Class:User"), N);
	cr_assert_eq(mt_test_redis_int(f.adm, "SISMEMBER $KeyF:User:city:Oslo "
					      "User:u1"),
		     1);
	redisReply *z =
		mt_test_redis_cmd(f.adm, "ZSCORE $SortedF:User:age User:u7");
	cr_assert_eq(strtod(z->str, NULL), 7.5);
	freeReplyObject(z);
	long long ttl = mt_test_redis_int(f.adm, "PTTL User:u3");
	cr_assert(ttl > 0 && ttl <= 600000);

	cr_assert_eq(mt_redis_model_load(f.r, mt_test_str("User"), mkeys, N + 1,
					 &b),
		     0);
	mt_test_assert_counts_all_done(b, N + 1);
	for (size_t i = 0; i < N; i++) {
		const redisReply *h = b->results[i].reply;
		cr_assert_eq(h->type, REDIS_REPLY_ARRAY);
		cr_assert_eq(h->elements, 4);
		mt_test_assert_bytes(h->element[1], mt_test_str(keys[i]), i);
		mt_test_assert_bytes(h->element[3],
				     (mt_redis_bytes){"\0\r\n\xff", 4}, i);
	}
	cr_assert_eq(b->results[N].reply->elements, 0);
	mt_redis_batch_free(b);

	cr_assert_eq(mt_redis_model_delete(f.r, m, N, flags, &b), 0);
	mt_test_assert_counts_all_done(b, N);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_test_redis_int(f.adm, "DBSIZE"), 0);
	fx_close(&f);
}

Test(model, save_load_delete_in_popoto_layout, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	models_round_trip(0);
}

Test(model, save_load_delete_atomic, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	models_round_trip(MT_REDIS_ATOMIC);
}

/* -------------------------------------------------- bad and empty input */

Test(input, empty_lists_give_empty_batches_and_send_nothing,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_get(f.r, NULL, 0, &b), 0);
	cr_assert_eq(b->n, 0);
	cr_assert_eq(b->done + b->failed + b->unknown, 0);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_redis_set(f.r, NULL, NULL, 0, NULL, &b), 0);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_redis_exec(f.r, NULL, 0, &b), 0);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_redis_del(f.r, NULL, 0, &b), 0);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_redis_publish(f.r, NULL, NULL, 0, &b), 0);
	mt_redis_batch_free(b);
	cr_assert_eq(mt_redis_model_load(f.r, mt_test_str("M"), NULL, 0, &b),
		     0);
	mt_redis_batch_free(b);
	mt_redis_stats st;
	cr_assert_eq(mt_redis_stats_get(f.r, &st), 0);
	cr_assert_eq(st.commands, 0);
	fx_close(&f);
}

Test(input, null_pointers_are_einval_and_send_nothing,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	mt_redis_bytes k[2] = {mt_test_str("a"), {NULL, 3}};
	mt_redis_batch *b = (mt_redis_batch *)&f; /* must become NULL */
	cr_assert_eq(mt_redis_get(NULL, k, 1, &b), EINVAL);
	cr_assert_null(b);
	cr_assert_eq(mt_redis_get(f.r, k, 1, NULL), EINVAL);
	cr_assert_eq(mt_redis_get(f.r, NULL, 1, &b), EINVAL);
	cr_assert_eq(mt_redis_get(f.r, k, 2, &b), EINVAL); /* NULL data */
	cr_assert_eq(mt_redis_set(f.r, k, NULL, 1, NULL, &b), EINVAL);
	mt_redis_set_options neg = {.ttl_ms = -1}, mode = {.mode = 7};
	cr_assert_eq(mt_redis_set(f.r, k, k, 1, &neg, &b), EINVAL);
	cr_assert_eq(mt_redis_set(f.r, k, k, 1, &mode, &b), EINVAL);
	cr_assert_eq(mt_redis_del(f.r, NULL, 2, &b), EINVAL);
	cr_assert_eq(mt_redis_publish(f.r, k, NULL, 1, &b), EINVAL);
	mt_redis_cmd c0 = {0, k}, cnull = {1, NULL};
	mt_redis_item bad[3] = {
		{NULL, 1, 0, {0}}, {&c0, 1, 0, {0}}, {&cnull, 1, 0, {0}}};
	for (int i = 0; i < 3; i++)
		cr_assert_eq(mt_redis_exec(f.r, &bad[i], 1, &b), EINVAL);
	mt_redis_item none = {&c0, 0, 0, {0}};
	cr_assert_eq(mt_redis_exec(f.r, &none, 1, &b), EINVAL);
	mt_redis_model m = {.model = mt_test_str("M"), .key = k[0]};
	cr_assert_eq(mt_redis_model_save(f.r, &m, 1, 0, &b), EINVAL);
	cr_assert_eq(mt_redis_model_save(f.r, NULL, 1, 0, &b), EINVAL);
	mt_redis_field fld = {k[0], k[0]};
	m.fields = &fld;
	m.nfields = 1;
	cr_assert_eq(mt_redis_model_save(f.r, &m, 1, 0x80, &b), EINVAL);
	cr_assert_eq(mt_redis_model_load(f.r, k[1], k, 1, &b), EINVAL);
	cr_assert_eq(mt_redis_model_delete(f.r, NULL, 1, 0, &b), EINVAL);
	cr_assert_eq(mt_redis_stats_get(NULL, NULL), EINVAL);
	mt_redis_stats st;
	cr_assert_eq(mt_redis_stats_get(f.r, &st), 0);
	cr_assert_eq(st.commands, 0, "a refused call sent commands");
	mt_redis_batch_free(NULL);
	cr_assert_eq(mt_redis_close(NULL), 0);
	fx_close(&f);
}

/* ---------------------------------------------- the map with a connection */

/* Popoto's fetch_user(conn, id): one round trip on the given connection. */
static void *fetch_user(redisContext *c, void *param, void *ctx)
{
	(void)ctx;
	redisReply *r =
		redisCommand(c, "HGET user:%d name", (int)(size_t)param);
	return r;
}

Test(map, fetch_user_runs_on_each_threads_own_connection,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	size_t n = 300;
	for (size_t i = 0; i < n; i++)
		mt_test_redis_ok(f.adm, "HSET user:%d name n%d", (int)i,
				 (int)i);
	void **params = calloc(n, sizeof *params);
	void **results = calloc(n, sizeof *results);
	for (size_t i = 0; i < n; i++)
		params[i] = (void *)i;
	size_t not_run = 99;
	cr_assert_eq(mt_redis_map(f.r, fetch_user, params, results, n, NULL,
				  &not_run),
		     0);
	cr_assert_eq(not_run, 0);
	for (size_t i = 0; i < n; i++) {
		char want[24];
		snprintf(want, sizeof want, "n%zu", i);
		mt_test_assert_bytes(results[i], mt_test_str(want), i);
		freeReplyObject(results[i]);
	}
	/* One connection per participating thread, reused: never one per
	 * item. */
	mt_redis_stats st;
	mt_redis_stats_get(f.r, &st);
	cr_assert_leq(st.connects, 1 + mt_pool_size(f.pool) + 1);
	cr_assert_eq(mt_redis_map(f.r, NULL, params, results, n, NULL, NULL),
		     EINVAL);
	cr_assert_eq(mt_redis_map(f.r, fetch_user, NULL, NULL, 0, NULL, NULL),
		     0);
	free(params);
	free(results);
	fx_close(&f);
}

/* Item 7 ends its connection (QUIT, then a command on the closed stream):
 * that connection is dropped and later items get a new one. */
static void *breaks_one(redisContext *c, void *param, void *ctx)
{
	(void)ctx;
	if ((size_t)param == 7) {
		freeReplyObject(redisCommand(c, "QUIT"));
		redisReply *r = redisCommand(c, "PING");
		cr_assert_null(r);
		return NULL;
	}
	return redisCommand(c, "PING");
}

Test(map, a_connection_broken_by_fn_is_replaced,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	size_t n = 40;
	void *params[40], *results[40];
	for (size_t i = 0; i < n; i++)
		params[i] = (void *)i;
	cr_assert_eq(mt_redis_map(f.r, breaks_one, params, results, n, NULL,
				  NULL),
		     0);
	for (size_t i = 0; i < n; i++) {
		if (i == 7) {
			cr_assert_null(results[i]);
			continue;
		}
		const redisReply *r = results[i];
		cr_assert(r && r->type == REDIS_REPLY_STATUS, "item %zu", i);
		freeReplyObject(results[i]);
	}
	mt_redis_stats st;
	mt_redis_stats_get(f.r, &st);
	cr_assert_geq(st.connection_errors, 1);
	/* And the client still works. */
	mt_redis_batch *b;
	mt_redis_bytes k = mt_test_str("k");
	cr_assert_eq(mt_redis_get(f.r, &k, 1, &b), 0);
	mt_test_assert_counts_all_done(b, 1);
	mt_redis_batch_free(b);
	fx_close(&f);
}

/* ------------------------------------------ calls from inside the pool */

struct in_pool {
	struct fx *f;
	struct mt_test_kv *kv;
	int set_rc, get_rc;
	size_t set_done, get_ok;
	sem_t done;
};

static void worker_bulk(void *arg)
{
	struct in_pool *t = arg;
	mt_redis_batch *b;
	t->set_rc = mt_redis_set(t->f->r, t->kv->keys, t->kv->values, t->kv->n,
				 NULL, &b);
	if (t->set_rc == 0) {
		t->set_done = b->done;
		mt_redis_batch_free(b);
	}
	t->get_rc = mt_redis_get(t->f->r, t->kv->keys, t->kv->n, &b);
	if (t->get_rc == 0) {
		for (size_t i = 0; i < t->kv->n; i++) {
			const redisReply *r = b->results[i].reply;
			t->get_ok +=
				r && r->len == t->kv->values[i].len &&
				!memcmp(r->str, t->kv->values[i].data, r->len);
		}
		mt_redis_batch_free(b);
	}
	sem_post(&t->done);
}

Test(pool, bulk_call_from_a_worker_task_completes,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	struct mt_test_kv kv;
	mt_test_kv_make(&kv, "w", LARGE, 20);
	struct in_pool t = {.f = &f, .kv = &kv};
	cr_assert_eq(sem_init(&t.done, 0, 0), 0);
	cr_assert_eq(mt_spawn(f.pool, worker_bulk, &t), 0);
	mt_test_sem_wait(&t.done);
	cr_assert_eq(t.set_rc, 0);
	cr_assert_eq(t.get_rc, 0);
	cr_assert_eq(t.set_done, LARGE);
	cr_assert_eq(t.get_ok, LARGE);
	mt_test_kv_free(&kv);
	fx_close(&f);
}

/* A bulk call inside the map function: the worker's own connection is in
 * use by the map, so the nested call must take another one. */
static void *nested_get(redisContext *c, void *param, void *ctx)
{
	(void)c;
	struct fx *f = ctx;
	mt_redis_bytes k = mt_test_str("nested");
	mt_redis_batch *b;
	if (mt_redis_get(f->r, &k, 1, &b) != 0)
		return NULL;
	int ok = b->done == 1 && b->results[0].reply->len == 1;
	mt_redis_batch_free(b);
	return ok ? param : NULL;
}

Test(pool, bulk_call_nested_in_the_map_uses_another_connection,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	mt_test_redis_ok(f.adm, "SET nested v");
	void *params[64], *results[64];
	for (size_t i = 0; i < 64; i++)
		params[i] = (void *)(i + 1);
	cr_assert_eq(mt_redis_map(f.r, nested_get, params, results, 64, &f,
				  NULL),
		     0);
	for (size_t i = 0; i < 64; i++)
		cr_assert_eq(results[i], params[i], "item %zu", i);
	fx_close(&f);
}

static void close_from_worker(void *arg)
{
	struct in_pool *t = arg;
	t->set_rc = mt_redis_close(t->f->r);
	sem_post(&t->done);
}

Test(pool, close_from_a_task_of_the_pool_is_edeadlk,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	struct in_pool t = {.f = &f};
	cr_assert_eq(sem_init(&t.done, 0, 0), 0);
	cr_assert_eq(mt_spawn(f.pool, close_from_worker, &t), 0);
	mt_test_sem_wait(&t.done);
	cr_assert_eq(t.set_rc, EDEADLK);
	fx_close(&f);
}

/* Calls from outside threads and pool tasks at once, on one client: each
 * needs connections of its own (TSan sees any context used by two
 * threads), and every result is still the right one. */
struct concurrent {
	pthread_t tid;
	struct fx *f;
	const struct mt_test_kv *kv;
	size_t ok;
	sem_t *done;
};

static void concurrent_get(struct concurrent *c)
{
	for (int round = 0; round < 3; round++) {
		mt_redis_batch *b;
		if (mt_redis_get(c->f->r, c->kv->keys, c->kv->n, &b) != 0)
			return;
		for (size_t i = 0; i < c->kv->n; i++) {
			const redisReply *r = b->results[i].reply;
			c->ok += r && r->len == c->kv->values[i].len &&
				 !memcmp(r->str, c->kv->values[i].data, r->len);
		}
		mt_redis_batch_free(b);
	}
}

static void *concurrent_thread(void *arg)
{
	concurrent_get(arg);
	return NULL;
}

static void concurrent_task(void *arg)
{
	struct concurrent *c = arg;
	concurrent_get(c);
	sem_post(c->done);
}

Test(pool, concurrent_calls_from_threads_and_tasks_share_no_connection,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0, NULL);
	struct mt_test_kv kv;
	mt_test_kv_make(&kv, "cc", LARGE / 4, 16);
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_set(f.r, kv.keys, kv.values, kv.n, NULL, &b), 0);
	mt_redis_batch_free(b);
	sem_t done;
	cr_assert_eq(sem_init(&done, 0, 0), 0);
	enum {
		THREADS = 3,
		TASKS = 2
	};
	struct concurrent c[THREADS + TASKS];
	for (int i = 0; i < THREADS + TASKS; i++)
		c[i] = (struct concurrent){.f = &f, .kv = &kv, .done = &done};
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&c[i].tid, NULL, concurrent_thread,
					    &c[i]),
			     0);
	for (int i = THREADS; i < THREADS + TASKS; i++)
		cr_assert_eq(mt_spawn(f.pool, concurrent_task, &c[i]), 0);
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_join(c[i].tid, NULL), 0);
	for (int i = 0; i < TASKS; i++)
		mt_test_sem_wait(&done);
	for (int i = 0; i < THREADS + TASKS; i++)
		cr_assert_eq(c[i].ok, 3 * kv.n, "caller %d", i);
	mt_test_kv_free(&kv);
	fx_close(&f);
}
