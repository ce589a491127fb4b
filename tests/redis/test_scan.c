/*
 * tests/redis/test_scan.c: mt_redis_scan against a real server.
 *
 * Order: what is collected (decoys, overlapping and repeated patterns,
 * the empty key, binary keys, more keys than a page), the plan the
 * server really saw (SLOWLOG records every command's arguments: EXISTS
 * for literals, one SCAN MATCH walk for one glob, one walk without MATCH
 * for several), fetched values in key order, then faults made between
 * two pages of a walk by the test hook of scan.h (connection killed with
 * retries off and on, server killed, server paused past the command
 * timeout), bad arguments, and a call from inside the pool.
 *
 * Expected key sets are written out by construction, never computed
 * with the matcher under test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <mtpool/redis.h>

#include "../common/mt_test.h"
#include "../common/redis_server.h"
#include "../common/redis_util.h"
#include "scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANY (MT_TEST_SANITIZED ? 2500u : 6000u)

struct fx {
	struct mt_test_redis srv;
	mt_pool *pool;
	mt_redis *r;
	redisContext *adm;
};

static void fx_open(struct fx *f, const mt_redis_options *o)
{
	mt_test_redis_start(&f->srv, NULL);
	f->pool = mt_test_pool(3);
	mt_redis_options opts = o ? *o : (mt_redis_options){0};
	opts.pool = f->pool;
	f->r = mt_test_client(f->srv.tcp_uri, &opts);
	f->adm = mt_test_redis_admin(&f->srv);
}

static void fx_close(struct fx *f)
{
	cr_assert_eq(mt_redis_close(f->r), 0);
	cr_assert_eq(mt_pool_destroy(f->pool, MT_DRAIN), 0);
	redisFree(f->adm);
	mt_test_redis_stop(&f->srv);
	mt__redis_scan_page_hook = NULL;
}

/* SET key value for n binary keys, pipelined on the admin connection. */
static void load(redisContext *adm, const mt_redis_bytes *keys,
		 const mt_redis_bytes *values, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *argv[3] = {"SET", keys[i].data, values[i].data};
		size_t lens[3] = {3, keys[i].len, values[i].len};
		cr_assert_eq(redisAppendCommandArgv(adm, 3, argv, lens),
			     REDIS_OK);
	}
	for (size_t i = 0; i < n; i++) {
		redisReply *rep;
		cr_assert_eq(redisGetReply(adm, (void **)&rep), REDIS_OK);
		cr_assert_eq(rep->type, REDIS_REPLY_STATUS);
		freeReplyObject(rep);
	}
}

/* Loads C-string keys, each with the value "v:" + key. */
static void load_strs(redisContext *adm, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mt_test_redis_ok(adm, "SET %s v:%s", keys[i], keys[i]);
}

static size_t find(const mt_redis_keys *k, const void *key, size_t len)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->keys[i].len == len &&
		    (len == 0 || memcmp(k->keys[i].data, key, len) == 0))
			return i;
	return (size_t)-1;
}

/* The result holds exactly the n C-string keys of want, each once. */
static void assert_keys(const mt_redis_keys *k, const char *const *want,
			size_t n)
{
	cr_assert_not_null(k);
	for (size_t i = 0; i < n; i++)
		cr_assert_neq(find(k, want[i], strlen(want[i])), (size_t)-1,
			      "key '%s' missing", want[i]);
	for (size_t i = 0; i < k->n; i++)
		for (size_t j = i + 1; j < k->n; j++)
			cr_assert(k->keys[i].len != k->keys[j].len ||
					  memcmp(k->keys[i].data,
						 k->keys[j].data,
						 k->keys[i].len) != 0,
				  "key %zu returned twice", i);
	cr_assert_eq(k->n, n, "got %zu keys, want %zu", k->n, n);
}

