/*
 * tests/redis/test_background.c: the _async calls and mt_redis_flush.
 *
 * Counts are exact: after a flush, every op whose _async call returned
 * before it has its outcome counted, once, and its effect is in Redis.
 * The full queue (EAGAIN) is made deterministic by parking every worker
 * of the pool in a gate, so the drainer task cannot run until released.
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
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_THREAD (MT_TEST_SANITIZED ? 1000u : 5000u)
#define THREADS 4u

struct fx {
	struct mt_test_redis srv;
	mt_pool *pool;
	mt_redis *r;
	redisContext *adm;
};

static void fx_open(struct fx *f, size_t max_queued)
{
	mt_test_redis_start(&f->srv, NULL);
	f->pool = mt_test_pool(2);
	mt_redis_options o = {.pool = f->pool, .max_queued = max_queued};
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

/* The integer held by a string key. */
static long long get_ll(redisContext *adm, const char *key)
{
	redisReply *r = mt_test_redis_cmd(adm, "GET %s", key);
	cr_assert_eq(r->type, REDIS_REPLY_STRING, "%s is missing", key);
	long long v = strtoll(r->str, NULL, 10);
	freeReplyObject(r);
	return v;
}

static mt_redis_cmd cmd(mt_redis_bytes *argv, int argc, ...)
{
	va_list ap;
	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = mt_test_str(va_arg(ap, const char *));
	va_end(ap);
	return (mt_redis_cmd){argc, argv};
}

/* ------------------------------------------------ saves from threads */

struct saver {
	pthread_t tid;
	mt_redis *r;
	unsigned id;
	int rc;
};

static void *save_many(void *arg)
{
	struct saver *s = arg;
	for (unsigned i = 0; i < PER_THREAD && s->rc == 0; i++) {
		char key[32], val[32];
		snprintf(key, sizeof key, "t%u-%u", s->id, i);
		snprintf(val, sizeof val, "v%u", i);
		mt_redis_field f = {mt_test_str("f"), mt_test_str(val)};
		mt_redis_model m = {.model = mt_test_str("M"),
				    .key = mt_test_str(key),
				    .fields = &f,
				    .nfields = 1};
		/* Arguments are copied: key and val go out of scope. */
		s->rc = mt_redis_save_async(s->r, &m,
					    i % 2 ? MT_REDIS_ATOMIC : 0);
	}
	return NULL;
}

Test(background, saves_from_many_threads_then_flush_counts_exactly,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0);
	struct saver s[THREADS];
	for (unsigned t = 0; t < THREADS; t++) {
		s[t] = (struct saver){.r = f.r, .id = t};
		cr_assert_eq(pthread_create(&s[t].tid, NULL, save_many, &s[t]),
			     0);
	}
	for (unsigned t = 0; t < THREADS; t++) {
		cr_assert_eq(pthread_join(s[t].tid, NULL), 0);
		cr_assert_eq(s[t].rc, 0);
	}
	mt_redis_flush_report rep;
	cr_assert_eq(mt_redis_flush(f.r, &rep), 0, "%s", rep.last_error);
	cr_assert_eq(rep.done, THREADS * PER_THREAD);
	cr_assert_eq(rep.failed + rep.unknown, 0);
	cr_assert_str_eq(rep.last_error, "");
	cr_assert_eq(mt_test_redis_int(f.adm, "SCARD $Class:M"),
		     THREADS * PER_THREAD);
	redisReply *v =
		mt_test_redis_cmd(f.adm, "HGET M:t3-%d f", (int)PER_THREAD - 1);
	char want[32];
	snprintf(want, sizeof want, "v%u", PER_THREAD - 1);
	mt_test_assert_bytes(v, mt_test_str(want), 0);
	freeReplyObject(v);
	mt_redis_stats st;
	cr_assert_eq(mt_redis_stats_get(f.r, &st), 0);
	cr_assert_eq(st.bg_queued, THREADS * PER_THREAD);
	cr_assert_eq(st.bg_done, THREADS * PER_THREAD);
	/* Coalesced: far fewer connections than operations. */
	cr_assert_lt(st.connects, 16);
	/* A second flush reports only what came since: nothing. */
	cr_assert_eq(mt_redis_flush(f.r, &rep), 0);
	cr_assert_eq(rep.done, 0);
	fx_close(&f);
}

