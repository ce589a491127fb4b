/*
 * tests/api/test_group.c: mt_group fork-join through the public API.
 *
 * fib(25) spawns about 250,000 group tasks, each waiting on its own
 * stack-allocated group: wrong join counting, a waiter that returns early
 * (the parent then reads a child's result before it is written, or the
 * child writes into a dead stack frame, which ASan reports), or lost tasks
 * all change the sum. The other tests cover reuse, argument errors, tasks
 * that add to their own group, and the edges of the waiter's fast path
 * (its tasks stolen while it blocks, run by its other waits, more of them
 * than it counts locally, inline and exported calls mixed).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_getname_np, pthread_barrier_t under -std=c11 */
#endif
#include <criterion/criterion.h>
#include <mtpool/mtpool.h>

#include "../common/mt_test.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* ---- fib --------------------------------------------------------------- */

static mt_pool *fib_pool;
static atomic_int fib_errors;

struct fib_arg {
	unsigned n;
	uint64_t result; /* OUT */
};

static uint64_t fib_seq(unsigned n)
{
	uint64_t a = 0, b = 1;
	for (unsigned i = 0; i < n; i++) {
		uint64_t t = a + b;
		a = b;
		b = t;
	}
	return a;
}

static void fib_task(void *arg)
{
	struct fib_arg *f = arg;
	if (f->n < 2) {
		f->result = f->n;
		return;
	}
	struct fib_arg left = {.n = f->n - 1}, right = {.n = f->n - 2};
	mt_group g;
	if (mt_group_init(&g, fib_pool) != 0 ||
	    mt_group_spawn(&g, fib_task, &left) != 0 ||
	    mt_group_spawn(&g, fib_task, &right) != 0) {
		atomic_fetch_add(&fib_errors, 1);
		return;
	}
	if (mt_group_wait(&g) != 0)
		atomic_fetch_add(&fib_errors, 1);
	f->result = left.result + right.result;
}

static void check_fib(unsigned threads, unsigned n)
{
	fib_pool = mt_test_pool(threads);
	struct fib_arg root = {.n = n};
	mt_group g;
	cr_assert_eq(mt_group_init(&g, fib_pool), 0);
	cr_assert_eq(mt_group_spawn(&g, fib_task, &root), 0);
	cr_assert_eq(mt_group_wait(&g), 0);
	cr_assert_eq(atomic_load(&fib_errors), 0);
	cr_assert_eq(root.result, fib_seq(n), "fib(%u) = %llu, expected %llu",
		     n, (unsigned long long)root.result,
		     (unsigned long long)fib_seq(n));
	cr_assert_eq(mt_pool_destroy(fib_pool, MT_DRAIN), 0);
}

Test(group, fib_25_matches_sequential_on_one_thread_pool, .timeout = 60)
{
	check_fib(1, 25);
}

Test(group, fib_25_matches_sequential_on_two_thread_pool, .timeout = 60)
{
	check_fib(2, 25);
}

Test(group, fib_25_matches_sequential_on_four_thread_pool, .timeout = 60)
{
	check_fib(4, 25);
}

/* fib called directly on the main thread: the first group's waiter is not a
 * worker. */
Test(group, fib_20_from_main_thread_matches_sequential, .timeout = 60)
{
	fib_pool = mt_test_pool(2);
	struct fib_arg root = {.n = 20};
	fib_task(&root);
	cr_assert_eq(atomic_load(&fib_errors), 0);
	cr_assert_eq(root.result, fib_seq(20));
	cr_assert_eq(mt_pool_destroy(fib_pool, MT_DRAIN), 0);
}

/* fib started by a detached task: the outermost waiter is a worker. */
static void fib_detached(void *arg)
{
	fib_task(arg);
}

Test(group, fib_22_from_a_detached_task_on_one_thread_pool, .timeout = 60)
{
	fib_pool = mt_test_pool(1);
	struct fib_arg root = {.n = 22};
	cr_assert_eq(mt_spawn(fib_pool, fib_detached, &root), 0);
	cr_assert_eq(mt_quiesce(fib_pool), 0);
	cr_assert_eq(atomic_load(&fib_errors), 0);
	cr_assert_eq(root.result, fib_seq(22));
	cr_assert_eq(mt_pool_destroy(fib_pool, MT_DRAIN), 0);
}