static mt_redis_keys *scan_ok(mt_redis *r, const char *const *pats, size_t n,
			      const mt_redis_scan_options *o)
{
	mt_redis_keys *k = NULL;
	int rc = mt_redis_scan(r, pats, n, o, &k);
	cr_assert_eq(rc, 0, "mt_redis_scan: %d (%s)", rc, strerror(rc));
	cr_assert_not_null(k);
	return k;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------- what is found */

static const char *const decoy_keys[] = {
	"user:1",   "user:22",	   "user:abc", "session:a1", "session:zz",
	"user",	    "xuser:1",	   "USER:1",   "users:1",    "session:a",
	"session:", "session:abc", "sess:ab",  "order:1",    "a*b",
};

Test(scan, patterns_with_decoys_return_exactly_the_matches,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, NULL);
	load_strs(f.adm, decoy_keys, N(decoy_keys));
	const char *pats[] = {"user:*", "session:??"};
	mt_redis_keys *k = scan_ok(f.r, pats, 2, NULL);
	const char *want[] = {"user:1", "user:22", "user:abc", "session:a1",
			      "session:zz"};
	assert_keys(k, want, N(want));
	cr_assert_null(k->values);
	cr_assert_eq(k->failed, 0);
	mt_redis_keys_free(k);
	fx_close(&f);
}

Test(scan, a_key_matching_several_patterns_appears_once,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, NULL);
	const char *keys[] = {"ab", "axb", "b", "a", "ba", "zzz"};
	load_strs(f.adm, keys, N(keys));
	/* "ab" matches all four; the glob "a*" is given twice. */
	const char *pats[] = {"a*", "*b", "ab", "a*", "[a]b"};
	mt_redis_keys *k = scan_ok(f.r, pats, N(pats), NULL);
	const char *want[] = {"ab", "axb", "b", "a"};
	assert_keys(k, want, N(want));
	mt_redis_keys_free(k);
	fx_close(&f);
}

Test(scan, star_alone_includes_the_empty_key, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, NULL);
	const char *keys[] = {"k1", "k2"};
	load_strs(f.adm, keys, N(keys));
	mt_test_redis_ok(f.adm, "SET %b v", "", (size_t)0);
	const char *star[] = {"*"};
	mt_redis_keys *k = scan_ok(f.r, star, 1, NULL); /* SCAN MATCH * */
	cr_assert_eq(k->n, 3);
	cr_assert_neq(find(k, "", 0), (size_t)-1);
	mt_redis_keys_free(k);
	const char *two[] = {"*", "k*"}; /* the client-side walk */
	k = scan_ok(f.r, two, 2, NULL);
	cr_assert_eq(k->n, 3);
	cr_assert_neq(find(k, "", 0), (size_t)-1);
	mt_redis_keys_free(k);
	fx_close(&f);
}

Test(scan, binary_keys_come_back_whole, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_kv kv;
	fx_open(&f, NULL);
	mt_test_kv_make(&kv, "bin", 300, 8);
	load(f.adm, kv.keys, kv.values, kv.n);
	mt_test_redis_ok(f.adm, "SET other 1");
	const char *pats[] = {"bin*", "nothing*"};
	mt_redis_keys *k = scan_ok(f.r, pats, 2, NULL);
	cr_assert_eq(k->n, kv.n);
	for (size_t i = 0; i < kv.n; i++)
		cr_assert_neq(find(k, kv.keys[i].data, kv.keys[i].len),
			      (size_t)-1, "binary key %zu missing", i);
	mt_redis_keys_free(k);
	mt_test_kv_free(&kv);
	fx_close(&f);
}

/* COUNT 10 over thousands of keys: hundreds of pages, for each plan. */
Test(scan, key_sets_larger_than_a_page_are_complete,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_kv a, b;
	fx_open(&f, NULL);
	mt_test_kv_make(&a, "a", MANY, 4);
	mt_test_kv_make(&b, "b", MANY / 2, 4);
	load(f.adm, a.keys, a.values, a.n);
	load(f.adm, b.keys, b.values, b.n);
	mt_redis_scan_options o = {.count = 10};
	const char *one[] = {"a*"}, *two[] = {"a*", "b*"};
	mt_redis_keys *k = scan_ok(f.r, one, 1, &o);
	cr_assert_eq(k->n, a.n);
	mt_redis_keys_free(k);
	k = scan_ok(f.r, two, 2, &o);
	cr_assert_eq(k->n, a.n + b.n);
	for (size_t i = 0; i < b.n; i++)
		cr_assert_neq(find(k, b.keys[i].data, b.keys[i].len),
			      (size_t)-1);
	mt_redis_keys_free(k);
	mt_test_kv_free(&a);
	mt_test_kv_free(&b);
	fx_close(&f);
}