Test(background, flush_reports_failures_with_the_server_text,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0);
	mt_test_redis_ok(f.adm, "SET s str");
	mt_redis_bytes a[3][3];
	mt_redis_cmd ok = cmd(a[0], 3, "SET", "k", "1");
	mt_redis_cmd bad = cmd(a[1], 3, "LPUSH", "s", "x");
	mt_redis_cmd ok2 = cmd(a[2], 2, "INCR", "n");
	cr_assert_eq(mt_redis_command_async(f.r, &ok, MT_REDIS_IDEMPOTENT), 0);
	cr_assert_eq(mt_redis_command_async(f.r, &bad, 0), 0);
	cr_assert_eq(mt_redis_command_async(f.r, &ok2, 0), 0);
	mt_redis_flush_report rep;
	cr_assert_eq(mt_redis_flush(f.r, &rep), EIO);
	cr_assert_eq(rep.done, 2);
	cr_assert_eq(rep.failed, 1);
	cr_assert_eq(rep.unknown, 0);
	cr_assert_eq(strncmp(rep.last_error, "WRONGTYPE", 9), 0, "%s",
		     rep.last_error);
	mt_redis_stats st;
	mt_redis_stats_get(f.r, &st);
	cr_assert_eq(st.bg_failed, 1);
	/* Counted once: the next flush starts from zero. */
	cr_assert_eq(mt_redis_flush(f.r, &rep), 0);
	cr_assert_eq(rep.failed, 0);
	cr_assert_str_eq(rep.last_error, "");
	fx_close(&f);
}

Test(background, publish_async_messages_all_arrive,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0);
	redisContext *sub = mt_test_redis_admin(&f.srv);
	freeReplyObject(mt_test_redis_cmd(sub, "SUBSCRIBE news"));
	size_t n = 500;
	for (size_t i = 0; i < n; i++) {
		char msg[16];
		snprintf(msg, sizeof msg, "%zu", i);
		cr_assert_eq(mt_redis_publish_async(f.r, mt_test_str("news"),
						    mt_test_str(msg)),
			     0);
	}
	mt_redis_flush_report rep;
	cr_assert_eq(mt_redis_flush(f.r, &rep), 0);
	cr_assert_eq(rep.done, n);
	unsigned char *seen = calloc(n, 1);
	for (size_t k = 0; k < n; k++) {
		redisReply *m;
		cr_assert_eq(redisGetReply(sub, (void **)&m), REDIS_OK);
		size_t i = strtoul(m->element[2]->str, NULL, 10);
		cr_assert_lt(i, n);
		cr_assert_eq(seen[i]++, 0, "message %zu twice", i);
		freeReplyObject(m);
	}
	free(seen);
	redisFree(sub);
	fx_close(&f);
}

/* --------------------------------------------------- the queue bound */

static struct mt_test_gate gate;

static void gated(void *arg)
{
	(void)arg;
	mt_test_gate_enter(&gate);
}

Test(background, full_queue_is_eagain_and_nothing_is_lost,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 10);
	/* Every worker parked: the drainer cannot run. */
	mt_test_gate_init(&gate);
	mt_test_gate_block(&gate, f.pool, mt_pool_size(f.pool), gated);
	mt_redis_bytes a[3];
	mt_redis_cmd incr = cmd(a, 2, "INCR", "c");
	for (int i = 0; i < 10; i++)
		cr_assert_eq(mt_redis_command_async(f.r, &incr, 0), 0);
	cr_assert_eq(mt_redis_command_async(f.r, &incr, 0), EAGAIN);
	cr_assert_eq(mt_redis_publish_async(f.r, mt_test_str("c"),
					    mt_test_str("m")),
		     EAGAIN);
	mt_test_gate_open(&gate, mt_pool_size(f.pool));
	mt_redis_flush_report rep;
	cr_assert_eq(mt_redis_flush(f.r, &rep), 0);
	cr_assert_eq(rep.done, 10);
	cr_assert_eq(get_ll(f.adm, "c"), 10);
	/* Room again. */
	cr_assert_eq(mt_redis_command_async(f.r, &incr, 0), 0);
	cr_assert_eq(mt_redis_flush(f.r, &rep), 0);
	fx_close(&f);
}

/* ------------------------------------- flush under concurrent producers */

