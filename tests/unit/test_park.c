/*
 * tests/unit/test_park.c: the parking protocol's re-check, made
 * deterministic with mt__park_test_hook.
 *
 * The race: a worker has found nothing and is about to sleep; a submitter
 * pushes a task and looks for sleepers before the worker has announced
 * itself, so it wakes nobody. Only the worker's re-check after its
 * announcement (park.c, F_z) can find that task. The hook holds the worker
 * at the start of mt__park while the main thread submits; without the
 * re-check the worker would sleep with the task queued and the test would
 * hit its timeout.
 */
#include <criterion/criterion.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "park.h"
#include "pool.h"
#include "worker.h"

static sem_t at_park, go_on;
static _Atomic int hook_armed;
static _Atomic int ran;

static void hold_once(struct mt_worker *w)
{
	(void)w;
	int armed = 1;
	if (!atomic_compare_exchange_strong(&hook_armed, &armed, 0))
		return;
	sem_post(&at_park);
	while (sem_wait(&go_on) != 0)
		;
}

static void mark(void *arg)
{
	(void)arg;
	atomic_store(&ran, 1);
}

static mt_pool *one_worker_pool(void)
{
	mt_config cfg = {.threads = 1};
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p);
	return p;
}

Test(park, task_submitted_before_the_announcement_is_found_by_the_recheck,
     .timeout = 30)
{
	sem_init(&at_park, 0, 0);
	sem_init(&go_on, 0, 0);
	mt__park_test_hook = hold_once;
	atomic_store(&hook_armed, 1);
	mt_pool *p = one_worker_pool();
	while (sem_wait(&at_park) != 0) /* the worker is about to sleep */
		;
	mt_stats before;
	cr_assert_eq(mt_pool_stats(p, &before), 0);
	cr_assert_eq(mt_spawn(p, mark, NULL), 0);
	mt_stats after;
	cr_assert_eq(mt_pool_stats(p, &after), 0);
	cr_assert_eq(after.wakes, before.wakes,
		     "the submitter must not have seen a sleeper to wake");
	sem_post(&go_on);
	cr_assert_eq(mt_quiesce(p), 0); /* hangs if the task was lost */
	cr_assert_eq(atomic_load(&ran), 1);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	mt__park_test_hook = NULL; /* after the workers: they read it */
}

Test(park, worker_held_before_sleeping_still_takes_later_work, .timeout = 30)
{
	sem_init(&at_park, 0, 0);
	sem_init(&go_on, 0, 0);
	mt__park_test_hook = hold_once;
	atomic_store(&hook_armed, 1);
	mt_pool *p = one_worker_pool();
	while (sem_wait(&at_park) != 0)
		;
	sem_post(&go_on); /* let it sleep with nothing queued */
	for (int i = 0; i < 100; i++) {
		atomic_store(&ran, 0);
		cr_assert_eq(mt_spawn(p, mark, NULL), 0);
		cr_assert_eq(mt_quiesce(p), 0);
		cr_assert_eq(atomic_load(&ran), 1);
	}
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	mt__park_test_hook = NULL; /* after the workers: they read it */
}

/* Two tasks submitted while the only other worker sleeps and this one
 * still counts as searching: the submitters rely on the searcher and wake
 * nobody. The held worker then stops searching, announces sleep, sees the
 * work in its re-check and cancels its sleep: it must count as searching
 * again, so that taking X (with Y still queued and a sleeper around) wakes
 * the sleeper for Y. Otherwise Y waits behind X, and X waits for Y. */
static sem_t y_ran;

static void x_waits_for_y(void *arg)
{
	(void)arg;
	while (sem_wait(&y_ran) != 0)
		;
}

static void y_posts(void *arg)
{
	(void)arg;
	sem_post(&y_ran);
}

