/*
 * tests/unit/test_faults.c: thread-creation failure in mt_pool_create.
 * The pool must come back NULL with errno set, every worker that did
 * start must have stopped (hooks balanced), and nothing may leak (the
 * ASan build checks leaks at exit).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>

#include "alloc.h"
#include <mtpool/mtpool.h>

static _Atomic int started, stopped;

static void on_start(unsigned index, void *ud)
{
	(void)index;
	(void)ud;
	atomic_fetch_add(&started, 1);
}

static void on_stop(unsigned index, void *ud)
{
	(void)index;
	(void)ud;
	atomic_fetch_add(&stopped, 1);
}

static void count(void *arg)
{
	atomic_fetch_add((_Atomic int *)arg, 1);
}

static mt_pool *create_four(void)
{
	mt_config cfg = {.threads = 4,
			 .on_worker_start = on_start,
			 .on_worker_stop = on_stop};
	return mt_pool_create(&cfg);
}

Test(thread_create, failure_at_each_position_is_NULL_EAGAIN_and_stops_started,
     .timeout = 60)
{
	for (long k = 0; k < 4; k++) {
		atomic_store(&started, 0);
		atomic_store(&stopped, 0);
		mt__fault_fail_thread_create_after(k);
		errno = 0;
		mt_pool *p = create_four();
		cr_assert_null(p, "creation with thread %ld failing succeeded",
			       k);
		cr_assert_eq(errno, EAGAIN);
		cr_assert_eq(atomic_load(&started), (int)k,
			     "workers before the failure must have started");
		cr_assert_eq(atomic_load(&stopped), (int)k,
			     "every started worker must have stopped");
	}
	mt__fault_fail_thread_create_after(-1);
}

Test(thread_create, pool_created_after_a_failure_works, .timeout = 60)
{
	mt__fault_fail_thread_create_after(1);
	cr_assert_null(create_four());
	mt__fault_fail_thread_create_after(-1);
	mt_pool *p = create_four();
	cr_assert_not_null(p);
	_Atomic int ran = 0;
	for (int i = 0; i < 100; i++)
		cr_assert_eq(mt_spawn(p, count, &ran), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&ran), 100);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* The injection queue's mutex cannot be created: the pool comes back NULL
 * with that error, and the unwind frees the queue's cells once (ASan
 * reports a double free otherwise) and destroys no mutex that was never
 * initialised. */
Test(mutex_init, failure_is_NULL_with_its_error_and_frees_everything_once,
     .timeout = 60)
{
	mt__fault_fail_mutex_init_after(0);
	errno = 0;
	mt_pool *p = create_four();
	mt__fault_fail_mutex_init_after(-1);
	cr_assert_null(p);
	cr_assert_eq(errno, EAGAIN);
	p = create_four();
	cr_assert_not_null(p);
	_Atomic int ran = 0;
	cr_assert_eq(mt_spawn(p, count, &ran), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&ran), 1);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}
