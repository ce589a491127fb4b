/*
 * tests/api/test_nested.c: nested fork-join never deadlocks and stays
 * within stack bounds.
 *
 * The header promises that a worker blocked in mt_map / mt_for /
 * mt_group_wait runs other tasks, "so nested parallelism never deadlocks,
 * even on a one-thread pool". On a one-thread pool the single worker must
 * run every inner level itself while its outer frame waits, so a design that
 * merely blocks deadlocks here (the test's .timeout turns that into a
 * failure). The 2,000-deep chain checks the "waiting is bounded in stack"
 * claim: each level waits on a group whose only task spawns the next level.
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

/* ---- map inside map inside map ----------------------------------------- */

/* Level sizes chosen so that each level is split into several pieces (more
 * than one worker's worth) while the whole tree stays small:
 * 6 * 7 * 65 = 2730 leaves. */
#define N_OUTER 6
#define N_MIDDLE 7
#define N_INNER 65

static atomic_int nested_errors;
static mt_pool *pool_under_test;

/* Leaf value: a function of all three indices. */
static uintptr_t leaf(uintptr_t a, uintptr_t b, uintptr_t c)
{
	return a * 1000003u + b * 1009u + c * 7u + 1u;
}

/* param encodes (a << 32 | b << 16 | c). */
static void *inner_fn(void *param)
{
	uintptr_t x = (uintptr_t)param;
	return (void *)leaf(x >> 32, (x >> 16) & 0xffff, x & 0xffff);
}

static void *middle_fn(void *param)
{
	uintptr_t x = (uintptr_t)param;
	void *params[N_INNER], *results[N_INNER];
	for (uintptr_t c = 0; c < N_INNER; c++) {
		params[c] = (void *)(x | c);
		results[c] = NULL;
	}
	/* Not mt_current_pool(): when the main thread runs a piece of the
	 * outer map itself it is no worker, and NULL would mean the default
	 * pool. Every level must stay on the pool under test. */
	if (mt_map(pool_under_test, inner_fn, params, results, N_INNER) != 0)
		atomic_fetch_add(&nested_errors, 1);
	uintptr_t sum = 0;
	for (uintptr_t c = 0; c < N_INNER; c++)
		sum += (uintptr_t)results[c];
	return (void *)sum;
}

static void *outer_fn(void *param)
{
	uintptr_t a = (uintptr_t)param;
	void *params[N_MIDDLE], *results[N_MIDDLE];
	for (uintptr_t b = 0; b < N_MIDDLE; b++) {
		params[b] = (void *)(a << 32 | b << 16);
		results[b] = NULL;
	}
	if (mt_map(pool_under_test, middle_fn, params, results, N_MIDDLE) != 0)
		atomic_fetch_add(&nested_errors, 1);
	uintptr_t sum = 0;
	for (uintptr_t b = 0; b < N_MIDDLE; b++)
		sum += (uintptr_t)results[b];
	return (void *)sum;
}

static uintptr_t expected_outer(uintptr_t a)
{
	uintptr_t sum = 0;
	for (uintptr_t b = 0; b < N_MIDDLE; b++)
		for (uintptr_t c = 0; c < N_INNER; c++)
			sum += leaf(a, b, c);
	return sum;
}

/* The outer map runs from inside a detached task so every level is a map
 * issued from a worker of the pool: the worker's wait must help. */
static atomic_int outer_rc = -1;
static void *outer_results[N_OUTER];

static void three_deep_from_task(void *arg)
{
	(void)arg;
	void *params[N_OUTER];
	for (uintptr_t a = 0; a < N_OUTER; a++)
		params[a] = (void *)a;
	atomic_store(&outer_rc, mt_map(pool_under_test, outer_fn, params,
				       outer_results, N_OUTER));
}

static void check_three_deep_from_task(unsigned threads)
{
	pool_under_test = mt_test_pool(threads);
	cr_assert_eq(mt_spawn(pool_under_test, three_deep_from_task, NULL), 0);
	cr_assert_eq(mt_quiesce(pool_under_test), 0);
	cr_assert_eq(atomic_load(&outer_rc), 0);
	cr_assert_eq(atomic_load(&nested_errors), 0);
	for (uintptr_t a = 0; a < N_OUTER; a++)
		cr_assert_eq((uintptr_t)outer_results[a], expected_outer(a),
			     "outer %zu", (size_t)a);
	cr_assert_eq(mt_pool_destroy(pool_under_test, MT_DRAIN), 0);
}

/* The outer map issued from the main thread; the middle and inner maps then
 * run on workers (or on the main thread when it runs a piece itself). */
static void check_three_deep_from_main(unsigned threads)
{
	pool_under_test = mt_test_pool(threads);
	void *params[N_OUTER], *results[N_OUTER];
	for (uintptr_t a = 0; a < N_OUTER; a++)
		params[a] = (void *)a;
	cr_assert_eq(
		mt_map(pool_under_test, outer_fn, params, results, N_OUTER), 0);
	cr_assert_eq(atomic_load(&nested_errors), 0);
	for (uintptr_t a = 0; a < N_OUTER; a++)
		cr_assert_eq((uintptr_t)results[a], expected_outer(a),
			     "outer %zu", (size_t)a);
	cr_assert_eq(mt_pool_destroy(pool_under_test, MT_DRAIN), 0);
}

Test(nested_map, three_deep_from_a_task_on_one_thread_pool, .timeout = 60)
{
	check_three_deep_from_task(1);
}

Test(nested_map, three_deep_from_a_task_on_two_thread_pool, .timeout = 60)
{
	check_three_deep_from_task(2);
}

