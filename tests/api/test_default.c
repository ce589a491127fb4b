/*
 * tests/api/test_default.c: the process default pool: created exactly once
 * under a first-use race, usable in the child of fork(), and abandoned
 * safely at exit.
 *
 * Each Test runs in its own process (STYLE 39), so "first use" really is
 * the first use in that process. Children of fork() report through their
 * exit status only (they must not talk to Criterion's runner), and leave
 * with _exit() unless the test is about exit() itself.
 *
 * Under ThreadSanitizer the fork tests need TSAN_OPTIONS=die_after_fork=0.
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
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- first-use race ---------------------------------------------------- */

#define RACERS 8

static pthread_barrier_t start_line;
static mt_pool *seen[RACERS];
static int seen_errno[RACERS];

static void *race_to_default(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	pthread_barrier_wait(&start_line);
	errno = 0;
	seen[k] = mt_default_pool();
	seen_errno[k] = errno;
	return NULL;
}

Test(default_pool, eight_racing_first_users_get_the_same_pool, .timeout = 60)
{
	cr_assert_eq(unsetenv("MTPOOL_THREADS"), 0);
	cr_assert_eq(pthread_barrier_init(&start_line, NULL, RACERS), 0);
	pthread_t t[RACERS];
	for (uintptr_t k = 0; k < RACERS; k++)
		cr_assert_eq(pthread_create(&t[k], NULL, race_to_default,
					    (void *)k),
			     0);
	for (int k = 0; k < RACERS; k++)
		cr_assert_eq(pthread_join(t[k], NULL), 0);
	for (int k = 0; k < RACERS; k++) {
		cr_assert_not_null(seen[k], "racer %d got NULL, errno %d", k,
				   seen_errno[k]);
		cr_assert_eq(seen[k], seen[0], "racer %d got another pool", k);
	}
	cr_assert_eq(mt_default_pool(), seen[0]);
	/* Exactly one pool's worth of workers exists. */
	cr_assert_eq(mt_pool_size(NULL),
		     (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	pthread_barrier_destroy(&start_line);
}

/* The racers call through mt_spawn(NULL, ...) instead: the implicit first
 * use races too, and every task lands on the one pool. */
static atomic_uint racer_runs;
static _Atomic(mt_pool *) racer_task_pool[RACERS];
static int racer_rc[RACERS];

static void note_pool(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	atomic_store(&racer_task_pool[k], mt_current_pool());
	atomic_fetch_add(&racer_runs, 1);
}

static void *race_to_spawn(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	pthread_barrier_wait(&start_line);
	racer_rc[k] = mt_spawn(NULL, note_pool, arg);
	return NULL;
}

Test(default_pool, eight_racing_NULL_spawns_share_one_pool, .timeout = 60)
{
	cr_assert_eq(pthread_barrier_init(&start_line, NULL, RACERS), 0);
	pthread_t t[RACERS];
	for (uintptr_t k = 0; k < RACERS; k++)
		cr_assert_eq(pthread_create(&t[k], NULL, race_to_spawn,
					    (void *)k),
			     0);
	for (int k = 0; k < RACERS; k++)
		cr_assert_eq(pthread_join(t[k], NULL), 0);
	for (int k = 0; k < RACERS; k++)
		cr_assert_eq(racer_rc[k], 0, "racer %d: rc %d", k, racer_rc[k]);
	cr_assert_eq(mt_quiesce(NULL), 0);
	cr_assert_eq(atomic_load(&racer_runs), RACERS);
	mt_pool *d = mt_default_pool();
	for (int k = 0; k < RACERS; k++)
		cr_assert_eq(atomic_load(&racer_task_pool[k]), d);
	pthread_barrier_destroy(&start_line);
}

Test(default_pool, is_not_a_worker_pool_for_the_main_thread, .timeout = 60)
{
	cr_assert_not_null(mt_default_pool());
	cr_assert_eq(mt_worker_index(), -1);
	cr_assert_null(mt_current_pool());
}

/* ---- fork -------------------------------------------------------------- */

static atomic_uint child_counter;

static void child_count(void *arg)
{
	(void)arg;
	atomic_fetch_add(&child_counter, 1);
}

static void *square(void *x)
{
	uintptr_t v = (uintptr_t)x;
	return (void *)(v * v);
}

/* Exercises the default pool in the child: returns 0 on success or a
 * distinct code naming the failing step. */
static int use_default_pool_in_child(void)
{
	enum {
		M = 5003
	};
	static void *params[M], *results[M];
	mt_pool *d = mt_default_pool();
	if (d == NULL)
		return 10;
	if (mt_pool_size(d) == 0)
		return 11;
	for (uintptr_t i = 0; i < M; i++)
		params[i] = (void *)i;
	if (mt_map(NULL, square, params, results, M) != 0)
		return 12;
	for (uintptr_t i = 0; i < M; i++)
		if ((uintptr_t)results[i] != i * i)
			return 13;
	atomic_store(&child_counter, 0);
	for (int i = 0; i < 1000; i++)
		if (mt_spawn(NULL, child_count, NULL) != 0)
			return 14;
	if (mt_quiesce(NULL) != 0)
		return 15;
	if (atomic_load(&child_counter) != 1000)
		return 16;
	mt_group g;
	if (mt_group_init(&g, NULL) != 0)
		return 17;
	for (int i = 0; i < 100; i++)
		if (mt_group_spawn(&g, child_count, NULL) != 0)
			return 18;
	if (mt_group_wait(&g) != 0 || atomic_load(&child_counter) != 1100)
		return 19;
	return 0;
}

static void use_default_pool_in_parent(void)
{
	enum {
		M = 1000
	};
	static void *params[M], *results[M];
	for (uintptr_t i = 0; i < M; i++)
		params[i] = (void *)i;
	cr_assert_eq(mt_map(NULL, square, params, results, M), 0);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(mt_spawn(NULL, child_count, NULL), 0);
	cr_assert_eq(mt_quiesce(NULL), 0);
	cr_assert_eq(atomic_load(&child_counter), 1000);
}

static void check_child_status(pid_t pid)
{
	int status;
	pid_t r;
	while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	cr_assert_eq(r, pid);
	cr_assert(WIFEXITED(status), "child did not exit normally (signal %d)",
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	cr_assert_eq(WEXITSTATUS(status), 0, "child failed at step %d",
		     WEXITSTATUS(status));
}

Test(fork, child_can_use_the_default_pool, .timeout = 60)
{
	use_default_pool_in_parent();
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(use_default_pool_in_child());
	check_child_status(pid);
	/* The parent's pool is unaffected. */
	atomic_store(&child_counter, 0);
	use_default_pool_in_parent();
}

/* fork while the parent's workers are busy: the child must not inherit
 * their queued tasks' state in a way that blocks it. */
static struct mt_test_gate busy_gate;

static void busy(void *arg)
{
	(void)arg;
	mt_test_gate_enter(&busy_gate);
}

Test(fork, child_can_use_the_default_pool_while_parent_workers_are_busy,
     .timeout = 60)
{
	cr_assert_eq(setenv("MTPOOL_THREADS", "2", 1), 0);
	mt_test_gate_init(&busy_gate);
	mt_test_gate_block(&busy_gate, NULL, 2, busy);
	/* Both workers are inside busy(); more work is queued behind them. */
	for (int i = 0; i < 100; i++)
		cr_assert_eq(mt_spawn(NULL, child_count, NULL), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(use_default_pool_in_child());
	check_child_status(pid);
	mt_test_gate_open(&busy_gate, 2);
	cr_assert_eq(mt_quiesce(NULL), 0);
	cr_assert_eq(atomic_load(&child_counter), 100);
}

Test(fork, child_of_a_process_that_never_used_the_pool_can_use_it,
     .timeout = 60)
{
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(use_default_pool_in_child());
	check_child_status(pid);
}

/* Grandchild: the default pool is recreated at each generation. */
Test(fork, grandchild_can_use_the_default_pool, .timeout = 60)
{
	use_default_pool_in_parent();
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int rc = use_default_pool_in_child();
		if (rc != 0)
			_exit(rc);
		pid_t g = fork();
		if (g < 0)
			_exit(30);
		if (g == 0)
			_exit(use_default_pool_in_child());
		int status;
		while (waitpid(g, &status, 0) < 0)
			if (errno != EINTR)
				_exit(31);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 32);
	}
	check_child_status(pid);
}

/* ---- fork() inside a task ---------------------------------------------
 * The child of a fork() made by a task continues in that task on its only
 * thread, which in the parent is a worker. When the task returns there, the
 * pool must not go on: the child would run tasks inherited from the
 * parent's queues (their side effects twice) and then park for ever. The
 * header's rule: that thread ends, and the child exits with status 0.
 * The inherited task counts its runs in memory shared with the child; the
 * child arms alarm() so that a hang kills it (SIGALRM) instead of the test
 * waiting for it. */

static atomic_uint *shared_runs; /* MAP_SHARED: the child's runs count too */
static _Atomic pid_t forked_child;
static mt_pool *fork_pool; /* a global, so no leak is reported in the child */

static void inherited_side_effect(void *arg)
{
	(void)arg;
	atomic_fetch_add(shared_runs, 1);
}

/* The child is expected to leave through exit(0). Its handlers are the
 * parent's copies (Criterion's, and LeakSanitizer's, which would report
 * what only the parent's main thread still points to): the first one to
 * run, registered last, leaves at once with status 0, the status the
 * library's exit(0) asks for. */
static void leave_quietly(void)
{
	_exit(0);
}

static void fork_in_task(void *arg)
{
	(void)arg;
	pid_t pid = fork();
	if (pid == 0) {
		atexit(leave_quietly);
		alarm(20); /* the child must end by itself long before */
		return;	   /* back into the pool's code, in the child */
	}
	atomic_store(&forked_child, pid);
}

static void spawn_then_fork(void *arg)
{
	if (mt_spawn(mt_current_pool(), inherited_side_effect, NULL) == 0)
		fork_in_task(arg);
}

/* The fork happens in a group task that the waiting task runs itself
 * (helping), with the inherited task queued behind it. */
static void fork_inside_a_wait(void *arg)
{
	mt_group g;
	if (mt_spawn(mt_current_pool(), inherited_side_effect, NULL) != 0 ||
	    mt_group_init(&g, mt_current_pool()) != 0 ||
	    mt_group_spawn(&g, fork_in_task, arg) != 0)
		return;
	mt_group_wait(&g);
}

static void fork_from_a_task(void (*task)(void *))
{
	shared_runs = mmap(NULL, sizeof *shared_runs, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(shared_runs, MAP_FAILED);
	fork_pool = mt_test_pool(1);
	cr_assert_eq(mt_spawn(fork_pool, task, NULL), 0);
	cr_assert_eq(mt_quiesce(fork_pool), 0);
	pid_t pid = atomic_load(&forked_child);
	cr_assert_gt(pid, 0, "fork() failed in the task");
	check_child_status(pid);
	cr_assert_eq(atomic_load(shared_runs), 1,
		     "the inherited task ran %u times",
		     atomic_load(shared_runs));
	cr_assert_eq(mt_pool_destroy(fork_pool, MT_DRAIN), 0);
}

Test(fork, child_of_a_task_runs_no_inherited_task_and_exits, .timeout = 60)
{
	fork_from_a_task(spawn_then_fork);
}

Test(fork, child_of_a_task_inside_a_wait_runs_no_inherited_task_and_exits,
     .timeout = 60)
{
	fork_from_a_task(fork_inside_a_wait);
}

/* ---- exit with work pending ------------------------------------------- */

static sem_t never_posted;

static void blocked_forever(void *arg)
{
	(void)arg;
	while (sem_wait(&never_posted) != 0)
		;
}

/* "returning from main with detached work pending neither hangs nor
 * crashes": a child whose default-pool workers are all blocked, with more
 * work queued, calls exit(0). A hang fails through the test's timeout. */
Test(exit, with_blocked_and_queued_default_pool_work_neither_hangs_nor_crashes,
     .timeout = 60)
{
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (setenv("MTPOOL_THREADS", "2", 1) != 0 ||
		    sem_init(&never_posted, 0, 0) != 0)
			_exit(40);
		mt_pool *d = mt_default_pool();
		if (d == NULL)
			_exit(41);
		for (int i = 0; i < 2; i++)
			if (mt_spawn(NULL, blocked_forever, NULL) != 0)
				_exit(42);
		for (int i = 0; i < 1000; i++)
			if (mt_spawn(NULL, child_count, NULL) != 0)
				_exit(43);
		exit(0);
	}
	check_child_status(pid);
}

/* ---- an explicit pool inherited across fork() -------------------------- */

static atomic_uint inherited_calls;

static void inherited_task(void *arg)
{
	(void)arg;
	atomic_fetch_add(&inherited_calls, 1);
}

static void *inherited_map_fn(void *x)
{
	atomic_fetch_add(&inherited_calls, 1);
	return x;
}

static void inherited_body(size_t i, void *ctx)
{
	(void)i;
	(void)ctx;
	atomic_fetch_add(&inherited_calls, 1);
}

/* "A pool created with mt_pool_create() before the fork has no workers in
 * the child: every call on it there returns ECHILD (mt_pool_size returns
 * 0), and it cannot be destroyed there." Returns 0 or the failing step. */
static int use_inherited_pool_in_child(mt_pool *p)
{
	char byte = 1;
	void *params[2] = {&byte, &byte}, *results[2] = {0};
	mt_group g;
	mt_stats s;
	if (mt_pool_size(p) != 0)
		return 50;
	if (mt_spawn(p, inherited_task, NULL) != ECHILD)
		return 51;
	if (mt_spawn_copy(p, inherited_task, &byte, 1) != ECHILD)
		return 52;
	if (mt_map(p, inherited_map_fn, params, results, 2) != ECHILD)
		return 53;
	if (mt_for(p, 2, inherited_body, NULL) != ECHILD)
		return 54;
	if (mt_quiesce(p) != ECHILD)
		return 55;
	if (mt_pool_stats(p, &s) != ECHILD)
		return 56;
	if (mt_group_init(&g, p) != ECHILD)
		return 57;
	if (mt_pool_destroy(p, MT_DRAIN) != ECHILD)
		return 58;
	if (mt_pool_destroy(p, MT_DISCARD) != ECHILD)
		return 59;
	if (atomic_load(&inherited_calls) != 0 || results[0] != NULL)
		return 60;
	/* The default pool still works in the same child. */
	return use_default_pool_in_child();
}

Test(fork, explicit_pool_in_child_returns_ECHILD_and_parent_keeps_it,
     .timeout = 60)
{
	mt_config cfg = {.threads = 2};
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p, "errno %d", errno);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(mt_spawn(p, child_count, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(use_inherited_pool_in_child(p));
	check_child_status(pid);
	/* In the parent the pool is untouched by the child's calls. */
	cr_assert_eq(mt_pool_size(p), 2);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(mt_spawn(p, child_count, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_eq(atomic_load(&child_counter), 200);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* A group initialised on the pool before the fork belongs to it too. */
static int use_inherited_group_in_child(mt_group *g)
{
	int rc = mt_group_spawn(g, inherited_task, NULL);
	if (rc != ECHILD)
		return 70;
	if (atomic_load(&inherited_calls) != 0)
		return 71;
	if (mt_group_wait(g) != ECHILD) /* waiting would never end here */
		return 72;
	return 0;
}

Test(fork, group_of_an_inherited_pool_is_ECHILD_in_child, .timeout = 60)
{
	mt_config cfg = {.threads = 1};
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p, "errno %d", errno);
	mt_group g;
	cr_assert_eq(mt_group_init(&g, p), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(use_inherited_group_in_child(&g));
	check_child_status(pid);
	cr_assert_eq(mt_group_wait(&g), 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}
