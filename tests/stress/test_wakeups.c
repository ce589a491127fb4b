/*
 * tests/stress/test_wakeups.c: no lost wake-ups in the parking protocol
 * (pool/park.c), proven by termination: if a wake-up were lost, a task
 * would sit in a queue while every worker sleeps, mt_quiesce (or the
 * test's own wait) would never return, and the test's .timeout fails it.
 *
 * Each round first waits until every worker is parked (polling
 * mt_pool_stats, sched_yield between polls: the wait is bounded by the
 * timeout, never by a sleep), then submits, so every submission meets the
 * state the protocol is about: a pool that is asleep or just going to
 * sleep. 16 workers on the 2-CPU machine is deliberate: workers get
 * preempted between announcing sleep and sleeping.
 *
 * Sizes are cut down under sanitizers so the file stays within about a
 * minute there.
 * Plain atomic_load/atomic_store (seq_cst) appear only where order does not
 * matter: single-threaded checks, or reads after a join.
 */
#define _POSIX_C_SOURCE 200809L /* sched_yield, sem_t under -std=c11 */

#include <criterion/criterion.h>
#include <mtpool/mtpool.h>

#include "../common/mt_test.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>

#define ROUNDS (MT_TEST_SANITIZED ? 500 : 2000)
#define EXTERNAL_THREADS 4
#define EXTERNAL_ROUNDS (MT_TEST_SANITIZED ? 200 : 500)
#define CHAIN (MT_TEST_SANITIZED ? 20000 : 200000)
#define HOPS (MT_TEST_SANITIZED ? 300 : 2000)
#define RACE_SPAWNS (MT_TEST_SANITIZED ? 20000 : 200000)

static void set_flag(void *arg)
{
	/* relaxed: mt_quiesce's return orders it before the test's read. */
	atomic_store_explicit((_Atomic int *)arg, 1, memory_order_relaxed);
}

/* ---- (a) one submitter, a parked pool ---------------------------------- */

static void one_task_into_a_parked_pool(unsigned threads)
{
	mt_pool *p = mt_test_pool(threads);
	_Atomic int flag;
	for (int r = 0; r < ROUNDS; r++) {
		(void)mt_test_wait_all_parked(p, 0);
		atomic_store_explicit(&flag, 0, memory_order_relaxed);
		cr_assert_eq(mt_spawn(p, set_flag, &flag), 0);
		cr_assert_eq(mt_quiesce(p), 0);
		cr_assert(atomic_load_explicit(&flag, memory_order_relaxed),
			  "round %d: quiesce returned before the task ran", r);
	}
	mt_stats s = mt_test_stats(p);
	/* The pool really parked and was really woken. Not once per round:
	 * a worker seen announcing sleep may still find the task in its
	 * re-check and cancel the sleep, with no park and no wake counted. */
	cr_assert_gt(s.parks, 0);
	cr_assert_gt(s.wakes, 0);
	cr_assert_eq(s.tasks_run, ROUNDS);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(wakeups, a_task_spawned_into_a_parked_1_worker_pool_always_runs,
     .timeout = 60)
{
	one_task_into_a_parked_pool(1);
}

Test(wakeups, a_task_spawned_into_a_parked_2_worker_pool_always_runs,
     .timeout = 60)
{
	one_task_into_a_parked_pool(2);
}

Test(wakeups, a_task_spawned_into_a_parked_16_worker_pool_always_runs,
     .timeout = 60)
{
	one_task_into_a_parked_pool(16);
}

/* ---- (b) four submitters at once --------------------------------------- */

static mt_pool *shared_pool;
static pthread_barrier_t external_go;

/* Returns non-NULL on failure (asserts stay on the test's thread). */
static void *external_submitter(void *unused)
{
	(void)unused;
	_Atomic int flag;
	pthread_barrier_wait(&external_go);
	for (int r = 0; r < EXTERNAL_ROUNDS; r++) {
		(void)mt_test_wait_all_parked(shared_pool, 0);
		atomic_store_explicit(&flag, 0, memory_order_relaxed);
		if (mt_spawn(shared_pool, set_flag, &flag) != 0 ||
		    mt_quiesce(shared_pool) != 0 ||
		    !atomic_load_explicit(&flag, memory_order_relaxed))
			return &shared_pool; /* any non-NULL: a failure */
	}
	return NULL;
}

Test(wakeups, four_threads_spawning_into_a_parked_16_worker_pool_all_finish,
     .timeout = 60)
{
	pthread_t th[EXTERNAL_THREADS];
	shared_pool = mt_test_pool(16);
	cr_assert_eq(pthread_barrier_init(&external_go, NULL, EXTERNAL_THREADS),
		     0);
	for (int i = 0; i < EXTERNAL_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, external_submitter,
					    NULL),
			     0);
	for (int i = 0; i < EXTERNAL_THREADS; i++) {
		void *failed = NULL;
		cr_assert_eq(pthread_join(th[i], &failed), 0);
		cr_assert_null(failed, "submitter %d saw a task not run", i);
	}
	pthread_barrier_destroy(&external_go);
	mt_stats s = mt_test_stats(shared_pool);
	cr_assert_eq(s.tasks_run, EXTERNAL_THREADS * EXTERNAL_ROUNDS);
	cr_assert_gt(s.parks, 0);
	cr_assert_gt(s.wakes, 0);
	cr_assert_eq(mt_pool_destroy(shared_pool, MT_DRAIN), 0);
}