Test(park, a_park_cancelled_for_work_keeps_waking_sleepers_for_the_rest,
     .timeout = 30)
{
	sem_init(&at_park, 0, 0);
	sem_init(&go_on, 0, 0);
	sem_init(&y_ran, 0, 0);
	mt__park_test_hook = hold_once;
	atomic_store(&hook_armed, 1);
	mt_config cfg = {.threads = 2};
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p);
	while (sem_wait(&at_park) != 0) /* one worker held, searching */
		;
	mt_stats s;
	do /* the other one asleep */
		cr_assert_eq(mt_pool_stats(p, &s), 0);
	while (s.workers_parked != 1);
	cr_assert_eq(mt_spawn(p, x_waits_for_y, NULL), 0);
	cr_assert_eq(mt_spawn(p, y_posts, NULL), 0);
	mt_stats after;
	cr_assert_eq(mt_pool_stats(p, &after), 0);
	cr_assert_eq(after.wakes, s.wakes, "a submitter woke the sleeper");
	sem_post(&go_on);
	cr_assert_eq(mt_quiesce(p), 0); /* hangs if Y waits behind X */
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	mt__park_test_hook = NULL; /* after the workers */
}

/* A worker whose helping wait found nothing to help with goes to sleep
 * until its latch opens; new work must still be able to wake it. Worker
 * A runs `waiting_task`, whose group child `long_child` runs on worker B
 * until the test lets it go; A sleeps in its wait (the hook reports it),
 * then an outside task arrives. Nobody but A is free to run it: if A
 * were invisible to wake-ups, the outside task would wait for the long
 * child while A idles. */
static sem_t child_started, child_go, waiter_parking, outside_ran;
static _Atomic int waiter_hook_armed;

static void report_waiter_parking(struct mt_worker *w)
{
	int armed = 1;
	if (w->help_depth > 0 &&
	    atomic_compare_exchange_strong(&waiter_hook_armed, &armed, 0))
		sem_post(&waiter_parking);
}

static void long_child(void *arg)
{
	(void)arg;
	sem_post(&child_started);
	while (sem_wait(&child_go) != 0)
		;
}

static void waiting_task(void *arg)
{
	(void)arg;
	mt_group g;
	if (mt_group_init(&g, mt_current_pool()) != 0 ||
	    mt_group_spawn(&g, long_child, NULL) != 0)
		return;
	while (sem_wait(&child_started) != 0) /* B has stolen it */
		;
	mt_group_wait(&g);
}

static void outside_task(void *arg)
{
	(void)arg;
	sem_post(&outside_ran);
}

Test(park, a_worker_asleep_in_a_wait_is_woken_for_new_work, .timeout = 30)
{
	sem_init(&child_started, 0, 0);
	sem_init(&child_go, 0, 0);
	sem_init(&waiter_parking, 0, 0);
	sem_init(&outside_ran, 0, 0);
	atomic_store(&waiter_hook_armed, 1);
	mt__park_test_hook = report_waiter_parking; /* before the workers */
	mt_config cfg = {.threads = 2};
	mt_pool *p = mt_pool_create(&cfg);
	cr_assert_not_null(p);
	mt_group g;
	cr_assert_eq(mt_group_init(&g, p), 0);
	cr_assert_eq(mt_group_spawn(&g, waiting_task, NULL), 0);
	while (sem_wait(&waiter_parking) != 0)
		;
	cr_assert_eq(mt_spawn(p, outside_task, NULL), 0);
	while (sem_wait(&outside_ran) != 0) /* hangs if A stays asleep */
		;
	sem_post(&child_go);
	cr_assert_eq(mt_group_wait(&g), 0);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
	mt__park_test_hook = NULL; /* after the workers */
}

/* Where membarrier is not available (old kernel, seccomp), no deque may
 * hold private frames (pool/deque.c, note 5) and local pushes fence:
 * fork-join still runs every task once, and a group child of a task that
 * then blocks outside the pool is still run by the other worker. */
static mt_pool *nb_pool;
static sem_t nb_child_ran;

struct nb_fib {
	unsigned n;
	uint64_t value;
};

static void nb_fib_task(void *arg)
{
	struct nb_fib *f = arg;
	if (f->n < 2) {
		f->value = f->n;
		return;
	}
	struct nb_fib a = {f->n - 1, 0}, b = {f->n - 2, 0};
	mt_group g;
	if (mt_group_init(&g, nb_pool) == 0 &&
	    mt_group_spawn(&g, nb_fib_task, &a) == 0) {
		nb_fib_task(&b);
		mt_group_wait(&g);
	}
	f->value = a.value + b.value;
}

