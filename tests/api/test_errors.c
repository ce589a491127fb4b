/*
 * tests/api/test_errors.c: out-of-memory paths (through the test-only
 * allocation hook in pool/alloc.h), bad $MTPOOL_THREADS, mt_strerror.
 *
 * The contract under test (mtpool.h, "Errors"): a call that fails never
 * calls its callback; once accepted, a task runs exactly once. So with
 * allocations failing each submission must either return 0 and run its
 * task exactly once, or return ENOMEM and never run it. A pool may keep
 * cached task memory, so 0 is allowed where the header does not promise an
 * allocation. After disarming, the same pool must still work. The ASan
 * build (LeakSanitizer at each test process's exit) checks that failed
 * creations leak nothing.
 *
 * Each Test runs in its own process, so arming the global hook and setting
 * $MTPOOL_THREADS affect only that test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_getname_np, pthread_barrier_t under -std=c11 */
#endif
#include <criterion/criterion.h>
#include <mtpool/mtpool.h>

#include "../common/mt_test.h"

#include "alloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fail_all_allocs(void)
{
	mt__fault_fail_allocs_count(-1);
	mt__fault_fail_allocs_after(0);
}

static void disarm(void)
{
	mt__fault_fail_allocs_after(-1);
	mt__fault_fail_allocs_count(-1);
}

#define N 200

static atomic_uint runs[N];
static int rcs[N];

static void run_slot(void *arg)
{
	atomic_fetch_add(&runs[(uintptr_t)arg], 1);
}

/* Each accepted submission ran once; each refused one is ENOMEM and never
 * ran. Returns how many were refused. */
static unsigned check_accounting(size_t n)
{
	unsigned refused = 0;
	for (size_t i = 0; i < n; i++) {
		if (rcs[i] == 0) {
			cr_assert_eq(atomic_load(&runs[i]), 1,
				     "accepted task %zu ran %u times", i,
				     atomic_load(&runs[i]));
		} else {
			cr_assert_eq(rcs[i], ENOMEM,
				     "submission %zu returned %d", i, rcs[i]);
			cr_assert_eq(atomic_load(&runs[i]), 0,
				     "refused task %zu ran", i);
			refused++;
		}
	}
	return refused;
}

/* The pool still works for every kind of call after the hook is disarmed. */
static void *twice(void *x)
{
	return (void *)((uintptr_t)x * 2u);
}

static atomic_uint after_runs;

static void after_count(void *arg)
{
	(void)arg;
	atomic_fetch_add(&after_runs, 1);
}

static void check_pool_still_works(mt_pool *p)
{
	enum {
		M = 10007
	};
	static void *params[M], *results[M];
	atomic_store(&after_runs, 0);
	for (uintptr_t i = 0; i < 1000; i++)
		cr_assert_eq(mt_spawn(p, after_count, NULL), 0);
	char big[4096] = {0};
	cr_assert_eq(mt_spawn_copy(p, after_count, big, sizeof big), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&after_runs), 1001);
	for (uintptr_t i = 0; i < M; i++)
		params[i] = (void *)(i + 1);
	cr_assert_eq(mt_map(p, twice, params, results, M), 0);
	for (uintptr_t i = 0; i < M; i++)
		cr_assert_eq((uintptr_t)results[i], 2 * (i + 1));
	mt_group g;
	cr_assert_eq(mt_group_init(&g, p), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(mt_group_spawn(&g, after_count, NULL), 0);
	cr_assert_eq(mt_group_wait(&g), 0);
	cr_assert_eq(atomic_load(&after_runs), 1101);
}

/* ---- submissions with every allocation failing -------------------------- */