Test(scan, empty_database_gives_no_keys, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, NULL);
	const char *pats[] = {"*", "a*", "literal"};
	mt_redis_scan_options o = {.fetch = "GET"};
	for (size_t n = 1; n <= 3; n++) {
		mt_redis_keys *k = scan_ok(f.r, pats, n, &o);
		cr_assert_eq(k->n, 0);
		cr_assert_eq(k->failed, 0);
		mt_redis_keys_free(k);
	}
	fx_close(&f);
}

/* ------------------------------------------------- the plan, as seen */

struct seen {
	size_t scans, scan_walks, scans_with_match, exists;
};

/* Counts the SCAN and EXISTS commands the server ran since the last
 * slowlog_reset (every command is logged: threshold 0). */
static struct seen slowlog(redisContext *adm)
{
	struct seen s = {0};
	redisReply *r = mt_test_redis_cmd(adm, "SLOWLOG GET 100000");
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *args = r->element[i]->element[3];
		const char *cmd = args->element[0]->str;
		if (strcasecmp(cmd, "EXISTS") == 0)
			s.exists++;
		if (strcasecmp(cmd, "SCAN") != 0)
			continue;
		s.scans++;
		s.scan_walks += strcmp(args->element[1]->str, "0") == 0;
		for (size_t a = 2; a < args->elements; a++)
			s.scans_with_match +=
				strcasecmp(args->element[a]->str, "MATCH") == 0;
	}
	freeReplyObject(r);
	return s;
}

static void slowlog_reset(redisContext *adm)
{
	mt_test_redis_ok(adm, "CONFIG SET slowlog-log-slower-than 0");
	mt_test_redis_ok(adm, "CONFIG SET slowlog-max-len 100000");
	mt_test_redis_ok(adm, "SLOWLOG RESET");
}

Test(scan, literal_patterns_are_answered_by_exists_alone,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, NULL);
	const char *keys[] = {"user:7", "a*b", "x?", "user:8"};
	load_strs(f.adm, keys, N(keys));
	slowlog_reset(f.adm);
	/* "a\*b" is the key "a*b"; "missing" does not exist. */
	const char *pats[] = {"user:8", "a\\*b", "missing", "x\\?", "user:8"};
	mt_redis_keys *k = scan_ok(f.r, pats, N(pats), NULL);
	struct seen s = slowlog(f.adm);
	cr_assert_eq(s.scans, 0, "a walk for literal patterns");
	cr_assert_eq(s.exists, 4, "one EXISTS per distinct literal");
	cr_assert_eq(k->n, 3);
	/* In pattern order. */
	cr_assert_eq(memcmp(k->keys[0].data, "user:8", 6), 0);
	cr_assert_eq(memcmp(k->keys[1].data, "a*b", 3), 0);
	cr_assert_eq(memcmp(k->keys[2].data, "x?", 2), 0);
	mt_redis_keys_free(k);
	fx_close(&f);
}

Test(scan, one_glob_pattern_is_matched_by_the_server,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, NULL);
	const char *keys[] = {"user:1", "user:2", "other", "lit"};
	load_strs(f.adm, keys, N(keys));
	slowlog_reset(f.adm);
	const char *pats[] = {"lit", "user:*"};
	mt_redis_keys *k = scan_ok(f.r, pats, 2, NULL);
	struct seen s = slowlog(f.adm);
	cr_assert_eq(s.scan_walks, 1);
	cr_assert_eq(s.scans_with_match, s.scans);
	cr_assert_eq(s.exists, 1);
	const char *want[] = {"lit", "user:1", "user:2"};
	assert_keys(k, want, N(want));
	cr_assert_eq(memcmp(k->keys[0].data, "lit", 3), 0, "literal first");
	mt_redis_keys_free(k);
	fx_close(&f);
}

Test(scan, several_glob_patterns_share_one_walk_without_match,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, NULL);
	const char *keys[] = {"a1", "b1", "c1", "lit", "zz"};
	load_strs(f.adm, keys, N(keys));
	slowlog_reset(f.adm);
	const char *pats[] = {"a*", "b?", "[c]1", "lit"};
	mt_redis_keys *k = scan_ok(f.r, pats, N(pats), NULL);
	struct seen s = slowlog(f.adm);
	cr_assert_eq(s.scan_walks, 1, "%zu walks", s.scan_walks);
	cr_assert_eq(s.scans_with_match, 0);
	cr_assert_eq(s.exists, 0, "the walk sees the literals' keys too");
	const char *want[] = {"a1", "b1", "c1", "lit"};
	assert_keys(k, want, N(want));
	mt_redis_keys_free(k);
	fx_close(&f);
}

