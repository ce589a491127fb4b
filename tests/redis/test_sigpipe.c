/*
 * tests/redis/test_sigpipe.c: hiredis 0.14 writes with write(2), so a
 * write to a server that is gone raises SIGPIPE, whose default action
 * kills the process. These tests keep SIGPIPE at its default disposition,
 * unblocked, make the library write a large pipeline to a server that
 * has died, and check that the process survives, that a SIGPIPE really
 * was raised and consumed by the library (its test counter), and that the
 * disposition, the thread's mask and the pending set are as before.
 *
 * The server dies deterministically before the bulk of the write: over
 * the unix socket (where every write to a closed peer is EPIPE), the
 * first item of the call is SHUTDOWN NOSAVE and behind it come megabytes
 * of SETs that cannot all fit in the socket buffer; for the map, the
 * function itself shuts the server down, waits until it is gone, and only
 * then writes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <mtpool/redis.h>

#include "../common/mt_test.h"
#include "../common/redis_server.h"
#include "../common/redis_util.h"
#include "sigpipe.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BIG (1u << 20)
#define NBIG 16u

struct sigstate {
	struct sigaction act;
	sigset_t mask, pending;
};

static struct sigstate sig_now(void)
{
	struct sigstate s;
	cr_assert_eq(sigaction(SIGPIPE, NULL, &s.act), 0);
	cr_assert_eq(pthread_sigmask(SIG_BLOCK, NULL, &s.mask), 0);
	cr_assert_eq(sigpending(&s.pending), 0);
	return s;
}

static void assert_same(const struct sigstate *a, const struct sigstate *b)
{
	cr_assert_eq(a->act.sa_handler, b->act.sa_handler,
		     "SIGPIPE's disposition changed");
	cr_assert_eq(sigismember(&a->mask, SIGPIPE),
		     sigismember(&b->mask, SIGPIPE), "the mask changed");
	cr_assert_eq(sigismember(&a->pending, SIGPIPE),
		     sigismember(&b->pending, SIGPIPE),
		     "the pending set changed");
}

/* SIGPIPE at its default action and unblocked in this thread, before
 * the pool exists (its workers inherit this mask). */
static void default_sigpipe(void)
{
	cr_assert_neq(signal(SIGPIPE, SIG_DFL), SIG_ERR);
	sigset_t pipe;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	cr_assert_eq(pthread_sigmask(SIG_UNBLOCK, &pipe, NULL), 0);
}

struct fx {
	struct mt_test_redis srv;
	mt_pool *pool;
	mt_redis *r;
	char *big;
	mt_redis_bytes argv[NBIG + 1][3];
	mt_redis_cmd cmds[NBIG + 1];
	mt_redis_item items[NBIG + 1];
};

static void fx_open(struct fx *f)
{
	mt_test_redis_start(&f->srv, NULL);
	f->pool = mt_test_pool(2);
	mt_redis_options o = {.pool = f->pool};
	f->r = mt_test_client(f->srv.unix_uri, &o);
	f->big = malloc(BIG);
	cr_assert_not_null(f->big);
	memset(f->big, 'x', BIG);
	/* SHUTDOWN NOSAVE, then NBIG SETs of 1 MiB. */
	f->argv[0][0] = mt_test_str("SHUTDOWN");
	f->argv[0][1] = mt_test_str("NOSAVE");
	f->cmds[0] = (mt_redis_cmd){2, f->argv[0]};
	for (size_t i = 1; i <= NBIG; i++) {
		f->argv[i][0] = mt_test_str("SET");
		f->argv[i][1] = mt_test_str("big");
		f->argv[i][2] = (mt_redis_bytes){f->big, BIG};
		f->cmds[i] = (mt_redis_cmd){3, f->argv[i]};
	}
	for (size_t i = 0; i <= NBIG; i++)
		f->items[i] = (mt_redis_item){&f->cmds[i], 1, 0, {0}};
}

static void fx_close(struct fx *f)
{
	cr_assert_eq(mt_redis_close(f->r), 0);
	cr_assert_eq(mt_pool_destroy(f->pool, MT_DRAIN), 0);
	free(f->big);
	mt_test_redis_stop(&f->srv);
}