struct noise {
	pthread_t tid;
	mt_redis *r;
	atomic_int stop;
	size_t sent;
};

/* Far below max_queued (1M by default): an unbounded producer on a
 * loaded machine filled the queue, and the test's own calls then got the
 * documented EAGAIN. */
#define NOISE_MAX 200000

static void *make_noise(void *arg)
{
	struct noise *n = arg;
	mt_redis_bytes a[2];
	mt_redis_cmd incr = cmd(a, 2, "INCR", "noise");
	while (!atomic_load_explicit(&n->stop, memory_order_relaxed) &&
	       n->sent < NOISE_MAX)
		n->sent += mt_redis_command_async(n->r, &incr, 0) == 0;
	return NULL;
}

Test(background, flush_waits_for_everything_before_it_despite_producers,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0);
	struct noise n = {.r = f.r};
	cr_assert_eq(pthread_create(&n.tid, NULL, make_noise, &n), 0);
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 2000; i++) {
			char key[32];
			snprintf(key, sizeof key, "r%d-%d", round, i);
			mt_redis_bytes a[3];
			mt_redis_cmd set = cmd(a, 3, "SET", key, "1");
			cr_assert_eq(mt_redis_command_async(f.r, &set, 0), 0);
		}
		cr_assert_eq(mt_redis_flush(f.r, NULL), 0);
		/* Every SET queued before the flush has run. */
		for (int i = 0; i < 2000; i += 97)
			cr_assert_eq(mt_test_redis_int(f.adm, "EXISTS r%d-%d",
						       round, i),
				     1, "round %d key %d", round, i);
		cr_assert_eq(mt_test_redis_int(f.adm, "EXISTS r%d-1999", round),
			     1);
	}
	atomic_store_explicit(&n.stop, 1, memory_order_relaxed);
	cr_assert_eq(pthread_join(n.tid, NULL), 0);
	cr_assert_eq(mt_redis_flush(f.r, NULL), 0);
	redisReply *c = mt_test_redis_cmd(f.adm, "GET noise");
	cr_assert_eq(strtoull(c->str, NULL, 10), n.sent);
	freeReplyObject(c);
	fx_close(&f);
}

Test(background, close_waits_for_queued_operations,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0);
	mt_redis_bytes a[2];
	mt_redis_cmd incr = cmd(a, 2, "INCR", "c");
	for (int i = 0; i < 3000; i++)
		cr_assert_eq(mt_redis_command_async(f.r, &incr, 0), 0);
	cr_assert_eq(mt_redis_close(f.r), 0);
	f.r = NULL;
	cr_assert_eq(get_ll(f.adm, "c"), 3000);
	fx_close(&f);
}

Test(background, ops_on_a_dead_server_are_counted_failed,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0);
	redisFree(f.adm);
	mt_test_redis_kill(&f.srv);
	cr_assert_eq(mt_redis_publish_async(f.r, mt_test_str("c"),
					    mt_test_str("m")),
		     0);
	mt_redis_flush_report rep;
	cr_assert_eq(mt_redis_flush(f.r, &rep), EIO);
	cr_assert_eq(rep.failed, 1);
	cr_assert(strstr(rep.last_error, "not sent"), "%s", rep.last_error);
	cr_assert_eq(mt_redis_close(f.r), 0);
	cr_assert_eq(mt_pool_destroy(f.pool, MT_DRAIN), 0);
	mt_test_redis_stop(&f.srv);
}

/* A fault in the middle of a drain: the connection is killed (CLIENT
 * KILL) while the drainer's pipeline is in flight. Made deterministic as
 * in test_faults.c: one queued op is a BLPOP on a key nobody pushes to, so
 * the drainer blocks there with the SETs queued behind it already written;
 * the test kills once INFO shows the client blocked. Whatever else was
 * where, nothing is lost: every op has one outcome, the BLPOP (in flight,
 * not idempotent) is unknown, and every SET counted done is in Redis and
 * no SET counted failed ("not sent") is. */
#define AROUND_GATE (MT_TEST_SANITIZED ? 500u : 2000u)

static void queue_sets(mt_redis *r, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++) {
		char key[32];
		snprintf(key, sizeof key, "k%u", i);
		mt_redis_bytes a[3];
		mt_redis_cmd set = cmd(a, 3, "SET", key, "v");
		cr_assert_eq(mt_redis_command_async(r, &set,
						    MT_REDIS_IDEMPOTENT),
			     0);
	}
}