/* "*" beside a literal: every key in one walk without MATCH (a lone glob
 * pattern is otherwise sent as MATCH), and no EXISTS for the literal. */
Test(scan, star_beside_a_literal_walks_once_without_match,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, NULL);
	const char *keys[] = {"a1", "b1", "lit", "zz"};
	load_strs(f.adm, keys, N(keys));
	slowlog_reset(f.adm);
	const char *pats[] = {"lit", "*"};
	mt_redis_keys *k = scan_ok(f.r, pats, N(pats), NULL);
	struct seen s = slowlog(f.adm);
	cr_assert_eq(s.scan_walks, 1, "%zu walks", s.scan_walks);
	cr_assert_eq(s.scans_with_match, 0);
	cr_assert_eq(s.exists, 0);
	assert_keys(k, keys, N(keys));
	mt_redis_keys_free(k);
	fx_close(&f);
}

/* ---------------------------------------------------------- fetching */

/* values[i] is GET keys[i], across many fetch tasks (MANY keys are
 * several chunks of 1024), for each plan. */
Test(scan, fetched_values_follow_the_key_order,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_kv kv;
	fx_open(&f, NULL);
	mt_test_kv_make(&kv, "f", MANY, 24);
	load(f.adm, kv.keys, kv.values, kv.n);
	mt_test_redis_ok(f.adm, "SET lit litvalue");
	mt_redis_scan_options o = {.fetch = "GET", .count = 100};
	const char *one[] = {"f*"}, *two[] = {"f*", "lit"};
	for (int plan = 0; plan < 2; plan++) {
		mt_redis_keys *k = scan_ok(f.r, plan ? two : one, plan + 1, &o);
		cr_assert_eq(k->n, kv.n + (size_t)plan);
		cr_assert_not_null(k->values);
		cr_assert_eq(k->failed, 0);
		for (size_t i = 0; i < k->n; i++) {
			cr_assert_eq(k->values[i].status, MT_REDIS_DONE);
			if (k->keys[i].len == 3) {
				mt_test_assert_bytes(k->values[i].reply,
						     mt_test_str("litvalue"),
						     i);
				continue;
			}
			/* The key's index is its decimal suffix. */
			size_t idx = strtoul((const char *)k->keys[i].data + 6,
					     NULL, 10);
			cr_assert_lt(idx, kv.n);
			mt_test_assert_bytes(k->values[i].reply, kv.values[idx],
					     i);
		}
		mt_redis_keys_free(k);
	}
	mt_test_kv_free(&kv);
	fx_close(&f);
}

Test(scan, fetch_with_hgetall_and_a_wrong_type_counts_the_failure,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, NULL);
	mt_test_redis_ok(f.adm, "HSET User:1 name ann age 7");
	mt_test_redis_ok(f.adm, "HSET User:2 name bob");
	mt_test_redis_ok(f.adm, "SET User:3 not-a-hash");
	const char *pats[] = {"User:*"};
	mt_redis_scan_options o = {.fetch = "HGETALL"};
	mt_redis_keys *k = scan_ok(f.r, pats, 1, &o);
	cr_assert_eq(k->n, 3);
	cr_assert_eq(k->failed, 1);
	for (size_t i = 0; i < k->n; i++) {
		const mt_redis_result *v = &k->values[i];
		char last = ((const char *)k->keys[i].data)[5];
		if (last == '3') {
			cr_assert_eq(v->status, MT_REDIS_FAILED);
			cr_assert(strstr(v->error, "WRONGTYPE"), "%s",
				  v->error);
			continue;
		}
		cr_assert_eq(v->status, MT_REDIS_DONE);
		cr_assert_eq(v->reply->type, REDIS_REPLY_ARRAY);
		cr_assert_eq(v->reply->elements, last == '1' ? 4u : 2u);
	}
	mt_redis_keys_free(k);
	fx_close(&f);
}

/* -------------------------------------------------- faults mid-walk */

enum action {
	KILL_CLIENTS,
	KILL_SERVER,
	PAUSE_SERVER
};

