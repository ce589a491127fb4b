/*
 * tests/redis/test_replies.c: the replies a batch keeps, which hiredis
 * builds in the shares' arenas (redis/arena.h, batch.h), against a real
 * server.
 *
 * Order: values around the size that gets a block of its own and bigger
 * than a block; one MGET whose element vector is bigger than a block;
 * nested replies (EXEC of arrays, HGETALL) and the MULTI/QUEUED replies
 * an atomic item drops; a connection killed in the middle of a large
 * reply, retries off and on; a connection that goes back to the cache
 * after a share and is then used by scan's walk and the map's function;
 * batches freed in any order, on any thread.
 *
 * What catches a mistake is mostly the sanitizer builds: an arena reply
 * that reaches freeReplyObject (a connection left hooked when it goes
 * back to the cache, a half-read reply left in its reader) is an ASan
 * bad-free (and glibc's "free(): invalid pointer" in the plain build);
 * two batches sharing a block, or a block freed early, is a
 * use-after-free when the other batch is read again; a reply whose bytes
 * were overwritten (a wrong undo, an element hung on the wrong parent)
 * fails the byte comparisons in every build.
 *
 * The mid-reply kill is placed by the arena's block hook (arena.h): the
 * share takes a block of its own for the first 1 MiB value of a 16 MiB
 * MGET reply, i.e. while hiredis is parsing that reply, and the hook
 * kills the connection then (CLIENT KILL on another connection, which
 * returns once the server has closed it). Over the unix socket the
 * kernel buffers a few hundred KB at most, so the reader is cut with
 * most of the reply unsent, whatever the machine's load.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <mtpool/redis.h>

#include "../common/mt_test.h"
#include "../common/redis_server.h"
#include "../common/redis_util.h"
#include "arena.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANY (MT_TEST_SANITIZED ? 3000u : 20000u)
#define MIB (1024u * 1024u)

struct fx {
	struct mt_test_redis srv;
	mt_pool *pool;
	mt_redis *r;
	redisContext *adm;
};

static void fx_open(struct fx *f, unsigned threads, int use_unix,
		    mt_redis_options o)
{
	mt_test_redis_start(&f->srv, NULL);
	f->pool = mt_test_pool(threads);
	o.pool = f->pool;
	f->r = mt_test_client(use_unix ? f->srv.unix_uri : f->srv.tcp_uri, &o);
	f->adm = mt_test_redis_admin(&f->srv);
}

static void fx_close(struct fx *f)
{
	mt__redis_arena_block_hook = NULL;
	mt__redis_arena_block_hook_arg = NULL;
	cr_assert_eq(mt_redis_close(f->r), 0);
	cr_assert_eq(mt_pool_destroy(f->pool, MT_DRAIN), 0);
	redisFree(f->adm);
	mt_test_redis_stop(&f->srv);
}

/* The batch's counts are its results' statuses (for the chunked calls
 * they are counted per chunk, not per result). */
static void assert_counts(const mt_redis_batch *b)
{
	size_t n[3] = {0, 0, 0};
	for (size_t i = 0; i < b->n; i++)
		n[b->results[i].status]++;
	cr_assert_eq(b->done, n[MT_REDIS_DONE]);
	cr_assert_eq(b->failed, n[MT_REDIS_FAILED]);
	cr_assert_eq(b->unknown, n[MT_REDIS_UNKNOWN]);
}

/* Keys "<prefix>:<i>" and values of the given sizes (sizes[i % nsizes]),
 * with bytes from mt_test_value_byte, in one allocation. */
struct kv {
	size_t n;
	mt_redis_bytes *keys, *values;
	char *mem;
};