Test(enomem, spawn_is_refused_or_runs_exactly_once, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	fail_all_allocs();
	for (uintptr_t i = 0; i < N; i++)
		rcs[i] = mt_spawn(p, run_slot, (void *)i);
	disarm();
	cr_assert_eq(mt_quiesce(p), 0);
	check_accounting(N);
	check_pool_still_works(p);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

static void run_copied_slot(void *arg)
{
	uintptr_t i;
	memcpy(&i, arg, sizeof i);
	if (i < N)
		atomic_fetch_add(&runs[i], 1);
}

Test(enomem, spawn_copy_inline_size_is_refused_or_runs_exactly_once,
     .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	unsigned char buf[MT_SPAWN_INLINE_BYTES] = {0};
	fail_all_allocs();
	for (uintptr_t i = 0; i < N; i++) {
		memcpy(buf, &i, sizeof i);
		rcs[i] = mt_spawn_copy(p, run_copied_slot, buf, sizeof buf);
	}
	disarm();
	cr_assert_eq(mt_quiesce(p), 0);
	check_accounting(N);
	check_pool_still_works(p);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* Copies larger than MT_SPAWN_INLINE_BYTES "are allocated": with every
 * allocation failing, the call must report ENOMEM and not run fn. */
static atomic_uint large_runs;

static void large_task(void *arg)
{
	(void)arg;
	atomic_fetch_add(&large_runs, 1);
}

Test(enomem, spawn_copy_larger_than_inline_is_ENOMEM, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	static const size_t sizes[] = {MT_SPAWN_INLINE_BYTES + 1, 4096,
				       1u << 20};
	unsigned char *buf = calloc(1, 1u << 20);
	cr_assert_not_null(buf);
	fail_all_allocs();
	int rc[3];
	for (int k = 0; k < 3; k++)
		rc[k] = mt_spawn_copy(p, large_task, buf, sizes[k]);
	disarm();
	free(buf);
	cr_assert_eq(mt_quiesce(p), 0);
	for (int k = 0; k < 3; k++)
		cr_assert_eq(rc[k], ENOMEM, "size %zu returned %d", sizes[k],
			     rc[k]);
	cr_assert_eq(atomic_load(&large_runs), 0);
	check_pool_still_works(p);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* Same, one allocation failing at a time, at each position in turn: a
 * spawn_copy that needs two allocations (task + copy) must unwind the first
 * when the second fails. */
Test(enomem, spawn_copy_large_with_one_failure_at_each_position, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	unsigned char buf[4096];
	memset(buf, 0x5A, sizeof buf);
	unsigned accepted = 0;
	for (long k = 0; k < 6; k++) {
		mt__fault_fail_allocs_count(1);
		mt__fault_fail_allocs_after(k);
		int rc = mt_spawn_copy(p, large_task, buf, sizeof buf);
		disarm();
		cr_assert(rc == 0 || rc == ENOMEM, "k = %ld: rc %d", k, rc);
		accepted += rc == 0;
		cr_assert_eq(mt_quiesce(p), 0);
		cr_assert_eq(atomic_load(&large_runs), accepted, "k = %ld", k);
	}
	check_pool_still_works(p);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

static atomic_uint map_calls;

static void *map_fn(void *x)
{
	atomic_fetch_add_explicit(&map_calls, 1, memory_order_relaxed);
	return (void *)((uintptr_t)x * 3u + 1u);
}

Test(enomem, map_is_refused_before_any_call_or_completes, .timeout = 60)
{
	enum {
		M = 200003
	};
	mt_pool *p = mt_test_pool(2);
	void **params = malloc(M * sizeof *params);
	void **results = calloc(M, sizeof *results);
	cr_assert(params && results);
	for (uintptr_t i = 0; i < M; i++)
		params[i] = (void *)i;
	fail_all_allocs();
	int rc = mt_map(p, map_fn, params, results, M);
	disarm();
	if (rc == 0) {
		cr_assert_eq(atomic_load(&map_calls), M);
		for (uintptr_t i = 0; i < M; i++)
			cr_assert_eq((uintptr_t)results[i], i * 3u + 1u);
	} else {
		cr_assert_eq(rc, ENOMEM, "rc %d", rc);
		cr_assert_eq(atomic_load(&map_calls), 0,
			     "fn called %u times before ENOMEM",
			     atomic_load(&map_calls));
	}
	free(params);
	free(results);
	check_pool_still_works(p);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

static atomic_uint for_calls;

static void for_body(size_t i, void *ctx)
{
	(void)i;
	(void)ctx;
	atomic_fetch_add_explicit(&for_calls, 1, memory_order_relaxed);
}

Test(enomem, for_is_refused_before_any_call_or_completes, .timeout = 60)
{
	enum {
		M = 200003
	};
	mt_pool *p = mt_test_pool(2);
	fail_all_allocs();
	int rc = mt_for(p, M, for_body, NULL);
	disarm();
	if (rc == 0)
		cr_assert_eq(atomic_load(&for_calls), M);
	else {
		cr_assert_eq(rc, ENOMEM, "rc %d", rc);
		cr_assert_eq(atomic_load(&for_calls), 0);
	}
	check_pool_still_works(p);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(enomem, group_spawn_is_refused_or_runs_exactly_once, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	mt_group g;
	cr_assert_eq(mt_group_init(&g, p), 0);
	fail_all_allocs();
	for (uintptr_t i = 0; i < N; i++)
		rcs[i] = mt_group_spawn(&g, run_slot, (void *)i);
	disarm();
	/* Refused spawns must not be counted as pending, or this hangs. */
	cr_assert_eq(mt_group_wait(&g), 0);
	check_accounting(N);
	check_pool_still_works(p);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* From a worker: a task whose deque cannot grow "runs inline in the
 * caller"; a task that cannot be allocated is ENOMEM. Either way each
 * accepted child runs exactly once. One worker, so the children pile up in
 * that worker's deque (nobody steals them) and the deque has to grow. */
#define CHILDREN 20000
static atomic_uint child_runs[CHILDREN];
static int child_rcs[CHILDREN];

static void child(void *arg)
{
	atomic_fetch_add(&child_runs[(uintptr_t)arg], 1);
}

static void spawn_children_failing(void *arg)
{
	(void)arg;
	fail_all_allocs();
	for (uintptr_t i = 0; i < CHILDREN; i++)
		child_rcs[i] = mt_spawn(mt_current_pool(), child, (void *)i);
	disarm();
}

Test(enomem, spawn_from_worker_is_refused_or_runs_exactly_once, .timeout = 60)
{
	mt_pool *p = mt_test_pool(1);
	cr_assert_eq(mt_spawn(p, spawn_children_failing, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	for (size_t i = 0; i < CHILDREN; i++) {
		if (child_rcs[i] == 0)
			cr_assert_eq(atomic_load(&child_runs[i]), 1,
				     "child %zu ran %u times", i,
				     atomic_load(&child_runs[i]));
		else {
			cr_assert_eq(child_rcs[i], ENOMEM, "child %zu rc %d", i,
				     child_rcs[i]);
			cr_assert_eq(atomic_load(&child_runs[i]), 0);
		}
	}
	mt_stats s;
	cr_assert_eq(mt_pool_stats(p, &s), 0);
	cr_assert_leq(s.inline_runs, s.tasks_run);
	check_pool_still_works(p);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* Only the deque growth fails (task memory comes first and succeeds): the
 * header's inline fallback. The one worker pushes CHILDREN children while
 * allocations succeed, then every later allocation fails. */
static void spawn_children_then_fail(void *arg)
{
	(void)arg;
	for (uintptr_t i = 0; i < CHILDREN / 2; i++)
		child_rcs[i] = mt_spawn(mt_current_pool(), child, (void *)i);
	mt__fault_fail_allocs_count(1);
	mt__fault_fail_allocs_after(1);
	for (uintptr_t i = CHILDREN / 2; i < CHILDREN; i++)
		child_rcs[i] = mt_spawn(mt_current_pool(), child, (void *)i);
	disarm();
}

Test(enomem, single_failure_during_worker_spawns_loses_nothing, .timeout = 60)
{
	mt_pool *p = mt_test_pool(1);
	cr_assert_eq(mt_spawn(p, spawn_children_then_fail, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	unsigned refused = 0;
	for (size_t i = 0; i < CHILDREN; i++) {
		if (child_rcs[i] == 0)
			cr_assert_eq(atomic_load(&child_runs[i]), 1,
				     "child %zu ran %u times", i,
				     atomic_load(&child_runs[i]));
		else {
			cr_assert_eq(child_rcs[i], ENOMEM);
			cr_assert_eq(atomic_load(&child_runs[i]), 0);
			refused++;
		}
	}
	cr_assert_leq(refused, 1);
	check_pool_still_works(p);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* A group spawned into from its worker, whose deque cannot grow: every
 * spawn still returns 0 (a frame that cannot be pushed runs inline, as a
 * detached task does), every child runs exactly once, and the wait returns
 * with all of them done. No task memory is involved: a worker's group
 * spawn is a frame in its deque. */
static atomic_uint group_child_runs[CHILDREN];
static int group_child_rcs[CHILDREN];
static int group_wait_rc = -1;

static void group_child(void *arg)
{
	atomic_fetch_add(&group_child_runs[(uintptr_t)arg], 1);
}

static void group_spawns_failing(void *arg)
{
	(void)arg;
	mt_group g;
	if (mt_group_init(&g, mt_current_pool()) != 0)
		return;
	fail_all_allocs();
	for (uintptr_t i = 0; i < CHILDREN; i++)
		group_child_rcs[i] = mt_group_spawn(&g, group_child, (void *)i);
	disarm();
	group_wait_rc = mt_group_wait(&g);
}

Test(enomem, group_spawns_on_a_worker_whose_deque_cannot_grow_run_once,
     .timeout = 60)
{
	mt_pool *p = mt_test_pool(1);
	cr_assert_eq(mt_spawn(p, group_spawns_failing, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(group_wait_rc, 0);
	for (size_t i = 0; i < CHILDREN; i++) {
		cr_assert_eq(group_child_rcs[i], 0, "spawn %zu: %d", i,
			     group_child_rcs[i]);
		cr_assert_eq(atomic_load(&group_child_runs[i]), 1,
			     "child %zu ran %u times", i,
			     atomic_load(&group_child_runs[i]));
	}
	mt_stats s;
	cr_assert_eq(mt_pool_stats(p, &s), 0);
	cr_assert_gt(s.inline_runs, 0, "the deque must have hit its limit");
	cr_assert_leq(s.inline_runs, s.tasks_run);
	check_pool_still_works(p);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* ---- mt_pool_create under injected failure ------------------------------ */

static atomic_uint hook_starts, hook_stops;

static void on_start(unsigned i, void *u)
{
	(void)i;
	(void)u;
	atomic_fetch_add(&hook_starts, 1);
}

static void on_stop(unsigned i, void *u)
{
	(void)i;
	(void)u;
	atomic_fetch_add(&hook_stops, 1);
}

/* Fails allocation k (and, with fail_count < 0, every one after it) for
 * k = 0, 1, ... until creation succeeds. Every failure must be NULL/ENOMEM;
 * workers that started must have stopped (hooks balanced). */
static void create_with_failure_at_each_allocation(long fail_count)
{
	mt_config cfg = {.threads = 3,
			 .name_prefix = "fault",
			 .on_worker_start = on_start,
			 .on_worker_stop = on_stop};
	long k;
	mt_pool *p = NULL;
	for (k = 0; k < 1000; k++) {
		mt__fault_fail_allocs_count(fail_count);
		mt__fault_fail_allocs_after(k);
		errno = 0;
		p = mt_pool_create(&cfg);
		int err = errno;
		disarm();
		if (p != NULL)
			break;
		cr_assert_eq(err, ENOMEM, "k = %ld: errno %d", k, err);
		cr_assert_eq(atomic_load(&hook_starts),
			     atomic_load(&hook_stops),
			     "k = %ld: a worker was left running", k);
	}
	cr_assert_not_null(p, "creation never succeeded");
	cr_assert_gt(k, 0,
		     "creation with the first allocation failing succeeded");
	cr_assert_eq(mt_pool_size(p), 3);
	check_pool_still_works(p);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	cr_assert_eq(atomic_load(&hook_starts), atomic_load(&hook_stops));
}

Test(enomem, pool_create_fails_cleanly_at_every_allocation_then_fail_all,
     .timeout = 60)
{
	create_with_failure_at_each_allocation(-1);
}

Test(enomem, pool_create_fails_cleanly_at_every_single_allocation,
     .timeout = 60)
{
	create_with_failure_at_each_allocation(1);
}

Test(enomem, pool_create_k_0_to_40_is_NULL_ENOMEM_or_a_working_pool,
     .timeout = 60)
{
	for (long k = 0; k <= 40; k++) {
		mt_config cfg = {.threads = 2};
		mt__fault_fail_allocs_count(-1);
		mt__fault_fail_allocs_after(k);
		errno = 0;
		mt_pool *p = mt_pool_create(&cfg);
		int err = errno;
		disarm();
		if (p == NULL) {
			cr_assert_eq(err, ENOMEM, "k = %ld: errno %d", k, err);
			continue;
		}
		atomic_store(&after_runs, 0);
		cr_assert_eq(mt_spawn(p, after_count, NULL), 0);
		cr_assert_eq(mt_quiesce(p), 0);
		cr_assert_eq(atomic_load(&after_runs), 1);
		cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	}
}

Test(enomem, default_pool_failure_is_retried_on_next_call, .timeout = 60)
{
	cr_assert_eq(setenv("MTPOOL_THREADS", "2", 1), 0);
	fail_all_allocs();
	errno = 0;
	mt_pool *p = mt_default_pool();
	int err = errno;
	disarm();
	cr_assert_null(p);
	cr_assert_eq(err, ENOMEM);
	p = mt_default_pool();
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(mt_pool_size(p), 2);
	check_pool_still_works(p);
}

/* ---- $MTPOOL_THREADS --------------------------------------------------- */

static atomic_uint never_calls;

static void must_not_run(void *arg)
{
	(void)arg;
	atomic_fetch_add(&never_calls, 1);
}

static void *must_not_map(void *x)
{
	atomic_fetch_add(&never_calls, 1);
	return x;
}

static void check_env_rejected(const char *value)
{
	cr_assert_eq(setenv("MTPOOL_THREADS", value, 1), 0);
	errno = 0;
	cr_assert_null(mt_default_pool(), "MTPOOL_THREADS=\"%s\" accepted",
		       value);
	cr_assert_eq(errno, EINVAL, "MTPOOL_THREADS=\"%s\": errno %d", value,
		     errno);
	/* Functions taking NULL report mt_default_pool()'s error, and leave
	 * errno alone (the header: int functions never set it). */
	void *params[1] = {NULL}, *results[1];
	mt_group g;
	mt_stats s;
	errno = 4242;
	cr_assert_eq(mt_spawn(NULL, must_not_run, NULL), EINVAL);
	cr_assert_eq(mt_spawn_copy(NULL, must_not_run, "x", 1), EINVAL);
	cr_assert_eq(mt_map(NULL, must_not_map, params, results, 1), EINVAL);
	cr_assert_eq(mt_quiesce(NULL), EINVAL);
	cr_assert_eq(mt_group_init(&g, NULL), EINVAL);
	cr_assert_eq(mt_pool_stats(NULL, &s), EINVAL);
	cr_assert_eq(mt_pool_size(NULL), 0);
	cr_assert_eq(errno, 4242, "an int function set errno to %d", errno);
	cr_assert_eq(atomic_load(&never_calls), 0);
}

Test(env, MTPOOL_THREADS_abc_is_EINVAL, .timeout = 60)
{
	check_env_rejected("abc");
}

Test(env, MTPOOL_THREADS_0_is_EINVAL, .timeout = 60)
{
	check_env_rejected("0");
}

Test(env, MTPOOL_THREADS_99999_is_EINVAL, .timeout = 60)
{
	check_env_rejected("99999");
}

Test(env, MTPOOL_THREADS_max_plus_1_is_EINVAL, .timeout = 60)
{
	check_env_rejected("1025");
}

Test(env, MTPOOL_THREADS_empty_is_EINVAL, .timeout = 60)
{
	check_env_rejected("");
}

Test(env, MTPOOL_THREADS_trailing_garbage_is_EINVAL, .timeout = 60)
{
	check_env_rejected("3abc");
}

Test(env, MTPOOL_THREADS_negative_is_EINVAL, .timeout = 60)
{
	check_env_rejected("-2");
}

Test(env, MTPOOL_THREADS_huge_is_EINVAL, .timeout = 60)
{
	check_env_rejected("18446744073709551619");
}

/* "A plain decimal integer": strtoul would skip the leading white space
 * and take the sign. */
Test(env, MTPOOL_THREADS_with_a_leading_space_is_EINVAL, .timeout = 60)
{
	check_env_rejected(" 3");
}

Test(env, MTPOOL_THREADS_with_a_leading_tab_is_EINVAL, .timeout = 60)
{
	check_env_rejected("\t3");
}

Test(env, MTPOOL_THREADS_with_a_plus_sign_is_EINVAL, .timeout = 60)
{
	check_env_rejected("+3");
}

Test(env, MTPOOL_THREADS_with_a_space_and_a_plus_sign_is_EINVAL, .timeout = 60)
{
	check_env_rejected(" +3");
}

Test(env, MTPOOL_THREADS_with_a_trailing_space_is_EINVAL, .timeout = 60)
{
	check_env_rejected("3 ");
}

/* A successful first use of the default pool through an int function
 * (which parses $MTPOOL_THREADS and starts threads) leaves errno alone. */
Test(env, int_functions_creating_the_default_pool_leave_errno_alone,
     .timeout = 60)
{
	cr_assert_eq(setenv("MTPOOL_THREADS", "2", 1), 0);
	errno = 4242;
	cr_assert_eq(mt_spawn(NULL, must_not_run, NULL), 0);
	cr_assert_eq(errno, 4242, "errno %d", errno);
	cr_assert_eq(mt_quiesce(NULL), 0);
	cr_assert_eq(errno, 4242, "errno %d", errno);
	cr_assert_eq(atomic_load(&never_calls), 1);
	atomic_store(&never_calls, 0);
}

Test(env, a_pool_created_with_MTPOOL_THREADS_leaves_errno_alone, .timeout = 60)
{
	cr_assert_eq(setenv("MTPOOL_THREADS", "2", 1), 0);
	errno = 4242;
	mt_pool *p = mt_pool_create(NULL);
	cr_assert_not_null(p);
	cr_assert_eq(errno, 4242, "errno %d", errno);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	cr_assert_eq(errno, 4242, "errno %d", errno);
}

Test(env, MTPOOL_THREADS_3_gives_three_worker_default_pool, .timeout = 60)
{
	cr_assert_eq(setenv("MTPOOL_THREADS", "3", 1), 0);
	mt_pool *p = mt_default_pool();
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(mt_pool_size(p), 3);
	cr_assert_eq(mt_pool_size(NULL), 3);
	mt_stats s;
	cr_assert_eq(mt_pool_stats(NULL, &s), 0);
	cr_assert_eq(s.workers, 3);
	check_pool_still_works(p);
}

Test(env, MTPOOL_THREADS_fixed_after_failure_is_picked_up_on_retry,
     .timeout = 60)
{
	cr_assert_eq(setenv("MTPOOL_THREADS", "abc", 1), 0);
	errno = 0;
	cr_assert_null(mt_default_pool());
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(setenv("MTPOOL_THREADS", "1", 1), 0);
	mt_pool *p = mt_default_pool();
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(mt_pool_size(p), 1);
	cr_assert_eq(mt_default_pool(), p);
}

/* ---- mt_strerror ------------------------------------------------------- */

Test(strerror, is_never_NULL_or_empty)
{
	static const int errs[] = {0,	   ESHUTDOWN, EDEADLK, EBUSY,
				   EINVAL, ENOMEM,    EAGAIN,  EOVERFLOW,
				   -1,	   99999,     1 << 30};
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		const char *s = mt_strerror(errs[i]);
		cr_assert_not_null(s, "mt_strerror(%d) is NULL", errs[i]);
		cr_assert_neq(s[0], '\0', "mt_strerror(%d) is empty", errs[i]);
	}
}

Test(strerror, distinguishes_ESHUTDOWN_from_EDEADLK)
{
	cr_assert_str_neq(mt_strerror(ESHUTDOWN), mt_strerror(EDEADLK));
	cr_assert_str_neq(mt_strerror(ESHUTDOWN), mt_strerror(EINVAL));
}