/* The call: the server exits on item 0, the rest of the write hits a
 * closed socket. Every item ends UNKNOWN or FAILED, none is lost. */
static void shutdown_then_write(struct fx *f)
{
	mt_redis_batch *b;
	cr_assert_eq(mt_redis_exec(f->r, f->items, NBIG + 1, &b), 0);
	cr_assert_eq(b->done, 0);
	cr_assert_eq(b->failed + b->unknown, NBIG + 1);
	cr_assert_eq(b->results[0].status, MT_REDIS_UNKNOWN);
	mt_redis_batch_free(b);
}

Test(sigpipe, write_to_a_dead_server_leaves_default_sigpipe_alone,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	default_sigpipe();
	struct fx f;
	fx_open(&f);
	struct sigstate before = sig_now();
	unsigned long consumed = mt__redis_sigpipe_consumed();

	shutdown_then_write(&f);

	/* Still alive here, and a SIGPIPE really was raised. */
	cr_assert_gt(mt__redis_sigpipe_consumed(), consumed,
		     "no SIGPIPE was raised: the test proved nothing");
	struct sigstate after = sig_now();
	assert_same(&before, &after);
	cr_assert_eq(after.act.sa_handler, SIG_DFL);
	fx_close(&f);
}

Test(sigpipe, an_application_sigpipe_pending_before_stays_pending,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	default_sigpipe();
	struct fx f;
	fx_open(&f);
	/* The application blocks SIGPIPE and has one pending. */
	sigset_t pipe;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	cr_assert_eq(pthread_sigmask(SIG_BLOCK, &pipe, NULL), 0);
	cr_assert_eq(pthread_kill(pthread_self(), SIGPIPE), 0);
	struct sigstate before = sig_now();
	cr_assert(sigismember(&before.pending, SIGPIPE));
	unsigned long consumed = mt__redis_sigpipe_consumed();

	shutdown_then_write(&f);

	/* The guard could not tell its SIGPIPE from the application's, so
	 * it consumed none: the application's is still there. */
	cr_assert_eq(mt__redis_sigpipe_consumed(), consumed);
	struct sigstate after = sig_now();
	assert_same(&before, &after);
	const struct timespec zero = {0, 0};
	cr_assert_eq(sigtimedwait(&pipe, NULL, &zero), SIGPIPE);
	fx_close(&f);
}

/* The map's function shuts the server down, waits until its socket
 * refuses connections, then writes a large pipeline on its connection. */
static void *shutdown_in_fn(redisContext *c, void *param, void *ctx)
{
	const struct fx *f = ctx;
	(void)param;
	redisAppendCommand(c, "SHUTDOWN NOSAVE");
	int done = 0;
	while (!done && redisBufferWrite(c, &done) == REDIS_OK)
		;
	for (;;) {
		redisContext *probe = redisConnectUnix(f->srv.sock);
		int gone = !probe || probe->err;
		redisFree(probe);
		if (gone)
			break;
		sched_yield();
	}
	for (size_t i = 0; i < NBIG; i++)
		redisAppendCommand(c, "SET big %b", f->big, (size_t)BIG);
	void *reply = NULL;
	redisGetReply(c, &reply);
	return reply; /* NULL: the write failed */
}

Test(sigpipe, map_function_writing_to_a_dead_server_survives,
     .timeout = MT_TEST_REDIS_TIMEOUT)
{
	default_sigpipe();
	struct fx f;
	fx_open(&f);
	struct sigstate before = sig_now();
	unsigned long consumed = mt__redis_sigpipe_consumed();
	void *param = NULL, *result = &param;
	size_t not_run = 9;
	cr_assert_eq(mt_redis_map(f.r, shutdown_in_fn, &param, &result, 1, &f,
				  &not_run),
		     0);
	cr_assert_eq(not_run, 0);
	cr_assert_null(result);
	cr_assert_gt(mt__redis_sigpipe_consumed(), consumed);
	struct sigstate after = sig_now();
	assert_same(&before, &after);
	fx_close(&f);
}