static void kv_make(struct kv *kv, const char *prefix, size_t n,
		    const size_t *sizes, size_t nsizes)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += 32 + sizes[i % nsizes];
	kv->n = n;
	kv->keys = calloc(n, sizeof *kv->keys);
	kv->values = calloc(n, sizeof *kv->values);
	kv->mem = malloc(total + 1);
	cr_assert(kv->keys && kv->values && kv->mem);
	char *p = kv->mem;
	for (size_t i = 0; i < n; i++) {
		int kl = sprintf(p, "%s:%zu", prefix, i);
		kv->keys[i] = (mt_redis_bytes){p, (size_t)kl};
		p += 32;
		size_t vl = sizes[i % nsizes];
		for (size_t k = 0; k < vl; k++)
			p[k] = (char)mt_test_value_byte(i, k);
		kv->values[i] = (mt_redis_bytes){p, vl};
		p += vl;
	}
}

static void kv_free(struct kv *kv)
{
	free(kv->keys);
	free(kv->values);
	free(kv->mem);
}

static void set_all(struct fx *f, const struct kv *kv)
{
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_set(f->r, kv->keys, kv->values, kv->n, NULL, &b),
		     0);
	mt_test_assert_counts_all_done(b, kv->n);
	mt_redis_batch_free(b);
}

/* Every result of a GET of kv is DONE with its value. */
static void check_get(const mt_redis_batch *b, const struct kv *kv)
{
	mt_test_assert_counts_all_done(b, kv->n);
	assert_counts(b);
	for (size_t i = 0; i < kv->n; i++)
		mt_test_assert_bytes(b->results[i].reply, kv->values[i], i);
}

/* ------------------------------------------------------- big values */

Test(replies, values_around_a_block_of_their_own_and_bigger_than_a_block,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	/* A window of 4 keys, MGETs of 3: small and large values share
	 * MGET arrays, and two windows are in flight. */
	fx_open(&f, 2, 0, (mt_redis_options){.window = 4, .chunk_keys = 3});
	/* A reply of 16 KiB exactly (struct, bytes, NUL) still comes from
	 * the bump block; one byte more takes a block of its own. */
	size_t at_own = MT__REDIS_ARENA_OWN - sizeof(redisReply) - 1;
	const size_t sizes[] = {0,
				at_own,
				7,
				at_own + 1,
				MT__REDIS_ARENA_FIRST,
				1,
				MT__REDIS_ARENA_MAX + 1,
				(MT_TEST_SANITIZED ? 2u : 4u) * MIB};
	struct kv kv;
	kv_make(&kv, "big", 24, sizes, sizeof sizes / sizeof *sizes);
	set_all(&f, &kv);
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_get(f.r, kv.keys, kv.n, &b), 0);
	check_get(b, &kv);
	mt_redis_batch_free(b);
	/* The same values as one-command GET items (not chunked). */
	mt_redis_bytes(*argv)[2] = calloc(kv.n, sizeof *argv);
	mt_redis_cmd *cmds = calloc(kv.n, sizeof *cmds);
	mt_redis_item *items = calloc(kv.n, sizeof *items);
	for (size_t i = 0; i < kv.n; i++) {
		argv[i][0] = mt_test_str("GET");
		argv[i][1] = kv.keys[i];
		cmds[i] = (mt_redis_cmd){2, argv[i]};
		items[i] =
			(mt_redis_item){&cmds[i], 1, MT_REDIS_IDEMPOTENT, {0}};
	}
	cr_assert_eq(mt_redis_exec(f.r, items, kv.n, &b), 0);
	check_get(b, &kv);
	mt_redis_batch_free(b);
	free(items);
	free(cmds);
	free(argv);
	kv_free(&kv);
	fx_close(&f);
}

Test(replies, one_mget_whose_element_vector_is_bigger_than_a_block,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	/* 140,000 keys in one MGET: a vector of 1.1 MB, above the largest
	 * bump block (1 MiB), so the array takes a block of its own while
	 * its elements fill bump blocks. */
	size_t n = 140000, sizes[] = {1, 9, 30};
	struct fx f;
	fx_open(&f, 2, 0, (mt_redis_options){.chunk_keys = 140000});
	struct kv kv;
	kv_make(&kv, "vec", n, sizes, 3);
	set_all(&f, &kv);
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_get(f.r, kv.keys, n, &b), 0);
	check_get(b, &kv);
	/* Every key's result points into the one MGET reply. */
	cr_assert_eq(b->results[0].nreplies, 1);
	cr_assert_eq(b->results[0].replies[0]->elements, n);
	cr_assert_eq(b->results[n - 1].replies, b->results[0].replies);
	mt_redis_batch_free(b);
	kv_free(&kv);
	fx_close(&f);
}

