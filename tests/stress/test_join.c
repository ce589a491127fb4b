/*
 * tests/stress/test_join.c: every worker of a large pool joins a map.
 *
 * A map's participants are its caller and one join task per other worker
 * (pool/batch.h); until issue 10 a batch had at most 64 join tasks, so a
 * pool of more than 65 workers left the rest idle. Here a map on a
 * 200-worker pool must be joined by all of them, shown by a gate, not by
 * timing: the first item a participant runs registers its worker index and
 * then blocks until every expected participant has registered. If some
 * worker never joined, nobody would get past the gate and the test's
 * .timeout would fail it. Blocking in the first item holds each
 * participant to one join task (it cannot take a second), so the join
 * tasks must reach as many distinct workers as there are tasks.
 *
 * 200 threads on 2 CPUs is deliberate: most workers are parked when the
 * map starts, so the tree of join tasks has to wake them.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <mtpool/mtpool.h>

#include "../common/mt_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WIDE_POOL 200u
#define CALLER WIDE_POOL /* the slot of a caller that is no worker */

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t all_in;
	unsigned expected; /* participants that must register */
	unsigned arrived;  /* under lock */
	unsigned char seen[WIDE_POOL + 1];
	_Atomic unsigned char *hits; /* hits[i]: runs of item i */
	size_t n;
};

static struct gate gate;

static void gate_init(unsigned expected, size_t n)
{
	memset(&gate, 0, sizeof gate);
	cr_assert_eq(pthread_mutex_init(&gate.lock, NULL), 0);
	cr_assert_eq(pthread_cond_init(&gate.all_in, NULL), 0);
	gate.expected = expected;
	gate.n = n;
	gate.hits = calloc(n, 1);
	cr_assert_not_null(gate.hits);
}

static void gate_destroy(void)
{
	pthread_cond_destroy(&gate.all_in);
	pthread_mutex_destroy(&gate.lock);
	free((void *)gate.hits);
}

/* The map's body: on a participant's first item, register and wait for
 * all. Later items of the same participant pass straight through. */
static void body(size_t i, void *ctx)
{
	(void)ctx;
	int w = mt_worker_index();
	unsigned slot = w < 0 ? CALLER : (unsigned)w;
	atomic_fetch_add_explicit(&gate.hits[i], 1, memory_order_relaxed);
	pthread_mutex_lock(&gate.lock);
	if (!gate.seen[slot]) {
		gate.seen[slot] = 1;
		if (++gate.arrived == gate.expected)
			pthread_cond_broadcast(&gate.all_in);
	}
	while (gate.arrived < gate.expected)
		pthread_cond_wait(&gate.all_in, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
}

/* After the map: every item once, the expected participants seen. */
static void check_gate(int caller_is_worker)
{
	for (size_t i = 0; i < gate.n; i++)
		cr_assert_eq(atomic_load(&gate.hits[i]), 1, "item %zu ran %u",
			     i, (unsigned)atomic_load(&gate.hits[i]));
	unsigned workers = 0;
	for (unsigned w = 0; w < WIDE_POOL; w++)
		workers += gate.seen[w];
	cr_assert_eq(workers, WIDE_POOL - (caller_is_worker ? 0u : 1u),
		     "workers that joined");
	cr_assert_eq(gate.seen[CALLER], caller_is_worker ? 0 : 1);
	cr_assert_eq(gate.arrived, gate.expected);
}

static _Atomic int task_rc = -1;

static void map_from_a_task(void *arg)
{
	size_t n = (size_t)(uintptr_t)arg;
	atomic_store(&task_rc, mt_for(mt_current_pool(), n, body, NULL));
}

Test(join, a_map_from_a_task_is_joined_by_every_worker_of_200, .timeout = 60)
{
	mt_pool *p = mt_test_pool(WIDE_POOL);
	size_t n = 20 * WIDE_POOL;
	gate_init(WIDE_POOL, n);
	(void)mt_test_wait_all_parked(p, 1000000);
	cr_assert_eq(mt_spawn(p, map_from_a_task, (void *)(uintptr_t)n), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&task_rc), 0);
	check_gate(1);
	/* 199 join tasks joined (the stats count those), on 199 workers. */
	cr_assert_geq(mt_test_stats(p).tasks_run, 1 + (WIDE_POOL - 1));
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	gate_destroy();
}

Test(join, a_map_from_outside_is_joined_by_199_workers_and_the_caller,
     .timeout = 60)
{
	mt_pool *p = mt_test_pool(WIDE_POOL);
	size_t n = 20 * WIDE_POOL;
	gate_init(WIDE_POOL, n); /* 199 workers and the caller */
	(void)mt_test_wait_all_parked(p, 1000000);
	cr_assert_eq(mt_for(p, n, body, NULL), 0);
	check_gate(0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	gate_destroy();
}

/* Never more participants than items: 10 items, so at most 9 join tasks
 * and 10 participants. */
static _Atomic unsigned small_participants;
static unsigned char small_seen[WIDE_POOL + 1];

static void small_body(size_t i, void *ctx)
{
	(void)i;
	(void)ctx;
	int w = mt_worker_index();
	unsigned slot = w < 0 ? CALLER : (unsigned)w;
	pthread_mutex_lock(&gate.lock);
	if (!small_seen[slot]) {
		small_seen[slot] = 1;
		atomic_fetch_add(&small_participants, 1);
	}
	pthread_mutex_unlock(&gate.lock);
}

Test(join, a_10_item_map_on_200_workers_has_at_most_10_participants,
     .timeout = 60)
{
	mt_pool *p = mt_test_pool(WIDE_POOL);
	gate_init(1, 1);
	for (int round = 0; round < 50; round++) {
		memset(small_seen, 0, sizeof small_seen);
		atomic_store(&small_participants, 0);
		cr_assert_eq(mt_for(p, 10, small_body, NULL), 0);
		cr_assert_leq(atomic_load(&small_participants), 10);
		cr_assert_geq(atomic_load(&small_participants), 1);
	}
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	gate_destroy();
}

/* Many maps on a wide pool, some of whose join tasks are cancelled before
 * any worker picks them up: nothing hangs, each item runs once, and the
 * cancelled tasks are freed by destroy (ASan's leak check). */
static _Atomic unsigned long sum;

static void add_index(size_t i, void *ctx)
{
	(void)ctx;
	atomic_fetch_add_explicit(&sum, i, memory_order_relaxed);
}

Test(join, back_to_back_maps_on_200_workers_run_each_item_once, .timeout = 60)
{
	mt_pool *p = mt_test_pool(WIDE_POOL);
	size_t n = 5000;
	for (int round = 0; round < (MT_TEST_SANITIZED ? 20 : 200); round++) {
		atomic_store(&sum, 0);
		cr_assert_eq(mt_for(p, n, add_index, NULL), 0);
		cr_assert_eq(atomic_load(&sum), n * (n - 1) / 2);
	}
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}