static void nb_child(void *arg)
{
	(void)arg;
	sem_post(&nb_child_ran);
}

static void nb_spawn_then_block(void *arg)
{
	(void)arg;
	mt_group g;
	if (mt_group_init(&g, nb_pool) != 0 ||
	    mt_group_spawn(&g, nb_child, NULL) != 0)
		return;
	while (sem_wait(&nb_child_ran) != 0)
		;
	mt_group_wait(&g);
}

Test(park, without_the_heavy_barrier_groups_share_every_task, .timeout = 30)
{
	mt_config cfg = {.threads = 1};
	mt_pool *first = mt_pool_create(&cfg); /* registers the barrier */
	cr_assert_not_null(first);
	cr_assert_eq(mt_pool_destroy(first, MT_DRAIN), 0);
	mt__park_test_without_heavy_barrier();
	cfg.threads = 2;
	nb_pool = mt_pool_create(&cfg);
	cr_assert_not_null(nb_pool);
	for (unsigned i = 0; i < nb_pool->nworkers; i++)
		cr_assert_not(nb_pool->workers[i].deque.private_ok);
	struct nb_fib root = {20, 0};
	mt_group g;
	cr_assert_eq(mt_group_init(&g, nb_pool), 0);
	cr_assert_eq(mt_group_spawn(&g, nb_fib_task, &root), 0);
	cr_assert_eq(mt_group_wait(&g), 0);
	cr_assert_eq(root.value, 6765);
	sem_init(&nb_child_ran, 0, 0);
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(mt_spawn(nb_pool, nb_spawn_then_block, NULL), 0);
		cr_assert_eq(mt_quiesce(nb_pool), 0); /* hangs if lost */
	}
	cr_assert_eq(mt_pool_destroy(nb_pool, MT_DRAIN), 0);
}

/* The search before parking adapts (worker.c, adapt_search): parks that
 * outlast MT_SPIN_PAYOFF_NS halve it down to MT_SPIN_ROUNDS_MIN, and a
 * shorter park (or a search that finds work) restores MT_SPIN_ROUNDS.
 * The worker is parked before each pause (a state, polled), so each pause
 * is a park of at least its length; nothing else runs in the one-worker
 * pool to wake it early. */
static unsigned rounds_of(mt_pool *p)
{
	/* relaxed: a statistic-like field, read while the worker is parked */
	return atomic_load_explicit(&p->workers[0].spin_rounds,
				    memory_order_relaxed);
}

static void wait_parked(mt_pool *p)
{
	mt_stats s;
	do
		cr_assert_eq(mt_pool_stats(p, &s), 0);
	while (s.workers_parked != s.workers);
}

static void nothing(void *arg)
{
	(void)arg;
}

Test(park, long_parks_shorten_the_search_and_found_work_restores_it,
     .timeout = 30)
{
	const struct timespec pause = {0, 5 * (long)MT_SPIN_PAYOFF_NS};
	mt_pool *p = one_worker_pool();
	cr_assert_eq(rounds_of(p), MT_SPIN_ROUNDS);
	for (int i = 0; i < 8; i++) { /* 64 -> 32 -> ... -> 4 -> 4 */
		wait_parked(p);
		nanosleep(&pause, NULL); /* the park outlasts the payoff */
		cr_assert_eq(mt_spawn(p, nothing, NULL), 0);
		cr_assert_eq(mt_quiesce(p), 0);
	}
	wait_parked(p);
	cr_assert_eq(rounds_of(p), MT_SPIN_ROUNDS_MIN);
	/* A task the moment the worker is parked: a park far shorter than
	 * the payoff, which restores the full search. A few tries, so that
	 * a preemption of this thread (a long park after all) cannot fail
	 * the test. */
	int tries = 0;
	do {
		wait_parked(p);
		cr_assert_eq(mt_spawn(p, nothing, NULL), 0);
		cr_assert_eq(mt_quiesce(p), 0);
		wait_parked(p);
	} while (rounds_of(p) != MT_SPIN_ROUNDS && ++tries < 20);
	cr_assert_eq(rounds_of(p), MT_SPIN_ROUNDS);
	cr_assert_eq(mt_pool_destroy(p, MT_DRAIN), 0);
}