/* ---------------------------------------------------- nested replies */

struct nested {
	size_t n;
	char (*ctr)[24], (*x)[24], (*y)[24];
	mt_redis_bytes (*a)[6][4];
	mt_redis_cmd (*c)[6];
	mt_redis_item *items;
};

/* Item 3k: MULTI HGETALL h, LRANGE l 0 -1, INCR ctr:i EXEC (an EXEC array
 * of arrays). Item 3k+1: HGETALL h, LRANGE l 0 -1 (not atomic). Item
 * 3k+2: MULTI SET x:i, NOSUCHCOMMAND, SET y:i EXEC: EXECABORT, with the
 * queuing error kept while the QUEUED replies around it are dropped. */
static void nested_make(struct nested *t, size_t n)
{
	t->n = n;
	t->ctr = calloc(n, sizeof *t->ctr);
	t->x = calloc(n, sizeof *t->x);
	t->y = calloc(n, sizeof *t->y);
	t->a = calloc(n, sizeof *t->a);
	t->c = calloc(n, sizeof *t->c);
	t->items = calloc(n, sizeof *t->items);
	cr_assert(t->ctr && t->x && t->y && t->a && t->c && t->items);
	for (size_t i = 0; i < n; i++) {
		snprintf(t->ctr[i], sizeof t->ctr[i], "ctr:%zu", i);
		snprintf(t->x[i], sizeof t->x[i], "x:%zu", i);
		snprintf(t->y[i], sizeof t->y[i], "y:%zu", i);
		const char *w[6][4] = {
			{"HGETALL", "h"},	{"LRANGE", "l", "0", "-1"},
			{"INCR", t->ctr[i]},	{"SET", t->x[i], "1"},
			{"NOSUCHCOMMAND", "z"}, {"SET", t->y[i], "1"}};
		for (int c = 0; c < 6; c++) {
			int argc = 0;
			while (argc < 4 && w[c][argc]) {
				t->a[i][c][argc] = mt_test_str(w[c][argc]);
				argc++;
			}
			t->c[i][c] = (mt_redis_cmd){argc, t->a[i][c]};
		}
		size_t kind = i % 3;
		t->items[i] = (mt_redis_item){kind == 2 ? &t->c[i][3] : t->c[i],
					      kind == 1 ? 2 : 3,
					      kind == 1 ? 0 : MT_REDIS_ATOMIC,
					      {0}};
	}
}

static void nested_free(struct nested *t)
{
	free(t->ctr);
	free(t->x);
	free(t->y);
	free(t->a);
	free(t->c);
	free(t->items);
}

