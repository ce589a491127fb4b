/*
 * tests/api/test_lifecycle.c: pool creation, configuration, shutdown.
 *
 * Queued and shutting-down states are made deterministically (STYLE 36):
 * "gate" tasks occupy every worker (each posts `started`, then blocks on
 * `open`), so tasks submitted afterwards stay queued until the test opens
 * the gate. A destroy that must overlap gated workers runs on a helper
 * thread; the test learns that shutdown has begun when an external
 * mt_spawn() returns ESHUTDOWN (the header's rule for submissions during
 * shutdown). That poll is a state check, not a timing assumption. The
 * header asks that outside calls not overlap a destroy because the pool
 * is freed when destroy returns; here destroy cannot return while every
 * worker is blocked in a test task, so the pool stays valid for the poll
 * and for the ESHUTDOWN checks made before the gate opens.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_getname_np, pthread_barrier_t under -std=c11 */
#endif
#include <criterion/criterion.h>
#include <mtpool/mtpool.h>

#include "../common/mt_test.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- gate: block every worker ------------------------------------------ */

static struct mt_test_gate gate;

static void blocker(void *arg)
{
	(void)arg;
	mt_test_gate_enter(&gate);
}

/* An n-thread pool with every worker inside `fn` (which enters the gate). */
static mt_pool *gated_pool(unsigned n, void (*fn)(void *))
{
	mt_test_gate_init(&gate);
	mt_pool *p = mt_test_pool(n);
	mt_test_gate_block(&gate, p, n, fn);
	return p;
}

static atomic_uint counter;

static void count(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
}

/* ---- creation ---------------------------------------------------------- */