struct hook {
	struct fx *f;
	enum action action;
	size_t at_page, fired;
};

static void on_page(size_t page, void *arg)
{
	struct hook *h = arg;
	if (page != h->at_page || h->fired++)
		return;
	switch (h->action) {
	case KILL_CLIENTS:
		cr_assert_geq(mt_test_redis_int(h->f->adm,
						"CLIENT KILL TYPE normal"),
			      1);
		break;
	case KILL_SERVER:
		mt_test_redis_kill(&h->f->srv);
		break;
	case PAUSE_SERVER:
		/* Far longer than the two timeouts, so that load on the
		 * machine cannot let the retry through; the server is
		 * stopped while still paused. */
		mt_test_redis_ok(h->f->adm, "CLIENT PAUSE 60000 ALL");
		break;
	}
}

static void set_hook(struct hook *h, struct fx *f, enum action a)
{
	*h = (struct hook){.f = f, .action = a, .at_page = 3};
	mt__redis_scan_page_hook_arg = h;
	mt__redis_scan_page_hook = on_page;
}

/* Several glob patterns (the client walk) over MANY keys, COUNT 10. */
static const char *const fault_pats[] = {"k*", "nothing*"};
static const mt_redis_scan_options fault_opts = {.count = 10};

static void load_many(struct fx *f, struct mt_test_kv *kv)
{
	mt_test_kv_make(kv, "k", MANY, 4);
	load(f->adm, kv->keys, kv->values, kv->n);
}

Test(scan, killed_connection_with_retries_off_is_an_error_not_a_part,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_kv kv;
	struct hook h;
	mt_redis_options o = {.flags = MT_REDIS_NO_RETRY};
	fx_open(&f, &o);
	load_many(&f, &kv);
	set_hook(&h, &f, KILL_CLIENTS);
	mt_redis_keys dummy, *k = &dummy; /* must be set to NULL */
	int rc = mt_redis_scan(f.r, fault_pats, 2, &fault_opts, &k);
	cr_assert_eq(h.fired, 1, "the walk ended before page 3");
	cr_assert(rc == ECONNRESET || rc == EIO, "rc %d (%s)", rc,
		  strerror(rc));
	cr_assert_null(k);
	/* The client is fine afterwards: a new connection. */
	mt__redis_scan_page_hook = NULL;
	k = scan_ok(f.r, fault_pats, 2, &fault_opts);
	cr_assert_eq(k->n, kv.n);
	mt_redis_keys_free(k);
	mt_test_kv_free(&kv);
	fx_close(&f);
}

/* SCAN cursors are the server's: the page is asked again, from the same
 * cursor, on a new connection, and nothing is missed. */
Test(scan, killed_connection_with_retries_on_resumes_at_its_cursor,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_kv kv;
	struct hook h;
	fx_open(&f, NULL);
	load_many(&f, &kv);
	mt_redis_stats before, after;
	cr_assert_eq(mt_redis_stats_get(f.r, &before), 0);
	set_hook(&h, &f, KILL_CLIENTS);
	mt_redis_scan_options o = fault_opts;
	o.fetch = "GET"; /* the fetch tasks' connections die too */
	mt_redis_keys *k = scan_ok(f.r, fault_pats, 2, &o);
	cr_assert_eq(h.fired, 1);
	cr_assert_eq(k->n, kv.n);
	cr_assert_eq(k->failed, 0);
	for (size_t i = 0; i < kv.n; i++) {
		size_t at = find(k, kv.keys[i].data, kv.keys[i].len);
		cr_assert_neq(at, (size_t)-1, "key %zu lost", i);
		mt_test_assert_bytes(k->values[at].reply, kv.values[i], i);
	}
	cr_assert_eq(mt_redis_stats_get(f.r, &after), 0);
	cr_assert_gt(after.retries, before.retries);
	mt_redis_keys_free(k);
	mt_test_kv_free(&kv);
	fx_close(&f);
}

/* The server dies mid-walk: an error (the retry finds nobody), no hang,
 * no result; after a restart the next call works. */