Test(group, on_default_pool_via_NULL, .timeout = 60)
{
	fib_pool = NULL;
	struct fib_arg root = {.n = 18};
	mt_group g;
	cr_assert_eq(mt_group_init(&g, NULL), 0);
	cr_assert_eq(mt_group_spawn(&g, fib_task, &root), 0);
	cr_assert_eq(mt_group_wait(&g), 0);
	cr_assert_eq(atomic_load(&fib_errors), 0);
	cr_assert_eq(root.result, fib_seq(18));
}

/* ---- simple groups and reuse ------------------------------------------- */

#define WIDE 1000

static atomic_uchar hits[WIDE];

static void hit(void *arg)
{
	atomic_fetch_add_explicit(&hits[(uintptr_t)arg], 1,
				  memory_order_relaxed);
}

static void check_hits(unsigned expected)
{
	for (size_t i = 0; i < WIDE; i++)
		cr_assert_eq(atomic_load(&hits[i]), expected,
			     "task %zu ran %d times (want %u)", i,
			     atomic_load(&hits[i]), expected);
}

Test(group, wait_with_no_tasks_returns_0, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	mt_group g;
	cr_assert_eq(mt_group_init(&g, p), 0);
	cr_assert_eq(mt_group_wait(&g), 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(group, wide_group_runs_each_task_exactly_once, .timeout = 60)
{
	mt_pool *p = mt_test_pool(3);
	mt_group g;
	cr_assert_eq(mt_group_init(&g, p), 0);
	for (uintptr_t i = 0; i < WIDE; i++)
		cr_assert_eq(mt_group_spawn(&g, hit, (void *)i), 0);
	cr_assert_eq(mt_group_wait(&g), 0);
	/* Checked right after wait, with no quiesce: wait alone must cover
	 * every task and publish its effects. */
	check_hits(1);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	check_hits(1);
}

Test(group, can_be_reused_after_wait, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	mt_group g;
	for (unsigned round = 1; round <= 50; round++) {
		cr_assert_eq(mt_group_init(&g, p), 0);
		for (uintptr_t i = 0; i < WIDE; i++)
			cr_assert_eq(mt_group_spawn(&g, hit, (void *)i), 0);
		cr_assert_eq(mt_group_wait(&g), 0);
		check_hits(round);
	}
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(group, can_be_reused_on_another_pool_after_wait, .timeout = 60)
{
	mt_pool *a = mt_test_pool(1);
	mt_pool *b = mt_test_pool(2);
	mt_group g;
	cr_assert_eq(mt_group_init(&g, a), 0);
	for (uintptr_t i = 0; i < WIDE; i++)
		cr_assert_eq(mt_group_spawn(&g, hit, (void *)i), 0);
	cr_assert_eq(mt_group_wait(&g), 0);
	cr_assert_eq(mt_pool_destroy(a, MT_DRAIN), 0);
	cr_assert_eq(mt_group_init(&g, b), 0);
	for (uintptr_t i = 0; i < WIDE; i++)
		cr_assert_eq(mt_group_spawn(&g, hit, (void *)i), 0);
	cr_assert_eq(mt_group_wait(&g), 0);
	check_hits(2);
	cr_assert_eq(mt_pool_destroy(b, MT_DRAIN), 0);
}

/* ---- argument errors --------------------------------------------------- */

static atomic_int never_calls;

static void must_not_run(void *arg)
{
	(void)arg;
	atomic_fetch_add(&never_calls, 1);
}

Test(group, init_NULL_group_is_EINVAL, .timeout = 60)
{
	mt_pool *p = mt_test_pool(1);
	cr_assert_eq(mt_group_init(NULL, p), EINVAL);
	cr_assert_eq(mt_group_init(NULL, NULL), EINVAL);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(group, spawn_NULL_group_is_EINVAL, .timeout = 60)
{
	cr_assert_eq(mt_group_spawn(NULL, must_not_run, NULL), EINVAL);
	cr_assert_eq(atomic_load(&never_calls), 0);
}

Test(group, spawn_NULL_fn_is_EINVAL_and_group_still_works, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	mt_group g;
	cr_assert_eq(mt_group_init(&g, p), 0);
	cr_assert_eq(mt_group_spawn(&g, NULL, NULL), EINVAL);
	cr_assert_eq(mt_group_spawn(&g, hit, (void *)(uintptr_t)7), 0);
	/* The rejected spawn must not be counted as pending: otherwise this
	 * wait never returns and the timeout fails the test. */
	cr_assert_eq(mt_group_wait(&g), 0);
	cr_assert_eq(atomic_load(&hits[7]), 1);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(group, wait_NULL_group_is_EINVAL, .timeout = 60)
{
	cr_assert_eq(mt_group_wait(NULL), EINVAL);
}

/* The only "not initialised" state a library can recognise is one it can
 * tell from an initialised group; zero-filled storage is the case callers
 * actually produce (static or `= {0}` groups). */
Test(group, zero_filled_group_is_EINVAL_for_spawn_and_wait, .timeout = 60)
{
	mt_group g;
	memset(&g, 0, sizeof g);
	cr_assert_eq(mt_group_spawn(&g, must_not_run, NULL), EINVAL);
	cr_assert_eq(mt_group_wait(&g), EINVAL);
	cr_assert_eq(atomic_load(&never_calls), 0);
}

/* ---- tasks spawning into their own group -------------------------------- */

struct self_arg {
	mt_group *g;
	unsigned depth;
};

#define SELF_FANOUT 3
#define SELF_DEPTH 7 /* 1 + 3 + ... + 3^7 = 3280 tasks */

static atomic_uint self_runs;
static atomic_uint self_errors;
static struct self_arg self_args[4000];
static atomic_uint self_next;

static void self_spawner(void *arg)
{
	struct self_arg *a = arg;
	atomic_fetch_add(&self_runs, 1);
	if (a->depth == 0)
		return;
	for (int i = 0; i < SELF_FANOUT; i++) {
		unsigned k = atomic_fetch_add(&self_next, 1);
		if (k >= sizeof self_args / sizeof self_args[0]) {
			atomic_fetch_add(&self_errors, 1);
			return;
		}
		self_args[k].g = a->g;
		self_args[k].depth = a->depth - 1;
		/* Into the task's own group, before the task returns: the
		 * waiter's wait must cover these too. */
		if (mt_group_spawn(a->g, self_spawner, &self_args[k]) != 0)
			atomic_fetch_add(&self_errors, 1);
	}
}

static unsigned self_tree_size(void)
{
	unsigned total = 0, level = 1;
	for (unsigned d = 0; d <= SELF_DEPTH; d++, level *= SELF_FANOUT)
		total += level;
	return total;
}

static void check_self_spawn(unsigned threads)
{
	mt_pool *p = mt_test_pool(threads);
	mt_group g;
	cr_assert_eq(mt_group_init(&g, p), 0);
	struct self_arg root = {.g = &g, .depth = SELF_DEPTH};
	cr_assert_eq(mt_group_spawn(&g, self_spawner, &root), 0);
	cr_assert_eq(mt_group_wait(&g), 0);
	/* Checked right after wait: every task added by a task of the group
	 * before it returned is covered. */
	cr_assert_eq(atomic_load(&self_errors), 0);
	cr_assert_eq(atomic_load(&self_runs), self_tree_size());
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	cr_assert_eq(atomic_load(&self_runs), self_tree_size());
}

Test(group, spawn_from_inside_a_task_of_the_group_is_waited_for_one_thread,
     .timeout = 60)
{
	check_self_spawn(1);
}

Test(group, spawn_from_inside_a_task_of_the_group_is_waited_for_four_threads,
     .timeout = 60)
{
	check_self_spawn(4);
}

/* ---- the waiter's own deque: the inline fast path and its edges ------------
 * A group initialised on a worker counts the tasks that worker spawns
 * into it without atomics and runs them back itself (pool/group.h). These
 * tests drive the cases where that is not what happens. */

/* (1) The private steal. A task spawns into its group while the pool's
 * only other worker is busy (so the spawn stays private: nobody idle),
 * then blocks until the child has run, never calling into the pool. The
 * other worker, released, finds no shared work and must take the private
 * frame on its way to sleep (pool/deque.c, note 3), or this hangs. */
static struct mt_test_gate busy_gate;
static sem_t spawned, child_ran;
static _Atomic int spawner_worker = -1, child_worker = -1;

static void busy(void *arg)
{
	(void)arg;
	mt_test_gate_enter(&busy_gate);
}

static void child_posts(void *arg)
{
	(void)arg;
	atomic_store(&child_worker, mt_worker_index());
	sem_post(&child_ran);
}

static void spawn_then_block(void *arg)
{
	(void)arg;
	mt_group g;
	atomic_store(&spawner_worker, mt_worker_index());
	if (mt_group_init(&g, mt_current_pool()) != 0 ||
	    mt_group_spawn(&g, child_posts, NULL) != 0) {
		sem_post(&spawned);
		return;
	}
	sem_post(&spawned);
	while (sem_wait(&child_ran) != 0) /* blocks outside the pool */
		;
	mt_group_wait(&g);
}

Test(group, a_child_of_a_task_blocked_outside_the_pool_is_taken_by_the_other,
     .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	mt_test_gate_init(&busy_gate);
	cr_assert_eq(sem_init(&spawned, 0, 0), 0);
	cr_assert_eq(sem_init(&child_ran, 0, 0), 0);
	mt_test_gate_block(&busy_gate, p, 1, busy); /* one worker busy */
	cr_assert_eq(mt_spawn(p, spawn_then_block, NULL), 0);
	mt_test_sem_wait(&spawned); /* the child is pushed, privately */
	mt_test_gate_open(&busy_gate, 1);
	cr_assert_eq(mt_quiesce(p), 0); /* hangs if the child stays put */
	cr_assert_neq(atomic_load(&child_worker), -1, "the child ran");
	cr_assert_neq(atomic_load(&child_worker), atomic_load(&spawner_worker),
		      "on the other worker");
	cr_assert_geq(mt_test_stats(p).steals, 1);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	sem_destroy(&spawned);
	sem_destroy(&child_ran);
}

/* (2) The waiter's own task run by another of its waits. On one worker:
 * X goes into g on top of Y in h; waiting for h finds X on top, runs it
 * (counting it down in g, below zero) and then Y; waiting for g then owes
 * g the task it no longer holds (settling). */
static atomic_uint x_runs, y_runs;

static void run_x(void *arg)
{
	(void)arg;
	atomic_fetch_add(&x_runs, 1);
}

static void run_y(void *arg)
{
	(void)arg;
	atomic_fetch_add(&y_runs, 1);
}

static _Atomic int interleaved_errors;

static void interleaved_waits(void *arg)
{
	(void)arg;
	mt_pool *p = mt_current_pool();
	mt_group g, h;
	if (mt_group_init(&g, p) != 0 || mt_group_init(&h, p) != 0 ||
	    mt_group_spawn(&h, run_y, NULL) != 0 ||
	    mt_group_spawn(&g, run_x, NULL) != 0) {
		atomic_store(&interleaved_errors, 1);
		return;
	}
	if (mt_group_wait(&h) != 0 || atomic_load(&y_runs) != 1)
		atomic_store(&interleaved_errors, 2);
	if (mt_group_wait(&g) != 0 || atomic_load(&x_runs) != 1)
		atomic_store(&interleaved_errors, 3);
}

Test(group, a_task_run_by_another_wait_of_its_waiter_is_counted_once,
     .timeout = 60)
{
	mt_pool *p = mt_test_pool(1);
	for (int round = 0; round < 100; round++) {
		atomic_store(&x_runs, 0);
		atomic_store(&y_runs, 0);
		cr_assert_eq(mt_spawn(p, interleaved_waits, NULL), 0);
		cr_assert_eq(mt_quiesce(p), 0);
		cr_assert_eq(atomic_load(&interleaved_errors), 0, "error %d",
			     atomic_load(&interleaved_errors));
		cr_assert_eq(atomic_load(&x_runs), 1);
		cr_assert_eq(atomic_load(&y_runs), 1);
	}
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* (3) More tasks from the waiter than it counts locally before settling
 * (MT_GROUP_LOCAL_MAX): the spawn past it settles early, and the wait
 * still runs each task exactly once. */
#define MANY (MT_GROUP_LOCAL_MAX + 100)
static atomic_uchar many_hits[MANY];
static _Atomic int many_errors;

static void many_hit(void *arg)
{
	atomic_fetch_add(&many_hits[(uintptr_t)arg], 1);
}

static void spawn_many_then_wait(void *arg)
{
	(void)arg;
	mt_group g;
	if (mt_group_init(&g, mt_current_pool()) != 0) {
		atomic_store(&many_errors, 1);
		return;
	}
	for (uintptr_t i = 0; i < MANY; i++)
		if (mt_group_spawn(&g, many_hit, (void *)i) != 0)
			atomic_store(&many_errors, 2);
	if (mt_group_wait(&g) != 0)
		atomic_store(&many_errors, 3);
	for (uintptr_t i = 0; i < MANY; i++)
		if (atomic_load(&many_hits[i]) != 1)
			atomic_store(&many_errors,
				     4); /* before wait returned */
}

static void check_many(unsigned threads)
{
	mt_pool *p = mt_test_pool(threads);
	memset(many_hits, 0, sizeof many_hits);
	cr_assert_eq(mt_spawn(p, spawn_many_then_wait, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&many_errors), 0, "error %d",
		     atomic_load(&many_errors));
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(group, more_spawns_than_counted_locally_run_once_on_one_thread,
     .timeout = 60)
{
	check_many(1);
}

Test(group, more_spawns_than_counted_locally_run_once_on_four_threads,
     .timeout = 60)
{
	check_many(4);
}

/* (4) The exported functions (a pointer, or the name in parentheses)
 * and the header's inline paths work on the same group. */
static mt_pool *mixed_pool;
static _Atomic int mixed_errors;

static uint64_t mixed_fib(unsigned n);

static void mixed_fib_task(void *arg)
{
	struct fib_arg *f = arg;
	f->result = mixed_fib(f->n);
}

static uint64_t mixed_fib(unsigned n)
{
	if (n < 2)
		return n;
	struct fib_arg left = {.n = n - 1}, right = {.n = n - 2};
	mt_group g;
	int rc;
	/* Odd levels through the exported symbols, even ones inline, and
	 * one spawn of each kind in every group. */
	if (n % 2)
		rc = (mt_group_init)(&g, mixed_pool);
	else
		rc = mt_group_init(&g, mixed_pool);
	if (rc == 0)
		rc = (mt_group_spawn)(&g, mixed_fib_task, &left);
	if (rc == 0)
		rc = mt_group_spawn(&g, mixed_fib_task, &right);
	if (rc == 0)
		rc = n % 3 ? mt_group_wait(&g) : (mt_group_wait)(&g);
	if (rc != 0)
		atomic_store(&mixed_errors, rc);
	return left.result + right.result;
}

Test(group, exported_and_inline_calls_mix_on_one_group, .timeout = 60)
{
	mixed_pool = mt_test_pool(2);
	struct fib_arg root = {.n = 20};
	mt_group g;
	cr_assert_eq((mt_group_init)(&g, mixed_pool), 0);
	cr_assert_eq(mt_group_spawn(&g, mixed_fib_task, &root), 0);
	cr_assert_eq((mt_group_wait)(&g), 0);
	cr_assert_eq(atomic_load(&mixed_errors), 0);
	cr_assert_eq(root.result, fib_seq(20));
	cr_assert_eq(mt_pool_destroy(mixed_pool, MT_DRAIN), 0);
}

/* ---- many groups from many external threads ----------------------------- */

#define WAITERS 4

static mt_pool *shared_pool;

static void add_one(void *arg)
{
	atomic_fetch_add_explicit((atomic_uint *)arg, 1, memory_order_relaxed);
}

static void *group_user(void *arg)
{
	(void)arg;
	for (int round = 0; round < 200; round++) {
		atomic_uint count;
		atomic_init(&count, 0);
		mt_group g;
		if (mt_group_init(&g, shared_pool) != 0)
			return (void *)1;
		for (int i = 0; i < 100; i++)
			if (mt_group_spawn(&g, add_one, &count) != 0)
				return (void *)2;
		if (mt_group_wait(&g) != 0)
			return (void *)3;
		/* The group and counter die at the end of this iteration:
		 * a task touching them after wait returned is a stack
		 * use-after-scope (ASan) or a wrong count here. */
		if (atomic_load(&count) != 100)
			return (void *)4;
	}
	return NULL;
}

Test(group, independent_groups_from_four_external_threads, .timeout = 60)
{
	shared_pool = mt_test_pool(2);
	pthread_t t[WAITERS];
	for (int k = 0; k < WAITERS; k++)
		cr_assert_eq(pthread_create(&t[k], NULL, group_user, NULL), 0);
	for (int k = 0; k < WAITERS; k++) {
		void *rc;
		cr_assert_eq(pthread_join(t[k], &rc), 0);
		cr_assert_null(rc, "waiter %d failed with code %d", k,
			       (int)(uintptr_t)rc);
	}
	cr_assert_eq(mt_pool_destroy(shared_pool, MT_DRAIN), 0);
}