static void assert_hash(const redisReply *h)
{
	cr_assert_eq(h->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(h->elements, 4);
	mt_test_assert_bytes(h->element[0], mt_test_str("f1"), 0);
	mt_test_assert_bytes(h->element[1], mt_test_str("v1"), 1);
	mt_test_assert_bytes(h->element[2], mt_test_str("f2"), 2);
	mt_test_assert_bytes(h->element[3], mt_test_str("v2"), 3);
}

static void assert_list(const redisReply *l)
{
	cr_assert_eq(l->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(l->elements, 3);
	mt_test_assert_bytes(l->element[0], mt_test_str("a"), 0);
	mt_test_assert_bytes(l->element[1], mt_test_str("bb"), 1);
	mt_test_assert_bytes(l->element[2], mt_test_str("ccc"), 2);
}

static void check_nested(const mt_redis_batch *b, const struct nested *t)
{
	cr_assert_eq(b->n, t->n);
	for (size_t i = 0; i < t->n; i++) {
		const mt_redis_result *res = &b->results[i];
		if (i % 3 == 2) {
			cr_assert_eq(res->status, MT_REDIS_FAILED, "item %zu",
				     i);
			cr_assert(strstr(res->error, "EXECABORT") &&
					  strstr(res->error, "unknown command"),
				  "item %zu: %s", i, res->error);
			continue;
		}
		cr_assert_eq(res->status, MT_REDIS_DONE, "item %zu: %s", i,
			     res->error ? res->error : "");
		assert_hash(res->replies[0]);
		assert_list(res->replies[1]);
		if (i % 3 == 1) {
			cr_assert_eq(res->nreplies, 2);
			cr_assert_eq(res->reply, res->replies[1]);
			continue;
		}
		/* EXEC's array: its elements are the item's replies. */
		cr_assert_eq(res->nreplies, 3);
		cr_assert_eq(res->reply->type, REDIS_REPLY_ARRAY);
		cr_assert_eq(res->reply->elements, 3);
		cr_assert_eq((const void *)res->replies,
			     (const void *)res->reply->element);
		cr_assert_eq(res->replies[2]->integer, 1);
	}
}

static void nested_setup(redisContext *adm)
{
	mt_test_redis_ok(adm, "HSET h f1 v1 f2 v2");
	mt_test_redis_ok(adm, "RPUSH l a bb ccc");
}

Test(replies,
     exec_of_arrays_hgetall_and_dropped_queued_replies_keep_every_level,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 3, 0, (mt_redis_options){.window = 8});
	nested_setup(f.adm);
	struct nested t;
	nested_make(&t, 3 * (MT_TEST_SANITIZED ? 100 : 400));
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_exec(f.r, t.items, t.n, &b), 0);
	check_nested(b, &t);
	mt_redis_batch_free(b);
	/* Nothing of an aborted transaction ran. */
	cr_assert_eq(mt_test_redis_int(f.adm, "EXISTS x:2 y:2"), 0);
	nested_free(&t);

	/* HGETALL through the model load, 50 hashes and a missing one. */
	mt_redis_bytes keys[51];
	char names[51][8];
	for (int i = 0; i < 51; i++) {
		snprintf(names[i], sizeof names[i], "%d", i);
		keys[i] = mt_test_str(names[i]);
		if (i < 50)
			mt_test_redis_ok(f.adm, "HSET m:%d f1 v1 f2 v2", i);
	}
	cr_assert_eq(mt_redis_model_load(f.r, mt_test_str("m"), keys, 51, &b),
		     0);
	mt_test_assert_counts_all_done(b, 51);
	for (int i = 0; i < 50; i++)
		assert_hash(b->results[i].reply);
	cr_assert_eq(b->results[50].reply->elements, 0);
	mt_redis_batch_free(b);
	fx_close(&f);
}

/* ------------------------------------------------- killed mid-reply */

struct kill_hook {
	redisContext *adm;
	atomic_int fired;
	long long killed;
};

/* The block hook: at the first block of 1 MiB or more (a value's own
 * block, taken while its MGET reply is parsed), kills the library's
 * connections (user "default"; the harness's connections are another
 * user). Runs on the share's thread, so it records and never asserts. */
static void kill_in_big_block(size_t bytes, void *arg)
{
	struct kill_hook *k = arg;
	/* Relaxed: only elects the one kill; the test thread reads killed
	 * after the call that ran the hook has returned. */
	if (bytes < MIB ||
	    atomic_exchange_explicit(&k->fired, 1, memory_order_relaxed))
		return;
	redisReply *r = redisCommand(k->adm, "CLIENT KILL USER default");
	k->killed = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	freeReplyObject(r);
}

/* 16 values of 1 MiB read with one MGET (chunk_keys 16: one item, one
 * share, on this thread), the connection killed mid-reply by the hook. */