Test(scan, killed_server_is_an_error_and_a_restart_recovers,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_kv kv;
	struct hook h;
	fx_open(&f, NULL);
	load_many(&f, &kv);
	redisFree(f.adm); /* the kill would leave it dead */
	f.adm = NULL;
	set_hook(&h, &f, KILL_SERVER);
	mt_redis_keys *k = NULL;
	int rc = mt_redis_scan(f.r, fault_pats, 2, &fault_opts, &k);
	cr_assert_eq(h.fired, 1);
	cr_assert(rc == ECONNRESET || rc == ECONNREFUSED || rc == EIO,
		  "rc %d (%s)", rc, strerror(rc));
	cr_assert_null(k);
	mt__redis_scan_page_hook = NULL;
	mt_test_redis_restart(&f.srv);
	f.adm = mt_test_redis_admin(&f.srv);
	mt_test_redis_ok(f.adm, "SET k-again 1");
	k = scan_ok(f.r, fault_pats, 2, &fault_opts);
	cr_assert_eq(k->n, 1);
	mt_redis_keys_free(k);
	mt_test_kv_free(&kv);
	fx_close(&f);
}

/* Paused past the command timeout: the page times out, its retry on a
 * new connection times out too, and the call says so. (Recovery after a
 * fault is the killed-server test's: a pause cannot be lifted early,
 * since CLIENT UNPAUSE itself waits for it.) */
Test(scan, paused_server_times_out, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_kv kv;
	struct hook h;
	mt_redis_options o = {.command_timeout_ms = 300};
	fx_open(&f, &o);
	load_many(&f, &kv);
	set_hook(&h, &f, PAUSE_SERVER);
	mt_redis_keys *k = NULL;
	int rc = mt_redis_scan(f.r, fault_pats, 2, &fault_opts, &k);
	cr_assert_eq(h.fired, 1);
	cr_assert_eq(rc, ETIMEDOUT, "rc %d (%s)", rc, strerror(rc));
	cr_assert_null(k);
	mt_test_kv_free(&kv);
	fx_close(&f);
}

/* ------------------------------------------------------ bad arguments */

Test(scan, null_and_zero_patterns_are_einval, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, NULL);
	const char *pats[] = {"a*", NULL};
	mt_redis_keys dummy, *k = &dummy;
	cr_assert_eq(mt_redis_scan(f.r, pats, 0, NULL, &k), EINVAL);
	cr_assert_null(k, "*out not cleared");
	cr_assert_eq(mt_redis_scan(f.r, NULL, 1, NULL, &k), EINVAL);
	cr_assert_eq(mt_redis_scan(f.r, pats, 2, NULL, &k), EINVAL);
	cr_assert_eq(mt_redis_scan(NULL, pats, 1, NULL, &k), EINVAL);
	cr_assert_eq(mt_redis_scan(f.r, pats, 1, NULL, NULL), EINVAL);
	mt_redis_scan_options o = {.fetch = ""};
	cr_assert_eq(mt_redis_scan(f.r, pats, 1, &o, &k), EINVAL);
	cr_assert_null(k);
	mt_redis_keys_free(NULL);
	fx_close(&f);
}

/* ---------------------------------------------------- from the pool */

struct nested {
	mt_redis *r;
	int rc;
	size_t n, failed;
};

static void scan_task(void *arg)
{
	struct nested *t = arg;
	const char *pats[] = {"f*", "g*"};
	mt_redis_scan_options o = {.fetch = "GET", .count = 50};
	mt_redis_keys *k = NULL;
	t->rc = mt_redis_scan(t->r, pats, 2, &o, &k);
	if (t->rc == 0) {
		t->n = k->n;
		t->failed = k->failed;
	}
	mt_redis_keys_free(k);
}

Test(scan, works_from_inside_a_pool_task, .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct mt_test_kv kv;
	fx_open(&f, NULL);
	mt_test_kv_make(&kv, "f", MANY / 2, 8);
	load(f.adm, kv.keys, kv.values, kv.n);
	struct nested t = {.r = f.r, .rc = -1};
	mt_group g;
	cr_assert_eq(mt_group_init(&g, f.pool), 0);
	cr_assert_eq(mt_group_spawn(&g, scan_task, &t), 0);
	cr_assert_eq(mt_group_wait(&g), 0);
	cr_assert_eq(t.rc, 0);
	cr_assert_eq(t.n, kv.n);
	cr_assert_eq(t.failed, 0);
	mt_test_kv_free(&kv);
	fx_close(&f);
}