Test(nested_map, three_deep_from_main_on_one_thread_pool, .timeout = 60)
{
	check_three_deep_from_main(1);
}

Test(nested_map, three_deep_from_main_on_two_thread_pool, .timeout = 60)
{
	check_three_deep_from_main(2);
}

/* The same shape with mt_for at the middle level, mixing the two. */
struct for_ctx {
	uintptr_t a;
	uintptr_t sums[N_MIDDLE];
};

static void middle_body(size_t b, void *ctx)
{
	struct for_ctx *c = ctx;
	c->sums[b] =
		(uintptr_t)middle_fn((void *)(c->a << 32 | (uintptr_t)b << 16));
}

static void *outer_for_fn(void *param)
{
	struct for_ctx c = {.a = (uintptr_t)param};
	if (mt_for(pool_under_test, N_MIDDLE, middle_body, &c) != 0)
		atomic_fetch_add(&nested_errors, 1);
	uintptr_t sum = 0;
	for (int b = 0; b < N_MIDDLE; b++)
		sum += c.sums[b];
	return (void *)sum;
}

static void three_deep_mixed_from_task(void *arg)
{
	(void)arg;
	void *params[N_OUTER];
	for (uintptr_t a = 0; a < N_OUTER; a++)
		params[a] = (void *)a;
	atomic_store(&outer_rc, mt_map(pool_under_test, outer_for_fn, params,
				       outer_results, N_OUTER));
}

Test(nested_map, map_for_map_from_a_task_on_one_thread_pool, .timeout = 60)
{
	pool_under_test = mt_test_pool(1);
	cr_assert_eq(
		mt_spawn(pool_under_test, three_deep_mixed_from_task, NULL), 0);
	cr_assert_eq(mt_quiesce(pool_under_test), 0);
	cr_assert_eq(atomic_load(&outer_rc), 0);
	cr_assert_eq(atomic_load(&nested_errors), 0);
	for (uintptr_t a = 0; a < N_OUTER; a++)
		cr_assert_eq((uintptr_t)outer_results[a], expected_outer(a));
	cr_assert_eq(mt_pool_destroy(pool_under_test, MT_DRAIN), 0);
}

/* ---- a chain of 2,000 nested group waits ------------------------------- */

#define CHAIN 2000

static atomic_int chain_max_depth;
static atomic_int chain_errors;

/* Task i: a new group on its own stack, spawn task i+1 into it, wait. The
 * chain is only finished when the innermost task returns, so every level's
 * wait is active at once: on a one-thread pool all 2,000 waits are stacked
 * on the one worker. The pool is pool_under_test, not mt_current_pool(): a
 * waiting main thread may run a group task itself and is no worker. */
static void chain_link(void *arg)
{
	uintptr_t depth = (uintptr_t)arg;
	int seen = atomic_load(&chain_max_depth);
	while ((uintptr_t)seen < depth &&
	       !atomic_compare_exchange_weak(&chain_max_depth, &seen,
					     (int)depth))
		;
	if (depth == CHAIN)
		return;
	mt_group g;
	if (mt_group_init(&g, pool_under_test) != 0 ||
	    mt_group_spawn(&g, chain_link, (void *)(depth + 1)) != 0) {
		atomic_fetch_add(&chain_errors, 1);
		return;
	}
	if (mt_group_wait(&g) != 0)
		atomic_fetch_add(&chain_errors, 1);
}

static void check_chain(unsigned threads)
{
	mt_pool *p = pool_under_test = mt_test_pool(threads);
	mt_group g;
	cr_assert_eq(mt_group_init(&g, p), 0);
	cr_assert_eq(mt_group_spawn(&g, chain_link, (void *)(uintptr_t)1), 0);
	cr_assert_eq(mt_group_wait(&g), 0);
	cr_assert_eq(atomic_load(&chain_errors), 0);
	cr_assert_eq(atomic_load(&chain_max_depth), CHAIN);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(nested_group, chain_of_2000_waits_finishes_on_one_thread_pool,
     .timeout = 60)
{
	check_chain(1);
}

Test(nested_group, chain_of_2000_waits_finishes_on_two_thread_pool,
     .timeout = 60)
{
	check_chain(2);
}

/* Same chain started from a detached task, so level 0 is a worker too. */
static void chain_root(void *arg)
{
	(void)arg;
	chain_link((void *)(uintptr_t)1);
}

Test(nested_group, chain_of_2000_waits_from_a_task_on_one_thread_pool,
     .timeout = 60)
{
	mt_pool *p = pool_under_test = mt_test_pool(1);
	cr_assert_eq(mt_spawn(p, chain_root, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&chain_errors), 0);
	cr_assert_eq(atomic_load(&chain_max_depth), CHAIN);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* Several chains at once on a two-thread pool: helpers must interleave
 * chains without losing any. */
#define CHAINS 4

static void chain_root_group(void *arg)
{
	(void)arg;
	chain_link((void *)(uintptr_t)1);
}

Test(nested_group, four_concurrent_chains_finish_on_two_thread_pool,
     .timeout = 60)
{
	mt_pool *p = pool_under_test = mt_test_pool(2);
	mt_group g;
	cr_assert_eq(mt_group_init(&g, p), 0);
	for (int i = 0; i < CHAINS; i++)
		cr_assert_eq(mt_group_spawn(&g, chain_root_group, NULL), 0);
	cr_assert_eq(mt_group_wait(&g), 0);
	cr_assert_eq(atomic_load(&chain_errors), 0);
	cr_assert_eq(atomic_load(&chain_max_depth), CHAIN);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}