Test(background, connection_killed_mid_drain_loses_nothing,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0);
	queue_sets(f.r, 0, AROUND_GATE);
	mt_redis_bytes a[3];
	mt_redis_cmd blpop = cmd(a, 3, "BLPOP", "never-pushed", "0");
	cr_assert_eq(mt_redis_command_async(f.r, &blpop, 0), 0);
	queue_sets(f.r, AROUND_GATE, 2 * AROUND_GATE);
	const struct timespec poll = {.tv_sec = 0, .tv_nsec = 1000000};
	while (mt_test_redis_info(f.adm, "blocked_clients") < 1)
		nanosleep(&poll, NULL);
	cr_assert_geq(mt_test_redis_int(f.adm, "CLIENT KILL TYPE normal"), 1);

	mt_redis_flush_report rep;
	cr_assert_eq(mt_redis_flush(f.r, &rep), EIO);
	const uint64_t total = 2 * AROUND_GATE + 1;
	cr_assert_eq(rep.done + rep.failed + rep.unknown, total,
		     "%llu done + %llu failed + %llu unknown of %llu",
		     (unsigned long long)rep.done,
		     (unsigned long long)rep.failed,
		     (unsigned long long)rep.unknown,
		     (unsigned long long)total);
	cr_assert_geq(rep.unknown, 1, "the BLPOP was in flight");
	long long present = mt_test_redis_int(f.adm, "DBSIZE");
	/* Done SETs are in; unknown ones may be; "not sent" ones are not
	 * (the BLPOP's key is never created). */
	cr_assert_geq((uint64_t)present, rep.done);
	cr_assert_leq((uint64_t)present, rep.done + rep.unknown - 1);
	mt_redis_stats s;
	cr_assert_eq(mt_redis_stats_get(f.r, &s), 0);
	cr_assert_eq(s.bg_done + s.bg_failed + s.bg_unknown, total);
	cr_assert_geq(s.connection_errors, 1);
	fx_close(&f);
}

/* ------------------------------------------------------- bad calls */

struct in_task {
	mt_redis *r;
	int rc;
	sem_t done;
};

static void flush_in_task(void *arg)
{
	struct in_task *t = arg;
	t->rc = mt_redis_flush(t->r, NULL);
	sem_post(&t->done);
}

Test(background, bad_arguments_and_flush_from_the_pool,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	struct fx f;
	fx_open(&f, 0);
	mt_redis_bytes a[2];
	mt_redis_cmd c = cmd(a, 2, "INCR", "c"), none = {0, a};
	mt_redis_field fld = {mt_test_str("f"), mt_test_str("v")};
	mt_redis_model m = {.model = mt_test_str("M"),
			    .key = mt_test_str("k"),
			    .fields = &fld,
			    .nfields = 1};
	cr_assert_eq(mt_redis_save_async(NULL, &m, 0), EINVAL);
	cr_assert_eq(mt_redis_save_async(f.r, NULL, 0), EINVAL);
	cr_assert_eq(mt_redis_save_async(f.r, &m, 0x40), EINVAL);
	m.nfields = 0;
	cr_assert_eq(mt_redis_save_async(f.r, &m, 0), EINVAL);
	cr_assert_eq(mt_redis_command_async(f.r, NULL, 0), EINVAL);
	cr_assert_eq(mt_redis_command_async(f.r, &none, 0), EINVAL);
	cr_assert_eq(mt_redis_command_async(f.r, &c, MT_REDIS_ATOMIC), EINVAL);
	cr_assert_eq(mt_redis_publish_async(f.r, (mt_redis_bytes){NULL, 1},
					    mt_test_str("m")),
		     EINVAL);
	cr_assert_eq(mt_redis_flush(NULL, NULL), EINVAL);
	struct in_task t = {.r = f.r};
	cr_assert_eq(sem_init(&t.done, 0, 0), 0);
	cr_assert_eq(mt_spawn(f.pool, flush_in_task, &t), 0);
	mt_test_sem_wait(&t.done);
	cr_assert_eq(t.rc, EDEADLK);
	mt_redis_stats st;
	mt_redis_stats_get(f.r, &st);
	cr_assert_eq(st.bg_queued, 0);
	fx_close(&f);
}
