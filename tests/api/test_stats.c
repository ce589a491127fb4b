/*
 * tests/api/test_stats.c: mt_pool_stats counters.
 *
 * Only what the header promises is asserted: totals are individually
 * exact, snapshots are snapshots. Idle parking is observed by polling the
 * workers_parked snapshot (a state check with a short nanosleep between
 * polls, no wall-clock assertion; the test's .timeout fails a pool whose
 * workers never park).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_getname_np, pthread_barrier_t under -std=c11 */
#endif
#include <criterion/criterion.h>
#include <mtpool/mtpool.h>

#include "../common/mt_test.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

static atomic_uint counter;

static void count(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
}

#define K 5000

Test(stats, NULL_out_is_EINVAL, .timeout = 60)
{
	mt_pool *p = mt_test_pool(1);
	cr_assert_eq(mt_pool_stats(p, NULL), EINVAL);
	cr_assert_eq(mt_pool_stats(NULL, NULL), EINVAL);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(stats, fresh_pool_counts_nothing, .timeout = 60)
{
	mt_pool *p = mt_test_pool(3);
	mt_stats s = mt_test_stats(p);
	cr_assert_eq(s.workers, 3);
	cr_assert_eq(s.tasks_run, 0);
	cr_assert_eq(s.tasks_detached, 0);
	cr_assert_eq(s.steals, 0);
	cr_assert_eq(s.injected, 0);
	cr_assert_eq(s.inline_runs, 0);
	cr_assert_eq(s.discarded, 0);
	cr_assert_eq(s.queued, 0);
	cr_assert_leq(s.workers_parked, s.workers);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(stats, after_K_detached_tasks_and_quiesce, .timeout = 60)
{
	mt_pool *p = mt_test_pool(3);
	for (int i = 0; i < K; i++)
		cr_assert_eq(mt_spawn(p, count, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	mt_stats s = mt_test_stats(p);
	cr_assert_eq(atomic_load(&counter), K);
	cr_assert_geq(s.tasks_run, K, "tasks_run %llu",
		      (unsigned long long)s.tasks_run);
	cr_assert_eq(s.tasks_detached, K, "tasks_detached %llu",
		     (unsigned long long)s.tasks_detached);
	/* All K came from this (non-worker) thread. */
	cr_assert_eq(s.injected, K, "injected %llu",
		     (unsigned long long)s.injected);
	cr_assert_eq(s.queued, 0, "queued %llu after quiesce",
		     (unsigned long long)s.queued);
	cr_assert_eq(s.discarded, 0);
	cr_assert_eq(s.workers, 3);
	cr_assert_leq(s.inline_runs, s.tasks_run);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(stats, spawn_copy_counts_as_detached, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	char buf[200] = {0};
	for (int i = 0; i < 100; i++)
		cr_assert_eq(mt_spawn_copy(p, count, buf, (size_t)i * 2u), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	mt_stats s = mt_test_stats(p);
	cr_assert_eq(s.tasks_detached, 100);
	cr_assert_geq(s.tasks_run, 100);
	cr_assert_eq(s.queued, 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* Tasks spawned by tasks are detached too, but not injected. */
static void spawn_ten(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++)
		mt_spawn(mt_current_pool(), count, NULL);
}

Test(stats, worker_spawns_are_detached_but_not_injected, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(mt_spawn(p, spawn_ten, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&counter), 1000);
	mt_stats s = mt_test_stats(p);
	cr_assert_eq(s.tasks_detached, 1100);
	cr_assert_eq(s.injected, 100);
	cr_assert_geq(s.tasks_run, 1100);
	cr_assert_eq(s.queued, 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* queued counts accepted-but-unfinished detached tasks: with every worker
 * gated, exactly the gated tasks plus those behind them. */
static struct mt_test_gate gate;

static void blocker(void *arg)
{
	(void)arg;
	mt_test_gate_enter(&gate);
}

Test(stats, queued_counts_running_and_waiting_detached_tasks, .timeout = 60)
{
	mt_test_gate_init(&gate);
	mt_pool *p = mt_test_pool(2);
	mt_test_gate_block(&gate, p, 2, blocker);
	for (int i = 0; i < 50; i++)
		cr_assert_eq(mt_spawn(p, count, NULL), 0);
	mt_stats s = mt_test_stats(p);
	cr_assert_eq(s.queued, 52, "queued %llu", (unsigned long long)s.queued);
	cr_assert_eq(s.tasks_detached, 52);
	cr_assert_eq(s.workers_parked, 0,
		     "a worker is parked while running a task");
	mt_test_gate_open(&gate, 2);
	cr_assert_eq(mt_quiesce(p), 0);
	s = mt_test_stats(p);
	cr_assert_eq(s.queued, 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(stats, idle_workers_all_park, .timeout = 60)
{
	mt_pool *p = mt_test_pool(4);
	for (int i = 0; i < K; i++)
		cr_assert_eq(mt_spawn(p, count, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	mt_stats s = mt_test_wait_all_parked(p, 1000000);
	cr_assert_eq(s.workers, 4);
	cr_assert_eq(s.workers_parked, 4);
	cr_assert_geq(s.parks, 1);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(stats, fresh_pool_workers_park_without_work, .timeout = 60)
{
	mt_pool *p = mt_test_pool(3);
	mt_stats s = mt_test_wait_all_parked(p, 1000000);
	cr_assert_geq(s.parks, 3, "parks %llu with all 3 parked",
		      (unsigned long long)s.parks);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* A parked pool wakes for new work, then parks again: wakes and parks both
 * grow. */
Test(stats, parked_pool_wakes_for_work_and_parks_again, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	mt_stats before = mt_test_wait_all_parked(p, 1000000);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(mt_spawn(p, count, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&counter), 100);
	mt_stats after = mt_test_wait_all_parked(p, 1000000);
	cr_assert_gt(after.wakes, before.wakes, "no wake-up counted");
	cr_assert_gt(after.parks, before.parks, "no new park counted");
	cr_assert_geq(after.tasks_run, 100);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* Counters only grow. */
Test(stats, totals_never_decrease, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	mt_stats prev = mt_test_stats(p);
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 100; i++)
			cr_assert_eq(mt_spawn(p, count, NULL), 0);
		mt_stats s = mt_test_stats(p);
		cr_assert_geq(s.tasks_run, prev.tasks_run);
		cr_assert_geq(s.tasks_detached, prev.tasks_detached);
		cr_assert_geq(s.steals, prev.steals);
		cr_assert_geq(s.injected, prev.injected);
		cr_assert_geq(s.parks, prev.parks);
		cr_assert_geq(s.wakes, prev.wakes);
		cr_assert_leq(s.queued, s.tasks_detached);
		cr_assert_leq(s.workers_parked, s.workers);
		prev = s;
	}
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* Map pieces are fork-join work: they never show up as detached or
 * queued. */
static void *ident(void *x)
{
	return x;
}

Test(stats, map_pieces_are_not_detached, .timeout = 60)
{
	enum {
		M = 100000
	};
	static void *params[M], *results[M];
	mt_pool *p = mt_test_pool(2);
	mt_stats before = mt_test_stats(p);
	cr_assert_eq(mt_map(p, ident, params, results, M), 0);
	mt_stats s = mt_test_stats(p);
	cr_assert_eq(s.tasks_detached, before.tasks_detached);
	cr_assert_eq(s.queued, 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(stats, NULL_pool_means_default_pool, .timeout = 60)
{
	cr_assert_eq(setenv("MTPOOL_THREADS", "2", 1), 0);
	mt_stats s;
	cr_assert_eq(mt_pool_stats(NULL, &s), 0);
	cr_assert_eq(s.workers, 2);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(mt_spawn(NULL, count, NULL), 0);
	cr_assert_eq(mt_quiesce(NULL), 0);
	cr_assert_eq(mt_pool_stats(NULL, &s), 0);
	cr_assert_eq(s.tasks_detached, 10);
}

/* No thundering herd: one task for a parked pool of eight wakes exactly
 * one worker (park.c: wake-one, and the woken worker wakes another only
 * if more work is visible). */
Test(stats, one_spawn_to_a_parked_pool_wakes_exactly_one_worker, .timeout = 60)
{
	mt_pool *p = mt_test_pool(8);
	for (int round = 0; round < 20; round++) {
		mt_stats before = mt_test_wait_all_parked(p, 1000000);
		cr_assert_eq(mt_spawn(p, count, NULL), 0);
		cr_assert_eq(mt_quiesce(p), 0);
		mt_stats after = mt_test_wait_all_parked(p, 1000000);
		cr_assert_eq(after.wakes - before.wakes, 1,
			     "round %d: %llu wakes for one task", round,
			     (unsigned long long)(after.wakes - before.wakes));
	}
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

static void nop_index(size_t i, void *ctx)
{
	(void)i;
	(void)ctx;
}

/* A join task whose map's caller ran out of chunks first is cancelled
 * (batch.c), and freeing it is no work: the worker that dequeues it wakes
 * nobody for it. Before worker.c knew that, a burst of maps from outside
 * the pool left cancelled joins in the injection queue, and a worker that
 * found one as the last searcher woke a sleeper that found nothing: a wake
 * after every worker was parked and nothing was submitted. Once every
 * worker is parked at one instant after a burst, no wake-up may follow. */
Test(stats, cancelled_join_tasks_wake_nobody, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	for (int round = 0; round < 30; round++) {
		for (int k = 0; k < 100; k++)
			cr_assert_eq(mt_for(p, 64, nop_index, NULL), 0);
		mt_stats parked = mt_test_wait_all_parked(p, 0);
		/* A window for a worker still on its way out of a wait to
		 * run: the assertion holds however long it is. */
		const struct timespec window = {.tv_sec = 0,
						.tv_nsec = 5000000};
		nanosleep(&window, NULL);
		mt_stats later = mt_test_wait_all_parked(p, 1000000);
		cr_assert_eq(later.wakes - parked.wakes, 0,
			     "round %d: %llu wakes with nothing submitted",
			     round,
			     (unsigned long long)(later.wakes - parked.wakes));
	}
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}