Test(create, NULL_config_gives_online_cpu_count_workers, .timeout = 60)
{
	cr_assert_eq(unsetenv("MTPOOL_THREADS"), 0);
	mt_pool *p = mt_pool_create(NULL);
	cr_assert_not_null(p, "errno %d", errno);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	cr_assert_eq(mt_pool_size(p), (unsigned)cpus);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(create, zero_config_gives_online_cpu_count_workers, .timeout = 60)
{
	cr_assert_eq(unsetenv("MTPOOL_THREADS"), 0);
	mt_config cfg;
	memset(&cfg, 0, sizeof cfg);
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(mt_pool_size(p), (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(create, threads_0_uses_MTPOOL_THREADS, .timeout = 60)
{
	cr_assert_eq(setenv("MTPOOL_THREADS", "5", 1), 0);
	mt_pool *p = mt_pool_create(NULL);
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(mt_pool_size(p), 5);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(create, explicit_threads_ignore_invalid_MTPOOL_THREADS, .timeout = 60)
{
	cr_assert_eq(setenv("MTPOOL_THREADS", "abc", 1), 0);
	mt_pool *p = mt_test_pool(3);
	cr_assert_eq(mt_pool_size(p), 3);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(create, invalid_MTPOOL_THREADS_with_threads_0_is_EINVAL, .timeout = 60)
{
	cr_assert_eq(setenv("MTPOOL_THREADS", "abc", 1), 0);
	errno = 0;
	cr_assert_null(mt_pool_create(NULL));
	cr_assert_eq(errno, EINVAL);
}

Test(create, sizes_1_2_3_7_are_honoured, .timeout = 60)
{
	static const unsigned sizes[] = {1, 2, 3, 7};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		mt_pool *p = mt_test_pool(sizes[i]);
		cr_assert_eq(mt_pool_size(p), sizes[i]);
		cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	}
}

Test(create, threads_above_MT_MAX_THREADS_is_EINVAL, .timeout = 60)
{
	mt_config cfg = {.threads = MT_MAX_THREADS + 1};
	errno = 0;
	cr_assert_null(mt_pool_create(&cfg));
	cr_assert_eq(errno, EINVAL);
	cfg.threads = ~0u;
	errno = 0;
	cr_assert_null(mt_pool_create(&cfg));
	cr_assert_eq(errno, EINVAL);
}

Test(create, small_stack_size_pool_runs_tasks, .timeout = 60)
{
	mt_config cfg = {.threads = 2, .stack_size = 256 * 1024};
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p, "errno %d", errno);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(mt_spawn(p, count, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&counter), 100);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* ---- hooks ------------------------------------------------------------- */

#define HOOK_THREADS 4

struct hook_log {
	atomic_int start[HOOK_THREADS];
	atomic_int stop[HOOK_THREADS];
	atomic_int bad_index;
	atomic_int bad_order; /* stop before start */
	atomic_int on_main;   /* hook ran on the creating thread */
	pthread_t main_thread;
};

static struct hook_log *hook_userdata_seen_wrong;
static atomic_int hook_wrong_userdata;

static void on_start(unsigned index, void *userdata)
{
	struct hook_log *log = userdata;
	if (log == NULL || log == hook_userdata_seen_wrong) {
		atomic_fetch_add(&hook_wrong_userdata, 1);
		return;
	}
	if (index >= HOOK_THREADS) {
		atomic_fetch_add(&log->bad_index, 1);
		return;
	}
	if (pthread_equal(pthread_self(), log->main_thread))
		atomic_fetch_add(&log->on_main, 1);
	atomic_fetch_add(&log->start[index], 1);
}

static void on_stop(unsigned index, void *userdata)
{
	struct hook_log *log = userdata;
	if (log == NULL) {
		atomic_fetch_add(&hook_wrong_userdata, 1);
		return;
	}
	if (index >= HOOK_THREADS) {
		atomic_fetch_add(&log->bad_index, 1);
		return;
	}
	if (pthread_equal(pthread_self(), log->main_thread))
		atomic_fetch_add(&log->on_main, 1);
	if (atomic_load(&log->start[index]) != 1)
		atomic_fetch_add(&log->bad_order, 1);
	atomic_fetch_add(&log->stop[index], 1);
}

static struct hook_log *task_log;
static atomic_int task_saw_no_start;
static atomic_int task_saw_stop;

/* A task checks that its worker's start hook has run and the stop hook has
 * not: "before it runs any task, and after it has run its last". */
static void check_hooks_in_task(void *arg)
{
	(void)arg;
	int w = mt_worker_index();
	if (w < 0 || w >= HOOK_THREADS)
		return;
	if (atomic_load(&task_log->start[w]) != 1)
		atomic_fetch_add(&task_saw_no_start, 1);
	if (atomic_load(&task_log->stop[w]) != 0)
		atomic_fetch_add(&task_saw_stop, 1);
}

static void hooks_then_block(void *arg)
{
	check_hooks_in_task(arg);
	blocker(arg);
}

Test(hooks, start_and_stop_run_once_per_worker_index_with_userdata,
     .timeout = 60)
{
	static struct hook_log log;
	log.main_thread = pthread_self();
	task_log = &log;
	mt_test_gate_init(&gate);
	mt_config cfg = {.threads = HOOK_THREADS,
			 .on_worker_start = on_start,
			 .on_worker_stop = on_stop,
			 .userdata = &log};
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p, "errno %d", errno);
	/* One gated task per worker: every worker has run a task. */
	mt_test_gate_block(&gate, p, HOOK_THREADS, hooks_then_block);
	mt_test_gate_open(&gate, HOOK_THREADS);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(mt_spawn(p, check_hooks_in_task, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	for (int i = 0; i < HOOK_THREADS; i++)
		cr_assert_eq(atomic_load(&log.stop[i]), 0,
			     "stop hook of %d ran while live", i);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	for (int i = 0; i < HOOK_THREADS; i++) {
		cr_assert_eq(atomic_load(&log.start[i]), 1,
			     "start hook of worker %d ran %d times", i,
			     atomic_load(&log.start[i]));
		cr_assert_eq(atomic_load(&log.stop[i]), 1,
			     "stop hook of worker %d ran %d times", i,
			     atomic_load(&log.stop[i]));
	}
	cr_assert_eq(atomic_load(&log.bad_index), 0);
	cr_assert_eq(atomic_load(&log.bad_order), 0);
	cr_assert_eq(atomic_load(&log.on_main), 0,
		     "a hook ran on the creating thread");
	cr_assert_eq(atomic_load(&hook_wrong_userdata), 0);
	cr_assert_eq(atomic_load(&task_saw_no_start), 0);
	cr_assert_eq(atomic_load(&task_saw_stop), 0);
}

Test(hooks, stop_hooks_also_run_on_discard, .timeout = 60)
{
	static struct hook_log log;
	log.main_thread = pthread_self();
	mt_config cfg = {.threads = HOOK_THREADS,
			 .on_worker_start = on_start,
			 .on_worker_stop = on_stop,
			 .userdata = &log};
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(mt_pool_destroy(p, MT_DISCARD), 0);
	for (int i = 0; i < HOOK_THREADS; i++) {
		cr_assert_eq(atomic_load(&log.start[i]), 1);
		cr_assert_eq(atomic_load(&log.stop[i]), 1);
	}
}

static void on_start_only(unsigned index, void *userdata)
{
	atomic_int *starts = userdata;
	if (index < HOOK_THREADS)
		atomic_fetch_add(&starts[index], 1);
}

Test(hooks, either_hook_may_be_NULL, .timeout = 60)
{
	static atomic_int starts[HOOK_THREADS];
	mt_config cfg = {.threads = HOOK_THREADS,
			 .on_worker_start = on_start_only,
			 .userdata = starts};
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	for (int i = 0; i < HOOK_THREADS; i++)
		cr_assert_eq(atomic_load(&starts[i]), 1);
}

/* A worker that runs on_worker_stop has left its loop: a task it accepted
 * would never run. So its detached spawns are refused with ESHUTDOWN
 * (the header's rule), including spawns made by a group task that the
 * hook's own group wait runs; whatever is accepted (0) runs. */
static atomic_int stop_spawn_rc[HOOK_THREADS];
static atomic_int stop_copy_rc[HOOK_THREADS];
static atomic_uint stop_accepted, stop_ran;

static void stop_task(void *arg)
{
	(void)arg;
	atomic_fetch_add(&stop_ran, 1);
}

static void stop_group_task(void *arg)
{
	(void)arg;
	atomic_fetch_add(&stop_ran, 1);
	if (mt_spawn(mt_current_pool(), stop_task, NULL) == 0)
		atomic_fetch_add(&stop_accepted, 1);
}

static void spawning_stop_hook(unsigned index, void *userdata)
{
	(void)userdata;
	unsigned char big[200] = {0};
	mt_pool *p = mt_current_pool();
	int rc = mt_spawn(p, stop_task, NULL);
	int rc_copy = mt_spawn_copy(p, stop_task, big, sizeof big);
	atomic_fetch_add(&stop_accepted, (rc == 0) + (rc_copy == 0));
	atomic_store(&stop_spawn_rc[index % HOOK_THREADS], rc);
	atomic_store(&stop_copy_rc[index % HOOK_THREADS], rc_copy);
	mt_group g;
	if (mt_group_init(&g, p) == 0 &&
	    mt_group_spawn(&g, stop_group_task, NULL) == 0) {
		atomic_fetch_add(&stop_accepted, 1);
		mt_group_wait(&g);
	}
}

Test(hooks, spawn_from_on_worker_stop_is_ESHUTDOWN_and_nothing_is_lost,
     .timeout = 60)
{
	mt_config cfg = {.threads = 2, .on_worker_stop = spawning_stop_hook};
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(atomic_load(&stop_spawn_rc[i]), ESHUTDOWN,
			     "worker %d: mt_spawn rc %d", i,
			     atomic_load(&stop_spawn_rc[i]));
		cr_assert_eq(atomic_load(&stop_copy_rc[i]), ESHUTDOWN,
			     "worker %d: mt_spawn_copy rc %d", i,
			     atomic_load(&stop_copy_rc[i]));
	}
	cr_assert_eq(atomic_load(&stop_ran), atomic_load(&stop_accepted),
		     "accepted %u tasks, %u ran", atomic_load(&stop_accepted),
		     atomic_load(&stop_ran));
}

/* What a hook may call on its own pool (the header's "Worker hooks"). */
static atomic_int start_spawn_rc = -1, start_map_rc = -1, start_group_rc = -1;
static atomic_int start_quiesce_rc = -1, start_destroy_rc = -1;
static atomic_int stop_map_rc = -1, stop_group_rc = -1;
static atomic_int stop_quiesce_rc = -1, stop_destroy_rc = -1;
static atomic_uint hook_items;

static void *hook_item(void *param)
{
	atomic_fetch_add(&hook_items, 1);
	return param;
}

static void hook_group_task(void *arg)
{
	(void)arg;
	atomic_fetch_add(&hook_items, 1);
}

/* A map of 8 items and a group of 4 tasks; returns the first error. */
static int map_and_group(mt_pool *p, atomic_int *group_rc)
{
	void *params[8] = {0}, *results[8];
	int rc = mt_map(p, hook_item, params, results, 8);
	mt_group g;
	int grc = mt_group_init(&g, p);
	for (int i = 0; grc == 0 && i < 4; i++)
		grc = mt_group_spawn(&g, hook_group_task, NULL);
	if (grc == 0)
		grc = mt_group_wait(&g);
	atomic_store(group_rc, grc);
	return rc;
}

static void calling_start_hook(unsigned index, void *userdata)
{
	(void)userdata;
	if (index != 0)
		return;
	mt_pool *p = mt_current_pool();
	atomic_store(&start_spawn_rc, mt_spawn(p, hook_group_task, NULL));
	atomic_store(&start_map_rc, map_and_group(p, &start_group_rc));
	atomic_store(&start_quiesce_rc, mt_quiesce(p));
	atomic_store(&start_destroy_rc, mt_pool_destroy(p, MT_DRAIN));
}

static void calling_stop_hook(unsigned index, void *userdata)
{
	(void)userdata;
	if (index != 0)
		return;
	mt_pool *p = mt_current_pool();
	atomic_store(&stop_map_rc, map_and_group(p, &stop_group_rc));
	atomic_store(&stop_quiesce_rc, mt_quiesce(p));
	atomic_store(&stop_destroy_rc, mt_pool_destroy(p, MT_DRAIN));
}

Test(hooks, may_map_and_group_on_their_pool_and_get_EDEADLK_for_waits,
     .timeout = 60)
{
	mt_config cfg = {.threads = 2,
			 .on_worker_start = calling_start_hook,
			 .on_worker_stop = calling_stop_hook};
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(mt_quiesce(p), 0); /* the start hook's spawn ran */
	cr_assert_eq(atomic_load(&start_spawn_rc), 0);
	cr_assert_eq(atomic_load(&start_map_rc), 0);
	cr_assert_eq(atomic_load(&start_group_rc), 0);
	cr_assert_eq(atomic_load(&start_quiesce_rc), EDEADLK);
	cr_assert_eq(atomic_load(&start_destroy_rc), EDEADLK);
	cr_assert_eq(atomic_load(&hook_items), 1 + 8 + 4);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	cr_assert_eq(atomic_load(&stop_map_rc), 0);
	cr_assert_eq(atomic_load(&stop_group_rc), 0);
	cr_assert_eq(atomic_load(&stop_quiesce_rc), EDEADLK);
	cr_assert_eq(atomic_load(&stop_destroy_rc), EDEADLK);
	cr_assert_eq(atomic_load(&hook_items), 2 * (8 + 4) + 1);
}

/* ---- thread names ------------------------------------------------------ */

#define NAME_THREADS 12 /* indices 10 and 11 need a 3-byte suffix */

static char names_seen[NAME_THREADS][32];
static atomic_int name_errors;

static void record_name_then_block(void *arg)
{
	(void)arg;
	int w = mt_worker_index();
	char name[32] = {0};
	if (w < 0 || w >= NAME_THREADS ||
	    pthread_getname_np(pthread_self(), name, sizeof name))
		atomic_fetch_add(&name_errors, 1);
	else
		memcpy(names_seen[w], name, sizeof name);
	blocker(arg);
}

static void check_names(const char *prefix_in_cfg, const char *expected_stem)
{
	mt_test_gate_init(&gate);
	char prefix_copy[64];
	mt_config cfg = {.threads = NAME_THREADS};
	if (prefix_in_cfg) {
		strcpy(prefix_copy, prefix_in_cfg);
		cfg.name_prefix = prefix_copy;
	}
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p, "errno %d", errno);
	/* "Copied": the pool must not keep the caller's string. */
	memset(prefix_copy, 'X', sizeof prefix_copy - 1);
	prefix_copy[sizeof prefix_copy - 1] = '\0';
	mt_test_gate_block(&gate, p, NAME_THREADS, record_name_then_block);
	mt_test_gate_open(&gate, NAME_THREADS);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	cr_assert_eq(atomic_load(&name_errors), 0);
	for (int w = 0; w < NAME_THREADS; w++) {
		/* The name fits the kernel's 15 bytes by cutting the prefix,
		 * never the "-<index>" that tells the workers apart (see the
		 * report: the header says "truncated to 15 bytes by the
		 * kernel", which would give every worker the same name). */
		char suffix[16], expected[64];
		int slen = snprintf(suffix, sizeof suffix, "-%d", w);
		snprintf(expected, sizeof expected, "%.*s%s", 15 - slen,
			 expected_stem, suffix);
		cr_assert_str_eq(names_seen[w], expected, "worker %d", w);
	}
}

Test(names, worker_thread_is_named_prefix_dash_index, .timeout = 60)
{
	check_names("tpx", "tpx");
}

Test(names, default_prefix_is_mtpool, .timeout = 60)
{
	check_names(NULL, "mtpool");
}

Test(names, long_prefix_is_cut_to_keep_the_index_within_15_bytes, .timeout = 60)
{
	check_names("abcdefghijklmnopqrstu", "abcdefghijklmnopqrstu");
}

/* ---- mt_pool_size ------------------------------------------------------ */

Test(size, NULL_means_default_pool, .timeout = 60)
{
	cr_assert_eq(setenv("MTPOOL_THREADS", "3", 1), 0);
	cr_assert_eq(mt_pool_size(NULL), 3);
	cr_assert_eq(mt_pool_size(mt_default_pool()), 3);
}

Test(size, NULL_is_0_when_default_pool_cannot_be_created, .timeout = 60)
{
	cr_assert_eq(setenv("MTPOOL_THREADS", "abc", 1), 0);
	cr_assert_eq(mt_pool_size(NULL), 0);
}

/* ---- destroy: argument and context errors ------------------------------ */

Test(destroy, NULL_is_a_no_op_returning_0)
{
	cr_assert_eq(mt_pool_destroy(NULL, MT_DRAIN), 0);
	cr_assert_eq(mt_pool_destroy(NULL, MT_DISCARD), 0);
	uint64_t d = 12345;
	cr_assert_eq(mt_pool_destroy_counted(NULL, MT_DISCARD, &d), 0);
	cr_assert_eq(mt_pool_destroy_counted(NULL, MT_DRAIN, NULL), 0);
}

Test(destroy, invalid_how_is_EINVAL_and_pool_still_works, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	cr_assert_eq(mt_pool_destroy(p, (mt_shutdown)2), EINVAL);
	cr_assert_eq(mt_pool_destroy(p, (mt_shutdown)-1), EINVAL);
	cr_assert_eq(mt_pool_destroy_counted(p, (mt_shutdown)77, NULL), EINVAL);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(mt_spawn(p, count, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&counter), 100);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(destroy, default_pool_is_EINVAL, .timeout = 60)
{
	mt_pool *d = mt_default_pool();
	cr_assert_not_null(d, "errno %d", errno);
	cr_assert_eq(mt_pool_destroy(d, MT_DRAIN), EINVAL);
	cr_assert_eq(mt_pool_destroy(d, MT_DISCARD), EINVAL);
	cr_assert_eq(mt_pool_destroy_counted(d, MT_DRAIN, NULL), EINVAL);
	/* Still alive. */
	cr_assert_eq(mt_spawn(d, count, NULL), 0);
	cr_assert_eq(mt_quiesce(d), 0);
	cr_assert_eq(atomic_load(&counter), 1);
}

static atomic_int rc_destroy = -1, rc_destroy_counted = -1, rc_quiesce = -1;
static atomic_int rc_quiesce_default = -1;

static void destroy_own_pool(void *arg)
{
	(void)arg;
	atomic_store(&rc_destroy, mt_pool_destroy(mt_current_pool(), MT_DRAIN));
	atomic_store(&rc_destroy_counted,
		     mt_pool_destroy_counted(mt_current_pool(), MT_DISCARD,
					     NULL));
}

Test(destroy, from_worker_is_EDEADLK, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	cr_assert_eq(mt_spawn(p, destroy_own_pool, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&rc_destroy), EDEADLK);
	cr_assert_eq(atomic_load(&rc_destroy_counted), EDEADLK);
	/* "nothing done": the pool still works and destroys normally. */
	cr_assert_eq(mt_spawn(p, count, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&counter), 1);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

static mt_pool *victim;

static void destroy_victim(void *arg)
{
	(void)arg;
	atomic_store(&rc_destroy, mt_pool_destroy(victim, MT_DRAIN));
}

Test(destroy, from_a_worker_of_another_pool_succeeds, .timeout = 60)
{
	mt_pool *p = mt_test_pool(1);
	victim = mt_test_pool(2);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(mt_spawn(victim, count, NULL), 0);
	cr_assert_eq(mt_spawn(p, destroy_victim, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&rc_destroy), 0);
	cr_assert_eq(atomic_load(&counter), 100);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

static void quiesce_own_pool(void *arg)
{
	(void)arg;
	atomic_store(&rc_quiesce, mt_quiesce(mt_current_pool()));
}

Test(quiesce, from_worker_is_EDEADLK, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	cr_assert_eq(mt_spawn(p, quiesce_own_pool, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&rc_quiesce), EDEADLK);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

static void quiesce_default_pool(void *arg)
{
	(void)arg;
	atomic_store(&rc_quiesce_default, mt_quiesce(NULL));
}

Test(quiesce, NULL_from_default_pool_worker_is_EDEADLK, .timeout = 60)
{
	cr_assert_eq(mt_spawn(NULL, quiesce_default_pool, NULL), 0);
	cr_assert_eq(mt_quiesce(NULL), 0);
	cr_assert_eq(atomic_load(&rc_quiesce_default), EDEADLK);
}

static mt_pool *quiesce_target;

static void quiesce_other_pool(void *arg)
{
	(void)arg;
	atomic_store(&rc_quiesce, mt_quiesce(quiesce_target));
	/* Everything spawned on the target before the call is finished. */
	if (atomic_load(&counter) != 500)
		atomic_store(&rc_quiesce, -2);
}

Test(quiesce, from_a_worker_of_another_pool_waits, .timeout = 60)
{
	mt_pool *p = mt_test_pool(1);
	quiesce_target = mt_test_pool(2);
	for (int i = 0; i < 500; i++)
		cr_assert_eq(mt_spawn(quiesce_target, count, NULL), 0);
	cr_assert_eq(mt_spawn(p, quiesce_other_pool, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&rc_quiesce), 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	cr_assert_eq(mt_pool_destroy(quiesce_target, MT_DRAIN), 0);
}

/* ---- quiesce ----------------------------------------------------------- */

#define Q_FANOUT 5
#define Q_DEPTH 5 /* 1 + 5 + ... + 5^5 = 3906 per root */
#define Q_ROOTS 8

static unsigned q_tree_size(void)
{
	unsigned total = 0, level = 1;
	for (int d = 0; d <= Q_DEPTH; d++, level *= Q_FANOUT)
		total += level;
	return total;
}

static atomic_int q_errors;

static void q_node(void *arg)
{
	uintptr_t depth = (uintptr_t)arg;
	atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
	for (uintptr_t i = 0; depth > 0 && i < Q_FANOUT; i++)
		if (mt_spawn(mt_current_pool(), q_node, (void *)(depth - 1)) !=
		    0)
			atomic_fetch_add(&q_errors, 1);
}

Test(quiesce, waits_for_detached_tasks_and_what_they_spawn, .timeout = 60)
{
	mt_pool *p = mt_test_pool(3);
	for (int round = 1; round <= 5; round++) {
		for (int r = 0; r < Q_ROOTS; r++)
			cr_assert_eq(mt_spawn(p, q_node,
					      (void *)(uintptr_t)Q_DEPTH),
				     0);
		cr_assert_eq(mt_quiesce(p), 0);
		/* Checked right after quiesce returns. */
		cr_assert_eq(atomic_load(&counter),
			     (unsigned)round * Q_ROOTS * q_tree_size());
	}
	cr_assert_eq(atomic_load(&q_errors), 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(quiesce, on_idle_pool_returns_0, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* quiesce must cover a task that is already running, not just queued ones:
 * the task is known to be inside fn (it posted `started`) when quiesce is
 * called, and its gate is opened by another thread, so a quiesce that
 * ignores running tasks can return with the counter still 0. */
static void count_after_gate(void *arg)
{
	(void)arg;
	mt_test_gate_enter(&gate);
	atomic_fetch_add(&counter, 1);
}

static void *open_gate_thread(void *arg)
{
	(void)arg;
	mt_test_gate_open(&gate, 1);
	return NULL;
}

Test(quiesce, waits_for_a_running_task, .timeout = 60)
{
	mt_test_gate_init(&gate);
	mt_pool *p = mt_test_pool(1);
	cr_assert_eq(mt_spawn(p, count_after_gate, NULL), 0);
	mt_test_gate_wait_started(&gate, 1); /* the task is running */
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, open_gate_thread, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&counter), 1);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* A detached task run by a worker inside a helping wait is published when
 * the wait ends, even if the group task around the wait then blocks: here
 * it blocks until mt_quiesce has returned. Worker A runs group task
 * `outer`, which puts `inner` into a group of its own, waits until worker
 * B has stolen it, spawns detached task `middle` and waits for the group:
 * A runs `middle` while it helps. `middle` lets `inner` finish and returns
 * only once B is parked, i.e. once the group's latch is open, so A's
 * helping wait ends right after `middle` with nothing else run. */
static sem_t inner_started, middle_started, outer_blocking, quiesce_returned;

static void inner(void *arg)
{
	(void)arg;
	sem_post(&inner_started);
	mt_test_sem_wait(&middle_started);
}

static void middle(void *arg)
{
	(void)arg;
	sem_post(&middle_started);
	mt_stats s;
	do
		sched_yield();
	while (mt_pool_stats(mt_current_pool(), &s) == 0 &&
	       s.workers_parked != 1);
}

static void outer(void *arg)
{
	(void)arg;
	mt_group g;
	mt_pool *p = mt_current_pool();
	if (mt_group_init(&g, p) != 0 || mt_group_spawn(&g, inner, NULL) != 0)
		return; /* the test fails at its count check */
	mt_test_sem_wait(&inner_started);
	if (mt_spawn(p, middle, NULL) == 0)
		atomic_fetch_add(&counter, 1);
	mt_group_wait(&g);
	sem_post(&outer_blocking);
	mt_test_sem_wait(&quiesce_returned);
}

Test(quiesce, returns_when_a_helping_wait_ran_the_last_detached_task,
     .timeout = 60)
{
	cr_assert_eq(sem_init(&inner_started, 0, 0), 0);
	cr_assert_eq(sem_init(&middle_started, 0, 0), 0);
	cr_assert_eq(sem_init(&outer_blocking, 0, 0), 0);
	cr_assert_eq(sem_init(&quiesce_returned, 0, 0), 0);
	mt_pool *p = mt_test_pool(2);
	mt_group g;
	cr_assert_eq(mt_group_init(&g, p), 0);
	cr_assert_eq(mt_group_spawn(&g, outer, NULL), 0);
	mt_test_sem_wait(&outer_blocking);
	cr_assert_eq(atomic_load(&counter), 1, "middle was not spawned");
	cr_assert_eq(mt_quiesce(p), 0); /* hung: middle never published */
	sem_post(&quiesce_returned);
	cr_assert_eq(mt_group_wait(&g), 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* ---- MT_DRAIN ---------------------------------------------------------- */

#define QUEUED 1000

Test(drain, runs_every_queued_task, .timeout = 60)
{
	mt_pool *p = gated_pool(2, blocker);
	for (int i = 0; i < QUEUED; i++)
		cr_assert_eq(mt_spawn(p, count, NULL), 0);
	cr_assert_eq(atomic_load(&counter), 0); /* all queued behind the gate */
	mt_test_gate_open(&gate, 2);
	uint64_t d = 777;
	cr_assert_eq(mt_pool_destroy_counted(p, MT_DRAIN, &d), 0);
	cr_assert_eq(atomic_load(&counter), QUEUED);
	cr_assert_eq(d, 0, "MT_DRAIN reported %llu discarded",
		     (unsigned long long)d);
}

Test(drain, with_no_work_returns_0, .timeout = 60)
{
	mt_pool *p = mt_test_pool(3);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* Every queued task spawns a child while the pool is draining: "Run every
 * queued task (and all they spawn)". */
static atomic_uint children_run, children_accepted, child_spawn_errors;

static void child(void *arg)
{
	(void)arg;
	atomic_fetch_add(&children_run, 1);
}

static void parent(void *arg)
{
	(void)arg;
	atomic_fetch_add(&counter, 1);
	int rc = mt_spawn(mt_current_pool(), child, NULL);
	if (rc == 0)
		atomic_fetch_add(&children_accepted, 1);
	else
		atomic_fetch_add(&child_spawn_errors, 1);
}

struct destroy_call {
	mt_pool *pool;
	mt_shutdown how;
	uint64_t discarded;
	int rc;
};

static void *destroy_thread(void *arg)
{
	struct destroy_call *c = arg;
	c->rc = mt_pool_destroy_counted(c->pool, c->how, &c->discarded);
	return NULL;
}

/* Spins (yielding) until an external submission is refused, which marks
 * shutdown as begun. Each accepted probe is a counting task; returns how
 * many were accepted. `rc_out` gets the refusal code. */
static unsigned wait_for_shutdown(mt_pool *p, int *rc_out)
{
	unsigned accepted = 0;
	for (;;) {
		int rc = mt_spawn(p, count, NULL);
		if (rc != 0) {
			*rc_out = rc;
			return accepted;
		}
		accepted++;
		sched_yield();
	}
}

/* A destroy running on a helper thread while the pool's workers are gated. */
struct gated_destroy {
	struct destroy_call c;
	pthread_t t;
	unsigned gated;	 /* workers held at the gate */
	unsigned probes; /* external probes accepted before the refusal */
};

/* Starts destroying gated pool p with `how` and returns once shutdown has
 * begun (an external spawn was refused with ESHUTDOWN). */
static void start_destroy(struct gated_destroy *d, mt_pool *p, mt_shutdown how)
{
	d->c = (struct destroy_call){.pool = p, .how = how, .rc = -1};
	d->gated = mt_pool_size(p);
	cr_assert_eq(pthread_create(&d->t, NULL, destroy_thread, &d->c), 0);
	int refused;
	d->probes = wait_for_shutdown(p, &refused);
	cr_assert_eq(refused, ESHUTDOWN);
}

/* Opens the gate for every worker and checks that the destroy returned 0. */
static void finish_destroy(struct gated_destroy *d)
{
	mt_test_gate_open(&gate, d->gated);
	cr_assert_eq(pthread_join(d->t, NULL), 0);
	cr_assert_eq(d->c.rc, 0);
}

Test(drain, runs_tasks_spawned_by_draining_tasks, .timeout = 60)
{
	mt_pool *p = gated_pool(2, blocker);
	for (int i = 0; i < QUEUED; i++)
		cr_assert_eq(mt_spawn(p, parent, NULL), 0);
	struct gated_destroy d;
	start_destroy(&d, p, MT_DRAIN);
	finish_destroy(&d);
	cr_assert_eq(d.c.discarded, 0);
	/* `counter` counts parents and accepted probes. */
	cr_assert_eq(atomic_load(&counter), QUEUED + d.probes);
	cr_assert_eq(atomic_load(&child_spawn_errors), 0,
		     "%u children refused while draining",
		     atomic_load(&child_spawn_errors));
	cr_assert_eq(atomic_load(&children_accepted), QUEUED);
	cr_assert_eq(atomic_load(&children_run), QUEUED);
}

/* ---- MT_DISCARD -------------------------------------------------------- */

static atomic_int gated_spawn_rc[2] = {-1, -1};
static atomic_int gated_map_rc[2] = {-1, -1};
static atomic_int gated_map_bad[2] = {-1, -1};
static atomic_int gated_group_rc[2] = {-1, -1};
static atomic_uint gated_group_ran[2];

static void *ident(void *x)
{
	return x;
}

static void *plus_one(void *x)
{
	return (void *)((uintptr_t)x + 1u);
}

static void group_add(void *arg)
{
	atomic_fetch_add((atomic_uint *)arg, 1);
}

/* Blocks like blocker(), then (after shutdown began) submits to its own
 * pool: a detached spawn (ESHUTDOWN during MT_DISCARD), a map and a group
 * ("work as usual from its workers"). */
static void blocker_then_submit(void *arg)
{
	int w = mt_worker_index();
	blocker(arg);
	if (w < 0 || w > 1)
		return;
	mt_pool *self = mt_current_pool();
	atomic_store(&gated_spawn_rc[w], mt_spawn(self, count, NULL));
	enum {
		M = 300
	};
	void *params[M], *results[M];
	for (uintptr_t i = 0; i < M; i++)
		params[i] = (void *)i;
	atomic_store(&gated_map_rc[w],
		     mt_map(self, plus_one, params, results, M));
	int bad = 0;
	for (uintptr_t i = 0; i < M; i++)
		bad += results[i] != (void *)(i + 1);
	atomic_store(&gated_map_bad[w], bad);
	mt_group g;
	int rc = mt_group_init(&g, self);
	for (int i = 0; rc == 0 && i < 50; i++)
		rc = mt_group_spawn(&g, group_add, &gated_group_ran[w]);
	if (rc == 0)
		rc = mt_group_wait(&g);
	atomic_store(&gated_group_rc[w], rc);
}

Test(discard, drops_every_queued_task_and_counts_it, .timeout = 60)
{
	mt_pool *p = gated_pool(2, blocker);
	for (int i = 0; i < QUEUED; i++)
		cr_assert_eq(mt_spawn(p, count, NULL), 0);
	struct gated_destroy d;
	start_destroy(&d, p, MT_DISCARD);
	finish_destroy(&d);
	unsigned total = QUEUED + d.probes;
	/* Every accepted task ran exactly once or was counted as dropped. */
	cr_assert_eq(atomic_load(&counter) + d.c.discarded, total,
		     "ran %u + discarded %llu != %u", atomic_load(&counter),
		     (unsigned long long)d.c.discarded, total);
	/* And since no worker was free from before destroy began until
	 * shutdown was visible, none of them had started: all dropped. */
	cr_assert_eq(d.c.discarded, total);
}

Test(discard, with_nothing_queued_reports_0, .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(mt_spawn(p, count, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	uint64_t d = 777;
	cr_assert_eq(mt_pool_destroy_counted(p, MT_DISCARD, &d), 0);
	cr_assert_eq(d, 0);
	cr_assert_eq(atomic_load(&counter), 100);
}

Test(discard, accounts_for_every_task_when_not_gated, .timeout = 60)
{
	/* Racing destroy against running work: no exact split is promised,
	 * only that each task ran once or was counted. */
	for (int round = 0; round < 20; round++) {
		atomic_store(&counter, 0);
		mt_pool *p = mt_test_pool(2);
		for (int i = 0; i < QUEUED; i++)
			cr_assert_eq(mt_spawn(p, count, NULL), 0);
		uint64_t d = 0;
		cr_assert_eq(mt_pool_destroy_counted(p, MT_DISCARD, &d), 0);
		cr_assert_eq(atomic_load(&counter) + d, QUEUED,
			     "round %d: ran %u + dropped %llu", round,
			     atomic_load(&counter), (unsigned long long)d);
	}
}

Test(shutdown, external_submissions_during_destroy_are_ESHUTDOWN, .timeout = 60)
{
	mt_pool *p = gated_pool(2, blocker);
	struct gated_destroy d;
	start_destroy(&d, p, MT_DRAIN);
	/* Every kind of new submission from this (non-worker) thread. */
	char byte = 1;
	cr_assert_eq(mt_spawn(p, count, NULL), ESHUTDOWN);
	cr_assert_eq(mt_spawn_copy(p, count, &byte, 1), ESHUTDOWN);
	void *params[3] = {&byte, &byte, &byte}, *results[3] = {0};
	cr_assert_eq(mt_map(p, ident, params, results, 3), ESHUTDOWN);
	cr_assert_null(results[0]);
	mt_group g;
	int init_rc = mt_group_init(&g, p);
	if (init_rc == 0) {
		cr_assert_eq(mt_group_spawn(&g, count, NULL), ESHUTDOWN);
		cr_assert_eq(mt_group_wait(&g), 0);
	}
	finish_destroy(&d);
	cr_assert_eq(atomic_load(&counter), d.probes);
}

Test(shutdown, worker_submission_during_discard_is_ESHUTDOWN, .timeout = 60)
{
	mt_pool *p = gated_pool(2, blocker_then_submit);
	struct gated_destroy d;
	start_destroy(&d, p, MT_DISCARD);
	finish_destroy(&d);
	for (int w = 0; w < 2; w++)
		cr_assert_eq(atomic_load(&gated_spawn_rc[w]), ESHUTDOWN,
			     "worker %d got %d", w,
			     atomic_load(&gated_spawn_rc[w]));
	cr_assert_eq(atomic_load(&counter) + d.c.discarded, d.probes);
}

/* Both gated workers' mt_map and group (run by blocker_then_submit while
 * the pool shut down) succeeded with correct results. */
static void check_gated_maps_and_groups(void)
{
	for (int w = 0; w < 2; w++) {
		cr_assert_eq(atomic_load(&gated_map_rc[w]), 0,
			     "worker %d: map rc %d", w,
			     atomic_load(&gated_map_rc[w]));
		cr_assert_eq(atomic_load(&gated_map_bad[w]), 0);
		cr_assert_eq(atomic_load(&gated_group_rc[w]), 0,
			     "worker %d: group rc %d", w,
			     atomic_load(&gated_group_rc[w]));
		cr_assert_eq(atomic_load(&gated_group_ran[w]), 50);
	}
}

Test(shutdown, worker_maps_and_groups_during_discard_work_as_usual,
     .timeout = 60)
{
	mt_pool *p = gated_pool(2, blocker_then_submit);
	struct gated_destroy d;
	start_destroy(&d, p, MT_DISCARD);
	finish_destroy(&d);
	check_gated_maps_and_groups();
}

Test(shutdown, worker_maps_and_groups_during_drain_work_as_usual, .timeout = 60)
{
	mt_pool *p = gated_pool(2, blocker_then_submit);
	struct gated_destroy d;
	start_destroy(&d, p, MT_DRAIN);
	finish_destroy(&d);
	for (int w = 0; w < 2; w++) {
		/* Workers' detached spawns are accepted during MT_DRAIN. */
		cr_assert_eq(atomic_load(&gated_spawn_rc[w]), 0,
			     "worker %d: spawn rc %d", w,
			     atomic_load(&gated_spawn_rc[w]));
	}
	check_gated_maps_and_groups();
	cr_assert_eq(atomic_load(&counter), d.probes + 2);
}

Test(shutdown, second_destroy_while_destroying_is_EBUSY, .timeout = 60)
{
	mt_pool *p = gated_pool(2, blocker);
	struct gated_destroy d;
	start_destroy(&d, p, MT_DRAIN);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), EBUSY);
	cr_assert_eq(mt_pool_destroy(p, MT_DISCARD), EBUSY);
	finish_destroy(&d);
}

/* Group tasks queued before a DISCARD are fork-join work: their waiter is
 * blocked on them, so they must run. Worker 0 spawns 100 group tasks into
 * its own deque, then blocks on the gate; after shutdown began it waits. */
#define GROUP_TASKS 100
static atomic_int group_wait_rc = -1;
static atomic_uint group_ran;

static void group_child(void *arg)
{
	(void)arg;
	atomic_fetch_add(&group_ran, 1);
}

static void group_waiter_behind_gate(void *arg)
{
	(void)arg;
	mt_group g;
	int rc = mt_group_init(&g, mt_current_pool());
	for (int i = 0; rc == 0 && i < GROUP_TASKS; i++)
		rc = mt_group_spawn(&g, group_child, NULL);
	if (rc != 0) {
		atomic_store(&group_wait_rc, 1000 + rc);
		blocker(arg);
		return;
	}
	blocker(arg);
	atomic_store(&group_wait_rc, mt_group_wait(&g));
}

Test(discard, never_drops_group_tasks, .timeout = 60)
{
	mt_pool *p = gated_pool(1, group_waiter_behind_gate);
	struct gated_destroy d;
	start_destroy(&d, p, MT_DISCARD);
	finish_destroy(&d);
	cr_assert_eq(atomic_load(&group_wait_rc), 0);
	cr_assert_eq(atomic_load(&group_ran), GROUP_TASKS);
	cr_assert_eq(d.c.discarded, d.probes);
}

/* Create/destroy back to back, both modes, with and without work. */
Test(lifecycle, create_destroy_100_times, .timeout = 60)
{
	for (int i = 0; i < 100; i++) {
		mt_pool *p = mt_test_pool(1 + (unsigned)(i % 4));
		for (int k = 0; k < i; k++)
			cr_assert_eq(mt_spawn(p, count, NULL), 0);
		uint64_t d = 0;
		cr_assert_eq(mt_pool_destroy_counted(
				     p, (i & 1) ? MT_DISCARD : MT_DRAIN, &d),
			     0);
		if (!(i & 1))
			cr_assert_eq(d, 0);
	}
}
