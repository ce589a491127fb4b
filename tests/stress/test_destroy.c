/*
 * tests/stress/test_destroy.c: mt_pool_destroy racing the end of fork-join
 * calls made from threads outside the pool.
 *
 * The header promises that a map or group in flight when destroy starts
 * completes. The call that ends such work gives back the admission that
 * keeps the workers alive; from that moment destroy may join them and free
 * the pool, so the ending call must not touch the pool after it. A test
 * hook (mt__pending_release_test_hook, pending.h) sleeps right after the
 * give-back to widen that window; under AddressSanitizer any access to the
 * pool after it is a heap-use-after-free report.
 *
 * Each round: a thread outside the pool starts a group (or a map) and
 * signals once it is admitted; the test thread destroys the pool while the
 * call is in flight, then joins the thread.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep, sem_t under -std=c11 */

#include <criterion/criterion.h>
#include <mtpool/mtpool.h>

#include "../common/mt_test.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "pending.h"

/* Thousands of rounds where it matters, under AddressSanitizer (and
 * plain); ThreadSanitizer, which cannot see a use after free, runs fewer
 * to keep the suite short. */
#if defined(__SANITIZE_THREAD__)
#define MT_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MT_TEST_TSAN 1
#endif
#endif
#ifdef MT_TEST_TSAN
#define ROUNDS 400
#else
#define ROUNDS 2000
#endif

static void widen_window(int given_back)
{
	if (!given_back)
		return;
	/* Longer than a worker's search rounds before it parks, so workers
	 * still awake after their last task see the pool empty and exit. */
	const struct timespec pause = {.tv_sec = 0, .tv_nsec = 200000};
	nanosleep(&pause, NULL);
}

static mt_pool *pool;
static sem_t admitted;
static atomic_int call_rc;
static atomic_uint ran;

static void count(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&ran, 1, memory_order_relaxed);
}

static void *group_outside(void *arg)
{
	(void)arg;
	mt_group g;
	int rc = mt_group_init(&g, pool);
	if (rc == 0)
		rc = mt_group_spawn(&g, count, NULL);
	sem_post(&admitted); /* the group holds its admission until waited */
	if (rc == 0)
		rc = mt_group_wait(&g);
	atomic_store(&call_rc, rc);
	return NULL;
}

/* The first item posts `admitted`: the map is admitted by then. */
static void *map_item(void *param)
{
	if (param == NULL)
		sem_post(&admitted);
	count(NULL);
	return param;
}

static void *map_outside(void *arg)
{
	(void)arg;
	void *params[8] = {NULL,  &pool, &pool, &pool,
			   &pool, &pool, &pool, &pool};
	void *results[8];
	atomic_store(&call_rc, mt_map(pool, map_item, params, results, 8));
	return NULL;
}

static void destroy_during(void *(*outside)(void *), mt_shutdown how)
{
	pthread_t t;
	pool = mt_test_pool(2);
	atomic_store(&call_rc, -1);
	cr_assert_eq(pthread_create(&t, NULL, outside, NULL), 0);
	mt_test_sem_wait(&admitted);
	cr_assert_eq(mt_pool_destroy(pool, how), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(atomic_load(&call_rc), 0, "the call in flight failed");
}

Test(destroy_race, ends_of_outside_groups_and_maps_never_touch_a_freed_pool,
     .timeout = 60)
{
	cr_assert_eq(sem_init(&admitted, 0, 0), 0);
	mt__pending_release_test_hook = widen_window;
	for (int r = 0; r < ROUNDS; r++) {
		unsigned before = atomic_load(&ran);
		destroy_during((r & 1) ? map_outside : group_outside,
			       (r & 2) ? MT_DISCARD : MT_DRAIN);
		cr_assert_eq(atomic_load(&ran) - before, (r & 1) ? 8u : 1u,
			     "round %d: the work in flight did not complete",
			     r);
	}
	mt__pending_release_test_hook = NULL;
}

/* An outside call refused during destroy (ESHUTDOWN) was admitted for a
 * moment: a worker that looked at the pool then saw it in flight, and may
 * have parked instead of exiting. Giving the admission back must wake it
 * like the end of any outside call, or destroy waits for ever. The hook
 * holds the refused mt_map just before its give-back until both workers,
 * their gated tasks done, have parked. */
static struct mt_test_gate gate;
static sem_t in_give_back, give_back;

static void blocker(void *arg)
{
	(void)arg;
	mt_test_gate_enter(&gate);
}

static void hold_before_give_back(int given_back)
{
	if (given_back)
		return;
	sem_post(&in_give_back);
	mt_test_sem_wait(&give_back);
}

static void *destroy_thread(void *arg)
{
	(void)arg;
	atomic_store(&call_rc, mt_pool_destroy(pool, MT_DRAIN));
	return NULL;
}

static void *refused_map(void *arg)
{
	void *params[2] = {&pool, &pool}, *results[2];
	*(int *)arg = mt_map(pool, map_item, params, results, 2);
	return NULL;
}

Test(destroy_race, a_refused_outside_call_wakes_the_workers_it_kept,
     .timeout = 60)
{
	cr_assert_eq(sem_init(&in_give_back, 0, 0), 0);
	cr_assert_eq(sem_init(&give_back, 0, 0), 0);
	mt_test_gate_init(&gate);
	pool = mt_test_pool(2);
	mt_test_gate_block(&gate, pool, 2, blocker);
	pthread_t d, m;
	cr_assert_eq(pthread_create(&d, NULL, destroy_thread, NULL), 0);
	/* Destroy has begun once an outside spawn is refused; the gated
	 * workers keep the pool alive for these calls. */
	while (mt_spawn(pool, count, NULL) != ESHUTDOWN)
		sched_yield();
	int map_rc = -1;
	mt__pending_release_test_hook = hold_before_give_back;
	cr_assert_eq(pthread_create(&m, NULL, refused_map, &map_rc), 0);
	mt_test_sem_wait(&in_give_back);
	mt_test_gate_open(&gate, 2);
	(void)mt_test_wait_all_parked(pool, 0);
	sem_post(&give_back);
	cr_assert_eq(pthread_join(m, NULL), 0);
	cr_assert_eq(pthread_join(d, NULL), 0); /* hung: nobody woke them */
	mt__pending_release_test_hook = NULL;
	cr_assert_eq(map_rc, ESHUTDOWN);
	cr_assert_eq(atomic_load(&call_rc), 0);
}