/* ---- (c) ping-pong ------------------------------------------------------
 * One task at a time: the pool's other workers park while it runs, so
 * each hop is a submission into a (mostly) parked pool. */

static _Atomic long chain_left;
/* Set by a task whose mt_spawn failed: Criterion asserts belong on the
 * test's own thread, not on workers. */
static _Atomic int spawn_failed;

static void chain(void *unused)
{
	(void)unused;
	/* relaxed: only this chain's tasks touch it, one at a time, each
	 * spawned by the previous one (the spawn orders them). */
	if (atomic_fetch_sub_explicit(&chain_left, 1, memory_order_relaxed) > 1)
		if (mt_spawn(mt_current_pool(), chain, NULL) != 0)
			atomic_store(&spawn_failed, 1); /* seq_cst: rare */
}

Test(wakeups, a_task_respawning_itself_from_a_worker_runs_to_the_end,
     .timeout = 60)
{
	mt_pool *p = mt_test_pool(16);
	atomic_store(&chain_left, CHAIN); /* seq_cst: before the pool sees it */
	(void)mt_test_wait_all_parked(p, 0);
	cr_assert_eq(mt_spawn(p, chain, NULL), 0);
	cr_assert_eq(mt_quiesce(p), 0);
	cr_assert_not(atomic_load(&spawn_failed));
	cr_assert_eq(atomic_load(&chain_left), 0);
	cr_assert_eq(mt_test_stats(p).tasks_run, CHAIN);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

/* Between two pools, each hop is an external submission from a worker of
 * the other pool, made once every worker of the target pool is parked
 * (the hop polls its stats first): the wake-up path of park.c, driven
 * from a worker thread, on every hop. */
static mt_pool *ping, *pong;
static _Atomic long hops_left;
static sem_t hops_done;

static void hop(void *unused)
{
	(void)unused;
	mt_pool *other = mt_current_pool() == ping ? pong : ping;
	/* relaxed: one hop at a time, ordered by the spawns. */
	if (atomic_fetch_sub_explicit(&hops_left, 1, memory_order_relaxed) >
	    1) {
		mt_stats s;
		do
			sched_yield();
		while (mt_pool_stats(other, &s) == 0 &&
		       s.workers_parked != s.workers);
		if (mt_spawn(other, hop, NULL) == 0)
			return;
	}
	if (atomic_load_explicit(&hops_left, memory_order_relaxed) != 0)
		atomic_store(&spawn_failed, 1); /* seq_cst: rare */
	sem_post(&hops_done); /* the last hop, or a failed one */
}

Test(wakeups, a_task_bouncing_between_two_parked_pools_runs_to_the_end,
     .timeout = 60)
{
	ping = mt_test_pool(4);
	pong = mt_test_pool(4);
	cr_assert_eq(sem_init(&hops_done, 0, 0), 0);
	atomic_store(&hops_left, HOPS); /* seq_cst: before the pools see it */
	(void)mt_test_wait_all_parked(ping, 0);
	(void)mt_test_wait_all_parked(pong, 0);
	cr_assert_eq(mt_spawn(ping, hop, NULL), 0);
	while (sem_wait(&hops_done) != 0)
		cr_assert_eq(errno, EINTR);
	cr_assert_eq(mt_quiesce(ping), 0);
	cr_assert_eq(mt_quiesce(pong), 0);
	cr_assert_not(atomic_load(&spawn_failed));
	cr_assert_eq(atomic_load(&hops_left), 0);
	cr_assert_eq(mt_test_stats(ping).tasks_run +
			     mt_test_stats(pong).tasks_run,
		     HOPS);
	/* Every hop woke a parked pool (the first one too, see above),
	 * unless a worker seen announcing sleep cancelled it on its own. */
	cr_assert_gt(mt_test_stats(ping).wakes + mt_test_stats(pong).wakes, 0);
	cr_assert_eq(mt_pool_destroy(ping, MT_DRAIN), 0);
	cr_assert_eq(mt_pool_destroy(pong, MT_DRAIN), 0);
	sem_destroy(&hops_done);
}

/* ---- (d) quiesce racing with spawns -------------------------------------
 * A spawner thread counts `spawned` after each mt_spawn returns; tasks
 * count `done`. A quiesce that began after `spawned` read s must not
 * return before s tasks are done: it may or may not wait for the ones
 * spawned concurrently, but never for fewer than were admitted before. */

static _Atomic uint64_t spawned, done;
static _Atomic int spawner_finished;
static mt_pool *race_pool;

static void count_done(void *unused)
{
	(void)unused;
	/* relaxed: quiesce's return orders it before the test's read. */
	atomic_fetch_add_explicit(&done, 1, memory_order_relaxed);
}

static void *spawner(void *unused)
{
	(void)unused;
	void *failed = NULL;
	for (int i = 0; i < RACE_SPAWNS; i++) {
		if (mt_spawn(race_pool, count_done, NULL) != 0) {
			failed = &spawned;
			break;
		}
		/* release: the quiescer's acquire read of `spawned` is then
		 * after this mt_spawn returned. */
		atomic_fetch_add_explicit(&spawned, 1, memory_order_release);
		if (i % 64 == 0)
			sched_yield(); /* let the pool drain and park */
	}
	atomic_store_explicit(&spawner_finished, 1, memory_order_release);
	return failed;
}

Test(wakeups, quiesce_racing_with_spawns_waits_for_all_spawned_before_it,
     .timeout = 60)
{
	pthread_t th;
	race_pool = mt_test_pool(4);
	cr_assert_eq(pthread_create(&th, NULL, spawner, NULL), 0);
	long quiesces = 0;
	for (;;) {
		/* acquire: pairs with the release in spawner. */
		int finished = atomic_load_explicit(&spawner_finished,
						    memory_order_acquire);
		uint64_t s =
			atomic_load_explicit(&spawned, memory_order_acquire);
		cr_assert_eq(mt_quiesce(race_pool), 0);
		uint64_t d = atomic_load_explicit(&done, memory_order_relaxed);
		quiesces++;
		cr_assert_geq(d, s, "quiesce returned with %llu of %llu done",
			      (unsigned long long)d, (unsigned long long)s);
		if (finished)
			break;
	}
	void *failed = NULL;
	cr_assert_eq(pthread_join(th, &failed), 0);
	cr_assert_null(failed, "mt_spawn failed");
	cr_assert_eq(atomic_load(&done), RACE_SPAWNS);
	cr_assert_gt(quiesces, 1);
	cr_assert_eq(mt_pool_destroy(race_pool, MT_DRAIN), 0);
}

/* ---- (e) submissions landing while workers go to sleep ------------------
 * Unlike (a), the spawn is not aimed at a parked pool but at a random
 * point of the worker's wind-down after its last task: still searching,
 * announcing sleep, re-checking, or asleep. A busy delay of random length
 * (jitter, not a wait for a state) spreads the spawns over that path. */

#define JITTER_ROUNDS (MT_TEST_SANITIZED ? 5000 : 50000)

static void jitter(uint64_t *rng)
{
	/* xorshift64: any cheap, seedable spread will do. */
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	for (volatile unsigned i = 0, n = (unsigned)(*rng % 40000); i < n; i++)
		;
}

static void spawn_during_wind_down(unsigned threads)
{
	mt_pool *p = mt_test_pool(threads);
	_Atomic int flag;
	uint64_t rng = 0x9e3779b97f4a7c15u;
	for (int r = 0; r < JITTER_ROUNDS; r++) {
		jitter(&rng);
		atomic_store_explicit(&flag, 0, memory_order_relaxed);
		cr_assert_eq(mt_spawn(p, set_flag, &flag), 0);
		cr_assert_eq(mt_quiesce(p), 0);
		cr_assert(atomic_load_explicit(&flag, memory_order_relaxed));
	}
	cr_assert_eq(mt_test_stats(p).tasks_run, JITTER_ROUNDS);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}

Test(wakeups, a_task_spawned_while_1_worker_winds_down_always_runs,
     .timeout = 60)
{
	spawn_during_wind_down(1);
}

Test(wakeups, a_task_spawned_while_2_workers_wind_down_always_runs,
     .timeout = 60)
{
	spawn_during_wind_down(2);
}

/* ---- (f) a local push, then a block outside the pool --------------------
 * A task spawns a child onto its own worker's deque and then blocks on a
 * semaphore until the child has run: only another worker can run it, so
 * the push must wake one even while that worker is in the middle of going
 * to sleep (park.c's asymmetric pair: the pusher has no fence). Jitter
 * spreads the pushes over the other worker's wind-down. */

static sem_t child_ran;

static void post_child_ran(void *arg)
{
	(void)arg;
	sem_post(&child_ran);
}

static void spawn_child_then_block(void *arg)
{
	uint64_t *rng = arg;
	jitter(rng);
	if (mt_spawn(mt_current_pool(), post_child_ran, NULL) != 0) {
		atomic_store(&spawn_failed, 1); /* seq_cst: rare */
		return;
	}
	while (sem_wait(&child_ran) != 0)
		;
}

Test(wakeups, a_task_blocking_on_its_own_child_is_never_left_waiting,
     .timeout = 60)
{
	mt_pool *p = mt_test_pool(2);
	cr_assert_eq(sem_init(&child_ran, 0, 0), 0);
	uint64_t rng = 0x2545f4914f6cdd1du;
	for (int r = 0; r < JITTER_ROUNDS / 5; r++) {
		cr_assert_eq(mt_spawn(p, spawn_child_then_block, &rng), 0);
		cr_assert_eq(mt_quiesce(p), 0);
	}
	cr_assert_not(atomic_load(&spawn_failed));
	cr_assert_eq(mt_test_stats(p).tasks_run, 2 * (JITTER_ROUNDS / 5));
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	sem_destroy(&child_ran);
}