static mt_redis_batch *get_killed_mid_reply(struct fx *f, const struct kv *kv)
{
	struct kill_hook k = {.adm = mt_test_redis_admin(&f->srv)};
	mt_redis_batch *b = NULL;
	mt__redis_arena_block_hook_arg = &k;
	mt__redis_arena_block_hook = kill_in_big_block;
	int rc = mt_redis_get(f->r, kv->keys, kv->n, &b);
	mt__redis_arena_block_hook = NULL;
	redisFree(k.adm);
	cr_assert_eq(rc, 0);
	cr_assert_eq(k.killed, 1, "CLIENT KILL killed %lld", k.killed);
	return b;
}

static void kill_fx_open(struct fx *f, struct kv *kv, unsigned flags)
{
	const size_t mib = MIB;
	fx_open(f, 2, 1, (mt_redis_options){.chunk_keys = 16, .flags = flags});
	kv_make(kv, "mid", 16, &mib, 1);
	set_all(f, kv);
}

Test(replies, a_connection_killed_mid_reply_leaves_the_chunk_unknown,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct kv kv;
	kill_fx_open(&f, &kv, MT_REDIS_NO_RETRY);
	mt_redis_batch *b = get_killed_mid_reply(&f, &kv);
	cr_assert_eq(b->unknown, kv.n, "done %zu failed %zu", b->done,
		     b->failed);
	assert_counts(b);
	for (size_t i = 0; i < kv.n; i++) {
		const mt_redis_result *res = &b->results[i];
		cr_assert_eq(res->status, MT_REDIS_UNKNOWN);
		cr_assert_null(res->reply);
		cr_assert_eq(res->nreplies, 0);
		cr_assert(strstr(res->error, "failed before the reply"), "%s",
			  res->error);
	}
	mt_redis_batch_free(b);
	mt_redis_stats st = mt_test_client_stats(f.r);
	cr_assert_geq(st.connection_errors, 1);
	cr_assert_eq(st.retries, 0);
	/* The broken connection was dropped: the next call reads whole
	 * values on a new one. */
	cr_assert_eq(mt_redis_get(f.r, kv.keys, kv.n, &b), 0);
	check_get(b, &kv);
	mt_redis_batch_free(b);
	kv_free(&kv);
	fx_close(&f);
}

Test(replies, a_reply_cut_mid_way_is_replayed_whole_on_a_new_connection,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	struct kv kv;
	kill_fx_open(&f, &kv, 0);
	mt_redis_batch *b = get_killed_mid_reply(&f, &kv);
	/* The half-read reply stays in the arena, unreferenced; the replay
	 * builds a whole new one beside it. */
	check_get(b, &kv);
	mt_redis_batch_free(b);
	mt_redis_stats st = mt_test_client_stats(f.r);
	cr_assert_eq(st.retries, 1);
	cr_assert_geq(st.connection_errors, 1);
	kv_free(&kv);
	fx_close(&f);
}

/* ------------------------------------ a connection after an arena share */

struct handoff {
	struct fx *f;
	const struct kv *kv;
	redisReplyObjectFunctions *heap_fn; /* hiredis's own */
	int get_rc, scan_rc, map_rc, fetch_rc;
	size_t get_ok, scan_n, map_ok, fetch_ok;
	atomic_size_t map_heap; /* map calls whose reader was hiredis's */
	uint64_t connects;
	sem_t done;
};

/* The map's function, as a user writes it: a reply of its own, freed by
 * the caller with freeReplyObject. */
static void *map_get(redisContext *c, void *param, void *ctx)
{
	struct handoff *h = ctx;
	const mt_redis_bytes *k = &h->kv->keys[(size_t)param];
	if (c->reader->fn == h->heap_fn)
		/* Relaxed: a count read after mt_redis_map returns. */
		atomic_fetch_add_explicit(&h->map_heap, 1,
					  memory_order_relaxed);
	return redisCommand(c, "GET %b", k->data, k->len);
}

/* mt_redis_map of GET over every key; returns the values that matched,
 * each reply freed with freeReplyObject. */
static size_t map_all(struct handoff *h, int *rc)
{
	size_t n = h->kv->n, ok = 0;
	void **params = calloc(n, sizeof *params);
	void **results = calloc(n, sizeof *results);
	for (size_t i = 0; params && results && i < n; i++)
		params[i] = (void *)i;
	*rc = params && results ? mt_redis_map(h->f->r, map_get, params,
					       results, n, h, NULL) :
				  ENOMEM;
	for (size_t i = 0; *rc == 0 && i < n; i++) {
		const redisReply *r = results[i];
		ok += r && r->type == REDIS_REPLY_STRING &&
		      r->len == h->kv->values[i].len &&
		      memcmp(r->str, h->kv->values[i].data, r->len) == 0;
		freeReplyObject(results[i]);
	}
	free(params);
	free(results);
	return ok;
}

static size_t get_ok(const mt_redis_result *res, const struct kv *kv)
{
	size_t ok = 0;
	for (size_t i = 0; i < kv->n; i++) {
		const redisReply *r = res[i].reply;
		ok += r && r->len == kv->values[i].len &&
		      memcmp(r->str, kv->values[i].data, r->len) == 0;
	}
	return ok;
}

/* Values a scan fetched that are right for their keys ("ho:<i>"). */
static size_t fetched_ok(const mt_redis_keys *ks, const struct kv *kv)
{
	size_t ok = 0;
	for (size_t i = 0; i < ks->n; i++) {
		size_t j = strtoul(ks->keys[i].data + 3, NULL, 10);
		const redisReply *v = ks->values[i].reply;
		ok += v && j < kv->n && v->len == kv->values[j].len &&
		      !memcmp(v->str, kv->values[j].data, v->len);
	}
	return ok;
}

/* On the pool's only worker: a bulk GET (its shares on this worker's
 * connection), then scan's walk and the map on that same connection,
 * then a scan that fetches values through the engine. */
static void handoff_task(void *arg)
{
	struct handoff *h = arg;
	mt_redis *r = h->f->r;
	const char *pat = "ho:*";
	mt_redis_scan_options fetch = {.fetch = "GET"};
	mt_redis_batch *b;
	mt_redis_keys *ks;
	mt_redis_stats st;

	h->get_rc = mt_redis_get(r, h->kv->keys, h->kv->n, &b);
	if (h->get_rc == 0) {
		h->get_ok = get_ok(b->results, h->kv);
		mt_redis_batch_free(b);
	}
	h->scan_rc = mt_redis_scan(r, &pat, 1, NULL, &ks);
	if (h->scan_rc == 0) {
		h->scan_n = ks->n;
		mt_redis_keys_free(ks);
	}
	h->map_ok = map_all(h, &h->map_rc);
	h->connects = mt_redis_stats_get(r, &st) == 0 ? st.connects : 0;
	h->fetch_rc = mt_redis_scan(r, &pat, 1, &fetch, &ks);
	if (h->fetch_rc == 0) {
		h->fetch_ok = fetched_ok(ks, h->kv);
		mt_redis_keys_free(ks);
	}
	sem_post(&h->done);
}

Test(replies, a_connection_back_in_the_cache_after_a_share_gives_heap_replies,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	/* One worker: every call of the task runs on it, so they all take
	 * its one slot connection in turn. */
	fx_open(&f, 1, 0, (mt_redis_options){0});
	const size_t sizes[] = {40};
	struct kv kv;
	kv_make(&kv, "ho", 300, sizes, 1);
	set_all(&f, &kv);
	redisReader *fresh = redisReaderCreate();
	cr_assert_not_null(fresh);
	struct handoff h = {.f = &f, .kv = &kv, .heap_fn = fresh->fn};
	redisReaderFree(fresh);
	cr_assert_eq(sem_init(&h.done, 0, 0), 0);
	uint64_t before = mt_test_client_stats(f.r).connects;
	cr_assert_eq(mt_spawn(f.pool, handoff_task, &h), 0);
	mt_test_sem_wait(&h.done);
	cr_assert_eq(h.get_rc, 0);
	cr_assert_eq(h.get_ok, kv.n);
	cr_assert_eq(h.scan_rc, 0);
	cr_assert_eq(h.scan_n, kv.n);
	cr_assert_eq(h.map_rc, 0);
	cr_assert_eq(h.map_ok, kv.n);
	/* Relaxed: the task finished before the semaphore opened. */
	cr_assert_eq(atomic_load_explicit(&h.map_heap, memory_order_relaxed),
		     kv.n);
	/* The GET's share, the walk and the map used one connection (the
	 * one open made, handed to the worker from the free list). */
	cr_assert_eq(before, 1);
	cr_assert_eq(h.connects, 1);
	cr_assert_eq(h.fetch_rc, 0);
	cr_assert_eq(h.fetch_ok, kv.n);
	/* And from outside the pool, on connections the fetch shares gave
	 * back to the free list. */
	/* Relaxed: mt_redis_map orders its items' writes before it
	 * returns. */
	atomic_store_explicit(&h.map_heap, 0, memory_order_relaxed);
	int rc;
	cr_assert_eq(map_all(&h, &rc), kv.n);
	cr_assert_eq(rc, 0);
	cr_assert_eq(atomic_load_explicit(&h.map_heap, memory_order_relaxed),
		     kv.n);
	sem_destroy(&h.done);
	kv_free(&kv);
	fx_close(&f);
}

/* ----------------------------------------------- batches freed freely */

struct made_in_pool {
	struct fx *f;
	const struct kv *kv;
	mt_redis_batch *b;
	int rc;
	sem_t done;
};

static void get_task(void *arg)
{
	struct made_in_pool *m = arg;
	m->rc = mt_redis_get(m->f->r, m->kv->keys, m->kv->n, &m->b);
	sem_post(&m->done);
}

static void *free_main(void *arg)
{
	mt_redis_batch_free(arg);
	return NULL;
}

Test(replies, batches_are_freed_in_any_order_and_on_any_thread,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 3, 0, (mt_redis_options){.window = 64, .chunk_keys = 10});
	const size_t s1[] = {1, 40, 200}, s2[] = {64};
	struct kv kv1, kv2;
	kv_make(&kv1, "fa", MANY, s1, 3);
	kv_make(&kv2, "fb", MANY, s2, 1);
	set_all(&f, &kv1);
	set_all(&f, &kv2);
	nested_setup(f.adm);
	struct nested t;
	nested_make(&t, 3 * 50);

	/* Four batches alive at once, one made on a worker. */
	mt_redis_batch *b1, *b2, *b4;
	struct made_in_pool m = {.f = &f, .kv = &kv2};
	cr_assert_eq(sem_init(&m.done, 0, 0), 0);
	cr_assert_eq(mt_redis_get(f.r, kv1.keys, kv1.n, &b1), 0);
	cr_assert_eq(mt_redis_exec(f.r, t.items, t.n, &b2), 0);
	cr_assert_eq(mt_spawn(f.pool, get_task, &m), 0);
	mt_test_sem_wait(&m.done);
	cr_assert_eq(m.rc, 0);
	cr_assert_eq(mt_redis_get(f.r, kv1.keys, kv1.n, &b4), 0);
	check_get(b1, &kv1);
	check_nested(b2, &t);
	check_get(m.b, &kv2);
	check_get(b4, &kv1);

	/* Freed out of order (2, 3 on another thread, 1, 4), each survivor
	 * read again after each free: ASan sees any memory two batches
	 * shared, or a block freed with the wrong batch. */
	mt_redis_batch_free(b2);
	check_get(b1, &kv1);
	check_get(m.b, &kv2);
	check_get(b4, &kv1);
	pthread_t tid;
	cr_assert_eq(pthread_create(&tid, NULL, free_main, m.b), 0);
	cr_assert_eq(pthread_join(tid, NULL), 0);
	check_get(b1, &kv1);
	check_get(b4, &kv1);
	mt_redis_batch_free(b1);
	check_get(b4, &kv1);
	mt_redis_batch_free(b4);
	sem_destroy(&m.done);
	nested_free(&t);
	kv_free(&kv1);
	kv_free(&kv2);
	fx_close(&f);
}
